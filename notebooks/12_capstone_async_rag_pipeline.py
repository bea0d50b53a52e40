# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 11 Refactoring Guide](11_refactoring_guide.ipynb) · [Contents](00_module_overview.ipynb) · [Back to the start: 00 Module overview ↺](00_module_overview.ipynb)
#
# # 12 · Capstone: async RAG pipeline
#
# Every lesson of this module built one tool. The capstone uses them all on one job: turn a pile of
# documents into embedded, deduplicated chunks for a retrieval-augmented generation (RAG) index —
# the seed's §4.4 example, grown from a dozen lines into the production shape. Documents arrive as
# a stream; they are cleaned and chunked (pure), batched by size or time, embedded through a
# capability with bounded concurrency, a rate limit, retries and timeouts, indexed, and deduplicated
# — with **every chunk accounted for**, on **virtual time**, and traced. Then the module's three
# capstone checkpoints are answered with evidence you can re-run.
#
# **What you'll do**
# - Write the capstone's domain: documents, cleaning, chunking and structural dedup — pure functions.
# - Rebuild the seed's `async_rag_pipeline` with the package, watch one failure sink it, and account
#   for every chunk instead.
# - Drive the production shape — a stream through bounded stages, batched, rate-limited, retried —
#   and read its queues, its calls against the rate limit and its attempts as figures.
# - Answer the capstone checkpoints: where work is described and driven, what queues, workers, rate
#   limits and fairness do to throughput, and what the test helpers do and do not protect.
# - Break the pipeline four ways — unbounded fan-out, dedup before embedding, a retry with no
#   timeout, silently dropped failures — and fix each.
#
# **What you'll learn**
# - How the module's parts compose: `async_gather`, `async_settle`, `Stream.batch`, `pipeline` and
#   `Stage`, `async_retry` and `async_timeout`, `AsyncRateLimiter`, `Ledger`, `Simulation`, `observe`.
# - Which knob answers which pressure — concurrency, queue capacity, batch size and wait, rate, retry.
# - How to defend an async design with measurements instead of adjectives.
#
# **What you'll need**
# - Lessons [01](01_async_await_as_descriptions.ipynb) to [11](11_refactoring_guide.ipynb). Each
#   section names the lesson it builds on; nothing here is re-explained at length.
# - About 60 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["12 Capstone: async RAG pipeline"]
#   concept --> capstone["Capstone checkpoints: described vs driven, throughput, test helpers"]
# ```
#
# ```mermaid
# flowchart LR
#   docs["documents (a stream)"] --> chunk["clean + chunk (pure)"]
#   chunk --> batch["batch: size or time (09)"]
#   batch --> q1[["queue: capacity 4 (03)"]]
#   q1 --> embed["embed × 2 workers: rate limit (06), retry + timeout (04)"]
#   embed --> q2[["queue: capacity 4 (03)"]]
#   q2 --> index["index (07)"]
#   index --> ledger["dedup + ledger: every chunk once (08)"]
# ```
#
# The first diagram places the capstone: the pressure test of the whole module. The second is the
# pipeline you will build; the number in each box is the lesson that built the part.
#
# **Core question.** Can one async pipeline use retries, timeouts, rate limits, bounded queues and
# batching *and still* be a description you can read, replay, measure and test — with its driving in
# one place and every input accounted for?
#
# **Why it matters.** A RAG ingestion job is the typical place where async code turns into folklore:
# an embedding API that throttles and sometimes hangs, a corpus too large to embed at once, and
# duplicates that waste money and skew retrieval. When the job misbehaves, the questions are always
# the same — *what is in flight, what is waiting, what was lost?* — and this pipeline answers each
# with a number.
#
# **The review question to carry:** *for each pressure this pipeline can meet — a burst of
# documents, a slow model, a throttling API, a hanging call — which knob absorbs it, and which
# figure shows it working?*

# %% [markdown]
# ## Set up
#
# Everything reusable comes from `funcpipe_async`. What is defined in this notebook is the
# capstone's own domain — documents, chunks, cleaning, dedup — and its own shell: the *student's*
# pipeline, built from the package, as the seed's `domain/rag_async.py` is. `setup()` loads the
# course's derandomized Hypothesis profile.

# %%
import asyncio
import hashlib
import inspect
import random
import re
from collections import Counter
from dataclasses import dataclass

import matplotlib
from hypothesis import given, settings, strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    HANG, AsyncPlan, AsyncRateLimiter, BatchPolicy, DeficitRoundRobin, EmbeddingCap, Err, ErrInfo,
    ExponentialBackoff, FakeEmbedder, FakeStorage, Fifo, Ledger, Ok, Outcome, Question, QueuePolicy,
    Request, Result, RetryPolicy, ScriptedService, Simulation, SimulationLimitError, Stage,
    ThreadedEmbedder, TokenBucket, Trace, account_for, answer_key_html, async_bind, async_gather,
    async_lift, async_map, async_pure, async_retry, async_settle, async_timeout,
    attempt_timeline_summary, check_law, check_package, course_rc, delay_schedule, depth_series,
    drive_timeline_summary, first_sentence, format_table, hash_embedding, jain_index, littles_law,
    max_min_shares, max_window_cost, observe, paced, perform_async, pipeline, plot_attempt_timeline,
    plot_drive_timeline, quiz_widget, scan_source, setup, show_figure, simulate_schedule,
    stats_table, stream_from, tenant_stats,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | described, not driven | building any plan of the capstone calls the embedder zero times; only the shell cell drives | [Rebuild the seed's pipeline](#Rebuild-the-seed's-pipeline); [Checkpoint 1](#Checkpoint-1:-find-where-work-is-described-and-where-it-is-driven) (`scan_source`: 0 driving calls in the domain) |
# | invariant | every chunk exactly once | the ledger has one outcome per chunk — kept, `dedup: DUPLICATE` or failed with its `ErrInfo`: `ledger.problems(ids) == []` | [Check every chunk is accounted for](#Check-every-chunk-is-accounted-for); Hypothesis in Checkpoint 3; anti-patterns 2 and 4 |
# | invariant | bounded | embed calls in flight ≤ workers; each queue's depth ≤ its capacity | [Check every chunk…](#Check-every-chunk-is-accounted-for); [Draw the queues](#Draw-the-queues); anti-pattern 1 |
# | invariant | rate limited | in any window `w`, admitted calls ≤ `rate·w + burst`, retries included | [Draw the embedding calls against the rate limit](#Draw-the-embedding-calls-against-the-rate-limit) |
# | invariant | a hang is cut | no embed attempt outlives its timeout; the call ends as `Err(TIMEOUT)` in the ledger | [Draw the stage timeline](#Draw-the-stage-timeline); anti-pattern 3 |
# | law | dedup is idempotent and order-preserving | `dedup(dedup(xs)) == dedup(xs)`; the kept chunks are a subsequence of the input | Hypothesis — [Checkpoint 3](#Checkpoint-3:-compare-the-test-helpers-with-the-runtime-surfaces-they-protect) |
# | law | concurrency does not change the answer | the pipeline's output with 1 embed worker equals its output with 3 (`ordered=True`) | `check_law` — Checkpoint 3 |
# | invariant | deterministic | the same seed gives the same ledger, the same output and the same trace, event for event | [Replay it](#Replay-it:-same-seed,-same-output,-same-trace); `observe` in Checkpoint 3 |

# %% [markdown]
# ## Decide which knob answers which pressure
#
# Every "limit" in the pipeline bounds one thing and lives in one place. Read this table now; the
# measurements in [Checkpoint 2](#Checkpoint-2:-measure-what-queues,-workers,-rate-limits-and-fairness-do-to-throughput)
# back each row.
#
# | pressure | knob | where it lives | what it bounds | what it costs | lesson |
# |---|---|---|---|---|---|
# | the model is slow, the job must finish sooner | **concurrency** (`Stage(workers=n)`, `async_gather(concurrency=n)`) | the embed stage | calls in flight, tasks | more load on the API; useless past the next bottleneck | 01, 03 |
# | documents arrive faster than they are embedded | **queue capacity** (`QueuePolicy(k)`, `suspend`) | in front of each stage | items waiting, memory, time in queue (Little's law) | none on throughput: the source waits instead | 03 |
# | each call has a fixed overhead | **batch size / wait** (`BatchPolicy(max_size, max_wait)`) | between chunking and embedding | calls per chunk; a lone chunk's wait | the first chunk of a batch waits up to `max_wait` | 09 |
# | the API has a quota ("4 calls/s, bursts of 2") | **rate** (`AsyncRateLimiter(TokenBucket(rate, burst))`) | inside each attempt, before the call | calls per window, retries included | a ceiling on throughput, whatever the workers | 06 |
# | the API fails now and then, or hangs | **retry + timeout** (`async_retry`, `async_timeout`) | around one batch call | attempts per batch; time per attempt | extra calls (they pay tokens too); a deadline on latency | 04 |
# | one tenant floods the embedder | **scheduling** (`DeficitRoundRobin` vs `Fifo`) | the line in front of the embedder | the light tenant's latency | the heavy tenant waits a little longer | 06 |

# %% [markdown]
# ## Read the public API
#
# The parts the capstone composes, one line each, with the lesson that built them:

# %%
PARTS = {
    "01": (async_bind, async_gather, async_settle), "02/09": (stream_from, BatchPolicy),
    "03": (pipeline, Stage, QueuePolicy, depth_series), "04": (async_retry, async_timeout),
    "06": (AsyncRateLimiter, TokenBucket), "08": (account_for, Ledger), "10": (observe, check_law),
    "11/01": (scan_source, check_package),
}
for lesson, parts in PARTS.items():
    for f in parts:
        print(f"[{lesson:>5}] {f.__name__}: {first_sentence(f)}")


# %% [markdown]
# ## Build the corpus
#
# The capstone's domain is three frozen values: a raw document, a chunk of cleaned text (it knows
# its document and its position, so its id — `d03#1` — is stable), and an embedded chunk (a chunk,
# its vector and the model that made it). They are plain data: comparable, printable, hashable.

# %%
@dataclass(frozen=True)
class RawDoc:
    doc_id: str
    text: str

@dataclass(frozen=True)
class Chunk:
    doc_id: str
    index: int
    text: str

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.index}"

