# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 05 Deterministic Async Testing](05_deterministic_async_testing.ipynb) · [Contents](00_module_overview.ipynb) · [07 Async Adapters →](07_async_adapters.ipynb)
#
# # 06 · Rate Limiting and Fairness
#
# One service, many callers: without rules the loudest sets everyone's latency (the *noisy
# neighbour*), and a dependency you call too fast answers `429 Too Many Requests`. **Rate limiters**
# bound how fast work may start; **fair schedulers** decide whose work goes next. Both run here on
# virtual time: a minute of traffic costs milliseconds and prints the same numbers every run.
#
# **What you'll do**
# - Step a token bucket by hand, then write the same limiter in plain asyncio and prove it admits
#   at the same instants as the package's.
# - Prove the window law with Hypothesis; give each tenant its own limit.
# - Put a flooding tenant and a trickling one on one server and compare FIFO, round robin and
#   deficit round robin (DRR), with Jain's fairness index.
# - Drive the instructor's demo; break two things on purpose and fix them.
#
# **What you'll learn**
# - A limiter as a pure step plus a small async shell (`asyncio.Lock`, `asyncio.sleep`, the loop's
#   clock); `TokenBucket`, `AsyncRateLimiter`, `KeyedLimiter`.
# - `Fifo`, `RoundRobin`, `DeficitRoundRobin`, `simulate_schedule`, `simulate_fairness`,
#   `jain_index`; when to **limit**, **schedule** or **shed**.
#
# **What you'll need**
# - Lesson [05 Deterministic Async Testing](05_deterministic_async_testing.ipynb): `Simulation`
#   and virtual time.
# - About 50 minutes. Deep dives (the leaky bucket, a bucket figure, more proofs, the demo without a
#   kernel) are in the optional [06 · going further](further/06_rate_limiting_and_fairness.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   module["Module 08: Async Pipelines, Backpressure, and Fairness"] --> concept["06 Rate Limiting and Fairness"]
#   concept --> capstone["Capstone pressure point: lesson 12, many documents sharing one embedding quota"]
# ```
#
# (How to work through a lesson is in [lesson 01](01_async_await_as_descriptions.ipynb).)
#
# **Core question.** How do you share a limited capacity — a downstream quota, a server — so that
# no caller takes more than its share and no caller waits forever, and prove both without a real
# clock?
#
# **Why it matters.** Lesson 03 bounded the queue *between* stages; this lesson decides *who* gets
# in and *in what order*. A limiter that lets a burst too many through gets your API key
# throttled; one that never admits a large request is a hang no unit test sees; a FIFO queue shared
# by tenants hands the quietest tenant the loudest one's latency.
#
# **The review question to carry:** *who shares this capacity, what stops one of them from taking
# it all, and what is the longest anyone can wait?*

# %% [markdown]
# ## Set up

# %%
import asyncio

from aiolimiter import AsyncLimiter
from hypothesis import given, settings, strategies as st

from funcpipe_async import (
    AsyncRateLimiter, DeficitRoundRobin, bucket_arrivals, bucket_bursts, bucket_rates, Fifo, KeyedLimiter, Request, RoundRobin, Simulation,
    Tenant, TokenBucket, lesson_answer_key, api_summary, fairness_demo, fairness_summary, fairness_table,
    format_table, jain_index, max_min_shares, max_window_cost, normalised_throughput, plot_fairness,
    lesson_quiz, run_bucket, serve_on_loop, setup, show_figure, simulate_fairness, simulate_schedule,
    tenant_stats, token_bucket_step, work_shares,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook, and in `tests/`) |
