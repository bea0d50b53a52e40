"""Exercise 06 · Rate Limiting and Fairness: the checks of its three tasks.

* t1 ``token_bucket_step(config, state, now, cost)`` — the token bucket as a pure state
  machine.  On generated bursty arrival sequences (exact binary fractions, so the reference
  and a correct answer agree to the bit), every decision and next state is compared with the
  reference, step by step, and the window law is checked on what was admitted; the feedback
  names the first step that differs and the rule it breaks (the cap, the exact wait, the
  clock).  A cost above the burst must raise ``ValueError``.  Calling the package's own step
  does not count.
* t2 ``drr_order(queues, weights, quantum)`` — deficit round robin over backlogged queues.
  Checked on generated queues: every request served exactly once and in its tenant's order
  (nothing dropped: work-conserving), shares of the work within 5 % of the weights while every
  tenant is backlogged, no tenant starved in the first round, and the exact DRR order.
* t3 ``jain(xs)`` — Jain's index: equal shares give 1, one winner of n gives 1/n, it is
  scale-free, it matches ``(Σx)² / (n·Σx²)`` on generated allocations, and no allocations is a
  ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fairness import DeficitRoundRobin, Request, simulate_schedule
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.ratelimit import Decision, TokenBucket, TokenState, max_window_cost, token_bucket_step

__all__ = ["EXERCISE", "drr_reference"]


def _g(x: float) -> str:
    return f"{x:g}"


def _uses_the_package(fn: Callable[..., Any], forbidden: set[str], what: str) -> None:
    names = set(getattr(getattr(fn, "__code__", None), "co_names", ()))
    if str(getattr(fn, "__module__", "") or "").startswith("funcpipe_async") or names & forbidden:
        raise kit.CheckFailed(
            f"{what} calls the package's own implementation ({', '.join(sorted(names & forbidden)) or 'imported'}): "
            "the task is to write it yourself, from the rule in the lesson"
        )


# --- Task 1: the token-bucket step ------------------------------------------------------------


@dataclass(frozen=True)
class _BucketCase:
    rate: float
    burst: float
    arrivals: tuple[tuple[float, float], ...]

    def __repr__(self) -> str:
        shown = ", ".join(f"({_g(t)}, {_g(c)})" for t, c in self.arrivals[:12])
        more = f", … {len(self.arrivals) - 12} more" if len(self.arrivals) > 12 else ""
        return f"TokenBucket(rate={_g(self.rate)}, burst={_g(self.burst)}) with arrivals (t, cost) [{shown}{more}]"


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


def _judge_step(step: Callable[..., Any], case: _BucketCase) -> None:
    config = TokenBucket(case.rate, case.burst)
    mine, ref = TokenState(case.burst, 0.0), TokenState(case.burst, 0.0)
    admitted: list[tuple[float, float]] = []
    for k, (now, cost) in enumerate(case.arrivals, start=1):
        doing = f"token_bucket_step(bucket, {mine!r}, now={_g(now)}, cost={_g(cost)})"
        got = kit.call(step, config, mine, now, cost, doing=doing)
        want, ref = token_bucket_step(config, ref, now, cost)
        where = f"on {case!r}, at arrival #{k} (t={_g(now)}, cost {_g(cost)})"
        if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], Decision) and isinstance(got[1], TokenState)):
            raise kit.CheckFailed(f"{doing} returned {kit.show(got)}: a step returns (Decision(...), TokenState(...))")
        decision, after = got
        if after.updated != now:
            raise kit.CheckFailed(
                f"{where}, the next state says updated={_g(after.updated)}: it must record now={_g(now)}, "
                "the moment the tokens were counted — otherwise the next step refills the same seconds again"
            )
        if after.tokens > case.burst + 1e-9:
            raise kit.CheckFailed(
                f"{where}, your bucket holds {_g(after.tokens)} tokens, more than its burst of {_g(case.burst)}: "
                "tokens never exceed the burst — refill with min(burst, tokens + elapsed × rate)"
            )
        if decision.admitted != want.admitted:
            said = "admitted" if decision.admitted else f"refused (wait {_g(decision.wait)} s)"
            raise kit.CheckFailed(
                f"{where}, you {said}, but the bucket holds {_g(ref.tokens if not want.admitted else ref.tokens + cost)} "
                f"token(s) then: a request is admitted exactly when its cost fits in the refilled tokens"
            )
        if not decision.admitted and not _same(decision.wait, want.wait):
            raise kit.CheckFailed(
                f"{where}, the request is refused and must wait exactly {_g(want.wait)} s — (cost − tokens) / rate, "
                f"the time until the missing tokens have dripped in — but your decision says wait {_g(decision.wait)} s"
            )
        if decision.admitted and decision.wait != 0:
            raise kit.CheckFailed(f"{where}, an admitted request waits 0 s; your decision says wait {_g(decision.wait)} s")
        if not _same(after.tokens, ref.tokens):
            rule = ("an admitted request takes its cost from the refilled tokens" if want.admitted
                    else "a refused request takes nothing, but the state still records the refill up to now")
            raise kit.CheckFailed(
                f"{where}, the next state should hold {_g(ref.tokens)} tokens, yours holds {_g(after.tokens)}: {rule}"
            )
        if decision.admitted:
            admitted.append((now, cost))
        mine = after
    for window in (0.0, 0.5, 1.0, 4.0):
        if max_window_cost(admitted, window) > case.rate * window + case.burst + 1e-9:  # pragma: no cover - caught above
            raise kit.CheckFailed(f"on {case!r}, the window law broke for windows of {_g(window)} s")


def check_token_bucket_step(ns: Mapping[str, Any]) -> str:
    step = kit.function(ns, "token_bucket_step")
    _uses_the_package(step, {"token_bucket_step", "leaky_bucket_step", "run_bucket", "step"}, "token_bucket_step")
    _judge_step(step, _BucketCase(2.0, 3.0, ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.5, 1.0), (3.0, 1.0))))
    try:
        got = step(TokenBucket(1.0, 2.0), TokenState(2.0, 0.0), 0.0, 3.0)
    except ValueError:
        pass
    except NotImplementedError:
        raise kit.not_done("token_bucket_step") from None
    except Exception as error:  # noqa: BLE001 - any defect in student code is a verdict
        raise kit.CheckFailed(
            f"a cost of 3 with a burst of 2 raised {kit.describe_exception(error)}; raise ValueError instead"
        ) from None
    else:
        raise kit.CheckFailed(
            f"a cost of 3 can never fit in a burst of 2, so waiting would be forever: raise ValueError — "
            f"your step returned {kit.show(got)}"
        )
    kit.for_all(_bucket_cases(), lambda case: _judge_step(step, case))
    return ("refills up to the burst, admits exactly when the cost fits, refuses with the exact wait, records "
            "the time it looked, and never admits more than rate × window + burst")


# --- Task 2: deficit round robin ---------------------------------------------------------------


def drr_reference(queues: Mapping[str, Sequence[float]], weights: Mapping[str, float], quantum: float) -> list[tuple[str, float]]:
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


def _run_drr(fn: Callable[..., Any], case: _DrrCase) -> list[tuple[str, float]]:
    queues = {t: list(v) for t, v in case.queues.items()}
    got = kit.call(fn, queues, dict(case.weights), case.quantum, doing=repr(case))
    try:
        order = [(str(t), float(s)) for t, s in got]
    except (TypeError, ValueError):
        raise kit.CheckFailed(f"{case!r} returned {kit.show(got)}: return a list of (tenant, size) pairs, in service order") from None
    return order


def _judge_drr(fn: Callable[..., Any], case: _DrrCase, exact: bool = False) -> None:
    order = _run_drr(fn, case)
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
            raise kit.CheckFailed(f"{case!r}: each tenant's requests are served in their queue's order; for {t!r} "
                                  f"expected {[_g(x) for x in sizes]}, got {[_g(x) for x in served]}")
    _no_starvation(case, order)
    total_weight = sum(case.weights.values())
    if case.long:
        # shares while every tenant is still backlogged: up to the moment the first queue empties
        remaining = {t: len(v) for t, v in case.queues.items()}
        work: dict[str, float] = {t: 0.0 for t in case.queues}
        for t, s in order:
            remaining[t] -= 1
            if remaining[t] == 0:
                break
            work[t] += s
        total = sum(work.values())
        for t, w in case.weights.items():
            share, expected = work[t] / total, w / total_weight
            if abs(share - expected) > 0.05 * expected:
                raise kit.CheckFailed(
                    f"{case!r}: while every tenant is backlogged, tenant {t!r} (weight {_g(w)} of {_g(total_weight)}) "
                    f"should get {expected:.1%} of the work, within 5 %; your order gives it {share:.1%}. DRR counts "
                    "*work*, not requests: each visit adds quantum × weight to the tenant's deficit, and it sends "
                    "requests while the next one's size fits in the deficit"
                )
    if exact:
        _exact_order(case, order)


def _no_starvation(case: _DrrCase, order: list[tuple[str, float]]) -> None:
    """Every tenant gets a turn in the first round(s): nobody is served more than its
    quantum × weight per round (plus one request) before everyone has been served once."""
    first_round = max(math.ceil(max(v[0] for v in case.queues.values()) / (case.quantum * min(case.weights.values()))), 1)
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
        k = next(i for i, (a, b) in enumerate(zip(order, want)) if a != b)
        raise kit.CheckFailed(
            f"{case!r}: the DRR order differs from service #{k + 1}: expected {want[max(k - 2, 0):k + 3]}, "
            f"got {order[max(k - 2, 0):k + 3]}. Visit tenants in the order of the dict; each visit adds quantum × "
            "weight to the deficit; send while the next request fits; a tenant whose queue empties leaves the rotation"
        )


def check_drr_order(ns: Mapping[str, Any]) -> str:
    fn = kit.function(ns, "drr_order")
    _uses_the_package(fn, {"DeficitRoundRobin", "simulate_schedule", "serve_on_loop", "drr_reference"}, "drr_order")
    _judge_drr(fn, _DrrCase({"a": [1.0, 1.0], "b": [2.0]}, {"a": 1.0, "b": 1.0}, 1.0, False))
    kit.for_all(_drr_cases(long=False), lambda case: _judge_drr(fn, case))          # the laws first …
    kit.for_all(_drr_cases(long=True), lambda case: _judge_drr(fn, case), examples=12)
    kit.for_all(_drr_cases(long=False), lambda case: _judge_drr(fn, case, exact=True))  # … then the exact order
    return ("serves every request once, in order; shares of the work follow the weights within 5 % under "
            "backlog; every tenant gets its turn; the exact deficit-round-robin order")


# --- Task 3: Jain's index ----------------------------------------------------------------------


def _judge_jain(fn: Callable[..., Any], xs: list[float]) -> None:
    doing = f"jain({xs})"
    got = kit.call(fn, list(xs), doing=doing)
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        raise kit.CheckFailed(f"{doing} returned {kit.show(got)}: Jain's index is a number")
    want = sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))
    if not math.isclose(got, want, rel_tol=1e-9):
        laws = ""
        if len(set(xs)) == 1:
            laws = " — equal shares must give exactly 1"
        elif sum(1 for x in xs if x > 0) == 1:
            laws = f" — one winner of {len(xs)} must give 1/{len(xs)}"
        raise kit.CheckFailed(f"{doing} should be (Σx)² / (n·Σx²) = {want:.6g}, got {got!r}{laws}")


def check_jain(ns: Mapping[str, Any]) -> str:
    fn = kit.function(ns, "jain")
    _uses_the_package(fn, {"jain_index"}, "jain")
    for xs in ([3.0, 3.0, 3.0, 3.0], [5.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [9.0, 1.0]):
        _judge_jain(fn, xs)
    try:
        got = fn([])
    except ValueError:
        pass
    except NotImplementedError:
        raise kit.not_done("jain") from None
    except Exception as error:  # noqa: BLE001 - any defect in student code is a verdict
        raise kit.CheckFailed(f"jain([]) raised {kit.describe_exception(error)}: with no tenants the index is undefined — raise ValueError") from None
    else:
        raise kit.CheckFailed(f"jain([]) returned {kit.show(got)}: with no tenants the index is undefined — raise ValueError")
    allocations = st.lists(st.integers(0, 1000).map(lambda n: n / 8), min_size=1, max_size=12).filter(lambda xs: any(xs))
    kit.for_all(allocations, lambda xs: _judge_jain(fn, xs))
    return "1 for equal shares, 1/n for one winner, (Σx)² / (n·Σx²) on every generated allocation, ValueError for none"


EXERCISE = Exercise(
    slug="06_rate_limiting_and_fairness",
    title="06 · Rate Limiting and Fairness",
    tasks=(
        Task("t1", "Write the token-bucket step", 4, ("token_bucket_step",), check_token_bucket_step),
        Task("t2", "Schedule by deficit round robin", 4, ("drr_order",), check_drr_order),
        Task("t3", "Compute Jain's index", 2, ("jain",), check_jain),
    ),
)
