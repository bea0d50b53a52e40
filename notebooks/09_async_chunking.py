# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 08 Async Service Integrations](08_async_service_integrations.ipynb) · [Contents](00_module_overview.ipynb) · [10 Async Pipeline Laws →](10_async_pipeline_laws.ipynb)
#
# # 09 · Async Chunking
#
# Many capabilities (an embedding model, a bulk insert) charge a **fixed price per call** and a small
# extra price per item. Batches share the fixed price — but a batch that waits to fill makes its first
# item wait, possibly forever. The rule: **flush when the batch is full or when its first item has
# waited long enough, whichever comes first.** You write it in plain asyncio, then as a pure state
# machine, and measure the trade-off.
#
# **What you'll do**
# - Watch size-only batching stall a trickle, then write a size-or-time batcher with an
#   `asyncio.Queue` and `asyncio.timeout`.
# - Check that your batcher, the package's pure state machine and its live `Stream.batch` agree.
# - Compare batches that leave on a timer with batches a **free replica pulls**, and plot latency
#   against cost.
# - Call a batch capability with `batch_calls`, results in input order, and fix three batching bugs.
#
# **What you'll learn**
# - `BatchPolicy`, the state machine (`batch_offer`, `batch_tick`), `batch_schedule`, `pull_schedule`,
#   `serve_batches`, `batch_calls`, `Stream.batch` — and what they add to the plain batcher.
# - Why the batch clock starts at a batch's first item, and why a free replica should pull its batch.
#
# **What you'll need**
# - Lessons [02](02_async_generators.ipynb) (`Stream`), [03](03_backpressure.ipynb) (queues),
#   [05](05_deterministic_async_testing.ipynb) (`Simulation`), [06](06_rate_limiting_and_fairness.ipynb)
#   (`poisson_arrivals`, `percentile`).
# - About 50 minutes. Deep dives are in the appendix [further/09](further/09_async_chunking.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["09 Async Chunking"]
#   concept --> capstone["Capstone pressure point: lesson 12, chunks embedded in batches through a capability"]
# ```
#
# **Core question.** How do you group items into batches so an expensive capability is called
# rarely — without making any item wait longer than a bound you chose, and without ever handing an
# item someone else's result?
#
# **Why it matters.** A batcher that waits for a full batch freezes a quiet tenant's request; one
# that ignores the model's load floods it with tiny calls at peak; and results in the wrong order
# store document *i* under document *j*'s vector, silently.
#
# **The review question to carry:** *for this batch, what flushes it — size, time, a free replica or
# the end of input — how long can its first item wait, and what ties each result to its item?*

# %% [markdown]
# ## Set up

# %%
import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Sequence

import matplotlib
from hypothesis import given, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    BatchCost, BatchEmbedder, BatchPolicy, BatchState, Flush, Ok, Simulation, Stream, Tenant,
    lesson_answer_key, api_summary, async_gather, async_lift, batch_calls, batch_due, batch_offer,
    batch_schedule, batch_tick, check_stream_laws, course_rc, format_table, hash_embedding, percentile,
    poisson_arrivals, pull_schedule, lesson_quiz, serve_batches, setup, show_figure, stream_from,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | size, time, order | 1 ≤ batch size ≤ `max_size`; no item waits over `max_wait`; flattened, the batches are the items in order | [Prove the batching laws](#Prove-the-batching-laws-with-Hypothesis) |
# | invariant | no idle singleton | a time flush happens exactly `max_wait` after the batch's **first item** | same; [Anti-pattern 1](#Anti-pattern-1:-the-idle-singleton) |
# | law | plain = model = live | your `asyncio.Queue` batcher, `batch_schedule` and `Stream.batch` make the same batches at the same instants | [Batch with a queue](#Batch-with-a-queue-and-a-timeout,-then-with-BatchPolicy), Hypothesis |
# | law | batch / flatten | `s.batch(p).flatten()` runs like `s` | `check_stream_laws`, Hypothesis section |
# | invariant | results in input order | one result per item, in input order; a wrong-sized reply is an `Err` | [Call the capability in batches](#Call-the-capability-in-batches,-results-in-order), [Anti-pattern 3](#Anti-pattern-3:-batches-that-reorder-results) |

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([BatchPolicy, BatchState, Flush, batch_offer, batch_due, batch_tick, batch_schedule,
                   pull_schedule, serve_batches, batch_calls, Stream.batch]))

