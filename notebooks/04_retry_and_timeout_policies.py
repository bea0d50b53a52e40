# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 03 Backpressure](03_backpressure.ipynb) · [Contents](00_module_overview.ipynb) · [05 Deterministic Async Testing →](05_deterministic_async_testing.ipynb)
#
# # 04 · Retry and Timeout Policies
#
# A network call fails now and then, and sometimes it hangs. The usual answer — "wrap it in a
# retry loop with a timeout" — is where many async bugs live: loops that hammer a dependency that
# is already down, timeouts that leave the work running, retries that charge a card twice, and
# loops that swallow cancellation so a task can never be stopped. This lesson makes retries and
# timeouts **data**: a frozen `RetryPolicy` you can print, compare and plot, applied by two plan
# transformers, `async_retry` and `async_timeout`, and run on **virtual time**, so minutes of
# backoff cost nothing and every output is the same on every run.
#
# **What you'll do**
# - Write retry policies as values and inspect their wait schedules — as tables and as a figure —
#   before anything runs.
# - Retry a flaky call, cut a hanging attempt short, and stop a whole call at its deadline, then
#   draw all three on one attempt timeline.
# - Prove the retry laws live, with Hypothesis, and measure what a retry costs.
# - Watch three production failures happen — a retry storm, a double charge, a timeout that does
#   not cancel — and fix each one.
#
# **What you'll learn**
# - `RetryPolicy`, `ConstantBackoff`, `ExponentialBackoff`, jitter (`"full"`, `"equal"`),
#   `RetryBudget`, and the pure `delay_schedule` / `schedule_table`.
# - `async_retry` and `async_timeout`: plan transformers, so retrying is still a description.
# - Which errors to retry, where timeouts belong, and why cancellation and defects are never retried.
# - `Simulation`: driving a plan on a virtual clock with a seeded random generator.
#
# **What you'll need**
# - Lesson [01 async/await as Descriptions](01_async_await_as_descriptions.ipynb): `AsyncPlan`,
#   `Result`, `ErrInfo`, the shell.
# - About 50 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["04 Retry and Timeout Policies"]
#   concept --> capstone["Capstone pressure point: lesson 12, embedding calls that fail and hang"]
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
# capstone, whose embedding calls go through a dependency that fails and hangs. The second is the
# rhythm of every lesson: a question, a worked example, the boundary it protects, and a review
# question you carry forward.
#
# **Core question.** How do you make retries and timeouts explicit, reviewable data — so that
# *how often*, *how long* and *which failures* are decided in one place, and the code that applies
# them can be tested without waiting for a real clock?
#
# **Why it matters.** Retries and timeouts are the most common "resilience" code and the most
# common cause of outages it was meant to prevent. A retry multiplies load on a struggling
# dependency; a timeout that does not cancel leaves work running; a retried write runs twice. Each
# of these is invisible in a happy-path test and obvious once the policy is a value and the run is
# a trace you can read.
#
# **The review question to carry:** *for this call, what is retried, how many times, how far apart,
# and what stops it — a deadline, a budget, the caller?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`; nothing the package provides is re-defined here.
# `setup()` loads the course's Hypothesis profile (derandomized, so this notebook's output is the
# same on every run). `Simulation` is the virtual-time driver: `Simulation(seed=...).run(plan)` drives
# a plan on a fresh event loop whose clock jumps straight to the next timer whenever every task is
# waiting. `run` is a plain (synchronous) call, so it works in a cell and inside a Hypothesis test.

# %%
import asyncio
import inspect
import random
import tracemalloc
from collections import Counter
from dataclasses import FrozenInstanceError, replace

import matplotlib
from hypothesis import given, strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    ATTEMPT, GIVE_UP, ConstantBackoff, Err, ErrInfo, ExponentialBackoff, FakePayments, Ok, Question,
    Result, RetryBudget, RetryPolicy, ScriptedService, Simulation, answer_key_html, api_summary,
    apply_jitter, async_fail, async_lift, async_retry, async_timeout, attempt_timeline_summary,
    backoff_delay, course_rc, delay_schedule, format_table, int_plans, is_retryable,
    plot_attempt_timeline, quiz_widget, schedule_table, setup, show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | law | one attempt is the plan | `async_retry(p, RetryPolicy(max_attempts=1))` drives to the same result as `p` | Hypothesis — [Prove the retry laws](#Prove-the-retry-laws-with-Hypothesis) |
# | law | non-retryable stops at once | an `Err` the policy does not retry returns after exactly one attempt, with no wait | Hypothesis — same section |
# | law | attempts are bounded | attempts ≤ `max_attempts`, and the first `Ok` ends the call | Hypothesis — same section |
# | law | the schedule | exponential waits are `initial · 2ᵏ`, never above `cap`; full jitter stays in `[0, d]`, equal jitter in `[d/2, d]` | Hypothesis — same section; the figure in [Plot the schedules](#Plot-the-schedules) |
# | invariant | policies are data | a `RetryPolicy` is frozen, validated when built, and compares by value | [Write a policy as data](#Write-a-policy-as-data) |
# | invariant | reproducible jitter | jitter draws only from an injected, seeded `random.Random`: same seed, same waits | [Inspect the schedule before anything runs](#Inspect-the-schedule-before-anything-runs) |
# | invariant | a timeout cancels | when a timeout fires, the running attempt is cancelled (its `finally` runs) and no task is left behind | [Cut a hanging attempt short](#Cut-a-hanging-attempt-short) |
# | invariant | cancellation is never retried | a cancel from outside is recorded on the running attempt and propagates as `CancelledError` | [Never retry a cancellation](#Never-retry-a-cancellation) |
# | invariant | defects are never retried | an exception raised by the plan propagates unchanged after one attempt | [Let a defect crash](#Let-a-defect-crash) and Hypothesis |
#
# "Drives to the same result" means: both plans are driven on a fresh `Simulation` and their
# `Result`s compared.

# %% [markdown]
# ## Read the public API
#
# The policy types and the transformers, with their signatures and the first line of their docs:

# %%
print(api_summary([RetryPolicy, ConstantBackoff, ExponentialBackoff, RetryBudget,
                   backoff_delay, apply_jitter, delay_schedule, schedule_table, is_retryable,
                   async_timeout, async_retry]))

# %% [markdown]
# ## Write a policy as data
#
# A policy says *how* to retry and nothing else: attempts (the first one included), the backoff
# between them, jitter, which errors are retryable, a timeout per attempt and a deadline for the
# whole call. Watch for three things below: the policy prints as the code that builds it, it cannot
# be changed after it is built (a variant is a *new* value, made with `dataclasses.replace`), and a
# nonsensical policy is refused at construction, not at 3 a.m. during an incident.

# %%
policy = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, factor=2, cap=10),
                     jitter="full", attempt_timeout=2, deadline=30)
