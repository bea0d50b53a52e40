# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 02 Async Generators](02_async_generators.ipynb) · [Contents](00_module_overview.ipynb) · [04 Retry and Timeout Policies →](04_retry_and_timeout_policies.ipynb)
#
# # 03 · Backpressure
#
# A pipeline is stages joined by queues. When the producer is faster than a stage, the difference
# has to go somewhere. With an **unbounded** queue it goes into memory, silently, until the process
# dies. **Backpressure** is the other answer: bound every queue and decide what a full queue does —
# make the producer wait (`suspend`), drop the newest item, drop the oldest, or fail — so the
# pressure travels back to the source. Everything runs on **virtual time**: a minute of overload
# costs milliseconds and prints the same numbers every run.
#
# **What you'll do**
# - Write a bounded pipeline by hand with `asyncio.Queue(maxsize=…)` and worker tasks in an
#   `asyncio.TaskGroup`, then describe the same pipeline as data and check both give the same trace.
# - Compare the four overflow strategies as queue depth over time, and measure memory.
# - Read Little's law backwards to size a queue, and move the instructor's sliders.
#
# **What you'll learn**
# - `QueuePolicy` (capacity + overflow), `Stage` (a step with `workers`), `pipeline(...)`, `BoundedQueue`.
# - Which strategy fits which pressure, and what a bigger buffer does and does not buy.
#
# **What you'll need**
# - Lessons [01](01_async_await_as_descriptions.ipynb) (`AsyncPlan`, `Result`, the shell) and
#   [02](02_async_generators.ipynb) (pull-based streams, the eager producer).
# - `Simulation`, the virtual clock of lesson [05](05_deterministic_async_testing.ipynb), as a tool.
#   About 50 minutes. Cancellation, end of stream and per-strategy tables are in
#   [further/03](further/03_backpressure.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["03 Backpressure"]
#   concept --> capstone["Capstone pressure point: lesson 12, a chunker faster than the embedder"]
# ```
#
# ```mermaid
# flowchart LR
#   source["source"] -->|"queue: capacity 4, suspend"| resize["resize ×1"]
#   resize -->|"queue: capacity 4, suspend"| save["save ×2"]
#   save --> out["report"]
#   resize -. "full: put waits" .-> source
#   save -. "full: put waits" .-> resize
# ```
#
# The running example: solid arrows carry items, dotted arrows carry **pressure** — when a queue is
# full, the stage before it waits.
#
# **Core question.** When one stage of a pipeline is faster than the next, where does the
# difference go — and how do you make that choice explicit, bounded and testable?
#
# **Why it matters.** An unbounded queue hides overload until memory runs out; `asyncio.gather` over
# a million inputs makes a million tasks; `put_nowait` in a loop raises `QueueFull` deep inside a
# worker. Each looks fine in a small test. With bounded queues, overload behaviour is a value you
# read in review (`QueuePolicy(8, "drop_oldest")`) and a number you assert (max depth ≤ 8).
#
# **The review question to carry:** *for this queue, what is its bound, what happens when it is
# full, and who finds out?*

# %% [markdown]
# ## Set up
#
# `Simulation().run(...)` drives a plan or coroutine on virtual time; `sim.trace`, passed as a
# pipeline's `probe`, records every queue's depth, drops and waits.

# %%
import asyncio
import tracemalloc

from hypothesis import given, strategies as st

from funcpipe_async import (
    BoundedQueue, ErrInfo, Ok, QueueClosed, QueuePolicy, Result, Simulation, Stage,
    lesson_answer_key, api_summary, async_gather, async_lift, backpressure_demo, backpressure_summary,
    depth_series, format_table, littles_law, paced, pipeline, plot_strategies, plot_unbounded_vs_bounded,
    plot_wait_vs_capacity, lesson_quiz, render_backpressure, setup, show_figure, simulate_backpressure,
    strategies_summary, unbounded_vs_bounded_summary, wait_vs_capacity_summary,
)

setup()

def now() -> float:
    return asyncio.get_running_loop().time()


# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live) |
# |---|---|---|---|
# | invariant | depth ≤ capacity | a bounded queue never holds more than its capacity | Hypothesis — [Prove the invariants](#Prove-the-invariants-with-Hypothesis); every figure's summary |
# | invariant | conservation | per queue, `offered == taken + dropped`: items in = items out + drops | Hypothesis — same section; [Compare the four strategies](#Compare-the-four-strategies-on-one-queue) |
# | invariant | suspend is lossless and ordered | under `suspend` with one worker per stage, every item comes out, in order | Hypothesis — same section |
# | invariant | fail is a value | a `fail` queue's overflow ends the pipeline with `Err(QUEUE_FULL)` | [Feel each strategy on one queue](#Feel-each-strategy-on-one-queue) |
# | invariant | nothing lost, nothing left | a cancelled get or put loses nothing; no worker outlives the pipeline | [further/03](further/03_backpressure.ipynb) |
# | law | Little's law | mean number in queue L = arrival rate λ × mean wait W | [Read Little's law backwards](#Read-Little's-law-backwards) |

# %% [markdown]
# ## Decide which strategy fits which pressure
#
# | the pressure | strategy | why |
# |---|---|---|
# | lossless work: payments, orders, files | `suspend` | the producer waits; the pressure reaches the source |
# | latest-value telemetry: sensors, prices | `drop_oldest` | a sliding window: the newest `capacity` items survive |
# | load shedding at the edge: an API | `drop_newest` or `fail` | refuse new work early; `fail` tells the caller (HTTP 503) |
# | a batch job whose input should never overflow | `fail` | the run stops with `Err(QUEUE_FULL)` naming the queue |
#
# **Rule:** bound every queue. Pick the strategy from what the items are worth when late; size the
# capacity from the latency you can afford.

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([QueuePolicy, Stage, pipeline, paced, BoundedQueue, littles_law, depth_series]))

# %% [markdown]
# ## Bound a queue by hand
#
# The plain-asyncio form first. A source yields an image every 0.5 s; `resize` takes 1 s — the source
# is **twice as fast**. Between them, `asyncio.Queue(maxsize=4)`: `await queue.put(x)` waits while the
# queue is full. The producer and the workers are tasks in an `asyncio.TaskGroup`; at the end the
# group waits until every item is done (`queue.join()`, counted by `task_done()`) and cancels the
# workers, which otherwise wait in `get()` for ever. `depth` records `qsize()` after every put and get.

# %%
async def by_hand(items, every: float, service: float, capacity: int, workers: int = 1):
    queue: asyncio.Queue = asyncio.Queue(maxsize=capacity)
    depth, out = [], []

    async def produce() -> None:
        for x in items:
            await asyncio.sleep(every)
            await queue.put(x)                   # waits while the queue is full
            depth.append((now(), queue.qsize()))

    async def work() -> None:
        while True:
            x = await queue.get()
            depth.append((now(), queue.qsize()))
            await asyncio.sleep(service)         # resize one image
            out.append(x)
            queue.task_done()

    async with asyncio.TaskGroup() as group:     # the notebook is a shell: it may start tasks
        producer = group.create_task(produce())
        pool = [group.create_task(work()) for _ in range(workers)]
        await producer
        await queue.join()                       # every item taken and done
        for task in pool:
            task.cancel()                        # end of stream: stop the idle workers
    return out, depth


# %% [markdown]
# **Predict:** 30 images. What is the queue's largest depth, and when does the run end? Then run.

# %%
plain = Simulation()
plain_out, plain_depth = plain.run(by_hand(range(30), every=0.5, service=1.0, capacity=4))
print(f"items out: {len(plain_out)}, in order: {plain_out == list(range(30))}; "
      f"max depth {max(d for _, d in plain_depth)}; finished at t={plain.now:g} s")
print("depth:", " ".join(f"{t:g}:{d}" for t, d in plain_depth[:14]), "…")

# %% [markdown]
# The depth climbs to 4 by t = 4 s and stays there; the run ends when `resize` has done 30 seconds of
# work. Nothing is lost, and the source simply waited.
#
# ## Describe the same pipeline
#
# `pipeline(source, stages)` is a **description** of exactly that: `paced(range(30), every=0.5)` is the
# source, each `Stage` names its step, its workers and the `QueuePolicy` of the queue in front of it.
# Building it runs nothing; it prints its whole shape. `work(name, seconds)` makes a step that takes
# `seconds` of the loop's clock.

