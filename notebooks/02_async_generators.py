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
# Data rarely arrives all at once. Log lines, pages of an API, rows of a query, chunks of a
# document: they come one after another, over time, and often you need only the first few. An
# **async generator** is Python's tool for that: `async def` plus `yield` gives a sequence you pull
# with `async for`, one item at a time, each item produced only when asked for. This lesson turns
# async generators into the course's kind of value — a **`Stream`**, a replayable *description* of a
# lazy sequence, composed with `map`, `filter`, `take`, `chunk` and `merge_streams`, and run by the
# shell through a terminal plan — and makes sure that whatever a stream opened is **closed**, however
# the run ends.
#
# **What you'll do**
# - Pull items from an async generator and watch, on virtual time, that nothing is produced until it is asked for.
# - Describe streams, compose them, run them twice, and draw when the producer and the consumer acted.
# - Stop a stream early — with `take`, `break`, an error, a cancellation — and check every source was closed.
# - Prove the stream laws live with Hypothesis, and count pulls to back a Big-O table.
# - Watch three stream bugs fail — a generator never closed, an infinite source collected into a list,
#   one generator shared by two consumers — and fix each one.
#
# **What you'll learn**
# - `async for`, `aclose()`, `contextlib.aclosing`, and why `break` alone does not close a generator.
# - `Stream`, `stream_of`, `stream_from`, `stream_count`, `merge_streams`; `map`, `filter`, `take`,
#   `chunk`, `flatten`, `map_plan`; the terminal plans `to_list`, `fold`, `for_each`.
# - How an expected failure (`Err`) ends a stream, and how to carry `Result`s to keep going instead.
#
# **What you'll need**
# - Lesson [01 async/await as Descriptions](01_async_await_as_descriptions.ipynb): `AsyncPlan`,
#   `Result`, the shell, and replayable plans.
# - The virtual clock `Simulation`, used here and explained in depth in lesson
#   [05](05_deterministic_async_testing.ipynb). About 50 minutes.

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
# The first diagram places the lesson. The second is the shape of every stream in it: the consumer at
# the right asks for an item, each stage asks the one before it, and only then does the source do any
# work. Requests flow right to left, items left to right.
#
# **Core question.** How do you describe a sequence that arrives over time — lazily, composably,
# replayably — so that nothing is produced before it is needed and everything a source opened is
# released, however the consumer stops?
#
# **Why it matters.** An eager pipeline that loads every page, every row or every chunk before it
# starts wastes memory and time, and never ends on an infinite source. A lazy one written carelessly
# leaks: a generator abandoned after a `break` keeps its file, socket or database cursor open until
# the garbage collector happens to run. Both bugs hide in a happy-path test and show up in production
# as memory growth and "too many open files".
#
# **The review question to carry:** *for this stream, who pulls, how much is held at once, and what
# closes the source when the consumer stops early?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`; nothing the package provides is re-defined here. `setup()`
# loads the course's Hypothesis profile (derandomized, so the output is the same on every run).
# `Simulation(...).run(...)` drives a plan or a coroutine on a virtual clock: time jumps to the next
# timer whenever every task waits, so a source that takes a second per item costs no real time.
# `now()` reads the running loop's (virtual) clock.

# %%
import asyncio
from collections import Counter
from contextlib import aclosing

from hypothesis import given, strategies as st
from IPython.display import HTML

from funcpipe_async import (
    CONSUME, Err, ErrInfo, Ok, Question, Resource, Result, Simulation, SimulationLimitError, Stream,
    StreamFailed, Trace, answer_key_html, api_summary, async_fail, async_lift, async_pure,
    format_table, merge_streams, plot_stream_events, quiz_widget, setup, show_figure, stream_count,
    stream_events_summary, stream_from, stream_of,
)

setup()

def now() -> float:
    return asyncio.get_running_loop().time()


# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | law | map identity | `s.map(lambda x: x)` runs to the same items as `s` | Hypothesis — [Prove the stream laws](#Prove-the-stream-laws-with-Hypothesis) |
# | law | map fusion | `s.map(f).map(g)` equals `s.map(lambda x: g(f(x)))` | Hypothesis — same section |
# | law | filter fusion | `s.filter(p).filter(q)` equals `s.filter(lambda x: p(x) and q(x))` | Hypothesis — same section |
# | law | chunk / flatten | `s.chunk(n).flatten()` equals `s`, for every `n ≥ 1` | Hypothesis — same section |
# | law | take is lazy | running `s.take(n)` pulls at most `n` items from `s` | Hypothesis — same section; [Take from an infinite stream](#Take-from-an-infinite-stream) |
# | law | replay | running the same stream twice gives equal results (each run calls the source's factory afresh) | [Describe a stream, run it twice](#Describe-a-stream,-run-it-twice) and Hypothesis |
# | law | merge | `merge_streams(a, b, …)` yields every item of every source once, each source's items in its own order | [Merge two sources](#Merge-two-sources-by-arrival) and Hypothesis |
# | invariant | pull-based | a source produces item *i* only after the consumer asked for it: at most one item produced and not yet consumed | the figure in [Draw the producer and the consumer](#Draw-the-producer-and-the-consumer) |
# | invariant | cleanup on early exit | when a run ends by `take`, `break` inside `aclosing`, an `Err`, an exception or a cancellation, every source's `finally` has run | [Let the stream close its sources](#Let-the-stream-close-its-sources) |
# | invariant | an `Err` ends the stream | the first `Err` from `map_plan` stops the run, closes the sources and is the terminal plan's result; exceptions propagate | [Decide what a failure does](#Decide-what-a-failure-does) |
#
# "Equals" means: both streams are run with `to_list()` on a fresh `Simulation` and the results compared.

# %% [markdown]
# ## Choose a stream, a list, a queue or `as_completed`
#
# | you have | use | because | watch out for |
# |---|---|---|---|
# | a few values, already computed | a `list` | simplest; random access; `len` | it is all in memory at once |
# | items that arrive over time, consumed in order, maybe stopped early | an async generator — a `Stream` | lazy and pull-based: one item in flight, nothing produced ahead | close it on early exit (`aclosing`, or a terminal plan) |
# | the same sequence needed twice, or described before it runs | a `Stream` | a description: every run calls the factory afresh | a raw generator object is single-use |
# | a producer and a consumer that must run at their own pace, with slack between them | an `asyncio.Queue` (lesson 03) | decouples the two; a buffer absorbs bursts | bound it, or memory grows without limit |
# | *n* independent awaitables, all started now, results as they finish | `asyncio.as_completed` or `async_gather` | push-based: every one starts at once | no laziness — all *n* are in flight; bound them |
# | several sources, interleaved by arrival | `merge_streams` | concurrent pulls, at most one per source | it is concurrency: order *across* sources is by time |

# %% [markdown]
# ## Read the public API
#
# The stream constructors, the methods that compose streams, and the terminal plans, each with its
# signature and the first sentence of its documentation:

# %%
print(api_summary([stream_of, stream_from, stream_count, merge_streams, Stream.map,
                   Stream.filter, Stream.take, Stream.chunk, Stream.flatten, Stream.map_plan,
                   Stream.traced, Stream.to_list, Stream.fold, Stream.for_each]))


# %% [markdown]
# ## Pull one item at a time with `async for`
#
# An async generator is an `async def` with a `yield`. Calling it runs **nothing**: it returns a
# generator object, suspended before its first line. Below, `numbers` logs each step with the virtual
# time; a source that takes one second per item. Look at the log after the call: empty.

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
# `async for` pulls: each turn of the loop asks the generator for its next item (`__anext__`), the
# generator runs until its next `yield`, and stops there until asked again. The consumer below takes
# 2 seconds per item. Read the log: *produce* and *consume* alternate — the source never runs ahead.

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
# A generator object is **single-use**: it has run to its end, and pulling again gives nothing. That
# is the async twin of lesson 01's spent coroutine — and the reason for the next section.

# %%
again: list[str] = []
print("second run:", Simulation().run(consume_all(gen, again)), "| log:", again)

# %% [markdown]
# ## Describe a stream, run it twice
#
# `stream_from(factory)` wraps a *function that creates* a generator. The `Stream` it returns is a
# description: building it, and chaining steps onto it, runs nothing, and it prints as the code that
# built it. A terminal method such as `to_list()` turns it into an `AsyncPlan`, which the shell
# drives. Each drive calls the factory afresh — watch *source starts* appear once per run.

# %%
log = []
three = stream_from(lambda: numbers(3, log))
plan = three.map(lambda x: x * 10).to_list()
print(plan)
print("log after describing:", log)

# %%
sim = Simulation()
print("first run: ", sim.run(plan))
print("second run:", sim.run(plan))
print("\n".join(log))