print(policy)
try:
    policy.max_attempts = 50
except FrozenInstanceError as error:
    print("FrozenInstanceError:", error)
print("a variant is a new value:", replace(policy, jitter="none") != policy)
for bad in (lambda: RetryPolicy(max_attempts=0), lambda: ExponentialBackoff(initial=5, cap=1)):
    try:
        bad()
    except ValueError as error:
        print("ValueError:", error)

# %% [markdown]
# ## Inspect the schedule before anything runs
#
# `delay_schedule(policy, rng)` is a **pure function**: the waits before attempts 2, 3, …, computed
# from the policy alone (and from `rng`, when there is jitter). `schedule_table` shows the same
# schedule with the earliest moment each attempt could start. Nothing is called, nothing sleeps.
# Watch the exponential waits double — 1, 2, 4, 8 — until the cap holds them at 10.

# %%
capped = RetryPolicy(max_attempts=7, backoff=ExponentialBackoff(initial=1, factor=2, cap=10))
print(delay_schedule(capped))
print(schedule_table(capped))

# %% [markdown]
# Jitter draws from a random generator you pass in — never from the global `random` module — so a
# schedule is reproducible: the same seed gives the same waits, a different seed different ones. A
# policy with jitter and no generator is refused with a clear message.

# %%
jittered = replace(capped, jitter="full")
print("seed 7:", [round(w, 3) for w in delay_schedule(jittered, random.Random(7))])
print("seed 7:", [round(w, 3) for w in delay_schedule(jittered, random.Random(7))])
print("seed 8:", [round(w, 3) for w in delay_schedule(jittered, random.Random(8))])
try:
    delay_schedule(jittered)
except TypeError as error:
    print("TypeError:", error)

# %% [markdown]
# ## Plot the schedules
#
# Three policies side by side, for eight retries: a constant 4 s wait, exponential backoff capped
# at 30 s, and the same exponential schedule with **full** jitter (uniform in `[0, d]`) and **equal**
# jitter (`d/2` plus uniform in `[0, d/2]`) — five seeded draws each. Look for: the constant line is
# flat, the exponential one doubles and then flattens at the cap, full-jitter draws scatter anywhere
# under the curve, and equal-jitter draws stay in the band between `d/2` and `d`.

# %%
RETRIES = list(range(1, 9))
constant = RetryPolicy(max_attempts=9, backoff=ConstantBackoff(delay=4))
exp_capped = RetryPolicy(max_attempts=9, backoff=ExponentialBackoff(initial=1, factor=2, cap=30))
DRAWS = {jitter: [delay_schedule(replace(exp_capped, jitter=jitter), random.Random(seed)) for seed in range(5)]
         for jitter in ("full", "equal")}
curve = delay_schedule(exp_capped)
rows = [[n, f"{d:g}", f"{min(full):.2f}–{max(full):.2f}", f"{min(eq):.2f}–{max(eq):.2f}"]
        for n, d, full, eq in zip(RETRIES, curve, zip(*DRAWS["full"]), zip(*DRAWS["equal"]))]
print(format_table(["retry", "capped d (s)", "full jitter, 5 draws", "equal jitter, 5 draws"], rows))


# %%
def plot_schedules() -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        left, right = fig.subplots(1, 2, sharey=True)
        c = [p["color"] for p in matplotlib.rcParams["axes.prop_cycle"]]
        left.plot(RETRIES, delay_schedule(constant), marker="s", linestyle="--", color=c[0], label="constant 4 s")
        left.plot(RETRIES, curve, marker="o", color=c[1], label="exponential 1·2ⁿ⁻¹ s, cap 30 s")
        left.set_title("Without jitter")
        right.plot(RETRIES, curve, marker="o", color=c[1], label="un-jittered d (the cap curve)")
        right.plot(RETRIES, [d / 2 for d in curve], linestyle=":", color="0.3", label="d / 2")
        for i, (jitter, marker, dx) in enumerate((("full", "x", -0.12), ("equal", "^", 0.12))):
            for k, draw in enumerate(DRAWS[jitter]):
                right.plot([n + dx for n in RETRIES], draw, marker=marker, linestyle="none", color=c[2 + i],
                           label=f"{jitter} jitter, 5 seeded draws" if k == 0 else None)
        right.set_title("Exponential, capped, with jitter")
        for ax in (left, right):
            ax.set_xlabel("retry number")
            ax.legend(loc="upper left", fontsize=9)
        left.set_ylabel("wait (virtual seconds)")
    return fig


# %%
show_figure(plot_schedules(), alt=(
    "Two panels of wait in virtual seconds against retry number 1 to 8. Left: constant 4 s is flat; "
    "exponential doubles 1, 2, 4, 8, 16 then stays at the 30 s cap. Right: the same capped curve, "
    "full-jitter draws scattered between 0 and the curve, equal-jitter draws between half the curve and the curve."))
for jitter in ("full", "equal"):
    low = min(w / d for draw in DRAWS[jitter] for w, d in zip(draw, curve))
    high = max(w / d for draw in DRAWS[jitter] for w, d in zip(draw, curve))
    print(f"{jitter:>5} jitter: wait / d ranges over {low:.2f}–{high:.2f} across {len(DRAWS[jitter])} draws")
print("no jitter:", ", ".join(f"{d:g}" for d in curve), "s")

