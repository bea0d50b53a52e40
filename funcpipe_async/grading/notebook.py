"""``check_my_work``: the exercise notebook's "check my work" cell.

It grades the code the student last *ran*: for each task, the latest cell in the kernel's
input history whose first line is ``# Task N`` (and the latest ``# Setup`` cell); a task
not run in this session is taken from the saved notebook, with a note.  The checks run in
child processes with a time limit, exactly as the instructor's grader runs them, so a
hang or a crash in the student's code cannot freeze the kernel, and the notebook's own
state (variables from scratch cells) plays no part.  The verdicts appear as a table.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from funcpipe_async.grading import confine
from funcpipe_async.grading.checks import load_exercise
from funcpipe_async.grading.report import Report
from funcpipe_async.grading.runner import Limits, grade_submission
from funcpipe_async.grading.submission import NotebookError, Submission, from_history, from_notebook, read_notebook

__all__ = ["check_my_work", "check_kernel_work", "submission_from_kernel"]


def _history() -> list[str] | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the package
        return None
    shell = get_ipython()
    if shell is None:
        return None
    inputs: Any = shell.user_ns.get("In")
    return [str(s) for s in inputs] if isinstance(inputs, list) else None


def _saved_path(slug: str, folder: Path | None) -> Path:
    """This notebook's file: JupyterLab tells its kernel (``JPY_SESSION_NAME``), so a renamed
    copy is found too; otherwise ``<slug>.ipynb`` in the kernel's folder (the notebook's own)."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    if folder is None and session.endswith(".ipynb") and Path(session).is_file():
        return Path(session)
    return (folder or Path.cwd()) / f"{slug}.ipynb"


def submission_from_kernel(slug: str, task_ids: list[str], folder: Path | None = None) -> Submission:
    """The code this kernel last ran for each graded cell, else the saved notebook."""
    saved: dict[str, Any] | None = None
    path = _saved_path(slug, folder)
    try:
        saved = read_notebook(path)
    except NotebookError:
        saved = None
    inputs = _history()
    if inputs is None:
        if saved is None:
            raise NotebookError(
                f"check_my_work runs inside the exercise notebook; no kernel history and no {path.name} here"
            )
        return from_notebook(saved, "your notebook", slug)
    return from_history(inputs, task_ids, slug, saved)


def check_kernel_work(slug: str, *, seconds: float = 10.0) -> Report:
    """Grade what this kernel last ran for exercise ``slug`` (``check_my_work`` without the display).

    The same grading as the instructor's, confined where the machine allows (the notebook's
    folder hidden from the checked code); where it does not, the report says so in a note.
    """
    exercise = load_exercise(slug)
    submission = submission_from_kernel(slug, [t.id for t in exercise.tasks])
    report = grade_submission(exercise, submission, Limits(seconds=seconds), hidden=[Path.cwd()])
    if report.confinement != confine.NAMESPACES:
        report = replace(report, notes=(*report.notes, confine.detect().describe()))
    return report


def check_my_work(slug: str, *, seconds: float = 10.0) -> None:
    """Check the tasks of exercise ``slug`` and show per-task feedback as a table.

    ``seconds`` is the time limit per task.  Nothing here raises for a wrong or unfinished
    answer: an untouched exercise scores zero, with a "not done yet" message per task.
    """
    report = check_kernel_work(slug, seconds=seconds)
    from IPython.display import display

    display({"text/html": report.html(), "text/plain": report.text()}, raw=True)  # type: ignore[no-untyped-call]
