"""Wrong answers for exercise 01, each replacing one task cell of the solution.

Every exercise has a module like this one, ``grading_fixtures/exNN.py`` (NN = the lesson
number), with ``MUTANTS`` and ``FEEDBACK``; ``tests/test_grading_exercises.py`` finds it by
the exercise's slug.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``HOSTILE`` maps a name to
``(task_id, cell)``: code that hangs, crashes, exits or floods the output; it must cost
that task and nothing else, within the time limit.
"""

from __future__ import annotations

T1 = "# Task 1 — Describe a fetch, run nothing\n"
T2 = "# Task 2 — Chain three dependent fetches\n"
T3 = "# Task 3 — Regroup the chain and test it\n"

_GET = """
def _get(url, http):
    return async_lift(lambda: http.get_json(url))
"""

_LEFT = """
def team_lead_email_left(user_id, http):
    def get(url):
        return async_lift(lambda: http.get_json(url))

    user_then_team = async_bind(get(f"/users/{user_id}"), lambda user: get(f"/teams/{user['team']}"))
    return async_bind(user_then_team, lambda team: async_map(get(f"/users/{team['lead']}"), lambda lead: lead["email"]))
"""

_HELPER = """
def assert_same_chain(one, other, directory):
    runs = []
    for build in (one, other):
        http = FakeHttp(directory)
        runs.append((run_sync(build(http)), list(http.calls)))
    (first, first_calls), (second, second_calls) = runs
    assert first == second
    assert first_calls == second_calls
"""


def _t3(left: str = _LEFT, helper: str = _HELPER) -> str:
    return T3 + left + helper


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "eager": T1
        + """
def fetch_email(user_id, http):
    document = run_sync(async_lift(lambda: http.get_json(f"/users/{user_id}")))   # runs now
    return async_pure(document.value["email"]) if isinstance(document, Ok) else async_lift(lambda: _err(document))

async def _err(result):
    return result
""",
        "shared coroutine": T1
        + """
def fetch_email(user_id, http):
    coro = http.get_json(f"/users/{user_id}")          # one coroutine for every drive
    return async_map(async_lift(lambda: coro), lambda body: body["email"])
""",
        "whole document": T1
        + """
def fetch_email(user_id, http):
    return async_lift(lambda: http.get_json(f"/users/{user_id}"))
""",
        "replaces the Err": T1
        + """
def fetch_email(user_id, http):
    async def fetch():
        result = await http.get_json(f"/users/{user_id}")
        return Ok(result.value["email"]) if isinstance(result, Ok) else Err(ErrInfo("NOT_FOUND", "no such user"))
    return async_lift(fetch)
""",
        "hard-coded": T1
        + """
def fetch_email(user_id, http):
    return async_pure("ada@example.org")
""",
        "async def": T1
        + """
async def fetch_email(user_id, http):
    result = await http.get_json(f"/users/{user_id}")
    return Ok(result.value["email"]) if isinstance(result, Ok) else result
""",
    },
    "t2": {
        "no short-circuit": T2
        + """
def _get_or_blank(url, http):
    async def fetch():
        result = await http.get_json(url)
        return result if isinstance(result, Ok) else Ok({"team": "unknown", "lead": "unknown", "email": ""})
    return async_lift(fetch)

def team_lead_email(user_id, http):
    return async_bind(
        _get_or_blank(f"/users/{user_id}", http),
        lambda user: async_bind(
            _get_or_blank(f"/teams/{user['team']}", http),
            lambda team: async_map(_get_or_blank(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
        ),
    )
""",
        "replaces the Err": T2
        + _GET
        + """
def team_lead_email(user_id, http):
    chain = async_bind(
        _get(f"/users/{user_id}", http),
        lambda user: async_bind(
            _get(f"/teams/{user['team']}", http),
            lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
        ),
    )
    async def run():
        result = await chain()
        return result if isinstance(result, Ok) else Err(ErrInfo("LOOKUP_FAILED", "could not find the lead"))
    return async_lift(run)
""",
        "stops at the lead's id": T2
        + _GET
        + """
def team_lead_email(user_id, http):
    return async_bind(
        _get(f"/users/{user_id}", http),
        lambda user: async_map(_get(f"/teams/{user['team']}", http), lambda team: team["lead"]),
    )
""",
        "map instead of bind": T2
        + _GET
        + """
def team_lead_email(user_id, http):
    return async_map(
        _get(f"/users/{user_id}", http),
        lambda user: async_bind(
            _get(f"/teams/{user['team']}", http),
            lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
        ),
    )
""",
        "fetches the team eagerly": T2
        + _GET
        + """
def team_lead_email(user_id, http):
    user = run_sync(_get(f"/users/{user_id}", http))
    if isinstance(user, Err):
        return async_lift(lambda: _same(user))
    return async_bind(
        _get(f"/teams/{user.value['team']}", http),
        lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
    )

async def _same(result):
    return result
""",
    },
    "t3": {
        "stops at the lead's id": _t3(left=_LEFT.replace('lambda lead: lead["email"]', 'lambda lead: lead["id"]')),
        "maps instead of binds": _t3(
            left=_LEFT.replace("return async_bind(user_then_team", "return async_map(user_then_team")
        ),
        "compares results only": _t3(helper=_HELPER.replace("    assert first_calls == second_calls\n", "")),
        "shares one fake": _t3(
            helper="""
def assert_same_chain(one, other, directory):
    http = FakeHttp(directory)
    first, second = run_sync(one(http)), run_sync(other(http))
    assert first == second
"""
        ),
        "compares the plans": _t3(
            helper="""
def assert_same_chain(one, other, directory):
    assert one(FakeHttp(directory)) == other(FakeHttp(directory))
"""
        ),
        "returns a bool": _t3(
            helper="""
def assert_same_chain(one, other, directory):
    a, b = FakeHttp(directory), FakeHttp(directory)
    return (run_sync(one(a)), a.calls) == (run_sync(other(b)), b.calls)
"""
        ),
        "async def": _t3(
            helper="""
async def assert_same_chain(one, other, directory):
    a, b = FakeHttp(directory), FakeHttp(directory)
    assert (await perform_async(one(a)), a.calls) == (await perform_async(other(b)), b.calls)
"""
        ),
    },
}

