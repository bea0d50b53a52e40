"""The producer-vs-consumer figure of lesson 02: its text twin and the figure it draws."""

from __future__ import annotations

from matplotlib.figure import Figure
from scenarios import producer_and_consumer

from funcpipe_async import (
    Trace,
    figure_png,
    plot_stream_events,
    stream_events_summary,
)


def test_summary_lists_each_item_and_the_close() -> None:
    assert stream_events_summary(producer_and_consumer()) == (
        "item 0: pull t=0, emit t=1, consume t=4\n"
        "item 1: pull t=4, emit t=5, consume t=8\n"
        "item 2: pull t=8, emit t=9, consume t=12\n"
        "source closed at t=12 after 3 items\n"
        "most items produced but not yet consumed: 1"
    )


def test_a_pull_based_source_never_runs_ahead_of_its_consumer() -> None:
    summary = stream_events_summary(producer_and_consumer(produce=0.5, consume=5, n=6))
    assert summary.endswith("most items produced but not yet consumed: 1")


def test_summary_of_an_empty_trace() -> None:
    assert stream_events_summary(Trace()) == "no stream events recorded"


def test_figure_has_three_rows_and_a_close_marker() -> None:
    fig = plot_stream_events(producer_and_consumer())
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "consumer asks (pull)",
        "source produces (emit)",
        "consumer done (consume)",
    ]
    assert "virtual seconds" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "source closed" in labels
    markers = {line.get_marker() for line in ax.get_lines()}
    assert {"v", "o", "s", "X"} <= markers  # meaning carried by marker shape, not colour alone
    assert figure_png(fig).startswith(b"\x89PNG")


def test_figure_of_an_empty_trace_still_draws() -> None:
    assert isinstance(plot_stream_events(Trace()), Figure)