# %% [markdown]
# The two runs gave equal results (the *replay* law), at t = 0–3 and t = 3–6 on the same clock, and
# the source's `finally` ran at the end of each. `stream_of(items)` is the constructor for values you
# already have: it reads them once, when the stream is built, so it is replayable too.

# %% [markdown]
# ## Compose map, filter, take and chunk
#
# Each method returns a new stream; the old one is unchanged (streams are immutable values). The
# order of steps is the order of work: here `filter` sees every number, `map` only the even ones, and
# `take(3)` stops the whole run after its third item.

# %%
evens = stream_of(range(100)).filter(lambda x: x % 2 == 0).map(lambda x: x * x).take(3)
print(evens)
print(Simulation().run(evens.to_list()))

# %% [markdown]
# `chunk(n)` groups items into tuples of `n` — the last one shorter when items run out — and
# `flatten()` undoes it. Batching is how a stream feeds a capability that prefers many items per call
# (lesson 09); a chunk holds at most `n` items at once.

# %%
words = stream_of("the quick brown fox jumps over the lazy dog".split())
print(Simulation().run(words.chunk(4).to_list()))
print(Simulation().run(words.chunk(4).flatten().to_list()) == Simulation().run(words.to_list()))

# %% [markdown]
# `fold(initial, f)` combines the items into one value, and `for_each(f)` runs a plan per item and
# counts them. Both are plans: nothing runs until the shell drives them.

# %%
print(Simulation().run(words.map(len).fold(0, lambda total, n: total + n)), "letters")
saved: list[str] = []

def save(word: str):
    async def write() -> Result[None, ErrInfo]:
        await asyncio.sleep(0.1)
        saved.append(word.upper())
        return Ok(None)
    return async_lift(write)

plan = words.take(4).for_each(save)
before = list(saved)
print("before:", before, "| result:", Simulation().run(plan), "| after:", saved)

# %% [markdown]
# ## Take from an infinite stream
#
# `stream_count()` is 0, 1, 2, … for ever. That is fine, as long as something downstream stops
# pulling. `traced(trace)` records on a `Trace` each time the stream is asked for an item (`pull`),
# hands one over (`emit`), and is closed (`close`). Look for: exactly 3 pulls, 3 emits, then the close —
# `take(3)` never asks for a fourth item.

# %%
trace = Trace()
print(Simulation().run(stream_count().traced(trace, "count").map(lambda x: x * 7).take(3).to_list()))
print(trace.table())


# %% [markdown]
# ## Draw the producer and the consumer
#
# A fast producer (1 s per item) and a slow consumer (3 s per item), on virtual time. The consumer
# records a `consume` event on the same trace when it has finished an item. If the producer ran ahead,
# its emits would bunch up at the start. Watch instead how every *emit* comes one second after its
# *pull*, and every *pull* waits for the previous *consume*.

# %%
def producer_consumer(produce: float, consume: float, n: int = 5) -> Trace:
    sim = Simulation()

    async def ticks():
        i = 0
        while True:
            await asyncio.sleep(produce)
            yield i
            i += 1

    def handle(x: int):
        async def work() -> Result[None, ErrInfo]:
            await asyncio.sleep(consume)
            sim.trace.record(CONSUME, "consumer", item=x)
            return Ok(None)
        return async_lift(work)

    sim.run(stream_from(ticks).traced(sim.trace, "ticks").take(n).for_each(handle))
    return sim.trace


# %%
slow_consumer = producer_consumer(produce=1, consume=3)
show_figure(plot_stream_events(slow_consumer), alt=(
    "Three rows against virtual seconds: consumer pulls at 0, 4, 8, 12, 16; the source emits one second "
    "after each pull; the consumer finishes each item three seconds later; the source closes at 20."))
print(stream_events_summary(slow_consumer))

# %% [markdown]
# The source spends 5 of its 20 seconds working and 15 waiting to be asked: the consumer sets the
# pace, and at most **one** item is ever produced but not yet consumed. That is backpressure for free:
# a pull-based source cannot outrun its consumer. Lesson 03 puts a queue between the two so the
# producer *may* run ahead — and then has to decide how far.
#
# Swap the speeds — a slow producer, a fast consumer — and the consumer waits instead:

# %%
slow_producer = producer_consumer(produce=3, consume=1)
print(stream_events_summary(slow_producer))


# %% [markdown]
# For contrast, an **eager** producer: a task that fills a list as fast as it can while the consumer
# works through it. It has made all 20 items before the consumer finishes the first one — 20 items
# held in memory, and work done for items nobody may ever need.

