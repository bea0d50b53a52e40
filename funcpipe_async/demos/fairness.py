"""Lesson 06's fairness demo: tenants share a server, a scheduler decides who goes next.

The logic is plain functions the tests call directly:

* :func:`simulate_fairness` — generate a seeded workload (Poisson arrivals per tenant) and
  serve it under each scheduler on simulated time (:func:`~funcpipe_async.simulate_schedule`);
* :func:`fairness_table` / :func:`fairness_summary` — per scheduler and tenant: requests
  served, throughput, p50/p95/p99 latency, and Jain's index of the normalised throughputs;
* :func:`plot_fairness` — per-tenant throughput and p95 latency over virtual time, one column
  per scheduler, side by side;
* :func:`render_fairness` — controls in, ``(figure, summary)`` out: what one slider move does.

* :func:`redraw_fairness_png` — the same, as the widget does it: PNG bytes drawn by a
  :class:`FairnessView`, which blits the lines, titles and legend over a cached frame.

:func:`fairness_demo` only wires ipywidgets to :func:`redraw_fairness_png`: every change
re-simulates and redraws in well under 250 ms (``benchmarks/bench_fairness_slider.py``).
Figures use the course's colour-blind palette with a marker and a line style per tenant, in
type sized for a projector (:func:`presentation_rc`).
"""

from __future__ import annotations

import html
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from funcpipe_async.fairness import (
    DeficitRoundRobin,
    Fifo,
    Request,
    RoundRobin,
    Scheduler,
    Tenant,
    poisson_arrivals,
    simulate_schedule,
)
from funcpipe_async.fairness_measures import Completion, jain_index, max_min_shares, percentile, tenant_stats
from funcpipe_async.plots import course_rc, min_text_px, projector_rc
from funcpipe_async.trace import format_table

__all__ = [
    "FairnessRun",
    "FairnessControls",
    "make_scheduler",
    "simulate_fairness",
    "fairness_table",
    "fairness_summary",
    "normalised_throughput",
    "plot_fairness",
    "render_fairness",
    "redraw_fairness_png",
    "FairnessView",
    "fairness_demo",
    "presentation_rc",
    "TENANT_NAMES",
]

DEMO_FIGURE_PX = (700, 470)  # the demo's figure, drawn and shown at this many pixels
DEMO_CONTROLS_PX = 320
SELECTED_COLOUR = "#0072B2"  # Okabe–Ito blue: the chosen scheduler
TENANT_NAMES = ("tenant A", "tenant B", "tenant C", "tenant D", "tenant E")
_MARKERS = ("o", "s", "^", "D", "v")
_STYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)))


def make_scheduler(name: str, tenants: Sequence[Tenant] = (), quantum: float | None = None) -> Scheduler:
    """The scheduler called ``name`` (``"FIFO"``, ``"round robin"``, ``"deficit round robin"``);
    DRR gets the tenants' weights and a quantum of the largest request size (default)."""
    if name == "FIFO":
        return Fifo()
    if name == "round robin":
        return RoundRobin()
    if name == "deficit round robin":
        q = quantum if quantum is not None else max((t.size for t in tenants), default=1.0)
        return DeficitRoundRobin(quantum=q, weights={t.name: t.weight for t in tenants})
    raise ValueError(f"unknown scheduler {name!r}: choose 'FIFO', 'round robin' or 'deficit round robin'")


@dataclass(frozen=True)
class FairnessRun:
    """One workload served under several schedulers: the inputs, and each scheduler's completions."""

    tenants: tuple[Tenant, ...]
    capacity: float
    horizon: float
    window: float
    seed: int
    requests: tuple[Request, ...]
    completions: dict[str, list[Completion]] = field(default_factory=dict)

    @property
    def schedulers(self) -> list[str]:
        """The schedulers compared, in the order they were given."""
        return list(self.completions)

    def demand(self) -> dict[str, float]:
        """Work units per second each tenant actually sent (from the drawn arrivals)."""
        sent = {t.name: 0.0 for t in self.tenants}
        for r in self.requests:
            sent[r.tenant] += r.size
        return {name: w / self.horizon for name, w in sent.items()}


