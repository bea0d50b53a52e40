"""Deterministic traces that several test files draw or summarise: the unit tests of a plotting
helper check its text twin and artists, and ``test_figure_baselines.py`` pins its pixels, on the
same scenario."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from funcpipe_async import (
    CONSUME,
    ConstantBackoff,
    Err,
    ErrInfo,
    ExponentialBackoff,
    FakeHttp,
    Ok,
    Result,
    RetryBudget,
    RetryPolicy,
    ScriptedService,
    Simulation,
    Trace,
    async_bind,
    async_fail,
    async_gather,
    async_lift,
    async_retry,
    run_sync,
    stream_from,
)
from funcpipe_async.plan import AsyncPlan

UNAVAILABLE = ErrInfo("UNAVAILABLE", "503", retryable=True)


def fetch_then_failing_save() -> Trace:
    """Lesson 01's drive timeline (logical clock, one tick per event):

    t=0 describe fetch · t=1 describe save · t=2 drive · t=3 start fetch · t=4 effect GET /a
    t=5 finish fetch (Ok) · t=6 start save · t=7 finish save (Err DISK_FULL) · t=8 done
    """
    trace = Trace()
    http = FakeHttp({"/a": {"n": 1}}, trace=trace)
    fetch = trace.step("fetch", async_lift(lambda: http.get_json("/a")))
    save = trace.step("save", async_fail(ErrInfo("DISK_FULL")))
    run_sync(async_bind(fetch, lambda _: save), trace=trace)
    return trace


def scripted(results: list[Result[str, ErrInfo]], work: list[float]) -> AsyncPlan[str]:
    """A call whose n-th run takes ``work[n]`` virtual seconds and returns ``results[n]`` (the
    last of each repeats)."""
    calls: list[int] = []

    async def call() -> Result[str, ErrInfo]:
        calls.append(1)
        await asyncio.sleep(work[min(len(calls), len(work)) - 1])
        return results[min(len(calls), len(results)) - 1]

    return async_lift(call)


def flaky_and_slow() -> Trace:
    """Lesson 04's attempt timeline.  ``flaky``: Err at 0–1, wait 1, Ok at 2–3.  ``slow``: each
    attempt times out after 2 s, with 1 s between, until the 6.5 s deadline cancels attempt 3."""
    sim = Simulation()
    flaky = async_retry(
        scripted([Err(UNAVAILABLE), Ok("a")], [1.0]),
        RetryPolicy(max_attempts=3, backoff=ConstantBackoff(1)),
        trace=sim.trace,
        name="flaky",
    )
    slow = async_retry(
        scripted([Ok("b")], [50.0]),
        RetryPolicy(max_attempts=5, backoff=ConstantBackoff(1), attempt_timeout=2, deadline=6.5),
        trace=sim.trace,
        name="slow",
    )
    sim.run(async_gather([flaky, slow], concurrency=2))
    return sim.trace


def producer_and_consumer(produce: float = 1.0, consume: float = 3.0, n: int = 3) -> Trace:
    """Lesson 02's stream figure: a source yielding every ``produce`` s, a consumer taking
    ``consume`` s per item, ``n`` items taken."""
    sim = Simulation()

    async def numbers() -> AsyncGenerator[int, None]:
        i = 0
        while True:
            await asyncio.sleep(produce)
            yield i
            i += 1

    def handle(x: int) -> AsyncPlan[None]:
        async def do() -> Result[None, ErrInfo]:
            await asyncio.sleep(consume)
            sim.trace.record(CONSUME, "consumer", item=x)
            return Ok(None)

        return async_lift(do)

    assert sim.run(stream_from(numbers).traced(sim.trace).take(n).for_each(handle)) == Ok(n)
    return sim.trace


def retry_storm(callers: int = 20) -> dict[str, list[float]]:
    """Lesson 04's retry storm, small: ``callers`` calls at t=0 against a dependency that is
    down (each request 0.1 s), 4 attempts each with exponential backoff 1, 2, 4 s — without
    jitter, with full jitter, and with full jitter plus a shared ``RetryBudget(0.1, reserve=2)``
    (seed 0).  The times at which requests reached the dependency, per run."""

    def run(policy: RetryPolicy, budget: RetryBudget | None) -> list[float]:
        sim, down = Simulation(seed=0), ScriptedService([Err(UNAVAILABLE)], latency=0.1)
        plan = async_retry(async_lift(down.call), policy, rng=sim.rng, budget=budget)
        sim.run(_all(plan, callers))
        return down.calls

    policy = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(1, 2, cap=30))
    jittered = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(1, 2, cap=30), jitter="full")
    return {
        "no jitter, no budget": run(policy, None),
        "full jitter": run(jittered, None),
        "full jitter + retry budget": run(jittered, RetryBudget(ratio=0.1, reserve=2)),
    }


async def _all(plan: AsyncPlan[object], n: int) -> list[Result[object, ErrInfo]]:
    return list(await asyncio.gather(*(plan() for _ in range(n))))
