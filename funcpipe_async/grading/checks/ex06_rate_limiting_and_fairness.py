"""Exercise 06 · Rate Limiting and Fairness: the checks of its four tasks.

* t1 ``token_bucket_step(config, state, now, cost)`` — the token bucket as a pure state
  machine.  On generated bursty arrival sequences (exact binary fractions, so the reference
  and a correct answer agree to the bit), every decision and next state is compared with the
  reference, step by step; the feedback names the first step that differs and the rule it
  breaks (the cap, the exact wait, the clock).  A cost above the burst must raise
  ``ValueError``.
* t2 ``drr_order(queues, weights, quantum)`` — deficit round robin over backlogged queues.
  Checked on generated queues: every request served exactly once and in its tenant's order
  (nothing dropped: work-conserving), shares of the work within 5 % of the weights while every
  tenant is backlogged, no tenant starved in the first round, and the exact DRR order.
* t3 ``jain(xs)`` — Jain's index: equal shares give 1, one winner of n gives 1/n, the value on
  generated allocations, and no allocations is a ``ValueError``.
* t4 ``tenant_limiter(rate, burst)`` — a per-tenant token-bucket limiter in plain asyncio: the
  returned ``async acquire(tenant)`` is driven on virtual time by a generated script of
  callers (tenants arriving in bursts); no tenant gets more than ``rate × window + burst``
  through in any window, a tenant's callers go first come, first served, and each gets
  through at the earliest instant its own tenant's bucket allows — one tenant's line never
  holds up another's.

Every task is decided by a judge outside the worker.  The probes (``PROBES``) run the
student's function on the judge's inputs and report plain data: each step's decision and next
state (t1), the service order (t2), the index or the exception (t3), and the virtual instant
each caller got through (t4); the ``uses`` probe reports the module and the names a task's
code refers to.  The judge computes its own reference and compares.

The package exports every answer (``token_bucket_step``, ``DeficitRoundRobin``,
``jain_index``, ``KeyedLimiter``): calling it under another name is *detected* and refused —
the ``uses`` probe reports the function's module and the global names its code (and the code
nested in it) refers to, and the judge refuses a task whose code comes from the package or
names its implementation.  This catches the plain ways of doing it (an import, a wrapper,
``config.step``), not a deliberately disguised lookup; the judge says so in the feedback.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fairness import DeficitRoundRobin, Request, simulate_schedule
from funcpipe_async.gather import async_gather
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.ratelimit import Decision, TokenBucket, TokenState, token_bucket_step
from funcpipe_async.result import ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "drr_reference", "tenant_reference"]


def _g(x: float) -> str:
    return f"{x:g}"


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _wrong_shape() -> kit.CheckFailed:
    return kit.CheckFailed(kit.TAMPERED)


# ---------------------------------------------------------------------------------------------
# The worker's side: probes run the student's functions on the judge's inputs and report data.

_TASK_NAMES = ("token_bucket_step", "drr_order", "jain", "tenant_limiter")


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _probe_uses(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The module the task's function comes from and the global names its code refers to."""
    name = str(payload["name"])
    if name not in _TASK_NAMES:
        raise kit.CheckFailed(f"no such task function {name!r}")
    fn = kit.function(ns, name)
    code = getattr(fn, "__code__", None)
    return {
        "module": str(getattr(fn, "__module__", "") or ""),
        "names": sorted(_code_names(code)) if isinstance(code, types.CodeType) else [],
    }


def _outcome(fn: Callable[..., Any], name: str, *args: Any) -> dict[str, Any]:
    """Call ``fn``: what it returned, or the exception it raised, as data (a raise is part of the contract)."""
    try:
        return {"returned": fn(*args)}
    except NotImplementedError:
        raise kit.not_done(name) from None
    except Exception as error:  # noqa: BLE001 - the exception is reported as data
        return {"raised": kit.describe_exception(error), "value_error": isinstance(error, ValueError)}