# %% [markdown]
# Why jitter at all? Without it, every caller that failed at the same moment retries at the same
# moment — the waits are identical. [Anti-pattern 1](#Anti-pattern-1:-a-retry-storm) shows what
# that does to a dependency. Full jitter spreads retries the most; equal jitter keeps a minimum wait
# of `d/2`, which is useful when retrying too early is known to be pointless.
#
# ## Decide which errors to retry
#
# A retry helps only when trying the *same* request again can give a different answer. The step
# that failed says so in `ErrInfo.retryable`; a policy can also list exact codes in `retry_on`.
#
# | failure | example code | retry? | why |
# |---|---|---|---|
# | attempt timed out | `TIMEOUT` | yes, if the call is idempotent | a slow moment may pass; the attempt was cancelled |
# | service unavailable | `HTTP_503`, gRPC `UNAVAILABLE` | yes, with backoff and jitter | overload or restart: transient |
# | connection reset | `CONN_RESET` | yes | a transient network fault |
# | too many requests | `HTTP_429` | yes, with backoff, honouring the server's `Retry-After` | the server asked you to slow down, not to stop |
# | validation failed | `HTTP_400` | no | the same input gets the same answer |
# | not found | `HTTP_404` | no | retrying does not create the resource |
# | not authenticated / authorised | `HTTP_401`, `HTTP_403` | no | refresh credentials first, then make a *new* call |
# | a non-idempotent write timed out | any | only with an idempotency key | the first attempt may already have succeeded — [anti-pattern 2](#Anti-pattern-2:-retrying-a-non-idempotent-write) |
# | an exception (a bug) | `KeyError` | never | a defect: crash loudly, fix the code |
# | cancellation | `CancelledError` | never | the caller wants the work stopped |
#
# One caveat about 429: `async_retry` waits by its own schedule and does not read a server's
# `Retry-After`. For a service that sends one, give 429 a backoff whose first wait is no shorter
# than the `Retry-After` it usually sends, or leave `HTTP_429` out of `retry_on` and let the caller
# reschedule the work.
#
# Here is the table's "retry?" column as a policy — an explicit `retry_on` set — checked by the
# pure function `is_retryable`:

# %%
RETRY_ON = frozenset({"TIMEOUT", "HTTP_503", "UNAVAILABLE", "CONN_RESET", "HTTP_429"})
by_code = RetryPolicy(max_attempts=4, retry_on=RETRY_ON)
by_flag = RetryPolicy(max_attempts=4)                       # retry_on=None: trust ErrInfo.retryable
errors = [ErrInfo("TIMEOUT", retryable=True), ErrInfo("HTTP_503", retryable=True),
          ErrInfo("CONN_RESET", retryable=True), ErrInfo("HTTP_429", retryable=True),
          ErrInfo("HTTP_400"), ErrInfo("HTTP_404"), ErrInfo("HTTP_401"), ErrInfo("HTTP_409", retryable=True)]
rows = [[e.code, e.retryable, is_retryable(by_code, e), is_retryable(by_flag, e)] for e in errors]
print(format_table(["code", "ErrInfo.retryable", "retried (by code)", "retried (by flag)"], rows))

# %% [markdown]
# The last row is why `retry_on` exists: a step said its `HTTP_409` (conflict) was retryable, but
# this caller's policy, which lists codes explicitly, does not agree. The caller owns the decision.
#
# ## Retry a flaky call on virtual time
#
# The package's `ScriptedService` stands in for a dependency: call *n* waits `latency` seconds of
# the loop's clock, then returns entry *n* of its script (the last entry repeats). `service.calls`
# holds the virtual time of every call, so you can check *when* each attempt happened.

# %%
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
INVALID = ErrInfo("HTTP_400", "invalid request")

# %% [markdown]
# `async_retry(plan, policy)` is a plan transformer: it returns a new plan and runs nothing. The
# `Simulation` drives it. Read the trace from the top: attempt 1 fails at 0.5 s, the policy waits
# 1 s, attempt 2 fails, it waits 2 s, attempt 3 succeeds at 4.5 s — virtual seconds, so the cell
# returns at once.

# %%
sim = Simulation(seed=1)
service = ScriptedService([Err(UNAVAILABLE), Err(UNAVAILABLE), Ok("payload")], latency=0.5)
retried = async_retry(async_lift(service.call), capped, trace=sim.trace, name="flaky")
print("calls before driving:", service.calls)        # a description: nothing has run
print(sim.run(retried), "at t =", sim.now)
print(sim.trace.table())

# %% [markdown]
# Because the clock is virtual, long waits are free. The next policy backs off for *minutes* against
# a dependency that never recovers; the run still finishes immediately, at exactly the virtual time
# the schedule predicts.

# %%
patient = RetryPolicy(max_attempts=8, backoff=ExponentialBackoff(initial=2, factor=2, cap=120))
never_up = ScriptedService([Err(UNAVAILABLE)], latency=0)
sim = Simulation()
print(sim.run(async_retry(async_lift(never_up.call), patient)))
print(f"{len(never_up.calls)} attempts; waited {sum(delay_schedule(patient)):g} s by the schedule; "
      f"virtual clock at {sim.now:g} s ({sim.now / 60:.1f} simulated minutes)")

# %% [markdown]
# ## Cut a hanging attempt short
#
# `async_timeout(plan, seconds)` returns the plan's result, or `Err(TIMEOUT)` if there is none
# after `seconds`. The important word is **cancel**: the running attempt is cancelled, so its
# `finally` blocks run and nothing it started keeps running. The attempt below would take 60 s;
# watch its `finally` run at t = 2, and the task list afterwards hold only `main` — the simulation's
# task for the caller itself.

# %%
log = []

async def hangs() -> Result[str, ErrInfo]:
    try:
        await asyncio.sleep(60)
        return Ok("too late")
    finally:
        log.append(f"finally ran at t={asyncio.get_running_loop().time():g}")

async def call_with_timeout():
    result = await async_timeout(async_lift(hangs), 2, name="hangs")()
    return result, [t.get_name() for t in asyncio.all_tasks()]

sim = Simulation()
print(sim.run(call_with_timeout()), log)

# %% [markdown]
# Inside a retry, the same rule applies per attempt: `RetryPolicy(attempt_timeout=...)` cancels an
# attempt that takes too long and counts it as `Err(TIMEOUT)`, which is retryable.
#
# ## Stop at the deadline
#
# `deadline` bounds the *whole* call, waits included. When it passes, whatever is running — an
# attempt or a backoff wait — is cancelled, and the result is `Err(DEADLINE_EXCEEDED)`. Here every
# attempt takes 4 s and fails; the deadline of 7 s arrives in the middle of attempt 2.

# %%
slow_fail = ScriptedService([Err(UNAVAILABLE)], latency=4)
with_deadline = RetryPolicy(max_attempts=5, backoff=ConstantBackoff(1), deadline=7)
sim = Simulation()
print(sim.run(async_retry(async_lift(slow_fail.call), with_deadline, trace=sim.trace, name="deadline")))
print(attempt_timeline_summary(sim.trace))