# %%
async def eager(n: int = 20, produce: float = 0.1, consume: float = 3.0) -> str:
    buffer: list[int] = []

    async def fill():
        for i in range(n):
            await asyncio.sleep(produce)
            buffer.append(i)

    filler = asyncio.ensure_future(fill())     # the shell's business: this cell is a small shell
    await asyncio.sleep(consume)                 # the consumer is busy with its first item
    ahead = len(buffer)
    await filler
    return f"items produced before the first was consumed: {ahead} of {n}"

print(Simulation().run(eager()))


# %% [markdown]
# ## Close a generator on early exit
#
# A consumer that stops early leaves the generator suspended at a `yield`, its `finally` not yet run.
# `await gen.aclose()` closes it: Python raises `GeneratorExit` at that `yield`, the `finally` runs,
# and the generator is done. The package's `Resource` stands for what a source owns (a file, a
# connection): `acquire()` when the source starts, `release()` in its `finally`; `held` counts what is
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


# %%
async def first_then_aclose(resource: Resource) -> str:
    lines = read_lines(resource)
    first = await lines.__anext__()              # what one turn of `async for` does
    held_before = resource.held
    await lines.aclose()
    return f"{first!r}: held {held_before} before aclose(), {resource.held} after"

print(Simulation().run(first_then_aclose(Resource("log file"))))


# %% [markdown]
# Calling `aclose()` by hand is easy to forget, and skipped when an exception jumps past it.
# `contextlib.aclosing` (Python 3.10+) does it on the way out of an `async with` block — after a
# `break`, a `return`, an exception or a cancellation:

# %%
async def first_with_aclosing(resource: Resource) -> str:
    async with aclosing(read_lines(resource)) as lines:
        async for line in lines:
            break
    return f"{line!r}: held {resource.held} right after the block"

print(Simulation().run(first_with_aclosing(Resource("log file"))))

# %% [markdown]
# ## Let the stream close its sources
#
# Every stage of a `Stream` holds its upstream in `aclosing`, and every terminal plan holds its run in
# `aclosing` too, so the guarantee travels through the whole chain. Below, one owning source is run
# four ways, each ending early. `held_after` reads `held` *inside* the run, the moment the plan
# returns — after the run, the loop's shutdown would close a leaked generator anyway and hide the leak.
# Look at the last column: 0 every time.

# %%
BAD = ErrInfo("BAD", "this item is invalid")

def owned(resource: Resource) -> Stream[str]:
    return stream_from(lambda: read_lines(resource))

async def held_after(plan, *resources: Resource) -> tuple:
    result = await plan()                        # a small shell: drive, then look at once
    return result, sum(r.held for r in resources)

def ends(resource: Resource) -> dict:
    lines = owned(resource).map(str.upper)
    return {
        "take(3)": lines.take(3).to_list(),
        "chunk(2).take(2)": lines.chunk(2).take(2).to_list(),
        "an Err at line 2": lines.map_plan(lambda s: async_fail(BAD) if s.endswith("2") else async_pure(s)).to_list(),
        "merged, take(4)": merge_streams(lines, stream_of(["header"])).take(4).to_list(),
    }


# %%
rows = []
for name in ends(Resource()):
    resource = Resource()
    sim = Simulation()
    result, held = sim.run(held_after(ends(resource)[name], resource))
    rows.append([name, result, f"{sim.now:g}", resource.acquired, held])
print(format_table(["how the run ended", "result", "virtual s", "acquired", "held after"], rows))


# %% [markdown]
# A **cancellation** is an early exit too. A shell starts the run as a task and cancels it 2.5 s in,
# in the middle of the source's `sleep`: `CancelledError` unwinds through every stage, and each
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
# ## Merge two sources by arrival
#
# `merge_streams(a, b)` pulls from both at once and yields items as they arrive: each source keeps its
# own order, nothing is lost, and items that arrive at the same instant come in argument order. It
# asks each source for its next item only when the consumer asks again — at most one pull in flight
# per source. Here a fast feed (1 s per item) and a slow one (2.5 s):

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
# `map_plan(f)` runs the plan `f(x)` for every item and yields its value, in input order. By default
# one plan runs at a time. `concurrency=n` pulls up to `n` items, runs their plans together with
# `async_gather(…, concurrency=n)` and yields the values in order — a bounded batch, never more than
# `n` plans at once. Eight lookups of 1 s each:

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
# An expected failure is an `Err`. In this package **an `Err` ends the stream**: the run stops at the
# first one, every source is closed, and the terminal plan's result is that `Err` — not a partial
# list. That is what `AsyncPlan` and `async_gather` already do, so a stream step composes like any
# other step. Count the pulls: the stream stopped at item 3 instead of reading all 1,000.

