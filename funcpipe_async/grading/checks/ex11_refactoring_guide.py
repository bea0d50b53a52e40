"""Exercise 11 · Refactoring Guide: the checks of its three tasks.

The world of the exercise is lesson 11's nightly job, small: a :class:`Night` says which
records the API has, how long each answer takes, which records it refuses (an ``ErrInfo``)
and which the warehouse will refuse (a ``NaN`` balance).  :class:`RecordsApi` is the API of
that night — an ``HttpClientCap`` that counts requests and requests in flight — and the
warehouse is the package's ``FakeStorage``.  Students import both from here in the set-up
cell, so their tests and these checks see the same world.

* t1 ``sync_records(ids, http, store, concurrency)`` — the refactored description of a messy
  function (a global client and an unbounded ``asyncio.gather``): on generated nights it must
  save the same records, report the same failed ids in input order, fetch each record once,
  keep at most ``concurrency`` requests in flight, end when the bounded reference ends, and
  run nothing while it is being built.
* t2 ``RETRY`` and ``fetch_record(http, record_id)`` — an ad-hoc retry loop replaced by a
  ``RetryPolicy``: on generated fault scripts the plan must make the loop's calls at the
  loop's virtual instants and give its result.  The reference is the loop itself.
* t3 ``assert_sync_behaviour(sync_all, night, concurrency)`` — a behavioural test helper: on
  generated nights it must pass correct versions (bounded, sequential, ledger-based) and fail
  broken ones (a lost failure, an unbounded fan-out, a fail-fast batch, a retried ``404``, a
  job that runs while it is being built) — each with an ``AssertionError``.

Every task is decided by a judge outside the worker, on nights and scripts drawn from the
grading run's seed.  The probes (``PROBES``) run the student's code in the worker on virtual
time and report data: ``sync`` the job's result, end instant, saved records, requests and
peak in flight; ``fetch`` the instants of the calls, the result and the end (and, asked
once, whether ``RETRY`` is a ``RetryPolicy``); ``helper`` whether the student's helper
passed, asserted or raised on each version, given under one neutral name in an order drawn
outside the worker.  The judge computes its references itself: the bounded
:func:`sync_reference` and the loop :func:`fetch_record_messy` (public names, which the
set-up cell can import: while a probe runs the student's function they raise instead of
answering, and an answer that calls them is refused), and which versions are correct.

Everything runs on virtual time, so the same submission gets the same feedback for the same seed.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fakes import HANG, FakeStorage, ScriptedService
from funcpipe_async.gather import async_gather
from funcpipe_async.grading import kit
from funcpipe_async.grading.checks._reach import guarding as _guarding
from funcpipe_async.grading.checks._reach import refused as _refused
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.ledger import Ledger, account_for
from funcpipe_async.plan import AsyncPlan, async_bind, async_lift, async_map, async_pure, async_settle
from funcpipe_async.policies import ExponentialBackoff, RetryPolicy, async_retry
from funcpipe_async.ports import HttpClientCap, StorageCap
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "Night", "RecordsApi", "ScriptHttp", "fetch_record_messy", "sync_reference"]

NOT_FOUND = ErrInfo("HTTP_404", "no such record")
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)


def _s(t: float) -> str:
    return f"{t:g}"


# ---------------------------------------------------------------------------------------------
# The world: a night of the nightly job


@dataclass(frozen=True)
class Night:
    """One scripted night: the ids to sync and how the API and the warehouse treat each.

    * ``latency[id]`` — virtual seconds the API takes to answer for ``id`` (default 0.5);
    * ``refused[id]`` — the ``ErrInfo`` the API answers for ``id`` instead of its record;
    * ``broken`` — ids whose record has a ``NaN`` balance, which the warehouse refuses
      (``Err(INVALID_RECORD)``).

    What a correct job does on this night is a function of the night alone:
    :meth:`expected_saved`, :meth:`expected_failed` and one request per id.
    """

    ids: tuple[str, ...]
    latency: Mapping[str, float] = field(default_factory=dict)
    refused: Mapping[str, ErrInfo] = field(default_factory=dict)
    broken: frozenset[str] = frozenset()

    def record(self, record_id: str) -> dict[str, Any]:
        """The record the API sends for ``record_id``."""
        balance = math.nan if record_id in self.broken else 10 * sum(map(ord, record_id))
        return {"id": record_id, "balance": balance}

    def expected_saved(self) -> dict[str, dict[str, Any]]:
        """What the warehouse holds after a correct job: every record fetched and accepted."""
        return {i: self.record(i) for i in self.ids if i not in self.refused and i not in self.broken}

    def expected_failed(self) -> list[str]:
        """The ids a correct job reports failed, in input order: refused by the API or the warehouse."""
        return [i for i in self.ids if i in self.refused or i in self.broken]

    def __repr__(self) -> str:
        parts = [f"ids {list(self.ids)}"]
        if self.refused:
            parts.append("the API refuses " + ", ".join(f"{i} ({e.code})" for i, e in self.refused.items()))
        if self.broken:
            parts.append(f"the warehouse refuses {sorted(self.broken)}")
        slow = {i: t for i, t in self.latency.items() if t != 0.5}
        if slow:
            parts.append("latencies " + ", ".join(f"{i}: {_s(t)} s" for i, t in slow.items()))
        return "Night(" + "; ".join(parts) + ")"


class RecordsApi:
    """The API of a :class:`Night`, as an ``HttpClientCap``: ``get_json("/records/<id>")``.

    Counts what the outside world sees: ``requests`` (all calls), ``in_flight`` and
    ``peak`` (the most requests in flight at once).  An id the night does not know is a
    ``404``.
    """

    def __init__(self, night: Night) -> None:
        self.night = night
        self.requests = 0
        self.in_flight = 0
        self.peak = 0
        self.calls: list[str] = []

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        record_id = url.rsplit("/", 1)[-1]
        self.requests += 1
        self.calls.append(url)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.night.latency.get(record_id, 0.5))
            if record_id in self.night.refused:
                return Err(self.night.refused[record_id])
            if record_id not in self.night.ids:
                return Err(NOT_FOUND)
            return Ok(self.night.record(record_id))
        finally:
            self.in_flight -= 1

    def __repr__(self) -> str:
        return f"RecordsApi(requests={self.requests}, peak={self.peak})"


@st.composite
def _nights(draw: st.DrawFn, *, min_size: int = 0, max_size: int = 9) -> Night:
    n = draw(st.integers(min_size, max_size))
    ids = tuple(f"r{k}" for k in range(1, n + 1))
    latency = {i: draw(st.sampled_from([0.5, 0.25, 1.0, 2.0])) for i in ids}
    refused: dict[str, ErrInfo] = {}
    for i in ids:
        fault = draw(st.sampled_from([None, None, None, NOT_FOUND, UNAVAILABLE]))
        if fault is not None:
            refused[i] = fault
    broken = frozenset(i for i in ids if i not in refused and draw(st.integers(0, 4)) == 4)
    return Night(ids, latency, refused, broken)


def _night_data(night: Night) -> dict[str, Any]:
    """``night`` as JSON data, for a probe's payload."""
    return {
        "ids": list(night.ids),
        "latency": dict(night.latency),
        "refused": {i: [e.code, e.message, e.retryable] for i, e in night.refused.items()},
        "broken": sorted(night.broken),
    }


