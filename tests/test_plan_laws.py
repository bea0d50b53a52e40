"""The monad laws of ``AsyncPlan`` as Hypothesis properties, and the reusable law checker.

``==`` on plans means "drives to equal results": each side is driven with ``run_sync``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcpipe_async.shell.laws as laws_module
from funcpipe_async import (
    AsyncPlan,
    Err,
    LawReport,
    Ok,
    async_bind,
    async_map,
    async_pure,
    check_monad_laws,
    int_arrows,
    int_plans,
    run_sync,
)
from funcpipe_async.testing import Arrow

xs = st.integers(min_value=-100, max_value=100)
pure_fns = st.sampled_from([lambda x: x + 1, lambda x: 2 * x, lambda x: -x, lambda x: x % 7])

LAWS = ["left identity", "right identity", "associativity", "map via bind"]


@given(xs, int_arrows())
def test_left_identity(x: int, f: Arrow) -> None:
    assert run_sync(async_bind(async_pure(x), f)) == run_sync(f(x))


@given(int_plans())
def test_right_identity(m: AsyncPlan[int]) -> None:
    assert run_sync(async_bind(m, async_pure)) == run_sync(m)


@given(int_plans(), int_arrows(), int_arrows())
def test_associativity(m: AsyncPlan[int], f: Arrow, g: Arrow) -> None:
    lhs = async_bind(async_bind(m, f), g)
    rhs = async_bind(m, lambda x: async_bind(f(x), g))
    assert run_sync(lhs) == run_sync(rhs)


@given(int_plans(), pure_fns)
def test_map_via_bind(m: AsyncPlan[int], h: Callable[[int], int]) -> None:
    assert run_sync(async_map(m, h)) == run_sync(async_bind(m, lambda x: async_pure(h(x))))


@given(int_plans())
def test_int_plans_drive_to_results(m: AsyncPlan[int]) -> None:
    result = run_sync(m)
    assert isinstance(result, (Ok, Err))
    assert "0x" not in repr(m)


# --- the law checker ----------------------------------------------------------------------


def test_check_monad_laws_reports_all_four_laws_hold() -> None:
    reports = check_monad_laws(max_examples=50)
    assert [r.law for r in reports] == LAWS
    for report in reports:
        assert isinstance(report, LawReport)
        assert report.holds, str(report)
        assert report.counterexample is None
        assert 0 < report.examples <= 50
        assert str(report).endswith("holds")


def test_check_monad_laws_rejects_bad_max_examples() -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="max_examples"):
            check_monad_laws(max_examples=bad)  # type: ignore[arg-type]


def _drop_err_bind(plan: AsyncPlan[int], f: Callable[[int], AsyncPlan[int]]) -> AsyncPlan[int]:
    """A broken bind: it turns an Err into Ok(0) instead of short-circuiting."""

    async def recovered() -> object:
        result = await plan()
        return Ok(0) if isinstance(result, Err) else result

    return async_bind(recovered, f)  # type: ignore[arg-type]


def _twice_bind(plan: AsyncPlan[int], f: Callable[[int], AsyncPlan[int]]) -> AsyncPlan[int]:
    """A broken bind: it applies ``f`` twice."""
    return async_bind(async_bind(plan, f), f)


def test_checker_detects_a_bind_that_drops_err(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(laws_module, "async_bind", _drop_err_bind)
    reports = {r.law: r for r in check_monad_laws(max_examples=50)}
    # int_plans() draws async_fail(...): bind(m, pure) is Ok(0) where m is Err.
    assert not reports["right identity"].holds
    assert reports["right identity"].counterexample is not None
    assert "Err(" in reports["right identity"].counterexample
    assert "FAILS on" in str(reports["right identity"])


def test_checker_detects_a_bind_that_applies_f_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(laws_module, "async_bind", _twice_bind)
    reports = {r.law: r for r in check_monad_laws(max_examples=50)}
    assert not reports["left identity"].holds
    # bind(bind(m, pure), pure) == m still holds: applying async_pure twice is harmless.
    assert reports["right identity"].holds
    assert reports["left identity"].counterexample is not None


def test_checker_detects_an_arrow_with_hidden_state() -> None:
    # Each call of `stamp` returns a plan for x + (how many times stamp was called before):
    # not a function of its input, so no law involving it can hold.
    counter = itertools.count()
    stamp = Arrow("stamp", lambda x: async_pure(x + next(counter)))
    reports = {r.law: r for r in check_monad_laws(arrows=st.just(stamp), max_examples=20)}
    assert not reports["left identity"].holds
    assert not reports["associativity"].holds
    assert "stamp" in (reports["left identity"].counterexample or "")
    # The laws that take no arrow are unaffected.
    assert reports["right identity"].holds
    assert reports["map via bind"].holds


def test_checker_detects_a_plan_that_is_not_replayable() -> None:
    # A "plan" that yields a different value on every drive: right identity compares two
    # drives of it, so it must fail.
    counter = itertools.count()

    async def ticking() -> object:
        return Ok(next(counter))

    plans: st.SearchStrategy[Any] = st.just(ticking)
    reports = {r.law: r for r in check_monad_laws(plans=plans, max_examples=10)}
    assert not reports["right identity"].holds
    assert not reports["map via bind"].holds
    assert reports["left identity"].holds


def test_checker_reports_a_law_that_fails_only_sometimes() -> None:
    # An arrow whose second call is off by one: left identity fails on one example and not
    # when Hypothesis replays it.  The checker's contract is a report per law, so it must
    # say holds=False rather than let Hypothesis' FlakyFailure escape.
    counter = itertools.count()
    flaky = Arrow("flaky", lambda x: async_pure(x + (1 if next(counter) == 1 else 0)))
    reports = {r.law: r for r in check_monad_laws(arrows=st.just(flaky), max_examples=20)}
    assert not reports["left identity"].holds
    assert "flaky" in (reports["left identity"].counterexample or "")
