# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 02 Async Generators](../02_async_generators.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 02 · Async Generators — going further
#
# Optional. The lesson's core path taught `async for`, `aclosing`, a hand-written combinator and the
# `Stream` description. This appendix covers the rest of the stream API: merging sources by arrival,
# running a plan per item with bounded concurrency, what failures and cancellations do, and the laws
# the lesson did not prove live.

# %%
import asyncio
from contextlib import aclosing

from hypothesis import given, strategies as st

from funcpipe_async import (
    Err, ErrInfo, Ok, Resource, Result, Simulation, Stream, StreamFailed, async_fail, async_lift, async_pure,
    merge_streams, setup, stream_from, stream_of,
)

setup()

def now() -> float:
    return asyncio.get_running_loop().time()

async def read_lines(resource: Resource, every: float = 1.0):
    resource.acquire()
    try:
        i = 0
        while True:
            await asyncio.sleep(every)
            yield f"line {i}"
            i += 1
    finally:
        resource.release()

def owned(resource: Resource) -> Stream[str]:
    return stream_from(lambda: read_lines(resource))

async def held_after(plan, *resources: Resource) -> tuple:
    result = await plan()                        # a small shell: drive, then look at once
    return result, sum(r.held for r in resources)


# %% [markdown]
# ## Merge two sources by arrival
#
# `merge_streams(a, b)` pulls from both at once and yields items as they arrive: each source keeps
# its own order, nothing is lost, and items that arrive at the same instant come in argument order.
# It asks each source for its next item only when the consumer asks again — at most one pull in
# flight per source. A fast feed (1 s per item) and a slow one (2.5 s):

# %%
def feed(name: str, n: int, every: float) -> Stream[str]:
    async def items():
        for i in range(n):
            await asyncio.sleep(every)
            yield f"{name}{i}@{now():g}"
    return stream_from(items)

merged = merge_streams(feed("slow", 3, 2.5), feed("fast", 4, 1.0))
print(merged)
print(Simulation().run(merged.to_list()))

# %% [markdown]
# Merging is concurrency, so it is built on the package's one place that creates tasks (`gather.py`).
# When the merged run stops early, every source is closed — the ones waiting in a pull are cancelled,
# the ones suspended at a `yield` are closed:

# %%
a, b = Resource("a"), Resource("b")
both = merge_streams(owned(a).map(lambda s: "a:" + s), owned(b).map(lambda s: "b:" + s))
result, held = Simulation().run(held_after(both.take(3).to_list(), a, b))
print(result, "| held after:", held)
print(a, b, sep="\n")


# %% [markdown]
# ## Run a plan per item
#
# `map_plan(f)` runs the plan `f(x)` for every item and yields its value, in input order; one plan
# at a time by default. `concurrency=n` pulls up to `n` items, runs their plans with
# `async_gather(…, concurrency=n)` and yields the values in order. Eight lookups of 1 s each:

# %%
def lookup(x: int):
    async def call() -> Result[int, ErrInfo]:
        await asyncio.sleep(1)
        return Ok(x * 100)
    return async_lift(call)

for n in (1, 4, 8):
    sim = Simulation()
    result = sim.run(stream_of(range(8)).map_plan(lookup, concurrency=n).to_list())
    print(f"concurrency={n}: {result} in {sim.now:g} virtual s")


# %% [markdown]
# ## Decide what a failure does
#
# **An `Err` ends the stream**: the run stops at the first one, every source is closed, and the
# terminal plan's result is that `Err` — as `AsyncPlan` and `async_gather` already do. Count the
# pulls: the stream stopped at item 3 instead of reading all 1,000.

# %%
def validate(x: int):
    return async_fail(ErrInfo("INVALID", f"item {x} is negative")) if x < 0 else async_pure(x)

pulled = []
scores = stream_of([5, 8, 2, -1] + list(range(996))).map(lambda x: pulled.append(x) or x)
print(Simulation().run(scores.map_plan(validate).to_list()))
print("pulled:", len(pulled))


# %% [markdown]
# To keep going past failures, make the outcome the **item**: map each item to a `Result`.

