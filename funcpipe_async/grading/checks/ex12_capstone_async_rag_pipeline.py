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
  generated ones, with :func:`measure_reference` computed by the judge; the probe runs
  ``measure`` with the reference ``embed_doc_batched`` in place of the student's (so a wrong
  Task 1 does not cost Task 2); ``MEASURED`` must be what the cell computed.
* t3 ``defence()`` — the written defence: graded for presence (at least 40 words) and for
  citing both measured call counts (the reference's numbers, or the ``calls_batched`` that the
  student's ``MEASURED`` holds).

Every task is decided by a judge outside the worker.  The probes (``PROBES``) report plain
data: for t1 the calls made while building, each chunk's result (an ``EmbeddedChunk`` as a
tuple), the API's calls, the cache and how long each cut call ran — all driven on virtual
time in the worker against the judge's described script; for t2 the numbers ``measure``
returned (and ``MEASURED``); for t3 the defence's text.  The judge drives the reference itself
and compares.

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

from funcpipe_async.chunking import BatchCost
from funcpipe_async.fairness import DeficitRoundRobin, Scheduler, fair_source
from funcpipe_async.fairness_measures import percentile
from funcpipe_async.fakes import HANG, hash_embedding
from funcpipe_async.gather import async_gather
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.ledger import Ledger, Outcome
from funcpipe_async.pipelines import Stage, pipeline
from funcpipe_async.plan import AsyncPlan, async_bind, async_lift, async_map, async_pure, async_settle
from funcpipe_async.policies import ConstantBackoff, RetryPolicy, async_retry, async_timeout
from funcpipe_async.queues import QueuePolicy
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "EXERCISE",
    "PROBES",
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
EMBED_POLICY = RetryPolicy(max_attempts=3, backoff=ConstantBackoff(0.5), retry_on=frozenset({"HTTP_503", "TIMEOUT"}))
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


def _fan_out(
    chunks: Sequence[Chunk],
    new: Sequence[str],
    results: Sequence[Result[Vector, ErrInfo]],
    cache: dict[str, Vector],
    model: str,
) -> list[Result[EmbeddedChunk, ErrInfo]]:
    got = dict(zip(new, results, strict=True))
    cache.update({text: r.value for text, r in got.items() if isinstance(r, Ok)})
    return [
        Ok(EmbeddedChunk(c.chunk_id, c.text, cache[c.text], model)) if c.text in cache else Err(_error(got[c.text]))
        for c in chunks
    ]


def _error(result: Result[Vector, ErrInfo]) -> ErrInfo:
    assert isinstance(result, Err)
    return result.error


def _guarded(call: AsyncPlan[Any]) -> AsyncPlan[Any]:
    return async_settle(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY))


def per_text_step(
    chunks: list[Chunk], api: BatchApi, cache: dict[str, Vector]
) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """Lesson 12's design: one call per distinct new text, ``PER_DOC`` at a time, each retried and
    cut; the vectors go into ``cache`` and fan out to every chunk, one ``Result`` per chunk."""
    new = _new_texts(chunks, cache)

    def one(text: str) -> AsyncPlan[Result[Vector, ErrInfo]]:
        return _guarded(async_lift(lambda: api.embed(text)))

    return async_map(
        async_gather([one(t) for t in new], concurrency=PER_DOC),
        lambda results: _fan_out(chunks, new, results, cache, api.model_name),
    )


def embed_doc_batched_reference(
    chunks: list[Chunk], api: BatchApi, cache: dict[str, Vector]
) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """Task 1's answer: the new distinct texts in one call, retried and cut, fanned out."""
    new = _new_texts(chunks, cache)
    if not new:
        return async_pure(_fan_out(chunks, [], [], cache, api.model_name))
    settled = _guarded(async_lift(lambda: api.embed_batch(tuple(new))))

    def spread(result: Result[list[Vector], ErrInfo]) -> list[Result[EmbeddedChunk, ErrInfo]]:
        per_text: list[Result[Vector, ErrInfo]] = (
            [Ok(v) for v in result.value] if isinstance(result, Ok) else [result] * len(new)
        )
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


def run_capstone(
    step: Step, docs: Sequence[Doc], *, scheduler: Scheduler | None = None, script: Sequence[Any] = ()
) -> CapstoneRun:
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

    source = fair_source(
        order, scheduler or DeficitRoundRobin(), tenant=lambda d: d.tenant, arrival=lambda d: d.arrival
    )
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
    return CapstoneRun(
        len(api.calls),
        api.texts_sent,
        max(finished.values(), default=0.0),
        _ledger(order, results),
        {t: tuple(v) for t, v in latencies.items()},
    )


