"""Exercise 12 · Capstone: async RAG pipeline: the checks of its three tasks.

The exercise asks for a design change lesson 12 did not write — one batch call per document
instead of one call per distinct text — then a measurement of it and a written defence.

* t1 ``embed_doc_batched(chunks, api, cache)`` — a plan: the document's distinct texts the
  ``cache`` does not hold go in **one** ``api.embed_batch`` call (none when there is no new
  text), retried by ``EMBED_POLICY`` with every attempt cut at ``ATTEMPT_TIMEOUT``; the vectors
  go into the cache and fan out to every chunk: one ``Result`` per chunk, in order, the call's
  ``Err`` for each chunk it leaves without a vector.  Driven on virtual time against a
  :class:`BatchApi` whose calls are scripted (503s, hangs, a 400, success) and compared with
  :func:`embed_doc_batched_reference`: the results, the calls, the cache, the cut attempts.
* t2 ``measure(docs)`` — the student's measurement: both designs through the capstone's
  pipeline (:func:`run_capstone`), four numbers.  Compared, on the exercise's corpus and on
  generated ones, with the same measurement of the student's own ``embed_doc_batched`` (so a
  wrong Task 1 does not cost Task 2); ``MEASURED`` must be what the cell computed.
* t3 ``defence()`` — the written defence: graded for presence (at least 40 words) and for
  citing both measured call counts (the student's or the reference's numbers).

Everything runs on virtual time, so the same submission always gets the same feedback.  The
set-up cell imports the shapes, the API fake, the pipeline harness and the corpus from here.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.backpressure import QueuePolicy, Stage, pipeline
from funcpipe_async.chunking import BatchCost
from funcpipe_async.fairness import DeficitRoundRobin, Scheduler, fair_source, percentile
from funcpipe_async.fakes import HANG, hash_embedding
from funcpipe_async.gather import async_gather
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.ledger import Ledger, Outcome
from funcpipe_async.plan import AsyncPlan, async_bind, async_lift, async_map, async_pure, async_settle
from funcpipe_async.policies import ConstantBackoff, RetryPolicy, async_retry, async_timeout
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "EXERCISE",
    "Chunk",
    "EmbeddedChunk",
    "Doc",
    "BatchApi",
    "CapstoneRun",
    "run_capstone",
    "per_text_step",
    "CORPUS",
    "EMBED_POLICY",
    "ATTEMPT_TIMEOUT",
    "PER_DOC",
    "COST",
    "UNAVAILABLE",
    "INVALID",
    "MODEL",
    "embed_doc_batched_reference",
    "measure_reference",
]

Vector = tuple[float, ...]

MODEL = "fake-embed-v1"
UNAVAILABLE = ErrInfo("HTTP_503", "embedding service unavailable", retryable=True)
INVALID = ErrInfo("HTTP_400", "a text is not valid for this model")
ATTEMPT_TIMEOUT = 1.0
"""Seconds one embed attempt may take before it is cut (and counts as ``Err(TIMEOUT)``)."""
EMBED_POLICY = RetryPolicy(
    max_attempts=3, backoff=ConstantBackoff(0.5), retry_on=frozenset({"HTTP_503", "TIMEOUT"})
)
"""How an embed call is retried: 3 attempts, 0.5 s apart, for 503s and timeouts."""
PER_DOC = 2
"""The per-text design's calls in flight per document (``async_gather(concurrency=PER_DOC)``)."""
COST = BatchCost(overhead=0.2, per_item=0.02)
"""What one API call costs: 0.2 s, plus 0.02 s per text it carries."""


