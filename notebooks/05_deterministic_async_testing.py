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
# Lesson 04 turned retries and timeouts into values. A realistic retry policy waits *minutes*
# before it gives up — so how do you test it without waiting minutes, and without the test
# passing on your laptop and failing on a busy CI machine? This lesson runs async code on a
# **virtual clock**: time jumps forward whenever every task is waiting, so simulated minutes
# cost milliseconds, and every run of a test sees exactly the same times and the same order of
# events.
#
# **What you'll do**
# - Watch a ten-minute sleep finish at once, and see how `Simulation` makes an asyncio event loop
#   jump its clock.
# - Run **the same retry test** on the wall clock and on virtual time, side by side: one takes
#   about a second of real waiting for a scaled-down policy, the other simulates three minutes of
#   the real policy in milliseconds.
# - Script fakes that fail on cue, replay an interleaving event for event, prove retry timing with
#   Hypothesis over a hundred schedules, and turn a deadlock and an endless loop into clear errors.
# - Watch four testing anti-patterns fail live, then fix them.
#
# **What you'll learn**
# - What a virtual clock is (trio's `MockClock(autojump_threshold=0)`, done for asyncio) and what it
#   cannot see.
# - `Simulation`, `run_virtual`, `VirtualClock`, `DeadlockError`, `SimulationLimitError`.
# - Which clock, and which kind of test double, to use for which test.
#
# **What you'll need**
# - Lesson 01 (plans, `perform_async`) and lesson 04 (`RetryPolicy`, `async_retry`,
#   `async_timeout`, `delay_schedule`).
# - About 50 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too).

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
# ```mermaid
# flowchart TD
#   problem["Start with the design or failure question"] --> example["Study the worked example and trade-offs"]
#   example --> boundary["Name the boundary this page is trying to protect"]
#   boundary --> proof["Carry that question into code review or the capstone"]
# ```
#
# The first diagram places the lesson: one concept inside Module 08, pressure-tested by the
# capstone. The second is the rhythm of every lesson: a question, a worked example, the boundary
# it protects, and a review question you carry forward.
#
# **Core question.** How do you test async code whose behaviour depends on *time* and on the
# *order* in which tasks run — retries, timeouts, queues — so that every run gives the same
# answer, fast, and a failure can be replayed exactly?
#
# **Why it matters.** Everything from lesson 03 on is about *when* things happen: backoff waits,
# timeouts, queue depth over time, rate limits. Tested on the wall clock, such code is slow (a
# realistic retry waits minutes) and flaky (the test measures the machine as much as the code).
# Patching the sleeps away makes it fast but meaningless — timeouts stop firing. A virtual clock
# keeps what time *means* and drops what it *costs*.
#
# The boundary this lesson protects is the one from lesson 01, seen from the test side: plans
# only *describe* waiting; the shell that drives them chooses the clock. A test is a shell that
# chooses a virtual one.
#
# **The review question to carry:** *in this test, which clock does time come from, and where does
# randomness come from?*

# %% [markdown]
# ## Set up
#
# Everything this lesson uses comes from the course package `funcpipe_async`; nothing is
# re-defined here. `setup()` loads the course's Hypothesis profile (derandomized, so the
# examples — and this notebook's output — are the same on every run).

# %%
import asyncio
import inspect
import itertools
import random
import time
from unittest.mock import AsyncMock, patch

import matplotlib
from hypothesis import given, strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    HANG, ConstantBackoff, DeadlockError, Err, ErrInfo, ExponentialBackoff, FakeHttp, Ok, Question,
    Result, RetryPolicy, ScriptedService, Simulation, SimulationLimitError, Trace, VirtualClock,
    answer_key_html, api_summary, async_gather, async_lift, async_retry, async_timeout,
    attempt_timeline_summary, course_rc, delay_schedule, format_table, perform_async,
    plot_attempt_timeline, quiz_widget, run_virtual, schedule_table, setup, show_figure,
)

setup()


# %% [markdown]
# ## Sleep ten minutes in no time
#
# A `Simulation` is one virtual-time world: a clock, a seeded random generator and a trace.
# `sim.run(...)` drives a plan or a coroutine to completion on that clock. It is an ordinary
# synchronous call — it works in a cell, in a pytest test, or in a script; do not `await` it.
#
# Watch the clock in the output: the coroutine slept for 600 seconds, the clock says 600, and the
# cell finished at once (the last line checks that it took well under a second of real time).

# %%
async def nap() -> str:
    await asyncio.sleep(600)                     # ten minutes
    return "rested"

started = time.perf_counter()
sim = Simulation()
print(sim.run(nap()), "| clock:", sim.clock)
assert time.perf_counter() - started < 1.0       # ten simulated minutes, no real waiting


# %% [markdown]
# ## See how the loop jumps its clock
#
# An asyncio event loop repeats one step: run every callback that is ready (each task runs until
# its next `await`), then ask its *selector* to wait for I/O — at most until the earliest timer is
# due. On the real loop, that wait **is** the passage of time. `loop.time()` reads a monotonic
# clock, and every timing API — `asyncio.sleep`, `loop.call_later`, `asyncio.wait_for`,
# `asyncio.timeout` — is a timer on that clock.
#
# `Simulation` runs a normal asyncio loop with two changes: `loop.time()` returns its
# `VirtualClock`, and when nothing is ready, the selector does not sleep — it **moves the clock to
# the earliest timer** and returns at once:
#
# ```mermaid
# flowchart TD
#   run["run every ready callback: each task runs to its next await"] --> ready{"is anything ready?"}
#   ready -- yes --> run
#   ready -- no --> timer{"is a timer pending?"}
#   timer -- "yes: sleep, call_later, wait_for, timeout" --> jump["jump the VirtualClock to the earliest timer"]
#   jump --> run
#   timer -- no --> thread{"is a worker thread busy?"}
#   thread -- yes --> wait["wait for it for real, clock standing still"]
#   wait --> run
#   thread -- no --> dead["DeadlockError: nothing can ever happen again"]
# ```
#
# This is trio's `MockClock(autojump_threshold=0)`, done for asyncio. Because the loop itself
# keeps the time, every timing API obeys it with no patching. The next cell uses all four; read
# the times in the table — each is exactly where the timer was due.