def _probe_step(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """Run ``token_bucket_step`` arrival after arrival from a full bucket at t = 0, each time on
    the state it returned last; per step: the decision and next state, or what it returned or raised
    instead (the run stops there)."""
    step = kit.function(ns, "token_bucket_step")
    config = TokenBucket(float(payload["rate"]), float(payload["burst"]))
    state: Any = TokenState(float(payload["burst"]), 0.0)
    steps: list[dict[str, Any]] = []
    for now, cost in payload["arrivals"]:
        outcome = _outcome(step, "token_bucket_step", config, state, float(now), float(cost))
        if "raised" in outcome:
            steps.append(outcome)
            break
        got = outcome["returned"]
        if not (
            isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], Decision) and isinstance(got[1], TokenState)
        ):
            steps.append({"shape": kit.show(got)})
            break
        decision, state = got
        fields = (decision.wait, state.tokens, state.updated)
        if not isinstance(decision.admitted, bool) or not all(_number(x) for x in fields):
            steps.append({"shape": kit.show(got)})
            break
        steps.append({"decision": [decision.admitted, decision.wait], "state": [state.tokens, state.updated]})
    return steps


def _probe_drr(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``drr_order`` on the judge's queues: the service order as ``[tenant, size]`` pairs."""
    fn = kit.function(ns, "drr_order")
    queues = {str(t): [float(x) for x in v] for t, v in payload["queues"].items()}
    weights = {str(t): float(w) for t, w in payload["weights"].items()}
    got = kit.call(fn, queues, weights, float(payload["quantum"]), doing=str(payload["doing"]))
    try:
        return {"order": [[str(t), float(s)] for t, s in got]}
    except (TypeError, ValueError):
        return {"shape": kit.show(got)}


def _probe_jain(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``jain(xs)``: the value it returned (a number, or its repr) or the exception it raised."""
    fn = kit.function(ns, "jain")
    outcome = _outcome(fn, "jain", [float(x) for x in payload["xs"]])
    got = outcome.get("returned")
    if "returned" in outcome and not (isinstance(got, (int, float)) and not isinstance(got, bool)):
        return {"shape": kit.show(got)}
    return outcome


def _probe_limiter(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Drive a script of callers on virtual time: each sleeps until its arrival, then awaits
    ``acquire(tenant)`` of one ``tenant_limiter(rate, burst)``; the instant each got through."""
    make = kit.function(ns, "tenant_limiter")
    rate, burst = float(payload["rate"]), float(payload["burst"])
    script = [(float(t), str(tenant)) for t, tenant in payload["script"]]
    doing = f"tenant_limiter({_g(rate)}, {_g(burst)})"

    async def main() -> list[float]:
        acquire = kit.call(make, rate, burst, doing=doing)
        if not callable(acquire):
            raise kit.CheckFailed(f"{doing} returned {kit.show(acquire)}: return the async function acquire(tenant)")
        loop = asyncio.get_running_loop()

        async def caller(at: float, tenant: str) -> Result[float, ErrInfo]:
            await asyncio.sleep(at)
            waiting = acquire(tenant)
            if not inspect.isawaitable(waiting):
                raise kit.CheckFailed(
                    f"acquire({tenant!r}) returned {kit.show(waiting)}, not something to await: make acquire an "
                    "`async def`, so a caller is suspended until its tenant's bucket lets it through"
                )
            await waiting
            return Ok(loop.time())

        def start(at: float, tenant: str) -> AsyncPlan[float]:
            return async_lift(lambda: caller(at, tenant))

        callers = [start(t, tenant) for t, tenant in script]
        everyone = await async_gather(callers, concurrency=max(len(callers), 1))()  # all at once, in script order
        return everyone.value if isinstance(everyone, Ok) else []

    instants = kit.simulate(main(), doing=f"driving the callers of {doing}")
    return {"instants": instants}


PROBES = {"uses": _probe_uses, "step": _probe_step, "drr": _probe_drr, "jain": _probe_jain, "limiter": _probe_limiter}
"""What the worker answers: ``uses`` (every task), ``step`` (t1), ``drr`` (t2), ``jain`` (t3), ``limiter`` (t4)."""


# ---------------------------------------------------------------------------------------------
# The judge's side.


def _refuse_the_package(worker: Worker, name: str, forbidden: set[str]) -> None:
    answer = worker.ask("uses", {"name": name})
    if not (
        isinstance(answer, dict) and isinstance(answer.get("module"), str) and isinstance(answer.get("names"), list)
    ):
        raise _wrong_shape()
    used = sorted({str(n) for n in answer["names"]} & forbidden)
    if answer["module"].startswith("funcpipe_async") or used:
        raise kit.CheckFailed(
            f"{name} calls the package's own implementation ({', '.join(used) or 'imported'}): "
            "the task is to write it yourself, from the rule in the lesson (use the package to check your answers)"
        )


# --- Task 1: the token-bucket step ------------------------------------------------------------


def _first(items: Sequence[str], n: int) -> str:
    """The first ``n`` of ``items``, joined, and how many more there are."""
    more = f", … {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


@dataclass(frozen=True)
class _BucketCase:
    rate: float
    burst: float
    arrivals: tuple[tuple[float, float], ...]

    def __repr__(self) -> str:
        shown = _first([f"({_g(t)}, {_g(c)})" for t, c in self.arrivals], 12)
        return f"TokenBucket(rate={_g(self.rate)}, burst={_g(self.burst)}) with arrivals (t, cost) [{shown}]"

    def data(self) -> dict[str, Any]:
        return {"rate": self.rate, "burst": self.burst, "arrivals": [[t, c] for t, c in self.arrivals]}


@st.composite
def _bucket_cases(draw: st.DrawFn) -> _BucketCase:
    rate = draw(st.sampled_from([1.0, 2.0, 4.0, 0.5, 8.0]))
    burst = draw(st.sampled_from([4.0, 1.0, 2.0, 3.0, 8.0]))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0]), min_size=1, max_size=25))
    t, arrivals = 0.0, []
    for gap in gaps:
        t += gap
        cost = draw(st.integers(1, int(burst * 4))) / 4
        arrivals.append((t, cost))
    return _BucketCase(rate, burst, tuple(arrivals))


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _ask_steps(worker: Worker, case: _BucketCase) -> list[dict[str, Any]]:
    steps = worker.ask("step", case.data())
    if not (
        isinstance(steps, list) and 0 < len(steps) <= len(case.arrivals) and all(isinstance(s, dict) for s in steps)
    ):
        raise _wrong_shape()
    for s in steps[:-1]:
        if "decision" not in s:
            raise _wrong_shape()
    return steps