# %% [markdown]
# ## Price an expensive capability
#
# `BatchEmbedder(BatchCost(0.2, 0.01))` is a fake embedding model on virtual time: every call costs
# 0.2 s plus 0.01 s per text; it counts its calls and the calls in flight. **Predict:** 100 texts, one
# call per text in sequence, four at a time, or in batches of 20 — which cut the *model's* busy time,
# not just the elapsed time? Then run.

# %%
COST = BatchCost(overhead=0.2, per_item=0.01)
TEXTS = [f"doc {i}" for i in range(100)]
rows = []
for label, make in (("one call per text, in sequence", lambda e: async_gather([e.embed([t]) for t in TEXTS], concurrency=1)),
                    ("one call per text, 4 at a time", lambda e: async_gather([e.embed([t]) for t in TEXTS], concurrency=4)),
                    ("batches of 20, in sequence", lambda e: batch_calls(TEXTS, e.embed, size=20, concurrency=1))):
    embedder, sim = BatchEmbedder(COST), Simulation()
    sim.run(make(embedder))
    rows.append([label, len(embedder.calls), f"{sim.now:g}", f"{sum(map(COST.seconds, embedder.calls)):g}"])
print(format_table(["how", "calls", "elapsed (virtual s)", "model busy (virtual s)"], rows))

# %% [markdown]
# Concurrency shortens the elapsed time, not the model's work; batching cuts both. The price: live
# items **arrive** over time, and a batch of 20 makes its first item wait for the other 19.
#
# ## Stop a trickle from stalling
#
# The obvious rule is **size only**: lesson 02's `Stream.chunk(n)`. Here is a trickle — `a` at
# t = 0, `b` at t = 1, a quiet hour, then `c` — and `stamp` records each batch with the virtual time
# the consumer got it. **Predict:** with `chunk(3)` and a one-minute deadline (`Simulation(limit=60)`),
# when does the first batch arrive?

# %%
async def trickle_source():
    yield "a"
    await asyncio.sleep(1)
    yield "b"
    await asyncio.sleep(3600)          # a quiet hour
    yield "c"

trickle = stream_from(trickle_source)

def stamp(batch: tuple) -> Flush:                     # the batch and when the consumer got it
    return Flush(batch, asyncio.get_running_loop().time(), "-")


# %% tags=["raises-exception"]
Simulation(limit=60).run(trickle.chunk(3).map(stamp).take(1).to_list())

# %% [markdown]
# Never, within the minute: at t = 1 the only timer left is an hour away. The opposite rule, **time
# only**, never stalls but ignores size — under a burst of 5,000 items in one second it sends calls
# far past the 64 texts an embedding endpoint accepts. **Size or time, whichever comes first**
# (`BatchPolicy(max_size, max_wait)`) fixes both:

# %%
sim = Simulation(limit=60)
print(sim.run(trickle.batch(BatchPolicy(max_size=3, max_wait=2)).map(stamp).take(1).to_list()), f"at t = {sim.now:g}")
burst = [60 + i / 5000 for i in range(5000)]
for policy in (BatchPolicy(max_size=10**9, max_wait=0.5), BatchPolicy(max_size=64, max_wait=0.5)):
    sizes = [len(f.items) for f in batch_schedule(policy, burst)]
    print(f"{policy}: {len(sizes)} calls under the burst, largest {max(sizes)}")

# %% [markdown]
# ## Batch with a queue and a timeout, then with BatchPolicy
#
# Here is the rule in plain asyncio — the form you will meet in real code. A producer puts item *i*
# on an `asyncio.Queue` at `arrivals[i]`; the batcher takes the first item, computes **its** deadline,
# and keeps taking items under `asyncio.timeout(...)` until the batch is full (`"size"`), the
# deadline passes (`"time"`), or the producer says the input ended (`"end"`).

# %%
END = object()                                       # the producer's "no more items"

async def produce(queue: asyncio.Queue, arrivals: Sequence[float]) -> None:
    loop = asyncio.get_running_loop()
    for i, t in enumerate(arrivals):
        await asyncio.sleep(t - loop.time())
        await queue.put(i)
    await queue.put(END)


