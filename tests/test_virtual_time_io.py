"""The virtual-time driver and the real world: sockets and threads hold the clock.

A test clock must not invent timeouts: while a descriptor may still become ready, or a
thread the run started is still working, the loop waits in real time and the virtual clock
stands still.  Every test here failed before (a ``DeadlockError``, or a timeout at the
virtual deadline) and none depends on how fast the machine is: the real delays only make
the reply late, and the assertions hold however long they take.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from funcpipe_async import (
    Faults,
    HttpxJsonClient,
    LoopbackJsonService,
    Ok,
    Simulation,
    SimulationLimitError,
)

ITEMS = {"1": {"id": "1", "price": 3}}
SLOW = 0.2  # real seconds the loopback service waits before it answers


def now() -> float:
    return asyncio.get_running_loop().time()


@pytest.fixture
def slow_service() -> Iterator[LoopbackJsonService]:
    with LoopbackJsonService(ITEMS, faults=Faults(slow={"1": SLOW})) as service:
        yield service


# --- sockets --------------------------------------------------------------------------------


def test_a_slow_loopback_reply_is_not_a_virtual_timeout(slow_service: LoopbackJsonService) -> None:
    """Bug: Err(HTTP_TIMEOUT) at once — the clock jumped to the client's 5 s timeout."""

    async def fetch() -> tuple[object, float]:
        async with HttpxJsonClient(slow_service.base_url, timeout=5) as http:
            result = await http.get_json("/items/1")
        return result, now()

    result, at = Simulation().run(fetch())
    assert result == Ok(ITEMS["1"]), "the same answer asyncio.run gives"
    assert at == 0.0, "waiting for a real reply takes no virtual time"


def test_a_raw_socket_read_waits_for_the_reply(slow_service: LoopbackJsonService) -> None:
    """Bug: DeadlockError — no timer pending, and the loop ignored the socket it waited on."""

    async def get() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(slow_service.base_url.rsplit(":", 1)[1]))
        writer.write(b"GET /items/1 HTTP/1.0\r\nHost: loopback\r\n\r\n")
        await writer.drain()
        reply = await reader.read()  # until the server closes the connection
        writer.close()
        await writer.wait_closed()
        return reply

    reply = Simulation().run(get())
    assert reply.split(b"\r\n", 1)[0].endswith(b" 200 OK"), reply[:40]
    assert reply.endswith(b'{"id": "1", "price": 3}')


def test_a_server_that_never_answers_is_a_clear_error_not_an_invented_timeout() -> None:
    """The clock never jumps past a registered socket; ``max_io_wait`` real seconds of waiting
    with nothing else to do end the run with an error naming the remedy (before: TimeoutError
    at virtual t=5, at once)."""
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts (backlog), never answers
        port = server.getsockname()[1]

        async def ask() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await asyncio.wait_for(reader.read(1), 5)
            finally:
                writer.close()

        with pytest.raises(SimulationLimitError, match="real seconds for a socket") as caught:
            Simulation(max_io_wait=0.1).run(ask())
    assert caught.value.now == 0.0, "no virtual timeout was invented"
    assert "max_io_wait" in str(caught.value)


def test_max_io_wait_is_validated() -> None:
    with pytest.raises(ValueError, match="max_io_wait"):
        Simulation(max_io_wait=0)


# --- threads outside run_in_executor ----------------------------------------------------------


def _slow_value(value: int) -> int:
    time.sleep(0.05)  # real work in a thread: makes the reply late, whatever the machine's speed
    return value


def test_wrap_future_of_an_executor_holds_the_clock() -> None:
    """Bug: the 30 s wait_for timed out at virtual t=30."""

    async def main() -> tuple[int, float]:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
            value = await asyncio.wait_for(asyncio.wrap_future(executor.submit(_slow_value, 7)), 30)
        return value, now()

    assert Simulation().run(main()) == (7, 0.0)


def test_wrap_future_without_a_timer_is_not_a_deadlock() -> None:
    """Bug: DeadlockError (no timer pending, the thread invisible)."""

    async def main() -> int:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
            return await asyncio.wrap_future(executor.submit(_slow_value, 8))

    assert Simulation().run(main()) == 8


def test_call_soon_threadsafe_from_a_thread_holds_the_clock() -> None:
    """Bug: TimeoutError at virtual t=30 (with wait_for), DeadlockError without."""

    async def main(timeout: float | None) -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int] = loop.create_future()

        def work() -> None:
            loop.call_soon_threadsafe(answer.set_result, _slow_value(42))

        thread = threading.Thread(target=work)
        thread.start()
        try:
            return await asyncio.wait_for(answer, timeout), now()
        finally:
            thread.join(10)

    assert Simulation().run(main(30)) == (42, 0.0)
    assert Simulation().run(main(None)) == (42, 0.0)


def test_run_coroutine_threadsafe_from_a_thread_holds_the_clock() -> None:
    """Bug: TimeoutError at virtual t=30.  The thread then waits for the coroutine it
    submitted, which sleeps 2 virtual seconds: a thread waiting (here in ``Future.result``)
    does not hold the clock, so that sleep still jumps."""

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        marks: list[float] = []

        async def on_the_loop() -> None:
            marks.append(now())
            await asyncio.sleep(2)
            done.set()

        def work() -> None:
            time.sleep(0.05)
            asyncio.run_coroutine_threadsafe(on_the_loop(), loop).result(timeout=10)

        thread = threading.Thread(target=work)
        thread.start()
        try:
            await asyncio.wait_for(done.wait(), 30)
            return marks[0], now()
        finally:
            thread.join(10)

    assert Simulation().run(main()) == (0.0, 2.0)


def test_a_thread_that_only_waits_does_not_hold_the_clock() -> None:
    """A thread blocked on a threading.Event (or an idle pool worker) is not working: timers
    still jump at once."""

    async def main() -> float:
        release = threading.Event()
        thread = threading.Thread(target=release.wait)
        thread.start()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
            await asyncio.wrap_future(executor.submit(int, 1))  # leaves an idle worker behind
            await asyncio.sleep(3600)
        release.set()
        thread.join(10)
        return now()

    started = time.monotonic()
    assert Simulation().run(main()) == 3600.0
    assert time.monotonic() - started < 60, "an hour of virtual time, not of real time (outer bound)"


def test_a_thread_started_before_the_run_does_not_hold_the_clock() -> None:
    """Threads alive before ``run`` (a notebook kernel's, a server's) are not the run's."""
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            time.sleep(0.01)

    thread = threading.Thread(target=busy)
    thread.start()
    try:

        async def main() -> float:
            await asyncio.sleep(600)
            return now()

        assert Simulation().run(main()) == 600.0
    finally:
        stop.set()
        thread.join(10)
