"""The class report: what a folder run says about the class, as one self-contained HTML page.

    python -m funcpipe_async.grading report submissions/gradebook.csv --out report.html

For each exercise in the gradebook: the pass rate of every task (a bar chart), the
distribution of totals, the most frequent feedback per task — the mistakes the class makes,
grouped by the sentence the check opens with, numbers and quoted values blanked out — and
the submissions that could not be graded, with the reason.  Feedback comes from the JSON the
folder run writes beside the gradebook (``gradebook.json``: every task's full feedback); with
only the CSV, from its notes column (shortened feedback of the tasks that failed).

The page has no scripts and loads nothing: charts are inline SVG with a text alternative
(``<title>``/``<desc>``, and every value is also printed as text), in the Okabe–Ito
colour-blind-safe palette.  Every name and message is escaped: submissions' file names are
chosen by students.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funcpipe_async.grading.checks import UnknownExercise, load_exercise
from funcpipe_async.grading.spec import task_number

__all__ = ["Row", "read_gradebook", "mistake", "class_report_html", "write_class_report"]

_PASS, _FAIL, _INK, _GRID = "#0072B2", "#D55E00", "#222222", "#BBBBBB"


@dataclass
class Row:
    """One submission's row: points per task id, total, status, and feedback per task that did not pass."""

    submission: str
    exercise: str
    points: dict[str, int]
    total: int
    max_total: int
    status: str
    feedback: dict[str, str] = field(default_factory=dict)

    @property
    def graded(self) -> bool:
        return self.status == "graded"


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _uncell(text: str) -> str:
    """A CSV cell as written: the apostrophe that neutralised a formula removed."""
    return text[1:] if text[:2] in ("'=", "'+", "'-", "'@") else text


def read_gradebook(path: Path) -> list[Row]:
    """The gradebook's rows, with each failed task's feedback (from ``<stem>.json`` beside it when present)."""
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    if records and not {"submission", "exercise", "total", "max_total", "status"} <= set(records[0]):
        raise ValueError(f"{path.name} is not a grader's gradebook (its columns are {sorted(records[0])})")
    details: dict[str, dict[str, Any]] = {}
    beside = path.with_suffix(".json")
    if beside.is_file() and not beside.is_symlink():
        data = json.loads(beside.read_text(encoding="utf-8"))
        details = {str(s["submission"]): s for s in data.get("submissions", []) if isinstance(s, dict)}
    rows: list[Row] = []
    for record in records:
        name = _uncell(record["submission"])
        task_ids = [k for k in record if re.fullmatch(r"t[0-9]+", k) and record[k] != ""]
        row = Row(
            name,
            _uncell(record["exercise"]),
            {t: _int(record[t]) for t in task_ids},
            _int(record["total"]),
            _int(record["max_total"]),
            _uncell(record["status"]),
        )
        detail = details.get(name)
        if detail is not None:
            row.feedback = {str(t["id"]): str(t["feedback"]) for t in detail.get("tasks", []) if not t.get("passed")}
        else:
            for part in _uncell(record.get("notes", "")).split(" | "):
                match = re.match(r"(t[0-9]+) [^:]+: (.*)", part)
                if match:
                    row.feedback[match.group(1)] = match.group(2)
        rows.append(row)
    return rows


