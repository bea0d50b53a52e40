# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 12 Capstone: async RAG pipeline](../12_capstone_async_rag_pipeline.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 12 · Going further: the batched, rate-limited capstone
#
# An optional appendix to [lesson 12](../12_capstone_async_rag_pipeline.ipynb). The lesson's
# pipeline embeds one document at a time; this one is the production shape of the seed's §4.4
# grown further: documents stream in, are chunked and **batched** by size or time (lesson 09),
# and each batch is one call to an embedding API behind a **token bucket** (lesson 06), retried
# and cut (lesson 04), then indexed. Here are the measurements behind the lesson's short answers to
# the capstone checkpoints: the queues, the rate limit and the attempts as figures, the
# throughput sweep (with what queue capacity does and does not change), and the test helpers
# against the runtime surfaces they protect.

# %%
import asyncio
import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass

import matplotlib
from hypothesis import given, settings, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    HANG, AsyncPlan, AsyncRateLimiter, BatchPolicy, EmbeddingCap, Err, ErrInfo, ExponentialBackoff,
    FakeEmbedder, FakeStorage, Ledger, Ok, Outcome, QueuePolicy, Result, RetryPolicy,
    ScriptedService, Simulation, Stage, ThreadedEmbedder, TokenBucket, Trace, async_bind,
    async_gather, async_lift, async_map, async_pure, async_retry, async_settle, async_timeout,
    attempt_timeline_summary, check_law, course_rc, delay_schedule, depth_series, format_table,
    hash_embedding, littles_law, max_window_cost, observe, paced, pipeline, plot_attempt_timeline,
    setup, show_figure, stream_from,
)

setup()

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
# each and keeps the order: a pure function on the embedded chunks, applied *after* embedding (the
# lesson's anti-pattern 1 shows what goes wrong before). The same text under two model versions
# gives two vectors, and this key would keep both — but an index that holds both mixes two vector
# spaces, and *that* is the bug (the lesson's anti-pattern 2): one model per index.

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
c = Chunk("z", 0, "shells drive plans")
sample = [EmbeddedChunk(a, (0.1, 0.2), "v1"), EmbeddedChunk(b, (0.1, 0.2), "v1"), EmbeddedChunk(c, (0.1, 0.2), "v1")]
kept = structural_dedup(sample)
print([e.chunk.chunk_id for e in kept], "| idempotent:", structural_dedup(kept) == kept)


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
# ## Settle and reconcile
#
# The retry rules, and `reconcile`: every chunk in input order with one `Result` — an `Err` is a
# failure at `embed`; an embedded chunk is kept if its structure is new, or reported as
# `dedup: DUPLICATE`.

# %%
UNAVAILABLE = ErrInfo("HTTP_503", "embedding service unavailable", retryable=True)
POLICY = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.5, factor=2, cap=2),
                     retry_on=frozenset({"HTTP_503", "TIMEOUT"}))
ATTEMPT_TIMEOUT = 1.0

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
# it an `EmbeddingCap`. An optional `EffectLog` records every call for the test-helper section.

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
# capstone that drives anything (the lesson's checkpoint 1 shows how to check it with
# `scan_source`). The network's script: a 503 on call 4, a hang on call 6, and five 503s in a row
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
# ## Measure what queues, workers and rate limits do to throughput
#
# The evidence behind the lesson's answer to checkpoint 2.
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
        ax.set_title("Workers raise throughput until the next bottleneck (constant service times)")
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
#   waits) and here not the throughput — because every call takes the same 0.4 s. With variable
#   service times it can: see the next section.
# * **the rate limit** is a ceiling whatever the workers: 4 calls/s of 8 chunks is 32 chunks/s at
#   most (31.5 measured), and extra workers just wait for tokens — 8 workers never had more than 3
#   calls in flight.
#
# Little's law ties the queue's depth to its throughput (lesson 03): on the live run, the mean number
# of batches waiting in front of `embed` equals the arrival rate times the mean wait:

# %%
print(littles_law(run.trace, "embed"))

# %% [markdown]
# ## See when capacity does change throughput
#
# "Capacity never changes throughput" holds only when service times are constant. Make them vary:
# two stages in a row, one worker each, every item taking an exponentially distributed time (mean
# 0.1 s, drawn from `sim.rng`). With a queue of 1 between them, the first stage stalls while the
# second is on a slow item, and the second idles while the first is. **Predict:** with variable
# times, does capacity 8 finish 400 items sooner than capacity 1? Then run.

# %%
def tandem(capacity: int, variable: bool, n: int = 400) -> float:
    sim = Simulation(seed=3)
    times = [[sim.rng.expovariate(10) if variable else 0.1 for _ in range(n)] for _ in range(2)]

    def step(stage: int):
        async def serve(i: int):
            await asyncio.sleep(times[stage][i])
            return Ok(i)
        return lambda i: async_lift(lambda: serve(i))

    stages = [Stage("a", step(0), queue=QueuePolicy(capacity)), Stage("b", step(1), queue=QueuePolicy(capacity))]
    sim.run(pipeline(range(n), stages, collect=False))
    return n / sim.now

print(format_table(["service times", "capacity", "items per virtual s"],
                   [["variable" if v else "constant", c, f"{tandem(c, v):.2f}"] for v in (False, True) for c in (1, 8)]))

# %% [markdown]
# With constant service times, capacity 1 and 8 both give 9.98 items a second; with variable ones,
# capacity 1 gives 7.89 and capacity 8 gives 9.02. The buffer absorbs the variance, so neither stage
# idles as often. The honest statement: capacity bounds memory and waiting; it changes throughput
# only by decoupling stages whose service times vary, with returns that shrink as it grows.

# %% [markdown]
# ## Compare the test helpers with the runtime surfaces they protect
#
# The evidence behind the lesson's answer to checkpoint 3.
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
# | `observe`, `check_law`, the Hypothesis property | the pipeline's contract | derandomized examples, fresh clock each | throughput on real hardware: the throughput numbers above are model numbers, to be re-measured against the real API |
# | `ThreadedEmbedder` contract | a blocking model library | `hash_embedding` in a thread | a real model's latency, memory and thread-safety |
#
# **Answer.** The helpers replace exactly the surfaces that make async tests flaky — the clock, the
# network, the model — with scripted, deterministic stand-ins, and leave the code under test (the
# descriptions, the queues, the limiter, the retries, the ledger) *real*: the same `rag_pipeline`
# runs under the fakes and would run against the real API. What they cannot tell you is how the real
# API behaves; that is a contract test against it (lesson 07) and a measurement in production.

# %% [markdown]
# ## Cut a hang the retry cannot see
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
# [← 12 Capstone: async RAG pipeline](../12_capstone_async_rag_pipeline.ipynb) · [Contents](../00_module_overview.ipynb)
