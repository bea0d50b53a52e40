"""``HttpxJsonClient`` and ``LoopbackJsonService``: pool limits, timeouts, faults, lifetimes."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from funcpipe_async import Err, Ok
from funcpipe_async.adapters import HttpxJsonClient, classify_status, classify_transport_error
from funcpipe_async.loopback import Faults, LoopbackJsonService

pytestmark = pytest.mark.usefixtures("no_leaks")

ITEMS = {str(i): {"id": str(i)} for i in range(1, 11)}


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (422, False),
        (501, False),
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_classify_status_retries_only_what_may_succeed_later(status: int, retryable: bool) -> None:
    info = classify_status(status, "Reason")
    assert (info.code, info.retryable, info.message) == (f"HTTP_{status}", retryable, f"{status} Reason")


@pytest.mark.parametrize("bad", [200, 204, 99, 600, True, "503"])
def test_classify_status_rejects_what_is_not_an_error_status(bad: object) -> None:
    with pytest.raises(ValueError):
        classify_status(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (httpx.PoolTimeout("pool"), "HTTP_POOL_TIMEOUT", True),
        (httpx.ReadTimeout("read"), "HTTP_TIMEOUT", True),
        (httpx.ConnectTimeout("connect"), "HTTP_TIMEOUT", True),
        (httpx.ConnectError("refused"), "HTTP_CONNECTION", True),
        (httpx.RemoteProtocolError("dropped"), "HTTP_CONNECTION", True),
        (httpx.UnsupportedProtocol("ftp"), "HTTP_BAD_URL", False),
    ],
)
def test_classify_transport_error(error: httpx.TransportError, code: str, retryable: bool) -> None:
    info = classify_transport_error(error)
    assert (info.code, info.retryable) == (code, retryable)


def test_the_service_binds_loopback_on_an_ephemeral_port_and_frees_it_on_close() -> None:
    with LoopbackJsonService(ITEMS) as service:
        port = service.port
        assert service.base_url == f"http://127.0.0.1:{port}" and port > 0
        assert service.running
    assert not service.running
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_unavailable_fails_the_first_n_requests_then_answers() -> None:
    async def main(service: LoopbackJsonService) -> list[str]:
        async with HttpxJsonClient(service.base_url) as http:
            results = [await http.get_json("/items/1") for _ in range(3)]
        return [r.error.code if isinstance(r, Err) else "ok" for r in results]

    with LoopbackJsonService(ITEMS, faults=Faults(unavailable={"1": 2})) as service:
        assert run(main(service)) == ["HTTP_503", "HTTP_503", "ok"]
        assert service.requests == {"/items/1": 3}


def test_a_dropped_connection_then_a_good_answer() -> None:
    async def main(service: LoopbackJsonService) -> list[str]:
        async with HttpxJsonClient(service.base_url) as http:
            results = [await http.get_json("/items/2") for _ in range(2)]
        return [r.error.code if isinstance(r, Err) else "ok" for r in results]

    with LoopbackJsonService(ITEMS, faults=Faults(drop={"2": 1})) as service:
        assert run(main(service)) == ["HTTP_CONNECTION", "ok"]


def test_a_slow_answer_times_out_as_retryable_and_close_does_not_wait_for_it() -> None:
    async def main(service: LoopbackJsonService) -> object:
        async with HttpxJsonClient(service.base_url, timeout=0.2) as http:
            return await http.get_json("/items/3")

    service = LoopbackJsonService(ITEMS, faults=Faults(slow={"3": 30.0})).start()
    try:
        result = run(main(service))
    finally:
        started = time.monotonic()
        service.close()
        closing = time.monotonic() - started
    assert isinstance(result, Err) and (result.error.code, result.error.retryable) == ("HTTP_TIMEOUT", True)
    assert closing < 5, "close() must wake a slow handler instead of waiting 30 s"


def test_the_pool_bounds_the_connections_the_server_sees() -> None:
    async def main(service: LoopbackJsonService) -> list[object]:
        async with HttpxJsonClient(service.base_url, max_connections=3) as http:
            return list(await asyncio.gather(*(http.get_json(f"/items/{i % 10 + 1}") for i in range(30))))

    with LoopbackJsonService(ITEMS, faults=Faults(slow={str(i): 0.02 for i in range(1, 11)})) as service:
        results = run(main(service))
        assert all(isinstance(r, Ok) for r in results)
        assert sum(service.requests.values()) == 30
        assert 1 <= service.peak_connections <= 3


def test_a_refused_connection_is_retryable_and_a_bad_scheme_is_not() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]

    async def main() -> tuple[object, object]:
        async with HttpxJsonClient(f"http://127.0.0.1:{free_port}") as http:
            refused = await http.get_json("/items/1")
            scheme = await http.get_json("ftp://127.0.0.1/x")
        return refused, scheme

    refused, scheme = run(main())
    assert isinstance(refused, Err) and (refused.error.code, refused.error.retryable) == ("HTTP_CONNECTION", True)
    assert isinstance(scheme, Err) and (scheme.error.code, scheme.error.retryable) == ("HTTP_BAD_URL", False)


def test_the_client_exists_only_inside_async_with() -> None:
    http = HttpxJsonClient("http://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="is not open: call get_json inside `async with"):
        run(http.get_json("/items/1"))

    async def twice() -> None:
        async with http:
            pass
        assert http.closed
        with pytest.raises(RuntimeError, match="was closed"):
            await http.get_json("/items/1")
        with pytest.raises(RuntimeError, match="entered once"):
            async with http:
                pass

    run(twice())
    assert repr(http) == "HttpxJsonClient('http://127.0.0.1:1', max_connections=10, timeout=5, closed)"


def test_closing_the_service_while_a_client_keeps_a_connection_alive() -> None:
    async def main(service: LoopbackJsonService) -> None:
        async with HttpxJsonClient(service.base_url) as http:
            assert isinstance(await http.get_json("/items/1"), Ok)
            assert service.open_connections == 1  # kept alive by the pool
            service.close()  # must not hang on the idle keep-alive connection
            result = await http.get_json("/items/1")
            assert isinstance(result, Err) and result.error.retryable

    run(main(LoopbackJsonService(ITEMS).start()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_connections": 0}, "max_connections"), ({"timeout": 0}, "timeout"), ({"timeout": True}, "timeout")],
)
def test_client_arguments_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpxJsonClient("http://x", **kwargs)  # type: ignore[arg-type]


def test_faults_are_validated_and_print_sorted() -> None:
    with pytest.raises(ValueError, match="unavailable"):
        Faults(unavailable={"1": -1})
    with pytest.raises(ValueError, match="slow"):
        Faults(slow={"1": "fast"})  # type: ignore[dict-item]
    faults = Faults(unavailable={"9": 1, "2": 3}, malformed=frozenset({"b", "a"}))
    assert repr(faults) == "Faults(unavailable={'2': 3, '9': 1}, malformed=['a', 'b'])"
    with pytest.raises(TypeError):
        LoopbackJsonService([1, 2])  # type: ignore[arg-type]
