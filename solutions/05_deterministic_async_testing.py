# ---
# jupyter:
#   funcpipe_async:
#     exercise: 05_deterministic_async_testing
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 05 Deterministic Async Testing](../notebooks/05_deterministic_async_testing.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 05 · Deterministic Async Testing
#
# Three graded tasks on the lesson's ideas, and all three are about *tests*: you write test
# helpers and a test oracle, and the checks judge them by what they accept and what they reject.
# Time comes from a **virtual clock** — simulated minutes cost milliseconds, and every instant is
# exact; **the same seed gives the same trace**; and a retry's end instant follows from the policy
# value alone. 10 points.
#
# **How to work**
# 1. Run the set-up cell.
# 2. In each task cell, replace the `raise NotImplementedError(...)` line (and the
#    `# YOUR CODE HERE` comment) with your code, then run the cell.
# 3. Run the **Check your work** cell at the bottom whenever you like. It checks the code you
#    last *ran* in each task cell, in a separate process with a 10-second limit per task, so a
#    mistake cannot freeze your notebook. The same checks grade your submission.
#
# Keep everything a task needs inside its own cell: the grader runs the set-up cell and the task
# cells, and nothing else. Try things out in new cells of your own — they are not graded.

# %% [markdown] tags=["solution-only"]
# > **Solution notebook — the one source of this exercise.** `python tools/make_exercises.py`
# > generates the student version in `exercises/` from it: each `# BEGIN SOLUTION … # END SOLUTION`
# > span becomes a stub, and cells tagged `solution-only` (like this one) are dropped. Edit this
# > notebook, never the generated one.

# %% [markdown]
# ## Set up
#
# Run this first. The grader runs it too, before your task cells: leave it as it is.
# `UNAVAILABLE` is the lesson's scripted 503, and `three_clients` is the lesson's replay scenario,
# written the way Task 2 wants a scenario: a function of the `Simulation` it runs on.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
import random
import time

from funcpipe_async import (
    HANG, AsyncPlan, ConstantBackoff, Err, ErrInfo, ExponentialBackoff, Ok, RetryPolicy, ScriptedService,
    Simulation, async_gather, async_lift, async_retry, async_timeout, delay_schedule, perform_async, run_sync,
)

UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
JITTERED = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, factor=2, cap=30), jitter="full")

def three_clients(sim: Simulation) -> AsyncPlan[list]:
    """Three clients with full jitter from sim.rng share one flaky service; events go to sim.trace."""
    service = ScriptedService([UNAVAILABLE, UNAVAILABLE, "ok"] * 5, latency=0.25)
    calls = [async_retry(service.plan(), JITTERED, rng=sim.rng, trace=sim.trace, name=f"client {c}") for c in "ABC"]
    return async_gather(calls, concurrency=3)