# %%
async def plain_batcher(queue: asyncio.Queue, max_size: int, max_wait: float) -> list[Flush]:
    loop, flushes = asyncio.get_running_loop(), []
    while (item := await queue.get()) is not END:
        batch, deadline, reason = [item], loop.time() + max_wait, "size"   # the clock of the FIRST item
        while len(batch) < max_size:
            try:
                if loop.time() >= deadline:                # already due: leave before taking more
                    raise TimeoutError
                async with asyncio.timeout(deadline - loop.time()):
                    item = await queue.get()
            except TimeoutError:
                reason = "time"
                break
            if item is END:
                return [*flushes, Flush(tuple(batch), loop.time(), "end")]
            batch.append(item)
        flushes.append(Flush(tuple(batch), loop.time(), reason))
    return flushes


# %% [markdown]
# **Predict:** 11 items arrive at the times below, with `max_size=3, max_wait=0.5`. Which items go
# together, and which batch leaves by time? Then run the two tasks on virtual time, in a `TaskGroup`.

# %%
ARRIVALS = [0, 0.1, 0.2, 1.0, 1.05, 5, 5.2, 9, 9.1, 9.2, 9.3]
P = BatchPolicy(max_size=3, max_wait=0.5)

async def run_plain(policy: BatchPolicy, arrivals: Sequence[float]) -> list[Flush]:
    queue: asyncio.Queue = asyncio.Queue()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(produce(queue, arrivals))
        batches = tg.create_task(plain_batcher(queue, policy.max_size, policy.max_wait))
    return batches.result()

plain = Simulation().run(run_plain(P, ARRIVALS))
print(plain)

# %% [markdown]
# The package says the same rule as a **pure function** of the arrival times: `batch_schedule(policy,
# arrivals, end=...)` — no queue, no tasks, no clock. Same batches, same instants, same reasons:

# %%
model = batch_schedule(P, ARRIVALS, end=ARRIVALS[-1])
assert plain == model
print("plain asyncio batcher == batch_schedule:", plain == model)

# %% [markdown]
# What the description adds: a value you can print, test on generated traces in milliseconds, and
# price without running anything. What it costs: a second copy of the rule to keep in step with live
# code — so `Stream.batch` is built **on** the same state machine, and Hypothesis checks the equality.
#
# ## Step the state machine by hand
#
# `batch_schedule` runs pure functions that take the time `now` as an argument: `batch_offer` adds an
# item (the **first** one fixes the deadline; the `max_size`-th flushes by size), `batch_due` is the
# deadline, `batch_tick` flushes a batch whose deadline has passed, stamped **at the deadline**.
# **Predict:** after `b` joins at 11.0, is the deadline still 11.5 or 12.5?

# %%
p = BatchPolicy(max_size=3, max_wait=1.5)
flushed, state = batch_offer(p, BatchState(), "a", 10.0)
flushed, state = batch_offer(p, state, "b", 11.0)
print(state, "due", batch_due(p, state))
print("tick at 11.4 ->", batch_tick(p, state, 11.4)[0], "| tick at 12.0 ->", batch_tick(p, state, 12.0)[0])

# %% [markdown]
# The deadline belongs to the first item. When an item arrives, **tick first, then offer**: a batch
# past its deadline leaves *without* the newcomer (the plain batcher's "already due" check).
#
# ### Run the same batches live
#
# `Stream.batch(policy)` drives the same state machine on the loop's clock:

# %%
def arriving(times: Sequence[float]) -> Stream[int]:
    """A stream yielding item i at virtual time times[i]."""
    async def source():
        loop = asyncio.get_running_loop()
        for i, t in enumerate(times):
            await asyncio.sleep(t - loop.time())
            yield i
    return stream_from(source)

live = Simulation().run(arriving(ARRIVALS).batch(P).map(stamp).to_list()).value
print("live == model:", [(f.items, f.at) for f in live] == [(f.items, f.at) for f in model])

# %% [markdown]
# ## Let a free replica pull its batch
#
# `serve_batches(flushes, arrivals, cost)` prices batches on a replica: a flushed batch waits for it
# **as it is** — the timer decided the batches, free replica or not. A model server's dynamic batcher
# (NVIDIA Triton's, for one) works the other way: a replica that comes free **pulls** whatever is
# waiting, up to `max_size`, and waits up to `max_wait` for company only when idle. That is
# `pull_schedule(policy, arrivals, cost)`; each flush is stamped with its call's start.
#
# **Predict:** five items 0.2 s apart, `max_size=3, max_wait=0`, a call takes 1 s. How many calls does
# each model make?

