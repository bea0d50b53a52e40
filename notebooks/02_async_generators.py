# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 01 async/await as Descriptions](01_async_await_as_descriptions.ipynb) · [Contents](00_module_overview.ipynb) · [03 Backpressure →](03_backpressure.ipynb)
#
# # 02 · Async Generators
#
# Pages of an API, rows of a query, lines of a log arrive one after another, and often you need only
# the first few. An **async generator** (`async def` plus `yield`) is a sequence you pull with
# `async for`, each item produced only when asked for. You will write them by hand, close them with
# `contextlib.aclosing`, then meet the course's **`Stream`**: the same thing as a replayable description.
#
# **What you'll do**
# - Pull items from an async generator on virtual time and see that nothing runs ahead of the consumer.
# - Leak a resource with `break`, fix it with `aclosing`, and check a `Stream` does the same.
# - Write a combinator as a plain async generator and check it against the package's.
# - Draw a lazy and an eager producer against their consumer; break three stream bugs, then fix them.
#
# **What you'll learn**
# - `async for`, `aclose()`, `contextlib.aclosing`, and why `break` alone closes nothing.
# - `Stream`: `stream_of`, `stream_from`, `stream_count`; `map`, `filter`, `take`, `chunk`; the
#   terminal plans `to_list`, `fold`, `for_each`.
#
# **What you'll need**
# - Lesson [01](01_async_await_as_descriptions.ipynb): `AsyncPlan`, `Result`, the shell, replay.
# - `Simulation`, the virtual clock of lesson [05](05_deterministic_async_testing.ipynb), used as a tool.
#   About 50 minutes. Merging, `map_plan` and failures are in the appendix
#   [further/02](further/02_async_generators.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["02 Async Generators"]
#   concept --> capstone["Capstone pressure point: lesson 12, documents streamed, chunked and embedded"]
# ```
#
# ```mermaid
# flowchart LR
#   source["source (async generator)"] -- "pull: next item?" --> stage1["map / filter"]
#   stage1 -- "pull" --> stage2["take / chunk"]
#   stage2 -- "pull" --> terminal["terminal plan: to_list / fold / for_each"]
#   shell["the shell drives it"] --> terminal
# ```
#
# Every stream here has the second shape: requests flow right to left, items left to right, and the
# source works only when asked.
#
# **Core question.** How do you describe a sequence that arrives over time — lazily, composably,
# replayably — so that nothing is produced before it is needed and everything a source opened is
# released, however the consumer stops?
#
# **Why it matters.** An eager pipeline that loads every page first wastes memory and never ends on an
# infinite source. A careless lazy one leaks: a generator abandoned after a `break` keeps its file
# open. Both pass a happy-path test and show up in production as memory growth and "too many open files".
#
# **The review question to carry:** *who pulls, how much is held at once, and what closes the source
# when the consumer stops early?*

# %% [markdown]
# ## Set up
#
# `Simulation().run(...)` drives a plan or a coroutine on a virtual clock that jumps to the next
# timer whenever every task waits; `now()` reads that clock.

# %%
import asyncio
from contextlib import aclosing

from hypothesis import given, strategies as st

from funcpipe_async import (
    CONSUME, ErrInfo, Ok, Resource, Result, Simulation, SimulationLimitError, Stream, Trace,
    lesson_answer_key, api_summary, async_fail, async_lift, async_pure, format_table, plot_stream_events,
    lesson_quiz, setup, show_figure, stream_count, stream_events_summary, stream_from, stream_of,
)

setup()

def now() -> float:
    return asyncio.get_running_loop().time()


# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live) |
# |---|---|---|---|
# | law | map fusion | `s.map(f).map(g)` equals `s.map(lambda x: g(f(x)))` | Hypothesis — [Prove the stream laws](#Prove-the-stream-laws-with-Hypothesis) |
# | law | chunk / flatten | `s.chunk(n).flatten()` equals `s` | Hypothesis — same section |
# | law | take is lazy | `s.take(n)` pulls at most `n` items | Hypothesis — same section |
# | law | replay | two runs of one stream are equal | [Describe a stream, run it twice](#Describe-a-stream,-run-it-twice) |
# | invariant | pull-based | at most one item produced and not yet consumed | figure in [Draw the producer and the consumer](#Draw-the-producer-and-the-consumer) |
# | invariant | cleanup on early exit | every source's `finally` has run, however the run ended | [Close a generator on early exit](#Close-a-generator-on-early-exit), [Let the stream close its sources](#Let-the-stream-close-its-sources) |
#
# "Equals": both run with `to_list()`, results compared. More laws: [further/02](further/02_async_generators.ipynb).

