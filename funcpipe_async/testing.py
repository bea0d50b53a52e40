"""Hypothesis support shared by the notebooks, the tests and the grader.

* :func:`load_course_profile` — the one Hypothesis profile the course runs under:
  derandomized (the same examples every run, so notebook output is stable), no example
  database, its caches kept in the temp folder (no ``.hypothesis/`` beside a notebook), no
  deadline (a slow CI machine is not a bug), no reproduction blob in failure output.
* Strategies for the laws: :func:`int_plans` draws small ``AsyncPlan[int]`` values —
  pure, failed, suspending, already bound — and :func:`int_arrows` draws named Kleisli
  arrows ``int -> AsyncPlan[int]``.  Every drawn value has an address-free ``repr``, so a
  counterexample reads like code.
* Effectful scripts for the law checker: :func:`plan_scripts` and :func:`arrow_scripts`
  draw :class:`PlanScript` / :class:`ArrowScript` values — small programs of
  :class:`ScriptOp` s that **record effects, sleep on the loop's clock, suspend and fail**.  A
  script is data (it prints as code and can be shrunk); ``script.build(log)`` turns it into
  a fresh plan that writes its effects into the :class:`EffectLog` ``log``, each stamped
  with the value it saw and the (virtual) time it happened.  Two plans are then equal when
  they give the same result, the same effects at the same instants, and take the same time.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from funcpipe_async.plan import AsyncPlan, async_bind, async_fail, async_lift, async_map, async_pure
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.streams import Stream, stream_from

__all__ = [
    "COURSE_PROFILE",
    "load_course_profile",
    "quiet_course_settings",
    "int_plans",
    "int_arrows",
    "Arrow",
    "Named",
    "EffectLog",
    "ScriptOp",
    "PlanScript",
    "ArrowScript",
    "plan_scripts",
    "arrow_scripts",
    "StreamScript",
    "stream_scripts",
    "bucket_rates",
    "bucket_bursts",
    "bucket_arrivals",
]

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


# --- effectful scripts for the law checker ------------------------------------------------------


@dataclass
class EffectLog:
    """The effects one run of scripted plans performed, in order: ``"label(value)@t"`` strings.

    Make a fresh log for every run; the law checker compares two runs' logs.
    """

    entries: list[str] = field(default_factory=list)

    def record(self, label: str, value: int) -> None:
        now = asyncio.get_running_loop().time()
        self.entries.append(f"{label}({value})@{now:g}")


OpKind = Literal["effect", "sleep", "yield", "add", "fail", "fail_over"]


@dataclass(frozen=True)
class ScriptOp:
    """One instruction of a script, applied to the current value ``v``.

    ``effect(label)`` records ``label(v)@now``; ``sleep(s)`` waits ``s`` seconds on the loop's
    clock; ``yield()`` suspends once without time passing; ``add(k)`` sets ``v = v + k``;
    ``fail(code)`` stops with ``Err(ErrInfo(code))``; ``fail_over(k)`` fails with
    ``TOO_BIG`` only when ``v > k`` (so whether a script fails depends on its input).
    """

    kind: OpKind
    arg: int | float | str = 0

    def __repr__(self) -> str:
        return f"{self.kind}()" if self.kind == "yield" else f"{self.kind}({self.arg!r})"


async def _perform(ops: tuple[ScriptOp, ...], value: int, log: EffectLog) -> Result[int, ErrInfo]:
    for op in ops:
        if op.kind == "effect":
            log.record(str(op.arg), value)
        elif op.kind == "sleep":
            await asyncio.sleep(float(op.arg))
        elif op.kind == "yield":
            await asyncio.sleep(0)
        elif op.kind == "add":
            value += int(op.arg)
        elif op.kind == "fail":
            return Err(ErrInfo(str(op.arg), "scripted failure"))
        elif value > int(op.arg):  # fail_over
            return Err(ErrInfo("TOO_BIG", f"{value} > {op.arg}"))
    return Ok(value)


@dataclass(frozen=True)
class PlanScript:
    """A generated effectful plan: start from ``start`` and run ``ops`` (see :class:`ScriptOp`)."""

    start: int
    ops: tuple[ScriptOp, ...] = ()

    def build(self, log: EffectLog) -> AsyncPlan[int]:
        """A fresh plan that performs this script, recording into ``log``."""
        start, ops = self.start, self.ops

        def make() -> Coroutine[Any, Any, Result[int, ErrInfo]]:
            return _perform(ops, start, log)

        make.__qualname__ = repr(self)
        return async_lift(make)

    def __repr__(self) -> str:
        return f"script({self.start}, {list(self.ops)!r})"


@dataclass(frozen=True)
class ArrowScript:
    """A generated effectful arrow ``int -> AsyncPlan[int]``: run ``ops`` on its input."""

    ops: tuple[ScriptOp, ...] = ()

    def build(self, log: EffectLog) -> Callable[[int], AsyncPlan[int]]:
        """A function from a value to a fresh plan performing this script on it."""
        ops, name = self.ops, repr(self)

        def arrow(value: int) -> AsyncPlan[int]:
            def make() -> Coroutine[Any, Any, Result[int, ErrInfo]]:
                return _perform(ops, value, log)

            make.__qualname__ = f"{name}({value})"
            return async_lift(make)

        arrow.__qualname__ = name
        return arrow

    def __repr__(self) -> str:
        return f"arrow({list(self.ops)!r})"


def _ops(labels: str, max_size: int, failures: bool) -> st.SearchStrategy[tuple[ScriptOp, ...]]:
    ops = [
        st.sampled_from(list(labels)).map(lambda label: ScriptOp("effect", label)),
        st.sampled_from([0.5, 1.0, 2.5]).map(lambda s: ScriptOp("sleep", s)),
        st.just(ScriptOp("yield")),
        st.integers(min_value=-3, max_value=3).map(lambda k: ScriptOp("add", k)),
    ]
    if failures:
        ops += [
            st.just(ScriptOp("fail", "BOOM")),
            st.integers(min_value=-5, max_value=5).map(lambda k: ScriptOp("fail_over", k)),
        ]
    return st.lists(st.one_of(ops), max_size=max_size).map(tuple)


def _check_max_ops(max_ops: object) -> None:
    if isinstance(max_ops, bool) or not isinstance(max_ops, int) or max_ops < 0:
        raise ValueError(f"max_ops must be an int ≥ 0, got {max_ops!r}")


def plan_scripts(max_ops: int = 4, *, failures: bool = True) -> st.SearchStrategy[PlanScript]:
    """Scripts of up to ``max_ops`` ops that record effects ``a``/``b``, sleep, suspend and
    (unless ``failures=False``) fail."""
    _check_max_ops(max_ops)
    return st.builds(PlanScript, st.integers(min_value=-5, max_value=5), _ops("ab", max_ops, failures))


def arrow_scripts(max_ops: int = 3, *, failures: bool = True) -> st.SearchStrategy[ArrowScript]:
    """Arrow scripts of up to ``max_ops`` ops that record effects ``f``/``g``, sleep, suspend and
    (unless ``failures=False``) fail."""
    _check_max_ops(max_ops)
    return st.builds(ArrowScript, _ops("fg", max_ops, failures))


@dataclass(frozen=True)
class StreamScript:
    """A generated effectful stream: for each ``(delay, value)``, wait ``delay`` seconds on the
    loop's clock, record ``emit(value)@t`` and yield ``value``."""

    items: tuple[tuple[float, int], ...] = ()

    def build(self, log: EffectLog) -> Stream[int]:
        """A fresh stream that performs this script, recording into ``log``."""
        items = self.items

        async def source() -> AsyncGenerator[int, None]:
            for delay, value in items:
                await asyncio.sleep(delay)
                log.record("emit", value)
                yield value

        source.__qualname__ = repr(self)
        return stream_from(source)

    def __repr__(self) -> str:
        return f"stream_script({[list(item) for item in self.items]!r})"