def _step_values(s: dict[str, Any]) -> tuple[bool, float, float, float]:
    decision, state = s.get("decision"), s.get("state")
    if not (
        isinstance(decision, list)
        and isinstance(state, list)
        and len(decision) == 2
        and len(state) == 2
        and isinstance(decision[0], bool)
        and all(_number(x) for x in (decision[1], *state))
    ):
        raise _wrong_shape()
    return decision[0], float(decision[1]), float(state[0]), float(state[1])


def _judge_step(worker: Worker, case: _BucketCase) -> None:
    steps = _ask_steps(worker, case)
    config = TokenBucket(case.rate, case.burst)
    mine, ref = TokenState(case.burst, 0.0), TokenState(case.burst, 0.0)
    for k, (now, cost) in enumerate(case.arrivals, start=1):
        doing = f"token_bucket_step(bucket, {mine!r}, now={_g(now)}, cost={_g(cost)})"
        if k > len(steps):
            raise _wrong_shape()
        s = steps[k - 1]
        if "raised" in s:
            raise kit.CheckFailed(f"{doing} raised {s['raised']}")
        if "shape" in s:
            raise kit.CheckFailed(f"{doing} returned {s['shape']}: a step returns (Decision(...), TokenState(...))")
        admitted, wait, tokens, updated = _step_values(s)
        want, ref = token_bucket_step(config, ref, now, cost)
        where = f"on {case!r}, at arrival #{k} (t={_g(now)}, cost {_g(cost)})"
        if updated != now:
            raise kit.CheckFailed(
                f"{where}, the next state says updated={_g(updated)}: it must record now={_g(now)}, "
                "the moment the tokens were counted — otherwise the next step refills the same seconds again"
            )
        if tokens > case.burst + 1e-9:
            raise kit.CheckFailed(
                f"{where}, your bucket holds {_g(tokens)} tokens, more than its burst of {_g(case.burst)}: "
                "tokens never exceed the burst. How much can a bucket hold, however long it stood idle?"
            )
        if admitted != want.admitted:
            said = "admitted" if admitted else f"refused (wait {_g(wait)} s)"
            raise kit.CheckFailed(
                f"{where}, you {said}, but the bucket holds {_g(ref.tokens if not want.admitted else ref.tokens + cost)} "
                f"token(s) then: a request is admitted exactly when its cost fits in the refilled tokens"
            )
        if not admitted and not _same(wait, want.wait):
            raise kit.CheckFailed(
                f"{where}, the request is refused and must wait exactly {_g(want.wait)} s, the time until the missing "
                f"tokens have dripped in — but your decision says wait {_g(wait)} s. How many tokens are missing, "
                "and how many arrive per second?"
            )
        if admitted and wait != 0:
            raise kit.CheckFailed(f"{where}, an admitted request waits 0 s; your decision says wait {_g(wait)} s")
        if not _same(tokens, ref.tokens):
            rule = (
                "an admitted request takes its cost from the refilled tokens"
                if want.admitted
                else "a refused request takes nothing, but the state still records the refill up to now"
            )
            raise kit.CheckFailed(
                f"{where}, the next state should hold {_g(ref.tokens)} tokens, yours holds {_g(tokens)}: {rule}"
            )
        mine = TokenState(tokens, updated)


