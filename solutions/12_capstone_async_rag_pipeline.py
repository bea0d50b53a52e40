# ---
# jupyter:
#   funcpipe_async:
#     exercise: 12_capstone_async_rag_pipeline
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 12 Capstone: async RAG pipeline](../notebooks/12_capstone_async_rag_pipeline.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 12 · Capstone: async RAG pipeline
#
# Three graded tasks on the capstone's three promises: duplicates are found **by structure** — the
# same text *and* vector — keeping the first; the embedding step is a **description** with bounded
# concurrency, retries and a timeout, where one failed chunk never sinks the others; and **every
# chunk is accounted for exactly once** — kept, deduplicated or failed with its `ErrInfo`. Everything
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. It imports the
# package's parts and, from the exercise's checks, the shapes the tasks use — `Chunk(chunk_id, text)`,
# `EmbeddedChunk(chunk_id, text, vector, model)` — the retry rules `EMBED_POLICY` and
# `ATTEMPT_TIMEOUT`, and `ScriptedEmbedder`, an embedder whose answers are scripted per text.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio

from funcpipe_async import (
    HANG, AsyncPlan, Err, ErrInfo, Ledger, Ok, Outcome, Result, Simulation, async_gather, async_lift, async_map,
    async_retry, async_settle, async_timeout,
)
from funcpipe_async.grading.checks.ex12_capstone_async_rag_pipeline import (
    ATTEMPT_TIMEOUT, EMBED_POLICY, INVALID, UNAVAILABLE, Chunk, EmbeddedChunk, ScriptedEmbedder,
)


# %% [markdown]
# ## Task 1 — Deduplicate by structure (3 points)
#
# Two embedded chunks are duplicates when they have the same **text and vector** — their structure,
# not their id or their document. Write `structural_dedup(chunks)`, a pure function that returns a
# new list with the **first** chunk of each `(text, vector)`, in input order, and leaves its input
# alone. It must be idempotent: `structural_dedup(structural_dedup(xs)) == structural_dedup(xs)`.
#
# *How it is checked:* on generated lists where texts and vectors collide in every combination —
# the same text and vector; the same text with another model's vector (two chunks, both kept); two
# texts with one vector (both kept) — your list is compared with the expected one, then deduplicated
# again.
#
# <details><summary>Hint 1</summary>
#
# A `set` of keys seen so far, and a list you append to: the list keeps the order, the set answers
# "seen before?" in O(1). A `set` of the chunks themselves would not do — their ids differ.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `(e.text, e.vector)` is hashable (a vector is a tuple of floats). Keying on `e.text` alone merges
# the same text embedded by two models — the lesson's reason for the vector in the key.
# </details>

# %% tags=["task:t1"]
# Task 1 — Deduplicate by structure
def structural_dedup(chunks: list[EmbeddedChunk]) -> list[EmbeddedChunk]:
    """The first chunk of each (text, vector), in input order."""
    # BEGIN SOLUTION
    seen: set[tuple[str, tuple[float, ...]]] = set()
    kept = []
    for e in chunks:
        key = (e.text, e.vector)
        if key not in seen:
            seen.add(key)
            kept.append(e)
    return kept
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: an exact duplicate goes, the same text under another model stays.

# %% tags=["solution-only"]
sample = [EmbeddedChunk("a#0", "plans describe work", (0.1, 0.2)), EmbeddedChunk("b#0", "plans describe work", (0.1, 0.2)),
          EmbeddedChunk("b#0", "plans describe work", (0.9, 0.4), "fake-embed-v2")]
kept = structural_dedup(sample)
print([(e.chunk_id, e.model) for e in kept], "| idempotent:", structural_dedup(kept) == kept)


# %% [markdown]
# ## Task 2 — Embed every chunk, bounded, retried, cut (4 points)
#
# The capstone's embedding step, as a description. Write `embed_all(chunks, embedder, concurrency)`,
# which returns an `AsyncPlan` whose value is a list with **one `Result` per chunk, in input
# order**: `Ok(EmbeddedChunk(chunk.chunk_id, chunk.text, vector, embedder.model_name))`, or the
# `Err` that stopped that chunk. The rules:
#
# - each chunk's call is `embedder.embed(chunk.text)`, **retried by `EMBED_POLICY`** (3 attempts,
#   0.5 s apart, for `HTTP_503` and `TIMEOUT`);
# - **every attempt is cut at `ATTEMPT_TIMEOUT`** (1 s): a hanging call becomes `Err(TIMEOUT)` and is
#   retried — `EMBED_POLICY` itself has no timeout;
# - **at most `concurrency` calls in flight** — and use them: with enough chunks, that many start
#   together;
# - **one failed chunk never sinks the others** — the plan's own result is always `Ok(list)`;
# - building the plan calls nothing.
#
# *How it is checked:* on generated chunk lists and per-text scripts — 503s, hangs, a 400, success —
# your plan is driven on a `Simulation` (virtual time) against a `ScriptedEmbedder` and compared with
# the expected run: every chunk's `Result`, the calls made for each text, the most calls in flight,
# and how long each cut attempt ran.
#
# <details><summary>Hint 1</summary>
#
# One plan per chunk: `async_lift` the call, wrap it in `async_timeout(..., ATTEMPT_TIMEOUT)`, then in
# `async_retry(..., EMBED_POLICY)`, then `async_map` the vector into an `EmbeddedChunk`. Then
# `async_gather(plans, concurrency=concurrency)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `async_gather` fails fast: the first `Err` cancels the rest and is the result — the capstone's
# "one failure sinks the batch". `async_settle(plan)` turns a plan's outcome, `Ok` or `Err`, into its
# value, so the gather sees only successes and returns every outcome.
# </details>
#
# <details><summary>Try it</summary>
#
# In a new cell: `embedder = ScriptedEmbedder({"b": [HANG, "ok"], "c": [INVALID]})`, then
# `sim = Simulation(); print(sim.run(embed_all([Chunk("1", "a"), Chunk("2", "b"), Chunk("3", "c")], embedder, 2)), sim.now)`.
# </details>

# %% tags=["task:t2"]
# Task 2 — Embed every chunk, bounded, retried, cut
def embed_all(chunks: list[Chunk], embedder: ScriptedEmbedder, concurrency: int) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """A plan: one Result per chunk, in input order, at most `concurrency` calls in flight."""
    # BEGIN SOLUTION
    def one(chunk: Chunk) -> AsyncPlan[Result[EmbeddedChunk, ErrInfo]]:
        call = async_lift(lambda: embedder.embed(chunk.text))
        retried = async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY)     # the timeout inside the retry
        embedded = async_map(retried, lambda vector: EmbeddedChunk(chunk.chunk_id, chunk.text, vector, embedder.model_name))
        return async_settle(embedded)                                                 # an Err is a value

    return async_gather([one(c) for c in chunks], concurrency=concurrency)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a hang cut at 1 s and retried, a 400 reported at once, a 503 that never
