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
# The lesson's pipeline calls the embedding API once per distinct new text, two at a time per
# document. Here you make a **design change the lesson did not write** — one batch call per
# document — then **measure** both designs through the same pipeline on virtual time, and
# **defend** the change in writing, citing your numbers. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. From the
# exercise's checks it imports the shapes — `Chunk(chunk_id, text)`,
# `EmbeddedChunk(chunk_id, text, vector, model)`, `Doc(doc_id, tenant, arrival, chunks)` — the
# retry rules `EMBED_POLICY` and `ATTEMPT_TIMEOUT`, and:
#
# - `BatchApi`: the embedding API. `await api.embed_batch(texts)` is **one call** for any number of
#   texts (0.2 s plus 0.02 s per text) answering `Ok([vector, …])` in order, or an `Err`; calls
#   can be scripted to fail or hang (`BatchApi([UNAVAILABLE, HANG])`). `api.calls` lists every call.
# - `per_text_step(chunks, api, cache)`: the lesson's design — one call per distinct new text.
# - `run_capstone(step, docs)`: the lesson's pipeline (a DRR fair stage, 2 workers, one vector cache
#   per run) with `step` as its embedding step, driven on virtual time. It returns a `CapstoneRun`:
#   `calls`, `texts_sent`, `ended`, `ledger`, and `latencies[tenant]` (arrival → embedded, seconds).
# - `CORPUS`: 36 documents — a re-index of 24 at t = 0, search and support one a second.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
from funcpipe_async import (
    HANG, AsyncPlan, Err, ErrInfo, Ok, Result, Simulation, async_lift, async_map, async_pure, async_retry,
    async_settle, async_timeout, percentile,
)
from funcpipe_async.grading.checks.ex12_capstone_async_rag_pipeline import (
    ATTEMPT_TIMEOUT, CORPUS, EMBED_POLICY, INVALID, UNAVAILABLE, BatchApi, Chunk, EmbeddedChunk,
    per_text_step, run_capstone,
)


# %% [markdown]
# ## Task 1 — Embed a document in one batch call (5 points)
#
# Write `embed_doc_batched(chunks, api, cache)`, a drop-in replacement for `per_text_step`. It
# returns an `AsyncPlan` whose value is **one `Result` per chunk, in order**:
#
# - the chunks' **distinct** texts that `cache` (a dict text → vector) does not hold go in **one**
#   call, `api.embed_batch(texts)`, in first-occurrence order; no new text → no call at all;
# - that call is **retried by `EMBED_POLICY`** and **every attempt is cut at `ATTEMPT_TIMEOUT`**;
# - on success every returned vector goes into `cache`; then every chunk gets
#   `Ok(EmbeddedChunk(chunk.chunk_id, chunk.text, cache[chunk.text], api.model_name))` — a chunk
#   whose text the call left without a vector gets the call's `Err` instead;
# - the plan's own result is always `Ok(list)`: a failed call never sinks the pipeline;
# - building the plan calls nothing.
#
# *How it is checked:* on generated chunk lists (repeated texts, some already cached) and call
# scripts — 503s, hangs, a 400, success — driven on virtual time and compared with the expected
# run: every chunk's `Result`, the texts of every call, the cache, how long each cut attempt ran.
#
# <details><summary>Hint 1</summary>
#
# Read `per_text_step`'s source (`import inspect; print(inspect.getsource(per_text_step))`): which
# of its lines stay, and which one call replaces its `async_gather`?
# </details>
#
# <details><summary>Hint 2</summary>
#
# What does a failed batch mean for each of its texts — and for a chunk whose text was cached
# before the call?
# </details>
#
# <details><summary>Try it</summary>
#
# In a new cell: `api, cache = BatchApi([HANG]), {"b": (0.0,)}`, then
# `sim = Simulation(); print(sim.run(embed_doc_batched([Chunk("1", "a"), Chunk("2", "b"), Chunk("3", "a")], api, cache)), api.calls, sim.now)`.
# </details>

# %% tags=["task:t1"]
# Task 1 — Embed a document in one batch call
def embed_doc_batched(chunks: list[Chunk], api: BatchApi, cache: dict) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """One call for the document's new distinct texts; one Result per chunk, in order."""
    # BEGIN SOLUTION
    new = list(dict.fromkeys(c.text for c in chunks if c.text not in cache))

    def fan_out(vectors: dict, failure: Err | None) -> list:
        cache.update(vectors)
        return [Ok(EmbeddedChunk(c.chunk_id, c.text, cache[c.text], api.model_name)) if c.text in cache else failure
                for c in chunks]

    if not new:
        return async_pure(fan_out({}, None))
    call = async_lift(lambda: api.embed_batch(tuple(new)))
    settled = async_settle(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY))
    return async_map(settled, lambda r: fan_out(dict(zip(new, r.value)), None) if isinstance(r, Ok) else fan_out({}, r))
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a hang cut at 1 s and retried, one call for two new texts, the cached one fanned out.

