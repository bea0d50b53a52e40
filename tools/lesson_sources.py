"""Lesson sources: each executed notebook has a jupytext percent script beside it.

    python tools/lesson_sources.py --check        # exit 1 if a notebook and its script differ
    python tools/lesson_sources.py --write [NB…]  # (re)write the scripts from the notebooks

The ``.py`` script (``notebooks/NN_slug.py``, ``solutions/NN_slug.py``, ``notebooks/further/…``)
is the source a reviewer reads and a maintainer edits; the executed ``.ipynb`` beside it is
what students open and what nbval compares against a fresh run.  ``make notebooks`` builds
each notebook from its script and executes it (``tools/execute_notebooks.py``); ``--write``
is for the other direction, after editing a notebook in JupyterLab.  The script keeps the
cells, their tags and the notebook's ``kernelspec`` and ``funcpipe_async`` metadata (the
settings are in ``jupytext.toml``); outputs live only in the notebook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "notebooks/further", "solutions")
FORMAT = "py:percent"


def paired_notebooks() -> list[Path]:
    """Every notebook that must have a script: lessons, appendices and solutions."""
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))


def script_of(notebook: Path) -> Path:
    return notebook.with_suffix(".py")


def _config() -> Any:
    config = load_jupytext_config(str(ROOT / "notebooks"))
    if config is None:
        raise SystemExit("jupytext.toml is missing at the top of the repository")
    return config


def script_text(notebook: Any) -> str:
    """The percent script of a notebook node (what ``--write`` stores and ``--check`` expects)."""
    return str(jupytext.writes(notebook, fmt=FORMAT, config=_config()))


def notebook_from_script(script: Path, previous: Path | None = None) -> Any:
    """The notebook a script describes; cell ids and outputs kept from ``previous`` where a
    cell's source is unchanged (so a rebuild does not renumber every cell)."""
    notebook = jupytext.read(script, fmt=FORMAT)
    notebook.metadata.pop("jupytext", None)
    if previous is not None and previous.exists():
        old = nbformat.read(previous, as_version=4)
        notebook = combine_inputs_with_outputs(notebook, old, fmt=FORMAT)
        notebook.metadata.pop("jupytext", None)
    return notebook


def drift(notebook: Path) -> str | None:
    """Why ``notebook`` and its script disagree, or ``None`` when they are a pair."""
    script = script_of(notebook)
    if not script.exists():
        return f"{script.relative_to(ROOT)} is missing (python tools/lesson_sources.py --write)"
    expected = script_text(nbformat.read(notebook, as_version=4))
    if script.read_text(encoding="utf-8") != expected:
        return (
            f"{script.relative_to(ROOT)} differs from {notebook.relative_to(ROOT)}: "
            "run `make notebooks` after editing the script (or --write after editing the notebook)"
        )
    return None


def write(notebook: Path) -> None:
    script_of(notebook).write_text(script_text(nbformat.read(notebook, as_version=4)), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if any pair differs")
    mode.add_argument("--write", action="store_true", help="write each script from its notebook")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every paired notebook")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or paired_notebooks()
    if args.write:
        for notebook in notebooks:
            write(notebook)
            print(f"wrote {script_of(notebook).relative_to(ROOT)}")
        return 0
    problems = [reason for notebook in notebooks if (reason := drift(notebook))]
    for reason in problems:
        print(reason, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
