"""A real JSON service on ``127.0.0.1``, for lessons 07–08 and the contract tests.

:class:`LoopbackJsonService` serves ``GET /items/<id>`` from a dict, on an ephemeral port
of the loopback interface (never beyond it), from a background thread of the standard
library's ``ThreadingHTTPServer``.  It is a real server — real sockets, real HTTP — so the
adapters that talk to it are tested as they run in production, yet it needs no network and
nothing installed.

Faults are scripted **per item and per request**, not by chance, so a run under faults is
reproducible however the client's requests interleave::

    faults = Faults(unavailable={"7": 2}, drop={"9": 1}, slow={"11": 0.5})
    with LoopbackJsonService(items, faults=faults) as service:
        service.url("/items/7")      # 'http://127.0.0.1:<port>/items/7'
        ...                          # 1st and 2nd GET of item 7 answer 503, the 3rd 200

* ``unavailable[id] = n``: the first ``n`` requests for ``id`` answer **503**;
* ``drop[id] = n``: the first ``n`` requests for ``id`` are **dropped** — the server closes
  the connection without answering (the client sees a protocol error);
* ``slow[id] = s``: every request for ``id`` waits ``s`` real seconds before answering;
* ``malformed``: ids whose body is not JSON (a broken upstream);
* an id missing from ``items`` answers **404**.

``requests`` counts the requests served per path, ``open_connections`` the connections the
server holds right now, ``peak_connections`` the most it ever held at once (a client's
pool limit shows there) and ``connections_opened`` every connection it ever accepted (a
client that reuses its pool's connections opens few; one client per request opens one
each).  :meth:`close` (or leaving the ``with`` block) stops the server,
wakes any slow handler at once and joins every thread it started: afterwards nothing
listens on the port and no thread of the service is alive.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any

from funcpipe_async.meter import InFlight

__all__ = ["Faults", "LoopbackJsonService"]

_PREFIX = "/items/"


def _frozen_counts(name: str, value: Mapping[str, int]) -> Mapping[str, int]:
    for key, n in value.items():
        if not isinstance(key, str) or isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Faults.{name} maps item ids (str) to request counts (int ≥ 0), got {key!r}: {n!r}")
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Faults:
    """Which requests the service spoils, by item id (see the module docstring)."""

    unavailable: Mapping[str, int] = field(default_factory=dict)
    drop: Mapping[str, int] = field(default_factory=dict)
    slow: Mapping[str, float] = field(default_factory=dict)
    malformed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "unavailable", _frozen_counts("unavailable", self.unavailable))
        object.__setattr__(self, "drop", _frozen_counts("drop", self.drop))
        for key, seconds in self.slow.items():
            if (
                not isinstance(key, str)
                or isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or seconds < 0
            ):
                raise ValueError(f"Faults.slow maps item ids (str) to seconds (≥ 0), got {key!r}: {seconds!r}")
        object.__setattr__(self, "slow", MappingProxyType(dict(self.slow)))
        object.__setattr__(self, "malformed", frozenset(self.malformed))

    def __repr__(self) -> str:
        parts = [
            f"{name}={dict(sorted(value.items()))!r}"
            for name, value in (("unavailable", self.unavailable), ("drop", self.drop), ("slow", self.slow))
            if value
        ]
        if self.malformed:
            parts.append(f"malformed={sorted(self.malformed)!r}")
        return f"Faults({', '.join(parts)})"


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are joined by server_close()
    block_on_close = True
    request_queue_size = 128  # socketserver's default of 5 makes a burst of connects retry for a second

    def __init__(self, service: LoopbackJsonService) -> None:
        self.service = service
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up mid-request (a cancelled or timed-out caller resets
        its connection): the base class prints a traceback to stderr.  Anything else is a bug
        in the service and is still printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's pool really reuses connections
    disable_nagle_algorithm = True  # TCP_NODELAY: without it each small reply waits ~40 ms for an ACK

    timeout = 10.0  # a safety net: an idle kept-alive connection is closed after this long

    def setup(self) -> None:
        super().setup()
        self.server.service._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.service._connection_closed(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        service = self.server.service
        attempt = service._count(self.path)
        if not self.path.startswith(_PREFIX):
            self._reply(404, {"error": f"no route for {self.path}"})
            return
        item_id = self.path[len(_PREFIX) :]
        faults = service.faults
        delay = faults.slow.get(item_id, 0.0)
        if delay and service._stopping.wait(delay):
            self.close_connection = True
            return
        if attempt <= faults.drop.get(item_id, 0):
            self.close_connection = True  # no status line at all: the client sees the connection drop
            return
        if attempt <= faults.unavailable.get(item_id, 0):
            self._reply(503, {"error": "service unavailable", "attempt": attempt})
            return
        if item_id in faults.malformed:
            self._send(200, b"{not json", "application/json")
            return
        body = service.items.get(item_id)
        if body is None:
            self._reply(404, {"error": f"no item {item_id}"})
            return
        self._reply(200, body)

    def _reply(self, status: int, body: Mapping[str, Any]) -> None:
        self._send(status, json.dumps(body, sort_keys=True).encode("utf-8"), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Stay quiet: the base class writes every request to stderr."""


