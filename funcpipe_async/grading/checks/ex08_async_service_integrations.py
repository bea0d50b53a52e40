"""Exercise 08 · Async Service Integrations: the checks of its three tasks.

* t1 ``validate_reading(body)`` — a pure validator: ``Ok(record)`` with exactly the three
  fields (``celsius`` as a float), or the first problem as ``Err`` with the code the rules
  give (``MISSING_FIELD``, ``BAD_TYPE``, ``BAD_VALUE``; never retryable).  Compared with a
  reference on generated bodies: valid ones, each field missing, of a wrong type (a bool is
  not a number), out of range, empty, not finite, and with extra fields.
* t2 ``reading_steps(http, store, validate, policy)`` — the ``fetch → validate → save``
  steps of ``account_for``.  Driven on virtual time against generated per-item fault scripts
  (503s and dropped connections that recover or not, 404s, broken bodies, invalid readings,
  a busy database, saves whose reply is lost) with generated policies and concurrency: the
  ledger, the requests per input, the save calls per record and the stored keys must be the
  reference's — every input accounted for once, retries exactly where retryable, no row twice.
* t3 ``reconcile(ids, ledger, keys)`` — a ledger checked against the database: the ids that
  are lost, reported twice, reported saved but not stored, stored but not reported saved.
  Compared with a reference on generated ledgers and key lists.

Every task is decided by a judge outside the worker: it draws the examples from the grading
run's seed and asks the worker's probes (``PROBES``) — ``validate`` and ``reconcile`` report
what the student's function returned (or raised) on the judge's input; ``steps`` drives
``account_for`` over the student's steps on the judge's fakes on virtual time and reports the
ledger's outcomes, the requests per id, the save calls per key and the stored keys — and
compares them with its own reference (the reference pipeline it drives itself).  Everything
runs on fakes and virtual time: no server, no database, no wall-clock waits.  The
references are private to this module, and ``reaches`` reports whether a task function uses
one: such a task is refused.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.grading import kit
from funcpipe_async.grading.checks._reach import prober, refuse_borrowed
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.ledger import Ledger, Outcome, Step, account_for
from funcpipe_async.plan import async_from_result, async_lift
from funcpipe_async.policies import ConstantBackoff, ExponentialBackoff, RetryPolicy, async_retry
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "EXERCISE",
    "ScriptedReadings",
    "FlakyStore",
    "PROBES",
    "reading_key",
]


# ---------------------------------------------------------------------------------------------
# Task 1: validate a reading

_FIELDS: tuple[tuple[str, str], ...] = (("sensor", "str"), ("celsius", "number"), ("at", "int"))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_reference(body: Mapping[str, Any]) -> Result[dict[str, Any], ErrInfo]:
    """The reference answer of Task 1."""
    for name, kind in _FIELDS:
        if name not in body:
            return Err(ErrInfo("MISSING_FIELD", f"no {name!r}"))
        value = body[name]
        typed = isinstance(value, str) if kind == "str" else _is_number(value) if kind == "number" else _is_int(value)
        if not typed:
            return Err(ErrInfo("BAD_TYPE", f"{name} must be a {kind}, got {value!r}"))
        if name == "sensor" and not value.strip():
            return Err(ErrInfo("BAD_VALUE", "sensor must not be empty"))
        if name == "celsius" and not (math.isfinite(value) and -90 <= value <= 60):
            return Err(ErrInfo("BAD_VALUE", f"celsius must be within [-90, 60], got {value!r}"))
        if name == "at" and value < 0:
            return Err(ErrInfo("BAD_VALUE", f"at must be >= 0, got {value!r}"))
    return Ok({"sensor": body["sensor"], "celsius": float(body["celsius"]), "at": body["at"]})


_VALID = {
    "sensor": st.sampled_from(["s1", "kitchen", "roof-2", " x "]),
    "celsius": st.one_of(st.sampled_from([-90, 60, -90.0, 60.0, 21.5, 0, 20]), st.floats(-90, 60)),
    "at": st.sampled_from([0, 1, 1700000000]),
}
_INVALID = {
    "sensor": st.sampled_from(["", "   ", 7, None, True, ["s1"]]),
    "celsius": st.one_of(
        st.sampled_from([-90.5, 60.25, 100, -273.15, True, False, "20", None, [20], float("nan"), float("inf")]),
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda c: not -90 <= c <= 60),
        st.integers(-200, 200).filter(lambda c: not -90 <= c <= 60),
    ),
    "at": st.sampled_from([-1, 2.0, "5", True, False, None]),
}


_EDGES: tuple[dict[str, Any], ...] = (
    {"sensor": "roof", "celsius": 21.5, "at": 5, "unit": "C"},
    {"sensor": "roof", "celsius": 21, "at": 5},
    {"sensor": "roof", "celsius": True, "at": 5},
    {"sensor": "roof", "celsius": -90, "at": 0},
    {"sensor": "roof", "celsius": 60, "at": 0},
    {"sensor": "   ", "celsius": 20, "at": 1},
    {"sensor": "roof", "celsius": float("nan"), "at": 1},
    {"sensor": "roof", "celsius": 20, "at": True},
    {"sensor": 7, "at": 1},
    {"sensor": "roof", "celsius": 99},
)
"""Bodies every submission is tried on first, before the generated ones: the rules' edges."""

