"""The Gradescope bundle: its layout, and its ``run_autograder`` run locally in a temporary root
(``AUTOGRADER_ROOT``) on a solution, the untouched exercise and hostile submissions."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from grading_fixtures.build import load, with_cells, write

from funcpipe_async.grading import confine, load_exercise
from funcpipe_async.grading.gradescope import build_bundle, runtime_requirements

ROOT = Path(__file__).resolve().parents[1]
SLUG = "01_async_await_as_descriptions"

FORGE_RESULTS = """# Task 1 — Describe a fetch, run nothing
import json, os, signal
_forged = {"score": 10, "tests": [{"name": "forged", "score": 10, "max_score": 10}]}
for _root in (os.environ.get("AUTOGRADER_ROOT", ""), "/autograder"):
    for _path in (_root + "/results/results.json", _root + "/results/forged.json"):
        try:
            os.makedirs(os.path.dirname(_path), exist_ok=True)
            with open(_path, "w") as _handle:
                json.dump(_forged, _handle)
        except OSError:
            pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass

def fetch_email(user_id, http):
    raise NotImplementedError("Task 1: write fetch_email")
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(SLUG, tmp_path_factory.mktemp("bundle"))


def test_the_bundle_has_gradescopes_layout(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
        run = archive.read("run_autograder").decode()
        setup = archive.read("setup.sh").decode()
        requirements = archive.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names  # at the zip's root, as Gradescope wants
    assert f"funcpipe_async/grading/checks/ex{SLUG}.py" in names
    assert not any("__pycache__" in n for n in names)
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert run.startswith("#!/usr/bin/env bash") and f'"{SLUG}"' in run and "AUTOGRADER_ROOT" in run
    assert "requirements.txt" in setup and "useradd" in setup
    assert all("==" in r for r in requirements)  # every dependency pinned
    pinned = {r.split("==")[0] for r in requirements}
    assert {"hypothesis", "httpx", "matplotlib"} <= pinned
    assert requirements == runtime_requirements()


def test_the_cli_writes_a_bundle_and_refuses_an_unknown_exercise(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", "gradescope", SLUG, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and (tmp_path / "autograder.zip").is_file(), done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", "gradescope", "99_nothing", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "no exercise called '99_nothing'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x").exists()


def _run_autograder(bundle: Path, root: Path, notebooks: dict[str, Any]) -> dict[str, Any]:
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
    for info_name in ("run_autograder", "setup.sh"):
        (source / info_name).chmod(0o755)
    (root / "submission").mkdir(parents=True)
    for name, notebook in notebooks.items():
        write(notebook, root / "submission" / name)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def _valid(results: dict[str, Any]) -> None:
    """The fields Gradescope reads, with the types its specification gives them."""
    assert isinstance(results["score"], (int, float)) and isinstance(results["output"], str)
    assert results["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert isinstance(results["execution_time"], (int, float))
    exercise = load_exercise(SLUG)
    assert [t["name"] for t in results["tests"]] == [t.label for t in exercise.tasks]
    for test, task in zip(results["tests"], exercise.tasks, strict=True):
        assert test["max_score"] == task.points and 0 <= test["score"] <= task.points
        assert test["status"] in ("passed", "failed") and isinstance(test["output"], str) and test["output"]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert "Seed " in results["output"]


@pytest.mark.skipif(not confine.detect().confined, reason="grading hostile code needs the confinement")
def test_run_autograder_grades_solution_stub_and_hostile_submissions(bundle: Path, tmp_path: Path) -> None:
    solution = load(ROOT / "solutions" / f"{SLUG}.ipynb")
    full = _run_autograder(bundle, tmp_path / "solution", {"my work.ipynb": solution})
    _valid(full)
    assert full["score"] == 10 and all(t["status"] == "passed" for t in full["tests"]), full

    stub = _run_autograder(bundle, tmp_path / "stub", {f"{SLUG}.ipynb": load(ROOT / "exercises" / f"{SLUG}.ipynb")})
    _valid(stub)
    assert stub["score"] == 0 and all("not done" in t["output"] for t in stub["tests"]), stub

    hostile_root = tmp_path / "hostile"
    hostile = _run_autograder(bundle, hostile_root, {f"{SLUG}.ipynb": with_cells(solution, {"t1": FORGE_RESULTS})})
    _valid(hostile)
    assert [t["score"] for t in hostile["tests"]] == [0, 4, 3], hostile
    assert not (hostile_root / "results" / "forged.json").exists()

    # the notebook's metadata claims another exercise: graded against the bundle's, with a note
    claims = load(ROOT / "solutions" / f"{SLUG}.ipynb")
    claims["metadata"]["funcpipe_async"] = {"exercise": "02_async_generators"}
    claimed = _run_autograder(bundle, tmp_path / "claims", {"x.ipynb": claims})
    assert claimed["score"] == 10 and "claims exercise '02_async_generators'" in claimed["output"], claimed


def test_run_autograder_without_a_notebook_gives_a_zero_result_saying_why(bundle: Path, tmp_path: Path) -> None:
    results = _run_autograder(bundle, tmp_path, {})
    _valid(results)
    assert results["score"] == 0 and "no .ipynb notebook" in results["output"]