@dataclass(frozen=True)
class EmbeddedChunk:
    chunk: Chunk
    vector: tuple[float, ...]
    model: str


# %% [markdown]
# The corpus is generated, not downloaded: documents are sentences about this module drawn from
# an injected, seeded `random.Random`, so it is the same on every run. Six extra documents copy
# earlier ones — three exactly, three as **near-duplicates** (shouted, re-spaced, with an extra
# `!`), the kind a crawler brings back from two URLs. Dedup will have work.

# %%
SENTENCES = (
    "Plans describe work and shells drive them.", "A bounded queue turns overload into waiting.",
    "Retries need a budget, a backoff and a deadline.", "Every input ends in the ledger exactly once.",
    "Virtual time makes a minute of backoff free.", "Fair schedulers keep the light tenant's latency low.",
    "Batching trades first-item latency for cheaper calls.", "An adapter turns exceptions into values at the boundary.",
    "Little's law links depth, arrival rate and waiting time.", "A timeout must cancel the work it gives up on.",
)

def make_corpus(rng: random.Random, n: int = 24, copies: int = 6) -> list[RawDoc]:
    docs = [RawDoc(f"d{i:02d}", " ".join(rng.sample(SENTENCES, rng.randint(2, 4)))) for i in range(n)]
    for j, source in enumerate(rng.sample(docs, copies)):
        near = "  " + source.text.upper().replace(". ", ".   ") + "!"       # same words, other bytes
        docs.append(RawDoc(f"d{n + j:02d}", source.text if j % 2 == 0 else near))
    return docs

CORPUS = make_corpus(random.Random(12))
print(len(CORPUS), "documents; the last six copy earlier ones:")
for doc in CORPUS[-2:]:
    print(f"  {doc.doc_id}: {doc.text[:70]!r}…")

# %% [markdown]
# ## Clean and chunk, purely
#
# Cleaning lower-cases, turns punctuation into spaces and collapses whitespace; chunking cuts the
# cleaned words into chunks of at most eight. Both are pure functions — no `await`, no clock — so they
# are tested like any function and cost nothing to replay. Watch the near-duplicate: after cleaning,
# its chunks have exactly the text of its source's chunks.

# %%
WORDS = 8
_PUNCTUATION = re.compile(r"[^\w\s']")

def clean(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())

def chunk_text(doc: RawDoc, words: int = WORDS) -> list[Chunk]:
    tokens = clean(doc.text).split()
    return [Chunk(doc.doc_id, i // words, " ".join(tokens[i:i + words])) for i in range(0, len(tokens), words)]

def clean_and_chunk(docs: list[RawDoc], words: int = WORDS) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_text(doc, words)]


# %%
CHUNKS = clean_and_chunk(CORPUS)
IDS = [c.chunk_id for c in CHUNKS]
texts = Counter(c.text for c in CHUNKS)
print(f"{len(CHUNKS)} chunks, {len(texts)} distinct texts; the most repeated appears {texts.most_common(1)[0][1]} times")
near = CORPUS[-1]
source = next(d for d in CORPUS[:-6] if clean(d.text) == clean(near.text))
print(f"{near.doc_id} (near-duplicate of {source.doc_id}) has the same chunk texts:",
      [c.text for c in chunk_text(near)] == [c.text for c in chunk_text(source)])


# %% [markdown]
# ## Deduplicate by structure
#
# Two chunks are duplicates when they have the same text **and** the same vector — the structure of
# the embedded chunk, not its id or its document. `structural_dedup` keeps the first occurrence of
# each and keeps the order: a pure function on the embedded chunks, applied *after* embedding (anti-pattern
# 2 shows what goes wrong before). Both halves of the key matter: the same text embedded by two
# model versions gives two vectors, and must be kept twice.

# %%
def dedup_key(e: EmbeddedChunk) -> tuple[str, tuple[float, ...]]:
    return (e.chunk.text, e.vector)

def structural_dedup(embedded: list[EmbeddedChunk]) -> list[EmbeddedChunk]:
    seen: set[tuple[str, tuple[float, ...]]] = set()
    kept = []
    for e in embedded:
        if dedup_key(e) not in seen:
            seen.add(dedup_key(e))
            kept.append(e)
    return kept


# %%
a, b = Chunk("x", 0, "plans describe work"), Chunk("y", 0, "plans describe work")
sample = [EmbeddedChunk(a, (0.1, 0.2), "v1"), EmbeddedChunk(b, (0.1, 0.2), "v1"), EmbeddedChunk(b, (0.9, 0.4), "v2")]
kept = structural_dedup(sample)
print([(e.chunk.chunk_id, e.model) for e in kept], "| idempotent:", structural_dedup(kept) == kept)


# %% [markdown]
# ## Rebuild the seed's pipeline
#
# The seed's §4.4, with the package's parts: `_embed_chunk` lifts one capability call and maps its
# vector into an `EmbeddedChunk`; `async_rag_pipeline` chunks the documents, embeds every chunk with
# `async_gather(..., concurrency=n)` and dedups the result. Lesson 01 ran a toy version on two
# sentences; here it meets the whole corpus. The embedder is any `EmbeddingCap` — the port of lesson
# 07 — so the domain never names a concrete client.

# %%
def _embed_chunk(chunk: Chunk, embedder: EmbeddingCap) -> AsyncPlan[EmbeddedChunk]:
    return async_bind(
        async_lift(lambda: embedder.embed(chunk.text)),
        lambda vector: async_pure(EmbeddedChunk(chunk, vector, embedder.model_name)),
    )

def async_rag_pipeline(docs: list[RawDoc], embedder: EmbeddingCap, concurrency: int) -> AsyncPlan[list[EmbeddedChunk]]:
    return async_bind(
        async_pure(docs),
        lambda ds: async_map(
            async_gather([_embed_chunk(c, embedder) for c in clean_and_chunk(ds)], concurrency=concurrency),
            structural_dedup,
        ),
    )


# %% [markdown]
# Building the plan embeds nothing. (The seed writes `async_pure(list(gen_clean_and_chunk(docs)))`,
# which cleans while *describing*; that is pure work, so it is allowed, but here even the chunking
# waits for the drive.) The plan prints as the code that builds it:

# %%
embedder = FakeEmbedder()
seed_plan = async_rag_pipeline(CORPUS, embedder, concurrency=4)
print(repr(seed_plan)[:60], "…")                 # the documents themselves are part of the value
print("embed calls after building:", len(embedder.calls))

# %% [markdown]
# Drive it on virtual time. Watch three numbers: every chunk is embedded once (109 calls), at most
# 4 at a time, and dedup keeps one chunk per distinct text — the near-duplicates are gone.

# %%
sim = Simulation(seed=12)
result = sim.run(seed_plan)
print(f"calls: {len(embedder.calls)} | most in flight: {embedder.max_in_flight} | kept after dedup: {len(result.value)}")
print("first kept:", result.value[0].chunk.chunk_id, result.value[0].vector, result.value[0].model)

# %% [markdown]
# ## See one failure sink the batch
#
# A real embedding API fails now and then. `FlakyEmbedder` is an `EmbeddingCap` over the package's
# `FakeEmbedder` (the model) and a `ScriptedService` (the network: call *n* answers with script entry
# *n* — a 503, a hang, or "go ahead"). It counts the calls in flight, as the fakes do.

# %%
UNAVAILABLE = ErrInfo("HTTP_503", "embedding service unavailable", retryable=True)

class FlakyEmbedder:
    # An EmbeddingCap: the network's scripted answer first, then the model's vector.
    def __init__(self, network: ScriptedService, model: FakeEmbedder | None = None) -> None:
        self.network, self.model = network, model or FakeEmbedder()
        self.in_flight = self.max_in_flight = 0

    @property
    def model_name(self) -> str:
        return self.model.model_name

    async def embed(self, text: str) -> Result[tuple[float, ...], ErrInfo]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = await self.network.call()
            return answer if isinstance(answer, Err) else await self.model.embed(text)
        finally:
            self.in_flight -= 1


# %% [markdown]
# One 503 on call 40 of 109. `async_gather` fails fast — the first `Err` cancels the rest and *is*
# the result (lesson 01) — so the whole job returns one error, and the 39 vectors already paid for
# are thrown away with it:

# %%
network = ScriptedService([Ok(None)] * 39 + [UNAVAILABLE, Ok(None)], latency=0.1)
flaky = FlakyEmbedder(network)
print(Simulation().run(async_rag_pipeline(CORPUS, flaky, concurrency=4)))
print(f"calls made: {len(network.calls)} of {len(CHUNKS)}; chunks accounted for: 0")

# %% [markdown]
# ## Account for every chunk
#
# Lesson 08's `account_for` runs each input through named steps and turns its fate into one
# `Outcome` — so one chunk's failure never stops the others, and the `Ledger` has one line per chunk.
# The embed step is retried (lesson 04) and each attempt is cut by a timeout: the network now
# also **hangs** on call 61.

# %%
POLICY = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.5, factor=2, cap=2),
                     retry_on=frozenset({"HTTP_503", "TIMEOUT"}))
