"""``account_for`` and ``Ledger``: every input accounted for exactly once, under faults."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    ConstantBackoff,
    Err,
    ErrInfo,
    Ok,
    RetryPolicy,
    Simulation,
    async_from_result,
    async_lift,
    async_retry,
)
from funcpipe_async.adapters import HttpxJsonClient, SqliteStorage
from funcpipe_async.ledger import Ledger, Outcome, account_for
from funcpipe_async.loopback import Faults, LoopbackJsonService

BOOM = ErrInfo("BOOM", "scripted", retryable=False)


class Steps:
    """Three scripted steps on virtual time that record what ran and how many were in flight."""

    def __init__(self, fail_at: Mapping[str, str]) -> None:
        self.fail_at = fail_at
        self.ran: list[tuple[str, str]] = []
        self.in_flight = 0
        self.peak = 0

    def step(self, name: str) -> Any:
        def build(value: str) -> Any:
            async def run() -> Any:
                item = value.split(":")[0]
                self.ran.append((name, item))
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                try:
                    await asyncio.sleep(1)
                finally:
                    self.in_flight -= 1
                return Err(BOOM) if self.fail_at.get(item) == name else Ok(f"{item}:{name}")

            return async_lift(run)

        return (name, build)


@given(
    fail_at=st.dictionaries(
        st.sampled_from([f"i{n}" for n in range(12)]), st.sampled_from(["fetch", "validate", "save"])
    ),
    n=st.integers(0, 12),
    concurrency=st.integers(1, 5),
)
def test_every_input_is_accounted_for_exactly_once_and_the_first_failure_wins(
    fail_at: dict[str, str], n: int, concurrency: int
) -> None:
    inputs = [f"i{k}" for k in range(n)]
    steps = Steps(fail_at)
    plan = account_for(
        inputs, [steps.step("fetch"), steps.step("validate"), steps.step("save")], concurrency=concurrency
    )
    ledger = Simulation().run(plan)
    assert isinstance(ledger, Ok)
    assert ledger.value.problems(inputs) == []
    expected = [Outcome(i, fail_at[i], BOOM) if i in fail_at else Outcome(i) for i in inputs]
    assert list(ledger.value.outcomes) == expected
    for item in inputs:  # no step runs after the failing one
        ran = [name for name, who in steps.ran if who == item]
        stop = ["fetch", "validate", "save"].index(fail_at[item]) + 1 if item in fail_at else 3
        assert ran == ["fetch", "validate", "save"][:stop]
    assert steps.peak <= concurrency


def test_a_defect_in_a_step_crashes_the_batch() -> None:
    def broken(value: str) -> Any:
        async def run() -> Any:
            raise KeyError(value)

        return async_lift(run)

    with pytest.raises(KeyError):
        Simulation().run(account_for(["a", "b"], [("fetch", broken)], concurrency=2))


def test_a_step_that_returns_no_plan_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="step 'fetch' returned int; a step returns an AsyncPlan"):
        Simulation().run(account_for(["a"], [("fetch", lambda v: 3)], concurrency=1))


@pytest.mark.parametrize(
    ("inputs", "steps", "error"),
    [(["a"], [], ValueError), (["a"], [("x",)], TypeError), ([1], [("x", lambda v: v)], TypeError)],
)
def test_arguments_are_validated(inputs: list[Any], steps: list[Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        account_for(inputs, steps, concurrency=1)


def test_problems_names_lost_duplicated_and_unexpected_items() -> None:
    ledger = Ledger((Outcome("a"), Outcome("a"), Outcome("z", "fetch", BOOM)))
    assert ledger.problems(["a", "b"]) == [
        "a: accounted for 2 times",
        "b: lost (1 in, 0 accounted for)",
        "z: accounted for but never an input",
    ]
    assert Ledger((Outcome("a"), Outcome("a"))).problems(["a", "a"]) == []


def test_the_table_counts_each_outcome_and_the_total() -> None:
    unavailable = ErrInfo("HTTP_503", "", retryable=True)
    ledger = Ledger(
        (
            Outcome("a"),
            Outcome("b", "fetch", unavailable),
            Outcome("c"),
            Outcome("d", "validate", BOOM),
            Outcome("e", "fetch", unavailable),
        )
    )
    assert ledger.table() == (
        "outcome          inputs\n"
        "---------------  ------\n"
        "saved                 2\n"
        "fetch: HTTP_503       2\n"
        "validate: BOOM        1\n"
        "total                 5"
    )
    assert repr(ledger) == "Ledger(5 inputs: 2 saved, 3 failed)"
    assert str(ledger.failed[0]) == "b: failed at fetch with HTTP_503, retryable"
    with pytest.raises(ValueError):
        Outcome("x", "fetch", None)


ITEMS = {str(i): {"id": str(i), "title": f"item {i}", "price": i} for i in range(1, 201)}
for bad in ("13", "26"):
    ITEMS[bad] = {"id": bad, "title": "", "price": -1}  # fails validation


def validate(body: Mapping[str, Any]) -> Ok[dict[str, Any]] | Err[ErrInfo]:
    if not body.get("title") or not isinstance(body.get("price"), int) or body["price"] < 0:
        return Err(ErrInfo("INVALID", f"item {body.get('id')}: needs a title and a price ≥ 0"))
    return Ok({"id": body["id"], "title": body["title"], "price": body["price"]})


@pytest.mark.usefixtures("no_leaks")
def test_the_real_pipeline_under_faults_loses_nothing_and_saves_nothing_twice() -> None:
    faults = Faults(
        unavailable={**{str(i): 2 for i in range(1, 201, 7)}, "50": 99},  # most recover on the 3rd attempt
        drop={str(i): 1 for i in range(3, 201, 11)},
        malformed=frozenset({"77"}),
    )
    ids = [*ITEMS, "404"]
    policy = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(0.001))

    async def main(service: LoopbackJsonService) -> tuple[Any, Any, Any, int]:
        async with HttpxJsonClient(service.base_url, max_connections=8) as http, SqliteStorage() as store:
            steps = [
                ("fetch", lambda item: async_retry(async_lift(lambda: http.get_json(f"/items/{item}")), policy)),
                ("validate", lambda body: async_from_result(validate(body))),
                ("save", lambda record: async_retry(async_lift(lambda: store.save(record["id"], record)), policy)),
            ]
            ledger = await account_for(ids, steps, concurrency=16)()
            return ledger, await store.count(), await store.keys(), store.writes

    with LoopbackJsonService(ITEMS, faults=faults) as service:
        ledger, rows, keys, writes = asyncio.run(main(service))
        assert service.peak_connections <= 8
    assert isinstance(ledger, Ok)
    ledger = ledger.value
    assert ledger.problems(ids) == []
    assert ledger.counts() == {
        "saved": 196,
        "validate: INVALID": 2,
        "fetch: BAD_JSON": 1,
        "fetch: HTTP_404": 1,
        "fetch: HTTP_503": 1,
    }
    assert rows == Ok(196) and keys == Ok(sorted(ledger.saved)) and writes == 196
