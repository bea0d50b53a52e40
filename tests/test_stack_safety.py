"""Stack safety: 100,000 binds nested either way run in constant stack and await depth."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from types import FrameType

from funcpipe_async import (
    AsyncPlan,
    Err,
    ErrInfo,
    Ok,
    Result,
    async_bind,
    async_fail,
    async_lift,
    async_map,
    async_pure,
    run_sync,
)

N = 100_000


def inc(x: int) -> int:
    return x + 1


def inc_plan(x: int) -> AsyncPlan[int]:
    return async_pure(x + 1)


def left_chain(n: int, leaf: AsyncPlan[int]) -> AsyncPlan[int]:
    """``bind(bind(bind(leaf, f), f), f)`` — built with a loop, nested to the left."""
    plan = leaf
    for _ in range(n):
        plan = async_bind(plan, inc_plan)
    return plan


def right_chain(n: int, leaf: Callable[[int], AsyncPlan[int]]) -> AsyncPlan[int]:
    """``bind(m, x -> bind(m', x -> bind(...)))`` — each continuation builds the next bind."""

    def step(x: int) -> AsyncPlan[int]:
        if x >= n:
            return leaf(x)
        return async_bind(async_pure(x + 1), step)

    return step(0)


def map_chain(n: int, leaf: AsyncPlan[int]) -> AsyncPlan[int]:
    plan = leaf
    for _ in range(n):
        plan = async_map(plan, inc)
    return plan


def mixed_chain(n: int, leaf: Callable[[int], AsyncPlan[int]]) -> AsyncPlan[int]:
    """Left-nested binds whose continuations are themselves right-nested binds and maps."""
    plan: AsyncPlan[int] = leaf(0)
    for _ in range(n // 2):
        plan = async_bind(plan, lambda x: async_bind(async_map(leaf(x), inc), inc_plan))
    return plan


# --- measuring depth inside the innermost step ---------------------------------------------


def _frames() -> list[FrameType]:
    frames = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


class DepthProbe:
    """A leaf step that records the Python stack depth and the await depth it runs at."""

    def __init__(self) -> None:
        self.stack_depths: list[int] = []
        self.await_depths: list[int] = []

    def leaf(self, x: int) -> AsyncPlan[int]:
        async def probe() -> Result[int, ErrInfo]:
            frames = _frames()
            self.stack_depths.append(len(frames))
            self.await_depths.append(sum(1 for f in frames if f.f_code.co_flags & inspect.CO_COROUTINE))
            await asyncio.sleep(0)
            return Ok(x)

        return async_lift(probe)


def _depths(build: Callable[[int, DepthProbe], AsyncPlan[int]], n: int) -> tuple[int, int, Result[int, ErrInfo]]:
    probe = DepthProbe()
    result = run_sync(build(n, probe))
    assert probe.stack_depths, "the probe never ran"
    return max(probe.stack_depths), max(probe.await_depths), result


def _assert_constant_depth(build: Callable[[int, DepthProbe], AsyncPlan[int]], per_level: int = 1) -> None:
    shallow = _depths(build, 10)
    deep = _depths(build, 10_000)
    assert deep[:2] == shallow[:2], f"depth grew with the chain: 10 -> {shallow[:2]}, 10,000 -> {deep[:2]}"
    assert (shallow[2], deep[2]) == (Ok(10 * per_level), Ok(10_000 * per_level))


# --- 100,000 binds ---------------------------------------------------------------------------


def test_left_nested_binds_are_stack_safe() -> None:
    assert run_sync(left_chain(N, async_pure(0))) == Ok(N)


def test_right_nested_binds_are_stack_safe() -> None:
    assert run_sync(right_chain(N, async_pure)) == Ok(N)


def test_maps_are_stack_safe() -> None:
    assert run_sync(map_chain(N, async_pure(0))) == Ok(N)


def test_mixed_left_and_right_nesting_is_stack_safe() -> None:
    # each of the N/2 outer binds adds 1 (map) + 1 (inner bind)
    assert run_sync(mixed_chain(N, async_pure)) == Ok(N)


def test_chain_with_suspending_leaves_is_stack_safe() -> None:
    async def later(x: int) -> Result[int, ErrInfo]:
        await asyncio.sleep(0)
        return Ok(x)

    def suspending(x: int) -> AsyncPlan[int]:
        return async_lift(lambda: later(x))

    plan = suspending(0)
    for _ in range(N):
        plan = async_bind(plan, lambda x: suspending(x + 1))
    assert run_sync(plan) == Ok(N)
    n = 20_000  # every leaf yields to the event loop once: keep the other shapes smaller
    assert run_sync(mixed_chain(2 * n, suspending)) == Ok(2 * n)
    assert run_sync(right_chain(n, suspending)) == Ok(n)


def test_err_at_the_bottom_of_a_long_chain_skips_every_bind() -> None:
    called = []

    def never(x: int) -> AsyncPlan[int]:
        called.append(x)
        return async_pure(x)

    plan: AsyncPlan[int] = async_fail(ErrInfo("BOTTOM"))
    for _ in range(N):
        plan = async_map(async_bind(plan, never), inc)
    assert run_sync(plan) == Err(ErrInfo("BOTTOM"))
    assert called == []


def test_err_deep_in_a_right_nested_chain_short_circuits() -> None:
    def step(x: int) -> AsyncPlan[int]:
        if x == N // 2:
            return async_fail(ErrInfo("HALFWAY", str(x)))
        return async_bind(async_pure(x + 1), step)

    assert run_sync(async_map(step(0), inc)) == Err(ErrInfo("HALFWAY", str(N // 2)))


# --- constant depth ----------------------------------------------------------------------


def test_left_nesting_runs_in_constant_stack_and_await_depth() -> None:
    _assert_constant_depth(lambda n, probe: left_chain(n, probe.leaf(0)))


def test_right_nesting_runs_in_constant_stack_and_await_depth() -> None:
    _assert_constant_depth(lambda n, probe: right_chain(n, probe.leaf))


def test_maps_run_in_constant_stack_and_await_depth() -> None:
    _assert_constant_depth(lambda n, probe: map_chain(n, probe.leaf(0)))


def test_mixed_nesting_runs_in_constant_stack_and_await_depth() -> None:
    _assert_constant_depth(lambda n, probe: mixed_chain(2 * n, probe.leaf), per_level=2)


def test_depth_probe_sees_nested_interpreters() -> None:
    # The probe is able to see growth: a hand-written recursive plan (each level awaits the
    # next one's coroutine) gets deeper with n.  Without this, "equal depths" could be vacuous.
    def recursive(n: int, probe: DepthProbe) -> AsyncPlan[int]:
        plan = probe.leaf(0)
        for _ in range(n):
            inner = plan

            async def outer(inner: AsyncPlan[int] = inner) -> Result[int, ErrInfo]:
                result = await inner()
                return Ok(result.value + 1) if isinstance(result, Ok) else result

            plan = outer
        return plan

    shallow = _depths(recursive, 2)
    deeper = _depths(recursive, 20)
    assert deeper[0] > shallow[0]
    assert deeper[1] > shallow[1]
