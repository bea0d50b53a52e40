"""Exercise 01 · async/await as Descriptions: the checks of its three tasks.

* t1 ``fetch_email(user_id, http)`` — describe one fetch: building runs nothing, driving
  makes one ``GET /users/<id>`` and yields the email (or the fetch's ``Err``), replaying
  runs it again;
* t2 ``team_lead_email(user_id, http)`` — three dependent fetches (user → team → lead);
  the first ``Err`` short-circuits and comes out unchanged;
* t3 ``assert_replayable(plan)`` — a test helper, judged by the plans it accepts and
  rejects: replayable plans pass, plans whose result changes or that reuse one coroutine fail.

Every task is decided by a judge outside the worker: it generates directories (users,
teams, missing entries, scripted faults) from the grading run's seed, asks the worker's
probes (``PROBES``) to build and drive the student's plans on them, and compares the
results and recorded calls with its own reference plan — so no hard-coded answer and no
forged verdict passes.  Task 3's plans are described as data (a start value and steps, a
shared counter cell, a single coroutine) and built on each side from that description.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fakes import FakeHttp
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import (
    AsyncPlan,
    ReusedCoroutineError,
    async_bind,
    async_fail,
    async_lift,
    async_map,
    async_pure,
)
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "Directory", "directories"]

USERS = ("ada", "grace", "alan", "edsger")
TEAMS = ("core", "infra", "web")


@dataclass(frozen=True)
class Directory:
    """A generated world behind a ``FakeHttp``: user and team documents, and scripted faults."""

    users: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    teams: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    faults: Mapping[str, ErrInfo] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """This directory as JSON data, for a probe's payload."""
        return {
            "users": {u: dict(b) for u, b in self.users.items()},
            "teams": {t: dict(b) for t, b in self.teams.items()},
            "faults": {url: [e.code, e.message, e.retryable] for url, e in self.faults.items()},
        }

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> Directory:
        """The directory :meth:`data` described (the worker's side)."""
        faults = {str(url): ErrInfo(str(code), str(message), bool(retryable))
                  for url, (code, message, retryable) in data["faults"].items()}
        return Directory(
            {str(u): {str(k): str(v) for k, v in b.items()} for u, b in data["users"].items()},
            {str(t): {str(k): str(v) for k, v in b.items()} for t, b in data["teams"].items()},
            faults,
        )

    def http(self) -> FakeHttp:
        """A fresh recording fake serving this directory."""
        responses = {f"/users/{u}": body for u, body in self.users.items()}
        responses.update({f"/teams/{t}": body for t, body in self.teams.items()})
        return FakeHttp(responses, failures=self.faults)

    def __repr__(self) -> str:
        parts = [f"user {u} ({b['email']}, team {b['team']})" for u, b in self.users.items()]
        parts += [f"team {t} (lead {b['lead']})" for t, b in self.teams.items()]
        parts += [f"GET {url} fails with {e.code}" for url, e in self.faults.items()]
        return "; ".join(parts) if parts else "an empty directory"

    def story(self, user_id: str, steps: int) -> str:
        """In words, what the first ``steps`` fetches of the chain from ``user_id`` find."""
        parts: list[str] = []
        kind, key = "user", user_id
        for step in range(1, steps + 1):
            url = f"/{kind}s/{key}"
            if url in self.faults:
                parts.append(f"GET {url} fails with {self.faults[url].code}")
                break
            documents = self.users if kind == "user" else self.teams
            if key not in documents:
                parts.append(f"there is no {kind} {key} (GET {url} answers HTTP_404)")
                break
            body = documents[key]
            if kind == "team":
                parts.append(f"team {key} is led by {body['lead']}")
                kind, key = "user", body["lead"]
            elif step == steps:
                parts.append(f"{key}'s email is {body['email']}")
            else:
                parts.append(f"{key} is in team {body['team']}")
                kind, key = "team", body["team"]
        return ", ".join(parts)