_ORDER = (
    "fields are checked in the order sensor, celsius, at, and for each field presence, then type, then "
    "value — the first problem wins"
)


@st.composite
def _bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, _ in _FIELDS:
        how = draw(st.sampled_from(["valid", "valid", "valid", "invalid", "missing"]))
        if how != "missing":
            body[name] = draw(_VALID[name] if how == "valid" else _INVALID[name])
    if draw(st.booleans()):
        body[draw(st.sampled_from(["unit", "battery", "id"]))] = draw(st.sampled_from(["C", 0.9, "x"]))
    return body


def _why_validate(body: Mapping[str, Any], want: Result[dict[str, Any], ErrInfo]) -> str:
    """The rule behind the expected answer for ``body``, in the exercise's words."""
    if isinstance(want, Ok):
        extra = sorted(set(body) - {"sensor", "celsius", "at"})
        shown = f" (the extra field{'s' * (len(extra) > 1)} {', '.join(extra)} must not be kept)" if extra else ""
        return f"every rule holds, so the reading is valid: Ok with exactly sensor, celsius as a float, and at{shown}"
    code = want.error.code
    for name, _ in _FIELDS:
        if name not in body:
            if code == "MISSING_FIELD":
                return f"{name!r} is missing ({_ORDER})"
            break
        value = body[name]
        if code == "BAD_TYPE" and want.error.message.startswith(name):
            if isinstance(value, bool):
                return f"{name} is {value!r}, a bool — a bool is not a number here (isinstance(True, int) is True: exclude bool)"
            return f"{name} is {value!r}, of the wrong type ({_ORDER})"
        if code == "BAD_VALUE" and want.error.message.startswith(name):
            return (
                f"{name} is {value!r}, and it {want.error.message.split(' ', 1)[1]} — a value against the rules "
                f"is BAD_VALUE ({_ORDER})"
            )
    return _ORDER