# %%
async def clock_tour() -> list[tuple[str, float]]:
    loop, seen = asyncio.get_running_loop(), []
    await asyncio.sleep(600)
    seen.append(("asyncio.sleep(600) returned", loop.time()))
    try:
        await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
    except TimeoutError:
        seen.append(("asyncio.wait_for(..., timeout=30) timed out", loop.time()))
    try:
        async with asyncio.timeout(90):
            await asyncio.Event().wait()
    except TimeoutError:
        seen.append(("async with asyncio.timeout(90) expired", loop.time()))
    rang = loop.create_future()
    loop.call_later(120, rang.set_result, "ran")
    seen.append((f"loop.call_later(120, ...) {await rang}", loop.time()))
    return seen

print(format_table(["what happened", "virtual time (s)"], Simulation().run(clock_tour())))


# %% [markdown]
# ### Draw the clock's jumps
#
# Time moves **only** when every task is waiting. To see that, record an event whenever something
# happens in a small scenario: a `poller` checks every 30 s; a `fetcher` fetches for 45 s, parses
# the answer (CPU work), then saves for 20 s. `sim.trace` is a `Trace` on the virtual clock.

# %%
def parse(n: int) -> int:                        # pure CPU work: no await inside
    return sum(i * i for i in range(n))

async def morning(trace: Trace) -> None:
    async def poller() -> None:
        for check in range(1, 4):
            await asyncio.sleep(30)
            trace.record("check", "poller", n=check)
    async def fetcher() -> None:
        trace.record("start", "fetcher")
        await asyncio.sleep(45)                  # the fetch
        trace.record("fetched", "fetcher")
        trace.record("parsed", "fetcher", checksum=parse(50_000) % 997)
        await asyncio.sleep(20)                  # the save
        trace.record("saved", "fetcher")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(poller(), name="poller")
        tg.create_task(fetcher(), name="fetcher")


# %%
sim = Simulation()
sim.run(morning(sim.trace))
print(sim.trace.table())


# %% [markdown]
# The figure plots each event's virtual time against its place in the trace. Flat stretches are
# events at the same instant — tasks running, including the CPU-bound `parse`, which took zero
# virtual time. Vertical steps are jumps: every task was waiting, so the clock leapt to the next
# timer.

# %%
def plot_clock_jumps(trace: Trace) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(8, 3.4), layout="constrained")
        ax = fig.add_subplot()
        ax.step([e.seq for e in trace.events], [e.time for e in trace.events], where="post",
                color="0.55", linestyle="--", label="virtual clock")
        for name, marker in (("poller", "o"), ("fetcher", "s")):
            mine = [e for e in trace.events if e.name == name]
            ax.plot([e.seq for e in mine], [e.time for e in mine], marker=marker, markersize=9,
                    linestyle="none", label=name)
        ax.set_xlabel("event number (order in the trace)")
        ax.set_ylabel("virtual time (s)")
        ax.set_title("The clock moves only when every task waits")
        ax.legend(loc="upper left", frameon=False)
    return fig


# %%
instants = {t: [f"{e.name} {e.kind}" for e in sim.trace.events if e.time == t]
            for t in dict.fromkeys(e.time for e in sim.trace.events)}
summary = "; ".join(f"t={t:g}: {', '.join(what)}" for t, what in instants.items())
show_figure(plot_clock_jumps(sim.trace), alt="Virtual time against event number. " + summary)
print(f"{len(sim.trace)} events at {len(instants)} instants: " + summary)

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook, and in `tests/`) |
# |---|---|---|---|
# | clock law | monotonic | virtual time never goes backwards: every event's time is ≥ the one before; `VirtualClock.advance_to` refuses the past | Hypothesis — [Check the clock laws](#Check-the-clock-laws); `tests/test_virtual_time.py` |
# | clock law | exact wake-ups | a sleep of `d` seconds begun at `t` wakes at exactly `t + d` | same Hypothesis property; [Run the same retry test on both clocks](#Run-the-same-retry-test-on-both-clocks) |
# | clock law | time moves only when every task waits | a CPU-bound step — or a blocking call — takes zero virtual time | [Check the clock laws](#Check-the-clock-laws); [anti-pattern 1](#Anti-pattern-1:-asserting-wall-clock-durations) |
# | invariant | same seed → same trace | two runs with the same seed record equal `trace.events` | [Replay an interleaving exactly](#Replay-an-interleaving-exactly) |
# | invariant | FIFO ties | timers due at the same instant fire in the order they were set | [Replay an interleaving exactly](#Replay-an-interleaving-exactly) |
# | invariant | no task left behind | when `run` returns, every task the plan left running has been cancelled and its `finally` blocks have run | [anti-pattern 4](#Anti-pattern-4:-a-task-that-outlives-its-test) |
# | invariant | a deadlock is an error, never a hang | nothing ready, no timer, no busy thread → `DeadlockError` naming every waiting task | [Catch a deadlock](#Catch-a-deadlock) |
# | invariant | runaway plans stop | past `limit` simulated seconds, or `max_idle_steps` loop steps without time moving → `SimulationLimitError` | [Stop a plan that never ends](#Stop-a-plan-that-never-ends) |
#
# ## Choose the clock for each test
#
# | test | clock | why |
# |---|---|---|
# | unit test of timing logic: retry, backoff, timeout, deadline, rate limit, batch-by-time | **virtual** (`Simulation`) | exact instants, the same every run; minutes cost milliseconds |
# | property test over many schedules | **virtual** | a hundred examples of minutes each still run in well under a second |
# | ordering and interleaving of tasks | **virtual**, seeded | the same seed replays the same interleaving |
# | a handful of integration tests against real services (loopback HTTP, SQLite — lesson 08) | **wall clock**, generous timeouts | real sockets and threads do not run on a virtual clock; assert outcomes, not durations |
# | benchmarks and performance budgets | **wall clock**, in `benchmarks/`, never in unit tests | there, measuring the machine is the point |
#
# **Rule:** never assert on a wall-clock duration in a unit test. It measures the machine.
#
# ## Choose fakes, mocks or real services
#
# | double | what it is | use it for | watch out for |
# |---|---|---|---|
# | scripted fake (`FakeHttp`, `FakeStorage`, a small scripted service) | a working in-memory implementation of a port: programmed answers, a call log | unit tests of plans: errors, retries, timeouts, ordering | keep it honest — one contract test against the real adapter (lesson 07) |
# | mock (`unittest.mock`) | a stand-in that records calls and returns canned values | checking that an edge was called with the right arguments | mocking *time* (`asyncio.sleep`) or the loop: timeouts and ordering stop meaning anything ([anti-pattern 2](#Anti-pattern-2:-mocking-asyncio.sleep)) |
# | real service | the real dependency, on loopback | a few integration tests | slow and timing-dependent: wall clock, generous timeouts |

