"""Benchmark: one move of lesson 03's backpressure slider — re-simulate on virtual time and redraw.

What it measures
----------------
A slider move calls ``redraw_backpressure_png(producer_rate, consumer_rate, capacity,
strategy)``: a fresh ``Simulation`` of 60 virtual seconds (Poisson arrivals, exponential
service, the probe attached), the figure, and its PNG — exactly what the widget's callback
does, minus sending the bytes to the browser.  ``MOVES`` moves sweep every slider across its
range and cycle through every strategy (the heaviest settings included: a 12/s producer into
a 0.5/s consumer with an unbounded queue).  Each move is timed on the wall clock, after one
untimed warm-up move (font cache, imports).  The CPU time of each move
(``time.process_time``) is printed beside it: on a shared machine the wall time also holds the
time other processes had the CPU, and the load average is printed before and after.

Target: every move (the **max** wall time, not just the median) under 250 ms.  Prints PASS/FAIL; exits 1 only when a redraw is wrong.

Run: ``.venv/bin/python benchmarks/bench_backpressure_slider.py``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

from _common import load_average

from funcpipe_async.demos.backpressure import STRATEGIES, redraw_backpressure_png

MOVES = 20
TARGET_MS = 250.0


def moves() -> list[tuple[float, float, int, str]]:
    """``MOVES`` settings sweeping producer 0.5→12/s, consumer 12→0.5/s, capacity 1→50, every strategy."""
    out = []
    for k in range(MOVES):
        f = k / (MOVES - 1)
        out.append(
            (0.5 + round(f * 23) / 2, 12 - round(f * 23) / 2, 1 + round(f * 49), STRATEGIES[k % len(STRATEGIES)])
        )
    return out


def main() -> int:
    print(f"bench_backpressure_slider: {MOVES} slider moves (re-simulate 60 virtual s + draw + PNG)")
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"load average {load_average()}"
    )
    redraw_backpressure_png(6, 5, 10, "suspend")  # warm-up
    rows = []
    for producer, consumer, capacity, strategy in moves():
        start, cpu = time.perf_counter(), time.process_time()
        png, summary = redraw_backpressure_png(producer, consumer, capacity, strategy)
        elapsed = (time.perf_counter() - start) * 1000
        cpu_ms = (time.process_time() - cpu) * 1000
        if not (png.startswith(b"\x89PNG") and summary):
            print(f"WRONG: the move {producer, consumer, capacity, strategy} did not give a PNG and a summary")
            return 1
        rows.append((producer, consumer, capacity, strategy, cpu_ms, elapsed))
    print()
    print(f"{'producer/s':>10}{'consumer/s':>11}{'capacity':>9}  {'strategy':<12}{'cpu ms':>8}{'wall ms':>9}")
    for producer, consumer, capacity, strategy, cpu_ms, ms in rows:
        print(f"{producer:>10g}{consumer:>11g}{capacity:>9}  {strategy:<12}{cpu_ms:>8.1f}{ms:>9.1f}")
    times = [r[-1] for r in rows]
    cpus = [r[-2] for r in rows]
    median, worst = statistics.median(times), max(times)
    print(
        f"wall: median {median:.1f} ms, max {worst:.1f} ms; "
        f"cpu: median {statistics.median(cpus):.1f} ms, max {max(cpus):.1f} ms"
    )
    print(f"load average after: {load_average()}")
    ok = worst < TARGET_MS
    print(f"{'PASS' if ok else 'FAIL'}: every move under {TARGET_MS:g} ms (max {worst:.1f} ms)")
    return 0  # a missed target is reported above; only a wrong redraw fails the script


if __name__ == "__main__":
    sys.exit(main())
