"""Drivers: the only functions that turn a plan description into effects.

* :func:`perform_async` — ``await perform_async(plan)``: the one driver, for code that is
  already inside an event loop (an ``async def main``, a notebook cell's top-level
  ``await``, a test driven by ``asyncio.run``).  It awaits the coroutine ``plan()`` returns;
  interpreting the plan's nodes happens inside that coroutine (``plan.py``).
* :func:`run_sync` — ``run_sync(plan)``: a blocking driver for scripts and notebooks.  In a
  script it is ``asyncio.run``.  In a notebook the kernel's loop is already running and
  ``asyncio.run`` refuses ("cannot be called from a running event loop"), so ``run_sync``
  first applies ``nest_asyncio`` to that loop, which lets it re-enter.  That patch is a
  shell-only convenience with two costs: it changes the running loop for the whole kernel,
  and it makes the loop re-entrant — while the plan runs, the loop's other tasks run too, in
  the middle of what the caller sees as one synchronous call.  Prefer top-level ``await``.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from funcpipe_async.plan import AsyncPlan
from funcpipe_async.result import ErrInfo, Ok, Result
from funcpipe_async.trace import DONE, DRIVE, Trace

__all__ = ["perform_async", "run_sync"]

A = TypeVar("A")


async def perform_async(plan: AsyncPlan[A], *, trace: Trace | None = None) -> Result[A, ErrInfo]:
    """Drive ``plan`` once and return its result; record ``drive``/``done`` on ``trace`` if given."""
    if not callable(plan):
        raise TypeError(
            f"perform_async needs an AsyncPlan (a zero-argument function returning a coroutine), "
            f"got {type(plan).__name__}"
        )
    if trace is not None:
        trace.record(DRIVE, "shell")
    result = await plan()
    if trace is not None:
        trace.record(DONE, "shell", ok=isinstance(result, Ok))
    return result


def run_sync(plan: AsyncPlan[A], *, trace: Trace | None = None) -> Result[A, ErrInfo]:
    """Drive ``plan`` to completion from synchronous code, in a script or a notebook cell."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(perform_async(plan, trace=trace))
    import nest_asyncio  # imported here: only a notebook (a running loop) needs the patch

    nest_asyncio.apply(loop)
    return loop.run_until_complete(perform_async(plan, trace=trace))
