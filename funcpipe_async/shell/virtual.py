"""The virtual-time driver: run a plan where time jumps whenever every task is waiting.

``Simulation().run(plan)`` drives ``plan`` on a fresh event loop whose ``time()`` is a
:class:`~funcpipe_async.VirtualClock`.  The loop runs every ready callback exactly as
asyncio always does; the one difference is what happens when nothing is ready:

* a timer is pending (``asyncio.sleep``, ``call_later``, ``wait_for``, ``asyncio.timeout``)
  → the clock **jumps** to the earliest timer, at no wall-clock cost;
* no timer is pending and nothing else can wake a task → nothing can ever happen again: the
  run stops with :class:`DeadlockError`, naming every task and what it is waiting in;
* something outside the loop may still wake a task → the loop **waits for it in real time,
  with the virtual clock standing still** (a test clock must not invent timeouts).  That is:

  - a worker thread of ``asyncio.to_thread`` / ``run_in_executor``: until it finishes;
  - any other thread the run started that is working — ``asyncio.wrap_future(
    executor.submit(...))``, a ``threading.Thread`` that will call
    ``loop.call_soon_threadsafe`` or ``asyncio.run_coroutine_threadsafe``: while it works.
    A thread *waiting* (in a lock, ``Event``, ``Condition``, ``queue.Queue.get``,
    ``Future.result()``, ``join()``, a selector) or an idle pool worker does not hold the
    clock, so a thread may wait for a coroutine that sleeps on virtual time.  Threads alive
    before the run (a notebook kernel's, a server's) never hold it, except pool workers;
  - a real file descriptor registered with the loop (a socket a task reads from or writes
    to; the loop's own wake-up pipe does not count): until it is ready — a reply from a
    loopback server that takes 0.2 s of real time arrives and is read, while a 5 s
    timeout set on virtual time has not moved.  The wait polls every few milliseconds and
    lasts at most ``max_io_wait`` real seconds (default 10) with nothing happening, then
    the run stops with :class:`SimulationLimitError` instead of hanging — a server that
    never answers, or a connection left open in a pool (close the client).

  Real work takes zero simulated time; a run without threads or descriptors never waits
  or makes a system call per step.  (A thread that works forever holds the clock forever,
  as it would keep ``asyncio.run`` waiting.)

Timers due at the same instant fire in the order they were set (asyncio's own heap leaves
ties unordered), and, as on asyncio's real loop, timers within its clock resolution (1 ns)
of ``now`` count as due.  This is trio's ``MockClock(autojump_threshold=0)``, done for asyncio.  Runs are
reproducible: the same plan gives the same results, the same trace and the same simulated
times every run.  Three guards turn runaway plans into clear errors instead of hangs, each
a deterministic count (never wall time; ``max_io_wait`` above is the one real-time bound,
and applies only to real I/O), each naming the tasks still running:

* ``limit``: simulated seconds (default one simulated day);
* ``max_steps``: loop iterations in one run, whatever the clock does (default 2,000,000,
  about a minute of wall time) — a poll that never ends (``while True: await
  asyncio.sleep(0.01)``) stops here instead of running a simulated day step by step;
* ``max_idle_steps``: loop iterations at one instant, without the clock moving (default
  1,000,000) — a task spinning on ``await asyncio.sleep(0)`` waiting for a flag.  Real work
  done in many tiny yields at one instant also counts: the error says so, and a run that
  really needs it passes a larger value.

A plan that never awaits (a CPU loop) cannot be interrupted by any single-threaded event
loop, this one included: no guard can stop it, only a process-level limit can.

Nothing outlives a run, and nothing is left behind silently: tasks still pending when
``main`` returns are cancelled (their ``finally`` blocks run), recorded on
``Simulation.leftovers``, and reported with :class:`LeftoverTasksError` — a task that
outlives its caller is a bug (start it in an ``asyncio.TaskGroup``), not something the
driver should tidy away.  ``run(main, cancel_leftovers=True)`` opts out of the error.

It works from pytest (a plain sync test calls ``run``) and from a notebook cell: the
kernel's own loop is set aside while the simulation runs in the same thread, then put back.
Randomness is injected, never global: ``Simulation(seed=7).rng`` is a ``random.Random``
seeded for this run only.

Real I/O works, on real time: sockets (``HttpxJsonClient`` against
:class:`~funcpipe_async.LoopbackJsonService`, ``asyncio.open_connection``) and threads run
as under ``asyncio.run``, and the simulation waits for them as described above — but their
durations are the machine's, not virtual, and a run that uses them is only as reproducible
as they are.  Timeouts set on the loop still count virtual seconds, so they fire only while
nothing real is pending.  For deterministic tests use fakes for I/O, and
``asyncio.to_thread`` for blocking work.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import concurrent.futures.thread
import heapq
import inspect
import random
import re
import selectors
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, overload

from funcpipe_async.clock import VirtualClock
from funcpipe_async.result import ErrInfo, Result
from funcpipe_async.trace import Trace

__all__ = ["Simulation", "run_virtual", "DeadlockError", "SimulationLimitError", "LeftoverTasksError"]

A = TypeVar("A")
T = TypeVar("T")

ONE_DAY = 86_400.0
_AUTO_TASK_NAME = re.compile(r"Task-\d+")


class DeadlockError(RuntimeError):
    """Every task is waiting, no timer is pending, no thread is working and no socket is
    open: nothing can ever happen again.  ``waiting`` lists each task and where it waits."""

    def __init__(self, now: float, waiting: tuple[str, ...]) -> None:
        self.now = now
        self.waiting = waiting
        lines = "\n".join(f"  - {w}" for w in waiting) or "  (no tasks)"
        super().__init__(
            f"deadlock at virtual time {_fmt(now)}s: every task is waiting and no timer is "
            f"pending, so nothing can ever wake them.\n{lines}"
        )


class SimulationLimitError(RuntimeError):
    """The simulation ran past its ``limit`` of simulated seconds, ran ``max_steps`` loop
    iterations, spun for ``max_idle_steps`` iterations without time moving, or waited
    ``max_io_wait`` real seconds for a socket with nothing else to do."""

    def __init__(self, reason: str, now: float, waiting: tuple[str, ...]) -> None:
        self.now = now
        self.waiting = waiting
        lines = "\n".join(f"  - {w}" for w in waiting) or "  (no tasks)"
        super().__init__(f"{reason} (virtual time {_fmt(now)}s). Still running:\n{lines}")


class LeftoverTasksError(AssertionError):
    """``main`` returned while tasks it started were still pending.  The driver cancelled
    them (their ``finally`` blocks ran) and reports them instead of hiding them: a task that
    outlives its caller is a leak.  ``leftovers`` names each task and where it was waiting
    when ``main`` returned; ``result`` is what ``main`` returned; ``now`` is when it did.

    An ``AssertionError``: ``run`` is how tests drive code, and there a leaked task is a
    failed test, reported like any other failed assertion."""

    def __init__(self, now: float, leftovers: tuple[str, ...], result: object) -> None:
        self.now = now
        self.leftovers = leftovers
        self.result = result
        lines = "\n".join(f"  - {w}" for w in leftovers)
        count = f"{len(leftovers)} task{'s' if len(leftovers) != 1 else ''}"
        super().__init__(
            f"main returned at virtual time {_fmt(now)}s, leaving {count} running "
            f"(now cancelled). Start background work in an asyncio.TaskGroup, or await or cancel "
            f"it before returning; run(..., cancel_leftovers=True) allows this.\n{lines}"
        )


def _fmt(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


def _await_chain(task: asyncio.Task[Any]) -> str:
    """``outer → inner → …``: the coroutines a task is suspended in, innermost last, then the
    task it waits for, if it waits for one."""
    parts: list[str] = []
    obj: object = task.get_coro()
    for _ in range(64):
        if inspect.iscoroutine(obj):
            parts.append(obj.__qualname__)
            obj = obj.cr_await
        elif inspect.isgenerator(obj):
            parts.append(obj.__qualname__)
            obj = obj.gi_yieldfrom
        else:
            break
    waiter = getattr(task, "_fut_waiter", None)  # the future the task is blocked on
    if isinstance(waiter, asyncio.Task):
        parts.append(f"task {_task_label(waiter)!r}")
    names = [p.replace(".<locals>", "") for p in parts if not p.rpartition(".")[2].startswith("__")]
    return " → ".join(names) if names else "(not started)"


def _task_label(task: asyncio.Task[Any]) -> str:
    name = task.get_name()
    if _AUTO_TASK_NAME.fullmatch(name):  # "Task-17": numbered per process, so not reproducible
        coro = task.get_coro()
        return getattr(coro, "__qualname__", type(coro).__name__).replace(".<locals>", "")
    return name


# How long one real-time wait for a descriptor or a thread lasts before the loop looks again
# (at its guards, at the threads): short enough to notice a thread that finished without
# calling into the loop, long enough to cost nothing while it waits.
_POLL = 0.02

# A thread whose innermost Python frame is one of these is waiting for another thread (or is
# an idle pool worker), not working: it does not hold the virtual clock.
_WAITING_CODES = frozenset(
    code
    for code in (
        threading.Condition.wait.__code__,  # Event, Semaphore, Barrier, queue.Queue, Future.result
        threading.Thread._wait_for_tstate_lock.__code__,  # type: ignore[attr-defined]  # join()
        concurrent.futures.thread._worker.__code__,  # an idle pool worker
        *(
            cls.select.__code__
            for cls in vars(selectors).values()
            if isinstance(cls, type) and issubclass(cls, selectors.BaseSelector) and "select" in vars(cls)
        ),  # a server thread waiting for connections
    )
)


_ACTIVE_THREADS: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]


def _is_pool_worker(thread: threading.Thread) -> bool:
    return getattr(thread, "_target", None) is concurrent.futures.thread._worker


class _VirtualSelector(selectors.DefaultSelector):
    """The loop's selector.  The virtual loop's ``_run_once`` decides when to call it (only
    when a descriptor, a signal or a thread may have something to say), so a run with no
    real I/O never makes a system call per step."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: _VirtualLoop | None = None

    _fd_to_key: dict[int, selectors.SelectorKey]  # the registered descriptors (the base's own map)


