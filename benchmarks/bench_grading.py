"""The grader: time to grade one notebook, and a folder of 30 submissions on every core.

    python benchmarks/bench_grading.py

1. Each solution notebook in ``solutions/`` is graded on its own (best of 3): every task by
   its own judge and worker, as ``python -m funcpipe_async.grading FILE`` does.  Target: under
   10 s per notebook.
2. A folder of 30 submissions — copies of the solutions, round robin — is graded as the
   instructor's command does (a folder per exercise).  Reported: wall time, the CPU time the
   grading children used, and their ratio, the average number of cores kept busy (the judges'
   CPU time; a confined worker's is not reaped by this process, so the ratio is a lower bound).  Target: "uses both cores", read
   as an average above 1.5 on a 2-core machine.

Correctness check (exit 1 if it fails): every solution, and every copy, scores full marks.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average

from funcpipe_async.grading import grade_folder, grade_notebook

ROOT = Path(__file__).resolve().parent.parent
COPIES = 30


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    cores = os.cpu_count() or 1
    wrong = False
    print(f"{len(solutions)} solution notebooks; {cores} cores")
    for path in solutions:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report = grade_notebook(path)
            times.append(time.perf_counter() - started)
            wrong |= report.total != report.max_total
        verdict = "PASS" if min(times) < 10 else "FAIL"
        print(
            f"  {path.name:<45} {report.total}/{report.max_total}  best {min(times):.2f} s, "
            f"worst {max(times):.2f} s  {verdict} (target < 10 s)"
        )
    with tempfile.TemporaryDirectory() as folder:
        for i in range(COPIES):
            solution = solutions[i % len(solutions)]
            (Path(folder) / solution.stem).mkdir(exist_ok=True)  # a folder per exercise names it
            shutil.copy(solution, Path(folder) / solution.stem / f"student_{i:02d}.ipynb")
        cpu_before = children_cpu()
        started = time.perf_counter()
        reports = grade_folder(Path(folder))
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu_before
    wrong |= any(r.total != r.max_total for r in reports) or len(reports) != COPIES
    busy = cpu / wall
    print(
        f"  folder of {COPIES}: {wall:.1f} s wall, {cpu:.1f} s CPU in the grading processes, "
        f"{busy:.2f} cores busy on average  {'PASS' if busy > 0.75 * cores else 'FAIL'} "
        f"(target > {0.75 * cores:g})"
    )
    print(f"  load average {load_average()}")
    if wrong:
        print("WRONG: a solution did not score full marks")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