@dataclass(frozen=True)
class Chunk:
    """A chunk of cleaned text, with a stable id (``"re03#1"``)."""

    chunk_id: str
    text: str


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk, its vector and the model that made it.  Its structure is ``(text, vector)``."""

    chunk_id: str
    text: str
    vector: Vector
    model: str = MODEL


@dataclass(frozen=True)
class Doc:
    """A document of ``tenant``, arriving ``arrival`` seconds after the start, already chunked."""

    doc_id: str
    tenant: str
    arrival: float
    chunks: tuple[Chunk, ...]


Step = Callable[[list[Chunk], "BatchApi", dict[str, Vector]], AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]]
"""An embedding step: a document's chunks, the API and the run's vector cache -> one Result per chunk."""


def _vector(text: str) -> Vector:
    return tuple(hash_embedding(text))


class BatchApi:
    """An embedding API on the loop's clock whose calls are scripted, in call order.

    ``await embed_batch(texts)`` is one call: call *n* answers ``script[n-1]`` (after the script,
    every call succeeds) once ``COST.seconds(len(texts))`` seconds have passed — ``"ok"`` is one
    ``hash_embedding`` vector per text, in order; an ``ErrInfo`` is that ``Err``; :data:`HANG`
    never answers.  ``await embed(text)`` is a call carrying one text.  It records ``calls``
    (the texts of every call, in order), the calls ``in_flight`` and the most ever (``peak``),
    and ``cut`` — how long each call that was cancelled had run.
    """

    def __init__(self, script: Sequence[Any] = (), *, cost: BatchCost = COST, model_name: str = MODEL) -> None:
        self.script = list(script)
        self.cost = cost
        self._model_name = model_name
        self.calls: list[tuple[str, ...]] = []
        self.in_flight = 0
        self.peak = 0
        self.cut: list[float] = []

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def texts_sent(self) -> int:
        """How many texts the calls carried, in all."""
        return sum(len(c) for c in self.calls)

    async def embed_batch(self, texts: Sequence[str]) -> Result[list[Vector], ErrInfo]:
        batch = tuple(texts)
        entry = self.script[len(self.calls)] if len(self.calls) < len(self.script) else "ok"
        self.calls.append(batch)
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if entry is HANG:
                await loop.create_future()  # nobody completes it: only a timeout ends the wait
            await asyncio.sleep(self.cost.seconds(len(batch)))
            if isinstance(entry, ErrInfo):
                return Err(entry)
            return Ok([_vector(t) for t in batch])
        except asyncio.CancelledError:
            self.cut.append(loop.time() - start)
            raise
        finally:
            self.in_flight -= 1

    async def embed(self, text: str) -> Result[Vector, ErrInfo]:
        vectors = await self.embed_batch((text,))
        return vectors if isinstance(vectors, Err) else Ok(vectors.value[0])


def _new_texts(chunks: Sequence[Chunk], cache: Mapping[str, Vector]) -> list[str]:
    return list(dict.fromkeys(c.text for c in chunks if c.text not in cache))


def _fan_out(chunks: Sequence[Chunk], new: Sequence[str], results: Sequence[Result[Vector, ErrInfo]],
             cache: dict[str, Vector], model: str) -> list[Result[EmbeddedChunk, ErrInfo]]:
    got = dict(zip(new, results, strict=True))
    cache.update({text: r.value for text, r in got.items() if isinstance(r, Ok)})
    return [Ok(EmbeddedChunk(c.chunk_id, c.text, cache[c.text], model)) if c.text in cache else
            Err(_error(got[c.text])) for c in chunks]


def _error(result: Result[Vector, ErrInfo]) -> ErrInfo:
    assert isinstance(result, Err)
    return result.error


def _guarded(call: AsyncPlan[Any]) -> AsyncPlan[Any]:
    return async_settle(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY))


def per_text_step(chunks: list[Chunk], api: BatchApi, cache: dict[str, Vector]
                  ) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """Lesson 12's design: one call per distinct new text, ``PER_DOC`` at a time, each retried and
    cut; the vectors go into ``cache`` and fan out to every chunk, one ``Result`` per chunk."""
    new = _new_texts(chunks, cache)

    def one(text: str) -> AsyncPlan[Result[Vector, ErrInfo]]:
        return _guarded(async_lift(lambda: api.embed(text)))

    return async_map(async_gather([one(t) for t in new], concurrency=PER_DOC),
                     lambda results: _fan_out(chunks, new, results, cache, api.model_name))


def embed_doc_batched_reference(chunks: list[Chunk], api: BatchApi, cache: dict[str, Vector]
                                ) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """Task 1's answer: the new distinct texts in one call, retried and cut, fanned out."""
    new = _new_texts(chunks, cache)
    if not new:
        return async_pure(_fan_out(chunks, [], [], cache, api.model_name))
    settled = _guarded(async_lift(lambda: api.embed_batch(tuple(new))))

    def spread(result: Result[list[Vector], ErrInfo]) -> list[Result[EmbeddedChunk, ErrInfo]]:
        per_text: list[Result[Vector, ErrInfo]] = (
            [Ok(v) for v in result.value] if isinstance(result, Ok) else [result] * len(new))
        return _fan_out(chunks, new, per_text, cache, api.model_name)

    return async_map(settled, spread)