# %%
FIVE, ONE_S = [0, 0.2, 0.4, 0.6, 0.8], BatchCost(overhead=1.0, per_item=0)
for name, flushes in (("timer", batch_schedule(BatchPolicy(3, 0), FIVE)),
                      ("pull when free", pull_schedule(BatchPolicy(3, 0), FIVE, ONE_S))):
    served = serve_batches(flushes, FIVE, ONE_S)
    print(f"{name:>14}: {flushes} | last result at {max(a + l for a, l in zip(FIVE, served.latencies)):g} s")

# %% [markdown]
# On a timer every item is its own call, queued behind the others; pulled, the four items that
# queued up during the first call go in two calls.
#
# ## Draw the latency / throughput trade-off
#
# The workload: 10 requests a second (Poisson, seeded) for two virtual minutes, one replica — which
# needs 210 ms for a lone item and has 100 ms per arrival. **Predict:** as `max_wait` grows from 0
# to 1 s (with `max_size=16`), where do the two models meet? The figure plots p95 latency (left, log
# scale) and model time per item (right) against `max_wait`, for batches on a timer and pulled.

# %%
RATE, HORIZON = 10.0, 120.0
POISSON = [r.arrival for r in poisson_arrivals([Tenant("requests", rate=RATE)], HORIZON, random.Random(9))]

def measure(flushes: list[Flush]) -> dict[str, float]:
    served = serve_batches(flushes, POISSON, COST)
    return {"calls": served.calls, "p95": percentile(served.latencies, 95),
            "ms_per_item": 1000 * served.busy / len(POISSON)}

WAITS = (0, 0.05, 0.1, 0.25, 0.5, 1.0)
GRID = {(name, w): measure(schedule(BatchPolicy(16, w)))
        for w in WAITS for name, schedule in (("timer", lambda p: batch_schedule(p, POISSON)),
                                              ("pull when free", lambda p: pull_schedule(p, POISSON, COST)))}

def plot_tradeoff(grid: dict, waits: Sequence[float]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(11, 4), layout="constrained")
        for ax, key, label in zip(fig.subplots(1, 2), ("p95", "ms_per_item"),
                                  ("p95 latency (virtual s, log)", "model time per item (virtual ms)")):
            for name, marker, line in (("timer", "o", "-"), ("pull when free", "s", "--")):
                ax.plot(waits, [grid[name, w][key] for w in waits], marker=marker, linestyle=line, label=name)
            ax.set(xlabel="max_wait (virtual s), max_size = 16", ylabel=label, yscale="log" if key == "p95" else "linear")
        ax.axhline(1000 / RATE, color="0.3", linestyle=":", label="100 ms per arrival")
        ax.legend()
    return fig


# %%
summary = [[f"{w:g}", *(f"{grid[key]:.2f}" if key == "p95" else f"{grid[key]:.0f}"
                        for name in ("timer", "pull when free") for grid in [GRID[name, w]] for key in ("p95", "ms_per_item"))]
           for w in WAITS]
show_figure(plot_tradeoff(GRID, WAITS), alt="Two panels against max_wait, batches on a timer and pulled: p95 latency "
            "(log) and model ms per item; the lines meet from max_wait 0.25 s. The table below has the values.")
print(format_table(["max_wait (s)", "timer p95 (s)", "timer ms/item", "pulled p95 (s)", "pulled ms/item"], summary))

# %% [markdown]
# - **On a timer, a short `max_wait` is overload**: at `max_wait=0` every item goes alone and p95 is two
#   minutes. That is an artefact of flushing whether or not the replica is free — pulled batches
#   grow with the queue and keep up even at `max_wait=0`.
# - **From `max_wait=0.25` the lines meet**: the replica is idle whenever a batch is due.
# - **Past the knee you trade latency for cost**: from 0.25 s to 1 s, model time per item falls from
#   67 ms to 28 ms while p95 grows from 0.51 s to 1.31 s.
#
# The full grid of `max_size` × `max_wait`, for both models, is in
# [further/09](further/09_async_chunking.ipynb#The-full-policy-grid).
#
# ## Choose a policy for the workload
#
# | workload | what matters | `max_size` | `max_wait` | why |
# |---|---|---|---|---|
# | bulk job (re-embed a corpus) | cost | the largest the capability accepts | irrelevant: items exist | use `batch_calls` over the list |
# | interactive requests | p95 latency | moderate (8–32) | a small share of the budget | under a trickle `max_wait` caps the added latency; under load batches fill |
# | a model server you feed | both | the model's limit | 0 or small | let free replicas pull (`pull_schedule`): batches grow with load |
# | a capability with a token or byte limit | request size | by count **and** weight | as above | a batch of 64 items can still exceed the limit (the exercise's Task 1) |
#
# **`max_wait` is a latency budget you spend on purpose; `max_size` is a capacity knob.**

