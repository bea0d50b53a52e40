"""An exercise as data: its tasks, their points, the names they define and their checks.

One module per exercise under :mod:`funcpipe_async.grading.checks` declares an
:class:`Exercise` named ``EXERCISE``; the grader finds it by the notebook's slug.  Each task is
decided by a **judge** ``judge(worker) -> str``, which runs in the grader's judge process and
never runs student code: it generates inputs, asks the worker that ran the submission's
cells to answer probes on them (:class:`Worker`; the module's ``PROBES``), compares the
plain data that comes back with its own reference, returns the feedback for a pass and
raises :class:`~funcpipe_async.grading.kit.CheckFailed` with feedback in the lesson's words
for a fail.  This is the trust boundary: forging a pass means computing the right answers,
and the worker can never report a pass itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Judge", "Worker", "Task", "Exercise", "task_number"]


class Worker(Protocol):
    """The judge's handle on the worker that ran a submission's cells."""

    def ask(self, probe: str, payload: Any = None) -> Any:
        """Run the probe ``probe`` (the checks module's ``PROBES[probe]``) on ``payload`` in the
        worker and return its answer as plain data; a probe that reports a failure raises
        ``CheckFailed`` (or ``NotDone``), and a worker that ends the task (time, output, exit)
        stops the judge with that verdict."""
        ...


Judge = Callable[[Worker], str]
"""``judge(worker) -> feedback``: raise ``CheckFailed`` to fail, return text to pass (runs in the judge)."""

_TASK_ID = re.compile(r"t([1-9][0-9]?)")
_SLUG = re.compile(r"[0-9]{2}_[a-z0-9_]+")


def task_number(task_id: str) -> int:
    """``"t2"`` -> ``2``: task ids are ``t1``, ``t2`` …, matching the cells' ``# Task N`` lines."""
    match = _TASK_ID.fullmatch(task_id)
    if match is None:
        raise ValueError(f"a task id is 't' and a number from 1, like 't1'; got {task_id!r}")
    return int(match.group(1))


@dataclass(frozen=True)
class Task:
    """One graded task.

    ``id`` is the stable id in the cell's tag (``task:t1``) and in the gradebook's column;
    ``defines`` are the names the task's cell must define (the grader reports a missing
    one by name); ``judge`` decides the task, all or
    nothing, worth ``points``; ``hides`` are the package's own answers, unavailable while
    the task is graded.
    """

    id: str
    title: str
    points: int
    defines: tuple[str, ...]
    judge: Judge
    hides: tuple[str, ...] = ()
    """The package's own answers to this task (``"funcpipe_async.fairness.jain_index"``): the worker
    replaces them with a function that refuses, before the submission's code runs, so calling the
    package's reference under another name passes nothing."""

    def __post_init__(self) -> None:
        task_number(self.id)
        if not self.title.strip():
            raise ValueError(f"task {self.id} needs a title")
        if isinstance(self.points, bool) or not isinstance(self.points, int) or self.points < 1:
            raise ValueError(f"task {self.id}: points must be a positive int, got {self.points!r}")
        if not self.defines or not all(isinstance(n, str) and n.isidentifier() for n in self.defines):
            raise ValueError(f"task {self.id}: defines must name at least one identifier, got {self.defines!r}")
        if not all(isinstance(n, str) and n.startswith("funcpipe_async.") and n.count(".") >= 2 for n in self.hides):
            raise ValueError(
                f"task {self.id}: hides names package functions as 'funcpipe_async.module.name', got {self.hides!r}"
            )
        if not callable(self.judge):
            raise ValueError(f"task {self.id}: a task needs a judge function")

    @property
    def number(self) -> int:
        """The task's number as the notebook shows it (``Task 2``)."""
        return task_number(self.id)

    @property
    def label(self) -> str:
        """``Task 2 · Chain three dependent steps``."""
        return f"Task {self.number} · {self.title}"


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: ``slug`` names its notebooks (``exercises/<slug>.ipynb``)."""

    slug: str
    title: str
    tasks: tuple[Task, ...]

    def __post_init__(self) -> None:
        if _SLUG.fullmatch(self.slug) is None:
            raise ValueError(f"an exercise slug looks like '01_async_await_as_descriptions', got {self.slug!r}")
        if not 2 <= len(self.tasks) <= 4:
            raise ValueError(f"exercise {self.slug} has {len(self.tasks)} tasks; the course asks for 2 to 4")
        expected = [f"t{n}" for n in range(1, len(self.tasks) + 1)]
        if [t.id for t in self.tasks] != expected:
            raise ValueError(
                f"exercise {self.slug}: task ids must be {expected} in order, got {[t.id for t in self.tasks]}"
            )

    @property
    def max_points(self) -> int:
        return sum(t.points for t in self.tasks)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(f"exercise {self.slug} has no task {task_id!r}")