def judge_token_bucket_step(worker: Worker) -> str:
    _refuse_the_package(worker, "token_bucket_step", {"token_bucket_step", "leaky_bucket_step", "run_bucket", "step"})
    _judge_step(worker, _BucketCase(2.0, 3.0, ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.5, 1.0), (3.0, 1.0))))
    (over,) = _ask_steps(worker, _BucketCase(1.0, 2.0, ((0.0, 3.0),)))
    if "raised" in over:
        if over.get("value_error") is not True:
            raise kit.CheckFailed(f"a cost of 3 with a burst of 2 raised {over['raised']}; raise ValueError instead")
    else:
        if "shape" in over:
            got = str(over["shape"])
        else:
            admitted, wait, tokens, updated = _step_values(over)
            got = f"({Decision(admitted, wait)!r}, {TokenState(tokens, updated)!r})"
        raise kit.CheckFailed(
            f"a cost of 3 can never fit in a burst of 2, so waiting would be forever: raise ValueError — "
            f"your step returned {got}"
        )
    kit.for_all(_bucket_cases(), lambda case: _judge_step(worker, case))
    return (
        "refills up to the burst, admits exactly when the cost fits, refuses with the exact wait, and records "
        "the time it looked"
    )


# --- Task 2: deficit round robin ---------------------------------------------------------------


def drr_reference(
    queues: Mapping[str, Sequence[float]], weights: Mapping[str, float], quantum: float
) -> list[tuple[str, float]]:
    """The reference answer of Task 2: the package's DRR over backlogged queues."""
    requests = [Request(t, 0.0, size) for t, sizes in queues.items() for size in sizes]
    done = simulate_schedule(requests, DeficitRoundRobin(quantum=quantum, weights=dict(weights)))
    return [(c.tenant, c.size) for c in done]


@dataclass(frozen=True)
class _DrrCase:
    queues: dict[str, list[float]]
    weights: dict[str, float]
    quantum: float
    long: bool

    def __repr__(self) -> str:
        if self.long:
            qs = ", ".join(f"{t!r}: [{len(v)} requests of sizes {sorted(set(v))}]" for t, v in self.queues.items())
        else:
            qs = ", ".join(f"{t!r}: [{', '.join(_g(x) for x in v)}]" for t, v in self.queues.items())
        return f"drr_order({{{qs}}}, weights={self.weights}, quantum={_g(self.quantum)})"


