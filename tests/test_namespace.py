"""The public namespace: ``__init__.py`` is what the table in ``_exports.py`` gives, and stays lazy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from course_tools import load_tool

import funcpipe_async

ROOT = Path(__file__).resolve().parents[1]


def test_init_is_what_the_table_gives() -> None:
    done = subprocess.run(
        [sys.executable, "tools/make_namespace.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_fails_when_the_table_and_the_file_drift() -> None:
    tool = load_tool("make_namespace")
    table = tool._load_table()
    current = (ROOT / "funcpipe_async" / "__init__.py").read_text(encoding="utf-8")
    assert tool.render(table, current) == current
    added = (*table, ("result", "eager", ("ErrInfo2",)))
    assert '"ErrInfo2"' in tool.render(added, current) and tool.render(added, current) != current
    dropped = tuple(row for row in table if not (isinstance(row, tuple) and row[0] == "quiz"))
    assert len(dropped) == len(table) - 1
    assert "quiz_widget" not in tool.render(dropped, current)


def test_the_table_refuses_a_name_twice_or_a_module_both_eager_and_lazy() -> None:
    tool = load_tool("make_namespace")
    with pytest.raises(SystemExit, match="exported twice"):
        tool.render_body((("result", "eager", ("Ok",)), ("plan", "eager", ("Ok",))))
    with pytest.raises(SystemExit, match="both eager and lazy"):
        tool.render_body((("plots", "lazy", ("course_rc",)), ("plots", "eager", ("plot_fairness",))))


def test_every_name_in_all_resolves_once_and_dir_lists_the_lazy_ones() -> None:
    names = funcpipe_async.__all__
    assert len(names) == len(set(names))
    for name in names:
        getattr(funcpipe_async, name)  # eager, or loaded now by the module's __getattr__
    assert "plot_fairness" in dir(funcpipe_async)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        funcpipe_async.not_a_name  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_loads_no_plotting_widgets_or_hypothesis() -> None:
    code = (
        "import sys, funcpipe_async\n"
        "print(sorted(m for m in ('matplotlib', 'hypothesis', 'ipywidgets', 'IPython', 'sqlite3',"
        " 'funcpipe_async.plots', 'funcpipe_async.demos') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
