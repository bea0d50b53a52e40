"""The course's grader: a judge per task that never runs student code, and a confined worker that does.

* In an exercise notebook: ``check_my_work("01_async_await_as_descriptions")`` shows per-task
  feedback for the code the student last ran.
* On the command line: ``python -m funcpipe_async.grading PATH`` grades one notebook (text,
  or ``--json``) or a folder of submissions (a CSV gradebook); see ``--help``.

Where things are:

* ``spec``       — :class:`Exercise` and :class:`Task`: an exercise as data;
* ``checks/``    — one module per exercise (``ex01_async_await_as_descriptions``) declaring
  ``EXERCISE`` (its tasks' judges) and ``PROBES`` (what the worker answers), found by slug;
* ``kit``        — what a check needs: verdicts (:class:`CheckFailed`), safe calls into student
  code, driving plans, Hypothesis properties seeded per grading run;
* ``submission`` — finding the graded cells (tags ``setup`` / ``task:tN``, first lines
  ``# Setup`` / ``# Task N``) in a saved notebook or in the kernel's history;
* ``runner``     — one judge process per task (``_judge``), limits, killing and collecting;
  the judge starts the worker (``_worker``) and talks to it over ``protocol`` (JSON only);
* ``confine``    — the worker's confinement (Linux namespaces) and what it hides;
* ``report``     — verdicts as data, and as text, JSON, HTML and CSV;
* ``grader``     — grading files and folders; ``__main__`` is the command line.

The grader never uses the student's kernel state: it takes the graded cells' code and runs
it in a fresh, confined worker; the verdict comes from the judge, which only compares the
worker's plain-data answers with its own reference.
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
