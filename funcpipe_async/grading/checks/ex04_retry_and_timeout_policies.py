"""Exercise 04 · Retry and Timeout Policies: the checks of its three tasks.

* t1 ``fit_to_deadline(policy, deadline)`` — a pure function over policies: the policy with
  as many attempts as fit in ``deadline`` (worst case ``n × attempt_timeout`` plus the
  un-jittered waits, strictly below the deadline), never more than it allowed, and the
  deadline set; ``ValueError`` when not even one attempt fits.  Compared with a reference
  on generated policies (deadlines on, just below and just above a worst case), and the
  promised attempts are then driven on virtual time against a dependency that always hangs.
* t2 ``fetch_with_retry(service)`` — a retried call with stated rules (which codes are
  retried, 4 attempts, capped exponential backoff, 1 s per attempt, 5 s in all), driven on
  virtual time against generated ``ScriptedService`` scripts: the instants of the calls,
  the result and the moment the call ends must be the reference's.
* t3 ``charge_order(payments, order_id, amount)`` — a retried charge with an idempotency
  key: on generated orders (some submitted twice) and reply delays (some slower than the
  attempt timeout), every order is charged exactly once and answers when the reference does.

Every task is decided by a judge outside the worker.  It draws the examples from the grading
run's seed and asks the worker's probes (``PROBES``): ``fit`` calls ``fit_to_deadline`` and
reports the policy it returned as data (or what it returned, or the exception it raised);
``fetch`` and ``charge`` build the student's plans on the judge's fakes and drive them, each
drive on a fresh virtual clock, and report the results, the virtual instants of the calls
(``fetch``) or the charges made and how long each call took (``charge``).  The judge compares
that data with its own reference runs (and drives a too-generous policy itself, against a
dependency that always hangs, to show what it does).  The references are private to this
module, and ``reaches`` reports whether a task function uses one: such a task is refused.
Backoff and timeouts cost no wall time, and the same submission always gets the same
feedback on the fixed examples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fakes import HANG, ScriptedService
from funcpipe_async.fakes import FakePayments as Payments
from funcpipe_async.grading import kit
from funcpipe_async.grading.checks._reach import prober, refuse_borrowed
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.policies import (
    Backoff,
    ConstantBackoff,
    ExponentialBackoff,
    Jitter,
    RetryPolicy,
    async_retry,
    delay_schedule,
)
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "Payments"]


def _s(t: float) -> str:
    """Seconds for feedback: ``2``, ``2.5``, ``0.25``."""
    return f"{t:g}"


def _times(ts: Sequence[float]) -> str:
    return "[" + ", ".join(_s(t) for t in ts) + "]"


# ---------------------------------------------------------------------------------------------
# Task 1: fit a policy to a deadline


def _worst_case(policy: RetryPolicy, attempts: int) -> float:
    """Every one of ``attempts`` attempts hangs until its timeout, with the un-jittered waits between."""
    assert policy.attempt_timeout is not None
    waits = delay_schedule(replace(policy, jitter="none", max_attempts=attempts))
    return attempts * policy.attempt_timeout + sum(waits)


def _fit_reference(policy: RetryPolicy, deadline: float) -> RetryPolicy:
    """The reference answer of Task 1."""
    assert policy.attempt_timeout is not None
    if policy.attempt_timeout >= deadline:
        raise ValueError(f"one attempt may take {policy.attempt_timeout}s: it cannot fit in a {deadline}s deadline")
    fits = 1
    while fits < policy.max_attempts and _worst_case(policy, fits + 1) < deadline:
        fits += 1
    return replace(policy, max_attempts=fits, deadline=deadline)


_QUARTERS = st.integers(1, 16).map(lambda q: q / 4)  # 0.25 … 4 s: sums of these are exact floats


@st.composite
def _backoffs(draw: st.DrawFn) -> Backoff:
    if draw(st.booleans()):
        return ConstantBackoff(draw(st.integers(0, 16)) / 4)
    initial = draw(_QUARTERS)
    factor = draw(st.sampled_from([2.0, 1.0, 1.5, 3.0]))
    cap = initial * draw(st.sampled_from([8, 1, 2, 4, 16]))
    return ExponentialBackoff(initial=initial, factor=factor, cap=cap)


_JITTERS: list[Jitter] = ["none", "full", "equal"]


@st.composite
def _fit_cases(draw: st.DrawFn) -> tuple[RetryPolicy, float]:
    policy = RetryPolicy(
        max_attempts=draw(st.integers(1, 10)),
        backoff=draw(_backoffs()),
        jitter=draw(st.sampled_from(_JITTERS)),
        retry_on=draw(st.sampled_from([None, frozenset({"HTTP_503", "TIMEOUT"})])),
        attempt_timeout=draw(_QUARTERS),
    )
    # Deadlines right on a worst case, a quarter second either side of one, or anywhere.
    k = draw(st.integers(1, policy.max_attempts + 1))
    how = draw(st.sampled_from(["on", "below", "above", "anywhere"]))
    if how == "anywhere":
        deadline = draw(st.integers(1, 240)) / 4
    else:
        deadline = _worst_case(policy, k) + {"on": 0.0, "below": -0.25, "above": 0.25}[how]
    return policy, max(deadline, 0.25)


def _backoff_data(backoff: object) -> dict[str, Any]:
    if type(backoff) is ConstantBackoff:
        return {"kind": "constant", "delay": backoff.delay}
    if type(backoff) is ExponentialBackoff:
        return {"kind": "exponential", "initial": backoff.initial, "factor": backoff.factor, "cap": backoff.cap}
    return {"kind": kit.show(backoff, 80)}


def _policy_data(policy: RetryPolicy) -> dict[str, Any]:
    """A policy as plain data (each field as it is; a backoff by its kind and numbers)."""
    retry_on: Any = policy.retry_on
    if isinstance(retry_on, frozenset) and all(isinstance(code, str) for code in retry_on):
        retry_on = sorted(retry_on)
    return {
        "max_attempts": policy.max_attempts,
        "backoff": _backoff_data(policy.backoff),
        "jitter": policy.jitter,
        "retry_on": retry_on,
        "attempt_timeout": policy.attempt_timeout,
        "deadline": policy.deadline,
    }


def _policy_from_data(data: Mapping[str, Any]) -> RetryPolicy:
    """The policy :func:`_policy_data` described; ``ValueError`` / ``TypeError`` / ``KeyError`` if it is not one."""
    b = data["backoff"]
    backoff: Backoff
    if b["kind"] == "constant":
        backoff = ConstantBackoff(float(b["delay"]))
    elif b["kind"] == "exponential":
        backoff = ExponentialBackoff(initial=float(b["initial"]), factor=float(b["factor"]), cap=float(b["cap"]))
    else:
        raise ValueError("a backoff the course does not define")
    retry_on = data["retry_on"]
    if retry_on is not None and not (isinstance(retry_on, list) and all(isinstance(c, str) for c in retry_on)):
        raise ValueError("retry_on is not a set of codes")
    numbers = [data["max_attempts"], data["attempt_timeout"], data["deadline"]]
    if any(n is not None and (isinstance(n, bool) or not isinstance(n, (int, float))) for n in numbers):
        raise TypeError("a policy's counts and times are numbers")
    return RetryPolicy(
        max_attempts=data["max_attempts"],
        backoff=backoff,
        jitter=data["jitter"],
        retry_on=None if retry_on is None else frozenset(retry_on),
        attempt_timeout=data["attempt_timeout"],
        deadline=data["deadline"],
    )


_NO_CAP = (
    RetryPolicy(max_attempts=6, backoff=ExponentialBackoff(initial=0.25, factor=3, cap=0.25), attempt_timeout=0.25),
    3.0,
)
"""Six attempts fit only on the capped schedule (the uncapped one, 0.25, 0.75, 2.25 … s, fits three)."""

_ON_A_WORST_CASE = (
    RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(initial=0.5, factor=2, cap=1.5), attempt_timeout=1),
    4.5,
)
"""Three attempts' worst case is 3 × 1 + 0.5 + 1 = 4.5 s, the deadline itself: only two fit."""