# ---------------------------------------------------------------------------------------------
# The corpus


_SENTENCES = (
    "Plans describe work and shells drive them.",
    "A bounded queue turns overload into waiting.",
    "Retries need a budget, a backoff and a deadline.",
    "Every input ends in the ledger exactly once.",
    "Virtual time makes a minute of backoff free.",
    "Fair schedulers keep the light tenant's latency low.",
    "Batching trades first-item latency for cheaper calls.",
    "An adapter turns exceptions into values at the boundary.",
    "Little's law links depth, arrival rate and waiting time.",
    "A timeout must cancel the work it gives up on.",
)


def _chunked(doc_id: str, text: str, words: int = 8) -> tuple[Chunk, ...]:
    tokens = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split()).split()
    return tuple(Chunk(f"{doc_id}#{i // words}", " ".join(tokens[i : i + words])) for i in range(0, len(tokens), words))


def _doc(doc_id: str, tenant: str, arrival: float, sentences: Sequence[str]) -> Doc:
    return Doc(doc_id, tenant, arrival, _chunked(doc_id, " ".join(sentences)))


def _corpus(rng: random.Random, bulk: int = 24, light: int = 6) -> tuple[Doc, ...]:
    docs = [_doc(f"re{i:02d}", "reindex", 0.0, rng.sample(_SENTENCES, rng.randint(2, 4))) for i in range(bulk)]
    docs += [
        _doc(f"{t[:2]}{i:02d}", t, start + i, rng.sample(_SENTENCES, rng.randint(1, 2)))
        for t, start in (("search", 0.5), ("support", 1.0))
        for i in range(light)
    ]
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

        return (
            f"chunks with texts {list(self.texts)}, cache holding {list(self.cached)}, "
            f"calls answering [{', '.join(entry(e) for e in self.script) or 'ok, ok, …'}]"
        )


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
                f"(async_timeout around the call, inside the retry). Against {case!r}: {failed}"
            ) from None
        raise
    if not isinstance(result, Ok):
        raise kit.CheckFailed(
            f"a failed call must not sink the document: {doing} gave {kit.show(result)} — settle the call "
            f"(async_settle) and give each chunk the Err. Against {case!r}"
        )
    return _BatchRun(built, result.value, tuple(api.calls), cache, tuple(api.cut))


def _code(r: Any) -> str:
    if isinstance(r, Ok):
        return "Ok"
    if isinstance(r, Err) and isinstance(r.error, ErrInfo):
        return r.error.code
    return kit.show(r, 40)


def _entry_data(e: Any) -> str:
    return "HANG" if e is HANG else e if isinstance(e, str) else str(e.code)


_ENTRY_OF = {"HANG": HANG, "ok": "ok", UNAVAILABLE.code: UNAVAILABLE, INVALID.code: INVALID}


def _case_data(case: _Case) -> dict[str, Any]:
    return {"texts": list(case.texts), "cached": list(case.cached), "script": [_entry_data(e) for e in case.script]}


def _case_from(data: Mapping[str, Any]) -> _Case:
    script = tuple(_ENTRY_OF[str(e)] for e in data["script"] if str(e) in _ENTRY_OF)
    return _Case(tuple(str(t) for t in data["texts"]), tuple(str(t) for t in data["cached"]), script)


def _result_data(r: Any) -> Any:
    """A chunk's result as plain data: ``Ok(("EmbeddedChunk", id, text, vector, model))``, an ``Err`` as is."""
    if isinstance(r, Ok) and isinstance(r.value, EmbeddedChunk):
        e = r.value
        return Ok(("EmbeddedChunk", e.chunk_id, e.text, tuple(e.vector), e.model))
    return r


def _run_data(run: _BatchRun) -> dict[str, Any]:
    results = run.results
    return {
        "built_calls": run.built_calls,
        "results": [_result_data(r) for r in results]
        if isinstance(results, list)
        else {"not_a_list": kit.show(results)},
        "calls": [list(c) for c in run.calls],
        "cache": {t: tuple(v) for t, v in run.cache.items()},
        "cut": list(run.cut),
    }


