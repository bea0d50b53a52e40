# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 08: Async Pipelines, Backpressure, and Fairness
#
# [Contents](00_module_overview.ipynb) · [01 async/await as Descriptions →](01_async_await_as_descriptions.ipynb)
#
# **FuncPipe Async** teaches async Python you can reason about: work is written down as values
# (*plans*), run in one visible place (the *shell*), kept bounded under load, shared fairly
# between users, and tested without waiting on a real clock. This notebook is the module's
# front page: where it sits, what it promises, how to work through it, and how to tell when
# you are done.

# %% [markdown]
# ## What you'll do
# - Check that your environment can run every lesson.
# - Build your first async plan, see that building it did nothing, then drive it.
# - Walk through the lesson map, the exercises and the closing criteria you will work towards.
#
# ## What you'll learn
# - The question this module answers, and the outcomes it promises.
# - How the lesson notebooks, exercises and tests fit together.
# - The module's vocabulary — plan, driving, shell, backpressure, fairness and more — in one
#   glossary you can come back to.
#
# ## What you'll need
# - The course environment: `make lab` (below) builds it on first use. Python 3.11 or newer.
# - Python functions and lambdas, and having seen `async def` and `await`. No asyncio
#   experience is assumed.
# - No earlier module: the building blocks this module stands on (`Result`, `Ok`, `Err`,
#   `ErrInfo` and the synchronous `IOPlan`) ship in the course package `funcpipe_async` and
#   are defined in the glossary at the end of this notebook.
# - About 15 minutes.

# %% [markdown]
# ## Place the module
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> lessons["Lesson notebooks and worked examples"]
#   module --> checkpoints["Exercises and closing criteria"]
#   module --> capstone["Capstone: lesson 12, an async RAG pipeline"]
# ```
#
# Read this first diagram as a placement map. The module belongs to a course on functional
# programming in Python, so it keeps that course's habits: pure functions in the core,
# effects at the edges, failures returned as values instead of raised. Under the module sit
# the three things that test whether you learned it: the lessons, which show each idea live;
# the exercises and closing criteria, which check that you can use it; and the capstone,
# which puts every idea into one pipeline. In this repository all three are notebooks, and
# the capstone is lesson 12.
#
# ```mermaid
# flowchart TD
#   purpose["Start with the module purpose and main questions"] --> lesson_map["Use the lesson map to choose reading order"]
#   lesson_map --> study["Read the lessons and examples with one review question in mind"]
#   study --> proof["Test the idea with exercises and capstone checkpoints"]
#   proof --> close["Move on only when the closing criteria feel concrete"]
# ```
#
# Read the second diagram as your route, and as the order of this notebook: the carry-in
# question and learning outcomes, then the lesson map, then the exercises and capstone
# checkpoints, and last the closing criteria.

# %% [markdown]
# ## Carry one question into every lesson
#
# > **Which async behaviour is being coordinated explicitly, and where would hidden
# > scheduling or buffering make the system harder to reason about?**
#
# Hidden coordination is easy to write and hard to see: an `asyncio.create_task` that nobody
# awaits, an `asyncio.gather` over 10,000 requests with no limit, an `asyncio.Queue()` with no
# `maxsize`, a retry loop around `await asyncio.sleep(1)`. Each one works in a demo. Under
# load, memory grows without limit, a downstream service receives 10,000 requests at once,
# one customer's burst delays everyone else, and the test suite sleeps for minutes and still
# fails now and then.
#
# Explicit coordination is the same behaviour written as data you can read, test and change:
# a plan that does nothing until it is driven, a `concurrency=8` bound, a queue capacity with
# a named overflow strategy, a retry policy with a budget.
#
# ## Why this module matters
#
# Async code is where a pipeline meets production pressure: slow services, bursts, failures,
# and many users at once. This module treats async as a coordination problem, not a style
# choice. You describe work as plans, drive them only in the shell, bound how much runs and
# how much waits, share capacity fairly, and test all of it in virtual time, where five
# minutes of retries take milliseconds and give the same answer every run. The payoff is
# local reasoning: you can read one function and know what it will start, when, and how much.