def _night_from(data: Mapping[str, Any]) -> Night:
    """The night :func:`_night_data` described (the worker's side)."""
    refused = {
        str(i): ErrInfo(str(code), str(message), bool(retryable))
        for i, (code, message, retryable) in data["refused"].items()
    }
    return Night(
        tuple(str(i) for i in data["ids"]),
        {str(i): float(t) for i, t in data["latency"].items()},
        refused,
        frozenset(str(i) for i in data["broken"]),
    )


# ---------------------------------------------------------------------------------------------
# Shared by the judges and the probes


def _neutral(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn`` under a neutral name and a fresh identity: the versions a helper is given look the same."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


# ---------------------------------------------------------------------------------------------
# Task 1: refactor the messy sync into a description


def _sync_one(record_id: str, http: HttpClientCap, store: StorageCap) -> AsyncPlan[Result[None, ErrInfo]]:
    fetch = async_lift(lambda: http.get_json(f"/records/{record_id}"))
    return async_settle(async_bind(fetch, lambda record: async_lift(lambda: store.save(record_id, record))))


def sync_reference(
    ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int
) -> AsyncPlan[list[str]]:
    """The reference answer of Task 1: fetch and save every id, at most ``concurrency`` at a
    time, and produce the ids that failed, in input order."""
    ids = list(ids)
    outcomes = async_gather([_sync_one(i, http, store) for i in ids], concurrency=concurrency)
    return async_map(outcomes, lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)])