# %% [markdown]
# ## Decide where timeouts belong
#
# | timeout | bounds | use it when | watch out for |
# |---|---|---|---|
# | per attempt (`attempt_timeout`) | one try | one call can hang (a dead connection) while a fresh try is fast | alone, the call can still take `max_attempts × attempt_timeout + waits` |
# | overall deadline (`deadline`) | the whole call, waits included | the caller has a budget (answer within 10 s) | alone, one hung attempt eats the whole deadline and leaves no retry |
# | both | each try and the total | most network calls | the deadline must exceed `attempt_timeout × max_attempts + sum(waits)`, or the last attempts are never made |
# | outside (`async_timeout(async_retry(...))`) | the whole call, from the caller's side | the caller, not the policy, owns the budget | the retry sees a cancellation (recorded as `cancelled`), not a result |
#
# The worst case of a policy is arithmetic on data — no run needed:

# %%
def worst_case(policy: RetryPolicy) -> float:
    """Seconds a call can take if every attempt hangs until its timeout (jitter only shortens waits)."""
    return policy.max_attempts * policy.attempt_timeout + sum(delay_schedule(replace(policy, jitter="none")))

both = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(1, 2, cap=10), attempt_timeout=2)
print(f"worst case: {worst_case(both):g} s =", both.max_attempts, "attempts × 2 s +",
      " + ".join(f"{w:g}" for w in delay_schedule(both)), "s of waits")

# %% [markdown]
# Now drive it against a dependency that always hangs, with a deadline below the worst case and
# one above it. Watch the short deadline cut the call to 3 attempts: before the 4th, the policy sees
# that its next wait would end past the deadline and gives up early instead of starting an attempt
# that could never finish.

# %%
rows = []
for deadline in (10, 16):
    sim, hanging = Simulation(), ScriptedService([Ok("never seen")], latency=60)
    result = sim.run(async_retry(async_lift(hanging.call), replace(both, deadline=deadline), trace=sim.trace))
    reason = sim.trace.of_kind(GIVE_UP)[-1].data["reason"]
    rows.append([deadline, len(hanging.calls), f"{sim.now:g}", result.error.code, reason])
print(format_table(["deadline (s)", "attempts", "ended at (s)", "result", "why it stopped"], rows))

# %% [markdown]
# ## Draw the attempt timeline
#
# Three calls on one virtual clock, recorded on one trace:
#
# * **flaky** — fails twice with `HTTP_503`, succeeds on attempt 3;
# * **hanging** — every attempt hangs, so each is cut by its 2 s `attempt_timeout`; it gives up
#   after 3 attempts;
# * **deadline 7 s** — each attempt takes 4 s and fails; the deadline cancels attempt 2 while it runs.
#
# The three start together. The notebook is the shell, so it may use `asyncio.gather` to drive the
# three plans side by side (`async_gather` would stop at the first `Err`, and we want to see all three).

# %%
sim = Simulation(seed=4)
flaky = async_retry(async_lift(ScriptedService([Err(UNAVAILABLE)] * 2 + [Ok("payload")], latency=0.5).call),
                    RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(1, 2, cap=30)), trace=sim.trace, name="flaky")
hanging = async_retry(async_lift(ScriptedService([Ok("late")], latency=60).call),
                      RetryPolicy(max_attempts=3, backoff=ConstantBackoff(1), attempt_timeout=2),
                      trace=sim.trace, name="hanging")
deadlined = async_retry(async_lift(ScriptedService([Err(UNAVAILABLE)], latency=4).call),
                        with_deadline, trace=sim.trace, name="deadline 7 s")

async def drive_all():
    return await asyncio.gather(flaky(), hanging(), deadlined())

for result in sim.run(drive_all()):
    print(result)

# %% [markdown]
# Read the figure row by row: a bar per attempt — its fill *and* hatch say how it ended (Ok,
# `Err`, timed out, cancelled) — a dotted arrow for each backoff wait, an ✕ where a call gave up,
# and the dashed line at 7 s, which belongs to the third call's deadline.

# %%
summary = attempt_timeline_summary(sim.trace)
fig = plot_attempt_timeline(sim.trace, deadline=7, title="Three calls under three policies",
                            time_label="virtual time (virtual seconds)")
show_figure(fig, alt="Attempt timeline. " + summary.replace(chr(10), "; "))
print(summary)


# %% [markdown]
# ## Never retry a cancellation
#
# Cancellation is how asyncio says *stop*: an outer timeout fired, the user closed the page, the
# service is shutting down. A retry loop must let it through. Below, the shell starts a retrying
# call as a task and cancels it at t = 2.5, in the middle of attempt 2. Watch the trace record
# attempt 2 as `cancelled` and the `CancelledError` reach the caller — no attempt 3.

# %%
async def cancel_after(seconds: float, make_call) -> str:
    task = asyncio.create_task(make_call(), name="retrying call")
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        result = await task
    except asyncio.CancelledError:
        return "CancelledError reached the caller"
    return f"the task ignored the cancel and returned {result}"

down = ScriptedService([Err(UNAVAILABLE)], latency=1)
five_tries = RetryPolicy(max_attempts=5, backoff=ConstantBackoff(1))
sim = Simulation()
print(sim.run(cancel_after(2.5, async_retry(async_lift(down.call), five_tries, trace=sim.trace))))
print(attempt_timeline_summary(sim.trace), "| calls made:", len(down.calls))


# %% [markdown]
# An outer `asyncio.timeout` is a cancellation from outside too: it cancels the call, the trace
# records the attempt it interrupted, and the caller sees the outer `TimeoutError`.

# %%
async def outer_timeout(seconds: float, make_call) -> str:
    try:
        async with asyncio.timeout(seconds):
            await make_call()
    except TimeoutError:
        return f"outer timeout at t={asyncio.get_running_loop().time():g}"

down, sim = ScriptedService([Err(UNAVAILABLE)], latency=1), Simulation()
print(sim.run(outer_timeout(2.5, async_retry(async_lift(down.call), five_tries, trace=sim.trace))))
print(attempt_timeline_summary(sim.trace))


# %% [markdown]
# Now a hand-written loop that "retries on anything" — `except BaseException`, or a predicate such
# as "retry unless it is a `ValueError`", which also matches `CancelledError`. This is the real
# story of tenacity's issues [#186](https://github.com/jd/tenacity/issues/186) (before Python 3.8,
# `CancelledError` was an ordinary `Exception`, so "retry on any exception" retried it) and
# [#529](https://github.com/jd/tenacity/issues/529) (`retry_if_not_exception_type(...)` retries
# `CancelledError`, so `asyncio.wait_for` cannot stop the call). The same cancel at t = 2.5:

# %%
def naive_retry(make_call, attempts: int = 5, delay: float = 1.0):
    async def loop():
        result = None
        for _ in range(attempts):
            try:
                result = await make_call()
                if isinstance(result, Ok):
                    return result
                await asyncio.sleep(delay)
            except BaseException:          # "retry on anything" — swallows CancelledError too
                continue
        return result
    return loop

down, sim = ScriptedService([Err(UNAVAILABLE)], latency=1), Simulation()
naive_outcome = sim.run(cancel_after(2.5, naive_retry(down.call)))
late_calls = sum(t > 2.5 for t in down.calls)
print(naive_outcome)

# %% tags=["raises-exception"]
assert naive_outcome == "CancelledError reached the caller", (
    f"cancelled at t=2.5, the loop made {late_calls} more attempts and returned at t={sim.now:g}")

# %% [markdown]
# The fix is not to write this loop: `async_retry` re-raises `CancelledError` after recording it,
# as the first cell of this section showed. If you must write a loop, catch `Exception` (never
# `BaseException`), and never turn `CancelledError` into a retry.
#
# ## Let a defect crash
#
# An exception is a bug, not an expected failure: `async_retry` does not catch it, so it propagates
# after exactly one attempt, with its own type and message. Retrying a `KeyError` three times would
# only hide it.

# %%
attempts = []

async def buggy() -> Result[str, ErrInfo]:
    attempts.append("call")
    return Ok({"id": 1}["name"])        # a bug: KeyError

try:
    Simulation().run(async_retry(async_lift(buggy), five_tries))
except KeyError as error:
    print(f"KeyError({error}) propagated after {len(attempts)} attempt(s)")

# %% [markdown]
# ## Prove the retry laws with Hypothesis
#
# `@given` cannot decorate an `async def`, but it does not need to: each property below is a plain
# function that drives plans with `Simulation().run(...)`. Every example gets its own fresh virtual
# clock. The course profile is derandomized, so the examples — and this output — are stable. Each
# property counts the examples it was given in `EXAMPLES`.
#
# **One attempt is the plan itself.** The package's `int_plans()` strategy draws pure, failing,
# suspending and bound plans; retrying any of them with `max_attempts=1` changes nothing.

# %%
EXAMPLES = Counter()

@given(plan=int_plans())
def one_attempt_is_the_plan(plan) -> None:
    EXAMPLES["one attempt"] += 1
    assert Simulation().run(async_retry(plan, RetryPolicy(max_attempts=1))) == Simulation().run(plan)

one_attempt_is_the_plan()
print(f"max_attempts=1 drives to the same result as the plan itself: {EXAMPLES['one attempt']} examples")


# %% [markdown]
# **A non-retryable error stops at once**, whatever the attempts, backoff and jitter: one call, no
# wait, the error returned unchanged.

# %%
@given(max_attempts=st.integers(1, 20), delay=st.floats(0, 100), jitter=st.sampled_from(["none", "full", "equal"]),
       code=st.sampled_from(["HTTP_400", "HTTP_401", "HTTP_404"]))
def non_retryable_stops_at_once(max_attempts, delay, jitter, code) -> None:
    EXAMPLES["non-retryable"] += 1
    service = ScriptedService([Err(ErrInfo(code))], latency=0.25)
    policy = RetryPolicy(max_attempts=max_attempts, backoff=ConstantBackoff(delay), jitter=jitter)
    sim = Simulation(seed=max_attempts)
    assert sim.run(async_retry(async_lift(service.call), policy, rng=sim.rng)) == Err(ErrInfo(code))
    assert len(service.calls) == 1 and sim.now == 0.25

non_retryable_stops_at_once()
print(f"a non-retryable Err: exactly one attempt, no wait: {EXAMPLES['non-retryable']} examples")


# %% [markdown]
# **Attempts never exceed `max_attempts`**, and the first `Ok` ends the call. A drawn script of
# successes and retryable failures fixes when the dependency recovers, if ever.

# %%
@given(script=st.lists(st.booleans(), min_size=1, max_size=12), max_attempts=st.integers(1, 10))
def attempts_are_bounded(script, max_attempts) -> None:
    EXAMPLES["bounded"] += 1
    outcomes = [Ok("ok") if ok else Err(UNAVAILABLE) for ok in script] + [Err(UNAVAILABLE)]
    service = ScriptedService(outcomes, latency=0)
    result = Simulation().run(async_retry(async_lift(service.call), replace(five_tries, max_attempts=max_attempts)))
    first_ok = script.index(True) + 1 if True in script else len(outcomes) + max_attempts
    assert len(service.calls) == min(first_ok, max_attempts) <= max_attempts
    assert isinstance(result, Ok) == (first_ok <= max_attempts)

attempts_are_bounded()
print(f"attempts <= max_attempts, and the first Ok ends the call: {EXAMPLES['bounded']} examples")


# %% [markdown]
# **The schedule is exponential and capped, and jitter stays in its bounds.** These two are about the
# pure schedule, so they need no simulation at all.

# %%
@given(initial=st.floats(0.001, 10), cap_ratio=st.floats(1, 100), retries=st.integers(1, 15))
def schedule_is_exponential_and_capped(initial, cap_ratio, retries) -> None:
    EXAMPLES["schedule"] += 1
    cap = initial * cap_ratio
    waits = delay_schedule(RetryPolicy(max_attempts=retries + 1, backoff=ExponentialBackoff(initial, 2, cap)))
    assert waits == tuple(min(initial * 2 ** k, cap) for k in range(retries))

schedule_is_exponential_and_capped()
print(f"waits are initial·2^k capped at cap: {EXAMPLES['schedule']} examples")


# %%
@given(seed=st.integers(0, 2**32), jitter=st.sampled_from(["full", "equal"]), retries=st.integers(1, 12))
def jitter_stays_in_bounds(seed, jitter, retries) -> None:
    EXAMPLES["jitter"] += 1
    policy = RetryPolicy(max_attempts=retries + 1, backoff=ExponentialBackoff(1, 2, cap=30), jitter=jitter)
    for wait, d in zip(delay_schedule(policy, random.Random(seed)), delay_schedule(replace(policy, jitter="none"))):
        assert (0 if jitter == "full" else d / 2) <= wait <= d

jitter_stays_in_bounds()
print(f"full jitter in [0, d], equal jitter in [d/2, d]: {EXAMPLES['jitter']} examples")


# %% [markdown]
# **Defects are never retried**, for any policy:

# %%
@given(max_attempts=st.integers(1, 20), error=st.sampled_from([KeyError, ValueError, ZeroDivisionError]))
def defects_are_never_retried(max_attempts, error) -> None:
    EXAMPLES["defects"] += 1
    calls = []
    async def broken() -> Result[str, ErrInfo]:
        calls.append("call")
        raise error("a bug")
    try:
        Simulation().run(async_retry(async_lift(broken), replace(five_tries, max_attempts=max_attempts)))
    except error:
        assert calls == ["call"]
    else:
        raise AssertionError("the exception was swallowed")

defects_are_never_retried()
print(f"an exception propagates after exactly one attempt: {EXAMPLES['defects']} examples")


# %% [markdown]
# ## Measure the cost of a retry
#
# | operation | time | memory |
# |---|---|---|
# | building a policy, `async_retry(plan, policy)`, `async_timeout(plan, s)` | O(1) | O(1) — a frozen value, a closure |
# | `delay_schedule` / `schedule_table` for `n` attempts | O(n) | O(n) — the tuple of waits |
# | driving a retried plan that makes `n` attempts | O(n) attempts and waits (plus `n` × the plan's own cost) | O(1) retry state — the attempt number and the last error; O(n) only if you record a trace |
# | `RetryBudget.deposit` / `try_spend` | O(1) | O(1) |
# | virtual time | the sum of the waits (plus each attempt's own time) | — |
#
# The measurement runs on virtual time, so it counts things instead of timing them: attempts made,
# trace events recorded, tasks alive during the call, and the virtual seconds the waits took. Memory
# is measured with `tracemalloc` and compared with the smallest run (the exact bytes vary a little
# from run to run, so the table shows the verdict, not the bytes). Watch the counts grow
# linearly with `n` while the task count and memory stay flat.

# %%
def measure(n: int) -> list[object]:
    seen = {"calls": 0, "tasks": 0}         # counters, not lists: the probe itself stays O(1)
    async def down() -> Result[str, ErrInfo]:
        seen["calls"] += 1
        seen["tasks"] = max(seen["tasks"], len(asyncio.all_tasks()))
        return Err(UNAVAILABLE)
    policy, sim, traced = RetryPolicy(max_attempts=n, backoff=ConstantBackoff(1)), Simulation(), Simulation()
    tracemalloc.start()
    sim.run(async_retry(async_lift(down), policy))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    traced.run(async_retry(async_fail(UNAVAILABLE), policy, trace=traced.trace))   # again, recording a trace
    return [n, seen["calls"], len(traced.trace), seen["tasks"], f"{sim.now:g}", peak]


# %%
rows = [measure(n) for n in (10, 100, 1_000)]
smallest = rows[0][-1]
for row in rows:                           # bytes wobble a little run to run (GC, hashing): show the verdict
    row[-1] = "flat (< 1.5× of n=10)" if row[-1] < 1.5 * smallest else f"grows ({row[-1] / smallest:.0f}×)"
print(format_table(["n attempts", "calls", "trace events", "tasks alive", "virtual s", "peak memory"], rows))

# %% [markdown]
# Calls grow as `n`, trace events as exactly `3n` (`n` attempts, `n` outcomes, `n − 1` waits, one
# give-up), the waits take `n − 1`
# virtual seconds — and there is one task (the call itself) and flat peak memory whether the call
# makes 10 attempts or 1,000. A retry is a loop, not a recursion, and it keeps no history of its own.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | every caller retries, in step, with no budget | a dependency that is down gets `max_attempts ×` its normal load, in synchronised waves | jitter spreads the waves; a shared `RetryBudget` caps the extra load |
# | retrying a non-idempotent write | the first attempt succeeded but its reply timed out; the retry does it again (charged twice) | an idempotency key, made once per logical operation, that the service de-duplicates |
# | a timeout that does not cancel | the caller moves on, the attempt keeps running and its effect lands later | `async_timeout` / `attempt_timeout`: the attempt is cancelled and awaited |
# | a retry loop that swallows `CancelledError` | a task that cannot be stopped | shown above, in [Never retry a cancellation](#Never-retry-a-cancellation) |
#
# Each one below fails first, live, and is then fixed.
#
# ### Anti-pattern 1: a retry storm
#
# A dependency is down. 100 callers hit it at the same moment (a deploy, a cache expiring), and
# each retries 5 times with exponential backoff — no jitter, no budget. Every request takes 0.1 s and
# fails. Count what reaches the dependency, per virtual second:

# %%
CALLERS = 100
storm_policy = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(1, 2, cap=30))

def storm(policy: RetryPolicy, budget: RetryBudget | None = None, seed: int = 0) -> list[float]:
    """Times at which requests reached a dependency that is down, from CALLERS simultaneous callers."""
    sim, dependency = Simulation(seed=seed), ScriptedService([Err(UNAVAILABLE)], latency=0.1)
    plan = async_retry(async_lift(dependency.call), policy, rng=sim.rng, budget=budget)
    async def everyone():                   # the shell: CALLERS calls at once
        return await asyncio.gather(*(plan() for _ in range(CALLERS)))
    sim.run(everyone())
    return dependency.calls

def per_second(calls: list[float]) -> str:
    counts = Counter(int(t) for t in calls)
    return ", ".join(f"[{s}, {s + 1}): {n}" for s, n in sorted(counts.items()))

no_jitter = storm(storm_policy)
print(len(no_jitter), "requests for", CALLERS, "calls;", per_second(no_jitter))


# %% tags=["raises-exception"]
def busiest_retry_wave(calls: list[float]) -> int:
    """The most retries in any 100 ms window (calls[CALLERS:] are the retries: every first attempt is at t=0)."""
    return max(Counter(int(t * 10) for t in calls[CALLERS:]).values(), default=0)

assert len(no_jitter) <= 1.5 * CALLERS and busiest_retry_wave(no_jitter) <= CALLERS // 4, (
    f"retry storm: {len(no_jitter)} requests for {CALLERS} calls (load x{len(no_jitter) / CALLERS:g}), "
    f"in synchronised waves of {busiest_retry_wave(no_jitter)} retries within 100 ms")

# %% [markdown]
# Two separate problems, two separate fixes. **Jitter** breaks the synchronisation: the same
# retries, spread out. It does *not* reduce the load — still 500 requests. A **retry budget** caps
# the load: every call deposits 0.1 of a token, every retry spends a whole one, so retries add at
# most 10 % to the calls made (plus a small reserve of 10 to get started). The budget is *state*
# shared by all callers — like a connection pool — so it is passed in, not part of the policy value.