# |---|---|---|---|
# | law | the window law | in every window of `w` seconds a bucket admits a total cost of at most `rate · w + burst` | Hypothesis — [Prove the window law](#Prove-the-window-law-with-Hypothesis) |
# | invariant | the step is pure | `token_bucket_step` reads no clock: time is its argument `now` | [Step a token bucket by hand](#Step-a-token-bucket-by-hand) |
# | law | plain form ≡ description | a lock-and-sleep limiter in plain asyncio admits at the same virtual instants as `AsyncRateLimiter` | Hypothesis — [Write the limiter in plain asyncio](#Write-the-limiter-in-plain-asyncio) |
# | invariant | per-key independence | what one key admits never changes another key's decisions | Hypothesis — [Give each tenant its own limit](#Give-each-tenant-its-own-limit) |
# | invariant | no starvation | a request of cost `c` behind queued cost `Q` is admitted within `(Q + c) / rate` | [Anti-pattern 2](#Anti-pattern-2:-small-requests-overtaking-a-large-one) |
# | law | weighted shares | under backlog, DRR gives each tenant a share of the work within 5 % of `weight / Σ weights` | Hypothesis — [Weight the tenants](#Weight-the-tenants) |

# %% [markdown]
# ## Decide: limit, schedule or shed?
#
# | you need to… | tool | it decides | it cannot |
# |---|---|---|---|
# | stay under someone else's quota (100 req/s to an API) | **limit**: a token bucket | *when* a request may start | make anyone wait less |
# | share your own capacity between callers | **schedule**: round robin, DRR | *who* goes next | help when total demand exceeds capacity |
# | survive more demand than capacity | **shed**: refuse at the door (`429`, lesson 03's drop-newest) | *whether* a request is accepted | be fair by itself: shed *per tenant* |
#
# Multi-tenant services use all three: a per-key limit at the door, a fair scheduler behind it, a
# bounded queue.

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([TokenBucket, token_bucket_step, AsyncRateLimiter, KeyedLimiter, DeficitRoundRobin,
                   simulate_schedule, simulate_fairness, jain_index]))

# %% [markdown]
# ## Step a token bucket by hand
#
# `TokenBucket(rate=2, burst=3)`: 2 tokens a second drip into a bucket that holds at most 3; a
# request of cost `c` needs `c` tokens. `token_bucket_step(config, state, now, cost)` is a **pure
# function**: it refills for the time since the state was last updated (never above `burst`), then
# admits and takes the tokens, or says exactly how long to wait. The clock is an argument.
#
# **Predict:** four requests of cost 1 arrive at t = 0 on a full bucket. Which are admitted, and how
# long must the fourth wait? Then run.

# %%
bucket = TokenBucket(rate=2, burst=3)
ARRIVALS = [(0.0, 1), (0.0, 1), (0.0, 1), (0.0, 1), (0.5, 1), (1.0, 1), (3.0, 1)]

rows, state = [], bucket.initial(0.0)
for now, cost in ARRIVALS:
    decision, state = token_bucket_step(bucket, state, now, cost)
    rows.append([f"{now:g}", decision, f"{state.tokens:g}"])
print(format_table(["t (s)", "decision", "tokens after"], rows))

# %% [markdown]
# Three go at once (the burst); the fourth must wait exactly 0.5 s, one token's drip time; by t = 3
# the bucket is full again, capped at 3. `run_bucket(bucket, arrivals)` does this loop for you.
#
# ## Write the limiter in plain asyncio
#
# A service does not drop a refused call; it waits. Here is a waiting token-bucket limiter in
# plain asyncio. Read it for three things: the clock is `loop.time()`, a refusal is **one**
# `asyncio.sleep` for exactly the missing tokens' drip time (no polling), and an `asyncio.Lock` —
# which wakes its waiters in arrival order — makes callers line up first come, first served.

# %%
class PlainTokenBucket:
    """A token-bucket limiter in plain asyncio: `await limiter.acquire(cost)`."""
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, None
        self.lock = asyncio.Lock()                     # one caller at a time, in arrival order

    async def acquire(self, cost: float = 1.0) -> None:
        loop = asyncio.get_running_loop()
        async with self.lock:                          # the head of the line holds the lock
            while True:
                now = loop.time()
                elapsed = 0.0 if self.updated is None else now - self.updated
                self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
                self.updated = now
                if self.tokens >= cost:
                    self.tokens -= cost
                    return
                await asyncio.sleep((cost - self.tokens) / self.rate)