@dataclass(frozen=True)
class _NightCase:
    """A night to sync and the concurrency to sync it with (tasks 1 and 3)."""

    night: Night
    concurrency: int


@st.composite
def _sync_cases(draw: st.DrawFn) -> _NightCase:
    night = draw(_nights())
    return _NightCase(night, draw(st.integers(1, 4)))


@dataclass(frozen=True)
class _SyncRun:
    result: Result[Any, ErrInfo]
    ended: float
    saved: dict[str, Any]
    requests: int
    calls: tuple[str, ...]
    peak: int


def _run_sync(build: Callable[..., Any], case: _NightCase, name: str) -> _SyncRun:
    night, c = case.night, case.concurrency
    http, store = RecordsApi(night), FakeStorage()
    doing = f"{name}({list(night.ids)}, http, store, {c})"
    plan = kit.as_plan(kit.call(build, list(night.ids), http, store, c, doing=doing), doing=doing)
    if http.requests or store.calls:
        raise kit.CheckFailed(
            f"describing runs nothing, but building {doing} already made {http.requests} request(s) and "
            f"{len(store.calls)} save(s) on {night!r}: return a plan (async_gather, async_bind, async_lift …) "
            "and let the shell drive it"
        )
    result, ended = kit.simulate(kit.timed(plan), doing=f"driving {doing}")
    return _SyncRun(result, ended, dict(store.records), http.requests, tuple(http.calls), http.peak)