def _probe_batch(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Build ``embed_doc_batched`` on the described chunks, API script and cache, drive it on
    virtual time; the calls made while building, the results (as data), the calls, the cache and
    how long each cut call ran."""
    build = kit.function(ns, "embed_doc_batched")
    return _run_data(_run_batch(build, _case_from(payload), "embed_doc_batched"))


def _shown(r: Any) -> Any:
    """What a chunk's result looks like in feedback: the EmbeddedChunk again, when it is one."""
    if isinstance(r, Ok) and isinstance(r.value, tuple) and len(r.value) == 5 and r.value[0] == "EmbeddedChunk":
        _, chunk_id, text, vector, model = r.value
        return Ok(EmbeddedChunk(chunk_id, text, vector, model))
    return r


def judge_embed_doc_batched(worker: Worker) -> str:
    def prop(case: _Case) -> None:
        want = _run_data(_run_batch(embed_doc_batched_reference, case, "the reference"))
        got = worker.ask("batch", _case_data(case))
        if not (
            isinstance(got, dict)
            and isinstance(got.get("built_calls"), int)
            and isinstance(got.get("calls"), list)
            and all(isinstance(c, list) and all(isinstance(t, str) for t in c) for c in got["calls"])
            and isinstance(got.get("cut"), list)
            and all(isinstance(c, (int, float)) for c in got["cut"])
            and isinstance(got.get("cache"), dict)
        ):
            raise kit.CheckFailed(kit.TAMPERED)
        where = f"against {case!r}"
        calls = [tuple(c) for c in got["calls"]]
        want_calls = [tuple(c) for c in want["calls"]]
        if got["built_calls"]:
            raise kit.CheckFailed(
                f"describing runs nothing, but building embed_doc_batched(...) already called the API "
                f"{got['built_calls']} time(s): return a plan and let the shell drive it"
            )
        results = got.get("results")
        if not isinstance(results, list) or len(results) != len(case.texts):
            shown = results.get("not_a_list") if isinstance(results, dict) else [_shown(r) for r in results or []]
            raise kit.CheckFailed(
                f"one Result per chunk, in order — a chunk whose text is cached still gets its line (fan the "
                f"cached vector out to it): expected {len(case.texts)}, got {kit.show(shown)} {where}"
            )
        new = _new_texts(case.chunks(), case.cache())
        if new and any(len(set(c)) < len(new) for c in calls):
            raise kit.CheckFailed(
                f"one batch call per document, not one call per text: the new texts {new} go in a single "
                f"api.embed_batch(...); yours made {calls} {where}"
            )
        sent = [t for c in calls for t in c]
        if any(t in case.cache() for t in sent):
            raise kit.CheckFailed(
                f"a text already in the cache is never sent again (embed each distinct text once): yours sent "
                f"{calls} with the cache holding {list(case.cached)} {where}"
            )
        if not new and calls:
            raise kit.CheckFailed(f"every text is already in the cache, so no call at all; yours made {calls} {where}")
        if any(len(set(c)) != len(c) for c in calls):
            raise kit.CheckFailed(
                f"each distinct text once per call: yours sent {calls} — drop repeats before the call, "
                f"then fan the vector out to every chunk with that text {where}"
            )
        if len(calls) < len(want_calls):
            raise kit.CheckFailed(
                f"retry the call by EMBED_POLICY — how many attempts does it allow, how far apart, and for which "
                f"errors? Expected {len(want_calls)} call(s), yours made {len(calls)} {where}"
            )
        if any(abs(c - ATTEMPT_TIMEOUT) > 1e-9 for c in got["cut"]):
            raise kit.CheckFailed(
                f"cut every attempt at ATTEMPT_TIMEOUT = {ATTEMPT_TIMEOUT:g} s: the cancelled calls ran "
                f"{[round(c, 3) for c in got['cut']]} s {where}"
            )
        if calls != want_calls:
            raise kit.CheckFailed(
                f"expected the calls {want_calls} (only HTTP_503 and TIMEOUT are retried, 3 attempts), "
                f"yours made {calls} {where}"
            )
        for chunk, w, g in zip(case.chunks(), want["results"], results):
            if _code(g) == _code(w) and (isinstance(w, Err) or g == w):
                continue
            if isinstance(w, Ok) and isinstance(g, Ok):
                raise kit.CheckFailed(
                    f"the embedded chunk keeps the chunk's id and text, the vector and api.model_name: expected "
                    f"{kit.show(_shown(w).value)}, got {kit.show(_shown(g).value)} {where}"
                )
            raise kit.CheckFailed(
                f"{chunk.chunk_id} ({chunk.text!r}): expected {kit.show(_shown(w), 100)}, got {kit.show(_shown(g), 100)} "
                f"— a chunk whose text the call left without a vector gets the call's Err; every other chunk its "
                f"vector {where}"
            )
        if got["cache"] != want["cache"]:
            raise kit.CheckFailed(
                f"put every vector the call returned into the cache (text -> vector): expected keys "
                f"{sorted(want['cache'])}, yours has {sorted(str(k) for k in got['cache'])} {where}"
            )

    kit.for_all(_batch_cases(), prop)
    return (
        "describing runs nothing; the new distinct texts in one call, none when all are cached; retried and cut; "
        "the cache filled; every chunk gets its vector or the call's Err, in order"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: the measurement


_KEYS = ("calls_per_text", "calls_batched", "p95_search_per_text", "p95_search_batched")


@st.composite
def _corpora(draw: st.DrawFn) -> tuple[Doc, ...]:
    bulk = draw(st.integers(1, 6))
    light = draw(st.integers(1, 3))
    docs = [
        _doc(f"re{i:02d}", "reindex", 0.0, draw(st.lists(st.sampled_from(_SENTENCES), min_size=1, max_size=3)))
        for i in range(bulk)
    ]
    docs += [
        _doc(f"se{i:02d}", "search", 0.5 + i, draw(st.lists(st.sampled_from(_SENTENCES), min_size=1, max_size=2)))
        for i in range(light)
    ]
    return tuple(docs)


def _same(got: Any, want: Mapping[str, float]) -> bool:
    return (
        isinstance(got, Mapping)
        and set(got) == set(want)
        and all(isinstance(got[k], (int, float)) and math.isclose(got[k], want[k], abs_tol=1e-9) for k in want)
    )


def _differences(got: Any, want: Mapping[str, float]) -> str:
    if not isinstance(got, Mapping):
        return f"measure must return a dict with the keys {list(_KEYS)}, got {kit.show(got)}"
    if set(got) != set(want):
        return f"measure must return a dict with exactly the keys {list(_KEYS)}, got {sorted(got)}"
    wrong = [
        f"{k}: yours {kit.show(got[k], 30)}, measured {want[k]:g}"
        for k in _KEYS
        if not (isinstance(got[k], (int, float)) and math.isclose(got[k], want[k], abs_tol=1e-9))
    ]
    return "; ".join(wrong)


def _docs_data(docs: Sequence[Doc]) -> list[Any]:
    return [[d.doc_id, d.tenant, d.arrival, [[c.chunk_id, c.text] for c in d.chunks]] for d in docs]


def _docs_from(data: Sequence[Any]) -> tuple[Doc, ...]:
    return tuple(
        Doc(str(i), str(t), float(a), tuple(Chunk(str(c), str(x)) for c, x in chunks)) for i, t, a, chunks in data
    )


def _measurement_data(got: Any) -> Any:
    """A measurement as data: a dict of its numbers, or what it was instead (shown)."""
    if isinstance(got, Mapping) and all(isinstance(k, str) for k in got):
        return {
            k: (v if isinstance(v, (int, float)) and not isinstance(v, bool) else kit.show(v, 30))
            for k, v in got.items()
        }
    return {"$shown": kit.show(got)}


def _probe_measure(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``measure(docs)`` with the reference ``embed_doc_batched`` in place of Task 1's (so a
    wrong Task 1 does not cost Task 2); on the exercise's corpus also ``MEASURED`` and, when it
    differs, ``measure(CORPUS)`` with the student's own Task 1 (what the cell computed)."""
    measure = kit.function(ns, "measure")
    corpus = payload.get("docs") is None
    docs = CORPUS if corpus else _docs_from(payload["docs"])
    doing = "measure(CORPUS)" if corpus else "measure(docs)"
    if not isinstance(ns, dict):
        raise kit.CheckFailed("the task's namespace is not a dict")
    yours = ns.get("embed_doc_batched")
    ns["embed_doc_batched"] = embed_doc_batched_reference
    try:
        got = _measurement_data(kit.call(measure, docs, doing=doing))
    finally:
        ns["embed_doc_batched"] = yours
    answer: dict[str, Any] = {"measure": got}
    if corpus:
        measured = _measurement_data(ns["MEASURED"]) if "MEASURED" in ns else None
        answer["MEASURED"] = measured
        if measured is not None and measured != got:
            answer["own"] = _measurement_data(kit.call(measure, docs, doing=doing))
    return answer


def _measurement(value: Any) -> Any:
    if not isinstance(value, dict):
        raise kit.CheckFailed(kit.TAMPERED)
    return value.get("$shown", value) if set(value) == {"$shown"} else value


def judge_measure(worker: Worker) -> str:
    want = measure_reference(CORPUS, embed_doc_batched_reference)
    answer = worker.ask("measure", {"docs": None})
    if not isinstance(answer, dict):
        raise kit.CheckFailed(kit.TAMPERED)
    got = _measurement(answer.get("measure"))
    if not _same(got, want):
        hint = ""
        if isinstance(got, Mapping) and got.get("p95_search_per_text") == percentile(
            run_capstone(per_text_step, CORPUS).latencies["search"], 50
        ):
            hint = " — p95 is percentile(latencies, 95), not the median"
        raise kit.CheckFailed(
            f"run both designs through run_capstone and report what it measured: {_differences(got, want)}{hint}"
        )
    if answer.get("MEASURED") is None:
        raise kit.CheckFailed("run the measurement: the task's cell must end with MEASURED = measure(CORPUS)")
    measured = _measurement(answer["MEASURED"])
    own = _measurement(answer["own"]) if "own" in answer else got
    if not (_same(measured, want) or measured == own):
        raise kit.CheckFailed(
            f"MEASURED must be what measure(CORPUS) returns when the cell runs; it is {kit.show(measured)}"
        )

    def prop(docs: tuple[Doc, ...]) -> None:
        mine = _measurement(worker.ask("measure", {"docs": _docs_data(docs)}).get("measure"))
        expected = measure_reference(docs, embed_doc_batched_reference)
        if not _same(mine, expected):
            raise kit.CheckFailed(
                f"measure must measure the documents it is given, not numbers written in: on {len(docs)} generated "
                f"document(s), {_differences(mine, expected)}"
            )

    kit.for_all(_corpora(), prop, examples=6)
    return "both designs measured through the capstone pipeline, on any corpus; MEASURED is the measurement of CORPUS"


# ---------------------------------------------------------------------------------------------
# Task 3: the written defence


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"(?<![\d.])\d+(?![\d.]*\d)", text))


