"""Bounded queues: a FIFO with a capacity, what happens on overflow as data, and end-of-stream.

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
* **drop counts are exact** — per queue, ``offered == taken + dropped`` once the pipeline is
  done, so items in = items out + all drops;
* **cancelling a put or a get loses nothing already accepted** — a getter cancelled after it
  was woken leaves the item for the next getter; a putter cancelled while it waits inserts
  nothing; cancelled waiters never block the others (CPython's ``test_queues.py`` cases).

The probe is optional and off the hot path: give a queue ``probe=trace`` (a
:class:`~funcpipe_async.Trace` on the loop's clock — ``sim.trace`` under ``Simulation``) and
it records ``enqueue`` / ``dequeue`` / ``drop`` / ``reject`` events with its depth, and
``put_wait`` / ``get_wait`` events with how long a put or get waited;
:mod:`funcpipe_async.queue_measures` reads them back.  The pipeline that connects stages
with these queues is :mod:`funcpipe_async.pipelines`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, get_args

from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.trace import Trace

__all__ = [
    "Overflow",
    "OVERFLOWS",
    "QueuePolicy",
    "BoundedQueue",
    "QueueClosed",
    "QueueStats",
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
                raise TypeError(
                    f"QueuePolicy: capacity must be an int (or None for unbounded), got {type(cap).__name__}"
                )
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
        "policy",
        "name",
        "_probe",
        "_items",
        "_getters",
        "_putters",
        "_closed",
        "_cap",
        "offered",
        "accepted",
        "dropped",
        "evicted",
        "taken",
        "max_depth",
        "put_waits",
        "get_waits",
        "put_wait_time",
        "get_wait_time",
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
        return (
            f"BoundedQueue({self.name!r}, capacity={self.policy.capacity}, "
            f"overflow={self.policy.overflow!r}, depth={len(self._items)}" + (", closed" if self._closed else "") + ")"
        )

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
                return Err(
                    ErrInfo(
                        QUEUE_FULL,
                        f"queue {self.name!r} is full (capacity {self._cap}): overflow='fail' refuses the item",
                    )
                )
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
            self.name,
            self.policy.capacity,
            self.policy.overflow,
            self.offered,
            self.accepted,
            self.dropped,
            self.taken,
            len(self._items),
            self.max_depth,
            self.put_waits,
            self.get_waits,
            self.put_wait_time,
            self.get_wait_time,
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
