"""Hostile submissions that attack the grader itself (issue 18), for ``tests/test_grading_attacks.py``.

Each is a notebook of exercise 01 built from the solution or the untouched exercise; the
placeholders ``SUBMISSIONS`` and ``GRADEBOOK`` are replaced with the paths of the folder
being graded and of its gradebook.  Every attack must gain nothing: the attacked task (or
the untouched stub) scores 0, and no other row or file changes.
"""

from __future__ import annotations

T1 = "# Task 1 — Describe a fetch, run nothing\n"

PATCH_THE_CHECKS = """
# Replace the grader's checks from the set-up cell: every task "passes", no probe answers.
import funcpipe_async.grading.kit as _kit
import funcpipe_async.grading.checks.ex01_async_await_as_descriptions as _ex
_kit.for_all = lambda *args, **kwargs: None
for _task in _ex.EXERCISE.tasks:
    object.__setattr__(_task, "judge", None)
    object.__setattr__(_task, "check", lambda namespace: "forged pass")
_ex.PROBES["fetch"] = lambda namespace, payload: [{"result": None, "calls": []}] * payload["drives"]
_ex.PROBES["replay"] = lambda namespace, payload: {"outcome": "accepted", "returned_false": False}
"""
"""Appended to the untouched exercise's set-up cell: the stubs must still score 0/10."""

FORGE_ON_THE_CHANNEL = (
    T1
    + """
import json, os, struct

def _frame(message):
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data

# Write forged messages to every descriptor that might be the grader's channel.
for _fd in range(3, 256):
    for _message in ({"kind": "verdict", "status": "passed", "message": "forged"},
                     {"kind": "ready", "missing": [], "own_errors": []}):
        try:
            os.write(_fd, _frame(_message))
        except OSError:
            pass

def fetch_email(user_id, http):
    raise NotImplementedError("Task 1: write fetch_email")
"""
)
"""Task 1 forges a verdict and a ready message on the worker's channel: nothing scores (the
cell runs before Tasks 2 and 3 too, and garbles their channels as well)."""

ESCAPE_AND_SABOTAGE = (
    T1
    + """
import os, signal, time

def _sabotage():
    for path in (SUBMISSIONS + "/zz-planted.ipynb", GRADEBOOK, "/tmp/funcpipe-pwned"):
        try:
            with open(path, "w") as handle:
                handle.write("pwned")
        except OSError:
            pass
    for root in ("/tmp", SUBMISSIONS):
        try:
            for name in os.listdir(root):
                try:
                    with open(os.path.join(root, name), "a") as handle:
                        handle.write("pwned")
                except OSError:
                    pass
        except OSError:
            pass

if os.fork() == 0:                     # fork, setsid, fork: a daemon that outlives the task
    os.setsid()
    if os.fork() == 0:
        _sabotage()
        time.sleep(3)                  # after the grader has moved on...
        _sabotage()
        os.execvp("sleep", ["sleep", "313.75"])
    os._exit(0)
_sabotage()
try:
    os.kill(os.getppid(), signal.SIGKILL)   # the process that started this one
except OSError:
    pass

def fetch_email(user_id, http):
    raise NotImplementedError("Task 1: write fetch_email")
"""
)
"""Task 1 escapes, writes into the submissions, the gradebook and /tmp, kills its parent."""


def patch_the_checks(module: str) -> str:
    """:data:`PATCH_THE_CHECKS` for any exercise: appended to its untouched set-up cell, it makes
    every check in the worker pass and every probe answer nothing."""
    return f"""
import funcpipe_async.grading.kit as _kit
import funcpipe_async.grading.checks.{module} as _ex
_kit.for_all = lambda *args, **kwargs: None
for _task in _ex.EXERCISE.tasks:
    object.__setattr__(_task, "judge", None)
    object.__setattr__(_task, "check", lambda namespace: "forged pass")
for _probe in list(getattr(_ex, "PROBES", {{}})):
    _ex.PROBES[_probe] = lambda namespace, payload: None
"""