# %% [markdown]
# ## Choose a stream, a list or a queue
#
# | you have | use | watch out for |
# |---|---|---|
# | a few values, already computed | a `list` | it is all in memory at once |
# | items arriving over time, consumed in order, maybe stopped early | an async generator — a `Stream` | close it on early exit (`aclosing`, or a terminal plan) |
# | the same sequence needed twice, or described before it runs | a `Stream` | a raw generator object is single-use |
# | producer and consumer at their own pace, with slack between | an `asyncio.Queue` (lesson [03](03_backpressure.ipynb)) | bound it, or memory grows without limit |

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([stream_of, stream_from, stream_count, Stream.map, Stream.filter, Stream.take,
                   Stream.chunk, Stream.traced, Stream.to_list, Stream.fold, Stream.for_each]))


# %% [markdown]
# ## Pull one item at a time with `async for`
#
# `numbers` is an async generator: one second of work per item, and a log of each step with the
# virtual time.
#
# **Predict:** after `gen = numbers(3, log)`, what is in the log? Then run.

# %%
async def numbers(n: int, log: list[str], every: float = 1.0):
    log.append(f"t={now():g} source starts")
    try:
        for i in range(n):
            await asyncio.sleep(every)          # the work of producing one item
            log.append(f"t={now():g} produce {i}")
            yield i
    finally:
        log.append(f"t={now():g} source finally")

log: list[str] = []
gen = numbers(3, log)
print(type(gen).__name__, "| log:", log)


# %% [markdown]
# Nothing: calling it only creates a generator, suspended before its first line. Each turn of
# `async for` asks for the next item (`__anext__`); the generator runs to its next `yield` and stops.
#
# **Predict:** the consumer below takes 2 s per item. Does the source produce item 1 before the
# consumer has finished item 0? Then run.

# %%
async def consume_all(items, log: list[str], work: float = 2.0) -> list[int]:
    seen = []
    async for x in items:
        await asyncio.sleep(work)               # the consumer's work on one item
        log.append(f"t={now():g}   consumed {x}")
        seen.append(x)
    return seen

print(Simulation().run(consume_all(gen, log)))
print("\n".join(log))

# %% [markdown]
# *Produce* and *consume* alternate: the source never runs ahead. And a generator object is
# **single-use** — pulled to its end, it gives nothing more, like lesson 01's spent coroutine:

# %%
again: list[str] = []
print("second run:", Simulation().run(consume_all(gen, again)), "| log:", again)

# %% [markdown]
# ## Close a generator on early exit
#
# `read_lines` owns something — a file, a connection. The package's `Resource` is a recording fake
# for it: `acquire()` when the source starts, `release()` in its `finally`; `held` counts what is
# still open.

# %%
async def read_lines(resource: Resource, every: float = 1.0):
    resource.acquire()
    try:
        i = 0
        while True:                              # a long file: more lines than anyone reads
            await asyncio.sleep(every)
            yield f"line {i}"
            i += 1
    finally:
        resource.release()


# %% [markdown]
# A consumer wants the first two lines, then does a minute of other work. It writes the natural loop:
# `async for`, `break`.
#
# **Predict:** a minute after the `break`, is the file still held? Then run.

# %%
async def first_two_leaky(resource: Resource) -> tuple:
    lines, got = read_lines(resource), []
    async for line in lines:
        got.append(line)
        if len(got) == 2:
            break
    await asyncio.sleep(60)                      # other work, a minute later
    return got, resource.held

got, held_later = Simulation().run(first_two_leaky(Resource("log file")))
print(got, "| held a minute later:", held_later)

# %% tags=["raises-exception"]
assert held_later == 0, f"a minute after the break the file is still open (held={held_later})"

# %% [markdown]
# `break` leaves the generator suspended at its `yield`, its `finally` not run. Python closes it only
# when it is garbage-collected (the loop's finalizer hook schedules `aclose()`) or when the loop shuts
# down — a moment you do not choose. `contextlib.aclosing` chooses it: leaving the `async with` block
# — by `break`, `return`, an exception or a cancellation — awaits `aclose()`, which raises
# `GeneratorExit` at the `yield` so the `finally` runs.

