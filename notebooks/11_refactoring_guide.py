# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 10 Async Pipeline Laws](10_async_pipeline_laws.ipynb) · [Contents](00_module_overview.ipynb) · [12 Capstone: async RAG pipeline →](12_capstone_async_rag_pipeline.ipynb)
#
# # 11 · Refactoring Guide
#
# Every lesson so far built async code the right way from the first line. Real code rarely
# starts there. This lesson takes a script that could be running in production tonight — a
# nightly job that copies 300 customer records from an HTTP API into a warehouse — with every
# smell the module has warned about: a **global client**, a **fire-and-forget task** hidden in a
# helper, an **unbounded `gather`**, an **ad-hoc retry loop** around `except Exception`, and a
# **sleep** that hopes the background work is done. You refactor it, one small reviewable step at
# a time, into a **description** (plans) plus a thin **shell**, with **one behavioural test** that
# passes after every step, and finish with the checklist a reviewer can apply to any async pull
# request.
#
# **What you'll do**
# - Read the messy script, run it on virtual time against scripted fakes, and pin what it does
#   with one behavioural test — a *characterization test*: it records what the outside world sees.
# - Watch each smell fail live: a failure the script loses, 300 requests in flight, a `404`
#   retried forever, a test that cannot run without the network.
# - Refactor in six steps, each a small diff with its reason, re-running the test after each; read
#   the whole journey in one table and one figure.
# - Prove the refactoring's invariants with Hypothesis, measure the cost before and after, and see
#   two ways a refactoring itself goes wrong.
#
# **What you'll learn**
# - The order of safe steps: inject the ports, own the tasks, bound the fan-out, make retries
#   data, turn the core into descriptions, account for every input.
# - Which steps keep behaviour and which change it on purpose — and how a test pins each.
# - The review checklist: where work is described vs driven, what bounds concurrency, what is
#   retried and what stops it, where time comes from, what happens to a failure, what closes resources.
#
# **What you'll need**
# - Lessons [01](01_async_await_as_descriptions.ipynb) (plans, the shell, `scan_source`),
#   [04](04_retry_and_timeout_policies.ipynb) (`RetryPolicy`, `async_retry`) and
#   [05](05_deterministic_async_testing.ipynb) (`Simulation`, scripted fakes); lessons
#   [07](07_async_adapters.ipynb) and [08](08_async_service_integrations.ipynb) (ports, `account_for`)
#   help. Nothing here is new API: this lesson is about *order* and *evidence*.
# - About 50 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["11 Refactoring Guide"]
#   concept --> capstone["Capstone pressure point: lesson 12, an async RAG pipeline built to pass this review"]
# ```
#
# ```mermaid
# flowchart TD
#   problem["Start with the design or failure question"] --> example["Study the worked example and trade-offs"]
#   example --> boundary["Name the boundary this page is trying to protect"]
#   boundary --> proof["Carry that question into code review or the capstone"]
# ```
#
# The first diagram places the lesson: the last concept of Module 08 before the capstone, which is
# built to pass this lesson's review checklist. The second is the rhythm of every lesson. Here
# the six steps of the refactoring, each checked by the same test:
#
# ```mermaid
# flowchart LR
#   messy["messy script<br/>globals, hidden task,<br/>unbounded gather, while-True retry"] --> s1["1 inject the ports"]
#   s1 --> s2["2 own the task"]
#   s2 --> s3["3 bound the fan-out"]
#   s3 --> s4["4 retry by policy"]
#   s4 --> s5["5 describe the core,<br/>keep a thin shell"]
#   s5 --> s6["6 account for every input"]
#   test(["one behavioural test"]) -.-> messy & s1 & s2 & s3 & s4 & s5 & s6
# ```
#
# **Core question.** How do you turn async code that works *most nights* into code whose
# concurrency, retries, time and failures are explicit — without breaking what it already does,
# and with evidence at every step?
#
# **Why it matters.** Rewrites fail: a big-bang rewrite changes twenty things at once, and when
# the numbers differ nobody knows which change did it. A refactoring is a sequence of small,
# reversible changes, each checked against a test of *observable behaviour* — what the API and the
# warehouse saw, how long it took — never against the code's structure, which is exactly what you
# are changing. Some steps change behaviour on purpose (the script was hiding failures); those
# changes are named, reviewed and pinned by a test of their own.
#
# **The review question to carry:** *in this pull request, where is work described and where is
# it driven — and for each concurrent thing, what bounds it, what retries it, what stops it and
# who hears about its failure?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`; nothing the package provides is re-defined here.
# `setup()` loads the course's Hypothesis profile (derandomized, so this notebook's output is the
# same on every run). Every run is on virtual time (`Simulation`), so a night of retries costs
# milliseconds.

# %%
import asyncio
import difflib
import inspect
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from unittest.mock import patch

import matplotlib
from hypothesis import given, settings, strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    AsyncPlan, Err, ErrInfo, ExponentialBackoff, FakeStorage, HttpClientCap, Ledger, Ok, Question,
    Result, RetryPolicy, ScriptedHttp, Simulation, SimulationLimitError,
    StorageCap, account_for, answer_key_html, api_summary, async_bind, async_gather, async_lift,
    async_map, async_retry, async_settle, course_rc, format_table, perform_async, quiz_widget,
    scan_source, setup, show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# A refactoring has no algebraic laws of its own; it has **invariants** — what must hold after
