"""Exercise 09 · Async Chunking: the checks of its three tasks.

* t1 ``token_batches(policy, max_tokens, arrivals)`` — the batching state machine of the
  lesson (size **or** time, the clock starting at a batch's first item) extended with a
  per-request token limit.  Compared with :func:`token_batches_reference` on generated
  arrivals — bursts, quiet periods (the idle singleton's trap) and items of every weight —
  and, when they differ, the rule the answer broke is named from its own batches.
* t2 ``embed_in_order(embedder, docs, size, concurrency)`` — batch calls to a capability that
  answers ``(doc_id, vector)`` pairs **in any order** (and sometimes misses one), driven on
  virtual time against a :class:`KeyedEmbedder`: every document gets its own vector in input
  order, batches of ``size``, never more than ``concurrency`` calls in flight, a missing
  vector is ``Err(MISSING_RESULT)``, and building the plan calls nothing.
* t3 ``choose_policy(arrivals, p95_budget)`` — the candidate ``BatchPolicy`` that meets a p95
  latency budget with the fewest calls, checked by simulation (:func:`serve_latencies`) on
  generated Poisson traces and budgets, some of which no candidate meets (``ValueError``).

Every task is decided by a judge outside the worker: it draws the cases from the grading
run's seed, asks the worker's probes (``PROBES``) to run the student's function on them —
``token_batches`` reports the batches as ``[items, at, reason]`` triples (or the exception
raised), ``embed`` the calls made while building, the result of the drive on virtual time,
every call's ids and the embedder's peak in flight, ``choose`` the policy returned as
``[max_size, max_wait]`` (or the exception) — and compares that data with its own reference,
computing the chosen policy's p95 and calls itself.  The references below are public names of
this module, which the set-up cell imports from: while a probe runs the student's function,
the task's reference raises instead of answering (under any name the student holds it), the
probe reports that it was called, and the judge refuses the answer as the grader's own.

Everything is pure or runs on virtual time, so the same submission always gets the same
feedback for the same seed.  The exercise's set-up cell imports :class:`KeyedEmbedder`,
:func:`serve_latencies`, :func:`call_seconds` and the candidate grid from here: the student
and the checks use one definition.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.chunking import BatchCost, BatchPolicy, Flush, batch_calls, batch_schedule, serve_batches
from funcpipe_async.fairness import Tenant, poisson_arrivals
from funcpipe_async.fairness_measures import percentile
from funcpipe_async.fakes import hash_embedding
from funcpipe_async.grading import kit
from funcpipe_async.grading.checks._reach import call_guarded as _call_guarded
from funcpipe_async.grading.checks._reach import guarding as _guarding
from funcpipe_async.grading.checks._reach import refused as _refused
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import AsyncPlan, async_bind, async_fail, async_lift, async_pure
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "EXERCISE",
    "PROBES",
    "COST",
    "OVERHEAD",
    "PER_ITEM",
    "CANDIDATE_SIZES",
    "CANDIDATE_WAITS",
    "KeyedEmbedder",
    "Vector",
    "call_seconds",
    "serve_latencies",
    "token_batches_reference",
    "embed_in_order_reference",
    "choose_policy_reference",
]

COST = BatchCost(overhead=0.2, per_item=0.01)
"""The lesson's embedding model: 0.2 virtual seconds a call, plus 0.01 s a text."""
OVERHEAD, PER_ITEM = COST.overhead, COST.per_item
CANDIDATE_SIZES = (1, 2, 4, 8, 16, 32, 64)
"""The ``max_size`` values Task 3 chooses from (the lesson's grid)."""
CANDIDATE_WAITS = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0)
"""The ``max_wait`` values Task 3 chooses from, in virtual seconds (the lesson's grid)."""

Vector = tuple[float, ...]


def _s(t: float) -> str:
    return f"{t:g}"


def call_seconds(n: int) -> float:
    """How long one call carrying ``n`` texts takes: ``OVERHEAD + PER_ITEM * n`` virtual seconds."""
    return COST.seconds(n)