# %%
def work(name: str, seconds: float):
    def step(item):
        async def run() -> Result[object, ErrInfo]:
            await asyncio.sleep(seconds)
            return Ok(item)
        return async_lift(run)
    step.__qualname__ = name
    return step

images = paced(range(30), every=0.5)
described = pipeline(images, [Stage("resize", work("resize", 1.0), queue=QueuePolicy(4))])
print(described)

# %% [markdown]
# **Predict:** driven with a probe, does it give the same items, the same end time and the *same
# depth trace*, change for change? Then run.

# %%
sim = Simulation()
report = sim.run(pipeline(images, described.stages, probe=sim.trace)).value
assert list(report.items) == plain_out and sim.now == plain.now
assert depth_series(sim.trace, "resize") == plain_depth
print(f"same items, same end (t={sim.now:g} s), same {len(plain_depth)} depth changes; "
      f"the source waited {report.queues[0].put_waits} times")

# %% [markdown]
# **What the description adds:** the bound and the strategy are data you can print, compare and
# review; end of stream, worker shutdown and counters are written once, in the package; and the same
# value replays for a test or a figure. **What it costs:** a layer between you and `asyncio.Queue` —
# you read `Stage(…, queue=QueuePolicy(4))` instead of the loop, and its `Err` values instead of
# exceptions. The plain form above is what it does; you should be able to write both.
#
# ## Watch an unbounded queue grow
#
# The running example, two stages: `resize` (1 s) then `save` (0.25 s, 2 workers). The same stages
# twice; only the queue policy differs: unbounded, then `QueuePolicy(4)` in front of each.
#
# **Predict:** the largest depth of `resize`'s queue when unbounded? Then run.

# %%
for policy in (QueuePolicy.unbounded(), QueuePolicy(4)):
    stages = [Stage("resize", work("resize", 1.0), queue=policy),
              Stage("save", work("save", 0.25), workers=2, queue=policy)]
    sim = Simulation()
    report = sim.run(pipeline(images, stages)).value
    print(report.table(), f"\nfinished at t={sim.now:g} s; items out: {report.items_out}\n")

# %% [markdown]
# Unbounded, half of all images waited at once (15 of 30); with 30,000 it would be 15,000. Bounded,
# the depth stops at 4 and the source's put waited instead. Both finish at the same time: `resize`
# was always the bottleneck; the bound only decides *where* the backlog waits.
#
# ## Feel each strategy on one queue
#
# `BoundedQueue` is the queue the pipeline uses; you can drive one directly. `put` returns `Ok(True)`
# (accepted), `Ok(False)` (dropped) or an `Err`.
#
# **Predict:** offer 0, 1, 2, 3, 4 to a queue of capacity 3 under `drop_newest`, `drop_oldest` and
# `fail`. What is left in each? Then run.

# %%
async def offer_five(overflow: str):
    queue = BoundedQueue(QueuePolicy(3, overflow), "q")
    answers = [await queue.put(i) for i in range(5)]
    queue.close()
    kept = []
    while True:
        try:
            kept.append(await queue.get())
        except QueueClosed:
            return answers, kept

for overflow in ("drop_newest", "drop_oldest", "fail"):
    answers, kept = Simulation().run(offer_five(overflow))
    short = ["ok" if a == Ok(True) else "dropped" if a == Ok(False) else a.error.code for a in answers]
    print(f"{overflow:<12} answers {short}  kept {kept}")


# %% [markdown]
# `drop_newest` keeps the first three, `drop_oldest` the last three, and `fail` answers the 4th offer
# with `Err(QUEUE_FULL)` — a value. (`suspend` would wait for a `get` that never comes.) In a
# pipeline, `fail` ends the run with that `Err`, naming the queue:

# %%
sim = Simulation()
print(sim.run(pipeline(images, [Stage("resize", work("resize", 1.0), queue=QueuePolicy(4, "fail"))])),
      f"at t={sim.now:g} s")

# %% [markdown]
# ## Compare the four strategies on one queue
#
# `simulate_backpressure(producer_rate, consumer_rate, capacity, strategy)` runs one producer into one
# consumer through one queue for 60 virtual seconds: random arrivals at the producer's rate, random
# service times at the consumer's, from the simulation's seeded generator; each item carries its own
# service time. Here 8 items/s into 5/s — 60 % overload — with capacity 10.
#
# **Predict:** which strategies drop, and do the two drop strategies drop the same number? Then run.

