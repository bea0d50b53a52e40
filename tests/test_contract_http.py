"""One contract for ``HttpClientCap``, run against the fake and the real adapter.

The *world* is the same for both: some items exist, one is missing, one answers 503, one
drops the connection, one returns a body that is not JSON.  ``FakeHttp`` models it with
scripted ``ErrInfo``s; the real side is ``HttpxJsonClient`` talking to a
``LoopbackJsonService`` on 127.0.0.1.  Whatever the contract says must hold for both, so a
test written against the fake tells the truth about production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from funcpipe_async import Err, ErrInfo, FakeHttp, HttpClientCap, Ok
from funcpipe_async.adapters import HttpxJsonClient, classify_status
from funcpipe_async.loopback import Faults, LoopbackJsonService

pytestmark = pytest.mark.usefixtures("no_leaks")

ITEMS: dict[str, dict[str, Any]] = {str(i): {"id": str(i), "title": f"item {i}", "price": i * 10} for i in range(1, 6)}
ITEMS["unicode"] = {"id": "unicode", "title": "café ☕", "price": 0}
DOWN, DROPPED, BROKEN, MISSING = "3", "4", "5", "404404"
HEALTHY = {k: v for k, v in ITEMS.items() if k not in (DOWN, DROPPED, BROKEN)}


def url(item: str) -> str:
    return f"/items/{item}"


@asynccontextmanager
async def fake_world() -> AsyncIterator[HttpClientCap]:
    failures = {
        url(DOWN): classify_status(503, "Service Unavailable"),
        url(DROPPED): ErrInfo("HTTP_CONNECTION", "RemoteProtocolError", retryable=True),
        url(BROKEN): ErrInfo("BAD_JSON", "the body is not JSON"),
    }
    yield FakeHttp({url(k): v for k, v in ITEMS.items()}, failures=failures)


@asynccontextmanager
async def real_world() -> AsyncIterator[HttpClientCap]:
    faults = Faults(unavailable={DOWN: 10**6}, drop={DROPPED: 10**6}, malformed=frozenset({BROKEN}))
    with LoopbackJsonService(ITEMS, faults=faults) as service:
        async with HttpxJsonClient(service.base_url, max_connections=4, timeout=5) as http:
            yield http


WORLDS = {"fake": fake_world, "real": real_world}


def in_world(name: str, check: Callable[[HttpClientCap], Awaitable[None]]) -> None:
    async def main() -> None:
        async with WORLDS[name]() as http:
            await check(http)

    asyncio.run(main())


@pytest.mark.parametrize("world", WORLDS)
def test_an_existing_item_is_ok_with_its_json_body(world: str) -> None:
    async def check(http: HttpClientCap) -> None:
        for key, body in HEALTHY.items():
            assert await http.get_json(url(key)) == Ok(body)

    in_world(world, check)


@pytest.mark.parametrize("world", WORLDS)
def test_a_missing_item_is_a_404_that_is_not_retried(world: str) -> None:
    async def check(http: HttpClientCap) -> None:
        result = await http.get_json(url(MISSING))
        assert isinstance(result, Err)
        assert (result.error.code, result.error.retryable) == ("HTTP_404", False)

    in_world(world, check)


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize(
    ("item", "code", "retryable"),
    [(DOWN, "HTTP_503", True), (DROPPED, "HTTP_CONNECTION", True), (BROKEN, "BAD_JSON", False)],
)
def test_a_failure_of_the_world_comes_back_as_a_classified_err(
    world: str, item: str, code: str, retryable: bool
) -> None:
    async def check(http: HttpClientCap) -> None:
        result = await http.get_json(url(item))
        assert isinstance(result, Err), result
        assert (result.error.code, result.error.retryable) == (code, retryable)

    in_world(world, check)


@pytest.mark.parametrize("world", WORLDS)
def test_concurrent_requests_each_get_their_own_answer(world: str) -> None:
    async def check(http: HttpClientCap) -> None:
        keys = [str(i % 5 + 1) for i in range(40)]
        results = await asyncio.gather(*(http.get_json(url(k)) for k in keys))  # the test is the shell here
        outcomes = [r.value["id"] if isinstance(r, Ok) else r.error.code for r in results]
        expected = [
            k
            if k not in (DOWN, DROPPED, BROKEN)
            else {DOWN: "HTTP_503", DROPPED: "HTTP_CONNECTION", BROKEN: "BAD_JSON"}[k]
            for k in keys
        ]
        assert outcomes == expected

    in_world(world, check)