_GOOD_T2 = (
    _GET
    + """
def team_lead_email(user_id, http):
    return async_bind(
        _get(f"/users/{user_id}", http),
        lambda user: async_bind(
            _get(f"/teams/{user['team']}", http),
            lambda team: async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"]),
        ),
    )
"""
)

HOSTILE: dict[str, tuple[str, str]] = {
    "loops forever": (
        "t2",
        T2
        + """
def team_lead_email(user_id, http):
    while True:
        pass
""",
    ),
    "loops forever at the top of the cell": (
        "t2",
        T2
        + """
while True:
    pass
""",
    ),
    "sleeps forever": (
        "t2",
        T2
        + """
import time

def team_lead_email(user_id, http):
    time.sleep(10**6)
""",
    ),
    "a plan that waits forever": (
        "t2",
        T2
        + """
import asyncio

async def _never():
    await asyncio.Event().wait()

def team_lead_email(user_id, http):
    return async_lift(_never)
""",
    ),
    "swallows the time limit": (
        "t2",
        T2
        + """
import time

def team_lead_email(user_id, http):
    while True:
        try:
            time.sleep(100)
        except BaseException:
            pass
""",
    ),
    "crashes the interpreter": (
        "t2",
        T2
        + """
import ctypes

def team_lead_email(user_id, http):
    ctypes.string_at(0)
""",
    ),
    "kills itself": (
        "t2",
        T2
        + """
import os, signal

def team_lead_email(user_id, http):
    os.kill(os.getpid(), signal.SIGKILL)
""",
    ),
    "calls os._exit": (
        "t2",
        T2
        + """
import os

def team_lead_email(user_id, http):
    os._exit(0)
""",
    ),
    "calls sys.exit": (
        "t2",
        T2
        + """
import sys

def team_lead_email(user_id, http):
    sys.exit()
""",
    ),
    "prints 10 MB": (
        "t2",
        T2
        + _GOOD_T2
        + """
print("x" * 10_000_000)
""",
    ),
    "writes 10 MB to the file descriptor": (
        "t2",
        T2
        + """
import os
"""
        + _GOOD_T2
        + """
_good = team_lead_email

def team_lead_email(user_id, http):
    os.write(1, b"x" * 10_000_000)
    return _good(user_id, http)
""",
    ),
    "syntax error": (
        "t2",
        T2
        + """
def team_lead_email(user_id, http)
    return async_pure("x")
""",
    ),
    "uses an IPython magic": (
        "t2",
        T2
        + """
%time x = 1
"""
        + _GOOD_T2,
    ),
    "lacks the function": (
        "t2",
        T2
        + """
def lead_email(user_id, http):
    return async_pure("x")
""",
    ),
    "raises before defining it": (
        "t2",
        T2
        + """
raise RuntimeError("boom")
"""
        + _GOOD_T2,
    ),
    "leaves a process running": (
        "t2",
        T2
        + """
import subprocess

def team_lead_email(user_id, http):
    sleeper = subprocess.Popen(["sleep", "313.25"])
    try:
        with open(PIDFILE, "w") as handle:      # the test replaces PIDFILE with a path
            handle.write(str(sleeper.pid))
    except OSError:
        pass                                    # confined: the grader's folders are out of reach
    while True:
        pass
""",
    ),
    "allocates 4 GB": (
        "t2",
        T2
        + """
def team_lead_email(user_id, http):
    hoard = bytearray(4 * 1024**3)
    return async_pure(str(len(hoard)))
""",
    ),
}
"""Hostile cells for Task 2; Tasks 1 and 3 keep the solution's code and must still pass."""

EARLIER_CELL_HANGS = (
    T1
    + """
while True:
    pass
"""
)
"""Task 1's cell never finishes when run: Task 1 scores nothing, Tasks 2 and 3 still pass."""


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "eager"): "describing runs nothing, but building fetch_email(",
    ("t1", "shared coroutine"): "ReusedCoroutineError",
    ("t1", "whole document"): "gave the whole document",
    ("t1", "replaces the Err"): "an Err passes through the plan unchanged",
    ("t1", "hard-coded"): "expected Ok(value=",
    ("t1", "async def"): "returned a coroutine",
    ("t2", "no short-circuit"): "the first Err short-circuits",
    ("t2", "replaces the Err"): "the first Err comes out unchanged",
    ("t2", "stops at the lead's id"): "the calls run in order, once each",
    ("t2", "map instead of bind"): "the calls run in order, once each",
    ("t2", "fetches the team eagerly"): "describing runs nothing",
    ("t3", "stops at the lead's id"): "driving team_lead_email_left(",
    ("t3", "maps instead of binds"): "driving team_lead_email_left(",
    ("t3", "compares results only"): "The results agree but the calls do not",
    ("t3", "shares one fake"): "The results agree but the calls do not",
    ("t3", "compares the plans"): "assert_same_chain rejected two chains that agree",
    ("t3", "returns a bool"): "a test helper must *fail*",
    ("t3", "async def"): "is an `async def`",
}
