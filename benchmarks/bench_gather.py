"""Benchmark: ``async_gather(plans, concurrency=64)`` against the semaphore + ``asyncio.gather`` idiom.

What it measures
----------------
Both sides drive the *same* 20,000 plan objects, built once with ``async_lift``; each plan
suspends exactly once (``await asyncio.sleep(0)``) and returns ``Ok(i)``.  Both sides run
each plan with ``await p()``, so only the scheduling strategy differs:

* **async_gather** — ``await async_gather(plans, concurrency=64)()``: a pool of 64 worker
  tasks pulling plans in input order (``funcpipe_async/gather.py``);
* **idiom** — ``await asyncio.gather(*(guarded(p) for p in plans))`` where ``guarded``
  holds an ``asyncio.Semaphore(64)`` around ``await p()``: one task per plan;
* **pool** — the floor: a hand-written pool of 64 workers sharing an index, each awaiting
  ``_step(i)`` directly, with no plan objects; ``async_gather`` minus this is the plans' cost.

Fairness: every timed measurement runs in a *fresh* event loop (its own ``asyncio.run``);
only the ``await`` of the side under test is inside the ``time.perf_counter`` window (loop
creation and teardown are not).  ``gc.collect()`` runs before each measurement and the
garbage collector stays enabled during it (collecting the idiom's 20,000 tasks is part of
its real cost).  The two sides are interleaved A/B, B/A, A/B, … so drift (CPU frequency,
other load) hits both equally; the figure reported is the median of ``REPEATS`` runs.
Every run's result is checked: both sides must produce ``Ok([0, 1, …, 19999])``.

Peak tasks alive are measured in separate, untimed runs (sampling costs time): the plans
call ``len(asyncio.all_tasks()) - 1`` (minus the driver task) after their suspension.
``async_gather`` is sampled in every plan; the idiom in every 100th plan, because
``all_tasks()`` walks every live task (20,000 of them), which would make sampling every plan
take minutes — its peak is reached at the first sample anyway, since ``asyncio.gather``
creates all 20,000 tasks before any of them runs.

Targets: async_gather's median time at most 0.5x the idiom's and at most 1.2x the pool's, and
peak tasks alive <= 64.
The script reports PASS/FAIL for each but exits 0 whatever the timings; it exits 1 only if
the two sides compute different results.

Run it with ``make bench`` or ``.venv/bin/python benchmarks/bench_gather.py``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from _common import load_average

from funcpipe_async import AsyncPlan, Err, ErrInfo, Ok, Result, async_gather, async_lift

N_PLANS = 20_000
CONCURRENCY = 64
REPEATS = 7
PROBE_STRIDE_IDIOM = 100
TARGET_RATIO = 0.5
TARGET_POOL_RATIO = 1.2

Side = Callable[[Sequence[AsyncPlan[int]]], Coroutine[Any, Any, Result[list[int], ErrInfo]]]


# --- the workload -----------------------------------------------------------------------


async def _step(i: int) -> Result[int, ErrInfo]:
    await asyncio.sleep(0)  # suspend exactly once
    return Ok(i)


def make_plans(n: int) -> list[AsyncPlan[int]]:
    """``n`` replayable plans; plan ``i`` suspends once and returns ``Ok(i)``."""
    return [async_lift(partial(_step, i)) for i in range(n)]


def make_probed_plans(n: int, stride: int, samples: list[int]) -> list[AsyncPlan[int]]:
    """Like :func:`make_plans`, but every ``stride``-th plan records the tasks alive (minus the driver)."""

    async def probed(i: int) -> Result[int, ErrInfo]:
        await asyncio.sleep(0)
        if i % stride == 0:
            samples.append(len(asyncio.all_tasks()) - 1)
        return Ok(i)

    return [async_lift(partial(probed, i)) for i in range(n)]


# --- the two sides ----------------------------------------------------------------------


async def run_async_gather(plans: Sequence[AsyncPlan[int]]) -> Result[list[int], ErrInfo]:
    return await async_gather(plans, concurrency=CONCURRENCY)()


async def run_idiom(plans: Sequence[AsyncPlan[int]]) -> Result[list[int], ErrInfo]:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def guarded(p: AsyncPlan[int]) -> Result[int, ErrInfo]:
        async with sem:
            return await p()

    results = await asyncio.gather(*(guarded(p) for p in plans))
    # Fold to the same shape as async_gather's result (the first Err, else Ok of the values).
    values: list[int] = []
    for r in results:
        if isinstance(r, Err):
            return r
        values.append(r.value)
    return Ok(values)


async def run_pool(plans: Sequence[AsyncPlan[int]]) -> Result[list[int], ErrInfo]:
    """The floor: a hand-written pool of 64 workers awaiting ``_step(i)`` directly (no plans)."""
    count = len(plans)
    values: list[int] = [0] * count
    next_index = 0
    failed: list[Err[ErrInfo]] = []

    async def worker() -> None:
        nonlocal next_index
        while next_index < count and not failed:
            index = next_index
            next_index += 1
            result = await _step(index)
            if isinstance(result, Err):
                failed.append(result)
                return
            values[index] = result.value

    await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, count))))
    return failed[0] if failed else Ok(values)


SIDES: dict[str, Side] = {"async_gather": run_async_gather, "idiom": run_idiom, "pool": run_pool}


# --- measurement ------------------------------------------------------------------------


def timed_run(side: Side, plans: Sequence[AsyncPlan[int]]) -> tuple[float, Result[list[int], ErrInfo]]:
    """Drive ``side`` once in a fresh event loop; time only the ``await`` of the side."""

    async def main() -> tuple[float, Result[list[int], ErrInfo]]:
        start = time.perf_counter()
        result = await side(plans)
        return time.perf_counter() - start, result

    gc.collect()
    return asyncio.run(main())


def peak_tasks(side: Side, stride: int) -> tuple[int, int]:
    """(peak tasks alive minus the driver, number of samples) over one untimed run."""
    samples: list[int] = []
    plans = make_probed_plans(N_PLANS, stride, samples)
    gc.collect()
    result = asyncio.run(side(plans))
    if result != Ok(list(range(N_PLANS))):
        raise SystemExit(f"probe run gave a wrong result: {str(result)[:80]}")
    return max(samples), len(samples)


def main() -> int:
    print(
        f"bench_gather: {N_PLANS:,} plans, each suspends once; concurrency={CONCURRENCY}; "
        f"{REPEATS} interleaved repeats, fresh event loop per run"
    )
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"load average before: {load_average()} (other processes skew timings; compare ratios)")
    plans = make_plans(N_PLANS)
    expected: Result[list[int], ErrInfo] = Ok(list(range(N_PLANS)))

    # One untimed warm-up of each side (imports, code caches, allocator arenas).
    for side in SIDES.values():
        timed_run(side, plans)

    times: dict[str, list[float]] = {name: [] for name in SIDES}
    mismatch = False
    for rep in range(REPEATS):
        order = list(SIDES) if rep % 2 == 0 else list(reversed(SIDES))
        outcomes: dict[str, Result[list[int], ErrInfo]] = {}
        for name in order:
            elapsed, result = timed_run(SIDES[name], plans)
            times[name].append(elapsed)
            outcomes[name] = result
        if any(outcome != expected for outcome in outcomes.values()):
            mismatch = True
            print(
                f"repeat {rep}: RESULTS DIFFER: async_gather={str(outcomes['async_gather'])[:60]} "
                f"idiom={str(outcomes['idiom'])[:60]} pool={str(outcomes['pool'])[:60]}",
                file=sys.stderr,
            )

    peaks = {
        "async_gather": peak_tasks(run_async_gather, 1),
        "idiom": peak_tasks(run_idiom, PROBE_STRIDE_IDIOM),
    }

    med = {name: statistics.median(ts) for name, ts in times.items()}
    ratio = med["async_gather"] / med["idiom"]
    print()
    print(f"{'side':<14}{'median s':>10}{'min s':>9}{'max s':>9}{'µs/plan':>9}{'peak tasks':>12}{'samples':>9}")
    for name in SIDES:
        ts = times[name]
        peak, n_samples = peaks.get(name, (CONCURRENCY, 0))
        print(
            f"{name:<14}{med[name]:>10.4f}{min(ts):>9.4f}{max(ts):>9.4f}"
            f"{med[name] / N_PLANS * 1e6:>9.2f}{peak:>12,}{n_samples:>9,}"
        )
    print(f"ratio async_gather/idiom (medians): {ratio:.3f}")
    pool_ratio = med["async_gather"] / med["pool"]
    print(
        f"ratio async_gather/pool (medians): {pool_ratio:.3f} "
        f"(plan overhead {(med['async_gather'] - med['pool']) / N_PLANS * 1e6:.2f} µs/plan)"
    )
    print("all runs: " + ("results DIFFER" if mismatch else f"both sides returned Ok([0..{N_PLANS - 1}])"))
    print()
    time_ok = ratio <= TARGET_RATIO
    tasks_ok = peaks["async_gather"][0] <= CONCURRENCY
    best_ratio = min(times["async_gather"]) / min(times["idiom"])
    print(
        f"{'PASS' if time_ok else 'FAIL'}: async_gather at most {TARGET_RATIO}x the idiom's time "
        f"(measured {ratio:.3f}x on medians; {best_ratio:.3f}x on the best of {REPEATS})"
    )
    print(
        f"{'PASS' if tasks_ok else 'FAIL'}: async_gather peak tasks <= {CONCURRENCY} "
        f"(measured {peaks['async_gather'][0]}; idiom {peaks['idiom'][0]:,})"
    )
    print(
        f"{'PASS' if pool_ratio <= TARGET_POOL_RATIO else 'FAIL'}: async_gather at most "
        f"{TARGET_POOL_RATIO}x the hand-written pool's time (measured {pool_ratio:.3f}x on medians; "
        f"{min(times['async_gather']) / min(times['pool']):.3f}x on the best of {REPEATS})"
    )
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
