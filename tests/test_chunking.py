"""Batching by size or time (whichever first), and batch calls in input order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    BatchPolicy,
    BatchState,
    Err,
    ErrInfo,
    Flush,
    Ok,
    Simulation,
    async_lift,
    batch_calls,
    batch_due,
    batch_offer,
    batch_schedule,
    batch_tick,
)
from funcpipe_async.plan import AsyncPlan

policies = st.builds(BatchPolicy, st.integers(1, 6), st.sampled_from([0, 0.5, 1.0, 2.0, 5.0]))
gaps = st.lists(st.sampled_from([0, 0, 0.25, 0.5, 1.0, 3.0, 10.0]), max_size=40)


def arrivals_from(deltas: list[float]) -> list[float]:
    times, now = [], 0.0
    for delta in deltas:
        now += delta
        times.append(now)
    return times


@given(policies, gaps)
def test_size_no_batch_holds_more_than_max_size(policy: BatchPolicy, deltas: list[float]) -> None:
    assert all(1 <= len(f.items) <= policy.max_size for f in batch_schedule(policy, arrivals_from(deltas)))


@given(policies, gaps)
def test_time_no_item_waits_longer_than_max_wait(policy: BatchPolicy, deltas: list[float]) -> None:
    arrivals = arrivals_from(deltas)
    for flush in batch_schedule(policy, arrivals):
        assert all(0 <= flush.at - arrivals[i] <= policy.max_wait for i in flush.items)


@given(policies, gaps)
def test_order_flattened_batches_are_the_items_in_arrival_order(policy: BatchPolicy, deltas: list[float]) -> None:
    flushes = batch_schedule(policy, arrivals_from(deltas))
    assert [i for f in flushes for i in f.items] == list(range(len(deltas)))
    assert [f.at for f in flushes] == sorted(f.at for f in flushes)


@given(policies, gaps)
def test_a_batch_flushes_by_time_only_when_its_first_item_has_waited_max_wait(
    policy: BatchPolicy, deltas: list[float]
) -> None:
    arrivals = arrivals_from(deltas)
    for flush in batch_schedule(policy, arrivals):
        if flush.reason == "time":
            assert flush.at == arrivals[flush.items[0]] + policy.max_wait
        else:
            assert flush.reason == "size" and len(flush.items) == policy.max_size


def test_no_idle_singleton_an_item_after_a_quiet_period_waits_for_company() -> None:
    policy = BatchPolicy(max_size=3, max_wait=1.0)
    # a, b at t=0 flush by time at 1; then silence; c at 100, d at 100.5, e at 100.6 → one batch by size
    flushes = batch_schedule(policy, [0, 0, 100, 100.5, 100.6])
    assert flushes == [Flush((0, 1), 1.0, "time"), Flush((2, 3, 4), 100.6, "size")]


def test_the_state_machine_step_by_step() -> None:
    policy = BatchPolicy(max_size=2, max_wait=1.5)
    flushed, state = batch_offer(policy, BatchState(), "a", 10.0)
    assert flushed is None and state == BatchState(("a",), 10.0) and batch_due(policy, state) == 11.5
    assert batch_tick(policy, state, 11.4) == (None, state)
    assert batch_tick(policy, state, 12.0) == (Flush(("a",), 11.5, "time"), BatchState())
    flushed, state = batch_offer(policy, state, "b", 11.0)
    assert flushed == Flush(("a", "b"), 11.0, "size") and state == BatchState()
    assert batch_due(policy, BatchState()) is None


def test_end_flushes_what_is_open_when_the_input_ends_before_the_deadline() -> None:
    policy = BatchPolicy(max_size=10, max_wait=5.0)
    assert batch_schedule(policy, [0, 1], end=2) == [Flush((0, 1), 2, "end")]
    assert batch_schedule(policy, [0, 1], end=9) == [Flush((0, 1), 5.0, "time")]
    assert batch_schedule(policy, []) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_size": 0, "max_wait": 1}, "max_size"),
        ({"max_size": True, "max_wait": 1}, "max_size"),
        ({"max_size": 2, "max_wait": -1}, "max_wait"),
        ({"max_size": 2, "max_wait": float("inf")}, "max_wait"),
        ({"max_size": 2, "max_wait": float("nan")}, "max_wait"),
    ],
)
def test_policy_is_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchPolicy(**kwargs)


def test_schedule_rejects_time_going_backwards() -> None:
    with pytest.raises(ValueError, match="must not decrease"):
        batch_schedule(BatchPolicy(2, 1), [1, 0])
    with pytest.raises(ValueError, match="before the last arrival"):
        batch_schedule(BatchPolicy(2, 1), [0, 3], end=1)


class SlowBatches:
    """A batch capability on virtual time: 1 s per call + 0.1 s per item, counting calls in flight."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, ...]] = []
        self.in_flight = 0
        self.peak = 0

    def call(self, batch: tuple[int, ...]) -> AsyncPlan[Sequence[int]]:
        async def run() -> Any:
            self.calls.append(batch)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(1 + 0.1 * len(batch) + (0.5 if batch and batch[0] % 3 == 0 else 0))
            finally:
                self.in_flight -= 1
            return Ok([10 * x for x in batch])

        return async_lift(run)