def _emails() -> st.SearchStrategy[str]:
    local = st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=6)
    return st.builds(lambda name, host: f"{name}@{host}.org", local, st.sampled_from(["example", "mail", "lab"]))


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly present: the simplest example (what Hypothesis shrinks towards) is 'present'."""
    return st.one_of(strategy, strategy, strategy, st.none())


_FAULTS = st.builds(
    ErrInfo,
    st.sampled_from(["HTTP_503", "HTTP_500", "TIMEOUT"]),
    st.just("scripted fault"),
    st.booleans(),
)


_USER_BODY = _maybe(st.fixed_dictionaries({"email": _emails(), "team": st.sampled_from(TEAMS)}))
_LEAD = _maybe(st.sampled_from(USERS))
_FAULT = st.one_of(st.none(), st.none(), st.none(), st.none(), st.none(), _FAULTS)
_URLS = [f"/users/{u}" for u in USERS] + [f"/teams/{t}" for t in TEAMS]


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    """Directories of up to four users and three teams, some missing, some failing."""
    users: dict[str, dict[str, str]] = {}
    for u in USERS:
        body = draw(_USER_BODY)
        if body is not None:
            users[u] = {"id": u, **body}
    teams: dict[str, dict[str, str]] = {}
    for t in TEAMS:
        lead = draw(_LEAD)
        if lead is not None:
            teams[t] = {"id": t, "lead": lead}
    faults: dict[str, ErrInfo] = {}
    for url in _URLS:
        fault = draw(_FAULT)
        if fault is not None:
            faults[url] = fault
    return Directory(users, teams, faults)


_CASES = st.tuples(directories(), st.sampled_from(USERS))


def _get(url: str, http: FakeHttp) -> AsyncPlan[Mapping[str, Any]]:
    return async_lift(lambda: http.get_json(url))


def _reference(plan_for: Callable[[FakeHttp], AsyncPlan[Any]], directory: Directory) -> tuple[Result[Any, ErrInfo], list[str]]:
    """What the reference plan gives on a fresh fake of ``directory``, and the calls it makes."""
    http = directory.http()
    result = kit.drive(plan_for(http), doing="the reference plan")
    return result, list(http.calls)


def _build(fn: Callable[..., Any], user_id: str, http: FakeHttp, name: str) -> AsyncPlan[Any]:
    doing = f"{name}({user_id!r}, http)"
    plan = kit.as_plan(kit.call(fn, user_id, http, doing=doing), doing=doing)
    if http.calls:
        raise kit.CheckFailed(
            f"describing runs nothing, but building {doing} already called {http.calls}. "
            "Wrap each call so it runs only when a shell drives the plan: async_lift(lambda: http.get_json(url))"
        )
    return plan


# ---------------------------------------------------------------------------------------------
# The worker's side: probes build and drive the student's plans, and report what happened.

_BUILDERS = ("fetch_email", "team_lead_email")


def _probe_fetch(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """Build ``name(user_id, http)`` on the described directory, drive it ``drives`` times;
    each drive's result and the calls the fake has seen after it."""
    name = str(payload["name"])
    if name not in _BUILDERS:
        raise kit.CheckFailed(f"no such task function {name!r}")
    fn = kit.function(ns, name)
    user_id = str(payload["user_id"])
    http = Directory.from_data(payload["directory"]).http()
    plan = _build(fn, user_id, http, name)
    drives = []
    for n in range(int(payload["drives"])):
        doing = f"driving {name}({user_id!r}, http)" if n == 0 else (
            f"driving the same {name}({user_id!r}, http) plan a second time")
        result = kit.simulate(plan, doing=doing)
        drives.append({"result": result, "calls": list(http.calls)})
    return drives