# %%
async def first_two(resource: Resource) -> tuple:
    got = []
    async with aclosing(read_lines(resource)) as lines:
        async for line in lines:
            got.append(line)
            if len(got) == 2:
                break
    await asyncio.sleep(60)
    return got, resource.held

plain = Simulation()
plain_got, plain_held = plain.run(first_two(Resource("log file")))
print(plain_got, "| held a minute later:", plain_held, f"| t={plain.now:g}")

# %% [markdown]
# The same consumer as a `Stream`: `stream_from(factory)` wraps a function that *creates* the
# generator, and `take(2).to_list()` is the early exit. Every stage and every terminal plan holds its
# upstream in `aclosing`, so the close is built in. `after_a_minute` is a small shell: it drives the
# plan, works for a minute, then looks.
#
# **Predict:** same lines, same `held`, same virtual time as the plain form? Then run.

# %%
def owned(resource: Resource) -> Stream[str]:
    return stream_from(lambda: read_lines(resource))

async def after_a_minute(plan, *resources: Resource) -> tuple:
    result = await plan()
    await asyncio.sleep(60)
    return result, sum(r.held for r in resources)

resource, described = Resource("log file"), Simulation()
stream_result, stream_held = described.run(after_a_minute(owned(resource).take(2).to_list(), resource))
print(stream_result, "| held a minute later:", stream_held, f"| t={described.now:g}")
assert stream_result == Ok(plain_got) and stream_held == plain_held == 0 and described.now == plain.now
print("equivalent: same lines, same cleanup, same virtual time")

# %% [markdown]
# **What the description adds:** the close cannot be forgotten, and `owned(resource).take(2)` is a
# value — printable, replayable, testable before it runs. **What it costs:** one more layer to read,
# and an `Err` instead of an exception (lesson 01). You still need `aclosing` whenever you hold a raw
# generator yourself — as in the next section.

# %% [markdown]
# ## Write a combinator by hand
#
# A combinator is an async generator that pulls from another one. Here is `chunk`, written plainly:
# it holds its upstream in `aclosing`, keeps the batch *inside* the generator (a fresh one per run),
# and yields the short last batch when the source ends.

# %%
async def chunked(items, n: int):
    batch = []
    async with aclosing(items) as upstream:
        async for x in upstream:
            batch.append(x)
            if len(batch) == n:
                yield tuple(batch)
                batch = []
    if batch:
        yield tuple(batch)

def my_chunk(stream: Stream, n: int) -> Stream:
    return stream_from(lambda: chunked(stream.iterate(), n))


# %% [markdown]
# **Predict:** does `my_chunk` match the package's `chunk` on every size — and does it release an
# endless source when `take(1)` stops? Then run.

# %%
words = stream_of("the quick brown fox jumps over the lazy dog".split())
for n in (1, 2, 4, 9, 10):
    assert Simulation().run(my_chunk(words, n).to_list()) == Simulation().run(words.chunk(n).to_list())
print(Simulation().run(my_chunk(words, 4).to_list()))
resource = Resource()
print(Simulation().run(after_a_minute(my_chunk(owned(resource), 2).take(1).to_list(), resource)))

# %% [markdown]
# Same batches as `words.chunk(n)` on every size, and the endless source released. Exercise 02 asks
# you for a combinator of your own in this shape.
#
# ## Describe a stream, run it twice
#
# A `Stream` prints as the code that built it, and building it runs nothing. A terminal method such as
# `to_list()` turns it into an `AsyncPlan` the shell drives.
#
# **Predict:** how many times does *source starts* appear after two runs? Then run.

# %%
log = []
plan = stream_from(lambda: numbers(3, log)).map(lambda x: x * 10).to_list()
print(plan, "| log after describing:", log)
sim = Simulation()
print("first run: ", sim.run(plan))
print("second run:", sim.run(plan))
print("\n".join(log))

# %% [markdown]
# Twice: each run calls the factory afresh, so the runs are equal (the *replay* law) and each closes
# its source. `stream_of(items)` reads values you already have once, when built — replayable too.
#
# ## Compose map, filter, take and chunk
#
# Each method returns a new, immutable stream; the order of steps is the order of work. `fold(initial,
# f)` combines the items into one value; `chunk(n)` holds at most `n` items, and `flatten()` undoes it.
#
# **Predict:** how many numbers does `filter` see before `take(3)` stops the run? Then run.

# %%
trace = Trace()
evens = stream_of(range(100)).traced(trace, "numbers").filter(lambda x: x % 2 == 0).map(lambda x: x * x).take(3)
print(evens)
print(Simulation().run(evens.to_list()), "| pulled:", len(trace.of_kind("emit")))
print(Simulation().run(words.map(len).fold(0, lambda total, n: total + n)), "letters")

