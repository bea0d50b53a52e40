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
# between users, and tested without waiting on a real clock. This is the module's front page:
# where it sits, what it promises, how to work through it, and how to tell when you are done.

# %% [markdown]
# ## What you'll do
# - Check that your environment can run every lesson.
# - Build your first async plan, see that building it did nothing, then drive it.
# - Walk through the lesson map, the exercises and the closing criteria you will work towards.
#
# ## What you'll learn
# - The question this module answers, and the outcomes it promises.
# - How a lesson, its exercise and the tests fit together.
#
# ## What you'll need
# - The course environment: `make lab` (below) builds it on first use. Python 3.11 or newer.
# - Python functions and lambdas, and having seen `async def` and `await`. No asyncio
#   experience is assumed.
# - No earlier module: what this module stands on (`Result`, `Ok`, `Err`, `ErrInfo`, the
#   synchronous `IOPlan`) ships in the course package `funcpipe_async`, and every term is
#   defined in the [glossary](further/00_glossary.ipynb).
# - About 25 minutes.

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
# effects at the edges, failures returned as values. Under it sit the three things that test
# whether you learned it: the lessons, the exercises with the closing criteria, and the
# capstone (lesson 12), which puts every idea into one pipeline.
#
# ```mermaid
# flowchart TD
#   purpose["Start with the module purpose and main questions"] --> lesson_map["Use the lesson map to choose reading order"]
#   lesson_map --> study["Read the lessons and examples with one review question in mind"]
#   study --> proof["Test the idea with exercises and capstone checkpoints"]
#   proof --> close["Move on only when the closing criteria feel concrete"]
# ```
#
# The second diagram is your route, and the order of this page.

# %% [markdown]
# ## Carry one question into every lesson
#
# > **Which async behaviour is being coordinated explicitly, and where would hidden
# > scheduling or buffering make the system harder to reason about?**
#
# Hidden coordination is easy to write and hard to see: an `asyncio.create_task` nobody
# awaits, an `asyncio.gather` over 10,000 requests with no limit, an `asyncio.Queue()` with no
# `maxsize`, a retry loop around `await asyncio.sleep(1)`. Each works in a demo. Under load,
# memory grows without limit, a service receives 10,000 requests at once, one customer's burst
# delays everyone else, and the tests sleep for minutes and still fail now and then.
# Explicit coordination is the same behaviour written as data you can read, test and change:
# a plan that does nothing until driven, a `concurrency=8` bound, a queue capacity with a
# named overflow strategy, a retry policy with a budget.
#
# ## Why this module matters
#
# Async code is where a pipeline meets production pressure: slow services, bursts, failures,
# many users at once. Every lesson shows the plain `asyncio` way first, then the same
# behaviour as a description you can test, replay and bound, and proves the two equal. The
# payoff is local reasoning: you can read one function and know what it will start, when,
# and how much.

# %% [markdown]
# ## Learning outcomes
#
# By the end of the module you can:
#
# 1. **Keep async steps explicit.** Build work as an `AsyncPlan`, a value that does nothing
#    until the shell drives it, and say of any line of async code whether it describes work
#    or drives it.
# 2. **Protect a pipeline under load.** Bound concurrency and queues, choose what happens when
#    a queue is full, and give timeouts and retries budgets and deadlines.
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
# | nn | lesson | what it makes visible |
# | --- | --- | --- |
# | 00 | [Module overview](00_module_overview.ipynb) | this page: an environment check, the closing criteria; the [glossary](further/00_glossary.ipynb) |
# | 01 | [async/await as Descriptions](01_async_await_as_descriptions.ipynb) | a plan has performed nothing until the shell drives it; a timeline of when each step was described and when it ran |
# | 02 | [Async Generators](02_async_generators.ipynb) | lazy streams pulled with `async for`: the consumer sets the pace, and cleanup runs even on early exit |
# | 03 | [Backpressure](03_backpressure.ipynb) | queue depth over time, unbounded and bounded (suspend, drop newest, drop oldest, fail); Little's law |
# | 04 | [Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb) | retries and timeouts as frozen data: backoff with seeded jitter, retry budgets, deadlines that cancel |
# | 05 | [Deterministic Async Testing](05_deterministic_async_testing.ipynb) | a virtual clock that runs minutes of retries in milliseconds, beside the wall-clock test it replaces |
# | 06 | [Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb) | token buckets; a heavy tenant starving a light one under FIFO but not under fair scheduling |
# | 07 | [Async Adapters](07_async_adapters.ipynb) | ports as `Protocol`s, adapters that return `Err(ErrInfo)`, one contract test for a fake and a real adapter |
# | 08 | [Async Service Integrations](08_async_service_integrations.ipynb) | a real HTTP service on loopback and SQLite in one pipeline, every input accounted for |
# | 09 | [Async Chunking](09_async_chunking.ipynb) | batches flushed by size or by time, and the latency/throughput trade-off |
# | 10 | [Async Pipeline Laws](10_async_pipeline_laws.ipynb) | the laws of plans, gathers, streams and retries, checked by Hypothesis |
# | 11 | [Refactoring Guide](11_refactoring_guide.ipynb) | a messy async script turned into descriptions plus a shell, tests pinning it at every step |
# | 12 | [Capstone: async RAG pipeline](12_capstone_async_rag_pipeline.ipynb) | documents → chunks → bounded parallel embedding → dedup, answering the capstone checkpoints |

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
# - **`await` works at the top of a cell.** The kernel already runs an asyncio event loop, so a
#   cell can say `await perform_async(plan)`, and `asyncio.run(...)` fails inside a cell.
#   Lesson 01 explains why a notebook cell counts as a shell.
# - **Every notebook is a test.** `make test` re-runs each notebook with
#   [nbval](https://nbval.readthedocs.io/) and compares every output with the stored one,
#   character for character. That is why lessons use virtual time, seeded randomness and no
#   memory addresses, and why every figure also prints a text summary (images are not
#   compared). Edit and re-run cells freely; `git restore notebooks/NN_slug.ipynb` brings a
#   lesson back.
# - **Keep two things open:** the [glossary](further/00_glossary.ipynb), and the package's
#   front door, [`funcpipe_async/__init__.py`](../funcpipe_async/__init__.py), whose docstring
#   says which modules describe work and which folder, `shell/`, drives it.
#
# ### How a lesson works
#
# 1. **A question and a boundary**: where work is described and where it is driven (lesson 01
#    draws this working rhythm as a diagram).
# 2. **Plain asyncio first** (`asyncio.gather`, a `Semaphore`, a `Queue`, a retry loop), run
#    live, then the package's description beside it and an `assert` that the two agree.
# 3. **Predict, then run.** Before a revealing cell, write down what you expect it to print.
# 4. **Proof and failure**: laws checked by Hypothesis, a measured cost, anti-patterns failing
#    live and then fixed.
# 5. **Quiz, exercise**, and sometimes an optional appendix in `notebooks/further/`.