def simulate_fairness(
    tenants: Sequence[Tenant],
    schedulers: Sequence[str] = ("FIFO", "deficit round robin"),
    *,
    capacity: float = 10.0,
    horizon: float = 60.0,
    window: float = 3.0,
    seed: int = 0,
) -> FairnessRun:
    """Draw one seeded workload for ``tenants`` over ``horizon`` simulated seconds and serve it
    on a server of ``capacity`` work units per second under each of ``schedulers``.

    Every scheduler sees exactly the same requests, so the differences are the scheduler's.
    Deterministic: the same arguments give the same completions.
    """
    if not tenants:
        raise ValueError("simulate_fairness needs at least one tenant")
    if not schedulers:
        raise ValueError("simulate_fairness needs at least one scheduler")
    if not window > 0 or window > horizon:
        raise ValueError(f"window must be in (0, horizon], got {window!r}")
    requests = tuple(poisson_arrivals(tenants, horizon, random.Random(seed)))
    completions = {
        name: simulate_schedule(requests, make_scheduler(name, tenants), capacity=capacity) for name in schedulers
    }
    return FairnessRun(tuple(tenants), float(capacity), float(horizon), float(window), seed, requests, completions)


def normalised_throughput(run: FairnessRun, scheduler: str) -> dict[str, float]:
    """Per tenant: work served by the horizon ÷ its weighted max-min fair share of the server
    (capped by what it sent).  1.0 means "got its fair share"; Jain's index is taken over these."""
    fair = max_min_shares(run.demand(), run.capacity, {t.name: t.weight for t in run.tenants})
    got = {
        s.tenant: s.throughput
        for s in tenant_stats(run.completions[scheduler], run.horizon, [t.name for t in run.tenants])
    }
    return {name: (got[name] / fair[name] if fair[name] > 0 else 1.0) for name in got}


def _jain(run: FairnessRun, scheduler: str) -> float:
    return jain_index(list(normalised_throughput(run, scheduler).values()))


def _t(x: float) -> str:
    return "starved" if math.isinf(x) else f"{x:.2f}"


def fairness_table(run: FairnessRun) -> str:
    """Per scheduler and tenant: sent and served work per second, p50/p95/p99 latency (s), and
    each scheduler's Jain index — the numbers behind :func:`plot_fairness`."""
    demand = run.demand()
    rows: list[list[object]] = []
    for name in run.schedulers:
        stats = tenant_stats(run.completions[name], run.horizon, [t.name for t in run.tenants])
        for k, s in enumerate(stats):
            rows.append(
                [
                    name if k == 0 else "",
                    s.tenant,
                    f"{demand[s.tenant]:.2f}",
                    f"{s.throughput:.2f}",
                    _t(s.p50),
                    _t(s.p95),
                    _t(s.p99),
                    f"{_jain(run, name):.3f}" if k == 0 else "",
                ]
            )
    return format_table(
        ["scheduler", "tenant", "sent (work/s)", "served (work/s)", "p50 (s)", "p95 (s)", "p99 (s)", "Jain"], rows
    )


def _series(
    run: FairnessRun, completions: list[Completion], tenant: str
) -> tuple[list[float], list[float], list[float]]:
    """Window midpoints, work served per second in each window (by finish time), and the p95
    latency of the requests finishing in it (NaN where none finished)."""
    n = max(int(math.ceil(run.horizon / run.window)), 1)
    work = [0.0] * n
    lat: list[list[float]] = [[] for _ in range(n)]
    for c in completions:
        if c.tenant != tenant or c.finish > run.horizon:
            continue
        k = min(int(c.finish / run.window), n - 1)
        work[k] += c.size
        lat[k].append(c.latency)
    mids = [(k + 0.5) * run.window for k in range(n)]
    return mids, [w / run.window for w in work], [percentile(v, 95) if v else math.nan for v in lat]


def fairness_summary(run: FairnessRun) -> str:
    """:func:`plot_fairness` in words: per scheduler, each tenant's throughput and p95 latency
    in the first and last quarter of the run, and Jain's index."""
    lines = [
        f"{len(run.tenants)} tenants, server capacity {run.capacity:g} work/s, {run.horizon:g} s "
        f"of virtual time, {len(run.requests)} requests (seed {run.seed})"
    ]
    q = max(int(len(_series(run, [], run.tenants[0].name)[0]) / 4), 1)
    for name in run.schedulers:
        parts = []
        for t in run.tenants:
            _, thr, p95 = _series(run, run.completions[name], t.name)
            early = [x for x in p95[:q] if not math.isnan(x)]
            late = [x for x in p95[-q:] if not math.isnan(x)]
            parts.append(
                f"{t.name} {sum(thr[-q:]) / q:.1f} work/s, p95 {_t(max(early)) if early else '-'} → "
                f"{_t(max(late)) if late else 'starved'} s"
            )
        lines.append(f"{name} (Jain {_jain(run, name):.3f}): " + "; ".join(parts))
    return "\n".join(lines)


