"""Figures that stay right: every plotting helper's figure, pixel-compared with a stored PNG.

Each test builds a fully deterministic input (logical or virtual time, fixed seeds; the traces
come from ``scenarios.py``, shared with the helpers' unit tests) and returns the figure;
pytest-mpl compares it with ``baseline_figures/<test name>.png`` (RMS tolerance 1, text kept).  ``style="default"`` starts from matplotlib's defaults, which is
what a notebook renders with; the helpers add the course's rc on top.  pytest-mpl's own
default, ``"classic"``, would draw figures no student ever sees.

    pytest tests/test_figure_baselines.py --mpl                                       # compare
    pytest tests/test_figure_baselines.py --mpl-generate-path=tests/baseline_figures  # re-baseline

Without ``--mpl`` the tests only check that each helper returns a figure.
"""

from __future__ import annotations

from functools import cache

import pytest
from matplotlib.figure import Figure
from scenarios import fetch_then_failing_save, flaky_and_slow, producer_and_consumer, retry_storm

from funcpipe_async import (
    FairnessControls,
    FairnessRun,
    Tenant,
    plot_attempt_timeline,
    plot_cumulative_requests,
    plot_drive_timeline,
    plot_fairness,
    plot_strategies,
    plot_stream_events,
    plot_unbounded_vs_bounded,
    plot_wait_vs_capacity,
    render_backpressure,
    render_fairness,
    simulate_backpressure,
    simulate_fairness,
)
from funcpipe_async.demos.backpressure import BackpressureRun

# Tolerance 1 (pytest-mpl's default is 2): with matplotlib pinned (its wheels bundle FreeType) an
# unchanged figure compares at RMS 0.0, and 2 lets a thin line change colour unnoticed (RMS ~1.4).
baseline = pytest.mark.mpl_image_compare(baseline_dir="baseline_figures", style="default", tolerance=1)


# --- deterministic inputs ------------------------------------------------------------------------


@cache
def strategy_runs() -> tuple[BackpressureRun, ...]:
    """Lesson 03: producer 8/s into a consumer of 5/s, capacity 10, each overflow strategy (seed 0)."""
    return tuple(simulate_backpressure(8, 5, 10, s) for s in ("suspend", "drop_newest", "drop_oldest", "fail"))


@cache
def unbounded_run() -> BackpressureRun:
    """Lesson 03: the same producer and consumer with no bound on the queue."""
    return simulate_backpressure(8, 5, 10, "unbounded")


@cache
def noisy_neighbour() -> FairnessRun:
    """Lesson 06: a heavy tenant (14 req/s) and a light one (1.5 req/s) under three schedulers, seed 6."""
    tenants = [Tenant("heavy", rate=14), Tenant("light", rate=1.5)]
    return simulate_fairness(tenants, ("FIFO", "round robin", "deficit round robin"), capacity=10, horizon=60, seed=6)


# --- funcpipe_async.plots ------------------------------------------------------------------------


@baseline
def test_drive_timeline() -> Figure:
    """plot_drive_timeline: describe diamonds, an Ok and a hatched Err bar, the pre-drive band, drive/done lines."""
    return plot_drive_timeline(fetch_then_failing_save())


@baseline
def test_attempt_timeline() -> Figure:
    """plot_attempt_timeline: Ok / Err / timed-out / cancelled attempts, backoff arrows, a give-up ✕, the deadline."""
    return plot_attempt_timeline(flaky_and_slow(), deadline=6.5)


@baseline
def test_stream_events() -> Figure:
    """plot_stream_events: pull / emit / consume rows with item numbers, each item's life, the source's close."""
    return plot_stream_events(producer_and_consumer(n=5))


@baseline
def test_wait_vs_capacity() -> Figure:
    """plot_wait_vs_capacity: lesson 03's measured mean wait of a suspend queue against the C/μ line."""
    capacities = (2, 5, 10, 20, 40)
    waits = [simulate_backpressure(8, 5, c, "suspend").law.mean_wait for c in capacities]
    return plot_wait_vs_capacity(capacities, waits, 5)


# --- funcpipe_async.demos.backpressure ------------------------------------------------------------


@baseline
def test_backpressure_strategies() -> Figure:
    """plot_strategies: one depth panel per overflow strategy, capacity line, drop ✕s, fail's end line."""
    return plot_strategies(strategy_runs())


@baseline
def test_backpressure_unbounded_vs_bounded() -> Figure:
    """plot_unbounded_vs_bounded: depth and memory of a growing unbounded queue beside a flat bounded one."""
    return plot_unbounded_vs_bounded(unbounded_run(), strategy_runs()[0])


@baseline
def test_backpressure_slider_figure() -> Figure:
    """render_backpressure: the slider's fixed-margin figure for drop_oldest at 6/s into 5/s, capacity 10."""
    return render_backpressure(simulate_backpressure(6, 5, 10, "drop_oldest"))


# --- funcpipe_async.demos.fairness -----------------------------------------------------------------


@baseline
def test_fairness() -> Figure:
    """plot_fairness: throughput and p95 latency per tenant, a column per scheduler, titled, at scale 1."""
    return plot_fairness(noisy_neighbour(), title="A noisy neighbour: heavy floods, light trickles")


@baseline
def test_fairness_presentation_scale() -> Figure:
    """plot_fairness at scale 1.5: the projector size, whose larger type must still fit its margins."""
    return plot_fairness(noisy_neighbour(), title="A noisy neighbour: heavy floods, light trickles", scale=1.5, dpi=60)


@baseline
def test_fairness_slider_figure() -> Figure:
    """render_fairness: four tenants (a two-row legend), FIFO beside deficit round robin, at dpi 90."""
    controls = FairnessControls(tenants=4, scheduler="deficit round robin", rates=(14, 1.5, 1.5, 1.5, 1.5))
    fig, _table = render_fairness(controls, dpi=90)
    return fig


@baseline
def test_cumulative_requests() -> Figure:
    """plot_cumulative_requests: lesson 04's retry storm, three step lines (no jitter, jitter, jitter + budget), a level."""
    return plot_cumulative_requests(retry_storm(), levels={"20 first attempts": 20})
