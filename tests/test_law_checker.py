"""The law checker compares result, effects and virtual time — and catches broken implementations.

Each broken implementation below gives the right *results* on most inputs; only comparing
effects (what ran, how often, when) and elapsed time exposes it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import Err, Ok, async_bind, async_gather, async_pure, async_retry
from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.policies import RetryPolicy
from funcpipe_async.shell.laws import (
    LawReport,
    Observation,
    check_gather_laws,
    check_law,
    check_monad_laws,
    check_retry_laws,
    observe,
)
from funcpipe_async.testing import ArrowScript, EffectLog, PlanScript, ScriptOp, arrow_scripts, plan_scripts


def test_observe_records_result_effects_at_their_instants_and_elapsed_time() -> None:
    script = PlanScript(
        2, (ScriptOp("effect", "a"), ScriptOp("sleep", 1.5), ScriptOp("add", 3), ScriptOp("effect", "b"))
    )
    assert observe(script.build) == Observation(Ok(5), ("a(2)@0", "b(5)@1.5"), 1.5)
    assert str(observe(script.build)) == "Ok(value=5) after 1.5 s, effects [a(2)@0, b(5)@1.5]"


def test_a_script_fails_where_its_ops_say() -> None:
    script = PlanScript(4, (ScriptOp("effect", "a"), ScriptOp("fail_over", 3), ScriptOp("effect", "b")))
    observed = observe(script.build)
    assert isinstance(observed.result, Err) and observed.result.error.code == "TOO_BIG"
    assert observed.effects == ("a(4)@0",)
    assert repr(script) == "script(4, [effect('a'), fail_over(3), effect('b')])"
    assert repr(ArrowScript((ScriptOp("yield"), ScriptOp("fail", "X")))) == "arrow([yield(), fail('X')])"


@given(plan_scripts())
def test_observing_a_script_twice_gives_the_same_observation(script: PlanScript) -> None:
    assert observe(script.build) == observe(script.build)


@given(plan_scripts(failures=False))
def test_scripts_drawn_without_failures_never_fail(script: PlanScript) -> None:
    assert isinstance(observe(script.build).result, Ok)


@pytest.mark.parametrize("checker", [check_monad_laws, check_gather_laws, check_retry_laws])
def test_every_law_holds_for_the_package(checker: Any) -> None:
    reports = checker(max_examples=40)
    assert reports and all(isinstance(r, LawReport) and r.holds for r in reports), [str(r) for r in reports]


# --- broken implementations ------------------------------------------------------------------


def _bind_driving_m_twice(m: AsyncPlan[Any], f: Any) -> AsyncPlan[Any]:
    async def twice() -> Any:
        await m()
        return await m()

    return async_bind(async_lift(twice), f)


def _gather_in_completion_order(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    async def run() -> Any:
        done: list[Any] = []

        async def one(plan: AsyncPlan[Any]) -> None:
            done.append(await plan())

        await asyncio.gather(*(one(p) for p in plans))
        failed = [r for r in done if isinstance(r, Err)]
        return failed[0] if failed else Ok([r.value for r in done])

    return async_lift(run)


def _gather_ignoring_the_bound(plans: list[AsyncPlan[Any]], concurrency: int) -> AsyncPlan[list[Any]]:
    return async_gather(plans, concurrency=max(len(plans), 1))


def _retry_that_waits_first(plan: AsyncPlan[Any], policy: RetryPolicy) -> AsyncPlan[Any]:
    async def run() -> Any:
        await asyncio.sleep(0.001)
        return await async_retry(plan, policy)()

    return async_lift(run)


def _retry_every_error(plan: AsyncPlan[Any], policy: RetryPolicy) -> AsyncPlan[Any]:
    async def run() -> Any:
        result: Any = None
        for _ in range(policy.max_attempts):
            result = await plan()
            if isinstance(result, Ok):
                return result
        return result

    return async_lift(run)


def _failing(reports: list[LawReport]) -> dict[str, str]:
    return {r.law: r.counterexample or "" for r in reports if not r.holds}


def test_a_bind_that_drives_its_plan_twice_is_caught_by_its_effects() -> None:
    failing = _failing(check_monad_laws(bind=_bind_driving_m_twice, max_examples=50))
    assert set(failing) == {"right identity", "associativity", "map via bind"}
    assert "effects [a(0)@0, a(0)@0]" in failing["right identity"]


def test_a_gather_in_completion_order_breaks_order() -> None:
    failing = _failing(check_gather_laws(gather=_gather_in_completion_order, max_examples=50))
    assert "gather order" in failing


def test_a_gather_ignoring_its_bound_is_caught_by_the_instants_of_its_effects() -> None:
    failing = _failing(check_gather_laws(gather=_gather_ignoring_the_bound, max_examples=50))
    assert list(failing) == ["concurrency=1"]  # results and order are right; only time shows it


def test_a_retry_that_waits_before_the_first_attempt_is_caught_by_elapsed_time() -> None:
    failing = _failing(check_retry_laws(retry=_retry_that_waits_first, max_examples=50))
    assert set(failing) == {"one attempt", "not retryable"}
    assert "after 0.001 s" in failing["one attempt"]


def test_a_retry_of_non_retryable_errors_is_caught_by_repeated_effects() -> None:
    failing = _failing(check_retry_laws(retry=_retry_every_error, max_examples=50))
    assert list(failing) == ["not retryable"]


def test_check_law_accepts_plain_plans_and_validates_max_examples() -> None:
    report = check_law(
        "pure is pure",
        "async_pure(x) == async_pure(x)",
        st.tuples(st.integers()),
        lambda x: (lambda log: async_pure(x), lambda log: async_pure(x)),
        max_examples=5,
    )
    assert report.holds and report.examples == 5
    with pytest.raises(ValueError, match="max_examples"):
        check_gather_laws(max_examples=0)
    with pytest.raises(ValueError, match="max_ops"):
        plan_scripts(max_ops=-1)
    with pytest.raises(ValueError, match="max_ops"):
        arrow_scripts(max_ops=True)


def test_effect_log_stamps_the_loop_time() -> None:
    log = EffectLog()

    async def main() -> None:
        await asyncio.sleep(0)
        log.record("x", 1)

    from funcpipe_async import Simulation

    Simulation().run(main())
    assert log.entries == ["x(1)@0"]


# --- stream laws ------------------------------------------------------------------------------

from funcpipe_async import BatchPolicy, Stream  # noqa: E402
from funcpipe_async.shell.laws import check_stream_laws  # noqa: E402
from funcpipe_async.testing import StreamScript, stream_scripts  # noqa: E402


def test_stream_laws_hold_for_the_package() -> None:
    reports = check_stream_laws(max_examples=40)
    assert [r.law for r in reports] == ["map fusion", "filter fusion", "chunk/flatten", "batch/flatten"]
    assert all(r.holds for r in reports), [str(r) for r in reports]


def _chunk_dropping_the_remainder(s: Stream[Any], n: int) -> Stream[Any]:
    return s.chunk(n).filter(lambda group: len(group) == n)


def _batch_that_waits_after_a_full_batch(s: Stream[Any], policy: BatchPolicy) -> Stream[Any]:
    async def pause(group: Any) -> Any:
        await asyncio.sleep(policy.max_wait if len(group) == policy.max_size else 0)
        return Ok(group)

    return s.batch(policy).map_plan(lambda group: async_lift(lambda: pause(group)))


def _filter_inverted(s: Stream[Any], p: Any) -> Stream[Any]:
    return s.filter(lambda x: not p(x))


def test_stream_law_checker_catches_broken_chunk_batch_and_filter() -> None:
    assert _failing(check_stream_laws(chunk=_chunk_dropping_the_remainder, max_examples=50)).keys() == {"chunk/flatten"}
    failing = _failing(check_stream_laws(batch=_batch_that_waits_after_a_full_batch, max_examples=50))
    assert list(failing) == ["batch/flatten"]  # same items, same effects: only the elapsed time shows it
    assert _failing(check_stream_laws(filter_=_filter_inverted, max_examples=50)).keys() == {"filter fusion"}


def test_stream_scripts_emit_on_virtual_time() -> None:
    script = StreamScript(((1.0, 5), (0.5, -2)))
    observed = observe(lambda log: script.build(log).to_list())
    assert observed == Observation(Ok([5, -2]), ("emit(5)@1", "emit(-2)@1.5"), 1.5)
    assert repr(script) == "stream_script([[1.0, 5], [0.5, -2]])"
    with pytest.raises(ValueError):
        stream_scripts(max_items=-1)
