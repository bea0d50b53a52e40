"""In-memory fakes for the capability ports, with scripted answers and a call log.

Each fake records every call it receives in ``calls`` (in order), so a test or a notebook
can see *when* effects happened — above all, that building a plan performed none.
:class:`ScriptedService` plays a script instead — fail twice then succeed, hang, answer
late — one entry per call, on whatever clock the loop has (virtual time in tests).  Each
call really suspends once (``await asyncio.sleep(0)``), as a network call would, so
interleavings under ``async_gather`` are real.  Optionally each call is also recorded on a
:class:`~funcpipe_async.trace.Trace`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, Generic, NoReturn, TypeVar

import httpx

from funcpipe_async.chunking import BatchCost
from funcpipe_async.meter import InFlight
from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.ports import encode_save
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.trace import Trace

__all__ = [
    "FakeHttp",
    "ScriptedHttp",
    "FakeStorage",
    "FakeEmbedder",
    "BatchEmbedder",
    "ScriptedService",
    "HANG",
    "FakePayments",
    "hash_embedding",
]

A = TypeVar("A")


class _Hang:
    """The script entry for a call that never answers (it waits until it is cancelled)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HANG"


HANG: Final = _Hang()


async def _hang_forever(loop: asyncio.AbstractEventLoop) -> NoReturn:
    await loop.create_future()  # nobody completes it: only cancellation ends the wait
    raise AssertionError("unreachable: a future nobody completes has completed")


class ScriptedService(Generic[A]):
    """A dependency that answers call *n* with ``script[n-1]`` (the last entry repeats),
    after ``latency`` seconds of the running loop's clock.

    Script entries: an ``Ok``/``Err`` is returned as it is; an ``ErrInfo`` becomes ``Err``;
    :data:`HANG` never answers (the call waits until something cancels it — a timeout); any
    other value ``v`` becomes ``Ok(v)``.  ``calls`` holds the loop time of every call, so on
    virtual time a test can assert *when* each attempt happened.

    >>> service = ScriptedService([ErrInfo("HTTP_503", "down", retryable=True), "payload"])
    >>> plan = service.plan()          # describing calls nothing: service.calls == []
    """

    def __init__(
        self,
        script: Sequence[Result[A, ErrInfo] | ErrInfo | _Hang | A],
        *,
        latency: float = 0.0,
        trace: Trace | None = None,
        name: str = "service",
    ) -> None:
        if isinstance(script, (str, bytes)) or not isinstance(script, Sequence) or len(script) == 0:
            raise ValueError("ScriptedService needs a non-empty list of script entries")
        if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency < float("inf"):
            raise ValueError(f"ScriptedService latency must be a finite number of seconds >= 0, got {latency!r}")
        self.script = list(script)
        self.latency = float(latency)
        self.calls: list[float] = []
        self._trace = trace
        self._name = name

    async def call(self) -> Result[A, ErrInfo]:
        """One call: wait ``latency`` (or forever, for ``HANG``), then answer from the script."""
        loop = asyncio.get_running_loop()
        self.calls.append(loop.time())
        entry = self.script[min(len(self.calls), len(self.script)) - 1]
        if self._trace is not None:
            self._trace.record("effect", self._name, call=len(self.calls))
        if isinstance(entry, _Hang):
            await _hang_forever(loop)
        await asyncio.sleep(self.latency)
        if isinstance(entry, (Ok, Err)):
            return entry
        if isinstance(entry, ErrInfo):
            return Err(entry)
        return Ok(entry)

    def plan(self) -> AsyncPlan[A]:
        """The plan of one call (each drive is a new call)."""
        return async_lift(self.call)

    def __repr__(self) -> str:
        return f"ScriptedService({self.script!r}, latency={self.latency!r}, calls={len(self.calls)})"