ATTEMPT_TIMEOUT = 1.0
BY_ID = {c.chunk_id: c for c in CHUNKS}

def embed_step(embedder: EmbeddingCap):
    return lambda chunk_id: async_retry(async_timeout(_embed_chunk(BY_ID[chunk_id], embedder), ATTEMPT_TIMEOUT), POLICY)

network = ScriptedService([Ok(None)] * 39 + [UNAVAILABLE] + [Ok(None)] * 20 + [HANG, Ok(None)], latency=0.1)
sim = Simulation()
ledger = sim.run(account_for(IDS, [("embed", embed_step(FlakyEmbedder(network)))], concurrency=4)).value
print(ledger.table())
print("problems:", ledger.problems(IDS), f"| calls: {len(network.calls)} | done at t={sim.now:g} s")


# %% [markdown]
# Every chunk is there: the 503 and the hang were retried away. But `account_for` keeps each
# input's *outcome*, not its value, and it follows each input on its own — while dedup needs **all**
# the embedded values together, and a real embedding API wants **batches**. The production shape keeps
# `account_for`'s rule (one outcome per input) and changes the plumbing: settle every call
# (`async_settle`, so an `Err` is a value), then reconcile the values into the same `Ledger` with a
# pure function.
#
# ## Reconcile: kept, deduplicated or failed
#
# `reconcile` walks the chunks in input order with one `Result` each: an `Err` is a failure at
# `embed` with its `ErrInfo`; an embedded chunk is kept if its structure is new, or reported as
# `dedup: DUPLICATE` naming the chunk it repeats. The ledger's `saved` means *kept in the index*.

# %%
def reconcile(chunks: list[Chunk], results: list[Result[EmbeddedChunk, ErrInfo]]) -> tuple[list[EmbeddedChunk], Ledger]:
    first: dict[tuple[str, tuple[float, ...]], str] = {}
    kept, outcomes = [], []
    for chunk, result in zip(chunks, results, strict=True):
        if isinstance(result, Err):
            outcomes.append(Outcome(chunk.chunk_id, "embed", result.error))
        elif dedup_key(result.value) in first:
            outcomes.append(Outcome(chunk.chunk_id, "dedup", ErrInfo("DUPLICATE", f"same text and vector as {first[dedup_key(result.value)]}")))
        else:
            first[dedup_key(result.value)] = chunk.chunk_id
            kept.append(result.value)
            outcomes.append(Outcome(chunk.chunk_id))
    return kept, Ledger(tuple(outcomes))


# %% [markdown]
# The seed's shape with `async_settle` around each chunk's plan: the gather now returns every
# outcome, in input order, and `reconcile` makes the ledger. The kept chunks are exactly what
# `structural_dedup` keeps — the two views agree:

# %%
def settled_rag_pipeline(chunks: list[Chunk], embedder: EmbeddingCap, concurrency: int):
    plans = [async_settle(async_retry(async_timeout(_embed_chunk(c, embedder), ATTEMPT_TIMEOUT), POLICY)) for c in chunks]
    return async_map(async_gather(plans, concurrency=concurrency), lambda results: reconcile(chunks, results))

network = ScriptedService([Ok(None)] * 39 + [UNAVAILABLE] * 9 + [Ok(None)], latency=0.1)
kept, ledger = Simulation().run(settled_rag_pipeline(CHUNKS, FlakyEmbedder(network), concurrency=4)).value
print(ledger.table())
print("problems:", ledger.problems(IDS), "| kept == structural_dedup(kept):", structural_dedup(kept) == kept)


# %% [markdown]
# Nine 503s in a row, from call 40: the four chunks in flight retried through most of them, but one
# chunk's three attempts all landed on 503s. It is in the ledger as `embed: HTTP_503`, with the error
# that stopped it, and nothing else was lost. (Its text survives: another chunk with the same text
# was embedded and kept.)
#
# ## Stream the documents through bounded stages
#
# Now the production shape. Documents do not all exist at t = 0 — they **arrive**, one every 0.1 s.
# The source is a lazy stream (lesson 02): arriving documents → chunks → batches of at most 8, or
# whatever has waited 0.5 s (lesson 09). A `pipeline` (lesson 03) feeds the batches through two
# bounded stages:
#
# * **embed** — 2 workers, a queue of 4 in front: each batch is one call to the embedding API,
#   rate-limited (lesson 06), cut at 1 s, retried by `POLICY`, and settled;
# * **index** — 1 worker, a queue of 4: writes the batch's vectors to a store (lesson 07's
#   `FakeStorage`) under a **content key**, so the store itself holds one record per distinct chunk.
#
# `EmbeddingApi` is the capstone's embedding API: `embed_batch(texts)` is one call — network
# latency and faults from a `ScriptedService`, vectors from `FakeEmbedder` — and `embed(text)` keeps
# it an `EmbeddingCap`. An optional `EffectLog` records every call for Checkpoint 3.

# %%
class EmbeddingApi:
    def __init__(self, network: ScriptedService, *, log=None) -> None:
        self.network, self.model, self.log = network, FakeEmbedder(), log
        self.in_flight = self.max_in_flight = 0
        self.calls: list[int] = []                       # the size of every call, in order

    @property
    def model_name(self) -> str:
        return self.model.model_name

    async def embed(self, text: str) -> Result[tuple[float, ...], ErrInfo]:
        vectors = await self.embed_batch((text,))
        return vectors if isinstance(vectors, Err) else Ok(vectors.value[0])

    async def embed_batch(self, texts: tuple[str, ...]) -> Result[list[tuple[float, ...]], ErrInfo]:
        self.calls.append(len(texts))
        if self.log is not None:
            self.log.record("embed", len(texts))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = await self.network.call()
            if isinstance(answer, Err):
                return answer
            return Ok([(await self.model.embed(t)).value for t in texts])
        finally:
            self.in_flight -= 1


# %% [markdown]
# The settings of the run, as data. `delay_schedule` shows the retry waits before anything runs.

# %%
BATCH = BatchPolicy(max_size=8, max_wait=0.5)
WORKERS, CAPACITY, RATE, BURST = 2, 4, 4, 2           # embed workers, queue capacity, calls/s, burst
LATENCY, INDEX_SECONDS, EVERY = 0.4, 0.1, 0.1          # per call, per batch indexed, between documents
print(BATCH, f"| workers={WORKERS} capacity={CAPACITY} rate={RATE}/s burst={BURST}")
print("retry waits:", delay_schedule(POLICY), f"| each attempt cut at {ATTEMPT_TIMEOUT:g} s")