# %% [markdown]
# The package splits the same limiter in two: the pure `token_bucket_step` decides, and
# `AsyncRateLimiter(bucket)` is the async shell that asks it, sleeps and keeps the line. A request
# *script* says when each request arrives and what it costs; `admissions` plays it against any
# `acquire` and records each admission instant on the loop's clock.
#
# **Predict:** with rate 2 and burst 4, when is the cost-4 request at t = 1 admitted? Then run both.

# %%
SCRIPT = [(0.0, 1), (0.0, 2), (0.0, 1), (0.25, 2), (1.0, 1), (1.0, 4), (1.5, 1), (6.0, 2)]

async def admissions(acquire, script: list[tuple[float, float]]) -> list[float]:
    loop = asyncio.get_running_loop()
    async def one(arrival: float, cost: float) -> float:
        await asyncio.sleep(arrival)
        await acquire(cost)
        return loop.time()
    return list(await asyncio.gather(*(one(t, c) for t, c in script)))

plain = Simulation().run(admissions(PlainTokenBucket(rate=2, burst=4).acquire, SCRIPT))
described = Simulation().run(admissions(AsyncRateLimiter(TokenBucket(rate=2, burst=4)).acquire, SCRIPT))
print("plain asyncio:   ", plain)
print("AsyncRateLimiter:", described)
assert plain == described

# %% [markdown]
# The burst (4 tokens) admits the first three requests at t = 0; the cost-2 request at 0.25 waits
# for its second token until t = 1. The cost-4 request needs a full bucket: it waits behind the
# cost-1 request ahead of it and is admitted at t = 3.5; the cost-1 request at t = 1.5 queues behind
# it (t = 4) instead of overtaking. One script is an example; a property checks many:

# %%
scripts = st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 4.0]), st.sampled_from([1, 2, 3, 4])),
                   min_size=1, max_size=12)

@settings(max_examples=100)
@given(script=scripts, rate=st.sampled_from([0.5, 1, 2, 4]))
def plain_and_described_agree(script, rate) -> None:
    plain = Simulation().run(admissions(PlainTokenBucket(rate, burst=4).acquire, script))
    assert plain == Simulation().run(admissions(AsyncRateLimiter(TokenBucket(rate, burst=4)).acquire, script))

plain_and_described_agree()
print("plain asyncio and AsyncRateLimiter admit at the same instants: 100 generated scripts")

# %% [markdown]
# **What the description adds:** the decision is a pure value you can test on any arrival sequence
# without a loop (the next section does), replay, and reason about — the bound in
# [anti-pattern 2](#Anti-pattern-2:-small-requests-overtaking-a-large-one) is derived from it — and
# the limiter keeps its own record (`limiter.admitted`). **What it costs:** two pieces where the
# plain form has one class, and a hand-kept line of futures where the plain form borrows the lock's.
#
# ## Prove the window law with Hypothesis
#
# **The window law.** In every window `[t, t + w]`, the total cost a bucket admits is at most
# `rate · w + burst`: the burst, plus what drips in during the window. `max_window_cost(admitted, w)`
# computes the left side. The course strategy `bucket_arrivals` draws bursty sequences: many requests at one instant, gaps
# of 0 to 3 s, costs up to the burst.
#
# **Predict:** a limiter of rate 10, burst 5, under heavy load: the most it admits in any 1-second
# window? Then run.

# %%
@settings(max_examples=60)
@given(rate=bucket_rates(), burst=bucket_bursts(), window=st.sampled_from([0.0, 0.5, 1.0, 2.5, 10.0]), data=st.data())
def window_law(rate, burst, window, data) -> None:
    arrivals = data.draw(bucket_arrivals(burst))
    admitted = [a for a, d in zip(arrivals, run_bucket(TokenBucket(rate, burst), arrivals)) if d.admitted]
    assert max_window_cost(admitted, window) <= rate * window + burst + 1e-9