# %%
runs = [simulate_backpressure(8, 5, 10, strategy) for strategy in ("suspend", "drop_newest", "drop_oldest", "fail")]
show_figure(plot_strategies(runs), alt=(
    "Four panels of queue depth against virtual seconds 0 to 60, capacity 10 dashed. suspend: rises to 10 "
    "and stays there, no drops. drop_newest and drop_oldest: between about 5 and 10 with crosses "
    "marking drops all along. fail: rises to 10 and ends at 3.9 s at a dotted line."))
print(strategies_summary(runs))

# %% [markdown]
# Every panel stays at or under 10. `suspend` drops nothing: its producer offered fewer items because
# it was made to wait. The two drop strategies saw the same 463 offers but dropped **127 and 145** —
# close, not equal: they serve different items (`drop_newest` the oldest waiting, `drop_oldest` the
# freshest), each with its own random service time, so the consumer got through 326 items under one
# and 309 under the other. `fail` stopped at the first overflow, at 3.9 s. Conservation holds in every row:

# %%
for run in runs:
    assert run.produced == run.served + run.dropped + run.held and run.max_depth <= run.capacity
print("offered = served + dropped + held, and depth ≤ capacity, for all four runs")

# %% [markdown]
# ## Keep memory bounded
#
# The same 8-into-5 overload, unbounded against `suspend` with capacity 10. The right panel is
# **computed**, not measured: depth × 1 KiB, as if each item held 1 KiB. The measurement is in
# [Measure the cost of a queue](#Measure-the-cost-of-a-queue).
#
# **Predict:** how many items does the unbounded queue hold after 60 s? Then run.

# %%
unbounded_run = simulate_backpressure(8, 5, 10, "unbounded")
show_figure(plot_unbounded_vs_bounded(unbounded_run, runs[0]), alt=(
    f"Two panels against virtual seconds: items in queue, and depth times 1 KiB. The unbounded queue rises "
    f"steadily to {unbounded_run.held} items at 60 s; the bounded queue is flat at 10 items."))
print(unbounded_vs_bounded_summary(unbounded_run, runs[0]))

# %% [markdown]
# 143 items after 60 s: it grows at about the difference of the rates (2.4 items/s here), for as long
# as the overload lasts. Bounding it does not make the consumer faster; it decides where the excess
# goes instead of letting memory decide.
#
# ## Read Little's law backwards
#
# **Little's law**: over a window, the mean number in a queue L equals the arrival rate λ times the
# mean time an item spends in it W. `littles_law` measures all three from the probe's events. On the
# `resize` queue of the bridge:

# %%
sim = Simulation()
sim.run(pipeline(images, described.stages, probe=sim.trace))
print(littles_law(sim.trace, "resize"))

# %% [markdown]
# L and λW agree to the last digit — **by construction**: measured over a window that starts with
# the queue empty, the area under the depth curve *is* the sum of the waits, so L = area / T and
# λW = (n / T) × (area / n) are the same number. Checking it is checking the bookkeeping, not
# discovering anything. The law earns its keep read **backwards**: W = L / λ. Under `suspend`
# overload the queue sits near its capacity C and the consumer sets the pace (λ ≈ μ, its service
# rate), so **W ≈ C / μ** — a latency budget becomes a capacity.
#
# **Predict:** doubling the capacity from 10 to 20 (producer 8/s, consumer 5/s) — does the mean wait
# double? Then run.

# %%
capacities = (2, 5, 10, 20, 40)
suspend_runs = [simulate_backpressure(8, 5, c, "suspend") for c in capacities]
waits = [r.law.mean_wait for r in suspend_runs]
show_figure(plot_wait_vs_capacity(capacities, waits, 5), alt=(
    "Measured mean wait against queue capacity 2 to 40, under a dashed line C/μ from 0 to 8 s: the points "
    "0.37, 0.91, 1.77, 3.29 and 5.72 s stay just under the line for small capacities and fall further below it."))
print(wait_vs_capacity_summary(capacities, waits, 5))
print("served in 60 s:", [r.served for r in suspend_runs])