@st.composite
def _drr_cases(draw: st.DrawFn, long: bool) -> _DrrCase:
    n = draw(st.integers(2, 4))
    names = ["a", "b", "c", "d"][:n]
    weights = {t: float(draw(st.sampled_from([1, 2, 3, 4]))) for t in names}
    quantum = draw(st.sampled_from([1.0, 2.0, 0.5]))
    queues: dict[str, list[float]] = {}
    for t in names:
        sizes = draw(st.lists(st.sampled_from([1.0, 0.5, 2.0]), min_size=1, max_size=3))
        count = 200 if long else draw(st.integers(1, 6))
        queues[t] = [sizes[i % len(sizes)] for i in range(count)]
    return _DrrCase(queues, weights, quantum, long)


def _run_drr(worker: Worker, case: _DrrCase) -> list[tuple[str, float]]:
    payload = {"queues": case.queues, "weights": case.weights, "quantum": case.quantum, "doing": repr(case)}
    answer = worker.ask("drr", payload)
    if isinstance(answer, dict) and "shape" in answer:
        raise kit.CheckFailed(
            f"{case!r} returned {answer['shape']}: return a list of (tenant, size) pairs, in service order"
        )
    order = answer.get("order") if isinstance(answer, dict) else None
    if not (
        isinstance(order, list)
        and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and _number(p[1]) for p in order)
    ):
        raise _wrong_shape()
    return [(t, float(s)) for t, s in order]


def _judge_drr(worker: Worker, case: _DrrCase, exact: bool = False) -> None:
    order = _run_drr(worker, case)
    strangers = sorted({t for t, _ in order} - set(case.queues))
    if strangers:
        raise kit.CheckFailed(f"{case!r}: your order serves tenants that have no queue: {strangers}")
    for t, sizes in case.queues.items():
        served = [s for u, s in order if u == t]
        if sorted(served) != sorted(sizes):
            raise kit.CheckFailed(
                f"{case!r}: every request must be served exactly once — tenant {t!r} queued {len(sizes)} request(s) "
                f"of total size {_g(sum(sizes))}, your order serves {len(served)} of total {_g(sum(served))}. "
                "A request larger than one quantum waits for its deficit to grow over several visits; it is never dropped"
            )
        if served != sizes:
            raise kit.CheckFailed(
                f"{case!r}: each tenant's requests are served in their queue's order; for {t!r} "
                f"expected {[_g(x) for x in sizes]}, got {[_g(x) for x in served]}"
            )
    _no_starvation(case, order)
    total_weight = sum(case.weights.values())
    if case.long:
        # shares while every tenant is still backlogged, against the shares DRR itself gives there: the
        # weights' shares hold only up to one request per round, which matters when sizes differ
        mine, drr = (
            _backlogged_shares(case, order),
            _backlogged_shares(case, drr_reference(case.queues, case.weights, case.quantum)),
        )
        for t, w in case.weights.items():
            share, expected = mine[t], drr[t]
            if abs(share - expected) > 0.05 * expected:
                raise kit.CheckFailed(
                    f"{case!r}: while every tenant is backlogged, tenant {t!r} (weight {_g(w)} of {_g(total_weight)}) "
                    f"should get {expected:.1%} of the work, as DRR shares it, within 5 %; your order gives it "
                    f"{share:.1%}. DRR counts *work*, not requests: what does each visit add to a tenant's deficit, "
                    "and what does the deficit let it send?"
                )
    if exact:
        _exact_order(case, order)