# %% [markdown]
# The source: a stream that yields each document after `every` seconds of the loop's clock, then
# the pure chunking and the batching. It is a description — printing it runs nothing:

# %%
def chunk_batches(docs: list[RawDoc], every: float, batch: BatchPolicy):
    return stream_from(paced(docs, every)).map(chunk_text).flatten().batch(batch)

print(chunk_batches(CORPUS, EVERY, BATCH))


# %% [markdown]
# The embed step, one batch → a plan. Two design points, each from an earlier lesson: the limiter is
# acquired **inside** the retried attempt, so a retry pays a token like any call (lesson 08); and the
# timeout wraps only the *call*, not the wait for a token, so a throttled attempt is not mistaken for
# a hung one. `async_settle` makes a batch that fails for good a value, not the end of the pipeline.

# %%
def embed_batch_step(embedder: EmbeddingApi, limiter: AsyncRateLimiter, trace: Trace | None = None):
    async def token() -> Result[None, ErrInfo]:
        await limiter.acquire()
        return Ok(None)

    def step(batch: tuple[Chunk, ...]):
        call = async_lift(lambda: embedder.embed_batch(tuple(c.text for c in batch)))
        attempt = async_bind(async_lift(token), lambda _: async_timeout(call, ATTEMPT_TIMEOUT))
        retried = async_retry(attempt, POLICY, trace=trace, name=f"{batch[0].chunk_id}+{len(batch) - 1}")
        return async_map(async_settle(retried), lambda outcome: (batch, outcome))
    return step


# %% [markdown]
# The index step stores each embedded chunk under a key derived from its text and vector — so
# storing a duplicate replaces the same record — and takes 0.1 s per batch:

# %%
def content_key(e: EmbeddedChunk) -> str:
    return hashlib.sha256(repr(dedup_key(e)).encode()).hexdigest()[:12]

def embedded(batch: tuple[Chunk, ...], outcome, model: str) -> list[Result[EmbeddedChunk, ErrInfo]]:
    if isinstance(outcome, Err):
        return [outcome] * len(batch)
    return [Ok(EmbeddedChunk(c, v, model)) for c, v in zip(batch, outcome.value, strict=True)]

def index_step(store: FakeStorage, model: str):
    async def write(batch, outcome):
        await asyncio.sleep(INDEX_SECONDS)
        for r in embedded(batch, outcome, model):
            if isinstance(r, Ok):
                await store.save(content_key(r.value), {"chunk": r.value.chunk.chunk_id, "text": r.value.chunk.text})
        return Ok((batch, outcome))
    return lambda item: async_lift(lambda: write(*item))


# %% [markdown]
# The whole pipeline is one description: `rag_pipeline(...)` returns an `AsyncPlan` whose value
# is the reconciled `(kept, ledger, report)`. `ordered=True` hands the batches back in source order
# whatever order the two workers finish in (lesson 03), so the ledger is in input order.

# %%
def rag_pipeline(docs, embedder, limiter, store, *, workers=WORKERS, capacity=CAPACITY, batch=BATCH,
                 every=EVERY, trace=None):
    stages = [Stage("embed", embed_batch_step(embedder, limiter, trace), workers=workers, queue=QueuePolicy(capacity)),
              Stage("index", index_step(store, embedder.model_name), workers=1, queue=QueuePolicy(capacity))]

    def account(report):
        chunks = [c for b, _ in report.items for c in b]
        results = [r for b, outcome in report.items for r in embedded(b, outcome, embedder.model_name)]
        kept, ledger = reconcile(chunks, results)
        return kept, ledger, report
    return async_map(pipeline(chunk_batches(docs, every, batch).iterate, stages, probe=trace, ordered=True), account)


# %% [markdown]
# ## Drive it: the one shell cell
#
# Everything above describes. The function below is the capstone's **shell**: it makes a fresh
# `Simulation` (a virtual clock, a seeded `rng`, a trace), the capabilities — the network with its
# fault script, the limiter, the store — and drives the plan, once. It is the only function of the
# capstone that drives anything ([Checkpoint 1](#Checkpoint-1:-find-where-work-is-described-and-where-it-is-driven)
# proves it). The network's script: a 503 on call 4, a hang on call 6, and five 503s in a row
# from call 11 — enough to exhaust one batch's attempts.

# %%
SCRIPT = [Ok(None)] * 3 + [UNAVAILABLE, Ok(None), HANG] + [Ok(None)] * 4 + [UNAVAILABLE] * 5 + [Ok(None)]

@dataclass(frozen=True)
class Run:
    kept: list
    ledger: Ledger
    report: object
    trace: Trace
    admitted: list
    calls: list
    peak: int
    index_keys: list
    ended: float


# %% [markdown]
# `drive_capstone` builds the world, describes the pipeline, drives it once and packs what happened
# into a `Run`. Every argument has a default, so `drive_capstone()` is the run of this section:

# %%
def drive_capstone(docs=CORPUS, script=SCRIPT, seed=12, log=None, **knobs) -> Run:
    sim = Simulation(seed=seed)
    embedder = EmbeddingApi(ScriptedService(script, latency=LATENCY), log=log)
    limiter, store = AsyncRateLimiter(TokenBucket(rate=knobs.pop("rate", RATE), burst=BURST)), FakeStorage()
    kept, ledger, report = sim.run(rag_pipeline(docs, embedder, limiter, store, trace=sim.trace, **knobs)).value
    return Run(kept, ledger, report, sim.trace, limiter.admitted, embedder.calls, embedder.max_in_flight,
               sorted(store.records), sim.now)


# %% [markdown]
# Run it. Read the queue table first (offered, taken, max depth, how long the source's puts
# waited), then the ledger: kept, duplicates, and the batch that failed for good — every chunk of it
# named, with its error.

# %%
run = drive_capstone()
print(run.report.table())
print()
print(run.ledger.table())
print("failed for good:", ", ".join(o.item for o in run.ledger.failed if o.stage == "embed"), "—",
      next(o for o in run.ledger.failed if o.stage == "embed").error.message)
print(f"{len(run.calls)} embed calls for {len(CHUNKS)} chunks; done at t={run.ended:g} s")

# %% [markdown]
# ## Check every chunk is accounted for
#
# Each invariant of the table at the top, as an assertion on what the run produced. The ledger and the
# index are two independent records of the same truth: what the pipeline believes it kept, and what
# the store holds.

# %%
assert run.ledger.problems(IDS) == [] and len(run.ledger.outcomes) == len(IDS)
counts = run.ledger.counts()
assert sum(counts.values()) == len(IDS)
assert run.kept == structural_dedup(run.kept) and len(run.kept) == counts["saved"]
assert run.index_keys == sorted(content_key(e) for e in run.kept)
assert run.peak <= WORKERS and all(d <= CAPACITY for d in run.report.max_depth.values())
assert max_window_cost(run.admitted, 1.0) <= RATE * 1.0 + BURST
print(f"exactly once: {len(run.ledger.outcomes)} outcomes for {len(IDS)} chunks: {counts}")
print(f"index holds {len(run.index_keys)} records = {len(run.kept)} kept | peak in flight {run.peak} <= {WORKERS} | "
      f"max depths {run.report.max_depth} <= {CAPACITY}")

# %% [markdown]
# ## Replay it: same seed, same output, same trace
#
# Nothing in the run reads the wall clock or the global `random`, so driving it again gives the same
# ledger, the same kept chunks and the same trace — every event, at the same virtual instant:

# %%
again = drive_capstone()
events = lambda r: [(e.time, e.kind, e.name, dict(e.data)) for e in r.trace.events]
print("same ledger:", again.ledger == run.ledger, "| same kept:", again.kept == run.kept,
      "| same trace:", events(again) == events(run), f"({len(run.trace)} events)")


# %% [markdown]
# ## Draw the queues
#
# The pipeline's probe recorded every change of each queue's depth on the trace (lesson 03);
# `depth_series` reads it back. Look for the `embed` queue climbing while the network is slow and the
# retries wait, touching its capacity (dashed) — that is when the source's put waited and the
# stream stopped pulling documents — and the `index` queue staying shallow.

