"""A reusable law checker for ``AsyncPlan``: it drives plans, so it lives in the shell.

:func:`check_monad_laws` runs each monad law as a Hypothesis property under the course
profile and returns one :class:`LawReport` per law — data a notebook prints and a test
asserts on.  Both sides of every law are *driven* (with :func:`run_sync`) and their
results compared with ``==``; plans themselves are functions and cannot be compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis.errors import FlakyFailure
from hypothesis import strategies as st

from funcpipe_async.plan import AsyncPlan, async_bind, async_map, async_pure
from funcpipe_async.shell.runtime import run_sync
from funcpipe_async.testing import Named, int_arrows, int_plans, quiet_course_settings

__all__ = ["LawReport", "check_monad_laws"]


@dataclass(frozen=True)
class LawReport:
    """The verdict on one law: how many examples ran, and the smallest counterexample if any."""

    law: str
    statement: str
    examples: int
    holds: bool
    counterexample: str | None = None

    def __str__(self) -> str:
        verdict = "holds" if self.holds else f"FAILS on {self.counterexample}"
        return f"{self.law:<16} {self.statement:<78} {self.examples:>4} examples  {verdict}"


def _check(
    law: str,
    statement: str,
    strategy: st.SearchStrategy[tuple[Any, ...]],
    sides: Callable[..., tuple[AsyncPlan[Any], AsyncPlan[Any]]],
    max_examples: int,
) -> LawReport:
    count = 0
    failing: list[str] = []

    @quiet_course_settings(max_examples)
    @given(strategy)
    def prop(args: tuple[Any, ...]) -> None:
        nonlocal count
        count += 1
        lhs, rhs = sides(*args)
        left, right = run_sync(lhs), run_sync(rhs)
        if left != right:
            failing.append(f"{', '.join(map(repr, args))}: {left!r} != {right!r}")
            raise AssertionError(failing[-1])

    try:
        prop()
    except (AssertionError, FlakyFailure):  # flaky: the law failed on some runs of an example
        return LawReport(law, statement, count, False, failing[-1] if failing else "unknown")
    return LawReport(law, statement, count, True)


def check_monad_laws(
    *,
    values: st.SearchStrategy[Any] | None = None,
    plans: st.SearchStrategy[AsyncPlan[Any]] | None = None,
    arrows: st.SearchStrategy[Callable[[Any], AsyncPlan[Any]]] | None = None,
    max_examples: int = 100,
) -> list[LawReport]:
    """Check left identity, right identity, associativity and map-via-bind.

    By default values are ints, plans come from :func:`~funcpipe_async.testing.int_plans`
    and arrows from :func:`~funcpipe_async.testing.int_arrows`; pass your own strategies
    to check the laws for your own steps.
    """
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    xs = values if values is not None else st.integers(min_value=-100, max_value=100)
    ms = plans if plans is not None else int_plans()
    fs = arrows if arrows is not None else int_arrows()
    pure_fns = st.sampled_from([Named("inc", lambda x: x + 1), Named("double", lambda x: 2 * x), Named("negate", lambda x: -x)])
    return [
        _check(
            "left identity", "async_bind(async_pure(x), f) == f(x)",
            st.tuples(xs, fs), lambda x, f: (async_bind(async_pure(x), f), f(x)), max_examples,
        ),
        _check(
            "right identity", "async_bind(m, async_pure) == m",
            st.tuples(ms), lambda m: (async_bind(m, async_pure), m), max_examples,
        ),
        _check(
            "associativity",
            "async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))",
            st.tuples(ms, fs, fs),
            lambda m, f, g: (
                async_bind(async_bind(m, f), g),
                async_bind(m, lambda x: async_bind(f(x), g)),
            ),
            max_examples,
        ),
        _check(
            "map via bind", "async_map(m, h) == async_bind(m, lambda x: async_pure(h(x)))",
            st.tuples(ms, pure_fns),
            lambda m, h: (async_map(m, h), async_bind(m, lambda x: async_pure(h(x)))),
            max_examples,
        ),
    ]