# ---------------------------------------------------------------------------------------------
# The capstone's pipeline, as a harness: a fair stage, 2 workers, one vector cache.


@dataclass(frozen=True)
class CapstoneRun:
    """What one drive of the capstone pipeline did: ``calls`` that reached the API, the
    ``texts_sent`` they carried, when the last document was embedded (``ended``, virtual
    seconds), the ``ledger`` (every chunk once) and each tenant's ``latencies`` (arrival →
    embedded, seconds, in corpus order).  The ledger is built from what the step gave, so a step
    that drops chunks shows as lost lines (``ledger.problems(ids)``), not as an error."""

    calls: int
    texts_sent: int
    ended: float
    ledger: Ledger
    latencies: Mapping[str, tuple[float, ...]]


async def _now() -> Result[float, ErrInfo]:
    return Ok(asyncio.get_running_loop().time())


def _ledger(docs: Sequence[Doc], results: Mapping[str, Any]) -> Ledger:
    """Every chunk's outcome, in corpus order.  A step that gives fewer results than chunks loses
    lines (``problems()`` shows them); a value that is not a ``Result`` is an ``embed`` failure."""
    first: dict[tuple[str, Vector], str] = {}
    outcomes = []
    for doc in docs:
        got = results[doc.doc_id]
        for chunk, result in zip(doc.chunks, got if isinstance(got, list) else []):
            if isinstance(result, Err) and isinstance(result.error, ErrInfo):
                outcomes.append(Outcome(chunk.chunk_id, "embed", result.error))
                continue
            if not (isinstance(result, Ok) and isinstance(result.value, EmbeddedChunk)):
                outcomes.append(Outcome(chunk.chunk_id, "embed", ErrInfo("NOT_A_RESULT", kit.show(result, 60))))
                continue
            key = (chunk.text, result.value.vector)
            if key in first:
                outcomes.append(Outcome(chunk.chunk_id, "dedup", ErrInfo("DUPLICATE", f"same as {first[key]}")))
            else:
                first[key] = chunk.chunk_id
                outcomes.append(Outcome(chunk.chunk_id))
    return Ledger(tuple(outcomes))


