"""Figures drawn from traces: pure functions from a :class:`~funcpipe_async.trace.Trace` to a
matplotlib ``Figure`` (no pyplot global state, so nothing shows up uninvited).

Every plot helper has a twin ``*_summary`` function returning the plotted data as text:
the notebook prints it (nbval compares text, never pixels) and uses it as the figure's
alt text.  Figures use the colour-blind ``petroff10`` cycle *and* distinct markers and
line styles, so no meaning rests on colour alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import matplotlib.style
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from funcpipe_async.policies import ATTEMPT, CANCELLED, GIVE_UP, OUTCOME, WAIT
from funcpipe_async.trace import DESCRIBE, DONE, DRIVE, START, Trace, format_table

__all__ = [
    "course_rc",
    "plot_drive_timeline",
    "drive_timeline_summary",
    "AttemptSpan",
    "attempt_spans",
    "attempt_timeline_summary",
    "plot_attempt_timeline",
    "plot_stream_events",
    "stream_events_summary",
    "plot_cumulative_requests",
    "plot_wait_vs_capacity",
    "wait_vs_capacity_summary",
    "cumulative_requests_summary",
    "projector_rc",
    "min_text_px",
    "demo_png",
    "DEMO_CSS",
    "MIN_TEXT_PX",
]


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
        lines.append(f"{name}: described at t={', '.join(described) or '-'}; ran at t={', '.join(runs) or 'never'}")
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
                    ax.plot(
                        e.time,
                        y,
                        marker="D",
                        markersize=10,
                        markerfacecolor="white",
                        markeredgecolor=colour,
                        markeredgewidth=2,
                        linestyle="none",
                    )
            for s in trace.spans():
                if s.name == name:
                    end = s.finished if s.finished is not None else s.started
                    ax.barh(
                        y,
                        max(end - s.started, 0.35),
                        left=s.started,
                        height=0.45,
                        color=colour,
                        alpha=0.85,
                        hatch="//" if s.ok is False else None,
                        edgecolor="black",
                    )
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
        # The legend lists only what this trace drew: no "ran (Err)" when nothing failed.
        spans = trace.spans()
        shown = [
            (
                bool(trace.of_kind(DESCRIBE)),
                Line2D(
                    [],
                    [],
                    marker="D",
                    markerfacecolor="white",
                    markeredgecolor="black",
                    linestyle="none",
                    markersize=9,
                    label="described (plan built)",
                ),
            ),
            (any(s.ok is not False for s in spans), Patch(facecolor="grey", edgecolor="black", label="ran (Ok)")),
            (
                any(s.ok is False for s in spans),
                Patch(facecolor="grey", edgecolor="black", hatch="//", label="ran (Err)"),
            ),
            (bool(drives and trace.events), Patch(facecolor="0.92", label="before driving: descriptions only")),
            (bool(drives), Line2D([], [], color="black", linestyle="--", label="shell starts driving")),
            (bool(trace.of_kind(DONE)), Line2D([], [], color="black", linestyle=":", label="shell done")),
        ]
        handles = [handle for drawn, handle in shown if drawn]
        if handles:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


@dataclass(frozen=True, slots=True)
class AttemptSpan:
    """One retry attempt (``kind="attempt"``) or one wait between attempts (``kind="wait"``).

    ``outcome`` for an attempt: ``"ok"``, the error code (``"TIMEOUT"`` when its own
    timeout cut it short), or ``"cancelled"``; for a wait: ``"waited"`` or ``"cancelled"``.
    """

    name: str
    kind: str
    attempt: int
    start: float
    end: float
    outcome: str


def attempt_spans(trace: Trace) -> tuple[list[AttemptSpan], list[tuple[str, float, str]]]:
    """The attempts and waits :func:`~funcpipe_async.async_retry` recorded, and its give-ups
    as ``(name, time, reason)``, read from ``trace``."""
    spans: list[AttemptSpan] = []
    give_ups: list[tuple[str, float, str]] = []
    open_attempt: dict[str, tuple[int, float]] = {}
    open_wait: dict[str, tuple[int, float, float]] = {}

    def close_wait(name: str, at: float, outcome: str) -> None:
        if name in open_wait:
            n, start, end = open_wait.pop(name)
            spans.append(AttemptSpan(name, "wait", n, start, min(end, at), outcome))

    for e in trace.events:
        attempt = e.data.get("attempt", 0)
        n = attempt if isinstance(attempt, int) else 0
        if e.kind == ATTEMPT:
            close_wait(e.name, e.time, "waited")
            open_attempt[e.name] = (n, e.time)
        elif e.kind == OUTCOME and e.name in open_attempt:
            n0, start = open_attempt.pop(e.name)
            outcome = "ok" if e.data.get("ok") else str(e.data.get("code", "error"))
            spans.append(AttemptSpan(e.name, "attempt", n0, start, e.time, outcome))
        elif e.kind == WAIT:
            delay = e.data.get("delay", 0.0)
            length = float(delay) if isinstance(delay, (int, float)) else 0.0
            open_wait[e.name] = (n, e.time, e.time + length)
        elif e.kind == CANCELLED:
            if e.data.get("during") == "wait":
                close_wait(e.name, e.time, "cancelled")
            elif e.name in open_attempt:
                n0, start = open_attempt.pop(e.name)
                spans.append(AttemptSpan(e.name, "attempt", n0, start, e.time, "cancelled"))
        elif e.kind == GIVE_UP:
            give_ups.append((e.name, e.time, str(e.data.get("reason", ""))))
    for name in list(open_wait):
        close_wait(name, open_wait[name][2], "waited")
    return spans, give_ups


def attempt_timeline_summary(trace: Trace) -> str:
    """The attempt timeline in words: per call, each attempt and wait with its times, then
    how the call ended."""
    spans, give_ups = attempt_spans(trace)
    names = list(dict.fromkeys([s.name for s in spans] + [g[0] for g in give_ups]))
    if not names:
        return "no retry attempts recorded"
    lines = []
    for name in names:
        parts = []
        for s in spans:
            if s.name != name:
                continue
            if s.kind == "attempt":
                parts.append(f"#{s.attempt} {_fmt(s.start)}–{_fmt(s.end)} {s.outcome}")
            else:
                parts.append(f"wait {_fmt(s.end - s.start)}" + (" (cancelled)" if s.outcome == "cancelled" else ""))
        ends = [f"gave up at t={_fmt(t)}: {reason}" for n, t, reason in give_ups if n == name]
        lines.append(f"{name}: " + "; ".join(parts + ends))
    return "\n".join(lines)


_OUTCOME_STYLE = {
    # category: (colour index in the cycle, hatch, legend label)
    "ok": (0, None, "attempt: Ok"),
    "error": (1, "//", "attempt: Err"),
    "timeout": (2, "xx", "attempt: timed out (cancelled)"),
    "cancelled": (3, "..", "attempt: cancelled (deadline / caller)"),
}


def _category(outcome: str) -> str:
    if outcome in ("ok", "cancelled"):
        return outcome
    return "timeout" if outcome == "TIMEOUT" else "error"


def plot_attempt_timeline(
    trace: Trace,
    *,
    title: str = "Attempts and waits on virtual time",
    deadline: float | None = None,
    time_label: str = "virtual time (s)",
) -> Figure:
    """One row per call: a bar per attempt (colour *and* hatch say Ok / Err / timed out /
    cancelled), a thin line with an arrow for each backoff wait, an ✕ where the call gave
    up, and a dashed line at ``deadline`` if given (in trace time)."""
    spans, give_ups = attempt_spans(trace)
    names = list(dict.fromkeys([s.name for s in spans] + [g[0] for g in give_ups]))
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(9, 1.6 + 0.6 * max(len(names), 1)), layout="constrained")
        ax = fig.add_subplot()
        colours = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        ends = [s.end for s in spans] + [g[1] for g in give_ups]
        horizon = max(ends, default=1.0) or 1.0
        min_width = horizon / 150  # an instant attempt still shows as a sliver
        y_of = {name: i for i, name in enumerate(names)}
        used: set[str] = set()
        for s in spans:
            y = y_of[s.name]
            if s.kind == "wait":
                ax.annotate(
                    "",
                    xy=(s.end, y),
                    xytext=(s.start, y),
                    arrowprops={"arrowstyle": "->", "color": "0.35", "linestyle": ":", "linewidth": 1.5},
                )
                continue
            category = _category(s.outcome)
            used.add(category)
            index, hatch, _ = _OUTCOME_STYLE[category]
            ax.barh(
                y,
                max(s.end - s.start, min_width),
                left=s.start,
                height=0.5,
                color=colours[index % len(colours)],
                hatch=hatch,
                edgecolor="black",
                alpha=0.9,
            )
        for name, t, _reason in give_ups:
            ax.plot(t, y_of[name], marker="X", markersize=11, color="black", linestyle="none")
        if deadline is not None:
            ax.axvline(deadline, color="black", linestyle="--", linewidth=1.5)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel(time_label)
        ax.set_title(title)
        handles: list[Any] = [
            Patch(facecolor=colours[idx % len(colours)], hatch=hatch, edgecolor="black", label=label)
            for key, (idx, hatch, label) in _OUTCOME_STYLE.items()
            if key in used
        ]
        handles.append(Line2D([], [], color="0.35", linestyle=":", marker=">", label="backoff wait"))
        if give_ups:
            handles.append(Line2D([], [], color="black", marker="X", linestyle="none", label="gave up"))
        if deadline is not None:
            handles.append(Line2D([], [], color="black", linestyle="--", label="deadline"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# --- lesson 02: producer vs consumer events on one stream ----------------------------------------

_STREAM_ROWS = (
    # (trace kind, row label, marker, colour index)
    ("pull", "consumer asks (pull)", "v", 0),
    ("emit", "source produces (emit)", "o", 1),
    ("consume", "consumer done (consume)", "s", 2),
)


def _stream_items(trace: Trace) -> dict[int, dict[str, float]]:
    """``{item: {kind: first time}}`` for the pull / emit / consume events of ``trace``."""
    items: dict[int, dict[str, float]] = {}
    for e in trace.of_kind("pull", "emit", "consume"):
        item = e.data.get("item")
        if isinstance(item, int):
            items.setdefault(item, {}).setdefault(e.kind, e.time)
    return items


def stream_events_summary(trace: Trace) -> str:
    """The producer-vs-consumer figure in words: per item, when it was pulled, emitted and
    consumed; when the source closed; and the most items ever produced but not yet consumed."""
    items = _stream_items(trace)
    if not items:
        return "no stream events recorded"
    lines = []
    for item in sorted(items):
        times = items[item]
        parts = [f"{kind} t={_fmt(times[kind])}" if kind in times else f"{kind} -" for kind, *_ in _STREAM_ROWS]
        lines.append(f"item {item}: " + ", ".join(parts))
    for e in trace.of_kind("close"):
        lines.append(f"{e.name} closed at t={_fmt(e.time)} after {e.data.get('items', '?')} items")
    ahead = most = 0
    for e in trace.of_kind("emit", "consume"):
        ahead += 1 if e.kind == "emit" else -1
        most = max(most, ahead)
    if trace.of_kind("consume"):
        lines.append(f"most items produced but not yet consumed: {most}")
    return "\n".join(lines)


def plot_stream_events(
    trace: Trace,
    *,
    title: str = "A source produces only when its consumer pulls",
    time_label: str = "virtual time (virtual seconds)",
) -> Figure:
    """Three rows against time — the consumer's pulls (▼), the source's emits (●), the
    consumer finishing each item (■) — each marker labelled with its item number, a dotted
    line joining one item's pull, emit and consume, and an ✕ where the source closed."""
    items = _stream_items(trace)
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.add_subplot()
        colours = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        row_of = {kind: y for y, (kind, *_) in enumerate(_STREAM_ROWS)}
        for item, times in sorted(items.items()):
            path = [(times[k], row_of[k]) for k, *_ in _STREAM_ROWS if k in times]
            ax.plot([p[0] for p in path], [p[1] for p in path], color="0.6", linestyle=":", linewidth=1)
            for kind, _label, marker, index in _STREAM_ROWS:
                if kind in times:
                    ax.plot(
                        times[kind],
                        row_of[kind],
                        marker=marker,
                        markersize=10,
                        linestyle="none",
                        color=colours[index % len(colours)],
                        markeredgecolor="black",
                    )
                    ax.annotate(
                        str(item),
                        (times[kind], row_of[kind]),
                        textcoords="offset points",
                        xytext=(0, 9),
                        ha="center",
                        fontsize=9,
                    )
        closes = trace.of_kind("close")
        for e in closes:
            ax.plot(e.time, row_of["emit"], marker="X", markersize=12, color="black", linestyle="none")
        ax.set_yticks(range(len(_STREAM_ROWS)), [label for _, label, *_ in _STREAM_ROWS])
        ax.set_ylim(-0.6, len(_STREAM_ROWS) - 0.4)
        ax.invert_yaxis()
        ax.set_xlabel(time_label)
        ax.set_title(title)
        handles: list[Any] = [
            Line2D(
                [],
                [],
                marker=marker,
                color=colours[index % len(colours)],
                markeredgecolor="black",
                linestyle="none",
                markersize=9,
                label=label,
            )
            for _, label, marker, index in _STREAM_ROWS
        ]
        handles.append(Line2D([], [], color="0.6", linestyle=":", label="one item's life"))
        if closes:
            handles.append(Line2D([], [], marker="X", color="black", linestyle="none", label="source closed"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# --- cumulative requests over time (lesson 04: a retry storm, with and without a budget) ---------

_CUMULATIVE_STYLES = (("o", "-"), ("^", "--"), ("s", ":"), ("D", "-."))


def _cumulative(times: Sequence[float]) -> tuple[list[float], list[int]]:
    ordered = sorted(times)
    return ordered, list(range(1, len(ordered) + 1))


def cumulative_requests_summary(series: Mapping[str, Sequence[float]], *, checkpoints: Sequence[float] = ()) -> str:
    """The cumulative-requests figure in words: per series, how many requests arrived in all
    and when the last one did, then how many had arrived by each checkpoint time."""
    width = max((len(label) for label in series), default=0)
    lines = []
    for label, times in series.items():
        line = f"{label:>{width}}: {len(times)} request{'' if len(times) == 1 else 's'}"
        if times:
            line += f", the last at t={max(times):.3g}"
        if checkpoints:
            by = ", ".join(f"t={t:g}: {sum(1 for x in times if x <= t)}" for t in checkpoints)
            line += f"; by {by}"
        lines.append(line)
    return "\n".join(lines) if lines else "no requests"


def plot_cumulative_requests(
    series: Mapping[str, Sequence[float]],
    *,
    levels: Mapping[str, float] | None = None,
    title: str = "Requests reaching the dependency",
    time_label: str = "virtual time (virtual seconds)",
) -> Figure:
    """Requests so far against time, one step line per series (each its own line style, and
    its own marker on the last request), with optional labelled horizontal ``levels`` (e.g.
    the first attempts alone).  ``series`` maps a label to the times requests arrived."""
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(10, 4.2), layout="constrained")
        ax = fig.add_subplot()
        colours = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        end = max((max(times) for times in series.values() if times), default=1.0)
        for i, (label, times) in enumerate(series.items()):
            marker, style = _CUMULATIVE_STYLES[i % len(_CUMULATIVE_STYLES)]
            xs, ys = _cumulative(times)
            xs, ys = [0.0, *xs, end], [0, *ys, len(xs)]
            ax.step(
                xs,
                ys,
                where="post",
                color=colours[i % len(colours)],
                linestyle=style,
                linewidth=2,
                label=f"{label} ({len(times)})",
            )
            if times:  # the last request: after it, the line stays flat
                ax.plot(
                    xs[-2],
                    ys[-2],
                    marker=marker,
                    markersize=9,
                    color=colours[i % len(colours)],
                    markeredgecolor="black",
                    linestyle="none",
                )
        for label, level in (levels or {}).items():
            ax.axhline(level, color="0.35", linestyle=(0, (1, 3)), linewidth=1.2)
            ax.annotate(
                label,
                (end, level),
                textcoords="offset points",
                xytext=(-4, -4),
                ha="right",
                va="top",
                fontsize=9,
                color="0.25",
            )
        ax.set_xlabel(time_label)
        ax.set_ylabel("requests so far")
        ax.set_ylim(bottom=0)
        ax.set_title(title)
        ax.legend(loc="center right", frameon=False)
    return fig


# --- lesson 03: measured wait against the capacity / service-rate bound ----------------------------


def _check_wait_data(capacities: Sequence[int], waits: Sequence[float], service_rate: float) -> None:
    if len(capacities) != len(waits) or not capacities:
        raise ValueError(
            f"wait_vs_capacity: need one measured wait per capacity, got {len(capacities)} "
            f"capacities and {len(waits)} waits"
        )
    if not service_rate > 0:
        raise ValueError(
            f"wait_vs_capacity: service_rate must be a positive number of items per second, got {service_rate!r}"
        )


def wait_vs_capacity_summary(capacities: Sequence[int], waits: Sequence[float], service_rate: float) -> str:
    """The plotted data of :func:`plot_wait_vs_capacity` as a table: per capacity, the bound
    ``capacity / service_rate``, the measured mean wait, and the wait as a fraction of the bound."""
    _check_wait_data(capacities, waits, service_rate)
    rows = [
        [c, f"{c / service_rate:.2f}", f"{w:.2f}", f"{w / (c / service_rate):.2f}"] for c, w in zip(capacities, waits)
    ]
    return format_table(["capacity", "C/μ s", "measured W s", "W ÷ (C/μ)"], rows)


def plot_wait_vs_capacity(
    capacities: Sequence[int],
    waits: Sequence[float],
    service_rate: float,
    *,
    title: str = "A bigger buffer under overload buys only waiting",
) -> Figure:
    """Measured mean wait W in a ``suspend`` queue (● joined by a solid line) against its capacity,
    beside the line ``capacity / service_rate`` (dashed): under sustained overload the queue stays
    near full and the consumer sets the pace, so by Little's law W ≈ C / μ."""
    _check_wait_data(capacities, waits, service_rate)
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(7.5, 3.8), layout="constrained")
        ax = fig.add_subplot()
        colours = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        top = max(capacities)
        ax.plot(
            [0, top],
            [0, top / service_rate],
            color="black",
            linestyle="--",
            linewidth=1.4,
            label=f"C / μ (μ = {service_rate:g} items/s)",
        )
        ax.plot(
            list(capacities),
            list(waits),
            color=colours[0],
            marker="o",
            markersize=8,
            markeredgecolor="black",
            linewidth=1.8,
            label="measured mean wait W",
        )
        for c, w in zip(capacities, waits):
            ax.annotate(f"{w:.2f} s", (c, w), textcoords="offset points", xytext=(6, -14), fontsize=9)
        ax.set_xlim(0, top * 1.08)
        ax.set_ylim(-0.08 * top / service_rate, top / service_rate * 1.1)  # room for the lowest label
        ax.set_xlabel("queue capacity C (items)")
        ax.set_ylabel("mean wait in queue (virtual seconds)")
        ax.set_title(title)
        ax.legend(loc="upper left", frameon=False)
    return fig


