"""Re-execute lesson notebooks in place so their stored outputs match a fresh run.

    python tools/execute_notebooks.py                 # every notebook in notebooks/ and solutions/
    python tools/execute_notebooks.py notebooks/01_*.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel from the current
environment, with its own folder as the working directory.  Cells tagged
``raises-exception`` may fail (their error is stored, as nbval expects); any other error
stops with a non-zero exit.  Cells tagged ``skip-execution`` are not run.

Stored notebooks stay byte-stable: execution timings are not recorded, adjacent output chunks are merged, and live-widget
outputs are stored as their text form only — no widget state, no random model ids (a
widget needs a running kernel anyway; lessons print an answer key for readers without one).
A re-run that changes nothing therefore leaves the file unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDERS = ("notebooks", "solutions")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _coalesce_streams(outputs: list[Any]) -> list[Any]:
    """Merge adjacent stdout (or stderr) chunks: how the kernel splits a cell's output into
    chunks depends on timing, which would make the stored file differ run to run."""
    merged: list[Any] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = previous["text"] + output["text"]
        else:
            merged.append(output)
    return merged


def execute(path: Path, timeout: int) -> float:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=False,
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
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
