# ---
# jupyter:
#   funcpipe_async:
#     exercise: 09_async_chunking
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 09 Async Chunking](../notebooks/09_async_chunking.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 09 · Async Chunking
#
# Three graded tasks on the lesson's ideas: a batcher is a **pure state machine** — a batch leaves
# by size or by time, whichever comes first, and its clock starts at its **first item**; a batch
# call must give **every item its own result, in input order**, with bounded concurrency; and a
# policy is chosen by **measuring** latency against cost, not by guessing. Everything is pure or
# runs on **virtual time**. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. Besides the
# package's batching API it imports, from the exercise's own checks module, the lesson's cost model
# (`call_seconds`: 0.2 s per call plus 0.01 s per text), `serve_latencies` (the one-replica model
# behind the lesson's trade-off figure), the candidate grid of Task 3, and `KeyedEmbedder`, the
# capability of Task 2 — so your code and the checks use the same definitions.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
import random
from collections.abc import Sequence

from funcpipe_async import (
    AsyncPlan, BatchPolicy, BatchState, Err, ErrInfo, Flush, Ok, Simulation, Tenant, async_bind, async_fail,
    async_map, async_pure, batch_calls, batch_schedule, hash_embedding, percentile, poisson_arrivals,
)
from funcpipe_async.grading.checks.ex09_async_chunking import (
    CANDIDATE_SIZES, CANDIDATE_WAITS, KeyedEmbedder, Vector, call_seconds, serve_latencies,
)


# %% [markdown]
# ## Task 1 — Batch by count, tokens or time (4 points)
#
# An embedding endpoint limits a request by the number of texts **and** by their total tokens (a
# real one accepts, say, 2,048 inputs but at most 300,000 tokens per request). A batch of 64 short
# texts is fine; 64 long ones are refused. So the lesson's state machine needs a third way for a batch
# to leave. Write `token_batches(policy, max_tokens, arrivals)`, a **pure function**: item `i`
# arrives at `arrivals[i] = (time, tokens)` (times never decrease), and you return the batches as a
# list of `Flush(items, at, reason)`, `items` a tuple of item indices. For each arrival, in this order:
#
# 1. **tick** — if a batch is open and its deadline (its **first item's** arrival + `policy.max_wait`)
#    has been reached (`time >= deadline`), it leaves, stamped **at its deadline**: `"time"`;
# 2. **make room** — if the item's tokens would take the open batch over `max_tokens`, the open batch
#    leaves now, at the item's arrival time: `"tokens"`;
# 3. **offer** — the item joins the open batch, or opens a new one (its deadline starts now);
# 4. **full?** — a batch holding `policy.max_size` items leaves now: `"size"`; otherwise a batch with
#    exactly `max_tokens` tokens (no item could join it) leaves now: `"tokens"`.
#
# After the last arrival, a batch still open leaves at its deadline (`"time"`) — as
# `batch_schedule(policy, times)` does without `end`. An item with more than `max_tokens` tokens can
# never be sent: raise `ValueError`.
#
# *How it is checked:* on policies, token limits and arrivals Hypothesis generates — bursts at the
# same instant, quiet periods of 10 s (where an idle singleton shows), items of every weight — your
# batches are compared with the reference's, and the feedback names the rule your batches broke.
#
# <details><summary>Hint 1</summary>
#
# What must the open batch remember from one arrival to the next — and which of the four steps do
# the lesson's `batch_tick` and `batch_offer` already do for you? (Lesson 09, *Step the state machine
# by hand*.) The steps they do not cover are yours.
# </details>
#
# <details><summary>Hint 2</summary>
#
# When does a batch's clock start: when an item joins an empty batch, or when the previous batch
# leaves? If you are not sure, re-read the lesson's *Anti-pattern 1: the idle singleton* and ask
# what your function does with the first item after a quiet spell.
# </details>
#
# <details><summary>Try it</summary>
#
# With `max_tokens` larger than any total, your function must agree with the package:
# `token_batches(p, 10**6, [(t, 1) for t in times]) == batch_schedule(p, times)` for any `times`.
# </details>

# %% tags=["task:t1"]
# Task 1 — Batch by count, tokens or time
def token_batches(policy: BatchPolicy, max_tokens: int, arrivals: Sequence[tuple[float, int]]) -> list[Flush[int]]:
    """The batches of items arriving at `arrivals[i] = (time, tokens)`: by size, tokens or time."""
    # BEGIN SOLUTION
    flushes, items, tokens, opened = [], (), 0, 0.0
    for i, (now, weight) in enumerate(arrivals):
        if weight > max_tokens:
            raise ValueError(f"item {i} has {weight} tokens, more than max_tokens={max_tokens}")
        if items and now >= opened + policy.max_wait:              # 1. tick: stamped at the deadline
            flushes.append(Flush(items, opened + policy.max_wait, "time"))
            items, tokens = (), 0
        if items and tokens + weight > max_tokens:                 # 2. make room
            flushes.append(Flush(items, now, "tokens"))
            items, tokens = (), 0
        if not items:                                              # 3. offer: the first item starts the clock
            opened = now
        items, tokens = (*items, i), tokens + weight
        if len(items) == policy.max_size or tokens == max_tokens:  # 4. full
            flushes.append(Flush(items, now, "size" if len(items) == policy.max_size else "tokens"))
            items, tokens = (), 0
    if items:
        flushes.append(Flush(items, opened + policy.max_wait, "time"))
    return flushes
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the lesson's quiet-period trace, with weights; then the agreement with
# `batch_schedule` when tokens never bind, and the refusal.

# %% tags=["solution-only"]
policy = BatchPolicy(max_size=3, max_wait=1)
for flush in token_batches(policy, 5, [(0, 1), (0, 2), (100, 1), (100.5, 3), (100.6, 2), (101, 5)]):
    print(flush)
times = [0, 0.1, 0.2, 1.0, 1.05, 5, 5.2, 9, 9.1, 9.2, 9.3]
print("agrees with batch_schedule:", token_batches(policy, 10**6, [(t, 1) for t in times]) == batch_schedule(policy, times))
try:
    token_batches(policy, 5, [(0, 6)])
except ValueError as error:
    print("ValueError:", error)


# %% [markdown]
# ## Task 2 — Put results back in order (3 points)
#
# The lesson's anti-pattern 3 gave item *i* item *j*'s vector because results were placed in
# completion order. This capability makes it easier to get wrong: `KeyedEmbedder.embed_batch(docs)`
# takes `(doc_id, text)` pairs and answers with `(doc_id, vector)` pairs **in any order** — and,
# now and then, a reply that leaves a document out. Write `embed_in_order(embedder, docs, size,
# concurrency)`, which returns an `AsyncPlan` of **one vector per document, in the order of `docs`**:
#
# - the documents go to the capability in batches of `size` (in input order), with at most
#   `concurrency` calls in flight;
# - each vector is matched to its document **by id**, never by position in the reply;
# - a reply without a document's vector makes the result `Err(ErrInfo("MISSING_RESULT", ...))` —
#   never a shorter list, a `None`, or a neighbour's vector;
# - building the plan calls nothing.
#
# *How it is checked:* on generated documents (2 to 30, texts that may repeat), sizes and
# concurrencies, against seeded embedders whose calls finish in any order and whose replies are
# shuffled (one in five misses a document), your plan is driven on virtual time. Every document must
# get its own vector (`tuple(hash_embedding(text))`), the calls must be batches of `size`, and the
# embedder's `peak` must stay within `concurrency`.
#
# <details><summary>Hint 1</summary>
#
# Which package function already cuts the list into batches, bounds the calls in flight and keeps
# the batches in order (lesson 09, *Call the capability in batches*)? If you use it, what is left for
# you to write — and what must that piece do with each reply?
# </details>
#
# <details><summary>Hint 2</summary>
#
# The reply's pairs come in any order. Which of the two should decide the order of your vectors —
# the batch you sent or the reply you got? And what should a batch come to when one of its ids has
# no vector in the reply?
# </details>

# %% tags=["task:t2"]
# Task 2 — Put results back in order
def embed_in_order(embedder: KeyedEmbedder, docs: Sequence[tuple[str, str]], size: int,
                   concurrency: int) -> AsyncPlan[list[Vector]]:
    """A plan: one vector per document, in input order, in batches of `size`, `concurrency` calls at a time."""
    # BEGIN SOLUTION
    def call(batch: tuple[tuple[str, str], ...]) -> AsyncPlan[list[Vector]]:
        def match(reply: list[tuple[str, Vector]]) -> AsyncPlan[list[Vector]]:
            by_id = dict(reply)                                   # the reply's order means nothing
            missing = [doc_id for doc_id, _ in batch if doc_id not in by_id]
            if missing:
                return async_fail(ErrInfo("MISSING_RESULT", f"the reply has no vector for {missing[0]}"))
            return async_pure([by_id[doc_id] for doc_id, _ in batch])
        return async_bind(embedder.embed_batch(batch), match)
    return batch_calls(docs, call, size=size, concurrency=concurrency)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: ten documents in batches of 4, three calls in flight; a reply shuffled within
# each batch still gives every document its own vector; then a reply that misses one.

# %% tags=["solution-only"]
docs = [(f"d{i}", f"text {i}") for i in range(10)]
embedder = KeyedEmbedder(seed=3)
plan = embed_in_order(embedder, docs, 4, 3)
print("calls before driving:", embedder.calls)
vectors = Simulation().run(plan).value
print("each its own:", all(v == tuple(hash_embedding(t)) for (_, t), v in zip(docs, vectors)),
      "| calls:", [len(c) for c in embedder.calls], "| peak in flight:", embedder.peak)
print(Simulation().run(embed_in_order(KeyedEmbedder(seed=3, drops="d5"), docs, 4, 3)))


# %% [markdown]
# ## Task 3 — Choose a policy for a latency budget (3 points)
#
# The lesson's decision table says *`max_wait` is a latency budget you spend on purpose*. Spend it
# with a measurement. Write `choose_policy(arrivals, p95_budget)`: given an arrival trace (virtual
# seconds, non-decreasing) and a p95 latency budget (seconds), return the `BatchPolicy` that
#
# - has a **p95 latency within the budget** (`<= p95_budget`) — latency measured as in the lesson,
#   from an item's arrival to the end of its batch's call on one model replica:
#   `latencies, calls = serve_latencies(policy, arrivals)`, and p95 is `percentile(latencies, 95)`;
# - among those, makes the **fewest calls** (any one of them, if several tie);
# - is one of the candidates `BatchPolicy(size, wait)` for `size` in `CANDIDATE_SIZES` and `wait`
#   in `CANDIDATE_WAITS` (the lesson's grid).
#
# When no candidate meets the budget, raise `ValueError`: a budget the system cannot meet is a
# finding to report, not a policy to return.
#
# *How it is checked:* on Poisson traces Hypothesis generates (2 to 20 arrivals a second over 15 s,
# seeded) and budgets from 0.15 s (impossible: one call alone takes 0.21 s) to 5 s, your policy is
# simulated with `serve_latencies`: its p95 must be within the budget, and its calls no more than the
# best candidate's.
#
# <details><summary>Hint 1</summary>
#
# How many candidate policies are there, and what does it cost to score one with `serve_latencies`
# (is anything slept)? Could you simply score them all, and then choose among those that fit?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Which percentile does the budget name? And does the latency you compare already include the wait
# for the replica and the call itself — what does `serve_latencies` return?
# </details>

# %% tags=["task:t3"]
# Task 3 — Choose a policy for a latency budget
def choose_policy(arrivals: Sequence[float], p95_budget: float) -> BatchPolicy:
    """The candidate policy with p95 latency within `p95_budget` and the fewest calls."""
    # BEGIN SOLUTION
    fits = []
    for size in CANDIDATE_SIZES:
        for wait in CANDIDATE_WAITS:
            policy = BatchPolicy(size, wait)
            latencies, calls = serve_latencies(policy, arrivals)
            if percentile(latencies, 95) <= p95_budget:
                fits.append((calls, size, wait))
    if not fits:
        raise ValueError(f"no candidate policy has a p95 latency within {p95_budget} s")
    calls, size, wait = min(fits)
    return BatchPolicy(size, wait)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the lesson's workload (10 requests a second) with four budgets.

# %% tags=["solution-only"]
trace = [r.arrival for r in poisson_arrivals([Tenant("requests", rate=10)], 60, random.Random(9))]
for budget in (0.6, 1.0, 2.0, 0.15):
    try:
        policy = choose_policy(trace, budget)
    except ValueError as error:
        print(f"budget {budget:>4} s: ValueError: {error}")
        continue
    latencies, calls = serve_latencies(policy, trace)
    print(f"budget {budget:>4} s: {policy} -> {calls} calls, p95 {percentile(latencies, 95):.2f} s")

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("09_async_chunking")

# %% [markdown]
# ## On your own
#
# - Extend Task 1 with an `end` time, as `batch_schedule` has: what changes for the last batch, and
#   which reason should it carry?
# - In Task 2, what should happen when the reply carries an id that was **not** in the batch, or the
#   same id twice? Write the check first, then the rule.
# - In Task 3, add a second replica to `serve_latencies` (copy it into a cell of your own). For the
#   same budget, does the chosen policy make fewer calls, or more? Why?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).

# %% [markdown]
# ---
# [← 09 Async Chunking](../notebooks/09_async_chunking.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