def serve_latencies(policy: BatchPolicy, arrivals: Sequence[float]) -> tuple[list[float], int]:
    """Each item's latency, and the number of calls, when one model replica serves the batches
    ``batch_schedule(policy, arrivals)`` makes, in flush order (the lesson's figure).

    A call starts when its batch has flushed and the replica is free, and takes
    :func:`call_seconds`; an item's latency is the end of its batch's call minus its arrival.
    """
    served = serve_batches(batch_schedule(policy, arrivals), arrivals, COST)
    return list(served.latencies), served.calls


# ---------------------------------------------------------------------------------------------
# Shared by the judges and the probes


def _raised(error: BaseException) -> dict[str, Any]:
    """A probe's answer for a student function that raised ``error``."""
    return {"outcome": "raised", "value_error": isinstance(error, ValueError), "error": kit.describe_exception(error)}


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError("not an int")
    return value


def _number(value: object) -> float:
    if type(value) not in (int, float):
        raise TypeError("not a number")
    return float(value)  # type: ignore[arg-type]


def _text(value: object) -> str:
    if type(value) is not str:
        raise TypeError("not a str")
    return value


def _vector(value: object) -> Any:
    """A reported vector as a tuple (lists and tuples both stand for one), for comparison."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


# ---------------------------------------------------------------------------------------------
# Task 1: batch by count, tokens or time


def token_batches_reference(
    policy: BatchPolicy, max_tokens: int, arrivals: Sequence[tuple[float, int]]
) -> list[Flush[int]]:
    """The reference answer of Task 1: the batches of items ``i`` arriving at ``arrivals[i] = (time, tokens)``.

    For each arrival, in order: (1) a batch whose deadline (first item + ``max_wait``) has
    been reached leaves, stamped at its deadline (``"time"``); (2) if the item's tokens would
    take the open batch over ``max_tokens``, the open batch leaves now (``"tokens"``); (3) the
    item joins (opening a batch if none is open); (4) a batch with ``max_size`` items leaves
    now (``"size"``), else one with exactly ``max_tokens`` tokens leaves now (``"tokens"``).
    At the end, a batch still open leaves at its deadline.  An item heavier than
    ``max_tokens`` can never be sent: ``ValueError``.
    """
    flushes: list[Flush[int]] = []
    items: tuple[int, ...] = ()
    tokens, opened = 0, 0.0
    for i, (now, weight) in enumerate(arrivals):
        if weight > max_tokens:
            raise ValueError(f"item {i} has {weight} tokens, more than max_tokens={max_tokens}: it can never be sent")
        if items and now >= opened + policy.max_wait:
            flushes.append(Flush(items, opened + policy.max_wait, "time"))
            items, tokens = (), 0
        if items and tokens + weight > max_tokens:
            flushes.append(Flush(items, now, "tokens"))
            items, tokens = (), 0
        if not items:
            opened = now
        items, tokens = (*items, i), tokens + weight
        if len(items) == policy.max_size:
            flushes.append(Flush(items, now, "size"))
            items, tokens = (), 0
        elif tokens == max_tokens:
            flushes.append(Flush(items, now, "tokens"))
            items, tokens = (), 0
    if items:
        flushes.append(Flush(items, opened + policy.max_wait, "time"))
    return flushes


@dataclass(frozen=True)
class _TokenCase:
    policy: BatchPolicy
    max_tokens: int
    arrivals: tuple[tuple[float, int], ...]

    def __repr__(self) -> str:
        shown = ", ".join(f"{_s(t)}s/{w}" for t, w in self.arrivals)
        return f"{self.policy!r}, max_tokens={self.max_tokens}, arrivals (time/tokens) [{shown}]"


_GAPS = st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0, 3.0, 10.0])  # exact binary fractions: no rounding


@st.composite
def _token_cases(draw: st.DrawFn) -> _TokenCase:
    policy = BatchPolicy(draw(st.integers(1, 6)), draw(st.sampled_from([1.0, 0.5, 0.0, 2.0, 5.0])))
    max_tokens = draw(st.sampled_from([8, 1, 3, 5, 12]))
    # The simplest example is the idle singleton's trap: two items, a quiet spell, then a burst.
    first = [(0.0, 1), (0.0, 1), (10.0, 1), (0.25, 1), (0.25, 1)] if draw(st.booleans()) else []
    rest = draw(st.lists(st.tuples(_GAPS, st.integers(1, max_tokens)), max_size=25))
    now, arrivals = 0.0, []
    for gap, weight in [*first, *rest]:
        now += gap
        arrivals.append((now, min(weight, max_tokens)))
    return _TokenCase(policy, max_tokens, tuple(arrivals))


def _why_tokens(case: _TokenCase, got: list[tuple[tuple[int, ...], float, str]]) -> str:
    """The rule the answer broke, in the lesson's words, judged from its own batches."""
    times = [t for t, _ in case.arrivals]
    weights = [w for _, w in case.arrivals]
    flat = [i for items, _, _ in got for i in items]
    wait = case.policy.max_wait
    if flat != list(range(len(times))):
        if flat == list(range(len(flat))) and len(flat) < len(times):
            return (
                f"items {flat and flat[-1] + 1 or 0}–{len(times) - 1} never left the batcher: at the end of "
                "the arrivals, the batch still open leaves at its deadline (first item + max_wait) — nothing "
                "may be left behind"
            )
        return "every item must leave exactly once, and the batches flattened are the items in arrival order"
    for items, at, _reason in got:
        if any(at < times[i] - 1e-9 for i in items):
            late = next(i for i in items if at < times[i] - 1e-9)
            return (
                f"tick before you offer: batch {list(items)} left at t={_s(at)}, but item {late} only arrived at "
                f"t={_s(times[late])} — a batch past its deadline leaves without the newcomer, who opens the next one"
            )
        if sum(weights[i] for i in items) > case.max_tokens:
            return (
                f"no batch may carry more than max_tokens={case.max_tokens} tokens: batch {list(items)} carries "
                f"{sum(weights[i] for i in items)}. Flush the open batch *before* adding an item that would not fit"
            )
        if len(items) > case.policy.max_size:
            return f"no batch holds more than max_size={case.policy.max_size} items: batch {list(items)} holds {len(items)}"
    for items, at, reason in got:
        due = times[items[0]] + wait
        if at > due + 1e-9:
            if reason == "time":
                return (
                    f"a batch that leaves by time is stamped at its deadline, first item + max_wait: batch "
                    f"{list(items)} opened at t={_s(times[items[0]])}, so it leaves at t={_s(due)}, not t={_s(at)}"
                )
            return (
                f"no item waits longer than max_wait={_s(wait)}: batch {list(items)} opened at "
                f"t={_s(times[items[0]])} but left at t={_s(at)}"
            )
        if reason == "time" and at < due - 1e-9:
            return (
                f"the clock starts at a batch's first item, not at the last flush: batch {list(items)} left by time at "
                f"t={_s(at)}, only {_s(at - times[items[0]])} s after its first item arrived (max_wait is {_s(wait)} s) — "
                "an idle singleton"
            )
        if sum(weights[i] for i in items) == case.max_tokens and at > times[items[-1]] + 1e-9:
            return (
                f"a batch with exactly max_tokens={case.max_tokens} tokens can take no other item: batch "
                f'{list(items)} should leave at once, at t={_s(times[items[-1]])}, by "tokens", not wait until t={_s(at)}'
            )
    return "each batch leaves by size, by tokens or by time, whichever comes first, with the reason that made it leave"


