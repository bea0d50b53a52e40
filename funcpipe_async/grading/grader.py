"""Grade saved notebooks: one file, or a folder of submissions into a gradebook.

The exercise a notebook is graded against is the one the instructor names: ``exercise``
(``--exercise``), else a folder on the notebook's path named after an exercise (a folder
per exercise: ``submissions/01_async_await_as_descriptions/alice.ipynb``), else the file's
own name (``01_async_await_as_descriptions.ipynb``).  The notebook's metadata is only
compared with that: a notebook claiming another exercise gets a note saying so, and one
that nothing but its metadata names is not graded.

:func:`grade_notebook` raises :class:`~funcpipe_async.grading.submission.NotebookError`
(or :class:`~funcpipe_async.grading.checks.UnknownExercise`) when a file cannot be graded
at all — the command line turns that into a message and exit code 2.  :func:`grade_folder`
never raises for one bad file — an odd file (a FIFO, a device, a symbolic link, an
unreadable, huge, deeply nested or non-UTF-8 one), or any other exception while reading
it, becomes that file's "not graded: reason" row — and the others are graded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from funcpipe_async.grading.checks import UnknownExercise, exercise_slugs, load_exercise
from funcpipe_async.grading.report import Report, TaskResult
from funcpipe_async.grading.runner import Graded, Limits, grade_submissions
from funcpipe_async.grading.spec import Exercise
from funcpipe_async.grading.submission import NotebookError, exercise_slug, from_notebook, read_notebook

__all__ = ["load_submission", "named_exercise", "grade_notebook", "grade_folder", "find_notebooks"]


def named_exercise(path: Path, folder: Path | None = None) -> str | None:
    """The exercise the instructor's layout names for ``path``: a folder under ``folder`` (or the
    file's own parent) called after an exercise, else the file's name; None if neither does."""
    known = set(exercise_slugs())
    parts = path.relative_to(folder).parts[:-1] if folder is not None else path.parent.parts[-1:]
    for part in reversed(parts):
        if part in known:
            return part
    return path.stem if path.stem in known else None


def load_submission(path: Path, name: str, exercise: str | None = None, folder: Path | None = None) -> Graded:
    """Read ``path`` and grade it against ``exercise``, else the exercise its path names."""
    notebook = read_notebook(path)
    claimed = exercise_slug(notebook)
    slug = exercise or named_exercise(path, folder)
    if slug is None:
        known = ", ".join(exercise_slugs())
        said = f" (its metadata claims {claimed[:80]!r}, which is not trusted)" if claimed else ""
        raise UnknownExercise(
            f"cannot tell which exercise {path} answers{said}: name it with --exercise, put it in a folder named "
            f"after its exercise, or name the file after it (one of: {known})"
        )
    submission = from_notebook(notebook, name, slug)
    if claimed is not None and claimed != slug:
        note = (
            f"the notebook's metadata claims exercise {claimed[:80]!r}; it was graded against {slug}, "
            "the exercise the instructor named"
        )
        submission = replace(submission, notes=(*submission.notes, note))
    return Graded(load_exercise(slug), submission)


def grade_notebook(
    path: Path,
    *,
    exercise: str | None = None,
    limits: Limits = Limits(),
    jobs: int | None = None,
    seed: int | None = None,
    fresh: bool = True,
    strict: bool = False,
) -> Report:
    """Grade one saved notebook (its folder is hidden from the workers)."""
    item = load_submission(path, str(path), exercise)
    hidden = [path.resolve().parent]
    return grade_submissions([item], limits, jobs, seed=seed, fresh=fresh, strict=strict, hidden=hidden)[0]


def find_notebooks(folder: Path) -> list[Path]:
    """Every ``*.ipynb`` entry under ``folder`` (sub-folders too, never following a symbolic link to
    a folder), skipping Jupyter's checkpoints.  Entries that are not regular files are listed
    too, so each gets its own "not graded" row."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        found.extend(Path(root) / f for f in files if f.endswith(".ipynb"))
        found.extend(Path(root) / d for d in dirs if d.endswith(".ipynb"))
    return sorted(found)


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
    seed: int | None = None,
    fresh: bool = True,
    strict: bool = False,
    hidden: Sequence[Path] = (),
) -> list[Report]:
    """Grade every notebook under ``folder``; one report per file, in path order.

    The workers see neither ``folder`` nor anything in ``hidden`` (the gradebook's folder).
    ``seed`` and ``fresh`` are :func:`~funcpipe_async.grading.runner.grade_submissions`'s.
    """
    items: list[Graded] = []
    slots: list[tuple[str, str] | int] = []  # an index into items, or (name, why it cannot be graded)
    for path in find_notebooks(folder):
        name = path.relative_to(folder).as_posix()
        try:
            items.append(load_submission(path, name, exercise, folder))
            slots.append(len(items) - 1)
        except (NotebookError, UnknownExercise) as error:
            slots.append((name, f"not graded: {error}".replace(str(path), name)))
        except Exception as error:  # noqa: BLE001 - one odd file must not stop the run
            slots.append((name, f"not graded: reading it raised {type(error).__name__}"))
    # A submission that cannot be read scores zero on every task of the exercise the others
    # answer (or the one named), so its row lines up with theirs in the gradebook.
    answered = {item.exercise.slug for item in items}
    slug = exercise or (answered.pop() if len(answered) == 1 else None)
    fallback = load_exercise(slug) if slug in exercise_slugs() else None
    graded = (
        grade_submissions(
            items,
            limits,
            jobs,
            seed=seed,
            fresh=fresh,
            strict=strict,
            hidden=[folder.resolve(), *(h.resolve() for h in hidden)],
        )
        if items
        else []
    )
    return [graded[slot] if isinstance(slot, int) else _ungradable(slot[0], fallback, slot[1]) for slot in slots]
