"""Helpers for the lesson notebooks: showing figures with alt text, and the environment check.

Nothing here drives a plan.  :func:`show_figure` publishes a figure as PNG together with
its alt text as the ``text/plain`` alternative: JupyterLab shows the picture, text-only
readers (and nbval, which never compares pixels) get the words.
"""

from __future__ import annotations

import base64
import io
import sys
from importlib import metadata

from matplotlib.figure import Figure

from funcpipe_async.testing import load_course_profile

__all__ = ["setup", "show_figure", "figure_png", "environment_report", "COURSE_PACKAGES"]

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
