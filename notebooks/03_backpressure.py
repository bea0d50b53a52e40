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
# A pipeline is stages joined by queues: a producer reads files, a stage resizes images, another
# saves them. When the producer is faster than a stage, the difference has to go somewhere. With
# an **unbounded** queue it goes into memory — silently, until the process dies. **Backpressure**
# is the other answer: bound every queue and decide, as **data**, what a full queue does — make the
# producer wait (`suspend`, often called *block*), drop the newest item, drop the oldest, or fail — so the pressure travels back to
# the source instead of piling up in the middle. Everything here runs on **virtual time**, so a
# minute of overload costs milliseconds and prints the same numbers every run.
#
# **What you'll do**
# - Watch an unbounded queue grow between two stages, then bound it and watch the producer slow down.
# - Compare the four overflow strategies — `suspend`, `drop_newest`, `drop_oldest`, `fail` — as
#   queue depth over time, one panel each, and see memory stay flat.
# - Measure λ, L and W on a real run and check Little's law, `L = λW`, on the numbers.
# - Move sliders for producer rate, consumer rate, capacity and strategy, and see the queue react.
# - Prove the invariants live with Hypothesis, and break three anti-patterns, then fix them.
#
# **What you'll learn**
# - `QueuePolicy` (capacity + overflow, frozen), `Stage` (a step with `workers`), `pipeline(...)`:
#   a description whose concurrency is composed from `async_gather`.
# - `BoundedQueue`: what "cancelling a put or a get loses nothing" means, and how end of stream
#   reaches every worker.
# - `littles_law` and what it tells you about sizing a queue.
# - Which strategy fits which pressure — the decision table.
#
# **What you'll need**
# - Lessons [01 async/await as Descriptions](01_async_await_as_descriptions.ipynb) (`AsyncPlan`,
#   `Result`, the shell) and [02 Async Generators](02_async_generators.ipynb) (pull-based streams).
# - `Simulation` from lesson 05 is used as a tool here: `Simulation().run(plan)` drives a plan on a
#   clock that jumps to the next timer whenever every task waits.
# - About 50 minutes. Run the cells top to bottom.

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
# The first diagram places the lesson in the module; the capstone's chunker produces text far faster
# than the embedding service can take it. The second is this lesson's running example: solid arrows
# carry items, dotted arrows carry **pressure** — when a queue is full, the stage before it waits.
#
# **Core question.** When one stage of a pipeline is faster than the next, where does the
# difference go — and how do you make that choice explicit, bounded and testable?
#
# **Why it matters.** An unbounded queue hides overload until memory runs out; `asyncio.gather`
# over a million inputs makes a million tasks at once; a `put_nowait` in a loop raises `QueueFull`
# from deep inside a worker. Each looks fine in a small test. With bounded queues, the behaviour
# under overload is a value you can read in review (`QueuePolicy(8, "drop_oldest")`) and a number
# you can assert (max depth ≤ 8, items in = items out + drops).
#
# **The review question to carry:** *for this queue, what is its bound, what happens when it is
# full, and who finds out?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`. `setup()` loads the course's derandomized Hypothesis
# profile. `Simulation(seed=...)` drives a plan on virtual time; `sim.trace` is a `Trace` on its clock —
# pass it as a pipeline's `probe` and every queue records its depth, drops and waits on it.

# %%
import asyncio
import tracemalloc
from collections import Counter

from hypothesis import given, strategies as st
from IPython.display import HTML