def _shown(flushes: Sequence[tuple[tuple[int, ...], float, str]]) -> str:
    return ", ".join(f"{list(items)}@{_s(at)} {reason}" for items, at, reason in flushes) or "none"


def _probe_token_batches(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 1: ``token_batches`` on the judge's policy, limit and arrivals.

    Reports ``{"outcome": "returned", "flushes": [[items, at, reason], ...]}``, or what it
    returned when that is not a list of ``Flush``\\es (``"not a list"``, ``"not a flush"``), or
    the exception it raised (``"raised"``), or that it called this module's reference answer.
    """
    token_batches = kit.function(ns, "token_batches")
    policy = BatchPolicy(int(payload["max_size"]), float(payload["max_wait"]))
    max_tokens = int(payload["max_tokens"])
    arrivals = [(float(t), int(w)) for t, w in payload["arrivals"]]
    got = _call_guarded(token_batches_reference, "token_batches", token_batches, policy, max_tokens, arrivals)
    if got is None:
        return {"outcome": "reference"}
    value, raised = got
    if raised is not None:
        return _raised(raised)
    if not isinstance(value, (list, tuple)):
        return {"outcome": "not a list", "shown": kit.show(value)}
    flushes: list[list[Any]] = []
    for f in value:
        try:
            if not isinstance(f, Flush):
                raise TypeError
            flushes.append([[int(i) for i in f.items], float(f.at), str(f.reason)])
        except Exception:  # noqa: BLE001 - a malformed batch is reported as data
            return {"outcome": "not a flush", "shown": kit.show(f)}
    return {"outcome": "returned", "flushes": flushes}


def _ask_token_batches(worker: Worker, case: _TokenCase) -> dict[str, Any]:
    answer = worker.ask(
        "token_batches",
        {
            "max_size": case.policy.max_size,
            "max_wait": case.policy.max_wait,
            "max_tokens": case.max_tokens,
            "arrivals": [[t, w] for t, w in case.arrivals],
        },
    )
    if not isinstance(answer, dict) or answer.get("outcome") not in (
        "returned",
        "raised",
        "not a list",
        "not a flush",
        "reference",
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    if answer["outcome"] == "reference":
        raise kit.CheckFailed(_refused("token_batches", "token_batches_reference", "write the batching yourself"))
    return answer


def _answered_flushes(answer: dict[str, Any], doing: str) -> list[tuple[tuple[int, ...], float, str]]:
    """The worker's batches as plain triples, or the verdict on what the function did instead."""
    outcome = answer["outcome"]
    if outcome == "raised":
        raise kit.CheckFailed(f"{doing} raised {answer.get('error')}")
    if outcome == "not a list":
        raise kit.CheckFailed(f"{doing} returned {answer.get('shown')}: return a list of Flush(items, at, reason)")
    if outcome == "not a flush":
        raise kit.CheckFailed(
            f"{doing} returned a list holding {answer.get('shown')}: every batch is a Flush(items, at, reason)"
        )
    try:
        return [(tuple(_int(i) for i in items), _number(at), _text(reason)) for items, at, reason in answer["flushes"]]
    except (KeyError, TypeError, ValueError):
        raise kit.CheckFailed(kit.TAMPERED) from None


def judge_token_batches(worker: Worker) -> str:
    def prop(case: _TokenCase) -> None:
        doing = f"token_batches({case!r})"
        want = [(f.items, f.at, f.reason) for f in token_batches_reference(case.policy, case.max_tokens, case.arrivals)]
        got = _answered_flushes(_ask_token_batches(worker, case), doing)
        same = len(got) == len(want) and all(
            g[0] == w[0] and math.isclose(g[1], w[1], abs_tol=1e-9) and g[2] == w[2] for g, w in zip(got, want)
        )
        if same:
            return
        raise kit.CheckFailed(f"{_why_tokens(case, got)}. For {case!r}: expected {_shown(want)}; got {_shown(got)}")

    def refuses(case: _TokenCase) -> None:
        heavy = _TokenCase(
            case.policy,
            case.max_tokens,
            (*case.arrivals, (case.arrivals[-1][0] if case.arrivals else 0.0, case.max_tokens + 1)),
        )
        doing = f"token_batches({heavy!r})"
        answer = _ask_token_batches(worker, heavy)
        if answer["outcome"] == "raised":
            if answer.get("value_error") is True:
                return
            raise kit.CheckFailed(f"{doing} raised {answer.get('error')}; expected ValueError")
        raise kit.CheckFailed(
            f"an item with more than max_tokens tokens can never be sent — no batch could carry it: raise ValueError. "
            f"{doing} returned batches instead"
        )

    kit.for_all(_token_cases(), prop)
    kit.for_all(_token_cases(), refuses, examples=10)
    return (
        "batches leave by size, by tokens (before an item that would not fit, or exactly full) or by time — stamped at "
        "the first item's deadline, never at the last flush — with every item once, in order; an impossible item is refused"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: put results back in order


class KeyedEmbedder:
    """A batch embedding capability on virtual time that answers by id, **in any order**.

    ``embed_batch(docs)`` takes ``(doc_id, text)`` pairs and returns a plan that, after
    :func:`call_seconds` (plus up to 0.1 s of seeded jitter, so calls finish in any order),
    gives ``Ok([(doc_id, vector), ...])`` shuffled by the embedder's seeded generator.  The
    vector of a text is ``tuple(hash_embedding(text))``.  With ``drops`` set, the reply leaves
    out that document (a partial reply, as real endpoints sometimes send).

    ``calls`` holds every call's ``doc_id``\\s in the order the calls started; ``in_flight``
    and ``peak`` count calls running now and at most.
    """

    def __init__(self, seed: int = 0, *, drops: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.drops = drops
        self.calls: list[tuple[str, ...]] = []
        self.in_flight = 0
        self.peak = 0

    def embed_batch(self, docs: Sequence[tuple[str, str]]) -> AsyncPlan[list[tuple[str, Vector]]]:
        batch = tuple(docs)

        async def run() -> Result[list[tuple[str, Vector]], ErrInfo]:
            self.calls.append(tuple(doc_id for doc_id, _ in batch))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(call_seconds(len(batch)) + self.rng.choice([0.0, 0.03, 0.06, 0.1]))
                reply = [(doc_id, tuple(hash_embedding(text))) for doc_id, text in batch if doc_id != self.drops]
                self.rng.shuffle(reply)
                return Ok(reply)
            finally:
                self.in_flight -= 1

        return async_lift(run)


def _calls(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def _matched(batch: tuple[tuple[str, str], ...], reply: Sequence[tuple[str, Vector]]) -> AsyncPlan[list[Vector]]:
    by_id = dict(reply)
    missing = [doc_id for doc_id, _ in batch if doc_id not in by_id]
    if missing:
        return async_fail(ErrInfo("MISSING_RESULT", f"the reply has no vector for {missing[0]}"))
    return async_pure([by_id[doc_id] for doc_id, _ in batch])


def embed_in_order_reference(
    embedder: KeyedEmbedder, docs: Sequence[tuple[str, str]], size: int, concurrency: int
) -> AsyncPlan[list[Vector]]:
    """The reference answer of Task 2."""

    def call(batch: tuple[tuple[str, str], ...]) -> AsyncPlan[list[Vector]]:
        return async_bind(embedder.embed_batch(batch), lambda reply: _matched(batch, reply))

    return batch_calls(docs, call, size=size, concurrency=concurrency)


@dataclass(frozen=True)
class _EmbedCase:
    docs: tuple[tuple[str, str], ...]
    size: int
    concurrency: int
    seed: int
    drops: str | None

    def __repr__(self) -> str:
        drop = f", a reply missing {self.drops}" if self.drops else ""
        return f"{len(self.docs)} docs, size={self.size}, concurrency={self.concurrency}{drop}"


_WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")


@st.composite
def _embed_cases(draw: st.DrawFn) -> _EmbedCase:
    n = draw(st.integers(2, 30))
    texts = [f"{draw(st.sampled_from(_WORDS))} {draw(st.integers(0, 9))}" for _ in range(n)]
    docs = tuple((f"d{i}", text) for i, text in enumerate(texts))
    size = draw(st.integers(2, 8))
    drops = docs[draw(st.integers(0, n - 1))][0] if draw(st.integers(0, 4)) == 4 else None
    return _EmbedCase(docs, size, draw(st.integers(1, 4)), draw(st.integers(0, 999)), drops)


def _probe_embed(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 2: build ``embed_in_order`` on a seeded :class:`KeyedEmbedder`
    and the judge's documents, then drive it on virtual time.

    Reports the calls the embedder saw while the plan was being built, the result of the
    drive, every call's ``doc_id``\\s and the embedder's peak of calls in flight — or that it
    called this module's reference answer.
    """
    embed_in_order = kit.function(ns, "embed_in_order")
    docs = [(str(d), str(text)) for d, text in payload["docs"]]
    size, concurrency = int(payload["size"]), int(payload["concurrency"])
    drops = None if payload["drops"] is None else str(payload["drops"])
    embedder = KeyedEmbedder(int(payload["seed"]), drops=drops)
    doing = f"embed_in_order(embedder, docs, {size}, {concurrency})"
    with _guarding(embed_in_order_reference) as called:
        plan = kit.as_plan(kit.call(embed_in_order, embedder, docs, size, concurrency, doing=doing), doing=doing)
        built = [list(c) for c in embedder.calls]
        result = None if built else kit.simulate(plan, doing=f"driving {doing} on {payload['shown']}")
    if called:
        return {"outcome": "reference"}
    return {
        "outcome": "driven",
        "built": built,
        "result": result,
        "calls": [list(c) for c in embedder.calls],
        "peak": embedder.peak,
    }


def _embed_payload(case: _EmbedCase) -> dict[str, Any]:
    return {
        "docs": [list(d) for d in case.docs],
        "size": case.size,
        "concurrency": case.concurrency,
        "seed": case.seed,
        "drops": case.drops,
        "shown": repr(case),
    }


def judge_embed_in_order(worker: Worker) -> str:
    def prop(case: _EmbedCase) -> None:
        doing = f"embed_in_order(embedder, docs, {case.size}, {case.concurrency})"
        answer = worker.ask("embed", _embed_payload(case))
        if not isinstance(answer, dict) or answer.get("outcome") not in ("driven", "reference"):
            raise kit.CheckFailed(kit.TAMPERED)
        if answer["outcome"] == "reference":
            raise kit.CheckFailed(
                _refused("embed_in_order", "embed_in_order_reference", "match the replies to the documents yourself")
            )
        built, result, calls, peak = answer.get("built"), answer.get("result"), answer.get("calls"), answer.get("peak")
        if not (
            isinstance(built, list)
            and isinstance(calls, list)
            and all(isinstance(c, list) for c in calls)
            and type(peak) is int
        ):
            raise kit.CheckFailed(kit.TAMPERED)
        if built:
            raise kit.CheckFailed(
                f"describing runs nothing, but building {doing} already called the embedder "
                f"{len(built)} time(s): return a plan (batch_calls(...)) and let the shell drive it"
            )
        if case.drops is not None:
            if isinstance(result, Err) and isinstance(result.error, ErrInfo) and result.error.code == "MISSING_RESULT":
                return
            raise kit.CheckFailed(
                f"a reply without a document's vector must be Err(ErrInfo('MISSING_RESULT', ...)) — never a shorter or "
                f"padded list that shifts or blanks an item. On {case!r} (the reply left out {case.drops}) your plan "
                f"gave {kit.show(result, 100)}"
            )
        expected = [tuple(hash_embedding(text)) for _, text in case.docs]
        if not isinstance(result, Ok):
            raise kit.CheckFailed(
                f"on {case!r}, every document has a vector, yet your plan gave {kit.show(result, 160)}"
            )
        got = result.value
        if not isinstance(got, list) or len(got) != len(expected):
            raise kit.CheckFailed(
                f"one vector per document, in a list: on {case!r} your plan gave {kit.show(got, 100)}"
            )
        wrong = [i for i, (g, w) in enumerate(zip(got, expected)) if _vector(g) != w]
        if wrong:
            owner = {w: case.docs[i][0] for i, w in enumerate(expected)}
            i = wrong[0]
            whose = owner.get(_vector(got[i]), "no document")
            raise kit.CheckFailed(
                f"results reordered: the capability answers each batch in any order, so match each vector to its "
                f"document by id. On {case!r}, {case.docs[i][0]} ({case.docs[i][1]!r}) got {whose}'s vector"
            )
        sizes = [len(c) for c in calls]
        if not sizes or max(sizes) > case.size or len(sizes) != math.ceil(len(case.docs) / case.size):
            raise kit.CheckFailed(
                f"batches of {case.size}: {len(case.docs)} docs make {_calls(math.ceil(len(case.docs) / case.size))} of at "
                f"most {case.size}; on {case!r} your plan made {_calls(len(sizes))} of sizes {sizes}"
            )
        if peak > case.concurrency:
            raise kit.CheckFailed(
                f"at most {_calls(case.concurrency)} in flight (concurrency={case.concurrency}): on {case!r} your plan had "
                f"{peak} running at once"
            )

    kit.for_all(_embed_cases(), prop)
    return (
        "describing runs nothing; every document gets its own vector in input order, in batches of `size` with at most "
        "`concurrency` calls in flight, and a reply missing a vector is Err(MISSING_RESULT)"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: choose a policy for a latency budget


def _measure(policy: BatchPolicy, arrivals: Sequence[float]) -> tuple[float, int]:
    latencies, calls = serve_latencies(policy, arrivals)
    return percentile(latencies, 95), calls


def choose_policy_reference(arrivals: Sequence[float], p95_budget: float) -> BatchPolicy:
    """The reference answer of Task 3: a candidate meeting the budget with the fewest calls."""
    fits = []
    for size in CANDIDATE_SIZES:
        for wait in CANDIDATE_WAITS:
            p95, calls = _measure(BatchPolicy(size, wait), arrivals)
            if p95 <= p95_budget:
                fits.append((calls, p95, size, wait))
    if not fits:
        raise ValueError(f"no candidate policy has a p95 latency within {p95_budget:g} s")
    _, _, size, wait = min(fits)
    return BatchPolicy(size, wait)


@dataclass(frozen=True)
class _Trace:
    rate: float
    seed: int
    budget: float
    arrivals: tuple[float, ...]

    def __repr__(self) -> str:
        return (
            f"{len(self.arrivals)} Poisson arrivals at {self.rate:g}/s over 15 s "
            f"(random.Random({self.seed})), p95 budget {self.budget:g} s"
        )


@st.composite
def _traces(draw: st.DrawFn) -> _Trace:
    rate = draw(st.sampled_from([10.0, 2.0, 5.0, 20.0]))
    seed = draw(st.integers(0, 9999))
    budget = draw(st.sampled_from([0.6, 1.0, 0.8, 2.0, 5.0, 0.15, 1.5]))
    arrivals = [r.arrival for r in poisson_arrivals([Tenant("requests", rate=rate)], 15.0, random.Random(seed))]
    return _Trace(rate, seed, budget, tuple(arrivals) or (0.0,))


def _probe_choose(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 3: ``choose_policy`` on the judge's arrivals and budget.

    Reports the policy it returned as ``[max_size, max_wait]`` (``"returned"``), what it
    returned instead of a ``BatchPolicy`` (``"not a policy"``), the exception it raised, or that
    it called this module's reference answer.
    """
    choose_policy = kit.function(ns, "choose_policy")
    arrivals = [float(t) for t in payload["arrivals"]]
    budget = float(payload["budget"])
    answered = _call_guarded(choose_policy_reference, "choose_policy", choose_policy, arrivals, budget)
    if answered is None:
        return {"outcome": "reference"}
    got, raised = answered
    if raised is not None:
        return _raised(raised)
    if not isinstance(got, BatchPolicy):
        return {"outcome": "not a policy", "shown": kit.show(got)}
    return {"outcome": "returned", "policy": [got.max_size, got.max_wait], "shown": kit.show(got)}


def judge_choose_policy(worker: Worker) -> str:
    def prop(trace: _Trace) -> None:
        arrivals = list(trace.arrivals)
        doing = f"choose_policy(arrivals, {trace.budget:g}) on {trace!r}"
        try:
            best: BatchPolicy | None = choose_policy_reference(arrivals, trace.budget)
        except ValueError:
            best = None
        answer = worker.ask("choose", {"arrivals": arrivals, "budget": trace.budget})
        if not isinstance(answer, dict) or answer.get("outcome") not in (
            "returned",
            "raised",
            "not a policy",
            "reference",
        ):
            raise kit.CheckFailed(kit.TAMPERED)
        outcome = answer["outcome"]
        if outcome == "reference":
            raise kit.CheckFailed(
                _refused(
                    "choose_policy", "choose_policy_reference", "score the candidates with serve_latencies yourself"
                )
            )
        if best is None:
            if outcome == "raised":
                if answer.get("value_error") is True:
                    return
                raise kit.CheckFailed(f"{doing} raised {answer.get('error')}; expected ValueError")
            raise kit.CheckFailed(
                f"when no candidate meets the budget, say so: raise ValueError. {doing}: not even the fastest candidate "
                f"has p95 within {trace.budget:g} s (a call alone takes {_s(call_seconds(1))} s), yet you returned "
                f"{answer.get('shown')}"
            )
        if outcome == "raised":
            raise kit.CheckFailed(f"{doing} raised {answer.get('error')}")
        if outcome == "not a policy":
            raise kit.CheckFailed(f"{doing} returned {answer.get('shown')}: return a BatchPolicy(max_size, max_wait)")
        try:
            size, wait = answer["policy"]
            got = BatchPolicy(_int(size), _number(wait))
        except (KeyError, TypeError, ValueError):
            raise kit.CheckFailed(kit.TAMPERED) from None
        p95, calls = _measure(got, arrivals)
        best_p95, best_calls = _measure(best, arrivals)
        if p95 > trace.budget:
            raise kit.CheckFailed(
                f"the budget is on the p95 — 95 % of items, measured from arrival to result (waiting in the batcher, "
                f"for the replica, then the call): {doing} returned {got!r}, whose p95 is {p95:.3f} s. "
                f"{best!r} meets it ({best_p95:.3f} s) with {best_calls} calls"
            )
        if calls > best_calls:
            raise kit.CheckFailed(
                f"the fewest calls that meet the budget: {doing} returned {got!r}, which makes {calls} calls "
                f"(p95 {p95:.3f} s); {best!r} meets the budget with {best_calls} calls (p95 {best_p95:.3f} s)"
            )

    kit.for_all(_traces(), prop, examples=30)
    return (
        "on every trace, the chosen policy's p95 latency (arrival to result) is within the budget with the fewest calls "
        "of the candidates, and an impossible budget is refused with ValueError"
    )


PROBES = {"token_batches": _probe_token_batches, "embed": _probe_embed, "choose": _probe_choose}
"""What the worker answers: ``token_batches`` (Task 1), ``embed`` (Task 2) and ``choose`` (Task 3)."""


EXERCISE = Exercise(
    slug="09_async_chunking",
    title="09 · Async Chunking",
    tasks=(
        Task("t1", "Batch by count, tokens or time", 4, ("token_batches",), judge=judge_token_batches),
        Task("t2", "Put results back in order", 3, ("embed_in_order",), judge=judge_embed_in_order),
        Task("t3", "Choose a policy for a latency budget", 3, ("choose_policy",), judge=judge_choose_policy),
    ),
)
