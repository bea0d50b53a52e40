"""Rate limits: the bucket laws on generated arrivals, the async limiters on virtual time."""

from __future__ import annotations

import asyncio
import math
from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from aiolimiter import AsyncLimiter
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    AsyncRateLimiter,
    Decision,
    KeyedLimiter,
    LeakyBucket,
    LeakyState,
    Simulation,
    TokenBucket,
    TokenState,
    bucket_arrivals,
    bucket_bursts,
    bucket_rates,
    leaky_bucket_step,
    max_window_cost,
    run_bucket,
    token_bucket_step,
)


@st.composite
def bucket_cases(draw: st.DrawFn) -> tuple[Any, float, float, list[tuple[float, float]]]:
    rate, burst = draw(bucket_rates()), draw(bucket_bursts())
    bucket = TokenBucket(rate, burst) if draw(st.booleans()) else LeakyBucket(rate, burst)
    return bucket, rate, burst, draw(bucket_arrivals(burst))


def admitted(bucket: Any, seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [a for a, d in zip(seq, run_bucket(bucket, seq)) if d.admitted]


@given(case=bucket_cases(), window=st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5, 10.0]))
def test_window_law_never_more_than_rate_times_window_plus_burst(case: Any, window: float) -> None:
    bucket, rate, burst, seq = case
    assert max_window_cost(admitted(bucket, seq), window) <= rate * window + burst + 1e-6


@given(rate=bucket_rates(), burst=bucket_bursts(), data=st.data())
def test_token_and_leaky_buckets_make_the_same_decisions(rate: float, burst: float, data: st.DataObject) -> None:
    seq = data.draw(bucket_arrivals(burst))
    token = [d.admitted for d in run_bucket(TokenBucket(rate, burst), seq)]
    leaky = [d.admitted for d in run_bucket(LeakyBucket(rate, burst), seq)]
    assert token == leaky


@given(case=bucket_cases())
def test_the_wait_is_exact_waiting_it_admits_and_less_does_not(case: Any) -> None:
    bucket, _, _, seq = case
    state = bucket.initial(0.0)
    for now, cost in seq:
        now = max(now, getattr(state, "updated", now))
        decision, after = bucket.step(state, now, cost)
        if not decision.admitted:
            assert bucket.step(after, now + decision.wait, cost)[0].admitted
            if decision.wait > 1e-6:
                assert not bucket.step(after, now + decision.wait * 0.99, cost)[0].admitted
        state = after


def test_a_full_bucket_admits_one_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    decisions = run_bucket(bucket, [(0.0, 1)] * 4 + [(0.5, 1), (0.5, 1)])
    assert [d.admitted for d in decisions] == [True, True, True, False, True, False]
    assert decisions[3] == Decision(False, 0.5)


def test_step_is_pure_and_states_are_frozen() -> None:
    bucket, state = TokenBucket(1, 2), TokenState(2.0, 0.0)
    assert token_bucket_step(bucket, state, 1.0, 1) == token_bucket_step(bucket, state, 1.0, 1)
    assert state == TokenState(2.0, 0.0)
    with pytest.raises(FrozenInstanceError):
        state.tokens = 5  # type: ignore[misc]
    leaky = LeakyBucket(1, 2)
    assert leaky_bucket_step(leaky, LeakyState(0.0), 0.0, 2) == (Decision(True), LeakyState(2.0))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TokenBucket(0, 1), "TokenBucket.rate must be > 0"),
        (lambda: TokenBucket(1, -1), "TokenBucket.burst must be > 0"),
        (lambda: LeakyBucket(-2, 1), "LeakyBucket.rate must be > 0"),
        (lambda: TokenBucket(1, 2).step(TokenState(2, 0), 0, 3), "more than the burst 2"),
        (lambda: LeakyBucket(1, 2).step(LeakyState(0), 0, 0), "cost must be > 0"),
        (lambda: TokenBucket(1, 2).step(TokenState(2, 5), 4, 1), "time went backwards"),
    ],
)
def test_clear_errors(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_bucket_needs_numbers() -> None:
    with pytest.raises(TypeError, match="finite number"):
        TokenBucket("10", 1)  # type: ignore[arg-type]


# --- async limiters on virtual time -------------------------------------------------------------


async def _admit_times(limiter: AsyncRateLimiter[Any], costs: list[float]) -> list[float]:
    loop = asyncio.get_running_loop()
    times = []
    for cost in costs:
        await limiter.acquire(cost)
        times.append(loop.time())
    return times


def test_async_limiter_admits_at_the_exact_virtual_instants() -> None:
    times = Simulation().run(_admit_times(AsyncRateLimiter(TokenBucket(rate=4, burst=2)), [1] * 6))
    assert times == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0]


def test_async_limiter_rejects_impossible_costs_at_once() -> None:
    async def ask() -> None:
        await AsyncRateLimiter(TokenBucket(1, 2)).acquire(3)

    with pytest.raises(ValueError, match=r"cost must be a number in \(0, 2\]"):
        Simulation().run(ask())


def _starvation(limiter_factory: Any, small_clients: int, big: float, horizon: float) -> tuple[float | None, int, int]:
    """Small clients acquire cost 1 back to back; at t=1 a request of ``big`` arrives.
    Returns (its wait or None if never admitted by ``horizon``, the cost queued ahead of it, small admissions)."""

    async def scenario() -> tuple[float | None, int, int]:
        limiter = limiter_factory()
        loop = asyncio.get_running_loop()
        smalls = [0]
        waited: list[float] = []

        async def small() -> None:
            while True:
                await limiter.acquire(1)
                smalls[0] += 1

        async def large() -> None:
            start = loop.time()
            await limiter.acquire(big)
            waited.append(loop.time() - start)

        tasks = [asyncio.ensure_future(small()) for _ in range(small_clients)]
        await asyncio.sleep(1)
        ahead = getattr(limiter, "waiting", 0)
        task = asyncio.ensure_future(large())
        await asyncio.sleep(horizon)
        for t in [*tasks, task]:
            t.cancel()
        return (waited[0] if waited else None), ahead, smalls[0]

    return Simulation().run(scenario())


@pytest.mark.parametrize("bucket", [TokenBucket(rate=8, burst=8), LeakyBucket(rate=8, capacity=8)], ids=repr)
@pytest.mark.parametrize("clients", [1, 3, 7])
def test_no_starvation_of_large_requests_within_the_fifo_bound(bucket: Any, clients: int) -> None:
    waited, ahead, smalls = _starvation(lambda: AsyncRateLimiter(bucket), clients, 8, 60)
    bound = (ahead * 1 + 8) / bucket.rate  # (Q + c) / rate: everything ahead of it, then itself
    assert waited is not None and waited <= bound + 1e-9, (waited, bound)
    assert smalls > 400  # the small clients keep going too


def test_aiolimiter_starves_a_large_request_behind_small_ones() -> None:
    """The lesson's claim about the pinned aiolimiter: its min-heap of waiters lets small
    requests overtake a large one forever.  If this fails, aiolimiter changed: update lesson 06."""
    waited, _, smalls = _starvation(lambda: AsyncLimiter(8, 1), 1, 8, 120)
    assert waited is None and smalls > 900


def test_a_cancelled_waiter_hands_its_turn_on() -> None:
    async def scenario() -> list[str]:
        limiter = AsyncRateLimiter(TokenBucket(rate=1, burst=2))
        log: list[str] = []
        await limiter.acquire(2)

        async def ask(name: str, cost: float) -> None:
            await limiter.acquire(cost)
            log.append(f"{name} at {asyncio.get_running_loop().time():g}")

        first = asyncio.ensure_future(ask("first", 2))
        second = asyncio.ensure_future(ask("second", 1))
        await asyncio.sleep(0.5)
        first.cancel()
        await asyncio.sleep(5)
        second.cancel()
        return log + [f"waiting {limiter.waiting}"]

    assert Simulation().run(scenario()) == ["second at 1", "waiting 0"]


def test_async_with_acquires_one() -> None:
    async def scenario() -> list[tuple[float, float]]:
        limiter = AsyncRateLimiter(LeakyBucket(rate=2, capacity=1))
        for _ in range(3):
            async with limiter:
                pass
        return limiter.admitted

    assert Simulation().run(scenario()) == [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]


def test_per_key_limits_are_independent() -> None:
    async def scenario() -> dict[str, list[float]]:
        keyed = KeyedLimiter(TokenBucket(rate=1, burst=1), overrides={"gold": TokenBucket(rate=10, burst=5)})
        loop = asyncio.get_running_loop()
        seen: dict[str, list[float]] = {}

        async def client(key: str, n: int) -> None:
            for _ in range(n):
                await keyed.acquire(key)
                seen.setdefault(key, []).append(loop.time())

        tasks = [asyncio.ensure_future(client(k, 4)) for k in ("noisy", "quiet", "gold")]
        await asyncio.gather(*tasks)
        assert keyed.keys() == ["noisy", "quiet", "gold"]
        return seen

    seen = Simulation().run(scenario())
    assert seen["noisy"] == seen["quiet"] == [0.0, 1.0, 2.0, 3.0]  # the same as if alone
    assert seen["gold"] == [0.0, 0.0, 0.0, 0.0]


@given(hammer=st.integers(0, 50))
def test_one_key_hammering_never_changes_another_keys_admissions(hammer: int) -> None:
    async def scenario() -> list[float]:
        keyed = KeyedLimiter(TokenBucket(rate=2, burst=2))
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def noisy() -> None:
            for _ in range(hammer):
                await keyed.acquire("noisy")

        async def quiet() -> None:
            for _ in range(5):
                await keyed.acquire("quiet")
                times.append(loop.time())

        await asyncio.gather(noisy(), quiet())
        return times

    assert Simulation().run(scenario()) == [0.0, 0.0, 0.5, 1.0, 1.5]


def test_max_window_cost_counts_a_closed_window() -> None:
    assert max_window_cost([(0.0, 1), (1.0, 1), (2.0, 1), (2.5, 3)], 1.0) == 4
    assert max_window_cost([], 1.0) == 0
    assert math.isclose(max_window_cost([(0.0, 0.5)], 0.0), 0.5)
