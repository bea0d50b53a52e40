"""Backpressure: bounded queues, overflow strategies, pipelines, the probe and Little's law.

One test is named after each invariant in the docstrings of ``funcpipe_async/queues.py`` and
``funcpipe_async/pipelines.py``.
Everything that waits runs on virtual time (``Simulation``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    Err,
    ErrInfo,
    Ok,
    Result,
    Simulation,
    Trace,
    async_fail,
    async_lift,
    async_pure,
)
from funcpipe_async.pipelines import PipelineReport, Stage, paced, pipeline
from funcpipe_async.queue_measures import depth_series, littles_law
from funcpipe_async.queues import DROP, ENQUEUE, OVERFLOWS, QUEUE_FULL, BoundedQueue, QueueClosed, QueuePolicy


def slow(seconds: float) -> Callable[[Any], Any]:
    """A step that takes ``seconds`` of the loop's clock and passes its item on."""

    def step(x: Any) -> Any:
        async def run() -> Result[Any, ErrInfo]:
            await asyncio.sleep(seconds)
            return Ok(x)

        return async_lift(run)

    step.__qualname__ = f"slow({seconds:g})"
    return step


def run(plan: Any, sim: Simulation | None = None) -> Any:
    return (sim or Simulation()).run(plan)


def report_of(result: Result[PipelineReport[Any], ErrInfo]) -> PipelineReport[Any]:
    assert isinstance(result, Ok), result
    return result.value


# --- data and validation ------------------------------------------------------------------


def test_queue_policy_is_frozen_data_with_a_readable_repr() -> None:
    policy = QueuePolicy(8, "drop_oldest")
    assert repr(policy) == "QueuePolicy(capacity=8, overflow='drop_oldest')"
    assert QueuePolicy.unbounded() == QueuePolicy(None)
    assert not QueuePolicy.unbounded().bounded and policy.bounded
    with pytest.raises(AttributeError):
        policy.capacity = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: QueuePolicy(0), ValueError, "capacity must be at least 1, got capacity=0"),
        (lambda: QueuePolicy(-3), ValueError, "capacity must be at least 1"),
        (lambda: QueuePolicy(2.5), TypeError, "capacity must be an int"),  # type: ignore[arg-type]
        (lambda: QueuePolicy(4, "block"), ValueError, "unknown overflow strategy 'block'"),  # type: ignore[arg-type]
        (lambda: QueuePolicy(None, "drop_oldest"), ValueError, "unbounded queue never overflows"),
        (lambda: Stage("s", slow(1), workers=0), ValueError, "workers (its concurrency) must be at least 1"),
        (lambda: Stage("s", slow(1), workers=True), TypeError, "workers must be an int"),
        (lambda: Stage("", slow(1)), ValueError, "name must be a non-empty string"),
        (lambda: Stage("s", 3), TypeError, "step must be a function"),  # type: ignore[arg-type]
        (lambda: Stage("s", slow(1), queue=8), TypeError, "queue must be a QueuePolicy"),  # type: ignore[arg-type]
        (lambda: pipeline([1], [Stage("a", slow(1)), Stage("a", slow(1))]), ValueError, "must be distinct"),
        (lambda: pipeline(5, [Stage("a", slow(1))]), TypeError, "source must be an iterable"),  # type: ignore[arg-type]
        (lambda: pipeline([1], ["a"]), TypeError, "stage 0 is str, not a Stage"),  # type: ignore[list-item]
    ],
)
def test_bad_arguments_are_refused_with_clear_messages(make: Callable[[], object], error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_every_overflow_strategy_is_listed() -> None:
    assert OVERFLOWS == ("suspend", "drop_newest", "drop_oldest", "fail")


def test_reprs_show_the_structure_without_addresses() -> None:
    stage = Stage("parse", slow(1), workers=2, queue=QueuePolicy(4))
    assert repr(stage) == "Stage('parse', slow(1), workers=2, queue=QueuePolicy(capacity=4, overflow='suspend'))"
    plan = pipeline(range(3), [stage, Stage("save", slow(2), queue=QueuePolicy.unbounded())])
    assert repr(plan) == "pipeline(range(0, 3), [parse×2[4 suspend], save×1[∞ suspend]])"
    assert "0x" not in repr(BoundedQueue(QueuePolicy(2), "q"))


def test_building_a_pipeline_runs_nothing() -> None:
    calls: list[int] = []

    def step(x: int) -> Any:
        calls.append(x)
        return async_pure(x)

    plan = pipeline([1, 2, 3], [Stage("a", step)])
    assert calls == []
    assert report_of(run(plan)).items == (1, 2, 3)
    assert calls == [1, 2, 3]


def test_a_pipeline_is_replayable() -> None:
    plan = pipeline(paced(range(20), 0.5), [Stage("a", slow(1), queue=QueuePolicy(3, "drop_oldest"))])
    first, second = run(plan), run(plan)
    assert first == second
    assert report_of(first).drops == {"a": report_of(first).items_in - report_of(first).items_out}


# --- the queue on its own ---------------------------------------------------------------------


def test_drop_newest_keeps_the_oldest_and_drop_oldest_keeps_the_newest() -> None:
    async def fill(overflow: str) -> tuple[list[Result[bool, ErrInfo]], list[int]]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(3, overflow), "q")  # type: ignore[arg-type]
        offers = [await q.put(i) for i in range(5)]
        q.close()
        taken = []
        while True:
            try:
                taken.append(await q.get())
            except QueueClosed:
                return offers, taken

    offers, kept = run(fill("drop_newest"))
    assert kept == [0, 1, 2] and offers[3:] == [Ok(False), Ok(False)]
    offers, kept = run(fill("drop_oldest"))
    assert kept == [2, 3, 4] and offers == [Ok(True)] * 5
    offers, kept = run(fill("fail"))
    assert kept == [0, 1, 2]
    assert isinstance(offers[3], Err) and offers[3].error.code == QUEUE_FULL
    assert "capacity 3" in offers[3].error.message


