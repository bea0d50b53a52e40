"""``Stream``: a lazy, pull-based async sequence as a replayable description.

A ``Stream[A]`` is to an async generator what an ``AsyncPlan`` is to a coroutine: a value
that *describes* a sequence and can be run many times.  Building a stream, and chaining
``map`` / ``filter`` / ``take`` / ``chunk`` / ``map_plan`` / :func:`merge_streams` onto it,
runs nothing.  Each run — :meth:`Stream.iterate`, or a terminal plan such as
:meth:`Stream.to_list` driven by the shell — calls every factory afresh, so two runs give
two fresh generators and, for sources without outside effects, the same items::

    >>> from funcpipe_async import Simulation, stream_of
    >>> evens = stream_of(range(10)).filter(lambda x: x % 2 == 0).map(lambda x: x * 10).take(3)
    >>> evens
    stream_of(range(0, 10)).filter(<lambda>).map(<lambda>).take(3)
    >>> Simulation().run(evens.to_list())
    Ok(value=[0, 20, 40])

Pull-based: a stage does work only when the stage after it asks for an item, so a source
produces nothing ahead of its consumer (that is the natural backpressure lesson 03 builds
on), and ``take(n)`` never asks its source for item ``n + 1``.

Laws (``tests/test_streams.py``, one test named after each; ``==`` means "runs to the same
items"):

* map identity      ``s.map(lambda x: x) == s``
* map fusion        ``s.map(f).map(g) == s.map(lambda x: g(f(x)))``
* filter fusion     ``s.filter(p).filter(q) == s.filter(lambda x: p(x) and q(x))``
* take laziness     running ``s.take(n)`` pulls at most ``n`` items from ``s``
* chunk / flatten   ``s.chunk(n).flatten() == s`` for every ``n >= 1``
* replay            running the same stream twice gives equal results
* merge             ``merge_streams(s1, …, sk)`` yields every item of every ``si`` exactly once,
  each source's items in that source's own order

Invariants:

* **cleanup on early exit** — every stage holds its upstream in ``contextlib.aclosing``, so
  when a run ends for any reason — exhausted, ``take`` is satisfied, the consumer closes the
  generator (``aclose``, or ``break`` inside ``aclosing``), an ``Err``, an exception, a
  cancellation — every source generator's ``finally`` has run before the run is over.
  Terminal plans close their run themselves.  (A bare ``async for … break`` over
  ``iterate()`` does *not* close it: that is Python's rule, not this module's — wrap it in
  ``aclosing``.)
* **bounded** — ``map_plan(f, concurrency=n)`` has at most ``n`` plans running; ``merge_streams``
  has at most one pull in flight per source.

Errors — the choice, and why.  An expected failure **ends the stream**: when a plan run by
``map_plan`` returns ``Err``, the stream stops there, every source is closed, and the terminal
plan's result is that ``Err`` (``to_list`` gives ``Err``, not a partial list).  This is what
``AsyncPlan`` and ``async_gather`` already do (the first ``Err`` short-circuits), so a stream
step composes like any other step.  Exceptions are defects and propagate unchanged, after
the sources are closed.  To keep going past failures, carry the ``Result`` as the item:
``s.map_plan(lambda x: async_map(fetch(x), Ok))``-style steps, or a ``map`` to ``Result``
values, keep every outcome as data and let the consumer decide.  While you iterate a run
by hand, an ``Err`` arrives as :class:`StreamFailed` (carrying the ``ErrInfo``) from the pull
that met it; terminal plans turn it back into ``Err``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from funcpipe_async.chunking import BatchPolicy, BatchState, batch_due, batch_flush, batch_offer, batch_tick
from funcpipe_async.gather import Exhausted, Pulled, Puller, async_gather, merge_iterators
from funcpipe_async.plan import AsyncPlan, PlanNode, _describe, async_bind, async_pure
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.trace import Trace

__all__ = [
    "Stream",
    "StreamFailed",
    "Resource",
    "stream_of",
    "stream_from",
    "stream_count",
    "merge_streams",
    "PULL",
    "EMIT",
    "CONSUME",
    "CLOSE",
]

A = TypeVar("A")
B = TypeVar("B")

PULL = "pull"
"""Trace kind: the consumer asked a traced stream for its next item (``data["item"]`` = its index)."""
EMIT = "emit"
"""Trace kind: a traced stream handed over item ``data["item"]`` (it was produced just now)."""
CONSUME = "consume"
"""Trace kind: a consumer finished with item ``data["item"]`` (recorded by the consumer)."""
CLOSE = "close"
"""Trace kind: a traced stream's run was closed (``data["items"]`` = how many it emitted)."""


