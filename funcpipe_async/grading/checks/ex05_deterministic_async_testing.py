"""Exercise 05 · Deterministic Async Testing: the checks of its three tasks.

* t1 ``assert_times_out_at(plan, limit)`` — a test helper, judged by the plans it accepts
  and rejects: a plan that times out at exactly ``t = limit`` of virtual time and cancels
  its work passes; one that times out late, early, never, with another error, or that
  abandons its work still running, fails.  A helper that waits on the wall clock fails too.
* t2 ``assert_same_trace(make_scenario, seed)`` — a test helper: scenarios that draw only
  from ``sim.rng`` and read only the virtual clock pass; scenarios that use the global
  ``random``, an unseeded generator, the wall clock or a fake shared between runs fail.
  Each run must be on a fresh ``Simulation(seed=seed)``.
* t3 ``retry_finishes_at(policy, failures, latency)`` — the oracle of lesson 05's retry
  timing law, compared with the instant ``async_retry`` really ends on virtual time for
  generated policies (with and without an attempt timeout), failure counts and latencies.

Every task is decided by a judge outside the worker.  Tasks 1 and 2 follow exercise 01's
Task 3: each case (a plan, a scenario) is described as data — its kind and numbers, drawn by
the judge — and built in the worker from that description; the probes ``timeout`` and
``trace`` report whether the helper accepted it (and returned ``False``), the exception it
raised, and, for ``timeout``, the real seconds the call took; for ``trace``, how many times
it called ``make_scenario``, on how many distinct simulations, whether each was fresh and
seeded, and the first two runs' traces as data.  The judge knows from the description which
cases must pass.  For Task 3 the policy is described as data, ``retry`` reports the number
the student's function returned, and the judge drives ``async_retry`` itself on virtual
time for the true end instant; ``retry_end``, which computes it and is importable, is
hidden from the worker while Task 3 is graded (``Task.hides``).

Every instant is a sum of quarter-seconds (and 0.75 s, 2.5 s), so it is exact in floating
point; every plan is driven on virtual time, so no check waits for real.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async import (
    HANG,
    ConstantBackoff,
    ExponentialBackoff,
    RetryPolicy,
    ScriptedService,
    async_gather,
    async_lift,
    async_map,
    async_retry,
    async_timeout,
    delay_schedule,
)
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import AsyncPlan
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "retry_end", "retry_story"]

_perf = time.perf_counter  # our own reference: student code may rebind time.perf_counter

UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)


_SYNC = "with Simulation().run(...) — a Hypothesis property and a pytest test call it synchronously"


def _fmt(t: float) -> str:
    return f"{t:g}"


# --- Task 1: assert_times_out_at -------------------------------------------------------------

_GOOD_KINDS = ("hangs", "answers late", "one of three hangs", "mapped", "retry attempt timeout")
_BAD_KINDS = (
    "times out late",
    "times out early",
    "never times out",
    "answers at the limit",
    "fails at the limit",
    "times out at once",
    "abandons the call",
)


@dataclass(frozen=True)
class _TimeoutCase:
    """A plan the helper is asked about, built fresh (with its own fake) by :meth:`plan`."""

    kind: str
    limit: float
    extra: float

    @property
    def good(self) -> bool:
        return self.kind in _GOOD_KINDS

    def plan(self) -> AsyncPlan[Any]:
        limit, extra = self.limit, self.extra
        if self.kind == "hangs":
            return async_timeout(ScriptedService([HANG]).plan(), limit)
        if self.kind == "answers late":
            return async_timeout(ScriptedService(["late"], latency=limit + extra).plan(), limit)
        if self.kind == "one of three hangs":
            services = [
                ScriptedService(["a"], latency=limit / 2),
                ScriptedService([HANG]),
                ScriptedService(["c"], latency=limit / 4),
            ]
            return async_timeout(async_gather([s.plan() for s in services], concurrency=3), limit)
        if self.kind == "mapped":
            return async_map(async_timeout(ScriptedService([HANG]).plan(), limit), lambda v: [v])
        if self.kind == "retry attempt timeout":
            return async_retry(ScriptedService([HANG]).plan(), RetryPolicy(max_attempts=1, attempt_timeout=limit))
        if self.kind == "times out late":
            return async_timeout(ScriptedService([HANG]).plan(), limit + extra)
        if self.kind == "times out early":
            return async_timeout(ScriptedService([HANG]).plan(), limit / 2)
        if self.kind == "never times out":
            return async_timeout(ScriptedService(["fast"], latency=limit / 2).plan(), limit)
        if self.kind == "answers at the limit":
            return ScriptedService(["just in time"], latency=limit).plan()
        if self.kind == "fails at the limit":
            return ScriptedService([UNAVAILABLE], latency=limit).plan()
        if self.kind == "times out at once":
            return async_lift(_instant_timeout)
        if self.kind == "abandons the call":
            return _abandoning(ScriptedService([HANG]), limit)
        raise AssertionError(f"unknown case {self.kind}")  # pragma: no cover

    def __repr__(self) -> str:
        limit = _fmt(self.limit)
        return {
            "hangs": f"async_timeout(<a call that never answers>, {limit})",
            "answers late": f"async_timeout(<a call that answers after {_fmt(self.limit + self.extra)} s>, {limit})",
            "one of three hangs": f"async_timeout(async_gather(<three calls, one never answers>), {limit})",
            "mapped": f"async_map(async_timeout(<a call that never answers>, {limit}), f)",
            "retry attempt timeout": f"async_retry(<a call that never answers>, RetryPolicy(max_attempts=1, attempt_timeout={limit}))",
            "times out late": f"async_timeout(<a call that never answers>, {_fmt(self.limit + self.extra)})",
            "times out early": f"async_timeout(<a call that never answers>, {_fmt(self.limit / 2)})",
            "never times out": f"async_timeout(<a call that answers after {_fmt(self.limit / 2)} s>, {limit})",
            "answers at the limit": f"<a call that answers Ok after {limit} s, with no timeout>",
            "fails at the limit": f"<a call that answers Err(HTTP_503) after {limit} s, with no timeout>",
            "times out at once": "<a plan that returns Err(TIMEOUT) at once, without waiting — like a mocked sleep>",
            "abandons the call": (
                f"<a hand-made timeout: asyncio.wait_for(asyncio.shield(<a call that never answers>), "
                f"{limit}), returning Err(TIMEOUT) while the shielded call keeps running>"
            ),
        }[self.kind]

    def wrong(self) -> str:
        """What is wrong with a bad case, in the lesson's words."""
        limit = _fmt(self.limit)
        return {
            "times out late": f"it times out at t={_fmt(self.limit + self.extra)}, after the limit t={limit}",
            "times out early": f"it times out at t={_fmt(self.limit / 2)}, before the limit t={limit}",
            "never times out": f"it never times out: it answers Ok at t={_fmt(self.limit / 2)}",
            "answers at the limit": f"it ends at t={limit}, but with Ok — no timeout fired",
            "fails at the limit": f"it ends at t={limit}, but with Err(HTTP_503), not Err(TIMEOUT)",
            "times out at once": "its Err(TIMEOUT) comes at t=0: no time passed, so no timer fired",
            "abandons the call": (
                "it leaves a task running: the call was abandoned, not cancelled "
                "(check that no task but your own is left when the plan returns)"
            ),
        }[self.kind]


