"""Exercise 10 · Async Pipeline Laws: the checks of its three tasks.

Each task asks for a piece of a law, and each is graded the way the lesson grades laws:
by running it against the package's correct implementation (the law must hold) and against
broken ones (the law must catch every one).  A hard-coded verdict cannot pass both.

* t1 ``gather_singleton_law(gather)`` — the law ``gather([m], concurrency=k) ==
  async_map(m, lambda x: [x])`` written with ``check_law``; it must hold for ``async_gather``
  and fail for a gather that returns the bare value (result), one that drops failed plans
  (result, but only on plans that fail), one that drives each plan twice at once (effects
  only) and one that starts half a second late (time).
* t2 ``timeout_law(timeout)`` — ``timeout(m, t) == m`` when ``m`` finishes before ``t``:
  the law's condition must live in its strategy (``t`` drawn from the script).  It must hold
  for ``async_timeout`` and fail for a timeout that turns every ``Err`` into ``TIMEOUT``
  (result, on failing plans), one that waits out the whole ``t`` (time) and one that races
  two copies of the plan (effects).
* t3 ``same_work(left, right)`` — the comparison for "concurrency changes when things happen,
  never what happens": on generated lists of never-failing scripts it must call a correct
  ``async_gather`` (any ``concurrency``) equal to ``sequence``, and tell apart a gather that
  returns values in completion order and one that drives a plan twice, on every example
  where they really did different work.

Every run is on virtual time (``kit.simulate``, or the student's own ``check_law``), so the
same submission always gets the same feedback.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from funcpipe_async import EffectLog, LawReport, Observation, PlanScript, ScriptOp, plan_scripts
from funcpipe_async.gather import async_gather, async_sequence
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.plan import AsyncPlan, async_bind, async_lift, async_map, async_settle
from funcpipe_async.policies import async_timeout
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["EXERCISE", "same_work_reference", "script_duration"]

MIN_EXAMPLES = 20
"""A law that ran fewer examples than this on a correct implementation proves too little."""

Gather = Callable[..., AsyncPlan[list[Any]]]
Timeout = Callable[[AsyncPlan[Any], float], AsyncPlan[Any]]


def script_duration(script: PlanScript) -> float:
    """The virtual seconds ``script`` sleeps in all (it may stop earlier, at a failure)."""
    return sum(float(op.arg) for op in script.ops if op.kind == "sleep")


async def _pause(seconds: float) -> Result[None, ErrInfo]:
    await asyncio.sleep(seconds)
    return Ok(None)


def _later(seconds: float, plan: AsyncPlan[Any]) -> AsyncPlan[Any]:
    return async_bind(async_lift(lambda: _pause(seconds)), lambda _: plan)


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn`` under a name the student's counterexamples can show (and a fresh identity, so a
    law cannot recognise the reference by ``is``)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


def _check_report(report: object, doing: str) -> LawReport:
    if not isinstance(report, LawReport):
        raise kit.CheckFailed(
            f"{doing} returned {kit.show(report)}; return the LawReport that check_law(...) returns"
        )
    return report


def _run_law(law: Callable[..., Any], impl: Callable[..., Any], name: str, what: str) -> LawReport:
    doing = f"{name}({what})"
    return _check_report(kit.call(law, impl, doing=doing), doing)


def _must_hold(law: Callable[..., Any], impl: Callable[..., Any], name: str, what: str, condition: str) -> None:
    report = _run_law(law, impl, name, what)
    if not report.holds:
        raise kit.CheckFailed(
            f"your law fails for the package's own {what}, which is correct — so the law is wrong. "
            f"{condition} Counterexample: {report.counterexample}"
        )
    if report.examples < MIN_EXAMPLES:
        raise kit.CheckFailed(
            f"your law ran only {report.examples} example(s) on {what}: too few to catch anything. "
            f"Give check_law max_examples=50"
        )


def _must_catch(law: Callable[..., Any], impl: Callable[..., Any], name: str, what: str, missed: str) -> None:
    report = _run_law(law, impl, name, what)
    if report.holds:
        raise kit.CheckFailed(f"{what} passed your law ({report.examples} examples). {missed}")


# ---------------------------------------------------------------------------------------------
# Task 1: both sides of a gather law


def _gather_bare(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[Any]:
    return async_map(async_gather(plans, concurrency=concurrency), lambda xs: xs[0] if len(xs) == 1 else xs)


def _gather_dropping_failures(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    settled = async_gather([async_settle(p) for p in plans], concurrency=concurrency)
    return async_map(settled, lambda results: [r.value for r in results if isinstance(r, Ok)])


def _gather_twice(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    doubled = [p for p in plans for _ in range(2)]
    return async_map(async_gather(doubled, concurrency=2 * concurrency), lambda xs: xs[::2])


def _gather_late(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    return _later(0.5, async_gather(plans, concurrency=concurrency))


def check_gather_singleton_law(ns: Mapping[str, Any]) -> str:
    law = kit.function(ns, "gather_singleton_law")
    kit.refuse_async(law, "gather_singleton_law", drive="returns check_law(...)")
    name = "gather_singleton_law"
    _must_hold(
        law, _named(lambda plans, concurrency: async_gather(plans, concurrency=concurrency), "async_gather"),
        name, "async_gather",
        "For one plan, gather([m], concurrency=k) and async_map(m, lambda x: [x]) give the same result, the "
        "same effects at the same instants and take the same time: build both sides from the same script, "
        "each with its own log (m.build(log)).",
    )
    _must_catch(
        law, _named(_gather_bare, "gather_bare"), name, "a gather that returns the bare value for one plan "
        "(Ok(x) instead of Ok([x]))",
        "Compare results: the right side is async_map(m, lambda x: [x]), a list of one value.",
    )
    _must_catch(
        law, _named(_gather_dropping_failures, "gather_dropping_failures"), name,
        "a gather that drops failed plans (Ok([]) instead of the plan's Err)",
        "Your plans never fail, so it never had a failure to drop: draw plan_scripts() with failures.",
    )
    _must_catch(
        law, _named(_gather_twice, "gather_twice"), name, "a gather that drives each plan twice, both copies at once",
        "Its results and its time are right; only the effects show it (every effect twice). Compare whole "
        "observations — check_law's default same= — over plans that record effects (plan_scripts(), built "
        "with the log each side is given).",
    )
    _must_catch(
        law, _named(_gather_late, "gather_late"), name, "a gather that starts half a second late",
        "Only time shows it: compare elapsed time and the instants of effects — check_law's default same= — "
        "over scripts that record effects.",
    )
    return (
        "your law holds for async_gather and catches a gather that returns the bare value, one that drops "
        "failures, one that drives plans twice and one that starts late — result, effects and time"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: a timeout law whose condition lives in its strategy


def _timeout_all_errors(plan: AsyncPlan[Any], seconds: float) -> AsyncPlan[Any]:
    def as_timeout(result: Result[Any, ErrInfo]) -> Result[Any, ErrInfo]:
        return Err(ErrInfo("TIMEOUT", f"no result within {seconds:g}s", retryable=True)) if isinstance(result, Err) else result

    settled = async_settle(async_timeout(plan, seconds))
    return async_bind(settled, lambda result: _from_result(as_timeout(result)))


def _from_result(result: Result[Any, ErrInfo]) -> AsyncPlan[Any]:
    async def give() -> Result[Any, ErrInfo]:
        return result

    return async_lift(give)


def _timeout_waiting_out(plan: AsyncPlan[Any], seconds: float) -> AsyncPlan[Any]:
    async def run() -> Result[Any, ErrInfo]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result: Result[Any, ErrInfo] = await async_timeout(plan, seconds)()
        await asyncio.sleep(max(0.0, started + seconds - loop.time()))
        return result

    return async_lift(run)


def _timeout_racing_two(plan: AsyncPlan[Any], seconds: float) -> AsyncPlan[Any]:
    return async_timeout(async_map(async_gather([plan, plan], concurrency=2), lambda results: results[0]), seconds)


def check_timeout_law(ns: Mapping[str, Any]) -> str:
    law = kit.function(ns, "timeout_law")
    kit.refuse_async(law, "timeout_law", drive="returns check_law(...)")
    name = "timeout_law"
    _must_hold(
        law, _named(lambda plan, seconds: async_timeout(plan, seconds), "async_timeout"), name, "async_timeout",
        "The law speaks only of plans that finish *before* t: a script that sleeps as long as t, or longer, "
        "times out, correctly. Put the condition in the strategy — draw t from the script, longer than "
        "everything it sleeps (script_duration(m) plus a margin above 0).",
    )
    _must_catch(
        law, _named(_timeout_all_errors, "timeout_all_errors"), name,
        "a timeout that turns every Err into Err(TIMEOUT)",
        "Your plans never fail, so it never had an Err to rewrite: draw plan_scripts() with failures.",
    )
    _must_catch(
        law, _named(_timeout_waiting_out, "timeout_waiting_out"), name,
        "a timeout that waits out the whole t before returning a fast result",
        "Its results and effects are right; only elapsed time shows it. Compare whole observations — "
        "check_law's default same=.",
    )
    _must_catch(
        law, _named(_timeout_racing_two, "timeout_racing_two"), name,
        "a timeout that races two copies of the plan",
        "Its results and time are right; only the effects show it (every effect twice). Compare whole "
        "observations over scripts that record effects.",
    )
    return (
        "your law holds for async_timeout — t is drawn beyond everything the script sleeps — and catches a "
        "timeout that rewrites errors, one that waits out t and one that races two copies"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: compare what the law promises


def same_work_reference(left: Observation, right: Observation) -> bool:
    """Task 3's answer: the same result, and the same effects as a multiset, instants ignored."""
    return left.result == right.result and _work(left) == _work(right)