def test_a_closed_queue_refuses_puts_and_ends_gets_after_draining() -> None:
    async def scenario() -> tuple[Any, ...]:
        q: BoundedQueue[str] = BoundedQueue(QueuePolicy(2), "q")
        await q.put("a")
        q.close()
        refused = await q.put("b")
        first = await q.get()
        try:
            await q.get()
            ended = False
        except QueueClosed:
            ended = True
        return refused, first, ended

    refused, first, ended = run(scenario())
    assert isinstance(refused, Err) and refused.error.code == "QUEUE_CLOSED"
    assert first == "a" and ended


def test_close_wakes_every_waiting_getter() -> None:
    async def scenario() -> list[str]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(2), "q")
        outcomes: list[str] = []

        async def getter() -> None:
            try:
                await q.get()
                outcomes.append("item")
            except QueueClosed:
                outcomes.append("closed")

        tasks = [asyncio.create_task(getter()) for _ in range(3)]
        await asyncio.sleep(1)
        q.close()
        await asyncio.gather(*tasks)
        return outcomes

    assert run(scenario()) == ["closed"] * 3


# --- cancellation (CPython's Lib/test/test_asyncio/test_queues.py cases) ----------------------


def test_cancelling_a_get_after_it_was_woken_loses_nothing() -> None:
    async def scenario() -> tuple[int, int]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(4), "q")
        reader = asyncio.create_task(q.get())
        await asyncio.sleep(0)  # the reader waits
        await q.put(1)  # wakes it …
        await q.put(2)
        reader.cancel()  # … but it is cancelled before it runs
        try:
            await reader
            got = reader.result()
        except asyncio.CancelledError:
            got = await q.get()  # try again: the first item must still be there
        return got, q.depth

    assert run(scenario()) == (1, 1)


