# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 06 Rate Limiting and Fairness](../06_rate_limiting_and_fairness.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 06 · Going further: buckets, bounds and the demo without a kernel
#
# Optional material for [lesson 06](../06_rate_limiting_and_fairness.ipynb): the leaky bucket and
# why it decides like the token bucket, a figure of a bucket under bursts, two more bucket proofs,
# the no-starvation bound as a property, a limit at the door, three weighted tenants, two more
# scheduler laws, and the instructor's demo drawn for three settings.

# %%
import asyncio
from collections import Counter

import matplotlib
from aiolimiter import AsyncLimiter
from hypothesis import given, settings, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    AsyncRateLimiter, DeficitRoundRobin, bucket_arrivals, bucket_bursts, bucket_rates, FairnessControls, Fifo, LeakyBucket, Request, RoundRobin, Simulation,
    Tenant, TokenBucket, course_rc, format_table, leaky_bucket_step, render_fairness, run_bucket,
    serve_on_loop, setup, show_figure, simulate_fairness, simulate_schedule, stats_table, tenant_stats,
    work_shares,
)

setup()

# %% [markdown]
# ## Choose between the two buckets
#
# | | token bucket | leaky bucket (as a meter, GCRA) |
# |---|---|---|
# | remembers | tokens and the time it last looked | one timestamp: when the bucket will be empty |
# | reads as | "you have `burst` credits that refill at `rate`" | "pour each request in; it leaks at `rate`; never overflow `capacity`" |
# | decisions | identical for the same rate and burst (proved below) | |
# | where you meet it | AWS API Gateway throttling, Guava's `RateLimiter` | `aiolimiter`, NGINX `limit_req`, Redis `CL.THROTTLE` |
#
# A leaky bucket's state is one number, the time it will be empty (GCRA's *theoretical arrival
# time*). The lesson's arrivals, the same decisions, a different memory:

# %%
ARRIVALS = [(0.0, 1), (0.0, 1), (0.0, 1), (0.0, 1), (0.5, 1), (1.0, 1), (3.0, 1)]
leaky = LeakyBucket(rate=2, capacity=3)
rows, state = [], leaky.initial(0.0)
for now, cost in ARRIVALS:
    decision, state = leaky_bucket_step(leaky, state, now, cost)
    rows.append([f"{now:g}", decision, f"{state.empty_at:g}", f"{max(state.empty_at - now, 0) * leaky.rate:g}"])
print(format_table(["t (s)", "decision", "empty_at (s)", "water after"], rows))
same = [d.admitted for d in run_bucket(TokenBucket(2, 3), ARRIVALS)] == [d.admitted for d in run_bucket(leaky, ARRIVALS)]
print("same decisions as the token bucket:", same)

# %% [markdown]
# ## Draw a bucket under bursts
#
# Five bursts of eight requests, two seconds apart, against a token bucket of rate 2 and burst 4:
# the tokens over time (refilling along the slope `rate`, never above `burst`), admitted requests as
# circles, refused ones as crosses.

# %%
BURSTY = [(2.0 * k, 1) for k in range(5) for _ in range(8)]
POLICE = TokenBucket(rate=2, burst=4)

def tokens_over_time(bucket: TokenBucket, arrivals):
    """The exact token curve as (times, tokens) vertices, and each arrival's (t, admitted, tokens after)."""
    state, events, xs, ys = bucket.initial(0.0), [], [0.0], [bucket.burst]
    for t, cost in arrivals + [(arrivals[-1][0] + 3, None)]:
        full_at = state.updated + (bucket.burst - state.tokens) / bucket.rate   # refill reaches the cap
        if state.updated < full_at < t:
            xs.append(full_at), ys.append(bucket.burst)
        xs.append(t), ys.append(min(bucket.burst, state.tokens + (t - state.updated) * bucket.rate))
        if cost is not None:
            decision, state = bucket.step(state, t, cost)
            events.append((t, decision.admitted, state.tokens))
            xs.append(t), ys.append(state.tokens)
    return (xs, ys), events

def plot_bucket(bucket: TokenBucket, arrivals) -> Figure:
    (ts, tokens), events = tokens_over_time(bucket, arrivals)
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(10, 3.8), layout="constrained")
        ax = fig.add_subplot()
        c = [p["color"] for p in matplotlib.rcParams["axes.prop_cycle"]]
        ax.plot(ts, tokens, color=c[0], linewidth=2.5, label="tokens in the bucket")
        ax.axhline(bucket.burst, color="0.35", linestyle="--", label=f"burst = {bucket.burst:g}")
        ax.plot(*zip(*[(t, k) for t, a, k in events if a]), "o", color=c[1], markersize=9, label="admitted")
        ax.plot(*zip(*[(t, k) for t, a, k in events if not a]), "x", color=c[2], markersize=11,
                markeredgewidth=2.5, label="refused")
        ax.set_xlabel("virtual time (s)")
        ax.set_ylabel("tokens")
        ax.set_title(f"Token bucket, rate {bucket.rate:g}/s, burst {bucket.burst:g}: five bursts of 8")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# %%
