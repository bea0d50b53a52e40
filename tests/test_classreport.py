"""The class report: read from a gradebook (with or without the JSON beside it), grouped, escaped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from funcpipe_async.grading import Report, TaskResult, gradebook_csv, load_exercise
from funcpipe_async.grading.classreport import class_report_html, mistake, read_gradebook

SLUG = "02_async_generators"


def _report(
    name: str, passed: dict[str, bool], feedback: dict[str, str] | None = None, status: str = "graded"
) -> Report:
    exercise = load_exercise(SLUG)
    tasks = tuple(
        TaskResult(
            t.id,
            t.title,
            t.points if passed.get(t.id) else 0,
            t.points,
            "passed" if passed.get(t.id) else "failed",
            "ok" if passed.get(t.id) else (feedback or {}).get(t.id, "wrong"),
        )
        for t in exercise.tasks
    )
    return Report(name, SLUG, exercise.title, tasks, status=status, seed=7)


def _class(tmp_path: Path, with_json: bool) -> Path:
    reports = [
        _report("alice.ipynb", {"t1": True, "t2": True, "t3": True}),
        _report(
            "bob.ipynb",
            {"t1": True, "t2": True},
            {"t3": "first_alert(stream_of([1, 9]), 5) pulled 2 readings, but the first alert is reading 1: stop"},
        ),
        _report(
            "carol.ipynb",
            {"t1": True, "t2": True},
            {"t3": "first_alert(stream_of([7, 2, 3]), 6) pulled 3 readings, but the first alert is reading 0: stop"},
        ),
        _report(
            "dave.ipynb",
            {"t2": True},
            {
                "t1": "windows(stream, 2) returned <script>alert(1)</script> without complaint; a window needs n >= 1",
                "t3": "first_alert(stream_of([]), 3) gave Ok(None): with no reading over it, fail as data",
            },
        ),
        _report("=cmd|calc.ipynb", {}, status="not graded: the file is not a notebook"),
        _report("<img src=x onerror=alert(1)>.ipynb", {}, status="not graded: nested too deeply"),
    ]
    gradebook = tmp_path / "gradebook.csv"
    gradebook.write_text(gradebook_csv(reports), encoding="utf-8")
    if with_json:
        data = {"submissions": [r.to_dict() for r in reports]}
        gradebook.with_suffix(".json").write_text(json.dumps(data), encoding="utf-8")
    return gradebook


def test_one_mistake_met_on_different_examples_is_one_kind() -> None:
    a = "first_alert(stream_of([1, 9]), 5) pulled 2 readings, but the first alert is reading 1: stop"
    b = "first_alert(stream_of([7, 2, 3]), 6) pulled 3 readings, but the first alert is reading 0: stop"
    c = "first_alert(stream_of([]), 3) gave Ok(None): with no reading over it, fail as data"
    assert mistake(a) == mistake(b) != mistake(c)
    assert mistake("the value x = 'secret value' is wrong here: because") == "the value x = '…' is wrong here"


def test_the_report_counts_passes_and_groups_feedback(tmp_path: Path) -> None:
    rows = read_gradebook(_class(tmp_path, with_json=True))
    assert [r.submission for r in rows][-2] == "=cmd|calc.ipynb"  # the CSV's apostrophe is not part of the name
    page = class_report_html(rows)
    # 4 graded: t1 passed by 3, t2 by 4, t3 by 1
    assert "75% (3/4)" in page and "100% (4/4)" in page and "25% (1/4)" in page
    assert "The task the fewest passed: Task 3 · Pull exactly what you need" in page
    t3 = page[page.index("<h4>Task 3") :]
    counts = re.findall(r"<td class='n'>(\d+)</td>", t3)
    assert counts[:2] == ["2", "1"]  # the two pulled-too-much messages are one mistake, first
    assert "not graded: the file is not a notebook" in page
    assert "Mean total of the graded: 6.8 / 10" in page


def test_without_the_json_the_notes_column_gives_the_feedback(tmp_path: Path) -> None:
    page = class_report_html(read_gradebook(_class(tmp_path, with_json=False)))
    assert "pulled # readings, but the first alert is reading #" in page


def test_the_page_is_self_contained_and_escapes_what_students_chose(tmp_path: Path) -> None:
    page = class_report_html(read_gradebook(_class(tmp_path, with_json=True)))
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # loads nothing
    assert page.count("<svg") == page.count("<title>") - 1 == 2  # each chart has a text alternative
    assert page.count("<desc>") == 2


def test_the_cli_writes_the_report_and_refuses_a_missing_gradebook(tmp_path: Path) -> None:
    gradebook = _class(tmp_path, with_json=True)
    out = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", "report", str(gradebook), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    missing = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", "report", str(tmp_path / "no.csv"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no gradebook at" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    other = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", "report", str(tmp_path / "other.csv"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 2 and "is not a grader's gradebook" in other.stderr
