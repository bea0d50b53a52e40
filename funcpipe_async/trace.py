"""Tracing: one append-only record of what happened to a plan, and when.

A :class:`Trace` stores :class:`Event` s — ``(seq, time, kind, name, data)`` — read from an
injected clock.  Lesson 01 records the life of named steps:

* ``describe`` — a step's plan value was built (``trace.step(...)`` was called);
* ``drive``    — the shell started driving a plan (``perform_async(plan, trace=trace)``);
* ``start`` / ``finish`` — one run of a step began / ended (``data["ok"]`` says how);
* ``done``     — the shell finished driving.

Later lessons add their own kinds to the same record (queue ``depth``, retry ``attempt``,
``timeout``, per-tenant ``arrive`` / ``serve`` …); every kind is just a string plus data,
so one trace can hold a whole scenario and one plot can overlay it.

The clock is injected: :class:`LogicalClock` (the default) ticks once per reading, so
traces are deterministic without any timer; the virtual-time driver supplies simulated
seconds instead.  Invariants: ``seq`` strictly increases; ``time`` never decreases for a
monotonic clock; a step's ``start`` and ``finish`` share a ``run`` number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.result import ErrInfo, Ok, Result

__all__ = [
    "Event",
    "Span",
    "Trace",
    "LogicalClock",
    "DESCRIBE",
    "DRIVE",
    "START",
    "FINISH",
    "DONE",
    "format_table",
]

A = TypeVar("A")

DESCRIBE = "describe"
DRIVE = "drive"
START = "start"
FINISH = "finish"
DONE = "done"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: its order ``seq``, clock ``time``, ``kind``, step ``name``, ``data``."""

    seq: int
    time: float
    kind: str
    name: str
    data: Mapping[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Span:
    """One run of a named step: when it was described, started and finished, and whether it succeeded."""

    name: str
    run: int
    described: float | None
    started: float
    finished: float | None
    ok: bool | None


class LogicalClock:
    """A clock that reads 0, 1, 2, … — one tick per reading — for deterministic traces.

    Use it when the order of events is the story and durations are not (lesson 01).
    """

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"LogicalClock start must be a non-negative int, got {start!r}")
        self._next = start

    def __call__(self) -> float:
        now = self._next
        self._next += 1
        return float(now)


class Trace:
    """An append-only event record read against an injected clock.

    >>> from funcpipe_async import async_pure
    >>> trace = Trace()                      # logical clock: 0, 1, 2, ...
    >>> plan = trace.step("fetch", async_pure(1))
    >>> [e.kind for e in trace.events]
    ['describe']

    ``clock`` is any zero-argument function returning a float (``loop.time`` of a
    virtual-time loop, a :class:`LogicalClock`, …).
    """

    __slots__ = ("_clock", "_events", "_runs")

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        if clock is not None and not callable(clock):
            raise TypeError(f"Trace clock must be a zero-argument function, got {type(clock).__name__}")
        self._clock: Callable[[], float] = clock if clock is not None else LogicalClock()
        self._events: list[Event] = []
        self._runs: dict[str, int] = {}

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event so far, in the order it was recorded."""
        return tuple(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def record(self, kind: str, name: str, **data: object) -> Event:
        """Append one event at the clock's current time and return it."""
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"event kind must be a non-empty string, got {kind!r}")
        event = Event(len(self._events), float(self._clock()), kind, name, dict(data))
        self._events.append(event)
        return event

    def of_kind(self, *kinds: str) -> list[Event]:
        """The events whose kind is one of ``kinds``, in order."""
        wanted = set(kinds)
        return [e for e in self._events if e.kind in wanted]

    def step(self, name: str, plan: AsyncPlan[A]) -> AsyncPlan[A]:
        """Record that step ``name`` is described now; return ``plan`` wrapped to record its runs.

        Each run of the returned plan records ``start`` then ``finish`` (``ok=True`` for an
        ``Ok``, ``ok=False`` and the error ``code`` for an ``Err``) with a shared ``run`` number.
        """
        if not callable(plan):
            raise TypeError(f"Trace.step({name!r}, ...) needs an AsyncPlan, got {type(plan).__name__}")
        self.record(DESCRIBE, name)

        async def run_step() -> Result[A, ErrInfo]:
            run = self._runs.get(name, 0) + 1
            self._runs[name] = run
            self.record(START, name, run=run)
            result = await plan()
            if isinstance(result, Ok):
                self.record(FINISH, name, run=run, ok=True)
            else:
                self.record(FINISH, name, run=run, ok=False, code=result.error.code)
            return result

        run_step.__qualname__ = f"step[{name}]"
        return async_lift(run_step)

    def spans(self) -> list[Span]:
        """Pair every ``start`` with its ``finish``; ``described`` is the latest describe before it."""
        last_described: dict[str, float] = {}
        open_runs: dict[tuple[str, object], int] = {}
        spans: list[Span] = []
        for event in self._events:
            if event.kind == DESCRIBE:
                last_described[event.name] = event.time
            elif event.kind == START:
                run = event.data.get("run", 0)
                open_runs[(event.name, run)] = len(spans)
                spans.append(
                    Span(
                        event.name,
                        int(run) if isinstance(run, int) else 0,
                        last_described.get(event.name),
                        event.time,
                        None,
                        None,
                    )
                )
            elif event.kind == FINISH:
                index = open_runs.pop((event.name, event.data.get("run", 0)), None)
                if index is not None:
                    old = spans[index]
                    ok = event.data.get("ok")
                    spans[index] = Span(
                        old.name, old.run, old.described, old.started, event.time, bool(ok) if ok is not None else None
                    )
        return spans

    def names(self) -> list[str]:
        """Step names in order of first appearance (``drive``/``done`` excluded)."""
        seen: dict[str, None] = {}
        for event in self._events:
            if event.kind not in (DRIVE, DONE):
                seen.setdefault(event.name, None)
        return list(seen)

    def table(self, kinds: Iterable[str] | None = None) -> str:
        """The events as an aligned text table (for notebooks and test failure messages)."""
        wanted = set(kinds) if kinds is not None else None
        rows = [
            [_fmt_time(e.time), e.kind, e.name, _fmt_data(e.data)]
            for e in self._events
            if wanted is None or e.kind in wanted
        ]
        return format_table(["time", "event", "step", "details"], rows)


def _fmt_time(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


def _fmt_data(data: Mapping[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in data.items())


def format_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """Format rows as a plain, left-aligned text table (deterministic, no trailing spaces)."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        if len(row) != len(headers):
            raise ValueError(f"format_table: a row has {len(row)} cells, expected {len(headers)}")
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in body)
    return "\n".join(lines)
