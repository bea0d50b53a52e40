"""``plots.plot_cumulative_requests`` and its text twin: lesson 04's retry storm, where the
count of requests over time shows what jitter and a retry budget each change."""

from __future__ import annotations

from matplotlib.figure import Figure
from scenarios import retry_storm

from funcpipe_async import cumulative_requests_summary, plot_cumulative_requests


def test_summary_counts_requests_and_checkpoints() -> None:
    series = {"a": [0.0, 0.5, 2.0], "bb": [1.0]}
    assert cumulative_requests_summary(series, checkpoints=(0.5, 2)) == (
        " a: 3 requests, the last at t=2; by t=0.5: 2, t=2: 3\nbb: 1 request, the last at t=1; by t=0.5: 0, t=2: 1"
    )
    assert cumulative_requests_summary({"none": []}) == "none: 0 requests"
    assert cumulative_requests_summary({}) == "no requests"


def test_summary_of_the_storm_shows_the_budget_capping_the_load() -> None:
    text = cumulative_requests_summary(retry_storm(), checkpoints=(1,)).splitlines()
    assert text == [
        "      no jitter, no budget: 80 requests, the last at t=7.3; by t=1: 20",
        "               full jitter: 80 requests, the last at t=6.37; by t=1: 37",
        "full jitter + retry budget: 24 requests, the last at t=0.403; by t=1: 24",
    ]


def test_plot_draws_one_step_line_per_series_and_the_levels() -> None:
    storms = retry_storm()
    fig = plot_cumulative_requests(storms, levels={"20 first attempts": 20})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    steps = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    assert len(steps) == 3
    for line, (label, times) in zip(steps, storms.items()):
        assert line.get_label() == f"{label} ({len(times)})"
        assert max(line.get_ydata()) == len(times)  # climbs to the total
    assert len({line.get_linestyle() for line in steps}) == 3  # not colour alone
    assert any(list(line.get_ydata()) == [20, 20] for line in ax.get_lines())  # the level
    assert ax.get_xlabel() == "virtual time (virtual seconds)" and ax.get_ylabel() == "requests so far"


def test_plot_of_no_requests_is_still_a_figure() -> None:
    assert isinstance(plot_cumulative_requests({"quiet": []}), Figure)
