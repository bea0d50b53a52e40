"""Exercises: generated from their solutions, and graded as designed.

* every exercise with checks has a solution notebook and a generated student notebook, and
  the committed student notebook is exactly what ``tools/make_exercises.py`` generates;
* every solution scores full marks; every untouched student notebook scores zero;
* every plausible wrong answer (a mutant, ``tests/grading_fixtures``) loses exactly the task
  it breaks, with feedback in the lesson's words.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from course_tools import load_tool
from grading_fixtures import ex01
from grading_fixtures.build import load, with_cells, write

from funcpipe_async.grading import Limits, Report, exercise_slugs, grade_folder, load_exercise
from funcpipe_async.grading.runner import grade_submissions

ROOT = Path(__file__).resolve().parents[1]
SLUGS = exercise_slugs()


def fixtures(slug: str) -> ModuleType:
    """``grading_fixtures/exNN.py``: the mutants of exercise ``NN_…`` and their expected feedback."""
    return importlib.import_module(f"grading_fixtures.ex{slug[:2]}")


MUTANT_CASES = sorted((slug, task_id, name) for slug in SLUGS for (task_id, name) in fixtures(slug).FEEDBACK)


make_exercises = load_tool("make_exercises")


def test_there_are_exercises() -> None:
    assert "01_async_await_as_descriptions" in SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_every_exercise_has_a_solution_and_a_student_notebook(slug: str) -> None:
    assert (ROOT / "solutions" / f"{slug}.ipynb").is_file()
    assert (ROOT / "exercises" / f"{slug}.ipynb").is_file()


@pytest.mark.parametrize("slug", SLUGS)
def test_committed_exercise_is_what_the_generator_writes(slug: str) -> None:
    generated = make_exercises.render(ROOT / "solutions" / f"{slug}.ipynb")
    committed = (ROOT / "exercises" / f"{slug}.ipynb").read_text(encoding="utf-8")
    assert committed == generated, (
        f"exercises/{slug}.ipynb differs from its solution's student version: run python tools/make_exercises.py"
    )


def test_generator_check_mode_passes_and_writes_nothing() -> None:
    before = {p: p.read_bytes() for p in (ROOT / "exercises").glob("*.ipynb")}
    done = subprocess.run(
        [sys.executable, "tools/make_exercises.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p: p.read_bytes() for p in (ROOT / "exercises").glob("*.ipynb")} == before


@pytest.mark.parametrize("slug", SLUGS)
def test_student_version_hides_the_solution_and_keeps_the_shape(slug: str) -> None:
    solution = nbformat.read(ROOT / "solutions" / f"{slug}.ipynb", as_version=4)
    student = nbformat.read(ROOT / "exercises" / f"{slug}.ipynb", as_version=4)
    kept = [c for c in solution.cells if "solution-only" not in c.metadata.get("tags", [])]
    assert [c.id for c in student.cells] == [c.id for c in kept]
    assert len(kept) < len(solution.cells), "the solution's solution-only cells are dropped"
    for cell in student.cells:
        assert "SOLUTION" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            compile(cell.source, cell.id, "exec")  # every stub still compiles
    exercise = load_exercise(slug)
    for task in exercise.tasks:
        (cell,) = [c for c in student.cells if f"task:{task.id}" in c.metadata.get("tags", [])]
        assert cell.source.startswith(f"# Task {task.number} — ")
        for name in task.defines:
            assert f'raise NotImplementedError("Task {task.number}: write {name}")' in cell.source
    assert student.metadata["funcpipe_async"] == {"exercise": slug}
    assert "widgets" not in student.metadata


def test_stubs_keep_signatures_and_replace_top_level_spans() -> None:
    source = (
        "# Task 2 — x\n# BEGIN SOLUTION\ndef _helper():\n    return 1\n# END SOLUTION\n\n"
        'def answer(x: int) -> int:\n    """Doc."""\n    # BEGIN SOLUTION\n    return _helper() + x\n    # END SOLUTION\n'
    )
    assert make_exercises.stub_source(source, "t2", "cell") == (
        "# Task 2 — x\n# YOUR CODE HERE\n\n"
        'def answer(x: int) -> int:\n    """Doc."""\n    # YOUR CODE HERE\n'
        '    raise NotImplementedError("Task 2: write answer")\n'
    )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "has no '# END SOLUTION'"),
        ("def f():\n    return 1\n    # END SOLUTION\n", "without a '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "has no '# END SOLUTION'"),
    ],
)
def test_unbalanced_markers_are_an_error(source: str, problem: str) -> None:
    with pytest.raises(make_exercises.SolutionError, match=problem):
        make_exercises.stub_source(source, "t1", "cell")


def test_a_solution_without_a_span_in_a_task_is_refused(tmp_path: Path) -> None:
    solution = nbformat.read(ROOT / "solutions" / "01_async_await_as_descriptions.ipynb", as_version=4)
    for cell in solution.cells:
        if "task:t3" in cell.metadata.get("tags", []):
            cell.source = "# Task 3 — Regroup the chain and test it\ndef team_lead_email_left(user_id, http):\n    pass\ndef assert_same_chain(one, other, directory):\n    pass\n"
    path = tmp_path / "01_async_await_as_descriptions.ipynb"
    nbformat.write(solution, path)
    with pytest.raises(
        make_exercises.SolutionError, match="Task 3 · Regroup the chain and test it has no '# BEGIN SOLUTION'"
    ):
        make_exercises.render(path)


# --- grading: solutions, untouched exercises, mutants -------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Grade each solution and each untouched exercise on a fresh seed, and every mutant on the
    fixed examples alone: a known mistake must be caught there, whatever a run's seed."""
    folder = tmp_path_factory.mktemp("submissions")
    for slug in SLUGS:
        write(load(ROOT / "solutions" / f"{slug}.ipynb"), folder / "solution" / f"{slug}.ipynb")
        write(load(ROOT / "exercises" / f"{slug}.ipynb"), folder / "untouched" / f"{slug}.ipynb")
    mutants = tmp_path_factory.mktemp("mutants")
    for slug in SLUGS:
        solution = load(ROOT / "solutions" / f"{slug}.ipynb")
        for task_id, cells in fixtures(slug).MUTANTS.items():
            for name in cells:
                # a renamed file in a folder per exercise: the folder names the exercise
                write(
                    with_cells(solution, {task_id: cells[name]}),
                    mutants / "mutant" / slug / f"{slug[:2]} {task_id} {name}.ipynb",
                )
    reports = grade_folder(folder, limits=Limits(seconds=10))
    reports += grade_folder(mutants, limits=Limits(seconds=10), fresh=False)
    return {_key(r.submission): r for r in reports}