# %% [markdown]
# ## Call the capability in batches, results in order
#
# When the items already exist, `batch_calls(items, call, size=, concurrency=)` cuts the list into
# batches, runs at most `concurrency` calls at a time (it composes `async_gather`) and returns **one
# result per item, in input order**, whatever order the calls finish in. **Predict:** 40 texts in
# batches of 16 with `concurrency=3` — how many calls, and which one finishes first?

# %%
DOCS = [f"doc {i}" for i in range(40)]
embedder, sim = BatchEmbedder(COST), Simulation()
vectors = sim.run(batch_calls(DOCS, embedder.embed, size=16, concurrency=3)).value
print("calls (texts per call):", embedder.calls, "| peak in flight:", embedder.peak, f"| done at t = {sim.now:g}")
print("every item has its own vector:", all(v == tuple(hash_embedding(d)) for d, v in zip(DOCS, vectors)))

# %% [markdown]
# Three calls, all in flight at once; the last, with 8 texts, is the shortest and finishes first — and
# its vectors still land at positions 32–39. A capability that answers with the wrong number of results
# would shift every later item onto its neighbour's; `batch_calls` refuses with an `Err`:

# %%
def drops_one(texts):                                     # a buggy endpoint: loses the last text of a batch
    return async_lift(lambda: asyncio.sleep(0.1, Ok([tuple(hash_embedding(t)) for t in texts[:-1]])))

print(Simulation().run(batch_calls(DOCS[:6], drops_one, size=3, concurrency=2)))

# %% [markdown]
# ## Prove the batching laws with Hypothesis
#
# Arrivals come from generated gaps — zeros (bursts) and long ones (quiet periods) — that are exact
# binary fractions, so "the same instant" is the same float. (With gaps like 0.1, `now + (t - now)`
# can land one rounding step beside a deadline, and a tie goes the other way.)

# %%
EXAMPLES = Counter()
policies = st.builds(BatchPolicy, st.integers(1, 6), st.sampled_from([0, 0.5, 1.0, 2.0, 5.0]))
gaps = st.lists(st.sampled_from([0, 0, 0.25, 0.5, 1.0, 3.0, 10.0]), max_size=40)

@given(policies, gaps)
def size_time_order_no_idle_singleton(policy, deltas) -> None:
    EXAMPLES["laws"] += 1
    arrivals = list(itertools.accumulate(deltas))
    flushes = batch_schedule(policy, arrivals)
    assert [i for f in flushes for i in f.items] == list(range(len(arrivals)))
    for f in flushes:
        assert 1 <= len(f.items) <= policy.max_size and all(0 <= f.at - arrivals[i] <= policy.max_wait for i in f.items)
        assert (f.at == arrivals[f.items[0]] + policy.max_wait) if f.reason == "time" else len(f.items) == policy.max_size

size_time_order_no_idle_singleton()
print(f"size, time, order, no idle singleton: {EXAMPLES['laws']} examples")


# %% [markdown]
# **Plain = model = live**, deadlines on an arrival included. **Predict:** delete the plain batcher's
# "already due" check — does any example fail? Then try it.

# %%
@given(policies, gaps.filter(bool))
def plain_and_live_match_the_model(policy, deltas) -> None:
    EXAMPLES["plain = model = live"] += 1
    arrivals = list(itertools.accumulate(deltas))
    model = batch_schedule(policy, arrivals, end=arrivals[-1])
    live = Simulation().run(arriving(arrivals).batch(policy).map(stamp).to_list()).value
    assert [(f.items, f.at) for f in live] == [(f.items, f.at) for f in model]
    assert Simulation().run(run_plain(policy, arrivals)) == model

plain_and_live_match_the_model()
print(f"plain asyncio batcher == Stream.batch == batch_schedule: {EXAMPLES['plain = model = live']} examples")

# %% [markdown]
# **Batch then flatten is the identity**: the package's law checker runs the stream laws on generated
# effectful streams and compares both sides by result, effects and elapsed time:

# %%
for report in check_stream_laws(max_examples=30):
    print(report)

