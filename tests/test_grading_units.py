"""The grader's parts: exercises as data, reading notebooks, verdicts and their renderings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from funcpipe_async import Err, ErrInfo, Ok, async_pure
from funcpipe_async.grading import (
    CheckFailed,
    Exercise,
    Limits,
    NotDone,
    Report,
    Task,
    TaskResult,
    UnknownExercise,
    exercise_slugs,
    gradebook_csv,
    kit,
    load_exercise,
)
from funcpipe_async.grading.runner import _read_verdict, run_task
from funcpipe_async.grading.submission import GradedCell, NotebookError, Submission, exercise_slug, read_notebook

ROOT = Path(__file__).resolve().parents[1]


def _ok(ns: object) -> str:
    return "fine"


def _task(task_id: str = "t1", **changes: object) -> Task:
    fields: dict[str, object] = {"id": task_id, "title": "A task", "points": 2, "defines": ("f",), "judge": _ok}
    fields.update(changes)
    return Task(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "task1"}, "a task id is 't' and a number"),
        ({"title": " "}, "needs a title"),
        ({"points": 0}, "points must be a positive int"),
        ({"points": True}, "points must be a positive int"),
        ({"defines": ()}, "defines must name at least one identifier"),
        ({"defines": ("not a name",)}, "defines must name at least one identifier"),
        ({"judge": "nope"}, "a task needs a judge"),
    ],
)
def test_a_task_validates_its_fields(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _task(**changes)


def test_an_exercise_has_two_to_four_tasks_numbered_in_order() -> None:
    assert Exercise("09_x", "x", (_task("t1"), _task("t2"))).max_points == 4
    with pytest.raises(ValueError, match="the course asks for 2 to 4"):
        Exercise("09_x", "x", (_task("t1"),))
    with pytest.raises(ValueError, match="task ids must be"):
        Exercise("09_x", "x", (_task("t1"), _task("t3")))
    with pytest.raises(ValueError, match="slug looks like"):
        Exercise("Nine", "x", (_task("t1"), _task("t2")))


def test_the_registry_finds_exercises_by_slug() -> None:
    assert exercise_slugs() == sorted(exercise_slugs())
    exercise = load_exercise("01_async_await_as_descriptions")
    assert [t.label for t in exercise.tasks] == [
        "Task 1 · Describe a fetch, run nothing",
        "Task 2 · Chain three dependent fetches",
        "Task 3 · Regroup the chain and test it",
    ]
    assert exercise.max_points == 10
    with pytest.raises(UnknownExercise, match="no exercise called '99_nothing'"):
        load_exercise("99_nothing")


def test_read_notebook_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="no such file"):
        read_notebook(tmp_path / "x.ipynb")
    with pytest.raises(NotebookError, match="is a folder"):
        read_notebook(tmp_path)
    (tmp_path / "bin.ipynb").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(NotebookError, match="not UTF-8"):
        read_notebook(tmp_path / "bin.ipynb")
    (tmp_path / "v3.ipynb").write_text(json.dumps({"cells": [], "nbformat": 3}))
    with pytest.raises(NotebookError, match="format 4"):
        read_notebook(tmp_path / "v3.ipynb")


def test_the_exercise_comes_from_metadata_then_the_file_name() -> None:
    assert exercise_slug({"metadata": {"funcpipe_async": {"exercise": "01_x"}}}, Path("alice.ipynb")) == "01_x"
    assert exercise_slug({"metadata": {}}, Path("dir/02_y.ipynb")) == "02_y"


def _report() -> Report:
    return Report(
        "alice.ipynb",
        "01_x",
        "01 · X",
        (
            TaskResult("t1", "Describe <it>", 3, 3, "passed", "describing runs nothing"),
            TaskResult("t2", "Chain", 0, 4, "failed", 'the first Err short-circuits: "a", b'),
        ),
    )


def test_report_text_lists_each_task_then_the_total() -> None:
    assert _report().text() == (
        "01 · X — alice.ipynb\n"
        "  Task 1 · Describe <it>   3/3   pass\n"
        "      describing runs nothing\n"
        "  Task 2 · Chain           0/4   fail\n"
        '      the first Err short-circuits: "a", b\n'
        "  Total: 3/7"
    )


def test_report_html_escapes_and_is_a_table() -> None:
    html = _report().html()
    assert "Describe &lt;it&gt;" in html and "&quot;a&quot;" in html and "<b>3/7</b>" in html


def test_gradebook_has_a_column_per_task_and_quotes_notes() -> None:
    assert gradebook_csv([_report()]) == (
        "submission,exercise,t1,t2,total,max_total,status,notes,seed\n"
        'alice.ipynb,01_x,3,0,3,7,graded,"t2 fail: the first Err short-circuits: ""a"", b",\n'
    )


def test_task_result_rejects_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown task status"):
        TaskResult("t1", "x", 0, 1, "maybe", "")


def test_limits_validate() -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        Limits(seconds=0)
    with pytest.raises(ValueError, match="output limit"):
        Limits(output_chars=0)


def test_a_missing_task_cell_scores_zero_without_a_child() -> None:
    exercise = load_exercise("01_async_await_as_descriptions")
    submission = Submission("s", exercise.slug, (GradedCell("setup", "x = 1"),))
    result = run_task(exercise, exercise.tasks[1], submission, Limits(seconds=1))
    assert (result.points, result.status) == (0, "missing")
    assert "Task 2's cell is missing" in result.feedback


def test_only_a_well_formed_verdict_from_the_judge_counts() -> None:
    assert _read_verdict(json.dumps({"status": "passed", "message": "ok"}).encode()) == ("passed", "ok")
    assert _read_verdict(json.dumps({"status": "excellent", "message": "ok"}).encode()) is None
    assert _read_verdict(b"{") is None
    assert _read_verdict(b"") is None


def test_kit_turns_student_exceptions_into_verdicts() -> None:
    def boom(x: int) -> int:
        raise KeyError("email")

    def stub(x: int) -> int:
        raise NotImplementedError("Task 1: write stub")

    with pytest.raises(CheckFailed, match=r"^f\(1\) raised KeyError: 'email'$"):
        kit.call(boom, 1, doing="f(1)")
    with pytest.raises(NotDone, match="not done yet: stub still raises NotImplementedError"):
        kit.call(stub, 1, doing="stub(1)")
    assert kit.drive(async_pure(3), doing="x") == Ok(3)
    with pytest.raises(CheckFailed, match="returned Err.*a result: the work already ran"):
        kit.as_plan(Err(ErrInfo("X")), doing="f()")
    with pytest.raises(CheckFailed, match="not an AsyncPlan"):
        kit.as_plan(42, doing="f()")
    with pytest.raises(CheckFailed, match="is not defined"):
        kit.function({}, "f")
    with pytest.raises(CheckFailed, match="must be a function, but it is a int"):
        kit.function({"f": 1}, "f")


def test_kit_for_all_reports_the_first_failing_example_deterministically() -> None:
    from hypothesis import strategies as st

    def prop(n: int) -> None:
        if n > 5:
            raise CheckFailed(f"{n} is too big")

    messages = set()
    for _ in range(2):
        with pytest.raises(CheckFailed) as caught:
            kit.for_all(st.integers(0, 100), prop)
        messages.add(str(caught.value))
    assert len(messages) == 1


def test_kit_for_all_calls_state_between_runs_flaky() -> None:
    from hypothesis import strategies as st

    calls = []

    def prop(n: int) -> None:
        calls.append(n)
        if len(calls) == 3:
            raise CheckFailed("failed once")

    with pytest.raises(CheckFailed, match="passed on one run and failed on another"):
        kit.for_all(st.integers(0, 10), prop)


# --- kit.simulate: virtual time for checks where timing matters ----------------------------


def test_kit_simulate_returns_the_value_and_keeps_the_clock() -> None:
    import asyncio

    from funcpipe_async import Simulation

    async def nap() -> str:
        await asyncio.sleep(90)
        return "rested"

    sim = Simulation()
    assert kit.simulate(nap(), doing="nap()", sim=sim) == "rested"
    assert sim.now == 90.0


def test_kit_simulate_turns_a_deadlock_into_a_verdict() -> None:
    import asyncio

    async def stuck() -> None:
        await asyncio.Event().wait()

    with pytest.raises(kit.CheckFailed, match=r"stuck\(\) can never finish: every task is waiting .*'main' waiting in"):
        kit.simulate(stuck(), doing="stuck()")


def test_kit_simulate_turns_an_endless_plan_into_a_verdict() -> None:
    import asyncio

    async def forever() -> None:
        while True:
            await asyncio.sleep(60)

    with pytest.raises(kit.CheckFailed, match="was still running after 600 simulated seconds"):
        kit.simulate(forever(), doing="forever()", limit=600)


def test_kit_simulate_turns_a_defect_into_a_verdict() -> None:
    async def broken() -> None:
        raise KeyError("email")

    with pytest.raises(kit.CheckFailed, match="broken\\(\\) raised KeyError: 'email'"):
        kit.simulate(broken(), doing="broken()")


def test_the_runner_kills_a_childs_group_before_reaping_it() -> None:
    """The exited child stays an unreaped zombie until its group has been killed, so its pid
    (= its process group id) cannot be reused by a stranger — a Jupyter kernel, say — that
    ``killpg`` would then hit."""
    import os
    import subprocess
    import sys

    from funcpipe_async.grading.runner import _exited_unreaped

    child = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    try:
        assert _exited_unreaped(child.pid, timeout=30)
        still_reserved = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        assert still_reserved is not None and still_reserved.si_pid == child.pid  # a zombie, not yet reaped
    finally:
        child.wait()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert not _exited_unreaped(sleeper.pid, timeout=0.05)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_in_order_reports_every_failing_check_main_concept_first() -> None:
    from funcpipe_async.grading import kit

    def main(worker: object) -> str:
        raise kit.CheckFailed("drop the oldest, not the newest")

    def side(worker: object) -> str:
        raise kit.CheckFailed("capacity 0 must raise ValueError")

    def fine(worker: object) -> str:
        return "fine"

    with pytest.raises(kit.CheckFailed) as both:
        kit.in_order(main, fine, side)(None)
    assert str(both.value) == "(1) drop the oldest, not the newest (2) capacity 0 must raise ValueError"
    with pytest.raises(kit.CheckFailed, match=r"^capacity 0 must raise ValueError$"):
        kit.in_order(fine, side)(None)
    assert kit.in_order(fine, fine)(None) == "fine; fine"

    def stub(worker: object) -> str:
        raise kit.not_done("offer")

    with pytest.raises(kit.NotDone):
        kit.in_order(stub, main)(None)
