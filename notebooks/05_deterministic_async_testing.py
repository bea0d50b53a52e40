# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 04 Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb) · [Contents](00_module_overview.ipynb) · [06 Rate Limiting and Fairness →](06_rate_limiting_and_fairness.ipynb)
#
# # 05 · Deterministic Async Testing
#
# A realistic retry policy waits *minutes* before it gives up. How do you test it without waiting
# minutes, and without a test that passes on your laptop and fails on a busy CI machine? Run the
# async code on a **virtual clock**: time jumps forward whenever every task is waiting, so simulated
# minutes cost milliseconds and every run sees the same times and the same order of events.
#
# **What you'll do**
# - Run the same plain-asyncio retry test on the wall clock and on virtual time, side by side.
# - Replay an interleaving event for event, prove retry timing with Hypothesis, and turn a deadlock
#   into a clear error.
# - Watch a wall-clock assertion and a leaked task fail live, then fix them — the second with
#   `asyncio.TaskGroup`.
#
# **What you'll learn**
# - How a virtual clock works (trio's `MockClock(autojump_threshold=0)`, done for asyncio), and what
#   it cannot see.
# - `Simulation`, `DeadlockError`, `LeftoverTasksError`; which clock and which test double to use.
#
# **What you'll need**
# - Lessons 01 (plans, `perform_async`) and 04 (`RetryPolicy`, `async_retry`, `delay_schedule`).
# - About 45 minutes. Run the cells top to bottom.

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["05 Deterministic Async Testing"]
#   concept --> capstone["Capstone pressure point: lesson 12, async RAG pipeline"]
# ```
#
# Read it with the working rhythm of [lesson 01](01_async_await_as_descriptions.ipynb#Place-this-lesson).
#
# **Core question.** How do you test async code whose behaviour depends on *time* and on the *order*
# tasks run in, so that every run gives the same answer, fast, and a failure can be replayed exactly?
#
# **Why it matters.** Tested on the wall clock, timing code is slow (a retry waits minutes) and flaky
# (the test measures the machine). Patching the sleeps away makes it fast but meaningless: timeouts
# stop firing. A virtual clock keeps what time *means* and drops what it *costs*. Plans only
# *describe* waiting (lesson 01); a test is a shell that chooses the clock.
#
# **The review question to carry:** *in this test, which clock does time come from, where does
# randomness come from, and what is still running when it ends?*

# %% [markdown]
# ## Set up

# %%
import asyncio
import time

from hypothesis import given, strategies as st

from funcpipe_async import (
    HANG, ConstantBackoff, DeadlockError, ErrInfo, ExponentialBackoff, LeftoverTasksError, Ok,
    RetryPolicy, ScriptedService, Simulation, Trace, lesson_answer_key, api_summary, async_gather,
    async_lift, async_retry, attempt_timeline_summary, delay_schedule, format_table, perform_async,
    plot_attempt_timeline, lesson_quiz, schedule_table, setup, show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live here, and in `tests/test_virtual_time.py`) |
# |---|---|---|---|
# | clock law | exact wake-ups | a sleep of `d` begun at `t` wakes at exactly `t + d`; time never goes back | [Run the same test on both clocks](#Run-the-same-retry-test-on-both-clocks); Hypothesis in [further/05](further/05_deterministic_async_testing.ipynb) |
# | clock law | time moves only when every task waits | a CPU-bound or blocking step takes zero virtual time | [anti-pattern 1](#Anti-pattern-1:-asserting-wall-clock-durations) |
# | invariant | same seed → same trace | two runs with the same seed record equal `trace.events` | [Replay an interleaving exactly](#Replay-an-interleaving-exactly) |
# | invariant | a deadlock is an error, never a hang | nothing ready, no timer → `DeadlockError` naming every waiting task | [Catch a deadlock](#Catch-a-deadlock) |
# | invariant | no task left behind, silently | a task still running when `main` returns is cancelled *and reported*: `LeftoverTasksError` | [anti-pattern 2](#Anti-pattern-2:-a-task-that-outlives-its-test) |
#
# ## Choose the clock and the test double
#
# | test | clock | double |
# |---|---|---|
# | timing logic: retry, backoff, timeout, rate limit; property tests over many schedules | **virtual** (`Simulation`), seeded | a scripted fake (`ScriptedService`, `FakeHttp`): programmed answers, a call log |
# | a few integration tests against real services (lesson 08) | **wall clock**, generous timeouts; assert outcomes, not durations | the real service on loopback |
# | benchmarks | **wall clock**, in `benchmarks/`, never in unit tests | — |
#
# **Rules:** never assert a wall-clock duration in a unit test; never mock *time* (`asyncio.sleep`) —
# timeouts stop firing ([further/05](further/05_deterministic_async_testing.ipynb) shows it fail).

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([Simulation, Simulation.run, DeadlockError, LeftoverTasksError]))

