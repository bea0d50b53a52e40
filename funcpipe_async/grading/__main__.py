"""``python -m funcpipe_async.grading PATH``: grade one exercise notebook, or a folder of them.

One notebook: prints each task's points, pass/fail and feedback, then the total
(``--json``: the same as one JSON object).  A folder: grades every ``.ipynb`` under it in
parallel and writes a CSV gradebook — one row per submission, one column per task, the
total, a status, notes and the run's seed — to ``PATH/gradebook.csv`` (or ``--gradebook
FILE``), atomically (a temporary file renamed into place, so a symbolic link planted at
that path is replaced, never written through).  Every file under the folder gets a row,
even one that could not be graded ("not graded: why").

The exercise is the one named by ``--exercise``, else by a folder named after an
exercise, else by the file's name; a notebook's own metadata is reported, not trusted.
Every run draws fresh examples; its seed is printed, and ``--seed N`` replays a run.  The
output says which confinement was in force; ``--strict`` (instructor grading) refuses to
grade without it.

Exit codes: 0 when grading finished (whatever the scores), 2 when there is nothing to
grade (a missing file, a non-notebook, an unknown exercise, an empty folder) or
``--strict`` cannot be honoured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from funcpipe_async.grading import confine
from funcpipe_async.grading.checks import UnknownExercise, exercise_slugs
from funcpipe_async.grading.grader import find_notebooks, grade_folder, grade_notebook
from funcpipe_async.grading.report import Report, gradebook_csv, printable, task_columns, write_atomically
from funcpipe_async.grading.runner import Limits, Unconfined, new_seed
from funcpipe_async.grading.submission import NotebookError
from funcpipe_async.trace import format_table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m funcpipe_async.grading",
        description="Grade an exercise notebook, or every notebook in a folder into a CSV gradebook.",
    )
    parser.add_argument("path", type=Path, help="a submitted .ipynb, or a folder of them (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON instead of text")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="CPU-time limit per task, in seconds (default 10); the wall clock allows 4 x that + 15 s",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N", help="tasks checked at once (default: one per CPU core)"
    )
    parser.add_argument(
        "--exercise",
        default=None,
        metavar="SLUG",
        help="grade against this exercise (default: a folder named after an exercise, else the file's name; "
        "a notebook's metadata is never trusted)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="draw the generated examples from seed N (default: a fresh seed, printed; replays a run)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="instructor grading: refuse to run unless each submission's code is confined",
    )
    parser.add_argument(
        "--gradebook",
        type=Path,
        default=None,
        metavar="CSV",
        help="where a folder's gradebook goes (default: PATH/gradebook.csv)",
    )
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"grading: error: {message}\n")
    return 2


def _summary(reports: list[Report], gradebook: Path) -> str:
    task_ids = task_columns(reports)
    rows = []
    for r in reports:
        points = {t.id: str(t.points) for t in r.tasks}
        rows.append(
            [
                printable(r.submission),
                *[points.get(i, "-") for i in task_ids],
                f"{r.total}/{r.max_total}" if r.tasks else "-",
                printable(r.status[:120]),
            ]
        )
    table = format_table(["submission", *task_ids, "total", "status"], rows)
    return f"{table}\n\n{len(reports)} submission(s) graded; gradebook written to {printable(str(gradebook))}"


def _footer(reports: list[Report], seed: int) -> str:
    """The run's seed and the confinement in force."""
    lines = [f"seed: {seed} (replay with --seed {seed})", confine.detect().describe()]
    return "\n".join(lines)


def _gradescope(argv: list[str]) -> int:
    from funcpipe_async.grading.gradescope import build_bundle

    parser = argparse.ArgumentParser(
        prog="python -m funcpipe_async.grading gradescope",
        description="Write a Gradescope autograder bundle (autograder.zip) for one exercise.",
    )
    parser.add_argument(
        "exercise", metavar="EXERCISE", help=f"the exercise's slug (one of: {', '.join(exercise_slugs())})"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the folder to write autograder.zip into"
    )
    args = parser.parse_args(argv)
    if args.exercise not in exercise_slugs():
        return _fail(f"no exercise called {args.exercise!r} (known: {', '.join(exercise_slugs())})")
    if args.out.exists() and not args.out.is_dir():
        return _fail(f"--out {printable(str(args.out))} exists and is not a folder")
    target = build_bundle(args.exercise, args.out)
    sys.stdout.write(
        f"wrote {printable(str(target))}: upload it as the assignment's autograder "
        "(Configure Autograder > Zip file upload)\n"
    )
    return 0


