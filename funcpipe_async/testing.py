"""Hypothesis support shared by the notebooks, the tests and the grader.

* :func:`load_course_profile` — the one Hypothesis profile the course runs under:
  derandomized (the same examples every run, so notebook output is stable), no example
  database, its caches kept in the temp folder (no ``.hypothesis/`` beside a notebook), no
  deadline (a slow CI machine is not a bug), no reproduction blob in failure output.
* Strategies for the laws: :func:`int_plans` draws small ``AsyncPlan[int]`` values —
  pure, failed, suspending, already bound — and :func:`int_arrows` draws named Kleisli
  arrows ``int -> AsyncPlan[int]``.  Every drawn value has an address-free ``repr``, so a
  counterexample reads like code.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis import strategies as st

from funcpipe_async.plan import AsyncPlan, async_bind, async_fail, async_lift, async_map, async_pure
from funcpipe_async.result import ErrInfo, Ok, Result

__all__ = ["COURSE_PROFILE", "load_course_profile", "quiet_course_settings", "int_plans", "int_arrows", "Arrow", "Named"]

X = TypeVar("X")
Y = TypeVar("Y")

COURSE_PROFILE = "funcpipe-course"


def quiet_course_settings(max_examples: int) -> settings:
    """The course profile's rules for a property run *inside* a program — the law checker,
    the grader — rather than a test: derandomized (same examples, same verdict every run), no
    example database, no deadline, nothing printed, no health-check refusals."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )


def load_course_profile(max_examples: int = 100) -> None:
    """Register (idempotently) and load the course's deterministic Hypothesis profile."""
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    settings.register_profile(
        COURSE_PROFILE,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        max_examples=max_examples,
    )
    settings.load_profile(COURSE_PROFILE)
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        # Even with database=None, Hypothesis caches constants it finds in source files under
        # ./.hypothesis/; keep that cache out of the lesson folders.
        set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "funcpipe-async-hypothesis"))


@dataclass(frozen=True)
class Named(Generic[X, Y]):
    """A function with a name: calls through to ``fn`` and prints as ``name``, so a
    Hypothesis counterexample reads like code instead of ``<function <lambda> at 0x…>``."""

    name: str
    fn: Callable[[X], Y]

    def __call__(self, x: X) -> Y:
        return self.fn(x)

    def __repr__(self) -> str:
        return self.name


class Arrow(Named[int, AsyncPlan[int]]):
    """A named Kleisli arrow ``int -> AsyncPlan[int]``."""


async def _suspend_then_ok(x: int) -> Result[int, ErrInfo]:
    await asyncio.sleep(0)  # really suspends: the plan is a genuine async step
    return Ok(x)


def _suspending(x: int) -> AsyncPlan[int]:
    def make() -> Coroutine[Any, Any, Result[int, ErrInfo]]:
        return _suspend_then_ok(x)

    make.__qualname__ = f"suspend_then_ok({x})"
    return async_lift(make)


_NEGATIVE = ErrInfo("NEGATIVE", "value is negative")


def _fail_if_negative(x: int) -> AsyncPlan[int]:
    return async_fail(_NEGATIVE) if x < 0 else async_pure(x)


def int_arrows() -> st.SearchStrategy[Arrow]:
    """Named arrows ``int -> AsyncPlan[int]``: pure, suspending, failing and composite ones."""
    ks = st.integers(min_value=-3, max_value=3)
    return st.one_of(
        ks.map(lambda k: Arrow(f"add({k})", lambda x: async_pure(x + k))),
        st.just(Arrow("double", lambda x: async_pure(2 * x))),
        ks.map(lambda k: Arrow(f"suspend_add({k})", lambda x: _suspending(x + k))),
        st.just(Arrow("fail_if_negative", _fail_if_negative)),
        ks.map(lambda k: Arrow(f"map_add({k})", lambda x: async_map(_suspending(x), lambda y: y + k))),
    )


def int_plans() -> st.SearchStrategy[AsyncPlan[int]]:
    """Small ``AsyncPlan[int]`` values: pure, failed, suspending, and one bind deep."""
    xs = st.integers(min_value=-50, max_value=50)
    leaves = st.one_of(
        xs.map(async_pure),
        st.just(async_fail(ErrInfo("BOOM", "scripted failure"))),
        xs.map(_suspending),
    )
    return st.one_of(leaves, st.builds(async_bind, leaves, int_arrows()))