# %%
def validate(x: int):
    return async_fail(ErrInfo("INVALID", f"item {x} is negative")) if x < 0 else async_pure(x)

trace = Trace()
scores = stream_of([5, 8, 2, -1] + list(range(996))).traced(trace, "scores")
print(Simulation().run(scores.map_plan(validate).to_list()))
print("pulls:", len(trace.of_kind("pull")))


# %% [markdown]
# To keep going past failures, make the outcome the **item**: map each item to a `Result` and let the
# consumer decide. Nothing is lost; the stream itself does not fail.

# %%
def checked(x: int) -> Result[int, ErrInfo]:
    return Err(ErrInfo("INVALID", f"item {x} is negative")) if x < 0 else Ok(x)

results = Simulation().run(stream_of([5, -3, 8, -1, 2]).map(checked).to_list()).value
print("ok:", [r.value for r in results if isinstance(r, Ok)])
print("failed:", [r.error.message for r in results if isinstance(r, Err)])


# %% [markdown]
# An **exception** is a defect, not an expected failure: it propagates unchanged — after the sources
# are closed. When you iterate a run by hand, an `Err` arrives as `StreamFailed`, carrying the
# `ErrInfo`, from the pull that met it (terminal plans turn it back into `Err`).

# %%
async def crash_then_look(plan, resource: Resource) -> str:
    try:
        await plan()
    except KeyError as error:                    # a small shell: catch, then look at once
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
# ## Prove the stream laws with Hypothesis
#
# `@given` cannot decorate an `async def`, and does not need to: each property is a plain function
# that runs streams with `Simulation().run(...)`. `run(s)` below is that one line. The functions and
# predicates are drawn from small named sets, so a counterexample would print readably. Each property
# counts its examples in `EXAMPLES`.

# %%
EXAMPLES = Counter()
ints = st.lists(st.integers(-50, 50), max_size=30)
FUNCS = {"inc": lambda x: x + 1, "double": lambda x: 2 * x, "neg": lambda x: -x, "square": lambda x: x * x}
PREDS = {"even": lambda x: x % 2 == 0, "positive": lambda x: x > 0, "not3": lambda x: x % 3 != 0}

def run(s: Stream):
    return Simulation().run(s.to_list())


# %% [markdown]
# **Map identity and map fusion.** Two `map`s in a row equal one `map` of the composed function.

# %%
@given(xs=ints, f=st.sampled_from(sorted(FUNCS)), g=st.sampled_from(sorted(FUNCS)))
def map_laws(xs, f, g) -> None:
    EXAMPLES["map"] += 1
    assert run(stream_of(xs).map(lambda x: x)) == run(stream_of(xs)) == Ok(xs)
    assert run(stream_of(xs).map(FUNCS[f]).map(FUNCS[g])) == run(stream_of(xs).map(lambda x: FUNCS[g](FUNCS[f](x))))

map_laws()
print(f"map identity and map fusion: {EXAMPLES['map']} examples")


# %% [markdown]
# **Filter fusion.** Two `filter`s equal one `filter` of both predicates.

# %%
@given(xs=ints, p=st.sampled_from(sorted(PREDS)), q=st.sampled_from(sorted(PREDS)))
def filter_fusion(xs, p, q) -> None:
    EXAMPLES["filter"] += 1
    assert run(stream_of(xs).filter(PREDS[p]).filter(PREDS[q])) == run(stream_of(xs).filter(lambda x: PREDS[p](x) and PREDS[q](x)))

filter_fusion()
print(f"filter fusion: {EXAMPLES['filter']} examples")


# %% [markdown]
# **Chunk then flatten is the identity**, for every chunk size, and every chunk but the last is full.

# %%
@given(xs=ints, n=st.integers(1, 10))
def chunk_then_flatten(xs, n) -> None:
    EXAMPLES["chunk"] += 1
    chunks = run(stream_of(xs).chunk(n)).value
    assert all(len(c) == n for c in chunks[:-1]) and all(1 <= len(c) <= n for c in chunks)
    assert run(stream_of(xs).chunk(n).flatten()) == Ok(xs)

chunk_then_flatten()
print(f"chunk(n).flatten() == identity: {EXAMPLES['chunk']} examples")