# %% [markdown]
# `traced(trace)` records each `pull` (asked for an item), `emit` (handed one over) and `close`.
# Five numbers — 0 to 4 — were enough for three even squares.
#
# ## Take from an infinite stream
#
# `stream_count()` is 0, 1, 2, … for ever; that is fine as long as something downstream stops pulling.
#
# **Predict:** how many pulls does `stream_count()` see from `take(3)`? Then run.

# %%
trace = Trace()
print(Simulation().run(stream_count().traced(trace, "count").map(lambda x: x * 7).take(3).to_list()))
print(trace.table())


# %% [markdown]
# Three pulls, three emits, then the close: `take(3)` never asks for a fourth item.
#
# ## Draw the producer and the consumer
#
# A fast source (1 s per item) and a slow consumer (3 s per item), on virtual time. `for_each(handle)`
# runs a plan per item; `handle` records a `consume` event when the consumer is done.
#
# **Predict:** at most how many items are produced but not yet consumed? Then run.

# %%
def ticks(produce: float):
    async def items():
        i = 0
        while True:
            await asyncio.sleep(produce)
            yield i
            i += 1
    return stream_from(items)

def lazy_run(produce: float = 1, consume: float = 3, n: int = 6) -> Trace:
    sim = Simulation()

    def handle(x: int):
        async def work() -> Result[None, ErrInfo]:
            await asyncio.sleep(consume)
            sim.trace.record(CONSUME, "consumer", item=x)
            return Ok(None)
        return async_lift(work)

    sim.run(ticks(produce).traced(sim.trace, "ticks").take(n).for_each(handle))
    return sim.trace


# %%
lazy = lazy_run()
show_figure(plot_stream_events(lazy), alt=(
    "Three rows against virtual seconds: the consumer pulls at 0, 4, 8, 12, 16, 20; the source emits one "
    "second after each pull; the consumer finishes each item three seconds later; the source closes at 24."))
print(stream_events_summary(lazy))

# %% [markdown]
# One. The source works 6 of 24 seconds and waits the rest: the consumer sets the pace —
# backpressure for free.
#
# Now an **eager** producer: a task fills an unbounded `asyncio.Queue` as fast as it can while a
# consumer task drains it, both in an `asyncio.TaskGroup`. Same speeds, same events (no pulls: nobody asks).
#
# **Predict:** at most how many items are produced but not yet consumed now? Then run.

# %%
def eager_run(produce: float = 1, consume: float = 3, n: int = 6) -> Trace:
    sim = Simulation()

    async def main() -> None:
        buffer: asyncio.Queue[int] = asyncio.Queue()         # unbounded

        async def fill() -> None:
            for i in range(n):
                await asyncio.sleep(produce)
                sim.trace.record("emit", "eager", item=i)
                buffer.put_nowait(i)

        async def drain() -> None:
            for _ in range(n):
                x = await buffer.get()
                await asyncio.sleep(consume)
                sim.trace.record(CONSUME, "consumer", item=x)

        async with asyncio.TaskGroup() as tg:                 # the notebook is a shell
            tg.create_task(fill())
            tg.create_task(drain())

    sim.run(main())
    return sim.trace


# %%
eager = eager_run()
show_figure(plot_stream_events(eager, title="An eager producer runs ahead of its consumer"), alt=(
    "Against virtual seconds: the pull row is empty; the producer emits items 0 to 5 at 1, 2, 3, 4, 5, 6 "
    "without being asked; the consumer finishes them at 4, 7, 10, 13, 16, 19."))
print(stream_events_summary(eager))

# %% [markdown]
# Five of six items were produced and not yet consumed at once; with a million, a million. The eager run ends
# sooner (t=19, not 24) because producing overlaps consuming. Lesson 03 keeps that gain and bounds
# the queue.

# %% [markdown]
# ## Let the stream close its sources
#
# The guarantee travels through the whole chain. One owning source, run two ways, each ending early:
#
# **Predict:** the *held after* column. Then run.

# %%
BAD = ErrInfo("BAD", "this item is invalid")

def ends(resource: Resource) -> dict:
    lines = owned(resource).map(str.upper)
    return {
        "take(3)": lines.take(3).to_list(),
        "an Err at line 2": lines.map_plan(lambda s: async_fail(BAD) if s.endswith("2") else async_pure(s)).to_list(),
    }

