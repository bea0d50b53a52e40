"""Concurrency with a bound: the package's one task-creating module.

Every task a description starts is started here, so the rules for tasks live in one file:
a fixed number of them, each cancelled and awaited on every exit, none outliving the plan
that started it.  (``boundary`` lets a module call ``create_task`` only if it is marked
``__creates_tasks__ = True``, and lets only one module be marked.)  Three tools, one idea —
at most ``n`` tasks pulling work:

* :func:`async_gather` runs plans with at most ``concurrency`` at a time;
* :func:`merge_iterators` pulls from several async iterators at once, one pull task per
  source (lesson 02's ``merge_streams``);
* :class:`Puller` waits for a source's next item *with a deadline* and keeps the pull going
  when the deadline passes (lesson 09's time-based batches).

``async_gather`` returns a *plan*, and only when that plan is driven does it start a fixed
pool of at most ``concurrency`` worker tasks that pull plans from the input in order.  It
never creates one task per plan, so

* at most ``concurrency`` plans are running, and at most ``concurrency`` tasks are alive;
* results come back in input order, whatever order the plans finish in;
* the first ``Err`` (in time) fails the whole gather and cancels the plans still running;
* an exception raised by a plan (a defect) cancels the rest and propagates unchanged;
* cancelling the gather from outside cancels every worker and waits for them, so no task
  is left pending; no plan starts after the cancel, even if a running plan swallows its
  ``CancelledError`` (a cancelled worker claims nothing more);
* ``concurrency=1`` runs the plans one after another in the caller's task — exactly the
  sequential ``async_bind`` chain, with no task created.

Laws (``tests/test_gather.py``, and ``check_gather_laws``): ``gather([]) == pure([])``;
``gather(ps, concurrency=1)`` equals :func:`async_sequence` ``(ps)`` — the plans bound one
after another — in result, effects and time; for plans without shared effects the result
does not depend on ``concurrency``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from funcpipe_async.plan import (
    AsyncPlan,
    PlanNode,
    PlanTypeError,
    _Coroutine,
    _fresh_slow,
    _Lift,
    _not_a_result,
    _reused,
    async_bind,
    async_map,
    async_pure,
)
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["async_gather", "async_sequence", "merge_iterators", "Puller", "Pulled", "Exhausted", "TimedOut"]

__creates_tasks__ = True  # the package's one task-creating module (see funcpipe_async.boundary)

A = TypeVar("A")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Gather(PlanNode[list[A]]):
    plans: tuple[AsyncPlan[A], ...]
    concurrency: int

    def __call__(self) -> Coroutine[Any, Any, Result[list[A], ErrInfo]]:
        if self.concurrency == 1 or len(self.plans) <= 1:
            return _run_sequential(self.plans)
        return _run_pool(self.plans, self.concurrency)

    def _repr(self, depth: int) -> str:
        return f"async_gather(<{len(self.plans)} plans>, concurrency={self.concurrency})"


def async_gather(plans: Iterable[AsyncPlan[A]], *, concurrency: int) -> AsyncPlan[list[A]]:
    """Describe running ``plans`` with at most ``concurrency`` at a time; values in input order.

    ``plans`` is read once, now, so the returned plan is replayable.  ``concurrency`` must be
    a positive ``int``.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise TypeError(f"async_gather: concurrency must be an int, got {type(concurrency).__name__}")
    if concurrency < 1:
        raise ValueError(f"async_gather: concurrency must be at least 1, got concurrency={concurrency}")
    items = tuple(plans)
    for index, plan in enumerate(items):
        if not callable(plan):
            raise PlanTypeError(f"async_gather: item {index} is {type(plan).__name__}, not an AsyncPlan")
    return _Gather(items, concurrency)


def async_sequence(plans: Iterable[AsyncPlan[A]]) -> AsyncPlan[list[A]]:
    """Describe running ``plans`` one after another, collecting their values in order.

    The first ``Err`` stops it (later plans never start).  It is ``async_bind`` folded over
    the list, so it creates no task: the sequential side of the law
    ``async_gather(ps, concurrency=1) == async_sequence(ps)``.
    """
    result: AsyncPlan[list[A]] = async_pure([])
    for plan in plans:
        if not callable(plan):
            raise PlanTypeError(f"async_sequence takes AsyncPlans, got {type(plan).__name__}")
        result = async_bind(result, partial(_append_value, plan))
    return result