# %% [markdown]
# ## Read the public API
#
# Imported from `funcpipe_async`, never re-defined in a lesson:

# %%
print(api_summary([Simulation, Simulation.run, run_virtual, VirtualClock, DeadlockError,
                   SimulationLimitError]))
sim = Simulation(seed=7)
print("a Simulation has:", ", ".join(f"{a}={type(getattr(sim, a)).__name__}" for a in ("now", "clock", "rng", "trace")))

# %% [markdown]
# `run` returns what it drives: a plan's `Result`, or a coroutine's value. Every `run` on the same
# `Simulation` continues its clock, so a scenario can be driven in stages; `run_virtual(main)` is
# a one-shot run on a fresh clock. `rng` is a `random.Random` seeded for this simulation only.
#
# ## Script a fake that fails on cue
#
# A test needs dependencies that misbehave *exactly when told to*. The package's fakes take
# scripted faults: `FakeHttp(responses, failures={url: ErrInfo})` answers from a dict and fails
# the URLs you name. Under `async_retry`, a URL that always answers 503 is retried until the
# policy runs out — and on virtual time, the give-up instant is exactly the sum of the waits.

# %%
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
http = FakeHttp({"/users/1": {"name": "Ada"}}, failures={"/users/2": UNAVAILABLE})
policy = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(initial=1, factor=2, cap=30))

sim = Simulation()
outcome = sim.run(async_retry(async_lift(lambda: http.get_json("/users/2")), policy))
print(outcome)
print("calls:", http.calls)
print("gave up at t =", sim.now, "= sum of the waits", delay_schedule(policy))

# %% [markdown]
# A fault that *changes over time* — fail twice, then succeed; hang, then answer — needs a fake
# that plays a script, one entry per call: the package's `ScriptedService`. An `ErrInfo` entry
# fails, `HANG` never answers (it waits on a future nobody completes: without a timeout around
# it, that is the deadlock of [Catch a deadlock](#Catch-a-deadlock)), anything else succeeds;
# every answer takes `latency` seconds on whatever clock the loop has, and `service.calls` holds
# the loop time of every call.

# %%
print(f"ScriptedService{inspect.signature(ScriptedService)}")
print(ScriptedService([UNAVAILABLE, HANG, "payload"], latency=0.5))

# %% [markdown]
# Fail twice, then succeed, with a 10 s constant backoff and half a second of work per call.
# Read the trace: three attempts, two waits, and every instant predictable by hand —
# 0.5, 10.5, 11, 21, 21.5.

# %%
service = ScriptedService([UNAVAILABLE, UNAVAILABLE, "payload"], latency=0.5)
sim = Simulation()
plan = async_retry(async_lift(service.call), RetryPolicy(max_attempts=4, backoff=ConstantBackoff(10)),
                   trace=sim.trace, name="flaky")
print(sim.run(plan), "after calls at t =", service.calls, "ending at t =", sim.now)
print(sim.trace.table())


# %% [markdown]
# ## Run the same retry test on both clocks
#
# Here is a realistic policy for a flaky upstream service: six attempts, exponential backoff
# from 4 s doubling up to a 60 s cap, and 30 s allowed per attempt. Its schedule, computed from
# the policy value alone (lesson 04):

# %%
def policy_at(scale: float) -> RetryPolicy:
    """The realistic policy with every duration multiplied by `scale`."""
    return RetryPolicy(max_attempts=6, backoff=ExponentialBackoff(initial=4 * scale, factor=2, cap=60 * scale),
                       attempt_timeout=30 * scale)

REALISTIC = policy_at(1)
print(schedule_table(REALISTIC))

# %% [markdown]
# The service hangs on the first and third calls (each cut off by the 30 s attempt timeout),
# answers 503 on three calls, and succeeds on the sixth; each answer takes 0.5 s. That is
# 120 s of backoff + 2 × 30 s of timeouts + 4 × 0.5 s of work = **182 s** before the test can
# pass.
#
# The test below is written once. It reads time from `loop.time()` — whatever clock the loop
# running it has — and `scale` shrinks every duration, the policy's and the fake's alike.

# %%
SCRIPT = [HANG, UNAVAILABLE, HANG, UNAVAILABLE, UNAVAILABLE, {"user": "ada"}]

async def retry_test(scale: float) -> tuple[Result[object, ErrInfo], int, float, Trace]:
    loop = asyncio.get_running_loop()
    trace = Trace(clock=loop.time)                          # events on this loop's clock
    service = ScriptedService(SCRIPT, latency=0.5 * scale)
    plan = async_retry(async_lift(service.call), policy_at(scale), trace=trace, name="fetch user")
    start = loop.time()
    result = await perform_async(plan)
    span = loop.time() - start
    assert result == Ok({"user": "ada"}) and len(service.calls) == 6, (result, service.calls)
    return result, len(service.calls), span, trace