# %% [markdown]
# ## Learning outcomes
#
# By the end of the module you can:
#
# 1. **Keep async steps explicit.** Build work as an `AsyncPlan` — a value that does nothing
#    until the shell drives it — and say of any line of async code whether it describes work
#    or drives it.
# 2. **Protect a pipeline under load.** Bound concurrency and queues, choose what happens when
#    a queue is full (suspend the producer, drop the newest, drop the oldest, or fail), and give timeouts and
#    retries budgets and deadlines.
# 3. **Share capacity fairly.** Rate-limit with token buckets and schedule tenants so a heavy
#    one cannot starve a light one, and measure the result with Jain's fairness index.
# 4. **Fit external services around a pure core.** Put every HTTP call, database write and
#    embedding request behind a port, implemented by adapters that turn exceptions into
#    `Err(ErrInfo)`, and swap a fake for a real service without touching the core.
# 5. **Test async flows deterministically.** Use virtual time, scripted fakes and
#    property-based tests, so an async test is fast and gives the same answer every run.

# %% [markdown]
# ## Choose your reading order: the lesson map
#
# Take the lessons in order: each one uses what the earlier ones built.
#
# | nn | lesson | what it makes visible | status |
# | --- | --- | --- | --- |
# | 00 | [Module overview](00_module_overview.ipynb) | where the module sits, an environment check, the closing criteria and the glossary | available (you are here) |
# | 01 | [async/await as Descriptions](01_async_await_as_descriptions.ipynb) | a plan built over a recording fake has logged nothing until the shell drives it; a timeline of when each step was described and when it ran | available |
# | 02 | [Async Generators](02_async_generators.ipynb) | lazy streams pulled with `async for`: the consumer sets the pace, and cleanup runs even when it stops early | available |
# | 03 | [Backpressure](03_backpressure.ipynb) | queue depth over time for unbounded and bounded queues (suspend, drop newest, drop oldest, fail); memory stays bounded; Little's law | available |
# | 04 | [Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb) | retries and timeouts as frozen data: an attempt timeline with capped exponential backoff and seeded jitter, retry budgets, deadlines that cancel | available |
# | 05 | [Deterministic Async Testing](05_deterministic_async_testing.ipynb) | a virtual clock that simulates minutes of retries in milliseconds, beside the wall-clock test it replaces | available |
# | 06 | [Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb) | token buckets, and a heavy tenant starving a light one under FIFO but not under fair scheduling, with sliders and Jain's index | available |
# | 07 | [Async Adapters](07_async_adapters.ipynb) | ports as `Protocol`s, adapters that turn exceptions into `Err(ErrInfo)`, one contract test passing against a fake and a real adapter | available |
# | 08 | [Async Service Integrations](08_async_service_integrations.ipynb) | a real HTTP service on loopback and SQLite storage in a fetch → validate → save pipeline, every input accounted for | available |
# | 09 | [Async Chunking](09_async_chunking.ipynb) | batches that flush by size or by time, whichever comes first, and the latency/throughput trade-off as a plot | available |
# | 10 | [Async Pipeline Laws](10_async_pipeline_laws.ipynb) | the laws that plans, gathers, streams and retries obey, checked by Hypothesis with a reusable law checker | available |
# | 11 | [Refactoring Guide](11_refactoring_guide.ipynb) | a messy async script turned step by step into descriptions plus a shell, with tests pinning its behaviour at every step | available |
# | 12 | [Capstone: async RAG pipeline](12_capstone_async_rag_pipeline.ipynb) | documents → clean and chunk → bounded parallel embedding → dedup, answering this module's capstone checkpoints | available |