class LoopbackJsonService:
    """A JSON service on ``127.0.0.1:<ephemeral port>`` serving ``items`` (see the module docstring).

    Use it as a context manager (``with LoopbackJsonService(items) as service:``), or call
    :meth:`start` and :meth:`close` yourself.  It binds the loopback interface only.
    """

    def __init__(self, items: Mapping[str, Mapping[str, Any]], *, faults: Faults | None = None) -> None:
        if not isinstance(items, Mapping):
            raise TypeError(f"LoopbackJsonService items must map item ids to JSON objects, got {type(items).__name__}")
        self.items: dict[str, dict[str, Any]] = {str(k): dict(v) for k, v in items.items()}
        self.faults = faults if faults is not None else Faults()
        if not isinstance(self.faults, Faults):
            raise TypeError(f"faults must be a Faults, got {type(faults).__name__}")
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._connections: set[socket.socket] = set()
        self._meter = InFlight()  # connections held, under self._lock
        self._opened = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> LoopbackJsonService:
        """Bind an ephemeral port on 127.0.0.1 and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("this LoopbackJsonService is already running")
        if self._stopping.is_set():
            raise RuntimeError("this LoopbackJsonService was closed; make a new one")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-json-service"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake slow handlers, close the socket and join every thread (idempotent)."""
        self._stopping.set()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        with self._lock:
            idle = list(self._connections)
        for connection in idle:  # kept-alive connections would hold their threads until the client hangs up
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()  # joins the handler threads (block_on_close)
        thread.join()

    def __enter__(self) -> LoopbackJsonService:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- what the tests and lessons read ---------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the service is not running: use `with LoopbackJsonService(...) as service:`")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def requests(self) -> dict[str, int]:
        """Requests served so far, per path (a copy)."""
        with self._lock:
            return dict(sorted(self._requests.items()))

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    async def settle(self, limit: float = 2.0) -> int:
        """The connections still open here once clients' hang-ups have landed: a handler thread notices
        a client closing a moment after it does, so count after ``await service.settle()``, not at once.
        Polls every 10 ms of real time until none is open or ``limit`` seconds pass; returns the count."""
        if not limit >= 0:
            raise ValueError(f"settle: limit must be a number of seconds >= 0, got {limit!r}")
        for _ in range(int(limit / 0.01)):
            if self.open_connections == 0:
                break
            await asyncio.sleep(0.01)
        return self.open_connections

    @property
    def peak_connections(self) -> int:
        """The most connections the server has held at once."""
        with self._lock:
            return self._meter.peak

    @property
    def connections_opened(self) -> int:
        """Every connection the server has accepted so far (closed ones included)."""
        with self._lock:
            return self._opened

    def __repr__(self) -> str:
        state = "running on 127.0.0.1" if self.running else "stopped"
        return f"LoopbackJsonService({len(self.items)} items, {self.faults!r}, {state})"

    # -- called by the handler threads -----------------------------------------------------

    def _count(self, path: str) -> int:
        with self._lock:
            self._requests[path] += 1
            return self._requests[path]

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            if connection not in self._connections:
                self._connections.add(connection)
                self._meter.enter()
            self._opened += 1

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.discard(connection)
                self._meter.exit()
