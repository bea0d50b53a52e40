"""Benchmark: a bounded ``pipeline`` against a hand-written ``asyncio.Queue`` pipeline of the same shape.

What it measures
----------------
Shape (both sides): source → queue(8) → stage A (2 workers) → queue(8) → stage B (2 workers)
→ queue(8) → stage C (2 workers) → count.  Every stage does the same trivial async work per
item: ``await asyncio.sleep(0)`` (one suspension) and ``Ok(x + 1)``.  Overflow is
``suspend`` (the only strategy an ``asyncio.Queue`` has).

* **pipeline** — ``pipeline(range(n), stages, collect=False)`` from
  ``funcpipe_async.pipelines``; each step is the Kleisli arrow ``lambda x: partial(work, x)``
  (a zero-argument function returning a fresh coroutine *is* an ``AsyncPlan``), so both sides
  pay the same per-item work and only the queues, workers and end-of-stream differ; no probe;
* **pipeline, async_lift** (reported, not targeted) — the same with
  ``lambda x: async_lift(partial(work, x))``: it adds ``async_lift``'s argument checks and a
  plan node per item per stage, which is the cost of ``plan.py``, not of the pipeline.
* **hand-written** — ``asyncio.Queue(8)`` between stages, ``create_task`` per worker, one
  sentinel per worker for end of stream, ``await work(x)`` directly.

Real event loop (``asyncio.run``), not virtual time.  Each side runs ``REPEATS`` times,
interleaved, a fresh loop per run, ``gc.collect()`` before each; the figure is the **best**
of the repeats.  Memory: ``tracemalloc`` peak of the pipeline side (untimed runs) at
``N`` and ``10 × N`` items; bounded queues and ``collect=False`` must keep it flat.

Targets: throughput ratio pipeline / hand-written ≥ 0.8; peak memory at 10 × N within 10 %
of the peak at N.  Prints PASS/FAIL per target; exits 1 only if the sides disagree on the count.

Fold: ``stream_of(range(n)).map(f).fold(0, add)`` (the stream built inside the timed window)
against the same source and map written as plain async generators; median of 7, interleaved;
target ``Stream.fold`` at most 1.1x their time.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py`` (``--quick`` for 20k/200k items,
``--fold`` for the fold comparison alone).
"""

from __future__ import annotations

import asyncio
import gc
import operator
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from functools import partial

from _common import load_average

from funcpipe_async import Ok, async_lift, stream_of
from funcpipe_async.pipelines import Stage, pipeline
from funcpipe_async.queues import QueuePolicy

N = 100_000
BIG = 1_000_000
CAPACITY = 8
WORKERS = 2
STAGES = 3
REPEATS = 3
TARGET_RATIO = 0.8
TARGET_MEMORY = 0.10


async def work(x: int) -> Ok[int]:
    await asyncio.sleep(0)
    return Ok(x + 1)


def _step(x: int):  # type: ignore[no-untyped-def]
    return partial(work, x)


def _lifted_step(x: int):  # type: ignore[no-untyped-def]
    return async_lift(partial(work, x))


def make_pipeline(n: int, step=_step):  # type: ignore[no-untyped-def]
    stages = [Stage(f"s{i}", step, workers=WORKERS, queue=QueuePolicy(CAPACITY)) for i in range(STAGES)]
    return pipeline(range(n), stages, collect=False)


async def run_pipeline(n: int) -> int:
    result = await make_pipeline(n)()
    assert isinstance(result, Ok), result
    return result.value.items_out


async def run_pipeline_lifted(n: int) -> int:
    result = await make_pipeline(n, _lifted_step)()
    assert isinstance(result, Ok), result
    return result.value.items_out


async def run_hand_written(n: int) -> int:
    queues: list[asyncio.Queue[int | None]] = [asyncio.Queue(CAPACITY) for _ in range(STAGES)]
    out = [0]

    async def source() -> None:
        for i in range(n):
            await queues[0].put(i)
        for _ in range(WORKERS):
            await queues[0].put(None)

    async def worker(i: int, finished: list[int]) -> None:
        q = queues[i]
        nxt = queues[i + 1] if i + 1 < STAGES else None
        while True:
            x = await q.get()
            if x is None:
                break
            r = await work(x)
            if nxt is None:
                out[0] += 1
            else:
                await nxt.put(r.value)
        finished[0] += 1
        if finished[0] == WORKERS and nxt is not None:  # last worker out: end the next stream
            for _ in range(WORKERS):
                await nxt.put(None)

    tasks = [asyncio.create_task(source())]
    for i in range(STAGES):
        finished = [0]
        tasks.extend(asyncio.create_task(worker(i, finished)) for _ in range(WORKERS))
    await asyncio.gather(*tasks)
    return out[0]


SIDES = {"pipeline": run_pipeline, "hand-written": run_hand_written, "pipeline, async_lift": run_pipeline_lifted}


def timed(name: str, n: int) -> tuple[float, int]:
    async def main() -> tuple[float, int]:
        start = time.perf_counter()
        count = await SIDES[name](n)
        return time.perf_counter() - start, count

    gc.collect()
    return asyncio.run(main())