def test_cancelling_one_of_many_woken_getters_lets_the_others_take_every_item() -> None:
    async def scenario() -> tuple[set[int], int]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(4), "q")
        readers = [asyncio.create_task(q.get()) for _ in range(3)]
        await asyncio.sleep(0)
        await q.put(1)
        await q.put(2)
        readers[0].cancel()
        done = await asyncio.gather(*readers[1:])
        return set(done), q.depth

    assert run(scenario()) == ({1, 2}, 0)


def test_cancelling_a_waiting_put_inserts_nothing() -> None:
    async def scenario() -> tuple[list[int], int]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(1), "q")
        await q.put(1)
        writer = asyncio.create_task(q.put(2))
        await asyncio.sleep(0)  # the writer waits for room
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        q.close()
        taken = []
        while True:
            try:
                taken.append(await q.get())
            except QueueClosed:
                return taken, q.offered

    assert run(scenario()) == ([1], 1)


def test_cancelling_a_put_after_it_was_woken_inserts_once_on_retry() -> None:
    async def scenario() -> tuple[int, int, int]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(1), "q")
        await q.put(1)
        writer = asyncio.create_task(q.put(2))
        await asyncio.sleep(0)
        first = await q.get()  # makes room and wakes the writer …
        writer.cancel()  # … which is cancelled before it inserts
        try:
            await writer
        except asyncio.CancelledError:
            await q.put(2)  # try again
        second = await q.get()
        return first, second, q.depth

    assert run(scenario()) == (1, 2, 0)


def test_a_cancelled_putter_does_not_block_the_others() -> None:
    async def scenario() -> tuple[str, str, int]:
        q: BoundedQueue[str] = BoundedQueue(QueuePolicy(1), "q")
        put_a = asyncio.create_task(q.put("a"))
        put_b = asyncio.create_task(q.put("b"))
        put_x = asyncio.create_task(q.put("X"))
        await asyncio.sleep(0)
        assert put_a.done() and not put_b.done()
        put_x.cancel()
        await asyncio.sleep(0)
        first = await q.get()
        await put_b
        second = await q.get()
        return first, second, q.depth

    assert run(scenario()) == ("a", "b", 0)