# %%
def plot_queue_depths(trace: Trace, queues: list[str], capacity: int, *, end: float) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.add_subplot()
        for (name, style, marker), colour in zip(((queues[0], "-", "o"), (queues[1], "--", "s")),
                                                 [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]):
            series = [(0.0, 0)] + depth_series(trace, name) + [(end, depth_series(trace, name)[-1][1])]
            ax.step([t for t, _ in series], [d for _, d in series], where="post", linestyle=style, marker=marker,
                    markevery=max(len(series) // 15, 1), color=colour, label=f"queue in front of {name}")
        ax.axhline(capacity, color="black", linestyle=":", label=f"capacity {capacity}")
        ax.set_xlabel("virtual seconds")
        ax.set_ylabel("batches waiting")
        ax.set_title("Queue depth of each stage over virtual time")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# %%
def depth_summary(trace: Trace, name: str) -> str:
    series = depth_series(trace, name)
    full = [t for t, d in series if d == CAPACITY]
    return (f"{name}: {len(series)} depth changes, max {max(d for _, d in series)}"
            + (f", at capacity first at t={full[0]:g} s" if full else ", never at capacity"))

show_figure(plot_queue_depths(run.trace, ["embed", "index"], CAPACITY, end=run.ended), alt=(
    "Step plot of batches waiting against virtual seconds for the queues in front of the embed and index stages, "
    "with the capacity 4 as a dotted line; the embed queue climbs to the capacity while retries wait, the index "
    "queue stays low."))
for name in ("embed", "index"):
    print(depth_summary(run.trace, name))


# %% [markdown]
# ## Draw the embedding calls against the rate limit
#
# The limiter records every admission (lesson 06). Counted over time, the calls must stay under the
# line `burst + rate·t` — the token bucket's promise — retries included. Look for the staircase
# staying under the line everywhere — closest in the first second, when both workers call back to
# back — and flattening while the pipeline waits on backoffs (around t = 4.5–5.3 s).

# %%
def plot_rate(admitted: list, rate: float, burst: float, *, end: float) -> Figure:
    times = [t for t, _ in admitted]
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.add_subplot()
        ax.step([0.0, *times, end], [0, *range(1, len(times) + 1), len(times)], where="post", marker="o",
                markevery=list(range(1, len(times) + 1)), label="embed calls admitted (cumulative)")
        ax.plot([0, end], [burst, burst + rate * end], color="black", linestyle="--",
                label=f"token bucket bound: {burst:g} + {rate:g}·t")
        ax.set_xlabel("virtual seconds")
        ax.set_ylabel("calls")
        ax.set_title("Embedding calls against the rate limit (retries included)")
        ax.legend(loc="upper left")
    return fig


# %%
show_figure(plot_rate(run.admitted, RATE, BURST, end=run.ended), alt=(
    f"Cumulative embedding calls admitted against virtual seconds, {len(run.admitted)} in all, staying under the "
    f"dashed line {BURST} + {RATE}·t."))
print(f"{len(run.admitted)} calls admitted ({len(run.calls)} reached the API); "
      f"most in any 1 s window: {max_window_cost(run.admitted, 1.0):g} <= rate·1 + burst = {RATE + BURST}")
print("tightest window of 0.5 s:", max_window_cost(run.admitted, 0.5), "<=", RATE * 0.5 + BURST)

# %% [markdown]
# ## Draw the stage timeline
#
# `async_retry` recorded each batch's attempts and waits on the same trace; lesson 04's attempt
# timeline draws them, one row per batch (named after its first chunk and how many follow). Look for
# the 503 and its short backoff, the hung attempt cut at exactly 1 s, and the batch whose three
# attempts all failed.

# %%
show_figure(plot_attempt_timeline(run.trace, title="Embed stage: attempts per batch on virtual time",
                                  time_label="virtual seconds"), alt=(
    "One row per batch of the embed stage against virtual seconds: most batches one short successful attempt; "
    "one 503 then a retry; one attempt timed out at 1 s then retried; one batch failing three times."))
for line in attempt_timeline_summary(run.trace).splitlines():
    if "#2" in line:
        print(line)
print(sum("#2" not in line for line in attempt_timeline_summary(run.trace).splitlines()),
      "other batches: one attempt each, ok")

# %% [markdown]
# ## Checkpoint 1: find where work is described and where it is driven
#
# *Inspect where async work is described and where it is actually driven.*
#
# **Evidence 1 — the drive timeline.** Wrap the seed shape's steps with `Trace.step` (lesson 01) on a
# logical clock, build the plan, then drive it through `perform_async` inside the simulation. Every
# `describe` comes first, in the grey band; nothing runs before the shell's dashed line.

# %%
timeline = Trace()
small = clean_and_chunk(CORPUS[:2])
described = timeline.step("chunk", async_pure(small))
described = async_bind(described, lambda cs: timeline.step("embed ×4", async_gather([_embed_chunk(c, FakeEmbedder()) for c in cs], concurrency=4)))
described = async_bind(described, lambda es: timeline.step("dedup", async_pure(structural_dedup(es))))
Simulation().run(perform_async(described, trace=timeline))
show_figure(plot_drive_timeline(timeline), alt=(
    "Drive timeline: the chunk step is described before the shell starts driving; chunk, embed and dedup each "
    "run only after the dashed drive line, embed and dedup described only when the step before them ran."))
print(drive_timeline_summary(timeline))

# %% [markdown]
# `embed ×4` and `dedup` are described *during* the drive — inside `async_bind`'s functions, once
# the step before them has a value — and still nothing runs before the drive.
#
# **Evidence 2 — the static check.** `scan_source` (lesson 01's boundary check) reads a function's
# source and lists every place it *drives*: `asyncio.run`, `create_task`, `asyncio.gather`,
# `Simulation`, `perform_async`… Run it on every function the capstone defines. Watch the domain and
# the descriptions come back clean, and the one shell function name its driver:

# %%
CAPSTONE = [clean, chunk_text, clean_and_chunk, dedup_key, structural_dedup, _embed_chunk, async_rag_pipeline,
            reconcile, settled_rag_pipeline, chunk_batches, embed_batch_step, content_key, embedded,
            index_step, rag_pipeline, drive_capstone]
rows = []
for f in CAPSTONE:
    found = scan_source(inspect.getsource(f), f.__name__)
    rows.append([f.__name__, len(found), "; ".join(v.what for v in found) or "-"])
print(format_table(["function", "driving calls", "what"], rows))

# %% [markdown]
# And the package the capstone is built from passes the same check, module by module
# (`funcpipe_async/shell/` and the demos are the drivers; `gather.py` may create its worker pool):

# %%
print("package description modules that drive:", check_package())

# %% [markdown]
# **Answer.** Work is *described* in every function above but one: the domain (`clean`,
# `chunk_text`, `structural_dedup`, `reconcile`) is pure; the plans (`_embed_chunk`, `rag_pipeline`,
# the steps) are values that name capability calls and compose them with `async_bind`, `async_gather`,
# `async_retry`, `Stage`. Work is *driven* in exactly one place, `drive_capstone`: it owns the clock,
# the capabilities and the `sim.run`. Concurrency is still explicit inside the description —
# `workers=2`, `concurrency=4` — but nothing starts until that one call.
#
# ## Checkpoint 2: measure what queues, workers, rate limits and fairness do to throughput
#
# *Review how bounded queues and fairness policies shape throughput.*
#
# A throughput question needs a saturated pipeline: all documents present at t = 0 (`every=0`), a
# network that never fails, and a larger corpus (90 documents). Vary one knob at a time and measure
# chunks per virtual second, the deepest the embed queue got, and the calls in flight.

# %%
BIG = make_corpus(random.Random(7), n=80, copies=10)
N_BIG = len(clean_and_chunk(BIG))

def measure(workers: int, capacity: int, rate: float) -> list[object]:
    r = drive_capstone(BIG, [Ok(None)], every=0, workers=workers, capacity=capacity, rate=rate)
    return [workers, capacity, f"{rate:g}", f"{r.ended:.2f}", f"{N_BIG / r.ended:.1f}", r.report.max_depth["embed"], r.peak]

MEASURED = [measure(w, c, rate) for rate in (1000, 4) for w in (1, 2, 4, 8) for c in (2, 8)]
print(f"{N_BIG} chunks, batches of {BATCH.max_size}, {LATENCY:g} s per call, index {INDEX_SECONDS:g} s per batch")
print(format_table(["workers", "capacity", "rate /s", "elapsed s", "chunks/s", "max depth", "in flight"], MEASURED))


# %% [markdown]
# Plot throughput against workers, one line per rate limit and capacity:

# %%
def plot_throughput(rows: list[list[object]]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(9, 3.8), layout="constrained")
        ax = fig.add_subplot()
        styles = {("1000", 2): ("-", "o"), ("1000", 8): (":", "x"), ("4", 2): ("--", "s"), ("4", 8): ("-.", "+")}
        for (rate, capacity), (line, marker) in styles.items():
            pts = [(r[0], float(r[4])) for r in rows if r[2] == rate and r[1] == capacity]
            ax.plot([w for w, _ in pts], [t for _, t in pts], linestyle=line, marker=marker, markersize=9,
                    label=f"{'no rate limit' if rate == '1000' else 'rate 4 calls/s'}, capacity {capacity}")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
        ax.set_xlabel("embed workers (concurrency)")
        ax.set_ylabel("throughput (chunks per virtual second)")
        ax.set_title("Workers raise throughput until the next bottleneck; capacity does not")
        ax.legend(loc="upper left", fontsize=9)
    return fig

show_figure(plot_throughput(MEASURED), alt=(
    "Throughput in chunks per virtual second against embed workers 1, 2, 4, 8. Without a rate limit it rises "
    "then flattens at the index stage's limit; with 4 calls per second it flattens lower. Capacity 2 and 8 "
    "lines coincide."))
for rate in ("1000", "4"):
    best = max(float(r[4]) for r in MEASURED if r[2] == rate)
    print(f"rate {rate:>4}/s: best {best:.1f} chunks/s; capacity changes throughput: "
          f"{any(a[4] != b[4] for a, b in zip(MEASURED[::2], MEASURED[1::2]) if a[2] == rate)}")

# %% [markdown]
# Read the table as the decision table's rows, measured:
#
# * **workers** set throughput: one worker embeds a batch of 8 every 0.4 s (20 chunks/s); two double
#   it — until the next bottleneck. Without a rate limit that is the index stage (one batch per 0.1 s,
#   80 chunks/s), so 8 workers buy nothing over 4 and only add calls in flight.
# * **capacity** changes the *max depth* (2 or 8 batches waiting, the memory and the time each batch
#   waits) and **never** the throughput: a bounded queue with `suspend` turns overload into waiting
#   at the source, not into lost or faster work.
# * **the rate limit** is a ceiling whatever the workers: 4 calls/s of 8 chunks is 32 chunks/s at
#   most (31.5 measured), and extra workers just wait for tokens — 8 workers never had more than 3
#   calls in flight.
#
# Little's law ties the queue's depth to its throughput (lesson 03): on the live run, the mean number
# of batches waiting in front of `embed` equals the arrival rate times the mean wait:

# %%
print(littles_law(run.trace, "embed"))

# %% [markdown]
# **Fairness.** One embedding service often serves more than one caller. Say a bulk *re-index*
# drops 40 batches at t = 0 while *search* sends one small batch each second, which a user is
# waiting for. The embedder serves one call at a time, 2.5 calls per second. Lesson 06's
# `simulate_schedule` replays that workload under FIFO — the embed stage's queue as it stands — and
# under deficit round robin. Watch search's p95 latency and Jain's index on each tenant's
# throughput relative to its max-min fair share:

# %%
CALLS_PER_S, HORIZON = 1 / LATENCY, 20.0
workload = [Request("reindex", 0.0)] * 40 + [Request("search", 0.5 + k) for k in range(20)]
fair = max_min_shares({"reindex": 40 / HORIZON, "search": 20 / HORIZON}, CALLS_PER_S)
for scheduler in (Fifo(), DeficitRoundRobin(quantum=1)):
    stats = tenant_stats(simulate_schedule(workload, scheduler, capacity=CALLS_PER_S), HORIZON, ["reindex", "search"])
    print(scheduler.name, f"— Jain's index vs fair shares: {jain_index([s.throughput / fair[s.tenant] for s in stats]):.3f}")
    print(stats_table(stats))


# %% [markdown]
# Under FIFO, search's requests wait behind the whole re-index — a p95 of 16 s for a user, only 10
# of its 20 calls served within the horizon — and Jain's index is 0.83. Deficit round robin serves
# one search batch per round: a p95 of 0.7 s, all 20 served, and the re-index gets 1.5 calls/s, exactly
# its max-min fair share (Jain's index 1.0). The server never idles under either scheduler
# (work-conserving); the scheduler only decides the order. A bounded queue protects *memory*; only a scheduler protects
# the *light tenant*. In this pipeline the place for it is the line in front of the embedder — one
# queue per tenant and a DRR pick, or `KeyedLimiter` to give each tenant its own rate.
#
# **Answer.** Bounded queues shape *where* work waits and how much of it: max depth tracks capacity,
# throughput does not. Throughput is set by the slowest stage's concurrency × per-call rate and capped
# by the rate limit; past that, more workers only add calls in flight. Fairness does not change total
# throughput either — it decides *who* gets it, which the latency percentiles and Jain's index show.
#
# ## Checkpoint 3: compare the test helpers with the runtime surfaces they protect
#
# *Compare test helpers with the runtime surfaces they are protecting.*
#
# **The same run, observed twice.** `observe` (lesson 10) drives a plan on a fresh `Simulation`
# with a fresh `EffectLog` and returns its result, its effects — here every embed call, with the batch
# size and the virtual instant — and the elapsed time. Two observations of the same pipeline are
# equal: that is the determinism every other check relies on.

# %%
def capstone_side(docs, workers=WORKERS, script=(Ok(None),)):
    def side(log):
        embedder = EmbeddingApi(ScriptedService(list(script), latency=LATENCY), log=log)
        limiter, store = AsyncRateLimiter(TokenBucket(rate=RATE, burst=BURST)), FakeStorage()
        return async_map(rag_pipeline(docs, embedder, limiter, store, workers=workers), lambda out: out[:2])
    return side

first, second = observe(capstone_side(CORPUS, script=SCRIPT)), observe(capstone_side(CORPUS, script=SCRIPT))
print("equal observations:", first == second, f"| {len(first.effects)} effects, elapsed {first.elapsed:g} s")
print("first effects:", ", ".join(first.effects[:4]), "…")

# %% [markdown]
# **A property over generated corpora.** Hypothesis draws corpora (1 to 6 documents of drawn
# sentences, so duplicates are common) and a fault script (503s and hangs in any position); the
# pipeline runs on virtual time. For every example: each chunk is accounted for exactly once, dedup is
# idempotent, the kept chunks keep input order, and they are exactly `structural_dedup` of the
# chunks that were embedded.

# %%
corpora = st.lists(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=3).map(" ".join), min_size=1, max_size=6)
scripts = st.lists(st.sampled_from([Ok(None), Ok(None), UNAVAILABLE, HANG]), min_size=1, max_size=8)
EXAMPLES = Counter()

@settings(max_examples=30)
@given(texts=corpora, script=scripts)
def every_chunk_accounted_for(texts, script) -> None:
    EXAMPLES["pipeline"] += 1
    docs = [RawDoc(f"g{i}", t) for i, t in enumerate(texts)]
    ids = [c.chunk_id for c in clean_and_chunk(docs)]
    r = drive_capstone(docs, script + [Ok(None)], every=0.05)
    assert r.ledger.problems(ids) == []
    assert structural_dedup(r.kept) == r.kept
    assert [e.chunk.chunk_id for e in r.kept] == [i for i in ids if i in {e.chunk.chunk_id for e in r.kept}]
    assert len(r.index_keys) == len(r.kept)

every_chunk_accounted_for()
print(f"every chunk once, dedup idempotent, order kept, index == kept: {EXAMPLES['pipeline']} examples")

# %% [markdown]
# **A law of the pipeline.** More workers must make it faster, never different. `check_law`
# (lesson 10) draws corpora, drives the pipeline with 1 embed worker and with 3, and compares what
# matters here — the kept chunks and the ledger — not the instants, which *should* differ:

# %%
same_answer = lambda left, right: left.result == right.result
report = check_law(
    "workers", "rag_pipeline(workers=1) == rag_pipeline(workers=3) (kept chunks and ledger)",
    st.tuples(corpora.map(lambda ts: [RawDoc(f"g{i}", t) for i, t in enumerate(ts)])),
    lambda docs: (capstone_side(docs, workers=1), capstone_side(docs, workers=3)),
    max_examples=20, same=same_answer,
)
print(report.law, "|", report.statement, "|", report.examples, "examples |", "holds" if report.holds else report.counterexample)

# %% [markdown]
# **The runtime surface behind the fake.** The fake model is `hash_embedding`, a pure function;
# the real one would be a blocking library. Lesson 07's `ThreadedEmbedder` wraps exactly such a
# function in `asyncio.to_thread` — the adapter a real model would sit behind. Run the seed shape
# through it (real threads, virtual clock standing still while they work) and compare vectors with the
# fake's:

# %%
threaded = ThreadedEmbedder(hash_embedding, model_name=FakeEmbedder().model_name)
through_threads = Simulation().run(async_rag_pipeline(CORPUS[:6], threaded, concurrency=4)).value
through_fake = Simulation().run(async_rag_pipeline(CORPUS[:6], FakeEmbedder(), concurrency=4)).value
print(f"same kept chunks and vectors through a thread pool: {through_threads == through_fake} "
      f"({len(through_fake)} chunks; {threaded.calls} calls, at most {threaded.max_in_flight} in flight)")


# %% [markdown]
# What each helper protects, why it is deterministic — and what it does **not** cover:
#
# | test helper | runtime surface it stands for | why the test is deterministic | what it does not cover |
# |---|---|---|---|
# | `Simulation` (virtual clock) | asyncio's real loop, its timers, `sleep`, `timeout` | time jumps to the next timer; same seed, same interleaving | real latency distributions, CPU time of the model, GC pauses, a loop blocked by sync code |
# | `ScriptedService` network | the embedding API over HTTP | faults scripted per call | the real error mix, `Retry-After` headers, partial batch failures, connection pools (lesson 08 did those for real) |
# | `FakeEmbedder` / `hash_embedding` | the model | SHA-256 of the text | vector *quality*: similar texts get unrelated vectors, so near-duplicate detection by cosine similarity cannot be tested with it |
# | `FakeStorage` | the vector index | a dict | durability, concurrent writers, the index's own consistency |
# | `observe`, `check_law`, the Hypothesis property | the pipeline's contract | derandomized examples, fresh clock each | throughput on real hardware: the numbers of Checkpoint 2 are model numbers, to be re-measured against the real API |
# | `ThreadedEmbedder` contract | a blocking model library | `hash_embedding` in a thread | a real model's latency, memory and thread-safety |
#
# **Answer.** The helpers replace exactly the surfaces that make async tests flaky — the clock, the
# network, the model — with scripted, deterministic stand-ins, and leave the code under test (the
# descriptions, the queues, the limiter, the retries, the ledger) *real*: the same `rag_pipeline`
# runs under the fakes and would run against the real API. What they cannot tell you is how the real
# API behaves; that is a contract test against it (lesson 07) and a measurement in production.
#
# ## Measure the cost
#
# | operation | time | memory held |
# |---|---|---|
# | `clean`, `chunk_text`, `structural_dedup`, `reconcile` over `n` chunks | O(n) | O(n) output; dedup's `seen` set O(distinct) |
# | building `rag_pipeline(...)` | O(1) — a value | O(1) |
# | driving it on `n` chunks in batches of `b` | O(n) work, ⌈n/b⌉ calls (+ retries) | O(capacity × stages + workers + b) batches in flight — **not** O(n) — plus the O(n) collected output |
# | the probe and the retry trace | O(calls + queue operations) events | O(events) — optional |
#
# The measurement counts things on virtual time: chunks, calls, trace events, the most calls in flight
# and the deepest queue, for the corpus 1, 2 and 4 times over. Watch the counts grow with `n` while
# the in-flight and depth columns stay flat:

# %%
def cost(copies: int) -> list[object]:
    docs = [RawDoc(f"{d.doc_id}.{k}", d.text) for k in range(copies) for d in CORPUS]
    r = drive_capstone(docs, [Ok(None)], every=0.02)
    return [len(clean_and_chunk(docs)), len(r.calls), len(r.trace), r.peak, max(r.report.max_depth.values()),
            f"{r.ended:g}"]

print(format_table(["chunks", "embed calls", "trace events", "most in flight", "deepest queue", "virtual s"],
                   [cost(k) for k in (1, 2, 4)]))

# %% [markdown]
# Calls grow as ⌈n/8⌉ and events linearly; the calls in flight never pass the 2 workers and no
# queue passes its capacity of 4, whatever the corpus size. Batching divides the calls by 8 compared
# with the seed shape's one call per chunk.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | unbounded fan-out: `asyncio.gather` over every chunk | calls in flight = number of chunks; the API throttles or falls over | `async_gather(..., concurrency=n)` or `Stage(workers=n)` |
# | dedup before embedding, by dropping repeated texts | the dropped chunks vanish from the ledger; nobody can say what happened to them | embed, then dedup structurally and report each duplicate in the ledger |
# | a retry without a timeout on a hanging embedder | one stuck call holds a worker for ever; the job never ends | an attempt timeout inside the retry: the hang becomes `Err(TIMEOUT)` |
# | a pipeline that silently drops failed chunks | the output looks fine; the ledger does not add up | settle every call, reconcile every chunk into the ledger |
#
# ### Anti-pattern 1: unbounded fan-out
#
# The "simple" way to embed everything concurrently: one coroutine per chunk, all gathered at once.
# (This cell is shell code, so it may call `asyncio.gather`; the bug is the missing bound.)

# %%
fan_out = FakeEmbedder()

async def embed_everything() -> list:
    return await asyncio.gather(*(fan_out.embed(c.text) for c in CHUNKS))

Simulation().run(embed_everything())
print(f"{len(fan_out.calls)} calls, {fan_out.max_in_flight} in flight at once")

# %% tags=["raises-exception"]
assert fan_out.max_in_flight <= 4, f"unbounded fan-out: {fan_out.max_in_flight} embed calls in flight for {len(CHUNKS)} chunks"

# %% [markdown]
# The fix is the seed's own: `async_gather(..., concurrency=4)` runs a pool of 4 workers, never a
# task per chunk.

# %%
bounded = FakeEmbedder()
Simulation().run(async_gather([_embed_chunk(c, bounded) for c in CHUNKS], concurrency=4))
assert bounded.max_in_flight <= 4
print(f"{len(bounded.calls)} calls, {bounded.max_in_flight} in flight at once")

# %% [markdown]
# ### Anti-pattern 2: dedup before embedding
#
# Dedup early to save calls: keep the first chunk of each text, embed only those, and build the
# ledger from what came back. 54 fewer calls — and 54 chunks that no longer exist anywhere:

# %%
first_of_text = list({c.text: c for c in reversed(CHUNKS)}.values())[::-1]    # first occurrence of each text
results = Simulation().run(async_gather([async_settle(_embed_chunk(c, FakeEmbedder())) for c in first_of_text],
                                        concurrency=4)).value
_, early_ledger = reconcile(first_of_text, results)
print(f"embedded {len(first_of_text)} of {len(CHUNKS)} chunks; ledger lines: {len(early_ledger.outcomes)}")

# %% tags=["raises-exception"]
lost = early_ledger.problems(IDS)
assert lost == [], f"{len(lost)} chunks lost from the ledger, e.g. {lost[0]}"

# %% [markdown]
# Dedup after embedding keeps every chunk in the ledger: the repeats are reported as
# `dedup: DUPLICATE`, naming the chunk they repeat. (Saving the calls is still possible *and* honest:
# embed each distinct text once, then fan the vector out to every chunk with that text *before*
# `reconcile` — the ledger stays whole. Note too what early dedup by text cannot see: the same text
# under two models is two different embedded chunks.)

# %%
all_results = Simulation().run(async_gather([async_settle(_embed_chunk(c, FakeEmbedder())) for c in CHUNKS],
                                            concurrency=4)).value
kept, late_ledger = reconcile(CHUNKS, all_results)
assert late_ledger.problems(IDS) == []
print(late_ledger.table())
print("a duplicate, as the ledger reports it:", next(o for o in late_ledger.outcomes if o.stage == "dedup").error.message)

# %% [markdown]
# ### Anti-pattern 3: a retry without a timeout on a hanging embedder
#
# The network's first call gets stuck — the connection answers only after two hours. The retry
# policy has no timeout, so the attempt never fails and the retry never gets its chance. Under a
# real loop this job would simply never finish; the simulation's `limit` (10 simulated minutes)
# turns that into an error:

# %% tags=["raises-exception"]
STUCK = 7200.0
no_timeout = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(0.5, 2, cap=2), retry_on=frozenset({"HTTP_503"}))
stuck_network = ScriptedService([Ok(None)], latency=STUCK)
hung = async_retry(async_lift(lambda: EmbeddingApi(stuck_network).embed_batch(("plans describe work",))), no_timeout)
Simulation(limit=600).run(hung)

