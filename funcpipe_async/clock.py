"""Virtual time: a clock that moves only when the virtual-time driver says so.

A :class:`VirtualClock` is a number of simulated seconds and nothing else.  Reading it
(``clock()`` or ``clock.now``) never changes it; only the driver in
:mod:`funcpipe_async.shell.virtual` advances it, and only when **every task is waiting on a
timer**: then it jumps straight to the earliest timer.  So ``await asyncio.sleep(600)``
costs no wall time at all, and two runs of the same plan see exactly the same times.

A clock is a plain value you can hand to a :class:`~funcpipe_async.Trace`
(``Trace(clock=clock)``) so recorded events carry simulated seconds.

Invariants: ``now`` never decreases; it starts where you say (0.0 by default); it moves
only by :meth:`advance_to`, which the driver calls.
"""

from __future__ import annotations

import math

__all__ = ["VirtualClock"]


class VirtualClock:
    """Simulated seconds, advanced only by the virtual-time driver.

    >>> clock = VirtualClock()
    >>> clock(), clock.now
    (0.0, 0.0)
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start) or start < 0:
            raise ValueError(f"VirtualClock start must be a finite number >= 0, got {start!r}")
        self._now = float(start)

    @property
    def now(self) -> float:
        """The current simulated time, in seconds."""
        return self._now

    def __call__(self) -> float:
        return self._now

    def advance_to(self, when: float) -> None:
        """Move the clock forward to ``when`` (the driver's job; time never goes back)."""
        if not when >= self._now:  # also rejects NaN
            raise ValueError(f"virtual time cannot go back: now={self._now!r}, asked for {when!r}")
        self._now = float(when)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"
