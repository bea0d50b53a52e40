"""Run checks in child processes, with a time limit, and collect their verdicts.

Every (submission, task) pair is one job in its own child process
(:mod:`funcpipe_async.grading._child`), so a hang or a crash in one task costs that task
and nothing else.  Jobs run on a pool of ``jobs`` threads (default: one per CPU core); each
thread only waits for its child, so the cores do the checking.

A child:

* starts in a fresh temporary folder, with stdin from ``/dev/null`` and stdout/stderr going
  to files there (never pipes, which fill up and block); at most the last 2,000 bytes of
  its error output are read back, for the message when it dies without a verdict;
* runs in its own session (process group): when its time is up — or when it finishes —
  the whole group is killed with ``SIGKILL``, so nothing it started lives on, and the child
  itself is always waited for (no zombies);
* has a soft time limit inside (``SIGALRM``, which gives a precise message) and a hard one
  outside (``seconds`` plus a grace period) for code that ignores the soft one;
* must positively report: a verdict file carrying the job's one-time token.  No verdict
  means the task fails, whatever the exit code.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import funcpipe_async
from funcpipe_async.grading.report import STATUSES, Report, TaskResult
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.grading.submission import SETUP, Submission

__all__ = ["Limits", "Graded", "run_task", "grade_submissions", "grade_submission"]

_READ_BACK = 2_000
_PACKAGE_PARENT = str(Path(funcpipe_async.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Limits:
    """How long one task may take (``seconds``) and how much its code may print (``output_chars``).

    The child is killed ``grace`` seconds after ``seconds`` if it has not reported by then
    (starting Python and importing the checks take part of that grace).
    """

    seconds: float = 10.0
    output_chars: int = 1_000_000
    grace: float = 5.0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"the time limit must be a positive number of seconds, got {self.seconds!r}")
        if self.output_chars < 1:
            raise ValueError(f"the output limit must be positive, got {self.output_chars!r}")


def _cells_for(exercise: Exercise, task: Task, submission: Submission) -> list[dict[str, str]]:
    """The graded cells the task's child runs: the set-up and task cells up to the task's last one."""
    known = {SETUP, *(t.id for t in exercise.tasks)}
    cells = [c for c in submission.cells if c.label in known]
    last = max(i for i, c in enumerate(cells) if c.label == task.id)
    return [{"label": c.label, "source": c.source} for c in cells[: last + 1]]


def _read_end(path: Path) -> str:
    """The last ``_READ_BACK`` bytes of ``path`` as text ("" if there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - _READ_BACK))
            return handle.read(_READ_BACK).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the child to exit, **without reaping it**.

    While the exited child is an unreaped zombie its pid stays reserved, so killing its
    process group afterwards can only reach what it started.  Reaping first (``wait``) would
    free the pid for reuse, and ``killpg`` could then hit a stranger that became a session
    leader under the same number — a Jupyter kernel, say (pid_max is often only 32,768).
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_", "PYTEST_"))}
    env.update(
        PYTHONPATH=_PACKAGE_PARENT,  # the package, even where it is not installed
        PYTHONHASHSEED="0",  # set and dict orders in feedback are the same on every run
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONSAFEPATH="1",
        # One Hypothesis folder for every child (its caches are written atomically): a fresh,
        # empty one per child would re-scan the package's sources each time (~0.2 s).
        HYPOTHESIS_STORAGE_DIRECTORY=os.path.join(tempfile.gettempdir(), "funcpipe-async-hypothesis"),
    )
    return env


def _run_task_safely(exercise: Exercise, task: Task, submission: Submission, limits: Limits) -> TaskResult:
    """:func:`run_task`, with a failure of the grader itself (no temp space, no fork) as a verdict."""
    try:
        return run_task(exercise, task, submission, limits)
    except Exception as error:  # noqa: BLE001 - one task's trouble must not stop the others
        return TaskResult(task.id, task.title, 0, task.points, "error",
                          f"the grader could not run this task's checks: {type(error).__name__}: {error}")