# --- the instructor's demos on a projector ------------------------------------------------------

MIN_TEXT_PX = 14.0
"""The smallest text a demo figure may have, in pixels at the size it is shown."""

DEMO_CSS = (
    "<style>"
    ".funcpipe-demo .widget-label, .funcpipe-demo .widget-readout, .funcpipe-demo .widget-toggle-button,"
    " .funcpipe-demo .funcpipe-demo-summary { font-size: 16px !important; }"
    " .funcpipe-demo .widget-toggle-button { text-align: left; }"
    " .funcpipe-demo .widget-toggle-button.mod-active { background: #0072B2 !important; color: white !important;"
    " font-weight: bold; box-shadow: inset 5px 0 0 #000 !important; }"
    "</style>"
)
"""Large type for the back of a classroom, scoped to ``.funcpipe-demo`` (ipywidgets styles have
no font size), and a chosen toggle marked by colour (Okabe–Ito blue), bold type and a bar."""


def projector_rc() -> dict[str, Any]:
    """:func:`course_rc` for a demo figure drawn at dpi 100 and shown 1:1: every font at least
    10.5 pt, i.e. 14.6 px (:data:`MIN_TEXT_PX` is 14)."""
    rc = course_rc()
    rc.update(
        {
            "font.size": 12,
            "axes.titlesize": 13,
            "axes.labelsize": 12,
            "legend.fontsize": 11,
            "xtick.labelsize": 11,
            "ytick.labelsize": 11,
            "axes.titleweight": "bold",
            "figure.dpi": 100,
            "savefig.dpi": 100,
        }
    )
    return rc


def min_text_px(fig: Figure) -> float:
    """The size of the smallest visible, non-empty text in ``fig``, in pixels of its PNG
    (font size in points × dpi / 72): tick labels, titles, labels and legends included.
    Tick labels get their text when the figure is drawn: draw it (or save it) first."""
    from matplotlib.text import Text

    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
    ]
    if not sizes:
        raise ValueError("min_text_px: the figure has no visible text (draw it first)")
    return float(min(sizes)) * float(fig.dpi) / 72.0


def _png_text_chunk(png: bytes, key: str, value: str) -> bytes:
    """``png`` with a ``tEXt`` chunk ``key: value`` inserted after its header chunk."""
    import struct
    import zlib

    body = b"tEXt" + key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    end_of_header = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, data, CRC
    return png[:end_of_header] + chunk + png[end_of_header:]


def demo_png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes carrying its smallest text size (:func:`min_text_px`, measured as
    drawn) in a ``funcpipe:min-text-px`` text chunk, so a browser check can tell how large the
    chart's text is where it is shown."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return _png_text_chunk(buffer.getvalue(), "funcpipe:min-text-px", f"{min_text_px(fig):.2f}")