# every step — and **target properties** that hold from a given step on.
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | behaviour preserved | after every step, the behavioural test passes: the same records saved, the same requests made, nothing reported failed on a calm night, done within the nightly window | [Compare every step](#Compare-every-step) (the table), and Hypothesis over generated nights — [Prove the invariants with Hypothesis](#Prove-the-invariants-with-Hypothesis) |
# | invariant | one step, one change | each step is one diff with one reason; a behaviour change is named and pinned by its own test | the diffs printed in [Refactor in six steps](#Refactor-in-six-steps) |
# | target (step 2 on) | no lost failure | a save that fails is reported, never dropped by a task nobody awaits | [Smell 2](#Smell-2:-a-failure-nobody-hears-about) fails, step 2 fixes it |
# | target (step 3 on) | bounded concurrency | at most `concurrency` requests in flight, and O(`concurrency`) tasks alive, whatever the batch size | [Smell 3](#Smell-3:-300-requests-in-flight), step 3; Hypothesis; [Measure the cost](#Measure-the-cost-before-and-after) |
# | target (step 4 on) | retry only what may succeed | a `404` is asked for once; a `503` at most `max_attempts` times; cancellation is never retried | [Smell 4](#Smell-4:-a-404-retried-forever), step 4; [the cancellation check](#Stop-the-job-from-outside) |
# | target (step 5 on) | no driving in core | `scan_source(core)` finds 0 driving calls; the shell is the only place that drives | the `driving calls` column of [the table](#Compare-every-step) |
# | target (step 6 on) | every input accounted for | one outcome per input — saved, or failed at a named step with its `ErrInfo`: `ledger.problems(ids) == []` | step 6; Hypothesis |
#
# ## Decide what to refactor, and how to pin it
#
# | smell you see in review | refactoring | test that pins it | taught in |
# |---|---|---|---|
# | a module-level client, or `CLIENT = ...` reached for inside functions | inject a port (a `Protocol`) as an argument | the job runs against fakes passed in — no patching, no network | lessons [01](01_async_await_as_descriptions.ipynb#Anti-pattern-4:-a-concrete-client-in-core), [07](07_async_adapters.ipynb) |
# | `asyncio.create_task(...)` whose task nobody keeps or awaits | await it, or make it part of the plan | a failure inside it is reported | [01](01_async_await_as_descriptions.ipynb#Anti-pattern-3:-create_task-in-core), [05](05_deterministic_async_testing.ipynb) |
# | `asyncio.gather(*[f(x) for x in xs])` over input of any size | `async_gather(plans, concurrency=n)` | requests in flight ≤ n, tasks alive O(n) | [08](08_async_service_integrations.ipynb#Anti-pattern-1:-unbounded-fan-out-against-the-service) |
# | `while True: try ... except Exception: await asyncio.sleep(1)` | a `RetryPolicy` + `async_retry` | attempts per fault script: a `404` once, a `503` at most `max_attempts` times | [04](04_retry_and_timeout_policies.ipynb) |
# | `await asyncio.sleep(5)  # let things finish` | own the work; delete the sleep | the virtual time drops by the sleep; nothing is left running | [05](05_deterministic_async_testing.ipynb) |
# | coroutines that run as soon as they are awaited, spread through the core | functions that return `AsyncPlan`s; one shell drives | `scan_source(core) == []` | [01](01_async_await_as_descriptions.ipynb) |
# | `except Exception: failed.append(x)` | `account_for` + `Ledger` | `ledger.problems(ids) == []`; each failure names its step and code | [08](08_async_service_integrations.ipynb) |
#
# **Rule:** pin first, then change one thing, then run the test. A step that changes behaviour on
# purpose gets a test that fails before it and passes after it.

# %% [markdown]
# ## Read the public API
#
# Nothing here is new. These are the tools the steps reach for, with the first line of their docs:

# %%
print(api_summary([async_gather, async_settle, async_retry, RetryPolicy, account_for,
                   Ledger.problems, scan_source]))

# %% [markdown]
# ## Read the messy script
#
# Here it is, as it might arrive in a pull request titled *"nightly sync: make it faster"*. It is
# short, it reads well, and it works on most nights. Read it as a reviewer before reading on: what
# does each line do when the API is slow, when a record is missing, when the warehouse refuses a
# record, when there are 30,000 records instead of 300?
#
# The script is kept as **source text**, so the notebook can `exec` each version into a fresh
# namespace — every step is a self-contained module you can run, test and scan.

# %%
MESSY = """\
# nightly_sync.py — copy customer records from the CRM into the warehouse, every night
import asyncio

CLIENT = CrmClient("https://crm.example.com")        # one client for the whole process
STORE = WarehouseClient("postgres://warehouse/prod")
FAILED = []

async def fetch(record_id):
    while True:                                      # retry until it works
        try:
            result = await CLIENT.get_json(f"/records/{record_id}")
            if isinstance(result, Err):
                raise IOError(result.error.code)
            return result.value
        except Exception:
            await asyncio.sleep(1)                   # wait a bit, try again

def store_later(record):
    asyncio.create_task(STORE.save(record["id"], record))    # don't wait for the slow warehouse

async def sync_one(record_id):
    try:
        store_later(await fetch(record_id))
    except Exception:
        FAILED.append(record_id)

async def sync_all(ids):
    await asyncio.gather(*[sync_one(i) for i in ids])        # all at once: fast!
    await asyncio.sleep(5)                                   # give the background saves time to land
    return FAILED

if __name__ == "__main__":
    asyncio.run(sync_all(load_ids()))
"""

# %% [markdown]
# The smells, in the order the refactoring will remove them:
#
# 1. **A global client** (`CLIENT`, `STORE`): every function reaches for it, so a test must patch
#    module globals — or talk to the real CRM.
# 2. **A hidden fire-and-forget task** (`store_later`): the save runs in a task nobody keeps, so its
#    result — success or failure — goes nowhere; the `sleep(5)` in `sync_all` *hopes* it finished.
# 3. **An unbounded `gather`**: one coroutine per id, all at once — 300 requests in flight tonight,
#    30,000 next year.
# 4. **An ad-hoc retry** (`while True` around `except Exception`): no limit, no backoff, no notion of
#    which errors can succeed on a second try.
# 5. **Driving in the core**: `create_task`, `asyncio.gather`, `asyncio.run` in one module — lesson 01's
#    boundary check finds them statically:

# %%
for violation in scan_source(MESSY, "nightly_sync.py"):
    print(violation)

# %% [markdown]
# ## Build a world to run it in
#
# A refactoring needs a world where the script can run tonight, tomorrow and in a test, the same
# way each time: scripted fakes on virtual time (lesson 05). The world is data — the ids, how many
# times each record answers `503` before it answers, which records are missing (`404`), and which
# the warehouse will refuse (a `NaN` balance the API sends when it could not compute one).

# %%
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
NOT_FOUND = ErrInfo("HTTP_404", "no such record")

@dataclass(frozen=True)
class Night:
    ids: tuple[str, ...]
    flaky: dict[str, int]                    # id -> how many 503s before it answers
    missing: frozenset[str] = frozenset()    # answered 404, every time
    broken: frozenset[str] = frozenset()     # sent with a NaN balance: the warehouse refuses it
    latency: float = 0.2                     # virtual seconds per API call

def record_of(night: Night, record_id: str) -> dict:
    balance = math.nan if record_id in night.broken else int(record_id[1:]) * 10
    return {"id": record_id, "name": f"customer {record_id[1:]}", "balance": balance}


# %% [markdown]
# Nights are generated from a seed: three in four records answer at once, one in five fails once
# with `503`, one in twenty fails twice.

# %%
def make_night(n: int = 300, seed: int = 11, missing: tuple[int, ...] = (), broken: tuple[int, ...] = ()) -> Night:
    rng = random.Random(seed)
    ids = tuple(f"r{k:03d}" for k in range(1, n + 1))
    flaky = {i: rng.choices([0, 1, 2], weights=[75, 20, 5])[0] for i in ids}
    return Night(ids, flaky, frozenset(ids[k - 1] for k in missing), frozenset(ids[k - 1] for k in broken))


# %% [markdown]
# The API fake is the package's `ScriptedHttp` (lesson 08): each record answers from its own
# `ScriptedService` (lesson 05), so a record that fails twice fails on *its* first two calls, whoever
# else is calling. It counts what a reviewer wants counted: requests, requests in flight (now and at
# most, sampled over time); `CrmApi` adds the tasks alive at each request.
# The warehouse is the package's `FakeStorage`, 50 ms slower.

# %%
class CrmApi(ScriptedHttp):
    # The package's ScriptedHttp (lesson 08) with one script per record, also counting tasks alive.
    def __init__(self, night: Night) -> None:
        script = lambda i: [NOT_FOUND] if i in night.missing else [UNAVAILABLE] * night.flaky[i] + [record_of(night, i)]
        super().__init__({i: script(i) for i in night.ids}, latency=night.latency)
        self.tasks_peak = 0

    async def get_json(self, url: str) -> Result[dict, ErrInfo]:
        self.tasks_peak = max(self.tasks_peak, len(asyncio.all_tasks()))
        return await super().get_json(url)

class SlowWarehouse(FakeStorage):
    async def save(self, key: str, record: dict) -> Result[None, ErrInfo]:
        await asyncio.sleep(0.05)
        return await super().save(key, record)


# %% [markdown]
# Tonight's calm night: 300 records, transient `503`s only — the night the script was written for.
# The number of requests it *should* take is known before anything runs: one per record, plus one
# per `503`.

# %%
CALM = make_night()
EXPECTED_REQUESTS = sum(k + 1 for k in CALM.flaky.values())
print(len(CALM.ids), "records;", "503s before answering:", dict(sorted(Counter(CALM.flaky.values()).items())))
print("requests a correct job makes:", EXPECTED_REQUESTS)


# %% [markdown]
# Each version is loaded into a fresh namespace. The script expects `CrmClient` and
# `WarehouseClient` — the company's `httpx` and database wrappers. Here, as on a CI runner, there
# is no route to the CRM: the stand-in fails every call with `ConnectionError`, as the real client
# would offline.

# %%
class OfflineClient:
    def __init__(self, url: str) -> None:
        self.url = url

    async def get_json(self, path: str) -> Result[dict, ErrInfo]:
        raise ConnectionError(f"cannot reach {self.url}{path}: no network here")

    async def save(self, key: str, record: dict) -> Result[None, ErrInfo]:
        raise ConnectionError(f"cannot reach {self.url}: no network here")

PRELUDE = {name: globals()[name] for name in (
    "Err", "Ok", "ErrInfo", "Result", "AsyncPlan", "HttpClientCap", "StorageCap", "RetryPolicy", "ExponentialBackoff",
    "Ledger", "async_bind", "async_gather", "async_lift", "async_map", "async_retry", "async_settle",
    "account_for", "perform_async")}

def load(core: str, shell: str = "") -> dict:
    namespace = {**PRELUDE, "CrmClient": OfflineClient, "WarehouseClient": OfflineClient, "__name__": "nightly_sync"}
    exec(compile(core + shell, "nightly_sync.py", "exec"), namespace)
    return namespace


# %% [markdown]
# ## Pin the behaviour with one test
#
# Before changing a line, write down what the script does *as the outside world sees it* —
# Michael Feathers calls this a **characterization test**. The world sees: which records ended up
# in the warehouse, with what content; which ids the job reported as failed; how many requests
# the API received and how many at once; how many tasks were alive; and how long the job took.
# `observe_night` runs one version against one night and returns exactly those.
#
# The messy script reaches for its globals, so `observe_night` has to patch them — the only version-specific
# line, and the first smell a test feels.

# %%
@dataclass(frozen=True)
class Seen:
    saved: dict
    reported: list[str]
    requests: int
    in_flight: int
    tasks: int
    seconds: float
    samples: list = field(repr=False)

def failed_ids(outcome: object) -> list[str]:
    if isinstance(outcome, Err):                          # the whole job failed
        return [f"the whole job: {outcome.error.code}"]
    value = outcome.value if isinstance(outcome, Ok) else outcome
    return [o.item for o in value.failed] if isinstance(value, Ledger) else sorted(value)


# %%
def observe_night(version: tuple[str, str], night: Night, *, concurrency: int | None = None, limit: float = 600) -> Seen:
    ns, http, store, sim = load(*version), CrmApi(night), SlowWarehouse(), Simulation(limit=limit)
    if "CLIENT" in ns:                                   # it reaches for globals: patch them
        ns["CLIENT"], ns["STORE"] = http, store
        job = ns["sync_all"](list(night.ids))
    else:
        extra = {} if concurrency is None else {"concurrency": concurrency}
        job = ns["sync_all"](list(night.ids), http, store, **extra)
    outcome = sim.run(job)                               # a coroutine or a plan: the test is a shell
    return Seen(store.records, failed_ids(outcome), http.requests, http.peak, http.tasks_peak, sim.now, http.samples)


# %% [markdown]
# The test asserts only what must stay true through the whole refactoring: every record saved
# with its content, nothing reported failed, exactly the expected requests, and done within a
# one-minute window (the job's real window, scaled down like everything else here). It does **not**
# assert *how*: no mock of `asyncio.gather`, no count of tasks — those are what we are about to change.

# %%
WINDOW = 60.0                                            # virtual seconds the job may take

def behavioural_test(version: tuple[str, str], night: Night = CALM) -> Seen:
    seen = observe_night(version, night)
    expected = {i: record_of(night, i) for i in night.ids}
    missing = sorted(set(expected) - set(seen.saved))
    assert seen.saved == expected, f"records not saved as fetched: {missing[:5]} ({len(missing)} missing)"
    assert seen.reported == [], f"reported failed on a calm night: {seen.reported[:5]}"
    assert seen.requests == sum(k + 1 for k in night.flaky.values()), f"{seen.requests} requests"
    assert seen.seconds <= WINDOW, f"took {seen.seconds:g} virtual s, the window is {WINDOW:g}"
    return seen


# %% [markdown]
# Run it on the messy script. Watch for two things: it **passes** — the script works on a calm
# night, which is why it is in production — and the numbers it prints are the script's fingerprint:
# every request in flight at once, a task per record, and five seconds of pure waiting at the end.

# %%
STEPS = {"0 messy": (MESSY, "")}
baseline = behavioural_test(STEPS["0 messy"])
print(f"passes: {len(baseline.saved)} saved, reported {baseline.reported}, {baseline.requests} requests, "
      f"{baseline.in_flight} in flight at most, {baseline.tasks} tasks alive, {baseline.seconds:g} virtual s")

# %% [markdown]
# ## Find the smells, each failing live
#
# A characterization test pins the behaviour you keep. The smells show on *other* nights. Each
# one below is a small test of its own — it fails on the messy script now, and the step that fixes
# it will make it pass.
#
# ### Smell 1: a test that needs the network
#
# Call the script's own `fetch` the way a unit test would, without patching its globals. The global
# `CLIENT` points at the real CRM; offline it raises `ConnectionError` — and the retry loop swallows
# that and tries again, every second, forever. On virtual time the simulation stops it after two
# simulated minutes instead of hanging the test run:

# %% tags=["raises-exception"]
Simulation(limit=120).run(load(MESSY)["fetch"]("r001"))


# %% [markdown]
# The pin for step 1: the job takes its ports as arguments, so a test hands it fakes.

# %%
def test_takes_its_ports(version: tuple[str, str]) -> None:
    parameters = list(inspect.signature(load(*version)["sync_all"]).parameters)
    assert parameters[:3] == ["ids", "http", "store"], f"sync_all{tuple(parameters)}: the clients are globals"


# %% tags=["raises-exception"]
test_takes_its_ports(STEPS["0 messy"])

# %% [markdown]
# ### Smell 2: a failure nobody hears about
#
# A night with three records the warehouse refuses (`NaN` balances, ids 7, 42 and 250). The job
# reports — watch the `reported` list:

# %%
NAN_NIGHT = make_night(broken=(7, 42, 250))

def test_failures_reported(version: tuple[str, str]) -> None:
    seen = observe_night(version, NAN_NIGHT)
    lost = sorted(NAN_NIGHT.broken - set(seen.saved) - set(seen.reported))
    assert not lost, f"{len(seen.saved)} saved, reported {seen.reported}: {lost} lost without a word"

seen = observe_night(STEPS["0 messy"], NAN_NIGHT)
print(len(seen.saved), "saved; reported failed:", seen.reported)

# %% tags=["raises-exception"]
test_failures_reported(STEPS["0 messy"])

# %% [markdown]
# The three saves returned `Err(INVALID_RECORD)` — inside tasks nobody awaits, so the `Err` went
# nowhere, and the job said *all good*. (Had the save raised instead, asyncio would log *"Task
# exception was never retrieved"* to stderr at some later garbage collection — the same loss, with
# a note nobody reads at 3 a.m.)
#
# ### Smell 3: 300 requests in flight
#
# The CRM's documented limit is 16 concurrent requests per client. The calm night already broke it:

# %% tags=["raises-exception"]
CONCURRENCY = 16

def test_bounded(version: tuple[str, str]) -> None:
    seen = observe_night(version, CALM)
    assert seen.in_flight <= CONCURRENCY, f"{seen.in_flight} requests in flight at once; the limit is {CONCURRENCY}"

test_bounded(STEPS["0 messy"])

# %% [markdown]
# With 30,000 records it would be 30,000 requests and 30,000 tasks — the API rate-limits or falls
# over, and the job's memory grows with the input. `gather` is not the bug; *nothing bounding it* is.
#
# ### Smell 4: a 404 retried forever
#
# Two records were deleted in the CRM (ids 5 and 123): the API answers `404`, every time. The retry
# loop cannot tell a `404` from a `503` — it retries anything — so the job never ends. The simulation
# stops it after ten simulated minutes and names what is still running:

# %% tags=["raises-exception"]
GONE_NIGHT = make_night(missing=(5, 123))

def test_gives_up_on_404(version: tuple[str, str]) -> None:
    seen = observe_night(version, GONE_NIGHT, limit=600)
    assert seen.reported == sorted(GONE_NIGHT.missing), f"reported {seen.reported}"
    assert len(seen.saved) == len(GONE_NIGHT.ids) - 2, f"{len(seen.saved)} saved"

test_gives_up_on_404(STEPS["0 messy"])


# %% [markdown]
# One bad record stops the whole nightly job — and it keeps sending a request per second per
# missing record to the CRM until someone kills it.
#
# ## Refactor in six steps
#
# Each step is a small edit of the previous version, written as `(old, new)` pairs, so the diff you
# review is exactly the change. `review` prints the diff and re-runs the behavioural test plus
# every smell test, so you see at once what the step kept, what it fixed, and what it did not touch yet.

# %%
def edit(source: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert source.count(old) == 1, f"expected exactly one {old!r}"
        source = source.replace(old, new)
    return source

PINS = {"ports": test_takes_its_ports, "failures": test_failures_reported, "bounded": test_bounded,
        "404": test_gives_up_on_404}


# %%
def passes(test, version) -> bool:
    try:
        test(version)
        return True
    except (AssertionError, SimulationLimitError, TypeError):
        return False

RESULTS = {}                                             # step -> (what the test saw, {pin: passed})

def review(name: str, before: str) -> None:
    (core, shell), (old_core, old_shell) = STEPS[name], STEPS[before]
    diff = difflib.unified_diff((old_core + old_shell).splitlines(), (core + shell).splitlines(), lineterm="", n=0)
    print("\n".join(line for line in diff if not line.startswith(("---", "+++"))))
    seen = behavioural_test(STEPS[name])
    RESULTS[name] = seen, {pin: passes(test, STEPS[name]) for pin, test in PINS.items()}
    pins = ", ".join(f"{pin} {'✓' if ok else '✗'}" for pin, ok in RESULTS[name][1].items())
    print(f"\nbehavioural test ✓ ({seen.requests} requests, {seen.in_flight} in flight, {seen.seconds:g} s) | {pins}")


# %% [markdown]
# ### Step 1: inject the ports
#
# **Change:** `fetch`, `store_later`, `sync_one` and `sync_all` take the client and the store as
# arguments (typed by the ports `HttpClientCap` and `StorageCap`); the globals go, and so does the
# global `FAILED` list. The real clients are built where the process starts.
#
# **Behaviour:** unchanged — the only difference a caller sees is the signature.

# %%
STEPS["1 ports"] = (edit(MESSY,
    ('CLIENT = CrmClient("https://crm.example.com")        # one client for the whole process\n'
     'STORE = WarehouseClient("postgres://warehouse/prod")\nFAILED = []\n', ""),
    ("async def fetch(record_id):", "async def fetch(record_id, http: HttpClientCap):"),
    ("await CLIENT.get_json(", "await http.get_json("),
    ("def store_later(record):", "def store_later(record, store: StorageCap):"),
    ("asyncio.create_task(STORE.save(", "asyncio.create_task(store.save("),
    ("async def sync_one(record_id):", "async def sync_one(record_id, http, store, failed):"),
    ("store_later(await fetch(record_id))", "store_later(await fetch(record_id, http), store)"),
    ("        FAILED.append", "        failed.append"),
    ("async def sync_all(ids):\n", "async def sync_all(ids, http: HttpClientCap, store: StorageCap):\n    failed = []\n"),
    ("sync_one(i) for i", "sync_one(i, http, store, failed) for i"),
    ("return FAILED", "return failed"),
    ("asyncio.run(sync_all(load_ids()))",
     'asyncio.run(sync_all(load_ids(), CrmClient("https://crm.example.com"), WarehouseClient("postgres://warehouse/prod")))'),
), "")
review("1 ports", "0 messy")

# %% [markdown]
# The call that looped forever in [Smell 1](#Smell-1:-a-test-that-needs-the-network) is now a unit
# test: hand `fetch` a fake and it answers, on virtual time, with no network and no patching.

# %%
print(Simulation().run(load(*STEPS["1 ports"])["fetch"]("r001", CrmApi(CALM))))

# %% [markdown]
# The behavioural test no longer patches anything either: `observe_night` hands the fakes in. The other
# smells are untouched — one step, one change.
#
# ### Step 2: own the task
#
# **Change:** the save is awaited, and its `Err` becomes a reported failure; `store_later` and the
# `sleep(5)` go. When `gather` returns, every save has finished — there is nothing left to hope for.
#
# **Behaviour: changes on purpose.** A refused save is now *reported* instead of lost (the script
# had a bug), and the job ends five virtual seconds sooner. The pin `failures` turns ✓.

# %%
STEPS["2 own the task"] = (edit(STEPS["1 ports"][0],
    ("def store_later(record, store: StorageCap):\n"
     "    asyncio.create_task(store.save(record[\"id\"], record))    # don't wait for the slow warehouse\n",
     "async def save(record, store: StorageCap):\n    saved = await store.save(record[\"id\"], record)\n"
     "    if isinstance(saved, Err):\n        raise IOError(saved.error.code)\n"),
    ("store_later(await fetch(record_id, http), store)", "await save(await fetch(record_id, http), store)"),
    ("    await asyncio.sleep(5)                                   # give the background saves time to land\n", ""),
), "")
review("2 own the task", "1 ports")

# %% [markdown]
# ### Step 3: bound the fan-out
#
# **Change:** `asyncio.gather(*coroutines)` becomes `async_gather(plans, concurrency=16)` —
# lesson 08's fix: a pool of 16 workers, so the 17th request starts only when one finishes. Each
# record's work becomes a plan with `async_lift`; it returns `Ok` whatever happens, because
# `async_gather` stops at the first `Err` and every record must run.
#
# **Behaviour:** the same records, reports and requests; at most 16 in flight (pin `bounded` ✓) and
# 17 tasks alive instead of 301. The job takes a little longer — that is the price of politeness,
# and it is still well inside the window.

# %%
STEPS["3 bounded"] = (edit(STEPS["2 own the task"][0],
    ("async def sync_all(ids, http: HttpClientCap, store: StorageCap):\n    failed = []\n",
     "async def sync_all(ids, http: HttpClientCap, store: StorageCap, concurrency=16):\n    failed = []\n"
     "    async def one(record_id):\n        await sync_one(record_id, http, store, failed)\n        return Ok(record_id)\n"),
    ("    await asyncio.gather(*[sync_one(i, http, store, failed) for i in ids])        # all at once: fast!\n",
     "    await async_gather([async_lift(lambda i=i: one(i)) for i in ids], concurrency=concurrency)()\n"),
), "")
review("3 bounded", "2 own the task")

# %% [markdown]
# ### Step 4: retry by policy
#
# **Change:** the `while True` loop becomes a `RetryPolicy` (lesson 04) applied by `async_retry`:
# what is retried (`503`, `429`, timeouts — by code), how often (4 attempts), how far apart
# (1, 2, 4 s, capped at 8), and what stops one attempt (5 s). Errors stay values: `fetch` returns a
# `Result`, and `sync_one` reports any `Err`. The `except Exception` blocks go, so a *bug* — an
# exception — now crashes the job loudly instead of being counted as a failed record.
#
# **Behaviour: changes on purpose.** A `404` is asked for once and reported (pin `404` ✓); the waits
# grow 1, 2 s instead of 1, 1 s, so a record that fails twice takes one second longer.

# %%
STEPS["4 retry policy"] = (edit(STEPS["3 bounded"][0],
    ("async def fetch(record_id, http: HttpClientCap):\n", 'FETCH_POLICY = RetryPolicy(max_attempts=4, '
     'backoff=ExponentialBackoff(initial=1, factor=2, cap=8),\n    retry_on=frozenset({"HTTP_503", "HTTP_429", "TIMEOUT"}), '
     'attempt_timeout=5)\n\nasync def fetch(record_id, http: HttpClientCap):\n'),
    (STEPS["3 bounded"][0][STEPS["3 bounded"][0].index("    while True"):STEPS["3 bounded"][0].index("\nasync def save")],
     '    return await async_retry(async_lift(lambda: http.get_json(f"/records/{record_id}")), FETCH_POLICY)()\n'),
    ('    saved = await store.save(record["id"], record)\n    if isinstance(saved, Err):\n        raise IOError(saved.error.code)\n',
     '    return await store.save(record["id"], record)\n'),
    ("    try:\n        await save(await fetch(record_id, http), store)\n    except Exception:\n        failed.append(record_id)\n",
     "    fetched = await fetch(record_id, http)\n    saved = await save(fetched.value, store) if isinstance(fetched, Ok) else fetched\n"
     "    if isinstance(saved, Err):\n        failed.append(record_id)\n"),
), "")
review("4 retry policy", "3 bounded")

# %% [markdown]
# ### Step 5: describe the core, keep a thin shell
#
# **Change:** every function of the core now *returns a plan* instead of running: `fetch` and `save`
# are lifted capability calls, `sync_one` binds them and **settles** the result (`async_settle`: an
# `Err` becomes a value, so one record's failure does not stop the gather), and `sync_all` gathers
# them with the bound and maps the outcomes to the failed ids, in input order. Driving moves to a
# separate shell module — the one place with `asyncio.run`, and the place that opens *and closes*
# the real clients (`async with`, lesson 07).
#
# **Behaviour:** unchanged. What changed is what a reviewer can prove: the core has no driving call
# left, and a plan can be built, printed and tested before anything runs.

# %%
CORE = """\
# nightly_sync.py — the core: descriptions only
FETCH_POLICY = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(initial=1, factor=2, cap=8),
    retry_on=frozenset({"HTTP_503", "HTTP_429", "TIMEOUT"}), attempt_timeout=5)

def fetch(record_id: str, http: HttpClientCap) -> AsyncPlan[dict]:
    return async_retry(async_lift(lambda: http.get_json(f"/records/{record_id}")), FETCH_POLICY, name=record_id)

def save(record: dict, store: StorageCap) -> AsyncPlan[str]:
    return async_map(async_lift(lambda: store.save(record["id"], record)), lambda _: record["id"])

def sync_one(record_id: str, http: HttpClientCap, store: StorageCap) -> AsyncPlan[Result[str, ErrInfo]]:
    return async_settle(async_bind(fetch(record_id, http), lambda record: save(record, store)))

def sync_all(ids, http: HttpClientCap, store: StorageCap, concurrency: int = 16) -> AsyncPlan[list[str]]:
    outcomes = async_gather([sync_one(i, http, store) for i in ids], concurrency=concurrency)
    return async_map(outcomes, lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)])
"""

# %%
SHELL = """
# nightly_sync_main.py — the shell: the one place that drives, opens and closes
import asyncio

async def main() -> None:
    async with CrmClient("https://crm.example.com") as http, WarehouseClient("postgres://warehouse/prod") as store:
        failed = await perform_async(sync_all(load_ids(), http, store))
    report(failed)

if __name__ == "__main__":
    asyncio.run(main())
"""
STEPS["5 descriptions"] = (CORE, SHELL)
review("5 descriptions", "4 retry policy")

# %% [markdown]
# The diff is the whole module — that is what "turn the core into descriptions" means — but each
# function kept its name, its arguments and its job, and the test did not change. The boundary
# check now splits the two files: the core drives nothing, the shell drives once.

# %%
print("core: ", scan_source(CORE, "nightly_sync.py"))
print("shell:", [str(v) for v in scan_source(SHELL, "nightly_sync_main.py")])
plan = load(CORE)["sync_all"](list(CALM.ids), CrmApi(CALM), SlowWarehouse())
print("built, not run:", plan)

# %% [markdown]
# ### Step 6: account for every input
#
# **Change:** `sync_one` and the list of failed ids give way to lesson 08's `account_for`: the same
# named steps — `fetch`, then `save` — at most 16 records at a time, ending in a `Ledger` with one
# `Outcome` per input: saved, or failed *at a named step with its `ErrInfo`*.
#
# **Behaviour: the report changes on purpose.** The job used to say *which* ids failed; now it says
# where and why, and the ledger proves nothing was lost or counted twice. The new pin:

# %% tags=["raises-exception"]
STORMY = make_night(missing=(5, 123), broken=(7, 42, 250))

def test_accounts_for_every_input(version: tuple[str, str]) -> None:
    ns, http, store = load(*version), CrmApi(STORMY), SlowWarehouse()
    outcome = Simulation(limit=600).run(ns["sync_all"](list(STORMY.ids), http, store))
    assert isinstance(outcome, Ok) and isinstance(outcome.value, Ledger), f"the job reports {type(outcome).__name__}, not a ledger"
    ledger = outcome.value
    assert ledger.problems(STORMY.ids) == [], ledger.problems(STORMY.ids)
    assert ledger.counts() == {"saved": 295, "save: INVALID_RECORD": 3, "fetch: HTTP_404": 2}, ledger.counts()

PINS["accounted"] = test_accounts_for_every_input
test_accounts_for_every_input(STEPS["5 descriptions"])

# %%
STEPS["6 ledger"] = (edit(CORE,
    ("def sync_one(record_id: str, http: HttpClientCap, store: StorageCap) -> AsyncPlan[Result[str, ErrInfo]]:\n"
     "    return async_settle(async_bind(fetch(record_id, http), lambda record: save(record, store)))\n\n", ""),
    ("def sync_all(ids, http: HttpClientCap, store: StorageCap, concurrency: int = 16) -> AsyncPlan[list[str]]:\n"
     "    outcomes = async_gather([sync_one(i, http, store) for i in ids], concurrency=concurrency)\n"
     "    return async_map(outcomes, lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)])\n",
     "def sync_all(ids, http: HttpClientCap, store: StorageCap, concurrency: int = 16) -> AsyncPlan[Ledger]:\n"
     '    steps = [("fetch", lambda i: fetch(i, http)), ("save", lambda record: save(record, store))]\n'
     "    return account_for(ids, steps, concurrency=concurrency)\n"),
), edit(SHELL, ("failed = await perform_async", "ledger = await perform_async"), ("report(failed)", "report(ledger.table())")))
review("6 ledger", "5 descriptions")

# %% [markdown]
# The stormy night's ledger, as the shell would send it to whoever is on call:

# %%
ledger = Simulation().run(load(*STEPS["6 ledger"])["sync_all"](list(STORMY.ids), CrmApi(STORMY), SlowWarehouse())).value
print(ledger.table())
print(*[str(o) for o in ledger.failed], sep="\n")

# %% [markdown]
# ## Compare every step
#
# The whole journey in one table: each row is one version, run against the calm night by the same
# behavioural test, plus every smell test (the results `review` recorded at each step, and the
# step-6 pin run on every version); the last columns are the counts a reviewer asks for.
# Read down the columns: the behavioural test never fails; each pin turns ✓ at its step and stays;
# in-flight requests and tasks drop at step 3; driving calls in the core reach 0 at step 5.

# %%
RESULTS["0 messy"] = baseline, {pin: passes(test, STEPS["0 messy"]) for pin, test in PINS.items()}
rows = []
for name, version in STEPS.items():
    seen, passed = RESULTS[name]                         # what review() saw at each step
    passed.setdefault("accounted", passes(test_accounts_for_every_input, version))
    pins = ["✓" if passed[pin] else "✗" for pin in PINS]
    driving = len(scan_source(version[0]))
    rows.append([name, "✓", *pins, seen.in_flight, seen.tasks, seen.requests, driving, f"{seen.seconds:g}"])
print(format_table(["step", "behaviour", *PINS, "in flight", "tasks", "requests", "driving calls", "virtual s"], rows))


# %% [markdown]
# Two numbers moved that the behavioural test allowed to move, and each has its reason: virtual
# seconds went **down** at step 2 (the hopeful `sleep(5)` is gone) and **up** at steps 3 and 4 (16
# at a time instead of 300, and backoff that doubles instead of hammering once a second) — still a
# quarter of the window.
#
# ### Draw what the API saw
#
# Requests in flight over virtual time, for the messy script and the final version, on the calm
# night. Look for the wall of 300 at t = 0 on the left, the flat line at 16 on the right, and where
# each job ends.

# %%
def plot_in_flight(runs: dict[str, Seen]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(10, 3.8), layout="constrained")
        ax = fig.add_subplot()
        for (label, seen), style, marker in zip(runs.items(), ("-", "--"), ("o", "s")):
            times, depth = zip(*seen.samples)
            ax.step(times, depth, where="post", linestyle=style, label=f"{label}: peak {seen.in_flight}")
            ax.plot([seen.seconds], [0], marker=marker, markersize=9, linestyle="none", label=f"{label}: job ends")
        ax.axhline(CONCURRENCY, color="0.4", linestyle=":", label=f"the CRM's limit ({CONCURRENCY})")
        ax.set_xlabel("virtual time (virtual seconds)")
        ax.set_ylabel("requests in flight")
        ax.set_yscale("symlog", linthresh=20)
        ax.legend(loc="upper right", fontsize=9)
    return fig


# %%
runs = {"0 messy": observe_night(STEPS["0 messy"], CALM), "6 ledger": observe_night(STEPS["6 ledger"], CALM)}
summary = "; ".join(f"{label}: peak {s.in_flight} in flight, {s.requests} requests, job ends at t={s.seconds:g}"
                    for label, s in runs.items())
show_figure(plot_in_flight(runs), alt="Requests in flight over virtual time on the calm night. " + summary)
print(summary)


# %% [markdown]
# ## Stop the job from outside
#
# Step 4's policy also fixes something the calm night cannot show: cancellation. The operator
# stops the job at t = 1.5 s (a deploy, a kill signal). `async_retry` records the cancel and lets it
# through — no attempt after it, no task left behind (lesson 04). Here the shell cancels the final
# version mid-run and counts the requests the API received after the cancel:

# %%
async def cancel_at(seconds: float, job: AsyncPlan, http: CrmApi) -> str:
    task = asyncio.ensure_future(perform_async(job))
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    made = http.requests
    await asyncio.sleep(30)                              # later: did anything else reach the API?
    return f"cancelled at t={seconds:g}: {made} requests before, {http.requests - made} after, {len(asyncio.all_tasks()) - 1} tasks left"

http = CrmApi(CALM)
print(Simulation().run(cancel_at(1.5, load(*STEPS["6 ledger"])["sync_all"](list(CALM.ids), http, SlowWarehouse()), http)))

# %% [markdown]
# ## Prove the invariants with Hypothesis
#
# The table is one night. Hypothesis draws many: random sizes, random fault mixes, random seeds.
# Each property is a plain function that drives versions on a fresh `Simulation` per example.
#
#
# **Behaviour preserved.** On any night of transient faults, every step saves the same records,
# reports the same (nothing) and makes the same number of requests as the messy script.

# %%
EXAMPLES = Counter()
nights = st.builds(make_night, n=st.integers(1, 40), seed=st.integers(0, 10_000))

@settings(max_examples=25)
@given(night=nights)
def every_step_preserves_behaviour(night: Night) -> None:
    EXAMPLES["preserved"] += 1
    messy = observe_night(STEPS["0 messy"], night)
    for version in STEPS.values():
        seen = observe_night(version, night)
        assert (seen.saved, seen.reported, seen.requests) == (messy.saved, messy.reported, messy.requests)

every_step_preserves_behaviour()
print(f"all {len(STEPS)} versions agree with the messy script: {EXAMPLES['preserved']} generated nights")


# %% [markdown]
# **Bounded concurrency.** For any night and any bound, the final version never has more requests
# in flight than the bound — and uses it (a job of at least `concurrency` records reaches it).

# %%
@settings(max_examples=50)
@given(night=nights, concurrency=st.integers(1, 12))
def concurrency_is_bounded(night: Night, concurrency: int) -> None:
    EXAMPLES["bounded"] += 1
    seen = observe_night(STEPS["6 ledger"], night, concurrency=concurrency)
    assert seen.in_flight == min(concurrency, len(night.ids))
    assert seen.tasks <= concurrency + 1                 # the workers and the job itself

concurrency_is_bounded()
print(f"in flight == min(concurrency, records), tasks <= concurrency + 1: {EXAMPLES['bounded']} examples")


# %% [markdown]
# **Every input accounted for.** On nights with every kind of fault, the ledger has one outcome per
# record; missing records fail at `fetch` with `HTTP_404` after exactly one request, refused ones at
# `save` with `INVALID_RECORD`.

# %%
@st.composite
def stormy_nights(draw: st.DrawFn) -> Night:
    n = draw(st.integers(1, 40))
    picks = st.lists(st.integers(1, n), max_size=4, unique=True)
    missing = draw(picks)
    broken = [k for k in draw(picks) if k not in missing]
    return make_night(n, draw(st.integers(0, 10_000)), missing=tuple(missing), broken=tuple(broken))

@settings(max_examples=50)
@given(night=stormy_nights())
def every_input_is_accounted_for(night: Night) -> None:
    EXAMPLES["accounted"] += 1
    http = CrmApi(night)
    ledger = Simulation().run(load(*STEPS["6 ledger"])["sync_all"](list(night.ids), http, SlowWarehouse())).value
    assert ledger.problems(night.ids) == []
    assert {o.item for o in ledger.failed if o.stage == "fetch"} == night.missing
    assert {o.item for o in ledger.failed if o.stage == "save"} == night.broken
    assert all(len(http.services[i].calls) == 1 for i in night.missing)

every_input_is_accounted_for()
print(f"one outcome per input, each failure at its step: {EXAMPLES['accounted']} examples")

# %% [markdown]
# ## Measure the cost before and after
#
# | cost | messy script | refactored (step 6) |
# |---|---|---|
# | tasks alive at once | O(n): one per record, plus one per background save | O(c): `c` workers and the job |
# | requests in flight at once | n | ≤ c |
# | requests in all | Σ (faults + 1) — unbounded with one `404` | Σ min(faults + 1, `max_attempts`) |
# | memory during the run | O(n) coroutines and tasks at once | O(c) running, plus the O(n) ledger |
# | virtual time | the slowest record + 5 s of hope | ≈ Σ (work + waits) / c |
# | building the job | runs at once (there is nothing to build) | O(n) plan nodes, no effect |
#
# Measured on virtual time by counting, for 100, 300 and 1,000 records (the same seed, so the same
# fault mix per record). Watch tasks and in-flight grow with n on the left and stay flat on the right,
# while the requests match exactly.

# %%
rows = []
for n in (100, 300, 1000):
    night = make_night(n)
    messy, tidy = observe_night(STEPS["0 messy"], night), observe_night(STEPS["6 ledger"], night)
    rows.append([n, messy.tasks, tidy.tasks, messy.in_flight, tidy.in_flight, messy.requests, tidy.requests,
                 f"{messy.seconds:g}", f"{tidy.seconds:g}"])
print(format_table(["records", "tasks (messy)", "tasks (step 6)", "in flight (messy)", "in flight (step 6)",
                    "requests (messy)", "requests (step 6)", "virtual s (messy)", "virtual s (step 6)"], rows))


# %% [markdown]
# The bounded job takes longer in virtual time as n grows — it is doing n records 16 at a time, which
# is what the API asked for. If that is too slow for the window, the knob is now a number in one
# place (`concurrency`), negotiated with the API's owners, not an accident of the input size.
#
# ## Fix the anti-patterns
#
# The smells of the messy script failed live above, and each step fixed one:
#
# | anti-pattern | symptom | fixed by | shown in |
# |---|---|---|---|
# | a global client | a test needs the network, or patches module globals | step 1, inject the ports | [Smell 1](#Smell-1:-a-test-that-needs-the-network) |
# | a fire-and-forget task | a failure nobody hears about; a `sleep` that hopes | step 2, own the task | [Smell 2](#Smell-2:-a-failure-nobody-hears-about) |
# | an unbounded `gather` | 300 requests and 301 tasks at once | step 3, `async_gather(..., concurrency=16)` | [Smell 3](#Smell-3:-300-requests-in-flight) |
# | `while True` + `except Exception` | a `404` retried forever; bugs counted as failed records | step 4, `RetryPolicy` + `async_retry` | [Smell 4](#Smell-4:-a-404-retried-forever) |
#
# Refactoring has anti-patterns of its own. Two, each failing live, then fixed.
#
# ### Anti-pattern 1: a test that pins the implementation
#
# A tempting "test" of the messy script: patch `asyncio.gather` and assert the job gathered all 300
# records. It passes on the messy script — and fails on step 3, which changed nothing the outside
# world can see:

# %%
def test_gathers_everything(version: tuple[str, str]) -> None:
    with patch("asyncio.gather", wraps=asyncio.gather) as gather:
        observe_night(version, CALM)
    calls = [len(c.args) for c in gather.call_args_list]
    assert len(CALM.ids) in calls, f"asyncio.gather was called with {calls} awaitables"

test_gathers_everything(STEPS["0 messy"])
print("passes on the messy script")

# %% tags=["raises-exception"]
test_gathers_everything(STEPS["3 bounded"])

# %% [markdown]
# A test that fails when behaviour is *kept* is worse than no test: it trains the team to update tests
# until they pass. The fix is the behavioural test you have: it asserts what the API and the
# warehouse saw, and passes on every step. Assert on *how* only where *how* is the requirement —
# as `test_bounded` does for the number in flight, which the API's owners asked for.
#
# ### Anti-pattern 2: a refactoring that swaps `gather` for a fail-fast one
#
# A reviewer's suggestion at step 5: "`async_settle` looks redundant — drop it". Without it,
# `sync_one` returns the raw `Err` of a missing record, and `async_gather` does what its docs say:
# the **first `Err` cancels every plan still running** and is the result. The calm night cannot see
# it — the behavioural test passes — but the night with two deleted records can:

# %%
NO_SETTLE = (edit(CORE, ("return async_settle(async_bind(fetch(record_id, http), lambda record: save(record, store)))",
                         "return async_bind(fetch(record_id, http), lambda record: save(record, store))"),
                  ("lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)]", "lambda results: []")), "")
behavioural_test(NO_SETTLE)
print("the behavioural test passes on the calm night")
seen = observe_night(NO_SETTLE, GONE_NIGHT)
print(f"on the night with 2 deleted records: {len(seen.saved)} of {len(GONE_NIGHT.ids)} saved by t={seen.seconds:g};",
      f"reported: {seen.reported}")

# %% tags=["raises-exception"]
test_gives_up_on_404(NO_SETTLE)

# %% [markdown]
# One deleted record cancelled the rest of the night. This is why each smell test stays in the suite
# after its step: the behavioural test pins the calm night; the pins pin the nights that matter.
# The fix is the step as written — settle each record, or use `account_for`, which settles for you:

# %%
test_gives_up_on_404(STEPS["5 descriptions"])
test_gives_up_on_404(STEPS["6 ledger"])
print("with the settle (step 5) and with the ledger (step 6): both deleted records reported, the other 298 saved")

# %% [markdown]
# ## Review an async pull request with this checklist
#
# Six questions a reviewer can ask of any async change, in the order this lesson answered them for
# the nightly job. Each points at the lesson that teaches the answer.
#
# | # | ask | a good answer looks like | red flags | lesson |
# |---|---|---|---|---|
# | 1 | **Where is work described, and where is it driven?** | the core returns `AsyncPlan`s; one shell drives (`perform_async`, `asyncio.run`); `scan_source(core) == []` | `create_task`, `ensure_future`, `asyncio.gather`, `asyncio.run` in core modules; a task nobody keeps | [01](01_async_await_as_descriptions.ipynb), [02](02_async_generators.ipynb) |
# | 2 | **What bounds the concurrency?** | `async_gather(..., concurrency=n)`, a bounded queue, a rate limiter — a number someone chose | `gather(*[... for x in xs])` over input of any size; an unbounded `Queue()` | [03](03_backpressure.ipynb), [06](06_rate_limiting_and_fairness.ipynb), [08](08_async_service_integrations.ipynb) |
# | 3 | **What is retried, and what stops it?** | a `RetryPolicy` value: codes retried, attempts, capped backoff with jitter, attempt timeout, deadline; idempotent or keyed writes; cancellation never retried | `while True`, `except Exception`/`BaseException` around a call, retrying a `404` or a non-idempotent write | [04](04_retry_and_timeout_policies.ipynb) |
# | 4 | **Where does time come from?** | the loop's clock (`asyncio.sleep`, `loop.time()`), so tests run on virtual time; randomness injected and seeded | `time.sleep` or `time.time()` in async code; `sleep(n)` to "let things finish"; the global `random` | [05](05_deterministic_async_testing.ipynb) |
# | 5 | **What happens to a failure?** | every input ends in an outcome — saved, or failed at a named step with its `ErrInfo`; defects crash loudly | swallowed exceptions, `failed.append(x)` without why, a fail-fast gather where every item must run | [07](07_async_adapters.ipynb), [08](08_async_service_integrations.ipynb) |
# | 6 | **What closes the resources?** | `async with` for clients, pools, connections and generators, opened and closed in the shell | a module-level client never closed; a generator abandoned mid-stream | [02](02_async_generators.ipynb), [07](07_async_adapters.ipynb) |
#
# And one question for the pull request itself: **which test shows behaviour was kept?** A
# behavioural test that passes before and after, plus one named test for each behaviour that
# changed on purpose.
#
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("Before the first refactoring step, you should…",
             ("rewrite the module cleanly", "pin what the outside world sees with a behavioural test",
              "add mocks for asyncio.gather"),
             1, "A characterization test records today's behaviour, so every later step has evidence."),
    Question("Why inject the client first?",
             ("it is faster", "every later step needs a test that runs against fakes, without patching globals",
              "asyncio requires it"),
             1, "Once the ports are arguments, the test can hand in scripted fakes on virtual time."),
    Question("`asyncio.create_task(store.save(...))` with the task never kept. What happens to an `Err` it returns?",
             ("it is raised in the caller", "it goes nowhere: the job reports success", "asyncio retries the save"),
             1, "Nobody awaits the task, so nobody looks at its result; step 2 awaits the save."),
    Question("Replacing `asyncio.gather(*coros)` with `async_gather(plans, concurrency=16)` changes…",
             ("which records are saved", "how many run at once, and how many tasks exist", "the number of requests"),
             1, "The same work, at most 16 at a time, with 16 workers instead of a task per record."),
    Question("A `while True: try … except Exception: sleep(1)` loop meets a `404`. It…",
             ("retries forever", "gives up after 3 tries", "raises HTTPError"),
             0, "It cannot tell what may succeed; a RetryPolicy with retry_on retries only the listed codes."),
    Question("Step 5 leaves `scan_source(core)` empty. What does that prove?",
             ("the code is correct", "the core starts no work itself: every drive is in the shell",
              "there are no bugs in the retries"),
             1, "It is a boundary check, not a correctness check — the behavioural test does the rest."),
    Question("Dropping `async_settle` from `async_gather([...])` over records means…",
             ("nothing changes", "the first failed record cancels the rest of the batch", "failures are retried"),
             1, "async_gather fails fast: the first Err cancels the others and is the result."),
    Question("A test patches `asyncio.gather` and asserts it saw 300 coroutines. After step 3 it fails. The right move:",
             ("revert step 3", "delete that test: it pins implementation; keep the behavioural test",
              "patch async_gather instead"),
             1, "A test that fails when behaviour is kept tests the code's shape, not what it does."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 11 · Refactoring Guide](../exercises/11_refactoring_guide.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does
# (see [the exercises README](../exercises/README.md)):
#
# 1. **Refactor a messy sync into a description** — `sync_records(ids, http, store, concurrency)`: the
#    plan that does what a global-client, unbounded-`gather` function did, with the port injected,
#    at most `concurrency` records in flight, and every failure reported.
# 2. **Replace an ad-hoc retry loop with a policy** — `RETRY` and `fetch_record(http, record_id)`:
#    the same calls at the same virtual instants as a hand-written loop, on generated fault scripts.
# 3. **Write the behavioural test** — `assert_sync_behaviour(sync_all, night)`: a test helper that
#    passes correct versions and fails broken ones (a lost failure, an unbounded fan-out, a fail-fast
#    batch, a retried `404`, a job that runs while it is being built).
#
# ## On your own
#
# - Add a step 7: a `TokenBucket` rate limit (lesson 06) in front of the API, 20 requests per second.
#   Which column of the table changes, and which test would you add to pin it?
# - Step 4 retries by code. Make the `429` honour a `Retry-After` the API sends (lesson 04's caveat):
#   where does that belong — the policy, the adapter, or the shell?
# - Apply the checklist to an async module from your own work. Which question is hardest to answer
#   from the code alone? That one is worth a test.
# - Run `every_step_preserves_behaviour` on nights with `missing` records. Which steps disagree with
#   the messy script, and why is that the point?
#
# ## Further reading
#
# - Michael Feathers, *Working Effectively with Legacy Code* (Prentice Hall, 2004): characterization
#   tests and seams — the method this lesson follows.
# - Martin Fowler, [Refactoring](https://refactoring.com/) and its catalogue: small behaviour-preserving
#   steps, each with a name.
# - Python docs, [`asyncio.create_task`](https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task):
#   *"Save a reference to the result of this function, to avoid a task disappearing mid-execution."*
# - Nathaniel J. Smith, [Notes on structured concurrency, or: Go statement considered harmful](https://vorpus.org/blog/notes-on-structured-concurrency-or-go-statement-considered-harmful/):
#   why a task nobody owns is a bug waiting to happen.
# - Amazon Builders' Library, [Timeouts, retries, and backoff with jitter](https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/):
#   which errors to retry, and what bounds a retry.
#
# ## Continue with
#
# **[12 · Capstone: async RAG pipeline](12_capstone_async_rag_pipeline.ipynb)**: documents → clean and
# chunk → bounded parallel embedding through a capability → dedup, end to end — built from the start to
# pass this lesson's checklist. You now refactor async code the way it should be reviewed: pin the
# behaviour, change one thing, run the test; every concurrent thing bounded, every retry a policy,
# every failure accounted for, and all of it driven from one thin shell.

# %% [markdown]
# ---
# [← 10 Async Pipeline Laws](10_async_pipeline_laws.ipynb) · [Contents](00_module_overview.ipynb) · [12 Capstone: async RAG pipeline →](12_capstone_async_rag_pipeline.ipynb)