window_law()
print("admitted cost in any window <= rate x window + burst: 60 generated examples")

# %%
async def many_callers(limiter: AsyncRateLimiter, callers: int = 10, calls: int = 100) -> None:
    async def caller() -> None:
        for _ in range(calls):
            await limiter.acquire()
    await asyncio.gather(*(caller() for _ in range(callers)))    # the notebook is the shell

shared, sim = AsyncRateLimiter(TokenBucket(rate=10, burst=5)), Simulation()
sim.run(many_callers(shared))
print(f"{len(shared.admitted)} calls admitted by t = {sim.now:g} simulated s;",
      "most in any 1 s window:", max_window_cost(shared.admitted, 1.0))

# %% [markdown]
# Ten callers, 1,000 calls, about 100 simulated seconds and no real waiting. The busiest second
# admitted exactly `10 × 1 + 5`: the law, with equality, at the start when the bucket was full.
#
# ## Give each tenant its own limit
#
# One shared limiter makes tenants compete for the same tokens. `KeyedLimiter(default, overrides)`
# gives every key its own bucket, made on first use: a free tier by default, a paid tier by override.
#
# **Predict:** `noisy`, `quiet` and `gold` each make four calls at t = 0. When is `quiet`'s last
# call admitted? Then run.

# %%
async def per_tenant(keyed: KeyedLimiter, calls: dict[str, int]) -> dict[str, list[float]]:
    loop, seen = asyncio.get_running_loop(), {}
    async def client(key: str, n: int) -> None:
        for _ in range(n):
            await keyed.acquire(key)
            seen.setdefault(key, []).append(loop.time())
    await asyncio.gather(*(client(k, n) for k, n in calls.items()))
    return seen

keyed = KeyedLimiter(TokenBucket(rate=1, burst=1), overrides={"gold": TokenBucket(rate=10, burst=5)})
for key, times in Simulation().run(per_tenant(keyed, {"noisy": 4, "quiet": 4, "gold": 4})).items():
    print(f"{key:>5}: admitted at t = {times}")

# %% [markdown]
# `quiet` sees exactly what it would see alone, whatever `noisy` does — checked as a property:

# %%
@settings(max_examples=30)
@given(hammer=st.integers(0, 200))
def keys_are_independent(hammer: int) -> None:
    seen = Simulation().run(per_tenant(KeyedLimiter(TokenBucket(rate=2, burst=2)), {"noisy": hammer, "quiet": 5}))
    assert seen["quiet"] == [0.0, 0.0, 0.5, 1.0, 1.5]

keys_are_independent()
print("quiet's admissions never depend on noisy's load: 30 generated examples (0 to 200 calls)")

# %% [markdown]
# ## Share a server between tenants
#
# A limiter decides *when* work may start; a **scheduler** decides *who goes next*. A server of
# `capacity` work units per second serves one `Request(tenant, arrival, size)` at a time;
# `simulate_schedule(requests, scheduler, capacity=…)`, a pure simulation, returns the completions.
#
# * `Fifo()` — one line, in arrival order.
# * `RoundRobin()` — one line per tenant, one request from each in turn.
# * `DeficitRoundRobin(quantum, weights)` — each visit adds `quantum × weight` to the tenant's
#   *deficit*; it sends requests while the next one's size fits (Shreedhar and Varghese, 1995).
#
# **Predict:** `heavy` drops eight requests at t = 0, `light` sends one at t = 0.5. Under each
# scheduler, how long does `light` wait? Then run.

# %%
TINY = [Request("heavy", 0.0) for _ in range(8)] + [Request("light", 0.5)]
for scheduler in (Fifo(), RoundRobin(), DeficitRoundRobin(quantum=1)):
    done = simulate_schedule(TINY, scheduler, capacity=1)
    order = " ".join("L" if c.tenant == "light" else "h" for c in done)
    light = next(c for c in done if c.tenant == "light")
    print(f"{scheduler.name:>19}: order {order}   light's latency {light.latency:g} s")