def test_cancelled_waiters_are_not_kept() -> None:
    async def scenario() -> tuple[int, int]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(1), "q")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(q.get(), 0.1)
        await q.put(0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(q.put(1), 0.1)
        return len(q._getters), len(q._putters)

    assert run(scenario()) == (0, 0)


# --- the invariants, on pipelines ------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[QueuePolicy, float, float, int, int]:
    overflow = draw(st.sampled_from(["suspend", "drop_newest", "drop_oldest"]))
    policy = QueuePolicy(draw(st.integers(1, 6)), overflow)
    every = draw(st.sampled_from([0.25, 0.5, 1.0]))
    service = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
    return policy, every, service, draw(st.integers(0, 40)), draw(st.integers(1, 3))


@given(scenarios())
def test_depth_never_exceeds_capacity(case: tuple[QueuePolicy, float, float, int, int]) -> None:
    policy, every, service, n, workers = case
    sim = Simulation()
    result = run(
        pipeline(
            paced(range(n), every),
            [Stage("a", slow(service), workers, policy), Stage("b", slow(service / 2), 1, policy)],
            probe=sim.trace,
        ),
        sim,
    )
    report = report_of(result)
    assert policy.capacity is not None
    for name in ("a", "b"):
        assert all(depth <= policy.capacity for _, depth in depth_series(sim.trace, name))
        assert report.max_depth[name] <= policy.capacity


@given(
    items=st.lists(st.integers(), max_size=40),
    capacity=st.integers(1, 5),
    every=st.sampled_from([0.0, 0.5, 1.0]),
    service=st.sampled_from([0.25, 1.0, 3.0]),
)
def test_suspend_loses_nothing_and_keeps_order(items: list[int], capacity: int, every: float, service: float) -> None:
    stages = [
        Stage("a", slow(service), queue=QueuePolicy(capacity)),
        Stage("b", slow(service / 3), queue=QueuePolicy(capacity)),
    ]
    report = report_of(run(pipeline(paced(items, every), stages)))
    assert report.items == tuple(items)
    assert report.drops == {"a": 0, "b": 0}


@given(
    items=st.lists(st.integers(0, 9), max_size=40),
    workers=st.integers(2, 4),
    delays=st.lists(st.sampled_from([0.25, 1.0, 4.0]), min_size=1, max_size=5),
)
def test_suspend_with_n_workers_keeps_the_multiset_and_ordered_restores_source_order(
    items: list[int], workers: int, delays: list[float]
) -> None:
    def uneven(x: int) -> Any:  # items take different times, so workers finish out of order
        return slow(delays[x % len(delays)])(x)

    stages = [Stage("a", uneven, workers, QueuePolicy(2)), Stage("b", uneven, workers, QueuePolicy(2))]
    unordered = report_of(run(pipeline(items, stages)))
    assert Counter(unordered.items) == Counter(items)
    ordered = report_of(run(pipeline(items, stages, ordered=True)))
    assert ordered.items == tuple(items)


def test_n_workers_really_do_finish_out_of_order() -> None:
    def uneven(x: int) -> Any:
        return slow(5.0 if x == 0 else 1.0)(x)

    report = report_of(run(pipeline([0, 1, 2], [Stage("a", uneven, workers=2)])))
    assert report.items == (1, 2, 0)


@given(scenarios())
def test_drop_counts_are_exact(case: tuple[QueuePolicy, float, float, int, int]) -> None:
    policy, every, service, n, workers = case
    stages = [Stage("a", slow(service), workers, policy), Stage("b", slow(service), 1, policy)]
    report = report_of(run(pipeline(paced(range(n), every), stages)))
    for q in report.queues:
        assert q.offered == q.taken + q.dropped, q
        assert q.depth == 0
    assert report.items_in == n
    assert report.items_in == report.items_out + sum(report.drops.values())
    assert len(report.items or ()) == report.items_out


def test_fail_ends_the_pipeline_with_an_err_not_an_exception() -> None:
    sim = Simulation()
    plan = pipeline(paced(range(50), 0.5), [Stage("a", slow(2.0), queue=QueuePolicy(3, "fail"))], probe=sim.trace)
    result = run(plan, sim)
    assert isinstance(result, Err) and result.error.code == QUEUE_FULL
    assert "queue 'a' is full (capacity 3)" in result.error.message
    assert [e.kind for e in sim.trace.events if e.kind == "reject"] == ["reject"]


def test_a_steps_err_ends_the_pipeline_with_that_err() -> None:
    bad = ErrInfo("INVALID", "item 3 is invalid")

    def check(x: int) -> Any:
        return async_fail(bad) if x == 3 else slow(1)(x)

    assert run(pipeline(range(10), [Stage("a", check, workers=2)])) == Err(bad)


def _no_task_outlives(plan: Any, *, cancel_after: float | None = None) -> tuple[Any, list[str]]:
    async def main() -> tuple[Any, list[str]]:
        me = asyncio.current_task()
        if cancel_after is None:
            try:
                outcome: Any = await plan()
            except Exception as error:  # noqa: BLE001 - the defect is the outcome under test
                outcome = type(error).__name__
        else:
            try:
                outcome = await asyncio.wait_for(plan(), cancel_after)
            except TimeoutError:
                outcome = "cancelled"
        left = sorted(t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done())
        return outcome, left

    return run(main())


def test_no_task_outlives_the_pipeline() -> None:
    stages = [Stage("a", slow(1), 3, QueuePolicy(2)), Stage("b", slow(2), 2, QueuePolicy(2))]
    normal, left = _no_task_outlives(pipeline(range(20), stages))
    assert isinstance(normal, Ok) and left == []
    failed, left = _no_task_outlives(pipeline(paced(range(20), 0.1), [Stage("a", slow(5), 2, QueuePolicy(1, "fail"))]))
    assert isinstance(failed, Err) and left == []

    def broken(x: int) -> Any:
        if x == 4:
            raise KeyError("a bug in the step")
        return slow(1)(x)

    crashed, left = _no_task_outlives(pipeline(range(20), [Stage("a", broken, 2), Stage("b", slow(1), 2)]))
    assert crashed == "KeyError" and left == []
    cancelled, left = _no_task_outlives(pipeline(range(1000), stages), cancel_after=7.5)
    assert cancelled == "cancelled" and left == []


@pytest.mark.parametrize("n", [0, 1, 7])
@pytest.mark.parametrize("workers", [1, 3])
def test_end_of_stream_reaches_every_worker(n: int, workers: int) -> None:
    stages = [
        Stage("a", slow(1), workers, QueuePolicy(1)),
        Stage("b", slow(1), workers, QueuePolicy(1)),
        Stage("c", slow(1), workers, QueuePolicy(1)),
    ]
    report = report_of(run(pipeline(range(n), stages)))  # returning at all means every worker ended
    assert report.items_out == n


def test_a_pipeline_without_stages_passes_the_source_through() -> None:
    assert report_of(run(pipeline([3, 1, 2], []))).items == (3, 1, 2)


def test_suspend_pushes_back_on_the_source() -> None:
    sim = Simulation()
    report = report_of(run(pipeline(range(10), [Stage("a", slow(1), queue=QueuePolicy(2))], probe=sim.trace), sim))
    a = report.queues[0]
    assert (
        a.put_waits == 8 and a.put_wait_time == 7
    )  # item 2 waits 0 s (the worker takes item 0 at t=0), 3…9 wait 1 s each
    assert sim.now == 10 and report.max_depth == {"a": 2}


def test_an_unbounded_queue_grows_with_the_input() -> None:
    depths = []
    for n in (10, 100, 1000):
        report = report_of(run(pipeline(range(n), [Stage("a", slow(1), queue=QueuePolicy.unbounded())])))
        depths.append(report.max_depth["a"])
    assert depths == [10, 100, 1000]


def test_the_probe_is_optional_and_records_only_when_given() -> None:
    trace = Trace()
    sim = Simulation()
    run(pipeline(range(5), [Stage("a", slow(1), queue=QueuePolicy(2, "drop_newest"))]), sim)
    assert len(sim.trace) == 0 and len(trace) == 0
    run(pipeline(range(5), [Stage("a", slow(1), queue=QueuePolicy(2, "drop_newest"))], probe=sim.trace), sim)
    kinds = Counter(e.kind for e in sim.trace.events)
    assert kinds[ENQUEUE] == 2 and kinds[DROP] == 3 and kinds["dequeue"] == 2


def test_collect_false_keeps_only_counts() -> None:
    report = report_of(run(pipeline(range(50), [Stage("a", slow(1))], collect=False)))
    assert report.items is None and report.items_out == 50
    assert "items=None" in repr(report) and "drops={'a': 0}" in repr(report)


def test_the_report_table_lists_every_queue() -> None:
    report = report_of(run(pipeline(range(6), [Stage("a", slow(1), queue=QueuePolicy(2, "drop_oldest"))])))
    table = report.table()
    assert table.splitlines()[0].split()[:3] == ["queue", "capacity", "overflow"]
    assert "drop_oldest" in table


# --- Little's law ------------------------------------------------------------------------


@given(scenarios())
def test_littles_law_holds_on_measured_numbers(case: tuple[QueuePolicy, float, float, int, int]) -> None:
    policy, every, service, n, workers = case
    sim = Simulation()
    run(pipeline(paced(range(n + 1), every), [Stage("a", slow(service), workers, policy)], probe=sim.trace), sim)
    law = littles_law(sim.trace, "a")
    assert law.holds(1e-9), str(law)
    assert law.arrivals <= n + 1


def test_littles_law_on_a_hand_checked_queue() -> None:
    sim = Simulation()
    run(pipeline(range(4), [Stage("a", slow(2), queue=QueuePolicy(4))], probe=sim.trace), sim)
    law = littles_law(sim.trace, "a")
    # At t=0 four items enter; the worker takes one at 0, 2, 4, 6: they wait 0, 2, 4, 6 s.
    assert (law.arrivals, law.mean_wait) == (4, 3.0)
    assert law.end == 6 and law.arrival_rate == pytest.approx(4 / 6) and law.mean_in_queue == pytest.approx(2.0)
    assert "λ = 0.667 items/s" in str(law)


def test_littles_law_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="did the probe record queue 'nope'"):
        littles_law(Trace(), "nope")


