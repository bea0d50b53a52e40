"""Lesson 08 end to end: the real loopback service, httpx and SQLite, under scripted faults.

Each test starts the service, opens the adapters and closes everything inside the test, and
the ``no_leaks`` fixture fails it if a socket or a thread outlives it.  Faults are scripted
per item and per request, so every count asserted here is exact, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from funcpipe_async import (
    AsyncRateLimiter,
    ConstantBackoff,
    Err,
    ErrInfo,
    Ok,
    Result,
    RetryPolicy,
    TokenBucket,
    account_for,
    async_from_result,
    async_lift,
    async_retry,
    max_window_cost,
)
from funcpipe_async.adapters import HttpxJsonClient, SqliteStorage
from funcpipe_async.ledger import Ledger, Step
from funcpipe_async.loopback import Faults, LoopbackJsonService
from funcpipe_async.ports import HttpClientCap, StorageCap

pytestmark = pytest.mark.usefixtures("no_leaks")

IDS = [f"{n:03d}" for n in range(1, 61)]
CATALOGUE: dict[str, dict[str, Any]] = {i: {"id": i, "title": f"item {int(i)}", "price": int(i)} for i in IDS}
CATALOGUE["013"] = {"id": "013", "title": "", "price": 1}
del CATALOGUE["040"]
FAULTS = Faults(
    unavailable={**{f"{n:03d}": 2 for n in range(7, 61, 10)}, "050": 99},
    drop={f"{n:03d}": 1 for n in range(3, 61, 25)},
    malformed=frozenset({"044"}),
)
POLICY = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(0.001))


def validate(body: Mapping[str, Any]) -> Result[dict[str, Any], ErrInfo]:
    if not body.get("title") or not isinstance(body.get("price"), int) or body["price"] < 0:
        return Err(ErrInfo("BAD_VALUE", f"item {body.get('id')}: needs a title and a price >= 0"))
    return Ok({"id": body["id"], "title": body["title"], "price": body["price"]})


def steps(http: HttpClientCap, store: StorageCap, limiter: AsyncRateLimiter[Any]) -> list[Step]:
    async def limited_get(item: str) -> Result[Mapping[str, Any], ErrInfo]:
        await limiter.acquire()
        return await http.get_json(f"/items/{item}")

    return [
        ("fetch", lambda item: async_retry(async_lift(lambda: limited_get(item)), POLICY)),
        ("validate", lambda body: async_from_result(validate(body))),
        ("save", lambda record: async_retry(async_lift(lambda: store.save(record["id"], record)), POLICY)),
    ]


def predicted_requests(item: str) -> int:
    failures = max(FAULTS.drop.get(item, 0), FAULTS.unavailable.get(item, 0))
    return min(failures + 1, POLICY.max_attempts)


class LostReplies:
    """The first save of each key in ``keys`` lands, then its reply is lost (a retryable Err)."""

    def __init__(self, store: StorageCap, keys: set[str]) -> None:
        self.store, self.pending = store, set(keys)

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        result = await self.store.save(key, record)
        if key in self.pending:
            self.pending.discard(key)
            return Err(ErrInfo("DB_TIMEOUT", "the reply was lost", retryable=True))
        return result

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        return await self.store.load(key)


async def run(
    service: LoopbackJsonService, *, lost: frozenset[str] = frozenset()
) -> tuple[Ledger, int, list[str], int, AsyncRateLimiter[Any], int]:
    """Drive the pipeline over IDS; return the ledger, rows, keys, writes, the limiter and the tasks left."""
    before = asyncio.all_tasks()
    limiter = AsyncRateLimiter(TokenBucket(rate=2000, burst=20))
    async with HttpxJsonClient(service.base_url, max_connections=8) as http, SqliteStorage() as store:
        plan = account_for(IDS, steps(http, LostReplies(store, set(lost)), limiter), concurrency=8)
        ledger = await plan()
        rows, keys = await store.count(), await store.keys()
        writes = store.writes
    assert http.closed and store.closed
    assert isinstance(ledger, Ok) and isinstance(rows, Ok) and isinstance(keys, Ok)
    return ledger.value, rows.value, keys.value, writes, limiter, len(asyncio.all_tasks() - before)


def test_every_input_is_accounted_for_once_and_requests_are_predicted_by_the_fault_script() -> None:
    with LoopbackJsonService(CATALOGUE, faults=FAULTS) as service:
        ledger, rows, keys, writes, limiter, tasks_left = asyncio.run(run(service))
        served, peak = service.requests, service.peak_connections
    assert not service.running and service.open_connections == 0 and tasks_left == 0
    assert ledger.problems(IDS) == []
    assert ledger.counts() == {
        "saved": 56,
        "fetch: BAD_JSON": 1,
        "fetch: HTTP_404": 1,
        "fetch: HTTP_503": 1,
        "validate: BAD_VALUE": 1,
    }
    assert rows == writes == len(ledger.saved) and keys == sorted(ledger.saved)
    assert {i: served[f"/items/{i}"] for i in IDS} == {i: predicted_requests(i) for i in IDS}
    assert peak <= 8
    assert len(limiter.admitted) == sum(served.values())  # every request, retries included, paid a token
    assert max_window_cost(limiter.admitted, 1.0) <= 2000 + 20


def test_a_retried_save_whose_reply_was_lost_is_a_second_write_never_a_second_row() -> None:
    lost = frozenset({"001", "002", "020"})
    with LoopbackJsonService(CATALOGUE) as service:
        ledger, rows, keys, writes, _, _ = asyncio.run(run(service, lost=lost))
    assert ledger.problems(IDS) == [] and len(ledger.saved) == 58
    assert writes == rows + len(lost) and rows == len(ledger.saved) and keys == sorted(ledger.saved)


def test_the_pool_bounds_the_connections_the_server_holds() -> None:
    async def hundred(service: LoopbackJsonService) -> Counter[str]:
        async with HttpxJsonClient(service.base_url, max_connections=4) as http:
            results = await asyncio.gather(*(http.get_json(f"/items/{IDS[n % 60]}") for n in range(100)))
        return Counter("ok" if isinstance(r, Ok) else r.error.code for r in results)

    with LoopbackJsonService(CATALOGUE) as service:
        outcomes = asyncio.run(hundred(service))
        assert service.peak_connections <= 4
    assert outcomes == Counter({"ok": 98, "HTTP_404": 2})


def test_a_slow_item_is_a_retryable_timeout_and_its_handler_is_woken_on_close() -> None:
    async def fetch(service: LoopbackJsonService) -> Result[Mapping[str, Any], ErrInfo]:
        async with HttpxJsonClient(service.base_url, timeout=0.2) as http:
            return await async_retry(async_lift(lambda: http.get_json("/items/005")), POLICY)()

    with LoopbackJsonService(CATALOGUE, faults=Faults(slow={"005": 2.0})) as service:
        result = asyncio.run(fetch(service))
        assert service.requests == {"/items/005": 3}
    assert isinstance(result, Err) and result.error.code == "HTTP_TIMEOUT" and result.error.retryable
    assert not service.running