# %% [markdown]
# FIFO: `light` waits behind all eight (8.5 s for a 1-second job). Round robin: `heavy` was already
# back in the rotation when `light` arrived, so `h h L` (2.5 s). DRR: `heavy`'s visit ends when its
# deficit is spent and `light` is next (1.5 s). Same server, same work; only the order changed.
#
# ## Watch a noisy neighbour under FIFO
#
# A minute of traffic on a server of 10 work units a second: `heavy` sends 14 requests a second,
# `light` 1.5, all of size 1, Poisson arrivals from a seeded generator. `simulate_fairness` runs the
# same requests under each scheduler; `fairness_table` prints per tenant what it sent, what was
# served, latency percentiles and Jain's index (next section).
#
# **Predict:** under FIFO, how fast does the line grow (requests per second)? Then run.

# %%
NOISY = [Tenant("heavy", rate=14), Tenant("light", rate=1.5)]
SCHEDULERS = ("FIFO", "round robin", "deficit round robin")
run = simulate_fairness(NOISY, SCHEDULERS, capacity=10, horizon=60, seed=6)
unserved = len(run.requests) - sum(c.finish <= run.horizon for c in run.completions["FIFO"])
print(f"{len(run.requests)} requests, {sum(run.demand().values()):.2f} work/s sent; under FIFO {unserved} still "
      f"waiting at t = {run.horizon:g}: the line grew by {unserved / run.horizon:.2f} requests a second")
print(fairness_table(run))

# %% [markdown]
# The tenants sent 15.45 work/s into a server of 10, and the line grew by about 5.5 requests a
# second — whoever is in it. Under **FIFO** `light` is in it: p95 about 19 s for requests that take
# 0.1 s, and it is served only 0.85 of the 1.32 work/s it sent. Under **round robin** and **DRR** its
# p95 is under 0.6 s and it gets everything it sent; `heavy` loses exactly what `light` gains.
#
# Round robin and DRR serve the *same* amounts here, because every request has size 1: a DRR visit
# with quantum 1 serves exactly one request, which is round robin. They part ways when sizes
# differ — [Weight the tenants](#Weight-the-tenants) shows where.
#
# The figure shows what the table cannot: the same run **over time**. Per tenant, work served per
# second (top) and the p95 latency of the requests finishing in each 3-second window (bottom); the
# panels of a row share one y axis, so the columns compare directly.

# %%
summary = fairness_summary(run)
show_figure(plot_fairness(run, title="A noisy neighbour: heavy floods, light trickles"),
            alt="Per-tenant throughput and p95 latency over 60 virtual seconds under FIFO, round robin and "
                "deficit round robin, latency panels on one shared axis. " + summary.replace(chr(10), "; "))
print(summary)

# %% [markdown]
# Under FIFO both latency curves climb together, from about 5 s to 20 s. Under the fair schedulers
# only `heavy`'s climbs: the overload stays with the tenant that causes it. What fair scheduling did
# **not** fix: `heavy`'s own latency still grows without bound — a scheduler shares capacity, it
# cannot create it. A per-tenant limit at the door bounds it
# ([going further](further/06_rate_limiting_and_fairness.ipynb#Bound-every-latency-with-a-limit-at-the-door)).
#
# ## Measure fairness with Jain's index
#
# Jain's index folds allocations `x₁ … xₙ` into one number, `J = (Σx)² / (n·Σx²)`: the square of the
# total, divided by `n` times the sum of squares. It is 1 when all are equal and falls towards `1/n`
# as one takes everything; it ignores units.
#
# What is `x`? **Not raw throughput**: `light` asked for less, and getting less is not unfair. In
# this course `x` is always **served ÷ fair share**, where the fair share is max-min fair: nobody gets
# more than it asks for, and what modest tenants leave is split between the rest by weight
# (`max_min_shares`). So `J = 1` means every tenant got its weighted fair share.
#
# **Predict:** FIFO served `light` 0.85 of the 1.32 work/s it sent. Is FIFO's `J` nearer 1 or 0.5?
# Then run.

