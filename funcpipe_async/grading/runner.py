"""Run each task's judge in a child process, within limits, and collect their verdicts.

Every (submission, task) pair is one job: a judge process
(:mod:`funcpipe_async.grading._judge`) that never runs student code, and the worker it
starts (:mod:`funcpipe_async.grading._worker`), which runs the submission's cells inside
the confinement (:mod:`funcpipe_async.grading.confine`) and answers the judge's probes.  A
hang, a crash or an attack in one task costs that task and nothing else.  Jobs run on a
pool of ``jobs`` threads (default: one per CPU core); each thread only waits for its judge.

* "Too slow" is decided by CPU time (``Limits.seconds``, enforced in the worker); the wall
  clock is only a generous outer bound (``Limits.wall``), so a loaded machine does not fail
  a genuine solution.
* Each grading run draws a fresh ``seed`` for the judges' generated examples (recorded in
  every report; pass it back to replay a disputed grade).  ``fresh=False`` keeps to the
  course's fixed examples (the course's tests use it to show that every known mistake is
  caught there, whatever the seed).
* The judge reports on its stdout, a file only it holds; when it has finished (or its time
  is up) its whole process group is killed, and it is always reaped.
* ``strict=True`` (instructor grading) refuses to run without confinement
  (:class:`Unconfined`).
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
from funcpipe_async.grading import confine
from funcpipe_async.grading.report import STATUSES, Report, TaskResult
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.grading.submission import SETUP, Submission

__all__ = ["Limits", "Graded", "Setting", "Unconfined", "run_task", "grade_submissions", "grade_submission", "new_seed"]

_PACKAGE_PARENT = str(Path(funcpipe_async.__file__).resolve().parent.parent)


class Unconfined(RuntimeError):
    """``strict`` grading was asked for on a machine that cannot confine the workers."""


def new_seed() -> int:
    """A fresh seed for one grading run's generated examples."""
    return secrets.randbelow(2**32)


@dataclass(frozen=True)
class Limits:
    """How much CPU time one task may use (``seconds``) and how much its code may print (``output_chars``).

    ``wall`` (default ``4 × seconds + 15``) bounds the whole task in wall-clock time; the
    judge is killed ``grace`` seconds (plus its start-up) after that if it has not reported.
    """

    seconds: float = 10.0
    output_chars: int = 1_000_000
    grace: float = 5.0
    wall: float | None = None

    @property
    def wall_seconds(self) -> float:
        return self.wall if self.wall is not None else 4 * self.seconds + 15

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"the time limit must be a positive number of seconds, got {self.seconds!r}")
        if self.output_chars < 1:
            raise ValueError(f"the output limit must be positive, got {self.output_chars!r}")
        if self.wall is not None and not self.wall > 0:
            raise ValueError(f"the wall-clock bound must be a positive number of seconds, got {self.wall!r}")


@dataclass(frozen=True)
class Setting:
    """What every job of one grading run shares: the seed, the confinement, the folders to hide."""

    seed: int | None  # None: the fixed examples only
    confinement: confine.Confinement
    hidden: tuple[str, ...] = ()


def _cells_for(exercise: Exercise, task: Task, submission: Submission) -> list[dict[str, str]]:
    """The graded cells the task's worker runs: the set-up and task cells up to the task's last one."""
    known = {SETUP, *(t.id for t in exercise.tasks)}
    cells = [c for c in submission.cells if c.label in known]
    last = max(i for i, c in enumerate(cells) if c.label == task.id)
    return [{"label": c.label, "source": c.source} for c in cells[: last + 1]]


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


def _needed() -> list[str]:
    """What a worker must still see: the interpreter and the package."""
    return sorted({_PACKAGE_PARENT, sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))})


def _judge_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_", "PYTEST_"))}
    env.update(
        PYTHONPATH=_PACKAGE_PARENT,  # the package, even where it is not installed
        PYTHONHASHSEED="0",  # set and dict orders in feedback are the same on every run
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONSAFEPATH="1",
        # One Hypothesis folder for every judge (its caches are written atomically): a fresh,
        # empty one per process would re-scan the package's sources each time (~0.2 s).
        HYPOTHESIS_STORAGE_DIRECTORY=os.path.join(tempfile.gettempdir(), "funcpipe-async-hypothesis"),
    )
    return env


def _run_task_safely(
    exercise: Exercise, task: Task, submission: Submission, limits: Limits, setting: Setting
) -> TaskResult:
    """:func:`run_task`, with a failure of the grader itself (no temp space, no fork) as a verdict."""
    try:
        return run_task(exercise, task, submission, limits, setting)
    except Exception as error:  # noqa: BLE001 - one task's trouble must not stop the others
        return TaskResult(
            task.id,
            task.title,
            0,
            task.points,
            "error",
            f"the grader could not run this task's checks: {type(error).__name__}: {error}",
        )


