"""Fair scheduling: the scheduler laws on generated workloads, and the metrics."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funcpipe_async import (
    Completion,
    DeficitRoundRobin,
    Fifo,
    Request,
    RoundRobin,
    Simulation,
    Tenant,
    completions_from_trace,
    fair_source,
    jain_index,
    max_min_shares,
    percentile,
    poisson_arrivals,
    serve_on_loop,
    simulate_schedule,
    stats_table,
    tenant_stats,
    work_shares,
)

NAMES = ["a", "b", "c", "d"]
SIZES = st.sampled_from([0.5, 1.0, 2.0, 3.0, 0.25])


@st.composite
def workloads(draw: st.DrawFn) -> list[Request]:
    n = draw(st.integers(1, 40))
    times = sorted(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 4.0, 7.5]), min_size=n, max_size=n)))
    return [Request(draw(st.sampled_from(NAMES)), t, draw(SIZES)) for t in times]


SCHEDULERS = st.sampled_from(
    [Fifo(), RoundRobin(), DeficitRoundRobin(quantum=1.0), DeficitRoundRobin(quantum=0.5, weights={"a": 3, "b": 0.5})]
)


@given(requests=workloads(), scheduler=SCHEDULERS)
def test_work_conserving_every_request_served_once_never_idle_while_one_waits(
    requests: list[Request], scheduler: Any
) -> None:
    done = simulate_schedule(requests, scheduler, capacity=2.0)
    assert sorted((c.tenant, c.arrival, c.size) for c in done) == sorted(
        (r.tenant, r.arrival, r.size) for r in requests
    )
    for before, after in zip(done, done[1:]):
        assert after.start >= before.finish
        if after.start > before.finish:  # the server was idle: nobody may have been waiting
            assert not [c for c in done if c.arrival < after.start <= c.start], (before, after)
    for c in done:
        assert c.start >= c.arrival and math.isclose(c.finish - c.start, c.size / 2.0)


@settings(max_examples=30)
@given(
    weights=st.lists(st.sampled_from([1, 2, 3, 4]), min_size=2, max_size=4),
    sizes=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=4, max_size=4),
)
def test_drr_shares_under_backlog_within_5_percent_of_the_weights(weights: list[float], sizes: list[float]) -> None:
    # DRR's bound: after any prefix, tenant i's work is within quantum·wᵢ + max size of its
    # weighted share.  Over 2,000 s of backlog that is under 5 % of the smallest share (1/13).
    tenants = NAMES[: len(weights)]
    horizon = 2000.0
    requests = [Request(t, 0.0, sizes[i]) for i, t in enumerate(tenants) for _ in range(int(horizon / sizes[i]) + 1)]
    scheduler = DeficitRoundRobin(quantum=1.0, weights=dict(zip(tenants, weights)))
    done = simulate_schedule(requests, scheduler, capacity=1.0, until=horizon)
    assert all(sum(c.size for c in done if c.tenant == t) < horizon for t in tenants)  # all still backlogged
    shares = work_shares(done, 0.0, horizon)
    for t, w in zip(tenants, weights):
        expected = w / sum(weights)
        assert abs(shares[t] - expected) <= 0.05 * expected, (t, shares[t], expected)


@given(requests=workloads(), scheduler=st.sampled_from([RoundRobin(), DeficitRoundRobin(quantum=3.0)]))
def test_no_starvation_a_backlogged_tenant_is_served_every_round(requests: list[Request], scheduler: Any) -> None:
    done = simulate_schedule(requests, scheduler, capacity=1.0)
    tenants = {r.tenant for r in requests}
    for t in tenants:
        # between two of its services, at most one service of each other tenant (RR), or one
        # quantum's worth of work per other tenant (DRR): its wait is bounded by the others' turns
        mine = [i for i, c in enumerate(done) if c.tenant == t]
        for i, j in zip(mine, mine[1:]):
            if done[j].arrival <= done[i].finish:  # it was waiting the whole gap
                others = [c for c in done[i + 1 : j]]
                per_tenant: dict[str, float] = {}
                for c in others:
                    per_tenant[c.tenant] = per_tenant.get(c.tenant, 0.0) + (
                        1 if isinstance(scheduler, RoundRobin) else c.size
                    )
                limit = 1 if isinstance(scheduler, RoundRobin) else 2 * 3.0 + 3.0
                assert all(v <= limit for v in per_tenant.values()), (t, per_tenant)


def test_fifo_starves_a_light_tenant_behind_a_flood_and_drr_does_not() -> None:
    flood = [Request("heavy", 0.0) for _ in range(100)] + [Request("light", 0.5)]
    fifo = {c.tenant: c for c in simulate_schedule(flood, Fifo(), capacity=1.0)}
    drr = {c.tenant: c for c in simulate_schedule(flood, DeficitRoundRobin(), capacity=1.0)}
    assert fifo["light"].latency == 100.5
    assert drr["light"].latency == 1.5  # behind the one heavy request in service, then its turn


def test_round_robin_is_fair_in_requests_not_in_work() -> None:
    requests = [Request("big", 0.0, 4.0) for _ in range(50)] + [Request("small", 0.0, 1.0) for _ in range(200)]
    rr = work_shares(simulate_schedule(requests, RoundRobin()), 0, 100)
    drr = work_shares(simulate_schedule(requests, DeficitRoundRobin(quantum=4.0)), 0, 100)
    assert rr == {"big": 0.8, "small": 0.2}
    assert drr == {"big": 0.52, "small": 0.48}  # half each, up to one request at the window's edge


@given(requests=workloads(), scheduler=SCHEDULERS)
def test_the_virtual_loop_server_gives_the_pure_simulations_completions(
    requests: list[Request], scheduler: Any
) -> None:
    sim = Simulation()
    on_loop = sim.run(serve_on_loop(requests, scheduler, capacity=2.0, trace=sim.trace))
    assert on_loop == simulate_schedule(requests, scheduler, capacity=2.0)
    assert completions_from_trace(sim.trace) == on_loop


def test_both_entry_points_keep_the_numbers_and_events_they_gave_before_sharing_one_loop() -> None:
    # Pinned from the two loops that simulate_schedule and serve_on_loop used to write out
    # separately: one scheduler loop behind both must give the same completions, the same
    # cut-off at `until`, and the same arrive/serve events in the same order at the same times.
    reqs = [
        Request("a", 0.0, 2.0),
        Request("a", 0.0, 2.0),
        Request("b", 0.5, 0.5),
        Request("c", 1.0, 1.0),
        Request("b", 9.0, 1.0),
    ]
    drr = DeficitRoundRobin(quantum=1.0, weights={"a": 2})
    expected = [("a", 0.0, 1.0), ("b", 1.0, 1.25), ("c", 1.25, 1.75), ("a", 1.75, 2.75), ("b", 9.0, 9.5)]
    assert [(c.tenant, c.start, c.finish) for c in simulate_schedule(reqs, drr, capacity=2.0)] == expected
    assert [(c.tenant, c.start) for c in simulate_schedule(reqs, Fifo(), capacity=2.0, until=1.0)] == [("a", 0.0)]
    sim = Simulation()
    served = sim.run(serve_on_loop(reqs, drr, capacity=2.0, trace=sim.trace))
    assert [(c.tenant, c.start, c.finish) for c in served] == expected
    assert [(e.time, e.kind, e.name) for e in sim.trace.events] == [
        (0.0, "arrive", "a"),
        (0.0, "arrive", "a"),
        (1.0, "serve", "a"),
        (1.0, "arrive", "b"),
        (1.0, "arrive", "c"),
        (1.25, "serve", "b"),
        (1.75, "serve", "c"),
        (2.75, "serve", "a"),
        (9.0, "arrive", "b"),
        (9.5, "serve", "b"),
    ]


async def _pull_as_one_server(source: Any, capacity: float) -> list[Completion]:
    import asyncio

    loop = asyncio.get_running_loop()
    origin, done = loop.time(), []
    async for request in source():
        start = loop.time() - origin
        await asyncio.sleep(request.size / capacity)
        done.append(Completion(request.tenant, request.arrival, start, loop.time() - origin, request.size))
    return done


@given(requests=workloads(), scheduler=SCHEDULERS)
def test_fair_source_pulled_by_one_server_gives_the_pure_simulations_completions(
    requests: list[Request], scheduler: Any
) -> None:
    source = fair_source(
        requests, scheduler, tenant=lambda r: r.tenant, arrival=lambda r: r.arrival, size=lambda r: r.size
    )
    want = simulate_schedule(requests, scheduler, capacity=2.0)
    got = Simulation().run(_pull_as_one_server(source, 2.0))
    assert [(c.tenant, c.arrival, c.size) for c in got] == [(c.tenant, c.arrival, c.size) for c in want]
    assert all(
        math.isclose(g.start, w.start, abs_tol=1e-9) and math.isclose(g.finish, w.finish, abs_tol=1e-9)
        for g, w in zip(got, want)
    )
    assert Simulation().run(_pull_as_one_server(source, 2.0)) == got  # replayable: each call is a fresh run


def test_fair_source_rejects_an_unknown_scheduler_when_described() -> None:
    with pytest.raises(TypeError, match="scheduler must be"):
        fair_source([], "drr", tenant=str, arrival=float)  # type: ignore[arg-type]


def test_poisson_arrivals_are_seeded() -> None:
    tenants = [Tenant("a", 3.0), Tenant("b", 0.5, size=2.0)]
    first = poisson_arrivals(tenants, 50, random.Random(4))
    assert first == poisson_arrivals(tenants, 50, random.Random(4))
    assert first != poisson_arrivals(tenants, 50, random.Random(5))
    assert all(0 <= r.arrival < 50 for r in first) and [r.arrival for r in first] == sorted(r.arrival for r in first)
    with pytest.raises(TypeError, match="random.Random"):
        poisson_arrivals(tenants, 50, 4)  # type: ignore[arg-type]


def test_jain_index_is_one_for_equal_shares_and_one_over_n_for_one_winner() -> None:
    assert jain_index([3, 3, 3, 3]) == 1.0
    assert jain_index([5, 0, 0, 0]) == 0.25
    assert jain_index([1, 1, 0, 0]) == 0.5
    with pytest.raises(ValueError, match="every allocation is 0"):
        jain_index([0, 0])
    with pytest.raises(ValueError, match=">= 0"):
        jain_index([1, -1])


@given(
    xs=st.lists(st.floats(0, 1e6), min_size=1, max_size=20).filter(lambda xs: any(x > 0 for x in xs)),
    scale=st.floats(0.001, 1000),
)
def test_jain_index_is_in_one_over_n_to_one_and_scale_free(xs: list[float], scale: float) -> None:
    j = jain_index(xs)
    assert 1 / len(xs) - 1e-9 <= j <= 1 + 1e-9
    assert math.isclose(jain_index([x * scale for x in xs]), j, rel_tol=1e-6)


def test_max_min_shares_give_modest_tenants_their_demand() -> None:
    assert max_min_shares({"heavy": 15, "light": 1}, 10) == {"heavy": 9.0, "light": 1.0}
    assert max_min_shares({"a": 10, "b": 10}, 9, {"a": 2, "b": 1}) == {"a": 6.0, "b": 3.0}


def test_percentiles_by_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99), percentile(values, 100)) == (
        50,
        95,
        99,
        100,
    )
    assert percentile([7.0], 1) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_tenant_stats_and_table() -> None:
    done = [Completion("a", 0, 0, 1), Completion("a", 0, 1, 2), Completion("b", 1, 2, 3)]
    stats = tenant_stats(done, horizon=4, tenants=["a", "b", "c"])
    assert [(s.tenant, s.served, s.throughput, s.p50) for s in stats] == [
        ("a", 2, 0.5, 1),
        ("b", 1, 0.25, 2),
        ("c", 0, 0.0, math.inf),
    ]
    assert "starved" in stats_table(stats)


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="quantum must be > 0"):
        DeficitRoundRobin(quantum=0)
    with pytest.raises(ValueError, match="weight of 'a' must be > 0"):
        DeficitRoundRobin(weights={"a": 0})
    with pytest.raises(ValueError, match="capacity must be > 0"):
        simulate_schedule([], Fifo(), capacity=0)
    with pytest.raises(TypeError, match="scheduler must be"):
        simulate_schedule([Request("a", 0)], "fifo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size must be > 0"):
        Request("a", 0, 0)
