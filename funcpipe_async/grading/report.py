"""Verdicts as data, and the ways the grader shows them: text, JSON, HTML and CSV.

A :class:`TaskResult` is one task's verdict — all or nothing, with feedback in the
lesson's words; a :class:`Report` is one submission's.  Every rendering is deterministic
text (no timings, no paths beyond the submission's own name), so a solution notebook's
"check my work" output can be compared by nbval like any other output.
"""

from __future__ import annotations

import csv
import html
import io
import os
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funcpipe_async.grading.spec import task_number

__all__ = [
    "STATUSES",
    "TaskResult",
    "Report",
    "gradebook_csv",
    "task_columns",
    "printable",
    "csv_cell",
    "write_atomically",
]

STATUSES = {
    "passed": "pass",
    "failed": "fail",
    "not-done": "not done",
    "missing": "missing",
    "timeout": "time limit",
    "exited": "exited",
    "crashed": "crashed",
    "output-limit": "too much output",
    "error": "error",
}
"""Each task status and the word shown for it (``passed`` is the only one that scores)."""


@dataclass(frozen=True)
class TaskResult:
    """One task's verdict: ``points`` of ``max_points``, a status, and feedback."""

    id: str
    title: str
    points: int
    max_points: int
    status: str
    feedback: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown task status {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def label(self) -> str:
        return f"Task {task_number(self.id)} · {self.title}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "points": self.points,
            "max_points": self.max_points,
            "passed": self.passed,
            "status": self.status,
            "feedback": self.feedback,
        }


@dataclass(frozen=True)
class Report:
    """One submission's verdicts.  ``status`` is ``graded``, or why it could not be."""

    submission: str
    exercise: str
    title: str
    tasks: tuple[TaskResult, ...]
    status: str = "graded"
    notes: tuple[str, ...] = field(default=())
    seed: int | None = None
    confinement: str = ""

    @property
    def total(self) -> int:
        return sum(t.points for t in self.tasks)

    @property
    def max_total(self) -> int:
        return sum(t.max_points for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission": self.submission,
            "exercise": self.exercise,
            "title": self.title,
            "status": self.status,
            "tasks": [t.to_dict() for t in self.tasks],
            "total": self.total,
            "max_total": self.max_total,
            "notes": list(self.notes),
            "seed": self.seed,
            "confinement": self.confinement,
        }

    def text(self) -> str:
        """The per-task verdicts as plain text, then the total."""
        heading = f"{self.title} — {self.submission}" if self.title else self.submission
        lines = [heading]
        if self.status != "graded":
            lines.append(f"  not graded: {self.status}")
        width = max((len(t.label) for t in self.tasks), default=0)
        for t in self.tasks:
            lines.append(f"  {t.label:<{width}}  {t.points:>2}/{t.max_points:<2}  {STATUSES[t.status]}")
            lines.append(f"      {t.feedback}")
        lines.extend(f"  note: {note}" for note in self.notes)
        lines.append(f"  Total: {self.total}/{self.max_total}")
        return "\n".join(lines)

    def html(self) -> str:
        """The verdicts as a small HTML table (for the notebook's "check my work" cell)."""
        rows = []
        for t in self.tasks:
            mark = "✓" if t.passed else "✗"
            rows.append(
                f"<tr><td style='text-align:left'>{html.escape(t.label)}</td>"
                f"<td>{t.points}/{t.max_points}</td><td>{mark} {html.escape(STATUSES[t.status])}</td>"
                f"<td style='text-align:left'>{html.escape(t.feedback)}</td></tr>"
            )
        notes = "".join(f"<p><i>Note: {html.escape(n)}</i></p>" for n in self.notes)
        return (
            f"<p><b>{html.escape(self.title)}</b></p>"
            "<table><thead><tr><th style='text-align:left'>task</th><th>points</th><th>result</th>"
            "<th style='text-align:left'>feedback</th></tr></thead><tbody>"
            + "".join(rows)
            + f"<tr><td style='text-align:left'><b>total</b></td><td><b>{self.total}/{self.max_total}</b></td>"
            "<td></td><td></td></tr></tbody></table>" + notes
        )


def printable(text: str) -> str:
    """``text`` safe for a terminal: control and format characters (escape sequences, carriage
    returns, bidirectional overrides) shown as ``\\x1b``-style escapes; newlines kept."""
    out = []
    for char in text:
        if char == "\n" or (char.isprintable() and unicodedata.category(char) != "Cf"):
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii") if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return "".join(out)


def csv_cell(value: object) -> object:
    """A gradebook cell a spreadsheet will not run: text starting with ``= + - @`` (or a tab or
    carriage return) gets a leading apostrophe; numbers are left alone."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_columns(reports: Sequence[Report]) -> list[str]:
    """Every task id the reports hold, in task order (``t1``, ``t2``, … ``t10``)."""
    return sorted({t.id for r in reports for t in r.tasks}, key=task_number)


def gradebook_csv(reports: Sequence[Report]) -> str:
    """One row per submission: a column per task id (points), the total, status, notes and the run's seed.

    Every text cell is neutralised for spreadsheets (:func:`csv_cell`)."""
    task_ids = task_columns(reports)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "exercise", *task_ids, "total", "max_total", "status", "notes", "seed"])
    for r in reports:
        points = {t.id: t.points for t in r.tasks}
        notes = [f"{t.id} {STATUSES[t.status]}: {_short(t.feedback)}" for t in r.tasks if not t.passed]
        notes.extend(_short(n) for n in r.notes)
        writer.writerow(
            [
                csv_cell(cell)
                for cell in (
                    r.submission,
                    r.exercise,
                    *[points.get(i, "") for i in task_ids],
                    r.total,
                    r.max_total,
                    r.status,
                    " | ".join(notes),
                    "" if r.seed is None else r.seed,
                )
            ]
        )
    return out.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file renamed into place: readers never see half a
    file, and a symbolic link at ``path`` is replaced, never followed."""
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