def _probe_sync(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 1: build ``sync_records`` on the judge's night (a
    :class:`RecordsApi` and a ``FakeStorage``), check that building ran nothing, drive it on
    virtual time; report its result, when it ended, what the warehouse holds, and the API's
    request count, requests and peak in flight — or that it called :func:`sync_reference`."""
    sync_records = kit.function(ns, "sync_records")
    case = _NightCase(_night_from(payload["night"]), int(payload["concurrency"]))
    with _guarding(sync_reference) as called:
        run = _run_sync(sync_records, case, "sync_records")
    if called:
        return {"outcome": "reference"}
    return {
        "outcome": "driven",
        "result": run.result,
        "ended": run.ended,
        "saved": run.saved,
        "requests": run.requests,
        "calls": list(run.calls),
        "peak": run.peak,
    }


def _answered_sync(answer: Any) -> _SyncRun:
    if not isinstance(answer, dict) or answer.get("outcome") not in ("driven", "reference"):
        raise kit.CheckFailed(kit.TAMPERED)
    if answer["outcome"] == "reference":
        raise kit.CheckFailed(_refused("sync_records", "sync_reference", "write the refactored job yourself"))
    result, ended, saved, requests = (
        answer.get("result"),
        answer.get("ended"),
        answer.get("saved"),
        answer.get("requests"),
    )
    calls, peak = answer.get("calls"), answer.get("peak")
    if not (
        isinstance(result, (Ok, Err))
        and type(ended) in (int, float)
        and isinstance(saved, dict)
        and type(requests) is int
        and isinstance(calls, list)
        and all(isinstance(u, str) for u in calls)
        and type(peak) is int
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    return _SyncRun(result, float(ended), saved, requests, tuple(calls), peak)  # type: ignore[arg-type]


def judge_sync_records(worker: Worker) -> str:
    def prop(case: _NightCase) -> None:
        night, c = case.night, case.concurrency
        want = _run_sync(sync_reference, case, "the reference")
        got = _answered_sync(worker.ask("sync", {"night": _night_data(night), "concurrency": c}))
        where = f"on {night!r} with concurrency={c}"
        if isinstance(got.result, Err):
            raise kit.CheckFailed(
                f"one record's failure must not stop the batch: {where}, your plan gave {kit.show(got.result)}. "
                "async_gather stops at the first Err — settle each record (async_settle) so every record runs "
                "and its failure becomes a value"
            )
        if got.peak > c:
            raise kit.CheckFailed(
                f"at most concurrency={c} records in flight: {where}, your plan had {got.peak} requests in flight "
                f"at once. Bound the fan-out with async_gather(plans, concurrency={c}) instead of gathering everything"
            )
        if got.requests != want.requests or sorted(got.calls) != sorted(want.calls):
            raise kit.CheckFailed(
                f"fetch every record exactly once (this task has no retries): {where}, expected the requests "
                f"{sorted(want.calls)}, your plan made {sorted(got.calls)}"
            )
        expected_failed = night.expected_failed()
        if got.saved != want.saved:
            raise kit.CheckFailed(
                f"save every record the API returned, under its id: {where}, the warehouse should hold "
                f"{sorted(want.saved)}, it holds {sorted(map(str, got.saved))}"
            )
        value = got.result.value if isinstance(got.result, Ok) else None
        if (
            not isinstance(value, list)
            or not all(isinstance(i, str) for i in value)
            or sorted(value) != sorted(expected_failed)
        ):
            lost = [i for i in night.broken if not isinstance(value, list) or i not in value]
            hint = (
                f" — a save that fails is a failure too: the warehouse refused {sorted(lost)} and the plan said nothing"
                if lost
                else ""
            )
            raise kit.CheckFailed(
                f"the plan produces the ids that failed: {where}, expected Ok({expected_failed}), "
                f"got {kit.show(got.result)}{hint}"
            )
        if value != expected_failed:
            raise kit.CheckFailed(
                f"report the failed ids in input order, as the messy function did: {where}, expected "
                f"{expected_failed}, got {value}"
            )
        if got.ended != want.ended:
            raise kit.CheckFailed(
                f"run up to concurrency={c} records at once — the bound is a maximum to use, not a reason to go "
                f"one by one: {where}, the job should end at t={_s(want.ended)} (as a pool of {c} workers ends), "
                f"yours ended at t={_s(got.ended)}"
            )

    kit.for_all(_sync_cases(), prop)
    return (
        "describing runs nothing; every record fetched once and saved under its id; failures — the API's and the "
        "warehouse's — reported in input order, none stopping the batch; at most `concurrency` in flight, and the "
        "job ends when the bounded reference does"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: replace the ad-hoc retry loop with a policy


RETRY_CODES = ("HTTP_503", "HTTP_429", "TIMEOUT")


async def fetch_record_messy(http: HttpClientCap, record_id: str) -> Result[Mapping[str, Any], ErrInfo]:
    """The ad-hoc loop of Task 2 (shown in the exercise): the reference behaviour."""
    delay = 0.5
    result: Result[Mapping[str, Any], ErrInfo] = Err(ErrInfo("NO_ATTEMPT", "no attempt made"))
    for attempt in range(1, 6):
        try:
            result = await asyncio.wait_for(http.get_json(f"/records/{record_id}"), timeout=2)
        except TimeoutError:
            result = Err(ErrInfo("TIMEOUT", "no answer within 2 s", retryable=True))
        if isinstance(result, Ok) or result.error.code not in RETRY_CODES:
            return result
        if attempt < 5:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2)
    return result


class ScriptHttp:
    """An ``HttpClientCap`` that answers every request from one :class:`ScriptedService`
    script (call *n* gets entry *n*; the last repeats) and logs each request's virtual time."""

    def __init__(self, script: Sequence[Any], latency: float) -> None:
        self.service: ScriptedService[Any] = ScriptedService(script, latency=latency)
        self.urls: list[str] = []

    @property
    def calls(self) -> list[float]:
        return self.service.calls

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        self.urls.append(url)
        result: Result[Mapping[str, Any], ErrInfo] = await self.service.call()
        return result


_ENTRIES: list[Any] = [
    UNAVAILABLE,
    ErrInfo("HTTP_429", "slow down"),  # retried by code, though not flagged retryable
    ErrInfo("HTTP_409", "conflict", retryable=True),  # flagged retryable, yet not on the loop's list
    NOT_FOUND,
    HANG,
    {"id": "r7", "balance": 70},
]


@dataclass(frozen=True)
class _Script:
    entries: tuple[Any, ...]
    latency: float

    def __repr__(self) -> str:
        shown = ", ".join(
            "HANG" if e is HANG else e.code if isinstance(e, ErrInfo) else "the record" for e in self.entries
        )
        return f"a script [{shown}] (the last repeats), {_s(self.latency)} s per answer"