# %% [markdown]
# **Take is lazy.** A traced source records every pull; `take(n)` makes at most `n`, however long
# the source is — including an infinite one.

# %%
@given(xs=ints, n=st.integers(0, 40), infinite=st.booleans())
def take_is_lazy(xs, n, infinite) -> None:
    EXAMPLES["take"] += 1
    trace = Trace()
    source = stream_count() if infinite else stream_of(xs)
    result = run(source.traced(trace).take(n))
    assert len(trace.of_kind("emit")) == len(result.value) <= n
    assert result == (Ok(list(range(n))) if infinite else Ok(xs[:n]))

take_is_lazy()
print(f"take(n) pulls at most n items: {EXAMPLES['take']} examples")


# %% [markdown]
# **Replay and merge.** The same merged stream, run twice, gives equal results; every item of every
# source comes out once, in its source's order, whatever the sources' speeds.

# %%
def timed(tag: int, xs: list, every: float) -> Stream:
    async def items():
        for x in xs:
            await asyncio.sleep(every)
            yield (tag, x)
    return stream_from(items)

@given(parts=st.lists(st.tuples(ints, st.sampled_from([0, 0.5, 1, 2.5])), min_size=1, max_size=4))
def merge_keeps_order_and_replays(parts) -> None:
    EXAMPLES["merge"] += 1
    merged = merge_streams(*(timed(i, xs, every) for i, (xs, every) in enumerate(parts)))
    first, second = run(merged), run(merged)
    assert first == second
    for i, (xs, _) in enumerate(parts):
        assert [x for tag, x in first.value if tag == i] == xs
    assert len(first.value) == sum(len(xs) for xs, _ in parts)

merge_keeps_order_and_replays()
print(f"merge keeps each source's order, loses nothing, replays: {EXAMPLES['merge']} examples")


# %% [markdown]
# ## Measure the cost of a stream
#
# | operation | time | memory |
# |---|---|---|
# | building a stream, each `map` / `filter` / `take` / `chunk` / `merge_streams` | O(1) | O(1) per step — a closure and its repr |
# | running `s.to_list()` over *n* items | O(n) pulls | O(n) — the list it builds |
# | running `s.fold(…)` / `s.for_each(…)` over *n* items | O(n) pulls | O(1) besides the accumulator |
# | running `s.take(k)` on a source of *n* (or infinitely many) items | O(min(k, n)) pulls | O(1) held |
# | `s.chunk(c)` | O(n) pulls | O(c) — one chunk held at a time |
# | `merge_streams` of *m* sources | O(total items) pulls | O(m) — one pull in flight per source |
# | `map_plan(f, concurrency=c)` | O(n) plans; ⌈n / c⌉ rounds of waiting | O(c) items and plans |
#
# The measurement counts instead of timing: pulls and emits on a traced source, the most items held at
# once (a `chunk` holds its batch), and virtual seconds. Source sizes grow 100×; look at which columns
# stay flat.

# %%
def measure(n: int) -> list:
    counts = {}
    for label, build in (("to_list", lambda s: s), ("take(5)", lambda s: s.take(5)), ("fold", None)):
        trace = Trace()
        source = stream_of(range(n)).traced(trace)
        plan = source.fold(0, lambda a, x: a + x) if build is None else build(source).to_list()
        Simulation().run(plan)
        counts[label] = len(trace.of_kind("pull"))
    held = max(len(c) for c in run(stream_of(range(n)).chunk(8)).value)
    sim = Simulation()
    sim.run(stream_of(range(n)).map_plan(lookup, concurrency=10).fold(0, lambda a, x: a + 1))
    return [n, counts["to_list"], counts["fold"], counts["take(5)"], held, f"{sim.now:g}"]

print(format_table(["n items", "pulls: to_list", "pulls: fold", "pulls: take(5)", "held by chunk(8)",
                    "virtual s: map_plan(1 s, c=10)"], [measure(n) for n in (10, 100, 1_000)]))