def _key(submission: str) -> str:
    """``mutant/<slug>/01 t1 eager.ipynb`` -> ``mutant/01 t1 eager``; solutions and untouched keep theirs."""
    parts = submission.removesuffix(".ipynb").split("/")
    return f"{parts[0]}/{parts[-1]}"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_solution_scores_full_marks(graded: dict[str, Report], slug: str) -> None:
    report = graded[f"solution/{slug}"]
    assert report.status == "graded"
    assert [(t.id, t.status) for t in report.tasks] == [(t.id, "passed") for t in report.tasks], report.text()
    assert report.total == report.max_total == load_exercise(slug).max_points


@pytest.mark.parametrize("slug", SLUGS)
def test_every_untouched_exercise_scores_zero(graded: dict[str, Report], slug: str) -> None:
    report = graded[f"untouched/{slug}"]
    assert report.total == 0
    assert all(t.status == "not-done" for t in report.tasks), report.text()
    for task in report.tasks:
        assert "not done yet" in task.feedback and "NotImplementedError" in task.feedback


@pytest.mark.parametrize("slug", SLUGS)
def test_every_task_has_a_mutant_with_expected_feedback(slug: str) -> None:
    module = fixtures(slug)
    assert set(module.FEEDBACK) == {(t, name) for t, ms in module.MUTANTS.items() for name in ms}
    assert {t for t, _ in module.FEEDBACK} == {t.id for t in load_exercise(slug).tasks}


@pytest.mark.parametrize(("slug", "task_id", "name"), MUTANT_CASES)
def test_each_mutant_loses_exactly_its_task(graded: dict[str, Report], slug: str, task_id: str, name: str) -> None:
    report = graded[f"mutant/{slug[:2]} {task_id} {name}"]
    assert report.exercise == slug
    lost = [t.id for t in report.tasks if not t.passed]
    assert lost == [task_id], report.text()
    (task,) = [t for t in report.tasks if t.id == task_id]
    assert task.points == 0 and task.status == "failed"
    assert fixtures(slug).FEEDBACK[(task_id, name)] in task.feedback, task.feedback


def test_a_seed_replays_a_grading_run(graded: dict[str, Report], tmp_path: Path) -> None:
    # Every run draws fresh examples after the fixed ones; grading again with a run's seed gives
    # byte-identical verdicts (fixed hash seed too), so a disputed grade can be replayed.  A
    # known mistake is caught on the fixed examples: the same verdict as with no fresh ones.
    solution = load(ROOT / "solutions" / "01_async_await_as_descriptions.ipynb")
    again = with_cells(solution, {"t2": ex01.MUTANTS["t2"]["no short-circuit"]})
    write(again, tmp_path / "01_async_await_as_descriptions" / "t2 no short-circuit.ipynb")
    seed = graded["solution/01_async_await_as_descriptions"].seed
    assert seed is not None
    (first,) = grade_folder(tmp_path, limits=Limits(seconds=10), seed=seed)
    (second,) = grade_folder(tmp_path, limits=Limits(seconds=10), seed=seed)
    assert first.seed == second.seed == seed
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    fixed = graded["mutant/01 t2 no short-circuit"]
    assert fixed.seed is None
    assert json.dumps({**first.to_dict(), "submission": "", "seed": None}) == json.dumps(
        {**fixed.to_dict(), "submission": ""}
    )


def test_solutions_pass_whatever_the_seed(graded: dict[str, Report]) -> None:
    # The solutions' run drew a fresh seed; passing feedback does not depend on it.
    seeds = {r.seed for key, r in graded.items() if not key.startswith("mutant/")}
    assert len(seeds) == 1 and None not in seeds


def test_fixed_examples_only_is_asked_for_without_a_seed() -> None:
    with pytest.raises(ValueError, match="seed=None with fresh=False"):
        grade_submissions([], seed=1, fresh=False)
