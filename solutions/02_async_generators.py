# ---
# jupyter:
#   funcpipe_async:
#     exercise: 02_async_generators
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 02 Async Generators](../notebooks/02_async_generators.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 02 · Async Generators
#
# Three graded tasks on the lesson's ideas: a stream is a **replayable description** that is pulled
# **lazily**, and whatever a source opens is **closed however the run ends**. Everything runs on
# **virtual time**. 10 points.
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
# the lesson used, including the `Resource` test double, and `aclosing` and `deque` for your code.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
from collections import deque
from contextlib import aclosing

from funcpipe_async import (
    AsyncPlan, Err, ErrInfo, Ok, Resource, Result, Simulation, Stream, Trace, async_bind, async_fail,
    async_pure, stream_count, stream_from, stream_of,
)


# %% [markdown]
# ## Task 1 — Slide a window over a stream (4 points)
#
# Write the stream combinator `windows(stream, n)`: the stream of every run of `n` consecutive items,
# as tuples, in order. Its law, for every list `xs` and every `n ≥ 1`:
#
# ```python
# windows(stream_of(xs), n)   runs to   [tuple(xs[i:i + n]) for i in range(len(xs) - n + 1)]
# ```
#
# so `windows(stream_of([1, 2, 3, 4]), 3)` runs to `[(1, 2, 3), (2, 3, 4)]`, and fewer than `n` items
# give no window. Like the package's own combinators, it must
#
# - return a `Stream` and run nothing when built — wrap an async generator function in `stream_from`;
# - replay: a second run gives the same windows (each run starts with an empty window);
# - be lazy: `windows(s, n).take(k)` pulls at most `n + k − 1` items from `s`;
# - close its source when its own run is closed early (hold the upstream run in `aclosing`);
# - refuse `n < 1` with `ValueError`, when the stream is built.
#
# *How it is checked:* the law on generated lists and window sizes, each stream run twice; pulls
# counted on a 1,000-item source behind `take(k)`; an endless source that holds a `Resource`, behind
# `take(k)` — it must be released the moment the run ends.
#
# <details><summary>Hint 1</summary>
#
# Look again at the lesson's section *Write a combinator by hand*. Which parts of `chunked` and
# `my_chunk` does a window need too — and which line of `chunked` closes the source?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Where does the window live: inside the generator, or beside it? What would a second run see if it
# lived beside it? (The lesson's last quiz question asks the same.) The `collections` module has a
# container that forgets its oldest item by itself.
# </details>

# %% tags=["task:t1"]
# Task 1 — Slide a window over a stream
def windows(stream: Stream, n: int) -> Stream:
    """The stream of every run of `n` consecutive items of `stream`, as tuples."""
    # BEGIN SOLUTION
    if n < 1:
        raise ValueError(f"windows needs n >= 1, got {n}")

    async def run():
        window = deque(maxlen=n)                 # per run: every run starts empty
        async with aclosing(stream.iterate()) as items:
            async for x in items:
                window.append(x)
                if len(window) == n:
                    yield tuple(window)

    return stream_from(run)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the law on an example, the laziness counted with a traced source, and a replay.

# %% tags=["solution-only"]
print(Simulation().run(windows(stream_of([1, 2, 3, 4, 5]), 3).to_list()))
trace = Trace()
print(Simulation().run(windows(stream_count().traced(trace), 3).take(2).to_list()), "| pulled:", len(trace.of_kind("emit")))
w = windows(stream_of(list("abcd")), 2)
print(Simulation().run(w.to_list()) == Simulation().run(w.to_list()))


# %% [markdown]
# ## Task 2 — Own a resource, release it always (3 points)
#
# Write `read_log(resource, lines)`, a **source** stream: each run acquires `resource`
# (`resource.acquire()`), then, for each line in turn, waits a second (`await asyncio.sleep(1)`:
# reading is slow) and yields it — and releases the resource (`resource.release()`) **however the run
# ends**: at the end of the lines, when a `take` is satisfied, after a `break` inside `aclosing`, when
# a later step returns an `Err` or raises, or when the run is cancelled.
#
# - Building the stream acquires nothing: a stream nobody runs holds nothing.
# - Every run starts afresh: two runs acquire (and release) twice, and give the same lines.
#
# *How it is checked:* on generated log files, the stream is run to the end (it must take one virtual
# second per line), run a second time, and then ended five early ways: `take`, `break`, an `Err` from
# `map_plan`, an exception from `map`, and a cancellation half a second in. After each, the
# resource must already be released when the run is over.
#
# <details><summary>Hint 1</summary>
#
# Which function in the lesson's *Close a generator on early exit* section owns a `Resource`? Where
# does it call `acquire()` — and why must that be inside the generator, not in the code that builds
# the stream?
# </details>
#
# <details><summary>Hint 2</summary>
#
# What does `stream_from` expect: a generator, or something that *makes* one? Look at how the
# lesson's `owned` builds its stream, and ask what a second run would get otherwise.
# </details>

# %% tags=["task:t2"]
# Task 2 — Own a resource, release it always
# BEGIN SOLUTION
async def _lines_of(resource: Resource, lines: list[str]):
    resource.acquire()                           # when a run starts, not when the stream is built
    try:
        for line in lines:
            await asyncio.sleep(1)
            yield line
    finally:                                     # the end, take, break, Err, exception, cancel
        resource.release()
# END SOLUTION

def read_log(resource: Resource, lines: list[str]) -> Stream:
    """A stream of `lines`, one per second, holding `resource` while each run is open."""
    # BEGIN SOLUTION
    return stream_from(lambda: _lines_of(resource, lines))
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a full run, then `take(1)` with the resource read inside the run.

# %% tags=["solution-only"]
log = Resource("access.log")
stream = read_log(log, ["GET /", "POST /login", "GET /health"])
print("built:", log)
print(Simulation().run(stream.to_list()), log)

async def take_one_then_look():
    result = await stream.take(1).to_list()()
    return result, log.held

print(Simulation().run(take_one_then_look()))


# %% [markdown]
# ## Task 3 — Pull exactly what you need (3 points)
#
# A sensor stream delivers temperature readings. Write `first_alert(readings, threshold)`, which
# returns an `AsyncPlan`: when driven, it gives `Ok(reading)` for the **first** reading strictly over
# `threshold`, or `Err(ErrInfo("NO_ALERT", ...))` if the stream ends without one. It must pull **no
# reading after the alert**: the stream may be long, or endless.
#
# *How it is checked:* on generated readings and thresholds (some equal to a reading), the readings
# stream is traced: building your plan must pull nothing, the result must be the expected one, and the
# number of readings pulled must be exactly what finding the first alert needs.
#
# <details><summary>Hint 1</summary>
#
# Which two stream steps from *Compose map, filter, take and chunk* find the first matching item
# and stop pulling after it? What does `to_list()` give when there was none?
# </details>
#
# <details><summary>Hint 2</summary>
#
# You then have a plan of a list, but must return a plan of one reading or an `Err`. Which
# combinator from lesson 01 continues a plan with another plan chosen from its value?
# </details>

# %% tags=["task:t3"]
# Task 3 — Pull exactly what you need
def first_alert(readings: Stream, threshold: float) -> AsyncPlan:
    """A plan: the first reading over `threshold`, or Err(NO_ALERT); pulls nothing after it."""
    # BEGIN SOLUTION
    def answer(found: list):
        if found:
            return async_pure(found[0])
        return async_fail(ErrInfo("NO_ALERT", f"no reading over {threshold}"))

    return async_bind(readings.filter(lambda r: r > threshold).take(1).to_list(), answer)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: an endless sensor, and a short one with no alert.

# %% tags=["solution-only"]
trace = Trace()
sensor = stream_count().map(lambda i: 18 + i % 7).traced(trace, "sensor")
print(Simulation().run(first_alert(sensor, 22)), "| pulled:", len(trace.of_kind("emit")))
print(Simulation().run(first_alert(stream_of([18, 19, 20]), 22)))

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("02_async_generators")

# %% [markdown]
# ## On your own
#
# - Write `scan(stream, initial, f)`, the stream of every intermediate `fold` value, and check its
#   law with Hypothesis: the last item of `scan` is the result of `fold`.
# - What does `windows(merge_streams(a, b), 2)` mean when `a` and `b` run at different speeds? Is the
#   result replayable?
# - Make `read_log` take a `path` and open a real file with `aiofiles` or `asyncio.to_thread`. Which
#   of the five early exits is the hardest to test without the virtual clock?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 02 Async Generators](../notebooks/02_async_generators.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