# %% [markdown]
# ## Sleep ten minutes in no time
#
# An event loop repeats one step: run every ready callback, then wait for I/O *at most until the
# earliest timer*. On the real loop that wait **is** the passage of time, and every timing API —
# `asyncio.sleep`, `call_later`, `wait_for`, `asyncio.timeout` — is a timer on `loop.time()`.
# `Simulation` runs a normal asyncio loop whose `time()` is a `VirtualClock`; when nothing is ready,
# it **moves the clock to the earliest timer** instead of waiting. No timer at all: a deadlock.
#
# **Predict:** what does the clock say after this ten-minute nap, and how long does the cell take? Then run.

# %%
async def nap() -> str:
    await asyncio.sleep(600)                     # ten minutes
    return "rested"

started = time.perf_counter()
sim = Simulation()
print(sim.run(nap()), "| clock:", sim.clock)
assert time.perf_counter() - started < 1.0       # ten simulated minutes, no real waiting

# %% [markdown]
# `sim.run(...)` is an ordinary synchronous call (not awaited): it works in a cell, in a pytest test
# and inside Hypothesis. Each `run` on one `Simulation` continues its clock; `sim.rng` is a
# `random.Random` seeded for it alone. A tour of every timing API on this clock is in
# [further/05](further/05_deterministic_async_testing.ipynb).
#
# ## Run the same retry test on both clocks
#
# A realistic policy for a flaky upstream: six attempts, backoff from 4 s doubling to a 60 s cap,
# 30 s per attempt. Its schedule, from the policy value alone (lesson 04):

# %%
def policy_at(scale: float) -> RetryPolicy:
    """The realistic policy with every duration multiplied by `scale`."""
    return RetryPolicy(max_attempts=6, backoff=ExponentialBackoff(initial=4 * scale, factor=2, cap=60 * scale),
                       attempt_timeout=30 * scale)

print(schedule_table(policy_at(1)))

# %% [markdown]
# The service hangs on calls 1 and 3 (each cut at 30 s), answers 503 on three calls, and succeeds on
# the sixth; each answer takes 0.5 s.
#
# **Predict:** from the table, at what second does the call succeed? Then read on.
#
# The test is plain asyncio: it reads `loop.time()` — whatever clock the running loop has — and
# guards itself with `asyncio.timeout`, as any async test should. `scale` shrinks every duration.

# %%
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
SCRIPT = [HANG, UNAVAILABLE, HANG, UNAVAILABLE, UNAVAILABLE, {"user": "ada"}]

async def retry_test(scale: float) -> tuple[float, Trace]:
    loop = asyncio.get_running_loop()
    trace, service = Trace(clock=loop.time), ScriptedService(SCRIPT, latency=0.5 * scale)
    start = loop.time()
    async with asyncio.timeout(300 * scale):                # the test's own guard
        result = await perform_async(async_retry(async_lift(service.call), policy_at(scale), trace=trace))
    assert result == Ok({"user": "ada"}) and len(service.calls) == 6, (result, service.calls)
    return loop.time() - start, trace

# %% [markdown]
# On the **wall clock** — top-level `await` on the notebook's own loop, as `asyncio.run(retry_test(...))`
# would in a script — 182 s is too long, so the policy is scaled down 200×. On **virtual time** the
# real policy runs. These real durations differ per run, so this cell's output is not compared; the
# next cell checks what must hold.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: wall-clock durations differ run to run
started = time.perf_counter()
wall_span, wall_trace = await retry_test(scale=1 / 200)
wall_seconds = time.perf_counter() - started

sim, started = Simulation(), time.perf_counter()
simulated, virtual_trace = sim.run(retry_test(scale=1))
virtual_seconds = time.perf_counter() - started
print(f"wall clock, ÷200: {wall_seconds:.3f} s real | virtual: {simulated:g} s simulated in {virtual_seconds * 1000:.1f} ms")

# %%
assert [e.kind for e in wall_trace.events] == [e.kind for e in virtual_trace.events]
assert simulated == sum(delay_schedule(policy_at(1))) + 2 * 30 + 4 * 0.5 == 182.0
assert wall_seconds >= 0.9 * 182 / 200 and virtual_seconds < wall_seconds
print("same events in the same order on both clocks:", len(virtual_trace), "events")
print(f"simulated span exactly {simulated:g} s = 120 s backoff + 2 × 30 s timeouts + 4 × 0.5 s work")

# %% [markdown]
# Same test, same events, same result. The wall-clock run is compared by inequality only; the
# virtual one is exact, and simulated three minutes in less real time than the 200× shorter run.
#
# ## Replay an interleaving exactly
#
# Three clients share one flaky service that fails twice in every three calls, so *which client gets
# which answer* depends on the order their attempts land in. Their policy has full jitter drawn from
# `sim.rng` — injected, never the global `random`.
#
# **Predict:** will seed 7 twice give equal traces? Seed 7 and seed 8? Then run.

# %%
JITTERED = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, factor=2, cap=30), jitter="full")

def three_clients(seed: int) -> Simulation:
    sim = Simulation(seed=seed)
    service = ScriptedService([UNAVAILABLE, UNAVAILABLE, "ok"] * 5, latency=0.25)
    calls = [async_retry(async_lift(service.call), JITTERED, rng=sim.rng, trace=sim.trace, name=f"client {c}")
             for c in "ABC"]
    sim.run(async_gather(calls, concurrency=3))
    return sim

first, again, other = three_clients(seed=7), three_clients(seed=7), three_clients(seed=8)
print("seed 7 twice, identical trace.events:", first.trace.events == again.trace.events)
print("seed 7 vs seed 8, identical:        ", first.trace.events == other.trace.events)

# %% [markdown]
# Same seed, same trace, to the last bit of every time. In seed 8's run below, client A runs out of
# attempts: a failure you can replay forever by running seed 8 again. (Timers due at the same instant
# fire in the order they were set: [further/05](further/05_deterministic_async_testing.ipynb).)

# %%
summary = attempt_timeline_summary(other.trace)
show_figure(plot_attempt_timeline(other.trace, title="Three jittered clients, seed 8",
                                  time_label="virtual time (virtual seconds)"),
            alt="Attempt timeline of three clients sharing a flaky service, seed 8. " + summary.replace(chr(10), "; "))
print(summary)

# %% [markdown]
# ## Prove retry timing with Hypothesis
#
# `@given` cannot decorate an `async def`; the standard shape is a *sync* test that builds the
# scenario and drives it with `Simulation().run`, a fresh clock per example. The law from lesson 04:
# a service that fails `k` times, then succeeds, is called `min(k + 1, max_attempts)` times, and the
# call ends at exactly the waits it used plus the work (quarter-seconds, so `==` is exact).
#
# **Predict:** a hundred examples of up to minutes each — how long will this cell take? Then run.

# %%
policies = st.builds(
    lambda attempts, initial, factor, room: RetryPolicy(
        max_attempts=attempts, backoff=ExponentialBackoff(initial, factor, cap=initial * room)),
    st.integers(1, 8), st.sampled_from([0.25, 0.5, 1.0, 4.0]), st.sampled_from([1, 2, 3]), st.sampled_from([1, 4, 16]))
covered: list[float] = []

@given(policy=policies, failures=st.integers(0, 10), latency=st.sampled_from([0.0, 0.25, 1.0, 5.0]))
def retry_timing_law(policy: RetryPolicy, failures: int, latency: float) -> None:
    service, sim = ScriptedService([UNAVAILABLE] * failures + ["ok"], latency=latency), Simulation()
    result = sim.run(async_retry(async_lift(service.call), policy))
    attempts = min(failures + 1, policy.max_attempts)
    assert len(service.calls) == attempts and isinstance(result, Ok) == (failures < policy.max_attempts)
    assert sim.now == sum(delay_schedule(policy)[: attempts - 1]) + attempts * latency
    covered.append(sim.now)

retry_timing_law()
print(f"{len(covered)} examples passed, covering {sum(covered):,.2f} simulated seconds; longest: {max(covered):g} s")

# %% [markdown]
# ## Catch a deadlock
#
# A consumer waits on a queue that nobody fills: the producer was never started. On the real loop
# this test hangs until CI kills it. On virtual time nothing is ready and no timer is pending, so
# nothing can ever happen again.
#
# **Predict:** what does the error name? Then run.

# %%
async def producer(queue: asyncio.Queue[int]) -> None:
    for item in range(3):
        await asyncio.sleep(5)
        await queue.put(item)

async def consumer(queue: asyncio.Queue[int]) -> list[int]:
    got = []
    for _ in range(3):
        got.append(await queue.get())
    return got

async def stage(with_producer: bool) -> list[int]:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
    async with asyncio.TaskGroup() as tg:
        eaten = tg.create_task(consumer(queue), name="consumer")
        if with_producer:
            tg.create_task(producer(queue), name="producer")
    return eaten.result()