class _VirtualLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose time is a :class:`VirtualClock`.

    Timers live in a heap of ``(when, sequence, handle)`` tuples, compared in C: two timers
    due at the same virtual instant fire in the order they were set (asyncio's own heap
    leaves ties unordered)."""

    # ``nest_asyncio.apply(loop)`` — what ``run_sync`` does in a notebook — replaces these
    # methods on the class of the kernel's loop, which is this class's base, for the whole
    # process.  Its versions never reset ``_stopping`` after a stop, which would break the
    # clean-up after a deadlock; keep asyncio's own (``_run_once`` is this class's own).
    run_forever = asyncio.BaseEventLoop.run_forever
    run_until_complete = asyncio.BaseEventLoop.run_until_complete
    _check_running = asyncio.BaseEventLoop._check_running  # type: ignore[attr-defined]

    # asyncio's private state that this loop's ``_run_once`` works on, typed for mypy.
    _ready: collections.deque[Any]
    _scheduled: list[tuple[float, int, Any]]
    _stopping: bool
    _timer_cancelled_count: int
    _clock_resolution: float
    _selector: _VirtualSelector
    _signal_handlers: dict[int, Any]
    _process_events: Callable[[list[tuple[selectors.SelectorKey, int]]], None]
    _check_closed: Callable[[], None]

    def __init__(
        self, clock: VirtualClock, limit: float, max_idle_steps: int, max_steps: int, max_io_wait: float = 10.0
    ) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self.clock = clock
        self.limit = limit
        self.deadline = clock.now + limit
        self.max_idle_steps = max_idle_steps
        self.idle_steps = 0
        self.max_steps = max_steps
        self.steps = 0
        self.max_io_wait = max_io_wait
        self.threads_in_flight = 0
        self.failure: BaseException | None = None
        self._created = 0
        self._timers_set = 0
        self._order: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = weakref.WeakKeyDictionary()
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        # Threads alive before the run (a notebook kernel's own, a server's) never hold the
        # clock, except pool workers: a pool can take work submitted during the run.
        self._thread = threading.current_thread()
        self._threads_before = frozenset(threading.enumerate())
        self._io_waiting_since: float | None = None
        self._threads_seen: tuple[threading.Thread, ...] = ()
        self._candidates: list[threading.Thread] = []

    def time(self) -> float:
        return self.clock._now

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        # BaseEventLoop.call_at, with a heap entry that keeps ties in scheduling order.
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        self._timers_set += 1
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        heapq.heappush(self._scheduled, (when, self._timers_set, timer))
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        # BaseEventLoop.call_later, one call shorter (asyncio.sleep comes here every time).
        if delay is None:
            raise TypeError("delay must not be None")
        return self.call_at(self.clock._now + delay, callback, *args, context=context)

    def next_timer(self) -> float:
        # ``_run_once`` has just dropped cancelled timers from the head of the heap, so the
        # head is the earliest live timer; jump to its exact deadline.
        return float(self._scheduled[0][0])

    def _run_once(self) -> None:
        """One iteration of asyncio's ``BaseEventLoop._run_once`` (3.11–3.13), with the wait
        for I/O replaced by the virtual-time rules of the module docstring — and, when no
        descriptor, signal or executor thread is watched, the iterations that follow at the
        same instant run here too (each counted as a step, exactly as if ``run_forever`` had
        called this again and the selector had reported nothing)."""
        scheduled = self._scheduled
        cancelled = self._timer_cancelled_count
        if cancelled > 50 and cancelled * 2 > len(scheduled) > 100:
            # Many cancelled timers (asyncio.timeout / wait_for that finished early): drop them all.
            live = []
            for entry in scheduled:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False
                else:
                    live.append(entry)
            heapq.heapify(live)
            self._scheduled = scheduled = live
            self._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0][2]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)[2]._scheduled = False

        self.steps += 1
        if self.steps > self.max_steps:
            self._too_many_steps()  # the iteration still runs what is ready, as after a stop
        ready = self._ready
        if ready or self._stopping or (scheduled and scheduled[0][0] <= self.clock._now):
            # Something to do now (asyncio's select timeout would be 0: a callback is ready,
            # or a timer is already due — set in the past, or at this very instant).
            if self._io_waiting_since is not None:
                self._io_waiting_since = None  # progress: a wait for I/O starts afresh
            self.idle_steps += 1
            if self.idle_steps > self.max_idle_steps:
                self._busy_waiting()
            if self.threads_in_flight or len(self._selector._fd_to_key) > 1:
                self._process_events(self._selector.select(0))
        else:
            self._wait()
        clock = self.clock
        resolution = self._clock_resolution
        while True:
            # Move the timers that are due to the ready queue, then run what was ready.
            end_time = clock._now + resolution
            while scheduled and scheduled[0][0] < end_time:
                handle = heapq.heappop(scheduled)[2]
                handle._scheduled = False
                ready.append(handle)
            for _ in range(len(ready)):
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
            handle = None  # break cycles when an exception occurs
            if (
                not ready
                or self._stopping
                or self.threads_in_flight
                or self._signal_handlers
                or len(self._selector._fd_to_key) > 1
            ):
                return
            # The next iteration, at the same instant: asyncio's would poll the selector for
            # nothing (no descriptor, no signal, no executor thread) and drop cancelled timers.
            while scheduled and scheduled[0][2]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)[2]._scheduled = False
            self.steps += 1
            if self.steps > self.max_steps:
                self._too_many_steps()
            self.idle_steps += 1
            if self.idle_steps > self.max_idle_steps:
                self._busy_waiting()

    def _too_many_steps(self) -> None:
        self.abort(
            SimulationLimitError(
                f"{self.max_steps:,} loop steps in this run: a loop that never ends, such as a "
                f"poll (`while True: await asyncio.sleep(0.01)`)? Wait on an Event or a Queue "
                f"instead, or pass a larger `max_steps` if the run really does this much",
                self.clock.now,
                self.waiting(),
            )
        )

    def _busy_waiting(self) -> None:
        self.abort(
            SimulationLimitError(
                f"{self.max_idle_steps:,} loop steps without virtual time moving: a task is "
                f"busy-waiting (a loop around `await asyncio.sleep(0)`?) — wait on an Event "
                f"instead; if this is real work done in many small yields at one instant, "
                f"pass a larger `max_idle_steps`",
                self.clock.now,
                self.waiting(),
            )
        )

    def _wait(self) -> bool:
        """Nothing is ready: wait for what can happen next.  False when the run stopped."""
        selector = self._selector
        if self.threads_in_flight:  # run_in_executor / to_thread: wait for it, clock stands still
            self._process_events(selector.select(None))
            return True
        # Threads first, then the queue: a thread seen idle here has already queued its
        # call_soon_threadsafe (if any), so the check of ``_ready`` below sees it.
        if self._threads_working():
            self._process_events(selector.select(_POLL))
            return True
        descriptors = len(selector._fd_to_key) > 1
        if descriptors or self._signal_handlers:
            # Real descriptors (beyond the loop's own wake-up pipe), or signals: look at them;
            # and never jump the clock past a descriptor that may become ready in real time.
            events = selector.select(0)
            if events:
                self._io_waiting_since = None
                self._process_events(events)
                return True
            if descriptors:
                return self._wait_for_io()
        if self._ready:
            return True  # a thread's call_soon_threadsafe landed after the loop last looked
        if not self._scheduled:
            self.abort(DeadlockError(self.clock.now, self.waiting()))
            return False
        target = self.next_timer()
        if target > self.deadline:
            self.abort(
                SimulationLimitError(
                    f"the simulation passed its limit of {_fmt(self.limit)} simulated seconds "
                    f"(pass a larger `limit` if that is expected)",
                    self.clock.now,
                    self.waiting(),
                )
            )
            return False
        self.clock.advance_to(target)
        self.idle_steps = 0
        return True

    def _wait_for_io(self) -> bool:
        """A descriptor is registered and nothing else can happen before it is ready: wait for
        it in real time, a short poll at a time, with the clock standing still, at most
        ``max_io_wait`` real seconds in a row."""
        now = time.monotonic()
        if self._io_waiting_since is None:
            self._io_waiting_since = now
        elif now - self._io_waiting_since > self.max_io_wait:
            self._io_waiting_since = None
            self.abort(
                SimulationLimitError(
                    f"waited {_fmt(self.max_io_wait)} real seconds for a socket (or another file "
                    f"descriptor) with nothing else to do: the clock does not jump past real I/O. "
                    f"A server that never answers, or a connection left open (close the client)? "
                    f"Pass a larger `max_io_wait` if the reply really takes this long",
                    self.clock.now,
                    self.waiting(),
                )
            )
            return False
        events = self._selector.select(_POLL)
        if events:
            self._io_waiting_since = None
        self._process_events(events)
        return True

    def _threads_working(self) -> bool:
        """Is a thread other than the loop's working (not waiting in a lock, a condition, a
        join or a selector, not an idle pool worker)?  Threads alive before the run count only
        if they are pool workers."""
        threads = tuple(_ACTIVE_THREADS.values())  # started threads (threading's own table)
        if len(threads) == 1:
            return False
        if threads != self._threads_seen:  # recompute only when a thread started or ended
            self._threads_seen = threads
            self._candidates = [
                t for t in threads if t is not self._thread and (t not in self._threads_before or _is_pool_worker(t))
            ]
        if not self._candidates:
            return False
        frames = sys._current_frames()
        for thread in self._candidates:
            frame = frames.get(thread.ident) if thread.ident is not None else None
            if frame is not None and frame.f_code not in _WAITING_CODES:
                return True
        return False

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = super().create_task(coro, **kwargs)
        self._created += 1
        self._order[task] = self._created  # creation order, for stable reports
        return task

    def run_in_executor(  # type: ignore[override]
        self, executor: concurrent.futures.Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        if executor is None:
            if self._threads is None:
                self._threads = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="virtual-time")
            executor = self._threads
        future = super().run_in_executor(executor, func, *args)
        self.threads_in_flight += 1

        def finished(_: object) -> None:
            self.threads_in_flight -= 1

        future.add_done_callback(finished)
        return future

    def waiting(self) -> tuple[str, ...]:
        tasks = [t for t in asyncio.all_tasks(self) if not t.done()]
        tasks.sort(key=lambda t: self._order.get(t, 1 << 62))
        return tuple(f"{_task_label(t)!r} waiting in {_await_chain(t)}" for t in tasks)

    def abort(self, failure: BaseException) -> None:
        if self.failure is None:
            self.failure = failure
        self.stop()

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        super().close()


class Simulation:
    """One virtual-time world: a clock, a seeded random generator, a trace, and ``run``.

    >>> import asyncio
    >>> sim = Simulation(seed=1)
    >>> async def nap() -> str:
    ...     await asyncio.sleep(600)            # ten simulated minutes, no wall time
    ...     return "rested"
    >>> sim.run(nap()), sim.now
    ('rested', 600.0)

    ``run`` takes an ``AsyncPlan`` (returns its ``Result``) or a coroutine (returns its
    value).  Every run continues the same clock, so a scenario can be driven in stages.
    The clock jumps only when every task waits on a timer; a socket or a working thread
    holds it (see the module docstring).  A plan that never awaits (a CPU loop) cannot be
    interrupted — by a timeout, a cancellation or a guard — on this loop or any other
    single-threaded event loop: the loop only gets control back at an ``await``.  Put such
    work in ``asyncio.to_thread``, or bound it with a process-level limit.

    A task still pending when ``main`` returns is a leak, and ``run`` says so:

    >>> async def leaky() -> str:
    ...     asyncio.create_task(asyncio.sleep(60), name="forgotten")
    ...     return "done"
    >>> Simulation().run(leaky())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    funcpipe_async.shell.virtual.LeftoverTasksError: main returned at virtual time 0s, leaving 1 task running ...
      - 'forgotten' waiting in sleep
    >>> sim = Simulation()
    >>> sim.run(leaky(), cancel_leftovers=True), sim.leftovers
    ('done', ("'forgotten' waiting in sleep",))
    """

    __slots__ = ("clock", "rng", "trace", "limit", "max_idle_steps", "max_steps", "max_io_wait", "leftovers")

    def __init__(
        self,
        *,
        seed: int = 0,
        start: float = 0.0,
        limit: float = ONE_DAY,
        max_idle_steps: int = 1_000_000,
        max_steps: int = 2_000_000,
        max_io_wait: float = 10.0,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"Simulation seed must be an int, got {type(seed).__name__}")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
            raise ValueError(f"Simulation limit must be a positive number of simulated seconds, got {limit!r}")
        if isinstance(max_idle_steps, bool) or not isinstance(max_idle_steps, int) or max_idle_steps < 1:
            raise ValueError(f"Simulation max_idle_steps must be a positive int, got {max_idle_steps!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"Simulation max_steps must be a positive int, got {max_steps!r}")
        if isinstance(max_io_wait, bool) or not isinstance(max_io_wait, (int, float)) or not max_io_wait > 0:
            raise ValueError(f"Simulation max_io_wait must be a positive number of real seconds, got {max_io_wait!r}")
        self.clock = VirtualClock(start)
        self.rng = random.Random(seed)
        self.trace = Trace(clock=self.clock)
        self.limit = float(limit)
        self.max_idle_steps = max_idle_steps
        self.max_steps = max_steps
        self.max_io_wait = float(max_io_wait)
        self.leftovers: tuple[str, ...] = ()
        """The tasks the last ``run`` found still pending when ``main`` finished (each as
        ``'name' waiting in coroutine → …``); empty when it left none."""

    @property
    def now(self) -> float:
        """Simulated seconds since the simulation's start time."""
        return self.clock.now

    @overload
    def run(
        self, main: Callable[[], Awaitable[Result[A, ErrInfo]]], *, cancel_leftovers: bool = False
    ) -> Result[A, ErrInfo]: ...

    @overload
    def run(self, main: Coroutine[Any, Any, T], *, cancel_leftovers: bool = False) -> T: ...

    def run(self, main: Any, *, cancel_leftovers: bool = False) -> Any:
        """Drive ``main`` (a plan or a coroutine) to completion on virtual time and return
        what it returns.  Raises :class:`DeadlockError` or :class:`SimulationLimitError`
        instead of hanging; an exception raised by ``main`` propagates unchanged.

        When ``main`` returns, tasks it left pending are cancelled (and awaited, so their
        ``finally`` blocks run) and listed on :attr:`leftovers`; then ``run`` raises
        :class:`LeftoverTasksError` naming them — unless ``cancel_leftovers=True``,
        which returns ``main``'s value anyway.  (When ``main`` raises, its exception wins.)"""
        self.leftovers = ()
        coro = _to_coroutine(main)
        loop = _VirtualLoop(self.clock, self.limit, self.max_idle_steps, self.max_steps, self.max_io_wait)
        outer = asyncio._get_running_loop()  # a notebook kernel's loop, or None in a script
        asyncio._set_running_loop(None)  # set it aside: asyncio allows one running loop per thread
        try:
            task = loop.create_task(coro, name="main")
            try:
                loop.run_until_complete(task)
            except RuntimeError:
                if loop.failure is None or task.done():
                    raise
            failure = None if task.done() else loop.failure
            ended_at = self.clock.now
            self.leftovers = _leftovers(loop) if task.done() else ()
            _cancel_leftovers(loop)
            if failure is not None:
                raise failure
            result = task.result()
            if self.leftovers and not cancel_leftovers:
                raise LeftoverTasksError(ended_at, self.leftovers, result)
            return result
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                asyncio._set_running_loop(outer)