# %%
def checked(x: int) -> Result[int, ErrInfo]:
    return Err(ErrInfo("INVALID", f"item {x} is negative")) if x < 0 else Ok(x)

results = Simulation().run(stream_of([5, -3, 8, -1, 2]).map(checked).to_list()).value
print("ok:", [r.value for r in results if isinstance(r, Ok)])
print("failed:", [r.error.message for r in results if isinstance(r, Err)])


# %% [markdown]
# An **exception** is a defect: it propagates unchanged — after the sources are closed. Iterating a
# run by hand, an `Err` arrives as `StreamFailed` carrying the `ErrInfo`.

# %%
async def crash_then_look(plan, resource: Resource) -> str:
    try:
        await plan()
    except KeyError as error:
        return f"KeyError({error}) propagated; held after: {resource.held}"

resource = Resource()
print(Simulation().run(crash_then_look(owned(resource).map(lambda line: {"id": 1}[line]).to_list(), resource)))

async def by_hand() -> None:
    async with aclosing(stream_of([1, -2, 3]).map_plan(validate).iterate()) as items:
        async for x in items:
            print("got", x)

try:
    Simulation().run(by_hand())
except StreamFailed as failed:
    print("StreamFailed:", failed.error)

# %% [markdown]
# ## Cancel a run
#
# A cancellation is an early exit too. A shell starts the run as a task and cancels it 2.5 s in, in
# the middle of the source's `sleep`: `CancelledError` unwinds through every stage, and each
# `finally` runs on the way.

# %%
async def cancel_after(seconds: float, plan, resource: Resource) -> str:
    task = asyncio.ensure_future(plan())         # a small shell: start the run, then cancel it
    await asyncio.sleep(seconds)
    held_while_running = resource.held
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return f"held {held_while_running} while running; cancelled at t={now():g}; held {resource.held} after"

resource = Resource()
print(Simulation().run(cancel_after(2.5, owned(resource).map(str.upper).to_list(), resource)))


# %% [markdown]
# ## The remaining laws, with Hypothesis
#
# **Filter fusion** — two `filter`s equal one of both predicates — and **merge**: the same merged
# stream run twice gives equal results, and every item of every source comes out once, in its
# source's order, whatever the speeds.

# %%
ints = st.lists(st.integers(-50, 50), max_size=30)
PREDS = {"even": lambda x: x % 2 == 0, "positive": lambda x: x > 0, "not3": lambda x: x % 3 != 0}

def run(s: Stream):
    return Simulation().run(s.to_list())

@given(xs=ints, p=st.sampled_from(sorted(PREDS)), q=st.sampled_from(sorted(PREDS)))
def filter_fusion(xs, p, q) -> None:
    assert run(stream_of(xs).filter(PREDS[p]).filter(PREDS[q])) == run(stream_of(xs).filter(lambda x: PREDS[p](x) and PREDS[q](x)))

filter_fusion()
print("filter fusion: passed")


# %%
def timed(tag: int, xs: list, every: float) -> Stream:
    async def items():
        for x in xs:
            await asyncio.sleep(every)
            yield (tag, x)
    return stream_from(items)

@given(parts=st.lists(st.tuples(ints, st.sampled_from([0, 0.5, 1, 2.5])), min_size=1, max_size=4))
def merge_keeps_order_and_replays(parts) -> None:
    merged = merge_streams(*(timed(i, xs, every) for i, (xs, every) in enumerate(parts)))
    first, second = run(merged), run(merged)
    assert first == second
    for i, (xs, _) in enumerate(parts):
        assert [x for tag, x in first.value if tag == i] == xs
    assert len(first.value) == sum(len(xs) for xs, _ in parts)

merge_keeps_order_and_replays()
print("merge keeps each source's order, loses nothing, replays: passed")

# %% [markdown]
# | operation | time | memory held |
# |---|---|---|
# | `merge_streams` of *m* sources | O(total items) pulls | O(m) — one pull in flight per source |
# | `map_plan(f, concurrency=c)` | O(n) plans; ⌈n / c⌉ rounds of waiting | O(c) items and plans |
#
# ---
# [← back to 02 Async Generators](../02_async_generators.ipynb) · [Contents](../00_module_overview.ipynb)
