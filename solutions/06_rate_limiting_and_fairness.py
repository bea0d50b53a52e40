# ---
# jupyter:
#   funcpipe_async:
#     exercise: 06_rate_limiting_and_fairness
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 06 Rate Limiting and Fairness](../notebooks/06_rate_limiting_and_fairness.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 06 · Rate Limiting and Fairness
#
# Four graded tasks on the lesson's ideas: a rate limiter is a **pure state machine** — a step
# from `(config, state, now, cost)` to `(decision, next state)`, with no clock inside; **deficit
# round robin** shares a server by *work*, in proportion to weights, and starves nobody;
# **Jain's index** folds a whole allocation into one number; and a limiter **in plain asyncio**
# (the loop's clock, `asyncio.sleep`, a lock as the line) gives every tenant its own bucket.
# 10 points.
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
# cells, and nothing else. Try things out in new cells of your own — they are not graded. Each task
# asks you to write the idea yourself: calling the package's own `token_bucket_step`,
# `DeficitRoundRobin`, `jain_index`, `AsyncRateLimiter` or `KeyedLimiter` does not count (use them
# to check your answers, though).

# %% [markdown] tags=["solution-only"]
# > **Solution notebook — the one source of this exercise.** `python tools/make_exercises.py`
# > generates the student version in `exercises/` from it: each `# BEGIN SOLUTION … # END SOLUTION`
# > span becomes a stub, and cells tagged `solution-only` (like this one) are dropped. Edit this
# > notebook, never the generated one.

# %% [markdown]
# ## Set up
#
# Run this first. The grader runs it too, before your task cells: leave it as it is. It imports the
# bucket's frozen values from the lesson — `TokenBucket(rate, burst)`, `TokenState(tokens, updated)`
# and `Decision(admitted, wait)` — and the helpers to try your answers with (`Simulation` runs
# async code on virtual time).

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from funcpipe_async import Decision, Simulation, TokenBucket, TokenState, format_table, max_window_cost


# %% [markdown]
# ## Task 1 — Write the token-bucket step (3 points)
#
# The lesson's token bucket: `rate` tokens per second drip into a bucket that holds at most
# `burst`. Write the step, **a pure function** — it reads no clock, changes nothing, and the same
# arguments always give the same answer:
#
# ```python
# token_bucket_step(config: TokenBucket, state: TokenState, now: float, cost: float) -> tuple[Decision, TokenState]
# ```
#
# 1. **Refill**: the tokens at `now` are `state.tokens` plus `(now − state.updated) × rate`, but
#    never more than `burst`.
# 2. **Admit** if `cost` fits in those tokens: return `Decision(True)` and a state holding the tokens
#    left after taking `cost`.
# 3. **Otherwise refuse**: return `Decision(False, wait)`, where `wait` is *exactly* how long until
#    the missing tokens have dripped in, and a state holding the refilled tokens (a refusal takes
#    nothing).
# 4. The next state always records `now` as its `updated` time.
# 5. A `cost` above `burst` could never be admitted — waiting for it would be forever: raise
#    `ValueError`.
#
# *How it is checked:* on bursty arrival sequences Hypothesis generates (many requests at one
# instant, quiet gaps, costs up to the burst), your step is run arrival after arrival, from a full
# bucket at t = 0, each time with the state it returned last. Every decision and every next state is
# compared with the lesson's; the first difference is reported with the rule it breaks. The window
# law — at most `rate × window + burst` admitted in any window — must hold too.
#
# <details><summary>Hint 1</summary>
#
# How many tokens are in the bucket at `now`, before this request takes any? Once you have that one
# number, which of the decision, the wait and the next state still need anything else?
# </details>
#
# <details><summary>Hint 2</summary>
#
# When a request is refused, how many tokens are missing, and how fast do they arrive? And what would
# go wrong at the next step if the state you return kept its old `updated` time?
# </details>
#
# <details><summary>Try it</summary>
#
# The lesson's table: with `TokenBucket(rate=2, burst=3)` and a full bucket, four requests of cost 1
# at t = 0 give admitted, admitted, admitted, then `Decision(wait 0.5 s)`.
# </details>

# %% tags=["task:t1"]
# Task 1 — Write the token-bucket step
def token_bucket_step(config: TokenBucket, state: TokenState, now: float, cost: float) -> tuple[Decision, TokenState]:
    """Refill (capped at the burst), then admit and take `cost`, or say exactly how long to wait."""
    # BEGIN SOLUTION
    if cost > config.burst:
        raise ValueError(f"a cost of {cost} never fits in a burst of {config.burst}")
    tokens = min(config.burst, state.tokens + (now - state.updated) * config.rate)
    if tokens >= cost:
        return Decision(True), TokenState(tokens - cost, now)
    return Decision(False, (cost - tokens) / config.rate), TokenState(tokens, now)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the lesson's seven arrivals, then the window law on a long bursty run.

# %% tags=["solution-only"]
bucket, state, rows = TokenBucket(rate=2, burst=3), TokenState(3.0, 0.0), []
for now in (0, 0, 0, 0, 0.5, 1, 3):
    decision, state = token_bucket_step(bucket, state, now, 1)
    rows.append([now, decision, state.tokens])
print(format_table(["t", "decision", "tokens after"], rows))
state, admitted = TokenState(3.0, 0.0), []
for k in range(200):
    decision, state = token_bucket_step(bucket, state, k / 8, 1)
    if decision.admitted:
        admitted.append((k / 8, 1))
print("most admitted in any 2 s window:", max_window_cost(admitted, 2.0), "<= 2 x 2 + 3")


# %% [markdown]
# ## Task 2 — Schedule by deficit round robin (3 points)
#
# Tenants share one server. Every tenant's queue is full from the start (*backlog*): `queues` maps
# each tenant to the sizes of its requests, in order. Write
#
# ```python
# drr_order(queues: dict[str, list[float]], weights: dict[str, float], quantum: float) -> list[tuple[str, float]]
# ```
#
# which returns the order in which **deficit round robin** serves them, as `(tenant, size)` pairs:
#
# - visit the tenants in turn, in the order of `queues`;
# - each visit adds `quantum × weight` to the tenant's *deficit* (a weight missing from `weights` is 1);
# - during a visit, serve the tenant's next request while its size fits in the deficit, subtracting it;
#   then the visit ends and the next tenant goes;
# - a tenant whose queue is empty leaves the rotation (and its deficit is forgotten).
#
# *How it is checked:* on queues Hypothesis generates (2–4 tenants, weights 1–4, mixed sizes,
# quanta 0.5–2): every request is served exactly once, in its tenant's order — nothing is dropped,
# not even a request larger than one quantum; **no tenant is starved** (nobody gets more than its
# round's worth before everyone has had a turn); on long queues, while every tenant is backlogged,
# each tenant's share of the work is **within 5 % of its weight's share**; and the order is exactly
# DRR's.
#
# <details><summary>Hint 1</summary>
#
# What state does DRR need between visits? Think of three things: who is still in the rotation (and
# in what order), what each tenant still has queued, and how much credit each has saved up. Which
# of the `collections` types pops from the front cheaply?
# </details>
#
# <details><summary>Hint 2</summary>
#
# A request larger than one quantum: what happens to it on the first visit, and on the next? If
# your answer is "skipped forever", look again at what the deficit carries from visit to visit.
# </details>
#
# <details><summary>Try it</summary>
#
# `drr_order({"a": [1, 1, 1], "b": [3]}, {}, 1)` serves `a` once per visit while `b`'s deficit grows
# 1, 2, 3: `[('a', 1), ('a', 1), ('a', 1), ('b', 3)]`. With `{"b": 3}` as weights, `b` goes on its first
# visit: `[('a', 1), ('b', 3), ('a', 1), ('a', 1)]`.
# </details>

# %% tags=["task:t2"]
# Task 2 — Schedule by deficit round robin
def drr_order(queues: dict[str, list[float]], weights: dict[str, float], quantum: float) -> list[tuple[str, float]]:
    """The order in which deficit round robin serves backlogged `queues`."""
    # BEGIN SOLUTION
    lines = {t: deque(sizes) for t, sizes in queues.items() if sizes}
    rotation = deque(lines)
    deficit = {t: 0.0 for t in lines}
    order = []
    while rotation:
        tenant = rotation.popleft()
        deficit[tenant] += quantum * weights.get(tenant, 1.0)
        line = lines[tenant]
        while line and line[0] <= deficit[tenant]:
            size = line.popleft()
            deficit[tenant] -= size
            order.append((tenant, size))
        if line:
            rotation.append(tenant)      # still backlogged: back of the rotation
        else:
            deficit[tenant] = 0.0        # an idle tenant keeps no credit
    return order
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the hint's examples, then shares under backlog for weights 1 : 2 : 3.

# %% tags=["solution-only"]
print(drr_order({"a": [1, 1, 1], "b": [3]}, {}, 1))
print(drr_order({"a": [1, 1, 1], "b": [3]}, {"b": 3}, 1))
order = drr_order({"a": [1.0] * 600, "b": [3.0] * 200, "c": [0.5] * 1200}, {"a": 1, "b": 2, "c": 3}, 1.0)
first = order[: len(order) // 3]
work = {t: sum(s for u, s in first if u == t) for t in "abc"}
print({t: round(w / sum(work.values()), 3) for t, w in work.items()}, "vs weights 1/6, 2/6, 3/6")


# %% [markdown]
# ## Task 3 — Compute Jain's index (1 point)
#
# Write `jain(xs)`, Jain's fairness index of the allocations `xs` (non-negative numbers, not all 0),
# as the lesson defines it in
# [Measure fairness with Jain's index](../notebooks/06_rate_limiting_and_fairness.ipynb#Measure-fairness-with-Jain's-index).
# It is 1 when everyone gets the same and `1/n` when one of `n` gets everything. With no allocations
# at all the index is undefined: raise `ValueError`.
#
# *How it is checked:* the index's laws (equal shares, one winner, two of four), then your value is
# compared with the index on allocations Hypothesis generates.
#
# <details><summary>Hint</summary>
#
# Check your function against the index's laws before you run the checks: what must it give for
# four equal allocations, and for `[20, 0, 0, 0]`? Does your answer change if you double every
# allocation? And what should happen for an empty list?
# </details>

# %% tags=["task:t3"]
# Task 3 — Compute Jain's index
def jain(xs: list[float]) -> float:
    """Jain's fairness index (Σx)² / (n·Σx²); ValueError for no allocations."""
    # BEGIN SOLUTION
    if not xs:
        raise ValueError("Jain's index of no allocations is undefined")
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the laws, on the lesson's examples.

# %% tags=["solution-only"]
for xs in ([5, 5, 5, 5], [20, 0, 0, 0], [10, 10, 0, 0], [9, 1]):
    print(xs, round(jain(xs), 3))

# %% [markdown]
# ## Task 4 — Limit each tenant in plain asyncio (3 points)
#
# The lesson's `PlainTokenBucket` makes every caller share *one* bucket and *one* line. A service
# with many tenants wants one of each per tenant: a noisy tenant may empty its own bucket, but it
# never delays anyone else. Write, in plain asyncio,
#
# ```python
# tenant_limiter(rate: float, burst: float) -> Callable[[str], Awaitable[None]]
# ```
#
# which returns `acquire`, an `async def acquire(tenant: str) -> None` that returns once `tenant`'s
# bucket has let the caller through. Each caller costs one token.
#
# - Every tenant has its own token bucket of `rate` and `burst`, full when the tenant is first seen.
# - A tenant's callers go **first come, first served**. A caller waits only for its own tenant's
#   earlier callers and tokens — never for another tenant's.
# - Time is the running loop's clock, `asyncio.get_running_loop().time()`; a caller that must wait
#   sleeps with `asyncio.sleep` until its token is there (no polling with small sleeps).
#
# Decide with your own arithmetic or with the lesson's pure step (`TokenBucket(rate, burst).step`);
# the async part — the clock, the sleeping, the lines — is the task.
#
# *How it is checked:* on virtual time (`Simulation`), with scripts Hypothesis generates: callers of
# a few tenants arrive in bursts and after gaps, each awaits `acquire(its tenant)`, and the instant it
# got through is recorded. No tenant gets more than `rate × window + burst` through in any window; a
# tenant's callers go in arrival order; and each gets through at the earliest instant its own
# tenant's bucket allows.
#
# <details><summary>Hint 1</summary>
#
# What must you remember for each tenant between calls? Which asyncio primitive lets waiting callers
# line up in arrival order — and how many of them do you need?
# </details>
#
# <details><summary>Hint 2</summary>
#
# When a caller wakes from its sleep, is its token certainly there? Who else may have woken at the
# same moment, and what did they take?
# </details>
#
# <details><summary>Try it</summary>
#
# With `rate=1, burst=2`: five callers of `"noisy"` at t = 0 and one of `"quiet"` at t = 0.25.
# `noisy` gets through at 0, 0, 1, 2, 3 and `quiet` at 0.25 — run it on virtual time with
# `Simulation().run(main())`, where `main` starts the callers with `asyncio.gather`.
# </details>

# %% tags=["task:t4"]
# Task 4 — Limit each tenant in plain asyncio
def tenant_limiter(rate: float, burst: float) -> Callable[[str], Awaitable[None]]:
    """`acquire(tenant)`: one token-bucket limiter per tenant, each with its own first-come line."""
    # BEGIN SOLUTION
    buckets: dict[str, tuple[float, float]] = {}   # tenant -> (tokens, when counted)
    lines: dict[str, asyncio.Lock] = {}            # tenant -> its line (a Lock wakes waiters in order)

    async def acquire(tenant: str) -> None:
        loop = asyncio.get_running_loop()
        async with lines.setdefault(tenant, asyncio.Lock()):
            while True:
                now = loop.time()
                tokens, updated = buckets.get(tenant, (burst, now))
                tokens = min(burst, tokens + (now - updated) * rate)
                if tokens >= 1:
                    buckets[tenant] = (tokens - 1, now)
                    return
                buckets[tenant] = (tokens, now)
                await asyncio.sleep((1 - tokens) / rate)   # exactly until the token has dripped in

    return acquire
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the "Try it" script on virtual time.

# %% tags=["solution-only"]
async def try_it() -> list[tuple[str, float]]:
    acquire = tenant_limiter(rate=1, burst=2)
    loop = asyncio.get_running_loop()

    async def caller(at: float, tenant: str) -> tuple[str, float]:
        await asyncio.sleep(at)
        await acquire(tenant)
        return tenant, loop.time()

    return list(await asyncio.gather(*(caller(0, "noisy") for _ in range(5)), caller(0.25, "quiet")))

print(Simulation().run(try_it()))

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("06_rate_limiting_and_fairness")

# %% [markdown]
# ## On your own
#
# - Write the **leaky bucket** step (state: the time the bucket will be empty) and check, on the
#   arrivals of Task 1, that it makes the same decisions as your token bucket.
# - Extend `drr_order` to requests that *arrive over time* (`(arrival, size)` per request). What
#   must happen to a tenant's deficit when its queue empties and refills later — and why?
# - Compute Jain's index of `served / fair share` for the lesson's noisy-neighbour run under FIFO,
#   with your `jain`. Why is it so close to 1 with two tenants?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).

# %% [markdown]
# ---
# [← 06 Rate Limiting and Fairness](../notebooks/06_rate_limiting_and_fairness.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