def run_capstone(step: Step, docs: Sequence[Doc], *, scheduler: Scheduler | None = None,
                 script: Sequence[Any] = ()) -> CapstoneRun:
    """Drive lesson 12's pipeline on virtual time with ``step`` as its embedding step.

    A fair stage (``scheduler``, default deficit round robin) releases the documents into one
    ``Stage`` of 2 workers behind a queue of 1; each worker runs ``step(chunks, api, cache)``
    with one :class:`BatchApi` (``script``) and one vector cache shared by the whole run.
    """
    api = BatchApi(script)
    cache: dict[str, Vector] = {}
    order = list(docs)

    def stage_step(doc: Doc) -> AsyncPlan[tuple[Doc, Any, float]]:
        plan = kit.as_plan(kit.call(step, list(doc.chunks), api, cache, doing="the step"), doing="the step")
        return async_bind(plan, lambda results: async_map(async_lift(_now), lambda t: (doc, results, t)))

    source = fair_source(order, scheduler or DeficitRoundRobin(), tenant=lambda d: d.tenant,
                         arrival=lambda d: d.arrival)
    plan = pipeline(source, [Stage("embed", stage_step, workers=2, queue=QueuePolicy(1))])
    report = kit.simulate(plan, doing="the capstone pipeline", limit=3600)
    if not isinstance(report, Ok):
        raise kit.CheckFailed(f"the capstone pipeline ended with {kit.show(report)}: the step must settle its calls")
    results: dict[str, Any] = {}
    finished: dict[str, float] = {}
    for doc, got, t in report.value.items or ():
        results[doc.doc_id], finished[doc.doc_id] = got, t
    latencies: dict[str, list[float]] = {}
    for doc in order:
        latencies.setdefault(doc.tenant, []).append(finished[doc.doc_id] - doc.arrival)
    return CapstoneRun(len(api.calls), api.texts_sent, max(finished.values(), default=0.0),
                       _ledger(order, results), {t: tuple(v) for t, v in latencies.items()})


# ---------------------------------------------------------------------------------------------
# The corpus


_SENTENCES = (
    "Plans describe work and shells drive them.", "A bounded queue turns overload into waiting.",
    "Retries need a budget, a backoff and a deadline.", "Every input ends in the ledger exactly once.",
    "Virtual time makes a minute of backoff free.", "Fair schedulers keep the light tenant's latency low.",
    "Batching trades first-item latency for cheaper calls.", "An adapter turns exceptions into values at the boundary.",
    "Little's law links depth, arrival rate and waiting time.", "A timeout must cancel the work it gives up on.",
)


def _chunked(doc_id: str, text: str, words: int = 8) -> tuple[Chunk, ...]:
    tokens = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split()).split()
    return tuple(Chunk(f"{doc_id}#{i // words}", " ".join(tokens[i:i + words])) for i in range(0, len(tokens), words))


def _doc(doc_id: str, tenant: str, arrival: float, sentences: Sequence[str]) -> Doc:
    return Doc(doc_id, tenant, arrival, _chunked(doc_id, " ".join(sentences)))


def _corpus(rng: random.Random, bulk: int = 24, light: int = 6) -> tuple[Doc, ...]:
    docs = [_doc(f"re{i:02d}", "reindex", 0.0, rng.sample(_SENTENCES, rng.randint(2, 4))) for i in range(bulk)]
    docs += [_doc(f"{t[:2]}{i:02d}", t, start + i, rng.sample(_SENTENCES, rng.randint(1, 2)))
             for t, start in (("search", 0.5), ("support", 1.0)) for i in range(light)]
    return tuple(docs)


CORPUS: tuple[Doc, ...] = _corpus(random.Random(12))
"""The exercise's corpus: a re-index of 24 documents at t = 0, search and support one a second."""


def measure_reference(docs: Sequence[Doc], batched: Step) -> dict[str, float]:
    """Task 2's answer, with ``batched`` as the batched step."""
    per_text, one_call = run_capstone(per_text_step, docs), run_capstone(batched, docs)
    return {
        "calls_per_text": per_text.calls,
        "calls_batched": one_call.calls,
        "p95_search_per_text": percentile(per_text.latencies["search"], 95),
        "p95_search_batched": percentile(one_call.latencies["search"], 95),
    }


# ---------------------------------------------------------------------------------------------
# Task 1: one batch call per document


_ENTRIES: list[Any] = ["ok", "ok", UNAVAILABLE, HANG, INVALID]
_POOL = [f"text {k}" for k in range(6)]


