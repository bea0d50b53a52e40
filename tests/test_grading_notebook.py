"""The student notebook in a real kernel, and ``check_my_work``'s choice of code to check.

The untouched exercise runs top to bottom without an error and its check cell shows zero
for every task.  The check grades what the kernel last *ran*: re-running Task 1's cell with
a working answer (without saving the notebook) makes Task 1 pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from funcpipe_async.grading import NotebookError, load_exercise
from funcpipe_async.grading.notebook import submission_from_kernel
from funcpipe_async.grading.submission import GradedCell, from_history

ROOT = Path(__file__).resolve().parents[1]
SLUG = "01_async_await_as_descriptions"
EXERCISE = ROOT / "exercises" / f"{SLUG}.ipynb"
SOLUTION = ROOT / "solutions" / f"{SLUG}.ipynb"


def _task_source(path: Path, task_id: str) -> str:
    notebook = nbformat.read(path, as_version=4)
    (cell,) = [c for c in notebook.cells if f"task:{task_id}" in c.metadata.get("tags", [])]
    return str(cell.source)


def _text(outputs: list[Any]) -> str:
    parts = []
    for out in outputs:
        parts.append("".join(out.get("text", "")))
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


@pytest.fixture(scope="module")
def executed() -> Any:
    notebook = nbformat.read(EXERCISE, as_version=4)
    # The student re-runs Task 1's cell with a working answer (typed into the cell, not saved),
    # then checks again.
    notebook.cells.append(nbformat.v4.new_code_cell(_task_source(SOLUTION, "t1")))
    notebook.cells.append(nbformat.v4.new_code_cell(f'check_my_work("{SLUG}")'))
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXERCISE.parent)}}
    )
    client.execute()  # raises CellExecutionError if any cell fails
    return notebook


def test_the_untouched_exercise_runs_top_to_bottom(executed: Any) -> None:
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:60]
            assert not [o for o in cell.outputs if o.get("name") == "stderr"], _text(cell.outputs)


def test_its_check_cell_shows_zero_for_every_task(executed: Any) -> None:
    original = len(nbformat.read(EXERCISE, as_version=4).cells)
    (check,) = [c for c in executed.cells[:original] if "check_my_work(" in c.source]
    text = _text(check.outputs)
    assert "Total: 0/10" in text
    assert text.count("not done yet") == 3
    html = "".join(o.get("data", {}).get("text/html", "") for o in check.outputs)
    assert "<table>" in html and "0/10" in html


def test_the_check_grades_the_code_last_run(executed: Any) -> None:
    text = _text(executed.cells[-1].outputs)
    assert "Task 1 · Describe a fetch, run nothing   3/3   pass" in text
    assert "Total: 3/10" in text


def test_history_latest_run_wins_and_unrun_tasks_come_from_the_file() -> None:
    saved = json.loads(SOLUTION.read_text(encoding="utf-8"))
    inputs = [
        "",
        "# Setup — run this first\nx = 1\n",
        "# Task 1 — old\ndef fetch_email(u, h):\n    return 1\n",
        "print('scratch')\n",
        "# Task 1 — new\ndef fetch_email(u, h):\n    return 2\n",
        "check_my_work('x')\n",
    ]
    tasks = [t.id for t in load_exercise(SLUG).tasks]
    submission = from_history(inputs, tasks, SLUG, saved)
    labels = [c.label for c in submission.cells]
    assert labels == ["setup", "t1", "t2", "t3"]
    assert submission.cells[1] == GradedCell("t1", inputs[4])
    assert submission.cells[2].source == _task_source(SOLUTION, "t2")
    assert submission.notes == (
        "Task 2 has not been run in this session: checked the saved notebook's version",
        "Task 3 has not been run in this session: checked the saved notebook's version",
    )


def test_no_graded_cell_in_the_history_means_the_saved_notebook() -> None:
    saved = json.loads(SOLUTION.read_text(encoding="utf-8"))
    submission = from_history(["", "print(1)\n"], ["t1", "t2", "t3"], SLUG, saved)
    assert [c.label for c in submission.cells] == ["setup", "t1", "t2", "t3"] and submission.notes == ()


def test_outside_a_kernel_the_saved_notebook_is_checked(tmp_path: Path) -> None:
    (tmp_path / f"{SLUG}.ipynb").write_text(SOLUTION.read_text(encoding="utf-8"), encoding="utf-8")
    submission = submission_from_kernel(SLUG, ["t1", "t2", "t3"], tmp_path)
    assert [c.label for c in submission.cells] == ["setup", "t1", "t2", "t3"]
    with pytest.raises(NotebookError, match="runs inside the exercise notebook"):
        submission_from_kernel(SLUG, ["t1"], tmp_path / "elsewhere")
