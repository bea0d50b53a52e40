# ---
# jupyter:
#   funcpipe_async:
#     exercise: 04_retry_and_timeout_policies
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 04 Retry and Timeout Policies](../notebooks/04_retry_and_timeout_policies.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 04 · Retry and Timeout Policies
#
# Three graded tasks on the lesson's ideas: a retry policy is **data** — its worst case is
# arithmetic you can do before anything runs; `async_retry` applies a policy that says **what is
# retried, how many times, how far apart, and what stops it**; and a retried write is safe only
# with an **idempotency key**. Everything runs on **virtual time**. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. It imports
# what the lesson used, including its `FakePayments` service, and defines the lesson's
# `PAY_POLICY` (both from anti-pattern 2) for Task 3.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
from dataclasses import replace

from funcpipe_async import (
    HANG, AsyncPlan, ConstantBackoff, Err, ErrInfo, ExponentialBackoff, FakePayments, Ok, Result,
    RetryPolicy, ScriptedService, Simulation, async_lift, async_retry, delay_schedule, schedule_table,
)

UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
INVALID = ErrInfo("HTTP_400", "invalid request")
PAY_POLICY = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(1), attempt_timeout=2)


# %% [markdown]
# ## Task 1 — Fit a policy to a deadline (3 points)
#
# The lesson's decision table says it: with both an `attempt_timeout` and a `deadline`, *the
# deadline must exceed the worst case* — `attempt_timeout × max_attempts + sum(waits)` — or the
# last attempts are never made. A policy that promises six attempts and then cuts the fifth at the deadline is not
# honest about what it does. The worst case is arithmetic on data — no run needed:
#
# ```python
# worst_case = max_attempts * attempt_timeout + sum(delay_schedule(replace(policy, jitter="none")))
# ```
#
# Write `fit_to_deadline(policy, deadline)`, a **pure function over policies**, for a caller whose
# SLA is `deadline` seconds. It returns the same policy with
#
# - `max_attempts` = the largest number of attempts `n` whose worst case — `n × attempt_timeout`
#   plus the first `n − 1` waits of the policy's own (capped) schedule, **without jitter** — is
#   **strictly less than** `deadline`; never more attempts than `policy` already allowed;
# - `deadline` set to `deadline`;
# - every other field unchanged (a variant of a policy is a *new* value: `dataclasses.replace`).
#
# When not even one attempt fits (`attempt_timeout >= deadline`), the SLA cannot be met:
# raise `ValueError`. The `policy` you get always has an `attempt_timeout`.
#
# *How it is checked:* on policies Hypothesis generates — constant and exponential backoff with
# caps, all three jitters, 1 to 10 attempts — and deadlines right on a worst case, just below,
# just above, or anywhere, your policy is compared with the expected one. A policy that promises
# too many attempts is then driven on virtual time against a dependency that always hangs, so the
# feedback shows which attempt the deadline cuts.
#
# <details><summary>Hint 1</summary>
#
# Jitter only ever *shortens* a wait, so the worst case uses the un-jittered schedule:
# `delay_schedule(replace(policy, jitter="none"))`. (Calling `delay_schedule` on a jittered
# policy without an `rng` raises `TypeError` — on purpose.)
# </details>
#
# <details><summary>Hint 2</summary>
#
# `delay_schedule(p)` has `p.max_attempts − 1` waits: the wait before attempt 2, 3, … Walk it,
# adding one wait and one `attempt_timeout` per extra attempt, and stop before the total reaches
# the deadline. Count *attempts* (the first one included), not retries.
# </details>
#
# <details><summary>Try it</summary>
#
# `print(schedule_table(replace(fitted, jitter="none")))` shows the earliest start of every
# attempt; the lesson's `both` policy (4 attempts, 2 s each, waits 1, 2, 4 s) has a worst case of
# 15 s — so `fit_to_deadline(both, 15)` keeps 3 attempts and `fit_to_deadline(both, 15.5)` keeps 4.
# </details>

# %% tags=["task:t1"]
# Task 1 — Fit a policy to a deadline
def fit_to_deadline(policy: RetryPolicy, deadline: float) -> RetryPolicy:
    """`policy` with as many attempts as fit strictly before `deadline`, and that deadline."""
    # BEGIN SOLUTION
    if policy.attempt_timeout >= deadline:
        raise ValueError(f"one attempt may take {policy.attempt_timeout} s: none fits in a {deadline} s deadline")
    waits = delay_schedule(replace(policy, jitter="none"))      # jitter only shortens waits
    attempts, worst = 1, policy.attempt_timeout
    for wait in waits:
        if worst + wait + policy.attempt_timeout >= deadline:   # the deadline must *exceed* the worst case
            break
        attempts, worst = attempts + 1, worst + wait + policy.attempt_timeout
    return replace(policy, max_attempts=attempts, deadline=deadline)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the lesson's `both` policy, with full jitter, fitted to 12 s and to 15 s; then