# %%
jittered_storm = replace(storm_policy, jitter="full")
jitter_only = storm(jittered_storm)
budget = RetryBudget(ratio=0.1, reserve=10)
jitter_and_budget = storm(jittered_storm, budget=budget)
for label, calls in (("no jitter", no_jitter), ("jitter only", jitter_only), ("jitter + budget", jitter_and_budget)):
    print(f"{label:>15}: {len(calls)} requests (load x{len(calls) / CALLERS:g}), "
          f"{len(calls) - CALLERS} retries, busiest 100 ms of retries: {busiest_retry_wave(calls)}")
print(budget)

# %% [markdown]
# To see the waves, count requests in 100 ms windows and plot them over virtual time:

# %%
WINDOWS = [w / 10 for w in range(165)]      # 100 ms windows over the first 16.5 virtual seconds

def per_window(calls: list[float]) -> list[int]:
    counts = Counter(int(t * 10) for t in calls)
    return [counts[w] for w in range(len(WINDOWS))]


# %%
def plot_storm() -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(10, 4.2), layout="constrained")
        ax = fig.add_subplot()
        c = [p["color"] for p in matplotlib.rcParams["axes.prop_cycle"]]
        series = (("no jitter, no budget", no_jitter, "o", "-"), ("full jitter", jitter_only, "^", "--"),
                  ("full jitter + retry budget", jitter_and_budget, "s", ":"))
        for i, (label, calls, marker, style) in enumerate(series):
            counts = per_window(calls)
            ax.plot(WINDOWS, counts, drawstyle="steps-post", linestyle=style, color=c[i], label=label,
                    marker=marker, markevery=[k for k, n in enumerate(counts) if n >= 10], markersize=6)
        ax.annotate("first attempts\n(all three runs)", xy=(0.15, 97), xytext=(0.8, 75),
                    arrowprops={"arrowstyle": "->", "color": "0.3"}, fontsize=10)
        ax.set_xlabel("virtual time (virtual seconds)")
        ax.set_ylabel("requests per 100 ms window")
        ax.set_title(f"{CALLERS} callers, 5 attempts each, against a dependency that is down")
        ax.legend()
    return fig


# %%
waves = {label: [(round(WINDOWS[k], 1), n) for k, n in enumerate(per_window(calls[CALLERS:])) if n >= 25]
         for label, calls in (("no jitter", no_jitter), ("full jitter", jitter_only), ("jitter + budget", jitter_and_budget))}
show_figure(plot_storm(), alt=(
    f"Requests per 100 ms reaching a dependency that is down. Without jitter: {len(no_jitter)} requests in "
    f"spikes of 100 at about 0, 1.1, 3.2, 7.3 and 15.4 s. With full jitter: still {len(jitter_only)}, spread "
    f"thinly over 13 s. With jitter and a retry budget: {len(jitter_and_budget)}, all within the first 0.5 s."))
for label, found in waves.items():
    print(f"{label:>15}: retry waves of 25+ within 100 ms: {found or 'none'}")

# %% [markdown]
# With jitter and a budget, the dependency sees 120 requests instead of 500, and no synchronised
# waves. Jitter alone removes the waves but still sends 400 retries. The same assertion now passes:

# %%
assert len(jitter_and_budget) <= 1.5 * CALLERS and busiest_retry_wave(jitter_and_budget) <= CALLERS // 4
print(f"{len(jitter_and_budget)} requests for {CALLERS} calls; busiest 100 ms of retries: "
      f"{busiest_retry_wave(jitter_and_budget)}")

# %% [markdown]
# ### Anti-pattern 2: retrying a non-idempotent write
#
# The package's `FakePayments` service: a charge takes effect 0.1 s into the call (the write), and
# the reply arrives after a scripted delay. The first reply is slow (5 s), later ones are fast.
# The caller uses a sensible-looking policy — 2 s per attempt, 3 attempts — so attempt 1 times out
# *after the money has moved*, and attempt 2 charges again.

# %%
print(inspect.getdoc(FakePayments))

# %%
PAY_POLICY = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(1), attempt_timeout=2)
payments, sim = FakePayments(reply_delays=[5, 0.2, 0.2]), Simulation()
print(sim.run(async_retry(async_lift(lambda: payments.charge(42)), PAY_POLICY, trace=sim.trace, name="charge")))
print(attempt_timeline_summary(sim.trace))

# %% tags=["raises-exception"]
assert payments.charges == [42], f"charged twice: {payments.charges}"

# %% [markdown]
# The fix is an **idempotency key**: one key per *logical* operation — made once, outside the
# retried plan, so every attempt carries the same one — which the service uses to de-duplicate.
# (Stripe, AWS and most payment APIs work this way.) A key made *inside* the plan, fresh per attempt,
# would de-duplicate nothing.

# %%
payments, sim = FakePayments(reply_delays=[5, 0.2, 0.2]), Simulation()
key = "order-17/charge"                                 # one logical operation, one key
charge = async_retry(async_lift(lambda: payments.charge(42, key=key)), PAY_POLICY, trace=sim.trace, name="charge")
print(sim.run(charge), "| charges:", payments.charges)
print(attempt_timeline_summary(sim.trace))
assert payments.charges == [42]


# %% [markdown]
# ### Anti-pattern 3: a timeout that does not cancel
#
# A hand-rolled timeout: start the attempt as a task, `asyncio.wait` for it with a timeout, and
# return `Err(TIMEOUT)` if it is not done. The caller gets its answer at t = 2 — but nobody cancelled
# the task. (`asyncio.shield`, or a race that returns the first of two tasks, has the same hole.)
# The store's write takes 5 s; watch when it lands.

# %%
class SlowStore:
    def __init__(self) -> None:
        self.writes = []

    async def write(self, value: str) -> Result[str, ErrInfo]:
        await asyncio.sleep(5)
        self.writes.append(f"{value} at t={asyncio.get_running_loop().time():g}")
        return Ok(value)

def timeout_by_wait(plan, seconds: float):
    async def timed() -> Result[str, ErrInfo]:
        task = asyncio.ensure_future(plan())
        done, _ = await asyncio.wait({task}, timeout=seconds)
        return task.result() if done else Err(ErrInfo("TIMEOUT", f"no result within {seconds:g}s", retryable=True))
    return timed


# %%
async def call_then_look(timed_plan, store: SlowStore):
    result = await timed_plan()
    gave_up_at, still_running = asyncio.get_running_loop().time(), len(asyncio.all_tasks()) - 1
    await asyncio.sleep(10)                 # later: did anything happen after we gave up?
    return result, gave_up_at, still_running, store.writes