class StreamFailed(Exception):
    """A stream run ended with an expected failure: ``error`` is the ``Err``'s ``ErrInfo``.

    Raised to a consumer iterating a run by hand; terminal plans catch it and return
    ``Err(error)``.  It is how an ``Err`` travels *out* of a generator, not a defect.
    """

    def __init__(self, error: ErrInfo) -> None:
        self.error = error
        super().__init__(f"stream ended with Err({error!r})")


def _check_callable(what: str, f: object) -> None:
    if not callable(f):
        raise TypeError(f"{what} needs a function, got {type(f).__name__}: {f!r}")


def _check_count(what: str, n: object, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} needs an int, got {type(n).__name__}: {n!r}")
    if n < minimum:
        raise ValueError(f"{what} needs n >= {minimum}, got {n}")
    return n


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Stream(Generic[A]):
    """A replayable description of a lazy, pull-based async sequence of ``A``.

    Build one with :func:`stream_of`, :func:`stream_from`, :func:`stream_count` or
    :func:`merge_streams`; transform it with the methods below (each returns a new stream,
    runs nothing, O(1) to build); end it with a terminal plan (:meth:`to_list`,
    :meth:`fold`, :meth:`for_each`) that a shell drives.  The laws and the cleanup
    guarantee are in the module docstring.  Streams are immutable and print as the code
    that builds them.
    """

    _make: Callable[[], AsyncGenerator[A, None]]
    _text: str

    def __repr__(self) -> str:
        return self._text

    def iterate(self) -> AsyncGenerator[A, None]:
        """Start one run: a fresh async generator (nothing has run until it is pulled).

        Whoever calls this owns the run and must close it — ``async with
        contextlib.aclosing(s.iterate()) as items: async for x in items: …`` — so the
        sources' ``finally`` blocks run even when you stop early.  Terminal plans do it
        for you.
        """
        return self._make()

    # --- transformations ------------------------------------------------------------------

    def _then(self, text: str, make: Callable[[], AsyncGenerator[B, None]]) -> Stream[B]:
        return Stream(make, f"{self._text}.{text}")

    def map(self, f: Callable[[A], B]) -> Stream[B]:
        """Apply the pure function ``f`` to every item.  Laws: identity, fusion."""
        _check_callable("Stream.map", f)

        async def run() -> AsyncGenerator[B, None]:
            async with aclosing(self.iterate()) as items:
                async for x in items:
                    yield f(x)

        return self._then(f"map({_describe(f)})", run)

    def filter(self, p: Callable[[A], bool]) -> Stream[A]:
        """Keep the items for which ``p`` is true.  Law: fusion."""
        _check_callable("Stream.filter", p)

        async def run() -> AsyncGenerator[A, None]:
            async with aclosing(self.iterate()) as items:
                async for x in items:
                    if p(x):
                        yield x

        return self._then(f"filter({_describe(p)})", run)

    def take(self, n: int) -> Stream[A]:
        """The first ``n`` items, then close the source.  Pulls at most ``n`` items from it:
        ``take(0)`` never starts the source; after item ``n`` it stops without asking again."""
        n = _check_count("Stream.take", n, 0)

        async def run() -> AsyncGenerator[A, None]:
            if n == 0:
                return
            taken = 0
            async with aclosing(self.iterate()) as items:
                async for x in items:
                    yield x
                    taken += 1
                    if taken >= n:
                        return

        return self._then(f"take({n})", run)

    def chunk(self, n: int) -> Stream[tuple[A, ...]]:
        """Group items into tuples of ``n`` (the last one may be shorter; none is empty).
        Law: ``s.chunk(n).flatten() == s``.  Holds at most ``n`` items at a time."""
        n = _check_count("Stream.chunk", n, 1)

        async def run() -> AsyncGenerator[tuple[A, ...], None]:
            batch: list[A] = []
            async with aclosing(self.iterate()) as items:
                async for x in items:
                    batch.append(x)
                    if len(batch) == n:
                        yield tuple(batch)
                        batch = []
            if batch:
                yield tuple(batch)

        return self._then(f"chunk({n})", run)

    def batch(self, policy: BatchPolicy) -> Stream[tuple[A, ...]]:
        """Group items into batches by size **or** time, whichever comes first (lesson 09).

        A batch is flushed when it holds ``policy.max_size`` items, or when its *first*
        item has waited ``policy.max_wait`` seconds on the loop's clock (virtual under
        ``Simulation``), or when the source ends.  The rules are the pure state machine of
        :mod:`funcpipe_async.chunking`, so ``s.batch(policy)`` makes the batches
        ``batch_schedule`` predicts.  Law: ``s.batch(policy).flatten() == s``.  While the
        consumer works on a batch, at most one item is being pulled from the source.
        """
        if not isinstance(policy, BatchPolicy):
            raise TypeError(f"Stream.batch needs a BatchPolicy(max_size, max_wait), got {type(policy).__name__}")

        async def run() -> AsyncGenerator[tuple[A, ...], None]:
            loop = asyncio.get_running_loop()
            state: BatchState[A] = BatchState()
            async with aclosing(Puller(self.iterate())) as puller:
                while True:
                    due = batch_due(policy, state)
                    pulled = await puller.pull(None if due is None else max(0.0, due - loop.time()))
                    now = loop.time()
                    flushed, state = batch_tick(policy, state, now)
                    if flushed is not None:
                        yield flushed.items
                    if isinstance(pulled, Exhausted):
                        flushed, state = batch_flush(state, now)
                        if flushed is not None:
                            yield flushed.items
                        return
                    if isinstance(pulled, Pulled):
                        flushed, state = batch_offer(policy, state, pulled.value, now)
                        if flushed is not None:
                            yield flushed.items

        return self._then(f"batch(max_size={policy.max_size}, max_wait={policy.max_wait:g})", run)

    def flatten(self: Stream[Iterable[B]]) -> Stream[B]:
        """Yield the elements of every item in turn: the inverse of ``chunk``."""

        async def run() -> AsyncGenerator[B, None]:
            async with aclosing(self.iterate()) as items:
                async for group in items:
                    for x in group:
                        yield x

        return self._then("flatten()", run)

    def map_plan(self, f: Callable[[A], AsyncPlan[B]], *, concurrency: int = 1) -> Stream[B]:
        """Run the plan ``f(x)`` for every item and yield its value, in input order.

        The first ``Err`` ends the stream (its sources are closed) and becomes the terminal
        plan's result.  With ``concurrency=1`` (the default) one plan runs at a time and one
        item is pulled per plan.  With ``concurrency=n`` the stream pulls up to ``n`` items,
        runs their plans together with ``async_gather(…, concurrency=n)``, yields the values
        in input order, and repeats: at most ``n`` plans run, at most ``n`` items are held,
        and the first ``Err`` *in time* ends the stream.
        """
        _check_callable("Stream.map_plan", f)
        n = _check_count("Stream.map_plan concurrency", concurrency, 1)

        async def one(x: A) -> B:
            result = await async_bind(async_pure(x), f)()
            if isinstance(result, Err):
                raise StreamFailed(result.error)
            return result.value

        async def batch(xs: list[A]) -> list[B]:
            result = await async_gather([f(x) for x in xs], concurrency=n)()
            if isinstance(result, Err):
                raise StreamFailed(result.error)
            return result.value

        async def run() -> AsyncGenerator[B, None]:
            held: list[A] = []
            async with aclosing(self.iterate()) as items:
                if n == 1:
                    async for x in items:
                        yield await one(x)
                    return
                async for x in items:
                    held.append(x)
                    if len(held) == n:
                        for value in await batch(held):
                            yield value
                        held = []
            if held:
                for value in await batch(held):
                    yield value

        suffix = "" if n == 1 else f", concurrency={n}"
        return self._then(f"map_plan({_describe(f)}{suffix})", run)

    def traced(self, trace: Trace, name: str = "source") -> Stream[A]:
        """The same items, recording on ``trace``: ``pull`` when asked for item *i*, ``emit``
        when it is handed over, ``close`` when the run ends (for any reason)."""
        if not isinstance(trace, Trace):
            raise TypeError(f"Stream.traced needs a Trace, got {type(trace).__name__}")

        async def run() -> AsyncGenerator[A, None]:
            index = 0
            try:
                async with aclosing(self.iterate()) as items:
                    while True:
                        trace.record(PULL, name, item=index)
                        try:
                            x = await items.__anext__()
                        except StopAsyncIteration:
                            return
                        trace.record(EMIT, name, item=index)
                        index += 1
                        yield x
            finally:
                trace.record(CLOSE, name, items=index)

        return self._then(f"traced({name!r})", run)

    # --- terminal descriptions --------------------------------------------------------------

    def fold(self, initial: B, f: Callable[[B, A], B]) -> AsyncPlan[B]:
        """A plan: run the stream once, combining items with ``f(acc, x)`` from ``initial``.
        ``Ok(acc)`` at the end, or the ``Err`` that ended the stream."""
        _check_callable("Stream.fold", f)
        return _Terminal(self, lambda: initial, f, f"{self._text}.fold({initial!r}, {_describe(f)})")

    def to_list(self) -> AsyncPlan[list[A]]:
        """A plan: run the stream once and collect every item (``Ok(list)``), or the ``Err``
        that ended it.  Never use it on an infinite stream without a ``take`` first."""

        return _Terminal(self, list, _append, f"{self._text}.to_list()")

    def for_each(self, f: Callable[[A], AsyncPlan[Any]]) -> AsyncPlan[int]:
        """A plan: run ``f(x)`` for every item, one at a time; ``Ok(count)`` of items
        handled, or the first ``Err`` (which stops the run and closes the sources)."""
        _check_callable("Stream.for_each", f)
        counted = self.map_plan(f)
        return _Terminal(counted, lambda: 0, lambda n, _: n + 1, f"{self._text}.for_each({_describe(f)})")