admitted_per_burst = Counter(t for t, a, _ in tokens_over_time(POLICE, BURSTY)[1] if a)
summary = ", ".join(f"t={t:g}: {n} of 8" for t, n in sorted(admitted_per_burst.items()))
show_figure(plot_bucket(POLICE, BURSTY), alt="Tokens over virtual time for a token bucket of rate 2 and burst 4 "
            "hit by five bursts of 8 requests, 2 s apart. Admitted per burst: " + summary)
print("admitted per burst:", summary)

# %% [markdown]
# Every burst after the first finds exactly the 4 tokens that dripped in during the 2 s gap. From
# t = 0 to t = 8 the bucket admitted 20 = `rate × 8 s + burst`: the window law, with equality.
#
# ## Prove two more bucket laws
#
# **One bucket, two memories**: a token bucket's tokens are exactly the room left in a leaky bucket
# of the same size, so the two decide alike. **The wait is exact**: ask again exactly `wait` later
# and you are admitted; ask 1 % earlier and you are not — so an async limiter sleeps once per refusal.

# %%
@settings(max_examples=50)
@given(rate=bucket_rates(), burst=bucket_bursts(), data=st.data())
def token_and_leaky_agree(rate, burst, data) -> None:
    arrivals = data.draw(bucket_arrivals(burst))
    token = [d.admitted for d in run_bucket(TokenBucket(rate, burst), arrivals)]
    assert token == [d.admitted for d in run_bucket(LeakyBucket(rate, burst), arrivals)]

@settings(max_examples=50)
@given(rate=bucket_rates(), burst=bucket_bursts(), data=st.data())
def the_wait_is_exact(rate, burst, data) -> None:
    limiter, arrivals = TokenBucket(rate, burst), data.draw(bucket_arrivals(burst))
    state = limiter.initial(0.0)
    for now, cost in arrivals:
        decision, state = limiter.step(state, now, cost)
        if not decision.admitted:
            assert limiter.step(state, now + decision.wait, cost)[0].admitted
            assert decision.wait < 1e-6 or not limiter.step(state, now + 0.99 * decision.wait, cost)[0].admitted

token_and_leaky_agree()
the_wait_is_exact()
print("token and leaky buckets decide alike; a refusal's wait is exact: 50 generated examples each")

# %% [markdown]
# ## Prove the no-starvation bound
#
# The lesson showed `aiolimiter` starving a cost-8 request and `AsyncRateLimiter` admitting it
# within `(Q + c) / rate`. Here the bound is a property over the number of small clients, the large
# cost and both bucket kinds. (The rates are powers of two so every instant is an exact float:
# `aiolimiter`'s timer arithmetic can spin on a rounding error under a virtual clock.)

# %%
async def small_and_large(limiter, big: float = 8, small_clients: int = 1, horizon: float = 30):
    loop, waited = asyncio.get_running_loop(), []
    async def small():
        while True:
            await limiter.acquire(1)
    async def large():
        start = loop.time()
        await limiter.acquire(big)
        waited.append(loop.time() - start)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(small()) for _ in range(small_clients)]
        await asyncio.sleep(1)
        ahead = getattr(limiter, "waiting", 0)
        tasks.append(group.create_task(large()))
        await asyncio.sleep(horizon)
        for task in tasks:
            task.cancel()
    return (waited[0] if waited else None), ahead

@settings(max_examples=40)
@given(clients=st.integers(1, 6), big=st.sampled_from([2.0, 4.0, 6.0, 8.0]), leaky_kind=st.booleans())
def large_requests_are_never_starved(clients, big, leaky_kind) -> None:
    bucket = LeakyBucket(8, 8) if leaky_kind else TokenBucket(8, 8)
    waited, ahead = Simulation().run(small_and_large(AsyncRateLimiter(bucket), big, clients))
    assert waited is not None and waited <= (ahead + big) / 8 + 1e-9

large_requests_are_never_starved()
starved, _ = Simulation().run(small_and_large(AsyncLimiter(8, 1), 8, 2))
print("AsyncRateLimiter admits within (Q + c) / rate: 40 generated examples;",
      "aiolimiter with two small clients:", "starved" if starved is None else f"{starved:g} s")

# %% [markdown]
# ## Bound every latency with a limit at the door
#
# In the lesson's noisy-neighbour run, DRR protected `light`, but `heavy`'s own latency grew without
# bound: it sent 14 work/s into 10. A token bucket of 8 per second, burst 10, as a policer on
# `heavy`'s arrivals (a refused request gets a `429` and is not queued) bounds every latency:

# %%
run = simulate_fairness([Tenant("heavy", rate=14), Tenant("light", rate=1.5)], ("FIFO",), capacity=10, horizon=60, seed=6)
heavy = [r for r in run.requests if r.tenant == "heavy"]
door = run_bucket(TokenBucket(rate=8, burst=10), [(r.arrival, r.size) for r in heavy])
admitted = [r for r, d in zip(heavy, door) if d.admitted]
done = simulate_schedule(admitted + [r for r in run.requests if r.tenant == "light"], DeficitRoundRobin(), capacity=10)
print(f"heavy: {len(admitted)} of {len(heavy)} admitted at the door, {len(heavy) - len(admitted)} refused (429)")
print(stats_table(tenant_stats(done, run.horizon, ["heavy", "light"])))

# %% [markdown]
# ## Weight three tenants
#
# Three tenants, all backlogged, weights 1 : 2 : 3 and request sizes 1, 3 and 0.5: the shares follow
# the weights whatever the sizes — that is what the deficit is for.

# %%
SIZES, WEIGHTS = {"a": 1.0, "b": 3.0, "c": 0.5}, {"a": 1, "b": 2, "c": 3}
BACKLOG = [Request(t, 0.0, size) for t, size in SIZES.items() for _ in range(int(600 / size))]
shares = work_shares(simulate_schedule(BACKLOG, DeficitRoundRobin(quantum=3, weights=WEIGHTS), capacity=1, until=600), 0, 600)
print(format_table(["tenant", "weight", "request size", "weight / total", "share of the work"],
                   [[t, WEIGHTS[t], SIZES[t], f"{WEIGHTS[t] / 6:.3f}", f"{shares[t]:.3f}"] for t in SIZES]))

# %% [markdown]
# ## Prove two more scheduler laws
#
# **Work-conserving**: no scheduler leaves the server idle while a request waits, and each serves
# every request once. **One server, two drivers**: `serve_on_loop`, the same server as a coroutine
# sleeping on the loop's clock, gives exactly `simulate_schedule`'s completions on a `Simulation`.

# %%
NAMES, ALL = ["a", "b", "c", "d"], [Fifo(), RoundRobin(), DeficitRoundRobin(quantum=1), DeficitRoundRobin(0.5, {"a": 3})]

@st.composite
def workloads(draw):
    times = sorted(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0, 7.5]), min_size=1, max_size=40)))
    return [Request(draw(st.sampled_from(NAMES)), t, draw(st.sampled_from([0.25, 0.5, 1.0, 3.0]))) for t in times]

@settings(max_examples=50)
@given(requests=workloads(), scheduler=st.sampled_from(ALL))
def work_conserving_and_drivers_agree(requests, scheduler) -> None:
    done = simulate_schedule(requests, scheduler, capacity=2)
    assert sorted((c.tenant, c.arrival, c.size) for c in done) == sorted((r.tenant, r.arrival, r.size) for r in requests)
    for before, after in zip(done, done[1:]):
        assert not [c for c in done if c.arrival < after.start <= c.start and after.start > before.finish]
    assert Simulation().run(serve_on_loop(requests, scheduler, capacity=2)) == done

work_conserving_and_drivers_agree()
print("work-conserving, every request once, serve_on_loop == simulate_schedule: 50 generated examples")

# %% [markdown]
# ## The demo without a kernel
#
# Three settings of the lesson's sliders, drawn by the function the widget calls. Note that these
# static figures scale the latency axis to their own data (the live widget fixes it at 0–60 s):
# read the tick labels before comparing two of them. Four tenants, `A` flooding:

# %%
for controls, what in (
    (FairnessControls(tenants=4, scheduler="deficit round robin", rates=(14, 1.5, 1.5, 1.5, 1.5)), "four tenants, A floods"),
    (FairnessControls(tenants=2, scheduler="deficit round robin", rates=(20, 20), weights=(1, 3)), "both backlogged, B weighted 3"),
    (FairnessControls(tenants=2, scheduler="deficit round robin", rates=(7, 1.5)), "under capacity"),
):
    fig, table = render_fairness(controls, dpi=90)
    show_figure(fig, alt=f"{what}: FIFO against deficit round robin. " + table)
    print(what, table, sep="\n")

# %% [markdown]
# With four tenants, FIFO hands all of them `A`'s latency; DRR protects the three. With both
# backlogged, weight 3 gives `B` three quarters of the server. Under capacity, every scheduler is
# the same: fair scheduling matters when work waits.
#
# ---
# [← back to 06 Rate Limiting and Fairness](../06_rate_limiting_and_fairness.ipynb) · [Contents](../00_module_overview.ipynb)
