"""Fair scheduling: schedulers as data, one server loop run in plain Python or on the loop's clock.

Many tenants share one server of fixed ``capacity`` (work units per second).  Requests
arrive with a tenant, an arrival time and a ``size`` (work units); the server serves one
request at a time, to completion, and a **scheduler** picks which waiting request goes next:

* :class:`Fifo` — one global line in arrival order.  Simple, and unfair: a tenant that floods
  the line delays everyone behind it (the *noisy neighbour*).
* :class:`RoundRobin` — one line per tenant, one request from each in turn.  Fair in
  *requests*, not in *work*: a tenant with big requests still gets more of the server.
* :class:`DeficitRoundRobin` — Shreedhar and Varghese's DRR: each visit adds
  ``quantum × weight`` to the tenant's deficit, and it may send requests while their size
  fits in the deficit.  Under backlog each tenant gets a share of the work proportional to
  its weight, whatever its request sizes, at O(1) cost per request.

Schedulers are frozen values, applied by one scheduler loop behind two entry points:
:func:`simulate_schedule` runs it in plain Python on simulated time (a discrete-event
simulation: deterministic, thousands of requests in milliseconds); :func:`serve_on_loop`
runs the same loop as a coroutine on the running loop's clock — under
:class:`~funcpipe_async.Simulation` it gives exactly the completions :func:`simulate_schedule`
computes, and records them on a :class:`~funcpipe_async.Trace`, from which
:func:`completions_from_trace` reads them back.

Laws (checked in ``tests/test_fairness.py`` and lesson 06):

* **work-conserving** — all three schedulers: the server is never idle while a request waits;
* **no starvation** — round robin and DRR serve every backlogged tenant in every round;
* **weighted shares** — under DRR, when every tenant is backlogged, the work each tenant gets
  is proportional to its weight (within one quantum × weight per tenant).

Percentiles, shares and Jain's index over the completions are :mod:`funcpipe_async.fairness_measures`.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypeVar

from funcpipe_async.fairness_measures import Completion
from funcpipe_async.trace import Trace

__all__ = [
    "Request",
    "Tenant",
    "Fifo",
    "RoundRobin",
    "DeficitRoundRobin",
    "Scheduler",
    "SCHEDULERS",
    "poisson_arrivals",
    "simulate_schedule",
    "serve_on_loop",
    "completions_from_trace",
    "fair_source",
    "ARRIVE",
    "SERVE",
]

ARRIVE = "arrive"
SERVE = "serve"

A = TypeVar("A")


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class Request:
    """One request: ``tenant`` sends ``size`` work units at simulated time ``arrival``."""

    tenant: str
    arrival: float
    size: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.tenant, str) or not self.tenant:
            raise ValueError(f"Request.tenant must be a non-empty string, got {self.tenant!r}")
        if not math.isfinite(self.arrival) or self.arrival < 0:
            raise ValueError(f"Request.arrival must be a finite time >= 0, got {self.arrival!r}")
        if not math.isfinite(self.size) or self.size <= 0:
            raise ValueError(f"Request.size must be > 0 work units, got {self.size!r}")


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant of a workload: ``rate`` requests per second of ``size`` work units, and its
    ``weight`` (what a weighted scheduler gives it under backlog, relative to the others)."""

    name: str
    rate: float
    size: float = 1.0
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Tenant.name must be a non-empty string, got {self.name!r}")
        for what, value in (("rate", self.rate), ("size", self.size), ("weight", self.weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise TypeError(f"Tenant.{what} must be a finite number, got {value!r}")
        if self.rate < 0:
            raise ValueError(f"Tenant.rate must be >= 0 requests per second, got {self.rate!r}")
        if self.size <= 0 or self.weight <= 0:
            raise ValueError(
                f"Tenant {self.name!r}: size and weight must be > 0, got size={self.size!r}, weight={self.weight!r}"
            )

    @property
    def demand(self) -> float:
        """Work units per second this tenant asks for."""
        return self.rate * self.size


# --- schedulers as data ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fifo:
    """One global line, served in arrival order (ties by the order requests were given)."""

    name: str = "FIFO"


@dataclass(frozen=True, slots=True)
class RoundRobin:
    """One line per tenant; visit tenants with waiting requests in turn, one request per visit."""

    name: str = "round robin"


@dataclass(frozen=True, slots=True)
class DeficitRoundRobin:
    """Deficit round robin: each visit adds ``quantum × weight`` work units to the tenant's
    deficit; it sends requests while the head's size fits, and a tenant whose line empties
    forgets its deficit.  ``weights`` maps tenants to weights (default 1).

    Under backlog, tenant *i* gets a share of the work within ``quantum × weightᵢ`` of
    ``weightᵢ / Σ weights`` per round.  A quantum at least the largest request size keeps
    the cost O(1) per request (no empty visits).
    """

    quantum: float = 1.0
    weights: Mapping[str, float] = field(default_factory=dict)
    name: str = "deficit round robin"

    def __post_init__(self) -> None:
        if isinstance(self.quantum, bool) or not isinstance(self.quantum, (int, float)) or not self.quantum > 0:
            raise ValueError(f"DeficitRoundRobin.quantum must be > 0 work units, got {self.quantum!r}")
        for tenant, weight in self.weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
                raise ValueError(f"DeficitRoundRobin weight of {tenant!r} must be > 0, got {weight!r}")
        object.__setattr__(self, "weights", dict(self.weights))

    def weight(self, tenant: str) -> float:
        """The weight of ``tenant`` (1 unless given)."""
        return float(self.weights.get(tenant, 1.0))

    def __hash__(self) -> int:
        return hash((self.quantum, tuple(sorted(self.weights.items())), self.name))


Scheduler: TypeAlias = Fifo | RoundRobin | DeficitRoundRobin
SCHEDULERS: tuple[str, ...] = ("FIFO", "round robin", "deficit round robin")


class _Lines(Protocol):
    def add(self, request: Request) -> None: ...
    def next(self) -> Request | None: ...


class _FifoLines:
    def __init__(self) -> None:
        self.line: deque[Request] = deque()

    def add(self, request: Request) -> None:
        self.line.append(request)

    def next(self) -> Request | None:
        return self.line.popleft() if self.line else None


class _RoundRobinLines:
    def __init__(self) -> None:
        self.lines: dict[str, deque[Request]] = {}
        self.active: deque[str] = deque()

    def add(self, request: Request) -> None:
        line = self.lines.setdefault(request.tenant, deque())
        if not line:
            self.active.append(request.tenant)
        line.append(request)

    def next(self) -> Request | None:
        if not self.active:
            return None
        tenant = self.active.popleft()
        line = self.lines[tenant]
        request = line.popleft()
        if line:
            self.active.append(tenant)
        return request


class _DrrLines:
    def __init__(self, config: DeficitRoundRobin) -> None:
        self.config = config
        self.lines: dict[str, deque[Request]] = {}
        self.deficit: dict[str, float] = {}
        self.active: deque[str] = deque()
        self.visiting = False  # has the head of ``active`` had its quantum for this visit?

    def add(self, request: Request) -> None:
        line = self.lines.setdefault(request.tenant, deque())
        if not line:
            self.active.append(request.tenant)
            self.deficit[request.tenant] = 0.0
        line.append(request)

    def next(self) -> Request | None:
        while self.active:
            tenant = self.active[0]
            line = self.lines[tenant]
            if not self.visiting:
                self.deficit[tenant] += self.config.quantum * self.config.weight(tenant)
                self.visiting = True
            if line[0].size <= self.deficit[tenant] + 1e-12:
                request = line.popleft()
                self.deficit[tenant] -= request.size
                if not line:  # an idle tenant keeps no credit
                    self.active.popleft()
                    self.deficit[tenant] = 0.0
                    self.visiting = False
                return request
            self.active.rotate(-1)  # the head does not fit: end this visit
            self.visiting = False
        return None


def _lines(scheduler: Scheduler) -> _Lines:
    if isinstance(scheduler, Fifo):
        return _FifoLines()
    if isinstance(scheduler, RoundRobin):
        return _RoundRobinLines()
    if isinstance(scheduler, DeficitRoundRobin):
        return _DrrLines(scheduler)
    raise TypeError(f"scheduler must be Fifo(), RoundRobin() or DeficitRoundRobin(...), got {type(scheduler).__name__}")


# --- workloads ---------------------------------------------------------------------------------


def poisson_arrivals(tenants: Sequence[Tenant], horizon: float, rng: random.Random) -> list[Request]:
    """Requests of every tenant over ``[0, horizon)``: Poisson arrivals at each tenant's
    ``rate`` (exponential gaps drawn from ``rng``, tenant by tenant), each of the tenant's
    ``size``, merged in time order.  The same ``rng`` seed gives the same workload."""
    if not isinstance(rng, random.Random):
        raise TypeError(
            f"poisson_arrivals draws from an injected random.Random (e.g. sim.rng), got {type(rng).__name__}"
        )
    if not horizon > 0:
        raise ValueError(f"horizon must be > 0 simulated seconds, got {horizon!r}")
    names = [t.name for t in tenants]
    if len(set(names)) != len(names):
        raise ValueError(f"tenant names must be distinct, got {names}")
    requests: list[Request] = []
    for tenant in tenants:
        t = 0.0
        while tenant.rate > 0:
            t += rng.expovariate(tenant.rate)
            if t >= horizon:
                break
            requests.append(Request(tenant.name, t, tenant.size))
    requests.sort(key=lambda r: r.arrival)
    return requests


def _validated(requests: Iterable[Request], capacity: float) -> list[Request]:
    if isinstance(capacity, bool) or not isinstance(capacity, (int, float)) or not capacity > 0:
        raise ValueError(f"capacity must be > 0 work units per second, got {capacity!r}")
    ordered = list(requests)
    for r in ordered:
        if not isinstance(r, Request):
            raise TypeError(f"requests must be Request values, got {type(r).__name__}")
    return sorted(ordered, key=lambda r: r.arrival)  # stable: ties keep the given order


# --- the interpreter ---------------------------------------------------------------------------


def _schedule(
    pending: list[Request], scheduler: Scheduler, capacity: float, until: float = math.inf
) -> Iterator[Request | float | Completion]:
    """The one scheduler loop: one server, ``scheduler`` picking, on a clock the caller moves.

    It yields what happens, in order, and the caller keeps the clock: a ``Request`` as it
    joins its line; a ``float`` when the server idles — the clock must be at that time
    before the loop goes on; a ``Completion`` when a request starts — the clock must be at
    its ``finish`` before the loop goes on.  :func:`simulate_schedule` only collects the
    completions (pure, no clock); :func:`serve_on_loop` sleeps on the loop's clock to each
    time, so the two give the same completions by construction.
    """
    lines = _lines(scheduler)
    now, i = 0.0, 0
    while True:
        while i < len(pending) and pending[i].arrival <= now:
            yield pending[i]
            lines.add(pending[i])
            i += 1
        request = lines.next()
        if request is None:
            if i == len(pending):
                return
            now = pending[i].arrival  # idle until the next arrival
            yield now
            continue
        if now >= until:
            return
        finish = now + request.size / capacity
        yield Completion(request.tenant, request.arrival, now, finish, request.size)
        now = finish


def simulate_schedule(
    requests: Iterable[Request], scheduler: Scheduler, *, capacity: float = 1.0, until: float = math.inf
) -> list[Completion]:
    """Serve ``requests`` on one server of ``capacity`` work units per second, in the order
    ``scheduler`` picks; the completions in the order they finished.

    Non-preemptive: a request runs ``size / capacity`` seconds once started.  Requests that
    arrive at the instant the server frees up are in line before it picks.  Requests not
    started before ``until`` are not served (their absence is the backlog).  Pure and
    deterministic: O(n) work for FIFO and round robin, O(n + rounds) for DRR.
    """
    steps = _schedule(_validated(requests, capacity), scheduler, capacity, until)
    return [step for step in steps if isinstance(step, Completion)]


async def serve_on_loop(
    requests: Iterable[Request], scheduler: Scheduler, *, capacity: float = 1.0, trace: Trace | None = None
) -> list[Completion]:
    """The server of :func:`simulate_schedule` as a coroutine on the running loop's clock.

    It sleeps (``asyncio.sleep``) until each arrival and through each service time, so
    under :class:`~funcpipe_async.Simulation` it runs on virtual time and returns the same
    completions as :func:`simulate_schedule` (times relative to the loop's time at start).
    With a ``trace``, it records ``arrive`` and ``serve`` events (``serve`` at the finish,
    with ``arrival``, ``start`` and ``size``) — :func:`completions_from_trace` reads them back.
    """
    steps = _schedule(_validated(requests, capacity), scheduler, capacity)
    loop = asyncio.get_running_loop()
    origin = loop.time()
    done: list[Completion] = []

    async def until(t: float) -> None:
        delay = origin + t - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    for step in steps:
        if isinstance(step, Completion):
            await until(step.finish)
            done.append(step)
            if trace is not None:
                trace.record(SERVE, step.tenant, arrival=step.arrival, start=step.start, size=step.size)
        elif isinstance(step, Request):
            if trace is not None:
                trace.record(ARRIVE, step.tenant, size=step.size)
        else:
            await until(step)
    return done


def completions_from_trace(trace: Trace) -> list[Completion]:
    """The completions recorded on ``trace`` by :func:`serve_on_loop` (its ``serve`` events)."""
    found = []
    for e in trace.of_kind(SERVE):
        arrival, start, size = e.data.get("arrival"), e.data.get("start"), e.data.get("size", 1.0)
        if not all(isinstance(v, (int, float)) for v in (arrival, start, size)):
            raise ValueError(f"a serve event needs numeric arrival, start and size, got {dict(e.data)}")
        found.append(Completion(e.name, float(arrival), float(start), e.time, float(size)))  # type: ignore[arg-type]
    return found


# --- a fair stage for a pipeline -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Carried(Request):
    item: Any = None


def fair_source(
    items: Iterable[A],
    scheduler: Scheduler,
    *,
    tenant: Callable[[A], str],
    arrival: Callable[[A], float],
    size: Callable[[A], float] | None = None,
) -> Callable[[], AsyncIterator[A]]:
    """A replayable pipeline source that releases timed ``items`` in ``scheduler``'s order.

    Item ``x`` arrives ``arrival(x)`` seconds (of the running loop's clock) after the first
    pull and joins the line of ``tenant(x)`` (``size(x)`` work units, default 1).  Each pull
    returns the item the scheduler picks among those that have arrived, sleeping until the
    next arrival when none has.  The consumer sets the pace, so in front of a bounded stage
    (``pipeline(fair_source(...), [Stage(..., queue=QueuePolicy(1))])``) the scheduler
    decides each time that stage has room: the fair stage in front of a shared resource.

    Law (``tests/test_fairness.py``): pulled by one consumer that spends ``size / capacity``
    seconds on each item, it releases the items in the order, and at the instants, that
    :func:`simulate_schedule` computes.  Each call of the returned function is a fresh run.
    """
    snapshot = tuple(items)
    _lines(scheduler)  # an unknown scheduler fails here, when the source is described

    async def release() -> AsyncIterator[A]:
        pending = sorted(
            (_Carried(tenant(x), float(arrival(x)), float(size(x)) if size is not None else 1.0, x) for x in snapshot),
            key=lambda r: r.arrival,
        )
        lines = _lines(scheduler)
        loop = asyncio.get_running_loop()
        origin = loop.time()
        i = 0
        while True:
            now = loop.time() - origin
            while i < len(pending) and pending[i].arrival <= now + 1e-9:
                lines.add(pending[i])
                i += 1
            request = lines.next()
            if request is None:
                if i == len(pending):
                    return
                await asyncio.sleep(pending[i].arrival - now)
                continue
            assert isinstance(request, _Carried)
            yield request.item

    release.__qualname__ = f"fair_source({scheduler.name})"
    return release
