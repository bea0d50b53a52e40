"""Rate limits: token and leaky buckets as pure state machines.

A bucket is two frozen values and one pure step::

    step(config, state, now, cost) -> (decision, next_state)

``config`` says *how fast* and *how bursty* (:class:`TokenBucket`, :class:`LeakyBucket`);
``state`` is everything the bucket remembers (:class:`TokenState`, :class:`LeakyState`);
``now`` is passed in — there is no clock inside — and the :class:`Decision` says either
*admitted* or *how long to wait* before the same request would be.  Because the step is a
pure function, a bucket is tested by feeding it arrival sequences, with no event loop and no
waiting at all.

**The window law** (both buckets).  For every window ``[t, t + w]``, the cost admitted at
instants inside it is at most ``rate · w + burst``: a bucket never lets more through than its
rate allows, plus one burst.  (Checked with Hypothesis in ``tests/test_ratelimit.py`` and in
lesson 06.)

**Equivalence.**  A leaky bucket *used as a meter* is a token bucket seen from the other
side — water in the bucket is the tokens missing from it — so for the same rate and
burst/capacity, :func:`token_bucket_step` and :func:`leaky_bucket_step` make the same
decisions on every arrival sequence.  They differ in what they remember: the token bucket
keeps ``(tokens, updated)``, the leaky bucket one timestamp (the *theoretical arrival time* of
GCRA, the form Redis's ``CL.THROTTLE`` and many API gateways use).

**Rounding.**  A wait shorter than one nanosecond counts as no wait (asyncio's clock
resolution; :class:`~funcpipe_async.Simulation` fires timers within 1 ns of now), so a
limiter never spins on a wait the clock cannot represent.  The window law holds up to that
nanosecond's worth of rate.

The async limiters that apply a bucket on the running loop's clock are
:mod:`funcpipe_async.limiters`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = [
    "Decision",
    "TokenBucket",
    "TokenState",
    "LeakyBucket",
    "LeakyState",
    "Bucket",
    "token_bucket_step",
    "leaky_bucket_step",
    "run_bucket",
    "max_window_cost",
]

S = TypeVar("S")

RESOLUTION = 1e-9
"""Waits shorter than this many seconds count as no wait (asyncio's clock resolution)."""


def _number(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{owner}.{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(owner: str, name: str, value: object) -> None:
    if _number(owner, name, value) <= 0:
        raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What a bucket says to one request: ``admitted``, or wait ``wait`` seconds and ask again.

    ``wait`` is 0 when admitted; otherwise it is exactly how long until the bucket would admit
    this request if nothing else were admitted in between.
    """

    admitted: bool
    wait: float = 0.0

    def __repr__(self) -> str:
        return "Decision(admitted)" if self.admitted else f"Decision(wait {self.wait:.6g} s)"


def _check_step(owner: str, capacity: float, updated: float, now: float, cost: float) -> None:
    _number(owner, "now", now)
    _number(owner, "cost", cost)
    if cost <= 0:
        raise ValueError(f"{owner}: cost must be > 0, got {cost!r}")
    if cost > capacity:
        raise ValueError(
            f"{owner}: cost {_fmt(cost)} is more than the burst {_fmt(capacity)}, so it could never be "
            f"admitted — split the request, or configure a burst of at least {_fmt(cost)}"
        )
    if now < updated:
        raise ValueError(
            f"{owner}: time went backwards — now={_fmt(now)} is before the state's last update at "
            f"{_fmt(updated)}; pass the times of one monotonic clock (loop.time())"
        )


# --- token bucket ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenState:
    """A token bucket's memory: ``tokens`` available at virtual time ``updated``."""

    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A token bucket: ``rate`` tokens per second drip into a bucket that holds ``burst`` tokens;
    a request of cost ``c`` is admitted when ``c`` tokens are there, and takes them.

    Invariants: ``0 ≤ tokens ≤ burst``; the bucket starts full (:meth:`initial`), so a client
    that has been quiet may send one burst at once, then ``rate`` per second.

    >>> bucket = TokenBucket(rate=2, burst=3)
    >>> decision, state = bucket.step(bucket.initial(), now=0.0, cost=3)
    >>> decision, bucket.step(state, now=0.0, cost=1)[0]
    (Decision(admitted), Decision(wait 0.5 s))
    """

    rate: float
    burst: float

    def __post_init__(self) -> None:
        _positive("TokenBucket", "rate", self.rate)
        _positive("TokenBucket", "burst", self.burst)

    def initial(self, now: float = 0.0) -> TokenState:
        """A full bucket at ``now``."""
        return TokenState(float(self.burst), float(_number("TokenBucket", "now", now)))

    def step(self, state: TokenState, now: float, cost: float = 1.0) -> tuple[Decision, TokenState]:
        """:func:`token_bucket_step` with this configuration."""
        return token_bucket_step(self, state, now, cost)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={_fmt(self.rate)}, burst={_fmt(self.burst)})"


def token_bucket_step(
    config: TokenBucket, state: TokenState, now: float, cost: float = 1.0
) -> tuple[Decision, TokenState]:
    """One request of ``cost`` tokens at ``now``: refill for the time since ``state.updated``
    (never above ``burst``), then admit and take the tokens, or say how long until enough
    have dripped in.  Pure: the same arguments always give the same answer.

    Raises ``ValueError`` if ``cost`` is not positive or exceeds ``burst`` (it could never be
    admitted), or if ``now`` is before ``state.updated``.
    """
    _check_step("TokenBucket", config.burst, state.updated, now, cost)
    tokens = min(config.burst, state.tokens + (now - state.updated) * config.rate)
    deficit = cost - tokens
    if deficit / config.rate <= RESOLUTION:
        return Decision(True), TokenState(max(tokens - cost, 0.0), now)
    return Decision(False, deficit / config.rate), TokenState(tokens, now)


# --- leaky bucket (as a meter: GCRA) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeakyState:
    """A leaky bucket's memory, GCRA-style: ``empty_at`` is the virtual time at which the
    bucket will be empty (the *theoretical arrival time*); at ``now`` it holds
    ``max(empty_at - now, 0) · rate`` units of water."""

    empty_at: float


@dataclass(frozen=True, slots=True)
class LeakyBucket:
    """A leaky bucket used as a meter: water leaks out at ``rate`` units per second; a request
    of cost ``c`` pours ``c`` units in, and is admitted only if the bucket (of ``capacity``
    units) does not overflow.

    Invariants: the water level stays in ``[0, capacity]``; the bucket starts empty.  Same
    rate and capacity as a :class:`TokenBucket`'s rate and burst → the same decisions.

    >>> bucket = LeakyBucket(rate=2, capacity=3)
    >>> decision, state = bucket.step(bucket.initial(), now=0.0, cost=3)
    >>> decision, state, bucket.step(state, now=0.0, cost=1)[0]
    (Decision(admitted), LeakyState(empty_at=1.5), Decision(wait 0.5 s))
    """

    rate: float
    capacity: float

    def __post_init__(self) -> None:
        _positive("LeakyBucket", "rate", self.rate)
        _positive("LeakyBucket", "capacity", self.capacity)

    def initial(self, now: float = 0.0) -> LeakyState:
        """An empty bucket at ``now``."""
        return LeakyState(float(_number("LeakyBucket", "now", now)))

    def step(self, state: LeakyState, now: float, cost: float = 1.0) -> tuple[Decision, LeakyState]:
        """:func:`leaky_bucket_step` with this configuration."""
        return leaky_bucket_step(self, state, now, cost)

    def __repr__(self) -> str:
        return f"LeakyBucket(rate={_fmt(self.rate)}, capacity={_fmt(self.capacity)})"


def leaky_bucket_step(
    config: LeakyBucket, state: LeakyState, now: float, cost: float = 1.0
) -> tuple[Decision, LeakyState]:
    """One request of ``cost`` at ``now``: admitted if pouring ``cost`` in keeps the water at or
    below ``capacity`` (the bucket is then empty ``cost / rate`` seconds later than before);
    otherwise wait until enough has leaked out.  Pure; the state never changes on a refusal.

    Raises ``ValueError`` if ``cost`` is not positive or exceeds ``capacity``.
    """
    _check_step("LeakyBucket", config.capacity, -math.inf, now, cost)
    empty_at = max(state.empty_at, now)
    overflow = (empty_at - now) * config.rate + cost - config.capacity  # water above the rim
    if overflow / config.rate <= RESOLUTION:
        return Decision(True), LeakyState(empty_at + cost / config.rate)
    return Decision(False, overflow / config.rate), state


# --- buckets in general ------------------------------------------------------------------------


class Bucket(Protocol[S]):
    """What the async limiters need of a bucket configuration: its rate, an initial state, and
    the pure step.  (The largest admissible cost is read from ``burst`` or ``capacity``.)"""

    @property
    def rate(self) -> float: ...

    def initial(self, now: float = 0.0) -> S: ...

    def step(self, state: S, now: float, cost: float = 1.0) -> tuple[Decision, S]: ...


def _capacity(bucket: TokenBucket | LeakyBucket | Bucket[S]) -> float:
    value: object = getattr(bucket, "burst", None)
    if value is None:
        value = getattr(bucket, "capacity", math.inf)
    return float(value) if isinstance(value, (int, float)) else math.inf


def run_bucket(bucket: Bucket[S], arrivals: Sequence[tuple[float, float]]) -> list[Decision]:
    """Feed ``(time, cost)`` arrivals, in time order, to a fresh ``bucket``; the decision for each.

    A refused request is dropped (it does not retry), so this is the bucket as a *policer*.
    Pure: no clock, no waiting — the way to test a bucket.
    """
    if not arrivals:
        return []
    state = bucket.initial(arrivals[0][0])
    decisions = []
    for now, cost in arrivals:
        decision, state = bucket.step(state, now, cost)
        decisions.append(decision)
    return decisions


def max_window_cost(admitted: Sequence[tuple[float, float]], window: float) -> float:
    """The largest total cost admitted at instants inside any closed window of length ``window``
    (``admitted`` is ``(time, cost)`` pairs in time order): the left side of the window law."""
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window!r}")
    best, total, lo = 0.0, 0.0, 0
    for t, cost in admitted:
        total += cost
        while admitted[lo][0] < t - window:
            total -= admitted[lo][1]
            lo += 1
        best = max(best, total)
    return best