# %% tags=["raises-exception"]
Simulation().run(stage(with_producer=False))

# %% [markdown]
# The message names each task and the coroutines it waits in — no addresses, so a test can assert on
# it. The fix is to start the producer. (Loops that never end, and busy-waiting, stop with
# `SimulationLimitError`: [further/05](further/05_deterministic_async_testing.ipynb).)

# %%
sim = Simulation()
print(sim.run(stage(with_producer=True)), "at t =", sim.now)

# %% [markdown]
# ## Measure the cost of simulated time
#
# | operation | real cost | virtual-time cost |
# |---|---|---|
# | set a timer (`sleep`, `call_later`, a timeout) | O(log T) heap push, T = pending timers | none until it fires |
# | jump to the next timer | O(log T) heap pop, no sleeping | the clock moves exactly |
# | a whole run with E events | **O(E · log T)**, independent of the simulated span | — |
# | the same test on the wall clock | Θ(the span) plus the work | — |
#
# The claim: cost follows the number of events, not the time they span. Two hundred workers take ten
# seeded naps each; then every nap is 1,000× longer.
#
# **Predict:** will the second run have more events? Take longer in real time? Then run.

# %%
async def nappers(trace: Trace, plans: list[list[float]]) -> None:
    async def napper(name: str, naps: list[float]) -> None:
        for nap in naps:
            await asyncio.sleep(nap)
            trace.record("woke", name)
    async with asyncio.TaskGroup() as tg:
        for i, naps in enumerate(plans):
            tg.create_task(napper(f"t{i}", naps))

def workers(scale: float) -> Simulation:
    sim = Simulation(seed=1, limit=1e9)
    sim.run(nappers(sim.trace, [[sim.rng.randint(1, 60) * scale for _ in range(10)] for _ in range(200)]))
    return sim

runs = {scale: workers(scale) for scale in (1, 1000)}
print(format_table(["naps ×", "simulated span", "events", "distinct instants"],
      [(s, f"{r.now:,.0f} s", len(r.trace), len({e.time for e in r.trace.events})) for s, r in runs.items()]))

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: wall-clock timings differ run to run
wall = {}
for scale in (1, 1000):
    started = time.perf_counter()
    workers(scale)
    wall[scale] = time.perf_counter() - started
print({scale: f"{seconds * 1000:.1f} ms" for scale, seconds in wall.items()})

# %%
assert wall[1000] < 3 * wall[1] + 0.05, wall     # independent of the simulated span
print("a 1,000× longer simulated span did not cost 1,000× more: cost follows events, not duration")

# %% [markdown]
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | asserting wall-clock durations | passes on a quiet laptop, fails on a busy CI runner | assert simulated instants on virtual time |
# | a task that outlives its test | work leaks into the next test; its errors are lost | `asyncio.TaskGroup`; `Simulation.run` reports the leak |
# | mocking `asyncio.sleep`; the global `random` | timeouts never fire; failures never replay | virtual time; an injected seeded `rng` — both in [further/05](further/05_deterministic_async_testing.ipynb) |
#
# ### Anti-pattern 1: asserting wall-clock durations
#
# This test retries a call that fails twice (waits 0.01 s and 0.02 s) and asserts it all finishes
# within 0.1 s. On a loaded CI runner the loop gets stalled — made deterministic here with a blocking
# `time.sleep(0.05)` in each call.
#
# **Predict:** does it pass on the wall clock? On virtual time? Then run both.

# %%
QUICK = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.01, factor=2, cap=1))

async def retry_is_quick_test(stall: float) -> float:
    service = ScriptedService([UNAVAILABLE, UNAVAILABLE, "ok"])
    async def call_on_a_busy_machine():
        time.sleep(stall)                        # blocks the whole event loop
        return await service.call()
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await perform_async(async_retry(async_lift(call_on_a_busy_machine), QUICK)) == Ok("ok")
    elapsed = loop.time() - start
    assert elapsed < 0.1, "the retried call took longer than its 0.1 s budget"
    return elapsed

# %% tags=["raises-exception"]
await retry_is_quick_test(stall=0.05)            # on the wall clock: a flaky test, failing

# %% [markdown]
# On virtual time `loop.time()` is the virtual clock, so the assertion is about *simulated* time and
# passes: exactly the two waits. The blocking stalls still cost real time, but **zero virtual time** —
# the clock moves only when every task awaits. That is the virtual clock's blind spot: it cannot see
# blocking calls. Keep them out of async steps (lesson 07 uses `asyncio.to_thread`).

