"""Lesson 03's figures and slider demo: one producer, one queue, one consumer, on virtual time.

:func:`simulate_backpressure` is the whole demo's logic: it drives a one-stage
:func:`~funcpipe_async.pipelines.pipeline` on a fresh :class:`~funcpipe_async.Simulation`
for ``horizon`` simulated seconds — Poisson arrivals at ``producer_rate`` items/s, exponential
service at ``consumer_rate`` items/s, both drawn from the simulation's seeded ``rng`` — with
the probe attached, and returns a frozen :class:`BackpressureRun` (the depth over time, the
drops, memory held, Little's law).  It costs a few milliseconds, so a slider can re-run it on
every move.

Figures (each returns a ``Figure`` and has a ``*_summary`` twin returning the plotted data as
text): :func:`plot_strategies` — queue depth over virtual time, one panel per strategy, drops
marked with ✕ markers, the capacity as a dashed line; :func:`plot_unbounded_vs_bounded` —
depth and memory held by an unbounded queue beside a bounded one; :func:`render_backpressure` — the slider's single-run figure.
:func:`littles_law_summary` tabulates λ, W, λ·W and L per run (a bar chart of L beside λ·W
would be true by construction: both come from the same trace).

:func:`backpressure_demo` only wires ipywidgets sliders to :func:`redraw_backpressure_png`.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import matplotlib
from matplotlib.figure import Figure

from funcpipe_async.pipelines import Stage, pipeline
from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.plots import course_rc, demo_png, projector_rc
from funcpipe_async.queue_measures import LittlesLaw, littles_law
from funcpipe_async.queues import DEQUEUE, DROP, ENQUEUE, REJECT, QueuePolicy
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.shell.virtual import Simulation
from funcpipe_async.trace import format_table

__all__ = [
    "Strategy",
    "STRATEGIES",
    "BackpressureRun",
    "simulate_backpressure",
    "plot_strategies",
    "strategies_summary",
    "plot_unbounded_vs_bounded",
    "unbounded_vs_bounded_summary",
    "littles_law_summary",
    "render_backpressure",
    "backpressure_summary",
    "redraw_backpressure_png",
    "backpressure_summary_html",
    "backpressure_demo",
]

Strategy = Literal["suspend", "drop_newest", "drop_oldest", "fail", "unbounded"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
QUEUE = "consume"
DEMO_FIGURE_PX = (720, 400)  # the slider figure, drawn and shown at this many pixels
DEMO_CONTROLS_PX = 300


@dataclass(frozen=True)
class BackpressureRun:
    """One simulated run: settings, the queue's depth over time, drops, and Little's law.

    ``times`` / ``depths`` are a step series (the depth holds until the next point);
    ``drop_times`` are the instants an item was dropped (``drop_newest`` / ``drop_oldest``)
    or rejected (``fail``); ``failed_at`` is when a ``fail`` queue ended the pipeline.
    ``produced`` counts offers, ``served`` items the consumer took, ``held`` items still
    queued at the end.  Conservation: ``produced == served + dropped + held``.
    """

    producer_rate: float
    consumer_rate: float
    capacity: int | None
    strategy: str
    seed: int
    horizon: float
    item_bytes: int
    times: tuple[float, ...]
    depths: tuple[int, ...]
    drop_times: tuple[float, ...]
    produced: int
    served: int
    dropped: int
    held: int
    max_depth: int
    failed_at: float | None
    law: LittlesLaw
    events: int

    @property
    def peak_bytes(self) -> int:
        """Memory the queue held at its deepest: ``max_depth × item_bytes``."""
        return self.max_depth * self.item_bytes

    @property
    def label(self) -> str:
        """``drop_oldest, capacity 10``."""
        return "unbounded" if self.capacity is None else f"{self.strategy}, capacity {self.capacity}"


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"simulate_backpressure: {name} must be a positive number of items per second, got {value!r}")
    return float(value)


def simulate_backpressure(
    producer_rate: float,
    consumer_rate: float,
    capacity: int,
    strategy: str,
    *,
    seed: int = 0,
    horizon: float = 60.0,
    item_bytes: int = 1024,
) -> BackpressureRun:
    """Simulate ``horizon`` virtual seconds of a producer feeding one consumer through a queue.

    ``strategy`` is an overflow (``"suspend"``, ``"drop_newest"``, ``"drop_oldest"``,
    ``"fail"``) for a queue of ``capacity``, or ``"unbounded"`` (``capacity`` is then
    ignored).  The same arguments always give the same run.
    """
    producer = _check_rate("producer_rate", producer_rate)
    consumer = _check_rate("consumer_rate", consumer_rate)
    if strategy not in STRATEGIES:
        raise ValueError(
            f"simulate_backpressure: unknown strategy {strategy!r}; expected one of "
            + ", ".join(repr(s) for s in STRATEGIES)
        )
    if not horizon > 0:
        raise ValueError(
            f"simulate_backpressure: horizon must be a positive number of virtual seconds, got {horizon!r}"
        )
    policy = QueuePolicy.unbounded() if strategy == "unbounded" else QueuePolicy(capacity, strategy)  # type: ignore[arg-type]
    sim = Simulation(seed=seed, limit=horizon * 10)
    rng = sim.rng
    gaps: list[float] = []
    t = rng.expovariate(producer)
    while t < horizon:  # arrivals drawn up front: the arrival process does not depend on the queue
        gaps.append(t)
        t += rng.expovariate(producer)
    services = [rng.expovariate(consumer) for _ in gaps]

    async def arrivals() -> Any:
        loop = asyncio.get_running_loop()
        for i, due in enumerate(gaps):
            wait = due - loop.time()
            if wait > 0:  # under suspend, a blocked producer is late: it offers as soon as it can
                await asyncio.sleep(wait)
            yield i

    def serve(i: int) -> AsyncPlan[int]:
        async def run() -> Result[int, ErrInfo]:
            await asyncio.sleep(services[i])
            return Ok(i)

        return async_lift(run)

    plan = pipeline(arrivals, [Stage(QUEUE, serve, queue=policy)], probe=sim.trace, collect=False)
    failed: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await asyncio.wait_for(plan(), horizon)
        except TimeoutError:
            return
        if isinstance(result, Err):
            failed.append(loop.time())

    sim.run(main())
    end = min(sim.now, horizon) if not failed else failed[0]
    end = max(end, 1e-9)
    times, depths, drop_times = [0.0], [0], []
    produced = served = dropped = 0
    for e in sim.trace.events:
        if e.time > end:
            break
        if e.kind == ENQUEUE:
            produced += 1
        elif e.kind == DEQUEUE:
            served += 1
        elif e.kind in (DROP, REJECT):
            dropped += 1
            drop_times.append(e.time)
            if e.kind == DROP and e.data.get("which") == "newest":
                produced += 1
            elif e.kind == REJECT:
                produced += 1
        if e.kind in (ENQUEUE, DEQUEUE) or (e.kind == DROP and e.data.get("which") == "oldest"):
            depth = e.data["depth"]
            times.append(e.time)
            depths.append(depth if isinstance(depth, int) else 0)
    law = littles_law(sim.trace, QUEUE, end=end) if len(times) > 1 else LittlesLaw(QUEUE, 0.0, end, 0, 0.0, 0.0, 0.0)
    return BackpressureRun(
        producer,
        consumer,
        policy.capacity,
        strategy,
        seed,
        float(horizon),
        item_bytes,
        tuple(times),
        tuple(depths),
        tuple(drop_times),
        produced,
        served,
        dropped,
        depths[-1],
        max(depths),
        failed[0] if failed else None,
        law,
        len(sim.trace),
    )


# --- figures ---------------------------------------------------------------------------------


def _colours() -> list[str]:
    return [str(c["color"]) for c in matplotlib.rcParams["axes.prop_cycle"]]


def _depth_panel(ax: Any, run: BackpressureRun, colour: str, *, title: str | None = None) -> None:
    end = run.failed_at if run.failed_at is not None else run.horizon
    ax.step(
        [*run.times, end], [*run.depths, run.depths[-1]], where="post", color=colour, linewidth=1.6, label="queue depth"
    )
    if run.capacity is not None:
        ax.axhline(run.capacity, color="black", linestyle="--", linewidth=1.2, label=f"capacity {run.capacity}")
    if run.drop_times:
        top = run.capacity if run.capacity is not None else max(run.depths)
        ax.plot(
            run.drop_times,
            [top + 0.6] * len(run.drop_times),
            linestyle="none",
            marker="x",
            color="black",
            markersize=6,
            label=f"dropped ({run.dropped})",
        )
    if run.failed_at is not None:
        ax.axvline(run.failed_at, color="black", linestyle=":", linewidth=2, label=f"failed at {run.failed_at:.2f} s")
    ax.set_xlim(0, run.horizon)
    ax.set_title(title if title is not None else run.label)
    ax.set_ylabel("items in queue")


def plot_strategies(runs: Sequence[BackpressureRun], *, dpi: float = 100) -> Figure:
    """Queue depth over virtual time, one panel per run (strategy), shared axes: the capacity
    as a dashed line, each drop as an ✕ above it, a dotted line where ``fail`` ended the run."""
    if not runs:
        raise ValueError("plot_strategies needs at least one run")
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(10, 1.9 * len(runs) + 0.8), dpi=dpi, layout="constrained")
        axes = fig.subplots(len(runs), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        colours = _colours()
        for i, (ax, run) in enumerate(zip(axes, runs)):
            _depth_panel(ax, run, colours[i % len(colours)])
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
        axes[-1].set_xlabel("virtual seconds")
        first = runs[0]
        fig.suptitle(
            f"Producer {first.producer_rate:g}/s into a consumer of {first.consumer_rate:g}/s: what a full queue does"
        )
    return fig


def _fmt(t: float | None) -> str:
    return "-" if t is None else f"{t:.2f}"


def strategies_summary(runs: Sequence[BackpressureRun]) -> str:
    """The plotted data of :func:`plot_strategies` as a table."""
    rows = [
        [
            r.strategy,
            "∞" if r.capacity is None else r.capacity,
            r.produced,
            r.served,
            r.dropped,
            r.held,
            r.max_depth,
            _fmt(r.failed_at),
        ]
        for r in runs
    ]
    return format_table(
        ["strategy", "capacity", "offered", "served", "dropped", "held at end", "max depth", "failed at s"], rows
    )


def plot_unbounded_vs_bounded(unbounded: BackpressureRun, bounded: BackpressureRun, *, dpi: float = 100) -> Figure:
    """Left: depth over virtual time of an unbounded queue (rising) and a bounded one (flat
    at its capacity).  Right: the memory the items would hold at ``item_bytes`` each — depth ×
    item size, in KiB: computed from the depth, not measured (measure with ``tracemalloc``)."""
    with matplotlib.rc_context(course_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(11, 3.8), dpi=dpi, layout="constrained")
        left, right = fig.subplots(1, 2, sharex=True)
        c = _colours()
        styles = ((unbounded, c[0], "-", "o"), (bounded, c[1], "--", "s"))
        for run, colour, line, marker in styles:
            xs = [*run.times, run.horizon]
            ys = [*run.depths, run.depths[-1]]
            every = max(len(xs) // 12, 1)
            left.step(
                xs, ys, where="post", color=colour, linestyle=line, marker=marker, markevery=every, label=run.label
            )
            right.step(
                xs,
                [d * run.item_bytes / 1024 for d in ys],
                where="post",
                color=colour,
                linestyle=line,
                marker=marker,
                markevery=every,
                label=run.label,
            )
        left.set_ylabel("items in queue")
        right.set_ylabel("depth × item size (KiB, computed)")
        for ax in (left, right):
            ax.set_xlabel("virtual seconds")
            ax.set_xlim(0, unbounded.horizon)
        left.legend(loc="upper left", frameon=False)
        fig.suptitle(
            f"Producer {unbounded.producer_rate:g}/s, consumer {unbounded.consumer_rate:g}/s: "
            "the unbounded queue grows, the bounded one does not"
        )
    return fig


def unbounded_vs_bounded_summary(unbounded: BackpressureRun, bounded: BackpressureRun) -> str:
    """The plotted data of :func:`plot_unbounded_vs_bounded`: depth and memory at checkpoints."""
    checkpoints = [unbounded.horizon * k / 4 for k in range(1, 5)]

    def depth_at(run: BackpressureRun, t: float) -> int:
        depth = 0
        for time, d in zip(run.times, run.depths):
            if time > t:
                break
            depth = d
        return depth

    rows = []
    for run in (unbounded, bounded):
        rows.append(
            [run.label] + [f"{depth_at(run, t)} ({depth_at(run, t) * run.item_bytes // 1024} KiB)" for t in checkpoints]
        )
    return format_table(["queue"] + [f"t={t:g} s" for t in checkpoints], rows)


def littles_law_summary(runs: Sequence[BackpressureRun]) -> str:
    """λ, W, λ·W and L per run, and whether L = λ·W holds."""
    rows = [
        [
            r.label,
            f"{r.law.arrival_rate:.3f}",
            f"{r.law.mean_wait:.3f}",
            f"{r.law.lambda_w:.3f}",
            f"{r.law.mean_in_queue:.3f}",
            "yes" if r.law.holds(1e-9) else "NO",
        ]
        for r in runs
    ]
    return format_table(["queue", "λ items/s", "W s", "λ·W", "L", "L = λ·W"], rows)


def render_backpressure(run: BackpressureRun, *, dpi: float = 100) -> Figure:
    """The slider's figure: one run's depth over virtual time, drops and capacity marked.

    Sized for a projector: :data:`DEMO_FIGURE_PX` pixels at ``dpi`` 100 (the size the demo
    shows it at, so nothing is scaled), every text at least 14 px (:func:`min_text_px`), the
    legend in one row above the axes so the plot keeps the width.  Fixed margins instead of a
    constrained layout: the layout solver would cost more than the drawing, and this figure is
    redrawn on every slider move."""
    width, height = DEMO_FIGURE_PX
    with matplotlib.rc_context(projector_rc()):  # type: ignore[arg-type]
        fig = Figure(figsize=(width / 100, height / 100), dpi=dpi)
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.8)
        ax = fig.add_subplot()
        _depth_panel(
            ax,
            run,
            _colours()[0],
            title=(f"producer {run.producer_rate:g}/s → {run.label} → consumer {run.consumer_rate:g}/s"),
        )
        ax.set_title(ax.get_title(), y=1.13, pad=0)  # above the legend
        ax.set_xlabel("virtual seconds")
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=len(ax.get_legend_handles_labels()[0]),
            frameon=False,
            borderaxespad=0.2,
            handlelength=1.6,
            columnspacing=1.2,
        )
    return fig


def backpressure_summary(run: BackpressureRun) -> str:
    """One run in words (what the slider's figure shows)."""
    ending = (
        f"failed at t={run.failed_at:.2f} s (QUEUE_FULL)" if run.failed_at is not None else f"ran {run.horizon:g} s"
    )
    return (
        f"{run.label}: producer {run.producer_rate:g}/s, consumer {run.consumer_rate:g}/s, {ending}; "
        f"offered {run.produced}, served {run.served}, dropped {run.dropped}, held {run.held}; "
        f"max depth {run.max_depth}, peak memory {run.peak_bytes // 1024} KiB; "
        f"L={run.law.mean_in_queue:.2f}, λW={run.law.lambda_w:.2f}"
    )


def redraw_backpressure_png(
    producer_rate: float,
    consumer_rate: float,
    capacity: int,
    strategy: str,
    *,
    seed: int = 0,
    horizon: float = 60.0,
    dpi: float = 100,
) -> tuple[bytes, str]:
    """What one slider move does: re-simulate, draw, and return ``(png, summary)``."""
    run = simulate_backpressure(producer_rate, consumer_rate, capacity, strategy, seed=seed, horizon=horizon)
    return demo_png(render_backpressure(run, dpi=dpi)), backpressure_summary(run)


def backpressure_summary_html(summary: str) -> str:
    """:func:`backpressure_summary` for the demo: one clause a line, wrapped, nothing cut off
    (Little's law on a line of its own)."""
    parts = summary.split("; ")
    if parts and parts[-1].startswith("L="):
        parts[-1] = "Little's law L = λ·W: " + parts[-1].replace("L=", "L = ").replace("λW=", "λ·W = ")
    return (
        "<div class='funcpipe-demo-summary' style='white-space:normal;line-height:1.35'>"
        + "<br>".join(html.escape(p) for p in parts)
        + "</div>"
    )


def backpressure_demo(
    producer_rate: float = 6.0,
    consumer_rate: float = 5.0,
    capacity: int = 10,
    strategy: str = "suspend",
    *,
    seed: int = 0,
) -> Any:
    """Sliders for producer rate, consumer rate and capacity and a strategy toggle *beside* the
    figure, and the summary under it (ipywidgets); every move re-simulates on virtual time.
    Laid out for a projector: the whole demo fits a 1280×720 screen in JupyterLab's
    Presentation Mode, the figure is shown at the pixel size it is drawn at, and the chosen
    strategy is marked by colour, weight and a ✓."""
    from funcpipe_async.demos._widgets import choice, demo_box, live, slider

    width = DEMO_CONTROLS_PX
    producer = slider(producer_rate, 0.5, 12, "producer /s", step=0.5, width=width)
    consumer = slider(consumer_rate, 0.5, 12, "consumer /s", step=0.5, width=width)
    cap = slider(capacity, 1, 50, "capacity", width=width)
    menu = choice(STRATEGIES, strategy, "strategy", width=width, button_px=180)
    box, image, text = demo_box([producer, consumer, cap, menu], DEMO_FIGURE_PX)

    def update(_: object = None) -> None:
        png, summary = redraw_backpressure_png(producer.value, consumer.value, cap.value, menu.value, seed=seed)
        image.value = png
        text.value = backpressure_summary_html(summary)

    live([producer, consumer, cap, menu], update)
    return box
