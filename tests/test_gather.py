"""``async_gather``: input order, bounded plans *and* tasks, failure and cancellation, laws."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funcpipe_async import (
    AsyncPlan,
    Err,
    ErrInfo,
    Ok,
    PlanTypeError,
    Result,
    ReusedCoroutineError,
    async_bind,
    async_gather,
    async_lift,
    async_map,
    async_pure,
    perform_async,
    run_sync,
)

BOOM = ErrInfo("BOOM", "scripted failure")


async def _yields(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


class Probe:
    """Instruments plans: how many run at once, how many tasks are alive, what happened."""

    def __init__(self) -> None:
        self.running = 0
        self.max_running = 0
        self.max_extra_tasks = 0
        self.log: list[tuple[str, int]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.main: asyncio.Task[Any] | None = None

    def _enter(self, i: int) -> None:
        self.log.append(("start", i))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        others = {t for t in asyncio.all_tasks() if t is not self.main}
        self.max_extra_tasks = max(self.max_extra_tasks, len(others))

    def _instrument(self, i: int, body: Callable[[], Awaitable[Result[Any, ErrInfo]]]) -> AsyncPlan[Any]:
        """Plan ``i`` running ``body``, recording start, finish/err, cancellation and concurrency."""

        async def run() -> Result[Any, ErrInfo]:
            self._enter(i)
            try:
                outcome = await body()
                self.log.append(("err" if isinstance(outcome, Err) else "finish", i))
                return outcome
            except asyncio.CancelledError:
                self.log.append(("cancelled", i))
                raise
            finally:
                self.running -= 1

        return async_lift(run)

    def plan(self, i: int, yields: int, result: Result[Any, ErrInfo] | None = None) -> AsyncPlan[Any]:
        """Plan ``i``: yields to the loop ``yields`` times, then returns ``result`` (``Ok(i)``)."""

        async def body() -> Result[Any, ErrInfo]:
            await _yields(yields)
            return Ok(i) if result is None else result

        return self._instrument(i, body)

    def blocked(self, i: int, gate: asyncio.Event) -> AsyncPlan[int]:
        """Plan ``i``: waits on ``gate`` (never set in these tests), recording cancellation."""

        async def body() -> Result[Any, ErrInfo]:
            await gate.wait()
            return Ok(i)

        return self._instrument(i, body)

    def kinds(self, kind: str) -> list[int]:
        return [i for k, i in self.log if k == kind]


def _drive(make: Callable[[Probe], Awaitable[Any]]) -> tuple[Any, Probe]:
    """Run ``make(probe)`` in a fresh loop, then check the gather left no task behind."""
    probe = Probe()

    async def main() -> Any:
        probe.main = asyncio.current_task()
        value = await make(probe)
        assert asyncio.all_tasks() == {probe.main}, "a task outlived the gather"
        return value

    return asyncio.run(main()), probe


# --- order and bounds --------------------------------------------------------------------


def test_results_are_in_input_order_when_later_plans_finish_first() -> None:
    n = 8
    result, probe = _drive(
        lambda p: perform_async(async_gather([p.plan(i, yields=n - i) for i in range(n)], concurrency=n))
    )
    assert result == Ok(list(range(n)))
    assert probe.kinds("finish") == list(reversed(range(n)))  # they really finished in reverse


@pytest.mark.parametrize("concurrency", [2, 3, 5])
def test_gather_never_exceeds_concurrency(concurrency: int) -> None:
    yields = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
    result, probe = _drive(
        lambda p: perform_async(async_gather([p.plan(i, y) for i, y in enumerate(yields)], concurrency=concurrency))
    )
    assert result == Ok(list(range(len(yields))))
    assert probe.max_running == concurrency  # reached, never exceeded
    assert probe.max_extra_tasks <= concurrency
    assert len(probe.tasks) <= concurrency  # a worker pool, not one task per plan


def test_gather_keeps_at_most_concurrency_tasks_alive_for_many_plans() -> None:
    result, probe = _drive(lambda p: perform_async(async_gather([p.plan(i, i % 3) for i in range(500)], concurrency=7)))
    assert result == Ok(list(range(500)))
    assert probe.max_extra_tasks == 7
    assert len(probe.tasks) == 7


def test_gather_creates_no_more_tasks_than_plans() -> None:
    result, probe = _drive(lambda p: perform_async(async_gather([p.plan(i, 2) for i in range(3)], concurrency=64)))
    assert result == Ok([0, 1, 2])
    assert probe.max_extra_tasks <= 3 and len(probe.tasks) <= 3


def test_plans_start_in_input_order() -> None:
    yields = [5, 0, 3, 1, 4, 2, 0, 6]
    _, probe = _drive(
        lambda p: perform_async(async_gather([p.plan(i, y) for i, y in enumerate(yields)], concurrency=3))
    )
    assert probe.kinds("start") == list(range(len(yields)))


# --- concurrency=1 is the sequential bind chain ------------------------------------------------


def test_concurrency_one_runs_sequentially_in_the_callers_task() -> None:
    result, probe = _drive(
        lambda p: perform_async(async_gather([p.plan(i, 3 - i % 3) for i in range(6)], concurrency=1))
    )
    assert result == Ok(list(range(6)))
    assert probe.max_running == 1
    assert probe.tasks == {probe.main}  # every plan ran in the caller's task
    assert probe.max_extra_tasks == 0
    assert probe.log == [(kind, i) for i in range(6) for kind in ("start", "finish")]


def _sequence(plans: list[AsyncPlan[int]]) -> AsyncPlan[list[int]]:
    """The sequential ``async_bind`` chain that gather with ``concurrency=1`` must equal."""

    def then(plan: AsyncPlan[int]) -> Callable[[list[int]], AsyncPlan[list[int]]]:
        return lambda xs: async_map(plan, lambda x: [*xs, x])

    acc: AsyncPlan[list[int]] = async_pure([])
    for plan in plans:
        acc = async_bind(acc, then(plan))
    return acc


@pytest.mark.parametrize("err_at", [None, 0, 2, 4])
def test_concurrency_one_equals_the_sequential_bind_chain(err_at: int | None) -> None:
    def plans(p: Probe) -> list[AsyncPlan[int]]:
        return [p.plan(i, i % 2, Err(BOOM) if i == err_at else None) for i in range(5)]

    gathered, gather_probe = _drive(lambda p: perform_async(async_gather(plans(p), concurrency=1)))
    chained, chain_probe = _drive(lambda p: perform_async(_sequence(plans(p))))
    assert gathered == chained
    assert gathered == (Ok(list(range(5))) if err_at is None else Err(BOOM))
    assert gather_probe.log == chain_probe.log


def test_single_plan_runs_in_the_callers_task_whatever_the_concurrency() -> None:
    result, probe = _drive(lambda p: perform_async(async_gather([p.plan(0, 2)], concurrency=8)))
    assert result == Ok([0])
    assert probe.tasks == {probe.main}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_empty_gather_is_pure_empty_list(concurrency: int) -> None:
    assert run_sync(async_gather([], concurrency=concurrency)) == Ok([])
    assert run_sync(async_gather(iter(()), concurrency=concurrency)) == run_sync(async_pure([]))


# --- failures ----------------------------------------------------------------------------------


def test_first_err_fails_the_gather_and_cancels_running_plans() -> None:
    async def scenario(p: Probe) -> Result[list[int], ErrInfo]:
        gate = asyncio.Event()
        plans = [p.blocked(0, gate), p.plan(1, 1, Err(BOOM)), p.blocked(2, gate)]
        plans += [p.plan(i, 0) for i in range(3, 10)]
        return await perform_async(async_gather(plans, concurrency=3))

    result, probe = _drive(scenario)
    assert result == Err(BOOM)
    assert probe.kinds("start") == [0, 1, 2]  # nothing started after the Err
    assert sorted(probe.kinds("cancelled")) == [0, 2]  # the running ones were cancelled
    assert probe.kinds("finish") == []
    assert probe.running == 0  # every finally block ran


def test_the_first_err_in_time_wins() -> None:
    other = ErrInfo("LATER")

    async def scenario(p: Probe) -> Result[list[int], ErrInfo]:
        plans = [p.plan(0, 5, Err(other)), p.plan(1, 1, Err(BOOM)), p.plan(2, 3)]
        return await perform_async(async_gather(plans, concurrency=3))

    result, probe = _drive(scenario)
    assert result == Err(BOOM)
    assert sorted(probe.kinds("cancelled")) == [0, 2]


@given(
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=11),
    st.integers(min_value=2, max_value=5),
)
@settings(max_examples=60)
def test_no_plan_starts_after_the_err(yields: list[int], err_at: int, concurrency: int) -> None:
    err_at %= len(yields)

    async def scenario(p: Probe) -> Result[list[int], ErrInfo]:
        plans = [p.plan(i, y, Err(BOOM) if i == err_at else None) for i, y in enumerate(yields)]
        return await perform_async(async_gather(plans, concurrency=concurrency))

    result, probe = _drive(scenario)
    assert result == Err(BOOM)
    err_index = probe.log.index(("err", err_at))
    assert [e for e in probe.log[err_index:] if e[0] == "start"] == []
    started, finished = set(probe.kinds("start")), set(probe.kinds("finish")) | {err_at}
    assert set(probe.kinds("cancelled")) == started - finished  # the rest were cancelled
    assert probe.running == 0
    assert probe.max_running <= concurrency


class Defect(Exception):
    """A bug in a plan: it must propagate unchanged."""


def test_exception_in_a_plan_cancels_the_rest_and_propagates() -> None:
    boom = Defect("plan 1 is broken")

    async def broken() -> Result[int, ErrInfo]:
        await asyncio.sleep(0)
        raise boom

    async def scenario(p: Probe) -> Any:
        gate = asyncio.Event()
        plans = [p.blocked(0, gate), async_lift(broken), p.blocked(2, gate), p.plan(3, 0)]
        with pytest.raises(Defect) as info:
            await perform_async(async_gather(plans, concurrency=3))
        return info.value

    raised, probe = _drive(scenario)
    assert raised is boom
    assert sorted(probe.kinds("cancelled")) == [0, 2]
    assert 3 not in probe.kinds("start")
    assert probe.running == 0


def test_exception_in_a_sequential_gather_propagates() -> None:
    boom = Defect("sequential")

    async def broken() -> Result[int, ErrInfo]:
        raise boom

    with pytest.raises(Defect) as info:
        run_sync(async_gather([async_pure(1), async_lift(broken)], concurrency=1))
    assert info.value is boom


def test_cancelling_the_gather_from_outside_leaves_no_pending_task() -> None:
    async def scenario(p: Probe) -> Any:
        gate = asyncio.Event()
        plans = [p.blocked(i, gate) for i in range(6)]
        task = asyncio.create_task(perform_async(async_gather(plans, concurrency=3)))
        await _yields(5)
        assert p.running == 3 and len(asyncio.all_tasks()) == 1 + 1 + 3  # main, gather, 3 workers
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return task.cancelled()

    cancelled, probe = _drive(scenario)
    assert cancelled
    assert sorted(probe.kinds("cancelled")) == [0, 1, 2]
    assert probe.kinds("start") == [0, 1, 2]
    assert probe.running == 0


def test_cancelling_the_gather_twice_still_waits_for_every_worker() -> None:
    # A second cancel can land while the gather waits for its cancelled workers (a timeout
    # and an interrupt, say).  The promise is the same: no task is left pending, and every
    # plan's cleanup has finished when the gather's CancelledError reaches the caller.
    cleaned: list[int] = []

    def plan(i: int, gate: asyncio.Event) -> AsyncPlan[int]:
        async def run() -> Result[int, ErrInfo]:
            try:
                await gate.wait()
                return Ok(i)
            finally:
                await _yields(2)  # asynchronous cleanup, e.g. closing a connection
                cleaned.append(i)

        return async_lift(run)

    async def scenario(p: Probe) -> Any:
        gate = asyncio.Event()
        task = asyncio.create_task(perform_async(async_gather([plan(i, gate) for i in range(4)], concurrency=3)))
        await _yields(3)
        task.cancel()
        await asyncio.sleep(0)  # the gather is now waiting for its cancelled workers
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # checked here, before asyncio.run shuts the loop down and reaps stragglers
        assert asyncio.all_tasks() == {asyncio.current_task()}, "workers outlived the gather"
        assert sorted(cleaned) == [0, 1, 2], "the gather returned before its plans cleaned up"

    _drive(scenario)


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_plan_raising_cancelled_error_propagates_whatever_the_concurrency(concurrency: int) -> None:
    # A plan can raise CancelledError without the gather being cancelled: it awaited a
    # future someone else cancelled.  With concurrency=1 that propagates out of the gather;
    # the law "the result does not depend on concurrency" says the pool must do the same —
    # in particular it must never invent a value (Ok([0, None, 2, 3])) for that plan.
    async def scenario(p: Probe) -> Any:
        shared = asyncio.get_running_loop().create_future()

        async def waits_on_shared() -> Result[int, ErrInfo]:
            return await shared  # type: ignore[no-any-return]

        plans = [p.plan(0, 1), async_lift(waits_on_shared), p.plan(2, 1), p.plan(3, 1)]
        asyncio.get_running_loop().call_soon(shared.cancel)
        outcome: object = None
        try:
            outcome = await perform_async(async_gather(plans, concurrency=concurrency))
        except asyncio.CancelledError:
            outcome = "CancelledError"
        return outcome

    outcome, _ = _drive(scenario)
    assert outcome == "CancelledError"


# --- argument checks --------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [0, -1])
def test_concurrency_below_one_is_a_value_error(concurrency: int) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        async_gather([async_pure(1)], concurrency=concurrency)


@pytest.mark.parametrize("concurrency", [True, 2.5, "2", None])
def test_concurrency_that_is_not_an_int_is_a_type_error(concurrency: object) -> None:
    with pytest.raises(TypeError, match="concurrency"):
        async_gather([async_pure(1)], concurrency=concurrency)  # type: ignore[arg-type]


def test_non_callable_item_is_a_plan_type_error() -> None:
    with pytest.raises(PlanTypeError, match="item 1"):
        not_plans: list[Any] = [async_pure(1), Ok(2)]
        async_gather(not_plans, concurrency=2)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_plan_producing_a_non_result_is_a_plan_type_error(concurrency: int) -> None:
    async def bad() -> Any:
        return 42

    with pytest.raises(PlanTypeError, match="42"):
        run_sync(async_gather([async_pure(1), async_lift(bad), async_pure(3)], concurrency=concurrency))


# --- descriptions: replayable, composable -------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 3])
def test_gather_is_replayable(concurrency: int) -> None:
    calls: list[int] = []

    def plan(i: int) -> AsyncPlan[int]:
        async def run() -> Result[int, ErrInfo]:
            calls.append(i)
            await asyncio.sleep(0)
            return Ok(i * i)

        return async_lift(run)

    gathered = async_gather((plan(i) for i in range(5)), concurrency=concurrency)  # read once, now
    assert calls == []
    assert run_sync(gathered) == run_sync(gathered) == Ok([0, 1, 4, 9, 16])
    assert sorted(calls) == sorted(2 * list(range(5)))


def test_gather_composes_with_bind() -> None:
    plan = async_bind(
        async_gather([async_pure(1), async_pure(2)], concurrency=2),
        lambda xs: async_gather([async_pure(x * 10) for x in xs], concurrency=2),
    )
    assert run_sync(async_map(plan, sum)) == Ok(30)


@given(
    st.lists(st.integers(min_value=0, max_value=3), max_size=30),
    st.integers(min_value=1, max_value=8),
    st.none() | st.integers(min_value=0, max_value=29),
)
@settings(max_examples=60)
def test_result_is_independent_of_concurrency(yields: list[int], concurrency: int, err_at: int | None) -> None:
    def plans() -> list[AsyncPlan[int]]:
        return [
            async_lift(partial(_value_after, i, y, Err(BOOM) if i == err_at else Ok(i * 3)))
            for i, y in enumerate(yields)
        ]

    expected = Err(BOOM) if err_at is not None and err_at < len(yields) else Ok([i * 3 for i in range(len(yields))])
    assert run_sync(async_gather(plans(), concurrency=concurrency)) == expected
    assert run_sync(async_gather(plans(), concurrency=1)) == expected


async def _value_after(i: int, yields: int, result: Result[int, ErrInfo]) -> Result[int, ErrInfo]:
    await _yields(yields)
    return result


# --- Puller: a pull with a deadline that keeps going ---------------------------------------------


def test_puller_times_out_without_losing_the_pull_and_closes_the_source() -> None:
    from funcpipe_async import Simulation
    from funcpipe_async.gather import Pulled, Puller, TimedOut

    closed: list[str] = []

    async def slow() -> Any:
        try:
            for i in range(3):
                await asyncio.sleep(2)
                yield i
        finally:
            closed.append("source")

    async def main() -> list[Any]:
        puller: Puller[int] = Puller(slow())
        seen = [await puller.pull(1.5), await puller.pull(1.5), await puller.pull(None), await puller.pull(0)]
        await puller.aclose()
        return seen

    assert Simulation().run(main()) == [TimedOut(), Pulled(0), Pulled(1), TimedOut()]
    assert closed == ["source"]


def test_puller_reports_the_end_and_lets_a_source_error_propagate() -> None:
    from funcpipe_async import Simulation
    from funcpipe_async.gather import Exhausted, Puller

    async def one_then_boom() -> Any:
        yield 1
        raise KeyError("boom")

    async def main() -> Any:
        puller: Puller[int] = Puller(one_then_boom())
        try:
            first = await puller.pull()
            await puller.pull()
        finally:
            await puller.aclose()
        return first

    with pytest.raises(KeyError):
        Simulation().run(main())

    async def empty() -> Any:
        return
        yield

    async def ends() -> Any:
        puller: Puller[int] = Puller(empty())
        result = await puller.pull(5)
        await puller.aclose()
        return result

    assert Simulation().run(ends()) == Exhausted()


def test_async_sequence_runs_plans_one_after_another_and_stops_at_the_first_err() -> None:
    from funcpipe_async import Simulation
    from funcpipe_async.gather import async_sequence

    started: list[str] = []

    def step(name: str, seconds: float, fail: bool = False) -> AsyncPlan[str]:
        async def run() -> Any:
            started.append(f"{name}@{asyncio.get_running_loop().time():g}")
            await asyncio.sleep(seconds)
            return Err(ErrInfo("BOOM")) if fail else Ok(name)

        return async_lift(run)

    sim = Simulation()
    assert sim.run(async_sequence([step("a", 1), step("b", 2)])) == Ok(["a", "b"])
    assert started == ["a@0", "b@1"] and sim.now == 3
    started.clear()
    assert Simulation().run(async_sequence([step("a", 1, fail=True), step("b", 1)])) == Err(ErrInfo("BOOM"))
    assert started == ["a@0"]
    assert Simulation().run(async_sequence([])) == Ok([])
    with pytest.raises(PlanTypeError):
        async_sequence([3])  # type: ignore[list-item]


def _swallowing_sleeper(started: list[tuple[int, float]], index: int) -> AsyncPlan[int]:
    """A 10-second plan that swallows its cancellation and returns as if nothing happened."""

    async def run() -> Result[int, ErrInfo]:
        started.append((index, asyncio.get_running_loop().time()))
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return Ok(-index)
        return Ok(index)

    return async_lift(run)


def test_cancelled_gather_starts_nothing_new_even_when_plans_swallow_the_cancel() -> None:
    """asyncio's and trio's rule: after a cancel, no new work starts and the gather ends at the cancel.

    Before the fix, workers went on claiming plans: all six started and the gather ended at t=21.
    """
    from funcpipe_async import Simulation

    started: list[tuple[int, float]] = []
    gather = async_gather([_swallowing_sleeper(started, i) for i in range(6)], concurrency=2)

    async def main() -> tuple[str, float]:
        task = asyncio.ensure_future(gather())
        await asyncio.sleep(1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled", asyncio.get_running_loop().time()
        return "finished", asyncio.get_running_loop().time()

    sim = Simulation()
    outcome, ended = sim.run(main())
    assert outcome == "cancelled"
    assert ended == pytest.approx(1.0), f"the gather ended at t={ended}, not at the cancel (t=1)"
    assert [i for i, _ in started] == [0, 1], f"plans started after the cancel: {started}"


def test_a_timeout_around_a_gather_ends_at_the_deadline_when_plans_swallow_the_cancel() -> None:
    from funcpipe_async import Simulation, async_timeout

    started: list[tuple[int, float]] = []
    plan = async_timeout(async_gather([_swallowing_sleeper(started, i) for i in range(6)], concurrency=2), 2)

    async def main() -> tuple[Result[list[int], ErrInfo], float]:
        result = await plan()
        return result, asyncio.get_running_loop().time()

    result, ended = Simulation().run(main())
    assert isinstance(result, Err) and result.error.code == "TIMEOUT"
    assert ended == pytest.approx(2.0), f"the timeout returned at t={ended}, not at its deadline (t=2)"
    assert len(started) == 2


# --- the worker's inlined leaf: same errors as _run_leaf ------------------------------------


async def _one() -> Result[int, ErrInfo]:
    await asyncio.sleep(0)
    return Ok(1)


def test_a_reused_coroutine_in_a_gather_is_reported_as_reused() -> None:
    """The worker runs async_lift leaves in its own frame; a finished coroutine handed back a
    second time still fails with ReusedCoroutineError, not asyncio's bare RuntimeError."""
    shared = _one()
    reused = async_lift(lambda: shared)
    plans = [reused, async_lift(_one)]
    assert run_sync(async_gather(plans, concurrency=2)) == Ok([1, 1])
    with pytest.raises(ReusedCoroutineError, match="fresh coroutine"):
        run_sync(async_gather(plans, concurrency=2))


def test_a_plan_raising_the_same_runtime_error_keeps_its_own_exception() -> None:
    async def raises() -> Result[int, ErrInfo]:
        await asyncio.sleep(0)
        raise RuntimeError("cannot reuse already awaited coroutine")

    with pytest.raises(RuntimeError) as caught:
        run_sync(async_gather([async_lift(raises), async_lift(_one)], concurrency=2))
    assert type(caught.value) is RuntimeError, "a defect of the plan propagates unchanged"


def test_a_lifted_plan_returning_a_non_result_names_its_factory() -> None:
    async def bare() -> int:
        await asyncio.sleep(0)
        return 3

    with pytest.raises(PlanTypeError, match=r"bare.*produced 3; a plan must produce Ok"):
        run_sync(async_gather([async_lift(bare), async_lift(_one)], concurrency=2))  # type: ignore[arg-type]