# %% [markdown]
# ## Measure the cost of batching
#
# | operation | time | memory (items held) |
# |---|---|---|
# | `batch_schedule`, `pull_schedule` over *n* arrivals | O(*n* · `max_size`) | O(*n*) flushes returned |
# | `Stream.batch(p)` over *n* items | O(*n* · `max_size`) | at most `max_size` held |
# | calls to the capability | between ⌈*n* / `max_size`⌉ and *n* | — |
# | `batch_calls(items, call, size, concurrency)` | ⌈*n* / `size`⌉ calls | at most `concurrency` calls in flight |
#
# **Predict:** items arrive at 100 a second and `max_wait=0.1`. Does the most items the batcher holds
# grow with *n*? The measurement counts, on virtual time, items produced minus items received:

# %%
def held_by_batcher(n: int, policy: BatchPolicy) -> list[int]:
    seen = Counter()
    async def source():
        for i in range(n):
            await asyncio.sleep(0.01)                     # 100 items a second
            seen["produced"] += 1
            seen["held"] = max(seen["held"], seen["produced"] - seen["received"])
            yield i
    def consume(batch):
        seen["received"] += len(batch)
        seen["calls"] += 1
    Simulation().run(stream_from(source).batch(policy).map(consume).to_list())
    return [n, policy.max_size, seen["calls"], seen["held"]]

rows = [held_by_batcher(n, BatchPolicy(max_size=32, max_wait=0.1)) for n in (100, 1_000, 3_000)]
print(format_table(["n items", "max_size", "calls", "most items held"], rows))


# %% [markdown]
# The items held depend on the policy, never on *n*: 11, the item that opened a batch and the ten
# that arrive within 0.1 s.
#
# ## Avoid three batching bugs
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | one timer for the batcher, restarted at each flush | a lone item after a quiet spell | the deadline belongs to the first item |
# | size only behind a live source | a trickle waits for the next busy period | a `max_wait` ([failing and fixed above](#Stop-a-trickle-from-stalling)) |
# | collecting results as calls complete | item *i* gets item *j*'s vector | place results by position: `batch_calls` |
#
# ### Anti-pattern 1: the idle singleton
#
# A common hand-written batcher keeps **one timer for the batcher**, restarted at each flush. After a
# quiet period it has long expired, so the next item is flushed **at once, alone**. **Predict:** two
# items at t = 0, silence, then three at 100, 100.5 and 100.6, with `max_size=3, max_wait=1`. How
# many calls?

# %%
def timer_from_last_flush(policy: BatchPolicy, arrivals: Sequence[float]) -> list[Flush]:
    """A hand-written batcher whose timer starts at the last flush (the bug)."""
    flushes, items, last = [], (), 0.0
    for i, now in enumerate(arrivals):
        if items and now >= last + policy.max_wait:                 # the timer fired while we waited
            last = last + policy.max_wait
            flushes.append(Flush(items, last, "time"))
            items = ()
        items += (i,)
        if len(items) == policy.max_size or now >= last + policy.max_wait:   # full, or "the timer has expired"
            flushes.append(Flush(items, now, "size" if len(items) == policy.max_size else "time"))
            items, last = (), now
    if items:
        flushes.append(Flush(items, last + policy.max_wait, "time"))
    return flushes

QUIET, ONE_WAIT = [0, 0, 100, 100.5, 100.6], BatchPolicy(max_size=3, max_wait=1)
naive = timer_from_last_flush(ONE_WAIT, QUIET)
print(naive)

# %% tags=["raises-exception"]
for f in naive:
    if f.reason == "time":
        assert f.at == QUIET[f.items[0]] + ONE_WAIT.max_wait, (
            f"idle singleton: batch {list(f.items)} left by time at t={f.at:g}, "
            f"{f.at - QUIET[f.items[0]]:g} s after its first item arrived (max_wait is {ONE_WAIT.max_wait:g} s)")

# %% [markdown]
# The fix is the rule the state machine (and your plain batcher) follows: the deadline is set by the
# batch's **first item**. On bursty traffic the bug costs a lone call per burst — measured in
# [further/09](further/09_async_chunking.ipynb#The-idle-singleton-on-bursty-traffic).

# %%
fixed = batch_schedule(ONE_WAIT, QUIET)
assert all(f.at == QUIET[f.items[0]] + ONE_WAIT.max_wait for f in fixed if f.reason == "time")
print(fixed)