# %% [markdown]
# ## Work through the course
#
# - **Open it.** From the repository root run `make lab`. The first time, it creates `.venv/`,
#   installs the pinned `requirements.txt`, and opens JupyterLab on this notebook.
# - **Run each notebook top to bottom:** *Run ▸ Run All Cells*. Later cells use names defined
#   by earlier ones, so running out of order gives `NameError`s or stale results. To start
#   clean, use *Kernel ▸ Restart Kernel and Run All Cells*.
# - **Take the lessons in order.** Each one ends with a graded exercise: your copy, with stubs
#   to fill in, is `exercises/NN_slug.ipynb`, and the worked solution is
#   `solutions/NN_slug.ipynb`. Try before you look.
#   [exercises/README.md](../exercises/README.md) explains how your work is checked.
# - **`await` works at the top of a cell.** The notebook's kernel already runs an asyncio event
#   loop, so a cell can say `await perform_async(plan)`; you will do it below. For the same
#   reason `asyncio.run(...)` fails inside a cell. Lesson 01 explains why, and why a notebook
#   cell counts as a shell.
# - **Every notebook is a test.** `make test` re-runs each notebook with
#   [nbval](https://nbval.readthedocs.io/), which compares every cell's fresh output with the
#   output stored in the file, character for character. That is why lessons use virtual time,
#   seeded randomness and reprs without memory addresses: what you see stored is exactly what
#   a fresh run prints. nbval never compares images, so every figure cell also prints a short
#   text summary of its data, and that text is compared. The only outputs left out are
#   quiz widgets and wall-clock timings, each tagged with its reason. Edit and re-run cells freely; `git restore notebooks/NN_slug.ipynb` brings a
#   lesson back.
# - **Keep two things open:** the glossary at the end of this notebook, and the package's front door,
#   [`funcpipe_async/__init__.py`](../funcpipe_async/__init__.py), whose docstring says
#   which modules describe work and which folder, `shell/`, drives it.

# %% [markdown]
# ## Check your environment
#
# First the setup cell every lesson starts with: imports from the course package, and
# `setup()`, which loads the course's deterministic Hypothesis profile.

# %%
from IPython.display import HTML, display

from funcpipe_async import (
    FakeHttp,
    Question,
    answer_key_html,
    async_lift,
    async_map,
    environment_report,
    format_table,
    perform_async,
    quiz_widget,
    setup,
)

setup()

# %% [markdown]
# Now the check itself. Look for `pass` in every row of the `ok` column; the versions in the
# `detail` column are the ones pinned in `requirements.txt`.

# %%
report = environment_report()
rows = [(check, "pass" if ok else "FAIL", detail) for check, ok, detail in report]
print(format_table(["check", "ok", "detail"], rows))

# %% [markdown]
# The last line of the next cell is your verdict. If a check failed, it says what to do.

# %%
failed = [check for check, ok, _ in report if not ok]
if not failed:
    print(f"All {len(report)} checks passed: every lesson can run here.")
else:
    print(f"{len(failed)} of {len(report)} checks failed: {', '.join(failed)}.")
    print("Fix: close JupyterLab, run `make clean` and then `make lab` from the repository root.")
    print("That rebuilds .venv/ from the pinned requirements.txt and reopens the course.")

# %% [markdown]
# ## Build a plan, then drive it
#
# A first taste of lesson 01. `FakeHttp` is a stand-in for an HTTP client: it answers from a
# dictionary and writes every request it receives into `fake.calls`. `async_lift` turns "call
# the fake" into a plan, and `async_map` adds a pure step that keeps only the user's name.
#
# Watch `fake.calls` after the plan is built: it is still empty.

# %%
url = "https://api.example.com/users/42"
fake = FakeHttp({url: {"id": 42, "name": "Ada"}})

def user_name(user):
    return user["name"]

plan = async_map(async_lift(lambda: fake.get_json(url)), user_name)
print("plan:      ", plan)
print("fake.calls:", fake.calls)

# %% [markdown]
# The plan is a value: it prints as the code that built it, and nothing has happened yet.
# Now drive it. This cell is a shell, so it may `await`. Look for exactly one `GET` in the
# log and the name wrapped in `Ok`.

