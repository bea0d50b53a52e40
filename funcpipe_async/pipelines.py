"""Pipelines: bounded stages connected by queues, described as data and run by ``async_gather``.

A pipeline is a *description*: ``pipeline(source, stages)`` returns an
``AsyncPlan[PipelineReport]`` and runs nothing.  When a shell drives it, the source feeds
the queue in front of the first stage; each :class:`Stage` runs ``workers`` copies of its
step, each taking items from its own queue and offering results to the next stage's queue
(the last stage's results are the pipeline's output).  The concurrency is composed from
:func:`~funcpipe_async.async_gather` — one plan for the source and one per worker — so this
module creates no task itself, and the gather's guarantees (fail fast, cancel the rest,
wait for them) are the pipeline's.  The queues, and what a full one does, are
:mod:`funcpipe_async.queues`.

Invariants (``tests/test_backpressure.py`` has one test named after each):

* **suspend loses nothing and keeps order** — with one worker per stage every item comes out,
  in source order; with ``n > 1`` workers the *multiset* of items is kept (workers finish in
  any order), and ``pipeline(..., ordered=True)`` restores source order by sequence number;
* **drop counts are exact** — per queue, ``offered == taken + dropped`` once the pipeline is
  done, so items in = items out + all drops;
* **no task outlives the pipeline** — after the plan ends (normally, by ``fail``, by an
  exception in a step or by cancellation) none of its workers is left;
* **end of stream reaches every worker** — the source closes the first queue when it is
  done; the last worker of a stage to finish closes the next queue; a closed, drained queue
  ends every worker waiting on it.

``pipeline(..., probe=trace)`` hands the trace to every queue (see :mod:`funcpipe_async.queues`);
:func:`~funcpipe_async.littles_law` reads its events back.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NoReturn, TypeVar

from funcpipe_async.gather import async_gather
from funcpipe_async.plan import AsyncPlan, PlanNode, PlanTypeError
from funcpipe_async.queues import BoundedQueue, QueueClosed, QueuePolicy, QueueStats
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.streams import Stream, stream_from
from funcpipe_async.trace import Trace, format_table

__all__ = ["Stage", "PipelineReport", "pipeline", "paced"]

A = TypeVar("A")
B = TypeVar("B")


def _label(obj: object) -> str:
    """A step's or a source's name in a repr: its qualified name, else its whole repr (a list
    source shows every item, unlike ``plan._describe``, which shortens long values)."""
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
            raise TypeError(
                f"Stage {self.name!r}: step must be a function A -> AsyncPlan[B], got {type(self.step).__name__}"
            )
        w = self.workers
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError(f"Stage {self.name!r}: workers must be an int, got {type(w).__name__}")
        if w < 1:
            raise ValueError(f"Stage {self.name!r}: workers (its concurrency) must be at least 1, got workers={w}")
        if not isinstance(self.queue, QueuePolicy):
            raise TypeError(f"Stage {self.name!r}: queue must be a QueuePolicy, got {type(self.queue).__name__}")

    def __repr__(self) -> str:
        return f"Stage({self.name!r}, {_label(self.step)}, workers={self.workers}, queue={self.queue!r})"


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
            [
                q.name,
                "∞" if q.capacity is None else q.capacity,
                q.overflow,
                q.offered,
                q.taken,
                q.dropped,
                q.max_depth,
                q.put_waits,
                f"{q.put_wait_time:g}",
                q.get_waits,
            ]
            for q in self.queues
        ]
        return format_table(
            [
                "queue",
                "capacity",
                "overflow",
                "offered",
                "taken",
                "dropped",
                "max depth",
                "put waits",
                "put wait s",
                "get waits",
            ],
            rows,
        )

    def __repr__(self) -> str:
        shown = (
            "None"
            if self.items is None
            else (repr(self.items) if len(self.items) <= 8 else f"({', '.join(map(repr, self.items[:8]))}, …)")
        )
        return (
            f"PipelineReport(items={shown}, items_in={self.items_in}, items_out={self.items_out}, "
            f"drops={self.drops}, max_depth={self.max_depth})"
        )


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


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Pipeline(PlanNode[PipelineReport[Any]]):
    source: Any
    stages: tuple[Stage[Any, Any], ...]
    probe: Trace | None
    collect: bool
    ordered: bool

    def __call__(self) -> Any:
        return _run_pipeline(self)

    def _repr(self, depth: int) -> str:
        inner = ", ".join(
            f"{s.name}×{s.workers}[{'∞' if s.queue.capacity is None else s.queue.capacity} {s.queue.overflow}]"
            for s in self.stages
        )
        return f"pipeline({_label(self.source)}, [{inner}])"


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
                            f"stage {stage.name!r}: its step's plan produced {result!r}, not Ok(...) or Err(...)"
                        )
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
        tuple(out) if collect else None, counts[0], counts[1], tuple(q.stats() for q in queues)
    )
    return Ok(report)


def _not_a_plan(stage: str, value: object) -> NoReturn:
    if inspect.iscoroutine(value):
        value.close()  # never awaited: close it so it does not warn later
        raise PlanTypeError(
            f"stage {stage!r}: its step returned a coroutine; a step is a function A -> AsyncPlan[B]: "
            "return async_lift(lambda: cap.method(x)), not cap.method(x)"
        )
    raise PlanTypeError(
        f"stage {stage!r}: its step returned {type(value).__name__}, not an AsyncPlan "
        "(for a plain value, wrap it: async_pure(x))"
    )


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
