"""Reading a queue probe back: depth over time and Little's law.

A :class:`~funcpipe_async.BoundedQueue` given ``probe=trace`` (or a pipeline given
``probe=trace``) records ``enqueue`` / ``dequeue`` / ``drop`` events with the queue's depth.
:func:`depth_series` turns them into a step function of depth over time; :func:`littles_law`
measures arrival rate λ, mean number in the queue L and mean time in the queue W, for which
``L = λW`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from funcpipe_async.queues import DEQUEUE, DROP, ENQUEUE
from funcpipe_async.trace import Trace

__all__ = ["LittlesLaw", "littles_law", "depth_series"]


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
        return (
            f"{self.queue}: λ = {self.arrival_rate:.3f} items/s, W = {self.mean_wait:.3f} s, "
            f"λW = {self.lambda_w:.3f}; measured L = {self.mean_in_queue:.3f} "
            f"(window {self.start:g}–{self.end:g} s, {self.arrivals} arrivals)"
        )


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
        raise ValueError(
            f"littles_law: the window {start:g}–{stop:g} s is empty; did the probe record queue {queue!r}?"
        )
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