def _backlogged_shares(case: _DrrCase, order: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Each tenant's share of the work served up to the moment the first queue empties."""
    remaining = {t: len(v) for t, v in case.queues.items()}
    work: dict[str, float] = {t: 0.0 for t in case.queues}
    for t, s in order:
        remaining[t] -= 1
        if remaining[t] == 0:
            break
        work[t] += s
    total = sum(work.values()) or 1.0
    return {t: w / total for t, w in work.items()}


def _no_starvation(case: _DrrCase, order: list[tuple[str, float]]) -> None:
    """Every tenant gets a turn in the first round(s): nobody is served more than its
    quantum × weight per round (plus one request) before everyone has been served once."""
    first_round = max(
        math.ceil(max(v[0] for v in case.queues.values()) / (case.quantum * min(case.weights.values()))), 1
    )
    limit = {t: first_round * case.quantum * case.weights[t] + max(case.queues[t]) for t in case.queues}
    seen: dict[str, float] = {t: 0.0 for t in case.queues}
    waiting = set(case.queues)
    for t, s in order:
        waiting.discard(t)
        if not waiting:
            break
        seen[t] += s
        if seen[t] > limit[t] + 1e-9:
            starved = sorted(waiting)[0]
            raise kit.CheckFailed(
                f"{case!r}: tenant {t!r} was served {_g(seen[t])} units of work before {starved!r} was served at "
                f"all — a visit ends when the deficit runs out, then the next tenant goes: no tenant is starved"
            )


def _exact_order(case: _DrrCase, order: list[tuple[str, float]]) -> None:
    want = drr_reference(case.queues, case.weights, case.quantum)
    if order != want:
        k = next((i for i, (a, b) in enumerate(zip(order, want)) if a != b), min(len(order), len(want)))
        raise kit.CheckFailed(
            f"{case!r}: the DRR order differs from service #{k + 1}: expected {want[max(k - 2, 0) : k + 3]}, "
            f"got {order[max(k - 2, 0) : k + 3]}. Visit tenants in the order of the dict; each visit adds quantum × "
            "weight to the deficit; send while the next request fits; a tenant whose queue empties leaves the rotation"
        )


def judge_drr_order(worker: Worker) -> str:
    _refuse_the_package(
        worker, "drr_order", {"DeficitRoundRobin", "simulate_schedule", "serve_on_loop", "drr_reference"}
    )
    _judge_drr(worker, _DrrCase({"a": [1.0, 1.0], "b": [2.0]}, {"a": 1.0, "b": 1.0}, 1.0, False))
    kit.for_all(_drr_cases(long=False), lambda case: _judge_drr(worker, case))  # the laws first …
    kit.for_all(_drr_cases(long=True), lambda case: _judge_drr(worker, case), examples=12)
    kit.for_all(_drr_cases(long=False), lambda case: _judge_drr(worker, case, exact=True))  # … then the exact order
    return (
        "serves every request once, in order; shares of the work follow the weights within 5 % under "
        "backlog; every tenant gets its turn; the exact deficit-round-robin order"
    )


# --- Task 3: Jain's index ----------------------------------------------------------------------


def _judge_jain(worker: Worker, xs: list[float]) -> None:
    doing = f"jain({xs})"
    answer = worker.ask("jain", {"xs": xs})
    if not isinstance(answer, dict):
        raise _wrong_shape()
    if "shape" in answer:
        raise kit.CheckFailed(f"{doing} returned {answer['shape']}: Jain's index is a number")
    if "raised" in answer:
        raise kit.CheckFailed(f"{doing} raised {answer['raised']}")
    got = answer.get("returned")
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        raise _wrong_shape()
    want = sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))
    if not math.isclose(got, want, rel_tol=1e-9):
        laws = ""
        if len(set(xs)) == 1:
            laws = " — equal shares must give exactly 1"
        elif sum(1 for x in xs if x > 0) == 1:
            laws = f" — one winner of {len(xs)} must give 1/{len(xs)}"
        raise kit.CheckFailed(
            f"{doing} should be {want:.6g}, got {got!r}{laws}. Check your function against the index's laws "
            "in the lesson: what must equal shares give, and one winner of n? Does doubling every allocation "
            "change your answer?"
        )