# %% [markdown]
# Nearly: 1.77 s → 3.29 s, ×1.86. Every measured W is under C/μ, close for a small buffer that is
# always full and further below for a big one, which spends its first seconds filling. And the
# consumer served exactly 320 items whatever the capacity: under sustained overload a bigger buffer
# buys only waiting. Buffers absorb *bursts*; they cannot fix a rate mismatch.
#
# ## Scale a stage with workers
#
# `Stage(..., workers=n)` runs `n` copies of the step on one queue.
#
# **Predict:** with the source at 2 images/s and `resize` at 1 s, how many workers keep the queue
# from filling? Then run.

# %%
rows = []
for n in (1, 2, 4):
    sim = Simulation()
    r = sim.run(pipeline(images, [Stage("resize", work("resize", 1.0), workers=n, queue=QueuePolicy(4))])).value
    rows.append([n, f"{sim.now:g}", r.max_depth["resize"], r.queues[0].put_waits])
print(format_table(["workers", "finished at s", "max depth", "put waits"], rows))


# %% [markdown]
# Two: the stage then takes 2 items/s, as fast as they come; four add nothing. With
# several workers items may finish out of order; `pipeline(..., ordered=True)` restores source order
# ([further/03](further/03_backpressure.ipynb)).
#
# ## Move the sliders
#
# The instructor's demo: producer rate, consumer rate, capacity and strategy; every move re-runs
# `simulate_backpressure` on virtual time and redraws. Try: producer below consumer, then just above
# it; `drop_oldest` with capacity 1; `unbounded` with a 12/s producer.

# %% tags=["nbval-ignore-output", "instructor-demo"]
# nbval-ignore-output: widget model ids differ per run
backpressure_demo(producer_rate=6, consumer_rate=5, capacity=10, strategy="drop_oldest")

# %% [markdown]
# Without a kernel, the same figure for the sliders' starting position:

# %%
start = simulate_backpressure(6, 5, 10, "drop_oldest")
show_figure(render_backpressure(start), alt=(
    f"Queue depth against virtual seconds 0 to 60 for drop_oldest, capacity 10: bursts up to the capacity "
    f"with {start.dropped} drops marked by crosses, and quiet stretches near zero."))
print(backpressure_summary(start))

# %% [markdown]
# ## Prove the invariants with Hypothesis
#
# Each property builds a pipeline from drawn settings — a policy, an arrival interval, a service time,
# a number of items and of workers — and drives it on a fresh `Simulation`.

# %%
scenarios = st.tuples(
    st.builds(QueuePolicy, st.integers(1, 6), st.sampled_from(["suspend", "drop_newest", "drop_oldest"])),
    st.sampled_from([0.25, 0.5, 1.0]),       # seconds between arrivals
    st.sampled_from([0.25, 0.5, 1.0, 2.0]),  # seconds per item in the stage
    st.integers(0, 40),                      # items
    st.integers(1, 3),                       # workers
)

def drive(case):
    policy, every, service, n, workers = case
    sim = Simulation()
    plan = pipeline(paced(range(n), every), [Stage("a", work("a", service), workers, policy)], probe=sim.trace)
    return sim.run(plan).value, sim.trace


# %% [markdown]
# **Depth never exceeds capacity** (every recorded change), and **conservation**: items in = items out + drops.

# %%
@given(scenarios)
def depth_bounded_and_items_conserved(case) -> None:
    report, trace = drive(case)
    assert all(depth <= case[0].capacity for _, depth in depth_series(trace, "a"))
    assert report.items_in == report.items_out + sum(report.drops.values()) == case[3]
    assert all(q.offered == q.taken + q.dropped for q in report.queues)

depth_bounded_and_items_conserved()
print("depth ≤ capacity and items in = items out + drops: passed")


# %% [markdown]
# **Suspend loses nothing and keeps order** (one worker per stage):

# %%
@given(items=st.lists(st.integers(), max_size=30), capacity=st.integers(1, 5),
       every=st.sampled_from([0.0, 0.5, 1.0]), service=st.sampled_from([0.25, 1.0, 3.0]))
def suspend_is_lossless_and_ordered(items, capacity, every, service) -> None:
    two_stages = [Stage("a", work("a", service), queue=QueuePolicy(capacity)),
                  Stage("b", work("b", service / 3), queue=QueuePolicy(capacity))]
    assert Simulation().run(pipeline(paced(items, every), two_stages)).value.items == tuple(items)

