#!/usr/bin/env bash
# Install Debian's `chromium` for the browser check (`make test` needs it; `make lab` does not).
# Runs apt-get as root, or through `sudo -n` (never prompts); otherwise says what to do.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "make test needs Chromium for the browser check and this is not a Debian-like system:" >&2
    echo "install Chromium (or Chrome) and run:  make test CHROMIUM=/path/to/chromium" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "make test needs Debian's chromium for the browser check; install it once with:" >&2
    echo "    sudo apt-get install chromium" >&2
    exit 1
fi
echo "Installing Debian's chromium for the browser check (apt-get, once)..."
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version 2>/dev/null   # its wrapper script trips over a shell test on stderr