def judge_jain(worker: Worker) -> str:
    _refuse_the_package(worker, "jain", {"jain_index"})
    for xs in ([3.0, 3.0, 3.0, 3.0], [5.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [9.0, 1.0]):
        _judge_jain(worker, xs)
    empty = worker.ask("jain", {"xs": []})
    if not isinstance(empty, dict):
        raise _wrong_shape()
    if "raised" in empty:
        if empty.get("value_error") is not True:
            raise kit.CheckFailed(
                f"jain([]) raised {empty['raised']}: with no tenants the index is undefined — raise ValueError"
            )
    else:
        got = empty.get("shape", kit.show(empty.get("returned")))
        raise kit.CheckFailed(f"jain([]) returned {got}: with no tenants the index is undefined — raise ValueError")
    allocations = st.lists(st.integers(0, 1000).map(lambda n: n / 8), min_size=1, max_size=12).filter(
        lambda xs: any(xs)
    )
    kit.for_all(allocations, lambda xs: _judge_jain(worker, xs))
    return "1 for equal shares, 1/n for one winner, the index on every generated allocation, ValueError for none"


# --- Task 4: a per-tenant limiter in plain asyncio ------------------------------------------------


def tenant_reference(
    rate: float, burst: float, script: Sequence[tuple[float, str]], *, one_line: bool = False
) -> list[float]:
    """The reference answer of Task 4: when each caller of ``script`` (arrival, tenant) gets through.

    Each tenant has its own token bucket (full at the start) and its own first-come-first-served
    line: a caller goes when every earlier caller of its tenant has gone and a token is there.
    ``one_line=True`` is the classic mistake instead — every tenant queues in one shared line.
    """
    buckets: dict[str, tuple[float, float]] = {}
    last: dict[str, float] = {}
    instants: list[float] = []
    for arrival, tenant in script:
        key = "" if one_line else tenant
        now = max(arrival, last.get(key, 0.0))
        tokens, updated = buckets.get(tenant, (burst, 0.0))
        tokens = min(burst, tokens + (now - updated) * rate)
        if tokens < 1:
            now += (1 - tokens) / rate
            tokens = 1.0
        buckets[tenant] = (tokens - 1, now)
        last[key] = now
        instants.append(now)
    return instants


@dataclass(frozen=True)
class _LimiterCase:
    rate: float
    burst: float
    script: tuple[tuple[float, str], ...]

    def __repr__(self) -> str:
        shown = _first([f"({_g(t)}, {tenant!r})" for t, tenant in self.script], 14)
        return f"tenant_limiter(rate={_g(self.rate)}, burst={_g(self.burst)}) with callers (arrival, tenant) [{shown}]"


@st.composite
def _limiter_cases(draw: st.DrawFn) -> _LimiterCase:
    rate = draw(st.sampled_from([1.0, 2.0, 0.5, 4.0]))
    burst = draw(st.sampled_from([2.0, 1.0, 3.0]))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 3.0]), min_size=1, max_size=20))
    t, script = 0.0, []
    for gap in gaps:
        t += gap
        script.append((t, draw(st.sampled_from(["noisy", "noisy", "quiet", "other"]))))
    return _LimiterCase(rate, burst, tuple(script))


_BURSTY = _LimiterCase(
    1.0, 2.0, ((0.0, "noisy"),) * 5 + ((0.25, "quiet"), (0.5, "quiet"), (0.5, "quiet"), (4.0, "noisy"))
)
"""The example every submission meets first: a noisy tenant's burst, then a quiet tenant."""