@dataclass(frozen=True)
class _Case:
    texts: tuple[str, ...]
    cached: tuple[str, ...]
    script: tuple[Any, ...]

    def chunks(self) -> list[Chunk]:
        return [Chunk(f"c{i}", t) for i, t in enumerate(self.texts)]

    def cache(self) -> dict[str, Vector]:
        return {t: _vector(t) for t in self.cached}

    def __repr__(self) -> str:
        def entry(e: Any) -> str:
            return "HANG" if e is HANG else e if isinstance(e, str) else e.code

        return (f"chunks with texts {list(self.texts)}, cache holding {list(self.cached)}, "
                f"calls answering [{', '.join(entry(e) for e in self.script) or 'ok, ok, …'}]")


@st.composite
def _batch_cases(draw: st.DrawFn) -> _Case:
    texts = draw(st.lists(st.sampled_from(_POOL), min_size=1, max_size=7))
    distinct = list(dict.fromkeys(texts))
    if draw(st.integers(0, 4)) == 0:  # now and then every text is cached: then no call at all
        cached = distinct
    else:  # else the first text is always new, so the call (and its script) is exercised
        cached = draw(st.lists(st.sampled_from(distinct), unique=True, max_size=len(distinct))) if distinct[1:] else []
        cached = [t for t in cached if t != distinct[0]]
    script = draw(st.lists(st.sampled_from(_ENTRIES), max_size=3))
    return _Case(tuple(texts), tuple(cached), tuple(script))


@dataclass(frozen=True)
class _BatchRun:
    built_calls: int
    results: Any
    calls: tuple[tuple[str, ...], ...]
    cache: dict[str, Vector]
    cut: tuple[float, ...]


def _run_batch(build: Any, case: _Case, name: str) -> _BatchRun:
    api, cache = BatchApi(case.script), case.cache()
    doing = f"{name}(chunks, api, cache)"
    plan = kit.as_plan(kit.call(build, case.chunks(), api, cache, doing=doing), doing=doing)
    built = len(api.calls)
    try:
        result = kit.simulate(plan, doing=f"driving {doing}", limit=3600)
    except kit.CheckFailed as failed:
        if "can never finish" in str(failed) or "still running" in str(failed):
            raise kit.CheckFailed(
                f"a hanging call was never cut: every attempt must end within ATTEMPT_TIMEOUT = {ATTEMPT_TIMEOUT:g} s "
                f"(async_timeout around the call, inside the retry). Against {case!r}: {failed}") from None
        raise
    if not isinstance(result, Ok):
        raise kit.CheckFailed(
            f"a failed call must not sink the document: {doing} gave {kit.show(result)} — settle the call "
            f"(async_settle) and give each chunk the Err. Against {case!r}")
    return _BatchRun(built, result.value, tuple(api.calls), cache, tuple(api.cut))


def _code(r: Any) -> str:
    if isinstance(r, Ok):
        return "Ok"
    if isinstance(r, Err) and isinstance(r.error, ErrInfo):
        return r.error.code
    return kit.show(r, 40)