# %%
fair = max_min_shares(run.demand(), run.capacity)
print("fair share (work/s):", {t: round(s, 2) for t, s in fair.items()})
for name in SCHEDULERS:
    x = normalised_throughput(run, name)
    print(f"{name:>19}: served / fair share = {({t: round(v, 3) for t, v in x.items()})}, J = {jain_index(list(x.values())):.3f}")

# %% [markdown]
# FIFO's 0.946 looks high — with two tenants the index cannot fall below 0.5 — but it hides a tenant
# served at 65 % of its fair share. Read it with the per-tenant latency, never alone.
#
# ## Weight the tenants
#
# Plain round robin takes one request per visit: it is fair in *requests*, not in *work*. DRR's
# deficit makes it fair in work, and its `weights` say what each tenant gets **under backlog**.
#
# **Predict:** `big` sends requests of size 4, `small` of size 1, both backlogged. What share of the
# work does `big` get under round robin, and under DRR? Then run.

# %%
SIZED = [Request("big", 0.0, 4.0) for _ in range(50)] + [Request("small", 0.0, 1.0) for _ in range(200)]
for label, scheduler in (("round robin", RoundRobin()), ("DRR", DeficitRoundRobin(quantum=4)),
                         ("DRR, small weighted 3", DeficitRoundRobin(quantum=4, weights={"small": 3}))):
    shares = work_shares(simulate_schedule(SIZED, scheduler, capacity=1), 0, 100)
    print(f"{label:>21}: share of the work in the first 100 s: {shares}")

# %% [markdown]
# Round robin hands `big` four units for every one of `small`'s (0.8). DRR splits the work about
# evenly, and with `small` weighted 3 it gives `small` about three quarters (0.72). The law, over
# generated weights and sizes: after 2,000 s of backlog each share is within 5 % of
# `weight / Σ weights`.

# %%
@settings(max_examples=12)
@given(weights=st.lists(st.sampled_from([1, 2, 3, 4]), min_size=2, max_size=4),
       sizes=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=4, max_size=4))
def drr_shares_follow_the_weights(weights, sizes) -> None:
    tenants = "abcd"[: len(weights)]
    backlog = [Request(t, 0.0, sizes[i]) for i, t in enumerate(tenants) for _ in range(int(2000 / sizes[i]) + 1)]
    done = simulate_schedule(backlog, DeficitRoundRobin(quantum=1, weights=dict(zip(tenants, weights))), until=2000)
    shares = work_shares(done, 0, 2000)
    for t, w in zip(tenants, weights):
        assert abs(shares[t] - w / sum(weights)) <= 0.05 * w / sum(weights)

drr_shares_follow_the_weights()
print("DRR shares under backlog within 5 % of the weights: 12 generated examples")

# %% [markdown]
# ## Drive the instructor's demo
#
# The noisy-neighbour figure under sliders: the number of tenants (1–5), each tenant's arrival
# rate and weight, and the scheduler compared with FIFO. Every change re-simulates a minute of
# traffic and redraws in well under a quarter of a second (`benchmarks/bench_fairness_slider.py`).
# The latency axis is fixed at 0–60 s so the panels stand still while you drag. Try:
#
# 1. Drag `tenant A` from 14 down to 8 req/s: below capacity FIFO is fine too.
# 2. Add tenants: under FIFO they all inherit `A`'s latency; under DRR none does.
# 3. Switch to DRR and give `tenant B` weight 3 at 20 req/s: B takes 3/4 of the server.
#
# The widget needs a running kernel; its logic is `render_fairness(controls)`, which the tests call
# and [going further](further/06_rate_limiting_and_fairness.ipynb) draws for three settings.

# %% tags=["nbval-ignore-output", "instructor-demo"]
# nbval-ignore-output: widget model ids differ per run
fairness_demo()

