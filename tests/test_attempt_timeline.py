"""The attempt timeline: spans read from a retry trace, their text twin, and the figure."""

from __future__ import annotations

import asyncio

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scenarios import UNAVAILABLE, flaky_and_slow, scripted

from funcpipe_async import (
    AttemptSpan,
    ConstantBackoff,
    Err,
    RetryPolicy,
    Simulation,
    Trace,
    async_retry,
    attempt_spans,
    attempt_timeline_summary,
    figure_png,
    plot_attempt_timeline,
)


def test_attempt_spans_pair_attempts_waits_and_give_ups() -> None:
    spans, give_ups = attempt_spans(flaky_and_slow())
    assert spans == [
        AttemptSpan("flaky", "attempt", 1, 0.0, 1.0, "UNAVAILABLE"),
        AttemptSpan("slow", "attempt", 1, 0.0, 2.0, "TIMEOUT"),
        AttemptSpan("flaky", "wait", 2, 1.0, 2.0, "waited"),
        AttemptSpan("slow", "wait", 2, 2.0, 3.0, "waited"),
        AttemptSpan("flaky", "attempt", 2, 2.0, 3.0, "ok"),
        AttemptSpan("slow", "attempt", 2, 3.0, 5.0, "TIMEOUT"),
        AttemptSpan("slow", "wait", 3, 5.0, 6.0, "waited"),
        AttemptSpan("slow", "attempt", 3, 6.0, 6.5, "cancelled"),
    ]
    assert give_ups == [("slow", 6.5, "deadline")]


def test_summary_reads_like_the_figure() -> None:
    assert attempt_timeline_summary(flaky_and_slow()) == "\n".join(
        [
            "flaky: #1 0–1 UNAVAILABLE; wait 1; #2 2–3 ok",
            "slow: #1 0–2 TIMEOUT; wait 1; #2 3–5 TIMEOUT; wait 1; #3 6–6.500 cancelled; gave up at t=6.500: deadline",
        ]
    )


def test_summary_of_an_empty_trace() -> None:
    assert attempt_timeline_summary(Trace()) == "no retry attempts recorded"


def test_a_wait_cut_short_by_cancellation_ends_when_cancelled() -> None:
    sim = Simulation()
    plan = async_retry(
        scripted([Err(UNAVAILABLE)], [1.0]),
        RetryPolicy(max_attempts=3, backoff=ConstantBackoff(10)),
        trace=sim.trace,
        name="c",
    )

    async def cut() -> None:
        try:
            async with asyncio.timeout(4):
                await plan()
        except TimeoutError:
            pass

    sim.run(cut())
    spans, _ = attempt_spans(sim.trace)
    assert spans[-1] == AttemptSpan("c", "wait", 2, 1.0, 4.0, "cancelled")
    assert attempt_timeline_summary(sim.trace) == "c: #1 0–1 UNAVAILABLE; wait 3 (cancelled)"


def test_figure_has_one_bar_per_attempt_in_its_row() -> None:
    fig = plot_attempt_timeline(flaky_and_slow(), deadline=6.5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["flaky", "slow"]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 5  # 2 attempts for flaky, 3 for slow
    starts = sorted((round(b.get_y() + b.get_height() / 2), b.get_x()) for b in bars)
    assert starts == [(0, 0.0), (0, 2.0), (1, 0.0), (1, 3.0), (1, 6.0)]
    hatches = {b.get_hatch() for b in bars}
    assert hatches == {None, "//", "xx", ".."}  # Ok, Err, timed out, cancelled: not by colour alone
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "attempt: Ok",
        "attempt: Err",
        "attempt: timed out (cancelled)",
        "attempt: cancelled (deadline / caller)",
        "backoff wait",
        "gave up",
        "deadline",
    ]
    assert ax.get_xlabel() == "virtual time (s)"
    assert figure_png(fig).startswith(b"\x89PNG")