def _probe_replay(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Hand the described plan to the student's ``assert_replayable``; what it did with it."""
    assert_replayable = kit.function(ns, "assert_replayable")
    kit.refuse_async(
        assert_replayable, "assert_replayable",
        drive="drives the plan with run_sync — a Hypothesis property cannot be async",
    )
    plan, cleanup = _make_case(payload)
    try:
        try:
            returned = assert_replayable(plan)
        except AssertionError as error:
            return {"outcome": "rejected", "error": kit.describe_exception(error)}
        except ReusedCoroutineError:
            return {"outcome": "reused"}
        except NotImplementedError:
            raise kit.not_done("assert_replayable") from None
        except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
            return {"outcome": "raised", "error": kit.describe_exception(error)}
    finally:
        cleanup()
    return {"outcome": "accepted", "returned_false": returned is False}


PROBES = {"fetch": _probe_fetch, "replay": _probe_replay}
"""What the worker answers: ``fetch`` (Tasks 1 and 2) and ``replay`` (Task 3)."""


# ---------------------------------------------------------------------------------------------
# The judge's side.


def _answer_drives(answer: Any, drives: int) -> list[tuple[Any, list[str]]]:
    """The worker's drives as ``(result, calls)`` pairs, or a verdict if it said something else."""
    if not isinstance(answer, list) or len(answer) != drives or not all(
        isinstance(d, dict) and isinstance(d.get("calls"), list) for d in answer
    ):
        raise kit.CheckFailed("the checking process gave an answer of the wrong shape (was the grader tampered with?)")
    return [(d.get("result"), [str(c) for c in d["calls"]]) for d in answer]


def _ask_fetch(worker: Worker, name: str, directory: Directory, user_id: str, drives: int) -> list[tuple[Any, list[str]]]:
    payload = {"name": name, "user_id": user_id, "directory": directory.data(), "drives": drives}
    return _answer_drives(worker.ask("fetch", payload), drives)


# ---------------------------------------------------------------------------------------------
# Task 1: describe a fetch


def judge_fetch_email(worker: Worker) -> str:
    def prop(case: tuple[Directory, str]) -> None:
        directory, user_id = case
        (first, calls), (second, calls_after_two) = _ask_fetch(worker, "fetch_email", directory, user_id, 2)
        doing = f"driving fetch_email({user_id!r}, http)"
        expected, expected_calls = _reference(
            lambda h: async_map(_get(f"/users/{user_id}", h), lambda body: body["email"]), directory
        )
        when = f"when {directory.story(user_id, 1)}"
        if first != expected:
            if isinstance(expected, Err):
                raise kit.CheckFailed(
                    f"an Err passes through the plan unchanged: {when}, expected {kit.show(expected)}, "
                    f"but {doing} gave {kit.show(first)}"
                )
            if isinstance(first, Ok) and isinstance(first.value, Mapping):
                raise kit.CheckFailed(
                    f"{doing} gave the whole document, {kit.show(first)}; expected {kit.show(expected)}. "
                    "Map the document to its email with async_map"
                )
            raise kit.CheckFailed(f"{when}, {doing} gave {kit.show(first)}; expected {kit.show(expected)}")
        if calls != expected_calls:
            raise kit.CheckFailed(f"one drive makes exactly one call, {expected_calls}; {doing} made {calls}")
        if second != first:
            raise kit.CheckFailed(
                f"replaying a plan gives the same result: the first drive gave {kit.show(first)}, "
                f"the second {kit.show(second)}"
            )
        if calls_after_two != expected_calls * 2:
            raise kit.CheckFailed(
                f"replaying a plan runs its effects again: after two drives the fake saw {calls_after_two}, "
                f"expected {expected_calls * 2}. Did the plan keep the first answer instead of describing the fetch?"
            )

    kit.for_all(_CASES, prop)
    return (
        "describing runs nothing; each drive makes one GET /users/<id> and yields the email, "
        "or the fetch's Err unchanged; replaying runs the fetch again, with the same result"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: chain three dependent steps


def _reference_lead(user_id: str, http: FakeHttp) -> AsyncPlan[str]:
    return async_bind(
        _get(f"/users/{user_id}", http),
        lambda user: async_bind(
            _get(f"/teams/{user['team']}", http),
            lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
        ),
    )


def judge_team_lead_email(worker: Worker) -> str:
    def prop(case: tuple[Directory, str]) -> None:
        directory, user_id = case
        ((result, calls),) = _ask_fetch(worker, "team_lead_email", directory, user_id, 1)
        doing = f"driving team_lead_email({user_id!r}, http)"
        expected, expected_calls = _reference(lambda h: _reference_lead(user_id, h), directory)
        when = f"when {directory.story(user_id, 3)}"
        if isinstance(expected, Err):
            if calls[: len(expected_calls)] == expected_calls and len(calls) > len(expected_calls):
                raise kit.CheckFailed(
                    f"the first Err short-circuits: {when}, no later step may run — yet {doing} "
                    f"went on to {calls[len(expected_calls):]}"
                )
            if calls == expected_calls and result != expected:
                raise kit.CheckFailed(
                    f"the first Err comes out unchanged: {when}, expected {kit.show(expected)}, "
                    f"but {doing} gave {kit.show(result)}"
                )
        if calls != expected_calls:
            raise kit.CheckFailed(
                f"each step needs the previous step's answer, so the calls run in order, once each: "
                f"{when}, expected {expected_calls}, but {doing} made {calls}"
            )
        if result != expected:
            raise kit.CheckFailed(f"{when}, {doing} gave {kit.show(result)}; expected {kit.show(expected)}")

    kit.for_all(_CASES, prop)
    return (
        "describing runs nothing; the three GETs run in order, each using the previous answer; "
        "the first Err short-circuits and comes out unchanged"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: a test helper that tells replayable plans from the others


class _CounterPlan:
    """Not replayable: each drive yields the next number (state kept between drives)."""

    def __init__(self, start: int) -> None:
        self._next = start

    def __call__(self) -> Coroutine[Any, Any, Result[int, ErrInfo]]:
        async def run() -> Result[int, ErrInfo]:
            value = self._next
            self._next += 1
            await asyncio.sleep(0)
            return Ok(value)

        return run()


class _FlakyPlan:
    """Not replayable: Ok on the first drive, Err on every later one."""

    def __init__(self, value: int) -> None:
        self._value = value
        self._drives = 0

    def __call__(self) -> Coroutine[Any, Any, Result[int, ErrInfo]]:
        async def run() -> Result[int, ErrInfo]:
            self._drives += 1
            await asyncio.sleep(0)
            return Ok(self._value) if self._drives == 1 else Err(ErrInfo("TIMEOUT", "flaky", retryable=True))

        return run()


async def _suspend_then_ok(x: int) -> Result[int, ErrInfo]:
    await asyncio.sleep(0)
    return Ok(x)


def _leaf(kind: str, x: int) -> AsyncPlan[int]:
    if kind == "pure":
        return async_pure(x)
    if kind == "fail":
        return async_fail(ErrInfo("BOOM", "scripted failure"))
    return async_lift(lambda: _suspend_then_ok(x))


def _then(step: str, k: int) -> Callable[[int], AsyncPlan[int]]:
    if step == "add":
        return lambda x: async_pure(x + k)
    if step == "double":
        return lambda x: async_pure(2 * x)
    if step == "suspend_add":
        return lambda x: async_lift(lambda: _suspend_then_ok(x + k))
    return lambda x: async_fail(ErrInfo("NEGATIVE", "value is negative")) if x < 0 else async_pure(x)


def _make_case(case: Mapping[str, Any]) -> tuple[AsyncPlan[Any], Callable[[], None]]:
    """The plan a case describes (built the same way in the worker and in the judge), and its clean-up."""
    shape, x = str(case["shape"]), int(case["x"])
    if shape == "plan":
        plan = _leaf(str(case["leaf"]), x)
        if case.get("step") is not None:
            step, k = case["step"]
            plan = async_bind(plan, _then(str(step), int(k)))
        return plan, lambda: None
    if shape == "fetch":
        http = FakeHttp({"/users/ada": {"id": "ada", "email": "ada@example.org"}})
        return _get(f"/users/{case['user']}", http), lambda: None
    if shape == "cell":
        return (_CounterPlan(x) if case["step"] == "next" else _FlakyPlan(x)), lambda: None
    coro = _suspend_then_ok(x)  # "once": one coroutine, created once
    return async_lift(lambda: coro), coro.close


def _case_text(case: Mapping[str, Any]) -> str:
    shape, x = case["shape"], case["x"]
    if shape == "plan":
        leaf = {"pure": f"async_pure({x})", "fail": "async_fail(ErrInfo('BOOM'))"}.get(case["leaf"], f"suspend_then_ok({x})")
        if case.get("step") is None:
            return leaf
        step, k = case["step"]
        return f"async_bind({leaf}, {step if step in ('double', 'fail_if_negative') else f'{step}({k})'})"
    if shape == "fetch":
        return f"async_lift(lambda: http.get_json('/users/{case['user']}'))"
    if shape == "cell":
        if case["step"] == "next":
            return f"counter_plan(start={x})  # Ok({x}), then Ok({x + 1}), …"
        return f"flaky_plan({x})  # Ok({x}), then Err(TIMEOUT)"
    return f"async_lift(lambda: coro)  # one coroutine, created once, answering Ok({x})"


def _case_kind(case: Mapping[str, Any]) -> str:
    return {"plan": "replayable", "fetch": "replayable", "cell": "drifting"}.get(case["shape"], "shared coroutine")


_XS = st.integers(-50, 50)
_KS = st.integers(-5, 5)
_STEPS = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["add", "suspend_add"]), st.integers(-3, 3)),
    st.tuples(st.sampled_from(["double", "fail_if_negative"]), st.just(0)),
)
_REPLAY_CASES = st.one_of(
    st.fixed_dictionaries({"shape": st.just("plan"), "leaf": st.sampled_from(["pure", "fail", "suspend"]), "x": _XS,
                           "step": _STEPS}),
    st.fixed_dictionaries({"shape": st.just("fetch"), "user": st.sampled_from(["ada", "bob"]), "x": st.just(0)}),
    st.fixed_dictionaries({"shape": st.just("cell"), "step": st.sampled_from(["next", "flip"]), "x": _KS}),
    st.fixed_dictionaries({"shape": st.just("once"), "x": _KS}),
).map(lambda case: {k: (list(v) if isinstance(v, tuple) else v) for k, v in case.items()})