def _append(acc: list[A], x: A) -> list[A]:
    acc.append(x)
    return acc


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Terminal(PlanNode[B]):
    """The plan a terminal method returns: one run of a stream, folded, closed; ``text`` is its repr."""

    stream: Stream[Any]
    initial: Callable[[], B]
    step: Callable[[B, Any], B]
    text: str

    def __call__(self) -> Any:
        return _drain(self.stream, self.initial, self.step)

    def _repr(self, depth: int) -> str:
        return self.text


async def _drain(stream: Stream[A], initial: Callable[[], B], step: Callable[[B, A], B]) -> Result[B, ErrInfo]:
    acc = initial()
    try:
        async with aclosing(stream.iterate()) as items:
            if step is _append:  # to_list: the list's own append, not a Python call per item
                append = acc.append  # type: ignore[attr-defined]
                async for x in items:
                    append(x)
            else:
                async for x in items:
                    acc = step(acc, x)
    except StreamFailed as failed:
        return Err(failed.error)
    return Ok(acc)


# --- sources ------------------------------------------------------------------------------------


def _short(items: Sequence[Any], original: object) -> str:
    if isinstance(original, range):
        return repr(original)
    if len(items) > 13:  # "[a, b, …]" takes at least 3 characters per item: over 40 (no repr of a million)
        return f"<{len(items)} items>"
    text = repr(list(items))
    return text if len(text) <= 40 else f"<{len(items)} items>"