def check_embed_doc_batched(ns: Mapping[str, Any]) -> str:
    build = kit.function(ns, "embed_doc_batched")

    def prop(case: _Case) -> None:
        want = _run_batch(embed_doc_batched_reference, case, "the reference")
        got = _run_batch(build, case, "embed_doc_batched")
        where = f"against {case!r}"
        if got.built_calls:
            raise kit.CheckFailed(
                f"describing runs nothing, but building embed_doc_batched(...) already called the API "
                f"{got.built_calls} time(s): return a plan and let the shell drive it")
        if not isinstance(got.results, list) or len(got.results) != len(case.texts):
            raise kit.CheckFailed(
                f"one Result per chunk, in order — a chunk whose text is cached still gets its line (fan the "
                f"cached vector out to it): expected {len(case.texts)}, got {kit.show(got.results)} {where}")
        new = _new_texts(case.chunks(), case.cache())
        if new and any(len(set(c)) < len(new) for c in got.calls):
            raise kit.CheckFailed(
                f"one batch call per document, not one call per text: the new texts {new} go in a single "
                f"api.embed_batch(...); yours made {list(got.calls)} {where}")
        sent = [t for c in got.calls for t in c]
        if any(t in case.cache() for t in sent):
            raise kit.CheckFailed(
                f"a text already in the cache is never sent again (embed each distinct text once): yours sent "
                f"{list(got.calls)} with the cache holding {list(case.cached)} {where}")
        if not new and got.calls:
            raise kit.CheckFailed(f"every text is already in the cache, so no call at all; yours made {list(got.calls)} {where}")
        if any(len(set(c)) != len(c) for c in got.calls):
            raise kit.CheckFailed(
                f"each distinct text once per call: yours sent {list(got.calls)} — drop repeats before the call, "
                f"then fan the vector out to every chunk with that text {where}")
        if len(got.calls) < len(want.calls):
            raise kit.CheckFailed(
                f"retry the call by EMBED_POLICY — 3 attempts, 0.5 s apart, for HTTP_503 and TIMEOUT: expected "
                f"{len(want.calls)} call(s), yours made {len(got.calls)} {where}")
        if any(abs(c - ATTEMPT_TIMEOUT) > 1e-9 for c in got.cut):
            raise kit.CheckFailed(
                f"cut every attempt at ATTEMPT_TIMEOUT = {ATTEMPT_TIMEOUT:g} s: the cancelled calls ran "
                f"{[round(c, 3) for c in got.cut]} s {where}")
        if got.calls != want.calls:
            raise kit.CheckFailed(
                f"expected the calls {list(want.calls)} (only HTTP_503 and TIMEOUT are retried, 3 attempts), "
                f"yours made {list(got.calls)} {where}")
        for chunk, w, g in zip(case.chunks(), want.results, got.results):
            if _code(g) == _code(w) and (isinstance(w, Err) or g == w):
                continue
            if isinstance(w, Ok) and isinstance(g, Ok):
                raise kit.CheckFailed(
                    f"the embedded chunk keeps the chunk's id and text, the vector and api.model_name: expected "
                    f"{kit.show(w.value)}, got {kit.show(g.value)} {where}")
            raise kit.CheckFailed(
                f"{chunk.chunk_id} ({chunk.text!r}): expected {kit.show(w, 100)}, got {kit.show(g, 100)} — a chunk "
                f"whose text the call left without a vector gets the call's Err; every other chunk its vector {where}")
        if got.cache != want.cache:
            raise kit.CheckFailed(
                f"put every vector the call returned into the cache (text -> vector): expected keys "
                f"{sorted(want.cache)}, yours has {sorted(got.cache)} {where}")

    kit.for_all(_batch_cases(), prop)
    return ("describing runs nothing; the new distinct texts in one call, none when all are cached; retried and cut; "
            "the cache filled; every chunk gets its vector or the call's Err, in order")


# ---------------------------------------------------------------------------------------------
# Task 2: the measurement


_KEYS = ("calls_per_text", "calls_batched", "p95_search_per_text", "p95_search_batched")


@st.composite
def _corpora(draw: st.DrawFn) -> tuple[Doc, ...]:
    bulk = draw(st.integers(1, 6))
    light = draw(st.integers(1, 3))
    docs = [_doc(f"re{i:02d}", "reindex", 0.0, draw(st.lists(st.sampled_from(_SENTENCES), min_size=1, max_size=3)))
            for i in range(bulk)]
    docs += [_doc(f"se{i:02d}", "search", 0.5 + i, draw(st.lists(st.sampled_from(_SENTENCES), min_size=1, max_size=2)))
             for i in range(light)]
    return tuple(docs)


def _same(got: Any, want: Mapping[str, float]) -> bool:
    return (isinstance(got, Mapping) and set(got) == set(want)
            and all(isinstance(got[k], (int, float)) and math.isclose(got[k], want[k], abs_tol=1e-9) for k in want))


