"""Benchmark: time per ``async_bind`` as the chain gets deeper (500 / 8,000 / 100,000 binds).

What it measures
----------------
A chain of ``depth`` binds whose functions are trivial (``x -> async_pure(x + 1)``), so the
time is the interpreter's own overhead per bind.  Two shapes, equal by the associativity law:

* **left-nested**  — ``p = async_bind(p, inc)`` in a loop:
  ``async_bind(async_bind(async_bind(async_pure(0), inc), inc), inc)``.  Built once, up
  front; the interpreter pushes ``depth`` pending binds on its stack, then pops them.
* **right-nested** — a recursive continuation:
  ``async_bind(async_pure(0), lambda x: async_bind(inc(x), lambda y: async_bind(inc(y), …)))``.
  Each step's continuation builds the next ``async_bind`` while the plan is driven, so this
  shape's drive time *includes* building its nodes (that is the shape's nature; its up-front
  construction is one node).

Only the drive (``await plan()``) is inside the ``time.perf_counter`` window; left-nested
construction is timed separately and reported on its own row.  Each measurement drives the
same (replayable) plan ``ceil(MIN_BINDS / depth)`` times, so it covers at least
``MIN_BINDS`` binds, inside one fresh event loop (``asyncio.run``; the plans never suspend,
so the loop does no work during the timing).  The figure is the median of ``REPEATS``
measurements.  The cells are measured round-robin — repeat 1 of every cell, then repeat 2,
… — in a seeded shuffled order per round, so a burst of outside load is spread over all
cells instead of landing on one depth; the worst max/min spread of any cell is printed as a
noise gauge, and the PASS/FAIL line also shows the ratio of the best (least disturbed)
measurements next to the ratio of the medians that decides it.  ``gc.collect()`` runs
before each measurement and the garbage collector stays enabled; one extra, labelled
diagnostic row repeats the left-nested drives with it disabled, to show how much of any
growth with depth is the collector's.  Every drive's result is checked to be ``Ok(depth)``.

For contrast, the script defines the seed's *naive* nested-closure bind (``async_bind``
returns ``lambda: _coro()`` where ``_coro`` awaits ``plan()`` and then ``f(v)()``): each
bind adds one coroutine to the await chain, so a deep chain exceeds the recursion limit.
The script finds the smallest depth that raises ``RecursionError`` (both shapes) and times
the naive bind at depth 500.

Target: per-bind time at depth 8,000 within 1.5x of depth 500, for both shapes (the
package's docstring promises "the cost per bind does not grow with the chain").  The script
reports PASS/FAIL but always exits 0 unless a drive returns a wrong result (exit 1).

Run it with ``make bench`` or ``.venv/bin/python benchmarks/bench_bind_depth.py``.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from _common import load_average

from funcpipe_async import AsyncPlan, Err, ErrInfo, Ok, Result, async_bind, async_pure

DEPTHS = (500, 8_000, 100_000)
MIN_BINDS = 200_000
REPEATS = 7
TARGET_RATIO = 1.5
NAIVE_DEPTH = 500
NAIVE_SEARCH = (500, 5_000)  # smallest depth raising RecursionError is searched in this range

A = TypeVar("A")
B = TypeVar("B")

Builder = Callable[[int], AsyncPlan[int]]


class WrongResult(Exception):
    """A drive returned something other than ``Ok(depth)``."""


# --- the package's bind -----------------------------------------------------------------


def inc(x: int) -> AsyncPlan[int]:
    return async_pure(x + 1)


def left_chain(depth: int) -> AsyncPlan[int]:
    """``depth`` binds nested to the left, built now."""
    plan: AsyncPlan[int] = async_pure(0)
    for _ in range(depth):
        plan = async_bind(plan, inc)
    return plan


def _right_cont(remaining: int) -> Callable[[int], AsyncPlan[int]]:
    """The continuation of a right-nested chain with ``remaining`` binds still to come (>= 1)."""
    if remaining == 1:
        return inc

    def cont(x: int) -> AsyncPlan[int]:
        return async_bind(inc(x), _right_cont(remaining - 1))

    return cont


def right_chain(depth: int) -> AsyncPlan[int]:
    """``depth`` binds nested to the right; each continuation builds the next bind when driven."""
    return async_bind(async_pure(0), _right_cont(depth))


# --- the seed's naive nested-closure bind (for contrast only) ---------------------------


def naive_pure(value: A) -> AsyncPlan[A]:
    async def _coro() -> Result[A, ErrInfo]:
        return Ok(value)

    return lambda: _coro()


def naive_bind(plan: AsyncPlan[A], f: Callable[[A], AsyncPlan[B]]) -> AsyncPlan[B]:
    async def _coro() -> Result[B, ErrInfo]:
        result = await plan()
        if isinstance(result, Err):
            return result
        return await f(result.value)()

    return lambda: _coro()


def naive_inc(x: int) -> AsyncPlan[int]:
    return naive_pure(x + 1)


def naive_left_chain(depth: int) -> AsyncPlan[int]:
    plan: AsyncPlan[int] = naive_pure(0)
    for _ in range(depth):
        plan = naive_bind(plan, naive_inc)
    return plan


def _naive_right_cont(remaining: int) -> Callable[[int], AsyncPlan[int]]:
    if remaining == 1:
        return naive_inc

    def cont(x: int) -> AsyncPlan[int]:
        return naive_bind(naive_inc(x), _naive_right_cont(remaining - 1))

    return cont


def naive_right_chain(depth: int) -> AsyncPlan[int]:
    return naive_bind(naive_pure(0), _naive_right_cont(depth))


# --- measurement ------------------------------------------------------------------------


def run(coro: Coroutine[Any, Any, A]) -> A:
    return asyncio.run(coro)


class DriveCase:
    """One timed cell: a chain of ``depth`` binds built by ``build``, driven ``drives`` times."""

    def __init__(self, build: Builder, depth: int, *, collector: bool = True) -> None:
        self.depth = depth
        self.collector = collector
        self.drives = math.ceil(MIN_BINDS / depth)  # every measurement covers >= MIN_BINDS binds
        self.plan = build(depth)  # built once, outside the timing; plans are replayable
        self.per_bind: list[float] = []

    async def _measure(self) -> float:
        plan, expected = self.plan, Ok(self.depth)
        start = time.perf_counter()
        for _ in range(self.drives):
            result = await plan()
            if result != expected:
                raise WrongResult(f"depth {self.depth}: got {str(result)[:60]}, expected {expected}")
        return time.perf_counter() - start

    def measure(self, *, record: bool = True) -> None:
        """One measurement in its own event loop; ``collector=False`` switches the GC off for it."""
        gc.collect()
        if not self.collector:
            gc.disable()
        try:
            elapsed = run(self._measure())
        finally:
            gc.enable()
        if record:
            self.per_bind.append(elapsed / (self.drives * self.depth))

    @property
    def median(self) -> float:
        return statistics.median(self.per_bind)

    @property
    def best(self) -> float:
        return min(self.per_bind)

    @property
    def spread(self) -> float:
        """max / min over the repeats: 1.00 means perfectly stable."""
        return max(self.per_bind) / min(self.per_bind)


def measure_interleaved(cases: list[DriveCase]) -> None:
    """Warm every case up, then REPEATS rounds over all cases, each round in a shuffled order.

    Interleaving spreads any burst of outside load over every cell instead of one cell
    taking all of it, and the (seeded) shuffle keeps periodic load from lining up with one
    cell, so the ratios between cells stay meaningful on a shared machine.
    """
    for case in cases:
        case.measure(record=False)
    order = list(cases)
    shuffle = random.Random(20261122).shuffle
    for _ in range(REPEATS):
        shuffle(order)
        for case in order:
            case.measure()


def construction_time(build: Builder, depth: int) -> float:
    """Median seconds per bind to build a chain (3 builds of >= MIN_BINDS binds each)."""
    builds = math.ceil(MIN_BINDS / depth)
    per_bind: list[float] = []
    for _ in range(3):
        gc.collect()
        start = time.perf_counter()
        for _ in range(builds):
            build(depth)
        per_bind.append((time.perf_counter() - start) / (builds * depth))
    return statistics.median(per_bind)


def raises_recursion(build: Builder, depth: int) -> bool:
    plan = build(depth)

    async def attempt() -> bool:
        try:
            result = await plan()
        except RecursionError:
            return True
        if result != Ok(depth):
            raise WrongResult(f"naive depth {depth}: got {str(result)[:60]}")
        return False

    with warnings.catch_warnings():
        # The coroutine the failed ``await`` could not enter is never awaited; drop its warning.
        warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
        failed = run(attempt())
        gc.collect()
    return failed


def first_recursion_error(build: Builder) -> int | None:
    """Smallest depth in NAIVE_SEARCH whose drive raises RecursionError (bisection)."""
    lo, hi = NAIVE_SEARCH
    if raises_recursion(build, lo) or not raises_recursion(build, hi):
        return None
    while hi - lo > 1:  # invariant: lo succeeds, hi raises
        mid = (lo + hi) // 2
        if raises_recursion(build, mid):
            hi = mid
        else:
            lo = mid
    return hi


def main() -> int:
    print(
        f"bench_bind_depth: depths {', '.join(f'{d:,}' for d in DEPTHS)}; "
        f">= {MIN_BINDS:,} binds per measurement, median of {REPEATS}"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"recursion limit {sys.getrecursionlimit()}"
    )
    print(f"load average before: {load_average()} (other processes skew timings; compare ratios)")
    shapes: dict[str, Builder] = {"left-nested": left_chain, "right-nested": right_chain}
    naive_shapes: dict[str, Builder] = {"left-nested": naive_left_chain, "right-nested": naive_right_chain}
    drive = {(s, d): DriveCase(b, d) for s, b in shapes.items() for d in DEPTHS}
    drive_nogc = {d: DriveCase(left_chain, d, collector=False) for d in DEPTHS}
    naive = {s: DriveCase(b, NAIVE_DEPTH) for s, b in naive_shapes.items()}
    try:
        measure_interleaved([*drive.values(), *drive_nogc.values(), *naive.values()])
        build_left = {d: construction_time(left_chain, d) for d in DEPTHS}
    except WrongResult as exc:
        print(f"WRONG RESULT: {exc}", file=sys.stderr)
        return 1
    naive_limit = {
        "left-nested": first_recursion_error(naive_left_chain),
        "right-nested": first_recursion_error(naive_right_chain),
    }

    print()
    print("funcpipe_async.async_bind — µs per bind (drive only)")
    print(f"{'shape':<14}" + "".join(f"{f'd={d:,}':>12}" for d in DEPTHS) + f"{'8,000/500':>11}{'100,000/500':>13}")
    rows: dict[str, dict[int, DriveCase]] = {s: {d: drive[s, d] for d in DEPTHS} for s in shapes}
    rows["left, no gc"] = drive_nogc
    for label, row in rows.items():
        cells = "".join(f"{row[d].median * 1e6:>12.3f}" for d in DEPTHS)
        note = "   diagnostic: collector off while driving" if label == "left, no gc" else ""
        print(
            f"{label:<14}{cells}{row[8_000].median / row[500].median:>11.2f}"
            f"{row[100_000].median / row[500].median:>13.2f}{note}"
        )
    print(
        f"{'left, build':<14}"
        + "".join(f"{build_left[d] * 1e6:>12.3f}" for d in DEPTHS)
        + "   construction, µs per bind (right-nested builds lazily, inside its drive)"
    )
    worst = max((c for c in [*drive.values(), *drive_nogc.values(), *naive.values()]), key=lambda c: c.spread)
    print(f"noise: largest max/min over the {REPEATS} repeats of one cell = {worst.spread:.2f}")
    print()
    print("naive nested-closure bind (the seed's), for contrast")
    for s in shapes:
        limit = naive_limit[s]
        where = (
            f"RecursionError at depth {limit:,}"
            if limit is not None
            else f"no RecursionError found in depths {NAIVE_SEARCH[0]:,}..{NAIVE_SEARCH[1]:,}"
        )
        print(f"  {s:<14}{naive[s].median * 1e6:.3f} µs per bind at depth {NAIVE_DEPTH}; {where}")
    print()
    for s in shapes:
        ratio = drive[s, 8_000].median / drive[s, 500].median
        best_ratio = drive[s, 8_000].best / drive[s, 500].best
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        print(
            f"{verdict}: {s} per-bind time at depth 8,000 within {TARGET_RATIO}x of depth 500 "
            f"(measured {ratio:.2f}x on medians; {best_ratio:.2f}x on the best of {REPEATS})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