def _probe_validate(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 1: ``validate_reading`` on the judge's body; what it returned or raised."""
    validate = kit.function(ns, "validate_reading")
    try:
        return {"outcome": "returned", "value": validate(dict(payload))}
    except NotImplementedError:
        raise kit.not_done("validate_reading") from None
    except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
        return {"outcome": "raised", "error": kit.describe_exception(error)}


def _returned(answer: object, doing: str) -> Any:
    """What a pure function returned, from its probe's answer; its exception is the verdict."""
    if not (
        isinstance(answer, dict)
        and (
            (answer.get("outcome") == "returned" and "value" in answer)
            or (answer.get("outcome") == "raised" and isinstance(answer.get("error"), str))
        )
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    if answer["outcome"] == "raised":
        raise kit.CheckFailed(f"{doing} raised {answer['error']}")
    return answer["value"]


def judge_validate_reading(worker: Worker) -> str:
    refuse_borrowed(worker, "validate_reading")

    def prop(body: dict[str, Any]) -> None:
        want = _validate_reference(body)
        doing = f"validate_reading({kit.show(body, 140)})"
        got = _returned(worker.ask("validate", body), doing)
        if not isinstance(got, (Ok, Err)):
            raise kit.CheckFailed(
                f"{doing} returned {kit.show(got)}: validation returns a Result — Ok(record) or Err(ErrInfo(...))"
            )
        if isinstance(want, Ok):
            if (
                isinstance(got, Ok)
                and got == want
                and isinstance(got.value, dict)
                and all(type(got.value[k]) is type(want.value[k]) for k in want.value)
            ):
                return
            raise kit.CheckFailed(
                f"{_why_validate(body, want)}. Expected {kit.show(want, 160)}, {doing} gave {kit.show(got, 160)}"
            )
        if not isinstance(got, Err) or not isinstance(got.error, ErrInfo):
            raise kit.CheckFailed(
                f"{_why_validate(body, want)}. Expected Err with code {want.error.code}, {doing} gave {kit.show(got, 160)}"
            )
        if got.error.code != want.error.code:
            raise kit.CheckFailed(
                f"{_why_validate(body, want)}. Expected the code {want.error.code}, {doing} gave {got.error.code} "
                f"({kit.show(got.error.message, 80)})"
            )
        if got.error.retryable:
            raise kit.CheckFailed(
                f"{doing} gave {kit.show(got, 160)}: a validation error is never retryable — the same body fails "
                "the same way every time"
            )

    for body in _EDGES:
        prop(body)
    kit.for_all(_bodies(), prop, examples=150)
    return (
        "checks sensor, celsius, at in order — presence, type (a bool is not a number), value — returns the first "
        "problem's code, never retryable, and keeps exactly the three fields, celsius as a float"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: the steps of the pipeline

_ANSWERS: dict[str, ErrInfo] = {
    "503": ErrInfo("HTTP_503", "503 Service Unavailable", retryable=True),
    "drop": ErrInfo("HTTP_CONNECTION", "RemoteProtocolError: Server disconnected", retryable=True),
    "404": ErrInfo("HTTP_404", "404 Not Found"),
    "broken": ErrInfo("BAD_JSON", "the body is not JSON"),
}
_BODIES = ("good", "hot", "typo")
_RETRYABLE = ("503", "drop")


def reading_key(record: Mapping[str, Any]) -> str:
    """Where a reading is stored: ``"<sensor>@<at>"``."""
    return f"{record['sensor']}@{record['at']}"


def _body(item: str, entry: str) -> dict[str, Any]:
    at = 1000 + int(item[1:])
    if entry == "good":
        return {"sensor": f"s-{item}", "celsius": 21.5, "at": at, "unit": "C"}
    if entry == "hot":
        return {"sensor": f"s-{item}", "celsius": 99, "at": at}
    return {"sensor": f"s-{item}", "celsius": "21.5", "at": at}


class ScriptedReadings:
    """An ``HttpClientCap`` on the loop's clock: request *n* for ``/readings/<id>`` answers
    entry *n* of that id's script (the last repeats); an unknown path is a 404.  Counts
    requests per id and the most requests in flight at once."""

    def __init__(self, scripts: Mapping[str, Sequence[str]]) -> None:
        self.scripts = {item: list(script) for item, script in scripts.items()}
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.peak = 0

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        if not isinstance(url, str):
            raise TypeError(f"get_json takes a url (str), got {type(url).__name__}")
        item = url[len("/readings/") :] if url.startswith("/readings/") else None
        self.requests[url] += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
        finally:
            self.in_flight -= 1
        if item is None or item not in self.scripts:
            return Err(ErrInfo("HTTP_404", f"404 Not Found: {url}"))
        script = self.scripts[item]
        entry = script[min(self.requests[url], len(script)) - 1]
        if entry in _ANSWERS:
            return Err(_ANSWERS[entry])
        return Ok(_body(item, entry))


@dataclass
class FlakyStore:
    """A ``StorageCap`` (an upsert per key) whose first saves of some keys fail: ``busy[key]``
    saves answer ``Err(DB_BUSY)`` without writing; a key in ``lost`` has its first write land
    and then answers ``Err(DB_TIMEOUT)`` (the reply was lost).  Both are retryable."""

    busy: Mapping[str, int] = field(default_factory=dict)
    lost: frozenset[str] = frozenset()
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        self.calls[str(key)] += 1
        await asyncio.sleep(0.005)
        if self.calls[str(key)] <= self.busy.get(str(key), 0):
            return Err(ErrInfo("DB_BUSY", "database is locked", retryable=True))
        self.records[str(key)] = dict(record)
        if key in self.lost and self.calls[str(key)] == self.busy.get(str(key), 0) + 1:
            return Err(ErrInfo("DB_TIMEOUT", "the write landed, the reply was lost", retryable=True))
        return Ok(None)

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        await asyncio.sleep(0)
        if key not in self.records:
            return Err(ErrInfo("NOT_FOUND", f"no record under {key!r}"))
        return Ok(dict(self.records[key]))


def _steps_reference(
    http: ScriptedReadings,
    store: FlakyStore,
    validate: Callable[[Mapping[str, Any]], Result[Any, ErrInfo]],
    policy: RetryPolicy,
) -> list[Step]:
    """The reference answer of Task 2."""
    return [
        ("fetch", lambda item: async_retry(async_lift(lambda: http.get_json(f"/readings/{item}")), policy)),
        ("validate", lambda body: async_from_result(validate(body))),
        ("save", lambda record: async_retry(async_lift(lambda: store.save(reading_key(record), record)), policy)),
    ]


@dataclass(frozen=True)
class _Case:
    scripts: tuple[tuple[str, tuple[str, ...]], ...]
    busy: tuple[tuple[str, int], ...]
    lost: tuple[str, ...]
    attempts: int
    exponential: bool
    concurrency: int

    @property
    def ids(self) -> list[str]:
        return [item for item, _ in self.scripts]

    @property
    def policy(self) -> RetryPolicy:
        backoff = ExponentialBackoff(0.5, 2, cap=2) if self.exponential else ConstantBackoff(0.5)
        return RetryPolicy(max_attempts=self.attempts, backoff=backoff)

    def data(self) -> dict[str, Any]:
        """This case as JSON data, for a probe's payload."""
        return {
            "scripts": [[item, list(script)] for item, script in self.scripts],
            "busy": [[key, n] for key, n in self.busy],
            "lost": list(self.lost),
            "attempts": self.attempts,
            "exponential": self.exponential,
            "concurrency": self.concurrency,
        }

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> _Case:
        """The case :meth:`data` described (the worker's side)."""
        return _Case(
            tuple((str(item), tuple(str(e) for e in script)) for item, script in data["scripts"]),
            tuple((str(key), int(n)) for key, n in data["busy"]),
            tuple(str(k) for k in data["lost"]),
            int(data["attempts"]),
            bool(data["exponential"]),
            int(data["concurrency"]),
        )

    def world(self) -> tuple[ScriptedReadings, FlakyStore]:
        return ScriptedReadings(dict(self.scripts)), FlakyStore(dict(self.busy), frozenset(self.lost))

    def describe(self, item: str) -> str:
        script = dict(self.scripts)[item]
        key = f"s-{item}@{1000 + int(item[1:])}"
        parts = [f"GET /readings/{item} answers [{', '.join(script)}] (the last repeats)"]
        if dict(self.busy).get(key):
            parts.append(f"its first {dict(self.busy)[key]} save(s) answer DB_BUSY")
        if key in self.lost:
            parts.append("its first write lands but the reply is lost (DB_TIMEOUT)")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"{len(self.scripts)} ids, {self.policy!r}, concurrency={self.concurrency}"


_INVALID_FIRST = _Case((("r00", ("hot",)),), (), (), 2, False, 1)
"""One reading, too hot to be valid: it must end at validate, never saved."""


@st.composite
def _cases(draw: st.DrawFn) -> _Case:
    n = draw(st.integers(1, 8))
    entries = st.sampled_from(["503", "good", "drop", "404", "broken", "hot", "typo"])
    scripts = tuple((f"r{k:02d}", tuple(draw(st.lists(entries, min_size=1, max_size=4)))) for k in range(n))
    keys = [f"s-r{k:02d}@{1000 + k}" for k in range(n)]
    busy = tuple((key, draw(st.integers(0, 3))) for key in keys if draw(st.integers(0, 2)) == 0)
    lost = tuple(key for key in keys if draw(st.integers(0, 3)) == 0)
    return _Case(scripts, busy, lost, draw(st.integers(1, 4)), draw(st.booleans()), draw(st.integers(1, 4)))


@dataclass(frozen=True)
class _Pipeline:
    ledger: Ledger
    requests: dict[str, int]
    saves: dict[str, int]
    keys: list[str]


def _outcome_text(outcome: Outcome | None) -> str:
    if outcome is None:
        return "no outcome"
    if outcome.error is None:
        return "saved"
    return f"failed at {outcome.stage!r} with {outcome.error.code}"


def _run_steps(build: Callable[..., Any], case: _Case, name: str) -> _Pipeline:
    http, store = case.world()
    doing = f"{name}(http, store, validate, policy)"
    steps = kit.call(build, http, store, _validate_reference, case.policy, doing=doing)
    if not isinstance(steps, (list, tuple)):
        raise kit.CheckFailed(f"{doing} returned {kit.show(steps)}: return the steps, a list of (name, function) pairs")
    try:
        plan = account_for(case.ids, list(steps), concurrency=case.concurrency)
    except (TypeError, ValueError) as error:
        raise kit.CheckFailed(
            f'account_for refused your steps ({error}): each step is a pair ("fetch", function) whose function '
            "takes the previous value and returns an AsyncPlan"
        ) from None
    for _name, step in list(steps)[:1]:  # describing runs nothing, even when the fetch step is called
        try:
            made = step(case.ids[0])
        except Exception:  # noqa: BLE001 - judged below, when the plan is driven
            made = None
        if asyncio.iscoroutine(made):
            made.close()
    if http.requests or store.calls:
        raise kit.CheckFailed(
            f"describing runs nothing, but building the steps (or calling the fetch step without driving its plan) "
            f"already made {sum(http.requests.values())} request(s) and {sum(store.calls.values())} save(s): "
            "a step returns a plan, and only the shell drives it"
        )
    result = kit.simulate(plan, doing=f"driving account_for(ids, {name}(...), concurrency={case.concurrency})")
    if not isinstance(result, Ok):  # pragma: no cover - account_for always succeeds
        raise kit.CheckFailed(f"the pipeline produced {kit.show(result)}")
    ledger = result.value
    return _Pipeline(
        ledger,
        {item: http.requests[f"/readings/{item}"] for item in case.ids},
        dict(store.calls),
        sorted(store.records),
    )


def _why_steps(case: _Case, item: str, want: _Pipeline, got: _Pipeline) -> str:
    w = {o.item: o for o in want.ledger.outcomes}.get(item)
    g = {o.item: o for o in got.ledger.outcomes}.get(item)
    script = dict(case.scripts)[item]
    key = f"s-{item}@{1000 + int(item[1:])}"
    if g is not None and g.stage is not None and g.stage not in ("fetch", "validate", "save"):
        return (
            f'the steps are named exactly "fetch", "validate", "save" — the ledger reported a step called {g.stage!r}'
        )
    if got.requests[item] > want.requests[item]:
        last = script[min(want.requests[item], len(script)) - 1]
        if last not in _RETRYABLE and last in _ANSWERS:
            return (
                f"retry only what may succeed: {_ANSWERS[last].code} is not retryable, so the input ends after "
                f"that request — retry with async_retry and the policy, which trusts ErrInfo.retryable"
            )
        return f"at most policy.max_attempts={case.attempts} requests per input, and the first Ok ends the retries"
    if got.requests[item] < want.requests[item]:
        return (
            "retry the fetch with async_retry(..., policy): a 503 or a dropped connection is retryable and "
            "may succeed on a later attempt"
        )
    if g is not None and g.saved and w is not None and w.stage == "validate":
        return "a record that fails validation is never saved: the validate step's Err ends the input"
    if got.saves.get(key, 0) < want.saves.get(key, 0):
        return (
            "retry the save with async_retry(..., policy) too: DB_BUSY and a lost reply are retryable, and "
            "the upsert on the reading's key makes the retried save safe"
        )
    if got.saves.get(key, 0) > want.saves.get(key, 0):
        return "save each valid record once, retried only while the save returns a retryable Err"
    if (g is None) != (w is None) or (g and w and (g.stage, g.error) != (w.stage, w.error)):
        return "each step passes its value on: fetch gives the body, validate the record, save stores that record"
    return "the stored keys differ"


def _probe_steps(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 2: ``account_for`` over the student's steps on the judge's
    world, driven on virtual time; the ledger's outcomes, the requests per id, the save calls
    per key and the stored keys."""
    build = kit.function(ns, "reading_steps")
    got = _run_steps(build, _Case.from_data(payload), "reading_steps")
    return {
        "outcomes": [[o.item, o.stage, o.error] for o in got.ledger.outcomes],
        "requests": got.requests,
        "saves": got.saves,
        "keys": got.keys,
    }


def _counts(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(n, int) and not isinstance(n, bool) for k, n in value.items()
    )


def _steps_answer(answer: Any, case: _Case) -> _Pipeline:
    ok = (
        isinstance(answer, dict)
        and isinstance(answer.get("outcomes"), list)
        and _counts(answer.get("requests"))
        and set(answer["requests"]) == set(case.ids)
        and _counts(answer.get("saves"))
        and isinstance(answer.get("keys"), list)
        and all(isinstance(k, str) for k in answer["keys"])
        and all(
            isinstance(o, list)
            and len(o) == 3
            and isinstance(o[0], str)
            and (o[1] is None or isinstance(o[1], str))
            and (o[2] is None or isinstance(o[2], ErrInfo))
            for o in answer["outcomes"]
        )
    )
    if not ok:
        raise kit.CheckFailed(kit.TAMPERED)
    try:
        ledger = Ledger(tuple(Outcome(item, stage, error) for item, stage, error in answer["outcomes"]))
    except (TypeError, ValueError):
        raise kit.CheckFailed(kit.TAMPERED) from None
    return _Pipeline(ledger, dict(answer["requests"]), dict(answer["saves"]), list(answer["keys"]))


def judge_reading_steps(worker: Worker) -> str:
    refuse_borrowed(worker, "reading_steps")

    def prop(case: _Case) -> None:
        got = _steps_answer(worker.ask("steps", case.data()), case)
        want = _run_steps(_steps_reference, case, "the reference")
        expected_keys = {f"s-{item}@{1000 + int(item[1:])}" for item in case.ids}
        strange = sorted(set(got.saves) - expected_keys)
        if strange:
            raise kit.CheckFailed(
                f'save each record under its reading\'s key, f"{{sensor}}@{{at}}" (e.g. {min(expected_keys)!r}): '
                f"with {case!r}, your steps saved under {strange[:3]}"
            )
        problems = got.ledger.problems(case.ids)
        if problems:  # pragma: no cover - account_for guarantees it; a guard for the course's own tests
            raise kit.CheckFailed(f"the ledger does not account for every input exactly once: {problems}")
        for item in case.ids:
            w = {o.item: o for o in want.ledger.outcomes}[item]
            g = {o.item: o for o in got.ledger.outcomes}[item]
            key = f"s-{item}@{1000 + int(item[1:])}"
            same = (
                (g.stage, g.error and g.error.code) == (w.stage, w.error and w.error.code)
                and got.requests[item] == want.requests[item]
                and got.saves.get(key, 0) == want.saves.get(key, 0)
            )
            if not same:
                raise kit.CheckFailed(
                    f"{_why_steps(case, item, want, got)}. With {case!r}, {case.describe(item)}: expected "
                    f"{_outcome_text(w)} after {want.requests[item]} request(s) and {want.saves.get(key, 0)} save "
                    f"call(s); your steps gave {_outcome_text(g)} after {got.requests[item]} request(s) and "
                    f"{got.saves.get(key, 0)} save call(s)"
                )
        if got.keys != want.keys:
            raise kit.CheckFailed(
                f'save each record under its reading\'s key, f"{{sensor}}@{{at}}": with {case!r}, expected the stored '
                f"keys {want.keys}, your steps stored {got.keys}"
            )

    kit.for_all(_cases(), prop, known=[_INVALID_FIRST])  # an invalid reading, whatever the run's seed
    return (
        "describing runs nothing; fetch, validate, save named as in the ledger; the fetch and the save retried with "
        "the policy exactly where the error is retryable; invalid records never saved; one row per saved input"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: reconcile a ledger with the database

_REPORT_KEYS = ("lost", "duplicated", "unsaved", "unreported")


def _reconcile_reference(ids: Sequence[str], ledger: Ledger, keys: Sequence[str]) -> dict[str, list[str]]:
    """The reference answer of Task 3."""
    seen = Counter(o.item for o in ledger.outcomes)
    reported_saved = {o.item for o in ledger.outcomes if o.saved}
    stored = set(keys)
    return {
        "lost": sorted(i for i in set(ids) if seen[i] == 0),
        "duplicated": sorted(i for i in seen if seen[i] > 1),
        "unsaved": sorted(reported_saved - stored),
        "unreported": sorted(stored - reported_saved),
    }


_FAILED = ErrInfo("HTTP_503", "503 Service Unavailable", retryable=True)


@dataclass(frozen=True)
class _Books:
    ids: tuple[str, ...]
    ledger: Ledger
    keys: tuple[str, ...]

    def data(self) -> dict[str, Any]:
        """These books as JSON data, for a probe's payload (a failure is always the same 503)."""
        return {
            "ids": list(self.ids),
            "outcomes": [[o.item, o.saved] for o in self.ledger.outcomes],
            "keys": list(self.keys),
        }

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> _Books:
        """The books :meth:`data` described (the worker's side)."""
        outcomes = tuple(
            Outcome(str(item)) if saved else Outcome(str(item), "fetch", _FAILED) for item, saved in data["outcomes"]
        )
        return _Books(tuple(str(i) for i in data["ids"]), Ledger(outcomes), tuple(str(k) for k in data["keys"]))

    def __repr__(self) -> str:
        lines = ", ".join(str(o) for o in self.ledger.outcomes)
        return f"ids {list(self.ids)}, ledger [{lines}], keys {list(self.keys)}"


@st.composite
def _books(draw: st.DrawFn) -> _Books:
    pool = [f"{k:03d}" for k in range(1, 13)]
    ids = draw(st.lists(st.sampled_from(pool), unique=True, max_size=8))
    outcomes: list[Outcome] = []
    for item in ids:
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
            outcomes.append(Outcome(item) if draw(st.booleans()) else Outcome(item, "fetch", _FAILED))
    outcomes = draw(st.permutations(outcomes))
    saved = [o.item for o in outcomes if o.saved]
    keys = [k for k in dict.fromkeys(saved) if draw(st.integers(0, 5)) > 0]
    keys += draw(st.lists(st.sampled_from(pool), unique=True, max_size=2))
    keys = list(dict.fromkeys(draw(st.permutations(keys))))
    return _Books(tuple(ids), Ledger(tuple(outcomes)), tuple(keys))


_MEANING = {
    "lost": "an input with no outcome in the ledger",
    "duplicated": "an input with more than one outcome in the ledger",
    "unsaved": "the ledger says saved, but the database has no row under that id",
    "unreported": "the database has a row the ledger does not say was saved (a lost reply, a stray write)",
}


def _probe_reconcile(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 3: ``reconcile`` on the judge's ids, ledger and keys; what it returned or raised."""
    reconcile = kit.function(ns, "reconcile")
    books = _Books.from_data(payload)
    try:
        return {"outcome": "returned", "value": reconcile(list(books.ids), books.ledger, list(books.keys))}
    except NotImplementedError:
        raise kit.not_done("reconcile") from None
    except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
        return {"outcome": "raised", "error": kit.describe_exception(error)}


def judge_reconcile(worker: Worker) -> str:
    refuse_borrowed(worker, "reconcile")

    def prop(books: _Books) -> None:
        want = _reconcile_reference(books.ids, books.ledger, books.keys)
        doing = "reconcile(ids, ledger, keys)"
        got = _returned(worker.ask("reconcile", books.data()), doing)
        if not isinstance(got, Mapping) or set(got) != set(_REPORT_KEYS):
            raise kit.CheckFailed(
                f"{doing} returned {kit.show(got)}: return a dict with exactly the keys "
                f"{', '.join(repr(k) for k in _REPORT_KEYS)}, each a sorted list of ids"
            )
        for name in _REPORT_KEYS:
            value = got[name]
            if not isinstance(value, list):
                raise kit.CheckFailed(f"report[{name!r}] is {kit.show(value)}: each entry is a sorted list of ids")
            if value == want[name]:
                continue
            if sorted(set(value)) == want[name]:
                raise kit.CheckFailed(
                    f"report[{name!r}] has the right ids in another order or repeated: {value} — list each id once, "
                    f"sorted, so a report compares equal however the batch interleaved. For {books!r}"
                )
            raise kit.CheckFailed(
                f"report[{name!r}] lists {_MEANING[name]}: for {books!r} expected {want[name]}, got {value}"
            )

    kit.for_all(_books(), prop, examples=120)
    return (
        "finds the lost, the duplicated, the unsaved and the unreported ids — each list sorted, each id once — "
        "whatever order the ledger and the keys come in"
    )


PROBES = {
    "reaches": prober(
        {
            "validate_reading": {"_validate_reference": _validate_reference},
            "reading_steps": {"_steps_reference": _steps_reference},
            "reconcile": {"_reconcile_reference": _reconcile_reference},
        }
    ),
    "validate": _probe_validate,
    "steps": _probe_steps,
    "reconcile": _probe_reconcile,
}
"""What the worker answers: ``validate`` (Task 1), ``steps`` (Task 2), ``reconcile`` (Task 3),
and ``reaches`` (whether a task function uses the grader's reference answer)."""


EXERCISE = Exercise(
    slug="08_async_service_integrations",
    title="08 · Async Service Integrations",
    tasks=(
        Task("t1", "Validate a reading", 3, ("validate_reading",), judge=judge_validate_reading),
        Task("t2", "Write the steps of the pipeline", 4, ("reading_steps",), judge=judge_reading_steps),
        Task("t3", "Reconcile a ledger with the database", 3, ("reconcile",), judge=judge_reconcile),
    ),
)