class ScriptedHttp:
    """An ``HttpClientCap`` on the loop's clock whose answers are scripted per item.

    A GET of a URL ending in ``/<item>`` is the next call to that item's
    :class:`ScriptedService` (``latency`` seconds, then its script's next entry; the last
    repeats), so an item that fails twice fails on *its* first two requests, whoever else is
    calling.  An item with no script answers ``Err(HTTP_404)`` at once.  It counts what a
    reviewer asks about: ``requests``, requests ``in_flight`` now and at ``peak``, and
    ``samples`` of ``(loop time, in flight)`` at every change (for a plot).

    >>> api = ScriptedHttp({"a1": [ErrInfo("HTTP_503", "busy", retryable=True), {"id": "a1"}]}, latency=0.01)
    >>> api.services["a1"].calls           # nothing is called until a plan runs
    []
    """

    def __init__(self, scripts: Mapping[str, Sequence[Any]], *, latency: float = 0.0) -> None:
        if not isinstance(scripts, Mapping):
            raise TypeError(f"ScriptedHttp needs a mapping item -> script, got {type(scripts).__name__}")
        self.services: dict[str, ScriptedService[Any]] = {
            item: ScriptedService(script, latency=latency, name=f"GET {item}") for item, script in scripts.items()
        }
        self.requests = 0
        self._meter = InFlight(timed=True)

    @property
    def in_flight(self) -> int:
        """Calls running now."""
        return self._meter.now

    @property
    def peak(self) -> int:
        """The most requests that were in flight at once."""
        return self._meter.peak

    @property
    def samples(self) -> list[tuple[float, int]]:
        """``(loop time, requests in flight)`` at every change."""
        return self._meter.samples

    async def get_json(self, url: str) -> Result[Any, ErrInfo]:
        self.requests += 1
        service = self.services.get(url.rsplit("/", 1)[-1])
        if service is None:
            return Err(ErrInfo("HTTP_404", f"no item at {url}"))
        with self._meter:
            return await service.call()

    def transport(self) -> httpx.MockTransport:
        """The same scripts behind real ``httpx``: a ``MockTransport`` whose answer to ``GET <path>`` is
        this fake's ``get_json(path)`` — a JSON 200, or the status an ``Err(HTTP_nnn)`` names — so code
        written against ``httpx.AsyncClient`` runs on the script, on virtual time, with no network.

        Every scripted error must be an HTTP status (``HTTP_404``, ``HTTP_503`` …); any other code
        has no response to stand for and raises ``ValueError`` naming it."""

        async def answer(request: httpx.Request) -> httpx.Response:
            result = await self.get_json(request.url.path)
            if isinstance(result, Err):
                status = result.error.code.removeprefix("HTTP_")
                if not status.isdigit():
                    raise ValueError(
                        f"ScriptedHttp.transport: {result.error.code!r} is not an HTTP status; "
                        "script errors as ErrInfo('HTTP_nnn', ...)"
                    )
                return httpx.Response(int(status))
            # json.dumps, not httpx's json=: a scripted record may hold NaN, as a sloppy real service sends it
            return httpx.Response(200, content=json.dumps(result.value), headers={"content-type": "application/json"})

        return httpx.MockTransport(answer)


class FakeHttp:
    """An ``HttpClientCap`` answering from a dict ``url -> JSON``; unknown urls are a 404 ``Err``.

    ``failures`` maps a url to the ``ErrInfo`` to return instead (scripted faults).
    """

    def __init__(
        self,
        responses: Mapping[str, Mapping[str, Any]],
        *,
        failures: Mapping[str, ErrInfo] | None = None,
        trace: Trace | None = None,
    ) -> None:
        self._responses = {url: dict(body) for url, body in responses.items()}
        self._failures = dict(failures or {})
        self._trace = trace
        self.calls: list[str] = []

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        self.calls.append(f"GET {url}")
        if self._trace is not None:
            self._trace.record("effect", "http", call=f"GET {url}")
        await asyncio.sleep(0)
        if url in self._failures:
            return Err(self._failures[url])
        if url not in self._responses:
            return Err(ErrInfo("HTTP_404", f"no such resource: {url}"))
        return Ok(dict(self._responses[url]))


class FakeStorage:
    """A ``StorageCap`` keeping records in a dict, with the contract of ``ports.StorageCap``.

    Saving a key again replaces its record (idempotent per key); records are stored as plain
    JSON (what ``SqliteStorage`` would give back), so the fake and the real adapter pass the
    same contract tests.
    """

    def __init__(self, *, trace: Trace | None = None) -> None:
        self._trace = trace
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        self.calls.append(f"SAVE {key}")
        if self._trace is not None:
            self._trace.record("effect", "storage", call=f"SAVE {key}")
        await asyncio.sleep(0)
        encoded = encode_save(key, record)
        if isinstance(encoded, Err):
            return encoded
        self.records[key] = json.loads(encoded.value)
        return Ok(None)

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        self.calls.append(f"LOAD {key}")
        await asyncio.sleep(0)
        if key not in self.records:
            return Err(ErrInfo("NOT_FOUND", f"no record under {key!r}"))
        return Ok(json.loads(json.dumps(self.records[key])))


