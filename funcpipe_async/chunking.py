"""Batching: flush by size **or** by time, whichever comes first — and batch calls in order.

An expensive capability (an embedding model, a bulk insert) is cheaper per item in
batches, but a batch that waits to fill makes its first item wait.  A
:class:`BatchPolicy` says how big a batch may grow (``max_size``) and how long its
**first** item may wait (``max_wait``); the batch is flushed at whichever comes first.

The rule is a pure state machine on an injected clock — the caller passes ``now``:

* :func:`batch_offer` adds an item at ``now``: the batch opens with its first item (its
  deadline is ``opened_at + max_wait``) and is flushed at once when it reaches ``max_size``;
* :func:`batch_due` is the deadline of the open batch (``None`` when empty);
* :func:`batch_tick` flushes the open batch when ``now`` has reached its deadline;
* :func:`batch_flush` flushes whatever is open (end of input).

Invariants (``tests/test_chunking.py``):

* **size** — no batch holds more than ``max_size`` items;
* **time** — no item waits in the batcher longer than ``max_wait`` (its batch flushes by
  ``opened_at + max_wait`` at the latest);
* **order** — flattening the batches gives the items in arrival order, each exactly once;
* **no idle singleton** — the clock starts at a batch's *first item*, not at the last flush:
  an item arriving after a quiet period opens a new batch and waits up to ``max_wait`` for
  company, instead of being flushed alone at once because "the timer had expired".

:func:`batch_schedule` runs the state machine over a list of arrival times (the reference
model the lesson plots), and :func:`serve_batches` prices its batches with a
:class:`BatchCost` on one or more replicas of the capability (latency per item, calls, busy
time) — the latency / throughput trade-off as a pure function.  :func:`pull_schedule` is
the other way to feed replicas, as a model server's dynamic batcher does: a replica that
comes free **pulls** whatever is waiting, up to ``max_size``, so batches grow by themselves
when the replicas are busy.  :func:`batch_calls`
describes calling a batch capability over a list with bounded concurrency, the results in
input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from funcpipe_async.gather import async_gather
from funcpipe_async.plan import AsyncPlan, async_bind, async_fail, async_map, async_pure
from funcpipe_async.result import ErrInfo

__all__ = [
    "BatchPolicy",
    "BatchState",
    "Flush",
    "batch_offer",
    "batch_due",
    "batch_tick",
    "batch_flush",
    "batch_schedule",
    "batch_calls",
    "BatchCost",
    "Served",
    "serve_batches",
    "pull_schedule",
]

A = TypeVar("A")
B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """Flush a batch when it holds ``max_size`` items or its first item has waited ``max_wait`` s."""

    max_size: int
    max_wait: float

    def __post_init__(self) -> None:
        if isinstance(self.max_size, bool) or not isinstance(self.max_size, int) or self.max_size < 1:
            raise ValueError(f"BatchPolicy.max_size must be an int ≥ 1, got {self.max_size!r}")
        wait = self.max_wait
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not wait >= 0 or wait == float("inf"):
            raise ValueError(f"BatchPolicy.max_wait must be a finite number of seconds ≥ 0, got {wait!r}")


@dataclass(frozen=True, slots=True)
class BatchState(Generic[A]):
    """The open batch: its items and when its first item arrived (``None`` when empty)."""

    items: tuple[A, ...] = ()
    opened_at: float | None = None


@dataclass(frozen=True, slots=True)
class Flush(Generic[A]):
    """A batch leaving the batcher at ``at``, and why: ``"size"``, ``"time"`` or ``"end"``."""

    items: tuple[A, ...]
    at: float
    reason: str

    def __repr__(self) -> str:
        return f"Flush({list(self.items)!r}, at={self.at:g}, {self.reason})"


def batch_offer(
    policy: BatchPolicy, state: BatchState[A], item: A, now: float
) -> tuple[Flush[A] | None, BatchState[A]]:
    """Add ``item`` at ``now``; flush by size when the batch is full.

    Call :func:`batch_tick` first if the clock may have passed the deadline: an item that
    arrives after the deadline belongs to the next batch.
    """
    opened = now if state.opened_at is None else state.opened_at
    items = (*state.items, item)
    if len(items) >= policy.max_size:
        return Flush(items, now, "size"), BatchState()
    return None, BatchState(items, opened)


def batch_due(policy: BatchPolicy, state: BatchState[Any]) -> float | None:
    """When the open batch must be flushed by time, or ``None`` if nothing is open."""
    return None if state.opened_at is None else state.opened_at + policy.max_wait


def batch_tick(policy: BatchPolicy, state: BatchState[A], now: float) -> tuple[Flush[A] | None, BatchState[A]]:
    """Flush the open batch if ``now`` has reached its deadline (at the deadline, not at ``now``)."""
    due = batch_due(policy, state)
    if due is None or now < due:
        return None, state
    return Flush(state.items, due, "time"), BatchState()


def batch_flush(state: BatchState[A], now: float) -> tuple[Flush[A] | None, BatchState[A]]:
    """Flush whatever is open (the input has ended)."""
    if not state.items:
        return None, state
    return Flush(state.items, now, "end"), BatchState()


def batch_schedule(policy: BatchPolicy, arrivals: Sequence[float], *, end: float | None = None) -> list[Flush[int]]:
    """The batches the policy makes of items arriving at ``arrivals`` (item ``i`` arrives at ``arrivals[i]``).

    Arrival times must not decrease.  With ``end`` (≥ the last arrival) the input ends
    then, and a batch still open is flushed at ``min(deadline, end)``; without it, every
    batch waits for its size or its deadline.
    """
    times = list(arrivals)
    for earlier, later in zip(times, times[1:]):
        if later < earlier:
            raise ValueError(f"arrival times must not decrease, got {earlier:g} then {later:g}")
    if end is not None and times and end < times[-1]:
        raise ValueError(f"end ({end:g}) is before the last arrival ({times[-1]:g})")
    flushes: list[Flush[int]] = []
    state: BatchState[int] = BatchState()
    for index, now in enumerate(times):
        flushed, state = batch_tick(policy, state, now)
        if flushed is not None:
            flushes.append(flushed)
        flushed, state = batch_offer(policy, state, index, now)
        if flushed is not None:
            flushes.append(flushed)
    due = batch_due(policy, state)
    if due is not None:
        if end is not None and end < due:
            flushed, state = batch_flush(state, end)
        else:
            flushed, state = batch_tick(policy, state, due)
        if flushed is not None:
            flushes.append(flushed)
    return flushes


def _checked(batch: tuple[A, ...], results: Sequence[B]) -> AsyncPlan[list[B]]:
    values = list(results)
    if len(values) != len(batch):
        return async_fail(
            ErrInfo("BATCH_SIZE_MISMATCH", f"a batch of {len(batch)} items came back with {len(values)} results")
        )
    return async_pure(values)


def batch_calls(
    items: Sequence[A],
    call: Callable[[tuple[A, ...]], AsyncPlan[Sequence[B]]],
    *,
    size: int,
    concurrency: int,
) -> AsyncPlan[list[B]]:
    """Describe calling ``call`` on batches of ``size`` items, ``concurrency`` batches at a time.

    The results come back **in input order** (batch by batch, and within a batch in the
    order ``call`` returned them), one per item; a batch whose result has a different
    length is ``Err(BATCH_SIZE_MISMATCH)``, and the first ``Err`` of any batch is the
    result (as with ``async_gather``).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"batch_calls size must be an int ≥ 1, got {size!r}")
    if not callable(call):
        raise TypeError(f"batch_calls needs a function from a batch to a plan, got {type(call).__name__}")
    values = list(items)
    batches = [tuple(values[i : i + size]) for i in range(0, len(values), size)]
    plans = [async_bind(call(batch), partial(_checked, batch)) for batch in batches]
    return async_map(async_gather(plans, concurrency=concurrency), _concat)


