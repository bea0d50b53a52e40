"""Build each lesson notebook from its script and execute it, so stored outputs match a fresh run.

    python tools/execute_notebooks.py                       # every script in notebooks/, notebooks/further/, solutions/
    python tools/execute_notebooks.py notebooks/01_*.py     # one lesson (its .py or its .ipynb)

The percent script ``NN_slug.py`` is the source (see ``tools/lesson_sources.py``): the
notebook is rebuilt from it (keeping the ids of unchanged cells), run top to bottom in a
fresh ``python3`` kernel from the current environment with its own folder as the working
directory, cleaned, and written beside it.  Cells tagged ``raises-exception`` may fail
(their error is stored, as nbval expects); any other error stops with a non-zero exit.

Stored outputs depend on nothing but the lesson:

* no execution timings, and adjacent output chunks merged (the kernel's chunking is timing);
* no widget state and no widget views (random model ids); a widget needs a live kernel;
* no ANSI colour codes;
* tracebacks show the lesson's own frames in full and every other frame as one line naming
  the module and function (``File funcpipe_async/plan.py, in _fresh(make)``) — no absolute
  path, no line number and no source excerpt, so moving a line of the package changes no
  lesson.  nbval compares an error's name and message, never its traceback.

A re-run that changes nothing leaves both files unchanged.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lesson_sources import FOLDERS, ROOT, notebook_from_script, script_of, script_text  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# An IPython traceback frame outside the notebook: "File /abs/path/mod.py:123, in func(args)".
FOREIGN_FRAME = re.compile(r"^File (?P<path>.+?):\d+, in (?P<where>.*)$")
PATH_ANCHORS = ("funcpipe_async/", "site-packages/", "/lib/python3")


def _coalesce_streams(outputs: list[Any]) -> list[Any]:
    """Merge adjacent stdout (or stderr) chunks."""
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


def short_path(path: str) -> str:
    """``/x/y/funcpipe_async/plan.py`` → ``funcpipe_async/plan.py``; stdlib and site-packages
    files lose everything up to their package (``asyncio/threads.py``)."""
    for anchor in PATH_ANCHORS:
        at = path.rfind(anchor)
        if at >= 0:
            if anchor == "/lib/python3":
                rest = path[at + 1 :]
                return rest.split("/", 2)[2] if rest.count("/") >= 2 else rest
            return path[at:] if anchor == "funcpipe_async/" else path[at + len(anchor) :]
    return Path(path).name


def clean_traceback(frames: list[str]) -> list[str]:
    """ANSI codes stripped; a frame outside the notebook shortened to its module and function."""
    cleaned = []
    for frame in frames:
        plain = ANSI.sub("", frame)
        first = plain.split("\n", 1)[0]
        match = FOREIGN_FRAME.match(first)
        if match:
            plain = f"File {short_path(match['path'])}, in {match['where']}"
        cleaned.append(plain)
    return cleaned


def clean(notebook: Any) -> None:
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            output.get("data", {}).pop(WIDGET_VIEW, None)
            if output.output_type == "stream":
                output.text = ANSI.sub("", output.text)
            elif output.output_type == "error":
                output.evalue = ANSI.sub("", output.evalue)
                output.traceback = clean_traceback(output.traceback)
        cell.outputs = _coalesce_streams(cell.outputs)


def execute(target: Path, timeout: int) -> float:
    """Build ``target``'s notebook from its script (when it has one), run it, clean it, write both."""
    notebook_path = target.with_suffix(".ipynb")
    script = script_of(notebook_path)
    if script.exists():
        notebook = notebook_from_script(script, previous=notebook_path)
    else:
        notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook_path.parent)}},
        record_timing=False,
        store_widget_state=False,
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    clean(notebook)
    nbformat.write(notebook, notebook_path)
    script.write_text(script_text(notebook), encoding="utf-8")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="scripts or notebooks to execute (default: all)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.py"))
    if not paths:
        print("no lesson scripts found", file=sys.stderr)
        return 2
    for path in paths:
        if path.suffix not in (".py", ".ipynb") or not (path.is_file() or path.with_suffix(".py").is_file()):
            print(f"not a lesson script or notebook: {path}", file=sys.stderr)
            return 2
        try:
            elapsed = execute(path, args.timeout)
        except CellExecutionError as exc:
            print(f"FAILED {path}:\n{exc}", file=sys.stderr)
            return 1
        print(f"executed {path.with_suffix('.ipynb').relative_to(ROOT)}  ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
