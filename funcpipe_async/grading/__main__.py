"""``python -m funcpipe_async.grading PATH``: grade one exercise notebook, or a folder of them.

One notebook: prints each task's points, pass/fail and feedback, then the total
(``--json``: the same as one JSON object).  A folder: grades every ``.ipynb`` under it in
parallel and writes a CSV gradebook — one row per submission, one column per task, the
total, a status and notes — to ``PATH/gradebook.csv`` (or ``--gradebook FILE``).

Exit codes: 0 when grading finished (whatever the scores), 2 when there is nothing to
grade (a missing file, a non-notebook, an unknown exercise, an empty folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from funcpipe_async.grading.checks import UnknownExercise, exercise_slugs
from funcpipe_async.grading.grader import find_notebooks, grade_folder, grade_notebook
from funcpipe_async.grading.report import Report, gradebook_csv, task_columns
from funcpipe_async.grading.runner import Limits
from funcpipe_async.grading.submission import NotebookError
from funcpipe_async.trace import format_table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m funcpipe_async.grading",
        description="Grade an exercise notebook, or every notebook in a folder into a CSV gradebook.",
    )
    parser.add_argument("path", type=Path, help="a submitted .ipynb, or a folder of them (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON instead of text")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="time limit per task, in seconds (default 10)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="tasks checked at once (default: one per CPU core)")
    parser.add_argument("--exercise", default=None, metavar="SLUG",
                        help="grade against this exercise (default: the notebook's metadata, else its file name)")
    parser.add_argument("--gradebook", type=Path, default=None, metavar="CSV",
                        help="where a folder's gradebook goes (default: PATH/gradebook.csv)")
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"grading: error: {message}\n")
    return 2


def _summary(reports: list[Report], gradebook: Path) -> str:
    task_ids = task_columns(reports)
    rows = []
    for r in reports:
        points = {t.id: str(t.points) for t in r.tasks}
        rows.append([r.submission, *[points.get(i, "-") for i in task_ids],
                     f"{r.total}/{r.max_total}" if r.tasks else "-", r.status])
    table = format_table(["submission", *task_ids, "total", "status"], rows)
    return f"{table}\n\n{len(reports)} submission(s) graded; gradebook written to {gradebook}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.timeout > 0:
        return _fail(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.jobs is not None and args.jobs < 1:
        return _fail(f"--jobs must be at least 1, got {args.jobs}")
    if args.exercise is not None and args.exercise not in exercise_slugs():
        return _fail(f"no exercise called {args.exercise!r} (known: {', '.join(exercise_slugs())})")
    limits = Limits(seconds=args.timeout)
    path: Path = args.path
    if path.is_dir():
        if not find_notebooks(path):
            return _fail(f"no .ipynb files under {path}")
        gradebook: Path = args.gradebook or path / "gradebook.csv"
        reports = grade_folder(path, exercise=args.exercise, limits=limits, jobs=args.jobs)
        gradebook.write_text(gradebook_csv(reports), encoding="utf-8")
        if args.json:
            payload = {"gradebook": str(gradebook), "submissions": [r.to_dict() for r in reports]}
            sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(_summary(reports, gradebook) + "\n")
        return 0
    try:
        report = grade_notebook(path, exercise=args.exercise, limits=limits, jobs=args.jobs)
    except (NotebookError, UnknownExercise) as error:
        return _fail(str(error))
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
