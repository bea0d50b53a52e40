"""``IOPlan``: Module 07's synchronous plan — the same laws, and nothing runs until called."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import Err, ErrInfo, IOPlan, Ok, Result, io_bind, io_delay, io_map, io_pure

NEG = ErrInfo("NEGATIVE")
BOOM = ErrInfo("BOOM")


def _fail_if_negative(x: int) -> IOPlan[int]:
    return io_delay(lambda: Err(NEG) if x < 0 else Ok(x))


xs = st.integers(min_value=-50, max_value=50)
ks = st.integers(min_value=-3, max_value=3)
arrows: st.SearchStrategy[Callable[[int], IOPlan[int]]] = st.one_of(
    ks.map(lambda k: lambda x: io_pure(x + k)),
    st.just(lambda x: io_pure(2 * x)),
    st.just(_fail_if_negative),
    ks.map(lambda k: lambda x: io_delay(lambda: Ok(x - k))),
)
leaves: st.SearchStrategy[IOPlan[int]] = st.one_of(
    xs.map(io_pure),
    xs.map(lambda x: io_delay(lambda: Ok(x))),
    st.just(io_delay(lambda: Err(BOOM))),
)
plans = st.one_of(leaves, st.builds(io_bind, leaves, arrows))
pure_fns = st.sampled_from([lambda x: x + 1, lambda x: -x, lambda x: x * x])


@given(xs, arrows)
def test_left_identity(x: int, f: Callable[[int], IOPlan[int]]) -> None:
    assert io_bind(io_pure(x), f)() == f(x)()


@given(plans)
def test_right_identity(m: IOPlan[int]) -> None:
    assert io_bind(m, io_pure)() == m()


@given(plans, arrows, arrows)
def test_associativity(m: IOPlan[int], f: Callable[[int], IOPlan[int]], g: Callable[[int], IOPlan[int]]) -> None:
    assert io_bind(io_bind(m, f), g)() == io_bind(m, lambda x: io_bind(f(x), g))()


@given(plans, pure_fns)
def test_map_via_bind(m: IOPlan[int], h: Callable[[int], int]) -> None:
    assert io_map(m, h)() == io_bind(m, lambda x: io_pure(h(x)))()


def test_io_delay_does_not_call_its_thunk_until_run() -> None:
    calls: list[str] = []

    def thunk() -> Result[int, ErrInfo]:
        calls.append("thunk")
        return Ok(1)

    def step(x: int) -> IOPlan[int]:
        calls.append("bind")
        return io_pure(x + 1)

    def double(x: int) -> int:
        calls.append("map")
        return 2 * x

    plan = io_map(io_bind(io_delay(thunk), step), double)
    assert calls == []
    assert plan() == Ok(4)
    assert calls == ["thunk", "bind", "map"]
    assert plan() == Ok(4)  # replayable: running again runs the effects again
    assert calls == ["thunk", "bind", "map"] * 2


def test_err_short_circuits_io_bind_and_io_map() -> None:
    called: list[int] = []

    def record(x: int) -> IOPlan[int]:
        called.append(x)
        return io_pure(x)

    plan = io_map(io_bind(io_delay(lambda: Err(BOOM)), record), record)
    assert plan() == Err(BOOM)
    assert called == []


def test_io_delay_rejects_a_non_callable() -> None:
    with pytest.raises(TypeError, match="zero-argument function"):
        io_delay(Ok(1))  # type: ignore[arg-type]