# %%
result = await perform_async(plan)
print("result:    ", result)
print("fake.calls:", fake.calls)

# %% [markdown]
# Because a plan is a value, you can drive it again. Each drive performs the effect again,
# with a fresh coroutine: expect the same result and a second `GET`.

# %%
again = await perform_async(plan)
print("same result:", again == result)
print("fake.calls: ", fake.calls)

# %% [markdown]
# Building the plan described the work; `await perform_async(plan)` was the only line that
# did it. Why that split makes async code testable, replayable and safe to compose, and what
# breaks when one coroutine is reused, is [lesson 01](01_async_await_as_descriptions.ipynb).

# %% [markdown]
# ## Practise on the module's exercises
#
# Each lesson ends with its own graded exercise. These three span the whole module; they are
# not graded. Answer them in a few sentences, ideally after the lessons named in each.
#
# 1. **Find a boundary.** Identify one async boundary and explain where scheduling belongs and
#    where pure transformation still belongs. *Start with the cells above: of `user_name`,
#    `async_lift(...)` and `await perform_async(plan)`, which could a test call without an event
#    loop, and which must stay in the shell?* (Lessons 01 and 07.)
# 2. **Name the pressure.** Review one queue, timeout or retry policy and state the pressure
#    scenario it is meant to absorb. *For example: what burst does a queue of capacity 8 with
#    drop-oldest absorb, and what does it give up?* (Lessons 03 and 04.)
# 3. **Trust the test.** Compare one async test helper with the runtime path it protects and
#    explain why the test stays deterministic. *For example: the fake HTTP client above against
#    the real HTTP adapter of lesson 08.* (Lessons 05, 07 and 08.)

# %% [markdown]
# ## Pressure-test it: capstone checkpoints
#
# The capstone, lesson 12, builds one pipeline that uses every idea in the module, and
# answers these checkpoints in the notebook. The right-hand column names the lessons that
# prepare you for each.
#
# | checkpoint | prepared by |
# | --- | --- |
# | Inspect where async work is described and where it is actually driven. | 01 descriptions and the shell, 07 adapters, 11 refactoring |
# | Review how bounded queues and fairness policies shape throughput. | 03 backpressure, 06 rate limiting and fairness, 09 chunking |
# | Compare test helpers with the runtime surfaces they are protecting. | 05 deterministic testing, 07 contract tests, 10 laws |
#
# You can start on the first checkpoint today: every place in the course package that drives a
# plan lives in one folder, [`funcpipe_async/shell/`](../funcpipe_async/shell/__init__.py).
# `python -m funcpipe_async.boundary`, which `make test` runs, fails if any other module starts
# driving; the worker pool inside `async_gather` is the one documented exception.

# %% [markdown]
# ## Before moving on
#
# You should be able to explain how async coordination stays reviewable, what protects the
# system from runaway work, and how to tell whether an async abstraction clarifies control
# flow or hides it. Lesson 11 is the rehearsal: it takes a script that hides its coordination
# and makes it explicit one tested step at a time. The capstone is the final comparison.
#
# ### Closing criteria: check yourself
#
# Tick a box only when you can do what the question in italics asks, out loud or on paper.
#
# - [ ] I can explain how concurrency stays bounded instead of accidental.
#   *Point at the number that limits how many calls run at once, and at the capacity that
#   limits how many items wait.*
# - [ ] I can identify which async abstractions describe work and which actually drive it.
#   *Sort these: `async_bind`, `async_gather`, `perform_async`, `run_sync`,
#   `asyncio.create_task`, an `async def` call without `await`.*
# - [ ] I can defend an async design in terms of fairness, backpressure and testability.
#   *For one design, say what the lightest tenant sees during a burst, what happens when the
#   queue fills, and how you would test both without sleeping.*

