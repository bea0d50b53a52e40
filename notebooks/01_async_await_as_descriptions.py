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
# Calling an `async def` function does not *do* anything: it hands you a coroutine, a value that
# *describes* work. This lesson starts from plain asyncio code and rewrites it as `AsyncPlan`
# values: pure, composable, replayable descriptions that only the **shell** runs.
#
# **What you'll do**
# - Run a plain `async def` pipeline (fetch → validate → save), describe the same pipeline as a
#   plan, and prove that building the plan did nothing and driving it did the same work.
# - Run `asyncio.gather` + `asyncio.Semaphore` beside `async_gather` and count the tasks alive.
# - Draw a *drive timeline*, check the monad laws, and watch four anti-patterns fail.
#
# **What you'll learn**
# - When a coroutine's body runs, and why a coroutine alone is not a reusable description.
# - `AsyncPlan`, `async_pure`, `async_bind`, `async_map`, `async_lift`, `async_gather`, and the
#   shell-only drivers `perform_async` and `run_sync`.
# - What "pure description", "replayable" and "interpreter isolation" mean, as checks you can run.
#
# **What you'll need**
# - Python functions, `dataclasses`, and `Result` (`Ok` / `Err`, in the
#   [glossary](further/00_glossary.ipynb)).
# - About 50 minutes. Run the cells top to bottom.

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
# capstone. The second is the working rhythm of every lesson in the course: a question, a
# worked example, the boundary it protects, and a review question you carry forward.
#
# **Core question.** How do you model asynchronous operations as pure, composable descriptions,
# so that concurrency is explicit data, testable, and never hidden magic?
#
# **Why it matters.** Retries, timeouts, queues and fairness (lessons 03–06) decide *when and how*
# work runs. You can decide that in one place only if the rest of the code merely *describes*
# work; if effects start wherever an `await` or `create_task` sits, no test can pin them down.
#
# **The review question to carry:** *in this code, where is work described, and where is it driven?*

# %% [markdown]
# ## Set up
#
# Everything comes from the course package; `setup()` loads its derandomized Hypothesis profile.

# %%
import asyncio
import inspect
from dataclasses import asdict, dataclass
from functools import partial

from funcpipe_async import (
    AsyncPlan, Err, ErrInfo, FakeHttp, FakeStorage, HttpClientCap, Ok, Result,
    StorageCap, Trace, lesson_answer_key, api_summary, async_bind, async_fail, async_from_result,
    async_gather, async_lift, async_map, async_pure, check_monad_laws, check_package,
    drive_timeline_summary, format_table, perform_async, plot_drive_timeline, lesson_quiz,
    run_sync, scan_source, setup, show_figure,
)

setup()


# %% [markdown]
# ## See that `async def` returns a description
#
# **Predict:** the body below prints. Will `hello, ada` appear when you *call* `greet("ada")`?
# Then run.

# %%
async def greet(name: str) -> str:
    print(f"hello, {name}")          # an effect inside the body
    return name.upper()

coro = greet("ada")                  # a call, but nothing printed
print(type(coro).__name__, inspect.getcoroutinestate(coro))
coro.close()                         # never driven: close it so it does not warn later


# %% [markdown]
# The coroutine exists but has not started (`CORO_CREATED`). It is *almost* a description, but
# it is single-use: once awaited it is spent. An `AsyncPlan` wraps the *recipe for a coroutine*,
# a zero-argument function that makes a fresh one each time: Module 07's `IOPlan`, made
# non-blocking.
#
# | | type | runs when |
# |---|---|---|
# | `IOPlan[T]` | `() -> Result[T, ErrInfo]` | you call it (blocking) |
# | `AsyncPlan[T]` | `() -> Awaitable[Result[T, ErrInfo]]` | a shell *awaits* what calling it returns |
#
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook, and in `tests/`) |
# |---|---|---|---|
# | algebraic law | left identity | `async_bind(async_pure(x), f) == f(x)` | Hypothesis: [Check the monad laws](#Check-the-monad-laws-with-Hypothesis); `tests/test_plan_laws.py` |
# | algebraic law | right identity | `async_bind(m, async_pure) == m` | same |
# | algebraic law | associativity | `async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))` | same |
# | algebraic law | map via bind | `async_map(m, f) == async_bind(m, lambda x: async_pure(f(x)))` | same |
# | invariant | description purity | building a plan performs zero effects; they happen only when a shell drives it | recording fakes: [Build the plan and watch nothing happen](#Build-the-plan-and-watch-nothing-happen); `tests/test_plan.py` |
# | invariant | replayability | the same plan can be driven again; each drive makes fresh coroutines and re-runs the effects | [Replay a plan](#Replay-a-plan); `tests/test_plan.py` |
# | invariant | bounded tasks | `async_gather(plans, concurrency=n)` keeps at most `n` tasks alive, results in input order | [Bound a gather](#Bound-a-gather-in-plain-asyncio-and-as-a-plan); `tests/test_gather.py` |
# | invariant | interpreter isolation | core code may `await` inside coroutine bodies but never drives a plan (`perform_async`, `asyncio.run`, `create_task`, top-level `await`) | `check_package()`: [Keep driving in the shell](#Keep-driving-in-the-shell); `tests/test_boundary.py` |
# | invariant | stack safety | a chain of 100,000 binds, nested either way, runs in constant stack | [Measure the cost of a bind](#Measure-the-cost-of-a-bind); `tests/test_stack_safety.py` |
#
# "`==`" between plans means *drives to equal results*.
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
# Imported from `funcpipe_async`, never re-defined in a lesson:

