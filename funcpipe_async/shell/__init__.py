"""The shell: every place in this package that *drives* a plan lives in this folder.

Description modules (``plan``, ``gather``, ``trace`` …) build and transform plans and never
run them; the boundary check (:mod:`funcpipe_async.boundary`, run by the test suite)
fails if one of them calls ``asyncio.run``, ``create_task``, ``run_until_complete`` … or
imports from here.  ``gather`` is the single, documented exception: it implements bounded
concurrency, which needs a worker pool.
"""

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
from funcpipe_async.shell.runtime import perform_async, run_sync
from funcpipe_async.shell.virtual import DeadlockError, Simulation, SimulationLimitError, run_virtual

__all__ = ["perform_async", "run_sync", "check_monad_laws", "check_gather_laws", "check_retry_laws", "check_stream_laws", "check_law", "observe", "Observation", "LawReport"]