# %% [markdown]
# ## Measure the cost
#
# | operation | time | memory |
# |---|---|---|
# | `token_bucket_step` | O(1) | O(1): two floats |
# | `AsyncRateLimiter.acquire` | O(1) bucket steps per admission: a refusal, one sleep, an admission | O(waiters) |
# | `KeyedLimiter` | O(1) per call | O(keys seen): bound untrusted keys upstream |
# | FIFO, round robin, DRR: pick the next request | O(1) (DRR amortised, with `quantum ≥` the largest request) | O(queued + tenants) |
# | `simulate_schedule` over `n` requests | O(n log n) to sort arrivals, then O(n) | O(n) |
#
# The measurement counts, not times: bucket steps per admission, and `serve_on_loop`'s trace events,
# as `n` grows a hundredfold.
#
# **Predict:** does a waiting limiter poll? How many bucket steps per admission? Then run.

# %%
class CountingBucket(TokenBucket):
    """A TokenBucket that counts its steps: the probe for the table above."""
    steps = 0
    def step(self, state, now, cost=1.0):
        CountingBucket.steps += 1
        return token_bucket_step(self, state, now, cost)

def measure(n: int) -> list[object]:
    CountingBucket.steps = 0
    Simulation().run(many_callers(AsyncRateLimiter(CountingBucket(rate=10, burst=5)), callers=1, calls=n))
    sim = Simulation()
    sim.run(serve_on_loop([Request("abcd"[i % 4], i / 20) for i in range(n)], DeficitRoundRobin(), capacity=10, trace=sim.trace))
    return [n, CountingBucket.steps, f"{CountingBucket.steps / n:.2f}", len(sim.trace), f"{len(sim.trace) / n:g}"]

print(format_table(["n", "bucket steps", "steps / admission", "server events", "events / request"],
                   [measure(n) for n in (100, 1_000, 10_000)]))

# %% [markdown]
# Just under 2 steps per admission: the burst goes through on one step each, every later admission
# is one refusal that says how long to sleep, then one success — no polling. The server records
# exactly two events per request (arrive, serve). Everything grows linearly in `n`.
#
# ## Fix the anti-patterns
#
# A third anti-pattern, testing a limiter on the wall clock, is lesson 05's: see
# [Run the same retry test on both clocks](05_deterministic_async_testing.ipynb#Run-the-same-retry-test-on-both-clocks).
#
# ### Anti-pattern 1: a global FIFO under a noisy neighbour
#
# `light`'s SLO: 95 % of its requests answered within 1 s. The service uses one FIFO queue for
# everyone, which passed every test while `light` was the only tenant.

# %% tags=["raises-exception"]
SLO = 1.0
def p95_of(scheduler: str, tenant: str) -> float:
    return {s.tenant: s for s in tenant_stats(run.completions[scheduler], run.horizon)}[tenant].p95

assert p95_of("FIFO", "light") <= SLO, f"light's p95 is {p95_of('FIFO', 'light'):.2f} s under one FIFO queue (SLO {SLO:g} s)"

# %% [markdown]
# The fix is the scheduler, not more capacity: same workload, same server, one line per tenant and
# DRR.

# %%
assert p95_of("deficit round robin", "light") <= SLO
print(f"light's p95 under deficit round robin: {p95_of('deficit round robin', 'light'):.2f} s (SLO {SLO:g} s)")

# %% [markdown]
# ### Anti-pattern 2: small requests overtaking a large one
#
# An embedding API charges a token per document; a batch of 8 costs 8. Below is the real
# `aiolimiter.AsyncLimiter` (it reads the loop's clock, so it runs on virtual time) at 8 per second.
# One client sends cost-1 requests back to back; at t = 1 a cost-8 request arrives.
#
# **Predict:** when is the cost-8 request admitted? Then run.

# %%
async def small_and_large(limiter, horizon: float = 120):
    """A client acquires cost 1 back to back; at t = 1 a cost-8 request arrives. Returns
    its wait (None if never admitted by `horizon`) and the cost queued ahead of it."""
    loop, waited = asyncio.get_running_loop(), []
    async def small():
        while True:
            await limiter.acquire(1)
    async def large():
        start = loop.time()
        await limiter.acquire(8)
        waited.append(loop.time() - start)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(small())]
        await asyncio.sleep(1)
        ahead = getattr(limiter, "waiting", 0)
        tasks.append(group.create_task(large()))
        await asyncio.sleep(horizon)
        for task in tasks:
            task.cancel()
    return (waited[0] if waited else None), ahead