# %%
print(api_summary([async_pure, async_fail, async_from_result, async_bind, async_map,
                   async_lift, async_gather, perform_async, run_sync]))


# %% [markdown]
# A plan here is a small tree of nodes, not the seed's coroutine nested in a coroutine per bind.
# Calling a plan returns a coroutine that walks the tree with an explicit stack, so long chains
# cannot overflow Python's. Nothing walks it until a **driver** awaits that coroutine. The two
# drivers live in `funcpipe_async/shell/`, the one folder where driving is allowed:
# `perform_async` (essentially `return await plan()`) and `run_sync`, for synchronous code.

# %% [markdown]
# ## Start from plain asyncio
#
# The worked example from the seed: fetch a user's JSON, validate it, save it. First the pure
# core, a domain type and a validation function that returns a `Result` instead of raising.

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
# Now the seed's *before* version, as you would write it with plain asyncio: an `async def`
# that awaits each effect in turn (happy path only, as in the seed). `FakeHttp` and
# `FakeStorage` stand in for the network and the database; they record every call on a `Trace`,
# a log we will read and plot.

# %%
USERS = {
    "/users/1": {"id": 1, "name": "Ada", "email": "ada@example.org"},
    "/users/2": {"id": 2, "name": "Grace", "email": "grace-at-example.org"},
}

def effects(trace: Trace) -> list[str]:          # the effects a trace recorded, in order
    return [e.data["call"] for e in trace.of_kind("effect")]

async def old_process(user_id: str, http: HttpClientCap, db: StorageCap) -> UserProfile:
    raw = await http.get_json(f"/users/{user_id}")       # immediate effect
    user = validate_user(raw.value).value
    await db.save(user.user_id, asdict(user))            # immediate effect
    return user


# %% [markdown]
# **Predict:** after `coro = old_process("1", …)`, how many effects has the trace recorded? And
# after `await coro`? Then run.

# %%
eager_trace = Trace()
coro = old_process("1", FakeHttp(USERS, trace=eager_trace), FakeStorage(trace=eager_trace))
print("after calling: ", effects(eager_trace))
old_result = await coro
print("after awaiting:", effects(eager_trace))
print(old_result)

# %% [markdown]
# Calling did nothing, as with `greet`; the effects happened at the `await`. The catch: the only
# way to *compose* a coroutine (add a step, a retry, a bound) is another `async def` that awaits
# it, so every composition is also a run. And the coroutine is spent after one await.
#
# ## Describe the user pipeline
#
# The same three steps as plans. Each helper *returns a plan* and calls nothing.
# `trace.step(name, plan)` returns a plan that records on the trace when it is described,
# starts and finishes. Dependencies are **capabilities** passed in (`HttpClientCap` and
# `StorageCap` are `Protocol`s), never concrete clients.

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
# ## Build the plan and watch nothing happen
#
# **Predict:** which events will the trace hold after building? Then run.

# %%
trace = Trace()
http, db = FakeHttp(USERS, trace=trace), FakeStorage(trace=trace)
plan = async_user_pipeline("1", http, db, trace)
print(trace.table())
assert effects(trace) == [], "building a plan must not perform effects"
print("description purity: building the plan performed", len(effects(trace)), "effects")

# %% [markdown]
# One event: `fetch` was *described*, nothing started. `validate` and `save` are built inside
# `async_bind`'s continuations, which run only once the previous step has a value.
#
# ## Drive the plan
#
# Now the shell drives it, and `perform_async(plan, trace=trace)` records when driving started
# and ended. In the table, `fetch` starts only after the shell drives (`t=1`), and `validate` is
# described only after `fetch` finished: its description needs `fetch`'s value.

# %%
result = await perform_async(plan, trace=trace)
print(result)
print(trace.table())

# %% [markdown]
# The plan and the plain coroutine did the same work. The check:

# %%
assert result == Ok(old_result)
assert effects(trace) == effects(eager_trace) == ["GET /users/1", "SAVE 1"]
print("same result, same effects in the same order:", effects(trace))

# %% [markdown]
# What the description adds: a value you can build, print, test, replay, and (in later lessons)
# bound, retry and time out before anything happens. What it costs: binds and closures to read,
# a `Result` threaded through every step, and one more rule: drive only in the shell.
#
# ## Draw the drive timeline
#
# The same trace as a figure: a hollow diamond where each step's plan was *built*, a bar while it
# *ran*, a dashed line where the shell started driving. **Predict:** which steps' diamonds lie to
# the right of the dashed line? Then run.

# %%
summary = drive_timeline_summary(trace)
show_figure(plot_drive_timeline(trace), alt="Drive timeline of the user pipeline. " + summary.replace(chr(10), "; "))
print(summary)

# %% [markdown]
# Only `fetch` was described before driving; each later step is described *during* the drive,
# just after the step before it finished. In a chain of binds, building and running interleave.
#
# ## Follow an Err through the chain
#
# User 2 has an invalid email; user 404 does not exist. **Predict:** for each, which steps
# start, and how many saves happen? Then run.

# %%
rows = []
for user_id in ["2", "404"]:
    http, db, trace = FakeHttp(USERS), FakeStorage(), Trace()
    outcome = await perform_async(async_user_pipeline(user_id, http, db, trace))
    started = [e.name for e in trace.of_kind("start")]
    rows.append((user_id, outcome.error.code, outcome.error.message, ", ".join(started), len(db.calls)))
print(format_table(["user", "error", "message", "steps started", "db calls"], rows))

# %% [markdown]
# An `Err` short-circuits: the remaining binds are skipped, so nothing is saved. (The plain
# `old_process` would raise `AttributeError` for both, since an `Err` has no `.value`: its
# failures are exceptions.)
#
# ## Replay a plan
#
# A plan is a *recipe*, so you can run it again: each call makes a **fresh** coroutine.
# **Predict:** after driving the same plan twice, how many `GET`s has the fake logged? Then run.

# %%
http, db, trace = FakeHttp(USERS), FakeStorage(), Trace()
plan = async_user_pipeline("1", http, db, trace)

c1, c2 = plan(), plan()
print("fresh coroutines:", c1 is not c2, inspect.getcoroutinestate(c1), inspect.getcoroutinestate(c2))
c1.close(); c2.close()

first, second = await perform_async(plan), await perform_async(plan)
print("same result twice:", first == second, "| effects:", http.calls + db.calls)

# %% [markdown]
# Replaying re-runs effects, so replay is safe when the effects are **idempotent**: saving the
# same user twice leaves one record (`FakeStorage` overwrites by key). A non-idempotent effect
# (charging a card) needs an idempotency key; lesson 04 returns to this with retries.

# %% [markdown]
# ## Bound a gather in plain asyncio and as a plan
#
# Independent work runs concurrently. The plain-asyncio idiom for "at most 64 at a time" is
# `asyncio.gather` over coroutines that each wait on one `asyncio.Semaphore(64)`. Here are
# 20,000 trivial items. `double` samples how many tasks are alive (beyond the cell's own) every
# 1,000th item.

# %%
ITEMS = range(20_000)
peak = {"tasks": 0}

async def double(i: int) -> int:
    if i % 1_000 == 0:
        peak["tasks"] = max(peak["tasks"], len(asyncio.all_tasks()) - baseline)
    await asyncio.sleep(0)                       # a suspension point, as real I/O would have
    return 2 * i

async def gather_plain(items: range, limit: int) -> list[int]:
    semaphore = asyncio.Semaphore(limit)
    async def one(i: int) -> int:
        async with semaphore:                    # at most `limit` inside at once
            return await double(i)
    return await asyncio.gather(*(one(i) for i in items))


# %% [markdown]
# The described version: one plan per item, then `async_gather(plans, concurrency=64)`.
# **Predict:** both run at most 64 items at a time. How many tasks are alive at the peak in
# each? Then run.

# %%
async def double_ok(i: int) -> Result[int, ErrInfo]:
    return Ok(await double(i))

baseline = len(asyncio.all_tasks())
plain = await gather_plain(ITEMS, limit=64)
plain_peak, peak["tasks"] = peak["tasks"], 0

gathered = async_gather([async_lift(partial(double_ok, i)) for i in ITEMS], concurrency=64)
described = await perform_async(gathered)
print(f"tasks alive at the peak: asyncio.gather + Semaphore {plain_peak}, async_gather {peak['tasks']}")

# %%
assert described == Ok(plain) and plain[:3] == [0, 2, 4]
assert (plain_peak, peak["tasks"]) == (20_000, 64)
print("same results, in input order; tasks alive at the peak:", plain_peak, "vs", peak["tasks"])

# %% [markdown]
# `asyncio.gather` wraps every coroutine in a task up front: all 20,000 exist while the semaphore
# lets 64 through. `async_gather` starts 64 worker tasks that pull plans in order, so it bounds
# the tasks as well as the work, and it stays a value until driven. Its cost: every item returns
# a `Result`, and the first `Err` cancels the rest. The seed's RAG example embeds chunks this
# way: see [the appendix](further/01_async_await_as_descriptions.ipynb).
#
# ## Drive plans from the notebook shell
#
# A notebook cell is shell code: the kernel already runs an event loop, and a cell may `await`
# at the top level. That is the recommended way to drive a plan here. `asyncio.run`, the entry
# point of a script, refuses to start a second loop inside the running one:

# %%
coro = perform_async(async_pure("hi"))
try:
    asyncio.run(coro)
except RuntimeError as error:
    coro.close()                      # it never ran: close it, or it warns in a later cell
    print("asyncio.run in a cell:", error)

# %% [markdown]
# For synchronous code (a helper shared with scripts; a Hypothesis property, since `@given`
# cannot decorate an `async def`) there is `run_sync(plan)`. In a script it is `asyncio.run`; in
# a notebook it applies `nest_asyncio` to the kernel's loop, so the loop can be re-entered.
#
# **Predict:** a background task is started, then `run_sync` drives a plan, on a line with no
# `await`. Does the background task get to run while `run_sync` runs? Then run.

# %%
ticks: list[int] = []

async def ticker() -> None:
    for n in range(3):
        ticks.append(n)
        await asyncio.sleep(0)

async def count_ticks() -> Result[int, ErrInfo]:    # a plan body that suspends 5 times
    for _ in range(5):
        await asyncio.sleep(0)
    return Ok(len(ticks))

background = asyncio.create_task(ticker())
print("ticks made while run_sync ran:", run_sync(async_lift(count_ticks)))
await background

# %% [markdown]
# It does: the patched loop runs its other tasks inside `run_sync`. That is the cost,
# **re-entrancy**: asyncio code relies on "no `await`, no other task runs in between", and a
# synchronous call that re-enters the loop breaks that promise. The patch also lasts for the
# session: even `asyncio.run` now works in this notebook. Prefer top-level `await`; keep
# `run_sync` for synchronous test harnesses. (A loop in a worker thread needs no patch, at the
# price of a thread per call.)

# %%
print(asyncio.run(perform_async(async_pure("asyncio.run now works: the loop is patched"))))

# %% [markdown]
# ## Check the monad laws with Hypothesis
#
# The package's law checker drives both sides of each law on generated plans (pure, failing,
# suspending, already bound) and reports the verdict, with the smallest counterexample if a law
# breaks. **Predict:** when `m` is a failing plan, does right identity still hold? Then run.

# %%
for report in check_monad_laws(max_examples=100):
    print(report)


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
# **Predict:** building a chain of 100,000 binds, how many of its steps run? Then run.

# %%
steps_run = []

def step(x: int) -> AsyncPlan[int]:             # a continuation: runs only when driven
    steps_run.append(x)
    return async_pure(x + 1)

for n in (1_000, 100_000):
    steps_run.clear()
    chain = async_pure(0)
    for _ in range(n):
        chain = async_bind(chain, step)
    built = len(steps_run)
    print(f"{n:>7} binds: {built} steps ran while building; driven: {await perform_async(chain)}, {len(steps_run)} steps")

# %% [markdown]
# Building runs nothing; driving runs every step, 100,000 deep, with no `RecursionError`. The
# seed's nested-coroutine bind overflows on that chain: the appendix shows it, counts stack
# frames and times a bind ([Keep the stack flat](further/01_async_await_as_descriptions.ipynb#Keep-the-stack-flat)).

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
# The coroutine is created once, outside the lambda. **Predict:** what happens on the second
# drive? Then run both cells.

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
# This "core" function hands the request to the running loop (`ensure_future`) the moment it is
# called. Nobody drove anything, yet the effect happens:

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
# `funcpipe_async` (the tests run it on each commit); `scan_source` applies the same rules to any
# source text, here the eager function above.

# %%
print("eager core:", [str(v) for v in scan_source(inspect.getsource(load_user_eagerly), "core/users.py")])
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
# This save "returns" at once and leaves a background task to do the work. **Predict:** when the
# plan returns `Ok`, is the user saved? Then run both cells.

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
# Had that task failed, its error would have been lost too. The fix: make the save part of the
# description, so the plan finishes only when the save has.

# %%
def save(user: UserProfile, db: StorageCap) -> AsyncPlan[UserProfile]:
    return async_bind(async_lift(lambda: db.save(user.user_id, asdict(user))), lambda _: async_pure(user))

db, before = FakeStorage(), asyncio.all_tasks()
print(await perform_async(save(ada, db)))
print("saved when the plan returned:", list(db.records), "| tasks left running:", len(asyncio.all_tasks() - before))

# %% [markdown]
# Several saves at once? Describe that too, with a bound: `async_gather([save(u, db) for u in
# users], concurrency=8)`.
#
# ### Anti-pattern 4: a concrete client in core
#
# This core function opens its own connection to a real address: no way to hand it a fake, so
# testing it needs a running server, and there is none (port 9 is closed).

# %%
import json
import urllib.request

def load_user_hardwired(user_id: str) -> AsyncPlan[dict]:
    async def get() -> Result[dict, ErrInfo]:    # a concrete client, built in core
        url = f"http://127.0.0.1:9/users/{user_id}"
        with await asyncio.to_thread(urllib.request.urlopen, url, timeout=2) as response:
            return Ok(json.loads(response.read()))
    return async_lift(get)


# %% tags=["raises-exception"]
await perform_async(load_user_hardwired("1"))    # a unit test of core now needs the network

# %% [markdown]
# The fix is the capability `Protocol` you already used: `load_user(user_id, http)` takes any
# `HttpClientCap`. Tests pass a `FakeHttp`; the shell passes a real adapter (lesson 07 builds
# one, which also turns connection errors into `Err(ErrInfo)` instead of raising).

# %%
print(await perform_async(load_user("1", FakeHttp(USERS))))

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it, which is stored with
# the notebook and readable without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("01")

# %%
lesson_answer_key("01")

# %% [markdown]
# ## Exercise
#
# Open [the exercise notebook](../exercises/01_async_await_as_descriptions.ipynb): three graded
# tasks, 10 points, with a *Check your work* cell ([how it works](../exercises/README.md)):
# describe a fetch that runs nothing until driven; chain three dependent fetches where the first
# `Err` short-circuits; regroup that chain's binds the other way and write a test helper that checks
# both groupings give the same result after the same calls (associativity, on your own chain).
#
# ## On your own
#
# - Add a fourth step to the user pipeline (send a welcome email through a new capability) and
#   redraw the drive timeline. Where is the new step described?
# - Write a Hypothesis property: for user ids 1, 2 and 404, regrouping the pipeline's binds
#   changes neither its result nor the fakes' call logs (associativity, on your own steps).
# - Write `old_process` for a list of users with `asyncio.gather` and no bound, then with a
#   semaphore, then as `async_gather`. Which of the three can a test build without running it?
#
# ## Further reading
#
# - [PEP 492 — Coroutines with async and await syntax](https://peps.python.org/pep-0492/): why a
#   coroutine is an object before it is a computation.
# - [asyncio: Coroutines and Tasks](https://docs.python.org/3/library/asyncio-task.html): what
#   `create_task`, `gather` and `TaskGroup` actually drive.
# - [Notes on structured concurrency](https://vorpus.org/blog/notes-on-structured-concurrency-or-go-statement-considered-harmful/)
#   (Nathaniel J. Smith): why fire-and-forget tasks are the `goto` of concurrency.
# - [This lesson's appendix](further/01_async_await_as_descriptions.ipynb): the seed's RAG
#   example and a stack-safety benchmark.
#
# ## Continue with
#
# **[02 · Async Generators](02_async_generators.ipynb)**: streams as replayable descriptions,
# pulled lazily, closed reliably.
#
# ---
# [← 00 Module overview](00_module_overview.ipynb) · [Contents](00_module_overview.ipynb) · [02 Async Generators →](02_async_generators.ipynb)
