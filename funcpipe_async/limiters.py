"""Async rate limiters: a bucket of :mod:`funcpipe_async.ratelimit` applied on the loop's clock.

They run on whatever clock the running loop has — ``loop.time()`` and ``asyncio.sleep`` — so
under :class:`~funcpipe_async.Simulation` they run on virtual time:

* :class:`AsyncRateLimiter` admits requests of different sizes **first come, first served**:
  the request at the head of the line reserves the bucket, so a stream of small requests can
  never overtake a large one.  A request of cost ``c`` that finds requests of total cost
  ``Q`` waiting ahead of it is admitted within ``(Q + c) / rate`` seconds (the *no starvation
  bound*).  ``aiolimiter.AsyncLimiter`` keeps its waiters in a min-heap by amount instead,
  and lets any request that fits go first — a steady stream of small requests starves a
  large one forever (lesson 06 shows it live).
* :class:`KeyedLimiter` gives every key (tenant, user, API token) its own independent
  limiter, made on first use from a default bucket or a per-key override.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from funcpipe_async.ratelimit import Bucket, Decision, _capacity, _fmt

__all__ = ["AsyncRateLimiter", "KeyedLimiter"]

S = TypeVar("S")


class AsyncRateLimiter(Generic[S]):
    """A bucket applied on the running loop's clock, admitting requests first come, first served.

    ``await limiter.acquire(cost)`` returns once the bucket admitted ``cost`` (the seconds it
    waited); ``async with limiter:`` acquires a cost of 1.  Time comes from
    ``asyncio.get_running_loop().time()`` and waiting is ``asyncio.sleep``, so under
    :class:`~funcpipe_async.Simulation` a limiter runs on virtual time.

    **FIFO, head of line reserves.**  Waiting requests form one line.  Only its head asks the
    bucket; everyone behind waits for their turn, and a newcomer joins the back even when the
    bucket could admit it right now.  So a request of cost ``c`` that finds waiting requests
    of total cost ``Q`` ahead of it is admitted within ``(Q + c) / rate`` seconds, whatever
    arrives after it: **large requests are never starved** by a stream of small ones.  (The
    bound holds because the bucket never overflows while someone waits: the head needs at
    most ``burst`` tokens, so no refill is lost.)

    A cancelled waiter leaves the line and, if it was the head, hands the turn on.  One limiter
    belongs to one event loop.
    """

    __slots__ = ("bucket", "_state", "_line", "admitted", "_capacity")

    def __init__(self, bucket: Bucket[S]) -> None:
        if not callable(getattr(bucket, "step", None)) or not callable(getattr(bucket, "initial", None)):
            raise TypeError(
                f"AsyncRateLimiter needs a bucket (TokenBucket or LeakyBucket), got {type(bucket).__name__}"
            )
        self.bucket = bucket
        self._capacity = _capacity(bucket)
        self._state: S | None = None
        self._line: deque[asyncio.Future[None]] = deque()
        self.admitted: list[tuple[float, float]] = []
        """``(time, cost)`` of every admission, in order: the limiter's own record."""

    @property
    def waiting(self) -> int:
        """How many requests are in the line now."""
        return len(self._line)

    def _ask(self, now: float, cost: float) -> Decision:
        state = self._state if self._state is not None else self.bucket.initial(now)
        decision, state = self.bucket.step(state, now, cost)
        self._state = state
        if decision.admitted:
            self.admitted.append((now, cost))
        return decision

    async def acquire(self, cost: float = 1.0) -> float:
        """Wait until the bucket admits ``cost``, in arrival order; return the seconds waited.

        Raises ``ValueError`` at once for a cost the bucket can never admit (``<= 0`` or above
        its burst/capacity) instead of waiting forever.
        """
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 < cost <= self._capacity:
            raise ValueError(
                f"AsyncRateLimiter.acquire: cost must be a number in (0, {_fmt(self._capacity)}] for "
                f"{self.bucket!r}, got {cost!r}"
            )
        loop = asyncio.get_running_loop()
        start = loop.time()
        decision: Decision | None = None
        if not self._line:
            decision = self._ask(start, cost)
            if decision.admitted:
                return 0.0
        turn: asyncio.Future[None] = loop.create_future()
        self._line.append(turn)
        if len(self._line) == 1:
            turn.set_result(None)  # the line was empty: this request is its head, and `decision` is current
        try:
            await turn  # a done future returns at once, without yielding to other tasks
            while True:
                if decision is None:
                    decision = self._ask(loop.time(), cost)
                if decision.admitted:
                    return loop.time() - start
                await asyncio.sleep(decision.wait)  # one sleep per refusal: the wait is exact, no polling
                decision = None
        finally:
            head = bool(self._line) and self._line[0] is turn
            self._line.remove(turn)
            if head and self._line and not self._line[0].done():
                self._line[0].set_result(None)

    async def __aenter__(self) -> None:
        await self.acquire(1.0)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def __repr__(self) -> str:
        return f"AsyncRateLimiter({self.bucket!r}: admitted={len(self.admitted)}, waiting={len(self._line)})"


class KeyedLimiter:
    """One independent :class:`AsyncRateLimiter` per key — a per-tenant (per-user, per-token) limit.

    ``default`` is the bucket every key gets; ``overrides`` maps particular keys to their own
    bucket (a paid tier, an internal caller).  **Independence:** what one key admits or waits
    for never changes another key's decisions.  Limiters are made on first use, so the map
    grows with the number of distinct keys seen (bound it upstream if keys are untrusted).
    """

    __slots__ = ("default", "overrides", "_limiters")

    def __init__(self, default: Bucket[Any], overrides: Mapping[str, Bucket[Any]] | None = None) -> None:
        if not callable(getattr(default, "step", None)):
            raise TypeError(f"KeyedLimiter needs a default bucket, got {type(default).__name__}")
        self.default = default
        self.overrides = dict(overrides or {})
        self._limiters: dict[str, AsyncRateLimiter[Any]] = {}

    def limiter(self, key: str) -> AsyncRateLimiter[Any]:
        """The limiter of ``key`` (made on first use)."""
        if not isinstance(key, str):
            raise TypeError(f"KeyedLimiter keys are strings (a tenant or user id), got {type(key).__name__}")
        found = self._limiters.get(key)
        if found is None:
            found = self._limiters[key] = AsyncRateLimiter(self.overrides.get(key, self.default))
        return found

    async def acquire(self, key: str, cost: float = 1.0) -> float:
        """Wait until ``key``'s own bucket admits ``cost``; return the seconds waited."""
        return await self.limiter(key).acquire(cost)

    def keys(self) -> list[str]:
        """The keys seen so far, in order of first use."""
        return list(self._limiters)

    def __repr__(self) -> str:
        return f"KeyedLimiter(default={self.default!r}, overrides={self.overrides!r}, keys={len(self._limiters)})"
