"""``IOPlan``: Module 07's synchronous effect description, kept here for the symmetry.

``IOPlan[A] = () -> Result[A, ErrInfo]`` — a thunk that performs a blocking step when
called.  ``AsyncPlan[A] = () -> Awaitable[Result[A, ErrInfo]]`` is the same idea, only
non-blocking.  The same monad laws hold (``tests/test_io_plan.py``).  ``io_bind`` nests
closures, as Module 07 does: fine for the short chains it is used for here; the
stack-safe interpreter belongs to ``AsyncPlan``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeVar

from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["IOPlan", "io_pure", "io_bind", "io_map", "io_delay"]

A = TypeVar("A")
B = TypeVar("B")

IOPlan: TypeAlias = Callable[[], Result[A, ErrInfo]]


def io_pure(value: A) -> IOPlan[A]:
    """A blocking plan that succeeds with ``value`` and does nothing else."""
    result: Result[A, ErrInfo] = Ok(value)
    return lambda: result


def io_delay(thunk: Callable[[], Result[A, ErrInfo]]) -> IOPlan[A]:
    """Wrap a blocking, Result-returning call as a plan (nothing runs until it is called)."""
    if not callable(thunk):
        raise TypeError(f"io_delay takes a zero-argument function, got {type(thunk).__name__}")
    return thunk


def io_bind(plan: IOPlan[A], f: Callable[[A], IOPlan[B]]) -> IOPlan[B]:
    """Run ``plan``, then the plan ``f`` builds from its value; an ``Err`` skips ``f``."""

    def run() -> Result[B, ErrInfo]:
        result = plan()
        if isinstance(result, Err):
            return result
        return f(result.value)()

    return run


def io_map(plan: IOPlan[A], f: Callable[[A], B]) -> IOPlan[B]:
    """Transform the success value of ``plan`` with the pure function ``f``."""
    return io_bind(plan, lambda x: io_pure(f(x)))