def presentation_rc(scale: float = 1.0) -> dict[str, Any]:
    """:func:`~funcpipe_async.course_rc` with fonts and lines sized for a classroom projector."""
    rc = course_rc()
    rc.update(
        {
            "font.size": 13 * scale,
            "axes.titlesize": 15 * scale,
            "axes.labelsize": 13 * scale,
            "legend.fontsize": 13 * scale,
            "xtick.labelsize": 12 * scale,
            "ytick.labelsize": 12 * scale,
            "lines.linewidth": 2.6,
            "lines.markersize": 7.5 * scale,
            "axes.titleweight": "bold",
        }
    )
    return rc


def _frame(
    cols: int,
    legend_rows: int,
    run: FairnessRun,
    *,
    latency_top: float,
    title: str | None,
    dpi: float,
    scale: float,
    projector: bool = False,
) -> tuple[Figure, list[list[Any]]]:
    """The figure without data: axes, limits, ticks, labels and the capacity line.  With
    ``projector``, the demo's layout: :data:`DEMO_FIGURE_PX` at dpi 100, tighter margins."""
    # Margins in inches: (left, right, bottom, top), then the gaps between panels.
    if projector:
        width, height = DEMO_FIGURE_PX[0] / 100, DEMO_FIGURE_PX[1] / 100
        margins, wspace, hspace = (0.95, 0.12, 0.6, 0.98 + 0.27 * (legend_rows - 1)), 0.07, 0.12
    else:
        width, height = (5.4 * cols + 1.2) * scale, 7.6 * scale  # type and canvas grow together
        heading = (1.3 + (0.45 if title else 0.0) + 0.32 * (legend_rows - 1)) * scale
        margins, wspace, hspace = (1.15, 0.25, 0.75, heading), 0.08, 0.32
    fig = Figure(figsize=(width, height), dpi=dpi)  # a fixed layout: constrained layout costs ~0.3 s a redraw
    axes = [list(row) for row in fig.subplots(2, cols, sharex=True, sharey="row", squeeze=False)]
    fig.subplots_adjust(
        left=margins[0] / width,
        right=1 - margins[1] / width,
        bottom=margins[2] / height,
        top=1 - margins[3] / height,
        wspace=wspace,
        hspace=hspace,
    )
    ticks = [run.horizon * k / 6 for k in range(7)]
    for j in range(cols):
        top, bottom = axes[0][j], axes[1][j]
        top.axhline(run.capacity, color="0.35", linestyle=(0, (4, 3)), linewidth=1.5)
        top.grid(axis="x", visible=False)
        bottom.grid(axis="x", visible=False)
        bottom.set_xlabel("virtual time (s)")
        bottom.set_xticks(ticks, [f"{x:g}" for x in ticks])
        bottom.set_xlim(0, run.horizon)
    axes[0][0].set_ylim(0, run.capacity * 1.12)
    axes[1][0].set_ylim(0, latency_top)
    for ax in (axes[0][0], axes[1][0]):
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    axes[0][0].set_ylabel("throughput\n(work/s)" if projector else "throughput (work/s)")
    axes[1][0].set_ylabel("p95 latency\n(s)" if projector else "p95 latency (s)")
    if title:
        fig.suptitle(title, y=1 - 0.08 / height, va="top", fontweight="bold")
    return fig, axes


def _data(
    fig: Figure,
    axes: list[list[Any]],
    run: FairnessRun,
    *,
    title: bool,
    scale: float,
    selected: str | None = None,
    projector: bool = False,
) -> list[Any]:
    """Draw ``run`` into a frame: per tenant a line per panel, the titles, the legend.  The
    ``selected`` scheduler's column title is marked: a ✓, "selected", bold, in Okabe–Ito
    blue.  Returns the artists added or changed (what a blitting redraw must draw)."""
    colours = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    artists: list[Any] = []
    for j, name in enumerate(run.schedulers):
        top, bottom = axes[0][j], axes[1][j]
        for i, t in enumerate(run.tenants):
            mids, thr, p95 = _series(run, run.completions[name], t.name)
            style = {
                "color": colours[i % len(colours)],
                "marker": _MARKERS[i % 5],
                "linestyle": _STYLES[i % 5],
                "markevery": 2,
            }
            artists += top.plot(mids, thr, **style)
            artists += bottom.plot(mids, p95, **style)
        if name == selected:
            top.set_title(
                f"✓ {name}\nselected · Jain's index {_jain(run, name):.2f}", color=SELECTED_COLOUR, fontweight="bold"
            )
        elif selected:
            top.set_title(f"{name}\nbaseline · Jain's index {_jain(run, name):.2f}", color="black", fontweight="normal")
        else:
            top.set_title(f"{name}\nJain's index {_jain(run, name):.2f}")
        artists.append(top.title)
    handles = [
        Line2D(
            [],
            [],
            color=colours[i % len(colours)],
            marker=_MARKERS[i % 5],
            linestyle=_STYLES[i % 5],
            label=f"{t.name}: {t.rate:g} req/s" + (f", weight {t.weight:g}" if t.weight != 1 else ""),
        )
        for i, t in enumerate(run.tenants)
    ]
    handles.append(Line2D([], [], color="0.35", linestyle=(0, (4, 3)), label=f"capacity {run.capacity:g} work/s"))
    height = fig.get_figheight()
    artists.append(
        fig.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - ((0.45 if title else 0.05) * scale) / height),
            ncols=min(len(handles), 3),
            frameon=False,
            **({"columnspacing": 1.0, "handlelength": 1.8, "borderaxespad": 0.1} if projector else {}),
        )
    )
    return artists