# %% [markdown]
# ## Keep the vocabulary stable
#
# The words below mean the same thing in every lesson, exercise and docstring.
#
# | term | meaning | lesson |
# | --- | --- | --- |
# | plan (description) | An `AsyncPlan[A]`: a function of no arguments that returns a fresh awaitable of `Result[A, ErrInfo]` each time it is called. Building or composing one (`async_pure`, `async_bind`, `async_map`, `async_lift`) runs nothing. | 01 |
# | driving | Awaiting a plan's coroutine so its effects happen: `await perform_async(plan)` in async code, `run_sync(plan)` from synchronous code. Driving twice performs the effects twice. | 01 |
# | shell | The code that drives plans: a script's `main`, a request handler, a notebook cell. In the package it is one folder, `funcpipe_async/shell/`. | 01 |
# | core | Code that builds and transforms plans and plain values but never drives them, so it can be tested without a network, an event loop or a clock. | 01 |
# | `Result`, `Ok`, `Err`, `ErrInfo` | A step's outcome as a value: `Ok(value)`, or `Err(ErrInfo(code, message, retryable))` for an expected failure such as a 404 or a timeout. Exceptions are kept for bugs. | 01 |
# | `IOPlan` | The synchronous twin of a plan: a function of no arguments returning `Result[A, ErrInfo]`. `AsyncPlan` is the same idea, made non-blocking. | 01 |
# | replayable | Driving the same plan again runs it again from the start, with fresh coroutines, instead of failing or returning a stale answer. | 01 |
# | capability / port | A `Protocol` naming what the core may ask of the outside world, such as `HttpClientCap.get_json(url)` or `StorageCap.save(key, record)`. The core receives one as an argument and never builds a client itself. | 01, 07 |
# | adapter | A class that implements a port with something concrete (an HTTP client, SQLite) and turns that library's exceptions into `Err(ErrInfo)` at the boundary. A fake such as `FakeHttp` is an adapter with scripted answers and a call log. | 07 |
# | async generator | An `async def` that `yield`s: a stream consumed with `async for`, producing each item only when the consumer asks for it. | 02 |
# | bounded concurrency | A fixed limit on how much runs at once: `async_gather(plans, concurrency=8)` never runs more than 8 plans (or keeps more than 8 tasks alive) and returns results in input order. | 03 |
# | backpressure | A slow consumer pushing back on a fast producer. When a bounded queue is full, the producer waits (`suspend`), an item is dropped (the newest or the oldest), or the put fails — a choice written down, so memory stays bounded. | 03 |
# | Little's law | In a steady system, the average number of items inside is L = λ·W (arrival rate times time each item spends inside). 20 items/s that each stay 0.5 s means 10 items in flight on average. | 03 |
# | timeout, deadline | A timeout limits one attempt; a deadline limits the whole operation, retries included. When either passes, the work in flight is cancelled. | 04 |
# | retry policy | Frozen data saying how many attempts to make, how long to wait between them (exponential backoff up to a cap) and which errors to retry (`ErrInfo.retryable`). | 04 |
# | retry budget | A limit on retries across many calls, for example at most one retry per ten requests, so a failing service is not buried under a retry storm. | 04 |
# | jitter | A random spread added to each backoff delay, so clients that failed together do not retry together. Here it comes from a seeded random generator, so runs are reproducible. | 04 |
# | idempotent | Doing it twice has the same effect as doing it once. `FakeStorage.save(key, record)` overwrites the same key, so a retried save is safe; charging a card is not. | 04, 07 |
# | virtual time | A clock that moves only when every task is waiting, and then jumps straight to the next timer. Minutes of backoff take milliseconds, and every run interleaves the same way. | 05 |
# | token bucket | A rate limiter holding up to `capacity` tokens that refill at `rate` per second; each request spends one and waits (or is refused) when none is left. It allows bursts up to `capacity` and an average of `rate`. | 06 |
# | fairness | How capacity is shared between tenants (users, customers, sources). FIFO serves strictly in arrival order, so one tenant's burst delays everyone; round-robin and weighted fair scheduling such as deficit round robin give each tenant its turn or its weighted share. | 06 |
# | Jain's fairness index | For per-tenant throughputs x₁ … xₙ, J = (Σxᵢ)² / (n·Σxᵢ²). It is 1 when every tenant gets the same and 1/n when one tenant gets everything. | 06 |
# | batching (chunking) | Grouping items so an expensive call handles many at once; a batch is flushed when it reaches its size or its time limit, whichever comes first. | 09 |
# | law | An equation every plan must satisfy, checked by Hypothesis on many generated examples. For example, `async_bind(async_pure(x), f)` drives to the same result as `f(x)`. | 01, 10 |

