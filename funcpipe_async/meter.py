"""``InFlight``: how many calls are running now, and the most at once — the package's one meter.

The fakes (``ScriptedHttp``, ``FakeEmbedder``, ``BatchEmbedder``), the threaded adapter and
the loopback service all count concurrency with it, so *in flight* and *peak* mean one thing
everywhere: a call is in flight from the moment it enters the meter until it leaves (however
it leaves: a value, an ``Err``, an exception or a cancellation), and ``peak`` is the largest
``now`` ever reached.

>>> meter = InFlight()
>>> with meter:
...     with meter:
...         meter.now
2
>>> (meter.now, meter.peak)
(0, 2)

``InFlight(timed=True)`` also keeps ``samples``: ``(loop time, now)`` at every change, read
from the running loop's clock (virtual under ``Simulation``) — a step function to plot.  The
meter is not thread-safe: count from one thread, or under the caller's lock.
"""

from __future__ import annotations

import asyncio

__all__ = ["InFlight"]


class InFlight:
    """Calls in flight ``now``, the ``peak`` so far and, when ``timed``, ``samples`` of both over time."""

    __slots__ = ("now", "peak", "samples", "_timed")

    def __init__(self, *, timed: bool = False) -> None:
        self.now = 0
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._timed = timed

    def __enter__(self) -> InFlight:
        self.enter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.exit()

    def enter(self) -> None:
        """One more call in flight."""
        self.now += 1
        if self.now > self.peak:
            self.peak = self.now
        if self._timed:
            self.samples.append((asyncio.get_running_loop().time(), self.now))

    def exit(self) -> None:
        """One call fewer in flight."""
        if self.now == 0:
            raise RuntimeError("InFlight.exit without a matching enter")
        self.now -= 1
        if self._timed:
            self.samples.append((asyncio.get_running_loop().time(), self.now))

    def __repr__(self) -> str:
        return f"InFlight(now={self.now}, peak={self.peak})"