suspend_is_lossless_and_ordered()
print("suspend: every item, in order: passed")


# %% [markdown]
# ## Measure the cost of a queue
#
# | operation | time | memory |
# |---|---|---|
# | `QueuePolicy`, `Stage`, `pipeline(...)` | O(1) per stage | O(stages) — a description |
# | `put` / `get` on a `BoundedQueue` | O(1) amortized | O(1) per item held |
# | a bounded pipeline over `n` items | O(n × stages) steps | **O(Σ capacities + workers)**, independent of `n` |
# | an unbounded pipeline, producer faster | O(n × stages) | **O(n)** — the backlog |
#
# Measured, not computed: `tracemalloc`'s peak while a source of `n` items of 1 KiB each (`bytes(1024)`)
# floods a 1 s stage, unbounded against capacity 8 (one warm-up run first, so the interpreter's own
# first allocations are not counted; rounded to 10 KiB).
#
# **Predict:** the bounded queue's peak at 2,000 items? Then run.

# %%
def kib_items(n: int):
    async def items():
        for _ in range(n):
            yield bytes(1024)
    return items

def peak_kib(n: int, policy: QueuePolicy) -> int:
    plan = pipeline(kib_items(n), [Stage("a", work("a", 1.0), queue=policy)], collect=False)
    tracemalloc.start()
    Simulation().run(plan)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return round(peak / 1024, -1)

peak_kib(250, QueuePolicy(8))                                      # warm-up
sizes = (250, 500, 1_000, 2_000)
print(format_table(["queue"] + [f"n={n:,}" for n in sizes],
                   [[label] + [f"{peak_kib(n, policy):,.0f} KiB" for n in sizes]
                    for label, policy in (("unbounded", QueuePolicy.unbounded()), ("capacity 8", QueuePolicy(8)))]))

# %% [markdown]
# The unbounded peak grows with `n`, about 1 KiB per item: every item was queued at once. The bounded
# peak is flat: 8 items and the pipeline's own bookkeeping, whatever `n` is.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | an unbounded queue between stages | depth and memory grow with the backlog | `QueuePolicy(capacity, overflow)` on every queue |
# | `asyncio.gather` over an unbounded input | one task per item, all at once | `async_gather(plans, concurrency=n)` or a bounded pipeline |
# | `put_nowait` in a loop | `QueueFull` from deep inside a worker, or items silently lost | a policy: `drop_newest` counts drops, `fail` returns `Err(QUEUE_FULL)` |
#
# ### Anti-pattern 1: an unbounded queue
#
# 2,000 items as fast as the source can go, into a 1 s stage; the budget says no queue may hold more
# than 50 items.

# %%
flood = range(2_000)
flooded = Simulation().run(pipeline(flood, [Stage("a", work("a", 1.0), queue=QueuePolicy.unbounded())], collect=False)).value
print("max depth:", flooded.max_depth["a"])

# %% tags=["raises-exception"]
assert flooded.max_depth["a"] <= 50, f"the queue held {flooded.max_depth['a']} items; the budget is 50"

# %% [markdown]
# The fix is one value:

# %%
fixed = Simulation().run(pipeline(flood, [Stage("a", work("a", 1.0), queue=QueuePolicy(50))], collect=False)).value
assert fixed.max_depth["a"] <= 50
print(f"max depth {fixed.max_depth['a']}; items out {fixed.items_out}; the source waited {fixed.queues[0].put_waits} times")


# %% [markdown]
# ### Anti-pattern 2: `gather` over an unbounded input
#
# "Process every item concurrently" written as one `asyncio.gather` over a coroutine per item
# creates **every** task at once.
#
# **Predict:** how many tasks are alive at the peak for 10,000 items? Then run.

# %%
async def process(i: int, peak: list[int]) -> Result[int, ErrInfo]:
    if i % 500 == 0:                    # sample the live tasks now and then (all_tasks() is O(tasks))
        peak[0] = max(peak[0], len(asyncio.all_tasks()) - 1)   # minus the driver task
    await asyncio.sleep(1)
    return Ok(i)

async def gather_everything(n: int) -> int:
    peak = [0]
    await asyncio.gather(*(process(i, peak) for i in range(n)))
    return peak[0]

