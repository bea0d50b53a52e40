"""Hostile submissions: each costs its own task, with a clear message, within the time limit.

Every case replaces Task 2's cell of the solution; Tasks 1 and 3 keep the solution's code and
must still pass.  The whole folder is graded in one run with a limit of 3 s of CPU time per
task (and the default wall-clock bound, 4 × 3 + 15 = 27 s, for code that waits without
computing; on a loaded machine a CPU-bound loop may reach that bound first, so its
expected phrase is only "of CPU time", which both messages contain).
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from grading_fixtures import ex01
from grading_fixtures.build import load, with_cells, write

from funcpipe_async.grading import Limits, Report, grade_folder

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 3.0
GRACE = 3.0

EXPECTED = {
    "loops forever": ("timeout", "of CPU time"),
    "loops forever at the top of the cell": ("timeout", "of CPU time"),
    "sleeps forever": ("timeout", "did not finish within 27 s of wall-clock time"),
    "a plan that waits forever": ("failed", "can never finish: every task is waiting"),
    "swallows the time limit": ("timeout", "of wall-clock time and was stopped"),
    "crashes the interpreter": ("crashed", "killed by SIGSEGV before the checks finished"),
    "kills itself": ("crashed", "killed by SIGKILL before the checks finished"),
    "calls os._exit": ("exited", "called os._exit()"),
    "calls sys.exit": ("exited", "called sys.exit()"),
    "prints 10 MB": ("output-limit", "printed more than 1,000,000 characters"),
    "writes 10 MB to the file descriptor": ("output-limit", "wrote more than 1,000,000 characters"),
    "syntax error": ("failed", "Task 2's cell has a syntax error (line 3: expected ':')"),
    "uses an IPython magic": ("failed", "IPython magics (%…, !…) do not work there"),
    "lacks the function": ("failed", "team_lead_email is not defined after running Task 2's cell"),
    "raises before defining it": ("failed", "Task 2's cell raised RuntimeError: boom when run"),
    "leaves a process running": ("timeout", "of CPU time"),
    "allocates 4 GB": ("failed", "raised MemoryError"),
}


def _marker_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.info["cmdline"] and "313.25" in process.info["cmdline"]:
                found.append(process)
        except psutil.Error:
            pass
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Report], float, Path]:
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "01_async_await_as_descriptions"  # a folder per exercise names it
    solution = load(ROOT / "solutions" / "01_async_await_as_descriptions.ipynb")
    pidfile = tmp_path_factory.mktemp("pids") / "sleeper.pid"
    for name, (task_id, cell) in ex01.HOSTILE.items():
        cell = cell.replace("PIDFILE", repr(str(pidfile)))
        write(with_cells(solution, {task_id: cell}), folder / f"{name}.ipynb")
    write(with_cells(solution, {"t1": ex01.EARLIER_CELL_HANGS}), folder / "earlier cell hangs.ipynb")
    started = time.monotonic()
    # jobs=4 on any machine: most hostile tasks wait (sleep, hang) rather than compute.
    reports = grade_folder(root, limits=Limits(seconds=SECONDS, grace=GRACE), jobs=4)
    elapsed = time.monotonic() - started
    return {Path(r.submission).stem: r for r in reports}, elapsed, pidfile


def test_every_hostile_case_has_an_expectation() -> None:
    assert set(EXPECTED) == set(ex01.HOSTILE)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_code_costs_its_own_task_only(hostile: tuple[dict[str, Report], float, Path], name: str) -> None:
    report = hostile[0][name]
    status, phrase = EXPECTED[name]
    by_id = {t.id: t for t in report.tasks}
    assert by_id["t2"].points == 0 and by_id["t2"].status == status, report.text()
    assert phrase in by_id["t2"].feedback, by_id["t2"].feedback
    assert by_id["t1"].passed and by_id["t3"].passed, report.text()
    assert report.total == 6


def test_a_hang_in_an_earlier_cell_costs_only_that_task(hostile: tuple[dict[str, Report], float, Path]) -> None:
    report = hostile[0]["earlier cell hangs"]
    assert [t.status for t in report.tasks] == ["timeout", "passed", "passed"], report.text()
    assert "of CPU time" in report.tasks[0].feedback


def test_grading_finishes_within_the_limits(hostile: tuple[dict[str, Report], float, Path]) -> None:
    reports, elapsed, _ = hostile
    tasks = sum(len(r.tasks) for r in reports.values())
    # A generous bound: every task at its wall-clock bound, four at a time, would take longer.
    assert elapsed < tasks * (Limits(seconds=SECONDS).wall_seconds + GRACE) / 4, f"{elapsed:.1f} s for {tasks} tasks"


def test_nothing_a_submission_started_is_left_running(hostile: tuple[dict[str, Report], float, Path]) -> None:
    # The hostile cell started `sleep 313.25` (and, unconfined, wrote its pid); ending the
    # task killed the sleeper too, and it was reaped (no zombie left behind).
    if not hostile[2].exists():  # confined: the worker could not reach the pid file's folder
        assert _marker_processes() == []
        return
    pid = int(hostile[2].read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # an orphan is reaped by init a moment after it dies
    if psutil.pid_exists(pid):  # pragma: no cover - the failure message
        process = psutil.Process(pid)
        pytest.fail(f"pid {pid} is still there: {process.status()} {process.cmdline()}")
    assert _marker_processes() == []
    zombies = [p for p in psutil.Process().children(recursive=True) if p.status() == psutil.STATUS_ZOMBIE]
    assert zombies == []
