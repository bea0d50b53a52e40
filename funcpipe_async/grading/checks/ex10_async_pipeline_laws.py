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

Every task is decided by a judge outside the worker.  For Tasks 1 and 2 the probe ``law``
runs the student's law in the worker on one implementation, built there from its key and
given under the task's neutral name (``gather`` or ``timeout``), and reports its
``LawReport`` as data (holds, examples, counterexample); the judge asks for the correct
implementation twice and each broken one once, in an order drawn outside the worker, so a
law can pass only by telling the implementations apart by their behaviour.  For Task 3 the
judge drives the gathers and ``async_sequence`` itself and sends the observations; the probe
``same_work`` reports the student's verdict on each pair.  ``same_work_reference`` is a public
name of this module: while the probe runs, it raises instead of answering, and a
``same_work`` that calls it is refused.

Every run is on virtual time (``kit.simulate``, or the student's own ``check_law``), so the
same submission gets the same feedback for the same seed.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async import EffectLog, LawReport, Observation, PlanScript, ScriptOp, plan_scripts
from funcpipe_async.gather import async_gather, async_sequence
from funcpipe_async.grading import kit, protocol
from funcpipe_async.grading.checks._reach import call_guarded as _call_guarded
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import AsyncPlan, async_bind, async_lift, async_map, async_settle
from funcpipe_async.policies import async_timeout
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "same_work_reference", "script_duration"]

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
    """``fn`` under the task's neutral name (``gather`` or ``timeout``): every implementation a
    law is given looks the same from outside (a fresh identity and the same name), so a law
    cannot recognise the correct one by ``is`` or by name."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


@dataclass(frozen=True)
class _Law:
    """One task's law: the student's function, what the correct implementation is called in
    feedback, its key and the law's condition, and the broken ones, each ``(key, description,
    hint)``."""

    name: str
    arg: str
    correct: str
    condition: str
    broken: tuple[tuple[str, str, str], ...]


def _probe_law(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Tasks 1 and 2: run the student's law on one implementation (named
    by its key in ``payload``) and report its ``LawReport`` as data — holds, examples,
    counterexample — or what it returned instead, or the exception it raised."""
    name, key = str(payload["law"]), str(payload["impl"])
    impls = _GATHERS if name == "gather_singleton_law" else _TIMEOUTS
    if name not in ("gather_singleton_law", "timeout_law") or key not in impls:
        raise kit.CheckFailed(f"no such law or implementation: {name!r}, {key!r}")
    law = kit.function(ns, name)
    kit.refuse_async(law, name, drive="returns check_law(...)")
    impl = _named(impls[key], "gather" if name == "gather_singleton_law" else "timeout")
    try:
        report = law(impl)
    except NotImplementedError:
        raise kit.not_done(name) from None
    except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
        return {"outcome": "raised", "error": kit.describe_exception(error)}
    if not isinstance(report, LawReport):
        return {"outcome": "not a report", "shown": kit.show(report)}
    counterexample = report.counterexample
    return {
        "outcome": "report",
        "holds": report.holds is True,
        "examples": report.examples,
        "counterexample": None if counterexample is None else str(counterexample)[:2_000],
    }


def _reports(worker: Worker, law: _Law) -> dict[str, list[dict[str, Any]]]:
    """The student's law run on each implementation — the correct one twice — asked in an order
    only the judge knows, so a law that counts its calls cannot tell which one it is given."""
    keys = [law.correct, law.correct, *(key for key, _, _ in law.broken)]
    random.SystemRandom().shuffle(keys)
    reports: dict[str, list[dict[str, Any]]] = {}
    for key in keys:
        answer = worker.ask("law", {"law": law.name, "impl": key})
        if not isinstance(answer, dict) or answer.get("outcome") not in ("report", "raised", "not a report"):
            raise kit.CheckFailed(kit.TAMPERED)
        if answer["outcome"] == "report" and not (
            isinstance(answer.get("holds"), bool)
            and type(answer.get("examples")) is int
            and (answer.get("counterexample") is None or isinstance(answer.get("counterexample"), str))
        ):
            raise kit.CheckFailed(kit.TAMPERED)
        reports.setdefault(key, []).append(answer)
    return reports


def _judge_law(worker: Worker, law: _Law) -> None:
    """The reports judged in the lesson's order: the law must hold for the correct implementation
    (with enough examples), then catch each broken one."""
    reports = _reports(worker, law)
    for key, what, missed in [(law.correct, law.arg, ""), *law.broken]:
        for answer in reports[key]:
            doing = f"{law.name}({what})"
            if answer["outcome"] == "raised":
                raise kit.CheckFailed(f"{doing} raised {answer.get('error')}")
            if answer["outcome"] == "not a report":
                raise kit.CheckFailed(
                    f"{doing} returned {answer.get('shown')}; return the LawReport that check_law(...) returns"
                )
            if key != law.correct:
                if answer["holds"]:
                    raise kit.CheckFailed(f"{what} passed your law ({answer['examples']} examples). {missed}")
            elif not answer["holds"]:
                raise kit.CheckFailed(
                    f"your law fails for the package's own {what}, which is correct — so the law is wrong. "
                    f"{law.condition} Counterexample: {answer['counterexample']}"
                )
            elif answer["examples"] < MIN_EXAMPLES:
                raise kit.CheckFailed(
                    f"your law ran only {answer['examples']} example(s) on {what}: too few to catch anything. "
                    f"Give check_law max_examples=50"
                )


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


