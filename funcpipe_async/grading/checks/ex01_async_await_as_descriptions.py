"""Exercise 01 · async/await as Descriptions: the checks of its three tasks.

* t1 ``fetch_email(user_id, http)`` — describe one fetch: building runs nothing, driving
  makes one ``GET /users/<id>`` and yields the email (or the fetch's ``Err``), replaying
  runs it again;
* t2 ``team_lead_email(user_id, http)`` — three dependent fetches (user → team → lead);
  the first ``Err`` short-circuits and comes out unchanged;
* t3 ``team_lead_email_left(user_id, http)`` and ``assert_same_chain(one, other, directory)``
  — associativity on the student's own chain: Task 2's three fetches grouped the other way
  give the same results after the same calls on every directory; and a test helper, judged
  by the pairs of chains it accepts and rejects: chains that agree (the two groupings) pass,
  chains whose result or call log differs fail.

Every task is decided by a judge outside the worker: it generates directories (users,
teams, missing entries, scripted faults) from the grading run's seed, asks the worker's
probes (``PROBES``) to build and drive the student's plans on them, and compares the
results and recorded calls with its own reference plan — so no hard-coded answer and no
forged verdict passes.  Task 3's chains are described as data (which of the judge's four chains, a user, a directory)
and built on each side from that description; the helper's verdict is compared with the judge's
own drives of the two chains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fakes import FakeHttp
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import (
    AsyncPlan,
    async_bind,
    async_lift,
    async_map,
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
        faults = {
            str(url): ErrInfo(str(code), str(message), bool(retryable))
            for url, (code, message, retryable) in data["faults"].items()
        }
        return Directory(
            {str(u): {str(k): str(v) for k, v in b.items()} for u, b in data["users"].items()},
            {str(t): {str(k): str(v) for k, v in b.items()} for t, b in data["teams"].items()},
            faults,
        )

    def responses(self) -> dict[str, dict[str, str]]:
        """The documents by URL, as ``FakeHttp(responses)`` takes them."""
        responses = {f"/users/{u}": dict(body) for u, body in self.users.items()}
        responses.update({f"/teams/{t}": dict(body) for t, body in self.teams.items()})
        return responses

    def http(self) -> FakeHttp:
        """A fresh recording fake serving this directory."""
        return FakeHttp(self.responses(), failures=self.faults)

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


def _reference(
    plan_for: Callable[[FakeHttp], AsyncPlan[Any]], directory: Directory
) -> tuple[Result[Any, ErrInfo], list[str]]:
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

_BUILDERS = ("fetch_email", "team_lead_email", "team_lead_email_left")


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
        doing = (
            f"driving {name}({user_id!r}, http)"
            if n == 0
            else (f"driving the same {name}({user_id!r}, http) plan a second time")
        )
        result = kit.simulate(plan, doing=doing)
        drives.append({"result": result, "calls": list(http.calls)})
    return drives


# ---------------------------------------------------------------------------------------------
# The judge's side.


def _answer_drives(answer: Any, drives: int) -> list[tuple[Any, list[str]]]:
    """The worker's drives as ``(result, calls)`` pairs, or a verdict if it said something else."""
    if (
        not isinstance(answer, list)
        or len(answer) != drives
        or not all(isinstance(d, dict) and isinstance(d.get("calls"), list) for d in answer)
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    return [(d.get("result"), [str(c) for c in d["calls"]]) for d in answer]


def _ask_fetch(
    worker: Worker, name: str, directory: Directory, user_id: str, drives: int
) -> list[tuple[Any, list[str]]]:
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


def _judge_chain(worker: Worker, name: str, reference: Callable[[str, FakeHttp], AsyncPlan[str]]) -> None:
    def prop(case: tuple[Directory, str]) -> None:
        directory, user_id = case
        ((result, calls),) = _ask_fetch(worker, name, directory, user_id, 1)
        doing = f"driving {name}({user_id!r}, http)"
        expected, expected_calls = _reference(lambda h: reference(user_id, h), directory)
        when = f"when {directory.story(user_id, 3)}"
        if isinstance(expected, Err):
            if calls[: len(expected_calls)] == expected_calls and len(calls) > len(expected_calls):
                raise kit.CheckFailed(
                    f"the first Err short-circuits: {when}, no later step may run — yet {doing} "
                    f"went on to {calls[len(expected_calls) :]}"
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


def judge_team_lead_email(worker: Worker) -> str:
    _judge_chain(worker, "team_lead_email", _reference_lead)
    return (
        "describing runs nothing; the three GETs run in order, each using the previous answer; "
        "the first Err short-circuits and comes out unchanged"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: regroup the chain, and a test helper that says whether two chains agree


def _reference_left(user_id: str, http: FakeHttp) -> AsyncPlan[str]:
    """Task 2's chain grouped the other way: ``async_bind(async_bind(user, team), lead's email)``."""
    return async_bind(
        async_bind(_get(f"/users/{user_id}", http), lambda user: _get(f"/teams/{user['team']}", http)),
        lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
    )


def _lead_id(user_id: str, http: FakeHttp) -> AsyncPlan[str]:
    """Two fetches, and the lead's id instead of their email: the same calls as far as the team,
    a different result."""
    return async_bind(
        async_bind(_get(f"/users/{user_id}", http), lambda user: _get(f"/teams/{user['team']}", http)),
        lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["id"]),
    )


def _user_twice(user_id: str, http: FakeHttp) -> AsyncPlan[str]:
    """The chain with a redundant first fetch: the same result, one call more (when the user exists)."""
    return async_bind(_get(f"/users/{user_id}", http), lambda _: _reference_lead(user_id, http))


_CHAINS: dict[str, tuple[str, Callable[[str, FakeHttp], AsyncPlan[Any]]]] = {
    "nested": ("Task 2's nested chain", _reference_lead),
    "left": ("the same chain grouped to the left", _reference_left),
    "lead_id": ("a chain that ends with the lead's id instead of their email", _lead_id),
    "twice": ("a chain that fetches the user twice", _user_twice),
}


def _chain_builder(kind: str, user_id: str) -> Callable[[FakeHttp], AsyncPlan[Any]]:
    """What the judge's case ``kind`` describes, as the helper receives it: ``http -> plan``."""
    if kind not in _CHAINS:
        raise kit.CheckFailed(f"no such chain {kind!r}")
    build = _CHAINS[kind][1]
    return lambda http: build(user_id, http)


def _probe_same_chain(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Hand two described chains and a directory to the student's ``assert_same_chain``; what it did."""
    helper = kit.function(ns, "assert_same_chain")
    kit.refuse_async(
        helper,
        "assert_same_chain",
        drive="drives each plan with run_sync — a Hypothesis property cannot be async",
    )
    user_id = str(payload["user_id"])
    one, other = (_chain_builder(str(kind), user_id) for kind in payload["pair"])
    responses = Directory.from_data(payload["directory"]).responses()
    try:
        returned = helper(one, other, responses)
    except AssertionError as error:
        return {"outcome": "rejected", "error": kit.describe_exception(error)}
    except NotImplementedError:
        raise kit.not_done("assert_same_chain") from None
    except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
        return {"outcome": "raised", "error": kit.describe_exception(error)}
    return {"outcome": "accepted", "returned_false": returned is False}


def _pairs() -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(
        [
            ("nested", "left"),
            ("left", "lead_id"),
            ("nested", "twice"),
            ("left", "nested"),
            ("lead_id", "nested"),
            ("twice", "left"),
            ("left", "left"),
        ]
    )


_SAME_CHAIN_CASES = st.tuples(
    _pairs(), directories().map(lambda d: Directory(d.users, d.teams)), st.sampled_from(USERS)
)


def _run_chain(kind: str, user_id: str, directory: Directory) -> tuple[Result[Any, ErrInfo], list[str]]:
    return _reference(lambda h: _CHAINS[kind][1](user_id, h), directory)


def judge_assert_same_chain(worker: Worker) -> None:
    def prop(case: tuple[tuple[str, str], Directory, str]) -> None:
        (a, b), directory, user_id = case
        answer = worker.ask("same_chain", {"pair": [a, b], "user_id": user_id, "directory": directory.data()})
        outcome = answer.get("outcome") if isinstance(answer, dict) else None
        if outcome not in ("accepted", "rejected", "raised"):
            raise kit.CheckFailed(kit.TAMPERED)
        (result_a, calls_a), (result_b, calls_b) = _run_chain(a, user_id, directory), _run_chain(b, user_id, directory)
        agree = result_a == result_b and calls_a == calls_b
        text_a, text_b = _CHAINS[a][0], _CHAINS[b][0]
        where = f"for user {user_id!r} on a directory where {directory.story(user_id, 3)}"
        doing = f"assert_same_chain(<{text_a}>, <{text_b}>, directory)"
        if outcome == "raised":
            raise kit.CheckFailed(
                f"{doing} raised {answer.get('error')} {where}; a test helper fails with AssertionError "
                "(write `assert ..., ...`) and otherwise returns None"
            )
        if outcome == "rejected" and agree:
            raise kit.CheckFailed(
                f"assert_same_chain rejected two chains that agree: {where}, {text_a} and {text_b} both give "
                f"{kit.show(result_a)} after the calls {calls_a}, yet {doing} raised {answer.get('error')}. "
                "Are you comparing what the two drives produced, or the plans themselves? Does each chain get its "
                "own fresh FakeHttp(directory)?"
            )
        if outcome == "accepted" and not agree:
            if answer.get("returned_false") is True:
                hint = " It returned False: a test helper must *fail* (raise AssertionError), not return a verdict"
            elif result_a == result_b:
                hint = (
                    " The results agree but the calls do not: compare the two call logs too — does each chain "
                    "get its own fresh FakeHttp, so its log holds only its own calls?"
                )
            else:
                hint = " Compare the two results"
            raise kit.CheckFailed(
                f"assert_same_chain accepted two chains that differ: {where}, {text_a} gives {kit.show(result_a)} "
                f"after the calls {calls_a}, but {text_b} gives {kit.show(result_b)} after {calls_b}.{hint}"
            )

    kit.for_all(_SAME_CHAIN_CASES, prop)


def judge_regrouped_chain(worker: Worker) -> str:
    _judge_chain(worker, "team_lead_email_left", _reference_left)  # associativity first: the lesson's law
    judge_assert_same_chain(worker)
    return (
        "grouped the other way, the chain gives the same results after the same calls on every directory; "
        "assert_same_chain accepts chains that agree and rejects chains whose results or call logs differ"
    )


PROBES = {"fetch": _probe_fetch, "same_chain": _probe_same_chain}
"""What the worker answers: ``fetch`` (Tasks 1 to 3: build and drive a chain) and ``same_chain``
(Task 3: what ``assert_same_chain`` says about two described chains)."""


EXERCISE = Exercise(
    slug="01_async_await_as_descriptions",
    title="01 · async/await as Descriptions",
    tasks=(
        Task("t1", "Describe a fetch, run nothing", 3, ("fetch_email",), judge=judge_fetch_email),
        Task("t2", "Chain three dependent fetches", 4, ("team_lead_email",), judge=judge_team_lead_email),
        Task(
            "t3",
            "Regroup the chain and test it",
            3,
            ("team_lead_email_left", "assert_same_chain"),
            judge=judge_regrouped_chain,
        ),
    ),
)