# %% tags=["solution-only"]
api, cache = BatchApi([HANG]), {"b": (0.0,)}
chunks = [Chunk("1", "a"), Chunk("2", "b"), Chunk("3", "a"), Chunk("4", "c")]
plan = embed_doc_batched(chunks, api, cache)
print("calls after building:", api.calls)
sim = Simulation()
for chunk, result in zip(chunks, sim.run(plan).value):
    print(chunk.chunk_id, repr(chunk.text), "Ok" if isinstance(result, Ok) else result.error.code)
print("calls:", api.calls, f"| done at t={sim.now:g} s | cut after {api.cut} s | cache: {sorted(cache)}")


# %% [markdown]
# ## Task 2 — Measure both designs (3 points)
#
# Write `measure(docs)`: run `docs` through `run_capstone` twice — with `per_text_step` and with
# your `embed_doc_batched` — and return a dict of four numbers:
#
# - `"calls_per_text"`, `"calls_batched"`: the calls each run made;
# - `"p95_search_per_text"`, `"p95_search_batched"`: the 95th percentile of the **search**
#   tenant's latencies in each run (`percentile`, lesson 06).
#
# The cell then **runs the measurement** on `CORPUS` and keeps it in `MEASURED`: leave those two
# lines as they are. **Predict before you run:** which design makes fewer calls, and by roughly
# what factor? Which one gives search the lower p95?
#
# *How it is checked:* `MEASURED` must be what the cell computed, and `measure` must give the right
# numbers on generated corpora too (so numbers typed in do not pass).
#
# <details><summary>Hint</summary>
#
# `CapstoneRun` has `calls` and `latencies`; which of its fields holds one tenant's latencies?
# </details>

# %% tags=["task:t2"]
# Task 2 — Measure both designs
def measure(docs) -> dict:
    """The calls and search's p95 latency of both designs, through the capstone pipeline."""
    # BEGIN SOLUTION
    per_text, batched = run_capstone(per_text_step, docs), run_capstone(embed_doc_batched, docs)
    return {
        "calls_per_text": per_text.calls,
        "calls_batched": batched.calls,
        "p95_search_per_text": percentile(per_text.latencies["search"], 95),
        "p95_search_batched": percentile(batched.latencies["search"], 95),
    }
    # END SOLUTION


MEASURED = measure(CORPUS)
print({k: round(v, 3) for k, v in MEASURED.items()})


# %% [markdown]
# ## Task 3 — Defend the change (2 points)
#
# Write `defence()`, returning a short written defence (at least 40 words) that a reviewer could
# accept or reject: **the change**, **the numbers you measured** (cite both call counts from
# `MEASURED` as whole numbers, and search's p95), and **what the change costs** — what happens now
# when one call fails, and what the single call's timeout has to cover.
#
# *How it is checked:* for presence (40 words or more) and that it cites both measured call counts.
# The argument itself is for you and your reviewer.
#
# <details><summary>Hint</summary>
#
# Re-run Task 1's *Try it* with `BatchApi([UNAVAILABLE] * 3)`: how many chunks does one failed call
# now take down, compared with the per-text design?
# </details>

# %% tags=["task:t3"]
# Task 3 — Defend the change
def defence() -> str:
    """Your written defence of the batched design, citing what you measured."""
    # BEGIN SOLUTION
    return (
        "Change: embed a document's new distinct texts in one batch call instead of one call per text. "
        "Measured through the capstone pipeline on CORPUS: 62 calls per text against 25 batched, and "
        "search's p95 latency fell from 0.82 s to 0.52 s, because one call pays the 0.2 s overhead once. "
        "Cost: one failed call now fails every new text of the document, not one text, so a retry "
        "resends the whole batch; and the call's time grows with the batch (0.2 s plus 0.02 s a text), "
        "so the 1 s attempt timeout caps how large a batch may be. The ledger still accounts for every chunk."
    )
    # END SOLUTION


print(defence())

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
# - Script `BatchApi([UNAVAILABLE] * 3)` into `run_capstone` for both designs (`script=`): how many
#   ledger lines fail in each?
# - Cap the batch at 4 texts (lesson 09's `max_size`). Which of your two numbers moves?
# - Share the call that is already in flight, so two workers never embed the same new text at
#   once. What would that need that a dict of finished vectors does not give?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 12 Capstone: async RAG pipeline](../notebooks/12_capstone_async_rag_pipeline.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