# %% [markdown]
# ### Anti-pattern 3: batches that reorder results
#
# (Anti-pattern 2, size only, failed and was fixed in [Stop a trickle from
# stalling](#Stop-a-trickle-from-stalling).) To go faster, a hand-written job starts every batch at
# once and collects the vectors **as the calls complete** (`asyncio.as_completed`). **Predict:** 10
# texts in batches of 4 — do the vector counts reveal the bug?

# %%
async def embed_as_completed(embedder: BatchEmbedder, texts: list[str], size: int) -> list:
    calls = [asyncio.create_task(embedder.embed(texts[i:i + size])()) for i in range(0, len(texts), size)]
    vectors = []
    for done in asyncio.as_completed(calls):
        vectors.extend((await done).value)                  # in completion order: the bug
    return vectors

TEN = [f"doc {i}" for i in range(10)]
shuffled = Simulation().run(embed_as_completed(BatchEmbedder(COST), TEN, 4))
print(len(shuffled), "vectors for", len(TEN), "texts")

# %% tags=["raises-exception"]
owner = {tuple(hash_embedding(t)): t for t in TEN}
wrong = [f"{t} got {owner[v]}'s" for t, v in zip(TEN, shuffled) if v != tuple(hash_embedding(t))]
assert not wrong, f"results reordered: {', '.join(wrong)}"

# %% [markdown]
# The fix is `batch_calls`: same batches, same concurrency, results placed by the batch's *position*:

# %%
ordered = Simulation().run(batch_calls(TEN, BatchEmbedder(COST).embed, size=4, concurrency=3)).value
assert all(v == tuple(hash_embedding(t)) for t, v in zip(TEN, ordered))
print(f"{len(ordered)} vectors, each its own text's")

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("09")

# %%
lesson_answer_key("09")

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 09 · Async Chunking](../exercises/09_async_chunking.ipynb)**
# (10 points), with a **Check your work** cell that runs the grader's checks (see
# [the exercises README](../exercises/README.md)):
#
# 1. **Batch by count, tokens or time** — `token_batches(policy, max_tokens, arrivals)`: the state
#    machine with a per-request token limit.
# 2. **Put results back in order** — `embed_in_order(embedder, docs, size, concurrency)`: answers come
#    as `(id, vector)` pairs in any order.
# 3. **Choose a policy for a latency budget** — `choose_policy(arrivals, p95_budget)`: the fewest calls
#    within a p95 budget.
#
# ## On your own
#
# - Re-draw the figure with `replicas=2` in both `pull_schedule` and `serve_batches`. Which timer
#   policies stop being overloaded?
# - Write the pull model live: a replica task that, when free, drains the queue with `get_nowait()` up
#   to `max_size`. Does it match `pull_schedule` on virtual time?
#
# ## Further reading
#
# - Nagle's algorithm, [RFC 896](https://www.rfc-editor.org/rfc/rfc896): TCP batches small writes
#   **without a timer** — it holds them while earlier data is unacknowledged and sends when the ACK
#   arrives or a full segment is ready: "send when the pipe comes free", the pull model of this
#   lesson. The timer belongs to the receiver's *delayed ACK* ([RFC 1122
#   §4.2.3.2](https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.2), up to 500 ms); the two together
#   stall request/response traffic, which is why the course's loopback server sets `TCP_NODELAY`.
# - Apache Kafka producer: [`batch.size` and `linger.ms`](https://kafka.apache.org/documentation/#producerconfigs_linger.ms).
# - NVIDIA Triton Inference Server,
#   [dynamic batching](https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/model_configuration.html#dynamic-batcher)
#   (`max_queue_delay_microseconds`, preferred batch sizes) — batches formed when a model instance is free.
# - Python docs: [`asyncio.timeout`](https://docs.python.org/3/library/asyncio-task.html#asyncio.timeout),
#   [`asyncio.Queue`](https://docs.python.org/3/library/asyncio-queue.html) and
#   [`asyncio.as_completed`](https://docs.python.org/3/library/asyncio-task.html#asyncio.as_completed).
#
# ## Continue with
#
# **[10 · Async Pipeline Laws](10_async_pipeline_laws.ipynb)**: the laws you checked here join the monad
# laws and the laws of gather in one law checker.

# %% [markdown]
# ---
# [← 08 Async Service Integrations](08_async_service_integrations.ipynb) · [Contents](00_module_overview.ipynb) · [10 Async Pipeline Laws →](10_async_pipeline_laws.ipynb)