def peak_memory(n: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        count = asyncio.run(run_pipeline(n))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n, count
    return peak


# --- Stream.fold against plain async generators -------------------------------------------

FOLD_N = 1_000_000
FOLD_REPEATS = 7
TARGET_FOLD = 1.1


def _double(x: int) -> int:
    return 2 * x


async def run_stream_fold(n: int) -> int:
    result = await stream_of(range(n)).map(_double).fold(0, operator.add)()
    return result.value  # type: ignore[no-any-return]


async def run_plain_generators(n: int) -> int:
    async def numbers(items: range) -> AsyncIterator[int]:
        for x in items:
            yield x

    async def mapped(f: Callable[[int], int], items: AsyncIterator[int]) -> AsyncIterator[int]:
        async for x in items:
            yield f(x)

    acc = 0
    async for x in mapped(_double, numbers(range(n))):
        acc = operator.add(acc, x)
    return acc


FOLD_SIDES = {"Stream.fold": run_stream_fold, "plain async generators": run_plain_generators}


def timed_fold(name: str, n: int) -> tuple[float, int]:
    async def main() -> tuple[float, int]:
        start = time.perf_counter()
        total = await FOLD_SIDES[name](n)
        return time.perf_counter() - start, total

    gc.collect()
    return asyncio.run(main())


def fold_benchmark(n: int) -> tuple[bool, bool]:
    """``stream_of(range(n)).map(double).fold(0, add)`` against the same two async generators
    written by hand; the stream is built inside the timed window (building it is part of its
    cost).  Returns (target met, totals agree)."""
    print(
        f"fold: {n:,} items, source → map → fold; {FOLD_REPEATS} interleaved repeats, median, "
        f"load average {load_average()}"
    )
    for name in FOLD_SIDES:
        timed_fold(name, 2_000)
    times: dict[str, list[float]] = {name: [] for name in FOLD_SIDES}
    right = True
    expected = n * (n - 1)
    for rep in range(FOLD_REPEATS):
        order = list(FOLD_SIDES) if rep % 2 == 0 else list(reversed(FOLD_SIDES))
        for name in order:
            elapsed, total = timed_fold(name, n)
            times[name].append(elapsed)
            right = right and total == expected
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name in FOLD_SIDES:
        print(
            f"  {name:<24}{med[name]:>8.3f} s median, {min(times[name]):.3f} best ({med[name] / n * 1e9:,.0f} ns/item)"
        )
    ratio = med["Stream.fold"] / med["plain async generators"]
    print(
        f"  ratio Stream.fold / plain (medians): {ratio:.3f}; best of each: "
        f"{min(times['Stream.fold']) / min(times['plain async generators']):.3f}"
    )
    return ratio <= TARGET_FOLD, right


def main() -> int:
    if "--fold" in sys.argv:  # only the fold comparison
        ok, right = fold_benchmark(FOLD_N)
        print(f"{'PASS' if ok else 'FAIL'}: Stream.fold at most {TARGET_FOLD}x plain async generators")
        return 0 if right else 1
    n, big = (20_000, 200_000) if "--quick" in sys.argv else (N, BIG)
    print(
        f"bench_pipeline: {n:,} items through {STAGES} stages × {WORKERS} workers, queues of {CAPACITY}, "
        f"suspend; best of {REPEATS}, real event loop"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"load average {load_average()}"
    )
    for name in SIDES:  # warm-up
        timed(name, 2_000)
    times: dict[str, list[float]] = {name: [] for name in SIDES}
    wrong = False
    for rep in range(REPEATS):
        order = list(SIDES) if rep % 2 == 0 else list(reversed(SIDES))
        for name in order:
            elapsed, count = timed(name, n)
            times[name].append(elapsed)
            if count != n:
                wrong = True
                print(f"{name}: {count} items out, expected {n}", file=sys.stderr)
    best = {name: min(ts) for name, ts in times.items()}
    ratio = best["hand-written"] / best["pipeline"]  # throughput ratio = inverse time ratio
    print()
    print(f"{'side':<22}{'best s':>9}{'max s':>9}{'items/s':>12}")
    for name in SIDES:
        print(f"{name:<22}{best[name]:>9.3f}{max(times[name]):>9.3f}{n / best[name]:>12,.0f}")
    print(
        f"throughput ratio pipeline / hand-written: {ratio:.3f} "
        f"(with async_lift steps: {best['hand-written'] / best['pipeline, async_lift']:.3f}, not targeted)"
    )
    small, large = peak_memory(n), peak_memory(big)
    growth = large / small - 1
    print(
        f"pipeline peak memory (tracemalloc): {small / 1024:,.1f} KiB at {n:,} items, "
        f"{large / 1024:,.1f} KiB at {big:,} items ({growth:+.1%})"
    )
    print()
    ok_ratio = ratio >= TARGET_RATIO
    ok_memory = abs(growth) <= TARGET_MEMORY
    print(f"{'PASS' if ok_ratio else 'FAIL'}: throughput ratio >= {TARGET_RATIO} (measured {ratio:.3f})")
    print(
        f"{'PASS' if ok_memory else 'FAIL'}: memory at {big:,} within {TARGET_MEMORY:.0%} of {n:,} "
        f"(measured {growth:+.1%})"
    )
    print()
    ok_fold, right_fold = fold_benchmark(FOLD_N // 10 if "--quick" in sys.argv else FOLD_N)
    print(f"{'PASS' if ok_fold else 'FAIL'}: Stream.fold at most {TARGET_FOLD}x plain async generators")
    if not right_fold:
        print("FAIL: the fold sides disagree on the total")
    if wrong:
        print("FAIL: a side lost items")
    return 1 if wrong or not right_fold else 0  # a missed target is reported above; only a wrong count fails the script


if __name__ == "__main__":
    sys.exit(main())
