"""Retry and timeout policies: schedules as tables, jitter bounds, the retry rules, on virtual time."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    ATTEMPT,
    CANCELLED,
    GIVE_UP,
    WAIT,
    ConstantBackoff,
    Err,
    ErrInfo,
    ExponentialBackoff,
    Ok,
    Result,
    RetryBudget,
    RetryPolicy,
    Simulation,
    Trace,
    apply_jitter,
    async_gather,
    async_lift,
    async_pure,
    async_retry,
    async_timeout,
    backoff_delay,
    delay_schedule,
    is_retryable,
    schedule_table,
)
from funcpipe_async.plan import AsyncPlan

UNAVAILABLE = ErrInfo("UNAVAILABLE", "503 from upstream", retryable=True)
INVALID = ErrInfo("INVALID", "400: bad request", retryable=False)


class Flaky:
    """A scripted dependency: each call takes ``work`` seconds and returns the next scripted
    result (the last one repeats); ``calls`` records the virtual time of every call."""

    def __init__(self, script: list[Result[str, ErrInfo]], work: float = 0.5) -> None:
        self.script = script
        self.work = work
        self.calls: list[float] = []

    def plan(self) -> AsyncPlan[str]:
        async def call() -> Result[str, ErrInfo]:
            self.calls.append(asyncio.get_running_loop().time())
            await asyncio.sleep(self.work)
            return self.script[min(len(self.calls), len(self.script)) - 1]

        return async_lift(call)


def fails_then_ok(k: int, error: ErrInfo = UNAVAILABLE) -> list[Result[str, ErrInfo]]:
    return [Err(error)] * k + [Ok("data")]


# --- schedules are pure data --------------------------------------------------------------


def test_exponential_schedule_doubles_then_caps() -> None:
    policy = RetryPolicy(max_attempts=8, backoff=ExponentialBackoff(initial=1, factor=2, cap=10))
    assert delay_schedule(policy) == (1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0)


def test_constant_schedule() -> None:
    assert delay_schedule(RetryPolicy(max_attempts=4, backoff=ConstantBackoff(0.25))) == (0.25, 0.25, 0.25)


def test_one_attempt_has_no_waits() -> None:
    assert delay_schedule(RetryPolicy(max_attempts=1)) == ()


def test_schedule_table() -> None:
    policy = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=0.5, factor=3, cap=5))
    assert schedule_table(policy) == "\n".join(
        [
            "attempt  wait before (s)  earliest start (s)",
            "-------  ---------------  ------------------",
            "1        -                0",
            "2        0.500            0.500",
            "3        1.500            2",
            "4        4.500            6.500",
            "5        5                11.500",
        ]
    )


def test_huge_retry_numbers_hit_the_cap_without_overflow() -> None:
    assert backoff_delay(ExponentialBackoff(initial=1, factor=10, cap=60), 5000) == 60.0


@given(st.integers(1, 60), st.floats(0.01, 10), st.floats(1, 4), st.floats(10, 100))
def test_exponential_delay_is_monotone_and_capped(retry: int, initial: float, factor: float, cap: float) -> None:
    backoff = ExponentialBackoff(initial=initial, factor=factor, cap=cap)
    delay = backoff_delay(backoff, retry)
    assert delay <= cap
    assert delay <= backoff_delay(backoff, retry + 1)
    if retry == 1:
        assert delay == initial


@given(st.floats(0, 1e4), st.integers(0, 2**32))
def test_full_jitter_stays_within_zero_and_the_delay(delay: float, seed: int) -> None:
    assert 0.0 <= apply_jitter(delay, "full", random.Random(seed)) <= delay


@given(st.floats(0, 1e4), st.integers(0, 2**32))
def test_equal_jitter_stays_within_half_and_the_delay(delay: float, seed: int) -> None:
    assert delay / 2 <= apply_jitter(delay, "equal", random.Random(seed)) <= delay


def test_jittered_schedule_is_reproducible_from_the_seed() -> None:
    policy = RetryPolicy(max_attempts=6, jitter="full")
    first = delay_schedule(policy, random.Random(11))
    assert first == delay_schedule(policy, random.Random(11))
    assert first != delay_schedule(policy, random.Random(12))
    assert all(0 <= d <= cap for d, cap in zip(first, delay_schedule(RetryPolicy(max_attempts=6)), strict=True))


def test_jitter_without_an_rng_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"pass rng=random.Random\(seed\)"):
        delay_schedule(RetryPolicy(jitter="equal"))
    with pytest.raises(TypeError, match=r"pass rng=random.Random\(seed\)"):
        async_retry(async_pure(1), RetryPolicy(jitter="full"))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RetryPolicy(max_attempts=0), "max_attempts must be an int >= 1"),
        (lambda: RetryPolicy(max_attempts=2.5), "max_attempts must be an int >= 1"),
        (lambda: RetryPolicy(backoff=3), "backoff must be ConstantBackoff"),
        (lambda: RetryPolicy(jitter="lots"), "jitter must be one of"),
        (lambda: RetryPolicy(retry_on={"X"}), "retry_on must be None or a frozenset"),
        (lambda: RetryPolicy(attempt_timeout=0), "attempt_timeout must be > 0"),
        (lambda: RetryPolicy(deadline=float("inf")), "deadline must be a finite number"),
        (lambda: ExponentialBackoff(initial=5, cap=1), "cap .* must be >= initial"),
        (lambda: ExponentialBackoff(factor=0.5), "factor must be a number >= 1"),
        (lambda: ConstantBackoff(-1), "delay must be >= 0"),
        (lambda: RetryBudget(ratio=2), "ratio must be a number in"),
        (lambda: async_timeout(async_pure(1), -1), "seconds must be > 0"),
        (lambda: async_retry(async_pure(1), "3 times"), "needs a RetryPolicy"),
        (lambda: async_retry(42, RetryPolicy()), "needs an AsyncPlan"),
    ],
)
def test_bad_arguments_are_clear_errors(build: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_policies_are_frozen_values() -> None:
    policy = RetryPolicy(max_attempts=4)
    assert policy == RetryPolicy(max_attempts=4)
    with pytest.raises(AttributeError):
        policy.max_attempts = 9  # type: ignore[misc]


def test_retry_on_codes_overrides_the_flag() -> None:
    policy = RetryPolicy(retry_on=frozenset({"INVALID"}))
    assert is_retryable(policy, INVALID)
    assert not is_retryable(policy, UNAVAILABLE)
    assert is_retryable(RetryPolicy(), UNAVAILABLE) and not is_retryable(RetryPolicy(), INVALID)


# --- the retry rules, on virtual time -----------------------------------------------------


def test_a_flaky_call_succeeds_after_the_scheduled_waits() -> None:
    flaky = Flaky(fails_then_ok(2))
    sim = Simulation()
    policy = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, factor=2, cap=60))
    assert sim.run(async_retry(flaky.plan(), policy)) == Ok("data")
    assert flaky.calls == [0.0, 1.5, 4.0]  # work 0.5, wait 1; work 0.5, wait 2
    assert sim.now == 4.5


@given(st.integers(0, 7), st.integers(1, 8))
def test_attempts_never_exceed_max_and_stop_at_the_first_ok(failures: int, max_attempts: int) -> None:
    flaky = Flaky(fails_then_ok(failures), work=0.1)
    policy = RetryPolicy(max_attempts=max_attempts, backoff=ConstantBackoff(1))
    result = Simulation().run(async_retry(flaky.plan(), policy))
    assert len(flaky.calls) == min(failures + 1, max_attempts)
    assert result == (Ok("data") if failures < max_attempts else Err(UNAVAILABLE))


@given(st.integers(0, 6))
def test_one_attempt_equals_the_plan_itself(failures: int) -> None:
    alone, retried = Flaky(fails_then_ok(failures)), Flaky(fails_then_ok(failures))
    sim_a, sim_b = Simulation(), Simulation()
    a = sim_a.run(alone.plan())
    b = sim_b.run(async_retry(retried.plan(), RetryPolicy(max_attempts=1)))
    assert (a, alone.calls, sim_a.now) == (b, retried.calls, sim_b.now)


def test_a_non_retryable_error_stops_at_once() -> None:
    flaky = Flaky([Err(INVALID), Ok("never reached")])
    trace = Trace()
    result = Simulation().run(async_retry(flaky.plan(), RetryPolicy(max_attempts=5), trace=trace, name="save"))
    assert result == Err(INVALID)
    assert len(flaky.calls) == 1
    assert [(e.kind, dict(e.data)) for e in trace.of_kind(GIVE_UP)] == [
        (GIVE_UP, {"attempts": 1, "reason": "not retryable"})
    ]
    assert trace.of_kind(WAIT) == []


def test_exceptions_are_defects_and_never_retried() -> None:
    calls: list[int] = []

    async def broken() -> Result[int, ErrInfo]:
        calls.append(1)
        raise ZeroDivisionError("a bug, not an outage")

    with pytest.raises(ZeroDivisionError, match="a bug"):
        Simulation().run(async_retry(async_lift(broken), RetryPolicy(max_attempts=5)))
    assert calls == [1]


def test_cancellation_is_never_retried() -> None:
    """Cancel a retrying call from outside in the middle of attempt 2: it must stop, not
    start attempt 3, and the CancelledError must reach the canceller."""
    flaky = Flaky(fails_then_ok(10), work=5)
    sim = Simulation()
    trace = Trace(clock=sim.clock)
    plan = async_retry(flaky.plan(), RetryPolicy(max_attempts=10, backoff=ConstantBackoff(1)), trace=trace, name="call")

    async def canceller() -> str:
        task = asyncio.ensure_future(plan())
        await asyncio.sleep(7)  # attempt 1: 0–5, wait 5–6, attempt 2 from 6
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return f"cancelled at {asyncio.get_running_loop().time()}"
        return "not cancelled"

    assert sim.run(canceller()) == "cancelled at 7.0"
    assert flaky.calls == [0.0, 6.0]
    assert [e.data["attempt"] for e in trace.of_kind(ATTEMPT)] == [1, 2]
    assert [dict(e.data) for e in trace.of_kind(CANCELLED)] == [{"attempt": 2}]
    sim.run(asyncio.sleep(100))  # nothing resumes later either
    assert len(flaky.calls) == 2


def test_cancellation_during_a_wait_is_not_retried_either() -> None:
    flaky = Flaky(fails_then_ok(10), work=1)
    trace = Trace()
    plan = async_retry(flaky.plan(), RetryPolicy(max_attempts=10, backoff=ConstantBackoff(30)), trace=trace)

    async def outer() -> str:
        try:
            async with asyncio.timeout(10):
                await plan()
        except TimeoutError:
            return "outer timeout"
        return "finished"

    assert Simulation().run(outer()) == "outer timeout"
    assert len(flaky.calls) == 1
    assert [dict(e.data) for e in trace.of_kind(CANCELLED)] == [{"attempt": 2, "during": "wait"}]


def test_an_attempt_timeout_cancels_the_attempt_and_retries() -> None:
    cleaned: list[float] = []
    calls: list[float] = []

    async def slow_then_fast() -> Result[str, ErrInfo]:
        loop = asyncio.get_running_loop()
        calls.append(loop.time())
        try:
            await asyncio.sleep(100 if len(calls) == 1 else 1)
            return Ok("fast enough")
        finally:
            cleaned.append(loop.time())

    async def scenario() -> tuple[Result[str, ErrInfo], int]:
        policy = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(2), attempt_timeout=5)
        result = await async_retry(async_lift(slow_then_fast), policy)()
        return result, len(asyncio.all_tasks())

    result, tasks_alive = Simulation().run(scenario())
    assert result == Ok("fast enough")
    assert calls == [0.0, 7.0]
    assert cleaned == [5.0, 8.0]  # attempt 1 was cancelled at its timeout: its finally ran then
    assert tasks_alive == 1  # only the caller: the timeout left no task behind


def test_async_timeout_returns_a_retryable_err_and_leaves_no_task() -> None:
    started: list[int] = []
    cleaned: list[int] = []

    def slow(i: int) -> AsyncPlan[int]:
        async def run() -> Result[int, ErrInfo]:
            started.append(i)
            try:
                await asyncio.sleep(60)
                return Ok(i)
            finally:
                cleaned.append(i)

        return async_lift(run)

    async def scenario() -> tuple[Result[list[int], ErrInfo], int]:
        plan = async_timeout(async_gather([slow(i) for i in range(6)], concurrency=3), 2.5, name="batch")
        return await plan(), len(asyncio.all_tasks())

    result, alive = Simulation().run(scenario())
    assert result == Err(ErrInfo("TIMEOUT", "batch gave no result within 2.500s", retryable=True))
    assert sorted(started) == sorted(cleaned) == [0, 1, 2]
    assert alive == 1


def test_async_timeout_passes_a_result_through() -> None:
    assert Simulation().run(async_timeout(Flaky([Ok("x")], work=1).plan(), 5)) == Ok("x")


def test_async_timeout_does_not_swallow_the_plans_own_timeout_error() -> None:
    async def raises() -> Result[int, ErrInfo]:
        raise TimeoutError("the plan's own")

    with pytest.raises(TimeoutError, match="the plan's own"):
        Simulation().run(async_timeout(async_lift(raises), 5))


def test_the_deadline_cancels_the_running_attempt() -> None:
    flaky = Flaky(fails_then_ok(10), work=4)
    trace = Trace()
    policy = RetryPolicy(max_attempts=10, backoff=ConstantBackoff(1), deadline=12)
    sim = Simulation()
    result = sim.run(async_retry(flaky.plan(), policy, trace=trace, name="fetch"))
    assert result == Err(
        ErrInfo(
            "DEADLINE_EXCEEDED",
            "fetch: no success within the 12s deadline (3 attempts; last error: UNAVAILABLE)",
            retryable=False,
        )
    )
    assert flaky.calls == [0.0, 5.0, 10.0]
    assert sim.now == 12.0
    assert [dict(e.data) for e in trace.of_kind(CANCELLED)] == [{"attempt": 3}]


def test_no_wait_is_started_that_would_end_past_the_deadline() -> None:
    flaky = Flaky(fails_then_ok(10), work=1)
    trace = Trace()
    policy = RetryPolicy(max_attempts=10, backoff=ExponentialBackoff(initial=2, factor=2, cap=60), deadline=10)
    sim = Simulation()
    result = sim.run(async_retry(flaky.plan(), policy, trace=trace))
    assert result == Err(UNAVAILABLE)
    # attempts 0–1, 3–4, 8–9 (waits 2 and 4); the next wait, 8 s, would end at 17 > 10
    assert flaky.calls == [0.0, 3.0, 8.0]
    assert [dict(e.data)["reason"] for e in trace.of_kind(GIVE_UP)] == ["next wait ends past the deadline"]
    assert sim.now == 9.0  # gave up at once instead of sleeping into the deadline


def test_retry_budget_limits_retries_across_calls() -> None:
    budget = RetryBudget(ratio=0.1, reserve=2)
    down = [Flaky([Err(UNAVAILABLE)], work=0.1) for _ in range(50)]
    policy = RetryPolicy(max_attempts=5, backoff=ConstantBackoff(1))

    async def storm() -> list[Result[str, ErrInfo]]:
        calls = [async_retry(d.plan(), policy, budget=budget)() for d in down]
        return list(await asyncio.gather(*calls))  # every call runs to its own end

    results = Simulation().run(storm())
    assert results == [Err(UNAVAILABLE)] * 50
    total = sum(len(d.calls) for d in down)
    assert budget.calls == 50
    assert budget.retries == 7  # 2 in reserve + 0.1 per call for 50 calls
    assert total == 50 + 7  # without the budget: 250
    # every call is refused exactly once: that refusal is where it gives up
    assert repr(budget) == "RetryBudget(ratio=0.1, reserve=2: calls=50, retries=7, refused=50)"


def test_each_drive_is_a_fresh_call() -> None:
    flaky = Flaky([Err(UNAVAILABLE), Ok("a"), Err(UNAVAILABLE), Ok("b")], work=0)
    plan = async_retry(flaky.plan(), RetryPolicy(max_attempts=2, backoff=ConstantBackoff(1)))
    sim = Simulation()
    assert (sim.run(plan), sim.run(plan)) == (Ok("a"), Ok("b"))


def test_retry_trace_is_identical_across_runs() -> None:
    def run_once() -> list[tuple[float, str, str, dict[str, object]]]:
        sim = Simulation(seed=5)
        plans = [
            async_retry(
                Flaky(fails_then_ok(i % 4)).plan(),
                RetryPolicy(max_attempts=4, jitter="full"),
                rng=sim.rng,
                trace=sim.trace,
                name=f"call-{i}",
            )
            for i in range(8)
        ]
        sim.run(async_gather(plans, concurrency=4))
        return [(e.time, e.kind, e.name, dict(e.data)) for e in sim.trace.events]

    first = run_once()
    assert first == run_once()
    assert len(first) > 8 * 2


def test_policy_repr_is_the_same_under_any_hash_seed() -> None:
    """``retry_on`` prints sorted: a frozenset's own order depends on PYTHONHASHSEED."""
    import subprocess
    import sys

    code = (
        "from funcpipe_async import RetryPolicy;"
        "print(RetryPolicy(retry_on=frozenset({'TIMEOUT', 'HTTP_503', 'HTTP_429', 'RESET'})))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], env={"PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert outputs == {
        "RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=1.0, factor=2.0, cap=30.0), "
        "jitter='none', retry_on=frozenset({'HTTP_429', 'HTTP_503', 'RESET', 'TIMEOUT'}), "
        "attempt_timeout=None, deadline=None)\n"
    }
    assert eval(repr(RetryPolicy(retry_on=frozenset({"A", "B"}))), vars(__import__("funcpipe_async"))) == RetryPolicy(
        retry_on=frozenset({"A", "B"})
    )
