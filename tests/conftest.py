"""Shared test set-up: every Hypothesis test runs under the course's one profile.

The profile is derandomized, keeps no example database and has no deadline, so the suite
is reproducible and writes no ``.hypothesis/`` folder.
"""

from __future__ import annotations

from funcpipe_async.testing import load_course_profile

load_course_profile()


# --- leak checks for the tests that open real sockets, threads and tasks ------------------------

import os  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402


def open_sockets() -> int:
    """How many sockets this process holds open (Linux: ``/proc/self/fd``)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves a socket open or a thread running."""
    sockets, threads = open_sockets(), set(threading.enumerate())
    yield
    # asyncio's default-executor workers ("asyncio_N") live as long as their event loop. Once a
    # test in this worker process has applied nest_asyncio (test_runtime, test_virtual_time),
    # asyncio.run reuses one process-wide loop and never shuts its executor down, so its idle
    # workers outlive the test by design. Every other new thread — a server, a handler — is a leak.
    extra = [t.name for t in threading.enumerate() if t not in threads and not t.name.startswith("asyncio_")]
    assert extra == [], f"threads left running: {extra}"
    assert open_sockets() == sockets, f"sockets left open: {open_sockets() - sockets}"