def _probe_defence(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``defence()``'s text (or what it returned instead, shown), and the ``calls_batched`` that
    ``MEASURED`` holds, if any (the student may cite their own measurement)."""
    defence = kit.function(ns, "defence")
    text = kit.call(defence, doing="defence()")
    measured = ns.get("MEASURED")
    calls = measured.get("calls_batched") if isinstance(measured, Mapping) else None
    return {
        "text": text if isinstance(text, str) else None,
        "shown": None if isinstance(text, str) else kit.show(text),
        "calls_batched": calls if isinstance(calls, (int, float)) and not isinstance(calls, bool) else None,
    }


def judge_defence(worker: Worker) -> str:
    answer = worker.ask("defence")
    if not (isinstance(answer, dict) and (isinstance(answer.get("text"), str) or isinstance(answer.get("shown"), str))):
        raise kit.CheckFailed(kit.TAMPERED)
    text = answer.get("text")
    if not isinstance(text, str):
        raise kit.CheckFailed(f"defence() returns your written defence as a str, got {answer['shown']}")
    words = re.findall(r"[A-Za-z0-9_']+", text)
    if len(words) < 40:
        raise kit.CheckFailed(
            f"write the defence out: at least 40 words (yours has {len(words)}) — the change, what you measured, "
            "what it costs"
        )
    reference = measure_reference(CORPUS, embed_doc_batched_reference)
    cited = _numbers(text)
    per_text = str(int(reference["calls_per_text"]))
    one_call = {str(int(reference["calls_batched"]))}
    if isinstance(answer.get("calls_batched"), (int, float)) and math.isfinite(answer["calls_batched"]):
        one_call.add(str(int(answer["calls_batched"])))  # the student's own measurement, as MEASURED holds it
    if per_text not in cited or not cited & one_call:
        raise kit.CheckFailed(
            "back the defence with your measurement: cite both call counts MEASURED holds (calls_per_text and "
            f"calls_batched, as whole numbers); the numbers in yours are {sorted(cited, key=int) or 'none'}"
        )
    return "a written defence that cites the measured call counts"


PROBES = {"batch": _probe_batch, "measure": _probe_measure, "defence": _probe_defence}
"""What the worker answers: ``batch`` (Task 1), ``measure`` (Task 2), ``defence`` (Task 3)."""


EXERCISE = Exercise(
    slug="12_capstone_async_rag_pipeline",
    title="12 · Capstone: async RAG pipeline",
    tasks=(
        Task("t1", "Embed a document in one batch call", 5, ("embed_doc_batched",), judge=judge_embed_doc_batched),
        Task("t2", "Measure both designs", 3, ("measure",), judge=judge_measure),
        Task("t3", "Defend the change", 2, ("defence",), judge=judge_defence),
    ),
)