# %% [markdown]
# ## Task 1 — Test a timeout on virtual time (4 points)
#
# A test you could now write by hand: a fake answers after 45 s; wrap it in `async_timeout(..., 30)`;
# assert the `Err(TIMEOUT)`, that the run ended at **exactly** t = 30, and that the attempt was
# *cancelled, not abandoned*. Turn that into a reusable test helper: `assert_times_out_at(plan, limit)`
# drives `plan` on a fresh `Simulation` and raises `AssertionError` unless all three hold —
#
# - the result is an `Err` whose code is `"TIMEOUT"`;
# - the run ended at exactly t = `limit` of virtual time: not later (the timeout is too long), not
#   earlier (too short) — and not at t = 0, which is what a mocked `asyncio.sleep` gives: no time
#   passed, so no timer could fire ([further/05](../notebooks/further/05_deterministic_async_testing.ipynb));
# - no task is left running when the plan returns. A timeout cancels the attempt; a hand-made one
#   that abandons it leaves it running into whatever runs next (the lesson's anti-pattern 2).
#
# Otherwise it returns `None`. Three things the lesson showed:
#
# - `sim.run(...)` is an ordinary synchronous call, so the helper is a plain `def`. Do **not** drive
#   with `run_sync` or `await`: on the wall clock, checking a ten-minute timeout takes ten minutes.
# - Virtual time is exact: compare the end instant with `==`.
# - A task left running is not tidied away silently: `sim.run` cancels it and raises
#   `LeftoverTasksError`, an `AssertionError` naming the task. You may also look for leftovers
#   yourself, *inside* the run, right after the plan returns.
#
# *How it is checked:* your helper is given plans built from `ScriptedService` and the lesson's
# policies, with limits from half a second to ten minutes. Plans that time out at exactly the limit
# and cancel their work must pass; plans that time out late, early or at once, that answer `Ok` or
# fail with another error, or that abandon a call still running must fail. A helper that always
# passes, always fails, or waits for real scores nothing.
#
# <details><summary>Hint 1</summary>
#
# What does `sim.run` do when the plan returns but a task it started is still running — and is
# that exception one a test helper may let through? If you want to look for yourself, which
# asyncio function lists the tasks still alive, from inside a coroutine you drive?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Which attribute of the `Simulation` says when the run ended? Is virtual time exact enough to
# compare with `==`? Could one `assert` per fact, each with its own message, tell the reader what
# happened instead?
# </details>
#
# <details><summary>Try it</summary>
#
# In a new cell: `assert_times_out_at(async_timeout(ScriptedService(["late"], latency=45).plan(), 30), 30)`
# should pass silently, and the same plan with `limit=45` should fail.
# </details>

# %% tags=["task:t1"]
# Task 1 — Test a timeout on virtual time
def assert_times_out_at(plan: AsyncPlan, limit: float) -> None:
    """Drive `plan` on virtual time; fail unless it gives Err(TIMEOUT) at exactly t=limit, leaving no task behind."""
    # BEGIN SOLUTION
    async def drive():
        result = await perform_async(plan)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, others

    sim = Simulation()
    result, others = sim.run(drive())
    assert isinstance(result, Err) and result.error.code == "TIMEOUT", f"expected Err(TIMEOUT), got {result}"
    assert sim.now == limit, f"the timeout fired at t={sim.now:g}, not at t={limit:g}"
    assert not others, f"{len(others)} task(s) still running after the timeout: abandoned, not cancelled"
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a 45 s fake under a 30 s timeout passes; a timeout that fires late,
# and a hand-made timeout that shields the call (so it keeps running), both fail — and checking
# ten simulated minutes costs no real waiting.

# %% tags=["solution-only"]
started = time.perf_counter()
assert_times_out_at(async_timeout(ScriptedService(["late"], latency=45).plan(), 30), 30)
assert_times_out_at(async_timeout(ScriptedService([HANG]).plan(), 600), 600)
assert time.perf_counter() - started < 1.0
print("a 30 s and a 600 s timeout, each at exactly its limit, in well under a second")

async def shielded() -> Err:
    try:
        return await asyncio.wait_for(asyncio.shield(ScriptedService([HANG]).call()), timeout=30)
    except TimeoutError:
        return Err(ErrInfo("TIMEOUT", "hand-made timeout", retryable=True))

for name, plan in [("fires late", async_timeout(ScriptedService([HANG]).plan(), 45)),
                   ("abandons the call", async_lift(shielded))]:
    try:
        assert_times_out_at(plan, 30)
    except AssertionError as error:
        print(f"{name:<18} rejected: {error}")