def _concat(parts: list[list[B]]) -> list[B]:
    return [value for part in parts for value in part]


@dataclass(frozen=True, slots=True)
class BatchCost:
    """What one call of a batch capability costs: ``overhead + per_item × n`` seconds for ``n`` items."""

    overhead: float
    per_item: float

    def __post_init__(self) -> None:
        for name in ("overhead", "per_item"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise ValueError(f"BatchCost.{name} must be a finite number of seconds ≥ 0, got {value!r}")

    def seconds(self, n: int) -> float:
        """How long one call carrying ``n`` items takes."""
        return self.overhead + self.per_item * n


@dataclass(frozen=True, slots=True)
class Served:
    """Batches served: each item's latency (arrival → end of its call), the calls, the busy time."""

    latencies: tuple[float, ...]
    calls: int
    busy: float


def serve_batches(
    flushes: Sequence[Flush[int]], arrivals: Sequence[float], cost: BatchCost, *, replicas: int = 1
) -> Served:
    """Serve ``flushes`` (batches of item indices) in flush order on ``replicas`` replicas.

    A call starts when its batch has flushed and a replica is free (the one free first), and
    takes ``cost.seconds(len(batch))``; an item's latency is the end of its batch's call minus
    its arrival ``arrivals[i]``.  Pure: no clock, no sleeping — a grid of policies costs
    milliseconds.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas must be an int ≥ 1, got {replicas!r}")
    free = [0.0] * replicas
    latencies = [0.0] * len(arrivals)
    busy = 0.0
    for flush in flushes:
        k = free.index(min(free))
        took = cost.seconds(len(flush.items))
        free[k] = max(flush.at, free[k]) + took
        busy += took
        for i in flush.items:
            latencies[i] = free[k] - arrivals[i]
    return Served(tuple(latencies), len(flushes), busy)


def pull_schedule(
    policy: BatchPolicy, arrivals: Sequence[float], cost: BatchCost, *, replicas: int = 1
) -> list[Flush[int]]:
    """The batches ``replicas`` replicas **pull** when they come free (item ``i`` arrives at ``arrivals[i]``).

    This is how a model server's dynamic batcher (e.g. NVIDIA Triton's) feeds its model: the
    replica free first takes the items waiting, up to ``policy.max_size``.  When fewer are
    waiting and the replica is idle, it waits for company until the batch is full or the
    oldest waiting item has waited ``policy.max_wait`` (Triton's ``max_queue_delay``) —
    whichever comes first.  A replica that comes free *after* that deadline takes what has
    queued up at once, so under load batches grow by themselves, instead of queueing as
    many small calls as the timer made (:func:`batch_schedule` flushes whether or not a
    replica is free).

    Each ``Flush`` is stamped with the moment its call **starts** and says why: ``"size"``
    (full), ``"time"`` (an idle replica waited ``max_wait`` for company) or ``"free"`` (a
    replica came free, or the first item arrived at an idle one with ``max_wait=0``, and took
    the items that had arrived by then — inclusive).  ``serve_batches(flushes, arrivals,
    cost, replicas=replicas)`` prices them: every call starts at its stamp.  Pure.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas must be an int ≥ 1, got {replicas!r}")
    times = list(arrivals)
    for earlier, later in zip(times, times[1:]):
        if later < earlier:
            raise ValueError(f"arrival times must not decrease, got {earlier:g} then {later:g}")
    free = [0.0] * replicas
    flushes: list[Flush[int]] = []
    first = 0
    while first < len(times):
        replica = free.index(min(free))
        ready = max(free[replica], times[first])
        deadline = times[first] + policy.max_wait
        filler = first + policy.max_size - 1  # the item that would fill the batch
        if filler < len(times) and times[filler] <= max(ready, deadline):
            start, reason = max(ready, times[filler]), "size"
        elif ready >= deadline:
            start, reason = ready, "free"
        else:
            start, reason = deadline, "time"
        stop = first
        while stop < len(times) and stop - first < policy.max_size and times[stop] <= start:
            stop += 1
        items = tuple(range(first, stop))
        flushes.append(Flush(items, start, reason))
        free[replica] = start + cost.seconds(len(items))
        first = stop
    return flushes