# %% [markdown]
# ## Check your understanding
#
# Five questions on this notebook. Pick an answer and press *Check*; the answer key below the
# quiz also works without a running kernel.

# %%
QUIZ = [
    Question("You build plan = async_lift(lambda: fake.get_json(url)). What is in fake.calls?",
             ("One GET: lifting calls the function once",
              "Nothing: building a plan performs nothing", "A coroutine object"),
             answer=1,
             why="async_lift stores the function; the fake runs only when a shell drives it."),
    Question("Where does await perform_async(plan) belong?",
             ("Wherever the plan is built", "Inside the functions passed to async_bind",
              "Only in a shell: a script's main, a request handler, a notebook cell"),
             answer=2,
             why="Driving is the shell's job; core code returns plans, so it stays testable."),
    Question("A producer makes 100 items/s, the consumer 10, and the queue has no maxsize. Then…",
             ("the queue grows by about 90 items a second until memory runs out",
              "the producer slows down by itself", "asyncio drops the oldest items"),
             answer=0,
             why="An unbounded queue never pushes back; a bounded one makes you choose."),
    Question("Three tenants get 10, 10 and 10 items/s. What is Jain's fairness index?",
             ("1/3", "1.0", "30"),
             answer=1,
             why="(Σx)² / (n·Σx²) = 900 / 900 = 1; one tenant taking all 30 would give 1/3."),
    Question("Why do the lessons test retries against a virtual clock?",
             ("asyncio forbids real sleeps in tests", "It makes the retries succeed",
              "Minutes of backoff take milliseconds, in the same order every run"),
             answer=2,
             why="Time jumps to the next timer whenever every task waits: no waiting, no luck."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
display(quiz_widget(QUIZ))

# %%
display(HTML(answer_key_html(QUIZ)))

# %% [markdown]
# ## On your own
#
# - Build a second plan over the same `fake` that fetches `https://api.example.com/users/7`,
#   a user the fake does not know, and drive it. What `Result` comes back, and did the fake
#   log a call?
# - Drive the plan a third time, then a fourth. Predict `fake.calls` before you run the cell.
#
# ## Further reading
#
# - Python documentation: [Coroutines and Tasks](https://docs.python.org/3/library/asyncio-task.html),
#   the asyncio vocabulary this module builds on.
# - Nathaniel J. Smith, [Notes on structured concurrency, or: Go statement considered harmful](https://vorpus.org/blog/notes-on-structured-concurrency-or-go-statement-considered-harmful/)
#   (2018): why work started in the background and never awaited makes programs hard to reason about.
# - Marc Brooker, [Exponential Backoff and Jitter](https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)
#   (AWS Architecture Blog, 2015): what retries without jitter do to a recovering service.
# - R. Jain, D. Chiu and W. Hawe, *A Quantitative Measure of Fairness and Discrimination for
#   Resource Allocation in Shared Computer Systems* (DEC Research Report TR-301, 1984): the
#   fairness index used in lesson 06.
# - J. D. C. Little, *A Proof for the Queuing Formula: L = λW* (Operations Research 9(3), 1961).
#
# ## Continue with
#
# **[01 async/await as Descriptions](01_async_await_as_descriptions.ipynb):** why an
# `async def` call is a description, how `async_bind` chains dependent steps, why the shell is
# the only place that drives, and a timeline of when each step was described and when it ran.
#
# ---
#
# [Contents](00_module_overview.ipynb) · [01 async/await as Descriptions →](01_async_await_as_descriptions.ipynb)