def plot_fairness(run: FairnessRun, *, title: str | None = None, dpi: float = 100, scale: float = 1.0) -> Figure:
    """Per-tenant throughput (top) and p95 latency (bottom) over virtual time, one column per
    scheduler, shared axes so the columns compare at a glance.  Each tenant has its own colour,
    marker *and* line style; the dashed line on top is the server's capacity.  ``scale`` enlarges
    the canvas and the type together (1.4–1.5 for a projector), so the layout never crowds."""
    peak = max((c.latency for cs in run.completions.values() for c in cs if c.finish <= run.horizon), default=1.0)
    with matplotlib.rc_context(presentation_rc(scale)):  # type: ignore[arg-type]
        fig, axes = _frame(
            len(run.schedulers),
            (len(run.tenants) + 3) // 3,
            run,
            latency_top=peak * 1.08,
            title=title,
            dpi=dpi,
            scale=scale,
        )
        _data(fig, axes, run, title=bool(title), scale=scale)
    return fig


class FairnessView:
    """The widget's fast redraw: one frame per layout (which schedulers, how many tenants),
    drawn once and kept as a bitmap; each change draws only the lines, titles and legend over
    it (blitting) and encodes the PNG.  The latency axis is fixed at ``[0, horizon]`` so the
    axes stand still while the sliders move, and the legend always has room for two rows (up
    to five tenants), so one frame per column count serves every slider position.  State is
    per demo (one view per widget); :meth:`warm` draws both frames up front."""

    def __init__(self, *, dpi: float = 72, projector: bool = False) -> None:
        self.dpi = dpi
        self.projector = projector  # the demo's layout: DEMO_FIGURE_PX at dpi 100, projector_rc type
        self._frames: dict[tuple[int, float, float], tuple[Figure, list[list[Any]], Any, Any]] = {}

    def warm(self, controls: FairnessControls) -> None:
        """Draw the one- and two-column frames for ``controls``' capacity and horizon now, so
        the first slider move that needs each is as fast as the rest."""
        for scheduler in ("FIFO", "deficit round robin"):
            self.png(_simulate(FairnessControls(1, scheduler, capacity=controls.capacity, horizon=controls.horizon)))

    def png(self, run: FairnessRun) -> bytes:
        """``run`` drawn like :func:`plot_fairness` (latency axis fixed), as PNG bytes."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        key = (len(run.schedulers), run.horizon, run.capacity)
        rc = projector_rc() if self.projector else presentation_rc()
        with matplotlib.rc_context(rc):  # type: ignore[arg-type]
            if key not in self._frames:
                fig, axes = _frame(
                    len(run.schedulers),
                    2,
                    run,
                    latency_top=run.horizon,
                    title=None,
                    dpi=self.dpi,
                    scale=1.0,
                    projector=self.projector,
                )
                canvas = FigureCanvasAgg(fig)
                canvas.draw()  # type: ignore[no-untyped-call]
                self._frames[key] = (fig, axes, canvas, canvas.copy_from_bbox(fig.bbox))  # type: ignore[no-untyped-call]
            fig, axes, canvas, background = self._frames[key]
            canvas.restore_region(background)
            selected = run.schedulers[-1] if self.projector else None
            artists = _data(fig, axes, run, title=False, scale=1.0, selected=selected, projector=self.projector)
            text_px = min_text_px(fig) if self.projector else None
            for artist in artists:
                fig.draw_artist(artist)
            for artist in artists:
                if artist is not getattr(artist.axes, "title", None):
                    artist.remove()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        info = None
        if text_px is not None:  # the smallest text's size, for the browser check (as demo_png does)
            from PIL.PngImagePlugin import PngInfo

            info = PngInfo()
            info.add_text("funcpipe:min-text-px", f"{text_px:.2f}")
        image.save(buffer, format="PNG", compress_level=1, pnginfo=info)
        return buffer.getvalue()


@dataclass(frozen=True)
class FairnessControls:
    """What the instructor's sliders set: how many tenants, the scheduler compared with FIFO,
    and each tenant's arrival rate (requests/s) and weight (only the first ``tenants`` count)."""

    tenants: int = 2
    scheduler: str = "deficit round robin"
    rates: tuple[float, ...] = (14.0, 1.5, 1.5, 1.5, 1.5)
    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    capacity: float = 10.0
    horizon: float = 60.0
    seed: int = 6

    def __post_init__(self) -> None:
        if not 1 <= self.tenants <= len(TENANT_NAMES):
            raise ValueError(f"tenants must be 1..{len(TENANT_NAMES)}, got {self.tenants!r}")
        if len(self.rates) < self.tenants or len(self.weights) < self.tenants:
            raise ValueError(f"need a rate and a weight for each of the {self.tenants} tenants")

    def workload(self) -> list[Tenant]:
        """The tenants these controls describe: ``tenant A`` … with requests of one work unit."""
        return [Tenant(TENANT_NAMES[i], self.rates[i], 1.0, self.weights[i]) for i in range(self.tenants)]