def _judge_limiter(worker: Worker, case: _LimiterCase) -> None:
    answer = worker.ask("limiter", {"rate": case.rate, "burst": case.burst, "script": [list(c) for c in case.script]})
    instants = answer.get("instants") if isinstance(answer, dict) else None
    if not (isinstance(instants, list) and len(instants) == len(case.script) and all(_number(x) for x in instants)):
        raise _wrong_shape()
    got = [float(x) for x in instants]
    want = tenant_reference(case.rate, case.burst, case.script)
    tenants = list(dict.fromkeys(tenant for _, tenant in case.script))
    for k, ((arrival, _), at) in enumerate(zip(case.script, got), start=1):
        if at < arrival - 1e-9:
            raise kit.CheckFailed(f"on {case!r}, caller #{k} arrived at t={_g(arrival)} but got through at t={at:.6g}")
    for tenant in tenants:  # the window law, tenant by tenant: the limiter's one promise
        mine = sorted(at for (_, u), at in zip(case.script, got) if u == tenant)
        for i in range(len(mine)):
            for j in range(i + 1, len(mine)):
                window = mine[j] - mine[i]
                if j - i + 1 > case.rate * window + case.burst + 1e-6:
                    raise kit.CheckFailed(
                        f"on {case!r}, tenant {tenant!r} got {j - i + 1} callers through between t={mine[i]:.6g} and "
                        f"t={mine[j]:.6g}, but its bucket lets at most rate × window + burst = "
                        f"{case.rate * window + case.burst:.6g} through in {window:.6g} s: a caller may go only when a "
                        "token is there. How many tokens can a bucket hold, however long it stood idle? And after a caller "
                        "sleeps, is a token still there for it — or did others wake with it?"
                    )
    for tenant in tenants:  # first come, first served within a tenant
        line = [(k, at) for k, ((_, u), at) in enumerate(zip(case.script, got), start=1) if u == tenant]
        for (k1, a), (k2, b) in zip(line, line[1:]):
            if b < a - 1e-9:
                raise kit.CheckFailed(
                    f"on {case!r}, caller #{k2} of tenant {tenant!r} got through (t={b:.6g}) before caller #{k1} "
                    f"(t={a:.6g}), who came first: a tenant's callers go first come, first served"
                )
    for k, ((arrival, tenant), at, due) in enumerate(zip(case.script, got, want), start=1):
        if math.isclose(at, due, abs_tol=1e-6):
            continue
        if at < due:
            raise kit.CheckFailed(
                f"on {case!r}, caller #{k} ({tenant!r}, arrived at t={_g(arrival)}) got through at t={at:.6g}, "
                f"before its tenant's bucket had a token for it (t={due:.6g})"
            )
        if all(
            math.isclose(a, b, abs_tol=1e-6)
            for a, b in zip(got, tenant_reference(case.rate, case.burst, case.script, one_line=True))
        ):
            raise kit.CheckFailed(
                f"on {case!r}, caller #{k} ({tenant!r}, arrived at t={_g(arrival)}) got through at t={at:.6g}, but "
                f"its tenant's bucket had a token for it at t={due:.6g}: it was held up by another tenant's callers. "
                "Every tenant has its own bucket and its own line — does one tenant's sleep hold up the others?"
            )
        raise kit.CheckFailed(
            f"on {case!r}, caller #{k} ({tenant!r}, arrived at t={_g(arrival)}) got through at t={at:.6g}, but its "
            f"tenant's bucket had a token for it at t={due:.6g}: it waited longer than needed. A caller goes as soon as "
            "its tenant's earlier callers have gone and a token is there — how long until the missing part of a "
            "token has dripped in? Does the bucket start full?"
        )


def judge_tenant_limiter(worker: Worker) -> str:
    _refuse_the_package(worker, "tenant_limiter", {"AsyncRateLimiter", "KeyedLimiter"})
    _judge_limiter(worker, _BURSTY)
    kit.for_all(_limiter_cases(), lambda case: _judge_limiter(worker, case))
    return (
        "each tenant gets at most rate × window + burst through in any window, its callers go first come, "
        "first served, each as soon as a token is there, and one tenant's line never holds up another's"
    )


EXERCISE = Exercise(
    slug="06_rate_limiting_and_fairness",
    title="06 · Rate Limiting and Fairness",
    tasks=(
        Task("t1", "Write the token-bucket step", 3, ("token_bucket_step",), judge=judge_token_bucket_step),
        Task("t2", "Schedule by deficit round robin", 3, ("drr_order",), judge=judge_drr_order),
        Task("t3", "Compute Jain's index", 1, ("jain",), judge=judge_jain),
        Task("t4", "Limit each tenant in plain asyncio", 3, ("tenant_limiter",), judge=judge_tenant_limiter),
    ),
)