# %% [markdown]
# `to_list` and `fold` pull every item plus one more (the pull that finds the end): O(n). `take(5)`
# pulls 5 items whatever the source size — O(1) in *n*. A `chunk(8)` never holds more than 8 items.
# `map_plan` with `concurrency=10` needs ⌈n / 10⌉ seconds of 1-second lookups. Only `to_list` keeps
# what it pulled; everything else is a constant-size window on the stream.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | a generator never closed | after a `break` the file / connection stays open until the garbage collector or the loop's shutdown gets to it | `async with aclosing(gen)`, or a `Stream` terminal plan, which closes every run |
# | collecting an unbounded source into a list | the run never ends, memory grows until the process dies | bound it first: `take(n)`, or fold / `for_each` so nothing accumulates |
# | one generator shared by two consumers | each consumer silently sees part of the items — or `RuntimeError: anext(): asynchronous generator is already running` | give each consumer its own run (`stream.iterate()` / a terminal plan per consumer), or a queue (lesson 03) |
#
# Each one below fails first, live, then is fixed.
#
# ### Anti-pattern 1: a generator never closed
#
# A consumer wants the first line of a log, then goes on with other work for a minute. It writes the
# natural loop: `async for`, `break`. The generator object is still referenced (`lines`), so nothing
# closes it: the file stays open the whole minute.

# %%
async def first_line_leaky(resource: Resource) -> tuple:
    lines = read_lines(resource)
    async for line in lines:
        break
    await asyncio.sleep(60)                      # other work, a minute later
    return line, resource.held

leaky = Resource("log file")
line, held_a_minute_later = Simulation().run(first_line_leaky(leaky))
print(f"read {line!r}; a minute later the file is held {held_a_minute_later} time(s)")

# %% tags=["raises-exception"]
assert held_a_minute_later == 0, (
    f"a minute after the break the log file is still open (held={held_a_minute_later}): "
    "break does not close an async generator")


# %% [markdown]
# Python closes an abandoned async generator only when it is garbage-collected (the event loop's
# finalizer hook schedules `aclose()`) or when the loop shuts down — at a moment you do not control.
# The fix is to say when: `aclosing` closes it on the way out of the block, and a `Stream`'s terminal
# plan does the same for every run.

# %%
async def first_line(resource: Resource) -> tuple:
    async with aclosing(read_lines(resource)) as lines:
        async for line in lines:
            break
    await asyncio.sleep(60)
    return line, resource.held

print(Simulation().run(first_line(Resource("log file"))))
resource = Resource("log file")
print(Simulation().run(owned(resource).take(1).to_list()), "| held after:", resource.held)


# %% [markdown]
# ### Anti-pattern 2: collecting an unbounded source into a list
#
# A sensor feed yields a reading every second, for ever. `to_list()` on it never ends: in
# production it runs until memory is gone. Here the simulation's `limit` turns "never" into a clear
# error after 60 virtual seconds, so the failure is finite and the same every run.

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
# (A source that never awaits, such as `stream_count()`, is worse: it never gives the event loop a
# turn, so not even the simulation's guard can stop `stream_count().to_list()` — the cell would hang.)
#
# The fix is to bound the stream before collecting it — `take(n)` — or not to collect at all: a
# `fold` keeps a constant-size summary, and `for_each` hands each item on.

# %%
sim = Simulation(limit=60)
print(sim.run(readings.take(5).to_list()), f"at t={sim.now:g}")
print(Simulation(limit=60).run(readings.take(30).fold((0, 0), lambda acc, r: (acc[0] + 1, acc[1] + r))))


# %% [markdown]
# ### Anti-pattern 3: one generator shared by two consumers
#
# Two workers should each process *all* the orders — one bills, one ships. Sharing one generator
# object between them looks economical. The source needs no time per item here, so the workers
# take turns pulling from it:

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
    await asyncio.gather(worker(billing_items, billed), worker(shipping_items, shipped))  # a small shell
    return billed, shipped

shared = orders(4)
billed, shipped = Simulation().run(two_workers(shared, shared))
print("billed: ", billed)
print("shipped:", shipped)

# %% tags=["raises-exception"]
assert billed == shipped == [f"order-{i}" for i in range(4)], (
    f"a shared generator hands each item to one consumer only: billed {billed}, shipped {shipped}")

# %% [markdown]
# Each order went to one worker: half were never billed, half never shipped — and no error said so.
# (When the source does await between items, the second worker gets
# `RuntimeError: anext(): asynchronous generator is already running` instead.) A generator is *one
# run*; two consumers need two runs. With a `Stream`, that is just calling `iterate()` twice — or a
# terminal plan per consumer. (If the two must share one *expensive* run, that is a broadcast through
# queues: lesson 03.)

