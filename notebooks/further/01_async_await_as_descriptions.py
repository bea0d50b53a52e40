# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 01 async/await as Descriptions](../01_async_await_as_descriptions.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 01 · Appendix: a RAG pipeline, and a flat stack
#
# Optional deep dives for [lesson 01](../01_async_await_as_descriptions.ipynb). The lesson
# taught `AsyncPlan`, `async_bind` and `async_gather`; here they carry the seed's RAG example
# (§4.4), and a benchmark shows why this package interprets plans with a loop instead of the
# seed's nested coroutines. About 15 minutes.

# %%
import inspect
import time
from dataclasses import dataclass

from funcpipe_async import (
    AsyncPlan, ErrInfo, FakeEmbedder, Ok, Result, async_bind, async_gather, async_lift,
    async_map, async_pure, perform_async, setup,
)

setup()


# %% [markdown]
# ## Embed chunks in parallel, bounded
#
# Clean and chunk documents (pure), embed every chunk through a capability with **bounded**
# parallelism, then deduplicate (pure). `async_gather` is itself a plan: building it embeds
# nothing. Watch `max_in_flight`, the most embeddings running at once: it never exceeds the
# concurrency asked for.

# %%
@dataclass(frozen=True)
class Chunk:
    doc_id: str
    text: str
    embedding: tuple[float, ...] = ()

def clean_and_chunk(docs: dict[str, str], words_per_chunk: int) -> list[Chunk]:
    chunks = []
    for doc_id, text in docs.items():
        words = text.lower().replace(",", " ").replace(".", " ").split()
        for i in range(0, len(words), words_per_chunk):
            chunks.append(Chunk(doc_id, " ".join(words[i:i + words_per_chunk])))
    return chunks

def dedup(chunks: list[Chunk]) -> list[Chunk]:
    seen: dict[tuple[float, ...], Chunk] = {}
    for c in chunks:
        seen.setdefault(c.embedding, c)
    return list(seen.values())


# %%
def _embed_chunk(chunk: Chunk, embedder: FakeEmbedder) -> AsyncPlan[Chunk]:
    return async_map(async_lift(lambda: embedder.embed(chunk.text)),
                     lambda vector: Chunk(chunk.doc_id, chunk.text, vector))

def async_rag_pipeline(docs: dict[str, str], embedder: FakeEmbedder, concurrency: int) -> AsyncPlan[list[Chunk]]:
    return async_bind(
        async_pure(clean_and_chunk(docs, words_per_chunk=4)),
        lambda chunks: async_map(
            async_gather([_embed_chunk(c, embedder) for c in chunks], concurrency=concurrency),
            dedup,
        ),
    )


# %%
DOCS = {
    "a": "Plans describe work. Shells drive plans. Plans describe work.",
    "b": "Backpressure keeps queues bounded. Shells drive plans.",
}
embedder = FakeEmbedder()
rag = async_rag_pipeline(DOCS, embedder, concurrency=2)
print("embeddings before driving:", len(embedder.calls))

chunks = await perform_async(rag)
print("chunks embedded:", len(embedder.calls), "| unique after dedup:", len(chunks.value))
print("max embeddings in flight:", embedder.max_in_flight, "(concurrency=2)")
for c in chunks.value:
    print(f"  {c.doc_id}: {c.text!r:40} {c.embedding}")

# %% [markdown]
# Lesson 12 builds this pipeline for real, with a queue, retries and a rate limit.
#
# ## Keep the stack flat
#
# The seed's reference `async_bind` nests one coroutine inside another per bind. Defined here
# only as a counterexample, on a chain of 100 binds and of 100,000:

# %%
def seed_async_bind(plan, f):            # the seed's reference bind, for comparison only
    async def _coro():
        res = await plan()
        return await f(res.value)() if isinstance(res, Ok) else res
    return lambda: _coro()

def left_chain(bind, n: int):
    plan = async_pure(0)
    for _ in range(n):
        plan = bind(plan, lambda x: async_pure(x + 1))
    return plan

print("seed bind, 100 binds:", await left_chain(seed_async_bind, 100)())
try:
    await left_chain(seed_async_bind, 100_000)()
except RecursionError as error:
    print("seed bind, 100,000 binds: RecursionError:", error)


# %% [markdown]
# The package's `async_bind` builds a node instead, and one loop walks the tree with an explicit
# continuation stack. Chains nested either way run:

# %%
def right_chain(n: int, i: int = 0) -> AsyncPlan[int]:   # each continuation builds the next bind
    return async_pure(i) if i == n else async_bind(async_pure(i), lambda x: right_chain(n, x + 1))

print("left-nested, 100,000 binds: ", await perform_async(left_chain(async_bind, 100_000)))
print("right-nested, 100,000 binds:", await perform_async(right_chain(100_000)))


# %% [markdown]
# Constant stack can be *measured* deterministically: a probe at the end of the chain counts the
# Python frames between it and the cell. The count is the same for 10 binds and for 100,000.

# %%
async def stack_probe() -> Result[int, ErrInfo]:
    frame, depth = inspect.currentframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return Ok(depth)

def probed_chain(n: int) -> AsyncPlan[int]:
    return async_bind(left_chain(async_bind, n), lambda _: async_lift(stack_probe))

depths = {n: (await perform_async(probed_chain(n))).value for n in (10, 1_000, 100_000)}
print("frames at the innermost step, relative to 10 binds:",
      {n: d - depths[10] for n, d in depths.items()})

# %% [markdown]
# Time per bind should also stay flat as the chain grows. Timings differ on every run and every
# machine, so the next cell's output is not compared by the notebook tests;
# `benchmarks/bench_bind_depth.py` measures this carefully.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: wall-clock timings differ on every run
for n in (500, 8_000, 100_000):
    plan, repeats = left_chain(async_bind, n), max(1, 200_000 // n)
    start = time.perf_counter()
    for _ in range(repeats):
        await perform_async(plan)
    print(f"{n:>7} binds: {(time.perf_counter() - start) / (n * repeats) * 1e6:.2f} µs per bind")

# %% [markdown]
# ## On your own
#
# - Build a 1,000-step pipeline with `seed_async_bind` and with `async_bind`, and compare the
#   frame counts with `stack_probe`.
# - Drive `async_rag_pipeline` with `concurrency=1` and check that `max_in_flight` becomes 1.
#   Why must `concurrency=1` equal a sequential chain of binds?
#
# ---
#
# [← 01 async/await as Descriptions](../01_async_await_as_descriptions.ipynb) · [Contents](../00_module_overview.ipynb)