def _simulate(controls: FairnessControls) -> FairnessRun:
    names = ["FIFO"] if controls.scheduler == "FIFO" else ["FIFO", controls.scheduler]
    return simulate_fairness(
        controls.workload(), names, capacity=controls.capacity, horizon=controls.horizon, seed=controls.seed
    )


def render_fairness(controls: FairnessControls, *, dpi: float = 72) -> tuple[Figure, str]:
    """One slider move: re-simulate on virtual time and redraw.  FIFO is always the left column;
    the chosen scheduler (if not FIFO) is the right one."""
    run = _simulate(controls)
    return plot_fairness(run, dpi=dpi), fairness_table(run)


def redraw_fairness_png(controls: FairnessControls, view: FairnessView | None = None) -> tuple[bytes, str]:
    """One slider move, as the widget does it: re-simulate, then the figure as PNG bytes (drawn
    by ``view``, blitting over a cached frame) and the table."""
    run = _simulate(controls)
    return (view or FairnessView()).png(run), fairness_table(run)


def fairness_demo(controls: FairnessControls | None = None) -> Any:
    """The instructor's demo: sliders for tenant count, arrival rates and weights and a
    scheduler toggle *beside* the figure, the table under it (ipywidgets).  Laid out for a
    projector: the controls and both panels fit a 1280×720 screen in JupyterLab's Presentation
    Mode, the figure is shown at the pixel size it is drawn at, and the chosen scheduler is
    marked on its button (colour, bold, ✓) and in the figure (its column's title)."""
    import ipywidgets as widgets

    from funcpipe_async.demos._widgets import choice, demo_box, live, slider

    start, width = controls or FairnessControls(), DEMO_CONTROLS_PX
    count = slider(start.tenants, 1, len(TENANT_NAMES), "tenants", width=width)
    scheduler = choice(
        ["FIFO", "round robin", "deficit round robin"], start.scheduler, "scheduler", width=width, button_px=290
    )
    names = [name.removeprefix("tenant ") for name in TENANT_NAMES]
    rates = [slider(start.rates[i], 0.0, 20.0, f"{n} req/s", step=0.5, width=width) for i, n in enumerate(names)]
    weights = [slider(start.weights[i], 0.5, 5.0, f"{n} weight", step=0.5, width=width) for i, n in enumerate(names)]
    rows = [widgets.VBox([r, w]) for r, w in zip(rates, weights)]
    box, image, table = demo_box([count, scheduler, *rows], DEMO_FIGURE_PX, "funcpipe-fairness-demo")

    def current() -> FairnessControls:
        return FairnessControls(
            count.value,
            scheduler.value,
            tuple(r.value for r in rates),
            tuple(w.value for w in weights),
            start.capacity,
            start.horizon,
            start.seed,
        )

    view = FairnessView(dpi=100, projector=True)
    view.warm(start)

    def update(_: object = None) -> None:
        for i, row in enumerate(rows):
            row.layout.display = "" if i < count.value else "none"
        png, text = redraw_fairness_png(current(), view)
        image.value = png
        table.value = (
            f"<pre style='font-size:14px;white-space:pre;overflow-x:auto;margin:4px 0'>{html.escape(text)}</pre>"
        )

    live([count, scheduler, *rates, *weights], update)
    return box
