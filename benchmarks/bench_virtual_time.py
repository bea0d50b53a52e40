"""Virtual time: simulated seconds per wall-clock second.

    python benchmarks/bench_virtual_time.py

1,000 tasks each sleep 100 random intervals (uniform between 1 s and 10 simulated
minutes, from one seeded generator) on :class:`funcpipe_async.Simulation`: 100,000 timer
events.  Prints the simulated span, the wall time, simulated seconds per wall second, and
timer events per wall second (the figure that does not depend on how long the sleeps are).
Target: at least 10,000 simulated seconds per wall second (PASS/FAIL line).  Each repeat also
runs the same intervals on trio with ``MockClock(autojump_threshold=0)`` (trio is a
benchmark-only dependency): target ``Simulation`` at least 4x faster, best of 3 each.

Correctness check (exit 1 if it fails): the simulation must end exactly when the slowest
task's last sleep ends — ``max over tasks of sum(intervals)`` — and every run with the same
seed must give the same simulated span.  Each run is timed from ``Simulation.run`` start to
return (loop creation included; drawing the random intervals is not), best of 3.
"""

from __future__ import annotations

import asyncio
import gc
import math
import sys
import time

from _common import load_average

from funcpipe_async import Simulation

TASKS = 1_000
SLEEPS = 100
LOW, HIGH = 1.0, 600.0
REPEATS = 3
TARGET_VS_TRIO = 4.0


async def sleeper(intervals: list[float]) -> None:
    for interval in intervals:
        await asyncio.sleep(interval)


async def scenario(plans: list[list[float]]) -> None:
    await asyncio.gather(*(sleeper(p) for p in plans))


def run_trio(plans: list[list[float]]) -> tuple[float, float]:
    """The same sleeps on trio with ``MockClock(autojump_threshold=0)``: (wall s, simulated span)."""
    import trio
    import trio.testing

    async def trio_sleeper(intervals: list[float]) -> None:
        for interval in intervals:
            await trio.sleep(interval)

    async def trio_scenario() -> float:
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for p in plans:
                nursery.start_soon(trio_sleeper, p)
        return trio.current_time() - start

    clock = trio.testing.MockClock(autojump_threshold=0)
    started = time.perf_counter()
    span = trio.run(trio_scenario, clock=clock)
    return time.perf_counter() - started, span


def main() -> int:
    print(f"{TASKS:,} tasks x {SLEEPS} sleeps of U({LOW:g} s, {HIGH:g} s) = {TASKS * SLEEPS:,} timer events")
    walls: list[float] = []
    spans: set[float] = set()
    expected = 0.0
    trio_walls: list[float] = []
    trio_spans: list[float] = []
    for _ in range(REPEATS):  # interleaved: Simulation, then trio, on the same intervals
        sim = Simulation(seed=2026, limit=10 * SLEEPS * HIGH)
        plans = [[sim.rng.uniform(LOW, HIGH) for _ in range(SLEEPS)] for _ in range(TASKS)]
        expected = max(math.fsum(p) for p in plans)
        gc.collect()
        started = time.perf_counter()
        sim.run(scenario(plans))
        walls.append(time.perf_counter() - started)
        spans.add(sim.now)
        gc.collect()
        trio_wall, trio_span = run_trio(plans)
        trio_walls.append(trio_wall)
        trio_spans.append(trio_span)
    simulated = spans.pop() if len(spans) == 1 else math.nan
    wall = min(walls)
    print(f"simulated span          {simulated:,.0f} s ({simulated / 3600:.1f} simulated hours)")
    print(f"wall time               best {wall:.3f} s, worst {max(walls):.3f} s (of {REPEATS})")
    print(f"simulated s / wall s    {simulated / wall:,.0f}")
    print(f"timer events / wall s   {TASKS * SLEEPS / wall:,.0f}")
    trio_wall = min(trio_walls)
    versus = trio_wall / wall
    print(
        f"trio MockClock          best {trio_wall:.3f} s, worst {max(trio_walls):.3f} s (of {REPEATS}); "
        f"Simulation is {versus:.2f}x faster (best of each)"
    )
    print(f"load average            {load_average()}")
    if spans or not math.isclose(simulated, expected, rel_tol=0, abs_tol=1e-6):
        print(f"WRONG: simulated span {simulated!r} differs between runs or from the expected {expected!r}")
        return 1
    if any(not math.isclose(span, expected, rel_tol=1e-9) for span in trio_spans):
        print(f"WRONG: trio's simulated span {trio_spans!r} differs from the expected {expected!r}")
        return 1
    ratio = simulated / wall
    print(f"{'PASS' if ratio >= 10_000 else 'FAIL'}: {ratio:,.0f} simulated s per wall s (target >= 10,000)")
    print(
        f"{'PASS' if versus >= TARGET_VS_TRIO else 'FAIL'}: Simulation {versus:.2f}x faster than trio's "
        f"MockClock on the same sleeps (target >= {TARGET_VS_TRIO:g}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