def hash_embedding(text: str, dims: int = 4) -> list[float]:
    """A deterministic vector of ``dims`` numbers in [0, 1] from ``text``: a stand-in for a model.

    Pure and blocking (SHA-256 of the text), so ``FakeEmbedder`` uses it directly and a lesson
    can wrap it in ``ThreadedEmbedder`` as if it were a real, blocking model library.
    """
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 32:
        raise ValueError(f"dims must be an int from 1 to 32, got {dims!r}")
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [round(b / 255, 3) for b in digest[:dims]]


class FakeEmbedder:
    """An ``EmbeddingCap`` returning a deterministic unit-free vector derived from the text."""

    def __init__(self, *, dims: int = 4, model_name: str = "fake-embed-v1") -> None:
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 32:
            raise ValueError(f"FakeEmbedder dims must be an int from 1 to 32, got {dims!r}")
        self._dims = dims
        self._model_name = model_name
        self.calls: list[str] = []
        self._meter = InFlight()

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def in_flight(self) -> int:
        """Calls running now."""
        return self._meter.now

    @property
    def max_in_flight(self) -> int:
        """The most calls that were running at once."""
        return self._meter.peak

    async def embed(self, text: str) -> Result[tuple[float, ...], ErrInfo]:
        self.calls.append(f"EMBED {text}")
        with self._meter:
            await asyncio.sleep(0)
            if not text.strip():
                return Err(ErrInfo("EMPTY_TEXT", "cannot embed an empty text"))
            return Ok(tuple(hash_embedding(text, self._dims)))


class BatchEmbedder:
    """A batch embedding model on the loop's clock (lesson 09's expensive capability).

    ``embed(texts)`` returns a plan that, when driven, takes ``cost.seconds(len(texts))``
    seconds and answers one ``hash_embedding`` vector per text, in order.  ``calls`` records
    the size of every call in the order calls started; ``in_flight`` / ``peak`` count calls
    running now / at most at once.
    """

    def __init__(self, cost: BatchCost | None = None, *, dims: int = 4) -> None:
        self.cost = cost if cost is not None else BatchCost(overhead=0.2, per_item=0.01)
        if not isinstance(self.cost, BatchCost):
            raise TypeError(f"BatchEmbedder cost must be a BatchCost, got {type(cost).__name__}")
        hash_embedding("check", dims)  # validates dims
        self.dims = dims
        self.calls: list[int] = []
        self._meter = InFlight()

    @property
    def in_flight(self) -> int:
        """Calls running now."""
        return self._meter.now

    @property
    def peak(self) -> int:
        """The most calls that were running at once."""
        return self._meter.peak

    def embed(self, texts: Sequence[str]) -> AsyncPlan[list[tuple[float, ...]]]:
        batch = list(texts)

        async def run() -> Result[list[tuple[float, ...]], ErrInfo]:
            self.calls.append(len(batch))
            with self._meter:
                await asyncio.sleep(self.cost.seconds(len(batch)))
                return Ok([tuple(hash_embedding(text, self.dims)) for text in batch])

        return async_lift(run)

    def __repr__(self) -> str:
        return f"BatchEmbedder({self.cost!r}, calls={len(self.calls)})"


class FakePayments:
    """A payment service whose replies can be slow, for lesson 04's non-idempotent write.

    A charge **lands 0.1 s into a call** (the write), and the reply follows after the next
    delay from ``reply_delays`` (``default_delay`` once the list runs out).  So a caller whose
    timeout is shorter than a slow reply gives up *after the money moved* — and a retry
    charges again, unless it carries an idempotency ``key``: a charge with a key already
    seen returns the first charge's id instead of charging again.

    ``charges`` lists the amounts actually charged; ``calls`` counts calls.
    """

    def __init__(self, reply_delays: Sequence[float] = (), *, default_delay: float = 0.2) -> None:
        self.reply_delays = [float(d) for d in reply_delays]
        self.default_delay = float(default_delay)
        if any(not 0 <= d < float("inf") for d in [*self.reply_delays, self.default_delay]):
            raise ValueError("FakePayments delays must be finite numbers of seconds >= 0")
        self.charges: list[int] = []
        self.by_key: dict[str, str] = {}
        self.calls = 0

    async def charge(self, amount: int, key: str | None = None) -> Result[str, ErrInfo]:
        """Charge ``amount`` (once per ``key``, if given) and reply with the charge's id."""
        self.calls += 1
        await asyncio.sleep(0.1)
        if key is not None and key in self.by_key:
            charge_id = self.by_key[key]  # a retry of an operation already done: no second charge
        else:
            self.charges.append(amount)
            charge_id = f"ch_{len(self.charges)}"
            if key is not None:
                self.by_key[key] = charge_id
        await asyncio.sleep(self.reply_delays.pop(0) if self.reply_delays else self.default_delay)
        return Ok(charge_id)