def _append_value(plan: AsyncPlan[A], acc: list[A]) -> AsyncPlan[list[A]]:
    return async_map(plan, lambda value: [*acc, value])


def _check(result: object) -> None:
    if type(result) is not Ok and type(result) is not Err:
        raise PlanTypeError(f"a plan given to async_gather produced {result!r}, not Ok(...) or Err(...)")


async def _run_sequential(plans: Sequence[AsyncPlan[A]]) -> Result[list[A], ErrInfo]:
    values: list[A] = []
    for plan in plans:
        result = await plan()
        _check(result)
        if type(result) is Err:
            return result
        values.append(result.value)  # type: ignore[union-attr]
    return Ok(values)


async def _run_pool(plans: Sequence[AsyncPlan[A]], concurrency: int) -> Result[list[A], ErrInfo]:
    count = len(plans)
    values: list[Any] = [None] * count
    next_index = 0
    failure: list[Err[ErrInfo]] = []
    defects: list[BaseException] = []
    workers: list[asyncio.Task[None]] = []
    cancelled = False  # set when the gather itself is cancelled (or interrupted) from outside

    def stop_others() -> None:
        current = asyncio.current_task()
        for task in workers:
            if task is not current:
                task.cancel()

    async def worker() -> None:
        nonlocal next_index
        # A worker whose cancellation was swallowed by its plan still has cancelling() > 0:
        # it must not start more work, or a cancelled gather would run the whole input.
        cancelling = asyncio.current_task().cancelling  # type: ignore[union-attr]
        # Claiming an index and starting its plan happen with no await in between, so the
        # workers share the input without a lock and take plans strictly in input order.
        while next_index < count and not (failure or defects or cancelled or cancelling()):
            index = next_index
            next_index += 1
            plan = plans[index]
            try:
                if type(plan) is _Lift:
                    # The common leaf, run in this frame: what _run_leaf does, without its
                    # coroutine, and the Ok/Err check done once.
                    make = plan.make
                    awaitable = make()
                    if type(awaitable) is not _Coroutine or awaitable.cr_running or awaitable.cr_suspended:
                        awaitable = _fresh_slow(make, awaitable)  # raises, unless a non-coroutine awaitable
                    try:
                        result = await awaitable
                    except RuntimeError as exc:
                        # A finished coroutine (cr_frame is None) awaited again fails in this frame
                        # alone: report it as _fresh does (checking cr_frame up front costs a
                        # frame object per plan).
                        if (
                            exc.__traceback__ is not None
                            and exc.__traceback__.tb_next is None
                            and (type(awaitable) is _Coroutine and awaitable.cr_frame is None)
                        ):
                            raise _reused(make) from None
                        raise
                    if type(result) is Ok:
                        values[index] = result.value
                        continue
                    if type(result) is not Err:
                        raise _not_a_result(make, result)
                else:
                    result = await plan()
                    if type(result) is Ok:
                        values[index] = result.value
                        continue
                    _check(result)
            except asyncio.CancelledError as exc:
                # Cancelled without anyone cancelling this worker: the plan itself raised
                # CancelledError (it awaited something cancelled).  That is the plan's outcome,
                # as it would be when run sequentially, so it fails the gather like a defect.
                if cancelling() == 0 and not failure and not defects:
                    defects.append(exc)
                    stop_others()
                raise
            except BaseException as exc:  # a defect: stop the others, then re-raise it
                if not failure and not defects:
                    defects.append(exc)
                    stop_others()
                raise
            # An Err: the first one fails the gather.
            if not failure and not defects:
                failure.append(result)  # type: ignore[arg-type]  # an Err: every Ok continued above
                stop_others()
            return

    loop = asyncio.get_running_loop()
    workers.extend(loop.create_task(worker()) for _ in range(min(concurrency, count)))
    try:
        await asyncio.wait(workers)
    except BaseException:
        # Cancelled from outside (or interrupted): cancel every worker and wait until each has
        # finished its cleanup — even if we are cancelled again meanwhile — then re-raise.
        cancelled = True
        for task in workers:
            task.cancel()
        while True:
            try:
                await asyncio.wait(workers)
                break
            except asyncio.CancelledError:
                continue
        raise
    finally:
        for task in workers:  # mark every worker's outcome as seen (no "never retrieved" log)
            if task.done() and not task.cancelled():
                task.exception()
    if defects:
        raise defects[0]
    if failure:
        return failure[0]
    return Ok(values)