def run_virtual(main: Any, *, seed: int = 0, limit: float = ONE_DAY, cancel_leftovers: bool = False) -> Any:
    """``Simulation(seed=seed, limit=limit).run(main, cancel_leftovers=cancel_leftovers)``: one
    run on a fresh virtual clock."""
    return Simulation(seed=seed, limit=limit).run(main, cancel_leftovers=cancel_leftovers)


def _to_coroutine(main: object) -> Coroutine[Any, Any, Any]:
    if inspect.iscoroutine(main):
        return main
    if callable(main):
        made = main()
        if inspect.iscoroutine(made):
            return made
        if isinstance(made, Awaitable):
            awaitable = made

            async def wrap() -> Any:
                return await awaitable

            return wrap()
        raise TypeError(
            f"Simulation.run needs an AsyncPlan or a coroutine; calling {type(main).__name__} "
            f"returned {type(made).__name__}, which cannot be awaited"
        )
    raise TypeError(
        f"Simulation.run needs an AsyncPlan (a zero-argument function returning a coroutine) "
        f"or a coroutine object, got {type(main).__name__}"
    )


def _leftovers(loop: _VirtualLoop) -> tuple[str, ...]:
    """The pending tasks, described as :meth:`_VirtualLoop.waiting` does — less the loop's own
    ``aclose()`` of an async generator garbage-collected unclosed (asyncio schedules it as a
    task): that is the loop tidying up a generator, not a task the plan started."""
    tasks = [
        t for t in asyncio.all_tasks(loop) if not t.done() and type(t.get_coro()).__name__ != "async_generator_athrow"
    ]
    tasks.sort(key=lambda t: loop._order.get(t, 1 << 62))
    return tuple(f"{_task_label(t)!r} waiting in {_await_chain(t)}" for t in tasks)


def _cancel_leftovers(loop: _VirtualLoop) -> None:
    """Cancel every task still pending and let each one finish its ``finally`` blocks."""
    for _ in range(3):
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not pending:
            return
        for t in pending:
            t.cancel()
        loop.failure = None
        try:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        except RuntimeError:
            if loop.failure is None:
                raise
    for t in asyncio.all_tasks(loop):  # tasks that refuse to stop: stop the loop reporting them
        t._log_destroy_pending = False  # type: ignore[attr-defined]