def _timeout_err() -> Err[ErrInfo]:
    return Err(ErrInfo("TIMEOUT", "gave no result in time", retryable=True))


async def _instant_timeout() -> Result[Any, ErrInfo]:
    return _timeout_err()


def _abandoning(service: ScriptedService[Any], limit: float) -> AsyncPlan[Any]:
    async def run() -> Result[Any, ErrInfo]:
        try:
            return await asyncio.wait_for(asyncio.shield(service.call()), timeout=limit)
        except TimeoutError:
            return _timeout_err()  # the shielded call is still running: abandoned, not cancelled

    return async_lift(run)


_LIMITS = st.sampled_from([30.0, 0.5, 2.5, 90.0, 600.0, 1.0])
_EXTRAS = st.sampled_from([15.0, 0.25, 1.0])
_TIMEOUT_CASES = st.builds(_TimeoutCase, st.sampled_from(_GOOD_KINDS + _BAD_KINDS), _LIMITS, _EXTRAS)

_PROBE = _TimeoutCase("hangs", 1.0, 0.25)
"""Checked first: a helper that waits for real spends a whole second of wall time on it."""


def _wrong_shape() -> kit.CheckFailed:
    return kit.CheckFailed(kit.TAMPERED)


def _probe_timeout(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Hand the described plan to the student's ``assert_times_out_at``: whether it accepted it
    (and returned ``False``), the AssertionError it raised, or the other exception it raised;
    and how many real seconds the call took."""
    helper = kit.function(ns, "assert_times_out_at")
    kit.refuse_async(helper, "assert_times_out_at", drive=f"drives the plan {_SYNC}")
    case = _TimeoutCase(str(payload["kind"]), float(payload["limit"]), float(payload["extra"]))
    if case.kind not in _GOOD_KINDS + _BAD_KINDS:
        raise kit.CheckFailed(f"no such case {case.kind!r}")
    started = _perf()
    try:
        returned = helper(case.plan(), case.limit)
    except AssertionError as error:
        return {"outcome": "rejected", "error": kit.describe_exception(error), "seconds": _perf() - started}
    except NotImplementedError:
        raise kit.not_done("assert_times_out_at") from None
    except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
        return {"outcome": "raised", "error": kit.describe_exception(error), "seconds": _perf() - started}
    return {"outcome": "accepted", "returned_false": returned is False, "seconds": _perf() - started}


def _accepted_or_rejected(outcome: object, answer: Mapping[str, Any], doing: str) -> None:
    """A test helper's answer says it accepted or rejected the run; what it raised instead is the verdict."""
    if outcome == "raised":
        raise kit.CheckFailed(
            f"{doing} raised {answer.get('error')}; a test helper fails with AssertionError "
            '(write `assert ..., "..."`) and otherwise returns None'
        )
    if outcome not in ("accepted", "rejected"):
        raise _wrong_shape()


def _judge_timeout(worker: Worker, case: _TimeoutCase) -> None:
    doing = f"assert_times_out_at({case!r}, limit={_fmt(case.limit)})"
    answer = worker.ask("timeout", {"kind": case.kind, "limit": case.limit, "extra": case.extra})
    if not isinstance(answer, dict) or not isinstance(answer.get("seconds"), (int, float)):
        raise _wrong_shape()
    outcome, seconds = answer.get("outcome"), answer["seconds"]
    _accepted_or_rejected(outcome, answer, doing)
    if seconds >= 0.9 * case.limit and case.limit >= 1.0:
        raise kit.CheckFailed(
            f"assert_times_out_at took {seconds:.2f} s of real time to check a {_fmt(case.limit)} s timeout: "
            "it waited on the wall clock. Drive the plan on a Simulation, where the timeout fires at "
            "exactly t = limit of virtual time and costs no real waiting"
        )
    if case.good and outcome == "rejected":
        raise kit.CheckFailed(
            f"assert_times_out_at rejected a plan that times out at exactly t={_fmt(case.limit)} and cancels "
            f"its call: {case!r} — yet it raised {answer.get('error')} "
            "(drive it on a fresh Simulation and compare sim.now with the limit: virtual time is exact)"
        )
    if not case.good and outcome == "accepted":
        hint = (
            " It returned False: a test helper must *fail* (raise AssertionError), not return a verdict"
            if answer.get("returned_false") is True
            else ""
        )
        raise kit.CheckFailed(
            f"assert_times_out_at accepted a plan that should fail the test, limit={_fmt(case.limit)}: "
            f"{case!r} — {case.wrong()}.{hint}"
        )


def judge_assert_times_out_at(worker: Worker) -> str:
    _judge_timeout(worker, _PROBE)
    for kind in _GOOD_KINDS + _BAD_KINDS:  # every kind once, then generated limits
        _judge_timeout(worker, _TimeoutCase(kind, 30.0, 15.0))
    kit.for_all(_TIMEOUT_CASES, lambda case: _judge_timeout(worker, case))
    return (
        "accepts plans that time out at exactly t = limit of virtual time and cancel their work; rejects "
        "timeouts that fire late, early or at once, calls that answer or fail with another error, and a "
        "call abandoned still running — all without waiting for real"
    )


# --- Task 2: assert_same_trace ---------------------------------------------------------------

_REPLAYS = ("seeded jitter", "seeded naps")
_DIVERGES = ("global random", "unseeded Random()", "wall-clock stamps", "shared fake")


@dataclass(frozen=True)
class _Scenario:
    kind: str
    clients: int
    failures: int
    seed: int

    @property
    def replays(self) -> bool:
        return self.kind in _REPLAYS

    def __repr__(self) -> str:
        n = self.clients
        return {
            "seeded jitter": f"{n} client(s) retrying a flaky service with full jitter drawn from sim.rng",
            "seeded naps": f"{n} task(s) napping for times drawn from sim.rng",
            "global random": f"{n} client(s) whose backoff waits come from the global random.uniform",
            "unseeded Random()": f"{n} client(s) retrying with full jitter drawn from a fresh random.Random()",
            "wall-clock stamps": f"{n} task(s) that stamp their trace events with time.monotonic()",
            "shared fake": f"{n} client(s) retrying one ScriptedService created once, outside make_scenario",
        }[self.kind]

    def why(self) -> str:
        return {
            "global random": "the global generator's state differs between runs (and between tests)",
            "unseeded Random()": "random.Random() seeds itself from the operating system",
            "wall-clock stamps": "the wall clock reads differently on every run",
            "shared fake": "the second run finds the fake where the first one left it",
        }.get(self.kind, "")

    def factory(self, seen: list[tuple[Any, bool]]) -> Callable[[Any], Any]:
        """``make_scenario(sim)``: records each simulation it is given and whether it was fresh and seeded."""
        expected = random.Random(self.seed).getstate()
        shared = ScriptedService([UNAVAILABLE] * self.failures + ["ok"], latency=0.25)
        policy = RetryPolicy(
            max_attempts=self.failures + 2, backoff=ExponentialBackoff(initial=1, factor=2, cap=30), jitter="full"
        )

        def make_scenario(sim: Any) -> Any:
            if not all(hasattr(sim, name) for name in ("rng", "trace", "now")):
                raise TypeError(f"make_scenario needs a Simulation, got {type(sim).__name__}")
            fresh = sim.rng.getstate() == expected and sim.now == 0.0 and len(sim.trace) == 0
            seen.append((sim, fresh))
            names = [f"client {c}" for c in "ABC"[: self.clients]]
            if self.kind in ("seeded jitter", "unseeded Random()", "shared fake"):
                rng = random.Random() if self.kind == "unseeded Random()" else sim.rng
                plans = []
                for name in names:
                    service = (
                        shared
                        if self.kind == "shared fake"
                        else ScriptedService([UNAVAILABLE] * self.failures + ["ok"], latency=0.25)
                    )
                    plans.append(async_retry(service.plan(), policy, rng=rng, trace=sim.trace, name=name))
                return async_map(async_gather(plans, concurrency=self.clients), lambda _: "done")
            return _napping(sim, names, self.kind, self.failures)

        return make_scenario


def _napping(sim: Any, names: list[str], kind: str, naps: int) -> AsyncPlan[str]:
    async def napper(name: str) -> Result[None, ErrInfo]:
        for n in range(naps + 1):
            if kind == "global random":
                await asyncio.sleep(random.uniform(0, 2.0**n))
            else:
                await asyncio.sleep(sim.rng.choice([0.25, 0.5, 1.0, 2.5]))
            if kind == "wall-clock stamps":
                sim.trace.record("woke", name, at=time.monotonic())
            else:
                sim.trace.record("woke", name, nap=n)
        return Ok(None)

    def nap_plan(name: str) -> AsyncPlan[None]:
        return async_lift(lambda: napper(name))

    return async_map(async_gather([nap_plan(name) for name in names], concurrency=len(names)), lambda _: "done")


_SCENARIOS = st.builds(
    _Scenario, st.sampled_from(_REPLAYS + _DIVERGES), st.integers(1, 3), st.integers(1, 3), st.integers(1, 10_000)
)


def _events(sim: Any) -> list[list[Any]]:
    """A run's trace as data: ``[seq, time, kind, name, data]`` per event."""
    return [[e.seq, e.time, e.kind, e.name, dict(e.data)] for e in sim.trace.events]


def _probe_trace(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Hand the described scenario to the student's ``assert_same_trace``: whether it accepted it
    (and returned ``False``) or what it raised; how many times it called ``make_scenario``, on
    how many distinct simulations, whether each was fresh and seeded; the first two runs' traces."""
    helper = kit.function(ns, "assert_same_trace")
    kit.refuse_async(helper, "assert_same_trace", drive=f"drives each run {_SYNC}")
    scenario = _Scenario(str(payload["kind"]), int(payload["clients"]), int(payload["failures"]), int(payload["seed"]))
    if scenario.kind not in _REPLAYS + _DIVERGES:
        raise kit.CheckFailed(f"no such scenario {scenario.kind!r}")
    seen: list[tuple[Any, bool]] = []
    answer: dict[str, Any]
    try:
        returned = helper(scenario.factory(seen), scenario.seed)
        answer = {"outcome": "accepted", "returned_false": returned is False}
    except AssertionError as error:
        answer = {"outcome": "rejected", "error": kit.describe_exception(error)}
    except NotImplementedError:
        raise kit.not_done("assert_same_trace") from None
    except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
        answer = {"outcome": "raised", "error": kit.describe_exception(error)}
    answer.update(
        calls=len(seen),
        distinct=len({id(sim) for sim, _ in seen}),
        fresh=all(fresh for _, fresh in seen),
        runs=[_events(sim) for sim, _ in seen[:2]],
    )
    return answer


def _first_difference(first: list[Any], second: list[Any]) -> str:
    for a, b in zip(first, second):
        if a != b:
            return (
                f"event #{a[0]} is ({_fmt(a[1])}, {a[2]}, {a[3]}, {a[4]}) in the first run and "
                f"({_fmt(b[1])}, {b[2]}, {b[3]}, {b[4]}) in the second"
            )
    return f"the first run recorded {len(first)} events, the second {len(second)}"


def _is_event(e: Any) -> bool:
    return isinstance(e, list) and len(e) == 5 and isinstance(e[1], (int, float)) and isinstance(e[4], dict)


def _judge_trace(worker: Worker, scenario: _Scenario) -> None:
    doing = f"assert_same_trace(<{scenario!r}>, seed={scenario.seed})"
    answer = worker.ask(
        "trace",
        {"kind": scenario.kind, "clients": scenario.clients, "failures": scenario.failures, "seed": scenario.seed},
    )
    if not isinstance(answer, dict):
        raise _wrong_shape()
    outcome, calls, distinct, fresh, runs = (answer.get(k) for k in ("outcome", "calls", "distinct", "fresh", "runs"))
    if not (
        isinstance(calls, int)
        and isinstance(distinct, int)
        and isinstance(fresh, bool)
        and isinstance(runs, list)
        and all(isinstance(r, list) and all(_is_event(e) for e in r) for r in runs)
    ):
        raise _wrong_shape()
    _accepted_or_rejected(outcome, answer, doing)
    if calls < 2:
        raise kit.CheckFailed(
            f"{doing} called make_scenario {calls} time(s): run the scenario twice, each time on a "
            "fresh Simulation(seed=seed), and compare the two traces"
        )
    if distinct < calls or not fresh:
        raise kit.CheckFailed(
            f"{doing} did not give each run a fresh Simulation(seed={scenario.seed}): a run must start at t=0 "
            "with an empty trace and the generator seeded with the given seed — the seed identifies the whole run"
        )
    if scenario.replays and outcome == "rejected":
        raise kit.CheckFailed(
            f"assert_same_trace rejected a scenario that replays exactly: {scenario!r}, seed={scenario.seed} — "
            f"two runs record equal trace.events, yet it raised {answer.get('error')}"
        )
    if not scenario.replays and outcome == "accepted":
        if len(runs) != 2:
            raise _wrong_shape()
        hint = (
            " It returned False: a test helper must *fail* (raise AssertionError), not return a verdict"
            if answer.get("returned_false") is True
            else " Compare the two runs' sim.trace.events — every event, time and detail"
        )
        raise kit.CheckFailed(
            f"assert_same_trace accepted a scenario that does not replay: {scenario!r}, seed={scenario.seed} — "
            f"{scenario.why()}, so {_first_difference(runs[0], runs[1])}.{hint}"
        )


def judge_assert_same_trace(worker: Worker) -> str:
    for kind in _REPLAYS + _DIVERGES:  # every kind once, then generated scenarios
        _judge_trace(worker, _Scenario(kind, 3, 2, 7))
    kit.for_all(_SCENARIOS, lambda scenario: _judge_trace(worker, scenario))
    return (
        "runs each scenario twice on a fresh Simulation(seed=seed); accepts scenarios that draw from sim.rng "
        "and rejects those that use the global random, an unseeded Random(), the wall clock or a shared fake"
    )


# --- Task 3: retry_finishes_at ---------------------------------------------------------------


def retry_end(policy: RetryPolicy, failures: int, latency: float) -> tuple[Result[Any, ErrInfo], int, float]:
    """The simulated truth: the result, the number of calls, and the instant the retry ends."""
    service = ScriptedService([UNAVAILABLE] * failures + ["ok"], latency=latency)
    plan = async_retry(service.plan(), policy)

    result, end = kit.simulate(kit.timed(plan), doing="the reference retry")  # a fresh virtual clock, from t=0
    return result, len(service.calls), end


def retry_story(policy: RetryPolicy, failures: int, latency: float) -> str:
    """In words, where the end instant comes from (the retry timing law)."""
    waits = delay_schedule(policy)
    timeout = policy.attempt_timeout
    if timeout is not None and latency >= timeout:
        attempts, cost = policy.max_attempts, f"{policy.max_attempts} × {_fmt(timeout)} s"
        what = (
            f"every call takes {_fmt(latency)} s, longer than the {_fmt(timeout)} s attempt timeout, so "
            f"{'all ' + str(attempts) + ' attempts time' if attempts > 1 else 'the only attempt times'} out: {cost}"
        )
    else:
        attempts = min(failures + 1, policy.max_attempts)
        outcome = "the last one succeeds" if failures < policy.max_attempts else "all fail and it gives up"
        what = f"{attempts} attempt(s), {outcome}: {attempts} × {_fmt(latency)} s of latency"
    used = waits[: attempts - 1]
    if not used:
        return what + ", and no wait"
    return f"{what}, plus the waits before attempts 2…{attempts}: {' + '.join(_fmt(w) for w in used)} s"


def _policy(spec: Mapping[str, Any]) -> RetryPolicy:
    """The retry policy a case describes (built the same way in the worker and in the judge)."""
    backoff: ConstantBackoff | ExponentialBackoff
    if spec["backoff"] == "constant":
        backoff = ConstantBackoff(float(spec["initial"]))
    else:
        initial = float(spec["initial"])
        backoff = ExponentialBackoff(initial, float(spec["factor"]), cap=initial * float(spec["room"]))
    timeout = spec["timeout"]
    return RetryPolicy(
        max_attempts=int(spec["attempts"]), backoff=backoff, attempt_timeout=None if timeout is None else float(timeout)
    )


def _probe_retry(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``retry_finishes_at(policy, failures, latency)`` on the described case: the number it
    returned, or what it returned instead."""
    predict = kit.function(ns, "retry_finishes_at")
    if inspect.iscoroutinefunction(predict):
        raise kit.CheckFailed(
            "retry_finishes_at is an `async def`: it must return a number, computed from the policy value"
        )
    policy, failures, latency = _policy(payload["policy"]), int(payload["failures"]), float(payload["latency"])
    doing = f"retry_finishes_at({policy!r}, failures={failures}, latency={_fmt(latency)})"
    answer = kit.call(predict, policy, failures, latency, doing=doing)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return {"shown": kit.show(answer)}
    return {"number": float(answer)}


_QUARTERS = st.sampled_from([0.25, 0.5, 1.0, 4.0])
_BACKOFFS = st.one_of(
    st.fixed_dictionaries({"backoff": st.just("constant"), "initial": _QUARTERS}),
    st.fixed_dictionaries(
        {
            "backoff": st.just("exponential"),
            "initial": _QUARTERS,
            "factor": st.sampled_from([2, 1, 3]),
            "room": st.sampled_from([16, 1, 4]),
        }
    ),
)
_POLICIES = st.builds(
    lambda attempts, backoff, timeout: {"attempts": attempts, **backoff, "timeout": timeout},
    st.integers(1, 8),
    _BACKOFFS,
    st.sampled_from([None, 2.5, 0.75, 10.0]),
)
_RETRY_CASES = st.tuples(_POLICIES, st.integers(0, 10), st.sampled_from([0.25, 0.0, 1.0, 5.0]))


def judge_retry_finishes_at(worker: Worker) -> str:
    def prop(case: tuple[dict[str, Any], int, float]) -> None:
        spec, failures, latency = case
        policy = _policy(spec)
        doing = f"retry_finishes_at({policy!r}, failures={failures}, latency={_fmt(latency)})"
        answer = worker.ask("retry", {"policy": spec, "failures": failures, "latency": latency})
        if not isinstance(answer, dict):
            raise _wrong_shape()
        number = answer.get("number")
        _, calls, end = retry_end(policy, failures, latency)
        if number is None:
            raise kit.CheckFailed(
                f"{doing} returned {answer.get('shown')}; it must return the end instant, a number of seconds"
            )
        if not isinstance(number, float):
            raise _wrong_shape()
        if not math.isclose(number, end, rel_tol=0.0, abs_tol=1e-9):
            raise kit.CheckFailed(
                f"{doing} returned {_fmt(number)}, but on virtual time the call ends at t={_fmt(end)} "
                f"after {calls} call(s): {retry_story(policy, failures, latency)}"
            )

    kit.for_all(_RETRY_CASES, prop)
    return (
        "predicts the exact instant async_retry ends on virtual time — the waits used, plus each attempt's "
        "latency or attempt timeout — for every generated policy, failure count and latency"
    )


PROBES = {"timeout": _probe_timeout, "trace": _probe_trace, "retry": _probe_retry}
"""What the worker answers: ``timeout`` (Task 1), ``trace`` (Task 2), ``retry`` (Task 3)."""


EXERCISE = Exercise(
    slug="05_deterministic_async_testing",
    title="05 · Deterministic Async Testing",
    tasks=(
        Task("t1", "Test a timeout on virtual time", 4, ("assert_times_out_at",), judge=judge_assert_times_out_at),
        Task("t2", "Test that a seed replays a run", 3, ("assert_same_trace",), judge=judge_assert_same_trace),
        Task(
            "t3",
            "Predict when a retry ends",
            3,
            ("retry_finishes_at",),
            judge=judge_retry_finishes_at,
            hides=(f"{__name__}.retry_end",),
        ),
    ),
)