_GATHERS: dict[str, Callable[..., Any]] = {
    "correct": lambda plans, concurrency: async_gather(plans, concurrency=concurrency),
    "bare": _gather_bare,
    "dropping": _gather_dropping_failures,
    "twice": _gather_twice,
    "late": _gather_late,
}

_GATHER_LAW = _Law(
    "gather_singleton_law",
    "async_gather",
    "correct",
    "For one plan, gather([m], concurrency=k) and async_map(m, lambda x: [x]) give the same result, the "
    "same effects at the same instants and take the same time: build both sides from the same script, "
    "each with its own log (m.build(log)).",
    (
        (
            "bare",
            "a gather that returns the bare value for one plan (Ok(x) instead of Ok([x]))",
            "Compare results: the right side is async_map(m, lambda x: [x]), a list of one value.",
        ),
        (
            "dropping",
            "a gather that drops failed plans (Ok([]) instead of the plan's Err)",
            "Your plans never fail, so it never had a failure to drop: draw plan_scripts() with failures.",
        ),
        (
            "twice",
            "a gather that drives each plan twice, both copies at once",
            "Its results and its time are right; only the effects show it (every effect twice). Compare whole "
            "observations — check_law's default same= — over plans that record effects (plan_scripts(), built "
            "with the log each side is given).",
        ),
        (
            "late",
            "a gather that starts half a second late",
            "Only time shows it: compare elapsed time and the instants of effects — check_law's default same= — "
            "over scripts that record effects.",
        ),
    ),
)