store = SlowStore()
leaky = Simulation().run(call_then_look(timeout_by_wait(async_lift(lambda: store.write("v1")), 2), store))
print(leaky)

# %% tags=["raises-exception"]
result, gave_up_at, still_running, writes = leaky
assert still_running == 0 and not writes, (
    f"the caller gave up at t={gave_up_at:g}, yet {still_running} task was still running "
    f"and the write landed later: {writes}")

# %% [markdown]
# The fix: `async_timeout` cancels the attempt and waits for it to finish cancelling before it
# returns. Nothing keeps running, and the write never happens.

# %%
store = SlowStore()
print(Simulation().run(call_then_look(async_timeout(async_lift(lambda: store.write("v1")), 2, name="write"), store)))

# %% [markdown]
# If the write must not be lost either, that is a different requirement: make it idempotent (as in
# anti-pattern 2) and retry it, or hand it to a queue that outlives the caller (lesson 03) — but never
# leave an orphaned task doing it behind the caller's back.
#
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("Why is a `RetryPolicy` a frozen dataclass rather than arguments to a retry loop?",
             ("it runs faster", "it can be printed, compared, stored and its schedule inspected before anything runs",
              "asyncio requires it"),
             1, "Policies as data are reviewable: `delay_schedule(policy)` shows every wait without running a call."),
    Question("An `ExponentialBackoff(initial=1, factor=2, cap=10)` waits, for retries 1 to 6…",
             ("1, 2, 4, 8, 16, 32", "1, 2, 4, 8, 10, 10", "10, 10, 10, 10, 10, 10"),
             1, "It doubles from `initial` and never exceeds `cap`."),
    Question("Full jitter on a backoff delay d draws the wait from…",
             ("[0, d]", "[d/2, d]", "[d, 2d]"),
             0, "Full jitter is uniform in [0, d]; equal jitter keeps d/2 and adds uniform [0, d/2]."),
    Question("A call returns `Err(ErrInfo('HTTP_400', ...))` and the policy allows 5 attempts. How many are made?",
             ("1", "5", "it depends on the backoff"),
             0, "A non-retryable error returns after exactly one attempt: the same request gets the same answer."),
    Question("A retrying task is cancelled in the middle of attempt 2. What should happen?",
             ("attempt 3 starts after the backoff", "the retry returns Err(TIMEOUT)",
              "attempt 2 is recorded as cancelled and CancelledError propagates"),
             2, "Cancellation is never retried — swallowing it makes the task uncancellable (tenacity #186, #529)."),
    Question("attempt_timeout=2, max_attempts=4, waits 1, 2, 4 s. Which deadline lets every attempt run?",
             ("8 s", "10 s", "more than 15 s"),
             2, "4 × 2 s + 1 + 2 + 4 s = 15 s; a shorter deadline cuts the last attempts."),
    Question("100 callers fail together and retry without jitter. Jitter alone…",
             ("spreads the retries out but does not reduce their number", "reduces the load to 1×", "is only cosmetic"),
             0, "Jitter breaks the synchronised waves; a shared RetryBudget caps how many retries happen."),
    Question("A charge timed out after the money moved. What makes a retry safe?",
             ("an idempotency key made once per logical operation", "a longer timeout",
              "a fresh key for every attempt"),
             0, "The service de-duplicates by key; a fresh key per attempt de-duplicates nothing."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 04 · Retry and Timeout Policies](../exercises/04_retry_and_timeout_policies.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does
# (see [the exercises README](../exercises/README.md)):
#
# 1. **Fit a policy to a deadline** — `fit_to_deadline(policy, deadline)`: keep only the attempts
#    whose worst case (`attempts × attempt_timeout` plus the un-jittered, capped waits) ends before
#    the caller's deadline.
# 2. **Retry a flaky dependency by the rules** — `fetch_with_retry(service)`: retry exactly
#    `HTTP_503`, `CONN_RESET` and `TIMEOUT`, 4 attempts, capped exponential backoff, 1 s per
#    attempt and a 5 s deadline, checked call by call on virtual time.
# 3. **Charge once, however often you retry** — `charge_order(payments, order_id, amount)`: an
#    idempotency key made once per order, so a timed-out, retried or resubmitted charge lands once.
#
# ## On your own
#
# - Re-run the retry storm with callers that *arrive* over 10 seconds instead of all at once. Are
#   there still waves? What does the budget do now?
# - gRPC's retry throttling keeps a token count that failures decrease and successes increase. Sketch
#   how that differs from `RetryBudget` when the dependency recovers halfway through.
# - Wrap `async_retry(plan, policy)` in `async_timeout(..., 7)` instead of using `deadline=7`, and
#   compare the two attempt timelines. What does the trace record differently?
# - AWS's article also describes *decorrelated* jitter, where each wait depends on the previous one.
#   Compute a few seeded schedules with `random.Random` and plot them next to full jitter.
#
# ## Further reading
#
# - Marc Brooker, [Exponential Backoff and Jitter](https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)
#   (AWS Architecture Blog): full, equal and decorrelated jitter, simulated.
# - Google SRE book, [Addressing Cascading Failures](https://sre.google/sre-book/addressing-cascading-failures/):
#   retry budgets, deadlines and deadline propagation, and why retries amplify overload.
# - gRPC proposal [A6: client retries](https://github.com/grpc/proposal/blob/master/A6-client-retries.md):
#   retry policies as configuration, retryable status codes, and retry throttling.
# - tenacity issues [#186](https://github.com/jd/tenacity/issues/186) and
#   [#529](https://github.com/jd/tenacity/issues/529): retry loops that swallowed `CancelledError`.
# - Python docs, [asyncio timeouts](https://docs.python.org/3/library/asyncio-task.html#timeouts):
#   `asyncio.timeout`, `timeout_at` and `wait_for`, and how they cancel.
# - Stripe API, [Idempotent requests](https://docs.stripe.com/api/idempotent_requests): idempotency
#   keys in a real payments API.
#
# ## Continue with
#
# **[05 · Deterministic Async Testing](05_deterministic_async_testing.ipynb)**: the virtual clock you
# used here, up close — scripted fakes, reproducible interleavings, Hypothesis with async code, and a
# retry test that simulates minutes in milliseconds next to the wall-clock test it replaces. You now
# write retries and timeouts as data: every wait is inspectable before it happens, every attempt is
# on the record, and cancellation always wins.

# %% [markdown]
# ---
# [← 03 Backpressure](03_backpressure.ipynb) · [Contents](00_module_overview.ipynb) · [05 Deterministic Async Testing →](05_deterministic_async_testing.ipynb)
