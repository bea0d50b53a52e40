"""The virtual-time driver: clock semantics, deadlock and limit errors, no leaked tasks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    DeadlockError,
    Err,
    ErrInfo,
    LeftoverTasksError,
    Ok,
    Simulation,
    SimulationLimitError,
    VirtualClock,
    async_lift,
    async_pure,
    run_sync,
    run_virtual,
)


def now() -> float:
    return asyncio.get_running_loop().time()


# --- the clock value -------------------------------------------------------------------


def test_virtual_clock_reads_without_moving() -> None:
    clock = VirtualClock(5)
    assert (clock(), clock(), clock.now) == (5.0, 5.0, 5.0)
    clock.advance_to(7.5)
    assert clock.now == 7.5
    assert repr(clock) == "VirtualClock(now=7.5)"


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "0", True])
def test_virtual_clock_rejects_bad_start(bad: Any) -> None:
    with pytest.raises(ValueError, match="VirtualClock start"):
        VirtualClock(bad)


def test_virtual_clock_never_goes_back() -> None:
    clock = VirtualClock(3)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(2)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(float("nan"))


# --- time jumps only when every task waits ---------------------------------------------


def test_sleep_costs_simulated_time_not_wall_time() -> None:
    async def nap() -> float:
        await asyncio.sleep(3600)
        return now()

    sim = Simulation()
    started = time.perf_counter()
    assert sim.run(nap()) == 3600.0
    assert sim.now == 3600.0
    assert time.perf_counter() - started < 1.0  # an hour simulated, far under a wall second


def test_cpu_work_takes_no_virtual_time() -> None:
    async def busy() -> tuple[float, float]:
        before = now()
        sum(range(200_000))
        return before, now()

    assert run_virtual(busy()) == (0.0, 0.0)


def test_timers_fire_in_deadline_order() -> None:
    async def scenario() -> list[tuple[str, float]]:
        order: list[tuple[str, float]] = []

        async def after(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            order.append((name, now()))

        await asyncio.gather(after("c", 3), after("a", 1), after("b", 2), after("z", 0))
        return order

    assert run_virtual(scenario()) == [("z", 0.0), ("a", 1.0), ("b", 2.0), ("c", 3.0)]


def test_ties_fire_in_the_order_they_were_scheduled() -> None:
    async def scenario() -> list[int]:
        fired: list[int] = []
        loop = asyncio.get_running_loop()
        for i in range(50):
            loop.call_later(1.0, fired.append, i)
        loop.call_at(0.5, fired.append, -1)
        await asyncio.sleep(2)
        return fired

    assert run_virtual(scenario()) == [-1, *range(50)]


def test_call_later_and_call_at_use_virtual_time() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        seen: list[float] = []
        loop.call_later(10, lambda: seen.append(loop.time()))
        loop.call_at(25, lambda: seen.append(loop.time()))
        await asyncio.sleep(30)
        return seen

    assert run_virtual(scenario()) == [10.0, 25.0]


def test_wait_for_times_out_on_virtual_time() -> None:
    async def scenario() -> tuple[str, float]:
        try:
            await asyncio.wait_for(asyncio.sleep(100), timeout=2.5)
        except TimeoutError:
            return "timed out", now()
        return "finished", now()

    assert run_virtual(scenario()) == ("timed out", 2.5)


def test_wait_for_returns_when_inner_finishes_first() -> None:
    async def inner() -> str:
        await asyncio.sleep(1)
        return "done"

    async def scenario() -> tuple[str, float]:
        return await asyncio.wait_for(inner(), timeout=5), now()

    assert run_virtual(scenario()) == ("done", 1.0)


def test_asyncio_timeout_cancels_at_the_virtual_deadline() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        try:
            async with asyncio.timeout(4):
                try:
                    await asyncio.sleep(60)
                finally:
                    log.append(f"cleanup at {now()}")
        except TimeoutError:
            log.append(f"TimeoutError at {now()}")
        return log

    assert run_virtual(scenario()) == ["cleanup at 4.0", "TimeoutError at 4.0"]


def test_nested_timeouts_the_inner_one_fires_first() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        try:
            async with asyncio.timeout(10) as outer:
                try:
                    async with asyncio.timeout(3):
                        await asyncio.sleep(60)
                except TimeoutError:
                    log.append(f"inner expired at {now()}")
                await asyncio.sleep(60)
        except TimeoutError:
            log.append(f"outer expired at {now()} ({outer.expired()})")
        return log

    assert run_virtual(scenario()) == ["inner expired at 3.0", "outer expired at 10.0 (True)"]


def test_nested_timeouts_the_outer_one_wins_when_shorter() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        try:
            async with asyncio.timeout(2):
                try:
                    async with asyncio.timeout(5) as inner:
                        await asyncio.sleep(60)
                except TimeoutError:
                    log.append("inner caught it")  # must not happen: the outer deadline owns it
                    raise
        except TimeoutError:
            log.append(f"outer expired at {now()}; inner expired={inner.expired()}")
        return log

    assert run_virtual(scenario()) == ["outer expired at 2.0; inner expired=False"]


def test_runs_continue_the_same_clock() -> None:
    sim = Simulation()
    sim.run(asyncio.sleep(5))
    sim.run(asyncio.sleep(2))
    assert sim.now == 7.0


def test_start_time_is_respected() -> None:
    async def at() -> float:
        await asyncio.sleep(1)
        return now()

    assert Simulation(start=100).run(at()) == 101.0


def test_a_plan_returns_its_result_and_a_coroutine_its_value() -> None:
    assert Simulation().run(async_pure(3)) == Ok(3)
    assert Simulation().run(async_lift(lambda: _err_after(2))) == Err(ErrInfo("LATE", "after 2"))


async def _err_after(delay: float) -> Err[ErrInfo]:
    await asyncio.sleep(delay)
    return Err(ErrInfo("LATE", f"after {delay:g}"))


def test_an_exception_in_main_propagates_unchanged() -> None:
    async def broken() -> None:
        await asyncio.sleep(1)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run_virtual(broken())


@pytest.mark.parametrize("bad", [42, "plan", None])
def test_run_rejects_what_cannot_be_driven(bad: Any) -> None:
    with pytest.raises(TypeError, match="Simulation.run needs an AsyncPlan"):
        Simulation().run(bad)


def test_run_rejects_a_callable_returning_a_non_awaitable() -> None:
    with pytest.raises(TypeError, match="returned int, which cannot be awaited"):
        Simulation().run(lambda: 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": 1.5}, "seed must be an int"),
        ({"limit": 0}, "limit must be a positive"),
        ({"limit": -5}, "limit must be a positive"),
        ({"max_idle_steps": 0}, "max_idle_steps must be a positive int"),
        ({"max_steps": 0}, "max_steps must be a positive int"),
    ],
)
def test_simulation_validates_its_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        Simulation(**kwargs)


# --- deadlock and runaway plans end with clear errors ----------------------------------


def test_deadlock_names_every_waiting_task() -> None:
    async def scenario() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def consumer() -> None:
            await queue.get()

        task = asyncio.create_task(consumer(), name="consumer")
        await asyncio.sleep(1)
        await task

    with pytest.raises(DeadlockError) as caught:
        run_virtual(scenario())
    error = caught.value
    assert error.now == 1.0
    assert error.waiting == (
        "'main' waiting in test_deadlock_names_every_waiting_task.scenario → task 'consumer'",
        "'consumer' waiting in test_deadlock_names_every_waiting_task.scenario.consumer → Queue.get",
    )
    assert str(error).startswith("deadlock at virtual time 1s: every task is waiting")


def test_deadlock_on_a_future_nobody_completes() -> None:
    async def scenario() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(DeadlockError, match="'main' waiting in"):
        run_virtual(scenario())


def test_deadlock_on_an_event_never_set_cleans_up_tasks() -> None:
    cleaned: list[str] = []

    async def scenario() -> None:
        event = asyncio.Event()

        async def waiter(i: int) -> None:
            try:
                await event.wait()
            finally:
                cleaned.append(f"waiter {i}")

        await asyncio.gather(*(waiter(i) for i in range(3)))

    with pytest.raises(DeadlockError) as caught:
        run_virtual(scenario())
    assert len(caught.value.waiting) == 4  # main + three waiters
    assert sorted(cleaned) == ["waiter 0", "waiter 1", "waiter 2"]


def test_a_plan_that_never_ends_hits_the_simulated_time_limit() -> None:
    async def forever() -> None:
        while True:
            await asyncio.sleep(60)

    with pytest.raises(SimulationLimitError, match="passed its limit of 3600 simulated seconds") as caught:
        Simulation(limit=3600).run(forever())
    assert caught.value.now <= 3600


def test_busy_waiting_hits_the_idle_step_limit() -> None:
    async def spin() -> None:
        while True:
            await asyncio.sleep(0)

    with pytest.raises(SimulationLimitError, match="10,000 loop steps without virtual time moving") as caught:
        Simulation(max_idle_steps=10_000).run(spin())
    assert "pass a larger `max_idle_steps`" in str(caught.value), "the error names the remedy for real work"


def test_a_poll_that_never_ends_stops_at_the_step_limit_naming_its_task() -> None:
    """Bug: a 10 ms poll ran a whole simulated day (8.6 M steps, ~250 s of wall time) first."""

    async def poll() -> None:
        while True:
            await asyncio.sleep(0.01)

    async def main() -> None:
        await asyncio.gather(asyncio.ensure_future(poll()))

    with pytest.raises(SimulationLimitError, match="20,000 loop steps in this run") as caught:
        Simulation(max_steps=20_000).run(main())
    assert caught.value.now < 300, "stopped by the step bound, long before the one-day time limit"
    assert any("poll" in line for line in caught.value.waiting), caught.value.waiting


def test_the_default_step_bound_is_well_below_a_simulated_day_of_polling() -> None:
    # A 10 ms poll takes two loop steps per sleep: a simulated day is 17 M steps, the bound 2 M.
    assert Simulation().max_steps == 2_000_000


def test_real_work_in_many_steps_is_not_stopped_by_the_step_bound() -> None:
    async def work() -> int:
        total = 0
        for i in range(30_000):
            await asyncio.sleep(0.5)
            total += i
        return total

    assert Simulation(max_steps=100_000).run(work()) == sum(range(30_000))


# --- nothing outlives a run; runs are reproducible --------------------------------------


def test_leftover_tasks_are_cancelled_and_their_finally_runs() -> None:
    log: list[str] = []

    async def scenario() -> str:
        async def background() -> None:
            try:
                await asyncio.sleep(1000)
            finally:
                log.append(f"background cleaned up at {now()}")

        asyncio.create_task(background())
        await asyncio.sleep(1)
        return "main done"

    with pytest.raises(LeftoverTasksError):
        run_virtual(scenario())
    assert log == ["background cleaned up at 1.0"]
    log.clear()
    assert run_virtual(scenario(), cancel_leftovers=True) == "main done"
    assert log == ["background cleaned up at 1.0"]


def test_leftover_tasks_are_reported_by_name_and_where_they_wait() -> None:
    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(10)

    async def leaky() -> str:
        asyncio.create_task(heartbeat(), name="heartbeat")
        asyncio.create_task(asyncio.Event().wait())  # unnamed: labelled by its coroutine
        await asyncio.sleep(35)
        return "test passed"

    sim = Simulation()
    with pytest.raises(LeftoverTasksError) as caught:
        sim.run(leaky())
    error = caught.value
    assert isinstance(error, AssertionError)  # in a test, a leaked task is a failed test
    assert error.now == 35.0 and error.result == "test passed"
    assert (
        error.leftovers
        == sim.leftovers
        == (
            "'heartbeat' waiting in test_leftover_tasks_are_reported_by_name_and_where_they_wait.heartbeat → sleep",
            "'Event.wait' waiting in Event.wait",
        )
    )
    message = str(error)
    assert message.startswith("main returned at virtual time 35s, leaving 2 tasks running (now cancelled).")
    assert "asyncio.TaskGroup" in message and "\n  - 'heartbeat' waiting in " in message


def test_the_loop_closing_an_abandoned_generator_is_not_a_leftover() -> None:
    """asyncio closes an async generator garbage-collected unclosed in a task of its own: the
    loop tidying up (lesson 02's concern), not a task the plan started."""

    async def numbers() -> Any:
        yield 1
        yield 2

    async def main() -> int:
        gen = numbers()
        first: int = await gen.__anext__()
        del gen  # unclosed: the loop schedules its aclose() as a task, still pending at return
        return first

    sim = Simulation()
    assert sim.run(main()) == 1 and sim.leftovers == ()


def test_a_task_group_leaves_nothing_behind() -> None:
    async def heartbeat(beats: list[float]) -> None:
        while True:
            await asyncio.sleep(10)
            beats.append(now())

    async def tidy() -> list[float]:
        beats: list[float] = []
        async with asyncio.TaskGroup() as tg:
            beat = tg.create_task(heartbeat(beats))
            await asyncio.sleep(35)
            beat.cancel()
        return beats

    sim = Simulation()
    assert sim.run(tidy()) == [10.0, 20.0, 30.0]
    assert sim.leftovers == ()


def test_main_s_own_failure_is_not_hidden_behind_its_leftovers() -> None:
    async def fails() -> None:
        asyncio.create_task(asyncio.sleep(60), name="orphan")
        await asyncio.sleep(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        Simulation().run(fails())


def test_leftovers_are_recorded_when_allowed_and_reset_per_run() -> None:
    sim = Simulation()

    async def leaky() -> None:
        asyncio.create_task(asyncio.sleep(60))

    sim.run(leaky(), cancel_leftovers=True)
    assert sim.leftovers == ("'sleep' waiting in sleep",)
    assert sim.run(_sleep_then_now(1)) == 1.0
    assert sim.leftovers == ()


def test_the_outer_running_loop_is_restored() -> None:
    """From inside a running loop (a notebook cell), the driver sets the loop aside and puts
    it back."""

    async def cell() -> tuple[float, bool]:
        outer = asyncio.get_running_loop()
        value = Simulation().run(_sleep_then_now(42))
        return value, asyncio.get_running_loop() is outer

    assert asyncio.run(cell()) == (42.0, True)


async def _sleep_then_now(delay: float) -> float:
    await asyncio.sleep(delay)
    return now()


def test_works_after_nest_asyncio_patched_the_loop() -> None:
    """A notebook may have called run_sync first (which applies nest_asyncio)."""

    async def cell() -> tuple[object, float]:
        first = run_sync(async_pure("sync"))
        return first, Simulation().run(_sleep_then_now(5))

    assert asyncio.run(cell()) == (Ok("sync"), 5.0)


def test_deadlock_and_limits_still_work_after_nest_asyncio_patched_the_loop_class() -> None:
    """nest_asyncio patches the kernel loop's *class* (our base class) for the whole process;
    the virtual loop must keep asyncio's own run methods, or the clean-up after a stop breaks."""

    async def stuck() -> None:
        await asyncio.Event().wait()

    async def cell() -> tuple[str, str, float]:
        run_sync(async_pure("patch the running loop"))
        with pytest.raises(DeadlockError) as deadlock:
            run_virtual(stuck())
        with pytest.raises(SimulationLimitError) as limit:
            Simulation(limit=100).run(_forever())
        return deadlock.value.waiting[0], type(limit.value).__name__, Simulation().run(_sleep_then_now(3))

    assert asyncio.run(cell()) == (
        "'main' waiting in test_deadlock_and_limits_still_work_after_nest_asyncio_"
        "patched_the_loop_class.stuck → Event.wait",
        "SimulationLimitError",
        3.0,
    )


async def _forever() -> None:
    while True:
        await asyncio.sleep(10)


def test_a_worker_thread_takes_no_virtual_time() -> None:
    async def scenario() -> tuple[float, float]:
        await asyncio.to_thread(time.sleep, 0.02)
        after_thread = now()
        await asyncio.sleep(3)
        return after_thread, now()

    assert run_virtual(scenario()) == (0.0, 3.0)


def test_seeded_rng_is_per_simulation() -> None:
    a = [Simulation(seed=7).rng.random() for _ in range(2)]
    assert a[0] == a[1]
    assert Simulation(seed=7).rng.random() != Simulation(seed=8).rng.random()


def _scenario_trace(seed: int) -> list[tuple[float, str, str]]:
    sim = Simulation(seed=seed)

    async def worker(name: str) -> None:
        for _ in range(5):
            await asyncio.sleep(sim.rng.uniform(0, 10))
            sim.trace.record("tick", name)

    async def scenario() -> None:
        await asyncio.gather(*(worker(f"w{i}") for i in range(4)))

    sim.run(scenario())
    return [(e.time, e.kind, e.name) for e in sim.trace.events]


def test_two_runs_give_identical_traces() -> None:
    first, second = _scenario_trace(3), _scenario_trace(3)
    assert first == second
    assert len(first) == 20
    assert _scenario_trace(4) != first


@given(st.lists(st.integers(0, 10_000_000).map(lambda ms: ms / 1000), min_size=1, max_size=20))
def test_virtual_time_ends_at_the_latest_timer_and_never_goes_back(delays: list[float]) -> None:
    seen: list[float] = []

    async def after(delay: float) -> None:
        await asyncio.sleep(delay)
        seen.append(now())

    async def scenario() -> None:
        await asyncio.gather(*(after(d) for d in delays))

    sim = Simulation()
    sim.run(scenario())
    assert seen == sorted(seen)
    assert sorted(seen) == sorted(delays)
    assert sim.now == max(delays)


def test_a_timer_set_in_the_past_fires_at_once_without_moving_the_clock() -> None:
    """A timer whose deadline has already passed (``call_at`` with an earlier time, a
    negative delay) is due now, as on asyncio's loop: it must not send the clock back."""

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(8.4)
        fired = loop.create_future()
        loop.call_at(6.5, fired.set_result, "late")
        assert await fired == "late"
        late = loop.create_future()
        loop.call_later(-1, late.set_result, None)
        await late
        return now(), now()

    assert Simulation().run(main()) == (8.4, 8.4)