def _report(argv: list[str]) -> int:
    from funcpipe_async.grading.classreport import write_class_report

    parser = argparse.ArgumentParser(
        prog="python -m funcpipe_async.grading report",
        description="Write the class report (one self-contained HTML page) from a folder run's gradebook.",
    )
    parser.add_argument(
        "gradebook",
        type=Path,
        metavar="GRADEBOOK.csv",
        help="a folder run's gradebook (the gradebook.json beside it adds every task's feedback)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="HTML", help="where the report goes")
    args = parser.parse_args(argv)
    if not args.gradebook.is_file():
        return _fail(f"no gradebook at {printable(str(args.gradebook))}")
    try:
        out = write_class_report(args.gradebook, args.out)
    except (ValueError, UnicodeDecodeError, OSError) as error:
        return _fail(f"cannot read {printable(str(args.gradebook))}: {printable(str(error))}")
    sys.stdout.write(f"wrote {printable(str(out))}\n")
    return 0


_COMMANDS = {"gradescope": _gradescope, "report": _report}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _COMMANDS:
        return _COMMANDS[argv[0]](argv[1:])
    args = _parser().parse_args(argv)
    if not args.timeout > 0:
        return _fail(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.jobs is not None and args.jobs < 1:
        return _fail(f"--jobs must be at least 1, got {args.jobs}")
    if args.exercise is not None and args.exercise not in exercise_slugs():
        return _fail(f"no exercise called {args.exercise!r} (known: {', '.join(exercise_slugs())})")
    limits = Limits(seconds=args.timeout)
    if args.strict and not confine.detect().confined:
        return _fail(f"--strict: {confine.detect().describe()}; refusing to grade")
    seed: int = args.seed if args.seed is not None else new_seed()
    path: Path = args.path
    if path.is_dir() and not path.is_symlink():
        if not find_notebooks(path):
            return _fail(f"no .ipynb files under {printable(str(path))}")
        gradebook: Path = args.gradebook or path / "gradebook.csv"
        if gradebook.is_dir() and not gradebook.is_symlink():
            return _fail(f"the gradebook {printable(str(gradebook))} is a folder")
        if gradebook.suffix == ".json":
            return _fail("the gradebook is a CSV file; every task's feedback goes in a .json file beside it")
        try:
            reports = grade_folder(
                path,
                exercise=args.exercise,
                limits=limits,
                jobs=args.jobs,
                seed=seed,
                strict=args.strict,
                hidden=[gradebook.parent],
            )
        except Unconfined as error:
            return _fail(str(error))
        write_atomically(gradebook, gradebook_csv(reports))
        details = {"seed": seed, "confinement": confine.detect().mode, "submissions": [r.to_dict() for r in reports]}
        write_atomically(gradebook.with_suffix(".json"), json.dumps(details, indent=1, ensure_ascii=False) + "\n")
        if args.json:
            payload = {
                "gradebook": str(gradebook),
                "seed": seed,
                "confinement": confine.detect().mode,
                "submissions": [r.to_dict() for r in reports],
            }
            sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=True) + "\n")
        else:
            sys.stdout.write(_summary(reports, gradebook) + "\n" + _footer(reports, seed) + "\n")
        return 0
    try:
        report = grade_notebook(
            path, exercise=args.exercise, limits=limits, jobs=args.jobs, seed=seed, strict=args.strict
        )
    except (NotebookError, UnknownExercise, Unconfined) as error:
        return _fail(printable(str(error)))
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=True) + "\n")
    else:
        sys.stdout.write(printable(report.text()) + "\n" + _footer([report], seed) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
