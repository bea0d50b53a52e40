"""Exercise 12 · Capstone: async RAG pipeline: the checks of its three tasks.

* t1 ``structural_dedup(chunks)`` — keep the first embedded chunk of each ``(text, vector)``,
  in input order.  Compared with :func:`dedup_reference` on generated chunk lists where texts
  and vectors collide in every combination (same text and vector, same text under another
  model's vector, another text with the same vector); the answer must also be idempotent and
  leave its input alone.
* t2 ``embed_all(chunks, embedder, concurrency)`` — the embedding step as an ``AsyncPlan``:
  one ``Result`` per chunk in input order, at most ``concurrency`` calls in flight, each
  chunk's call retried by ``EMBED_POLICY`` and every attempt cut at ``ATTEMPT_TIMEOUT``.
  Driven on virtual time against a :class:`ScriptedEmbedder` whose answers are scripted per
  text (503s, hangs, a 400, success), and compared with :func:`embed_all_reference`: the
  results, the calls per text, the calls in flight and how long each cut attempt ran.
* t3 ``reconcile(chunks, results)`` — the capstone's ledger: every chunk, in input order, kept
  (``Outcome(id)``), reported as ``dedup: DUPLICATE``, or failed at ``embed`` with its own
  ``ErrInfo`` — exactly once.  Compared with :func:`reconcile_reference` on generated chunks
  and results.

Everything is pure or runs on virtual time, so the same submission always gets the same
feedback.  The exercise's set-up cell imports :class:`Chunk`, :class:`EmbeddedChunk`,
:class:`ScriptedEmbedder`, ``EMBED_POLICY``, ``ATTEMPT_TIMEOUT`` and ``UNAVAILABLE`` from
here: the student and the checks use one definition.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fakes import HANG, hash_embedding
from funcpipe_async.gather import async_gather
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.ledger import Ledger, Outcome
from funcpipe_async.plan import AsyncPlan, async_lift, async_map, async_settle
from funcpipe_async.policies import ConstantBackoff, RetryPolicy, async_retry, async_timeout
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "EXERCISE",
    "Chunk",
    "EmbeddedChunk",
    "ScriptedEmbedder",
    "EMBED_POLICY",
    "ATTEMPT_TIMEOUT",
    "UNAVAILABLE",
    "INVALID",
    "MODEL",
    "dedup_reference",
    "embed_all_reference",
    "reconcile_reference",
]

Vector = tuple[float, ...]

MODEL = "fake-embed-v1"
UNAVAILABLE = ErrInfo("HTTP_503", "embedding service unavailable", retryable=True)
INVALID = ErrInfo("HTTP_400", "the text is not valid for this model")
ATTEMPT_TIMEOUT = 1.0
"""Seconds one embed attempt may take before it is cut (and counts as ``Err(TIMEOUT)``)."""
EMBED_POLICY = RetryPolicy(
    max_attempts=3, backoff=ConstantBackoff(0.5), retry_on=frozenset({"HTTP_503", "TIMEOUT"})
)
"""How a chunk's embed call is retried: 3 attempts, 0.5 s apart, for 503s and timeouts."""


@dataclass(frozen=True)
class Chunk:
    """A chunk of cleaned text, with a stable id (``"d03#1"``)."""

    chunk_id: str
    text: str


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk, its vector and the model that made it.  Its structure is ``(text, vector)``."""

    chunk_id: str
    text: str
    vector: Vector
    model: str = MODEL


def _vector(text: str) -> Vector:
    return tuple(hash_embedding(text))


class ScriptedEmbedder:
    """An ``EmbeddingCap`` whose answers are scripted **per text**, on the loop's clock.

    Call *n* for a text answers ``scripts[text][n-1]`` (the last entry repeats; a text with
    no script always succeeds) after ``latency`` seconds: ``"ok"`` is the text's vector
    (``hash_embedding``), an ``ErrInfo`` is that ``Err``, :data:`HANG` never answers.  It
    records ``calls`` (text and start time), the calls ``in_flight`` and the most ever
    (``max_in_flight``), and ``cut`` — how long each call that was cancelled had run.
    """

    def __init__(self, scripts: Mapping[str, Sequence[Any]] | None = None, *, latency: float = 0.25,
                 model_name: str = MODEL) -> None:
        self.scripts = {text: list(script) for text, script in (scripts or {}).items()}
        self.latency = latency
        self._model_name = model_name
        self.calls: list[tuple[str, float]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.cut: list[float] = []

    @property
    def model_name(self) -> str:
        return self._model_name

    def calls_for(self, text: str) -> int:
        """How many calls were made for ``text``."""
        return sum(1 for t, _ in self.calls if t == text)

    async def embed(self, text: str) -> Result[Vector, ErrInfo]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.calls.append((text, started))
        script = self.scripts.get(text, ["ok"])
        entry = script[min(self.calls_for(text), len(script)) - 1]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if entry is HANG:
                await loop.create_future()  # nobody completes it: only a cancellation ends the wait
            await asyncio.sleep(self.latency)
        except asyncio.CancelledError:
            self.cut.append(loop.time() - started)
            raise
        finally:
            self.in_flight -= 1
        if isinstance(entry, ErrInfo):
            return Err(entry)
        return Ok(_vector(text))

    def __repr__(self) -> str:
        return f"ScriptedEmbedder({len(self.scripts)} scripted texts, latency={self.latency:g})"


def _key(e: EmbeddedChunk) -> tuple[str, Vector]:
    return (e.text, e.vector)


def _ids(chunks: Sequence[Any]) -> list[str]:
    return [str(getattr(c, "chunk_id", c)) for c in chunks]


# ---------------------------------------------------------------------------------------------
# Task 1: structural dedup


def dedup_reference(chunks: Sequence[EmbeddedChunk]) -> list[EmbeddedChunk]:
    """The first embedded chunk of each ``(text, vector)``, in input order."""
    return _dedup_by(chunks, _key)


def _dedup_by(chunks: Sequence[EmbeddedChunk], key: Any) -> list[EmbeddedChunk]:
    """The first chunk of each ``key(chunk)``: what a dedup on the wrong key keeps."""
    seen: set[Any] = set()
    kept = []
    for e in chunks:
        if key(e) not in seen:
            seen.add(key(e))
            kept.append(e)
    return kept


_TEXTS = ["plans describe work", "queues bound memory", "retries need budgets"]
_VECTORS: list[Vector] = [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]


@st.composite
def _embedded_lists(draw: st.DrawFn) -> list[EmbeddedChunk]:
    n = draw(st.integers(0, 9))
    out = []
    for i in range(n):
        text = draw(st.sampled_from(_TEXTS))
        vector = draw(st.sampled_from(_VECTORS))
        out.append(EmbeddedChunk(f"c{i}", text, vector, draw(st.sampled_from([MODEL, "fake-embed-v2"]))))
    return out


def _show_chunks(chunks: Sequence[EmbeddedChunk]) -> str:
    return "[" + ", ".join(f"{e.chunk_id}({e.text!r}, {e.vector})" for e in chunks) + "]"


def check_structural_dedup(ns: Mapping[str, Any]) -> str:
    structural_dedup = kit.function(ns, "structural_dedup")

    def prop(chunks: list[EmbeddedChunk]) -> None:
        given = list(chunks)
        got = kit.call(structural_dedup, given, doing=f"structural_dedup({_show_chunks(chunks)})")
        if given != chunks:
            raise kit.CheckFailed("structural_dedup changed the list it was given: return a new list, leave the input alone")
        want = dedup_reference(chunks)
        if not isinstance(got, list) or not all(isinstance(e, EmbeddedChunk) for e in got):
            raise kit.CheckFailed(
                f"structural_dedup must return a list of the EmbeddedChunk values it kept, got {kit.show(got)}")
        shown = f"on {_show_chunks(chunks)}, expected {_ids(want)}, got {_ids(got)}"
        if got == want:
            again = kit.call(structural_dedup, list(got), doing="structural_dedup of its own output")
            if again != got:
                raise kit.CheckFailed(
                    f"dedup must be idempotent — dedup(dedup(xs)) == dedup(xs): on {_ids(got)} it gave {_ids(again)}")
            return
        if sorted(_ids(got)) == sorted(_ids(want)):
            raise kit.CheckFailed(f"the right chunks, in the wrong order: keep the first occurrences in input order ({shown})")
        got_keys, want_keys = Counter(_key(e) for e in got), Counter(_key(e) for e in want)
        if got_keys == want_keys:
            raise kit.CheckFailed(
                f"keep the *first* occurrence of each (text, vector) — the one that came first keeps its id ({shown})")
        if got == _dedup_by(chunks, lambda e: e.text):
            raise kit.CheckFailed(
                "two chunks with the same text but different vectors (another model's, say) are different: the "
                f"key is the structure, (text, vector), not the text alone ({shown})")
        if got == _dedup_by(chunks, lambda e: e.vector):
            raise kit.CheckFailed(
                "two chunks with different texts are different, even when their vectors are equal: the key is "
                f"(text, vector), not the vector alone ({shown})")
        raise kit.CheckFailed(
            f"duplicates are by structure — the same text *and* vector — not by id or document: drop every later "
            f"chunk whose (text, vector) came before ({shown})")

    kit.for_all(_embedded_lists(), prop)
    return "keeps the first chunk of each (text, vector), in input order; idempotent; leaves its input alone"


# ---------------------------------------------------------------------------------------------
# Task 2: the embedding step, bounded, retried, cut


def embed_all_reference(chunks: Sequence[Chunk], embedder: ScriptedEmbedder,
                        concurrency: int) -> AsyncPlan[list[Result[EmbeddedChunk, ErrInfo]]]:
    """One settled, retried, timed plan per chunk, ``concurrency`` at a time, in input order."""

    def one(chunk: Chunk) -> AsyncPlan[Result[EmbeddedChunk, ErrInfo]]:
        call: AsyncPlan[Vector] = async_lift(lambda: embedder.embed(chunk.text))
        retried = async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY)
        return async_settle(async_map(retried, lambda v: EmbeddedChunk(chunk.chunk_id, chunk.text, v,
                                                                         embedder.model_name)))

    return async_gather([one(c) for c in chunks], concurrency=concurrency)


_ENTRIES: list[Any] = ["ok", UNAVAILABLE, HANG, INVALID]
_POOL = [f"text {k}" for k in range(10)]


@dataclass(frozen=True)
class _Case:
    texts: tuple[str, ...]
    scripts: tuple[tuple[str, tuple[Any, ...]], ...]
    concurrency: int
    latency: float

    def embedder(self) -> ScriptedEmbedder:
        return ScriptedEmbedder(dict(self.scripts), latency=self.latency)

    def chunks(self) -> list[Chunk]:
        return [Chunk(f"c{i}", t) for i, t in enumerate(self.texts)]

    def __repr__(self) -> str:
        def entry(e: Any) -> str:
            return "HANG" if e is HANG else e if isinstance(e, str) else e.code

        scripted = "; ".join(f"{t!r}: [{', '.join(entry(e) for e in s)}]" for t, s in self.scripts)
        return (f"{len(self.texts)} chunks, concurrency={self.concurrency}, each call {self.latency:g} s, "
                f"scripts {{{scripted or 'none: every call succeeds'}}}")


@st.composite
def _embed_cases(draw: st.DrawFn) -> _Case:
    texts = draw(st.lists(st.sampled_from(_POOL), min_size=1, max_size=8, unique=True))
    scripted = draw(st.lists(st.sampled_from(texts), unique=True, max_size=len(texts)))
    scripts = tuple((t, tuple(draw(st.lists(st.sampled_from(_ENTRIES), min_size=1, max_size=4)))) for t in scripted)
    return _Case(tuple(texts), scripts, draw(st.integers(1, 4)), draw(st.sampled_from([0.25, 0.5, 0.75])))


@dataclass(frozen=True)
class _EmbedRun:
    built_calls: int
    results: Any
    calls: dict[str, int]
    max_in_flight: int
    cut: tuple[float, ...]
    ended: float



def _run_embed(build: Any, case: _Case, name: str) -> _EmbedRun:
    embedder, chunks = case.embedder(), case.chunks()
    doing = f"{name}(chunks, embedder, concurrency={case.concurrency})"
    plan = kit.as_plan(kit.call(build, chunks, embedder, case.concurrency, doing=doing), doing=doing)
    built = len(embedder.calls)
    try:
        result, ended = kit.simulate(kit.timed(plan), doing=f"driving {doing}", limit=3600)
    except kit.CheckFailed as failed:
        if "can never finish" in str(failed) or "still running" in str(failed):
            raise kit.CheckFailed(
                f"a hanging embed call was never cut: every attempt must end within ATTEMPT_TIMEOUT = "
                f"{ATTEMPT_TIMEOUT:g} s (async_timeout around the call, inside the retry), so a hang becomes "
                f"Err(TIMEOUT) and is retried. Against {case!r}: {failed}") from None
        raise
    if not isinstance(result, Ok):
        raise kit.CheckFailed(
            f"one failed chunk must not sink the others: {doing} gave {kit.show(result)} — the whole job as one Err. "
            f"Settle each chunk's plan (async_settle) so its Err is a value, then gather. Against {case!r}")
    return _EmbedRun(built, result.value, {t: embedder.calls_for(t) for t in case.texts}, embedder.max_in_flight,
                     tuple(embedder.cut), ended)


def _code(r: Any) -> str:
    if isinstance(r, Ok):
        return "Ok"
    if isinstance(r, Err) and isinstance(r.error, ErrInfo):
        return r.error.code
    return kit.show(r, 40)


def check_embed_all(ns: Mapping[str, Any]) -> str:
    embed_all = kit.function(ns, "embed_all")

    def prop(case: _Case) -> None:
        want = _run_embed(embed_all_reference, case, "the reference")
        got = _run_embed(embed_all, case, "embed_all")
        where = f"against {case!r}"
        if got.built_calls:
            raise kit.CheckFailed(
                f"describing runs nothing, but building embed_all(...) already called the embedder "
                f"{got.built_calls} time(s): return a plan and let the shell drive it")
        if got.max_in_flight > case.concurrency:
            raise kit.CheckFailed(
                f"unbounded fan-out: {got.max_in_flight} embed calls were in flight at once with "
                f"concurrency={case.concurrency} {where}. Bound it: async_gather(plans, concurrency=concurrency)")
        if not isinstance(got.results, list) or len(got.results) != len(case.texts):
            raise kit.CheckFailed(
                f"one Result per chunk, in input order: expected a list of {len(case.texts)}, got "
                f"{kit.show(got.results)} {where}")
        for chunk, w, g in zip(case.chunks(), want.results, got.results):
            if not isinstance(g, (Ok, Err)):
                raise kit.CheckFailed(
                    f"each item is a Result — Ok(EmbeddedChunk) or the Err that stopped that chunk — so that one "
                    f"failed chunk must not sink the others: settle each chunk's plan (async_settle). Got "
                    f"{kit.show(g)} for {chunk.chunk_id} {where}")
            if _code(g) == _code(w) and (isinstance(w, Err) or g == w):
                continue  # an Err matches by code: its message is the loop's own ("attempt 2 gave no result…")
            calls_w, calls_g = want.calls[chunk.text], got.calls[chunk.text]
            if calls_g < calls_w:
                raise kit.CheckFailed(
                    f"retry by EMBED_POLICY — 3 attempts, 0.5 s apart, for HTTP_503 and TIMEOUT: {chunk.chunk_id} "
                    f"({chunk.text!r}) got {calls_g} call(s) and {_code(g)}, expected {calls_w} and {_code(w)} {where}")
            if isinstance(w, Ok) and isinstance(g, Ok):
                raise kit.CheckFailed(
                    f"the embedded chunk keeps the chunk's id and text, the vector and the embedder's model_name: "
                    f"expected {kit.show(w.value)}, got {kit.show(g.value)} {where}")
            raise kit.CheckFailed(
                f"{chunk.chunk_id} ({chunk.text!r}): expected {kit.show(w, 100)} after {calls_w} call(s), got "
                f"{kit.show(g, 100)} after {calls_g} {where}")
        if got.calls != want.calls:
            extra = [t for t in case.texts if got.calls[t] != want.calls[t]]
            t = extra[0]
            raise kit.CheckFailed(
                f"retry exactly as EMBED_POLICY says (3 attempts; only HTTP_503 and TIMEOUT are retried): for "
                f"{t!r} expected {want.calls[t]} call(s), yours made {got.calls[t]} {where}")
        if any(abs(c - ATTEMPT_TIMEOUT) > 1e-9 for c in got.cut):
            raise kit.CheckFailed(
                f"cut every attempt at ATTEMPT_TIMEOUT = {ATTEMPT_TIMEOUT:g} s: the cancelled calls ran "
                f"{[round(c, 3) for c in got.cut]} s {where}")
        expected_peak = min(case.concurrency, len(case.texts))
        if got.max_in_flight < expected_peak:
            raise kit.CheckFailed(
                f"use the concurrency you are given: at most {case.concurrency} calls in flight, and with "
                f"{len(case.texts)} chunks that many should start together — yours never had more than "
                f"{got.max_in_flight} {where}")

    kit.for_all(_embed_cases(), prop)
    return (
        "describing runs nothing; one Result per chunk in input order; at most `concurrency` calls in flight; "
        "503s and timeouts retried by EMBED_POLICY; every hanging attempt cut at 1 s; one failure never sinks the others"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: the ledger


def reconcile_reference(chunks: Sequence[Chunk], results: Sequence[Result[EmbeddedChunk, ErrInfo]]) -> Ledger:
    """Every chunk once, in input order: kept, ``dedup: DUPLICATE`` or failed at ``embed``."""
    first: dict[tuple[str, Vector], str] = {}
    outcomes = []
    for chunk, result in zip(chunks, results):
        if isinstance(result, Err):
            outcomes.append(Outcome(chunk.chunk_id, "embed", result.error))
        elif _key(result.value) in first:
            outcomes.append(Outcome(chunk.chunk_id, "dedup",
                                    ErrInfo("DUPLICATE", f"same text and vector as {first[_key(result.value)]}")))
        else:
            first[_key(result.value)] = chunk.chunk_id
            outcomes.append(Outcome(chunk.chunk_id))
    return Ledger(tuple(outcomes))


_FAILURES = [UNAVAILABLE, ErrInfo("TIMEOUT", "attempt 3 gave no result within 1s", retryable=True), INVALID]


@st.composite
def _ledger_cases(draw: st.DrawFn) -> tuple[list[Chunk], list[Result[EmbeddedChunk, ErrInfo]]]:
    n = draw(st.integers(0, 9))
    chunks: list[Chunk] = []
    results: list[Result[EmbeddedChunk, ErrInfo]] = []
    for i in range(n):
        text = draw(st.sampled_from(_TEXTS))
        chunk = Chunk(f"c{i}", text)
        kind = draw(st.sampled_from(["ok", "ok", "fail", "other model"]))
        chunks.append(chunk)
        if kind == "fail":
            results.append(Err(draw(st.sampled_from(_FAILURES))))
        elif kind == "ok":
            results.append(Ok(EmbeddedChunk(chunk.chunk_id, text, _vector(text))))
        else:
            results.append(Ok(EmbeddedChunk(chunk.chunk_id, text, _vector(text + " v2"), "fake-embed-v2")))
    return chunks, results


def _describe_case(chunks: Sequence[Chunk], results: Sequence[Result[EmbeddedChunk, ErrInfo]]) -> str:
    def one(c: Chunk, r: Result[EmbeddedChunk, ErrInfo]) -> str:
        if isinstance(r, Err):
            return f"{c.chunk_id} {c.text!r}: Err({r.error.code})"
        return f"{c.chunk_id} {c.text!r}: Ok({'v2' if r.value.model != MODEL else 'v1'})"
    return "[" + "; ".join(one(c, r) for c, r in zip(chunks, results)) + "]"


def _why_first(chunks: Sequence[Chunk], results: Sequence[Result[EmbeddedChunk, ErrInfo]], item: str) -> str:
    """Why chunk ``item`` is a first occurrence, from the chunks before it with the same text."""
    index = [c.chunk_id for c in chunks].index(item)
    text = chunks[index].text
    earlier = [r for c, r in zip(chunks[:index], results[:index]) if c.text == text]
    if any(isinstance(r, Err) for r in earlier):
        return "only a chunk that was embedded counts as an occurrence — an earlier chunk with this text failed"
    return "the same text under another model's vector is a different chunk: the key is (text, vector)"


def _line(o: Outcome) -> str:
    return "saved" if o.error is None else f"{o.stage}: {o.error.code}"


def check_reconcile(ns: Mapping[str, Any]) -> str:
    reconcile = kit.function(ns, "reconcile")

    def prop(case: tuple[list[Chunk], list[Result[EmbeddedChunk, ErrInfo]]]) -> None:
        chunks, results = case
        ids = [c.chunk_id for c in chunks]
        where = f"on {_describe_case(chunks, results)}"
        got = kit.call(reconcile, list(chunks), list(results), doing="reconcile(chunks, results)")
        if not isinstance(got, Ledger):
            raise kit.CheckFailed(f"reconcile must return a Ledger (Ledger(tuple(outcomes))), got {kit.show(got)}")
        problems = got.problems(ids)
        if problems:
            lost = [p for p in problems if "lost" in p]
            hint = (" — a failed chunk is an outcome too: Outcome(id, 'embed', its ErrInfo), never dropped"
                    if lost and any(isinstance(r, Err) for r in results) else "")
            raise kit.CheckFailed(f"every chunk exactly once: the ledger does not add up, {problems}{hint}; {where}")
        if [o.item for o in got.outcomes] != ids:
            raise kit.CheckFailed(
                f"the ledger lists the chunks in input order: expected {ids}, got {[o.item for o in got.outcomes]}")
        want = reconcile_reference(chunks, results)
        for w, g, r in zip(want.outcomes, got.outcomes, results):
            if _line(w) == _line(g) and (w.stage != "embed" or w.error == g.error):
                continue
            if w.stage == "embed":
                raise kit.CheckFailed(
                    f"a failed chunk is reported at 'embed' with the ErrInfo that stopped it: {w.item} should be "
                    f"Outcome({w.item!r}, 'embed', {w.error!r}), got {g} ({g.error!r}); {where}")
            if w.stage == "dedup" and _line(g) == "saved":
                raise kit.CheckFailed(
                    f"a later chunk with the same (text, vector) as a kept one is a duplicate: report it as "
                    f"Outcome({w.item!r}, 'dedup', ErrInfo('DUPLICATE', ...)), not saved; {where}")
            if w.error is None and g.stage == "dedup":
                raise kit.CheckFailed(f"{w.item} is the first of its (text, vector) and must be kept (saved): "
                                      f"{_why_first(chunks, results, w.item)}; {where}")
            raise kit.CheckFailed(f"{w.item}: expected '{_line(w)}', got '{_line(g)}'; {where}")

    kit.for_all(_ledger_cases(), prop)
    return (
        "every chunk exactly once, in input order: kept, dedup: DUPLICATE for a later (text, vector), or failed at "
        "embed with its own ErrInfo"
    )


EXERCISE = Exercise(
    slug="12_capstone_async_rag_pipeline",
    title="12 · Capstone: async RAG pipeline",
    tasks=(
        Task("t1", "Deduplicate by structure", 3, ("structural_dedup",), check_structural_dedup),
        Task("t2", "Embed every chunk, bounded, retried, cut", 4, ("embed_all",), check_embed_all),
        Task("t3", "Reconcile the ledger", 3, ("reconcile",), check_reconcile),
    ),
)