def _hanging_attempts(policy: RetryPolicy) -> tuple[int, Result[Any, ErrInfo], float]:
    """Drive ``policy`` on virtual time against a dependency that always hangs (in the judge: no student code)."""
    service: ScriptedService[str] = ScriptedService([HANG])
    plan = async_retry(async_lift(service.call), policy, rng=random.Random(4))
    result, ended = kit.simulate(kit.timed(plan), doing="the fitted policy")
    return len(service.calls), result, ended


def _probe_fit(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 1: call ``fit_to_deadline`` on the judge's policy and deadline;
    the policy it returned (as data), whatever else it returned, or the exception it raised."""
    fit_to_deadline = kit.function(ns, "fit_to_deadline")
    policy, deadline = _policy_from_data(payload["policy"]), float(payload["deadline"])
    try:
        got = fit_to_deadline(policy, deadline)
    except NotImplementedError:
        raise kit.not_done("fit_to_deadline") from None
    except Exception as error:  # noqa: BLE001 - the contract says which exceptions: reported as data
        return {
            "outcome": "raised",
            "value_error": isinstance(error, ValueError),
            "type_error": isinstance(error, TypeError),
            "message": str(error)[:200],
            "error": kit.describe_exception(error),
        }
    if isinstance(got, RetryPolicy):
        return {"outcome": "policy", "policy": _policy_data(got)}
    return {"outcome": "returned", "value": got}


def _fit_answer(answer: object) -> dict[str, Any]:
    """The worker's answer for one example of Task 1, checked for shape."""
    if not isinstance(answer, dict):
        raise kit.CheckFailed(kit.TAMPERED)
    outcome = answer.get("outcome")
    if (
        outcome == "raised"
        and all(isinstance(answer.get(k), bool) for k in ("value_error", "type_error"))
        and all(isinstance(answer.get(k), str) for k in ("message", "error"))
    ):
        return answer
    if (
        outcome == "policy"
        and isinstance(answer.get("policy"), dict)
        and set(answer["policy"]) == {"max_attempts", "backoff", "jitter", "retry_on", "attempt_timeout", "deadline"}
        and isinstance(answer["policy"]["backoff"], dict)
        and isinstance(answer["policy"]["backoff"].get("kind"), str)
    ):
        return answer
    if outcome == "returned" and "value" in answer:
        return answer
    raise kit.CheckFailed(kit.TAMPERED)


def _shown_policy(data: Mapping[str, Any]) -> str:
    try:
        return kit.show(_policy_from_data(data), 240)
    except (KeyError, TypeError, ValueError):
        return kit.show(data, 240)


def judge_fit_to_deadline(worker: Worker) -> str:
    refuse_borrowed(worker, "fit_to_deadline")

    def prop(case: tuple[RetryPolicy, float]) -> None:
        policy, deadline = case
        doing = f"fit_to_deadline({policy!r}, {_s(deadline)})"
        answer = _fit_answer(worker.ask("fit", {"policy": _policy_data(policy), "deadline": deadline}))
        try:
            expected: RetryPolicy | None = _fit_reference(policy, deadline)
        except ValueError:
            expected = None
        if answer["outcome"] == "raised":
            if answer["value_error"]:
                if expected is None:
                    return
                # A count that starts at 0 (retries, not attempts) builds RetryPolicy(max_attempts=0)
                # exactly when one attempt fits: say so, whichever example Hypothesis tries first.
                hint = (
                    ". Hint: one attempt short — count attempts (the first one included), not retries"
                    if "max_attempts must be" in answer["message"]
                    else ""
                )
                raise kit.CheckFailed(
                    f"{doing} raised ValueError ({answer['message']}), but {expected.max_attempts} attempt(s) fit: "
                    f"their worst case is {_s(_worst_case(policy, expected.max_attempts))}s, below the deadline{hint}"
                )
            if answer["type_error"] and "jitter" in answer["message"]:
                raise kit.CheckFailed(
                    f"{doing} raised {answer['error']}. The worst case needs no random numbers: "
                    "jitter only shortens waits, so compute it on the un-jittered schedule, "
                    'delay_schedule(replace(policy, jitter="none"))'
                )
            raise kit.CheckFailed(f"{doing} raised {answer['error']}")
        got = answer.get("policy")
        shown = _shown_policy(got) if got is not None else kit.show(answer.get("value"))
        if expected is None:
            raise kit.CheckFailed(
                f"not even one attempt fits: each may take attempt_timeout={_s(policy.attempt_timeout or 0)}s, "
                f"which does not end before the {_s(deadline)}s deadline — the SLA cannot be met, so "
                f"raise ValueError; {doing} returned {shown}"
            )
        if got is None:
            raise kit.CheckFailed(f"{doing} returned {shown}; a policy is a value: return a RetryPolicy")
        if got["deadline"] != deadline:
            raise kit.CheckFailed(
                f"the fitted policy carries the SLA as its deadline: expected deadline={_s(deadline)}, "
                f"{doing} gave deadline={got['deadline']!r}"
            )
        n, m = expected.max_attempts, got["max_attempts"]
        if isinstance(m, bool) or not isinstance(m, int):
            raise kit.CheckFailed(f"{doing} gave max_attempts={m!r}: a number of attempts is an int")
        if m > policy.max_attempts:
            raise kit.CheckFailed(
                f"fitting only ever removes attempts: the policy allowed {policy.max_attempts}, "
                f"{doing} gave max_attempts={m}"
            )
        if m > n:
            made, result, ended = _hanging_attempts(replace(policy, max_attempts=m, deadline=deadline))
            worst = _worst_case(policy, m)
            reason = (
                "it equals the deadline, and the deadline must *exceed* the worst case — at that instant the "
                "deadline cancels the last attempt"
                if worst == deadline
                else f"that is past the {_s(deadline)}s deadline"
            )
            raise kit.CheckFailed(
                f"{m} attempts do not fit: if every attempt hangs until its {_s(policy.attempt_timeout or 0)}s "
                f"timeout, the worst case is {m} × {_s(policy.attempt_timeout or 0)} s + the waits "
                f"{_times(delay_schedule(replace(policy, jitter='none', max_attempts=m)))} = {_s(worst)} s; {reason}. "
                f"On virtual time, a dependency that always hangs got {made} attempt(s) from your policy and "
                f"{kit.show(result, 70)} at t={_s(ended)}. Expected max_attempts={n}"
            )
        if m < n:
            hint = (
                "one attempt short: count attempts (the first one included), not retries"
                if m == n - 1
                else "walk the policy's own capped schedule — delay_schedule applies the cap for you — and count "
                "attempts, the first one included"
            )
            raise kit.CheckFailed(
                f"{n} attempts fit, {doing} kept only {m}: the worst case of {n} attempts is "
                f"{n} × {_s(policy.attempt_timeout or 0)} s + the waits "
                f"{_times(delay_schedule(replace(policy, jitter='none', max_attempts=n)))} "
                f"= {_s(_worst_case(policy, n))} s, below the {_s(deadline)} s deadline. Hint: {hint}"
            )
        if got != _policy_data(expected):
            raise kit.CheckFailed(
                f"a variant of a policy keeps every other field as it is (use dataclasses.replace): "
                f"expected {kit.show(expected, 240)}, {doing} gave {shown}"
            )

    kit.for_all(_fit_cases(), prop, known=[_NO_CAP, _ON_A_WORST_CASE])
    return (
        "keeps as many attempts as fit strictly before the deadline (attempts × attempt_timeout + the "
        "un-jittered, capped waits), never more than the policy allowed; refuses a deadline no attempt fits"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: retry a flaky dependency by the rules


RETRY_ON = frozenset({"HTTP_503", "CONN_RESET", "TIMEOUT"})
_FETCH_POLICY = RetryPolicy(
    max_attempts=4,
    backoff=ExponentialBackoff(initial=0.5, factor=2, cap=1.5),
    retry_on=RETRY_ON,
    attempt_timeout=1,
    deadline=5,
)
"""The reference policy of Task 2."""

_ENTRIES: list[Any] = [
    ErrInfo("HTTP_503", "service unavailable", retryable=True),
    HANG,
    ErrInfo("CONN_RESET", "connection reset", retryable=True),
    ErrInfo("HTTP_400", "invalid request"),
    ErrInfo("HTTP_409", "conflict", retryable=True),
    ErrInfo("HTTP_503", "unavailable, flagged final", retryable=False),
    Ok("payload"),
]


@dataclass(frozen=True)
class _Script:
    entries: tuple[Any, ...]
    latency: float

    def service(self) -> ScriptedService[str]:
        return ScriptedService(list(self.entries), latency=self.latency)

    def data(self) -> dict[str, Any]:
        """This script as JSON data, for a probe's payload: its entries by their place in ``_ENTRIES``."""
        return {"entries": [_ENTRIES.index(e) for e in self.entries], "latency": self.latency}

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> _Script:
        """The script :meth:`data` described (the worker's side)."""
        return _Script(tuple(_ENTRIES[int(k)] for k in data["entries"]), float(data["latency"]))

    def entry(self, call: int) -> Any:
        return self.entries[min(call, len(self.entries)) - 1]

    def answer(self, call: int) -> str:
        """What call number ``call`` (1-based) answers, in words, as the caller sees it."""
        entry = self.entry(call)
        if entry is HANG:
            return "hangs"
        if self.latency > (_FETCH_POLICY.attempt_timeout or 0):
            return f"would answer after {_s(self.latency)} s"
        if isinstance(entry, Ok):
            return f"Ok({entry.value!r})"
        assert isinstance(entry, ErrInfo)
        return f"{entry.code}{'' if entry.retryable else ' (retryable=False)'}"

    def __repr__(self) -> str:
        shown = ", ".join(
            "HANG"
            if e is HANG
            else f"Ok({e.value!r})"
            if isinstance(e, Ok)
            else f"{e.code}{'' if e.retryable else ' (retryable=False)'}"
            for e in self.entries
        )
        return f"a dependency answering [{shown}] (the last repeats), each after {_s(self.latency)} s"


_ANY_SCRIPT = st.builds(
    lambda entries, latency: _Script(tuple(entries), latency),
    st.lists(st.sampled_from(_ENTRIES), min_size=1, max_size=6),
    st.sampled_from([0.0, 0.25, 0.75, 1.5]),
)
# Three retryable answers, then a hang: attempt 4 often starts after t=4, and the 5 s
# deadline cancels it while it runs (Err(DEADLINE_EXCEEDED)).
_LATE_HANG = st.builds(
    lambda first: _Script((*first, HANG), 0.25),
    st.lists(st.sampled_from([HANG, _ENTRIES[0], _ENTRIES[2]]), min_size=3, max_size=3),
)
# Retryable failures and hangs, then a success: does the call recover in time?
_RECOVERS = st.builds(
    lambda failures, latency: _Script((*failures, Ok("payload")), latency),
    st.lists(st.sampled_from([_ENTRIES[0], HANG, _ENTRIES[2]]), max_size=4),
    st.sampled_from([0.25, 0.0, 0.75]),
)
_SCRIPTS = st.one_of(_ANY_SCRIPT, _RECOVERS, _LATE_HANG)


def _fetch_reference(service: ScriptedService[str]) -> AsyncPlan[str]:
    return async_retry(async_lift(service.call), _FETCH_POLICY)


def _same_time(a: float, b: float) -> bool:
    """Virtual instants agree (a hand-rolled loop may add the same seconds in another order)."""
    return math.isclose(a, b, rel_tol=0.0, abs_tol=1e-9)


@dataclass(frozen=True)
class _Run:
    calls: tuple[float, ...]
    result: Result[Any, ErrInfo]
    ended: float

    def matches(self, other: _Run) -> bool:
        return (
            len(self.calls) == len(other.calls)
            and all(_same_time(a, b) for a, b in zip(self.calls, other.calls))
            and _same_time(self.ended, other.ended)
            and _same_result(self.result, other.result)
        )


def _same_result(a: Result[Any, ErrInfo], b: Result[Any, ErrInfo]) -> bool:
    """The same value, or an error with the same code (a timeout's message is the loop's own)."""
    if isinstance(a, Ok) and isinstance(b, Ok):
        return bool(a.value == b.value)
    if isinstance(a, Err) and isinstance(b, Err) and isinstance(a.error, ErrInfo) and isinstance(b.error, ErrInfo):
        return bool(a.error.code == b.error.code)
    return False


def _run_fetch(build: Callable[[ScriptedService[str]], Any], script: _Script, name: str) -> _Run:
    service = script.service()
    doing = f"{name}(service)"
    plan = kit.as_plan(kit.call(build, service, doing=doing), doing=doing)
    if service.calls:
        raise kit.CheckFailed(
            f"describing runs nothing, but building {doing} already called the service {len(service.calls)} time(s): "
            "return a plan (async_retry(async_lift(service.call), policy)) and let the shell drive it"
        )
    result, ended = kit.simulate(kit.timed(plan), doing=f"driving {doing} against {script!r}")
    if not isinstance(result, (Ok, Err)):
        raise kit.CheckFailed(f"driving {doing} produced {kit.show(result)}; a plan must produce Ok(...) or Err(...)")
    return _Run(tuple(service.calls), result, ended)


def _why_fetch(script: _Script, want: _Run, got: _Run) -> str:
    """The rule the submission broke, in the lesson's words, judged from the two runs."""
    n_want, n_got = len(want.calls), len(got.calls)
    limit = _FETCH_POLICY.attempt_timeout or 0
    # Where the two runs first part: a call at another instant, or one run stopping early.
    k = next((i for i in range(min(n_want, n_got)) if not _same_time(want.calls[i], got.calls[i])), min(n_want, n_got))
    if n_got > _FETCH_POLICY.max_attempts:
        return f"at most {_FETCH_POLICY.max_attempts} attempts in all, the first one included: your plan made {n_got}"
    if k < min(n_want, n_got) and k >= 1:
        previous = script.answer(k)
        gap_want, gap_got = want.calls[k] - want.calls[k - 1], got.calls[k] - got.calls[k - 1]
        if previous == "hangs" or previous.startswith("would answer"):
            if gap_got > gap_want:
                return (
                    f"every attempt is cut at {_s(limit)} s (attempt_timeout): call {k} {previous}, and your plan "
                    f"waited {_s(gap_got)} s before calling again instead of {_s(gap_want)} s"
                )
        waits = delay_schedule(_FETCH_POLICY)
        return (
            f"the waits between attempts are exponential and capped: {', '.join(_s(w) for w in waits)} s. "
            f"Call {k + 1} should start at t={_s(want.calls[k])}, your plan made it at t={_s(got.calls[k])}"
        )
    if n_got > n_want:
        last = script.answer(n_want)
        if isinstance(want.result, Err) and want.result.error.code not in RETRY_ON:
            return (
                f"a non-retryable error stops at once: call {n_want} answered {last}, which is not one of "
                f"{', '.join(sorted(RETRY_ON))} — this caller decides by code, whatever the step's retryable flag "
                f"says — yet your plan called again at t={_s(got.calls[n_want])}"
            )
        return (
            f"the whole call ends by the {_s(_FETCH_POLICY.deadline or 0)} s deadline, waits included: after call "
            f"{n_want} ({last}) the next attempt could not finish in time, yet your plan called again at "
            f"t={_s(got.calls[n_want])}"
        )
    if n_got < n_want:
        last = script.answer(n_got)
        if n_got == _FETCH_POLICY.max_attempts - 1 and k == n_got:
            return (
                f"{_FETCH_POLICY.max_attempts} attempts means the first one and {_FETCH_POLICY.max_attempts - 1} "
                f"retries: your plan stopped after {n_got} calls (max_attempts counts attempts, not retries)"
            )
        if last == "hangs" or last.startswith("would answer"):
            if n_got and got.ended > got.calls[-1] + limit + 1e-9:
                return (
                    f"every attempt is cut at {_s(limit)} s (attempt_timeout): call {n_got} {last}, and your plan "
                    f"waited on it until t={_s(got.ended)}"
                )
            return (
                f"call {n_got} {last}; cut at {_s(limit)} s it counts as Err(TIMEOUT), which this caller retries — "
                f"yet your plan stopped there"
            )
        return (
            f"call {n_got} answered {last}, which this caller retries — it decides by code (exactly "
            f"{', '.join(sorted(RETRY_ON))}), whatever the step's retryable flag says — yet your plan stopped there"
        )
    if not _same_time(got.ended, want.ended):
        return (
            f"every attempt is cut at {_s(limit)} s and the whole call at {_s(_FETCH_POLICY.deadline or 0)} s: "
            f"the call should end at t={_s(want.ended)}, yours ended at t={_s(got.ended)}"
        )
    return "the result is the last attempt's, or Err(DEADLINE_EXCEEDED) when the deadline cuts a running attempt"


def _probe_fetch(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 2: build ``fetch_with_retry(service)`` on the judge's script,
    drive it on virtual time; the instants of the calls, the result and when it ended."""
    fetch_with_retry = kit.function(ns, "fetch_with_retry")
    run = _run_fetch(fetch_with_retry, _Script.from_data(payload), "fetch_with_retry")
    return {"calls": list(run.calls), "result": run.result, "ended": run.ended}


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fetch_answer(answer: Any) -> _Run:
    if not (
        isinstance(answer, dict)
        and isinstance(answer.get("calls"), list)
        and all(map(_is_time, answer["calls"]))
        and _is_time(answer.get("ended"))
        and isinstance(answer.get("result"), (Ok, Err))
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    return _Run(tuple(float(t) for t in answer["calls"]), answer["result"], float(answer["ended"]))


def judge_fetch_with_retry(worker: Worker) -> str:
    refuse_borrowed(worker, "fetch_with_retry")

    def prop(script: _Script) -> None:
        got = _fetch_answer(worker.ask("fetch", script.data()))
        want = _run_fetch(_fetch_reference, script, "the reference")
        if got.matches(want):
            return
        raise kit.CheckFailed(
            f"{_why_fetch(script, want, got)}. Against {script!r}: expected calls at t={_times(want.calls)} and "
            f"{kit.show(want.result, 100)} at t={_s(want.ended)}; fetch_with_retry(service) called at "
            f"t={_times(got.calls)} and gave {kit.show(got.result, 100)} at t={_s(got.ended)}"
        )

    kit.for_all(_SCRIPTS, prop)
    return (
        "describing runs nothing; retries exactly HTTP_503, CONN_RESET and TIMEOUT, at most 4 attempts, waits "
        "0.5, 1, 1.5 s, cuts every attempt at 1 s and the whole call at 5 s — the same calls, at the same "
        "virtual instants, and the same result as the reference"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: charge once, however often the charge is retried


_PAY_POLICY = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(1), attempt_timeout=2)
"""The payment caller's policy, as in the lesson's anti-pattern 2 (also in the set-up cell)."""


def _charge_reference(payments: Payments, order_id: str, amount: int) -> AsyncPlan[str]:
    key = f"order-{order_id}/charge"
    return async_retry(async_lift(lambda: payments.charge(amount, key=key)), _PAY_POLICY)


@dataclass(frozen=True)
class _Orders:
    orders: tuple[tuple[str, int], ...]
    reply_delays: tuple[float, ...]

    def data(self) -> dict[str, Any]:
        """These orders as JSON data, for a probe's payload."""
        return {"orders": [[o, a] for o, a in self.orders], "delays": list(self.reply_delays)}

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> _Orders:
        """The orders :meth:`data` described (the worker's side)."""
        return _Orders(tuple((str(o), int(a)) for o, a in data["orders"]), tuple(float(d) for d in data["delays"]))

    def __repr__(self) -> str:
        shown = ", ".join(f"{o} for {a}" for o, a in self.orders)
        return f"orders [{shown}] with reply delays {_times(self.reply_delays)} s (then 0.2 s)"


@st.composite
def _order_cases(draw: st.DrawFn) -> _Orders:
    amounts = {o: draw(st.integers(1, 999)) for o in ("A17", "B42", "C7")}
    ids = draw(st.lists(st.sampled_from(["A17", "B42", "C7"]), min_size=1, max_size=4))
    # The simplest example starts with a slow reply: the first attempt times out after the charge landed.
    delays = draw(st.lists(st.sampled_from([5.0, 0.2, 0.5, 3.0]), min_size=1, max_size=8))
    return _Orders(tuple((o, amounts[o]) for o in ids), tuple(delays))


@dataclass(frozen=True)
class _Step:
    result: Result[Any, ErrInfo]
    took: float
    charges: tuple[int, ...]


def _run_orders(build: Callable[..., Any], case: _Orders, name: str) -> list[_Step]:
    """Charge each order in turn (an order listed twice is submitted twice), then drive the
    first order's plan once more (a replay).  The fake keeps its charges and keys between
    drives; each drive has its own virtual clock."""
    payments, steps, plans = Payments(case.reply_delays), [], []
    for order_id, amount in case.orders:
        doing = f"{name}(payments, {order_id!r}, {amount})"
        plan = kit.as_plan(kit.call(build, payments, order_id, amount, doing=doing), doing=doing)
        if payments.calls:
            raise kit.CheckFailed(
                f"describing runs nothing, but building {doing} already called payments.charge: "
                "return a plan and let the shell drive it"
            )
        plans.append(plan)
        result, took = kit.simulate(kit.timed(plan), doing=f"driving {doing}")
        steps.append(_Step(result, took, tuple(payments.charges)))
        payments.calls = 0
    order_id, amount = case.orders[0]
    result, took = kit.simulate(
        kit.timed(plans[0]), doing=f"driving the {name}(payments, {order_id!r}, {amount}) plan again"
    )
    steps.append(_Step(result, took, tuple(payments.charges)))
    return steps


def _probe_charge(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """The worker's side of Task 3: charge the judge's orders with ``charge_order`` on one fake
    payments service, each drive on virtual time, then replay the first; after each drive, its
    result, how long it took and the charges the service has made."""
    charge_order = kit.function(ns, "charge_order")
    steps = _run_orders(charge_order, _Orders.from_data(payload), "charge_order")
    return [{"result": s.result, "took": s.took, "charges": list(s.charges)} for s in steps]


def _charge_answer(answer: Any, case: _Orders) -> list[_Step]:
    if not (
        isinstance(answer, list)
        and len(answer) == len(case.orders) + 1
        and all(
            isinstance(s, dict)
            and isinstance(s.get("result"), (Ok, Err))
            and _is_time(s.get("took"))
            and isinstance(s.get("charges"), list)
            and all(isinstance(c, int) for c in s["charges"])
            for s in answer
        )
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    return [_Step(s["result"], float(s["took"]), tuple(s["charges"])) for s in answer]


def judge_charge_order(worker: Worker) -> str:
    refuse_borrowed(worker, "charge_order")

    def prop(case: _Orders) -> None:
        got = _charge_answer(worker.ask("charge", case.data()), case)
        want = _run_orders(_charge_reference, case, "the reference")
        seen: set[str] = set()
        for i, (w, g) in enumerate(zip(want, got)):
            replay = i == len(case.orders)
            order_id, amount = case.orders[0] if replay else case.orders[i]
            again = replay or order_id in seen
            seen.add(order_id)
            what = (
                f"driving the first plan, charge_order(payments, {order_id!r}, {amount}), a second time"
                if replay
                else f"charging order {order_id} ({amount})" + (" again — it was submitted twice" if again else "")
            )
            where = f"on {case!r}, {what}"
            if len(g.charges) > len(w.charges):
                if again and g.charges[: len(w.charges)] == w.charges:
                    raise kit.CheckFailed(
                        f"one logical operation, one key: {where}, charged the card again "
                        f"(charges {list(g.charges)}, expected {list(w.charges)}). Derive the key from the "
                        "order id, so every attempt, every drive and every resubmission carries the same one"
                    )
                raise kit.CheckFailed(
                    f"charged twice: {where}, the first attempt timed out after the money moved and the retry "
                    f"charged again (charges {list(g.charges)}, expected {list(w.charges)}). Give the charge an "
                    "idempotency key made once per order, outside the retried plan — a key made inside it, "
                    "fresh per attempt, de-duplicates nothing"
                )
            if len(g.charges) < len(w.charges):
                raise kit.CheckFailed(
                    f"a different order is a different operation: {where}, expected the charges {list(w.charges)}, "
                    f"but the service saw {list(g.charges)} — it took this order for one it had already charged. "
                    "Each order needs its own key"
                )
            if g.charges != w.charges:
                raise kit.CheckFailed(
                    f"{where[0].upper() + where[1:]}, expected the charges {list(w.charges)}, got {list(g.charges)}"
                )
            if not _same_time(g.took, w.took):
                raise kit.CheckFailed(
                    f"the caller's policy is PAY_POLICY — each attempt cut at 2 s, 1 s between attempts, 3 attempts: "
                    f"{where}, the call should answer after {_s(w.took)} s, yours answered after {_s(g.took)} s"
                )
            if g.result != w.result:
                raise kit.CheckFailed(
                    f"{where[0].upper() + where[1:]}, expected {kit.show(w.result)}, got {kit.show(g.result)}"
                )

    kit.for_all(_order_cases(), prop)
    return (
        "each order is charged exactly once — through timed-out attempts, a second drive and a resubmission — "
        "different orders are charged separately, and every call answers as PAY_POLICY says"
    )


PROBES = {
    "reaches": prober(
        {
            "fit_to_deadline": {"_fit_reference": _fit_reference},
            "fetch_with_retry": {"_FETCH_POLICY": _FETCH_POLICY, "_fetch_reference": _fetch_reference},
            "charge_order": {"_charge_reference": _charge_reference},
        }
    ),
    "fit": _probe_fit,
    "fetch": _probe_fetch,
    "charge": _probe_charge,
}
"""What the worker answers: ``fit`` (Task 1), ``fetch`` (Task 2), ``charge`` (Task 3), and
``reaches`` (whether a task function uses the grader's reference answer)."""


EXERCISE = Exercise(
    slug="04_retry_and_timeout_policies",
    title="04 · Retry and Timeout Policies",
    tasks=(
        Task("t1", "Fit a policy to a deadline", 3, ("fit_to_deadline",), judge=judge_fit_to_deadline),
        Task("t2", "Retry a flaky dependency by the rules", 4, ("fetch_with_retry",), judge=judge_fetch_with_retry),
        Task("t3", "Charge once, however often you retry", 3, ("charge_order",), judge=judge_charge_order),
    ),
)
