"""Shared test set-up: every Hypothesis test runs under the course's one profile.

The profile is derandomized, keeps no example database and has no deadline, so the suite
is reproducible and writes no ``.hypothesis/`` folder.
"""

from __future__ import annotations

from funcpipe_async.testing import load_course_profile

load_course_profile()


# --- the slow marker and the pixel comparisons ---------------------------------------------------

import pytest  # noqa: E402

# Test modules that grade real notebooks in child processes, start JupyterLab or a browser, export
# the course or build a wheel: minutes, not seconds.  `make test-fast` deselects them (-m "not slow");
# `make test` runs everything.  Every grading test module is slow except the grader's unit tests.
SLOW_MODULES = {"test_browser_check.py", "test_export_html.py", "test_wheel.py"}
FAST_GRADING_MODULES = {"test_grading_units.py"}


def _is_slow(item: pytest.Item) -> bool:
    name = item.path.name
    if item.path.suffix == ".ipynb":  # nbval: a whole notebook in a kernel
        return True
    return name in SLOW_MODULES or (name.startswith("test_grading") and name not in FAST_GRADING_MODULES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    compare_pixels = bool(config.getoption("--mpl", default=False))
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("mpl_image_compare") and not compare_pixels:
            # Without --mpl, pytest-mpl only calls the test and compares nothing: skip rather than pass.
            item.add_marker(
                pytest.mark.skip(reason="a figure baseline is compared only with --mpl (make test passes it)")
            )


# --- leak checks for the tests that open real sockets, threads and tasks ------------------------

import os  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402


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
