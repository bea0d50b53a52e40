# ---
# jupyter:
#   funcpipe_async:
#     exercise: 03_backpressure
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 03 Backpressure](../notebooks/03_backpressure.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 03 · Backpressure
#
# Three graded tasks on the lesson's ideas: what a full queue does is a **pure decision** you can
# write and test on its own; a **policy** — strategy and capacity — is chosen from what the items are
# worth when late and from a latency budget; and **Little's law** turns a trace into three numbers that
# must agree. Everything that waits runs on **virtual time**. 10 points.
#
# **How to work**
# 1. Run the set-up cell.
# 2. In each task cell, replace the `raise NotImplementedError(...)` line (and the
#    `# YOUR CODE HERE` comment) with your code, then run the cell.
# 3. Run the **Check your work** cell at the bottom whenever you like. It checks the code you
#    last *ran* in each task cell, in a separate process with a 10-second limit per task, so a
#    mistake cannot freeze your notebook. The same checks grade your submission.
#
# Keep everything a task needs inside its own cell: the grader runs the set-up cell and the task
# cells, and nothing else. Try things out in new cells of your own — they are not graded.

# %% [markdown] tags=["solution-only"]
# > **Solution notebook — the one source of this exercise.** `python tools/make_exercises.py`
# > generates the student version in `exercises/` from it: each `# BEGIN SOLUTION … # END SOLUTION`
# > span becomes a stub, and cells tagged `solution-only` (like this one) are dropped. Edit this
# > notebook, never the generated one.

# %% [markdown]
# ## Set up
#
# Run this first. The grader runs it too, before your task cells: leave it as it is. It imports what
# the lesson used.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
import math

from funcpipe_async import (
    BoundedQueue, Err, ErrInfo, Ok, QueueClosed, QueuePolicy, Result, Simulation, Stage, async_lift, pipeline,
)


# %% [markdown]
# ## Task 1 — Evict before you admit (4 points)
#
# `drop_oldest` is a sliding window: when a full queue is offered a new item, the **oldest** waiting
# item is evicted and the new one is admitted. Write that decision as a **pure function** over
# tuples — no queue, no `await`:
#
# ```python
# offer_drop_oldest(buffer, item, capacity) -> (new_buffer, evicted)
# ```
#
# - `buffer` is a tuple of the items waiting, oldest first, with at most `capacity` of them;
# - `new_buffer` is what waits after the offer, oldest first — never more than `capacity` items, and
#   always ending with `item`;
# - `evicted` is a tuple of the items pushed out, oldest first — empty while there is room;
# - nothing vanishes and nothing appears: `buffer + (item,)` is exactly `new_buffer` plus `evicted`;
# - a `capacity` below 1 is a mistake in the policy: raise `ValueError`.
#
# *How it is checked:* on buffers Hypothesis generates (empty, with room, full), each invariant above
# is checked and named when it breaks; then scripts of offers and takes are folded through your
# function and compared with the lesson's `BoundedQueue(QueuePolicy(capacity, "drop_oldest"))`,
# driven on virtual time — the items taken, the items left and the drop count must agree.
#
# <details><summary>Hint 1</summary>
#
# Must the new item always get in? Then think of the offer as "admit, then evict": what would the
# buffer look like with the item added, and which end do you cut when it is too long?
# </details>
#
# <details><summary>Hint 2</summary>
#
# How many items must go when the buffer has room — and when it is full? Can one expression give
# both answers? Compare your function with the lesson's `offer_five` for `drop_oldest`.
# </details>

# %% tags=["task:t1"]
# Task 1 — Evict before you admit
def offer_drop_oldest(buffer: tuple, item, capacity: int) -> tuple[tuple, tuple]:
    """Offer `item` to a drop-oldest queue holding `buffer`: (what waits after, what was evicted)."""
    # BEGIN SOLUTION
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    everything = (*buffer, item)
    cut = max(len(everything) - capacity, 0)
    return everything[cut:], everything[:cut]
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: five offers to a window of 3, then the same offers to the lesson's `BoundedQueue`.

# %% tags=["solution-only"]
buffer = ()
for reading in range(5):
    buffer, evicted = offer_drop_oldest(buffer, reading, 3)
    print(f"offer {reading}: waiting {buffer}, evicted {evicted}")

async def same_on_a_queue():
    queue = BoundedQueue(QueuePolicy(3, "drop_oldest"), "q")
    for reading in range(5):
        await queue.put(reading)
    return [await queue.get() for _ in range(queue.depth)], queue.dropped

print("BoundedQueue keeps %s and dropped %d" % Simulation().run(same_on_a_queue()))


# %% [markdown]
# ## Task 2 — Size a telemetry queue to a budget (3 points)
#
# A dashboard shows sensor readings. It takes `1 / consumer_rate` seconds to show one, and a reading
# older than `max_age` seconds when it is shown is worthless. Readings arrive in bursts, and the
# sensor **cannot wait**. Write `telemetry_policy(consumer_rate, max_age)`, which returns the
# `QueuePolicy` for the queue in front of the dashboard:
#
# - the **strategy** the lesson's decision table gives for latest-value telemetry: the freshest
#   readings must get through, and the sensor is never made to wait;
# - the **largest capacity** that keeps every shown reading at most `max_age` old. After a burst the
#   queue is full; the last of `C` waiting readings is shown after `C / consumer_rate` seconds (Little's
#   `W = L / λ`, with the queue full and the consumer setting the pace). A smaller queue would drop
#   more readings than the budget forces;
# - when not even one reading can be shown in time (`1 / consumer_rate > max_age`): raise `ValueError`.
#
# *How it is checked:* for generated consumer rates and budgets, a burst of readings (more than
# your capacity) arrives at t = 0 and goes through a one-stage `pipeline` with your policy, on
# virtual time. The age of every reading when it is shown, whether the latest reading arrives,
# whether the sensor had to wait, and the capacity are compared with what the budget allows.
#
# <details><summary>Hint 1</summary>
#
# Which row of the lesson's decision table describes latest-value telemetry — and which strategies
# would make the sensor wait?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Read the lesson's *Read Little's law backwards* section: how long does the last of `C` waiting
# readings wait, when the consumer sets the pace? Which `C` is the largest that stays within the
# budget — and is your capacity a whole number?
# </details>

# %% tags=["task:t2"]
# Task 2 — Size a telemetry queue to a budget
def telemetry_policy(consumer_rate: float, max_age: float) -> QueuePolicy:
    """The queue in front of a dashboard showing `consumer_rate` readings/s, none older than `max_age` s."""
    # BEGIN SOLUTION
    capacity = math.floor(max_age * consumer_rate)
    if capacity < 1:
        raise ValueError(f"a dashboard showing {consumer_rate}/s cannot show any reading within {max_age} s")
    return QueuePolicy(capacity, "drop_oldest")      # latest-value telemetry: keep the freshest
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a burst of 12 readings at t = 0 into a dashboard showing 2 per second, with a
# 2 s budget — the policy keeps the newest 4, shown at t = 0.5, 1, 1.5 and 2.

# %% tags=["solution-only"]
policy = telemetry_policy(2, 2)
shown = []

def show(reading):
    async def run() -> Result[int, ErrInfo]:
        await asyncio.sleep(0.5)
        shown.append((reading, asyncio.get_running_loop().time()))
        return Ok(reading)
    return async_lift(run)

report = Simulation().run(pipeline(range(12), [Stage("dashboard", show, queue=policy)])).value
print(policy, "| shown (reading, at t):", shown, "| dropped:", report.drops["dashboard"])


# %% [markdown]
# ## Task 3 — Measure Little's law from a trace (3 points)
#
# A FIFO queue's life as a list of events `(time, kind)`, sorted by time, where `kind` is `"in"`
# (an item arrives) or `"out"` (the oldest item leaves). The window is `[0, T]`, where `T` is the time
# of the last event (always > 0). Write `measure_littles_law(events)`, returning `(λ, L, W)`:
#
# - **λ** — arrivals per second: the number of `"in"` events divided by `T`;
# - **L** — the *time-average* number in the queue: each depth weighted by how long it lasted,
#   divided by `T` (the queue starts empty at t = 0);
# - **W** — the mean time in the queue per arrival: the k-th `"out"` ends the k-th arrival's stay
#   (FIFO); items still in the queue at `T` count up to `T`. With no arrivals, W is 0.
#
# With these definitions, L = λW holds exactly — a good check on your own code.
#
# *How it is checked:* on traces Hypothesis generates — bursts, idle stretches, items left in the
# queue at the end — your three numbers are compared with the reference (to 1e-9), one at a time,
# with a message naming the one that differs.
#
# <details><summary>Hint 1</summary>
#
# The lesson says L = λW holds "by construction" over a window that starts empty. Which one
# quantity do L and W both come from? Can you compute it from the stays (FIFO: the k-th "out" ends
# the k-th arrival's stay), and what does each of L and W divide it by?
# </details>

# %% tags=["task:t3"]
# Task 3 — Measure Little's law from a trace
def measure_littles_law(events: list[tuple[float, str]]) -> tuple[float, float, float]:
    """(λ, L, W) of a FIFO queue from its (time, "in" | "out") events over [0, T]."""
    # BEGIN SOLUTION
    end = events[-1][0]
    arrivals = [t for t, kind in events if kind == "in"]
    departures = [t for t, kind in events if kind == "out"]
    stays = [(departures[k] if k < len(departures) else end) - t for k, t in enumerate(arrivals)]
    area = sum(stays)
    return len(arrivals) / end, area / end, (area / len(arrivals) if arrivals else 0.0)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a hand-checked trace — two items arrive at 0 and leave at 1 and 3; a third
# arrives at 2 and a fourth at 4, both still inside at T = 4. Stays: 1 + 3 + 2 + 0 = 6 item-seconds.

# %% tags=["solution-only"]
lam, L, W = measure_littles_law([(0, "in"), (0, "in"), (1, "out"), (2, "in"), (3, "out"), (4, "in")])
print(f"λ = {lam:g}/s, L = {L:g}, W = {W:g} s, λW = {lam * W:g}")

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("03_backpressure")

# %% [markdown]
# ## On your own
#
# - Fold `offer_drop_oldest` over a day of readings arriving every second with capacity 60: what is
#   the most memory the window ever holds, and how does that compare with keeping everything?
# - In Task 2, the readings arrive in one burst. What happens to the worst age when they arrive at
#   exactly `consumer_rate` per second instead? Predict it with Little's law, then simulate it.
# - Run `measure_littles_law` over a window `[t0, T]` that starts with items already in the queue.
#   Why does L = λW then hold only approximately, and what changes as the window grows?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 03 Backpressure](../notebooks/03_backpressure.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