@given(st.lists(st.integers(0, 99), max_size=30), st.integers(1, 7), st.integers(1, 4))
def test_batch_calls_keep_input_order_and_bound_concurrency(items: list[int], size: int, concurrency: int) -> None:
    embedder = SlowBatches()
    result = Simulation().run(batch_calls(items, embedder.call, size=size, concurrency=concurrency))
    assert result == Ok([10 * x for x in items])
    assert all(len(batch) <= size for batch in embedder.calls)
    assert len(embedder.calls) == -(-len(items) // size)
    assert embedder.peak <= concurrency


def test_batch_calls_reject_a_result_of_the_wrong_length_and_bad_arguments() -> None:
    short = batch_calls(
        [1, 2, 3], lambda batch: async_lift(lambda: asyncio.sleep(0, result=Ok(batch[:-1]))), size=2, concurrency=1
    )
    result = Simulation().run(short)
    assert isinstance(result, Err) and result.error.code == "BATCH_SIZE_MISMATCH"
    assert "a batch of 2 items came back with 1 results" in result.error.message
    with pytest.raises(ValueError, match="size"):
        batch_calls([1], lambda b: async_lift(lambda: asyncio.sleep(0, result=Ok(list(b)))), size=0, concurrency=1)
    with pytest.raises(TypeError):
        batch_calls([1], 3, size=1, concurrency=1)  # type: ignore[arg-type]


def test_batch_calls_fail_with_the_first_err() -> None:
    boom = ErrInfo("MODEL_DOWN", retryable=True)
    result = Simulation().run(
        batch_calls(
            [1, 2, 3, 4], lambda b: async_lift(lambda: asyncio.sleep(1, result=Err(boom))), size=2, concurrency=2
        )
    )
    assert result == Err(boom)


# --- Stream.batch: the state machine on a live stream, on virtual time --------------------------

from funcpipe_async import Resource, stream_from, stream_of  # noqa: E402


def arriving(deltas: list[float], resource: Resource | None = None) -> Any:
    async def source() -> Any:
        if resource is not None:
            resource.acquire()
        try:
            for index, delta in enumerate(deltas):
                await asyncio.sleep(delta)
                yield index
        finally:
            if resource is not None:
                resource.release()

    return stream_from(source)


@given(policies, gaps)
def test_stream_batch_makes_the_batches_batch_schedule_predicts(policy: BatchPolicy, deltas: list[float]) -> None:
    arrivals = arrivals_from(deltas)
    sim = Simulation()

    async def run() -> list[tuple[tuple[int, ...], float]]:
        seen = []
        async with aclosing(arriving(deltas).batch(policy).iterate()) as batches:
            async for batch in batches:
                seen.append((batch, asyncio.get_running_loop().time()))
        return seen

    expected = batch_schedule(policy, arrivals, end=arrivals[-1] if arrivals else None)
    assert sim.run(run()) == [(f.items, f.at) for f in expected]


def test_stream_batch_flattens_back_to_the_stream_and_closes_its_source_early() -> None:
    words = stream_of("a b c d e f g".split())
    plan = words.batch(BatchPolicy(3, 1.0)).flatten().to_list()
    assert Simulation().run(plan) == Simulation().run(words.to_list())
    resource = Resource("feed")
    sim = Simulation()

    async def first_batch() -> tuple[Any, int]:
        result = await arriving([1.0] * 100, resource).batch(BatchPolicy(4, 2.5)).take(1).to_list()()
        return result, resource.held

    assert sim.run(first_batch()) == (Ok([(0, 1, 2)]), 0)  # items at t=1, 2, 3; the deadline t=1+2.5 flushes them
    assert repr(words.batch(BatchPolicy(3, 0.5))).endswith(".batch(max_size=3, max_wait=0.5)")
    with pytest.raises(TypeError, match="BatchPolicy"):
        words.batch(3)  # type: ignore[arg-type]


def test_an_idle_stream_sends_no_singleton_when_items_come_back() -> None:
    deltas = [0, 0, 0, 50, 0.2, 0.2]  # three at t=0, silence, then three within 0.4 s
    sim = Simulation()
    plan = arriving(deltas).batch(BatchPolicy(3, 1.0)).to_list()
    assert sim.run(plan) == Ok([(0, 1, 2), (3, 4, 5)])


# --- pricing batches: BatchCost, serve_batches, BatchEmbedder ----------------------------------

from funcpipe_async import BatchCost, BatchEmbedder, Served, serve_batches  # noqa: E402


def test_serve_batches_queues_calls_on_the_replicas_free_first() -> None:
    cost = BatchCost(overhead=1.0, per_item=0.5)
    flushes = [Flush((0, 1), 0.0, "size"), Flush((2,), 0.5, "time"), Flush((3,), 5.0, "time")]
    arrivals = [0.0, 0.0, 0.0, 4.0]
    one = serve_batches(flushes, arrivals, cost)
    assert one == Served((2.0, 2.0, 3.5, 2.5), 3, 5.0)  # the second batch waits for the replica until t=2
    two = serve_batches(flushes, arrivals, cost, replicas=2)
    assert two.latencies == (2.0, 2.0, 2.0, 2.5) and two.busy == 5.0


@given(policies, gaps, st.integers(1, 3))
def test_served_latency_is_at_least_the_wait_in_the_batcher_plus_the_call(
    policy: BatchPolicy, deltas: list[float], replicas: int
) -> None:
    arrivals = arrivals_from(deltas)
    cost = BatchCost(0.2, 0.01)
    flushes = batch_schedule(policy, arrivals)
    served = serve_batches(flushes, arrivals, cost, replicas=replicas)
    assert served.calls == len(flushes)
    for flush in flushes:
        for i in flush.items:
            assert served.latencies[i] >= flush.at - arrivals[i] + cost.seconds(len(flush.items)) - 1e-9


def test_batch_embedder_takes_the_cost_on_virtual_time_and_answers_in_order() -> None:
    embedder = BatchEmbedder(BatchCost(0.2, 0.01))
    sim = Simulation()
    result = sim.run(batch_calls([f"t{i}" for i in range(10)], embedder.embed, size=4, concurrency=2))
    assert isinstance(result, Ok) and len(result.value) == 10
    assert embedder.calls == [4, 4, 2] and embedder.peak == 2
    assert sim.now == pytest.approx(0.24 + 0.22)  # two calls of 4 together, then the call of 2
    with pytest.raises(ValueError):
        BatchCost(-1, 0)
    with pytest.raises(TypeError):
        BatchEmbedder(0.2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        serve_batches([], [], BatchCost(0, 0), replicas=0)


# --- pull when free: the replicas take what is waiting (pull_schedule) ---------------------------

from funcpipe_async import pull_schedule  # noqa: E402


def test_pull_schedule_a_busy_replica_takes_everything_that_queued_up() -> None:
    cost = BatchCost(overhead=1.0, per_item=0.0)
    arrivals = [0.0, 0.2, 0.4, 0.6, 0.8, 5.0]
    flushes = pull_schedule(BatchPolicy(max_size=3, max_wait=0), arrivals, cost)
    # item 0 finds the replica idle and goes alone; items 1-4 queue during its call, and the
    # replica takes three of them at t=1 (size), the last at t=2 (free); item 5 arrives to an idle replica
    assert [(f.items, f.at, f.reason) for f in flushes] == [
        ((0,), 0.0, "free"),
        ((1, 2, 3), 1.0, "size"),
        ((4,), 2.0, "free"),
        ((5,), 5.0, "free"),
    ]


def test_pull_schedule_an_idle_replica_waits_max_wait_for_company() -> None:
    cost = BatchCost(overhead=1.0, per_item=0.0)
    flushes = pull_schedule(BatchPolicy(max_size=3, max_wait=0.5), [0.0, 0.1, 3.0, 3.1, 3.2], cost)
    assert [(f.items, f.at, f.reason) for f in flushes] == [((0, 1), 0.5, "time"), ((2, 3, 4), 3.2, "size")]


@given(policies, gaps, st.integers(1, 3))
def test_pull_schedule_keeps_size_and_order_and_starts_each_call_on_a_free_replica(
    policy: BatchPolicy, deltas: list[float], replicas: int
) -> None:
    arrivals = arrivals_from(deltas)
    cost = BatchCost(0.2, 0.01)
    flushes = pull_schedule(policy, arrivals, cost, replicas=replicas)
    assert all(1 <= len(f.items) <= policy.max_size for f in flushes)
    assert [i for f in flushes for i in f.items] == list(range(len(arrivals)))
    assert all(f.at >= arrivals[i] for f in flushes for i in f.items)
    served = serve_batches(flushes, arrivals, cost, replicas=replicas)
    for flush in flushes:  # priced by serve_batches, every call starts at its stamp: no replica was busy
        for i in flush.items:
            assert abs(served.latencies[i] - (flush.at + cost.seconds(len(flush.items)) - arrivals[i])) < 1e-9


@given(gaps)
def test_pull_schedule_with_no_wait_never_leaves_an_item_waiting_beside_an_idle_replica(deltas: list[float]) -> None:
    arrivals = arrivals_from(deltas)
    cost = BatchCost(0.2, 0.01)
    end = 0.0  # when the single replica comes free
    for flush in pull_schedule(BatchPolicy(max_size=4, max_wait=0), arrivals, cost):
        assert flush.at == max(end, arrivals[flush.items[0]])  # work-conserving
        end = flush.at + cost.seconds(len(flush.items))


def test_pull_schedule_checks_its_inputs() -> None:
    cost = BatchCost(0.2, 0.01)
    with pytest.raises(ValueError, match="replicas"):
        pull_schedule(BatchPolicy(2, 0), [0.0], cost, replicas=0)
    with pytest.raises(ValueError, match="must not decrease"):
        pull_schedule(BatchPolicy(2, 0), [1.0, 0.5], cost)
    assert pull_schedule(BatchPolicy(2, 0), [], cost) == []
