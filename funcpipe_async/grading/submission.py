"""Find the graded code in a submission: a saved notebook, or the cells a kernel last ran.

A graded exercise notebook marks its code two ways, one for machines and one for people:

* the cell's metadata tags: ``setup`` for the given set-up cell(s), ``task:t1``, ``task:t2`` …
  for the cells a student writes in;
* the cell's first line: ``# Setup …`` and ``# Task 1 — <title>``.

Grading a saved notebook reads the tags (a student who edits the first line loses
nothing).  Checking work from inside a running notebook reads the kernel's input history
and takes, for each task, the latest cell that *ran* starting with ``# Task N`` — the code
the student last executed, not what happens to be saved.  The notebook's metadata names
its exercise (``metadata["funcpipe_async"]["exercise"]``), so a renamed submission
(``alice.ipynb``) is still graded against the right checks.

Only the graded cells are kept; the grader never needs the student's kernel state.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SETUP",
    "TASK_TAG_PREFIX",
    "SOLUTION_ONLY",
    "METADATA_KEY",
    "TASK_LINE",
    "SETUP_LINE",
    "NotebookError",
    "GradedCell",
    "Submission",
    "read_notebook",
    "exercise_slug",
    "from_notebook",
    "from_history",
    "cell_source",
    "cell_tags",
]

SETUP = "setup"
TASK_TAG_PREFIX = "task:"
SOLUTION_ONLY = "solution-only"
METADATA_KEY = "funcpipe_async"
TASK_LINE = re.compile(r"#\s*Task\s+([1-9][0-9]?)\b")
SETUP_LINE = re.compile(r"#\s*Setup\b")
_MAX_NOTEBOOK_BYTES = 50_000_000


class NotebookError(ValueError):
    """The file cannot be graded: missing, not a notebook, or not valid JSON."""


@dataclass(frozen=True)
class GradedCell:
    """The code of one graded cell: ``label`` is ``"setup"`` or a task id (``"t2"``)."""

    label: str
    source: str


@dataclass(frozen=True)
class Submission:
    """What the grader runs: the graded cells in order, and which exercise they answer."""

    name: str
    slug: str | None
    cells: tuple[GradedCell, ...]
    notes: tuple[str, ...] = ()

    def labels(self) -> set[str]:
        return {c.label for c in self.cells}


def cell_source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def cell_tags(cell: Mapping[str, Any]) -> list[str]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags", []) if isinstance(metadata, Mapping) else []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _label(cell: Mapping[str, Any]) -> str | None:
    for tag in cell_tags(cell):
        if tag == SETUP:
            return SETUP
        if tag.startswith(TASK_TAG_PREFIX):
            return tag[len(TASK_TAG_PREFIX) :]
    return None


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a symlink, FIFO, device) of at most the size limit."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise NotebookError(f"{path} is a symbolic link; only regular files are graded") from None
        raise NotebookError(f"{path} cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise NotebookError(f"{path} is a folder, not a notebook")
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError(
                f"{path} is not a regular file (a FIFO, socket or device); only regular files are graded"
            )
        if info.st_size > _MAX_NOTEBOOK_BYTES:
            raise NotebookError(
                f"{path} is larger than {_MAX_NOTEBOOK_BYTES // 1_000_000} MB; clear its outputs and save again"
            )
        chunks, size = [], 0
        while size <= _MAX_NOTEBOOK_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > _MAX_NOTEBOOK_BYTES:
            raise NotebookError(
                f"{path} is larger than {_MAX_NOTEBOOK_BYTES // 1_000_000} MB; clear its outputs and save again"
            )
        return b"".join(chunks)
    except OSError as error:
        raise NotebookError(f"{path} cannot be read ({error.strerror or type(error).__name__})") from None
    finally:
        os.close(fd)


def read_notebook(path: Path) -> dict[str, Any]:
    """Load ``path`` as a Jupyter notebook (format 4), or raise :class:`NotebookError` saying why.

    Only a regular file is read (never through a symbolic link, never a FIFO or a device, at
    most 50 MB); JSON that is nested too deeply or holds numbers too long to read is refused
    like any other invalid notebook.
    """
    if not os.path.lexists(path):
        raise NotebookError(f"no such file: {path}")
    if path.is_dir() and not path.is_symlink():
        raise NotebookError(f"{path} is a folder, not a notebook")
    if path.suffix != ".ipynb":
        raise NotebookError(f"{path} is not a notebook (expected a .ipynb file)")
    data = _read_regular_file(path)
    try:
        notebook = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotebookError(f"{path} is not a notebook: it is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{path} is not a notebook: invalid JSON at line {error.lineno}, column {error.colno} ({error.msg})"
        ) from None
    except RecursionError:
        raise NotebookError(f"{path} is not a notebook: its JSON is nested too deeply") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise NotebookError(f"{path} is not a notebook: {error}") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{path} is not a notebook: no list of cells")
    if notebook.get("nbformat") != 4:
        raise NotebookError(f"{path} is not a notebook in format 4 (nbformat={notebook.get('nbformat')!r})")
    return notebook


def exercise_slug(notebook: Mapping[str, Any], path: Path | None = None) -> str | None:
    """The exercise a notebook answers: from its metadata, else from its file name."""
    metadata = notebook.get("metadata")
    if isinstance(metadata, Mapping):
        ours = metadata.get(METADATA_KEY)
        if isinstance(ours, Mapping) and isinstance(ours.get("exercise"), str):
            return str(ours["exercise"])
    return path.stem if path is not None else None


def from_notebook(notebook: Mapping[str, Any], name: str, slug: str | None) -> Submission:
    """The graded cells of a saved notebook, in notebook order (by their tags)."""
    cells: list[GradedCell] = []
    for cell in notebook.get("cells", []):
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        label = _label(cell)
        if label is not None:
            cells.append(GradedCell(label, cell_source(cell)))
    return Submission(name, slug, tuple(cells))


def _history_label(source: str) -> str | None:
    first = source.lstrip("\n").split("\n", 1)[0].strip()
    if (match := TASK_LINE.match(first)) is not None:
        return f"t{int(match.group(1))}"
    if SETUP_LINE.match(first):
        return SETUP
    return None


def from_history(
    inputs: Sequence[str],
    task_ids: Iterable[str],
    slug: str,
    saved: Mapping[str, Any] | None = None,
) -> Submission:
    """The code a kernel last ran for each graded cell, falling back to the saved notebook.

    ``inputs`` is the kernel's input history (IPython's ``In``), oldest first.  For each
    label the latest input whose first line is its marker wins; a label never run in this
    session comes from ``saved`` (the notebook file) if given, with a note saying so.  A
    history with no graded cell at all (nbval runs cells without storing history) means
    the saved notebook, without notes.
    """
    latest: dict[str, str] = {}
    for source in inputs:
        label = _history_label(source)
        if label is not None:
            latest[label] = source
    from_file = from_notebook(saved, "your notebook", slug) if saved is not None else None
    if not latest and from_file is not None:
        return from_file  # no graded cell in the history (e.g. a runner that stores none): the file
    cells: list[GradedCell] = []
    notes: list[str] = []
    for label in [SETUP, *task_ids]:
        if label in latest:
            cells.append(GradedCell(label, latest[label]))
        elif from_file is not None and any(c.label == label for c in from_file.cells):
            cells.extend(c for c in from_file.cells if c.label == label)
            if label != SETUP:
                notes.append(f"Task {label[1:]} has not been run in this session: checked the saved notebook's version")
    return Submission("your notebook", slug, tuple(cells), tuple(notes))
