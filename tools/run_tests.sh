#!/usr/bin/env bash
# The whole test suite, as `make test` runs it (the venv must exist: use `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PYTHONDONTWRITEBYTECODE=1
export MPLBACKEND=Agg

echo "== mypy --strict =="
"$BIN/mypy" --strict funcpipe_async

echo "== description/driver boundary =="
"$BIN/python" -m funcpipe_async.boundary

echo "== pytest: package tests and strict nbval on every notebook =="
"$BIN/python" -m pytest tests notebooks solutions \
    --nbval --nbval-current-env --nbval-cell-timeout=60 \
    -n 2 --dist loadfile -q "$@"
