"""Lesson 06's fairness demo: the simulation behind it, its figure and summary, the widget's logic."""

from __future__ import annotations

import io
import math

import pytest
from matplotlib.figure import Figure
from PIL import Image as PILImage

from funcpipe_async import (
    FairnessControls,
    FairnessView,
    Tenant,
    fairness_demo,
    fairness_summary,
    fairness_table,
    normalised_throughput,
    plot_fairness,
    redraw_fairness_png,
    render_fairness,
    simulate_fairness,
    tenant_stats,
)
from funcpipe_async.demos.fairness import SELECTED_COLOUR
from funcpipe_async.plots import MIN_TEXT_PX, min_text_px

NOISY = [Tenant("heavy", 14.0), Tenant("light", 1.5)]


def test_simulate_fairness_is_deterministic_and_every_scheduler_sees_the_same_requests() -> None:
    first = simulate_fairness(NOISY, ("FIFO", "round robin", "deficit round robin"), seed=6)
    again = simulate_fairness(NOISY, ("FIFO", "round robin", "deficit round robin"), seed=6)
    assert first == again and fairness_table(first) == fairness_table(again)
    assert first.requests != simulate_fairness(NOISY, seed=7).requests
    for done in first.completions.values():
        assert sorted((c.tenant, c.arrival) for c in done) == sorted((r.tenant, r.arrival) for r in first.requests)


def test_under_fifo_the_light_tenants_latency_explodes_and_under_drr_it_does_not() -> None:
    run = simulate_fairness(NOISY, ("FIFO", "deficit round robin"), seed=6)
    fifo = {s.tenant: s for s in tenant_stats(run.completions["FIFO"], run.horizon, ["heavy", "light"])}
    drr = {s.tenant: s for s in tenant_stats(run.completions["deficit round robin"], run.horizon, ["heavy", "light"])}
    assert fifo["light"].p95 > 10 and drr["light"].p95 < 1.0
    assert normalised_throughput(run, "deficit round robin")["light"] == pytest.approx(1.0, abs=0.02)
    assert normalised_throughput(run, "FIFO")["light"] < 0.8


def test_fairness_summary_and_table_name_every_scheduler_and_tenant() -> None:
    run = simulate_fairness(NOISY, ("FIFO", "round robin"), seed=1)
    summary, table = fairness_summary(run), fairness_table(run)
    for word in ("FIFO", "round robin", "heavy", "light", "Jain"):
        assert word in summary and word in table
    assert summary.splitlines()[0].startswith("2 tenants, server capacity 10 work/s")


def test_plot_fairness_is_a_figure_with_a_column_per_scheduler() -> None:
    run = simulate_fairness(NOISY, ("FIFO", "round robin", "deficit round robin"), seed=2)
    fig = plot_fairness(run, title="noisy neighbour")
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    top_left = fig.axes[0]
    assert top_left.get_ylabel() == "throughput (work/s)" and "FIFO" in top_left.get_title()
    assert fig.axes[3].get_xlabel() == "virtual time (s)"
    markers = {line.get_marker() for line in top_left.get_lines() if line.get_marker() not in (None, "None")}
    assert len(markers) == 2  # meaning never rests on colour alone


def test_render_compares_the_chosen_scheduler_with_fifo() -> None:
    fig, table = render_fairness(FairnessControls(tenants=3, scheduler="round robin"))
    assert len(fig.axes) == 4 and "round robin" in fig.axes[1].get_title()
    assert "tenant C" in table and "tenant D" not in table
    fifo_only, _ = render_fairness(FairnessControls(scheduler="FIFO"))
    assert len(fifo_only.axes) == 2


