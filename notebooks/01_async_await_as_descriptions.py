# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 00 Module overview](00_module_overview.ipynb) · [Contents](00_module_overview.ipynb) · [02 Async Generators →](02_async_generators.ipynb)
#
# # 01 · async/await as Descriptions
#
# An `async def` does not *do* anything when you call it: it hands you a coroutine, a value that
# *describes* work. This lesson builds on that fact. You will model asynchronous steps as
# `AsyncPlan` values — pure, composable, replayable descriptions — and keep the one place that
# actually runs them (the **shell**) small and visible.
#
# **What you'll do**
# - Build a three-step user pipeline (fetch → validate → save) as a plan, and prove that building it
#   performed no effect at all.
# - Drive it from the notebook — the notebook is a shell — and replay it.
# - Draw a *drive timeline*: when each step was described versus when it ran.
# - Check the monad laws with Hypothesis, measure the cost of a bind, and watch four anti-patterns
#   fail before fixing them.
#
# **What you'll learn**
# - Why `async def` + `await` is a description language, and where driving belongs.
# - `AsyncPlan`, `async_pure`, `async_bind`, `async_map`, `async_lift`, and the shell-only `perform_async`.
# - What "replayable", "pure description" and "interpreter isolation" mean, as checks you can run.
#
# **What you'll need**
# - Python functions, `dataclasses`, `match`; the idea of `Result` (`Ok` / `Err`) from Module 07.
# - About 45 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["01 async/await as Descriptions"]
#   concept --> capstone["Capstone pressure point: lesson 12, async RAG pipeline"]
# ```
#
# ```mermaid
# flowchart TD
#   problem["Start with the design or failure question"] --> example["Study the worked example and trade-offs"]
#   example --> boundary["Name the boundary this page is trying to protect"]
#   boundary --> proof["Carry that question into code review or the capstone"]
# ```
#
# The first diagram places the lesson: one concept inside Module 08, pressure-tested by the
# capstone (lesson 12). The second is the rhythm of every lesson: a question, a worked example,
# the boundary it protects, and a review question you carry forward.
#
# **Core question.** How do you model asynchronous operations as pure, composable descriptions —
# so that concurrency is explicit data, testable, and never hidden magic?
#
# **Why it matters.** Retries, timeouts, queues and fairness (lessons 03–06) are all decisions
# about *when and how* work runs. You can only make those decisions in one place if the rest of
# the code merely *describes* work. If effects start wherever an `await` or `create_task` happens
# to sit, nobody can say what runs when — and no test can pin it down.
#
# **The review question to carry:** *in this code, where is work described, and where is it driven?*

# %% [markdown]
# ## Set up
#
# Everything this lesson uses comes from the course package `funcpipe_async`; nothing is
# re-defined here. `setup()` loads the course's Hypothesis profile (derandomized, so the
# examples — and this notebook's output — are the same on every run).

# %%
import asyncio
import inspect
from dataclasses import asdict, dataclass

from hypothesis import given, strategies as st

from funcpipe_async import (
    AsyncPlan, Err, ErrInfo, FakeEmbedder, FakeHttp, FakeStorage, HttpClientCap, Ok, Question,
    Result, ReusedCoroutineError, StorageCap, Trace, answer_key_html, api_summary, async_bind,
    async_fail, async_from_result, async_gather, async_lift, async_map, async_pure,
    check_monad_laws, check_package, drive_timeline_summary, format_table, io_bind, io_delay,
    io_pure, perform_async, plot_drive_timeline, quiz_widget, run_sync, scan_source, setup,
    show_figure,
)

setup()


# %% [markdown]
# ## See that `async def` returns a description
#
# Call an `async def` function and look at what comes back. Watch for two things in the output:
# the body's `print` does **not** appear, and the coroutine's state is `CORO_CREATED` — it exists,
# but it has not started.

# %%
async def greet(name: str) -> str:
    print(f"hello, {name}")          # an effect inside the body
    return name.upper()

coro = greet("ada")                  # a call, but nothing printed
print(type(coro).__name__, inspect.getcoroutinestate(coro))
coro.close()                         # we never drive this one; close it so it does not warn later


# %% [markdown]
# A coroutine is *almost* a description, but it is single-use: once awaited it is spent. An
# `AsyncPlan` fixes that by wrapping the *recipe for a coroutine* — a zero-argument function that
# makes a fresh one each time. It is exactly Module 07's `IOPlan`, made non-blocking:
#
# | | type | runs when |
# |---|---|---|
# | `IOPlan[T]` | `() -> Result[T, ErrInfo]` | you call it (blocking) |
# | `AsyncPlan[T]` | `() -> Awaitable[Result[T, ErrInfo]]` | a shell *awaits* what calling it returns |
#
# The two cells below build the same two-step program both ways. Neither has done anything yet;
# the last lines run each once.

# %%
def io_read_config() -> Result[dict, ErrInfo]:
    print("  (blocking read happens now)")
    return Ok({"retries": 3})

io_plan = io_bind(io_delay(io_read_config), lambda cfg: io_pure(cfg["retries"] * 2))
print("IOPlan built; running it:")
print(io_plan())


# %%
async def read_config() -> Result[dict, ErrInfo]:
    print("  (non-blocking read happens now)")
    await asyncio.sleep(0)           # a real suspension point, as network I/O would have
    return Ok({"retries": 3})

plan = async_bind(async_lift(read_config), lambda cfg: async_pure(cfg["retries"] * 2))
print("AsyncPlan built:", plan)
print("driving it:")
print(await perform_async(plan))

# %% [markdown]
# Notice that the plan prints as the code that built it — plans are data. Top-level `await`
# in the last line is the notebook acting as a shell; more on that in
# [Drive plans from the notebook shell](#Drive-plans-from-the-notebook-shell).
#
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook, and in `tests/`) |
# |---|---|---|---|
# | algebraic law | left identity | `async_bind(async_pure(x), f) == f(x)` | Hypothesis — [Check the monad laws](#Check-the-monad-laws-with-Hypothesis); `tests/test_plan_laws.py` |
# | algebraic law | right identity | `async_bind(m, async_pure) == m` | same |
# | algebraic law | associativity | `async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))` | same, plus the user pipeline's own property |
# | algebraic law | map via bind | `async_map(m, f) == async_bind(m, lambda x: async_pure(f(x)))` | same |
# | invariant | description purity | building a plan performs zero effects; they happen only when a shell drives it | recording fakes — [Build a plan and watch nothing happen](#Build-a-plan-and-watch-nothing-happen); `tests/test_plan.py` |
# | invariant | replayability | the same plan can be driven again; each drive makes fresh coroutines and re-runs the effects | [Replay a plan](#Replay-a-plan); `tests/test_plan.py` |
# | invariant | interpreter isolation | core code may `await` inside coroutine bodies but never drives a plan (`perform_async`, `asyncio.run`, `create_task`, top-level `await`) | `check_package()` — [Keep driving in the shell](#Keep-driving-in-the-shell); `mypy --strict`; `tests/test_boundary.py` |
# | invariant | stack safety | a chain of 100,000 binds, nested either way, runs in constant stack | [Measure the cost of a bind](#Measure-the-cost-of-a-bind); `tests/test_stack_safety.py` |
#
# "`==`" between plans means *drives to equal results*: plans are functions, so the checks drive
# both sides and compare the `Result`s.
#
# ## Choose between sync and async descriptions
#
# | scenario | blocking OK? | needs concurrency / non-blocking I/O? | recommended pattern |
# |---|---|---|---|
# | CPU-bound pure logic | yes | no | plain sync functions |
# | I/O-bound single step | yes | no | `IOPlan` (Module 07) |
# | I/O-bound with dependent steps | no | yes | `AsyncPlan` + `async_bind` (this lesson) |
# | independent parallel I/O | no | yes | `async_gather(plans, concurrency=n)` (below; lesson 03 goes deeper) |
# | streaming over network / DB | no | yes | async generator + backpressure (lessons 02–03) |
#
# **Rule:** use `AsyncPlan` exactly when you need non-blocking, dependent I/O steps. Never drive a
# plan in core.

# %% [markdown]
# ## Read the public API
#
# These are imported from `funcpipe_async`, never re-defined in a lesson. Their signatures:

# %%
print(api_summary([async_pure, async_fail, async_from_result, async_bind, async_map,
                   async_lift, async_gather, perform_async, run_sync]))


# %% [markdown]
# Two things differ from the seed's reference code, and both matter in production:
#
# * **Stack safety.** The seed's `async_bind` nests one coroutine inside another per bind, so a
#   long chain overflows Python's stack near 1,000 binds, and every resume walks the whole await
#   chain. Here a plan is a small tree of nodes (`async_bind` returns a `_Bind` node), and one
#   loop interprets it with an explicit continuation stack. You will measure the difference.
# * **Bounded concurrency is bounded in tasks too.** `async_gather(plans, concurrency=n)` starts
#   at most `n` worker tasks that pull plans in order, instead of one task per plan behind a
#   semaphore.
#
# The only interpreter is `perform_async`, and it is one line: `return await plan()`. It lives in
# `funcpipe_async/shell/` — the one folder where driving is allowed.

# %% [markdown]
# ## Describe the user pipeline
#
# The worked example from the seed: fetch a user's JSON, validate it, save it. First the pure
# core — a domain type and a validation function that returns a `Result` instead of raising.

# %%
@dataclass(frozen=True)
class UserProfile:
    user_id: str
    name: str
    email: str

def validate_user(raw: dict) -> Result[UserProfile, ErrInfo]:
    name, email = raw.get("name"), raw.get("email")
    if not isinstance(name, str) or not name:
        return Err(ErrInfo("INVALID_USER", f"user {raw.get('id')!r} has no name"))
    if not isinstance(email, str) or "@" not in email:
        return Err(ErrInfo("INVALID_USER", f"user {raw.get('id')!r} has no valid email"))
    return Ok(UserProfile(str(raw["id"]), name, email))


# %% [markdown]
# Now the steps, factored into small private helpers as the seed recommends. Each helper
# *returns a plan*; none of them calls the network or the database. `trace.step(name, plan)`
# names a step on a `Trace` — a record we will read and plot — and is itself just a plan
# transformer: it returns a plan that records when it starts and finishes.
#
# Dependencies are **capabilities** passed in (`HttpClientCap`, `StorageCap` are `Protocol`s), never
# concrete clients.

# %%
def _fetch(user_id: str, http: HttpClientCap, trace: Trace) -> AsyncPlan[dict]:
    return trace.step("fetch", async_lift(lambda: http.get_json(f"/users/{user_id}")))

def _validate(raw: dict, trace: Trace) -> AsyncPlan[UserProfile]:
    return trace.step("validate", async_from_result(validate_user(raw)))

def _save(user: UserProfile, db: StorageCap, trace: Trace) -> AsyncPlan[UserProfile]:
    saved = async_lift(lambda: db.save(user.user_id, asdict(user)))
    return trace.step("save", async_bind(saved, lambda _: async_pure(user)))

def async_user_pipeline(user_id: str, http: HttpClientCap, db: StorageCap, trace: Trace) -> AsyncPlan[UserProfile]:
    return async_bind(
        _fetch(user_id, http, trace),
        lambda raw: async_bind(_validate(raw, trace), lambda user: _save(user, db, trace)),
    )


# %% [markdown]
# ## Build a plan and watch nothing happen
#
# The fakes record every call they receive. Build the plan and inspect the records. Watch for:
# empty call logs, and a trace holding a single event — `fetch` was *described*, nothing started.
# `validate` and `save` are not even described yet: they are built inside `async_bind`'s
# continuations, which run only once the previous step has a value.

# %%
USERS = {
    "/users/1": {"id": 1, "name": "Ada", "email": "ada@example.org"},
    "/users/2": {"id": 2, "name": "Grace", "email": "grace-at-example.org"},
}
trace = Trace()
http, db = FakeHttp(USERS, trace=trace), FakeStorage(trace=trace)   # the fakes log their effects on the trace too

plan = async_user_pipeline("1", http, db, trace)
print("http calls:", http.calls, "| db calls:", db.calls)
print(trace.table())

# %%
assert http.calls == [] and db.calls == [], "building a plan must not perform effects"
assert [e.kind for e in trace.events] == ["describe"]
print("description purity: building the plan performed 0 effects")

# %% [markdown]
# ## Drive the plan
#
# Now the shell drives it. `perform_async(plan, trace=trace)` also records when driving started
# and ended. Read the table from the top: the shell starts driving at `t=1`; only then does
# `fetch` start, cause its effect (the `effect` row is the fake's `GET`), and finish; `validate` is described *after* `fetch` finished,
# because its description needs `fetch`'s value.

# %%
result = await perform_async(plan, trace=trace)
print(result)
print("http calls:", http.calls, "| db calls:", db.calls)
print(trace.table())

# %% [markdown]
# ## Draw the drive timeline
#
# The same trace as a figure. Each row is a step: a hollow diamond where its plan was *built*, a
# bar while it *ran*. The dashed line is the moment the shell started driving. Everything to the
# left of that line is description; every bar is to its right.

# %%
http, db, trace = FakeHttp(USERS), FakeStorage(), Trace()
plan = async_user_pipeline("1", http, db, trace)
await perform_async(plan, trace=trace)

summary = drive_timeline_summary(trace)
show_figure(plot_drive_timeline(trace), alt="Drive timeline of the user pipeline. " + summary.replace(chr(10), "; "))
print(summary)

# %% [markdown]
# ## Follow an `Err` through the chain
#
# User 2 has an invalid email, and user 404 does not exist. An `Err` short-circuits: the
# remaining binds are skipped, so nothing is saved. Watch the `db calls` column stay empty and the
# trace show which steps never started.

# %%
rows = []
for user_id in ["2", "404"]:
    http, db, trace = FakeHttp(USERS), FakeStorage(), Trace()
    outcome = await perform_async(async_user_pipeline(user_id, http, db, trace))
    started = [e.name for e in trace.of_kind("start")]
    rows.append((user_id, outcome.error.code, outcome.error.message, ", ".join(started), len(db.calls)))
print(format_table(["user", "error", "message", "steps started", "db calls"], rows))

# %% [markdown]
# ## Replay a plan
#
# A plan is a *recipe*, so you can run it again. Each call makes a **fresh** coroutine — the two
# below are different objects, both not yet started — and each drive performs the effects again.

# %%
http, db, trace = FakeHttp(USERS), FakeStorage(), Trace()
plan = async_user_pipeline("1", http, db, trace)

c1, c2 = plan(), plan()
print("fresh coroutines:", c1 is not c2, inspect.getcoroutinestate(c1), inspect.getcoroutinestate(c2))
c1.close(); c2.close()

first, second = await perform_async(plan), await perform_async(plan)
print("same result twice:", first == second)
print("effects ran twice:", http.calls)
print("runs of each step:", [(e.name, e.data["run"]) for e in trace.of_kind("finish")])


# %% [markdown]
# Replaying re-runs effects, so replay is safe when the effects are **idempotent** — saving the same
# user twice here leaves one record (`FakeStorage` overwrites by key). A non-idempotent effect
# (charging a card) needs an idempotency key; lesson 04 returns to this with retries.
#
# ## Embed chunks in parallel, bounded
#
# The seed's RAG example (§4.4): clean and chunk documents (pure), embed every chunk through a
# capability with **bounded** parallelism, then deduplicate (pure). `async_gather` is itself a plan:
# building it embeds nothing. Watch `max_in_flight` — the most embeddings running at once — never
# exceed the concurrency you asked for.

# %%
@dataclass(frozen=True)
class Chunk:
    doc_id: str
    text: str
    embedding: tuple[float, ...] = ()

def clean_and_chunk(docs: dict[str, str], words_per_chunk: int) -> list[Chunk]:
    chunks = []
    for doc_id, text in docs.items():
        words = text.lower().replace(",", " ").replace(".", " ").split()
        for i in range(0, len(words), words_per_chunk):
            chunks.append(Chunk(doc_id, " ".join(words[i:i + words_per_chunk])))
    return chunks

def dedup(chunks: list[Chunk]) -> list[Chunk]:
    seen: dict[tuple[float, ...], Chunk] = {}
    for c in chunks:
        seen.setdefault(c.embedding, c)
    return list(seen.values())


# %%
def _embed_chunk(chunk: Chunk, embedder: FakeEmbedder) -> AsyncPlan[Chunk]:
    return async_map(async_lift(lambda: embedder.embed(chunk.text)),
                     lambda vector: Chunk(chunk.doc_id, chunk.text, vector))

def async_rag_pipeline(docs: dict[str, str], embedder: FakeEmbedder, concurrency: int) -> AsyncPlan[list[Chunk]]:
    return async_bind(
        async_pure(clean_and_chunk(docs, words_per_chunk=4)),
        lambda chunks: async_map(
            async_gather([_embed_chunk(c, embedder) for c in chunks], concurrency=concurrency),
            dedup,
        ),
    )


# %%
DOCS = {
    "a": "Plans describe work. Shells drive plans. Plans describe work.",
    "b": "Backpressure keeps queues bounded. Shells drive plans.",
}
embedder = FakeEmbedder()
rag = async_rag_pipeline(DOCS, embedder, concurrency=2)
print("embeddings before driving:", len(embedder.calls))

chunks = await perform_async(rag)
print("chunks embedded:", len(embedder.calls), "| unique after dedup:", len(chunks.value))
print("max embeddings in flight:", embedder.max_in_flight, "(concurrency=2)")
for c in chunks.value:
    print(f"  {c.doc_id}: {c.text!r:40} {c.embedding}")

# %% [markdown]
# ## Drive plans from the notebook shell
#
# A notebook cell is shell code: the kernel is already running an event loop, and a cell may
# `await` at the top level. That is the recommended way to drive a plan here. `asyncio.run`, the
# usual entry point of a script, refuses to start a second loop inside the running one:

# %%
coro = perform_async(async_pure("hi"))
try:
    asyncio.run(coro)
except RuntimeError as error:
    coro.close()                      # it never ran: close it, or it warns in a later cell
    print("asyncio.run in a cell:", error)

# %% [markdown]
# For code that must stay synchronous — a helper shared with scripts, a Hypothesis property
# (`@given` cannot decorate an `async def`) — the course offers `run_sync(plan)`. In a script it
# is `asyncio.run`. In a notebook it applies `nest_asyncio` to the kernel's loop so the loop can
# be re-entered, then runs the plan to completion.

# %%
print(run_sync(async_map(async_pure(20), lambda x: x + 22)))

# %% [markdown]
# `run_sync` is a **shell-only convenience**, and the patch has a cost you should see: it
# changes the kernel's loop *for the rest of the session*, so from now on even `asyncio.run`
# works in this notebook — the guard you saw fail a moment ago is gone, for every cell.
# And while `run_sync` runs, the cell blocks the loop it is nested in. Top-level `await` has
# neither problem: prefer it, and keep `run_sync` for synchronous test harnesses. (A third
# option — a private event loop in a worker thread — needs no patch at all, at the price of a
# thread per call.)

# %%
print(asyncio.run(perform_async(async_pure("asyncio.run now works: the loop is patched"))))

# %% [markdown]
# ## Check the monad laws with Hypothesis
#
# The package's law checker drives both sides of each law on generated plans — pure ones,
# failing ones, ones that really suspend, and ones already bound — and reports the verdict with
# the smallest counterexample if a law breaks. The examples are derandomized, so this output is
# stable.

# %%
for report in check_monad_laws(max_examples=100):
    print(report)


# %% [markdown]
# The same laws hold for *your* steps, not just for toy ones. Here is associativity for the user
# pipeline, for every kind of user id (valid, invalid, missing): regrouping the binds cannot
# change the result or the effects performed.

# %%
@given(user_id=st.sampled_from(["1", "2", "404"]))
def pipeline_is_associative(user_id: str) -> None:
    outcomes = []
    for regroup in (False, True):
        http, db, trace = FakeHttp(USERS), FakeStorage(), Trace()
        fetch = _fetch(user_id, http, trace)
        validate = lambda raw: _validate(raw, trace)
        save = lambda user: _save(user, db, trace)
        plan = (async_bind(fetch, lambda raw: async_bind(validate(raw), save)) if regroup
                else async_bind(async_bind(fetch, validate), save))
        outcomes.append((run_sync(plan), http.calls, db.calls))
    assert outcomes[0] == outcomes[1], outcomes

pipeline_is_associative()
print("associativity holds for the user pipeline: same results, same effects")


# %% [markdown]
# ## Measure the cost of a bind
#
# | operation | time | Python call stack | heap until interpreted |
# |---|---|---|---|
# | `async_pure` | O(1) | O(1) | O(1) |
# | `async_bind` / `async_map` | O(1) | O(1) | O(1) node |
# | `async_lift` | O(1) | O(1) | O(1) |
# | `perform_async` over a chain of n binds | O(n) | **O(1)** | O(n) nodes, plus an O(n) continuation stack while running |
#
# Composition is O(1) per layer: no work until interpretation. The stack column is where the
# seed's reference code and this package differ. First, the seed's nested-closure bind — defined
# here only as a counterexample — on a deep chain:

# %%
def seed_async_bind(plan, f):            # the seed's reference bind, for comparison only
    async def _coro():
        res = await plan()
        return await f(res.value)() if isinstance(res, Ok) else res
    return lambda: _coro()

def left_chain(bind, n: int):
    plan = async_pure(0)
    for _ in range(n):
        plan = bind(plan, lambda x: async_pure(x + 1))
    return plan

print("seed bind, 100 binds:", await left_chain(seed_async_bind, 100)())
try:
    await left_chain(seed_async_bind, 100_000)()
except RecursionError as error:
    print("seed bind, 100,000 binds: RecursionError:", error)


# %%
def right_chain(n: int, i: int = 0) -> AsyncPlan[int]:   # each continuation builds the next bind
    return async_pure(i) if i == n else async_bind(async_pure(i), lambda x: right_chain(n, x + 1))

print("left-nested, 100,000 binds: ", await perform_async(left_chain(async_bind, 100_000)))
print("right-nested, 100,000 binds:", await perform_async(right_chain(100_000)))


# %% [markdown]
# Constant stack is something we can *measure* deterministically: a probe at the end of the chain
# counts the Python frames between it and the cell. The count is the same for 10 binds and for
# 100,000.

# %%
async def stack_probe() -> Result[int, ErrInfo]:
    frame, depth = inspect.currentframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return Ok(depth)

def probed_chain(n: int) -> AsyncPlan[int]:
    plan = async_pure(0)
    for _ in range(n):
        plan = async_bind(plan, lambda x: async_pure(x + 1))
    return async_bind(plan, lambda _: async_lift(stack_probe))

depths = {n: (await perform_async(probed_chain(n))).value for n in (10, 1_000, 100_000)}
print("frames at the innermost step, relative to 10 binds:",
      {n: d - depths[10] for n, d in depths.items()})

# %% [markdown]
# Time per bind should also stay flat as the chain grows. Timings differ on every run and every
# machine, so the next cell's output is not compared by the notebook tests
# (`nbval-ignore-output`); `benchmarks/bench_bind_depth.py` measures this carefully.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: wall-clock timings differ on every run
import time

for n in (500, 8_000, 100_000):
    plan, repeats = left_chain(async_bind, n), max(1, 200_000 // n)
    start = time.perf_counter()
    for _ in range(repeats):
        await perform_async(plan)
    print(f"{n:>7} binds: {(time.perf_counter() - start) / (n * repeats) * 1e6:.2f} µs per bind")

# %% [markdown]
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | top-level `await` / `perform_async` / `create_task` in core | effects happen at build time; untestable | return an `AsyncPlan`; drive only in the shell |
# | re-using one coroutine object with `async_lift` | replayability broken | pass a function that creates a fresh coroutine |
# | `asyncio.create_task` in core | hidden concurrency, leaked tasks, lost errors | describe the work: `async_bind`, `async_gather` |
# | a concrete client (`httpx.AsyncClient()`) in core | cannot test without the network | inject a capability `Protocol` |
#
# Each one below fails first, live, and is then fixed.
#
# ### Anti-pattern 1: a reused coroutine
#
# The coroutine is created once, outside the lambda. The first drive spends it; the second drive
# gets the same, already-finished object.

# %%
http = FakeHttp(USERS)
coro = http.get_json("/users/1")                 # created once...
plan = async_lift(lambda: coro)                  # ...and shared by every drive
print("first drive: ", await perform_async(plan))

# %% tags=["raises-exception"]
await perform_async(plan)                        # the second drive fails

# %% [markdown]
# The fix: the lambda must *create* the coroutine, so every drive gets a fresh one.

# %%
plan = async_lift(lambda: http.get_json("/users/1"))
print(await perform_async(plan) == await perform_async(plan), http.calls)


# %% [markdown]
# ### Anti-pattern 2: driving in core
#
# This "core" function schedules the request the moment it is called — `ensure_future` hands the
# coroutine to the running loop. Nobody drove anything, yet the effect has happened:

# %%
def load_user_eagerly(user_id: str, http: HttpClientCap):
    return asyncio.ensure_future(http.get_json(f"/users/{user_id}"))   # drives, in core

http = FakeHttp(USERS)
pending = load_user_eagerly("1", http)           # "just building"
await asyncio.sleep(0)                           # the loop gets one turn, as it would anywhere
calls_while_building = list(http.calls)
await pending                                    # (finish what this cell started)
print("effects while building:", calls_while_building)

# %% tags=["raises-exception"]
assert calls_while_building == [], f"building performed effects: {calls_while_building}"

# %% [markdown]
# The boundary check catches this statically. `check_package()` scans every description module of
# `funcpipe_async` (the test suite runs it on each commit); `scan_source` applies the same rules to any
# source text — here, the eager function above and the described version below.

# %%
eager_core = '''
import asyncio
def load_user_eagerly(user_id, http):
    return asyncio.ensure_future(http.get_json(f"/users/{user_id}"))
'''
described_core = '''
def load_user(user_id, http):
    return async_lift(lambda: http.get_json(f"/users/{user_id}"))
'''
print("eager core:    ", [str(v) for v in scan_source(eager_core, "core/users.py")])
print("described core:", scan_source(described_core, "core/users.py"))
print("funcpipe_async description modules:", check_package())


# %% [markdown]
# ### Keep driving in the shell
#
# The fix is the whole lesson: core returns a plan; the shell drives it.

# %%
def load_user(user_id: str, http: HttpClientCap) -> AsyncPlan[dict]:
    return async_lift(lambda: http.get_json(f"/users/{user_id}"))

http = FakeHttp(USERS)
plan = load_user("1", http)
await asyncio.sleep(0)
print("effects while building:", http.calls)
print("driven by the shell:   ", await perform_async(plan), http.calls)


# %% [markdown]
# ### Anti-pattern 3: `create_task` in core
#
# This save "returns" at once and lets a background task do the work. The plan reports success,
# but when it returns nothing has been saved, a task is still running that nobody awaits, and if
# that task failed its error would be lost.

# %%
def save_in_background(user: UserProfile, db: StorageCap) -> AsyncPlan[UserProfile]:
    async def fire_and_forget() -> Result[UserProfile, ErrInfo]:
        asyncio.create_task(db.save(user.user_id, asdict(user)))     # hidden concurrency
        return Ok(user)
    return async_lift(fire_and_forget)

db, ada = FakeStorage(), UserProfile("1", "Ada", "ada@example.org")
before = asyncio.all_tasks()
print(await perform_async(save_in_background(ada, db)))
saved_when_plan_returned = dict(db.records)
leaked = asyncio.all_tasks() - before
print("tasks still running after the plan returned:", len(leaked))
_ = await asyncio.gather(*leaked)                # (finish what this cell started)

# %% tags=["raises-exception"]
assert saved_when_plan_returned, "the plan said Ok, but nothing was saved when it returned"


# %% [markdown]
# The fix: make the save part of the description, so the plan finishes only when the save has.

# %%
def save(user: UserProfile, db: StorageCap) -> AsyncPlan[UserProfile]:
    return async_bind(async_lift(lambda: db.save(user.user_id, asdict(user))), lambda _: async_pure(user))

db, before = FakeStorage(), asyncio.all_tasks()
print(await perform_async(save(ada, db)))
print("saved when the plan returned:", list(db.records), "| tasks left running:", len(asyncio.all_tasks() - before))

# %% [markdown]
# Need several saves at once? Describe that too, with an explicit bound:
# `async_gather([save(u, db) for u in users], concurrency=8)`.
#
# ### Anti-pattern 4: a concrete client in core
#
# This core function builds its own HTTP client, pointed at a real address. There is no way to
# hand it a fake, so the only way to test it is to have a server running — and here there is none
# (port 9 on this machine is closed).

# %%
import json
import urllib.request

class UrllibJsonClient:                          # a concrete client, blocking, in a thread
    def __init__(self, base_url: str):
        self.base_url = base_url
    async def get_json(self, url: str) -> Result[dict, ErrInfo]:
        with await asyncio.to_thread(urllib.request.urlopen, self.base_url + url, timeout=2) as r:
            return Ok(json.loads(r.read()))

def load_user_hardwired(user_id: str) -> AsyncPlan[dict]:
    client = UrllibJsonClient("http://127.0.0.1:9")          # concrete dependency, in core
    return async_lift(lambda: client.get_json(f"/users/{user_id}"))


# %% tags=["raises-exception"]
await perform_async(load_user_hardwired("1"))    # a unit test of core now needs the network

# %% [markdown]
# The fix is the capability `Protocol` you already used: `load_user(user_id, http)` takes any
# `HttpClientCap`. Tests pass a `FakeHttp`; the shell passes a real adapter (lesson 07 builds one,
# which also turns connection errors into `Err(ErrInfo)` instead of raising).

# %%
print(await perform_async(load_user("1", FakeHttp(USERS))))

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("Calling an `async def` function returns…",
             ("the function's return value", "a coroutine object: a description not yet started", "a running task"),
             1, "Nothing in the body runs until the coroutine is awaited or scheduled."),
    Question("`await` inside a coroutine body is…",
             ("required and allowed: it is part of the description", "forbidden in core code", "the same as asyncio.run"),
             0, "Awaiting inside a body only says what happens when that body runs."),
    Question("Driving a plan (`perform_async`, `asyncio.run`, `create_task`) happens…",
             ("anywhere it is convenient", "only in shells, never in core", "inside async_bind"),
             1, "Interpreter isolation: the shell decides when work runs; core only describes it."),
    Question("You compose async descriptions with…",
             ("async_bind / async_map / async_lift", "asyncio.create_task", "global event loops"),
             0, "Composition builds a bigger plan and runs nothing."),
    Question("Why does `async_lift(lambda: coro)` with one shared coroutine break replayability?",
             ("the lambda is too slow", "a coroutine can be awaited only once; the second drive gets a spent one",
              "lambdas cannot be awaited"),
             1, "The factory must create a fresh coroutine on every call."),
    Question("The real power of AsyncPlan comes from…",
             ("faster I/O", "concurrency as explicit data, not magic — exactly like IOPlan", "avoiding Result"),
             1, "Plans can be inspected, composed, tested and replayed before anything runs."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
from IPython.display import HTML
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# Open [the exercise notebook](../exercises/01_async_await_as_descriptions.ipynb): three graded
# tasks, 10 points, each with hints, and a *Check your work* cell that gives per-task feedback
# whenever you run it (how it works: [the exercises README](../exercises/README.md)).
#
# 1. **Describe a fetch, run nothing** — turn an eager fetch into a function that returns an
#    `AsyncPlan`; the fake's call log must stay empty until a shell drives the plan.
# 2. **Chain three dependent fetches** — user → team → team lead with `async_bind`; the first
#    `Err` short-circuits and comes out unchanged.
# 3. **Test that a plan replays** — a helper that drives a plan twice and fails when the results
#    differ, graded by which plans it accepts and which it rejects.
#
# Its *On your own* goes further: a Hypothesis property that regrouping the binds of your chain
# changes neither its result nor its calls (associativity).
#
# ## On your own
#
# - Add a fourth step to the user pipeline (send a welcome email through a new capability) and
#   redraw the drive timeline. Where is the new step described?
# - Build a 1,000-step pipeline with `seed_async_bind` and with `async_bind`, and compare the
#   frame counts with `stack_probe`.
# - Rewrite `async_rag_pipeline` with `concurrency=1` and check that `max_in_flight` becomes 1 —
#   then argue why `concurrency=1` must equal a sequential chain of binds.
#
# ## Further reading
#
# - [PEP 492 — Coroutines with async and await syntax](https://peps.python.org/pep-0492/): why a
#   coroutine is an object before it is a computation.
# - [asyncio: Coroutines and Tasks](https://docs.python.org/3/library/asyncio-task.html): what
#   `create_task`, `gather` and `TaskGroup` actually drive.
# - [Notes on structured concurrency](https://vorpus.org/blog/notes-on-structured-concurrency-or-go-statement-considered-harmful/)
#   (Nathaniel J. Smith): why fire-and-forget tasks are the `goto` of concurrency.
# - [Hypothesis: quick start](https://hypothesis.readthedocs.io/en/latest/quickstart.html).
#
# ## Continue with
#
# **[02 · Async Generators](02_async_generators.ipynb)**: streams as replayable descriptions, pulled lazily,
# closed reliably. You now model async operations as pure, composable descriptions — exactly
# symmetrical to `IOPlan`. Your core stays pure, your shell controls execution, and concurrency is
# explicit data, not hidden magic.
#
# ---
# [← 00 Module overview](00_module_overview.ipynb) · [Contents](00_module_overview.ipynb) · [02 Async Generators →](02_async_generators.ipynb)