# %% [markdown]
# Now run it twice. On the **wall clock** — top-level `await`, the notebook's own loop — we
# cannot afford 182 s, so the policy is scaled down 200× (about 0.9 s of real waiting). On
# **virtual time** we run the realistic policy itself. `time.perf_counter()` measures the real
# cost of each. These durations differ on every run and every machine, so this cell's output is
# not compared by the notebook tests; the cell after it checks what must hold.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: wall-clock durations differ run to run
started = time.perf_counter()
wall_result, wall_attempts, wall_span, wall_trace = await retry_test(scale=1 / 200)
wall_seconds = time.perf_counter() - started

sim = Simulation()
started = time.perf_counter()
virtual_result, virtual_attempts, simulated, virtual_trace = sim.run(retry_test(scale=1))
virtual_seconds = time.perf_counter() - started

print(f"wall clock,   policy ÷ 200: {wall_result}, {wall_attempts} attempts, {wall_seconds:.3f} s of real time")
print(f"virtual time, real policy:  {virtual_result}, {virtual_attempts} attempts, "
      f"{simulated:g} simulated s in {virtual_seconds * 1000:.1f} ms of real time")

# %% [markdown]
# What is deterministic about those two runs: the same `Result`, the same number of attempts,
# the same events in the same order, and a simulated span *exactly* equal to the schedule's sum.
# The wall-clock durations are compared by inequality only, and never printed.

# %%
expected = sum(delay_schedule(REALISTIC)) + 2 * REALISTIC.attempt_timeout + 4 * 0.5
assert wall_result == virtual_result and wall_attempts == virtual_attempts == 6
assert [e.kind for e in wall_trace.events] == [e.kind for e in virtual_trace.events]
assert simulated == sim.now == expected == 182.0
assert wall_seconds >= 0.9 * expected / 200          # the wall clock really waited
assert virtual_seconds < wall_seconds                # minutes of simulation cost less than a second of waiting
print("same result on both clocks:", virtual_result)
print("same attempts, same events in the same order:", virtual_attempts, "attempts,", len(virtual_trace), "events")
print(f"simulated span: {simulated:g} s = {sum(delay_schedule(REALISTIC)):g} s backoff "
      f"+ 2 × {REALISTIC.attempt_timeout:g} s timeouts + 4 × 0.5 s work")
print("the virtual run took less real time than the 200× shorter wall-clock run")

# %% [markdown]
# The virtual run's trace, drawn with lesson 04's attempt timeline. Every bar starts and ends at
# an instant you can compute by hand from the schedule table above.

# %%
summary = attempt_timeline_summary(virtual_trace)
show_figure(plot_attempt_timeline(virtual_trace, title="The realistic policy: 182 s, simulated"),
            alt="Attempt timeline of the realistic retry on virtual time. " + summary)
print(summary)

# %% [markdown]
# ## Replay an interleaving exactly
#
# Three clients call one shared flaky service at the same time; the service fails twice in every
# three calls, so *which client gets which answer* depends on the order their attempts land in.
# Their retry policy has **full jitter**, drawn from `sim.rng` — the simulation's own seeded
# generator, injected, never the global one.

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
# Same seed, same trace — event for event, to the last bit of every time. The figure shows
# seed 7's run; the summary below it prints both seeds. Look at client A under seed 8: it runs out
# of attempts. That is a failure you can replay forever, exactly, by running seed 8 again — the
# seed identifies the whole run.

# %%
summary = attempt_timeline_summary(first.trace)
show_figure(plot_attempt_timeline(first.trace, title="Three jittered clients, seed 7"),
            alt="Attempt timeline of three clients sharing a flaky service, seed 7. " + summary)
print("seed 7:\n" + summary)
print("seed 8:\n" + attempt_timeline_summary(other.trace))


# %% [markdown]
# Reproducibility needs one more rule: when two timers are due **at the same instant**, which
# fires first? asyncio's own heap leaves such ties unordered; the simulation breaks them by
# scheduling order: first set, first fired. Five tasks created in the order e, d, c, b, a all
# sleep exactly one second, and a `call_later` for the same instant is set right after them:

# %%
async def five_sleepers() -> list[str]:
    woke: list[str] = []
    async def sleeper(name: str) -> None:
        await asyncio.sleep(1)
        woke.append(name)
    async with asyncio.TaskGroup() as tg:
        for name in "edcba":
            tg.create_task(sleeper(name))
        asyncio.get_running_loop().call_later(1, woke.append, "call_later")
    return woke

print("woke in order:", Simulation().run(five_sleepers()))


# %% [markdown]
# The sleepers wake in creation order, e to a — not alphabetically, not at random. And
# `call_later` comes first although it is written last: creating a task does not run it, so each
# sleeper sets its timer only when it first runs, after `five_sleepers` reaches its next `await`
# (the end of the `TaskGroup` block). The `call_later` timer was *set* first, so it fires first:
# order is by when the timer was set.

# %% [markdown]
# ## Check the clock laws
#
# **Monotonic, with exact wake-ups.** Hypothesis draws a few tasks, each with a list of naps
# (including zero-length ones), runs them together, and checks two things: the trace's times never
# decrease, and each task wakes at exactly the running sum of its naps. Note the shape — the
# standard way to use Hypothesis with async code: a plain *sync* `@given` function that builds the
# scenario and drives it with `Simulation().run`. (`@given` on an `async def` is refused; see
# below.) First a small scenario builder, reused later for the cost measurement:

# %%
async def nappers(trace: Trace, plans: list[list[float]]) -> None:
    """One task per plan; each sleeps its naps in turn and records `woke` after each."""
    async def napper(name: str, naps: list[float]) -> None:
        for nap in naps:
            await asyncio.sleep(nap)
            trace.record("woke", name)
    async with asyncio.TaskGroup() as tg:
        for i, naps in enumerate(plans):
            tg.create_task(napper(f"t{i}", naps))


