"""Measuring fair service: latency percentiles, per-tenant statistics, shares and Jain's index.

A :class:`Completion` records one served request; :func:`~funcpipe_async.simulate_schedule`
and :func:`~funcpipe_async.serve_on_loop` (:mod:`funcpipe_async.fairness`) return them, and
the measures here are plain functions of them.

Law (checked in ``tests/test_fairness.py`` and lesson 06):

* **Jain's index** — :func:`jain_index` is 1 for equal allocations and 1/n when one of n
  gets everything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from funcpipe_async.trace import format_table

__all__ = [
    "Completion",
    "percentile",
    "jain_index",
    "max_min_shares",
    "work_shares",
    "TenantStats",
    "tenant_stats",
    "stats_table",
]


@dataclass(frozen=True, slots=True)
class Completion:
    """One served request: when it arrived, started and finished (simulated seconds)."""

    tenant: str
    arrival: float
    start: float
    finish: float
    size: float = 1.0

    @property
    def latency(self) -> float:
        """Seconds from arrival to finish: waiting in line plus being served."""
        return self.finish - self.arrival

    @property
    def wait(self) -> float:
        """Seconds spent waiting in line."""
        return self.start - self.arrival


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by the nearest-rank method: the smallest value with at least
    ``p`` % of the values at or below it (always one of the values; no interpolation)."""
    if not values:
        raise ValueError("percentile of no values is undefined")
    if not 0 < p <= 100:
        raise ValueError(f"p must be in (0, 100], got {p!r}")
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def jain_index(allocations: Sequence[float]) -> float:
    """Jain's fairness index ``J = (Σx)² / (n · Σx²)`` of non-negative allocations.

    ``J`` is 1 when every ``x`` is equal, ``1/n`` when one gets everything, and ``k/n`` when
    ``k`` share equally and the rest get nothing.  It is scale-free (``J(c·x) = J(x)``).
    Apply it to *normalised* allocations (what each got ÷ what it should get, e.g.
    :func:`max_min_shares`) to judge a scheduler rather than the demands.
    """
    xs = [float(x) for x in allocations]
    if not xs:
        raise ValueError("Jain's index of no allocations is undefined")
    if any(not math.isfinite(x) or x < 0 for x in xs):
        raise ValueError(f"allocations must be finite and >= 0, got {list(allocations)}")
    top = max(xs)
    if top == 0:
        raise ValueError("Jain's index is undefined when every allocation is 0")
    ys = [x / top for x in xs]  # scale-free: normalise first, so tiny or huge values cannot under/overflow
    return math.fsum(ys) ** 2 / (len(ys) * math.fsum(y * y for y in ys))


def max_min_shares(
    demands: Mapping[str, float], capacity: float, weights: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The weighted max-min fair allocation of ``capacity`` (water filling): no tenant gets
    more than it demands, and capacity left over by modest tenants is split among the others
    in proportion to their weights."""
    weight = {t: float((weights or {}).get(t, 1.0)) for t in demands}
    share = {t: 0.0 for t in demands}
    open_ = {t for t, d in demands.items() if d > 0}
    left = float(capacity)
    while open_ and left > 1e-12:
        total = sum(weight[t] for t in open_)
        fill = {t: left * weight[t] / total for t in open_}
        capped = {t for t in open_ if demands[t] - share[t] <= fill[t]}
        if not capped:
            for t in open_:
                share[t] += fill[t]
            break
        for t in capped:
            left -= demands[t] - share[t]
            share[t] = float(demands[t])
        open_ -= capped
    return share


def work_shares(completions: Iterable[Completion], start: float = 0.0, end: float = math.inf) -> dict[str, float]:
    """Each tenant's fraction of the work served in ``[start, end)`` (by service time)."""
    served: dict[str, float] = {}
    for c in completions:
        overlap = min(c.finish, end) - max(c.start, start)
        if overlap > 0:
            served[c.tenant] = served.get(c.tenant, 0.0) + overlap
    total = math.fsum(served.values())
    return {t: (w / total if total else 0.0) for t, w in served.items()}


@dataclass(frozen=True, slots=True)
class TenantStats:
    """One tenant's service over a run: requests served, throughput (work units per second
    of the horizon) and latency percentiles (seconds, nearest rank)."""

    tenant: str
    served: int
    throughput: float
    p50: float
    p95: float
    p99: float
    max: float


def tenant_stats(
    completions: Iterable[Completion], horizon: float, tenants: Sequence[str] | None = None
) -> list[TenantStats]:
    """Per-tenant throughput and latency percentiles of the requests finished by ``horizon``.

    ``tenants`` fixes the rows (and their order); a tenant with nothing finished gets zeros
    and ``inf`` latencies (it was starved).
    """
    if not horizon > 0:
        raise ValueError(f"horizon must be > 0, got {horizon!r}")
    by: dict[str, list[Completion]] = {}
    for c in completions:
        if c.finish <= horizon:
            by.setdefault(c.tenant, []).append(c)
    names = list(tenants) if tenants is not None else sorted(by)
    rows = []
    for name in names:
        mine = by.get(name, [])
        if not mine:
            rows.append(TenantStats(name, 0, 0.0, math.inf, math.inf, math.inf, math.inf))
            continue
        latencies = [c.latency for c in mine]
        rows.append(
            TenantStats(
                name,
                len(mine),
                math.fsum(c.size for c in mine) / horizon,
                percentile(latencies, 50),
                percentile(latencies, 95),
                percentile(latencies, 99),
                max(latencies),
            )
        )
    return rows


def stats_table(stats: Sequence[TenantStats], *, unit: str = "s") -> str:
    """``stats`` as a deterministic text table (3 significant decimals)."""

    def t(x: float) -> str:
        return "starved" if math.isinf(x) else f"{x:.3f}"

    return format_table(
        ["tenant", "served", "throughput (work/s)", f"p50 ({unit})", f"p95 ({unit})", f"p99 ({unit})"],
        [[s.tenant, s.served, f"{s.throughput:.3f}", t(s.p50), t(s.p95), t(s.p99)] for s in stats],
    )