# %% [markdown]
# (A call that never answers at all — `HANG` — is caught the same way, as a `DeadlockError`: nothing
# could ever wake it.) The fix is the one the capstone uses: a timeout around each attempt, inside the
# retry. The stuck attempts are cut at 1 s each, and the batch ends in the ledger as `Err(TIMEOUT)`
# after 3 attempts — at a virtual instant you can compute from the policy:

# %%
stuck_network = ScriptedService([Ok(None)], latency=STUCK)
cut = async_retry(async_timeout(async_lift(lambda: EmbeddingApi(stuck_network).embed_batch(("plans describe work",))),
                                ATTEMPT_TIMEOUT), POLICY)
sim = Simulation(limit=600)
print(sim.run(cut), f"after {len(stuck_network.calls)} attempts, at t={sim.now:g} s =",
      f"3 × {ATTEMPT_TIMEOUT:g} s + waits {delay_schedule(POLICY)}")

# %% [markdown]
# ### Anti-pattern 4: a pipeline that silently drops failed chunks
#
# Keep the `Ok` results, dedup them, and report "done": the output looks healthy, and even the
# ledger built from those results has no failure in it. Check it against the *inputs*, and the chunks
# behind the failed calls are simply gone:

# %%
network = ScriptedService([Ok(None)] * 20 + [UNAVAILABLE] * 9 + [Ok(None)], latency=0.1)
settled = Simulation().run(async_gather([async_settle(async_retry(_embed_chunk(c, FlakyEmbedder(network)), POLICY))
                                         for c in CHUNKS], concurrency=4)).value