# driven against a dependency that always hangs — every attempt it keeps is really made.

# %% tags=["solution-only"]
both = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(1, 2, cap=10), jitter="full", attempt_timeout=2)
for deadline in (12, 15, 15.5):
    fitted = fit_to_deadline(both, deadline)
    sim, hanging = Simulation(seed=1), ScriptedService([HANG])
    result = sim.run(async_retry(async_lift(hanging.call), fitted, rng=sim.rng))
    print(f"deadline {deadline:>4}: max_attempts={fitted.max_attempts}; against a hanging dependency "
          f"{len(hanging.calls)} attempts, {result.error.code} at t={sim.now:.3f}")
try:
    fit_to_deadline(both, 2)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## Task 2 — Retry a flaky dependency by the rules (4 points)
#
# *For this call, what is retried, how many times, how far apart, and what stops it?* Here are
# the answers, from a review. Write `fetch_with_retry(service)`, which returns an `AsyncPlan` that
# calls `service.call` (a `ScriptedService`, as in the lesson) under these rules:
#
# - **what is retried** — exactly the codes `HTTP_503`, `CONN_RESET` and `TIMEOUT`, decided by
#   code: an `HTTP_409` whose step flagged it `retryable=True` is *not* retried (the caller owns the
#   decision), and an `HTTP_503` is retried even if its step said otherwise. Any other error
#   returns at once, after one attempt;
# - **how many times** — at most **4 attempts** in all: the first one and 3 retries;
# - **how far apart** — exponential backoff without jitter: 0.5 s, then 1 s, then doubling but
#   **capped at 1.5 s**;
# - **what stops it** — every attempt is cut at **1 s** (it then counts as `Err(TIMEOUT)`), and
#   the whole call, waits included, at a **5 s deadline**.
#
# Building the plan calls nothing: `service.calls` stays `[]` until a shell drives it.
#
# *How it is checked:* against dependencies Hypothesis scripts — failures of every kind, `HANG`s,
# successes, latencies from 0 to 1.5 s — your plan is driven on a `Simulation` (virtual time) and
# compared with the expected run: the **instant of every call** (`service.calls`), the `Result`,
# and the virtual time at which the call ends.
#
# <details><summary>Hint 1</summary>
#
# Which field of `RetryPolicy` answers each of the four review questions? Before you drive
# anything, what does `delay_schedule(your_policy)` print — the waits 0.5, 1, 1.5 the rules ask
# for? And which transformer from the lesson turns a policy and a plan into a retried plan?
# </details>
#
# <details><summary>Hint 2</summary>
#
# What does `retry_on=None` trust, and what does a set of codes decide instead? (The lesson's
# `HTTP_409` row shows the difference.) When `attempt_timeout` cuts an attempt, which code does its
# `Err` carry — and is that code in your set?
# </details>
#
# <details><summary>Try it</summary>
#
# In a new cell: `sim, service = Simulation(), ScriptedService([HANG, UNAVAILABLE, "payload"], latency=0.25)`,
# then `print(sim.run(fetch_with_retry(service)), service.calls, sim.now)` — calls at 0, 1.5 and
# 2.75, `Ok('payload')` at t = 3.
# </details>

# %% tags=["task:t2"]
# Task 2 — Retry a flaky dependency by the rules
# BEGIN SOLUTION
FETCH_POLICY = RetryPolicy(
    max_attempts=4,                                              # the first attempt and 3 retries
    backoff=ExponentialBackoff(initial=0.5, factor=2, cap=1.5),  # waits 0.5, 1, 1.5 s
    retry_on=frozenset({"HTTP_503", "CONN_RESET", "TIMEOUT"}),   # by code: the caller decides
    attempt_timeout=1,
    deadline=5,
)
# END SOLUTION

def fetch_with_retry(service: ScriptedService) -> AsyncPlan[str]:
    """A plan: call the service, retried by the rules above."""
    # BEGIN SOLUTION
    return async_retry(async_lift(service.call), FETCH_POLICY)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the schedule before anything runs, then four dependencies on virtual time.