# %% [markdown]
# Then the property. Each example gets a fresh `Simulation`, so examples cannot leak into each
# other.

# %%
naps = st.lists(st.sampled_from([0, 0.25, 0.5, 1, 2.5, 60]), max_size=5)

@given(plans=st.lists(naps, min_size=1, max_size=4))
def clock_is_monotonic_and_exact(plans: list[list[float]]) -> None:
    sim = Simulation()
    sim.run(nappers(sim.trace, plans))
    times = [e.time for e in sim.trace.events]
    assert times == sorted(times), sim.trace.table()
    for i, plan in enumerate(plans):
        assert [e.time for e in sim.trace.events if e.name == f"t{i}"] == list(itertools.accumulate(plan))

clock_is_monotonic_and_exact()
print("virtual time never went backwards, and every task woke exactly on time")


# %% [markdown]
# Two refusals worth seeing: Hypothesis will not run an `async def` test by itself, and the clock
# will not go back.

# %%
@given(st.integers())
async def async_property(x: int) -> None:        # Hypothesis cannot drive this
    await asyncio.sleep(x)

try:
    async_property()
except Exception as error:
    print(type(error).__name__ + ":", str(error).splitlines()[0])

try:
    VirtualClock(start=5).advance_to(3)
except ValueError as error:
    print("ValueError:", error)


# %% [markdown]
# **Time moves only when every task waits.** A CPU-bound step never awaits, so no other task can
# run and no timer can fire: on the virtual clock it takes no time at all, however long it really
# runs.

# %%
async def cpu_bound_step() -> float:
    loop = asyncio.get_running_loop()
    before = loop.time()
    parse(300_000)                               # real work: milliseconds of CPU, no await
    return loop.time() - before

print("virtual seconds spent in a CPU-bound step:", Simulation().run(cpu_bound_step()))

# %% [markdown]
# That is exactly right for a simulation — and it is also the virtual clock's blind spot. A
# *blocking* call (`time.sleep`, a synchronous HTTP client, a slow file read) does not await
# either, so it too takes zero virtual time while it stalls the loop for real.
# [Anti-pattern 1](#Anti-pattern-1:-asserting-wall-clock-durations) shows what follows: keep
# blocking code out of async steps.
#
# ## Prove retry timing with Hypothesis
#
# The retry law from lesson 04, checked on virtual time over a hundred policies: a service that
# fails `k` times and then succeeds is called `min(k + 1, max_attempts)` times; it succeeds when
# `k < max_attempts` and returns the last error otherwise; and the call ends at exactly the sum of
# the waits it used plus the work. Durations are quarter-seconds, so every sum is exact in
# floating point and `==` is the right comparison.

# %%
policies = st.builds(
    lambda attempts, initial, factor, room: RetryPolicy(
        max_attempts=attempts, backoff=ExponentialBackoff(initial, factor, cap=initial * room)),
    st.integers(1, 8), st.sampled_from([0.25, 0.5, 1.0, 4.0]), st.sampled_from([1, 2, 3]),
    st.sampled_from([1, 4, 16]))
covered: list[float] = []

@given(policy=policies, failures=st.integers(0, 10), latency=st.sampled_from([0.0, 0.25, 1.0, 5.0]))
def retry_timing_law(policy: RetryPolicy, failures: int, latency: float) -> None:
    service = ScriptedService([UNAVAILABLE] * failures + ["ok"], latency=latency)
    sim = Simulation()
    result = sim.run(async_retry(async_lift(service.call), policy))
    attempts = min(failures + 1, policy.max_attempts)
    assert len(service.calls) == attempts
    assert result == (Ok("ok") if failures < policy.max_attempts else Err(UNAVAILABLE))
    assert sim.now == sum(delay_schedule(policy)[: attempts - 1]) + attempts * latency
    covered.append(sim.now)


# %% [markdown]
# Run it. The examples are derandomized, so the amount of simulated time they covered is a
# deterministic number — and it costs a fraction of a second of real time.

# %%
retry_timing_law()
print(f"{len(covered)} examples passed, covering {sum(covered):,.2f} simulated seconds "
      f"(about {sum(covered) / 60:.0f} minutes); the longest single example: {max(covered):g} s")


# %% [markdown]
# ## Catch a deadlock
#
# A consumer waits on a queue that nobody fills — the producer was never started. On the real
# loop this test hangs until a CI timeout kills it, with no clue where. On virtual time there is
# nothing ready, no timer and no thread, so nothing can ever happen again: the simulation stops
# at once with `DeadlockError`, naming every waiting task and the chain of coroutines it waits in.

# %%
async def producer(queue: asyncio.Queue[int]) -> None:
    for item in range(3):
        await asyncio.sleep(5)                   # five seconds to produce each item
        await queue.put(item)

async def consumer(queue: asyncio.Queue[int]) -> list[int]:
    got = []
    for _ in range(3):
        got.append(await queue.get())
    return got


# %%
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
# The message is deterministic — task names and coroutine names, never addresses or numbered
# `Task-17`s — so a test can assert on it. The fix is to start the producer:

# %%
sim = Simulation()
print(sim.run(stage(with_producer=True)), "at t =", sim.now)


# %% [markdown]
# ## Stop a plan that never ends
#
# Two bugs never deadlock — something is always about to happen — yet never finish either. The
# simulation stops both with `SimulationLimitError` instead of spinning forever.
#
# **A loop with no exit.** This poller sleeps and checks, forever. Virtual time races ahead until
# it passes the simulation's `limit` (one simulated day by default; an hour here):

# %% tags=["raises-exception"]
async def poll_until_done(status: dict[str, bool]) -> str:
    while not status["done"]:                    # nothing ever sets it
        await asyncio.sleep(60)
    return "done"

Simulation(limit=3600).run(poll_until_done({"done": False}))


# %% [markdown]
# **Busy-waiting.** `await asyncio.sleep(0)` yields but sets no timer, so a loop around it keeps
# the loop busy while the clock never moves. After `max_idle_steps` loop steps without time moving
# (a million by default; ten thousand here, to keep the lesson fast), the simulation calls it what
# it is:

# %% tags=["raises-exception"]
async def spin_until_done(status: dict[str, bool]) -> str:
    while not status["done"]:
        await asyncio.sleep(0)                   # yields, but time never moves
    return "done"

Simulation(max_idle_steps=10_000).run(spin_until_done({"done": False}))


# %% [markdown]
# The fixes: give polling a bound (a deadline, as lesson 04's policies have), and wait for the
# *event* instead of spinning on a flag. Here a worker sets an `asyncio.Event` after 90 s, and
# the waiter wakes exactly then:

# %%
async def wait_for_worker() -> str:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(90, done.set)    # the worker finishes after 90 s
    async with asyncio.timeout(3600):                       # and never wait for ever
        await done.wait()
    return "done"

sim = Simulation(max_idle_steps=10_000)
print(sim.run(wait_for_worker()), "at t =", sim.now)


# %% [markdown]
# ## Measure the cost of simulated time
#
# | operation | real (wall) cost | virtual-time cost |
# |---|---|---|
# | set a timer: `asyncio.sleep(d)`, `call_later(d, …)`, a timeout | O(log T) heap push, T = pending timers | none until it fires |
# | jump to the next timer | O(log T) heap pop — no sleeping | the clock moves to the timer's instant, exactly |
# | a whole simulated run with E events | **O(E · log T)** | independent of how long the simulated span is |
# | the same test on the wall clock | Θ(the whole span) plus the work | — |
# | `DeadlockError` / `SimulationLimitError` report | O(tasks × await depth), once | — |
#
# The claim to check: the cost of a simulation depends on the number of events, **not** on how
# much time they span. Two hundred workers each take ten naps of a seeded random length; then the
# same scenario runs with every nap 10× and 1,000× longer (and a generous `limit`). The counts are
# deterministic, so the notebook compares them:

# %%
def workers(scale: float, n_workers: int = 200, n_naps: int = 10) -> Simulation:
    sim = Simulation(seed=1, limit=1e9)
    plans = [[sim.rng.randint(1, 60) * scale for _ in range(n_naps)] for _ in range(n_workers)]
    sim.run(nappers(sim.trace, plans))
    return sim

runs = {scale: workers(scale) for scale in (1, 10, 1000)}
print(format_table(["naps ×", "simulated span", "events", "distinct instants"],
      [(s, f"{r.now:,.0f} s ({r.now / 86400:,.2f} days)", len(r.trace), len({e.time for e in r.trace.events}))
       for s, r in runs.items()]))

# %% [markdown]
# Same events, same instants, a span 1,000× longer. The real time of each run is not compared by
# the notebook tests (it differs per machine), but the next cells print it and check the claim by
# inequality: the 1,000× longer simulation costs about the same as the short one.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: wall-clock timings differ run to run
wall = {}
for scale in (1, 1000):
    started = time.perf_counter()
    workers(scale)
    wall[scale] = time.perf_counter() - started
    print(f"naps ×{scale:<5} {wall[scale] * 1000:6.1f} ms of real time")

# %%
assert wall[1000] < 3 * wall[1] + 0.05, wall     # independent of the simulated span
print("a 1,000× longer simulated span did not cost 1,000× more: cost follows events, not duration")

# %% [markdown]
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | asserting wall-clock durations in a unit test | passes on a quiet laptop, fails on a busy CI runner: the test measures the machine | assert simulated instants on virtual time, exactly |
# | mocking `asyncio.sleep` to make tests fast | timeouts never fire, tasks finish in the wrong order: the test passes for the wrong reason | keep time, drop its cost: the virtual clock |
# | code under test drawing from the global `random` | a different result on every run; a failure you can never replay | inject a seeded generator: `Simulation(seed=...).rng`, `random.Random(seed)` |
# | a test that leaves a task running | work leaks into the next test; its errors are lost | structured concurrency (`TaskGroup`); `Simulation.run` cancels leftovers and runs their `finally` |
#
# Each one fails first, live, and is then fixed.
#
# ### Anti-pattern 1: asserting wall-clock durations
#
# This test retries a call that fails twice, with waits of 0.01 s and 0.02 s, and asserts that
# the whole thing finishes within 0.1 s. On an idle laptop it passes. On a loaded CI runner the
# event loop gets stalled — here that is made deterministic with a blocking `time.sleep(0.05)` in
# each call, standing in for a busy machine. The assertion's message is fixed text, so nbval can
# compare it; the durations are not printed.

# %%
QUICK = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.01, factor=2, cap=1))

async def retry_is_quick_test(stall: float) -> float:
    service = ScriptedService([UNAVAILABLE, UNAVAILABLE, "ok"])
    async def call_on_a_busy_machine() -> Result[object, ErrInfo]:
        time.sleep(stall)                        # blocks the whole event loop
        return await service.call()
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await perform_async(async_retry(async_lift(call_on_a_busy_machine), QUICK))
    elapsed = loop.time() - start
    assert result == Ok("ok")
    assert elapsed < 0.1, "the retried call took longer than its 0.1 s budget"
    return elapsed


# %% tags=["raises-exception"]
await retry_is_quick_test(stall=0.05)            # on the wall clock: a flaky test, failing

# %% [markdown]
# The same test, driven on virtual time: `loop.time()` is now the virtual clock, so the assertion
# is about *simulated* time, and it passes — the elapsed time is exactly the two waits. Notice
# also what the virtual clock did **not** see: the three blocking stalls. They still cost real
# time (checked by inequality), but zero virtual time. That is the caveat: virtual time cannot
# see blocking calls, so a blocking call hidden in an async step goes unnoticed by every
# virtual-time test. Keep blocking code out of async steps (lesson 07 wraps blocking libraries
# with `asyncio.to_thread`).