ok_only = [(c, r) for c, r in zip(CHUNKS, settled) if isinstance(r, Ok)]      # failures silently dropped
quiet_kept, quiet_ledger = reconcile([c for c, _ in ok_only], [r for _, r in ok_only])
print(f"output: {len(quiet_kept)} chunks kept; ledger: {quiet_ledger.counts()} — looks fine")

# %% tags=["raises-exception"]
missing = quiet_ledger.problems(IDS)
assert missing == [], f"the ledger does not add up: {len(missing)} of {len(IDS)} chunks unaccounted for, e.g. {missing[:2]}"

# %% [markdown]
# The fix is `reconcile`: every chunk gets a line — kept, duplicate, or failed with the `ErrInfo`
# that stopped it — so a failure is visible the moment it happens, with its cause:

# %%
kept, honest = reconcile(CHUNKS, settled)
assert honest.problems(IDS) == []
print(honest.table())
print("failures:", [str(o) for o in honest.failed if o.stage == "embed"])

# %% [markdown]
# ## Check the closing criteria
#
# The module's closing criteria, each answered with something this notebook measured:
#
# - **You can explain how concurrency stays bounded instead of accidental.** Three numbers bound it,
#   each in one place: `workers=2` on the embed stage (calls in flight: peak 2, for 109 chunks or 436),
#   `QueuePolicy(4)` in front of each stage (items waiting: never above 4), and the token bucket (calls
#   per window: never above `rate·w + burst`). Anti-pattern 1 showed the accident: 109 in flight.
# - **You can identify which async abstractions describe work and which ones actually drive
#   execution.** `async_bind`, `async_gather`, `async_retry`, `Stage`, `pipeline`, `Stream` describe;
#   `Simulation.run`, `perform_async`, `asyncio.gather` in a shell cell drive. `scan_source` found
#   driving calls in one function of seventeen — `drive_capstone` — and `check_package` none in the package.
# - **You can defend an async design in terms of fairness, backpressure, and testability.**
#   Backpressure: a full queue made the source wait (the depth figure), throughput was set by workers and
#   the rate limit, never by capacity (Checkpoint 2's table). Fairness: under a bulk re-index, DRR kept
#   search's p95 latency at 0.7 s where FIFO made it 16 s (Jain's index 1.0 against 0.83). Testability: the whole pipeline —
#   faults, hangs, rate limits, minutes of backoff — runs deterministically on virtual time, checked by
#   a Hypothesis property and a law, in well under a second.
#
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("Where is the capstone's work driven?",
             ("in every async function", "in `drive_capstone` only: it owns the clock, the capabilities and `sim.run`",
              "inside `async_gather`"),
             1, "Every other function describes; `scan_source` finds driving calls in `drive_capstone` alone."),
    Question("With `suspend` queues, doubling the queue capacity in front of a saturated embed stage…",
             ("doubles throughput", "raises max depth (memory, waiting time) but not throughput", "loses fewer chunks"),
             1, "Capacity bounds what waits; throughput is set by the slowest stage and the rate limit."),
    Question("The embed stage has 8 workers and the API allows 4 calls/s. Throughput is capped by…",
             ("the workers", "the rate limit: extra workers wait for tokens", "the batch wait"),
             1, "A token bucket admits at most rate·w + burst calls in any window, whatever the concurrency."),
    Question("Why is the limiter acquired inside the retried attempt?",
             ("so that a retry pays a token like any other call", "to make retries faster", "it does not matter"),
             0, "A limiter outside the retry lets a retry storm through at full speed (lessons 04 and 08)."),
    Question("Why does the timeout wrap the call but not the wait for a token?",
             ("a throttled attempt must not be mistaken for a hung one", "timeouts cannot wrap a limiter",
              "to save tokens"),
             0, "Waiting for a token is the limiter working; only a call that takes too long is a hang."),
    Question("Why dedup after embedding rather than by dropping repeated texts before?",
             ("embedding is cheaper", "so every chunk stays in the ledger — duplicates are reported, not lost",
              "vectors are needed to compare texts"),
             1, "Dropped chunks vanish from the ledger; embed once per text and fan out if you want the savings."),
    Question("A bulk re-index and an interactive search share the embedder. FIFO vs DRR changes…",
             ("the total throughput", "who waits: search's latency falls under DRR, total work stays the same",
              "nothing"),
             1, "Both are work-conserving; the scheduler decides the order, which is what latency percentiles show."),
    Question("What can the fake embedder not tell you?",
             ("whether every chunk is accounted for", "whether the pipeline is deterministic",
              "how good the vectors are, and how the real API behaves under load"),
             2, "Fakes make the clock, network and model deterministic; quality and real behaviour need the real thing."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 12 · Capstone: async RAG pipeline](../exercises/12_capstone_async_rag_pipeline.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does
# (see [the exercises README](../exercises/README.md)):
#
# 1. **Deduplicate by structure** — `structural_dedup(chunks)`: keep the first chunk of each
#    (text, vector), in order; checked on generated chunk lists, idempotent.
# 2. **Embed every chunk, bounded, retried, cut** — `embed_all(chunks, embedder, concurrency)`: one
#    `Result` per chunk, at most `concurrency` calls in flight, 503s retried, hangs cut at the timeout;
#    checked against a scripted flaky and hanging embedder on virtual time.
# 3. **Reconcile the ledger** — `reconcile(chunks, results)`: every chunk kept, deduplicated or failed
#    with its `ErrInfo`, exactly once.
#
# ## On your own
#
# - Give each tenant of the fairness section its own queue in front of the embed stage and pick
#   between them by deficit round robin. Where in `rag_pipeline` does the scheduler go, and what does
#   `observe` show about search's instants?
# - Embed each distinct text once and fan the vector out to its chunks (anti-pattern 2's honest
#   optimisation). How many calls does it save on the corpus, and which ledger lines change?
# - Replace the fixed `LATENCY` with latencies drawn from `sim.rng`. Which numbers of Checkpoint 2
#   change, and does the law of Checkpoint 3 still hold?
# - Swap `FakeEmbedder` for a real model behind `ThreadedEmbedder` (e.g. a sentence-transformers
#   encoder). Which cells of this notebook still run unchanged, and which assertions become
#   statements about the real world?
#
# ## Further reading
#
# - Lewis et al., [Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks](https://arxiv.org/abs/2005.11401)
#   (2020): the RAG idea this pipeline feeds.
# - Broder, [On the resemblance and containment of documents](https://www.cs.princeton.edu/courses/archive/spring13/cos598C/broder97resemblance.pdf)
#   (1997): near-duplicate detection beyond exact structure (shingles, MinHash).
# - Google SRE book, [Handling Overload](https://sre.google/sre-book/handling-overload/): client-side
#   throttling, criticality and per-customer limits.
# - Python docs, [asyncio queues](https://docs.python.org/3/library/asyncio-queue.html) and
#   [`asyncio.TaskGroup`](https://docs.python.org/3/library/asyncio-task.html#task-groups): the
#   runtime surfaces this course's descriptions compile down to.
# - Shreedhar and Varghese, [Efficient Fair Queueing using Deficit Round Robin](https://dl.acm.org/doi/10.1145/217391.217453)
#   (SIGCOMM 1995).
#
# ## Where next
#
# This is the last lesson of the module. Go back to **[00 · Module overview](00_module_overview.ipynb)**
# and tick its closing criteria — each now has a measurement behind it — then take the review question
# of this capstone to your own async code: *which knob absorbs which pressure, and which figure shows
# it working?* Module 09 carries the same style into pandas, FastAPI and distributed systems.

# %% [markdown]
# [← 11 Refactoring Guide](11_refactoring_guide.ipynb) · [Contents](00_module_overview.ipynb) · [Back to the start: 00 Module overview ↺](00_module_overview.ipynb)