# %% [markdown]
# ## Check your environment
#
# First the setup cell every lesson starts with: imports from the course package, and
# `setup()`, which loads the course's deterministic Hypothesis profile.

# %%
from IPython.display import display

from funcpipe_async import (
    FakeHttp, lesson_answer_key, async_lift, async_map, environment_report,
    format_table, perform_async, lesson_quiz, setup,
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
# Predict: the plan is a value, so you can drive it again. How many `GET`s will `fake.calls`
# hold afterwards? Then run.

# %%
again = await perform_async(plan)
print("same result:", again == result)
print("fake.calls: ", fake.calls)

# %% [markdown]
# Each drive performs the effect again, with a fresh coroutine. Building the plan described
# the work; `await perform_async(plan)` did it. Why that split makes async code testable and
# safe to compose is [lesson 01](01_async_await_as_descriptions.ipynb).

# %% [markdown]
# ## Practise on the module's exercises
#
# These three span the whole module and are not graded (each lesson has its own graded
# exercise). Answer each in a few sentences after the lessons it names.
#
# 1. **Find a boundary.** Where does scheduling belong, and where pure transformation? *Of
#    `user_name`, `async_lift(...)` and `await perform_async(plan)` above, which could a test
#    call without an event loop?* (Lessons 01, 07.)
# 2. **Name the pressure.** What burst does one queue, timeout or retry policy absorb? *A queue
#    of capacity 8 with drop-oldest: what does it give up?* (Lessons 03, 04.)
# 3. **Trust the test.** Why does an async test helper stay deterministic? *Compare the fake
#    HTTP client above with lesson 08's real adapter.* (Lessons 05, 07, 08.)

# %% [markdown]
# ## Pressure-test it: capstone checkpoints
#
# The capstone, lesson 12, builds one pipeline that uses every idea in the module and answers
# these checkpoints. The right-hand column names the lessons that prepare you for each.
#
# | checkpoint | prepared by |
# | --- | --- |
# | Inspect where async work is described and where it is actually driven. | 01 descriptions and the shell, 07 adapters, 11 refactoring |
# | Review how bounded queues and fairness policies shape throughput. | 03 backpressure, 06 rate limiting and fairness, 09 chunking |
# | Compare test helpers with the runtime surfaces they are protecting. | 05 deterministic testing, 07 contract tests, 10 laws |
#
# You can start on the first one today: every place in the course package that drives a plan
# lives in one folder, [`funcpipe_async/shell/`](../funcpipe_async/shell/__init__.py), and
# `python -m funcpipe_async.boundary` fails if any other module starts driving (the worker
# pool inside `async_gather` is the one documented exception).

# %% [markdown]
# ## Before moving on
#
# You should be able to explain how async coordination stays reviewable, what protects the
# system from runaway work, and whether an async abstraction clarifies control flow or hides
# it. Lesson 11 rehearses this on a messy script; the capstone is the final comparison.
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
# ## Check your understanding
#
# Five questions. Click a letter to answer: a wrong answer says why it is wrong. The answer key
# below the quiz also works without a running kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
display(lesson_quiz("00"))

# %%
display(lesson_answer_key("00"))

# %% [markdown]
# ## On your own
#
# - Build a plan over the same `fake` for `https://api.example.com/users/7`, a user the fake
#   does not know, and drive it. What `Result` comes back, and did the fake log a call?
#
# ## Further reading
#
# - The module's [glossary](further/00_glossary.ipynb): every term, with the lesson that
#   teaches it.
# - Python documentation: [Coroutines and Tasks](https://docs.python.org/3/library/asyncio-task.html),
#   the asyncio vocabulary this module builds on.
# - Nathaniel J. Smith, [Notes on structured concurrency, or: Go statement considered harmful](https://vorpus.org/blog/notes-on-structured-concurrency-or-go-statement-considered-harmful/)
#   (2018): why work started in the background and never awaited makes programs hard to reason about.
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