@st.composite
def _scripts(draw: st.DrawFn) -> _Script:
    entries = draw(st.lists(st.sampled_from(_ENTRIES), min_size=1, max_size=7))
    return _Script(tuple(entries), draw(st.sampled_from([0.25, 0.0, 0.5, 1.5, 3.0])))


@dataclass(frozen=True)
class _FetchRun:
    calls: tuple[float, ...]
    result: Result[Any, ErrInfo]
    ended: float

    def outcome(self) -> object:
        return ("Err", self.result.error.code) if isinstance(self.result, Err) else self.result


def _run_fetch(make: Callable[[ScriptHttp, str], Any], script: _Script, name: str) -> _FetchRun:
    http = ScriptHttp(script.entries, script.latency)
    doing = f"{name}(http, 'r7')"
    plan = kit.as_plan(kit.call(make, http, "r7", doing=doing), doing=doing)
    if http.calls:
        raise kit.CheckFailed(
            f"describing runs nothing, but building {doing} already called the API: return a plan and let the "
            "shell drive it"
        )
    try:
        result, ended = kit.simulate(kit.timed(plan), doing=f"driving {doing}")
    except kit.CheckFailed as failure:
        if HANG in script.entries and "can never finish" in str(failure):
            raise kit.CheckFailed(
                f"every try is cut at 2 s (the loop's wait_for): against {script!r}, a call that hangs made your "
                "plan wait forever — give the policy an attempt_timeout"
            ) from None
        raise
    return _FetchRun(tuple(http.calls), result, ended)