starved, _ = Simulation().run(small_and_large(AsyncLimiter(8, 1)))
print("aiolimiter: the cost-8 request waited", "forever" if starved is None else f"{starved:g} s")

# %% tags=["raises-exception"]
assert starved is not None, "starved: the cost-8 request was never admitted in 120 simulated seconds"

# %% [markdown]
# `aiolimiter` (1.3) keeps waiters in a min-heap by amount, and a newcomer that fits takes capacity
# at once. The large request needs a full bucket; a small one always takes a little first. Nothing
# crashes, nothing logs.
#
# **The fix: first come, first served, the head of the line reserves** — what the lock did in
# `PlainTokenBucket` and the line does in `AsyncRateLimiter`. A request of cost `c` finding cost `Q`
# queued ahead can be passed by nobody, and the bucket never overflows while someone waits, so it is
# admitted within `(Q + c) / rate`:

# %%
waited, ahead = Simulation().run(small_and_large(AsyncRateLimiter(TokenBucket(rate=8, burst=8))))
assert waited is not None and waited <= (ahead + 8) / 8
print(f"AsyncRateLimiter: admitted after {waited:g} s; bound (Q + c) / rate = ({ahead} + 8) / 8 = {(ahead + 8) / 8:g} s")

# %% [markdown]
# The same bound as a Hypothesis property, over client counts, costs and both bucket kinds, is in
# [going further](further/06_rate_limiting_and_fairness.ipynb#Prove-the-no-starvation-bound).
#
# ## Test yourself
#
# Answer in the widget (run the cell); the answer key is below it, readable without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("06")

# %%
lesson_answer_key("06")

# %% [markdown]
# ## Exercise
#
# **[Exercise 06 · Rate Limiting and Fairness](../exercises/06_rate_limiting_and_fairness.ipynb)**
# (10 points, with a **Check your work** cell; see [the exercises README](../exercises/README.md)):
# write the token-bucket step, schedule by deficit round robin, compute Jain's index, and give each
# tenant its own limiter in plain asyncio, tested on virtual time.
#
# ## On your own
#
# - Give `PlainTokenBucket` a `waiting` count and a bound check like anti-pattern 2's. What does the
#   lock give you for free, and what would you have to add to cancel a waiter cleanly?
# - Give `light` requests of size 4 in the noisy-neighbour run. Compare round robin and DRR: which
#   still treats `heavy` fairly?
# - Write weighted fair queueing (serve the smallest virtual finish time) as a fourth scheduler and
#   check it against the weighted-shares property.
#
# ## Further reading
#
# - [06 · going further](further/06_rate_limiting_and_fairness.ipynb): the leaky bucket, a bucket
#   figure, more proofs, a limit at the door, the demo without a kernel.
# - M. Shreedhar and G. Varghese, [Efficient Fair Queueing using Deficit Round Robin](https://openscholarship.wustl.edu/cse_research/339) (1995).
# - R. Jain, D. Chiu and W. Hawe, [A Quantitative Measure of Fairness and Discrimination](https://arxiv.org/abs/cs/9809099) (1984).
# - [aiolimiter](https://aiolimiter.readthedocs.io/); Google SRE book, [Handling Overload](https://sre.google/sre-book/handling-overload/).
#
# ## Continue with
#
# **[07 · Async Adapters](07_async_adapters.ipynb)**: ports and adapters that turn a real library's
# exceptions into `Err(ErrInfo)` — where a rate limit meets a real client.

# %% [markdown]
# ---
# [← 05 Deterministic Async Testing](05_deterministic_async_testing.ipynb) · [Contents](00_module_overview.ipynb) · [07 Async Adapters →](07_async_adapters.ipynb)