def judge_gather_singleton_law(worker: Worker) -> str:
    _judge_law(worker, _GATHER_LAW)
    return (
        "your law holds for async_gather and catches a gather that returns the bare value, one that drops "
        "failures, one that drives plans twice and one that starts late — result, effects and time"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: a timeout law whose condition lives in its strategy


def _timeout_all_errors(plan: AsyncPlan[Any], seconds: float) -> AsyncPlan[Any]:
    def as_timeout(result: Result[Any, ErrInfo]) -> Result[Any, ErrInfo]:
        return (
            Err(ErrInfo("TIMEOUT", f"no result within {seconds:g}s", retryable=True))
            if isinstance(result, Err)
            else result
        )

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


_TIMEOUTS: dict[str, Callable[..., Any]] = {
    "correct": lambda plan, seconds: async_timeout(plan, seconds),
    "all errors": _timeout_all_errors,
    "waiting out": _timeout_waiting_out,
    "racing two": _timeout_racing_two,
}

_TIMEOUT_LAW = _Law(
    "timeout_law",
    "async_timeout",
    "correct",
    "The law speaks only of plans that finish *before* t: a script that sleeps as long as t, or longer, "
    "times out, correctly. Put the condition in the strategy — draw t from the script, longer than "
    "everything it sleeps (script_duration(m) plus a margin above 0).",
    (
        (
            "all errors",
            "a timeout that turns every Err into Err(TIMEOUT)",
            "Your plans never fail, so it never had an Err to rewrite: draw plan_scripts() with failures.",
        ),
        (
            "waiting out",
            "a timeout that waits out the whole t before returning a fast result",
            "Its results and effects are right; only elapsed time shows it. Compare whole observations — "
            "check_law's default same=.",
        ),
        (
            "racing two",
            "a timeout that races two copies of the plan",
            "Its results and time are right; only the effects show it (every effect twice). Compare whole "
            "observations over scripts that record effects.",
        ),
    ),
)


def judge_timeout_law(worker: Worker) -> str:
    _judge_law(worker, _TIMEOUT_LAW)
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


def _as_data(observation: Observation) -> dict[str, Any]:
    return {
        "result": protocol.encode(observation.result),
        "effects": list(observation.effects),
        "elapsed": observation.elapsed,
    }


def _from_data(data: Mapping[str, Any]) -> Observation:
    return Observation(protocol.decode(data["result"]), tuple(str(e) for e in data["effects"]), float(data["elapsed"]))


def _probe_same_work(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """The worker's side of Task 3: ``same_work(left, right)`` on each pair of observations the
    judge sends; for each, the bool it returned, what it returned instead, or the exception —
    or, for all, that it called this module's reference answer."""
    same_work = kit.function(ns, "same_work")
    pairs = [(_from_data(left), _from_data(right)) for left, right in payload["pairs"]]
    answers: list[dict[str, Any]] = []
    for left, right in pairs:
        got = _call_guarded(same_work_reference, "same_work", same_work, left, right)
        if got is None:
            return [{"outcome": "reference"}]
        verdict, raised = got
        if raised is not None:
            answers.append({"outcome": "raised", "error": kit.describe_exception(raised)})
        elif isinstance(verdict, bool):
            answers.append({"outcome": "bool", "value": verdict})
        else:
            answers.append({"outcome": "not a bool", "shown": kit.show(verdict)})
    return answers


def _verdicts(worker: Worker, pairs: list[tuple[Observation, Observation]]) -> list[bool]:
    """The student's ``same_work`` on every pair, asked at once; a verdict on the first answer that
    is not a bool."""
    answer = worker.ask("same_work", {"pairs": [[_as_data(a), _as_data(b)] for a, b in pairs]})
    if isinstance(answer, list) and answer and isinstance(answer[0], dict) and answer[0].get("outcome") == "reference":
        raise kit.CheckFailed(
            "same_work calls same_work_reference, the grader's own answer (the exercise's checks module defines it "
            "to check yours against): an answer computed by the grader earns no points — write the comparison yourself"
        )
    if not isinstance(answer, list) or len(answer) != len(pairs) or not all(isinstance(a, dict) for a in answer):
        raise kit.CheckFailed(kit.TAMPERED)
    verdicts: list[bool] = []
    for a in answer:
        if a.get("outcome") == "raised":
            raise kit.CheckFailed(f"same_work(left, right) raised {a.get('error')}")
        if a.get("outcome") == "not a bool":
            raise kit.CheckFailed(
                f"same_work(left, right) returned {a.get('shown')}; a comparison returns True or False"
            )
        if a.get("outcome") != "bool" or not isinstance(a.get("value"), bool):
            raise kit.CheckFailed(kit.TAMPERED)
        verdicts.append(a["value"])
    return verdicts


def _same_moments(right: Observation) -> tuple[Observation, Observation]:
    """Two observations that do the same work as ``right`` (sequence's): moved in time, and reordered."""
    later = Observation(right.result, tuple(e.rsplit("@", 1)[0] + "@99" for e in right.effects), right.elapsed + 99)
    return later, Observation(right.result, tuple(reversed(right.effects)), right.elapsed)


def _false_alarm(later_same: bool, reordered_same: bool) -> str:
    """Why ``same_work`` called a correct gather different, from its verdicts on variants of
    sequence's observation that do the same work: moved in time, or reordered."""
    if not later_same:
        return (
            "Concurrency changes when effects happen and how long the run takes, not what happens: compare "
            "the result and the effects without their @instant (effect.rsplit('@', 1)[0]), never elapsed time"
        )
    if not reordered_same:
        return (
            "With concurrency above 1, the effects of different plans interleave: the same effects, in another "
            "order. Compare them as a multiset — sorted(...) or collections.Counter — of labels without their "
            "@instant"
        )
    return "Compare only what concurrency cannot change: the result, and which effects happened"


_BROKEN = (
    (_gather_in_completion_order, "a gather that returns values in the order the plans finish", "compare results too"),
    (
        _gather_first_twice,
        "a gather that drives a plan twice",
        "compare the effects too, as a multiset of labels without their @instant",
    ),
)


def judge_same_work(worker: Worker) -> str:
    def prop(case: tuple[list[PlanScript], int]) -> None:
        scripts, k = case
        where = f"on ps = {kit.show(scripts, 200)} with concurrency={k}"
        left, right = _sides(async_gather, scripts, k)
        later, reordered = _same_moments(right)
        pairs = [(left, right), (later, right), (reordered, right)]
        broken = [(_sides(gather, scripts, k), what, hint) for gather, what, hint in _BROKEN]
        different = [(sides, what, hint) for sides, what, hint in broken if not same_work_reference(*sides)]
        verdicts = _verdicts(worker, pairs + [sides for sides, _, _ in different])
        if not verdicts[0]:
            raise kit.CheckFailed(
                f"false alarm: a correct async_gather does the same work as async_sequence(ps), but same_work said "
                f"they differ {where}: {left} against {right}. {_false_alarm(verdicts[1], verdicts[2])}"
            )
        for ((bad, reference), what, hint), same in zip(different, verdicts[3:]):
            if same:
                raise kit.CheckFailed(
                    f"missed: {what} did different work {where} — {bad} against sequence's {reference} — "
                    f"but same_work called them the same: {hint}"
                )

    kit.for_all(_CASES, prop)
    return (
        "same_work ignores when things happen (instants, interleaving, elapsed time) and catches a gather in "
        "completion order and one that drives a plan twice"
    )


PROBES = {"law": _probe_law, "same_work": _probe_same_work}
"""What the worker answers: ``law`` (Tasks 1 and 2) and ``same_work`` (Task 3)."""


EXERCISE = Exercise(
    slug="10_async_pipeline_laws",
    title="10 · Async Pipeline Laws",
    tasks=(
        Task("t1", "Write both sides of a gather law", 4, ("gather_singleton_law",), judge=judge_gather_singleton_law),
        Task("t2", "Put a timeout law's condition in its strategy", 3, ("timeout_law",), judge=judge_timeout_law),
        Task("t3", "Compare what the law promises", 3, ("same_work",), judge=judge_same_work),
    ),
)
