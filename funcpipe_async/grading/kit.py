"""What a check module needs: verdicts, safe calls into student code, driving, properties.

A check never lets a student's exception escape as a traceback.  It calls student code
through :func:`call`, drives plans through :func:`drive`, and states what must hold for
every generated input with :func:`for_all` (Hypothesis under the course's deterministic
settings, so the same submission always gets the same feedback).  A failed expectation is
``raise CheckFailed("…")`` with a message in the lesson's words — what was expected, what
happened, and the idea that explains the difference::

    doing = f"fetch_email({user_id!r}, http)"
    plan = kit.as_plan(kit.call(fetch_email, user_id, http, doing=doing), doing=doing)
    if http.calls:
        raise kit.CheckFailed(f"describing runs nothing, but building {doing} already called {http.calls}")
    result = kit.drive(plan, doing=f"driving {doing}")

This is the one module of the grader that drives plans (:func:`drive`): checks run in the
grader's child process, which is a shell for the student's code.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure

from funcpipe_async import Simulation, run_sync
from funcpipe_async.plan import AsyncPlan, ReusedCoroutineError, async_lift
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.shell.virtual import DeadlockError, SimulationLimitError
from funcpipe_async.testing import quiet_course_settings

__all__ = [
    "CheckFailed",
    "TAMPERED",
    "NotDone",
    "not_done",
    "refuse_async",
    "function",
    "call",
    "as_plan",
    "drive",
    "simulate",
    "timed",
    "run_awaitable",
    "for_all",
    "show",
    "describe_exception",
]

X = TypeVar("X")

EXAMPLES = 60
"""Generated examples per property: enough to find the usual mistakes, fast enough to grade."""

SEED: int | None = None
"""The grading run's seed: :func:`for_all` draws its examples from it (``None``: derandomized).
Each run of the grader draws a fresh one and records it in the report; ``--seed`` replays it."""


TAMPERED = "the checking process gave an answer of the wrong shape (was the grader tampered with?)"
"""The verdict when a worker's answer does not have the shape its probe gives: only a
submission that rewrote the probe (or the protocol) gets it."""


class CheckFailed(AssertionError):
    """The submission fails this task; ``str(error)`` is the feedback the student reads."""


class NotDone(CheckFailed):
    """The task's stub is still in place (its function raises ``NotImplementedError``)."""


def in_order(*checks: Callable[[Any], str]) -> Callable[[Any], str]:
    """A judge made of ``checks``, the lesson's main concept first: each runs even when an earlier
    one failed, so a student whose code gets two things wrong reads both, main one first.

    A stub (:class:`NotDone`) or a worker that ended the task stops it at once; the task
    passes only if every check does, with the checks' own pass messages joined."""

    def judge(worker: Any) -> str:
        passed: list[str] = []
        failed: list[str] = []
        for check in checks:
            try:
                passed.append(check(worker))
            except NotDone:
                raise
            except CheckFailed as failure:
                failed.append(str(failure))
        if len(failed) == 1:
            raise CheckFailed(failed[0])
        if failed:
            raise CheckFailed(" ".join(f"({n}) {text}" for n, text in enumerate(failed, start=1)))
        return "; ".join(passed)

    return judge


def show(value: object, limit: int = 120) -> str:
    """``repr(value)``, shortened to ``limit`` characters for feedback."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_exception(error: BaseException, limit: int = 200) -> str:
    """``KeyError: 'email'`` — an exception's type and message, without a traceback."""
    message = str(error).strip()
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_done(name: str) -> NotDone:
    """The verdict for a task whose function ``name`` still raises its stub's NotImplementedError."""
    return NotDone(
        f"not done yet: {name} still raises NotImplementedError — replace the stub "
        "(the `raise NotImplementedError(...)` line) with your code, run the cell, and check again"
    )


def refuse_async(fn: Callable[..., Any], name: str, *, drive: str) -> None:
    """Fail at once when a test helper is an ``async def``: calling it only builds a coroutine
    and checks nothing.  ``drive`` says how the helper should drive instead."""
    if inspect.iscoroutinefunction(fn):
        raise CheckFailed(
            f"{name} is an `async def`, so calling it only builds a coroutine and checks nothing. "
            f"Write a plain `def` that {drive}"
        )


def function(namespace: Mapping[str, Any], name: str) -> Callable[..., Any]:
    """The student's function ``name``, or a verdict saying why it cannot be used."""
    if name not in namespace:
        raise CheckFailed(f"{name} is not defined: the task's cell must define a function named {name}")
    value = namespace[name]
    if not callable(value):
        raise CheckFailed(f"{name} must be a function, but it is a {type(value).__name__}")
    return value  # type: ignore[no-any-return]


def call(fn: Callable[..., X], *args: Any, doing: str) -> X:
    """Call student code; its exceptions become verdicts that say what was being done."""
    try:
        return fn(*args)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise not_done(getattr(fn, "__name__", "the function")) from None
    except Exception as error:  # noqa: BLE001 - any defect in student code is a verdict
        raise CheckFailed(f"{doing} raised {describe_exception(error)}") from None