def stream_scripts(max_items: int = 8) -> st.SearchStrategy[StreamScript]:
    """Stream scripts of up to ``max_items`` items arriving 0–2 s apart."""
    _check_max_ops(max_items)
    item = st.tuples(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0]), st.integers(min_value=-9, max_value=9))
    return st.lists(item, max_size=max_items).map(lambda items: StreamScript(tuple(items)))


# --- lesson 06: request scripts for the bucket laws ----------------------------------------------


def bucket_rates() -> st.SearchStrategy[float]:
    """Refill rates (tokens per second) for generated buckets, slow to fast."""
    return st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0, 10.0])


def bucket_bursts() -> st.SearchStrategy[float]:
    """Bucket sizes (the most tokens a bucket holds) for generated buckets."""
    return st.sampled_from([1.0, 2.0, 3.5, 5.0, 8.0])


@st.composite
def bucket_arrivals(draw: st.DrawFn, burst: float) -> list[tuple[float, float]]:
    """``(time, cost)`` requests in time order — many at one instant, gaps up to 3 s — each costing
    at most ``burst``, so a full bucket can always admit it."""
    gaps = draw(st.lists(st.sampled_from([0.0, 0.0, 0.1, 0.125, 0.25, 0.5, 0.7, 1.0, 3.0]), min_size=1, max_size=60))
    costs = draw(st.lists(st.floats(0.25, burst), min_size=len(gaps), max_size=len(gaps)))
    times, t = [], 0.0
    for gap in gaps:
        t += gap
        times.append(t)
    return list(zip(times, costs))
