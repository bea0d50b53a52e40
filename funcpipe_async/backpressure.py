"""Backpressure: bounded stages connected by queues, with what happens on overflow as data.

A pipeline is a *description*: ``pipeline(source, stages)`` returns an
``AsyncPlan[PipelineReport]`` and runs nothing.  When a shell drives it, the source feeds
the queue in front of the first stage; each :class:`Stage` runs ``workers`` copies of its
step, each taking items from its own queue and offering results to the next stage's queue
(the last stage's results are the pipeline's output).  The concurrency is composed from
:func:`~funcpipe_async.async_gather` — one plan for the source and one per worker — so this
module creates no task itself, and the gather's guarantees (fail fast, cancel the rest,
wait for them) are the pipeline's.

What a full queue does is a :class:`QueuePolicy` — plain, frozen data:

* ``"suspend"``     — the producer waits until there is room (lossless; the pressure travels
  upstream, one stage at a time, to the source);
* ``"drop_newest"`` — the item offered to a full queue is discarded (counted in ``drops``);
* ``"drop_oldest"`` — the oldest item waiting is evicted to make room (a sliding window:
  the freshest ``capacity`` items survive);
* ``"fail"``        — the offer returns ``Err(ErrInfo("QUEUE_FULL", ...))``; the worker
  returns that ``Err`` and the pipeline ends with it (no exception from deep inside);
* ``QueuePolicy.unbounded()`` — no capacity at all: the anti-pattern, kept so a lesson can
  show its depth and memory growing without limit.

Invariants (``tests/test_backpressure.py`` has one test named after each):

* **depth never exceeds capacity** — a bounded queue never holds more than ``capacity``;
* **suspend loses nothing and keeps order** — with one worker per stage every item comes out,
  in source order; with ``n > 1`` workers the *multiset* of items is kept (workers finish in
  any order), and ``pipeline(..., ordered=True)`` restores source order by sequence number;
* **drop counts are exact** — per queue, ``offered == taken + dropped`` once the pipeline is
  done, so items in = items out + all drops;
* **cancelling a put or a get loses nothing already accepted** — a getter cancelled after it
  was woken leaves the item for the next getter; a putter cancelled while it waits inserts
  nothing; cancelled waiters never block the others (CPython's ``test_queues.py`` cases);
* **no task outlives the pipeline** — after the plan ends (normally, by ``fail``, by an
  exception in a step or by cancellation) none of its workers is left;
* **end of stream reaches every worker** — the source closes the first queue when it is
  done; the last worker of a stage to finish closes the next queue; a closed, drained queue
  ends every worker waiting on it.

The probe is optional and off the hot path: pass ``probe=trace`` (a
:class:`~funcpipe_async.Trace` on the loop's clock — ``sim.trace`` under ``Simulation``) and
each queue records ``enqueue`` / ``dequeue`` / ``drop`` / ``reject`` events with its depth,
and ``put_wait`` / ``get_wait`` events with how long a put or get waited.
:func:`littles_law` reads those events back: arrival rate λ, mean number in the queue L and
mean time in the queue W, for which ``L = λW`` holds.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NoReturn, TypeVar, get_args

from funcpipe_async.gather import async_gather
from funcpipe_async.plan import AsyncPlan, PlanNode, PlanTypeError
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.streams import Stream, stream_from
from funcpipe_async.trace import Trace, format_table

__all__ = [
    "Overflow",
    "OVERFLOWS",
    "QueuePolicy",
    "BoundedQueue",
    "QueueClosed",
    "Stage",
    "QueueStats",
    "PipelineReport",
    "pipeline",
    "paced",
    "LittlesLaw",
    "littles_law",
    "depth_series",
    "ENQUEUE",
    "DEQUEUE",
    "DROP",
    "REJECT",
    "PUT_WAIT",
    "GET_WAIT",
    "QUEUE_FULL",
    "QUEUE_CLOSED",
]

A = TypeVar("A")
B = TypeVar("B")

Overflow = Literal["suspend", "drop_newest", "drop_oldest", "fail"]
"""What a full queue does with the next offer."""

OVERFLOWS: tuple[str, ...] = get_args(Overflow)

ENQUEUE = "enqueue"
DEQUEUE = "dequeue"
DROP = "drop"
REJECT = "reject"
PUT_WAIT = "put_wait"
GET_WAIT = "get_wait"

QUEUE_FULL = "QUEUE_FULL"
QUEUE_CLOSED = "QUEUE_CLOSED"

_ACCEPTED: Ok[bool] = Ok(True)  # immutable, so one shared value serves every accepted put


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """A queue's size and what it does when full, as data.

    >>> QueuePolicy(8, "drop_oldest")
    QueuePolicy(capacity=8, overflow='drop_oldest')
    >>> QueuePolicy.unbounded()
    QueuePolicy(capacity=None, overflow='suspend')

    ``capacity`` is a positive ``int``, or ``None`` for an unbounded queue (which never
    overflows, so its ``overflow`` is irrelevant and must stay ``"suspend"``).
    """

    capacity: int | None = 8
    overflow: Overflow = "suspend"

    def __post_init__(self) -> None:
        cap = self.capacity
        if cap is not None:
            if isinstance(cap, bool) or not isinstance(cap, int):
                raise TypeError(f"QueuePolicy: capacity must be an int (or None for unbounded), got {type(cap).__name__}")
            if cap < 1:
                raise ValueError(
                    f"QueuePolicy: capacity must be at least 1, got capacity={cap}; "
                    "for no bound at all use QueuePolicy.unbounded()"
                )
        if self.overflow not in OVERFLOWS:
            raise ValueError(
                f"QueuePolicy: unknown overflow strategy {self.overflow!r}; expected one of "
                + ", ".join(repr(o) for o in OVERFLOWS)
            )
        if cap is None and self.overflow != "suspend":
            raise ValueError(
                f"QueuePolicy: an unbounded queue never overflows, so overflow={self.overflow!r} "
                "means nothing; give a capacity"
            )

    @classmethod
    def unbounded(cls) -> QueuePolicy:
        """No capacity: the anti-pattern — depth and memory grow as long as producers outrun consumers."""
        return cls(None, "suspend")

    @property
    def bounded(self) -> bool:
        """Whether the queue has a capacity."""
        return self.capacity is not None


class QueueClosed(Exception):
    """``get`` on a queue that is closed and empty: the stream has ended."""


def _wake_first(waiters: deque[asyncio.Future[None]]) -> None:
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return


class BoundedQueue(Generic[A]):
    """A FIFO queue with a :class:`QueuePolicy`, end-of-stream, counters and an optional probe.

    ``await put(item)`` returns ``Ok(True)`` when the item was accepted, ``Ok(False)`` when it
    was dropped (``drop_newest``), and ``Err(QUEUE_FULL)`` under ``fail`` (or
    ``Err(QUEUE_CLOSED)`` after :meth:`close`); under ``suspend`` it waits for room.
    ``await get()`` returns the oldest item, waiting while the queue is empty, and raises
    :class:`QueueClosed` once the queue is closed and drained.

    Cancellation (CPython's ``asyncio.Queue`` rules): an item stays in the queue until a
    getter actually resumes and takes it, so a getter cancelled after being woken leaves it
    for the next one (and passes its wake-up on); a putter cancelled while it waits has
    inserted nothing; a cancelled waiter is removed, never blocking the others.

    Counters: ``offered`` (puts; a put cancelled while waiting is no offer), ``accepted``,
    ``dropped`` (refused newest + evicted oldest + rejected by ``fail`` or by a closed queue),
    ``evicted`` (the ``drop_oldest`` part of ``dropped``), ``taken`` (gets), ``max_depth``,
    ``put_waits`` / ``get_waits`` (how many puts / gets had to wait) and ``put_wait_time`` /
    ``get_wait_time`` (seconds of the loop's clock).  Invariants, at every moment:
    ``depth <= capacity``; ``offered == taken + dropped + depth``;
    ``accepted == taken + evicted + depth``.
    """

    __slots__ = (
        "policy", "name", "_probe", "_items", "_getters", "_putters", "_closed", "_cap",
        "offered", "accepted", "dropped", "evicted", "taken", "max_depth",
        "put_waits", "get_waits", "put_wait_time", "get_wait_time",
    )

    def __init__(self, policy: QueuePolicy, name: str = "queue", *, probe: Trace | None = None) -> None:
        if not isinstance(policy, QueuePolicy):
            raise TypeError(f"BoundedQueue needs a QueuePolicy, got {type(policy).__name__}")
        if probe is not None and not isinstance(probe, Trace):
            raise TypeError(f"BoundedQueue probe must be a Trace or None, got {type(probe).__name__}")
        self.policy = policy
        self.name = name
        self._probe = probe
        self._items: deque[A] = deque()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._putters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._cap = policy.capacity if policy.capacity is not None else -1
        self.offered = 0
        self.accepted = 0
        self.dropped = 0
        self.evicted = 0
        self.taken = 0
        self.max_depth = 0
        self.put_waits = 0
        self.get_waits = 0
        self.put_wait_time = 0.0
        self.get_wait_time = 0.0

    def __repr__(self) -> str:
        return (f"BoundedQueue({self.name!r}, capacity={self.policy.capacity}, "
                f"overflow={self.policy.overflow!r}, depth={len(self._items)}"
                + (", closed" if self._closed else "") + ")")

    @property
    def depth(self) -> int:
        """Items waiting now."""
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def full(self) -> bool:
        """Whether the next offer would overflow."""
        return len(self._items) == self._cap

    def close(self) -> None:
        """End the stream: items already accepted can still be taken; then ``get`` raises
        :class:`QueueClosed`.  Wakes every waiting getter (and putter, whose put then fails)."""
        if self._closed:
            return
        self._closed = True
        for waiters in (self._getters, self._putters):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    def _closed_err(self) -> Err[ErrInfo]:
        self.dropped += 1  # offered but never accepted: counted, so offered == taken + dropped + depth
        return Err(ErrInfo(QUEUE_CLOSED, f"queue {self.name!r} is closed: the stream has ended"))

    async def put(self, item: A) -> Result[bool, ErrInfo]:
        """Offer ``item``; what happens when the queue is full is the policy's overflow."""
        self.offered += 1
        items = self._items
        if self._closed:
            return self._closed_err()
        if len(items) == self._cap:
            overflow = self.policy.overflow
            if overflow == "suspend":
                loop = asyncio.get_running_loop()
                began = loop.time()
                self.put_waits += 1
                while len(items) == self._cap:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._putters.append(waiter)
                    try:
                        await waiter
                    except BaseException:
                        waiter.cancel()
                        try:
                            self._putters.remove(waiter)
                        except ValueError:
                            pass
                        # Woken but cancelled before inserting: hand the room to the next putter.
                        if not waiter.cancelled() and len(items) < self._cap:
                            _wake_first(self._putters)
                        self.offered -= 1  # a cancelled put is no offer: it inserted nothing
                        raise
                    if self._closed:
                        return self._closed_err()
                waited = loop.time() - began
                self.put_wait_time += waited
                if self._probe is not None:
                    self._probe.record(PUT_WAIT, self.name, waited=waited)
            elif overflow == "drop_newest":
                self.dropped += 1
                if self._probe is not None:
                    self._probe.record(DROP, self.name, depth=len(items), which="newest")
                return Ok(False)
            elif overflow == "drop_oldest":
                items.popleft()
                self.dropped += 1
                self.evicted += 1
                if self._probe is not None:
                    self._probe.record(DROP, self.name, depth=len(items), which="oldest")
            else:  # "fail"
                self.dropped += 1
                if self._probe is not None:
                    self._probe.record(REJECT, self.name, depth=len(items))
                return Err(ErrInfo(
                    QUEUE_FULL,
                    f"queue {self.name!r} is full (capacity {self._cap}): overflow='fail' refuses the item",
                ))
        items.append(item)
        self.accepted += 1
        depth = len(items)
        if depth > self.max_depth:
            self.max_depth = depth
        if self._probe is not None:
            self._probe.record(ENQUEUE, self.name, depth=depth)
        if self._getters:
            _wake_first(self._getters)
        return _ACCEPTED

    async def get(self) -> A:
        """Take the oldest item, waiting while the queue is empty; :class:`QueueClosed` at the end."""
        items = self._items
        if not items:
            if self._closed:
                raise QueueClosed(self.name)
            loop = asyncio.get_running_loop()
            began = loop.time()
            self.get_waits += 1
            while not items:
                if self._closed:
                    raise QueueClosed(self.name)
                waiter: asyncio.Future[None] = loop.create_future()
                self._getters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    waiter.cancel()
                    try:
                        self._getters.remove(waiter)
                    except ValueError:
                        pass
                    # Woken for an item but cancelled before taking it: the item stays, and
                    # the wake-up goes to the next getter, so nothing is lost or stuck.
                    if not waiter.cancelled() and items:
                        _wake_first(self._getters)
                    raise
            waited = loop.time() - began
            self.get_wait_time += waited
            if self._probe is not None:
                self._probe.record(GET_WAIT, self.name, waited=waited)
        item = items.popleft()
        self.taken += 1
        if self._probe is not None:
            self._probe.record(DEQUEUE, self.name, depth=len(items))
        if self._putters:
            _wake_first(self._putters)
        return item

    def stats(self) -> QueueStats:
        """The counters now, as a frozen value."""
        return QueueStats(
            self.name, self.policy.capacity, self.policy.overflow, self.offered, self.accepted,
            self.dropped, self.taken, len(self._items), self.max_depth, self.put_waits,
            self.get_waits, self.put_wait_time, self.get_wait_time,
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue's counters at the end of a run.  ``offered == taken + dropped + depth``."""

    name: str
    capacity: int | None
    overflow: str
    offered: int
    accepted: int
    dropped: int
    taken: int
    depth: int
    max_depth: int
    put_waits: int
    get_waits: int
    put_wait_time: float
    get_wait_time: float


def _describe(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(name, str):
        return name.replace(".<locals>", "")
    return repr(obj)


@dataclass(frozen=True)
class Stage(Generic[A, B]):
    """One step of a pipeline: ``workers`` copies of ``step`` fed by a queue with ``queue`` policy.

    ``step`` is a Kleisli arrow ``A -> AsyncPlan[B]`` (as for ``async_bind``): an ``Err`` it
    returns ends the pipeline with that ``Err``; an exception is a defect and propagates.
    ``queue`` is the buffer *in front of* this stage.

    >>> Stage("parse", len, workers=2, queue=QueuePolicy(4, "drop_oldest"))
    Stage('parse', len, workers=2, queue=QueuePolicy(capacity=4, overflow='drop_oldest'))
    """

    name: str
    step: Callable[[A], AsyncPlan[B]]
    workers: int = 1
    queue: QueuePolicy = field(default_factory=QueuePolicy)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Stage: name must be a non-empty string, got {self.name!r}")
        if not callable(self.step):
            raise TypeError(f"Stage {self.name!r}: step must be a function A -> AsyncPlan[B], got {type(self.step).__name__}")
        w = self.workers
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError(f"Stage {self.name!r}: workers must be an int, got {type(w).__name__}")
        if w < 1:
            raise ValueError(f"Stage {self.name!r}: workers (its concurrency) must be at least 1, got workers={w}")
        if not isinstance(self.queue, QueuePolicy):
            raise TypeError(f"Stage {self.name!r}: queue must be a QueuePolicy, got {type(self.queue).__name__}")

    def __repr__(self) -> str:
        return f"Stage({self.name!r}, {_describe(self.step)}, workers={self.workers}, queue={self.queue!r})"


@dataclass(frozen=True)
class PipelineReport(Generic[B]):
    """What a pipeline run did: the items out (``None`` when not collected), how many went
    in and came out, and each queue's :class:`QueueStats`, in stage order."""

    items: tuple[B, ...] | None
    items_in: int
    items_out: int
    queues: tuple[QueueStats, ...]

    @property
    def drops(self) -> dict[str, int]:
        """Items dropped, per queue."""
        return {q.name: q.dropped for q in self.queues}

    @property
    def max_depth(self) -> dict[str, int]:
        """The deepest each queue got."""
        return {q.name: q.max_depth for q in self.queues}

    def table(self) -> str:
        """Per-queue counters as a text table."""
        rows = [
            [q.name, "∞" if q.capacity is None else q.capacity, q.overflow, q.offered, q.taken,
             q.dropped, q.max_depth, q.put_waits, f"{q.put_wait_time:g}", q.get_waits]
            for q in self.queues
        ]
        return format_table(
            ["queue", "capacity", "overflow", "offered", "taken", "dropped", "max depth",
             "put waits", "put wait s", "get waits"],
            rows,
        )

    def __repr__(self) -> str:
        shown = "None" if self.items is None else (
            repr(self.items) if len(self.items) <= 8 else f"({', '.join(map(repr, self.items[:8]))}, …)")
        return (f"PipelineReport(items={shown}, items_in={self.items_in}, items_out={self.items_out}, "
                f"drops={self.drops}, max_depth={self.max_depth})")


Source = Iterable[A] | Stream[A] | Callable[[], AsyncIterator[A]]


def paced(items: Iterable[A], every: float) -> Callable[[], AsyncIterator[A]]:
    """A replayable source: yields ``items`` one every ``every`` seconds of the loop's clock
    (the first after ``every``).  Each call starts a fresh iteration."""
    if isinstance(every, bool) or not isinstance(every, (int, float)) or every < 0:
        raise ValueError(f"paced: every must be a non-negative number of seconds, got {every!r}")
    snapshot = items if isinstance(items, (range, tuple, list)) else tuple(items)

    async def produce() -> AsyncIterator[A]:
        for item in snapshot:
            await asyncio.sleep(every)
            yield item

    produce.__qualname__ = f"paced(every={every:g})"
    return produce


class _Pipeline(PlanNode[PipelineReport[Any]]):
    __slots__ = ("source", "stages", "probe", "collect", "ordered")
    source: Any
    stages: tuple[Stage[Any, Any], ...]
    probe: Trace | None
    collect: bool
    ordered: bool

    def __init__(self, source: Any, stages: tuple[Stage[Any, Any], ...], probe: Trace | None,
                 collect: bool, ordered: bool) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "stages", stages)
        object.__setattr__(self, "probe", probe)
        object.__setattr__(self, "collect", collect)
        object.__setattr__(self, "ordered", ordered)

    def __call__(self) -> Any:
        return _run_pipeline(self)

    def _repr(self, depth: int) -> str:
        inner = ", ".join(f"{s.name}×{s.workers}[{'∞' if s.queue.capacity is None else s.queue.capacity} "
                          f"{s.queue.overflow}]" for s in self.stages)
        return f"pipeline({_describe(self.source)}, [{inner}])"


def pipeline(
    source: Source[A],
    stages: Sequence[Stage[Any, Any]],
    *,
    probe: Trace | None = None,
    collect: bool = True,
    ordered: bool = False,
) -> AsyncPlan[PipelineReport[Any]]:
    """Describe a pipeline: ``source`` → queue → stage → queue → stage … → output.

    ``source`` is an iterable (re-iterated on every drive, so use a list, tuple or range to
    keep the plan replayable), a lesson-02 ``Stream`` (each drive is a fresh run), or a
    zero-argument function returning a fresh async iterator (e.g. :func:`paced`).  Driving the plan returns ``Ok(PipelineReport)`` once every item has
    gone through (or been dropped), or the first ``Err`` — a ``fail`` queue's ``QUEUE_FULL`` or
    a step's own — after cancelling every worker.

    ``collect=False`` keeps only counts (memory then stays O(total capacity + workers),
    whatever the number of items).  ``ordered=True`` returns the collected items in source
    order even with several workers per stage (items carry a sequence number; only the
    output is sorted).  ``probe`` records every queue's events on a trace (see the module
    docstring); without it the hot path records nothing.
    """
    stages_t = tuple(stages)
    for i, s in enumerate(stages_t):
        if not isinstance(s, Stage):
            raise TypeError(f"pipeline: stage {i} is {type(s).__name__}, not a Stage")
    names = [s.name for s in stages_t]
    if len(set(names)) != len(names):
        raise ValueError(f"pipeline: stage names must be distinct (they name the queues), got {names}")
    if not (callable(source) or isinstance(source, (Iterable, Stream))):
        raise TypeError(
            f"pipeline: source must be an iterable, a Stream or a function returning an async iterator, "
            f"got {type(source).__name__}"
        )
    if probe is not None and not isinstance(probe, Trace):
        raise TypeError(f"pipeline: probe must be a Trace or None, got {type(probe).__name__}")
    return _Pipeline(source, stages_t, probe, bool(collect), bool(ordered))


async def _run_pipeline(spec: _Pipeline) -> Result[PipelineReport[Any], ErrInfo]:
    stages = spec.stages
    queues: list[BoundedQueue[Any]] = [BoundedQueue(s.queue, s.name, probe=spec.probe) for s in stages]
    out: list[Any] = []
    counts = [0, 0]  # items in (offered by the source), items out
    collect, ordered = spec.collect, spec.ordered
    live = [s.workers for s in stages]

    async def produce() -> Result[None, ErrInfo]:
        source = spec.source
        if not queues:
            async for item in _iterate(source):
                counts[0] += 1
                counts[1] += 1
                if collect:
                    out.append(item)
            return Ok(None)
        first = queues[0]
        put = first.put
        try:
            if isinstance(source, Iterable) and not ordered:  # the common case, without an async generator
                for item in source:
                    counts[0] += 1
                    offered = await put(item)
                    if type(offered) is Err:
                        return offered
                return Ok(None)
            seq = 0
            async for item in _iterate(source):
                counts[0] += 1
                offered = await put((seq, item) if ordered else item)
                seq += 1
                if type(offered) is Err:
                    return offered
            return Ok(None)
        finally:
            first.close()

    def make_worker(index: int) -> Callable[[], Any]:
        stage = stages[index]
        step = stage.step
        get = queues[index].get
        nxt = queues[index + 1] if index + 1 < len(queues) else None
        put = nxt.put if nxt is not None else None

        async def work() -> Result[None, ErrInfo]:
            try:
                while True:
                    try:
                        item = await get()
                    except QueueClosed:
                        return Ok(None)
                    if ordered:
                        seq, item = item
                    plan: Any = step(item)
                    if not callable(plan):
                        _not_a_plan(stage.name, plan)
                    result = await plan()
                    if type(result) is not Ok:
                        if type(result) is Err:
                            return result
                        raise TypeError(
                            f"stage {stage.name!r}: its step's plan produced {result!r}, not Ok(...) or Err(...)")
                    value = result.value
                    if ordered:
                        value = (seq, value)
                    if put is None:
                        counts[1] += 1
                        if collect:
                            out.append(value)
                    else:
                        offered = await put(value)
                        if type(offered) is Err:
                            return offered
            finally:
                live[index] -= 1
                if live[index] == 0 and nxt is not None:
                    nxt.close()  # the last worker of this stage ends the next stage's stream

        work.__qualname__ = f"worker[{stage.name}]"
        return work

    # The source and the workers are given to async_gather as bare zero-argument functions
    # returning a fresh coroutine (which is what an AsyncPlan is): a task then resumes the
    # worker directly, with no interpreter frames between it and every suspension.
    plans: list[AsyncPlan[None]] = [produce]
    for index, stage in enumerate(stages):
        worker = make_worker(index)
        plans.extend(worker for _ in range(stage.workers))
    done = await async_gather(plans, concurrency=len(plans))()
    if type(done) is Err:
        return done
    if ordered and collect:
        out.sort(key=lambda pair: pair[0])
        out[:] = [value for _, value in out]
    report: PipelineReport[Any] = PipelineReport(
        tuple(out) if collect else None, counts[0], counts[1], tuple(q.stats() for q in queues))
    return Ok(report)


def _not_a_plan(stage: str, value: object) -> NoReturn:
    if inspect.iscoroutine(value):
        value.close()  # never awaited: close it so it does not warn later
        raise PlanTypeError(
            f"stage {stage!r}: its step returned a coroutine; a step is a function A -> AsyncPlan[B]: "
            "return async_lift(lambda: cap.method(x)), not cap.method(x)")
    raise PlanTypeError(
        f"stage {stage!r}: its step returned {type(value).__name__}, not an AsyncPlan "
        "(for a plain value, wrap it: async_pure(x))")


def _iterate(source: Any) -> AsyncIterator[Any]:
    """One run of the source: a ``Stream``'s run, an iterable's items, or ``stream_from``'s
    handling of an async-iterator factory (a fresh iterator per drive, closed at the end)."""
    if isinstance(source, Stream):
        return source.iterate()
    if isinstance(source, Iterable):
        return _items(source)
    return stream_from(source).iterate()


async def _items(source: Iterable[Any]) -> AsyncIterator[Any]:
    for item in source:
        yield item


# ---------------------------------------------------------------------------------------------
# Reading the probe: depth over time and Little's law


def depth_series(trace: Trace, queue: str) -> list[tuple[float, int]]:
    """``(time, depth)`` after every change of ``queue``'s depth, from the probe's events
    (a step function: the depth holds until the next point)."""
    series: list[tuple[float, int]] = []
    for e in trace.events:
        if e.name != queue:
            continue
        if e.kind in (ENQUEUE, DEQUEUE) or (e.kind == DROP and e.data.get("which") == "oldest"):
            depth = e.data["depth"]
            series.append((e.time, depth if isinstance(depth, int) else 0))
    return series


@dataclass(frozen=True, slots=True)
class LittlesLaw:
    """Little's law measured on one queue over ``[start, end]``.

    ``arrival_rate`` λ = items that entered / window; ``mean_in_queue`` L = time-average
    depth; ``mean_wait`` W = mean time an item spent in the queue (items still inside at
    ``end`` count up to ``end``).  Law: ``L == λ·W`` (exactly, up to float rounding, for
    these definitions over any window that starts with the queue empty).
    """

    queue: str
    start: float
    end: float
    arrivals: int
    arrival_rate: float
    mean_in_queue: float
    mean_wait: float

    @property
    def lambda_w(self) -> float:
        """λ·W — Little's prediction of L."""
        return self.arrival_rate * self.mean_wait

    def holds(self, rel_tol: float = 0.01) -> bool:
        """Whether L and λ·W agree within ``rel_tol`` (relative)."""
        scale = max(abs(self.mean_in_queue), abs(self.lambda_w), 1e-12)
        return abs(self.mean_in_queue - self.lambda_w) <= rel_tol * scale

    def __str__(self) -> str:
        return (f"{self.queue}: λ = {self.arrival_rate:.3f} items/s, W = {self.mean_wait:.3f} s, "
                f"λW = {self.lambda_w:.3f}; measured L = {self.mean_in_queue:.3f} "
                f"(window {self.start:g}–{self.end:g} s, {self.arrivals} arrivals)")


def littles_law(trace: Trace, queue: str, *, start: float = 0.0, end: float | None = None) -> LittlesLaw:
    """Measure λ, L and W for ``queue`` from a probe's events (see :class:`LittlesLaw`).

    The window is ``[start, end]`` (``end`` defaults to the last event's time).  Arrivals are
    ``enqueue`` events; departures are ``dequeue`` events and ``drop_oldest`` evictions —
    both leave from the front, so the k-th departure is the k-th arrival.
    """
    arrive: list[float] = []
    depart: list[float] = []
    last = start
    for e in trace.events:
        if e.name != queue:
            continue
        last = max(last, e.time)
        if e.kind == ENQUEUE:
            arrive.append(e.time)
        elif e.kind == DEQUEUE or (e.kind == DROP and e.data.get("which") == "oldest"):
            depart.append(e.time)
    stop = last if end is None else float(end)
    if stop <= start:
        raise ValueError(f"littles_law: the window {start:g}–{stop:g} s is empty; did the probe record queue {queue!r}?")
    window = stop - start
    area = 0.0
    entered = 0
    for k, t_in in enumerate(arrive):
        if t_in > stop:
            break
        t_out = depart[k] if k < len(depart) else stop
        lo, hi = max(t_in, start), min(t_out, stop)
        if t_in >= start:
            entered += 1
        if hi > lo:
            area += hi - lo
    mean_in_queue = area / window
    arrival_rate = entered / window
    mean_wait = area / entered if entered else 0.0
    return LittlesLaw(queue, start, stop, entered, arrival_rate, mean_in_queue, mean_wait)