everything = Simulation().run(gather_everything(10_000))
print(f"tasks alive at once: {everything:,}")

# %% tags=["raises-exception"]
assert everything <= 64, f"{everything:,} tasks alive at once for 10,000 items; the bound is 64"


# %% [markdown]
# The fix: `async_gather(plans, concurrency=64)` runs the plans from a pool of 64 workers, results in
# input order. It takes 157 virtual seconds instead of 1, because only 64 run at once: the bound doing
# its job.

# %%
async def gather_bounded(n: int) -> tuple[int, float]:
    peak = [0]
    result = await async_gather([async_lift(lambda i=i: process(i, peak)) for i in range(n)], concurrency=64)()
    assert result == Ok(list(range(n)))
    return peak[0], now()

peak, took = Simulation().run(gather_bounded(10_000))
assert peak <= 64
print(f"tasks alive at once: {peak}; all 10,000 done at t={took:g} s, in input order")


# %% [markdown]
# ### Anti-pattern 3: `put_nowait` in a loop
#
# A hand-written stage forwards results with `put_nowait` "so it never blocks". When the next stage
# falls behind, `QueueFull` is raised deep inside the worker, with no word about which queue:

# %% tags=["raises-exception"]
async def forward_all(n: int) -> None:
    downstream = asyncio.Queue(maxsize=3)      # nobody drains it fast enough
    for i in range(n):
        await asyncio.sleep(0.1)
        downstream.put_nowait(i)

Simulation().run(forward_all(10))

# %% [markdown]
# `except QueueFull: pass` makes it worse: items lost, uncounted. The fix is to say what a full queue
# does, as data — `drop_newest` counts its drops; `fail` gives an `Err` naming the queue:

# %%
for overflow in ("drop_newest", "fail"):
    slow_next = [Stage("forward", work("forward", 0.1)),
                 Stage("next", work("next", 1.0), queue=QueuePolicy(3, overflow))]
    result = Simulation().run(pipeline(range(10), slow_next))
    shown = f"dropped {result.value.drops['next']} of 10, counted" if isinstance(result, Ok) else result.error
    print(f"{overflow:<12} → {shown}")

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — stored with the notebook, so
# you can read it without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("03")

# %%
lesson_answer_key("03")

# %% [markdown]
# ## Exercise
#
# **[Exercise 03 · Backpressure](../exercises/03_backpressure.ipynb)** (10 points), with a **Check
# your work** cell that runs the grader's checks (see [the exercises README](../exercises/README.md)):
#
# 1. **Evict before you admit** — the drop-oldest offer as a pure function.
# 2. **Size a telemetry queue to a budget** — a strategy and a capacity from a latency budget.
# 3. **Measure Little's law from a trace** — λ, L and W from arrival and departure times.
#
# ## On your own
#
# - Rewrite `by_hand` to end with a sentinel (`None` per worker) instead of `join()` and cancel. Is the
#   depth trace still equal to the pipeline's? If not, which changes differ, and why?
# - Give `resize` 3 workers and `save` 1 in the running example: which queue fills now? Predict first.
# - Read `BoundedQueue.get` in `funcpipe_async/queues.py`: which lines make "a cancelled getter
#   loses nothing" true?
#
# ## Further reading
#
# - [further/03](further/03_backpressure.ipynb): cancellation, end of stream, ordered workers, Little's
#   law per strategy.
# - Python docs, [asyncio queues](https://docs.python.org/3/library/asyncio-queue.html) and
#   [task groups](https://docs.python.org/3/library/asyncio-task.html#task-groups).
# - Fred Hebert, ["Queues Don't Fix Overload"](https://ferd.ca/queues-don-t-fix-overload.html).
# - Marc Brooker, ["Telling Stories About Little's Law"](https://brooker.co.za/blog/2018/06/20/littles-law.html).
#
# ## Continue with
#
# **[04 · Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb)**: what to do when a
# stage's call fails or hangs — retries and timeouts as data, on the same virtual clock.
#
# ---
# [← 02 Async Generators](02_async_generators.ipynb) · [Contents](00_module_overview.ipynb) · [04 Retry and Timeout Policies →](04_retry_and_timeout_policies.ipynb)
