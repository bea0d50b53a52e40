"""``python -m funcpipe_async.grading``: text, ``--json``, the CSV gradebook and exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from grading_fixtures.build import load, write

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "01_async_await_as_descriptions.ipynb"
EXERCISE = ROOT / "exercises" / "01_async_await_as_descriptions.ipynb"


def grade(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_grading_the_solution_prints_each_task_and_the_total() -> None:
    done = grade(SOLUTION)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == f"01 · async/await as Descriptions — {SOLUTION}"
    assert "Task 1 · Describe a fetch, run nothing   3/3   pass" in done.stdout
    assert "Task 2 · Chain three dependent fetches   4/4   pass" in done.stdout
    assert "Task 3 · Regroup the chain and test it   3/3   pass" in done.stdout
    assert "describing runs nothing" in done.stdout
    assert "  Total: 10/10" in lines
    assert lines[lines.index("  Total: 10/10") + 1].startswith("seed: ")
    assert any(line.startswith(("confined: ", "UNCONFINED: ")) for line in lines)


def test_json_has_one_entry_per_task_and_the_total() -> None:
    done = grade(EXERCISE, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {
        "submission",
        "exercise",
        "title",
        "status",
        "tasks",
        "total",
        "max_total",
        "notes",
        "seed",
        "confinement",
    }
    assert isinstance(report["seed"], int)
    assert report["exercise"] == "01_async_await_as_descriptions" and report["status"] == "graded"
    assert (report["total"], report["max_total"]) == (0, 10)
    assert [t["id"] for t in report["tasks"]] == ["t1", "t2", "t3"]
    for task in report["tasks"]:
        assert set(task) == {"id", "title", "points", "max_points", "passed", "status", "feedback"}
        assert task["points"] == 0 and task["passed"] is False and task["status"] == "not-done"
    assert [t["max_points"] for t in report["tasks"]] == [3, 4, 3]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.ipynb", "no such file"),
        (lambda d: ROOT / "README.md", "is not a notebook (expected a .ipynb file)"),
        (lambda d: _text(d / "broken.ipynb", '{"cells": [ '), "is not a notebook: invalid JSON at line 1"),
        (lambda d: _text(d / "list.ipynb", "[1, 2]"), "is not a notebook: no list of cells"),
        (
            lambda d: _text(
                d / "mystery.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
            ),
            "cannot tell which exercise",
        ),
        (lambda d: _mkdir(d / "empty"), "no .ipynb files under"),
    ],
    ids=["missing", "not-a-notebook", "malformed-json", "no-cells", "unknown-exercise", "empty-folder"],
)
def test_what_cannot_be_graded_is_a_clear_error_with_exit_code_2(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    done = grade(make(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("grading: error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_a_folder_becomes_a_csv_gradebook(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    write(load(SOLUTION), folder / "alice" / "01_async_await_as_descriptions.ipynb")
    claims_another = load(SOLUTION)
    claims_another["metadata"]["funcpipe_async"]["exercise"] = "02_async_generators"
    write(claims_another, folder / "bob.ipynb")  # renamed, and its metadata names another exercise
    write(load(EXERCISE), folder / "carol.ipynb")
    _text(folder / "dave.ipynb", "{ not json")
    write(load(SOLUTION), folder / ".ipynb_checkpoints" / "bob-checkpoint.ipynb")  # ignored
    done = grade(folder, "--exercise", "01_async_await_as_descriptions")
    assert done.returncode == 0, done.stderr
    gradebook = folder / "gradebook.csv"
    assert f"4 submission(s) graded; gradebook written to {gradebook}" in done.stdout
    rows = list(csv.DictReader(gradebook.read_text(encoding="utf-8").splitlines()))
    assert [r["submission"] for r in rows] == [
        "alice/01_async_await_as_descriptions.ipynb",
        "bob.ipynb",
        "carol.ipynb",
        "dave.ipynb",
    ]
    assert list(rows[0]) == [
        "submission",
        "exercise",
        "t1",
        "t2",
        "t3",
        "total",
        "max_total",
        "status",
        "notes",
        "seed",
    ]
    alice, bob, carol, dave = rows
    assert (alice["t1"], alice["t2"], alice["t3"], alice["total"], alice["max_total"]) == ("3", "4", "3", "10", "10")
    assert bob["total"] == "10" and bob["status"] == "graded" and bob["exercise"] == "01_async_await_as_descriptions"
    assert "metadata claims exercise '02_async_generators'; it was graded against 01_async" in bob["notes"]
    assert alice["seed"] == bob["seed"] and alice["seed"].isdigit()
    assert carol["total"] == "0" and carol["status"] == "graded"
    assert carol["notes"].startswith("t1 not done: not done yet: fetch_email still raises NotImplementedError")
    assert (dave["t1"], dave["t2"], dave["t3"], dave["total"], dave["max_total"]) == ("0", "0", "0", "0", "10")
    assert dave["status"].startswith("not graded: dave.ipynb is not a notebook: invalid JSON at line 1")


def test_gradebook_option_and_json_for_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    write(load(SOLUTION), folder / "erin.ipynb")
    target = tmp_path / "out" / "marks.csv"
    target.parent.mkdir()
    done = grade(folder, "--json", "--gradebook", target, "--jobs", "1", "--exercise", "01_async_await_as_descriptions")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["gradebook"] == str(target) and target.is_file()
    assert [s["submission"] for s in payload["submissions"]] == ["erin.ipynb"]
    assert payload["submissions"][0]["total"] == 10
    assert not (folder / "gradebook.csv").exists()


def test_exercise_option_overrides_the_file_name(tmp_path: Path) -> None:
    notebook = load(SOLUTION)
    del notebook["metadata"]["funcpipe_async"]
    path = write(notebook, tmp_path / "frank.ipynb")
    assert grade(path).returncode == 2
    done = grade(path, "--exercise", "01_async_await_as_descriptions", "--timeout", "20")
    assert done.returncode == 0 and "  Total: 10/10\n" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--jobs", "0"], ["--exercise", "99_nothing"]])
def test_bad_options_exit_2(args: list[str]) -> None:
    done = grade(SOLUTION, *args)
    assert done.returncode == 2 and done.stderr.startswith("grading: error: "), done.stderr