# %% [markdown]
# ## Task 2 — Test that a seed replays a run (3 points)
#
# The lesson's invariant **same seed → same trace**: `three_clients(seed=7)` run twice recorded equal
# `trace.events`, event for event, to the last bit of every time — which is what lets you replay a
# failure forever. Turn the check into a test helper: `assert_same_trace(make_scenario, seed)`.
#
# - `make_scenario(sim)` builds a scenario for the `Simulation` it is given — a plan or a coroutine
#   that draws its randomness from `sim.rng` and records on `sim.trace`, like `three_clients` in the
#   set-up cell.
# - The helper runs the scenario twice, **each on a fresh `Simulation(seed=seed)`**
#   (`sim.run(make_scenario(sim))`), and raises `AssertionError` unless the two runs'
#   `sim.trace.events` are equal; otherwise it returns `None`.
# - Compare the traces, not the results: two runs can reach the same result by different routes,
#   and a trace is the route — every event, its time and its details.
#
# *How it is checked:* your helper is given scenarios Hypothesis generates, with seeds from 1 to
# 10,000. Scenarios that draw only from `sim.rng` and read only the virtual clock must pass. Scenarios
# that use the global `random`, a fresh unseeded `random.Random()`, stamp events with the wall clock,
# or share one fake between runs must fail — they all return the same result on both runs, only
# their traces differ. Each run must start on a fresh `Simulation(seed=seed)`: at t = 0, with an
# empty trace and the generator seeded with `seed`.
#
# <details><summary>Hint 1</summary>
#
# How many `Simulation`s does the helper need, and which seed does each get? What do you keep from
# each run to compare — and does `==` on two lists of `Event`s (frozen dataclasses) compare
# everything you care about?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Why a fresh simulation per run? One simulation's clock and trace continue from run to run, and its
# generator has moved on: the second run would not start where the first did.
# </details>
#
# <details><summary>Try it</summary>
#
# `assert_same_trace(three_clients, seed=7)` should pass. Write a scenario whose waits come from
# `random.uniform(...)` instead of `sim.rng.uniform(...)` and watch it fail.
# </details>

# %% tags=["task:t2"]
# Task 2 — Test that a seed replays a run
def assert_same_trace(make_scenario, seed: int) -> None:
    """Run make_scenario twice, each on a fresh Simulation(seed=seed); fail unless the traces are equal."""
    # BEGIN SOLUTION
    traces = []
    for _ in range(2):
        sim = Simulation(seed=seed)
        sim.run(make_scenario(sim))
        traces.append(sim.trace.events)
    first, second = traces
    difference = next((f"{a} != {b}" for a, b in zip(first, second) if a != b), f"{len(first)} vs {len(second)} events")
    assert first == second, f"seed {seed} did not replay: {difference}"
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the lesson's scenario replays for every seed tried; the same scenario with its
# jitter drawn from the global generator does not.

# %% tags=["solution-only"]
for seed in range(20):
    assert_same_trace(three_clients, seed)
print("three_clients replays exactly for seeds 0 to 19")

def global_jitter(sim: Simulation) -> AsyncPlan[list]:
    service = ScriptedService([UNAVAILABLE, UNAVAILABLE, "ok"] * 5, latency=0.25)
    rng = random.Random(random.random())         # seeded from the global generator: not replayable
    calls = [async_retry(service.plan(), JITTERED, rng=rng, trace=sim.trace, name=f"client {c}") for c in "ABC"]
    return async_gather(calls, concurrency=3)

try:
    assert_same_trace(global_jitter, seed=7)
except AssertionError as error:
    print("global jitter rejected:", str(error).split(":")[0])


