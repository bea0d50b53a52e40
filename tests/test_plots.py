"""``plots``: the drive timeline figure, its text twin, and the course's matplotlib settings."""

from __future__ import annotations

from typing import Any

import matplotlib.style
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scenarios import fetch_then_failing_save

from funcpipe_async import (
    Trace,
    async_pure,
    course_rc,
    drive_timeline_summary,
    figure_png,
    plot_drive_timeline,
    run_sync,
)


def _data(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values).ravel()]


def test_drive_timeline_summary_of_a_known_trace() -> None:
    # Both steps are described (t=0, 1) before the shell drives (t=2); fetch runs 3–5 with
    # its GET inside; save runs 6–7 and fails.  The http effect is not a step of its own.
    assert drive_timeline_summary(fetch_then_failing_save()) == (
        "driven by the shell at t=2\nfetch: described at t=0; ran at t=3–5\nsave: described at t=1; ran at t=6–7 (Err)"
    )


def test_drive_timeline_summary_of_a_trace_never_driven() -> None:
    trace = Trace()
    trace.step("fetch", async_pure(1))
    assert drive_timeline_summary(trace) == ("never driven: nothing ran\nfetch: described at t=0; ran at t=never")


def test_drive_timeline_summary_lists_every_drive_and_run() -> None:
    trace = Trace()
    plan = trace.step("a", async_pure(1))
    run_sync(plan, trace=trace)  # drive 1, start 2, finish 3, done 4
    run_sync(plan, trace=trace)  # drive 5, start 6, finish 7, done 8
    assert drive_timeline_summary(trace) == ("driven by the shell at t=1, 5\na: described at t=0; ran at t=2–3, 6–7")


def test_plot_drive_timeline_returns_a_figure_with_one_row_per_step() -> None:
    fig = plot_drive_timeline(fetch_then_failing_save())
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert list(ax.get_yticks()) == [0, 1]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["fetch", "save"]
    assert ax.get_xlabel() == "logical time (event number)"
    assert ax.get_title() == "Described first, run only when driven"


def test_plot_drive_timeline_draws_describes_runs_and_drives() -> None:
    (ax,) = plot_drive_timeline(fetch_then_failing_save()).axes
    diamonds = [(_data(line.get_xdata()), _data(line.get_ydata())) for line in ax.lines if line.get_marker() == "D"]
    assert diamonds == [([0.0], [0]), ([1.0], [1])]
    bars = [bar for container in ax.containers for bar in container]
    assert [(bar.get_x(), bar.get_width(), bar.get_hatch()) for bar in bars] == [
        (3.0, 2.0, None),
        (6.0, 1.0, "//"),  # the Err run is hatched: meaning does not rest on colour alone
    ]
    vlines = [
        (_data(line.get_xdata())[0], line.get_linestyle())
        for line in ax.lines
        if line.get_marker() in ("None", "", None)
    ]
    assert vlines == [(2.0, "--"), (8.0, ":")]


def test_plot_drive_timeline_shades_the_time_before_driving() -> None:
    # The grey band runs from just before the first event (t=0) to the first drive (t=2):
    # the stretch when only descriptions existed.
    (ax,) = plot_drive_timeline(fetch_then_failing_save()).axes
    bars = {id(bar) for container in ax.containers for bar in container}
    bands = [(p.get_x(), p.get_width()) for p in ax.patches if isinstance(p, Rectangle) and id(p) not in bars]
    assert len(bands) == len(ax.patches) - len(bars)
    assert bands == [(-0.5, 2.5)]


def test_plot_drive_timeline_has_no_band_when_never_driven() -> None:
    trace = Trace()
    trace.step("fetch", async_pure(1))
    (ax,) = plot_drive_timeline(trace).axes
    assert list(ax.patches) == []
    assert [label.get_text() for label in ax.get_yticklabels()] == ["fetch"]


def _legend_labels(fig: Figure) -> list[str]:
    (ax,) = fig.axes
    legend = ax.get_legend()
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def test_plot_drive_timeline_legend_lists_an_err_run_only_when_one_failed() -> None:
    assert _legend_labels(plot_drive_timeline(fetch_then_failing_save())) == [
        "described (plan built)",
        "ran (Ok)",
        "ran (Err)",
        "before driving: descriptions only",
        "shell starts driving",
        "shell done",
    ]
    trace = Trace()
    run_sync(trace.step("fetch", async_pure(1)), trace=trace)
    assert _legend_labels(plot_drive_timeline(trace)) == [
        "described (plan built)",
        "ran (Ok)",
        "before driving: descriptions only",
        "shell starts driving",
        "shell done",
    ]


def test_plot_drive_timeline_legend_of_a_plan_never_driven() -> None:
    trace = Trace()
    trace.step("fetch", async_pure(1))
    assert _legend_labels(plot_drive_timeline(trace)) == ["described (plan built)"]
    assert _legend_labels(plot_drive_timeline(Trace())) == []


def test_plot_drive_timeline_of_an_empty_trace() -> None:
    fig = plot_drive_timeline(Trace(), title="nothing", time_label="virtual seconds")
    (ax,) = fig.axes
    assert list(ax.get_yticks()) == []
    assert (ax.get_title(), ax.get_xlabel()) == ("nothing", "virtual seconds")


def test_course_rc_uses_the_petroff10_cycle() -> None:
    rc = course_rc()
    petroff = matplotlib.style.library["petroff10"]["axes.prop_cycle"]
    assert rc["axes.prop_cycle"] == petroff
    colours = [c["color"] for c in rc["axes.prop_cycle"]]
    assert len(colours) == 10 and colours[0].lower() == "#3f90da"
    assert rc["axes.grid"] is True and rc["savefig.dpi"] == 100


def test_figure_png_returns_deterministic_png_bytes() -> None:
    fig = plot_drive_timeline(fetch_then_failing_save())
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == figure_png(plot_drive_timeline(fetch_then_failing_save()))
    assert b"Software" not in png


# --- lesson 03: measured wait against capacity / μ --------------------------------------------------

WAIT_CAPACITIES = (5, 10, 20, 40)
WAIT_MEASURED = (0.91, 1.77, 3.29, 5.72)


def test_wait_vs_capacity_summary_lists_bound_measurement_and_ratio() -> None:
    from funcpipe_async import wait_vs_capacity_summary

    lines = wait_vs_capacity_summary(WAIT_CAPACITIES, WAIT_MEASURED, 5).splitlines()
    assert lines[0].split()[0] == "capacity" and len(lines) == 2 + len(WAIT_CAPACITIES)
    assert lines[3].split() == ["10", "2.00", "1.77", "0.89"]


def test_plot_wait_vs_capacity_draws_the_bound_and_the_measured_points() -> None:
    from funcpipe_async import plot_wait_vs_capacity

    fig = plot_wait_vs_capacity(WAIT_CAPACITIES, WAIT_MEASURED, 5)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    bound, measured = ax.get_lines()
    assert bound.get_linestyle() == "--" and _data(bound.get_ydata()) == [0.0, 8.0]
    assert measured.get_marker() == "o" and _data(measured.get_ydata()) == list(WAIT_MEASURED)
    assert "virtual seconds" in ax.get_ylabel()


def test_wait_vs_capacity_refuses_mismatched_data() -> None:
    import pytest

    from funcpipe_async import plot_wait_vs_capacity, wait_vs_capacity_summary

    with pytest.raises(ValueError, match="one measured wait per capacity"):
        wait_vs_capacity_summary((5, 10), (1.0,), 5)
    with pytest.raises(ValueError, match="service_rate must be a positive"):
        plot_wait_vs_capacity((5,), (1.0,), 0)