def stream_of(items: Iterable[A]) -> Stream[A]:
    """A stream of ``items``, read once, now (so the stream is replayable).  For an
    infinite or effectful source use :func:`stream_count` or :func:`stream_from`.  A
    ``str`` is refused (write ``[text]`` or ``list(text)``: which one you mean is not obvious)."""
    if isinstance(items, (str, bytes)):
        raise TypeError(
            f"stream_of needs an iterable of items, got a {type(items).__name__}: write [text] for one item, "
            "or list(text) for its characters"
        )
    if not isinstance(items, Iterable):
        raise TypeError(f"stream_of needs an iterable of items (a list, a range, …), got {type(items).__name__}")
    # Read once, now — but a range or a tuple is already an immutable sequence: no copy
    # (tuple(range(10**6)) alone costs tens of milliseconds).
    values: Sequence[A] = items if type(items) is range or type(items) is tuple else tuple(items)

    async def run() -> AsyncGenerator[A, None]:
        for x in values:
            yield x

    return Stream(run, f"stream_of({_short(values, items)})")


def stream_from(make: Callable[[], AsyncIterator[A]]) -> Stream[A]:
    """A stream whose every run calls ``make()`` for a fresh async iterator — pass the
    async-generator *function*, not a generator: ``stream_from(read_lines)``, or
    ``stream_from(lambda: read_lines(path))`` for one with arguments.

    Precondition: ``make`` returns a **fresh** iterator on every call (as ``async_lift``
    needs a fresh coroutine).  Every run closes the iterator it made (``aclose``) when it ends.
    """
    if inspect.isasyncgen(make) or (hasattr(make, "__anext__") and not callable(make)):
        raise TypeError(
            "stream_from takes a function that creates an async generator, not a generator: "
            "write stream_from(numbers) or stream_from(lambda: numbers(10)), not stream_from(numbers(10))"
        )
    _check_callable("stream_from", make)

    async def run() -> AsyncGenerator[A, None]:
        source = make()
        if not hasattr(source, "__anext__"):
            raise TypeError(f"{_describe(make)}() returned {type(source).__name__}, not an async iterator")
        try:
            async for x in source:
                yield x
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    return Stream(run, f"stream_from({_describe(make)})")


def stream_count(start: int = 0, step: int = 1) -> Stream[int]:
    """The infinite stream ``start, start + step, …`` — safe only behind a ``take``."""
    for what, value in (("start", start), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"stream_count {what} must be an int, got {type(value).__name__}: {value!r}")

    async def run() -> AsyncGenerator[int, None]:
        x = start
        while True:
            yield x
            x += step

    return Stream(run, f"stream_count({start}, {step})" if step != 1 else f"stream_count({start})")


def merge_streams(*streams: Stream[A]) -> Stream[A]:
    """Interleave several streams by arrival: every item of every stream, each stream's items
    in its own order, items that arrive together in argument order.

    Runs the streams concurrently with at most one pull in flight per stream
    (:func:`funcpipe_async.gather.merge_iterators`); when the merged run ends — exhausted,
    closed early, an ``Err``, an exception, a cancellation — every source is closed.
    """
    for index, s in enumerate(streams):
        if not isinstance(s, Stream):
            raise TypeError(f"merge_streams: argument {index} is {type(s).__name__}, not a Stream")

    async def run() -> AsyncGenerator[A, None]:
        async with aclosing(merge_iterators([s.iterate() for s in streams])) as items:
            async for x in items:
                yield x

    return Stream(run, f"merge_streams({', '.join(repr(s) for s in streams)})")


class Resource:
    """A test double for cleanup: counts how often it was acquired and released.

    A source that owns something (a file, a connection) calls ``acquire()`` when it starts
    and ``release()`` in its ``finally``; ``held`` is how many are held right now, so a run
    that ends with ``held > 0`` has leaked.  ``log`` records each call in order.
    """

    __slots__ = ("name", "acquired", "released", "log")

    def __init__(self, name: str = "resource") -> None:
        self.name = name
        self.acquired = 0
        self.released = 0
        self.log: list[str] = []

    @property
    def held(self) -> int:
        """Acquired and not yet released."""
        return self.acquired - self.released

    def acquire(self) -> None:
        self.acquired += 1
        self.log.append("acquire")

    def release(self) -> None:
        if self.released >= self.acquired:
            raise RuntimeError(f"{self.name}: released more often than acquired")
        self.released += 1
        self.log.append("release")

    def __repr__(self) -> str:
        return f"Resource({self.name!r}, acquired={self.acquired}, released={self.released}, held={self.held})"