_END: Any = object()  # what a pull returns when its source is exhausted


async def _pull(source: AsyncIterator[A]) -> Any:
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return _END


async def merge_iterators(sources: Sequence[AsyncIterator[A]]) -> AsyncGenerator[A, None]:
    """Yield the items of every source as they arrive, pulling from all of them concurrently.

    * **at most one pull task per source**: a source is asked for its next item only after
      the consumer has asked for an item again, so nothing is read far ahead — each source
      has at most one item in flight;
    * each source's own order is kept, and every item of every source is yielded once;
    * items that arrive at the same instant are yielded in source order (deterministic);
    * the first exception from a source (or from the consumer, or a cancellation) ends the
      merge; on **every** exit — exhausted, closed early by the consumer (``aclose``,
      ``break`` inside ``aclosing``), an error, a cancellation — the pull tasks still running
      are cancelled and awaited, then every source with an ``aclose`` is closed, so each
      source generator's ``finally`` has run before this generator finishes.

    Driving it needs a running loop (it creates tasks); it is an async generator, so build
    it inside a description and let the shell drive it.
    """
    loop = asyncio.get_running_loop()
    pending: dict[asyncio.Task[Any], int] = {}

    def pull(index: int) -> None:
        task = loop.create_task(_pull(sources[index]), name=f"merge-pull-{index}")
        pending[task] = index

    try:
        for index in range(len(sources)):
            pull(index)
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: pending[t]):
                index = pending.pop(task)
                item = task.result()  # a source's exception propagates from here
                if item is _END:
                    continue
                yield item
                pull(index)  # the consumer asked again: only now ask this source again
    finally:
        tasks = list(pending)
        for task in tasks:
            task.cancel()
        while tasks:
            try:
                await asyncio.wait(tasks)
                break
            except asyncio.CancelledError:
                continue
        for task in tasks:  # mark outcomes as seen (no "exception was never retrieved" log)
            if not task.cancelled():
                task.exception()
        for source in sources:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()


@dataclass(frozen=True, slots=True)
class Pulled(Generic[A]):
    """:meth:`Puller.pull`'s outcome when the source gave its next item."""

    value: A


@dataclass(frozen=True, slots=True)
class Exhausted:
    """:meth:`Puller.pull`'s outcome when the source has no more items."""


@dataclass(frozen=True, slots=True)
class TimedOut:
    """:meth:`Puller.pull`'s outcome when the deadline passed first (the pull goes on)."""


_EXHAUSTED = Exhausted()
_TIMED_OUT = TimedOut()


class Puller(Generic[A]):
    """Pull a source's next item, waiting at most ``timeout`` seconds, without losing the pull.

    ``await puller.pull(timeout)`` returns ``Pulled(x)``, ``Exhausted()`` when the source is
    exhausted, or ``TimedOut()`` when ``timeout`` seconds (on the loop's clock) passed
    first — and then the pull **keeps running**: the next call waits for the same item, so
    nothing is lost or read twice.  (``asyncio.wait_for(anext(gen), t)`` would cancel the
    pull, and a cancelled async generator is finished for good.)  The three outcomes are a
    closed union, so ``match`` (or ``isinstance``) on them is checked by mypy.

    At most one pull task exists at a time.  ``await puller.aclose()`` cancels and awaits it
    and closes the source; call it on every exit (``contextlib.aclosing`` does).
    """

    def __init__(self, source: AsyncIterator[A]) -> None:
        self._source = source
        self._task: asyncio.Task[Any] | None = None

    async def pull(self, timeout: float | None = None) -> Pulled[A] | Exhausted | TimedOut:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(_pull(self._source), name="timed-pull")
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        if not done:
            return _TIMED_OUT
        task, self._task = self._task, None
        item = task.result()  # the source's exception propagates from here
        return _EXHAUSTED if item is _END else Pulled(item)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await asyncio.wait({task})
            finally:
                if not task.cancelled():
                    task.exception()  # seen: no "exception was never retrieved" log
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            await aclose()
