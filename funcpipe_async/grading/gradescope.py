"""A Gradescope autograder for one exercise: the bundle, and what it runs for each submission.

    python -m funcpipe_async.grading gradescope 03_backpressure --out DIR

writes ``DIR/autograder.zip`` in the layout of Gradescope's autograder specification:

* ``setup.sh`` — run once when Gradescope builds the image (Ubuntu, as root): installs
  ``uv``, a Python 3.11 virtual environment at ``/autograder/source/venv`` and the pinned
  requirements, and creates the unprivileged user the workers run as where namespaces are
  not available;
* ``run_autograder`` — run for every submission: grades ``/autograder/submission/*.ipynb``
  against the exercise the bundle was built for (never the one the notebook's metadata
  claims) and writes ``/autograder/results/results.json``;
* ``requirements.txt`` — the exact versions of the grader's run-time dependencies, as
  installed where the bundle was built (the environment the course's tests pass in);
* ``funcpipe_async/`` — the package, checks included, as it is where the bundle was built.

Every submission runs in its own container on Gradescope, so one class of any size grades
in parallel.  Inside the container the grader keeps its own trust boundary: the judge that
decides points never runs the submission's code, and the worker that does is confined
(Linux namespaces where the container allows them, else an unprivileged user) — so a
hostile notebook can neither forge ``results.json`` nor stop it being written.

``run_autograder`` honours ``AUTOGRADER_ROOT`` (default ``/autograder``) and
``AUTOGRADER_PYTHON`` (default the bundle's virtual environment), so the same script runs
locally in a temporary root: ``tests/test_grading_gradescope.py`` does, on a solution, the
untouched exercise and hostile submissions.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import stat
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from funcpipe_async.grading.checks import load_exercise
from funcpipe_async.grading.report import STATUSES, Report

__all__ = ["build_bundle", "results_json", "run", "runtime_requirements", "WORKER_USER"]

WORKER_USER = "fpworker"
"""The unprivileged user ``setup.sh`` creates; workers run as it when namespaces are unavailable."""

_SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv util-linux ca-certificates curl
python3 -m venv /autograder/source/bootstrap
/autograder/source/bootstrap/bin/pip install --quiet "uv=={uv}"
# Python in a folder every user can read: workers run as {user} where namespaces are unavailable.
export UV_PYTHON_INSTALL_DIR=/opt/uv-python
/autograder/source/bootstrap/bin/uv venv --python 3.11 /autograder/source/venv
/autograder/source/bootstrap/bin/uv pip install --python /autograder/source/venv/bin/python -r requirements.txt
id -u {user} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin {user}
chmod -R a+rX /autograder/source
"""

_RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and AUTOGRADER_PYTHON let it run locally.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
if [ -d "$ROOT/source/funcpipe_async" ]; then SOURCE="$ROOT/source"; else SOURCE="$HERE"; fi
PYTHON="${{AUTOGRADER_PYTHON:-$SOURCE/venv/bin/python}}"
export PYTHONPATH="$SOURCE"
export FUNCPIPE_GRADING_USER="${{FUNCPIPE_GRADING_USER:-{user}}}"
exec "$PYTHON" -m funcpipe_async.grading.gradescope "{slug}" "$ROOT"
"""


def runtime_requirements(root: str = "funcpipe-async") -> list[str]:
    """``name==version`` for every distribution the package needs at run time, transitively,
    at the versions installed here (a requirement that only applies elsewhere is not installed
    here, so it is skipped; optional extras are skipped)."""
    pinned: dict[str, str] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        key = _canonical(dist.metadata["Name"])
        if key in pinned:
            continue
        pinned[key] = dist.version
        for requirement in dist.requires or []:
            text, _, marker = requirement.partition(";")
            if "extra" in marker:  # an optional extra: not needed to grade
                continue
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
            if match:
                pending.append(match.group(1))
    pinned.pop(_canonical(root), None)
    return [f"{name}=={version}" for name, version in sorted(pinned.items())]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _uv_version() -> str:
    try:
        return importlib.metadata.version("uv")
    except importlib.metadata.PackageNotFoundError:
        return "0.8.17"


def build_bundle(slug: str, out: Path) -> Path:
    """Write ``out/autograder.zip`` for exercise ``slug``; return its path."""
    exercise = load_exercise(slug)  # an unknown slug is an error before anything is written
    import funcpipe_async

    package = Path(funcpipe_async.__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    target = out / "autograder.zip"
    files: list[tuple[str, bytes, int]] = [
        ("setup.sh", _SETUP.format(uv=_uv_version(), user=WORKER_USER).encode(), 0o755),
        ("run_autograder", _RUN.format(slug=exercise.slug, user=WORKER_USER).encode(), 0o755),
        ("requirements.txt", ("\n".join(runtime_requirements()) + "\n").encode(), 0o644),
    ]
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files.append((f"funcpipe_async/{path.relative_to(package).as_posix()}", path.read_bytes(), 0o644))
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, data)
    return target


def results_json(report: Report, *, seconds: float, confinement: str) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded submission: one test per task."""
    tests = [
        {
            "name": t.label,
            "number": str(number),
            "score": t.points,
            "max_score": t.max_points,
            "status": "passed" if t.passed else "failed",
            "output": f"{STATUSES[t.status]}: {t.feedback}",
            "visibility": "visible",
        }
        for number, t in enumerate(report.tasks, start=1)
    ]
    lines = [report.title or report.exercise]
    if report.status != "graded":
        lines.append(f"Not graded: {report.status}")
    lines.extend(f"Note: {note}" for note in report.notes)
    lines.append(f"Seed {report.seed} (an instructor can replay this run with --seed {report.seed}).")
    lines.append(confinement)
    return {
        "score": report.total,
        "execution_time": round(seconds),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _not_graded(slug: str, why: str, *, seconds: float, confinement: str) -> dict[str, Any]:
    from funcpipe_async.grading.grader import _ungradable

    report = _ungradable("submission", load_exercise(slug), why)
    return results_json(report, seconds=seconds, confinement=confinement)


def _pick(submission: Path, slug: str) -> Path | str:
    """The one notebook to grade, or why there is none."""
    if not submission.is_dir():
        return "no submission folder"
    notebooks = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    named = [p for p in notebooks if p.name == f"{slug}.ipynb"]
    if len(named) == 1:
        return named[0]
    if len(notebooks) == 1:
        return notebooks[0]
    if not notebooks:
        return "the submission holds no .ipynb notebook: upload your exercise notebook"
    return (
        f"the submission holds {len(notebooks)} notebooks and none is called {slug}.ipynb: "
        "upload only your exercise notebook"
    )


def run(slug: str, root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` against ``slug`` and write ``root/results/results.json``."""
    from funcpipe_async.grading import confine
    from funcpipe_async.grading.grader import grade_notebook
    from funcpipe_async.grading.runner import Limits

    started = time.monotonic()
    confinement = confine.detect().describe()
    picked = _pick(root / "submission", slug)
    if isinstance(picked, str):
        result = _not_graded(slug, picked, seconds=time.monotonic() - started, confinement=confinement)
    else:
        try:
            report = grade_notebook(picked, exercise=slug, limits=Limits(seconds=10), jobs=1)
            result = results_json(report, seconds=time.monotonic() - started, confinement=confinement)
        except Exception as error:  # noqa: BLE001 - any failure still gives Gradescope a result
            why = f"{type(error).__name__}: {str(error)[:300]}".replace(str(picked), picked.name)
            result = _not_graded(slug, why, seconds=time.monotonic() - started, confinement=confinement)
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    from funcpipe_async.grading.report import write_atomically

    write_atomically(results / "results.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m funcpipe_async.grading.gradescope EXERCISE AUTOGRADER_ROOT")
        return 2
    result = run(argv[0], Path(argv[1]))
    print(f"{result['score']} points; results.json written")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