# %%
started = time.perf_counter()
elapsed = Simulation().run(retry_is_quick_test(stall=0.05))
assert time.perf_counter() - started >= 3 * 0.05 and elapsed == sum(delay_schedule(QUICK))
print(f"passes on virtual time: {elapsed:.2f} simulated s = the waits {delay_schedule(QUICK)}; "
      "the 3 blocking stalls took 0 virtual s")

# %% [markdown]
# ### Anti-pattern 2: a task that outlives its test
#
# This test starts a heartbeat with `asyncio.create_task` — fire and forget — and returns without
# stopping it. On a real loop it "passes", and the heartbeat keeps running into whatever runs next.
# `Simulation.run` does not tidy that away silently: when `main` returns, it cancels what is left
# (so `finally` blocks run) and fails with `LeftoverTasksError`, naming each task.
#
# **Predict:** how many beats are logged in 35 s, and what does the error name? Then run.

# %%
async def heartbeat(log: list[str]) -> None:
    try:
        while True:
            await asyncio.sleep(10)
            log.append(f"beat at t={asyncio.get_running_loop().time():g}")
    finally:
        log.append("heartbeat stopped")

async def test_with_heartbeat(log: list[str], work: float) -> str:
    asyncio.create_task(heartbeat(log), name="heartbeat")    # started, never awaited, never cancelled
    await asyncio.sleep(work)
    return "test passed"

# %% tags=["raises-exception"]
log: list[str] = []
try:
    Simulation().run(test_with_heartbeat(log, work=35))
finally:
    print(log)

# %% [markdown]
# The fix is structured concurrency: start the heartbeat in an `asyncio.TaskGroup`, which owns its
# tasks — the `async with` block does not exit until every task in it is done — and cancel it when
# the work is done. Nothing outlives the block, so there is nothing for the driver to report.

# %%
async def test_with_heartbeat_in_a_group(log: list[str], work: float) -> str:
    async with asyncio.TaskGroup() as tg:
        beat = tg.create_task(heartbeat(log), name="heartbeat")
        await asyncio.sleep(work)
        beat.cancel()                                        # the work is done: stop the heartbeat
    return "test passed"

log = []
sim = Simulation()
print(sim.run(test_with_heartbeat_in_a_group(log, work=35)), "at t =", sim.now, "| leftovers:", sim.leftovers)
print(log)

# %% [markdown]
# A `TaskGroup` also propagates a failure: if the heartbeat raised, the group would cancel the test's
# other work and raise an `ExceptionGroup`, instead of losing the error in a task nobody awaits.
#
# ## Test yourself
#
# Answer in the widget, or read the answer key below it (stored with the notebook).

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("05")

# %%
lesson_answer_key("05")

# %% [markdown]
# ## Exercise
#
# **[Exercise 05](../exercises/05_deterministic_async_testing.ipynb)** (10 points, with a *Check your
# work* cell; see [the exercises README](../exercises/README.md)): write a helper that tests a timeout
# on virtual time, one that tests a seed replays a run, and the oracle of the retry timing law.
#
# ## On your own
#
# - Give the realistic policy a `deadline=90` and predict, from the schedule table, when and with
#   which error the call gives up. Check it on virtual time.
# - Replace `time.sleep(stall)` in anti-pattern 1 with `await asyncio.to_thread(time.sleep, stall)`.
#   What does the virtual clock do while the thread works?
# - [further/05](further/05_deterministic_async_testing.ipynb): every timing API on the virtual clock,
#   ties, clock laws, runaway plans, mocked sleeps and the global `random`.
#
# ## Further reading
#
# - [trio: `MockClock` and `autojump_threshold`](https://trio.readthedocs.io/en/stable/reference-testing.html#time-and-timeouts)
#   — the idea `Simulation` brings to asyncio.
# - [Python docs: task groups](https://docs.python.org/3/library/asyncio-task.html#task-groups) and
#   [`loop.time()`](https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.time).
# - [looptime](https://looptime.readthedocs.io/), a pytest plugin that fakes the loop's time the same way.
# - Will Wilson, ["Testing Distributed Systems w/ Deterministic Simulation"](https://www.youtube.com/watch?v=4fFDFbi3toc)
#   (Strange Loop 2014).
#
# ## Continue with
#
# **[06 · Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb)**: token buckets and fair
# scheduling — timing logic you can now test exactly, on virtual time.
#
# ---
# [← 04 Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb) · [Contents](00_module_overview.ipynb) · [06 Rate Limiting and Fairness →](06_rate_limiting_and_fairness.ipynb)
