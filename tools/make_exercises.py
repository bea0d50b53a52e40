"""Generate the student exercise notebooks from the solution notebooks.

    python tools/make_exercises.py            # write exercises/NN_slug.ipynb from solutions/NN_slug.ipynb
    python tools/make_exercises.py --check    # change nothing; exit 1 if an exercise is out of date

The solution notebook is the one source of an exercise (as in otter-grader and the INRIA
scikit-learn MOOC).  The student version is derived from it by these rules:

* In every code cell, each span from a ``# BEGIN SOLUTION`` line to its ``# END SOLUTION``
  line is replaced by a stub at the same indentation.  Inside a ``def``, the stub is
  ``# YOUR CODE HERE`` and ``raise NotImplementedError("Task N: write <function>")`` — the
  function still compiles, and running the cell defines it without raising.  At the top
  level of a cell the stub is the ``# YOUR CODE HERE`` line alone (helpers go there).
* Cells tagged ``solution-only`` (the solution's notes and demonstrations) are dropped.
* Outputs and execution counts are cleared; the notebook's widget state is dropped; cell
  ids, tags and the ``funcpipe_async`` metadata (which exercise this is) are kept.

The script also checks the solution is well-formed: its metadata names its exercise and
that exercise has checks (``funcpipe_async/grading/checks/exNN_slug.py``); every task has a
code cell tagged ``task:tN`` whose first line is ``# Task N — <title>``, with at least one
solution span; the set-up cell is tagged ``setup`` and starts ``# Setup``; markers pair up.

Output is byte-stable (``nbformat`` JSON, one trailing newline): running the script twice
changes nothing, and ``tests/test_grading_exercises.py`` fails when a committed exercise
differs from what this script would write.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

import nbformat

from funcpipe_async.grading.checks import exercise_slugs, load_exercise
from funcpipe_async.grading.submission import (
    METADATA_KEY,
    SETUP,
    SETUP_LINE,
    SOLUTION_ONLY,
    TASK_LINE,
    TASK_TAG_PREFIX,
)

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?def[ \t]+(?P<name>\w+)")
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info", METADATA_KEY)


class SolutionError(ValueError):
    """The solution notebook breaks one of the rules above."""


def _task_of(cell: Any) -> str | None:
    for tag in cell.metadata.get("tags", []):
        if tag.startswith(TASK_TAG_PREFIX):
            return str(tag[len(TASK_TAG_PREFIX) :])
    return None


def _enclosing_def(lines: list[str], indent: str) -> str | None:
    for line in reversed(lines):
        match = DEF.match(line)
        if match and len(match.group("indent")) < len(indent):
            return match.group("name")
    return None


def stub_source(source: str, task_id: str | None, where: str) -> str:
    """``source`` with every solution span replaced by its stub."""
    out: list[str] = []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i])
        if END.match(lines[i]):
            raise SolutionError(f"{where}: '# END SOLUTION' without a '# BEGIN SOLUTION' before it (line {i + 1})")
        if begin is None:
            out.append(lines[i])
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if END.match(lines[j]) or BEGIN.match(lines[j])), None)
        if end is None or BEGIN.match(lines[end]):
            raise SolutionError(f"{where}: '# BEGIN SOLUTION' on line {i + 1} has no '# END SOLUTION' after it")
        indent = begin.group("indent")
        function = _enclosing_def(lines[:i], indent) if indent else None
        out.append(f"{indent}# YOUR CODE HERE")
        if function is not None:
            task = f"Task {task_id[1:]}: " if task_id else ""
            out.append(f'{indent}raise NotImplementedError("{task}write {function}")')
        elif indent:
            out.append(f"{indent}...")
        i = end + 1
    return "\n".join(out)


def _validate(solution: Any, path: Path) -> None:
    where = path.name
    ours = solution.metadata.get(METADATA_KEY, {})
    slug = ours.get("exercise") if isinstance(ours, dict) else None
    if slug != path.stem:
        raise SolutionError(f'{where}: its metadata must say {{"{METADATA_KEY}": {{"exercise": "{path.stem}"}}}}')
    if slug not in exercise_slugs():
        raise SolutionError(f"{where}: no checks for it: add funcpipe_async/grading/checks/ex{slug}.py")
    exercise = load_exercise(slug)
    code = [c for c in solution.cells if c.cell_type == "code"]
    setup = [c for c in code if SETUP in c.metadata.get("tags", [])]
    if not setup:
        raise SolutionError(f"{where}: no code cell tagged '{SETUP}' (the set-up the grader runs first)")
    for cell in setup:
        if not SETUP_LINE.match(cell.source.split("\n", 1)[0]):
            raise SolutionError(f"{where}: the set-up cell must start with '# Setup', found {cell.source[:40]!r}")
    for task in exercise.tasks:
        cells = [c for c in code if _task_of(c) == task.id]
        if not cells:
            raise SolutionError(f"{where}: no code cell tagged '{TASK_TAG_PREFIX}{task.id}' for {task.label}")
        for cell in cells:
            first = cell.source.split("\n", 1)[0]
            match = TASK_LINE.match(first)
            if match is None or int(match.group(1)) != task.number:
                raise SolutionError(
                    f"{where}: the cell tagged {TASK_TAG_PREFIX}{task.id} must start '# Task {task.number} — …', found {first!r}"
                )
            if SOLUTION_ONLY in cell.metadata.get("tags", []):
                raise SolutionError(f"{where}: a task cell cannot be solution-only")
        if not any(BEGIN.match(line) for c in cells for line in c.source.split("\n")):
            raise SolutionError(
                f"{where}: {task.label} has no '# BEGIN SOLUTION' span, so students would see the answer"
            )
    known = {t.id for t in exercise.tasks}
    for cell in code:
        task_id = _task_of(cell)
        if task_id is not None and task_id not in known:
            raise SolutionError(f"{where}: a cell is tagged {TASK_TAG_PREFIX}{task_id}, but {slug} has no such task")


def student_version(solution: Any, path: Path) -> Any:
    """The exercise notebook derived from ``solution`` (an nbformat notebook read from ``path``)."""
    _validate(solution, path)
    notebook = copy.deepcopy(solution)
    notebook.cells = [c for c in notebook.cells if SOLUTION_ONLY not in c.metadata.get("tags", [])]
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source, _task_of(cell), f"{path.name}, cell {cell.get('id', '?')}")
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata = nbformat.from_dict(
        {k: solution.metadata[k] for k in KEPT_NOTEBOOK_METADATA if k in solution.metadata}
    )
    nbformat.validate(notebook)
    return notebook


def render(solution_path: Path) -> str:
    """The exact text of the exercise notebook generated from ``solution_path``."""
    solution = nbformat.read(solution_path, as_version=4)
    text = nbformat.writes(student_version(solution, solution_path))
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if an exercise is out of date")
    args = parser.parse_args(argv)
    solutions = sorted(SOLUTIONS.glob("*.ipynb"))
    if not solutions:
        print("no solution notebooks in solutions/", file=sys.stderr)
        return 2
    stale = []
    for path in solutions:
        target = EXERCISES / path.name
        try:
            text = render(path)
        except SolutionError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            print(f"up to date  exercises/{target.name}")
        elif args.check:
            stale.append(target.name)
            print(f"OUT OF DATE exercises/{target.name}: run python tools/make_exercises.py", file=sys.stderr)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote       exercises/{target.name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
