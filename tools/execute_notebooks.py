"""Re-execute lesson notebooks in place so their stored outputs match a fresh run.

    python tools/execute_notebooks.py                 # every notebook in notebooks/ and solutions/
    python tools/execute_notebooks.py notebooks/01_*.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel from the current
environment, with its own folder as the working directory.  Cells tagged
``raises-exception`` may fail (their error is stored, as nbval expects); any other error
stops with a non-zero exit.  Cells tagged ``skip-execution`` are not run.  Execution
timings are not recorded, so a re-run that changes nothing leaves the file unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDERS = ("notebooks", "solutions")


def execute(path: Path, timeout: int) -> float:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks to execute (default: all)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(p for folder in DEFAULT_FOLDERS for p in (ROOT / folder).glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"not a notebook: {path}", file=sys.stderr)
            return 2
        try:
            elapsed = execute(path, args.timeout)
        except CellExecutionError as exc:
            print(f"FAILED {path}:\n{exc}", file=sys.stderr)
            return 1
        print(f"executed {path.relative_to(ROOT) if path.is_absolute() else path}  ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
