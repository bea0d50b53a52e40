"""Retry and timeout policies as frozen data, and the plan transformers that apply them.

A :class:`RetryPolicy` says *how* to retry — how many attempts, how long to wait between
them (:class:`ConstantBackoff` or :class:`ExponentialBackoff` with a cap), how much
jitter, which errors are worth retrying, how long one attempt may take and how long the
whole thing may take.  It is a value: compare it, print it, store it in a config, plot its
schedule with :func:`delay_schedule` — a pure function — before anything runs.

Two transformers turn a plan into a plan (nothing runs until the shell drives it):

* :func:`async_timeout` ``(plan, seconds)`` — the plan, or ``Err(TIMEOUT)`` if it has no
  result after ``seconds``; the running attempt is **cancelled**, not abandoned.
* :func:`async_retry` ``(plan, policy)`` — drive ``plan`` again after a retryable ``Err``,
  waiting the policy's backoff in between, until it succeeds, fails for good, runs out of
  attempts, deadline or retry budget.

Rules (each has a live check in lesson 04 and a test in ``tests/test_policies.py``):

* only ``Err`` values are retried, and only retryable ones: a non-retryable error returns
  at once, after one attempt;
* an exception is a defect and propagates unchanged, never retried;
* **cancellation is never retried**: ``CancelledError`` passes straight through (a retry
  loop that swallows it — tenacity's issues #186 and #529 — makes a task uncancellable);
* a timeout cancels the attempt it interrupts and leaves no task behind;
* the overall ``deadline`` cancels whatever is running when it passes, and a wait that
  would end after the deadline is not started;
* jitter comes from an injected ``random.Random``, never the global one.

Every transformer can record on a :class:`~funcpipe_async.Trace`: ``attempt``,
``outcome``, ``wait``, ``timeout``, ``cancelled`` and ``give_up`` events, which
:func:`funcpipe_async.plot_attempt_timeline` draws.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar

from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.trace import Trace, format_table

__all__ = [
    "ConstantBackoff",
    "ExponentialBackoff",
    "Backoff",
    "Jitter",
    "RetryPolicy",
    "RetryBudget",
    "backoff_delay",
    "apply_jitter",
    "delay_schedule",
    "schedule_table",
    "is_retryable",
    "async_timeout",
    "async_retry",
    "ATTEMPT",
    "OUTCOME",
    "WAIT",
    "TIMEOUT",
    "CANCELLED",
    "GIVE_UP",
]

A = TypeVar("A")

ATTEMPT = "attempt"
OUTCOME = "outcome"
WAIT = "wait"
TIMEOUT = "timeout"
CANCELLED = "cancelled"
GIVE_UP = "give_up"

Jitter: TypeAlias = Literal["none", "full", "equal"]
"""``none``: the backoff delay exactly.  ``full``: uniform in ``[0, delay]``.  ``equal``:
``delay/2`` plus uniform in ``[0, delay/2]`` (AWS's names for the two common schemes)."""

_JITTERS = ("none", "full", "equal")


def _check_seconds(owner: str, field: str, value: object, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}.{field} must be a finite number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{owner}.{field} must be {'> 0' if positive else '>= 0'}, got {value!r}")


@dataclass(frozen=True, slots=True)
class ConstantBackoff:
    """Wait the same ``delay`` seconds before every retry."""

    delay: float = 1.0

    def __post_init__(self) -> None:
        _check_seconds("ConstantBackoff", "delay", self.delay)


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Wait ``initial``, then ``initial·factor``, ``initial·factor²``, … never more than ``cap``."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0

    def __post_init__(self) -> None:
        _check_seconds("ExponentialBackoff", "initial", self.initial)
        _check_seconds("ExponentialBackoff", "cap", self.cap)
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not self.factor >= 1:
            raise ValueError(f"ExponentialBackoff.factor must be a number >= 1, got {self.factor!r}")
        if self.cap < self.initial:
            raise ValueError(f"ExponentialBackoff.cap ({self.cap!r}) must be >= initial ({self.initial!r})")


Backoff: TypeAlias = ConstantBackoff | ExponentialBackoff


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry, as a value.

    * ``max_attempts`` — attempts in all, the first one included (1 = no retries);
    * ``backoff`` / ``jitter`` — the wait before each retry;
    * ``retry_on`` — ``None``: retry the errors whose ``ErrInfo.retryable`` is true; a set of
      codes: retry exactly those codes;
    * ``attempt_timeout`` — seconds one attempt may take before it is cancelled and counts
      as ``Err(TIMEOUT)`` (retryable);
    * ``deadline`` — seconds the whole call may take, waits included; when it passes, the
      running attempt is cancelled and the result is ``Err(DEADLINE_EXCEEDED)``.
    """

    max_attempts: int = 3
    backoff: Backoff = ExponentialBackoff()
    jitter: Jitter = "none"
    retry_on: frozenset[str] | None = None
    attempt_timeout: float | None = None
    deadline: float | None = None

    def __repr__(self) -> str:
        # Written out so ``retry_on`` prints sorted: a frozenset's own order changes with
        # PYTHONHASHSEED, and notebook outputs must not.
        codes = (
            "None"
            if self.retry_on is None
            else "frozenset({" + ", ".join(repr(c) for c in sorted(self.retry_on)) + "})"
        )
        if self.retry_on == frozenset():
            codes = "frozenset()"
        return (
            f"RetryPolicy(max_attempts={self.max_attempts!r}, backoff={self.backoff!r}, jitter={self.jitter!r}, "
            f"retry_on={codes}, attempt_timeout={self.attempt_timeout!r}, deadline={self.deadline!r})"
        )

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be an int >= 1, got {self.max_attempts!r}")
        if not isinstance(self.backoff, (ConstantBackoff, ExponentialBackoff)):
            raise TypeError(
                f"RetryPolicy.backoff must be ConstantBackoff(...) or ExponentialBackoff(...), "
                f"got {type(self.backoff).__name__}"
            )
        if self.jitter not in _JITTERS:
            raise ValueError(f"RetryPolicy.jitter must be one of {_JITTERS}, got {self.jitter!r}")
        if self.retry_on is not None and (
            not isinstance(self.retry_on, frozenset) or not all(isinstance(c, str) for c in self.retry_on)
        ):
            raise TypeError(f"RetryPolicy.retry_on must be None or a frozenset of error codes, got {self.retry_on!r}")
        if self.attempt_timeout is not None:
            _check_seconds("RetryPolicy", "attempt_timeout", self.attempt_timeout, positive=True)
        if self.deadline is not None:
            _check_seconds("RetryPolicy", "deadline", self.deadline, positive=True)


class RetryBudget:
    """A retry budget shared by many calls: retries may add at most ``ratio`` × the calls
    made, plus a small ``reserve`` to get started (Finagle's and gRPC's retry budgets).

    Every call deposits ``ratio`` of a token; every retry spends one whole token, and is
    refused when none is left.  When a dependency is down, each caller retries a little
    instead of every caller multiplying the load by ``max_attempts`` — the retry storm.
    It is state (like a connection pool), so it is passed in, not part of the policy value.
    """

    __slots__ = ("ratio", "reserve", "_tokens", "calls", "retries", "refused")

    def __init__(self, *, ratio: float = 0.1, reserve: int = 10) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ValueError(f"RetryBudget ratio must be a number in [0, 1], got {ratio!r}")
        if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
            raise ValueError(f"RetryBudget reserve must be an int >= 0, got {reserve!r}")
        self.ratio = float(ratio)
        self.reserve = reserve
        self._tokens = float(reserve)
        self.calls = 0
        self.retries = 0
        self.refused = 0

    def deposit(self) -> None:
        """One call started."""
        self.calls += 1
        self._tokens += self.ratio

    def try_spend(self) -> bool:
        """May one more retry happen?  Spends a token if so."""
        if self._tokens >= 1.0 - 1e-9:
            self._tokens -= 1.0
            self.retries += 1
            return True
        self.refused += 1
        return False

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, reserve={self.reserve}: calls={self.calls}, "
            f"retries={self.retries}, refused={self.refused})"
        )


def backoff_delay(backoff: Backoff, retry: int) -> float:
    """The wait before retry number ``retry`` (1 = before the second attempt), no jitter."""
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 1:
        raise ValueError(f"retry must be an int >= 1, got {retry!r}")
    if isinstance(backoff, ConstantBackoff):
        return float(backoff.delay)
    if isinstance(backoff, ExponentialBackoff):
        try:
            delay = backoff.initial * backoff.factor ** (retry - 1)
        except OverflowError:
            delay = math.inf
        return float(min(delay, backoff.cap))
    raise TypeError(f"backoff must be ConstantBackoff or ExponentialBackoff, got {type(backoff).__name__}")


def apply_jitter(delay: float, jitter: Jitter, rng: random.Random | None) -> float:
    """``delay`` spread by ``jitter``, drawing from ``rng`` (required unless ``jitter="none"``)."""
    if jitter == "none":
        return delay
    if not isinstance(rng, random.Random):
        raise TypeError(
            f"jitter={jitter!r} draws random numbers: pass rng=random.Random(seed) "
            f"(or Simulation(seed=...).rng), got {type(rng).__name__}"
        )
    if jitter == "full":
        return rng.uniform(0.0, delay)
    if jitter == "equal":
        return delay / 2 + rng.uniform(0.0, delay / 2)
    raise ValueError(f"jitter must be one of {_JITTERS}, got {jitter!r}")


def delay_schedule(policy: RetryPolicy, rng: random.Random | None = None) -> tuple[float, ...]:
    """The waits before attempts 2, 3, …, ``max_attempts`` — a pure function of the policy
    (and of ``rng``'s state when the policy has jitter).

    >>> delay_schedule(RetryPolicy(max_attempts=6, backoff=ExponentialBackoff(1, 2, cap=10)))
    (1.0, 2.0, 4.0, 8.0, 10.0)
    """
    if not isinstance(policy, RetryPolicy):
        raise TypeError(f"delay_schedule needs a RetryPolicy, got {type(policy).__name__}")
    return tuple(
        apply_jitter(backoff_delay(policy.backoff, retry), policy.jitter, rng)
        for retry in range(1, policy.max_attempts)
    )


def schedule_table(policy: RetryPolicy, rng: random.Random | None = None) -> str:
    """The schedule as a table: each attempt, the wait before it, and when it starts if every
    attempt fails instantly (the earliest possible start)."""
    waits = delay_schedule(policy, rng)
    rows: list[list[str]] = [["1", "-", "0"]]
    start = 0.0
    for attempt, wait in enumerate(waits, start=2):
        start += wait
        rows.append([str(attempt), _fmt(wait), _fmt(start)])
    return format_table(["attempt", "wait before (s)", "earliest start (s)"], rows)


def _fmt(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


def is_retryable(policy: RetryPolicy, error: ErrInfo) -> bool:
    """Does ``policy`` retry ``error``?  By code when ``retry_on`` is a set, else by its flag."""
    if policy.retry_on is not None:
        return error.code in policy.retry_on
    return error.retryable


def _timeout_err(what: str, seconds: float) -> Err[ErrInfo]:
    return Err(ErrInfo("TIMEOUT", f"{what} gave no result within {_fmt(seconds)}s", retryable=True))


async def _within(plan: AsyncPlan[A], seconds: float) -> Result[A, ErrInfo] | None:
    """``await plan()``, or ``None`` when ``seconds`` pass first — then the plan has been
    cancelled and has finished cancelling.  Only this timeout counts: a ``TimeoutError``
    the plan raises itself, or a cancellation from outside, propagates."""
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            return await plan()
    except TimeoutError:
        if not scope.expired():
            raise
        return None


def async_timeout(
    plan: AsyncPlan[A], seconds: float, *, trace: Trace | None = None, name: str = "timeout"
) -> AsyncPlan[A]:
    """``plan``, or ``Err(TIMEOUT, retryable=True)`` if it has no result within ``seconds``.

    On expiry the running plan is cancelled (its ``finally`` blocks run, tasks it started
    through ``async_gather`` are cancelled and awaited) before the ``Err`` is returned.
    Only this timeout becomes an ``Err``: a ``TimeoutError`` raised by the plan itself is a
    defect and propagates, and a cancellation from outside stays a cancellation.

    The plan is cancelled at its next ``await``: a plan that never awaits (a CPU loop) runs
    to its end and returns its own result, on ``asyncio.run`` and on ``Simulation`` alike —
    no single-threaded event loop can interrupt it.  Put such work in ``asyncio.to_thread``.
    """
    if not callable(plan):
        raise TypeError(f"async_timeout needs an AsyncPlan, got {type(plan).__name__}")
    _check_seconds("async_timeout", "seconds", seconds, positive=True)

    async def timed() -> Result[A, ErrInfo]:
        result = await _within(plan, seconds)
        if result is not None:
            return result
        if trace is not None:
            trace.record(TIMEOUT, name, after=seconds, scope="call")
        return _timeout_err(name, seconds)

    timed.__qualname__ = f"timeout[{name}, {_fmt(seconds)}s]"
    return async_lift(timed)


class _State:
    __slots__ = ("attempt", "last")

    def __init__(self) -> None:
        self.attempt = 0
        self.last: Err[ErrInfo] | None = None


def async_retry(
    plan: AsyncPlan[A],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    budget: RetryBudget | None = None,
    trace: Trace | None = None,
    name: str = "call",
) -> AsyncPlan[A]:
    """``plan`` driven again after each retryable ``Err``, as ``policy`` says.

    Returns the first ``Ok``; or the ``Err`` that is not retryable (after one attempt); or
    the last ``Err`` when attempts, the deadline (for the next wait) or the ``budget`` run
    out; or ``Err(DEADLINE_EXCEEDED)`` when the deadline cancels a running attempt or wait.
    ``rng`` is required when the policy has jitter.  Each drive of the returned plan is a
    fresh call: it starts again from attempt 1.
    """
    if not callable(plan):
        raise TypeError(f"async_retry needs an AsyncPlan, got {type(plan).__name__}")
    if not isinstance(policy, RetryPolicy):
        raise TypeError(f"async_retry needs a RetryPolicy, got {type(policy).__name__}")
    if policy.jitter != "none" and not isinstance(rng, random.Random):
        raise TypeError(
            f"this policy has jitter={policy.jitter!r}: pass rng=random.Random(seed) "
            f"(or Simulation(seed=...).rng) so the waits are reproducible"
        )
    if budget is not None and not isinstance(budget, RetryBudget):
        raise TypeError(f"budget must be a RetryBudget, got {type(budget).__name__}")

    def record(kind: str, **data: object) -> None:
        if trace is not None:
            trace.record(kind, name, **data)

    async def attempt_once(state: _State) -> Result[A, ErrInfo]:
        if policy.attempt_timeout is None:
            return await plan()
        result = await _within(plan, policy.attempt_timeout)
        if result is not None:
            return result
        record(TIMEOUT, attempt=state.attempt, after=policy.attempt_timeout, scope="attempt")
        return _timeout_err(f"attempt {state.attempt}", policy.attempt_timeout)

    async def attempts(state: _State, deadline_at: float | None) -> Result[A, ErrInfo]:
        loop = asyncio.get_running_loop()
        if budget is not None:
            budget.deposit()
        while True:
            state.attempt += 1
            if state.attempt > 1 and budget is not None and not budget.try_spend():
                record(GIVE_UP, attempts=state.attempt - 1, reason="retry budget spent")
                assert state.last is not None
                return state.last
            record(ATTEMPT, attempt=state.attempt)
            try:
                result = await attempt_once(state)
            except asyncio.CancelledError:
                record(CANCELLED, attempt=state.attempt)
                raise
            if isinstance(result, Ok):
                record(OUTCOME, attempt=state.attempt, ok=True)
                return result
            record(OUTCOME, attempt=state.attempt, ok=False, code=result.error.code)
            state.last = result
            if not is_retryable(policy, result.error):
                record(GIVE_UP, attempts=state.attempt, reason="not retryable")
                return result
            if state.attempt >= policy.max_attempts:
                record(GIVE_UP, attempts=state.attempt, reason="attempts exhausted")
                return result
            delay = apply_jitter(backoff_delay(policy.backoff, state.attempt), policy.jitter, rng)
            if deadline_at is not None and loop.time() + delay >= deadline_at:
                record(GIVE_UP, attempts=state.attempt, reason="next wait ends past the deadline")
                return result
            record(WAIT, attempt=state.attempt + 1, delay=delay)
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                record(CANCELLED, attempt=state.attempt + 1, during="wait")
                raise

    async def retried() -> Result[A, ErrInfo]:
        state = _State()
        if policy.deadline is None:
            return await attempts(state, None)
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + policy.deadline
        scope = asyncio.timeout_at(deadline_at)
        try:
            async with scope:
                return await attempts(state, deadline_at)
        except TimeoutError:
            if not scope.expired():
                raise
            record(TIMEOUT, attempt=state.attempt, after=policy.deadline, scope="deadline")
            record(GIVE_UP, attempts=state.attempt, reason="deadline")
            last = f"; last error: {state.last.error.code}" if state.last is not None else ""
            return Err(
                ErrInfo(
                    "DEADLINE_EXCEEDED",
                    f"{name}: no success within the {_fmt(policy.deadline)}s deadline "
                    f"({state.attempt} attempt{'s' if state.attempt != 1 else ''}{last})",
                    retryable=False,
                )
            )

    retried.__qualname__ = f"retry[{name}, max {policy.max_attempts}]"
    return async_lift(retried)