rows = []
for name in ends(Resource()):
    resource = Resource()
    result, held = Simulation().run(after_a_minute(ends(resource)[name], resource))
    rows.append([name, result, resource.acquired, held])
print(format_table(["how the run ended", "result", "acquired", "held after"], rows))


# %% [markdown]
# 0 every time. An `Err` from `map_plan` (a plan per item) ends the stream: the run stops, the
# sources close, and the terminal plan's result is the `Err`. Cancellation, exceptions and
# `merge_streams` are in [further/02](further/02_async_generators.ipynb).
#
# ## Prove the stream laws with Hypothesis
#
# `@given` cannot decorate an `async def`, and does not need to: each property is a plain function
# that runs streams with `Simulation().run(...)`. Functions are drawn from a small named set, so a
# counterexample prints readably.

# %%
ints = st.lists(st.integers(-50, 50), max_size=30)
FUNCS = {"inc": lambda x: x + 1, "double": lambda x: 2 * x, "neg": lambda x: -x, "square": lambda x: x * x}

def run(s: Stream):
    return Simulation().run(s.to_list())

@given(xs=ints, f=st.sampled_from(sorted(FUNCS)), g=st.sampled_from(sorted(FUNCS)), n=st.integers(1, 10))
def map_fusion_and_chunk_flatten(xs, f, g, n) -> None:
    assert run(stream_of(xs).map(lambda x: x)) == Ok(xs)
    assert run(stream_of(xs).map(FUNCS[f]).map(FUNCS[g])) == run(stream_of(xs).map(lambda x: FUNCS[g](FUNCS[f](x))))
    assert run(stream_of(xs).chunk(n).flatten()) == Ok(xs)

map_fusion_and_chunk_flatten()
print("map identity, map fusion, chunk(n).flatten() == identity: passed")


# %% [markdown]
# **Take is lazy**, however long the source — including an infinite one:

# %%
@given(xs=ints, n=st.integers(0, 40), infinite=st.booleans())
def take_is_lazy(xs, n, infinite) -> None:
    trace = Trace()
    source = stream_count() if infinite else stream_of(xs)
    result = run(source.traced(trace).take(n))
    assert len(trace.of_kind("emit")) == len(result.value) <= n
    assert result == (Ok(list(range(n))) if infinite else Ok(xs[:n]))

take_is_lazy()
print("take(n) pulls at most n items: passed")


# %% [markdown]
# ## Measure the cost of a stream
#
# | operation | time | memory held |
# |---|---|---|
# | building a stream, each `map` / `filter` / `take` / `chunk` | O(1) | O(1) per step |
# | `s.to_list()` over *n* items | O(n) pulls | O(n) — the list |
# | `s.fold(…)` / `s.for_each(…)` | O(n) pulls | O(1) besides the accumulator |
# | `s.take(k)` on *n* (or infinitely many) items | O(min(k, n)) pulls | O(1) |
# | `s.chunk(c)` | O(n) pulls | O(c) |
#
# Measured by counting pulls on a traced source as it grows 100×. **Predict:** which columns stay flat?

# %%
def pulls(build, n: int) -> int:
    trace = Trace()
    Simulation().run(build(stream_of(range(n)).traced(trace)))
    return len(trace.of_kind("pull"))

def measure(n: int) -> list:
    held = max(len(c) for c in run(stream_of(range(n)).chunk(8)).value)
    return [n, pulls(lambda s: s.fold(0, lambda a, x: a + x), n), pulls(lambda s: s.take(5).to_list(), n), held]

print(format_table(["n items", "pulls: fold", "pulls: take(5)", "held by chunk(8)"], [measure(n) for n in (10, 100, 1_000)]))


# %% [markdown]
# `fold` pulls every item plus one (the pull that finds the end); `take(5)` pulls 5 whatever *n*; a
# `chunk(8)` never holds more than 8.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | a generator never closed | after a `break` the file stays open until the garbage collector gets to it | `async with aclosing(gen)`, or a terminal plan — failed live, then fixed, in [Close a generator on early exit](#Close-a-generator-on-early-exit) |
# | collecting an unbounded source into a list | the run never ends; memory grows until the process dies | bound it first (`take(n)`), or `fold` / `for_each` |
# | one generator shared by two consumers | each consumer silently sees part of the items | one run per consumer: `stream.iterate()` twice, or a queue (lesson 03) |
#
# ### Anti-pattern: collecting an unbounded source into a list
#
# A sensor yields a reading every second, for ever. `to_list()` on it never ends; here the
# simulation's `limit` turns "never" into a clear error after 60 virtual seconds.

