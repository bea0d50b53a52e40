"""The description / driver boundary, checked statically.

The seed's *interpreter isolation* invariant: core code may ``await`` inside coroutine
bodies, but never drives a plan.  This module finds every place a source file drives —
``asyncio.run``, ``create_task``, ``ensure_future``, ``run_until_complete``,
``run_forever``, ``TaskGroup``, ``asyncio.gather``, ``perform_async``, ``run_sync``, the
virtual-time driver (``Simulation``, ``run_virtual``), or an import from the shell — and
:func:`check_package` applies it to this package:

* ``funcpipe_async/shell/`` may drive (that is its job);
* ``funcpipe_async/demos/`` may drive too: a demo (the slider figures of lessons 03 and 06)
  is a small shell that re-simulates a description on virtual time and draws the result;
* ``funcpipe_async/__init__.py`` re-exports the shell's drivers as the public namespace;
* **one module creates tasks**: a module that says so at its top level
  (``__creates_tasks__ = True``) may call ``create_task`` and ``TaskGroup`` — and nothing
  else on the list — and at most one description module may say so (today
  ``gather.py``: the worker pool, the merge's pulls and ``Puller``).  A second module that
  creates tasks is flagged whether it declares itself or not, so every task the package
  starts is started where its cancellation and cleanup rules are written;
* ``funcpipe_async/grading/kit.py`` may call ``run_sync`` and ``Simulation`` (and import
  the shell's errors): the grader's child process is a shell for a student's code, and
  ``kit`` is the one place its checks drive plans.

Run it with ``python -m funcpipe_async.boundary``; the test suite runs it too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Violation", "scan_source", "check_package"]

_DRIVING_NAMES = frozenset(
    {
        "create_task",
        "ensure_future",
        "run_until_complete",
        "run_forever",
        "TaskGroup",
        "perform_async",
        "run_sync",
        "Simulation",
        "run_virtual",
    }
)
_DRIVING_ASYNCIO_ATTRS = frozenset({"run", "gather"})
TASK_MARKER = "__creates_tasks__"
"""The top-level name a module sets to ``True`` to declare itself the task-creating module."""
_TASK_CREATING = frozenset({"create_task", "TaskGroup"})
_ALLOWED: dict[str, frozenset[str]] = {
    "grading/kit.py": frozenset({"run_sync", "Simulation", "shell"}),
}


@dataclass(frozen=True)
class Violation:
    """One place where a description module drives work."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _imports_shell(module: str | None, level: int) -> bool:
    if module is None:
        return False
    parts = module.split(".")
    return "shell" in parts and (level > 0 or parts[0] == "funcpipe_async")


def _declares_task_creating(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == TASK_MARKER for t in targets):
            return isinstance(node.value, ast.Constant) and node.value.value is True
    return False


def scan_source(source: str, path: str = "<source>", allowed: frozenset[str] = frozenset()) -> list[Violation]:
    """Every driving call or shell import in ``source`` except the names in ``allowed``.

    A module that declares ``__creates_tasks__ = True`` at its top level may also call
    ``create_task`` and ``TaskGroup`` (:func:`check_package` lets only one module declare it).
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [Violation(path, exc.lineno or 0, f"cannot be parsed: {exc.msg}")]
    if _declares_task_creating(tree):
        allowed = allowed | _TASK_CREATING
    found: list[Violation] = []

    def flag(node: ast.AST, name: str, what: str) -> None:
        if name not in allowed:
            found.append(Violation(path, getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in _DRIVING_NAMES:
                flag(node, node.attr, f"drives work: .{node.attr}")
            elif (
                node.attr in _DRIVING_ASYNCIO_ATTRS and isinstance(node.value, ast.Name) and node.value.id == "asyncio"
            ):
                flag(node, node.attr, f"drives work: asyncio.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in _DRIVING_NAMES:
            flag(node, node.id, f"drives work: {node.id}")
        elif isinstance(node, ast.ImportFrom):
            from_package = node.level > 0 or node.module == "funcpipe_async"
            if from_package and any(alias.name == "shell" for alias in node.names):
                flag(node, "shell", f"imports the shell: from {'.' * node.level}{node.module or ''} import shell")
            elif _imports_shell(node.module, node.level):
                flag(node, "shell", f"imports the shell: from {'.' * node.level}{node.module} import ...")
            elif node.module == "asyncio":
                for alias in node.names:
                    if alias.name in _DRIVING_NAMES or alias.name in _DRIVING_ASYNCIO_ATTRS:
                        flag(node, alias.name, f"drives work: from asyncio import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _imports_shell(alias.name, 0):
                    flag(node, "shell", f"imports the shell: import {alias.name}")
    return sorted(found, key=lambda v: v.line)


def check_package(root: Path | None = None) -> list[Violation]:
    """Scan every description module of the package at ``root`` (default: this package).

    Besides :func:`scan_source`'s findings, every module after the first (in path order)
    that declares ``__creates_tasks__ = True`` is a violation: one module creates tasks.
    """
    package = root if root is not None else Path(__file__).resolve().parent
    if not package.is_dir():
        raise ValueError(f"check_package: {package} is not a directory")
    violations: list[Violation] = []
    task_module: str | None = None
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith(("shell/", "demos/")) or relative == "__init__.py":
            continue
        source = path.read_text(encoding="utf-8")
        allowed = _ALLOWED.get(relative, frozenset())
        violations.extend(scan_source(source, relative, allowed))
        try:
            declares = _declares_task_creating(ast.parse(source, filename=relative))
        except SyntaxError:
            continue  # already reported by scan_source
        if declares:
            if task_module is None:
                task_module = relative
            else:
                violations.append(
                    Violation(
                        relative,
                        0,
                        f"declares {TASK_MARKER}, but {task_module} is already the package's one task-creating module",
                    )
                )
    return violations


if __name__ == "__main__":  # pragma: no cover - exercised by tests/test_boundary.py via subprocess
    import sys

    problems = check_package()
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    sys.stdout.write(f"boundary check: {len(problems)} violation(s) in description modules\n")
    sys.exit(1 if problems else 0)