def _work(observation: Observation) -> Counter[str]:
    return Counter(effect.rsplit("@", 1)[0] for effect in observation.effects)


def _gather_in_completion_order(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    async def run() -> Result[list[Any], ErrInfo]:
        finished: list[Any] = []
        result: Result[list[Any], ErrInfo] = await async_gather(
            [async_map(p, finished.append) for p in plans], concurrency=concurrency
        )()
        return result if isinstance(result, Err) else Ok(finished)

    return async_lift(run)


def _gather_first_twice(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    if not plans:
        return async_gather(plans, concurrency=concurrency)
    return async_map(async_gather([plans[0], *plans], concurrency=concurrency), lambda xs: xs[1:])


def _stamped(n: int, seconds: float) -> PlanScript:
    return PlanScript(n, (ScriptOp("effect", "a"), ScriptOp("sleep", seconds), ScriptOp("effect", "b")))


# Hand-made cases first (two plans that overlap and finish out of order), then generated ones.
_CASES = st.one_of(
    st.tuples(st.just([_stamped(1, 1.0), _stamped(2, 0.5)]), st.integers(2, 3)),
    st.tuples(st.just([_stamped(1, 2.5), _stamped(2, 0.5), _stamped(3, 1.0)]), st.integers(1, 3)),
    st.tuples(st.lists(plan_scripts(failures=False), max_size=4), st.integers(1, 4)),
)



def _observe(build: Callable[[EffectLog], AsyncPlan[Any]], doing: str) -> Observation:
    log = EffectLog()
    result, ended = kit.simulate(kit.timed(build(log)), doing=doing)
    return Observation(result, tuple(log.entries), ended)


def _sides(gather: Gather, scripts: list[PlanScript], k: int) -> tuple[Observation, Observation]:
    left = _observe(lambda log: gather([s.build(log) for s in scripts], concurrency=k), "driving the gather")
    right = _observe(lambda log: async_sequence([s.build(log) for s in scripts]), "driving async_sequence(ps)")
    return left, right


def _ask(same_work: Callable[..., Any], left: Observation, right: Observation) -> bool:
    verdict = kit.call(same_work, left, right, doing="same_work(left, right)")
    if not isinstance(verdict, bool):
        raise kit.CheckFailed(f"same_work(left, right) returned {kit.show(verdict)}; a comparison returns True or False")
    return verdict


def _false_alarm(same_work: Callable[..., Any], right: Observation) -> str:
    """Why ``same_work`` called a correct gather different, found by probing it with variants of
    ``right`` (sequence's observation) that do the same work: moved in time, or reordered."""
    later = Observation(right.result, tuple(e.rsplit("@", 1)[0] + "@99" for e in right.effects), right.elapsed + 99)
    if not _ask(same_work, later, right):
        return (
            "Concurrency changes when effects happen and how long the run takes, not what happens: compare "
            "the result and the effects without their @instant (effect.rsplit('@', 1)[0]), never elapsed time"
        )
    reordered = Observation(right.result, tuple(reversed(right.effects)), right.elapsed)
    if not _ask(same_work, reordered, right):
        return (
            "With concurrency above 1, the effects of different plans interleave: the same effects, in another "
            "order. Compare them as a multiset — sorted(...) or collections.Counter — of labels without their "
            "@instant"
        )
    return "Compare only what concurrency cannot change: the result, and which effects happened"


def check_same_work(ns: Mapping[str, Any]) -> str:
    same_work = kit.function(ns, "same_work")

    def prop(case: tuple[list[PlanScript], int]) -> None:
        scripts, k = case
        where = f"on ps = {kit.show(scripts, 200)} with concurrency={k}"
        left, right = _sides(async_gather, scripts, k)
        if not _ask(same_work, left, right):
            raise kit.CheckFailed(
                f"false alarm: a correct async_gather does the same work as async_sequence(ps), but same_work said "
                f"they differ {where}: {left} against {right}. {_false_alarm(same_work, right)}"
            )
        for gather, what, hint in (
            (_gather_in_completion_order, "a gather that returns values in the order the plans finish",
             "compare results too"),
            (_gather_first_twice, "a gather that drives a plan twice",
             "compare the effects too, as a multiset of labels without their @instant"),
        ):
            broken, reference = _sides(gather, scripts, k)
            if not same_work_reference(broken, reference) and _ask(same_work, broken, reference):
                raise kit.CheckFailed(
                    f"missed: {what} did different work {where} — {broken} against sequence's {reference} — "
                    f"but same_work called them the same: {hint}"
                )

    kit.for_all(_CASES, prop)
    return (
        "same_work ignores when things happen (instants, interleaving, elapsed time) and catches a gather in "
        "completion order and one that drives a plan twice"
    )


EXERCISE = Exercise(
    slug="10_async_pipeline_laws",
    title="10 · Async Pipeline Laws",
    tasks=(
        Task("t1", "Write both sides of a gather law", 4, ("gather_singleton_law",), check_gather_singleton_law),
        Task("t2", "Put a timeout law's condition in its strategy", 3, ("timeout_law",), check_timeout_law),
        Task("t3", "Compare what the law promises", 3, ("same_work",), check_same_work),
    ),
)