def _differences(got: Any, want: Mapping[str, float]) -> str:
    if not isinstance(got, Mapping):
        return f"measure must return a dict with the keys {list(_KEYS)}, got {kit.show(got)}"
    if set(got) != set(want):
        return f"measure must return a dict with exactly the keys {list(_KEYS)}, got {sorted(got)}"
    wrong = [f"{k}: yours {kit.show(got[k], 30)}, measured {want[k]:g}" for k in _KEYS
             if not (isinstance(got[k], (int, float)) and math.isclose(got[k], want[k], abs_tol=1e-9))]
    return "; ".join(wrong)


def check_measure(ns: Mapping[str, Any]) -> str:
    measure = kit.function(ns, "measure")
    batched = ns.get("embed_doc_batched")
    if not callable(batched):
        raise kit.CheckFailed("measure compares your embed_doc_batched (Task 1) with per_text_step: define Task 1 first")
    got = kit.call(measure, CORPUS, doing="measure(CORPUS)")
    want = measure_reference(CORPUS, batched)
    if not _same(got, want):
        hint = ""
        if isinstance(got, Mapping) and got.get("p95_search_per_text") == percentile(
                run_capstone(per_text_step, CORPUS).latencies["search"], 50):
            hint = " — p95 is percentile(latencies, 95), not the median"
        raise kit.CheckFailed(
            f"run both designs through run_capstone and report what it measured: {_differences(got, want)}{hint}")
    if "MEASURED" not in ns:
        raise kit.CheckFailed("run the measurement: the task's cell must end with MEASURED = measure(CORPUS)")
    if not _same(ns["MEASURED"], want):
        raise kit.CheckFailed(
            f"MEASURED must be what measure(CORPUS) returns when the cell runs; it is {kit.show(ns['MEASURED'])}")

    def prop(docs: tuple[Doc, ...]) -> None:
        mine = kit.call(measure, docs, doing="measure(docs)")
        expected = measure_reference(docs, batched)
        if not _same(mine, expected):
            raise kit.CheckFailed(
                f"measure must measure the documents it is given, not numbers written in: on {len(docs)} generated "
                f"document(s), {_differences(mine, expected)}")

    kit.for_all(_corpora(), prop, examples=6)
    return "both designs measured through the capstone pipeline, on any corpus; MEASURED is the measurement of CORPUS"


# ---------------------------------------------------------------------------------------------
# Task 3: the written defence


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"(?<![\d.])\d+(?![\d.]*\d)", text))


def check_defence(ns: Mapping[str, Any]) -> str:
    defence = kit.function(ns, "defence")
    text = kit.call(defence, doing="defence()")
    if not isinstance(text, str):
        raise kit.CheckFailed(f"defence() returns your written defence as a str, got {kit.show(text)}")
    words = re.findall(r"[A-Za-z0-9_']+", text)
    if len(words) < 40:
        raise kit.CheckFailed(
            f"write the defence out: at least 40 words (yours has {len(words)}) — the change, what you measured, "
            "what it costs")
    reference = measure_reference(CORPUS, embed_doc_batched_reference)
    batched = ns.get("embed_doc_batched")
    yours = measure_reference(CORPUS, batched) if callable(batched) else reference
    cited = _numbers(text)
    per_text = str(int(reference["calls_per_text"]))
    one_call = {str(int(reference["calls_batched"])), str(int(yours["calls_batched"]))}
    if per_text not in cited or not cited & one_call:
        raise kit.CheckFailed(
            "back the defence with your measurement: cite both call counts MEASURED holds (calls_per_text and "
            f"calls_batched, as whole numbers); the numbers in yours are {sorted(cited, key=int) or 'none'}")
    return "a written defence that cites the measured call counts"


EXERCISE = Exercise(
    slug="12_capstone_async_rag_pipeline",
    title="12 · Capstone: async RAG pipeline",
    tasks=(
        Task("t1", "Embed a document in one batch call", 5, ("embed_doc_batched",), check_embed_doc_batched),
        Task("t2", "Measure both designs", 3, ("measure",), check_measure),
        Task("t3", "Defend the change", 2, ("defence",), check_defence),
    ),
)
