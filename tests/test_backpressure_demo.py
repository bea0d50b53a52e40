"""Lesson 03's simulation, figures and slider logic (``funcpipe_async.demos.backpressure``)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image as PILImage

from funcpipe_async import (
    STRATEGIES,
    backpressure_demo,
    backpressure_summary,
    littles_law_summary,
    plot_strategies,
    plot_unbounded_vs_bounded,
    redraw_backpressure_png,
    render_backpressure,
    simulate_backpressure,
    strategies_summary,
    unbounded_vs_bounded_summary,
)
from funcpipe_async.plots import MIN_TEXT_PX, min_text_px


def test_the_same_settings_give_the_same_run() -> None:
    assert simulate_backpressure(8, 5, 10, "drop_oldest", seed=3) == simulate_backpressure(
        8, 5, 10, "drop_oldest", seed=3
    )
    assert simulate_backpressure(8, 5, 10, "drop_oldest", seed=3) != simulate_backpressure(
        8, 5, 10, "drop_oldest", seed=4
    )


rates = st.sampled_from([0.5, 1.0, 3.0, 6.0, 12.0])


@settings(max_examples=30)
@given(
    producer=rates,
    consumer=rates,
    capacity=st.integers(1, 50),
    strategy=st.sampled_from(STRATEGIES),
    seed=st.integers(0, 5),
)
def test_every_run_conserves_items_respects_capacity_and_littles_law(
    producer: float, consumer: float, capacity: int, strategy: str, seed: int
) -> None:
    run = simulate_backpressure(producer, consumer, capacity, strategy, seed=seed, horizon=20)
    assert run.produced == run.served + run.dropped + run.held
    if strategy != "unbounded":
        assert run.max_depth <= capacity
        assert all(d <= capacity for d in run.depths)
    if strategy in ("suspend", "unbounded"):
        assert run.dropped == 0
    if strategy != "fail":
        assert run.failed_at is None
    assert run.law.holds(1e-9)


def test_a_fast_producer_fills_an_unbounded_queue_but_not_a_bounded_one() -> None:
    unbounded = simulate_backpressure(8, 5, 10, "unbounded")
    bounded = simulate_backpressure(8, 5, 10, "suspend")
    assert unbounded.max_depth > 100 and unbounded.peak_bytes > 100 * 1024
    assert bounded.max_depth == 10 and bounded.peak_bytes == 10 * 1024


def test_fail_stops_at_the_first_overflow() -> None:
    run = simulate_backpressure(8, 5, 10, "fail")
    assert run.failed_at is not None and run.failed_at < 10
    assert run.dropped == 1 and run.drop_times == (run.failed_at,)


def test_drop_strategies_drop_when_the_producer_outruns_the_consumer() -> None:
    for strategy in ("drop_newest", "drop_oldest"):
        run = simulate_backpressure(8, 5, 10, strategy)
        assert run.dropped > 50 and len(run.drop_times) == run.dropped


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((0, 5, 10, "suspend"), "producer_rate must be a positive number"),
        ((5, -1, 10, "suspend"), "consumer_rate must be a positive number"),
        ((5, 5, 0, "suspend"), "capacity must be at least 1"),
        ((5, 5, 10, "block"), "unknown strategy 'block'"),
    ],
)
def test_bad_settings_are_refused(args: tuple[float, float, int, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        simulate_backpressure(*args)


def test_figures_are_figures_and_summaries_are_the_plotted_numbers() -> None:
    runs = [simulate_backpressure(8, 5, 10, s) for s in ("suspend", "drop_newest", "drop_oldest", "fail")]
    fig = plot_strategies(runs)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert [ax.get_xlabel() for ax in fig.axes][-1] == "virtual seconds"
    summary = strategies_summary(runs)
    assert summary.splitlines()[0].split()[:2] == ["strategy", "capacity"]
    for run in runs:
        assert f"{run.strategy}" in summary and f" {run.dropped} " in summary
    unbounded, bounded = simulate_backpressure(8, 5, 10, "unbounded"), runs[0]
    assert len(plot_unbounded_vs_bounded(unbounded, bounded).axes) == 2
    table = unbounded_vs_bounded_summary(unbounded, bounded)
    assert "t=60 s" in table and f"{unbounded.held} ({unbounded.held} KiB)" in table
    assert littles_law_summary(runs).count("yes") == 4
    with pytest.raises(ValueError, match="at least one run"):
        plot_strategies([])


def test_drops_are_marked_with_markers_not_colour_alone() -> None:
    run = simulate_backpressure(8, 5, 10, "drop_newest")
    ax = render_backpressure(run).axes[0]
    markers = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(markers) == 1 and len(markers[0].get_xdata()) == run.dropped


def test_a_slider_move_returns_a_png_and_its_summary() -> None:
    png, summary = redraw_backpressure_png(6, 5, 10, "drop_oldest")
    assert png.startswith(b"\x89PNG")
    assert summary == backpressure_summary(simulate_backpressure(6, 5, 10, "drop_oldest"))
    assert summary.startswith("drop_oldest, capacity 10: producer 6/s, consumer 5/s")


def test_the_widget_redraws_when_a_slider_moves() -> None:
    demo = backpressure_demo(seed=1)
    controls, right, _css = demo.children
    image, summary = right.children
    before = summary.value
    capacity = controls.children[2]
    capacity.value = 3
    assert summary.value != before and "capacity 3" in summary.value
    assert bytes(image.value).startswith(b"\x89PNG")


def test_the_demo_puts_its_controls_beside_a_figure_shown_at_its_drawn_size() -> None:
    """Projector layout: an HBox (controls | figure), the image's CSS size is the PNG's pixel
    size (no soft scaling), the chosen strategy carries a ✓ icon and the summary wraps."""
    demo = backpressure_demo(strategy="drop_oldest")
    assert type(demo).__name__ == "HBox" and "funcpipe-demo" in demo._dom_classes
    controls, right, _css = demo.children
    image, summary = right.children
    assert [type(w).__name__ for w in controls.children] == ["FloatSlider", "FloatSlider", "IntSlider", "ToggleButtons"]
    width, height = PILImage.open(io.BytesIO(bytes(image.value))).size
    assert (image.layout.width, image.layout.height) == (f"{width}px", f"{height}px") == ("720px", "400px")
    menu = controls.children[3]
    assert menu.icons[list(menu.options).index("drop_oldest")] == "check" and menu.icons.count("check") == 1
    menu.value = "fail"
    assert menu.icons[list(menu.options).index("fail")] == "check" and menu.icons.count("check") == 1
    assert "<br>Little&#x27;s law L = λ·W: L = " in summary.value and "white-space:normal" in summary.value


@pytest.mark.parametrize("strategy", ["suspend", "drop_newest", "drop_oldest", "fail", "unbounded"])
def test_the_slider_figures_text_is_at_least_14_px(strategy: str) -> None:
    png, _ = redraw_backpressure_png(12, 5, 10, strategy)
    info = PILImage.open(io.BytesIO(png)).info
    assert float(info["funcpipe:min-text-px"]) >= MIN_TEXT_PX
    fig = render_backpressure(simulate_backpressure(12, 5, 10, strategy))
    fig.draw_without_rendering()  # tick labels get their text when drawn
    assert min_text_px(fig) >= MIN_TEXT_PX


def test_min_text_px_measures_the_smallest_text_at_the_figures_dpi() -> None:
    fig = Figure(figsize=(2, 2), dpi=144)
    ax = fig.add_subplot()
    ax.set_title("t", fontsize=20)
    ax.tick_params(labelsize=7)
    assert min_text_px(fig) == pytest.approx(20 * 144 / 72)  # tick labels are empty until drawn
    fig.draw_without_rendering()
    assert min_text_px(fig) == pytest.approx(7 * 144 / 72)