def as_plan(value: object, *, doing: str) -> AsyncPlan[Any]:
    """Check that ``value`` (what ``doing`` returned) is an ``AsyncPlan``, not a coroutine or a result."""
    if inspect.iscoroutine(value):
        value.close()  # never awaited: close it so it does not warn
        raise CheckFailed(
            f"{doing} returned a coroutine — it is an `async def`. A coroutine runs once and is then "
            "spent; return an AsyncPlan instead: a plain `def` returning async_lift(...), async_bind(...) …"
        )
    if isinstance(value, (Ok, Err)):
        raise CheckFailed(
            f"{doing} returned {show(value)}, a result: the work already ran while describing it. "
            "Return an AsyncPlan that produces the result when a shell drives it"
        )
    if not callable(value):
        raise CheckFailed(
            f"{doing} returned {show(value)}, not an AsyncPlan (a plan is built with async_lift, async_bind …)"
        )
    return value


def drive(plan: AsyncPlan[X], *, doing: str) -> Result[X, ErrInfo]:
    """Drive ``plan`` once, as a shell would; a defect becomes a verdict naming ``doing``."""
    try:
        result = run_sync(plan)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise not_done("the plan") from None
    except ReusedCoroutineError:
        raise CheckFailed(
            f"{doing} raised ReusedCoroutineError: the plan handed back a coroutine that had already run. "
            "A plan is replayable only if every drive makes a fresh coroutine: "
            "async_lift(lambda: http.get_json(url)), not one coroutine created in advance"
        ) from None
    except Exception as error:  # noqa: BLE001 - any defect in student code is a verdict
        raise CheckFailed(f"{doing} raised {describe_exception(error)}") from None
    if not isinstance(result, (Ok, Err)):  # pragma: no cover - the interpreter already rejects these
        raise CheckFailed(f"{doing} produced {show(result)}; a plan must produce Ok(...) or Err(...)")
    return result


async def timed(plan: AsyncPlan[X]) -> tuple[Result[X, ErrInfo], float]:
    """Await ``plan`` once and say when it ended.  :func:`simulate` gives each drive a fresh
    virtual clock starting at 0, so the loop's time at the end is how long the call took (the
    simulation's own ``now`` is not: after ``main`` returns it goes on to cancel leftover tasks).

    ``result, took = simulate(timed(plan), doing="...")``
    """
    result = await plan()
    return result, asyncio.get_running_loop().time()


def simulate(main: Any, *, doing: str, sim: Simulation | None = None, limit: float = 86_400.0) -> Any:
    """Drive ``main`` (a plan or a coroutine) on virtual time and return what it returns.

    Use it wherever timing matters: sleeps, timeouts and backoff cost no wall time, and the
    same submission sees the same instants every run.  ``sim`` (default: a fresh
    ``Simulation(limit=limit)``) gives the check its clock (``sim.now``) and trace.  A
    deadlock, a plan that never ends, or a defect becomes a verdict naming ``doing``.
    """
    world = sim if sim is not None else Simulation(limit=limit)
    try:
        return world.run(main)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise not_done("the plan") from None
    except DeadlockError as error:
        waiting = "; ".join(error.waiting)
        raise CheckFailed(
            f"{doing} can never finish: every task is waiting and no timer is pending ({waiting})"
        ) from None
    except SimulationLimitError:
        raise CheckFailed(
            f"{doing} was still running after {world.limit:g} simulated seconds, or busy-waited without "
            "letting time pass: is there a loop that never ends?"
        ) from None
    except ReusedCoroutineError:
        raise CheckFailed(
            f"{doing} raised ReusedCoroutineError: every drive of a plan must make a fresh coroutine"
        ) from None
    except Exception as error:  # noqa: BLE001 - any defect in student code is a verdict
        raise CheckFailed(f"{doing} raised {describe_exception(error)}") from None


def run_awaitable(awaitable: Awaitable[object]) -> None:
    """Wait for ``awaitable`` to finish, from synchronous code (a cell with top-level ``await``)."""

    async def wait() -> Result[None, ErrInfo]:
        await awaitable
        return Ok(None)

    run_sync(async_lift(wait))


def for_all(
    strategy: st.SearchStrategy[X],
    prop: Callable[[X], None],
    *,
    examples: int = EXAMPLES,
    known: Sequence[X] = (),
) -> None:
    """Run ``prop`` on generated examples; the first failing example's verdict is raised.

    Two rounds: first the course's fixed examples — ``known`` (the boundary cases a task is
    about, written out so no version of Hypothesis can miss them), then derandomized ones,
    simplest first: the same for every run, so a known mistake always meets the example that
    explains it best — then, when the grading run has a :data:`SEED`, as many again drawn
    fresh from it (recorded in the report, so a disputed grade can be replayed): a table of
    the fixed examples' answers fails there.  No example database, no deadline, quiet, and no shrinking: shrinking a
    failure costs seconds per task, and a check's message should explain its example in
    words (the part of it that matters) anyway.
    """
    for case in known:
        prop(case)
    _for_all_once(strategy, prop, examples, None)
    if SEED is not None:
        _for_all_once(strategy, prop, examples, SEED)


def _for_all_once(strategy: st.SearchStrategy[X], prop: Callable[[X], None], examples: int, fresh: int | None) -> None:
    @settings(
        quiet_course_settings(examples),
        derandomize=fresh is None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def run(example: X) -> None:
        prop(example)

    if fresh is not None:
        run = seed(fresh)(run)
    try:
        run()
    except FlakyFailure as error:
        inner = next((e for e in error.exceptions if isinstance(e, CheckFailed)), None)
        detail = f" (one of those runs: {inner})" if inner is not None else ""
        raise CheckFailed(
            "the same example passed on one run and failed on another: does your code keep state "
            f"between calls, or depend on time or randomness?{detail}"
        ) from None