# %%
order_stream = stream_from(lambda: orders(4))
billed, shipped = Simulation().run(two_workers(order_stream.iterate(), order_stream.iterate()))
print("billed: ", billed)
print("shipped:", shipped)
assert billed == shipped == [f"order-{i}" for i in range(4)]

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("You call an async generator function, `gen = numbers(3, log)`. What has run?",
             ("its first line, up to the first `yield`", "nothing: it returns a suspended generator object",
              "the whole body, buffered"),
             1, "Calling it creates the generator; the body runs only when someone pulls with `async for` / `__anext__`."),
    Question("A consumer does `async for x in gen: break`. When does the generator's `finally` run?",
             ("immediately at the break", "when it is garbage-collected or the loop shuts down — unless you close it",
              "never"),
             1, "`break` does not close an async generator: use `aclosing(gen)` or a Stream terminal plan."),
    Question("How many items does `stream_count().map(f).take(3).to_list()` pull from `stream_count()`?",
             ("3", "4", "it never ends"),
             0, "`take(3)` stops after its third item without asking again: take is lazy."),
    Question("A step in `map_plan` returns `Err` for item 7 of 100. What does `to_list()` give?",
             ("the first 7 values", "the `Err`, with every source closed", "all 100 values, with the Err inside"),
             1, "An Err ends the stream and is the terminal result; carry `Result`s as items to keep going."),
    Question("Two consumers must each see every item. What do you give them?",
             ("one shared generator object", "two runs of the same Stream (`iterate()` twice, or two terminal plans)",
              "a list of the generator"),
             1, "A generator is one run, and its items are split between whoever pulls; a Stream can be run again."),
    Question("A fast source, a slow consumer, no queue. How many items are produced but not yet consumed at most?",
             ("one", "all of them", "it depends on the event loop"),
             0, "A pull-based source produces an item only when asked: the consumer sets the pace (lesson 03 adds a buffer)."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 02 · Async Generators](../exercises/02_async_generators.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does
# (see [the exercises README](../exercises/README.md)):
#
# 1. **Slide a window over a stream** — `windows(stream, n)`: a stream combinator whose law (the
#    windows of the items) is checked on generated streams, which pulls only what it needs and closes
#    its source on early exit.
# 2. **Own a resource, release it always** — `read_log(resource, lines)`: a source that acquires a
#    `Resource` and releases it however its run ends — exhausted, `take`, `break`, an `Err`, an
#    exception, a cancellation.
# 3. **Pull exactly what you need** — `first_alert(readings, threshold)`: a plan that finds the first
#    reading over a threshold and pulls nothing after it.
#
# ## On your own
#
# - Write `scan(stream, initial, f)` — every intermediate `fold` value as a stream — and state its law
#   relating it to `fold`. Check it with Hypothesis.
# - Re-draw the producer/consumer figure with `map_plan(handle, concurrency=3)`. How many items are now
#   produced but not consumed at once, and why?
# - `merge_streams` of a source that fails after 2 s and one that runs for ever: which `finally` blocks
#   run, and when? Check with two `Resource`s.
# - Read the source of `contextlib.aclosing` (it is a few lines). Why does it need `async with`, not `with`?
#
# ## Further reading
#
# - [PEP 525 — Asynchronous Generators](https://peps.python.org/pep-0525/): `aclose`, finalization
#   and the event loop's `shutdown_asyncgens`.
# - [PEP 533 — Deterministic cleanup for iterators](https://peps.python.org/pep-0533/) (deferred):
#   why `break` does not close a generator, and the case for making it.
# - Python docs, [`contextlib.aclosing`](https://docs.python.org/3/library/contextlib.html#contextlib.aclosing).
# - Nathaniel J. Smith, [Some thoughts on asynchronous API design in a post-async/await world](https://vorpus.org/blog/some-thoughts-on-asynchronous-api-design-in-a-postasyncawait-world/):
#   backpressure and why pull-based APIs get it right by default.
# - [aiostream](https://aiostream.readthedocs.io/): a library of stream operators for asyncio,
#   with `stream.merge`, `stream.take` and context-managed streaming.
#
# ## Continue with
#
# **[03 · Backpressure](03_backpressure.ipynb)**: a pull-based stream never runs ahead of its
# consumer; a queue between two stages lets it — up to a bound. Lesson 03 measures queue depth over
# time for unbounded and bounded queues and the strategies for a full one. You now describe sequences
# as replayable streams: lazy, composable, and closed however they end.

# %% [markdown]
# ---
# [← 01 async/await as Descriptions](01_async_await_as_descriptions.ipynb) · [Contents](00_module_overview.ipynb) · [03 Backpressure →](03_backpressure.ipynb)
