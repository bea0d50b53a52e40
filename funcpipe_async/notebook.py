"""Helpers for the lesson notebooks: showing figures with alt text, an API at a glance, and the
environment check.

Nothing here drives a plan.  :func:`show_figure` publishes a figure as PNG together with
its alt text as the ``text/plain`` alternative: JupyterLab shows the picture, text-only
readers (and nbval, which never compares pixels) get the words.
"""

from __future__ import annotations

import base64
import inspect
import io
import re
import sys
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from matplotlib.figure import Figure

from funcpipe_async.testing import load_course_profile

__all__ = [
    "setup",
    "show_figure",
    "figure_png",
    "first_sentence",
    "api_summary",
    "environment_report",
    "COURSE_PACKAGES",
]

COURSE_PACKAGES = (
    "jupyterlab",
    "ipykernel",
    "ipywidgets",
    "nest-asyncio",
    "hypothesis",
    "matplotlib",
    "nbval",
    "mypy",
)


def setup() -> None:
    """Prepare a lesson notebook: load the course's deterministic Hypothesis profile."""
    load_course_profile()


def figure_png(fig: Figure) -> bytes:
    """Render ``fig`` as PNG bytes (no software/date metadata)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def show_figure(fig: Figure, alt: str) -> None:
    """Display ``fig`` in the notebook as PNG, with ``alt`` as its text alternative."""
    if not isinstance(fig, Figure):
        raise TypeError(f"show_figure needs a matplotlib Figure, got {type(fig).__name__}")
    if not alt.strip():
        raise ValueError("show_figure needs alt text describing what the figure shows")
    from IPython.display import display

    png = base64.b64encode(figure_png(fig)).decode("ascii")
    display({"image/png": png, "text/plain": f"[figure] {alt}"}, raw=True)  # type: ignore[no-untyped-call]


_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`~?(?:[\w.]*\.)?([^`.]+)`")
_QUOTED_ANNOTATION = re.compile(r"(:|->) '([^']*)'")
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.\s+(?![a-z0-9])")  # not "e.g. The", "1.5 s" or "x. y"
_FUNCTION_DEFAULT = re.compile(r"<function ([\w.]+) at 0x[0-9a-f]+>")


def first_sentence(obj: Any) -> str:
    """The first sentence of ``obj``'s docstring on one line, with its reST made plain: double
    backquotes become single ones, and a Sphinx cross-reference becomes the bare name in
    backquotes (no role, no module path)."""
    doc = " ".join((inspect.getdoc(obj) or "").split("\n\n")[0].split())  # the first paragraph
    if not doc:
        return "(no docstring)"
    doc = _ROLE.sub(r"`\1`", doc.replace("``", "`"))
    return _SENTENCE_END.split(doc, maxsplit=1)[0].rstrip(".") + "."


def _signature(obj: Any, annotations: bool) -> str:
    signature = inspect.signature(obj)
    if not annotations:
        signature = signature.replace(
            parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
            return_annotation=inspect.Signature.empty,
        )
    text = _QUOTED_ANNOTATION.sub(r"\1 \2", str(signature))  # postponed annotations print quoted
    return _FUNCTION_DEFAULT.sub(r"\1", text)  # a function default, by name, no address


def api_summary(objects: Iterable[Any], *, annotations: bool = True) -> str:
    """An API at a glance: each object's qualified name and signature, then its docstring's first
    sentence, indented.  ``annotations=False`` keeps only parameters and defaults (when the
    docstrings give the types).  Deterministic: no addresses, no paths."""
    lines = []
    for obj in objects:
        lines.append(f"{obj.__qualname__}{_signature(obj, annotations)}")
        lines.append(f"    {first_sentence(obj)}")
    return "\n".join(lines)


def environment_report() -> list[tuple[str, bool, str]]:
    """Checks that the course can run here: ``(check, passed, detail)`` rows, deterministic text."""
    rows: list[tuple[str, bool, str]] = []
    ok_python = sys.version_info >= (3, 11)
    rows.append(("Python 3.11 or newer", ok_python, "yes" if ok_python else "no: install Python 3.11+"))
    for name in COURSE_PACKAGES:
        try:
            rows.append((f"{name} installed", True, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((f"{name} installed", False, "missing: run the README's set-up command"))
    try:
        from hypothesis import settings

        load_course_profile()
        current = settings.default
        ok_profile = current is not None and bool(current.derandomize) and current.database is None
        rows.append(("Hypothesis course profile", ok_profile, "derandomized, no database"))
    except Exception as exc:  # noqa: BLE001 - reported as a failed check, not raised
        rows.append(("Hypothesis course profile", False, type(exc).__name__))
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    png = figure_png(fig)
    rows.append(("matplotlib renders PNG", png.startswith(b"\x89PNG"), "yes"))
    return rows
