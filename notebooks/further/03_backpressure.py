# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 03 Backpressure](../03_backpressure.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 03 · Backpressure — going further
#
# Optional. The lesson bounded a queue by hand and as data, compared the strategies and read Little's
# law backwards. This appendix covers what a reviewer asks next: policies refused when built, what
# order several workers keep, how end of stream reaches every worker and no task outlives the
# pipeline, why cancelling a `get` or a `put` loses nothing, and Little's law per strategy.

# %%
import asyncio
from collections import Counter

from hypothesis import given, strategies as st

from funcpipe_async import (
    BoundedQueue, ErrInfo, Ok, QueuePolicy, Result, Simulation, Stage, async_lift, littles_law, littles_law_summary,
    paced, pipeline, setup, simulate_backpressure,
)

setup()

def work(name: str, seconds: float):
    def step(item):
        async def run() -> Result[object, ErrInfo]:
            await asyncio.sleep(seconds)
            return Ok(item)
        return async_lift(run)
    step.__qualname__ = name
    return step


# %% [markdown]
# ## A nonsensical policy is refused when it is built
#
# With a message that says what was wrong and what is expected — the same for a stage with no workers:

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
# ## A `suspend` queue nobody drains is a deadlock, not a hang
#
# The 4th put waits for a `get` that never comes. On a `Simulation` that is a `DeadlockError`:

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
# ## Keep order with several workers
#
# Each worker finishes when its item is done, so a slow item is overtaken. With `n` workers `suspend`
# keeps the **multiset** — every item exactly once; `ordered=True` carries a sequence number through
# the stages and returns the items in source order. Item 0 takes 5 s, the others 1 s:

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
# empty stops; the *last* worker of a stage to stop closes the next queue — the description's version
# of the lesson's `join()` and cancel. The pipeline's concurrency is `async_gather` over the source
# and the workers, so when the plan ends, for whatever reason, every worker has ended too:

# %%
def broken(item):
    if item == 4:
        raise KeyError("a bug in the step")
    return work("ok", 1.0)(item)

async def tasks_left(plan, cancel_after=None):
    try:
        outcome = type(await asyncio.wait_for(plan(), cancel_after)).__name__
    except TimeoutError:
        outcome = "cancelled"
    except KeyError:
        outcome = "KeyError raised"
    return outcome, len(asyncio.all_tasks()) - 1      # minus this task

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
# CPython's own `asyncio.Queue` tests pin down the rule this queue follows: **an item stays in the
# queue until a getter actually takes it**. A getter woken for an item but cancelled before it ran
# leaves the item for the next one:

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
# And a putter cancelled while it waits for room has inserted **nothing**:

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
# ## Little's law per strategy
#
# λ, W, λW and L for each run of the lesson's strategy comparison and the unbounded queue. For the
# drop strategies λ counts only *accepted* items. L = λW in every row — as the lesson says, by
# construction: over a window starting empty, both are the area under the depth curve, divided
# differently. The Hypothesis property below checks the same bookkeeping on generated pipelines.

# %%
runs = [simulate_backpressure(8, 5, 10, s) for s in ("suspend", "drop_newest", "drop_oldest", "fail", "unbounded")]
print(littles_law_summary(runs))

# %%
EXAMPLES = Counter()

@given(policy=st.builds(QueuePolicy, st.integers(1, 6), st.sampled_from(["suspend", "drop_newest", "drop_oldest"])),
       every=st.sampled_from([0.25, 0.5, 1.0]), service=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
       n=st.integers(1, 40), workers=st.integers(1, 3))
def littles_law_holds(policy, every, service, n, workers) -> None:
    EXAMPLES["little"] += 1
    sim = Simulation()
    sim.run(pipeline(paced(range(n), every), [Stage("a", work("a", service), workers, policy)], probe=sim.trace))
    assert littles_law(sim.trace, "a").holds(1e-9)

littles_law_holds()
print(f"L = λW on measured numbers: {EXAMPLES['little']} examples")

# %% [markdown]
# ---
# [← back to 03 Backpressure](../03_backpressure.ipynb) · [Contents](../00_module_overview.ipynb)