# %% [markdown]
# ## Task 3 — Predict when a retry ends (3 points)
#
# A property test needs an **oracle**: the expected answer, computed another way. The lesson's
# `retry_timing_law` compared the simulated end instant with the sum of the waits used plus the
# work. Write that oracle as a function: `retry_finishes_at(policy, failures, latency)` returns the
# instant, in virtual seconds from t = 0, at which
#
# ```python
# async_retry(ScriptedService([UNAVAILABLE] * failures + ["ok"], latency=latency).plan(), policy)
# ```
#
# ends. The policies have no jitter and no deadline, but they may have an `attempt_timeout`. The
# lesson's laws:
#
# - a service that fails `k` times and then succeeds is called `min(k + 1, max_attempts)` times; every
#   call — the successful one too — takes `latency` seconds;
# - the waits before attempts 2, 3, … are `delay_schedule(policy)`: an attempt count `n` uses the
#   first `n - 1` of them;
# - when every call takes *longer* than the `attempt_timeout`, every attempt is cut off at the
#   timeout with `Err(TIMEOUT)` (retryable), so the call gives up after `max_attempts` attempts at
#   `max_attempts × attempt_timeout + sum(delay_schedule(policy))` (lesson 04's worst case,
#   [Stop at the deadline](../notebooks/04_retry_and_timeout_policies.ipynb#Stop-at-the-deadline)).
#
# Compute it from the policy value; drive nothing. (An oracle that runs the simulation compares the
# simulation with itself, and proves nothing.)
#
# *How it is checked:* your answer is compared with the instant the call really ends on virtual time,
# for generated policies (1–8 attempts, constant and exponential backoff, attempt timeouts of none,
# 0.75, 2.5 or 10 s), 0–10 failures and latencies of 0, 0.25, 1 or 5 s. Every duration is a
# quarter-second multiple, so the sums are exact.
#
# <details><summary>Hint 1</summary>
#
# Which of the two cases above applies — when does an attempt get cut off by its timeout, given the
# latency? In the other case, how many attempts are made, and how many waits do they use?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Check yourself by hand: a service that fails twice, then succeeds, with a 10 s constant
# backoff and 0.5 s per call ends at 0.5 + 10 + 0.5 + 10 + 0.5 = 21.5.
# </details>

# %% tags=["task:t3"]
# Task 3 — Predict when a retry ends
def retry_finishes_at(policy: RetryPolicy, failures: int, latency: float) -> float:
    """The virtual instant async_retry ends over a service that fails `failures` times, then answers."""
    # BEGIN SOLUTION
    waits = delay_schedule(policy)
    if policy.attempt_timeout is not None and latency >= policy.attempt_timeout:
        return policy.max_attempts * policy.attempt_timeout + sum(waits)
    attempts = min(failures + 1, policy.max_attempts)
    return sum(waits[: attempts - 1]) + attempts * latency
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the oracle inside a Hypothesis property on the virtual clock — a plain `def`
# under `@given` that builds the scenario and drives it on a fresh `Simulation` per example.

# %% tags=["solution-only"]
from hypothesis import given, strategies as st
from funcpipe_async import load_course_profile

load_course_profile()
policies = st.builds(
    lambda attempts, delay, timeout: RetryPolicy(max_attempts=attempts, backoff=ConstantBackoff(delay),
                                                 attempt_timeout=timeout),
    st.integers(1, 6), st.sampled_from([0.25, 1.0, 10.0]), st.sampled_from([None, 0.75, 2.5]))

@given(policy=policies, failures=st.integers(0, 8), latency=st.sampled_from([0.0, 0.5, 1.0]))
def retry_ends_when_predicted(policy: RetryPolicy, failures: int, latency: float) -> None:
    sim = Simulation()
    service = ScriptedService([UNAVAILABLE] * failures + ["ok"], latency=latency)
    sim.run(async_retry(service.plan(), policy))
    assert sim.now == retry_finishes_at(policy, failures, latency)

retry_ends_when_predicted()
print("the oracle agrees with the virtual clock on every example;",
      "fail twice, 10 s backoff, 0.5 s calls ends at", retry_finishes_at(RetryPolicy(4, ConstantBackoff(10)), 2, 0.5))

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("05_deterministic_async_testing")

# %% [markdown]
# ## On your own
#
# - Give `assert_times_out_at` a property of its own: with `@given`, draw a latency and a limit for
#   `async_timeout(ScriptedService(["late"], latency=...).plan(), limit)` and predict when the helper
#   passes. What happens when the two are equal — which timer was set first?
# - Extend `retry_finishes_at` to policies with a `deadline`: the call gives up when the next wait
#   would end past the deadline, or the deadline cancels the running attempt. Check your prediction
#   against the virtual clock.
# - Use `assert_same_trace` on the `morning` scenario and on `five_sleepers` from
#   [further/05](../notebooks/further/05_deterministic_async_testing.ipynb). Would either fail it, and why?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 05 Deterministic Async Testing](../notebooks/05_deterministic_async_testing.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
