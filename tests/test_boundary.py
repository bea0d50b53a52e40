"""``boundary``: description modules never drive work; only ``shell/`` and ``demos/`` may, and one
module marked ``__creates_tasks__`` may create tasks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from funcpipe_async import Violation, check_package, scan_source

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = [
    ("asyncio.run(main())", "drives work: asyncio.run"),
    ("loop.create_task(work())", "drives work: .create_task"),
    ("asyncio.ensure_future(work())", "drives work: .ensure_future"),
    ("loop.run_until_complete(work())", "drives work: .run_until_complete"),
    ("loop.run_forever()", "drives work: .run_forever"),
    ("group = asyncio.TaskGroup()", "drives work: .TaskGroup"),
    ("results = asyncio.gather(a(), b())", "drives work: asyncio.gather"),
    ("result = perform_async(plan)", "drives work: perform_async"),
    ("result = run_sync(plan)", "drives work: run_sync"),
    ("from funcpipe_async.shell import x", "imports the shell: from funcpipe_async.shell import ..."),
    ("from .shell.runtime import y", "imports the shell: from .shell.runtime import ..."),
    ("import funcpipe_async.shell.runtime", "imports the shell: import funcpipe_async.shell.runtime"),
    ("from asyncio import run", "drives work: from asyncio import run"),
    ("from asyncio import create_task as spawn", "drives work: from asyncio import create_task"),
]


@pytest.mark.parametrize(("line", "what"), FORBIDDEN)
def test_scan_source_flags_each_driving_construct_on_its_line(line: str, what: str) -> None:
    source = "import asyncio\n\n\nasync def fine():\n    return 1\n" + line + "\n"
    found = scan_source(source, "mod.py")
    assert found == [Violation("mod.py", 6, what)]
    assert str(found[0]) == f"mod.py:6: {what}"


def test_scan_source_flags_driving_inside_a_function_body() -> None:
    source = textwrap.dedent(
        """\
        import asyncio

        async def step():
            await asyncio.sleep(0)
            task = asyncio.get_running_loop().create_task(other())
            return await task
        """
    )
    assert [v.line for v in scan_source(source)] == [5]


def test_scan_source_does_not_flag_awaiting_or_async_def() -> None:
    source = textwrap.dedent(
        """\
        import asyncio
        from funcpipe_async.plan import async_bind, async_lift

        async def run_step(plan):
            await asyncio.sleep(0)
            result = await plan()
            async with lock:
                async for item in stream:
                    await queue.put(item)
            return result

        def describe(cap):
            return async_bind(async_lift(lambda: cap.get("/a")), run_step)
        """
    )
    assert scan_source(source) == []


def test_scan_source_reports_several_violations_in_line_order() -> None:
    source = "asyncio.gather(a)\nx = 1\nloop.create_task(b)\nrun_sync(p)\n"
    assert [v.line for v in scan_source(source)] == [1, 3, 4]


def test_scan_source_allowed_names_are_not_flagged() -> None:
    source = "loop.create_task(work())\nasyncio.ensure_future(w)\n"
    found = scan_source(source, "gather.py", allowed=frozenset({"create_task"}))
    assert [(v.line, v.what) for v in found] == [(2, "drives work: .ensure_future")]


def test_scan_source_reports_a_syntax_error_as_a_violation() -> None:
    (violation,) = scan_source("def broken(:\n", "bad.py")
    assert violation.path == "bad.py" and violation.line == 1
    assert "cannot be parsed" in violation.what


def test_scan_source_flags_importing_the_shell_package_itself() -> None:
    # "or an import from the shell": a description module that writes `from . import shell`
    # can then call shell.check_monad_laws(...) (which drives plans) unseen.
    for line in ("from . import shell", "from funcpipe_async import shell"):
        found = scan_source(line + "\n", "mod.py")
        assert [v.line for v in found] == [1], line


def test_check_package_finds_no_violation_in_the_package() -> None:
    assert check_package() == []


def test_check_package_finds_a_bad_module_and_ignores_the_shell(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("async def f(plan):\n    return await plan()\n")
    (tmp_path / "bad.py").write_text("import asyncio\n\nasyncio.run(main())\n")
    (tmp_path / "__init__.py").write_text("from .shell.runtime import run_sync\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.py").write_text("x = 1\nloop.run_until_complete(f())\n")
    (tmp_path / "shell").mkdir()
    (tmp_path / "shell" / "runtime.py").write_text("import asyncio\n\ndef run_sync(p):\n    return asyncio.run(p())\n")
    (tmp_path / "gather.py").write_text("__creates_tasks__ = True\nt = loop.create_task(w())\nasyncio.gather(t)\n")
    (tmp_path / "demos").mkdir()
    (tmp_path / "demos" / "slider.py").write_text("from funcpipe_async import Simulation\nSimulation().run(p)\n")
    (tmp_path / "demos.py").write_text("asyncio.run(main())\n")
    found = check_package(tmp_path)
    assert all(isinstance(v, Violation) for v in found)
    assert [(v.path, v.line) for v in found] == [("bad.py", 3), ("demos.py", 1), ("gather.py", 3), ("sub/deep.py", 2)]


def test_scan_source_lets_a_module_marked_task_creating_create_tasks_and_nothing_more() -> None:
    body = "loop.create_task(work())\ngroup = asyncio.TaskGroup()\nasyncio.run(main())\n"
    assert [v.line for v in scan_source(body, "mod.py")] == [1, 2, 3]
    assert [v.line for v in scan_source("__creates_tasks__ = True\n" + body, "mod.py")] == [4]
    # only a top-level True counts: False, another value, or a local name is no mark
    for mark in ("__creates_tasks__ = False\n", "__creates_tasks__ = 1\n", "def f():\n    __creates_tasks__ = True\n"):
        assert [v.what for v in scan_source(mark + "loop.create_task(w())\n", "mod.py")] == [
            "drives work: .create_task"
        ], mark


def test_a_new_module_that_creates_tasks_is_flagged_in_the_real_package(tmp_path: Path) -> None:
    package = tmp_path / "funcpipe_async"
    shutil.copytree(ROOT / "funcpipe_async", package, ignore=shutil.ignore_patterns("__pycache__"))
    assert check_package(package) == []
    (package / "spawner.py").write_text("import asyncio\n\n\nasync def go(w):\n    return asyncio.create_task(w())\n")
    (package / "pool2.py").write_text(
        "__creates_tasks__ = True\n\n\nasync def go(loop, w):\n    return loop.create_task(w())\n"
    )
    found = check_package(package)
    assert [(v.path, v.line, v.what) for v in found] == [
        ("pool2.py", 0, "declares __creates_tasks__, but gather.py is already the package's one task-creating module"),
        ("spawner.py", 5, "drives work: .create_task"),
    ]


def test_the_package_has_exactly_one_task_creating_module() -> None:
    marked = [
        p.name
        for p in sorted((ROOT / "funcpipe_async").glob("*.py"))
        if "\n__creates_tasks__ = True" in p.read_text(encoding="utf-8")
    ]
    assert marked == ["gather.py"]


def test_check_package_rejects_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        check_package(tmp_path / "missing")


def test_boundary_command_exits_zero_on_the_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.boundary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "boundary check: 0 violation(s) in description modules\n"


def test_boundary_command_prints_no_warning() -> None:
    # `make test` runs this command; a RuntimeWarning on stderr (or exit 1 under -W error)
    # is the kind of noise the course forbids.
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "funcpipe_async.boundary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr == ""
    assert done.returncode == 0