# %% tags=["raises-exception"]
async def sensor():
    i = 0
    while True:
        await asyncio.sleep(1)
        yield 20 + (i % 5)
        i += 1

readings = stream_from(sensor)
Simulation(limit=60).run(readings.to_list())

# %% [markdown]
# (`stream_count().to_list()` would hang: it never awaits, so the loop never gets a turn.) Fix: bound
# the stream before collecting it, or do not collect:

# %%
sim = Simulation(limit=60)
print(sim.run(readings.take(5).to_list()), f"at t={sim.now:g}")
print(Simulation(limit=60).run(readings.take(30).fold(0, lambda total, r: total + r)), "= sum of 30 readings")


# %% [markdown]
# ### Anti-pattern: one generator shared by two consumers
#
# Two workers must each process *all* the orders — one bills, one ships — and share one generator.
#
# **Predict:** what does each worker see? Then run.

# %%
async def orders(n: int):
    for i in range(n):
        yield f"order-{i}"

async def worker(items, seen: list) -> None:
    async for order in items:
        seen.append(order)
        await asyncio.sleep(1)                   # handle the order

async def two_workers(billing_items, shipping_items) -> tuple:
    billed, shipped = [], []
    await asyncio.gather(worker(billing_items, billed), worker(shipping_items, shipped))
    return billed, shipped

shared = orders(4)
billed, shipped = Simulation().run(two_workers(shared, shared))
print("billed: ", billed, "\nshipped:", shipped)

# %% tags=["raises-exception"]
assert billed == shipped == [f"order-{i}" for i in range(4)], (
    f"a shared generator hands each item to one consumer only: billed {billed}, shipped {shipped}")

# %% [markdown]
# Each order went to one worker only, and no error said so. (When the source awaits between items,
# the second worker gets `RuntimeError: anext(): asynchronous generator is already running`.) A
# generator is *one run*; two consumers need two runs:

# %%
order_stream = stream_from(lambda: orders(4))
billed, shipped = Simulation().run(two_workers(order_stream.iterate(), order_stream.iterate()))
assert billed == shipped == [f"order-{i}" for i in range(4)]
print("billed: ", billed, "\nshipped:", shipped)

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — stored with the notebook, so
# you can read it without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("02")

# %%
lesson_answer_key("02")

# %% [markdown]
# ## Exercise
#
# **[Exercise 02 · Async Generators](../exercises/02_async_generators.ipynb)** (10 points), with a
# **Check your work** cell that runs the grader's checks (see [the exercises README](../exercises/README.md)):
#
# 1. **Slide a window over a stream** — a combinator of your own, lazy and closing its source.
# 2. **Own a resource, release it always** — a source that releases its `Resource` however its run ends.
# 3. **Pull exactly what you need** — a plan that pulls nothing after the first alert.
#
# ## On your own
#
# - Write `scan(stream, initial, f)` — every intermediate `fold` value — and check its law against `fold`.
# - Give `eager_run`'s queue `maxsize=1` (and `await buffer.put(i)`). How many items run ahead now,
#   and when does the run end?
# - Read the source of `contextlib.aclosing` (a few lines). Why does it need `async with`?
#
# ## Further reading
#
# - [further/02](further/02_async_generators.ipynb): merging, `map_plan`, failures, cancellation.
# - [PEP 525 — Asynchronous Generators](https://peps.python.org/pep-0525/): `aclose` and finalization;
#   [PEP 533](https://peps.python.org/pep-0533/) (deferred): why `break` does not close.
# - Python docs, [`contextlib.aclosing`](https://docs.python.org/3/library/contextlib.html#contextlib.aclosing).
# - Nathaniel J. Smith, [Some thoughts on asynchronous API design in a post-async/await world](https://vorpus.org/blog/some-thoughts-on-asynchronous-api-design-in-a-postasyncawait-world/).
#
# ## Continue with
#
# **[03 · Backpressure](03_backpressure.ipynb)**: a queue between two stages lets the producer run
# ahead — up to a bound you choose, and with a decision for when it is full.

# %% [markdown]
# ---
# [← 01 async/await as Descriptions](01_async_await_as_descriptions.ipynb) · [Contents](00_module_overview.ipynb) · [03 Backpressure →](03_backpressure.ipynb)
