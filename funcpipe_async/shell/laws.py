"""A reusable law checker: it drives plans on virtual time, so it lives in the shell.

Two plans are **equal** here when driving each (on a fresh virtual clock, with a fresh
effect log) gives an equal :class:`Observation`: the same ``Result``, the same effects in
the same order at the same virtual instants, and the same elapsed virtual time.  Comparing
results alone would call a plan that charges a card twice, or sleeps an extra minute, equal
to one that does not; plans are functions and cannot be compared directly.

* :func:`observe` drives one plan and returns its observation;
* :func:`check_law` turns a law — a strategy of arguments and a function building its two
  sides — into a Hypothesis property under the course profile and returns a
  :class:`LawReport` (examples run, holds or the smallest counterexample);
* :func:`check_monad_laws`, :func:`check_gather_laws`, :func:`check_retry_laws` and
  :func:`check_stream_laws` check the
  course's laws over generated **effectful** scripts (they record effects, sleep, suspend
  and fail — see :func:`~funcpipe_async.testing.plan_scripts`), and take the implementation
  under test as an argument, so a broken one is caught in a notebook or a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure

from funcpipe_async.chunking import BatchPolicy
from funcpipe_async.gather import async_gather, async_sequence
from funcpipe_async.plan import AsyncPlan, async_bind, async_map, async_pure
from funcpipe_async.policies import ConstantBackoff, RetryPolicy, async_retry
from funcpipe_async.result import ErrInfo, Result
from funcpipe_async.shell.virtual import Simulation
from funcpipe_async.streams import Stream
from funcpipe_async.testing import (
    ArrowScript,
    EffectLog,
    Named,
    PlanScript,
    arrow_scripts,
    plan_scripts,
    quiet_course_settings,
    stream_scripts,
)

__all__ = [
    "LawReport",
    "Observation",
    "observe",
    "check_law",
    "check_monad_laws",
    "check_gather_laws",
    "check_retry_laws",
    "check_stream_laws",
]

Side = Callable[[EffectLog], AsyncPlan[Any]]
"""One side of a law: given a fresh effect log, build the plan to drive."""


@dataclass(frozen=True)
class Observation:
    """What driving a plan showed: its result, its effects (``label(value)@t``) and how long it took."""

    result: Result[Any, ErrInfo]
    effects: tuple[str, ...]
    elapsed: float

    def __str__(self) -> str:
        return f"{self.result!r} after {self.elapsed:g} s, effects [{', '.join(self.effects)}]"


def observe(side: Side, *, seed: int = 0) -> Observation:
    """Drive ``side(log)`` on a fresh :class:`Simulation` starting at t = 0 and observe it."""
    log = EffectLog()
    sim = Simulation(seed=seed)
    result = sim.run(side(log))
    return Observation(result, tuple(log.entries), sim.now)


def _same(left: Observation, right: Observation) -> bool:
    return left == right


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


def check_law(
    law: str,
    statement: str,
    strategy: st.SearchStrategy[tuple[Any, ...]],
    sides: Callable[..., tuple[Side, Side]],
    *,
    max_examples: int = 100,
    same: Callable[[Observation, Observation], bool] = _same,
) -> LawReport:
    """Check that ``sides(*args)`` builds two equal plans for every ``args`` the strategy draws.

    Each side is driven by :func:`observe` (fresh clock, fresh log) and the observations are
    compared with ``same`` (default: result, effects and elapsed time all equal).  Returns a
    :class:`LawReport`; never raises for a failing law (a law that fails only on some runs
    of an example is reported as failing too).
    """
    _check_examples(max_examples)
    count = 0
    failing: list[str] = []

    @quiet_course_settings(max_examples)
    @given(strategy)
    def prop(args: tuple[Any, ...]) -> None:
        nonlocal count
        count += 1
        lhs, rhs = sides(*args)
        left, right = observe(lhs), observe(rhs)
        if not same(left, right):
            failing.append(f"{', '.join(map(repr, args))}: {left} != {right}")
            raise AssertionError(failing[-1])

    try:
        prop()
    except (AssertionError, FlakyFailure):  # flaky: the law failed on some runs of an example
        return LawReport(law, statement, count, False, failing[-1] if failing else "unknown")
    return LawReport(law, statement, count, True)


def _check_examples(max_examples: object) -> None:
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")


def _plan_side(m: Any) -> Side:
    return m.build if isinstance(m, PlanScript) else (lambda log: m)


def _arrow_side(f: Any) -> Callable[[EffectLog], Callable[[Any], AsyncPlan[Any]]]:
    return f.build if isinstance(f, ArrowScript) else (lambda log: f)


def check_monad_laws(
    *,
    values: st.SearchStrategy[Any] | None = None,
    plans: st.SearchStrategy[Any] | None = None,
    arrows: st.SearchStrategy[Any] | None = None,
    bind: Callable[[AsyncPlan[Any], Callable[[Any], AsyncPlan[Any]]], AsyncPlan[Any]] | None = None,
    pure: Callable[[Any], AsyncPlan[Any]] | None = None,
    map_: Callable[[AsyncPlan[Any], Callable[[Any], Any]], AsyncPlan[Any]] | None = None,
    max_examples: int = 100,
) -> list[LawReport]:
    """Check left identity, right identity, associativity and map-via-bind.

    By default plans and arrows are effectful scripts (:func:`~funcpipe_async.testing.plan_scripts`,
    :func:`~funcpipe_async.testing.arrow_scripts`) and values small ints; a strategy may also
    draw plain plans and arrows (then only results and time are compared, as they log
    nothing).  ``bind``, ``pure`` and ``map_`` default to the package's own; pass another
    implementation to check it.
    """
    _check_examples(max_examples)
    xs = values if values is not None else st.integers(min_value=-5, max_value=5)
    ms = plans if plans is not None else plan_scripts()
    fs = arrows if arrows is not None else arrow_scripts()
    b = bind if bind is not None else async_bind
    p = pure if pure is not None else async_pure
    m_ = map_ if map_ is not None else async_map
    pure_fns = st.sampled_from(
        [Named("inc", lambda x: x + 1), Named("double", lambda x: 2 * x), Named("negate", lambda x: -x)]
    )
    return [
        check_law(
            "left identity",
            "async_bind(async_pure(x), f) == f(x)",
            st.tuples(xs, fs),
            lambda x, f: (lambda log: b(p(x), _arrow_side(f)(log)), lambda log: _arrow_side(f)(log)(x)),
            max_examples=max_examples,
        ),
        check_law(
            "right identity",
            "async_bind(m, async_pure) == m",
            st.tuples(ms),
            lambda m: (lambda log: b(_plan_side(m)(log), p), _plan_side(m)),
            max_examples=max_examples,
        ),
        check_law(
            "associativity",
            "async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))",
            st.tuples(ms, fs, fs),
            lambda m, f, g: (
                lambda log: b(b(_plan_side(m)(log), _arrow_side(f)(log)), _arrow_side(g)(log)),
                lambda log: _assoc_right(b, _plan_side(m)(log), _arrow_side(f)(log), _arrow_side(g)(log)),
            ),
            max_examples=max_examples,
        ),
        check_law(
            "map via bind",
            "async_map(m, h) == async_bind(m, lambda x: async_pure(h(x)))",
            st.tuples(ms, pure_fns),
            lambda m, h: (
                lambda log: m_(_plan_side(m)(log), h),
                lambda log: b(_plan_side(m)(log), lambda x: p(h(x))),
            ),
            max_examples=max_examples,
        ),
    ]


def _assoc_right(
    bind: Callable[[AsyncPlan[Any], Callable[[Any], AsyncPlan[Any]]], AsyncPlan[Any]],
    m: AsyncPlan[Any],
    f: Callable[[Any], AsyncPlan[Any]],
    g: Callable[[Any], AsyncPlan[Any]],
) -> AsyncPlan[Any]:
    return bind(m, lambda x: bind(f(x), g))


def check_gather_laws(
    *,
    gather: Callable[..., AsyncPlan[list[Any]]] | None = None,
    max_examples: int = 100,
) -> list[LawReport]:
    """Check the laws of ``gather(plans, concurrency=k)`` (default: the package's ``async_gather``).

    * **order** — when no plan fails, the values come back in input order whatever the
      concurrency and however long each plan takes (results compared);
    * **concurrency=1 is sequential** — ``gather(ps, concurrency=1)`` equals running the
      plans one after another: same result, same effects at the same instants, same time.
    """
    _check_examples(max_examples)
    g = gather if gather is not None else async_gather
    safe = st.lists(plan_scripts(failures=False), max_size=5)
    any_plans = st.lists(plan_scripts(), max_size=5)
    return [
        check_law(
            "gather order",
            "gather(ps, concurrency=k) == sequence(ps), when no plan fails",
            st.tuples(safe, st.integers(min_value=1, max_value=4)),
            lambda ps, k: (
                lambda log: g([s.build(log) for s in ps], concurrency=k),
                lambda log: async_sequence([s.build(log) for s in ps]),
            ),
            max_examples=max_examples,
            same=lambda left, right: left.result == right.result,
        ),
        check_law(
            "concurrency=1",
            "gather(ps, concurrency=1) == sequence(ps): result, effects, time",
            st.tuples(any_plans),
            lambda ps: (
                lambda log: g([s.build(log) for s in ps], concurrency=1),
                lambda log: async_sequence([s.build(log) for s in ps]),
            ),
            max_examples=max_examples,
        ),
    ]


def check_retry_laws(
    *,
    retry: Callable[..., AsyncPlan[Any]] | None = None,
    max_examples: int = 100,
) -> list[LawReport]:
    """Check the laws of ``retry(plan, policy)`` (default: the package's ``async_retry``).

    * **one attempt is the plan** — ``retry(m, RetryPolicy(max_attempts=1)) == m``;
    * **only retryable errors are retried** — the scripts fail with non-retryable errors, so
      ``retry(m, policy)`` equals ``m`` for any number of attempts and any backoff.
    """
    _check_examples(max_examples)
    r = retry if retry is not None else async_retry
    policies = st.builds(
        lambda attempts, delay: RetryPolicy(max_attempts=attempts, backoff=ConstantBackoff(delay)),
        st.integers(min_value=2, max_value=5),
        st.sampled_from([0.5, 1.0, 3.0]),
    )
    return [
        check_law(
            "one attempt",
            "retry(m, RetryPolicy(max_attempts=1)) == m",
            st.tuples(plan_scripts()),
            lambda m: (lambda log: r(m.build(log), RetryPolicy(max_attempts=1)), m.build),
            max_examples=max_examples,
        ),
        check_law(
            "not retryable",
            "retry(m, policy) == m when m's errors are not retryable",
            st.tuples(plan_scripts(), policies),
            lambda m, policy: (lambda log: r(m.build(log), policy), m.build),
            max_examples=max_examples,
        ),
    ]


_FUNCTIONS: list[Named[int, int]] = [
    Named("inc", lambda x: x + 1),
    Named("double", lambda x: 2 * x),
    Named("negate", lambda x: -x),
    Named("square", lambda x: x * x),
]
_PREDICATES: list[Named[int, bool]] = [
    Named("even", lambda x: x % 2 == 0),
    Named("positive", lambda x: x > 0),
    Named("small", lambda x: abs(x) < 4),
]


def check_stream_laws(
    *,
    map_: Callable[[Stream[Any], Callable[[Any], Any]], Stream[Any]] = Stream.map,
    filter_: Callable[[Stream[Any], Callable[[Any], bool]], Stream[Any]] = Stream.filter,
    chunk: Callable[[Stream[Any], int], Stream[Any]] = Stream.chunk,
    batch: Callable[[Stream[Any], BatchPolicy], Stream[Any]] = Stream.batch,
    max_examples: int = 100,
) -> list[LawReport]:
    """Check the stream laws over generated effectful streams (items arriving over virtual time).

    * **map fusion** — ``s.map(f).map(g) == s.map(lambda x: g(f(x)))``;
    * **filter fusion** — ``s.filter(p).filter(q) == s.filter(lambda x: p(x) and q(x))``;
    * **chunk then flatten** — ``s.chunk(n).flatten() == s``;
    * **batch then flatten** — ``s.batch(BatchPolicy(n, w)).flatten() == s``: batching by
      size or time neither loses, reorders nor delays an item's production.

    Both sides are run to a list and compared by result, the source's effects at their
    instants, and elapsed time.  ``map_``, ``filter_``, ``chunk`` and ``batch`` default to
    the ``Stream`` methods; pass another implementation to check it.
    """
    _check_examples(max_examples)

    def collect(stream: Stream[Any]) -> AsyncPlan[list[Any]]:
        return stream.to_list()

    fs, ps = st.sampled_from(_FUNCTIONS), st.sampled_from(_PREDICATES)
    return [
        check_law(
            "map fusion",
            "s.map(f).map(g) == s.map(lambda x: g(f(x)))",
            st.tuples(stream_scripts(), fs, fs),
            lambda s, f, g: (
                lambda log: collect(map_(map_(s.build(log), f), g)),
                lambda log: collect(map_(s.build(log), lambda x: g(f(x)))),
            ),
            max_examples=max_examples,
        ),
        check_law(
            "filter fusion",
            "s.filter(p).filter(q) == s.filter(lambda x: p(x) and q(x))",
            st.tuples(stream_scripts(), ps, ps),
            lambda s, p, q: (
                lambda log: collect(filter_(filter_(s.build(log), p), q)),
                lambda log: collect(filter_(s.build(log), lambda x: p(x) and q(x))),
            ),
            max_examples=max_examples,
        ),
        check_law(
            "chunk/flatten",
            "s.chunk(n).flatten() == s",
            st.tuples(stream_scripts(), st.integers(min_value=1, max_value=4)),
            lambda s, n: (lambda log: collect(chunk(s.build(log), n).flatten()), lambda log: collect(s.build(log))),
            max_examples=max_examples,
        ),
        check_law(
            "batch/flatten",
            "s.batch(BatchPolicy(n, w)).flatten() == s",
            st.tuples(stream_scripts(), st.integers(min_value=1, max_value=4), st.sampled_from([0.0, 0.5, 1.5])),
            lambda s, n, w: (
                lambda log: collect(batch(s.build(log), BatchPolicy(n, w)).flatten()),
                lambda log: collect(s.build(log)),
            ),
            max_examples=max_examples,
        ),
    ]
