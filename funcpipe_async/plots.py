"""Figures drawn from traces: pure functions from a :class:`~funcpipe_async.trace.Trace` to a
matplotlib ``Figure`` (no pyplot global state, so nothing shows up uninvited).

Every plot helper has a twin ``*_summary`` function returning the plotted data as text:
the notebook prints it (nbval compares text, never pixels) and uses it as the figure's
alt text.  Figures use the colour-blind ``petroff10`` cycle *and* distinct markers and
line styles, so no meaning rests on colour alone.
"""

from __future__ import annotations

from typing import Any

import matplotlib
import matplotlib.style
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from funcpipe_async.trace import DESCRIBE, DONE, DRIVE, START, Trace

__all__ = ["course_rc", "plot_drive_timeline", "drive_timeline_summary"]


def course_rc() -> dict[str, Any]:
    """The course's matplotlib settings: petroff10 colours, readable fonts, light grid."""
    rc: dict[str, Any] = {str(k): v for k, v in matplotlib.style.library["petroff10"].items()}
    rc.update(
        {
            "font.size": 12,
            "axes.titlesize": 14,
            "axes.labelsize": 12,
            "legend.fontsize": 10,
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return rc


def _fmt(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


def drive_timeline_summary(trace: Trace) -> str:
    """The drive timeline in words: per step, when it was described and when it ran."""
    drives = [e.time for e in trace.of_kind(DRIVE)]
    spans = trace.spans()
    lines = []
    if drives:
        lines.append("driven by the shell at t=" + ", ".join(_fmt(t) for t in drives))
    else:
        lines.append("never driven: nothing ran")
    for name in _rows(trace):
        described = [_fmt(e.time) for e in trace.of_kind(DESCRIBE) if e.name == name]
        runs = [
            f"{_fmt(s.started)}–{_fmt(s.finished) if s.finished is not None else '?'}"
            + ("" if s.ok is not False else " (Err)")
            for s in spans
            if s.name == name
        ]
        lines.append(
            f"{name}: described at t={', '.join(described) or '-'}; ran at t={', '.join(runs) or 'never'}"
        )
    return "\n".join(lines)


def _rows(trace: Trace) -> list[str]:
    """The named steps: names with a describe or start event, in order of first appearance."""
    steps = {e.name for e in trace.of_kind(DESCRIBE, START)}
    return [n for n in trace.names() if n in steps]


def plot_drive_timeline(
    trace: Trace,
    *,
    title: str = "Described first, run only when driven",
    time_label: str = "logical time (event number)",
) -> Figure:
    """One row per step: a hollow diamond where it was described, a bar while it ran (hatched
    for an ``Err``), a dashed line where the shell started driving, a dotted one where it was
    done, and a grey band over the time before driving — when only descriptions existed."""
    rows = _rows(trace)
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(9, 1.2 + 0.55 * max(len(rows), 1)), layout="constrained")
        ax = fig.add_subplot()
        colours = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        y_of = {name: i for i, name in enumerate(rows)}
        for name, y in y_of.items():
            colour = colours[y % len(colours)]
            for e in trace.of_kind(DESCRIBE):
                if e.name == name:
                    ax.plot(e.time, y, marker="D", markersize=10, markerfacecolor="white",
                            markeredgecolor=colour, markeredgewidth=2, linestyle="none")
            for s in trace.spans():
                if s.name == name:
                    end = s.finished if s.finished is not None else s.started
                    ax.barh(y, max(end - s.started, 0.35), left=s.started, height=0.45,
                            color=colour, alpha=0.85, hatch="//" if s.ok is False else None,
                            edgecolor="black")
        drives = trace.of_kind(DRIVE)
        if drives and trace.events:
            ax.axvspan(trace.events[0].time - 0.5, drives[0].time, color="0.92", zorder=0)
        for e in drives:
            ax.axvline(e.time, color="black", linestyle="--", linewidth=1.5)
        for e in trace.of_kind(DONE):
            ax.axvline(e.time, color="black", linestyle=":", linewidth=1.5)
        ax.set_yticks(range(len(rows)), rows)
        ax.invert_yaxis()
        ax.set_xlabel(time_label)
        ax.set_title(title)
        handles = [
            Line2D([], [], marker="D", markerfacecolor="white", markeredgecolor="black",
                   linestyle="none", markersize=9, label="described (plan built)"),
            Patch(facecolor="grey", edgecolor="black", label="ran (Ok)"),
            Patch(facecolor="grey", edgecolor="black", hatch="//", label="ran (Err)"),
            Patch(facecolor="0.92", label="before driving: descriptions only"),
            Line2D([], [], color="black", linestyle="--", label="shell starts driving"),
            Line2D([], [], color="black", linestyle=":", label="shell done"),
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig
