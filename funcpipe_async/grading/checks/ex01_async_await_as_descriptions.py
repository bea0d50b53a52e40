"""Exercise 01 · async/await as Descriptions: the checks of its three tasks.

* t1 ``fetch_email(user_id, http)`` — describe one fetch: building runs nothing, driving
  makes one ``GET /users/<id>`` and yields the email (or the fetch's ``Err``), replaying
  runs it again;
* t2 ``team_lead_email(user_id, http)`` — three dependent fetches (user → team → lead);
  the first ``Err`` short-circuits and comes out unchanged;
* t3 ``assert_replayable(plan)`` — a test helper, judged by the plans it accepts and
  rejects: replayable plans pass, plans whose result changes or that reuse one coroutine fail.

Every check compares the submission with a reference plan on directories Hypothesis
generates (users, teams, missing entries, scripted faults), so no hard-coded answer passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.fakes import FakeHttp
from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.plan import AsyncPlan, ReusedCoroutineError, async_bind, async_lift, async_map
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.testing import int_plans

__all__ = ["EXERCISE", "Directory", "directories"]

USERS = ("ada", "grace", "alan", "edsger")
TEAMS = ("core", "infra", "web")


@dataclass(frozen=True)
class Directory:
    """A generated world behind a ``FakeHttp``: user and team documents, and scripted faults."""

    users: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    teams: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    faults: Mapping[str, ErrInfo] = field(default_factory=dict)

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
# Task 1: describe a fetch


def check_fetch_email(ns: Mapping[str, Any]) -> str:
    fetch_email = kit.function(ns, "fetch_email")

    def prop(case: tuple[Directory, str]) -> None:
        directory, user_id = case
        http = directory.http()
        plan = _build(fetch_email, user_id, http, "fetch_email")
        doing = f"driving fetch_email({user_id!r}, http)"
        first = kit.drive(plan, doing=doing)
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
        if http.calls != expected_calls:
            raise kit.CheckFailed(f"one drive makes exactly one call, {expected_calls}; {doing} made {http.calls}")
        second = kit.drive(plan, doing=f"driving the same fetch_email({user_id!r}, http) plan a second time")
        if second != first:
            raise kit.CheckFailed(
                f"replaying a plan gives the same result: the first drive gave {kit.show(first)}, "
                f"the second {kit.show(second)}"
            )
        if http.calls != expected_calls * 2:
            raise kit.CheckFailed(
                f"replaying a plan runs its effects again: after two drives the fake saw {http.calls}, "
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


def check_team_lead_email(ns: Mapping[str, Any]) -> str:
    team_lead_email = kit.function(ns, "team_lead_email")

    def prop(case: tuple[Directory, str]) -> None:
        directory, user_id = case
        http = directory.http()
        plan = _build(team_lead_email, user_id, http, "team_lead_email")
        doing = f"driving team_lead_email({user_id!r}, http)"
        result = kit.drive(plan, doing=doing)
        expected, expected_calls = _reference(lambda h: _reference_lead(user_id, h), directory)
        calls = list(http.calls)
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
        self._start = start

    def __call__(self) -> Coroutine[Any, Any, Result[int, ErrInfo]]:
        async def run() -> Result[int, ErrInfo]:
            value = self._next
            self._next += 1
            await asyncio.sleep(0)
            return Ok(value)

        return run()

    def __repr__(self) -> str:
        return f"counter_plan(start={self._start})  # Ok({self._start}), then Ok({self._start + 1}), …"


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

    def __repr__(self) -> str:
        return f"flaky_plan({self._value})  # Ok({self._value}), then Err(TIMEOUT)"


@dataclass(frozen=True)
class _Case:
    kind: str  # "replayable", "drifting" or "shared coroutine"
    make: Callable[[], tuple[AsyncPlan[Any], Callable[[], None]]]
    text: str

    def __repr__(self) -> str:
        return self.text


def _replayable(plan: AsyncPlan[int]) -> _Case:
    return _Case("replayable", lambda: (plan, lambda: None), repr(plan))


def _fetching(user: str) -> _Case:
    def make() -> tuple[AsyncPlan[Any], Callable[[], None]]:
        http = FakeHttp({"/users/ada": {"id": "ada", "email": "ada@example.org"}})
        return _get(f"/users/{user}", http), lambda: None

    return _Case("replayable", make, f"async_lift(lambda: http.get_json('/users/{user}'))")


def _shared(value: int) -> _Case:
    def make() -> tuple[AsyncPlan[Any], Callable[[], None]]:
        async def answer() -> Result[int, ErrInfo]:
            await asyncio.sleep(0)
            return Ok(value)

        coro = answer()
        return async_lift(lambda: coro), coro.close

    return _Case("shared coroutine", make, f"async_lift(lambda: coro)  # one coroutine, created once, answering Ok({value})")


_REPLAY_CASES = st.one_of(
    int_plans().map(_replayable),
    st.sampled_from(["ada", "bob"]).map(_fetching),
    st.integers(-5, 5).map(lambda k: _Case("drifting", lambda: (_CounterPlan(k), lambda: None), repr(_CounterPlan(k)))),
    st.integers(-5, 5).map(lambda k: _Case("drifting", lambda: (_FlakyPlan(k), lambda: None), repr(_FlakyPlan(k)))),
    st.integers(-5, 5).map(_shared),
)


def check_assert_replayable(ns: Mapping[str, Any]) -> str:
    assert_replayable = kit.function(ns, "assert_replayable")
    kit.refuse_async(
        assert_replayable, "assert_replayable",
        drive="drives the plan with run_sync — a Hypothesis property cannot be async",
    )

    def prop(case: _Case) -> None:
        plan, cleanup = case.make()
        doing = f"assert_replayable({case!r})"
        try:
            try:
                returned = assert_replayable(plan)
            except AssertionError as error:
                if case.kind == "replayable":
                    result = kit.drive(plan, doing=f"driving {case!r}")
                    raise kit.CheckFailed(
                        f"assert_replayable rejected a replayable plan: {case!r} drives to {kit.show(result)} "
                        f"every time, yet {doing} raised {kit.describe_exception(error)}"
                    ) from None
                return
            except ReusedCoroutineError:
                if case.kind == "shared coroutine":
                    return  # the second drive failed: the helper did reject it
                raise kit.CheckFailed(f"{doing} raised ReusedCoroutineError on a plan that makes a fresh coroutine each time") from None
            except NotImplementedError:
                raise kit.not_done("assert_replayable") from None
            except Exception as error:  # noqa: BLE001 - a defect in student code is a verdict
                raise kit.CheckFailed(
                    f"{doing} raised {kit.describe_exception(error)}; a test helper fails with AssertionError "
                    "(write `assert first == second, ...`) and otherwise returns None"
                ) from None
        finally:
            cleanup()
        if case.kind == "replayable":
            return
        hint = (
            " It returned False: a test helper must *fail* (raise AssertionError), not return a verdict"
            if returned is False else " Drive the plan twice and compare the two results"
        )
        if case.kind == "shared coroutine":
            raise kit.CheckFailed(
                f"assert_replayable accepted a plan that cannot be replayed: {case!r} — its second drive "
                f"raises ReusedCoroutineError.{hint}"
            )
        raise kit.CheckFailed(
            f"assert_replayable accepted a plan that is not replayable: {case!r} gives a different result "
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
        Task("t1", "Describe a fetch, run nothing", 3, ("fetch_email",), check_fetch_email),
        Task("t2", "Chain three dependent fetches", 4, ("team_lead_email",), check_team_lead_email),
        Task("t3", "Test that a plan replays", 3, ("assert_replayable",), check_assert_replayable),
    ),
)
