# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 09 Async Chunking](../09_async_chunking.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 09 · Async Chunking — going further
#
# Optional deep dives for [lesson 09](../09_async_chunking.ipynb): the full policy grid for batches
# on a timer and batches pulled by a free replica, the idle-singleton bug measured on bursty traffic,
# the calls a rate-limited API sees, and how `batch_calls` scales with its concurrency. Every number
# is computed on virtual time or by the package's pure models, so it is the same on every run.

# %%
import random

from funcpipe_async import (
    BatchCost, BatchEmbedder, BatchPolicy, Flush, Simulation, Tenant, batch_calls, batch_schedule,
    format_table, percentile, poisson_arrivals, pull_schedule, serve_batches, setup,
)

setup()
COST = BatchCost(overhead=0.2, per_item=0.01)
RATE, HORIZON = 10.0, 120.0
POISSON = [r.arrival for r in poisson_arrivals([Tenant("requests", rate=RATE)], HORIZON, random.Random(9))]

# %% [markdown]
# ## The full policy grid
#
# The lesson's workload (10 Poisson arrivals a second for two virtual minutes, one replica) under
# every `max_size` × `max_wait`, for both ways of feeding the replica. Read it for three things: no
# batching (`max_size=1`) is overloaded either way; on a timer a short `max_wait` is overloaded too,
# while pulled batches keep up; and once a batch never fills within `max_wait` (here from
# `max_size=16`), a larger `max_size` changes almost nothing.

# %%
def measure(flushes: list[Flush]) -> list[str]:
    served = serve_batches(flushes, POISSON, COST)
    return [str(served.calls), f"{percentile(served.latencies, 50):.2f}", f"{percentile(served.latencies, 95):.2f}",
            f"{1000 * served.busy / len(POISSON):.1f}"]

rows = []
for size in (1, 2, 4, 8, 16, 32, 64):
    for wait in (0, 0.05, 0.1, 0.25, 0.5, 1.0):
        policy = BatchPolicy(size, wait)
        rows.append([size, f"{wait:g}", *measure(batch_schedule(policy, POISSON)),
                     *measure(pull_schedule(policy, POISSON, COST))])
print(format_table(["max_size", "max_wait", "timer calls", "p50", "p95", "ms/item",
                    "pulled calls", "p50", "p95", "ms/item"], rows))

# %% [markdown]
# ## The idle singleton on bursty traffic
#
# Six items within 0.3 s, every 4 s: a quiet gap before every burst. The batcher whose timer starts
# at the last flush (the lesson's anti-pattern 1) sends the first item of each burst alone.

# %%
def timer_from_last_flush(policy: BatchPolicy, arrivals: list[float]) -> list[Flush]:
    """The lesson's buggy batcher: one timer for the batcher, restarted at each flush."""
    flushes, items, last = [], (), 0.0
    for i, now in enumerate(arrivals):
        if items and now >= last + policy.max_wait:
            last = last + policy.max_wait
            flushes.append(Flush(items, last, "time"))
            items = ()
        items += (i,)
        if len(items) == policy.max_size or now >= last + policy.max_wait:
            flushes.append(Flush(items, now, "size" if len(items) == policy.max_size else "time"))
            items, last = (), now
    if items:
        flushes.append(Flush(items, last + policy.max_wait, "time"))
    return flushes

rng = random.Random(5)
bursty = sorted(start + rng.uniform(0, 0.3) for start in [4.0 * k for k in range(200)] for _ in range(6))
rows = []
for name, flushes in (("timer from last flush", timer_from_last_flush(BatchPolicy(8, 0.5), bursty)),
                      ("batch_schedule", batch_schedule(BatchPolicy(8, 0.5), bursty))):
    rows.append([name, len(flushes), sum(len(f.items) == 1 for f in flushes),
                 f"{1000 * sum(COST.seconds(len(f.items)) for f in flushes) / len(bursty):.1f}"])
print(format_table(["batcher", "calls", "batches of one", "model ms per item"], rows))

# %% [markdown]
# ## Calls a rate-limited API sees
#
# An API that allows 5 calls a second, at 10 arrivals a second. Time flushes are at least `max_wait`
# apart and full batches take `max_size` items each, so calls per second stay under
# `1 / max_wait + rate / max_size`. The busiest one-second window, counted:

# %%
LIMIT = 5
for policy in (BatchPolicy(max_size=4, max_wait=0.1), BatchPolicy(max_size=64, max_wait=0.25)):
    sent = [f.at for f in batch_schedule(policy, POISSON)]
    busiest = max(sum(t <= s < t + 1 for s in sent) for t in sent)
    bound = 1 / policy.max_wait + RATE / policy.max_size
    print(f"{policy}: bound {bound:.2f} calls/s, busiest second {busiest} calls -> "
          f"{'within' if busiest <= LIMIT else 'over'} the limit of {LIMIT}/s")

# %% [markdown]
# ## `batch_calls` and its concurrency
#
# 300 texts in batches of 10 are 30 calls, whatever the concurrency; the peak in flight never passes
# the bound, and the elapsed time falls as it grows.

# %%
rows = []
for concurrency in (1, 2, 4, 8):
    embedder, sim = BatchEmbedder(COST), Simulation()
    sim.run(batch_calls([f"t{i}" for i in range(300)], embedder.embed, size=10, concurrency=concurrency))
    rows.append([concurrency, len(embedder.calls), embedder.peak, f"{sim.now:g}"])
print(format_table(["concurrency", "calls", "peak in flight", "elapsed (virtual s)"], rows))

# %% [markdown]
# ---
# [← back to 09 Async Chunking](../09_async_chunking.ipynb) · [Contents](../00_module_overview.ipynb)