def run_task(
    exercise: Exercise, task: Task, submission: Submission, limits: Limits, setting: Setting | None = None
) -> TaskResult:
    """Decide one task of one submission (a judge process and its worker) and return its verdict."""

    def verdict(status: str, feedback: str) -> TaskResult:
        points = task.points if status == "passed" else 0
        return TaskResult(task.id, task.title, points, task.points, status, feedback)

    if not any(c.label == task.id for c in submission.cells):
        return verdict(
            "missing",
            f"Task {task.number}'s cell is missing (no code cell tagged task:{task.id}, or none starting "
            f"'# Task {task.number}' has run): restore it from the exercise notebook",
        )
    setting = setting or Setting(new_seed(), confine.detect())
    job = {
        "exercise": exercise.slug,
        "task": task.id,
        "cells": _cells_for(exercise, task, submission),
        "seconds": limits.seconds,
        "wall": limits.wall_seconds,
        "output_chars": limits.output_chars,
        "seed": setting.seed,
        "confined": setting.confinement.confined,
        "prefix": list(setting.confinement.prefix),
        "user": setting.confinement.user,
        "hidden": list(setting.hidden),
        "needed": _needed(),
    }
    with tempfile.TemporaryFile() as verdict_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "funcpipe_async.grading._judge"],
            env=_judge_env(),
            stdin=subprocess.PIPE,
            stdout=verdict_file,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert process.stdin is not None
            try:
                process.stdin.write(json.dumps(job).encode("utf-8"))
                process.stdin.close()
            except OSError:
                pass
            timed_out = not _exited_unreaped(process.pid, limits.wall_seconds + limits.grace + 10)
        finally:
            _kill_group(process)  # whatever it started dies with it; its pid is still reserved
            process.wait()  # only now reap it
        verdict_file.seek(0)
        reported = _read_verdict(verdict_file.read(200_000))
    if reported is not None:
        return verdict(*reported)
    if timed_out:
        return verdict("timeout", f"did not finish within {limits.wall_seconds:g} s of wall-clock time and was stopped")
    return verdict(
        "error",
        "the grader's judge ended without a verdict: it was killed (unconfined, a submission's code "
        "can do that) or failed",
    )


def _read_verdict(data: bytes) -> tuple[str, str] | None:
    """The judge's verdict (``status``, ``message``), or None if it wrote none."""
    try:
        verdict: Any = json.loads(data)
    except ValueError:
        return None
    if not isinstance(verdict, dict):
        return None
    status, message = verdict.get("status"), verdict.get("message")
    if not isinstance(status, str) or not isinstance(message, str) or status not in STATUSES:
        return None
    return status, message


@dataclass(frozen=True)
class Graded:
    """A submission and the exercise it answers."""

    exercise: Exercise
    submission: Submission


def grade_submissions(
    items: Sequence[Graded],
    limits: Limits = Limits(),
    jobs: int | None = None,
    *,
    seed: int | None = None,
    fresh: bool = True,
    strict: bool = False,
    hidden: Sequence[Path | str] = (),
) -> list[Report]:
    """Grade every task of every submission, ``jobs`` judges at a time; reports in input order.

    ``seed`` (default: fresh) draws the examples after the fixed ones; ``fresh=False`` grades
    on the fixed examples only (the reports' seed is then ``None``).  ``hidden`` are folders
    the workers must not see (the submissions, the gradebook's folder); ``strict`` refuses to
    run unconfined.
    """
    if not fresh and seed is not None:
        raise ValueError("a seed draws fresh examples: pass seed=None with fresh=False")
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"jobs must be at least 1, got {workers}")
    confinement = confine.detect()
    if strict and not confinement.confined:
        raise Unconfined(
            "--strict grading needs confinement (Linux with util-linux's unshare, as root or with "
            "user namespaces enabled); this machine offers none, so nothing was graded"
        )
    setting = Setting(
        (new_seed() if seed is None else seed) if fresh else None,
        confinement,
        tuple(os.path.abspath(h) for h in hidden),
    )
    pairs = [(i, task) for i, item in enumerate(items) for task in item.exercise.tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            (i, task.id): pool.submit(_run_task_safely, items[i].exercise, task, items[i].submission, limits, setting)
            for i, task in pairs
        }
        reports = []
        for i, item in enumerate(items):
            results = tuple(futures[(i, t.id)].result() for t in item.exercise.tasks)
            reports.append(
                Report(
                    item.submission.name,
                    item.exercise.slug,
                    item.exercise.title,
                    results,
                    notes=item.submission.notes,
                    seed=setting.seed,
                    confinement=confinement.mode,
                )
            )
    return reports


def grade_submission(
    exercise: Exercise,
    submission: Submission,
    limits: Limits = Limits(),
    jobs: int | None = None,
    *,
    seed: int | None = None,
    fresh: bool = True,
    strict: bool = False,
    hidden: Sequence[Path | str] = (),
) -> Report:
    """Grade one submission (its tasks in parallel)."""
    return grade_submissions(
        [Graded(exercise, submission)], limits, jobs, seed=seed, fresh=fresh, strict=strict, hidden=hidden
    )[0]