def judge_assert_replayable(worker: Worker) -> str:
    def prop(case: dict[str, Any]) -> None:
        text, kind = _case_text(case), _case_kind(case)
        doing = f"assert_replayable({text})"
        answer = worker.ask("replay", case)
        outcome = answer.get("outcome") if isinstance(answer, dict) else None
        if outcome == "rejected":
            if kind == "replayable":
                plan, cleanup = _make_case(case)
                result = kit.drive(plan, doing=f"driving {text}")
                cleanup()
                raise kit.CheckFailed(
                    f"assert_replayable rejected a replayable plan: {text} drives to {kit.show(result)} "
                    f"every time, yet {doing} raised {answer.get('error')}"
                )
            return
        if outcome == "reused":
            if kind == "shared coroutine":
                return  # the second drive failed: the helper did reject it
            raise kit.CheckFailed(f"{doing} raised ReusedCoroutineError on a plan that makes a fresh coroutine each time")
        if outcome == "raised":
            raise kit.CheckFailed(
                f"{doing} raised {answer.get('error')}; a test helper fails with AssertionError "
                "(write `assert first == second, ...`) and otherwise returns None"
            )
        if outcome != "accepted":
            raise kit.CheckFailed("the checking process gave an answer of the wrong shape (was the grader tampered with?)")
        if kind == "replayable":
            return
        hint = (
            " It returned False: a test helper must *fail* (raise AssertionError), not return a verdict"
            if answer.get("returned_false") is True else " Drive the plan twice and compare the two results"
        )
        if kind == "shared coroutine":
            raise kit.CheckFailed(
                f"assert_replayable accepted a plan that cannot be replayed: {text} — its second drive "
                f"raises ReusedCoroutineError.{hint}"
            )
        raise kit.CheckFailed(
            f"assert_replayable accepted a plan that is not replayable: {text} gives a different result "
            f"on its second drive.{hint}"
        )

    kit.for_all(_REPLAY_CASES, prop)
    return (
        "accepts replayable plans (pure, failing, suspending, bound, fetching) and rejects plans whose "
        "result changes between drives or that reuse one coroutine"
    )


EXERCISE = Exercise(
    slug="01_async_await_as_descriptions",
    title="01 · async/await as Descriptions",
    tasks=(
        Task("t1", "Describe a fetch, run nothing", 3, ("fetch_email",), judge=judge_fetch_email),
        Task("t2", "Chain three dependent fetches", 4, ("team_lead_email",), judge=judge_team_lead_email),
        Task("t3", "Test that a plan replays", 3, ("assert_replayable",), judge=judge_assert_replayable),
    ),
)