# %%
started = time.perf_counter()
elapsed = Simulation().run(retry_is_quick_test(stall=0.05))
assert time.perf_counter() - started >= 3 * 0.05        # the stalls really happened
assert elapsed == sum(delay_schedule(QUICK))            # 0.01 + 0.02, exactly
print(f"passes on virtual time: {elapsed:.2f} simulated seconds = the waits {delay_schedule(QUICK)}")
print("virtual seconds the 3 blocking stalls took: 0 — the virtual clock cannot see them")


# %% [markdown]
# ### Anti-pattern 2: mocking `asyncio.sleep`
#
# A common way to make slow async tests fast is to patch `asyncio.sleep` with a mock that returns
# at once. This test checks two timing facts: a 5 s call under a 1 s timeout must time out, and
# of two tasks sleeping 2 s and 1 s, the 1 s one must finish first.

# %%
async def slow_answer() -> Result[str, ErrInfo]:
    await asyncio.sleep(5)                       # the dependency takes 5 s
    return Ok("slow answer")

async def finish_order() -> list[str]:
    order: list[str] = []
    async def worker(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        order.append(name)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(worker("slow (2 s)", 2))
        tg.create_task(worker("fast (1 s)", 1))
    return order


# %%
async def timing_test() -> tuple[Result[str, ErrInfo], list[str]]:
    timed = await perform_async(async_timeout(async_lift(slow_answer), 1.0, name="slow answer"))
    return timed, await finish_order()


# %% [markdown]
# Run it with the mock in place. (It is driven on a `Simulation` here only so that no other code
# in the notebook's kernel sees the patched `asyncio.sleep` while it is active; on the real loop
# the mock behaves the same, because a mocked sleep never waits on any clock.)

# %%
sim = Simulation()
with patch("asyncio.sleep", new=AsyncMock(return_value=None)) as instant_sleep:
    mocked_timeout, mocked_order = sim.run(timing_test())
print("timeout result:", mocked_timeout)
print("finish order:  ", mocked_order)
print("sleeps requested:", [c.args[0] for c in instant_sleep.await_args_list], "| time that passed:", sim.now)

# %% tags=["raises-exception"]
assert isinstance(mocked_timeout, Err) and mocked_order[0] == "fast (1 s)", (
    f"the timeout never fired ({mocked_timeout}) and the tasks finished in creation order {mocked_order}")

# %% [markdown]
# The mock did not make time *fast* — it removed it. Every sleep returned without suspending, so
# the 1 s timeout never had a chance to fire and the tasks finished in the order they were
# created. The fix is to keep time and drop only its cost: the same test, unpatched, on virtual
# time.

# %%
sim = Simulation()
timed, order = sim.run(timing_test())
assert isinstance(timed, Err) and order == ["fast (1 s)", "slow (2 s)"]
print("timeout result:", timed)
print("finish order:  ", order, "| virtual time that passed:", sim.now)


# %% [markdown]
# ### Anti-pattern 3: the global `random`
#
# This hand-rolled jittered backoff draws from the module-level generator. Its result depends on
# whatever state that generator is in — which depends on every other test that ran before it.
# Two explicit seeds stand in for "whatever the state happened to be" on two runs:

# %%
def jittered_waits(attempts: int) -> list[float]:          # code under test, using the global generator
    return [round(random.uniform(0, min(2 ** n, 30)), 3) for n in range(attempts - 1)]

random.seed(1)                                   # the global state on one run...
first_run = jittered_waits(5)
random.seed(2)                                   # ...and on another
second_run = jittered_waits(5)
print("run 1:", first_run)
print("run 2:", second_run)

# %% tags=["raises-exception"]
assert first_run == second_run, "the same test saw different waits on two runs: a failure here can never be replayed"

# %% [markdown]
# The fix is to inject the generator. The package's policies already insist on it: a jittered
# policy without an `rng` is refused, and with `Simulation(seed=...).rng` the waits are the same on
# every run with that seed.

# %%
jittered = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, factor=2, cap=30), jitter="full")
try:
    async_retry(async_lift(ScriptedService(["ok"]).call), jittered)   # no rng given
except TypeError as error:
    print("TypeError:", error)

run_1 = delay_schedule(jittered, Simulation(seed=7).rng)
run_2 = delay_schedule(jittered, Simulation(seed=7).rng)
assert run_1 == run_2
print("seed 7, twice:", [round(w, 3) for w in run_1])


# %% [markdown]
# ### Anti-pattern 4: a task that outlives its test
#
# This test starts a heartbeat with `create_task` and returns without stopping it. Run on the
# notebook's own loop, the test "passes" — and the heartbeat keeps running afterwards, into
# whatever runs next.

# %%
async def heartbeat(log: list[str]) -> None:
    try:
        while True:
            await asyncio.sleep(10)
            log.append(f"beat at t={asyncio.get_running_loop().time():g}")
    finally:
        log.append("heartbeat stopped")

async def test_with_heartbeat(log: list[str], work: float) -> str:
    asyncio.create_task(heartbeat(log))          # started, never awaited, never cancelled
    await asyncio.sleep(work)
    return "test passed"


# %%
log: list[str] = []
before = asyncio.all_tasks()
print(await test_with_heartbeat(log, work=0))
leaked = asyncio.all_tasks() - before
print("tasks still running after the test returned:", len(leaked))
for task in leaked:                              # (clean up what this cell started)
    task.cancel()
_ = await asyncio.gather(*leaked, return_exceptions=True)

# %% tags=["raises-exception"]
assert not leaked, f"{len(leaked)} task outlived the test that started it"

# %% [markdown]
# On virtual time the test runs for 35 simulated seconds, and when `run` returns, the simulation
# has cancelled the leftover heartbeat and let its `finally` block run — no task is left behind.
# That is a safety net, not a design: the real fix is structured concurrency (start the heartbeat
# in a `TaskGroup` and cancel it when the test's work is done), which lesson 01 argued for.