# %% tags=["solution-only"]
print("waits:", delay_schedule(FETCH_POLICY))
scripts = {
    "hang, 503, then ok": ([HANG, UNAVAILABLE, "payload"], 0.25),
    "400 at once":        ([INVALID, "payload"], 0.25),
    "always hangs":       ([HANG], 0),
    "slow 503s":          ([UNAVAILABLE], 0.75),
}
for label, (script, latency) in scripts.items():
    sim, service = Simulation(), ScriptedService(script, latency=latency)
    plan = fetch_with_retry(service)
    result = sim.run(plan)
    print(f"{label:<19} calls at {service.calls}, ended t={sim.now:g}: {result}")


# %% [markdown]
# ## Task 3 — Charge once, however often you retry (3 points)
#
# The lesson's anti-pattern 2: a charge lands 0.1 s into the call, the reply is slow, the attempt
# times out *after the money has moved*, and the retry charges again. The fix is an **idempotency
# key: one key per logical operation, made once, outside the retried plan**, so every attempt
# carries the same one and the service de-duplicates.
#
# Write `charge_order(payments, order_id, amount)`, which returns an `AsyncPlan` that charges
# `amount` for the order `order_id` through `payments.charge(amount, key=...)`, retried with
# `PAY_POLICY` (from the set-up cell: 3 attempts, 2 s each, 1 s apart). The rules:
#
# - every order is charged **exactly once** — when an attempt times out after the charge landed,
#   when the same plan is driven again, and when the same order is submitted twice (a double click
#   builds a second plan for it): **derive the key from the order id**;
# - two different orders are two operations: each is charged;
# - the call answers as `PAY_POLICY` says (a slow reply is cut at 2 s and retried);
# - building the plan charges nothing.
#
# *How it is checked:* on generated order lists (some orders submitted twice) and reply delays
# (some longer than the 2 s attempt timeout), each order's plan is driven in turn on one virtual
# clock, then the first plan once more. After every drive, the charges the service recorded, the
# `Result` and how long the call took are compared with the expected ones.
#
# <details><summary>Hint 1</summary>
#
# In the lesson's fix, where is the key made: inside the function each attempt calls, or once,
# before the plan is built? What would attempt 2 send if the key were made inside?
# </details>
#
# <details><summary>Hint 2</summary>
#
# A double click calls `charge_order` twice for the same order. Would a random key, made once per
# call, be the same both times? What do the two submissions share that could name the operation?
# </details>

# %% tags=["task:t3"]
# Task 3 — Charge once, however often you retry
def charge_order(payments: FakePayments, order_id: str, amount: int) -> AsyncPlan[str]:
    """A plan: charge `amount` for `order_id` under PAY_POLICY — at most once, however often it runs."""
    # BEGIN SOLUTION
    key = f"order-{order_id}/charge"          # one logical operation, one key, made outside the retried plan
    return async_retry(async_lift(lambda: payments.charge(amount, key=key)), PAY_POLICY)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the first reply is slow, so attempt 1 times out after the charge landed; the
# retry, the replay and the resubmission all find the key and charge nothing more.

# %% tags=["solution-only"]
payments, sim = FakePayments(reply_delays=[5, 0.2, 0.2]), Simulation()
plan = charge_order(payments, "A17", 42)
print("charges after building:", payments.charges)
print("first drive: ", sim.run(plan), f"at t = {sim.now:g} | charges:", payments.charges)
print("second drive:", sim.run(plan), "| charges:", payments.charges)
print("resubmitted: ", sim.run(charge_order(payments, "A17", 42)), "| charges:", payments.charges)
print("another order:", sim.run(charge_order(payments, "B42", 7)), "| charges:", payments.charges)

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("04_retry_and_timeout_policies")

# %% [markdown]
# ## On your own
#
# - Extend `fit_to_deadline` to a policy without an `attempt_timeout`: what is its worst case, and
#   what should the function do with it?
# - Drive `fetch_with_retry` for 100 callers at once against a dependency that is down (the
#   lesson's retry storm). Add full jitter and a shared `RetryBudget`: what must change in the
#   function's signature, and why is the budget not part of the policy value?
# - In Task 3, what happens if the payment service forgets keys after an hour, and a retry comes
#   later than that? Which rule of the lesson bounds how late a retry can come?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 04 Retry and Timeout Policies](../notebooks/04_retry_and_timeout_policies.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