# clears — and the others untouched.

# %% tags=["solution-only"]
embedder = ScriptedEmbedder({"b": [HANG, "ok"], "c": [INVALID], "d": [UNAVAILABLE]})
chunks = [Chunk("1", "a"), Chunk("2", "b"), Chunk("3", "c"), Chunk("4", "d")]
plan = embed_all(chunks, embedder, 2)
print("calls after building:", embedder.calls)
sim = Simulation()
for chunk, result in zip(chunks, sim.run(plan).value):
    print(f"{chunk.chunk_id} {chunk.text!r}: {'Ok' if isinstance(result, Ok) else result.error.code} "
          f"after {embedder.calls_for(chunk.text)} call(s)")
print(f"done at t={sim.now:g} s; most in flight: {embedder.max_in_flight}; cut attempts ran {embedder.cut} s")


# %% [markdown]
# ## Task 3 — Reconcile the ledger (3 points)
#
# *Every input accounted for, exactly once.* Write `reconcile(chunks, results)`: `results[i]` is
# chunk `i`'s `Result` from the embedding step. Return a `Ledger` with one `Outcome` per chunk, in
# input order:
#
# - `Err(e)` → `Outcome(chunk.chunk_id, "embed", e)` — the failure, with **its own** `ErrInfo`;
# - `Ok(embedded)` whose `(text, vector)` has not been kept before → `Outcome(chunk.chunk_id)` (kept:
#   the ledger calls it *saved*);
# - `Ok(embedded)` whose `(text, vector)` was already kept → `Outcome(chunk.chunk_id, "dedup",
#   ErrInfo("DUPLICATE", ...))` — the message is yours (the lesson names the chunk it repeats).
#
# Only an embedded chunk counts as an occurrence: a failed chunk does not make the next chunk with
# its text a duplicate. Keep this cell self-contained (do not call Task 1's function).
#
# *How it is checked:* on generated chunks and results — successes, failures of three kinds, the
# same text under another model's vector — `ledger.problems(ids)` must be empty and every outcome
# must be the expected one.
#
# <details><summary>Hint</summary>
#
# One loop over `zip(chunks, results)`, a `set` of kept keys, and `Ledger(tuple(outcomes))` at the
# end. `Ledger.table()` shows what you built.
# </details>

# %% tags=["task:t3"]
# Task 3 — Reconcile the ledger
def reconcile(chunks: list[Chunk], results: list[Result[EmbeddedChunk, ErrInfo]]) -> Ledger:
    """Every chunk once, in input order: kept, dedup: DUPLICATE, or failed at embed with its ErrInfo."""
    # BEGIN SOLUTION
    first: dict[tuple[str, tuple[float, ...]], str] = {}
    outcomes = []
    for chunk, result in zip(chunks, results):
        if isinstance(result, Err):
            outcomes.append(Outcome(chunk.chunk_id, "embed", result.error))
            continue
        key = (result.value.text, result.value.vector)
        if key in first:
            outcomes.append(Outcome(chunk.chunk_id, "dedup", ErrInfo("DUPLICATE", f"same text and vector as {first[key]}")))
        else:
            first[key] = chunk.chunk_id
            outcomes.append(Outcome(chunk.chunk_id))
    return Ledger(tuple(outcomes))
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: Task 2's run, reconciled — every chunk once.

# %% tags=["solution-only"]
chunks = [Chunk("1", "a"), Chunk("2", "b"), Chunk("3", "a"), Chunk("4", "c")]
results = Simulation().run(embed_all(chunks, ScriptedEmbedder({"c": [UNAVAILABLE]}), 2)).value
ledger = reconcile(chunks, results)
print(ledger.table())
print("problems:", ledger.problems([c.chunk_id for c in chunks]))
for outcome in ledger.outcomes:
    print(" ", outcome)

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("12_capstone_async_rag_pipeline")

# %% [markdown]
# ## On your own
#
# - Make `embed_all` embed each *distinct* text once and fan the vector out to every chunk with that
#   text. Which of the checks above would still pass, and what does the ledger of Task 3 show?
# - Give `embed_all` a shared `RetryBudget` (lesson 04). What happens to a corpus where every call
#   fails, compared with `EMBED_POLICY` alone?
# - Feed Task 3 the results of the capstone's batched pipeline: what changes when a whole *batch*
#   fails, and does `reconcile` need to know?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 12 Capstone: async RAG pipeline](../notebooks/12_capstone_async_rag_pipeline.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