def mistake(feedback: str) -> str:
    """The kind of mistake a feedback message reports: its opening clause, with numbers, quoted
    values and brackets' contents blanked (``#``, ``'…'``, ``(…)``), so two students' versions
    of one mistake, met on different examples, match."""
    text = " ".join(feedback.split())
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\d+(\.\d+)?", "#", text)
    while True:  # the example's values: every bracket's contents, innermost first
        shorter = re.sub(r"\(([^()\[\]]+)\)", "(…)", re.sub(r"\[([^()\[\]]+)\]", "[…]", text))
        shorter = shorter.replace("(…)…", "(…)").replace("[…]…", "[…]")
        if shorter == text:
            break
        text = shorter
    for mark in (": ", "; ", ". ", " — "):
        cut = text.find(mark, 25)
        if 0 < cut <= 160:
            return text[:cut]
    return text if len(text) <= 160 else text[:159] + "…"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bars(title: str, labels: Sequence[str], values: Sequence[float], texts: Sequence[str]) -> str:
    """A horizontal bar chart (values in 0..1), with its values as text too."""
    height = 34 * len(labels) + 30
    desc = "; ".join(f"{label}: {text}" for label, text in zip(labels, texts))
    parts = [
        f'<svg role="img" width="720" height="{height}" viewBox="0 0 720 {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{_esc(title)}</title><desc>{_esc(desc)}</desc>'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = 350 + 300 * tick
        parts.append(
            f'<line x1="{x:.0f}" y1="6" x2="{x:.0f}" y2="{height - 22}" stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{x:.0f}" y="{height - 6}" font-size="13" text-anchor="middle" fill="{_INK}">'
            f"{tick:.0%}</text>"
        )
    for i, (label, value, text) in enumerate(zip(labels, values, texts)):
        y = 10 + 34 * i
        width = 300 * max(0.0, min(1.0, value))
        parts.append(
            f'<text x="342" y="{y + 17}" font-size="14" text-anchor="end" fill="{_INK}">{_esc(label if len(label) <= 44 else label[:43] + "…")}</text>'
            f'<rect x="350" y="{y}" width="{width:.1f}" height="24" fill="{_PASS}"/>'
            f'<text x="{354 + width:.1f}" y="{y + 17}" font-size="14" fill="{_INK}">{_esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(title: str, counts: Sequence[int]) -> str:
    """Vertical bars: how many graded submissions scored each total 0..max."""
    n = len(counts)
    step = min(56, 640 // max(n, 1))
    top = max(counts, default=0) or 1
    width, height = 60 + step * n, 230
    desc = "; ".join(f"{total} points: {count}" for total, count in enumerate(counts))
    parts = [
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{_esc(title)}</title><desc>{_esc(desc)}</desc>',
        f'<line x1="40" y1="190" x2="{width - 10}" y2="190" stroke="{_INK}" stroke-width="1"/>',
    ]
    for total, count in enumerate(counts):
        x = 44 + step * total
        bar = 160 * count / top
        parts.append(
            f'<rect x="{x}" y="{190 - bar:.1f}" width="{step - 8}" height="{bar:.1f}" fill="{_PASS}"/>'
            f'<text x="{x + (step - 8) / 2:.1f}" y="{184 - bar:.1f}" font-size="13" text-anchor="middle" '
            f'fill="{_INK}">{count if count else ""}</text>'
            f'<text x="{x + (step - 8) / 2:.1f}" y="208" font-size="13" text-anchor="middle" fill="{_INK}">'
            f"{total}</text>"
        )
    parts.append(
        f'<text x="{width / 2:.0f}" y="226" font-size="13" text-anchor="middle" fill="{_INK}">total points</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _task_titles(slug: str, task_ids: Sequence[str]) -> dict[str, str]:
    try:
        exercise = load_exercise(slug)
    except UnknownExercise:
        return {t: f"Task {task_number(t)}" for t in task_ids}
    titles = {t.id: t.label for t in exercise.tasks}
    return {t: titles.get(t, f"Task {task_number(t)}") for t in task_ids}


def _exercise_section(slug: str, rows: Sequence[Row], top: int) -> str:
    graded = [r for r in rows if r.graded]
    task_ids = sorted({t for r in rows for t in r.points}, key=task_number)
    titles = _task_titles(slug, task_ids)
    max_points = {t: max((r.points.get(t, 0) for r in graded), default=0) for t in task_ids}
    try:
        exercise = load_exercise(slug)
        max_points.update({t.id: t.points for t in exercise.tasks})
        heading, max_total = exercise.title, exercise.max_points
    except UnknownExercise:
        heading, max_total = slug or "(no exercise)", max((r.max_total for r in rows), default=0)
    out = [f"<section><h2>{_esc(heading)}</h2>"]
    mean = sum(r.total for r in graded) / len(graded) if graded else 0.0
    out.append(
        f"<p>{len(rows)} submission(s): {len(graded)} graded, {len(rows) - len(graded)} not graded. "
        f"Mean total of the graded: {mean:.1f} / {max_total}.</p>"
    )
    if graded and task_ids:
        rates = [
            sum(1 for r in graded if r.points.get(t, 0) == max_points[t] and max_points[t] > 0) / len(graded)
            for t in task_ids
        ]
        texts = [f"{rate:.0%} ({round(rate * len(graded))}/{len(graded)})" for rate in rates]
        hardest = task_ids[min(range(len(rates)), key=lambda i: (rates[i], i))]
        out.append(f"<h3>Pass rate per task</h3><p>The task the fewest passed: {_esc(titles[hardest])}.</p>")
        out.append(
            "<figure>"
            + _bars(f"{heading}: pass rate per task", [titles[t] for t in task_ids], rates, texts)
            + "<figcaption>Share of graded submissions that passed each task (all or nothing).</figcaption></figure>"
        )
        counts = [0] * (max_total + 1)
        for r in graded:
            counts[max(0, min(max_total, r.total))] += 1
        out.append(
            "<h3>Totals</h3><figure>"
            + _histogram(f"{heading}: distribution of totals", counts)
            + "<figcaption>How many graded submissions reached each total.</figcaption></figure>"
        )
    out.append("<h3>Most frequent feedback</h3>")
    any_feedback = False
    for t in task_ids:
        kinds: Counter[str] = Counter()
        example: dict[str, str] = {}
        for r in graded:
            text = r.feedback.get(t)
            if text:
                kind = mistake(text)
                kinds[kind] += 1
                example.setdefault(kind, text)
        if not kinds:
            continue
        any_feedback = True
        items = "".join(
            f"<tr><td class='n'>{count}</td><td>{_esc(kind)}<details><summary>one student's message</summary>"
            f"{_esc(example[kind])}</details></td></tr>"
            for kind, count in sorted(kinds.items(), key=lambda kc: (-kc[1], kc[0]))[:top]
        )
        out.append(
            f"<h4>{_esc(titles[t])}</h4><table><thead><tr><th>students</th><th>mistake (the check's opening "
            f"words)</th></tr></thead><tbody>{items}</tbody></table>"
        )
    if not any_feedback:
        out.append("<p>Every graded submission passed every task.</p>")
    ungraded = [r for r in rows if not r.graded]
    if ungraded:
        items = "".join(f"<tr><td>{_esc(r.submission)}</td><td>{_esc(r.status)}</td></tr>" for r in ungraded)
        out.append(
            f"<h3>Not graded</h3><table><thead><tr><th>submission</th><th>why</th></tr></thead>"
            f"<tbody>{items}</tbody></table>"
        )
    out.append("</section>")
    return "".join(out)


_STYLE = (
    "body{font-family:system-ui,sans-serif;color:#222;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #bbb;padding:.3rem .5rem;"
    "text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "details summary{color:#555;font-size:.9em;cursor:pointer}figcaption{color:#555;font-size:.9em}"
    "section{border-top:2px solid #0072B2;margin-top:2rem}"
)


def class_report_html(rows: Sequence[Row], *, source: str = "gradebook.csv", top: int = 5) -> str:
    """The whole page: one section per exercise in the gradebook."""
    by_exercise: dict[str, list[Row]] = {}
    for row in rows:
        by_exercise.setdefault(row.exercise, []).append(row)
    sections = "".join(_exercise_section(slug, group, top) for slug, group in sorted(by_exercise.items()))
    if not sections:
        sections = "<p>The gradebook has no rows.</p>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report</title>"
        f"<style>{_STYLE}</style></head><body><h1>Class report</h1>"
        f"<p>From {_esc(source)}: {len(rows)} submission(s).</p>{sections}</body></html>\n"
    )


def write_class_report(gradebook: Path, out: Path) -> Path:
    """Read ``gradebook`` (and the JSON beside it) and write the report to ``out``."""
    from funcpipe_async.grading.report import write_atomically

    html_text = class_report_html(read_gradebook(gradebook), source=gradebook.name)
    write_atomically(out, html_text)
    return out
