"""The course's grader: checks graded exercise notebooks, in child processes, with time limits.

* In an exercise notebook: ``check_my_work("01_async_await_as_descriptions")`` shows per-task
  feedback for the code the student last ran.
* On the command line: ``python -m funcpipe_async.grading PATH`` grades one notebook (text,
  or ``--json``) or a folder of submissions (a CSV gradebook); see ``--help``.

Where things are:

* ``spec``       — :class:`Exercise` and :class:`Task`: an exercise as data;
* ``checks/``    — one module per exercise (``ex01_async_await_as_descriptions``) declaring
  ``EXERCISE``, found by the notebook's slug;
* ``kit``        — what a check needs: verdicts (:class:`CheckFailed`), safe calls into student
  code, driving plans, Hypothesis properties with deterministic feedback;
* ``submission`` — finding the graded cells (tags ``setup`` / ``task:tN``, first lines
  ``# Setup`` / ``# Task N``) in a saved notebook or in the kernel's history;
* ``runner``     — one child process per task, time limits, killing and collecting;
  ``_child`` is that child;
* ``report``     — verdicts as data, and as text, JSON, HTML and CSV;
* ``grader``     — grading files and folders; ``__main__`` is the command line.

The grader never uses the student's kernel state: it takes the graded cells' code and
checks it in a fresh process.
"""

from __future__ import annotations

from funcpipe_async.grading.checks import UnknownExercise, exercise_slugs, load_exercise
from funcpipe_async.grading.grader import find_notebooks, grade_folder, grade_notebook
from funcpipe_async.grading.kit import CheckFailed, NotDone
from funcpipe_async.grading.notebook import check_kernel_work, check_my_work
from funcpipe_async.grading.report import Report, TaskResult, gradebook_csv
from funcpipe_async.grading.runner import Limits
from funcpipe_async.grading.spec import Exercise, Task
from funcpipe_async.grading.submission import NotebookError

__all__ = [
    "check_my_work",
    "check_kernel_work",
    "grade_notebook",
    "grade_folder",
    "find_notebooks",
    "gradebook_csv",
    "Limits",
    "Report",
    "TaskResult",
    "Exercise",
    "Task",
    "CheckFailed",
    "NotDone",
    "NotebookError",
    "UnknownExercise",
    "load_exercise",
    "exercise_slugs",
]
