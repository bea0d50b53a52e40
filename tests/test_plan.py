"""``plan``: description purity, replayability, short-circuiting, defects, shape errors, reprs."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Coroutine
from typing import Any

import pytest

from funcpipe_async import (
    AsyncPlan,
    Err,
    ErrInfo,
    FakeHttp,
    Ok,
    PlanTypeError,
    Result,
    ReusedCoroutineError,
    async_bind,
    async_fail,
    async_from_result,
    async_gather,
    async_lift,
    async_map,
    async_pure,
    run_sync,
)

BOOM = ErrInfo("BOOM", "scripted failure")


def inc(x: int) -> int:
    return x + 1


def inc_plan(x: int) -> AsyncPlan[int]:
    return async_pure(x + 1)


class Defect(Exception):
    """A bug inside a step: must propagate unchanged."""


def _http() -> FakeHttp:
    return FakeHttp({"/a": {"next": "/b"}, "/b": {"n": 2}})


def _fetch_chain(http: FakeHttp) -> AsyncPlan[int]:
    first = async_lift(lambda: http.get_json("/a"))
    second = async_bind(first, lambda body: async_lift(lambda: http.get_json(str(body["next"]))))
    return async_map(second, lambda body: int(body["n"]) * 10)


# --- description purity -------------------------------------------------------------------


def test_description_purity_building_records_no_calls() -> None:
    http = _http()
    called: list[str] = []

    def bind_fn(x: int) -> AsyncPlan[int]:
        called.append("bind")
        return async_pure(x)

    def map_fn(x: int) -> int:
        called.append("map")
        return x

    def make() -> Coroutine[Any, Any, Result[Any, ErrInfo]]:
        called.append("lift")
        return http.get_json("/a")

    plan = async_map(async_bind(async_map(async_lift(make), lambda b: 1), bind_fn), map_fn)
    chain = _fetch_chain(http)
    gathered = async_gather([chain, plan], concurrency=2)
    assert http.calls == []
    assert called == []
    # the recorders do work: driving performs every effect
    assert run_sync(gathered) == Ok([20, 1])
    assert called == ["lift", "bind", "map"]
    assert sorted(http.calls) == ["GET /a", "GET /a", "GET /b"]


def test_description_purity_calling_a_plan_records_nothing_until_awaited() -> None:
    http = _http()
    plan = _fetch_chain(http)
    coro = plan()
    assert inspect.iscoroutine(coro)
    try:
        assert http.calls == []
    finally:
        coro.close()
    assert http.calls == []
    assert run_sync(plan) == Ok(20)
    assert http.calls == ["GET /a", "GET /b"]


# --- replayability ------------------------------------------------------------------------


def test_replayability_driving_twice_runs_effects_twice() -> None:
    http = _http()
    plan = _fetch_chain(http)
    first = run_sync(plan)
    second = run_sync(plan)
    assert first == second == Ok(20)
    assert http.calls == ["GET /a", "GET /b", "GET /a", "GET /b"]


def test_replayability_each_drive_gets_fresh_coroutines() -> None:
    made: list[object] = []

    async def step() -> Result[int, ErrInfo]:
        await asyncio.sleep(0)
        return Ok(7)

    def make() -> Coroutine[Any, Any, Result[int, ErrInfo]]:
        coro = step()
        made.append(coro)
        return coro

    plan = async_map(async_lift(make), inc)
    first, second = plan(), plan()
    assert inspect.iscoroutine(first) and inspect.iscoroutine(second)
    first.close()
    second.close()
    assert first is not second
    assert run_sync(plan) == run_sync(plan) == Ok(8)
    assert len(made) == 2 and made[0] is not made[1]


# --- Err short-circuits, defects propagate ------------------------------------------------


def test_err_short_circuits_later_binds_and_maps() -> None:
    called: list[str] = []

    def later(x: int) -> AsyncPlan[int]:
        called.append("bind")
        return async_pure(x)

    def later_map(x: int) -> int:
        called.append("map")
        return x

    plan = async_map(async_bind(async_bind(async_pure(1), lambda _: async_fail(BOOM)), later), later_map)
    assert run_sync(plan) == Err(BOOM)
    assert called == []


def test_err_from_a_lifted_step_short_circuits() -> None:
    http = FakeHttp({}, failures={"/x": ErrInfo("HTTP_503", retryable=True)})
    called: list[object] = []

    def record(v: object) -> AsyncPlan[object]:
        called.append(v)
        return async_pure(v)

    plan = async_bind(async_lift(lambda: http.get_json("/x")), record)
    assert run_sync(plan) == Err(ErrInfo("HTTP_503", retryable=True))
    assert called == []
    assert http.calls == ["GET /x"]


def test_exception_in_a_lifted_step_propagates_unchanged() -> None:
    boom = Defect("lifted")

    async def explode() -> Result[int, ErrInfo]:
        await asyncio.sleep(0)
        raise boom

    with pytest.raises(Defect) as info:
        run_sync(async_bind(async_lift(explode), inc_plan))
    assert info.value is boom


def test_exception_in_a_bind_function_propagates_unchanged() -> None:
    boom = Defect("bind")

    def bad(_: int) -> AsyncPlan[int]:
        raise boom

    with pytest.raises(Defect) as info:
        run_sync(async_bind(async_pure(1), bad))
    assert info.value is boom


def test_exception_in_a_map_function_propagates_unchanged() -> None:
    boom = Defect("map")

    def bad(_: int) -> int:
        raise boom

    with pytest.raises(Defect) as info:
        run_sync(async_map(async_pure(1), bad))
    assert info.value is boom


# --- async_from_result ----------------------------------------------------------------------


@pytest.mark.parametrize("result", [Ok(3), Err(BOOM)])
def test_async_from_result_yields_the_result(result: Result[int, ErrInfo]) -> None:
    assert run_sync(async_from_result(result)) == result


def test_async_from_result_joins_a_chain_and_an_err_short_circuits() -> None:
    def validate(x: int) -> AsyncPlan[int]:
        return async_from_result(Ok(x) if x > 0 else Err(ErrInfo("INVALID", str(x))))

    called: list[int] = []

    def record(x: int) -> AsyncPlan[int]:
        called.append(x)
        return async_pure(x)

    assert run_sync(async_bind(async_pure(2), validate)) == Ok(2)
    plan = async_bind(async_bind(async_pure(-1), validate), record)
    assert run_sync(plan) == Err(ErrInfo("INVALID", "-1"))
    assert called == []
    assert repr(async_from_result(Ok(3))) == "async_pure(3)"


@pytest.mark.parametrize("bad", [3, None, BOOM])
def test_async_from_result_rejects_a_non_result(bad: object) -> None:
    with pytest.raises(PlanTypeError, match="Ok"):
        async_from_result(bad)  # type: ignore[arg-type]


# --- reused coroutines and shape errors ---------------------------------------------------


def test_reused_coroutine_fails_on_second_drive() -> None:
    http = _http()
    shared = http.get_json("/b")
    plan = async_lift(lambda: shared)
    assert run_sync(plan) == Ok({"n": 2})
    with pytest.raises(ReusedCoroutineError, match="fresh coroutine"):
        run_sync(plan)
    assert http.calls == ["GET /b"]


def test_reused_coroutine_error_is_a_runtime_error() -> None:
    assert issubclass(ReusedCoroutineError, RuntimeError)
    assert issubclass(PlanTypeError, TypeError)


def test_async_lift_rejects_a_coroutine_object_and_closes_it() -> None:
    coro = _http().get_json("/a")
    try:
        with pytest.raises(PlanTypeError, match="not a coroutine"):
            async_lift(coro)  # type: ignore[arg-type]
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    finally:
        coro.close()  # a no-op if the package closed it; keeps a failure from warning later


@pytest.mark.parametrize("bad", [5, None, "plan"])
def test_async_lift_rejects_a_non_callable(bad: object) -> None:
    with pytest.raises(PlanTypeError):
        async_lift(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [5, None, Ok(1)])
def test_async_bind_rejects_a_non_callable(bad: object) -> None:
    with pytest.raises(PlanTypeError, match="second argument"):
        async_bind(async_pure(1), bad)  # type: ignore[arg-type]
    with pytest.raises(PlanTypeError, match="first argument"):
        async_bind(bad, inc_plan)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [5, None])
def test_async_map_rejects_a_non_callable(bad: object) -> None:
    with pytest.raises(PlanTypeError, match="second argument"):
        async_map(async_pure(1), bad)  # type: ignore[arg-type]
    with pytest.raises(PlanTypeError, match="first argument"):
        async_map(bad, inc)  # type: ignore[arg-type]


def test_async_fail_rejects_a_non_errinfo() -> None:
    with pytest.raises(PlanTypeError, match="ErrInfo"):
        async_fail("BOOM")  # type: ignore[arg-type]


@pytest.mark.parametrize("returned", [5, Ok(5), None])
def test_bind_function_returning_a_non_plan_raises_plan_type_error(returned: object) -> None:
    def bad(_: int) -> Any:
        return returned

    plan = async_bind(async_pure(1), bad)
    with pytest.raises(PlanTypeError, match="must return an AsyncPlan"):
        run_sync(plan)


def test_bind_function_returning_a_coroutine_raises_plan_type_error_and_closes_it() -> None:
    # The classic slip: `async_bind(p, lambda x: http.get_json(x))` without async_lift.
    http = _http()
    made: list[Coroutine[Any, Any, Any]] = []

    def forgot_lift(_: int) -> Any:
        made.append(http.get_json("/a"))
        return made[-1]

    try:
        with pytest.raises(PlanTypeError, match="must return an AsyncPlan"):
            run_sync(async_bind(async_pure(1), forgot_lift))
        assert len(made) == 1
        # Like async_lift(coroutine), the interpreter must close the coroutine it refuses,
        # or it warns "coroutine ... was never awaited" later (in a later notebook cell).
        assert inspect.getcoroutinestate(made[0]) == inspect.CORO_CLOSED
    finally:
        for coro in made:
            coro.close()


def test_lifted_step_returning_a_non_awaitable_raises_plan_type_error() -> None:
    with pytest.raises(PlanTypeError, match="not an awaitable"):
        run_sync(async_lift(lambda: 5))  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("value", [5, None, "Ok"])
def test_step_returning_a_non_result_raises_plan_type_error(value: object) -> None:
    async def bad() -> Any:
        return value

    with pytest.raises(PlanTypeError, match=r"must produce Ok\(...\) or Err\(...\)"):
        run_sync(async_lift(bad))
    with pytest.raises(PlanTypeError):
        run_sync(async_bind(async_pure(1), lambda _: async_lift(bad)))


# --- nodes: immutable data with address-free reprs ----------------------------------------


def test_repr_is_address_free_and_shows_structure() -> None:
    http = _http()
    plan = async_map(async_bind(async_pure(1), inc_plan), inc)
    assert repr(plan) == "async_map(async_bind(async_pure(1), inc_plan), inc)"
    assert repr(async_fail(BOOM)) == ("async_fail(ErrInfo(code='BOOM', message='scripted failure', retryable=False))")
    lifted = async_lift(lambda: http.get_json("/a"))
    here = "test_repr_is_address_free_and_shows_structure"
    assert repr(lifted) == f"async_lift({here}.<lambda>)"
    assert repr(async_bind(lifted, lambda body: async_pure(body))) == (
        f"async_bind(async_lift({here}.<lambda>), {here}.<lambda>)"
    )
    gathered = async_gather([async_pure(1), lifted, plan], concurrency=2)
    assert repr(gathered) == "async_gather(<3 plans>, concurrency=2)"
    for text in map(repr, [plan, lifted, gathered, async_map(lifted, len)]):
        assert not re.search(r"0x[0-9a-fA-F]+", text), text


def test_repr_stops_three_levels_deep() -> None:
    plan: AsyncPlan[int] = async_pure(0)
    for _ in range(5):
        plan = async_bind(plan, inc_plan)
    assert repr(plan) == "async_bind(async_bind(async_bind(…, inc_plan), inc_plan), inc_plan)"


def test_repr_of_a_local_function_has_no_locals_marker() -> None:
    def local_step(x: int) -> AsyncPlan[int]:
        return async_pure(x)

    assert repr(async_bind(async_pure(1), local_step)) == (
        "async_bind(async_pure(1), test_repr_of_a_local_function_has_no_locals_marker.local_step)"
    )


def test_plan_nodes_are_immutable() -> None:
    plan = async_bind(async_pure(1), inc_plan)
    with pytest.raises(AttributeError, match="cannot assign to field 'f'"):
        plan.f = inc  # type: ignore[attr-defined]
    assert not hasattr(plan, "__dict__")  # slotted: no attribute can be added either
    assert plan != async_bind(async_pure(1), inc_plan)  # compared by identity, like functions
    assert run_sync(plan) == Ok(2)


def test_a_plain_coroutine_function_is_a_plan() -> None:
    async def plain() -> Result[int, ErrInfo]:
        return Ok(4)

    assert run_sync(async_bind(plain, inc_plan)) == Ok(5)
    assert run_sync(async_bind(async_pure(1), lambda _: plain)) == Ok(4)


# --- async_settle ---------------------------------------------------------------------------


def test_async_settle_keeps_the_outcome_as_the_value() -> None:
    from funcpipe_async.plan import async_settle

    boom = ErrInfo("BOOM")
    assert asyncio.run(async_settle(async_fail(boom))()) == Ok(Err(boom))
    assert asyncio.run(async_settle(async_pure(1))()) == Ok(Ok(1))
    assert repr(async_settle(async_pure(1))) == "async_settle(async_pure(1))"


def test_async_settle_lets_every_plan_of_a_gather_finish() -> None:
    from funcpipe_async import async_gather
    from funcpipe_async.plan import async_settle

    boom = ErrInfo("BOOM")
    plans = [async_pure(1), async_fail(boom), async_pure(3)]
    assert asyncio.run(async_gather(plans, concurrency=2)()) == Err(boom)
    settled = asyncio.run(async_gather([async_settle(p) for p in plans], concurrency=2)())
    assert settled == Ok([Ok(1), Err(boom), Ok(3)])


def test_async_settle_lets_defects_propagate_and_rejects_non_plans() -> None:
    from funcpipe_async.plan import PlanTypeError, async_settle

    async def broken() -> Any:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        asyncio.run(async_settle(async_lift(broken))())
    with pytest.raises(PlanTypeError):
        async_settle(3)  # type: ignore[arg-type]
    with pytest.raises(PlanTypeError, match="must produce Ok"):
        asyncio.run(async_settle(lambda: asyncio.sleep(0, result=5))())  # type: ignore[arg-type, return-value]
