"""``fakes``: scripted in-memory capabilities with call logs."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest

from funcpipe_async import (
    EmbeddingCap,
    Err,
    ErrInfo,
    FakeEmbedder,
    FakeHttp,
    FakeStorage,
    HttpClientCap,
    Ok,
    StorageCap,
    Trace,
    async_gather,
    async_lift,
    run_sync,
)


def test_fakes_satisfy_their_ports() -> None:
    http: HttpClientCap = FakeHttp({})
    storage: StorageCap = FakeStorage()
    embedder: EmbeddingCap = FakeEmbedder()
    assert embedder.model_name == "fake-embed-v1"
    assert callable(http.get_json) and callable(storage.save)


def test_fake_http_answers_known_urls_and_404s_unknown_ones() -> None:
    http = FakeHttp({"/a": {"n": 1}})
    assert asyncio.run(http.get_json("/a")) == Ok({"n": 1})
    result = asyncio.run(http.get_json("/missing"))
    assert isinstance(result, Err)
    assert result.error.code == "HTTP_404" and "/missing" in result.error.message
    assert http.calls == ["GET /a", "GET /missing"]


def test_fake_http_returns_scripted_failures() -> None:
    outage = ErrInfo("HTTP_503", "unavailable", retryable=True)
    http = FakeHttp({"/a": {"n": 1}}, failures={"/a": outage})
    assert asyncio.run(http.get_json("/a")) == Err(outage)
    assert http.calls == ["GET /a"]


def test_fake_http_answers_are_copies() -> None:
    responses = {"/a": {"n": 1}}
    http = FakeHttp(responses)
    responses["/a"]["n"] = 99  # the fake copied its script
    first = asyncio.run(http.get_json("/a"))
    assert first == Ok({"n": 1})
    assert isinstance(first, Ok)
    first.value["n"] = 5  # type: ignore[index]
    assert asyncio.run(http.get_json("/a")) == Ok({"n": 1})


def test_fake_http_records_effects_on_a_trace() -> None:
    trace = Trace()
    http = FakeHttp({"/a": {}}, trace=trace)
    asyncio.run(http.get_json("/a"))
    assert [(e.kind, e.name, dict(e.data)) for e in trace.events] == [("effect", "http", {"call": "GET /a"})]


def test_fake_calls_really_suspend() -> None:
    order: list[str] = []

    async def main() -> None:
        async def other() -> None:
            order.append("other ran")

        task = asyncio.create_task(other())
        await FakeHttp({"/a": {}}).get_json("/a")
        order.append("get_json returned")
        await task

    asyncio.run(main())
    assert order == ["other ran", "get_json returned"]


def test_fake_storage_is_idempotent() -> None:
    storage = FakeStorage()

    async def main() -> list[object]:
        return [
            await storage.save("k", {"v": 1}),
            await storage.save("k", {"v": 1}),
            await storage.save("j", {"v": 2}),
        ]

    assert asyncio.run(main()) == [Ok(None)] * 3
    assert storage.records == {"k": {"v": 1}, "j": {"v": 2}}
    assert storage.calls == ["SAVE k", "SAVE k", "SAVE j"]
    asyncio.run(storage.save("k", {"v": 3}))  # saving a key again overwrites
    assert storage.records["k"] == {"v": 3} and len(storage.records) == 2


def test_fake_storage_records_on_a_trace() -> None:
    trace = Trace()
    asyncio.run(FakeStorage(trace=trace).save("k", {}))
    assert [(e.kind, e.name, dict(e.data)) for e in trace.events] == [("effect", "storage", {"call": "SAVE k"})]


def test_fake_embedder_vectors_are_deterministic() -> None:
    first = asyncio.run(FakeEmbedder().embed("hello"))
    again = asyncio.run(FakeEmbedder().embed("hello"))
    other = asyncio.run(FakeEmbedder().embed("world"))
    assert isinstance(first, Ok) and first == again != other
    vector = first.value
    assert len(vector) == 4 and all(0.0 <= x <= 1.0 for x in vector)
    wide = asyncio.run(FakeEmbedder(dims=8, model_name="m").embed("hello"))
    assert isinstance(wide, Ok) and wide.value[:4] == vector and len(wide.value) == 8


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_fake_embedder_errs_on_empty_text(text: str) -> None:
    embedder = FakeEmbedder()
    result = asyncio.run(embedder.embed(text))
    assert isinstance(result, Err) and result.error.code == "EMPTY_TEXT"
    assert embedder.in_flight == 0


@pytest.mark.parametrize("dims", [0, -1, True, 2.0])
def test_fake_embedder_rejects_bad_dims(dims: object) -> None:
    with pytest.raises(ValueError, match="dims"):
        FakeEmbedder(dims=dims)  # type: ignore[arg-type]


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_fake_embedder_tracks_max_in_flight_under_gather(concurrency: int) -> None:
    embedder = FakeEmbedder()
    texts = [f"chunk {i}" for i in range(12)]
    plan = async_gather([async_lift(partial(embedder.embed, t)) for t in texts], concurrency=concurrency)
    result = run_sync(plan)
    assert isinstance(result, Ok) and len(result.value) == 12
    assert result.value[0] == asyncio.run(FakeEmbedder().embed("chunk 0")).value  # type: ignore[union-attr]
    assert embedder.max_in_flight == concurrency
    assert embedder.in_flight == 0
    assert embedder.calls == [f"EMBED {t}" for t in texts]


# --- ScriptedService: one script entry per call, on the loop's clock -----------------------


def test_scripted_service_plays_its_script_and_repeats_the_last_entry() -> None:
    from funcpipe_async import ScriptedService, Simulation

    down = ErrInfo("HTTP_503", "down", retryable=True)
    service: ScriptedService[str] = ScriptedService([down, Err(ErrInfo("X", "x")), Ok("a"), "b"], latency=2)
    plan = service.plan()
    assert service.calls == []  # describing calls nothing
    sim = Simulation()
    results = [sim.run(plan) for _ in range(5)]
    assert results == [Err(down), Err(ErrInfo("X", "x")), Ok("a"), Ok("b"), Ok("b")]
    assert service.calls == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_scripted_service_hang_waits_until_cancelled() -> None:
    from funcpipe_async import HANG, ScriptedService, Simulation, async_timeout

    service: ScriptedService[str] = ScriptedService([HANG, "late"], latency=1)
    sim = Simulation()
    first = sim.run(async_timeout(service.plan(), 30, name="call"))
    assert first == Err(ErrInfo("TIMEOUT", "call gave no result within 30s", retryable=True))
    assert sim.now == 30.0
    assert sim.run(service.plan()) == Ok("late")
    assert repr(service) == "ScriptedService([HANG, 'late'], latency=1.0, calls=2)"


def test_scripted_service_records_calls_on_a_trace() -> None:
    from funcpipe_async import ScriptedService, Simulation

    sim = Simulation()
    service: ScriptedService[int] = ScriptedService([1], trace=sim.trace, name="db")
    sim.run(service.plan())
    assert [(e.kind, e.name, dict(e.data)) for e in sim.trace.events] == [("effect", "db", {"call": 1})]


@pytest.mark.parametrize(("script", "latency"), [([], 0), ("abc", 0), ([1], -1), ([1], float("inf"))])
def test_scripted_service_rejects_bad_arguments(script: Any, latency: Any) -> None:
    from funcpipe_async import ScriptedService

    with pytest.raises(ValueError, match="ScriptedService"):
        ScriptedService(script, latency=latency)


def test_fake_payments_charges_once_per_key_and_lands_before_the_reply() -> None:
    from funcpipe_async import FakePayments, Simulation, async_lift, async_timeout

    payments = FakePayments([5])
    sim = Simulation()
    late = sim.run(async_timeout(async_lift(lambda: payments.charge(42, key="order-1")), 2, name="charge"))
    assert late == Err(ErrInfo("TIMEOUT", "charge gave no result within 2s", retryable=True))
    assert payments.charges == [42]  # the write landed before the caller gave up
    assert sim.run(async_lift(lambda: payments.charge(42, key="order-1"))) == Ok("ch_1")  # deduplicated
    assert sim.run(async_lift(lambda: payments.charge(7))) == Ok("ch_2")
    assert (payments.charges, payments.calls) == ([42, 7], 3)


def test_fake_payments_rejects_bad_delays() -> None:
    from funcpipe_async import FakePayments

    with pytest.raises(ValueError, match="FakePayments delays"):
        FakePayments([-1])


def _get(http: Any, url: str) -> Any:
    return async_lift(lambda: http.get_json(url))


def test_scripted_http_scripts_each_item_on_its_own_calls() -> None:
    from funcpipe_async import ScriptedHttp, Simulation

    busy = ErrInfo("HTTP_503", "busy", retryable=True)
    http = ScriptedHttp({"a": [busy, busy, {"id": "a"}], "b": [{"id": "b"}]}, latency=0.5)
    sim = Simulation()
    # interleaved: a, b, a, b, a — "a" still fails on *its* first two calls
    urls = ["/items/a", "/items/b", "/items/a", "/items/b", "/items/a"]
    results = [sim.run(_get(http, url)) for url in urls]
    assert results == [Err(busy), Ok({"id": "b"}), Err(busy), Ok({"id": "b"}), Ok({"id": "a"})]
    assert http.requests == 5
    assert http.services["a"].calls == [0.0, 1.0, 2.0]  # each run's clock starts at 0; latency 0.5
    assert [round(t, 1) for t, _ in http.samples[:2]] == [0.0, 0.5]


def test_scripted_http_answers_404_for_an_item_without_a_script_and_counts_it() -> None:
    from funcpipe_async import ScriptedHttp, Simulation

    http = ScriptedHttp({"a": ["x"]})
    assert Simulation().run(_get(http, "/items/zz")) == Err(ErrInfo("HTTP_404", "no item at /items/zz"))
    assert (http.requests, http.peak, http.samples) == (1, 0, [])


def test_scripted_http_counts_requests_in_flight_and_releases_them_on_cancel() -> None:
    from funcpipe_async import HANG, ScriptedHttp, Simulation, async_timeout

    http = ScriptedHttp({f"i{n}": ["ok"] for n in range(6)} | {"stuck": [HANG]}, latency=1)
    plans = [_get(http, f"/x/i{n}") for n in range(6)]
    assert Simulation().run(async_gather(plans, concurrency=4)) == Ok(["ok"] * 6)
    assert (http.peak, http.in_flight) == (4, 0)
    assert max(n for _, n in http.samples) == 4 and http.samples[-1][1] == 0
    timed_out = Simulation().run(async_timeout(_get(http, "/x/stuck"), 5, name="get"))
    assert isinstance(timed_out, Err) and timed_out.error.code == "TIMEOUT"
    assert http.in_flight == 0


def test_scripted_http_satisfies_the_port_and_refuses_bad_scripts() -> None:
    from funcpipe_async import ScriptedHttp

    port: HttpClientCap = ScriptedHttp({})  # mypy checks the port; at run time, the method is there
    assert callable(port.get_json)
    with pytest.raises(TypeError, match="mapping item -> script"):
        ScriptedHttp([("a", ["x"])])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty list"):
        ScriptedHttp({"a": []})


# --- ScriptedHttp behind real httpx, and the loopback service's settle -----------------------------


def test_scripted_http_transport_serves_its_script_through_httpx() -> None:
    import httpx

    from funcpipe_async import HANG, ScriptedHttp, Simulation

    api = ScriptedHttp({"a1": [ErrInfo("HTTP_503", "busy", retryable=True), {"id": "a1"}], "h1": [HANG]}, latency=0.5)

    async def main() -> list[object]:
        async with httpx.AsyncClient(base_url="https://crm.test", transport=api.transport()) as client:
            first = (await client.get("/records/a1")).status_code
            second = await client.get("/records/a1")
            missing = (await client.get("/records/zz")).status_code
            try:
                async with asyncio.timeout(3):
                    await client.get("/records/h1")
                hung = "answered"
            except TimeoutError:
                hung = "hung"
            return [first, second.status_code, second.json(), missing, hung, asyncio.get_running_loop().time()]

    assert Simulation().run(main()) == [503, 200, {"id": "a1"}, 404, "hung", 4.0]
    assert api.requests == 4 and api.peak == 1


def test_scripted_http_transport_refuses_an_error_that_is_not_an_http_status() -> None:
    import httpx

    from funcpipe_async import ScriptedHttp, Simulation

    api = ScriptedHttp({"x": [ErrInfo("UNAVAILABLE", "no route")]})

    async def main() -> None:
        async with httpx.AsyncClient(base_url="https://crm.test", transport=api.transport()) as client:
            await client.get("/x")

    with pytest.raises(ValueError, match="'UNAVAILABLE' is not an HTTP status"):
        Simulation().run(main())


def test_loopback_settle_waits_for_hang_ups_to_land() -> None:
    import httpx

    from funcpipe_async.loopback import LoopbackJsonService

    async def main(service: LoopbackJsonService) -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=service.base_url) as client:
            await client.get("/items/1")
            held = service.open_connections  # kept alive by the client's pool
        return held, await service.settle()

    with LoopbackJsonService({"1": {"id": "1"}}) as service:
        assert asyncio.run(main(service)) == (1, 0)
        with pytest.raises(ValueError, match="limit must be"):
            asyncio.run(service.settle(-1))
