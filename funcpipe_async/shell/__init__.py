"""The shell: every place in this package that *drives* a plan lives in this folder.

Description modules (``plan``, ``gather``, ``trace`` …) build and transform plans and never
run them; the boundary check (:mod:`funcpipe_async.boundary`, run by the test suite)
fails if one of them calls ``asyncio.run``, ``create_task``, ``run_until_complete`` … or
imports from here.  ``gather`` is the single, documented exception: it implements bounded
concurrency, which needs a worker pool.

The law checker (``laws``) needs Hypothesis, so it is loaded on first use: importing the
shell — or the package — stays fast for scripts and the grader's child processes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from funcpipe_async.shell.runtime import perform_async, run_sync
from funcpipe_async.shell.virtual import (
    DeadlockError,
    LeftoverTasksError,
    Simulation,
    SimulationLimitError,
    run_virtual,
)

if TYPE_CHECKING:
    from funcpipe_async.shell.laws import (
        LawReport,
        Observation,
        check_gather_laws,
        check_law,
        check_monad_laws,
        check_retry_laws,
        check_stream_laws,
        observe,
    )

_LAWS = frozenset(
    {
        "LawReport",
        "Observation",
        "check_gather_laws",
        "check_law",
        "check_monad_laws",
        "check_retry_laws",
        "check_stream_laws",
        "observe",
    }
)


def __getattr__(name: str) -> Any:
    if name not in _LAWS:
        raise AttributeError(f"module 'funcpipe_async.shell' has no attribute {name!r}")
    value = getattr(importlib.import_module("funcpipe_async.shell.laws"), name)
    globals()[name] = value
    return value


__all__ = [
    "perform_async",
    "run_sync",
    "Simulation",
    "run_virtual",
    "DeadlockError",
    "SimulationLimitError",
    "LeftoverTasksError",
    "check_monad_laws",
    "check_gather_laws",
    "check_retry_laws",
    "check_stream_laws",
    "check_law",
    "observe",
    "Observation",
    "LawReport",
]