# %%
log = []
sim = Simulation()
print(sim.run(test_with_heartbeat(log, work=35)), "at t =", sim.now)
print(log)

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("On a `Simulation`, when does virtual time move?",
             ("steadily, like a faster wall clock", "only when every task is waiting: it jumps to the earliest timer",
              "whenever a task calls loop.time()"),
             1, "When nothing is ready, the loop moves its VirtualClock to the next timer instead of sleeping."),
    Question("A step runs 2 s of CPU work (or calls `time.sleep(2)`). How much virtual time does it take?",
             ("2 s", "0 s: it never awaits, so the clock cannot move", "it depends on the machine"),
             1, "Virtual time moves only when every task waits — which is also why it cannot see blocking calls."),
    Question("Two timers are due at the same virtual instant. Which fires first?",
             ("the one that was set first", "a random one", "the one with the shorter delay"),
             0, "Ties fire in scheduling order (FIFO), so interleavings replay exactly."),
    Question("Why not patch `asyncio.sleep` with a mock that returns at once?",
             ("mocks are slow", "it removes time: timeouts never fire and tasks finish in the wrong order",
              "asyncio.sleep cannot be patched"),
             1, "A virtual clock keeps what time means and drops only what it costs."),
    Question("A consumer awaits a queue that nobody fills. On a `Simulation` you get…",
             ("a hang until the CI timeout", "a DeadlockError at once, naming every waiting task", "an empty list"),
             1, "No ready task, no timer, no thread: nothing can ever happen again, so the run stops with a report."),
    Question("Which test should run on the wall clock?",
             ("a unit test of a retry policy", "a property test over 100 schedules",
              "a few integration tests against real services, with generous timeouts"),
             2, "Real sockets and threads do not run on virtual time; assert outcomes there, never durations."),
    Question("How do you use Hypothesis with async code in this course?",
             ("put @given on the async def", "a sync @given test that builds the plan and drives it with Simulation().run",
              "run Hypothesis in a background task"),
             1, "@given cannot drive a coroutine; a sync test can, on a fresh virtual clock per example."),
    Question("A jittered retry test failed once in CI. What lets you replay that failure?",
             ("re-running it until it fails again", "the seed: the same Simulation(seed=...) gives the same trace",
              "a longer timeout"),
             1, "Randomness is injected and seeded, so the seed identifies the whole run."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# Open [the exercise notebook](../exercises/05_deterministic_async_testing.ipynb): three graded
# tasks, 10 points, each with hints, and a *Check your work* cell that gives per-task feedback
# whenever you run it (how it works: [the exercises README](../exercises/README.md)). All three ask
# you to write tests, and are graded by what your code accepts and rejects:
#
# 1. **Test a timeout on virtual time** — `assert_times_out_at(plan, limit)`: fail unless the plan
#    gives `Err(TIMEOUT)` at exactly t = `limit` and leaves no task running (cancelled, not abandoned).
# 2. **Test that a seed replays a run** — `assert_same_trace(make_scenario, seed)`: run a scenario
#    twice on `Simulation(seed=seed)` and fail unless the two traces are equal, event for event.
# 3. **Predict when a retry ends** — `retry_finishes_at(policy, failures, latency)`: the oracle of
#    the retry timing law, including attempts cut off by an `attempt_timeout`.
#
# Two more, not graded: **find a deadlock** — a two-stage pipeline joined by a bounded queue
# (`maxsize=1`) whose consumer stops after the first item hangs forever; run it on a `Simulation`,
# read the `DeadlockError` (which task waits where?) and fix it — and **make a flaky test
# deterministic**: rewrite a wall-clock test that asserts a duration to assert simulated instants
# exactly.
#
# ## On your own
#
# - Give the realistic policy a `deadline=90` and predict, from the schedule table, at which
#   instant the call gives up and with which error. Then check it on virtual time.
# - Count, over seeds 0 to 99, how many runs of `three_clients` end with some client giving up
#   (as client A does with seed 8). Count again: is the number the same? Why must it be?
# - Replace `time.sleep(stall)` in anti-pattern 1 with `await asyncio.to_thread(time.sleep, stall)`.
#   What does the virtual clock do while the thread works? Does the wall-clock test pass now?
# - Run `retry_timing_law` under `hypothesis.settings(max_examples=1000)` and compare the simulated
#   time covered with the real time it takes.
#
# ## Further reading
#
# - [trio: `MockClock` and `autojump_threshold`](https://trio.readthedocs.io/en/stable/reference-testing.html#time-and-timeouts)
#   — the idea this lesson's `Simulation` brings to asyncio.
# - [Python docs: `loop.time()`](https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.time)
#   and [scheduling delayed callbacks](https://docs.python.org/3/library/asyncio-eventloop.html#scheduling-delayed-callbacks):
#   the one clock every asyncio timer reads.
# - [Hypothesis: custom function execution](https://hypothesis.readthedocs.io/en/latest/details.html#custom-function-execution)
#   — why `@given` cannot run an `async def` by itself, and the hooks plugins use.
# - Testing asyncio code: [`unittest.IsolatedAsyncioTestCase`](https://docs.python.org/3/library/unittest.html#unittest.IsolatedAsyncioTestCase),
#   [pytest-asyncio](https://pytest-asyncio.readthedocs.io/), and
#   [looptime](https://looptime.readthedocs.io/), a pytest plugin that fakes the loop's time the same way.
# - Will Wilson, ["Testing Distributed Systems w/ Deterministic Simulation"](https://www.youtube.com/watch?v=4fFDFbi3toc)
#   (Strange Loop 2014): how FoundationDB was built inside a deterministic simulator.
#
# ## Continue with
#
# **[06 · Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb)**: token and leaky buckets, per-tenant
# limits and fair scheduling — all of it timing logic you can now test exactly, on virtual time.
# You can now make time and randomness inputs of a test: the same seed gives the same run, minutes
# cost milliseconds, and a deadlock is a message instead of a hang.
#
# ---
# [← 04 Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb) · [Contents](00_module_overview.ipynb) · [06 Rate Limiting and Fairness →](06_rate_limiting_and_fairness.ipynb)