from funcpipe_async import (
    DROP, ENQUEUE, OVERFLOWS, BoundedQueue, Err, ErrInfo, Ok, PipelineReport, Question, QueueClosed,
    QueuePolicy, Result, Simulation, Stage, answer_key_html, api_summary, async_gather, async_lift,
    backpressure_demo, backpressure_summary, depth_series, format_table, littles_law,
    littles_law_summary, paced, pipeline, plot_littles_law, plot_strategies,
    plot_unbounded_vs_bounded, quiz_widget, render_backpressure, setup, show_figure,
    simulate_backpressure, strategies_summary, unbounded_vs_bounded_summary,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | depth ≤ capacity | a bounded queue never holds more than its capacity, whatever the strategy | Hypothesis — [Prove the invariants](#Prove-the-invariants-with-Hypothesis); every figure's summary (max depth) |
# | invariant | conservation | per queue, `offered == taken + dropped` at the end, so items in = items out + drops | Hypothesis — same section; [Compare the four strategies](#Compare-the-four-strategies-on-one-queue) |
# | invariant | suspend is lossless and ordered | under `suspend`, every item comes out; with one worker per stage, in source order | Hypothesis — same section |
# | invariant | n workers keep the multiset | with `n > 1` workers items may finish out of order, but none is lost; `ordered=True` restores source order | [Scale a stage with workers](#Scale-a-stage-with-workers) |
# | invariant | cancelling loses nothing | a getter cancelled after being woken leaves its item; a putter cancelled while waiting inserts nothing | [Cancel a get or a put safely](#Cancel-a-get-or-a-put-safely) |
# | invariant | no task outlives the pipeline | after the plan ends — normally, by `fail`, by a defect or by cancellation — none of its workers remains | [End the stream and leave nothing running](#End-the-stream-and-leave-nothing-running) |
# | invariant | fail is a value | a `fail` queue's overflow ends the pipeline with `Err(QUEUE_FULL)`, not an exception from deep inside | [Feel each strategy on one queue](#Feel-each-strategy-on-one-queue) |
# | law | Little's law | over a window, mean number in queue L = arrival rate λ × mean time in queue W | [Check Little's law on measured numbers](#Check-Little's-law-on-measured-numbers) and Hypothesis |

# %% [markdown]
# ## Decide which strategy fits which pressure
#
# | the pressure | what must hold | strategy | why |
# |---|---|---|---|
# | lossless work: payments, orders, files to convert | nothing lost, order kept | `suspend` | the producer waits; the pressure reaches the source, which can slow down or say "busy" |
# | latest-value telemetry: sensor readings, prices, positions | the *freshest* values, old ones are worthless | `drop_oldest` | a sliding window: the newest `capacity` items survive |
# | load shedding at the edge: an API taking requests | bounded latency for what is accepted | `drop_newest` or `fail` | refuse new work early and cheaply; `fail` tells the caller (e.g. HTTP 503), `drop_newest` only counts |
# | a batch job whose input should never overflow | overflow is a bug | `fail` | the run stops with `Err(QUEUE_FULL)` naming the queue and its capacity |
# | you truly cannot bound it | — | none: `QueuePolicy.unbounded()` | only when the input is known to be small; it is the anti-pattern below |
#
# **Rule:** bound every queue. Pick the strategy from what the *items* are worth when late, and size
# the capacity from the latency you can afford (Little's law, below).

# %% [markdown]
# ## Read the public API
#
# The data types and the functions, with their signatures and the first line of their docs:

# %%
print(api_summary([QueuePolicy, Stage, pipeline, paced, BoundedQueue, PipelineReport,
                   littles_law, depth_series]))

# %% [markdown]
# ## Write a queue policy as data
#
# A `QueuePolicy` is a capacity and an overflow strategy — nothing else. It prints as the code that
# builds it, compares by value, and cannot be changed. `OVERFLOWS` lists the four strategies.

# %%
policy = QueuePolicy(8, "drop_oldest")
print(policy, "| bounded:", policy.bounded)
print(QueuePolicy.unbounded())
print("strategies:", OVERFLOWS)
print("equal by value:", policy == QueuePolicy(capacity=8, overflow="drop_oldest"))

# %% [markdown]
# A nonsensical policy is refused when it is built, with a message that says what was wrong and
# what is expected — the same for a stage with no workers:

# %%
attempts = {
    "capacity 0": lambda: QueuePolicy(0),
    "a typo": lambda: QueuePolicy(8, "drop-oldest"),
    "unbounded that drops": lambda: QueuePolicy(None, "drop_newest"),
    "no workers": lambda: Stage("resize", lambda x: x, workers=0),
}
for label, attempt in attempts.items():
    try:
        attempt()
    except (ValueError, TypeError) as error:
        print(f"{label}: {type(error).__name__}: {error}")


# %% [markdown]
# ## Build a two-stage pipeline
#
# The running example: a source yields 30 images, one every 0.5 s; `resize` takes 1 s per image,
# `save` 0.25 s. The source is **twice as fast** as `resize`. `work(name, seconds)` makes a step that
# waits on the loop's clock — a one-off helper for this notebook.

# %%
def work(name: str, seconds: float):
    """A step that takes `seconds` of the loop's clock and passes its item on."""
    def step(item):
        async def run() -> Result[object, ErrInfo]:
            await asyncio.sleep(seconds)
            return Ok(item)
        return async_lift(run)
    step.__qualname__ = name
    return step

images = paced(range(30), every=0.5)

# %% [markdown]
# `pipeline(source, stages)` is a **description**: building it runs nothing. Each `Stage` names its
# step, its number of workers, and the policy of the queue *in front of it*. Look at the repr: the
# whole shape of the pipeline, capacities included.

# %%
unbounded_plan = pipeline(images, [
    Stage("resize", work("resize", 1.0), queue=QueuePolicy.unbounded()),
    Stage("save", work("save", 0.25), queue=QueuePolicy.unbounded()),
])
print(unbounded_plan)

# %% [markdown]
# ## Watch an unbounded queue grow
#
# Drive it on virtual time with the probe attached. The report lists each queue: items offered,
# taken, dropped, the maximum depth, and how often a put had to wait. Watch `resize`'s max depth:
# half of all items were waiting in it at once — and with 30,000 items it would be 15,000.

# %%
sim = Simulation()
report = sim.run(pipeline(images, unbounded_plan.stages, probe=sim.trace)).value
print(report.table())
print(f"finished at t={sim.now:g} s; items out: {report.items_out}")

# %% [markdown]
# ## Bound the queue
#
# Same stages, `QueuePolicy(4)` in front of each (`suspend` is the default overflow). Now the
# source's put **waits** when `resize`'s queue is full: the pressure travels upstream. Look for:
# the max depth stops at 4, the put waits, and nothing is lost — the run still takes as long,
# because `resize` was always the bottleneck; the backlog now waits *at the source* instead of in
# memory.

# %%
stages = [Stage("resize", work("resize", 1.0), queue=QueuePolicy(4)),
          Stage("save", work("save", 0.25), workers=2, queue=QueuePolicy(4))]
sim = Simulation()
bounded = sim.run(pipeline(images, stages, probe=sim.trace)).value
print(bounded.table())
print(f"finished at t={sim.now:g} s; items out: {bounded.items_out}; in order: {bounded.items == tuple(range(30))}")

# %% [markdown]
# The probe's events give the depth over time. Here are the first changes of `resize`'s depth: it
# climbs to 4 by t = 4 s and then stays there: one out, one in, every second.

# %%
series = depth_series(sim.trace, "resize")
print(" ".join(f"{t:g}:{d}" for t, d in series[:16]), "…")
print("max:", max(d for _, d in series))


# %% [markdown]
# ## Feel each strategy on one queue
#
# `BoundedQueue` is the queue the pipeline uses; you can drive one directly. Offer five items to a
# queue of capacity 3 under each strategy, then drain it. `put` returns `Ok(True)` (accepted),
# `Ok(False)` (dropped) or an `Err`. Look at what is left: `drop_newest` keeps the first three,
# `drop_oldest` the last three, and `fail` answers the 4th offer with `Err(QUEUE_FULL)` — a value,
# not an exception.

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
            return answers, kept, queue.dropped


# %%
for overflow in ("drop_newest", "drop_oldest", "fail"):
    answers, kept, dropped = Simulation().run(offer_five(overflow))
    short = ["ok" if a == Ok(True) else "dropped" if a == Ok(False) else a.error.code for a in answers]
    print(f"{overflow:<12} answers {short}  kept {kept}  dropped {dropped}")


# %% [markdown]
# `suspend` cannot be shown this way: the 4th put would wait for a `get` that never comes. On a
# `Simulation`, that is not a hang but a `DeadlockError` naming the waiting task:

# %%
async def fill_alone():
    queue = BoundedQueue(QueuePolicy(3), "q")
    for i in range(5):
        await queue.put(i)

try:
    Simulation().run(fill_alone())
except Exception as error:
    print(type(error).__name__ + ":", str(error).splitlines()[0])

# %% [markdown]
# In a pipeline, `fail` ends the whole run with that `Err`, and every worker is cancelled. The
# message names the queue and its capacity, so whoever reads it knows where the overload was:

# %%
sim = Simulation()
strict = [Stage("resize", work("resize", 1.0), queue=QueuePolicy(4, "fail")), stages[1]]
print(sim.run(pipeline(images, strict)), f"at t={sim.now:g} s")

# %% [markdown]
# ## Compare the four strategies on one queue
#
# `simulate_backpressure(producer_rate, consumer_rate, capacity, strategy)` runs one producer into
# one consumer through one queue for 60 virtual seconds: Poisson arrivals at the producer's rate,
# random service times at the consumer's rate, both drawn from the simulation's seeded generator.
# Here the producer offers 8 items/s and the consumer takes 5/s — 60 % overload. It returns data;
# the figure and the table are drawn from the same run.

# %%
runs = [simulate_backpressure(8, 5, 10, strategy) for strategy in ("suspend", "drop_newest", "drop_oldest", "fail")]
print(strategies_summary(runs))

# %% [markdown]
# One panel per strategy, same axes: the dashed line is the capacity, each ✕ above it is a dropped
# item, the dotted line is where `fail` ended the run. Look for: every panel stays at or under 10;
# `suspend` sits at the capacity and drops nothing (the producer offered fewer items — it was made
# to wait); the two drop strategies shed about a third of the offers; `fail` stops at the first
# overflow, after about 4 seconds.

# %%
show_figure(plot_strategies(runs), alt=(
    "Four panels of queue depth against virtual seconds 0 to 60, capacity 10 dashed. suspend: rises to 10 "
    "and stays there, no drops. drop_newest and drop_oldest: hover between about 5 and 10 with crosses "
    "marking drops all along. fail: rises to 10 and ends at about 3.9 s at a dotted line."))
print(strategies_summary(runs))

# %% [markdown]
# Conservation holds in every row: `offered = served + dropped + held at end`. The two drop
# strategies differ in *which* items they lose: `drop_newest` refuses arrivals, so the queue holds
# the oldest waiting items; `drop_oldest` evicts the head, so what the consumer sees is always the
# freshest. Same drop count, opposite meaning.

# %%
for run in runs:
    assert run.produced == run.served + run.dropped + run.held, run.label
    assert run.max_depth <= run.capacity
print("conservation and depth ≤ capacity hold for all four runs")

# %% [markdown]
# ## Keep memory bounded
#
# Every queued item holds memory (here, 1 KiB each). Under the same 8-into-5 overload, an unbounded
# queue grows for as long as the overload lasts; the bounded one holds at most its capacity. Look at
# the right panel: memory is the depth times the item size, so the unbounded line never stops rising.

# %%
unbounded_run = simulate_backpressure(8, 5, 10, "unbounded")
show_figure(plot_unbounded_vs_bounded(unbounded_run, runs[0]), alt=(
    f"Two panels against virtual seconds. Items in queue and memory held: the unbounded queue rises "
    f"steadily to {unbounded_run.held} items ({unbounded_run.held} KiB) at 60 s; the bounded queue is "
    "flat at 10 items (10 KiB)."))
print(unbounded_vs_bounded_summary(unbounded_run, runs[0]))

# %% [markdown]
# The unbounded queue grows at roughly the difference of the two rates — here about 2.4 items per
# second (143 after 60 s; the random arrivals came a little slower than 8/s) — and after an hour it
# would hold thousands. Bounding it does not make the consumer faster; it decides **where** the
# excess goes (the producer waits, or items are dropped) instead of letting memory decide.
#
# ## Check Little's law on measured numbers
#
# Little's law says that, for any queue over a long enough window, **L = λW**: the mean number of
# items in the queue equals the arrival rate times the mean time an item spends in it. `littles_law`
# measures all three from the probe's events: λ counts `enqueue` events, L is the time-average depth,
# and W pairs each arrival with its departure (a `dequeue`, or an eviction by `drop_oldest`) —
# items still queued at the end count until the end. First, the `resize` queue from the bounded run:

# %%
sim = Simulation()
sim.run(pipeline(images, stages, probe=sim.trace))
law = littles_law(sim.trace, "resize")
print(law)
print(f"L = {law.mean_in_queue:.4f}, λ·W = {law.lambda_w:.4f}, equal: {law.holds(1e-9)}")

# %% [markdown]
# Now every run from the strategy figure, and the unbounded one. For the drop strategies λ counts
# only *accepted* items (a refused item never entered the queue). L and λW agree in every case —
# paired bars of equal height:

# %%
law_runs = [*runs, unbounded_run]
show_figure(plot_littles_law(law_runs), alt=(
    "Paired bars per queue, L measured and λ·W measured, equal in every pair: about 9.7 for suspend, "
    "8 for the drop strategies, 6 for fail and about 72 for the unbounded queue."))
print(littles_law_summary(law_runs))

# %% [markdown]
# ## Size a queue with Little's law
#
# Read the law backwards: **W = L / λ**. A queue under `suspend` holds at most its capacity, and
# the consumer sets the pace (λ ≈ μ, its service rate), so an item waits **at most about
# `capacity / μ`**. That turns a latency budget into a capacity: to keep waits under 2 s with a
# consumer of 5 items/s, the queue can hold at most 10. Check the bound against measured runs —
# measured W stays under it, close for a small buffer that is always full, further below for a big
# one that random arrivals rarely fill:

# %%
rows = []
for capacity in (5, 10, 20, 40):
    run = simulate_backpressure(8, 5, capacity, "suspend")
    rows.append([capacity, f"{capacity / 5:.1f}", f"{run.law.mean_wait:.2f}", f"{run.law.mean_in_queue:.2f}"])
print(format_table(["capacity", "predicted W = C/μ (s)", "measured W (s)", "measured L"], rows))

# %% [markdown]
# A bigger buffer under sustained overload buys nothing but latency: the same items per second come
# out, each after a longer wait. Buffers absorb *bursts*; they cannot fix a rate mismatch.
#
# ## Scale a stage with workers
#
# `Stage(..., workers=n)` runs `n` copies of the step on one queue — the stage's concurrency. With
# `resize` at 1 s per image and a source at 2 per second, two workers keep up. Watch the finish time
# and the queue's max depth fall as workers are added:

# %%
rows = []
for n in (1, 2, 4):
    sim = Simulation()
    r = sim.run(pipeline(images, [Stage("resize", work("resize", 1.0), workers=n, queue=QueuePolicy(4))])).value
    rows.append([n, f"{sim.now:g}", r.max_depth["resize"], r.queues[0].put_waits, r.items_out])
print(format_table(["workers", "finished at s", "max depth", "put waits", "items out"], rows))


# %% [markdown]
# What does order mean with several workers? Each worker finishes when its item is done, so a slow
# item is overtaken. With one worker per stage, `suspend` keeps source order; with `n` workers it
# keeps the **multiset** — every item exactly once. `ordered=True` carries a sequence number
# through the stages and returns the items in source order. Here item 0 takes 5 s, the others 1 s:

# %%
def uneven(item):
    return work("uneven", 5.0 if item == 0 else 1.0)(item)

two = [Stage("resize", uneven, workers=2)]
print("workers=2:              ", Simulation().run(pipeline(range(6), two)).value.items)
print("workers=2, ordered=True:", Simulation().run(pipeline(range(6), two, ordered=True)).value.items)


# %% [markdown]
# ## End the stream and leave nothing running
#
# When the source is done it **closes** the first queue. A worker that finds its queue closed and
# empty stops; the *last* worker of a stage to stop closes the next queue. So end of stream reaches
# every worker of every stage, however many there are. The pipeline's concurrency is
# `async_gather` over the source and the workers — the one place in the package that creates
# tasks — so when the plan ends, for whatever reason, every worker has ended too. Count the tasks
# left after four endings:

# %%
def broken(item):
    if item == 4:
        raise KeyError("a bug in the step")
    return work("ok", 1.0)(item)

async def tasks_left(plan, cancel_after=None):
    try:
        outcome = await asyncio.wait_for(plan(), cancel_after)
        outcome = type(outcome).__name__
    except TimeoutError:
        outcome = "cancelled"
    except KeyError:
        outcome = "KeyError raised"
    return outcome, len(asyncio.all_tasks()) - 1      # minus this task


# %%
three = [Stage("a", work("a", 1.0), 3, QueuePolicy(2)), Stage("b", work("b", 2.0), 2, QueuePolicy(2))]
endings = {
    "normally": (pipeline(range(20), three), None),
    "by fail": (pipeline(paced(range(20), 0.1), [Stage("a", work("a", 5.0), 2, QueuePolicy(1, "fail"))]), None),
    "by a defect": (pipeline(range(20), [Stage("a", broken, 2)]), None),
    "by cancellation": (pipeline(range(1000), three), 7.5),
}
for label, (plan, after) in endings.items():
    outcome, left = Simulation().run(tasks_left(plan, after))
    print(f"ended {label:<16} → {outcome:<16} tasks left: {left}")


# %% [markdown]
# ## Cancel a get or a put safely
#
# A queue is where cancellation bugs hide. CPython's own `asyncio.Queue` tests pin down the rules
# this queue follows: **an item stays in the queue until a getter actually takes it**. A getter that
# was woken for an item but cancelled before it ran leaves the item for the next one:

# %%
async def cancelled_reader():
    queue = BoundedQueue(QueuePolicy(4), "q")
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)              # the reader is waiting
    await queue.put("first")            # wakes it …
    await queue.put("second")
    reader.cancel()                     # … but it is cancelled before it runs
    await asyncio.gather(reader, return_exceptions=True)
    return await queue.get(), queue.depth

print("next get returns %r; depth after: %d" % Simulation().run(cancelled_reader()))


# %% [markdown]
# And a putter cancelled while it waits for room has inserted **nothing** — the queue holds only
# what was accepted, and its counters do not count the cancelled offer:

# %%
async def cancelled_writer():
    queue = BoundedQueue(QueuePolicy(1), "q")
    await queue.put("kept")
    writer = asyncio.ensure_future(queue.put("never inserted"))
    await asyncio.sleep(0)              # the writer waits for room
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    return [await queue.get()], queue.depth, queue.offered

print("items: %s; depth after: %d; offered: %d" % Simulation().run(cancelled_writer()))

# %% [markdown]
# (The notebook is a shell, so it may start tasks with `ensure_future`; the package's description
# modules never do.)
#
# ## Move the sliders
#
# The instructor's demo: producer rate, consumer rate, capacity and strategy. Every move re-runs
# `simulate_backpressure` on virtual time and redraws (about 0.1 s; `benchmarks/bench_backpressure_slider.py`
# checks it stays under 250 ms). Try: producer below consumer (the queue stays near empty whatever the
# strategy), then just above it; `drop_oldest` with capacity 1; `unbounded` with a 12/s producer.

# %% tags=["nbval-ignore-output", "instructor-demo"]
# nbval-ignore-output: widget model ids differ per run
backpressure_demo(producer_rate=6, consumer_rate=5, capacity=10, strategy="drop_oldest")

# %% [markdown]
# Without a kernel, here is the same figure for the sliders' starting position — producer 6/s,
# consumer 5/s, capacity 10, `drop_oldest`:

# %%
start = simulate_backpressure(6, 5, 10, "drop_oldest")
show_figure(render_backpressure(start), alt=(
    f"Queue depth against virtual seconds 0 to 60 for drop_oldest, capacity 10: bursts up to the capacity "
    f"with {start.dropped} drops marked by crosses, and quiet stretches near zero."))
print(backpressure_summary(start))

# %% [markdown]
# ## Prove the invariants with Hypothesis
#
# Each property is a plain function that builds a pipeline from drawn settings and drives it on a
# fresh `Simulation`. The course profile is derandomized, so the examples — and this output — are
# the same every run. `EXAMPLES` counts them. First, a strategy for *scenarios*: a policy, an arrival
# interval, a service time, a number of items and of workers.

# %%
EXAMPLES = Counter()

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
# **Depth never exceeds capacity** — checked on every depth the probe recorded, not just the maximum:

# %%
@given(scenarios)
def depth_never_exceeds_capacity(case) -> None:
    EXAMPLES["depth"] += 1
    report, trace = drive(case)
    assert all(depth <= case[0].capacity for _, depth in depth_series(trace, "a"))

depth_never_exceeds_capacity()
print(f"depth ≤ capacity on every recorded change: {EXAMPLES['depth']} examples")


# %% [markdown]
# **Conservation**: items in = items out + drops, exactly, and per queue `offered = taken + dropped`:

# %%
@given(scenarios)
def items_are_conserved(case) -> None:
    EXAMPLES["conserved"] += 1
    report, _ = drive(case)
    assert report.items_in == report.items_out + sum(report.drops.values()) == case[3]
    assert all(q.offered == q.taken + q.dropped for q in report.queues)

items_are_conserved()
print(f"items in = items out + drops: {EXAMPLES['conserved']} examples")


# %% [markdown]
# **Suspend loses nothing and keeps order** (one worker per stage), for any items, capacity and speeds:

# %%
@given(items=st.lists(st.integers(), max_size=30), capacity=st.integers(1, 5),
       every=st.sampled_from([0.0, 0.5, 1.0]), service=st.sampled_from([0.25, 1.0, 3.0]))
def suspend_is_lossless_and_ordered(items, capacity, every, service) -> None:
    EXAMPLES["suspend"] += 1
    two_stages = [Stage("a", work("a", service), queue=QueuePolicy(capacity)),
                  Stage("b", work("b", service / 3), queue=QueuePolicy(capacity))]
    assert Simulation().run(pipeline(paced(items, every), two_stages)).value.items == tuple(items)

suspend_is_lossless_and_ordered()
print(f"suspend: every item, in order: {EXAMPLES['suspend']} examples")


# %% [markdown]
# **Little's law holds** on every run's measured λ, L and W:

# %%
@given(scenarios)
def littles_law_holds(case) -> None:
    EXAMPLES["little"] += 1
    _, trace = drive((case[0], case[1], case[2], case[3] + 1, case[4]))
    assert littles_law(trace, "a").holds(1e-9)

littles_law_holds()
print(f"L = λW on measured numbers: {EXAMPLES['little']} examples")


# %% [markdown]
# ## Measure the cost of a queue
#
# | operation | time | memory |
# |---|---|---|
# | `QueuePolicy(...)`, `Stage(...)`, `pipeline(...)` | O(1) per stage | O(stages) — a description |
# | `put` / `get` on a `BoundedQueue` | O(1) amortized (a deque, a waiter deque) | O(1) per item held |
# | a bounded pipeline over `n` items | O(n × stages) steps | **O(Σ capacities + workers)** — independent of `n` (with `collect=False`) |
# | an unbounded pipeline, producer faster | O(n × stages) | **O(n)** — the backlog |
# | the probe (optional) | O(1) per event, ~2 events per item per queue | O(events) on the trace |
# | `littles_law(trace, queue)` | O(events) | O(arrivals) |
#
# Measured below on virtual time, by counting, never by timing: probe events, the max depth, and the
# peak memory (`tracemalloc`) of a pipeline with a fast source and a slow stage, at 100, 1,000 and
# 5,000 items, unbounded against bounded. Look for: events grow as `n` for both; the bounded
# queue's depth and memory stay flat, the unbounded one's grow with `n`.

# %%
def measure(n: int, policy: QueuePolicy) -> list[object]:
    sim = Simulation()
    counted = pipeline(range(n), [Stage("a", work("a", 1.0), queue=policy)], probe=sim.trace, collect=False)
    report = sim.run(counted).value
    tracemalloc.start()
    Simulation().run(pipeline(range(n), [Stage("a", work("a", 1.0), queue=policy)], collect=False))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [n, "unbounded" if policy.capacity is None else f"capacity {policy.capacity}",
            len(sim.trace), report.max_depth["a"], f"{sim.now:g}", peak]


# %%
rows = [measure(n, policy) for policy in (QueuePolicy.unbounded(), QueuePolicy(8)) for n in (100, 1_000, 5_000)]
base = {row[1]: row[-1] for row in rows if row[0] == 100}
for row in rows:     # bytes wobble a little run to run: show the growth against n=100 of the same queue
    base_bytes = base[row[1]]
    row[-1] = "flat (< 1.5× of n=100)" if row[-1] < 1.5 * base_bytes else f"grows ({row[-1] / base_bytes:.0f}×)"
print(format_table(["items", "queue", "probe events", "max depth", "virtual s", "peak memory"], rows))

# %% [markdown]
# Probe events grow as `n` for both: exactly `2n` for the unbounded queue (one enqueue, one dequeue
# per item), and `2n` plus one `put_wait` event per wait of the source for the bounded one. The
# unbounded queue's depth equals `n` — every item was queued at once — and its memory grows with it; the
# bounded queue holds 8 whatever `n` is. The virtual seconds are the same: the slow stage sets the
# pace either way, and the bound only decides where the waiting happens.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | an unbounded queue between stages | depth and memory grow with the backlog, until the process is killed | `QueuePolicy(capacity, overflow)` on every queue |
# | `asyncio.gather` over an unbounded input | one task per item, all at once: 10,000 items → 10,000 tasks | `async_gather(plans, concurrency=n)` or a bounded pipeline: at most `n` in flight |
# | `put_nowait` in a loop | `QueueFull` raised from deep inside a worker, or swallowed and the item silently lost | a policy: `drop_newest` counts its drops, `fail` returns `Err(QUEUE_FULL)` at the boundary |
#
# ### Anti-pattern 1: an unbounded queue
#
# A source of 2,000 items, as fast as it can go, into a stage that takes 1 s per item. The budget
# says no queue may hold more than 50 items. With an unbounded queue:

# %%
flood = range(2_000)
sim = Simulation()
flooded = sim.run(pipeline(flood, [Stage("a", work("a", 1.0), queue=QueuePolicy.unbounded())], collect=False)).value
print(f"max depth {flooded.max_depth['a']}, about {flooded.max_depth['a']} KiB at 1 KiB per item")

# %% tags=["raises-exception"]
assert flooded.max_depth["a"] <= 50, f"the queue held {flooded.max_depth['a']} items; the budget is 50"

# %% [markdown]
# The fix is one value: bound the queue. The source now waits at each full put, and the depth never
# passes the budget:

# %%
fixed = Simulation().run(pipeline(flood, [Stage("a", work("a", 1.0), queue=QueuePolicy(50))], collect=False)).value
assert fixed.max_depth["a"] <= 50
print(f"max depth {fixed.max_depth['a']}; items out {fixed.items_out}; the source waited {fixed.queues[0].put_waits} times")


# %% [markdown]
# ### Anti-pattern 2: `gather` over an unbounded input
#
# "Process every item concurrently" is often written as one `asyncio.gather` over a coroutine per
# item. It creates **every** task at once. Count the tasks alive while 10,000 items of 1 s each are
# processed (the notebook is a shell, so it may call `asyncio.gather`):

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
# The fix: `async_gather(plans, concurrency=64)` runs the same plans from a fixed pool of 64 workers —
# at most 64 tasks alive, results still in input order. (A bounded pipeline with `workers=64` does the
# same for a stream.) It takes longer in virtual time, 157 s instead of 1 s, because only 64 items run
# at once: that is the bound doing its job.

# %%
async def gather_bounded(n: int) -> tuple[int, float]:
    peak = [0]
    result = await async_gather([async_lift(lambda i=i: process(i, peak)) for i in range(n)], concurrency=64)()
    assert result == Ok(list(range(n)))
    return peak[0], asyncio.get_running_loop().time()

peak, took = Simulation().run(gather_bounded(10_000))
assert peak <= 64
print(f"tasks alive at once: {peak}; all 10,000 done at t={took:g} s, in input order")


# %% [markdown]
# ### Anti-pattern 3: `put_nowait` in a loop
#
# A hand-written stage forwards its results with `asyncio.Queue.put_nowait` "so it never blocks".
# When the next stage falls behind, `put_nowait` raises `QueueFull` — from deep inside the worker,
# with no word about which queue or why:

# %% tags=["raises-exception"]
async def forward_all(n: int) -> None:
    downstream = asyncio.Queue(maxsize=3)      # nobody drains it fast enough
    for i in range(n):
        await asyncio.sleep(0.1)
        downstream.put_nowait(i)

Simulation().run(forward_all(10))

# %% [markdown]
# The usual "fix" makes it worse: `except QueueFull: pass` loses items and nobody counts them. The
# real fix is to say what a full queue does, as data. With `drop_newest` the drops are counted; with
# `fail` the caller gets an `Err` that names the queue — a value at the boundary:

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
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("A producer makes 8 items/s, the consumer takes 5/s, and the queue is unbounded. After an hour…",
             ("the queue holds about 10,800 items", "the queue stays small: asyncio balances it", "the producer slows down"),
             0, "Nothing pushes back: the queue grows by about 3 items a second for as long as the overload lasts."),
    Question("Which strategy fits a stream of sensor readings where only the latest values matter?",
             ("suspend", "drop_newest", "drop_oldest"),
             2, "drop_oldest is a sliding window: the newest `capacity` readings survive."),
    Question("Which strategy fits order payments that must never be lost?",
             ("suspend", "drop_oldest", "drop_newest"),
             0, "suspend makes the producer wait: nothing is lost and the pressure reaches the source."),
    Question("A `fail` queue overflows inside a pipeline. What does the driver see?",
             ("a QueueFull exception from inside a worker", "Err(QUEUE_FULL) naming the queue, and no task left running",
              "nothing: the item is skipped"),
             1, "The worker returns the Err; async_gather cancels the other workers and returns it."),
    Question("A queue's mean depth is 12 items and items arrive at 4 per second. The mean wait is…",
             ("48 s", "3 s", "0.33 s"),
             1, "Little's law: W = L / λ = 12 / 4 = 3 s."),
    Question("Under sustained overload (producer faster than consumer), doubling the capacity of a suspend queue…",
             ("doubles throughput", "doubles the wait of every item, same throughput", "halves the drops"),
             1, "A buffer absorbs bursts; it cannot fix a rate mismatch. W ≈ capacity / μ."),
    Question("A stage has 3 workers. Under suspend, the items that come out are…",
             ("in source order", "every item exactly once, possibly reordered", "possibly missing some"),
             1, "Workers finish in any order; the multiset is kept. ordered=True restores source order."),
    Question("A getter is woken for an item, then cancelled before it runs. The item…",
             ("is lost", "stays in the queue for the next getter", "is put back at the end"),
             1, "An item leaves the queue only when a getter actually takes it; the wake-up passes on."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 03 · Backpressure](../exercises/03_backpressure.ipynb)** (10 points),
# with a **Check your work** cell that runs the same checks the grader does (see
# [the exercises README](../exercises/README.md)):
#
# 1. **Evict before you admit** — `offer_drop_oldest(buffer, item, capacity)`: the drop-oldest offer
#    as a pure function, checked against the invariants (depth ≤ capacity, conservation, the newest
#    items kept in order).
# 2. **Size a telemetry queue to a budget** — `telemetry_policy(consumer_rate, max_age)`: the strategy
#    and the largest capacity that keep every reading younger than `max_age` and always deliver the
#    latest one, checked on virtual time.
# 3. **Measure Little's law from a trace** — `measure_littles_law(events)`: λ, L and W from a list
#    of arrival and departure times, compared with the reference on generated traces.
#
# ## On your own
#
# - Put `drop_oldest` in front of `resize` and `suspend` in front of `save` in the running example.
#   Which items reach `save`? What do the two queues' put waits say about where the pressure stops?
# - Make the source of the slider demo bursty (10 items at once every 2 s, the same mean rate). How
#   much capacity does `drop_newest` need to lose nothing? Compare with Little's `capacity / μ`.
# - Give `resize` 3 workers and `save` 1: which queue fills now? Predict it from the rates first.
# - Read `BoundedQueue.get` in `funcpipe_async/backpressure.py` and find the two lines that make
#   "a cancelled getter loses nothing" true. What breaks if the item is popped before the getter
#   resumes?
#
# ## Further reading
#
# - Python docs, [asyncio queues](https://docs.python.org/3/library/asyncio-queue.html): `maxsize`,
#   `put_nowait`, `QueueFull`, and (3.13) `shutdown`. CPython's
#   [`Lib/test/test_asyncio/test_queues.py`](https://github.com/python/cpython/blob/main/Lib/test/test_asyncio/test_queues.py)
#   holds the cancellation cases this lesson's queue follows.
# - ZIO's [`Queue`](https://zio.dev/reference/concurrency/queue/): bounded (back-pressure), dropping
#   and sliding queues — the same four strategies as data.
# - Reactive Streams, [the specification](https://www.reactive-streams.org/): backpressure as demand
#   signalled upstream.
# - John D. C. Little, ["A Proof for the Queuing Formula: L = λW"](https://pubsonline.informs.org/doi/10.1287/opre.9.3.383)
#   (Operations Research, 1961), and Marc Brooker,
#   ["Telling Stories About Little's Law"](https://brooker.co.za/blog/2018/06/20/littles-law.html).
# - Fred Hebert, ["Queues Don't Fix Overload"](https://ferd.ca/queues-don-t-fix-overload.html): why
#   a bigger buffer only moves the problem.
#
# ## Continue with
#
# **[04 · Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb)**: what to do when a stage's
# call fails or hangs — retries and timeouts as data, on the same virtual clock. You now bound every
# queue, choose what a full one does from what its items are worth, and can check its behaviour
# under overload with numbers: max depth, drops, and L = λW.
#
# ---
# [← 02 Async Generators](02_async_generators.ipynb) · [Contents](00_module_overview.ipynb) · [04 Retry and Timeout Policies →](04_retry_and_timeout_policies.ipynb)