def test_a_step_that_returns_a_coroutine_is_refused_with_a_clear_message() -> None:
    from funcpipe_async import PlanTypeError

    async def direct(x: int) -> Result[int, ErrInfo]:
        return Ok(x)

    with pytest.raises(PlanTypeError, match="returned a coroutine; a step is a function A -> AsyncPlan"):
        run(pipeline([1], [Stage("a", direct)]))  # type: ignore[arg-type]
    with pytest.raises(PlanTypeError, match="returned int, not an AsyncPlan"):
        run(pipeline([1], [Stage("a", lambda x: x)]))  # type: ignore[arg-type, return-value]


def test_a_put_refused_by_a_closed_queue_is_counted() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        q: BoundedQueue[int] = BoundedQueue(QueuePolicy(1), "q")
        await q.put(1)
        waiting = asyncio.create_task(q.put(2))
        await asyncio.sleep(0)
        q.close()  # wakes the waiting putter, whose put now fails
        refused = await waiting
        assert isinstance(refused, Err) and refused.error.code == "QUEUE_CLOSED"
        return q.offered, q.taken, q.dropped, q.depth

    offered, taken, dropped, depth = run(scenario())
    assert offered == taken + dropped + depth == 2


@given(
    ops=st.lists(st.one_of(st.none(), st.integers(0, 9)), max_size=30),
    policy=st.builds(QueuePolicy, st.integers(1, 4), st.sampled_from(["drop_newest", "drop_oldest", "fail"])),
)
def test_the_counters_balance_at_every_moment(ops: list[int | None], policy: QueuePolicy) -> None:
    async def scenario() -> None:
        q: BoundedQueue[int] = BoundedQueue(policy, "q")
        for op in ops:
            if op is None:
                if q.depth:
                    await q.get()
            else:
                await q.put(op)
            assert q.offered == q.taken + q.dropped + q.depth
            assert q.accepted == q.taken + q.evicted + q.depth
            assert q.depth <= (policy.capacity or 0)

    run(scenario())


def test_a_stream_is_a_source_and_its_run_is_closed_when_the_pipeline_ends() -> None:
    from funcpipe_async import Resource, Simulation, Stage, pipeline, stream_from

    resource = Resource("feed")

    async def feed() -> Any:
        resource.acquire()
        try:
            for i in range(5):
                await asyncio.sleep(1)
                yield i
        finally:
            resource.release()

    plan = pipeline(stream_from(feed).map(lambda x: x * 10), [Stage("double", lambda x: async_pure(2 * x))])
    report = Simulation().run(plan)
    assert isinstance(report, Ok) and report.value.items == (0, 20, 40, 60, 80)
    assert (resource.acquired, resource.held) == (1, 0)
    assert isinstance(Simulation().run(plan), Ok) and resource.acquired == 2  # each drive is a fresh run