def _probe_fetch(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 2: build ``fetch_record(http, 'r7')`` against the judge's
    script (entries of ``_ENTRIES`` by index), drive it on virtual time, and report the
    instants of its calls, its result and when it ended — or that it called the loop itself,
    :func:`fetch_record_messy`.  With ``{"retry": true}``: what ``RETRY`` is."""
    if payload.get("retry") is True:
        policy = ns.get("RETRY")
        return {"outcome": "retry", "is_policy": isinstance(policy, RetryPolicy), "type": type(policy).__name__}
    fetch_record = kit.function(ns, "fetch_record")
    script = _Script(tuple(_ENTRIES[int(k)] for k in payload["entries"]), float(payload["latency"]))
    with _guarding(fetch_record_messy) as called:
        run = _run_fetch(fetch_record, script, "fetch_record")
    if called:
        return {"outcome": "reference"}
    return {"outcome": "driven", "calls": list(run.calls), "result": run.result, "ended": run.ended}


def _answered_fetch(answer: Any) -> _FetchRun:
    if not isinstance(answer, dict) or answer.get("outcome") not in ("driven", "reference"):
        raise kit.CheckFailed(kit.TAMPERED)
    if answer["outcome"] == "reference":
        raise kit.CheckFailed(
            _refused("fetch_record", "fetch_record_messy", "the task is to replace the loop with RETRY and async_retry")
        )
    calls, result, ended = answer.get("calls"), answer.get("result"), answer.get("ended")
    if not (
        isinstance(calls, list)
        and all(type(t) in (int, float) for t in calls)
        and isinstance(result, (Ok, Err))
        and type(ended) in (int, float)
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    return _FetchRun(tuple(float(t) for t in calls), result, float(ended))  # type: ignore[arg-type]


def _why_fetch(script: _Script, want: _FetchRun, got: _FetchRun) -> str:
    n = min(len(want.calls), len(got.calls))
    first = next((k for k in range(n) if want.calls[k] != got.calls[k]), n)
    if len(got.calls) > len(want.calls) and first == len(want.calls):
        last = script.entries[min(len(want.calls), len(script.entries)) - 1]
        code = "HANG (cut to TIMEOUT)" if last is HANG else last.code if isinstance(last, ErrInfo) else "Ok"
        if len(want.calls) == 5:
            return "five tries in all — max_attempts counts attempts, the first one included"
        return (
            f"call {len(want.calls)} answered {code}, which the loop does not retry — it retries exactly "
            f"{', '.join(RETRY_CODES)}, by code, whatever the error's retryable flag says"
        )
    if len(got.calls) < len(want.calls) and first == len(got.calls):
        last = script.entries[min(len(got.calls), len(script.entries)) - 1]
        if last is HANG:
            return "a try that hangs is cut at 2 s and counts as Err(TIMEOUT), which the loop retries"
        code = last.code if isinstance(last, ErrInfo) else "Ok"
        if len(got.calls) == 4:
            return "five tries in all — max_attempts counts attempts, the first one included"
        return (
            f"call {len(got.calls)} answered {code}, which the loop retries — it retries exactly "
            f"{', '.join(RETRY_CODES)}, by code, whatever the error's retryable flag says — yet your plan stopped"
        )
    if first < n:
        return (
            "the waits between tries are 0.5, 1, 2, 2 s — doubling from 0.5 s, capped at 2 s "
            f"(ExponentialBackoff(initial=0.5, factor=2, cap=2)): call {first + 1} should start at "
            f"t={_s(want.calls[first])}, yours started at t={_s(got.calls[first])}"
        )
    if got.ended != want.ended:
        return f"every try is cut at 2 s: the call should end at t={_s(want.ended)}, yours ended at t={_s(got.ended)}"
    return "the result is the last try's: the record, or the last error"


def _the_loop(http: ScriptHttp, record_id: str) -> AsyncPlan[Mapping[str, Any]]:
    return async_lift(lambda: fetch_record_messy(http, record_id))


def judge_fetch_record(worker: Worker) -> str:
    def prop(script: _Script) -> None:
        want = _run_fetch(_the_loop, script, "the loop")
        payload = {"entries": [_entry_index(e) for e in script.entries], "latency": script.latency}
        got = _answered_fetch(worker.ask("fetch", payload))
        if got.calls == want.calls and got.outcome() == want.outcome() and got.ended == want.ended:
            return
        raise kit.CheckFailed(
            f"{_why_fetch(script, want, got)}. Against {script!r}: the loop called at t={list(want.calls)} and gave "
            f"{kit.show(want.result, 90)} at t={_s(want.ended)}; fetch_record(http, 'r7') called at "
            f"t={list(got.calls)} and gave {kit.show(got.result, 90)} at t={_s(got.ended)}"
        )

    kit.for_all(_scripts(), prop)
    answer = worker.ask("fetch", {"retry": True})
    if (
        not isinstance(answer, dict)
        or answer.get("outcome") != "retry"
        or not isinstance(answer.get("is_policy"), bool)
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    if not answer["is_policy"]:
        raise kit.CheckFailed(
            "fetch_record behaves like the loop, but RETRY is not a RetryPolicy (it is "
            f"{str(answer.get('type'))[:60]}): the task is to write the loop's rules as a value — RETRY = RetryPolicy(...) "
            "— and apply it with async_retry"
        )
    return (
        "RETRY is the loop as a value: five tries, 0.5, 1, 2, 2 s apart, each cut at 2 s, retrying exactly "
        "HTTP_503, HTTP_429 and TIMEOUT — the same calls at the same virtual instants, and the same result"
    )


def _entry_index(entry: Any) -> int:
    return next(k for k, e in enumerate(_ENTRIES) if e is entry or (e is not HANG and e == entry))


# ---------------------------------------------------------------------------------------------
# Task 3: write the behavioural test


def _observe(
    sync_all: Callable[..., AsyncPlan[Any]], night: Night, concurrency: int
) -> tuple[int, Result[Any, ErrInfo], dict[str, Any], int, int]:
    http, store = RecordsApi(night), FakeStorage()
    plan = sync_all(list(night.ids), http, store, concurrency)
    at_build = http.requests + len(store.calls)
    result = kit.simulate(plan, doing="a version of the job")
    return at_build, result, dict(store.records), http.requests, http.peak


# The versions a helper is tried on: correct ones it must pass, broken ones it must fail.


def _sequential(ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    return sync_reference(ids, http, store, 1)


def _with_ledger(ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    def fetch(record_id: Any) -> AsyncPlan[Any]:
        return async_map(async_lift(lambda: http.get_json(f"/records/{record_id}")), lambda r: (record_id, r))

    def save(pair: Any) -> AsyncPlan[Any]:
        return async_lift(lambda: store.save(pair[0], pair[1]))

    ledger = account_for(ids, [("fetch", fetch), ("save", save)], concurrency=concurrency)
    return async_map(ledger, lambda books: [o.item for o in books.failed] if isinstance(books, Ledger) else [])


def _loses_save_failures(
    ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int
) -> AsyncPlan[list[str]]:
    def one(record_id: str) -> AsyncPlan[Result[None, ErrInfo]]:
        fetch = async_lift(lambda: http.get_json(f"/records/{record_id}"))
        save = lambda record: async_map(async_settle(async_lift(lambda: store.save(record_id, record))), lambda _: None)  # noqa: E731
        return async_settle(async_bind(fetch, save))

    outcomes = async_gather([one(i) for i in ids], concurrency=concurrency)
    return async_map(outcomes, lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)])


def _unbounded(ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    return sync_reference(ids, http, store, max(len(ids), 1) + 1)


def _fail_fast(ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    def one(record_id: str) -> AsyncPlan[None]:
        fetch = async_lift(lambda: http.get_json(f"/records/{record_id}"))
        return async_bind(fetch, lambda record: async_lift(lambda: store.save(record_id, record)))

    return async_map(async_gather([one(i) for i in ids], concurrency=concurrency), lambda _: [])


def _retries_404(ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    backoff = ExponentialBackoff(initial=0.5, factor=2, cap=2)
    everything = RetryPolicy(max_attempts=3, backoff=backoff, retry_on=frozenset({"HTTP_404", "HTTP_503"}))

    def one(record_id: str) -> AsyncPlan[Result[None, ErrInfo]]:
        fetch = async_retry(async_lift(lambda: http.get_json(f"/records/{record_id}")), everything)
        return async_settle(async_bind(fetch, lambda record: async_lift(lambda: store.save(record_id, record))))

    outcomes = async_gather([one(i) for i in ids], concurrency=concurrency)
    return async_map(outcomes, lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)])


def _eager(ids: Sequence[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    done = kit.simulate(sync_reference(ids, http, store, concurrency), doing="the eager version")  # runs now
    return async_pure(done.value if isinstance(done, Ok) else [])


_CORRECT: tuple[tuple[str, Callable[..., AsyncPlan[Any]]], ...] = (
    ("the bounded reference", sync_reference),
    ("a version that runs one record at a time (concurrency 1 is within any bound)", _sequential),
    ("a version built on account_for and a Ledger", _with_ledger),
)
_BROKEN: tuple[tuple[str, Callable[..., AsyncPlan[Any]]], ...] = (
    ("eager", _eager),
    ("fail fast", _fail_fast),
    ("lost failure", _loses_save_failures),
    ("retries 404", _retries_404),
    ("unbounded", _unbounded),
)


def _what_is_broken(kind: str, night: Night, c: int) -> str:
    at_build, result, saved, requests, peak = _observe(dict(_BROKEN)[kind], night, c)
    if kind == "eager":
        return (
            f"describing runs nothing — this version made {at_build} call(s) to the API and the warehouse while its "
            "plan was being built; check that nothing reached either before the plan is driven"
        )
    if kind == "fail fast":
        return (
            f"one failure must not stop the batch — this version gave {kit.show(result, 80)} and saved "
            f"{len(saved)} of the {len(night.expected_saved())} records; compare the result with "
            f"Ok(night.expected_failed()) and the warehouse with night.expected_saved()"
        )
    if kind == "lost failure":
        lost = sorted(night.broken)
        return (
            f"a failure nobody hears about — the warehouse refused {lost} and this version reported "
            f"{kit.show(result, 80)}, expected Ok({night.expected_failed()}); compare the reported ids, not only "
            "what was saved"
        )
    if kind == "retries 404":
        return (
            f"every record is fetched once — this version made {requests} requests for {len(night.ids)} records "
            "(it retries a 404); compare the API's request count"
        )
    return (
        f"at most concurrency={c} requests in flight — this version had {peak} at once; compare the API's peak "
        "with the bound"
    )


@st.composite
def _helper_cases(draw: st.DrawFn) -> _NightCase:
    c = draw(st.integers(1, 3))
    n = draw(st.integers(c + 2, 7))
    ids = tuple(f"r{k}" for k in range(1, n + 1))
    latency = {i: draw(st.sampled_from([0.5, 0.25, 1.0])) for i in ids}
    gone, bad = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
    refused = {gone: NOT_FOUND}
    extra = draw(st.sampled_from([None, *ids]))
    if extra is not None and extra != bad:
        refused[extra] = draw(st.sampled_from([NOT_FOUND, UNAVAILABLE]))
    return _NightCase(Night(ids, latency, refused, frozenset({bad})), c)


def _versions() -> dict[str, Callable[..., AsyncPlan[Any]]]:
    """Every version a helper is tried on, by the key the judge names it with."""
    return {**{f"correct {k}": v for k, (_, v) in enumerate(_CORRECT)}, **{f"broken {k}": v for k, v in _BROKEN}}


def _probe_helper(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """The worker's side of Task 3: run ``assert_sync_behaviour(version, night, concurrency)``
    on each version the judge names, in the judge's order, each under the neutral name
    ``sync_all``; for each, whether it passed, failed with ``AssertionError`` (and its message)
    or raised something else."""
    helper = kit.function(ns, "assert_sync_behaviour")
    kit.refuse_async(
        helper, "assert_sync_behaviour", drive="builds the plan, drives it with Simulation().run(plan) and asserts"
    )
    night, c = _night_from(payload["night"]), int(payload["concurrency"])
    versions = _versions()
    answers: list[dict[str, Any]] = []
    for key in payload["versions"]:
        version = _neutral(versions[str(key)], "sync_all")
        try:
            helper(version, night, c)
        except kit.CheckFailed:
            raise
        except AssertionError as failure:
            answers.append({"outcome": "assertion", "message": kit.show(str(failure), 100)})
            continue
        except NotImplementedError:
            raise kit.not_done("assert_sync_behaviour") from None
        except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
            answers.append({"outcome": "raised", "error": kit.describe_exception(error)})
            continue
        answers.append({"outcome": "passed"})
    return answers


def judge_assert_sync_behaviour(worker: Worker) -> str:
    keys = list(_versions())

    def prop(case: _NightCase) -> None:
        where = f"on {case.night!r} with concurrency={case.concurrency}"
        order = list(keys)
        random.SystemRandom().shuffle(order)  # an order only the judge knows: a helper cannot count its way through
        answer = worker.ask(
            "helper", {"night": _night_data(case.night), "concurrency": case.concurrency, "versions": order}
        )
        if (
            not isinstance(answer, list)
            or len(answer) != len(order)
            or not all(isinstance(a, dict) and a.get("outcome") in ("passed", "assertion", "raised") for a in answer)
        ):
            raise kit.CheckFailed(kit.TAMPERED)
        outcomes = dict(zip(order, answer))
        doing = f"assert_sync_behaviour(version, {case.night!r}, {case.concurrency})"
        for key in keys:
            if outcomes[key]["outcome"] == "raised":
                raise kit.CheckFailed(
                    f"{doing} raised {outcomes[key].get('error')}: a test helper fails only with AssertionError "
                    "(an assert), and passes by returning"
                )
            if key.startswith("correct") and outcomes[key]["outcome"] == "assertion":
                label = _CORRECT[int(key.removeprefix("correct "))][0]
                raise kit.CheckFailed(
                    f"your helper rejected a correct version — {label} — {where}, with "
                    f"AssertionError({kit.show(str(outcomes[key].get('message')), 100)}). The bound is a maximum: "
                    "assert what the outside world sees (saved, reported, requests, in flight <= concurrency), not how "
                    "the work is arranged"
                )
            if key.startswith("broken") and outcomes[key]["outcome"] == "passed":
                raise kit.CheckFailed(
                    f"your helper passed a broken version {where}: "
                    f"{_what_is_broken(key.removeprefix('broken '), case.night, case.concurrency)}"
                )

    kit.for_all(_helper_cases(), prop, examples=25)
    return (
        "passes the bounded, the sequential and the ledger-based versions; fails a job that runs while it is built, "
        "a fail-fast batch, a lost failure, a retried 404 and an unbounded fan-out — on every generated night"
    )


PROBES = {"sync": _probe_sync, "fetch": _probe_fetch, "helper": _probe_helper}
"""What the worker answers: ``sync`` (Task 1), ``fetch`` (Task 2) and ``helper`` (Task 3)."""


EXERCISE = Exercise(
    slug="11_refactoring_guide",
    title="11 · Refactoring Guide",
    tasks=(
        Task("t1", "Refactor a messy sync into a description", 4, ("sync_records",), judge=judge_sync_records),
        Task("t2", "Replace an ad-hoc retry loop with a policy", 3, ("fetch_record",), judge=judge_fetch_record),
        Task("t3", "Write the behavioural test", 3, ("assert_sync_behaviour",), judge=judge_assert_sync_behaviour),
    ),
)
