"""A new user's install: build the wheel, install it (not editable) into a fresh virtual
environment, and import every module from there, with the repository nowhere on the path."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import funcpipe_async

ROOT = Path(__file__).resolve().parent.parent


def _modules() -> list[str]:
    names = ["funcpipe_async"]
    names += [m.name for m in pkgutil.walk_packages(funcpipe_async.__path__, "funcpipe_async.")]
    return sorted(n for n in names if not n.endswith("__main__"))


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv holding the built wheel and the pinned runtime dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work / "dist", ROOT, cwd=work)
    wheels = list((work / "dist").glob("funcpipe_async-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(work / "env", with_pip=True)
    python = work / "env" / "bin" / "python"
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        ROOT / "requirements.txt",
        wheels[0],
        cwd=work,
    )
    return python


def test_the_wheel_holds_every_subpackage(installed: Path) -> None:
    wheel = next((installed.parent.parent.parent / "dist").glob("*.whl"))
    import zipfile

    files = zipfile.ZipFile(wheel).namelist()
    for package in (
        "funcpipe_async/adapters/",
        "funcpipe_async/shell/",
        "funcpipe_async/grading/checks/",
        "funcpipe_async/demos/",
    ):
        assert any(f.startswith(package) and f.endswith("__init__.py") for f in files), f"{package} is missing"
    assert "funcpipe_async/py.typed" in files
    quizzes = {f for f in files if f.startswith("funcpipe_async/quizzes/") and f.endswith(".json")}
    lessons = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {Path(f).stem for f in quizzes} == lessons, "every lesson's quiz data ships in the wheel"


def test_the_quizzes_load_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    script = "from funcpipe_async import load_quiz\nprint(len(load_quiz('03')), load_quiz('12')[0].options[0])\n"
    assert _run(installed, "-I", "-c", script, cwd=tmp_path).strip() == "6 `asyncio.gather` + `asyncio.Semaphore(4)`"


def test_every_module_imports_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    modules = _modules()
    assert "funcpipe_async.adapters.http" in modules
    script = (
        "import importlib, sys, funcpipe_async\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(funcpipe_async.__file__)\n"
    )
    # -I: isolated mode, neither the current folder nor PYTHONPATH nor user site-packages on sys.path.
    where = _run(installed, "-I", "-c", script, cwd=tmp_path).strip()
    assert "site-packages" in where and not where.startswith(str(ROOT)), where