def run_task(exercise: Exercise, task: Task, submission: Submission, limits: Limits) -> TaskResult:
    """Check one task of one submission in a child process and return its verdict."""

    def verdict(status: str, feedback: str) -> TaskResult:
        points = task.points if status == "passed" else 0
        return TaskResult(task.id, task.title, points, task.points, status, feedback)

    if not any(c.label == task.id for c in submission.cells):
        return verdict(
            "missing",
            f"Task {task.number}'s cell is missing (no code cell tagged task:{task.id}, or none starting "
            f"'# Task {task.number}' has run): restore it from the exercise notebook",
        )
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="funcpipe-grade-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        job_path, result_path = folder / "job.json", folder / "verdict.json"
        job = {
            "exercise": exercise.slug,
            "task": task.id,
            "cells": _cells_for(exercise, task, submission),
            "seconds": limits.seconds,
            "output_chars": limits.output_chars,
            "token": token,
            "result": str(result_path),
        }
        job_path.write_text(json.dumps(job), encoding="utf-8")
        out_path, err_path = folder / "stdout.txt", folder / "stderr.txt"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "funcpipe_async.grading._child", str(job_path)],
                cwd=folder,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                timed_out = not _exited_unreaped(process.pid, limits.seconds + limits.grace)
            finally:
                _kill_group(process)  # whatever it started dies with it; its pid is still reserved
                process.wait()  # only now reap it
        reported = _read_verdict(result_path, token, task.id)
        if reported is not None:
            return verdict(*reported)
        if timed_out:
            return verdict(
                "timeout",
                f"did not finish within {limits.seconds:g} s and was stopped: is there a loop that never ends, "
                "or a plan that waits for ever (a sleep, an Event nobody sets)?",
            )
        stderr = _read_end(err_path).strip()
        tail = f" Its last error output: {stderr[-300:]!r}" if stderr else ""
        if process.returncode < 0:
            try:
                name = signal.Signals(-process.returncode).name
            except ValueError:
                name = f"signal {-process.returncode}"
            return verdict("crashed", f"the checking process was killed by {name} before the checks finished: "
                           f"did the task's code crash the interpreter?{tail}")
        return verdict(
            "exited",
            "the task's code ended the checking process before the checks finished "
            f"(did it call sys.exit or os._exit?).{tail}",
        )


def _read_verdict(path: Path, token: str, task_id: str) -> tuple[str, str] | None:
    try:
        with path.open("rb") as handle:
            data: Any = json.loads(handle.read(200_000))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("token") != token or data.get("task") != task_id:
        return None
    status, message = data.get("status"), data.get("message")
    if not isinstance(status, str) or not isinstance(message, str):
        return None
    if status not in STATUSES:
        return None
    return status, message


@dataclass(frozen=True)
class Graded:
    """A submission and the exercise it answers."""

    exercise: Exercise
    submission: Submission


def grade_submissions(items: Sequence[Graded], limits: Limits = Limits(), jobs: int | None = None) -> list[Report]:
    """Grade every task of every submission, ``jobs`` children at a time; reports in input order."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"jobs must be at least 1, got {workers}")
    pairs = [(i, task) for i, item in enumerate(items) for task in item.exercise.tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            (i, task.id): pool.submit(_run_task_safely, items[i].exercise, task, items[i].submission, limits)
            for i, task in pairs
        }
        reports = []
        for i, item in enumerate(items):
            results = tuple(futures[(i, t.id)].result() for t in item.exercise.tasks)
            reports.append(Report(item.submission.name, item.exercise.slug, item.exercise.title, results,
                                  notes=item.submission.notes))
    return reports


def grade_submission(exercise: Exercise, submission: Submission, limits: Limits = Limits(), jobs: int | None = None) -> Report:
    """Grade one submission (its tasks in parallel)."""
    return grade_submissions([Graded(exercise, submission)], limits, jobs)[0]