def test_weights_change_the_drr_shares_in_the_demo() -> None:
    equal = FairnessControls(tenants=2, rates=(20.0, 20.0), weights=(1.0, 1.0))
    tilted = FairnessControls(tenants=2, rates=(20.0, 20.0), weights=(3.0, 1.0))
    runs = [simulate_fairness(c.workload(), ("deficit round robin",), seed=c.seed) for c in (equal, tilted)]
    (a0, b0), (a1, b1) = [
        [s.throughput for s in tenant_stats(r.completions["deficit round robin"], r.horizon, ["tenant A", "tenant B"])]
        for r in runs
    ]
    assert math.isclose(a0, b0, rel_tol=0.05) and math.isclose(a1, 3 * b1, rel_tol=0.05)


def test_redraw_gives_png_bytes_and_the_table() -> None:
    png, table = redraw_fairness_png(FairnessControls())
    assert png.startswith(b"\x89PNG") and "deficit round robin" in table


def test_the_widget_redraws_when_a_control_changes() -> None:
    demo = fairness_demo()
    controls, right, _css = demo.children
    image, table = right.children
    count = controls.children[0]
    before = (image.value, table.value)
    count.value = 4
    assert (image.value, table.value) != before and "tenant D" in table.value
    assert controls.children[2 + 4].layout.display == "none"  # tenant E's sliders hidden


def test_the_demo_puts_its_controls_beside_a_figure_shown_at_its_drawn_size() -> None:
    """Projector layout: an HBox (controls | figure), the image's CSS size is the PNG's pixel
    size, text at least 14 px, and the chosen scheduler marked on its button and in the figure."""
    demo = fairness_demo()
    assert type(demo).__name__ == "HBox" and "funcpipe-demo" in demo._dom_classes
    controls, right, _css = demo.children
    image = right.children[0]
    png = PILImage.open(io.BytesIO(bytes(image.value)))
    assert (image.layout.width, image.layout.height) == (f"{png.size[0]}px", f"{png.size[1]}px") == ("700px", "470px")
    assert float(png.info["funcpipe:min-text-px"]) >= MIN_TEXT_PX
    scheduler = controls.children[1]
    for name in ("FIFO", "round robin", "deficit round robin"):
        scheduler.value = name
        assert scheduler.icons[list(scheduler.options).index(name)] == "check" and scheduler.icons.count("check") == 1


def test_the_projector_figure_marks_the_selected_scheduler() -> None:
    view = FairnessView(dpi=100, projector=True)
    view.png(simulate_fairness([Tenant("a", 14), Tenant("b", 1.5)], ("FIFO", "round robin"), capacity=10, horizon=60))
    ((fig, axes, _canvas, _background),) = view._frames.values()
    left, right = axes[0][0].title, axes[0][1].title
    assert right.get_text().startswith("✓ round robin\nselected") and right.get_color() == SELECTED_COLOUR
    assert left.get_text().startswith("FIFO\nbaseline") and left.get_color() != SELECTED_COLOUR
    assert min_text_px(fig) >= MIN_TEXT_PX


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FairnessControls(tenants=0), "tenants must be 1..5"),
        (lambda: FairnessControls(tenants=3, rates=(1.0, 1.0)), "need a rate and a weight"),
        (lambda: render_fairness(FairnessControls(scheduler="lottery")), "unknown scheduler 'lottery'"),
        (lambda: simulate_fairness([], ("FIFO",)), "at least one tenant"),
    ],
)
def test_clear_errors(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_the_blitting_view_reuses_one_frame_per_column_count_and_leaves_no_artists_behind() -> None:
    view = FairnessView()
    view.warm(FairnessControls())
    frames = dict(view._frames)
    assert sorted(k[0] for k in frames) == [1, 2]
    for controls in (
        FairnessControls(tenants=5),
        FairnessControls(tenants=1, scheduler="round robin"),
        FairnessControls(scheduler="FIFO"),
    ):
        png, table = redraw_fairness_png(controls, view)
        assert png.startswith(b"\x89PNG") and "tenant A" in table
    assert view._frames.keys() == frames.keys()
    for fig, axes, _canvas, _background in view._frames.values():
        assert all(len(ax.get_lines()) == (1 if row == 0 else 0) for row, axrow in enumerate(axes) for ax in axrow)
        assert not fig.legends
