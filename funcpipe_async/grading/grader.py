"""Grade saved notebooks: one file, or a folder of submissions into a gradebook.

:func:`grade_notebook` raises :class:`~funcpipe_async.grading.submission.NotebookError`
(or :class:`~funcpipe_async.grading.checks.UnknownExercise`) when a file cannot be graded
at all — the command line turns that into a message and exit code 2.  :func:`grade_folder`
never raises for one bad submission: its row says why it scored nothing, and the others
are graded.
"""

from __future__ import annotations

from pathlib import Path

from funcpipe_async.grading.checks import UnknownExercise, exercise_slugs, load_exercise
from funcpipe_async.grading.report import Report, TaskResult
from funcpipe_async.grading.runner import Graded, Limits, grade_submissions
from funcpipe_async.grading.spec import Exercise
from funcpipe_async.grading.submission import NotebookError, exercise_slug, from_notebook, read_notebook

__all__ = ["load_submission", "grade_notebook", "grade_folder", "find_notebooks"]


def load_submission(path: Path, name: str, exercise: str | None = None) -> Graded:
    """Read ``path`` and find its exercise (``exercise`` overrides the notebook's own metadata)."""
    notebook = read_notebook(path)
    if exercise is not None:
        return Graded(load_exercise(exercise), from_notebook(notebook, name, exercise))
    slug = exercise_slug(notebook, path)
    if slug is None or slug not in exercise_slugs():
        known = ", ".join(exercise_slugs())
        raise UnknownExercise(
            f"cannot tell which exercise {path} answers (its metadata names none, and its file name is not "
            f"one of: {known}); say which with --exercise"
        )
    return Graded(load_exercise(slug), from_notebook(notebook, name, slug))


def grade_notebook(
    path: Path, *, exercise: str | None = None, limits: Limits = Limits(), jobs: int | None = None
) -> Report:
    """Grade one saved notebook."""
    item = load_submission(path, str(path), exercise)
    return grade_submissions([item], limits, jobs)[0]


def find_notebooks(folder: Path) -> list[Path]:
    """Every ``.ipynb`` under ``folder`` (sub-folders too), skipping Jupyter's checkpoints."""
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _ungradable(name: str, exercise: Exercise | None, why: str) -> Report:
    if exercise is None:
        return Report(name, "", "", (), status=why)
    zeros = tuple(TaskResult(t.id, t.title, 0, t.points, "error", why) for t in exercise.tasks)
    return Report(name, exercise.slug, exercise.title, zeros, status=why)


def grade_folder(
    folder: Path,
    *,
    exercise: str | None = None,
    limits: Limits = Limits(),
    jobs: int | None = None,
) -> list[Report]:
    """Grade every notebook under ``folder``; one report per file, in path order."""
    items: list[Graded] = []
    slots: list[tuple[str, str] | int] = []  # an index into items, or (name, why it cannot be graded)
    for path in find_notebooks(folder):
        name = path.relative_to(folder).as_posix()
        try:
            items.append(load_submission(path, name, exercise))
            slots.append(len(items) - 1)
        except (NotebookError, UnknownExercise) as error:
            slots.append((name, f"not graded: {error}".replace(str(path), name)))
    # A submission that cannot be read scores zero on every task of the exercise the others
    # answer (or the one named), so its row lines up with theirs in the gradebook.
    answered = {item.exercise.slug for item in items}
    slug = exercise or (answered.pop() if len(answered) == 1 else None)
    fallback = load_exercise(slug) if slug in exercise_slugs() else None
    graded = grade_submissions(items, limits, jobs)
    return [graded[slot] if isinstance(slot, int) else _ungradable(slot[0], fallback, slot[1]) for slot in slots]
