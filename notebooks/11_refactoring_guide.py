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
# A nightly job copies 300 customer records from an HTTP API into a warehouse, written the way busy
# engineers write async code: `httpx` used directly, `raise_for_status`, no timeout, `time.sleep`
# in a retry loop, a semaphore that bounds nothing, a save in a task nobody keeps. You run it,
# watch each problem show, and refactor it in three steps, one behavioural test passing after each.
#
# **What you'll do**
# - Run the script against a fake CRM (`httpx.MockTransport`) on virtual time; watch its problems.
# - Bound it with `asyncio.TaskGroup` + `Semaphore`, prove that equal to `async_gather`, finish with a policy.
#
# **What you'll learn**
# - The order of safe steps, how a test pins each, and a review checklist for async code.
#
# **What you'll need**
# - Lessons [04](04_retry_and_timeout_policies.ipynb), [05](05_deterministic_async_testing.ipynb),
#   [07](07_async_adapters.ipynb) and [08](08_async_service_integrations.ipynb); no new API.
# - About 50 minutes. More properties, cancellation and a refactoring anti-pattern are in the
#   appendix [further/11](further/11_refactoring_guide.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart LR
#   messy["the script"] --> s1["1 own the task"] --> s2["2 bound the fan-out"] --> s3["3 retry by policy,<br/>describe the core"]
#   test(["one behavioural test"]) -.-> messy & s1 & s2 & s3
# ```
#
# The last step before the capstone. (The working rhythm is in
# [lesson 01](01_async_await_as_descriptions.ipynb#Place-this-lesson).)
#
# **Core question.** How do you make async code explicit about concurrency, retries, time and
# failures without breaking what it does?
#
# **Why it matters.** When a big-bang rewrite changes the numbers, nobody knows which change did
# it. Small steps checked against *observable behaviour* tell you.

# %% [markdown]
# ## Set up

# %%
import asyncio
import difflib
import inspect
import json
import math
import random
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import matplotlib
from hypothesis import given, settings, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    HANG, AsyncPlan, Err, ErrInfo, ExponentialBackoff, FakeStorage, HttpClientCap, HttpxJsonClient, Ledger,
    Ok, RetryPolicy, ScriptedHttp, Simulation, SimulationLimitError, StorageCap, account_for,
    lesson_answer_key, api_summary, async_gather, async_lift, async_map, async_retry, course_rc,
    format_table, perform_async, lesson_quiz, scan_source, setup, show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | kind | statement | enforcement (live) |
# |---|---|---|
# | invariant | behaviour preserved: same records, same requests, nothing reported on a calm night, in the window | `behavioural_test` at every step; [Hypothesis](#Prove-behaviour-is-preserved-with-Hypothesis) |
# | from step 1 | a refused save is reported | pin `failures` |
# | from step 2 | ≤ 16 requests in flight; plain and package forms agree | pin `bounded`; [the equivalence check](#Step-2:-bound-the-fan-out) |
# | from step 3 | a `404` asked for once; a hang times out; the loop never freezes | pins `404`, `hang`, `frozen` |
# | from step 3 | no driving in the core; every input accounted for | [Step 3](#Step-3:-retry-by-policy,-describe-the-core) |
#
# ## Decide what to refactor, and how to pin it
#
# | smell in review | refactoring | pin |
# |---|---|---|
# | `create_task(...)` nobody keeps | await it, or make it part of the plan | a failure inside it is reported |
# | `Semaphore(n)` created inside the function it guards | one shared semaphore, or `async_gather(plans, concurrency=n)` | in flight ≤ n |
# | `time.sleep` and `except httpx.HTTPError` in a retry loop; `timeout=None` | the adapter + a `RetryPolicy` | `404` once; hang times out; loop never frozen |
# | `except Exception: failed.append(x)` | `account_for` + `Ledger` | one outcome per input |

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([async_gather, async_retry, RetryPolicy, account_for, Ledger.problems, scan_source]))

# %% [markdown]
# ## Read the script
#
# Kept as **source text**, so the notebook can `exec` each version, run it and scan it.
#
# **Predict, then read on.** The CRM allows 16 requests at a time: how many will this script have
# in flight? What does the whole job do while one task is in `time.sleep(1)`? How often is a
# deleted record (`404`) requested? What if a request never gets an answer?

# %%
SCRIPT = """\
# nightly_sync.py: copy customer records from the CRM into the warehouse, every night
import asyncio
import time

import httpx

async def fetch(client, record_id):
    for attempt in range(5):
        try:
            response = await client.get(f"/records/{record_id}")
            response.raise_for_status()
            return response.json()
        except httpx.HTTPError:
            time.sleep(1)                                    # back off, then try again
    raise RuntimeError(f"gave up on {record_id}")

def store_later(store, record):
    asyncio.create_task(store.save(record["id"], record))    # don't wait for the slow warehouse

async def sync_one(client, store, record_id, failed):
    try:
        store_later(store, await fetch(client, record_id))
    except Exception:
        failed.append(record_id)

async def limited(work):
    async with asyncio.Semaphore(16):                        # the CRM allows 16 requests at a time
        return await work

async def sync_all(ids, client, store):
    failed = []
    await asyncio.gather(*[limited(sync_one(client, store, i, failed)) for i in ids])
    await asyncio.sleep(5)                                   # give the background saves time to land
    return failed

async def main():
    async with httpx.AsyncClient(base_url="https://crm.example.com", timeout=None) as client:  # the CRM is slow at night
        print(await sync_all(load_ids(), client, Warehouse("postgres://warehouse/prod")))
"""

# %% [markdown]
# ## Build a world to run it in
#
# A night is data: how many `503`s each record answers first (from a seed), and which records are
# deleted (`404`), refused by the warehouse (`NaN`) or never answered. The CRM is the package's
# `ScriptedHttp` (lesson 08), 0.2 s an answer, behind an `httpx.MockTransport`: real `httpx`, no network.

# %%
@dataclass(frozen=True)
class Night:
    flaky: dict[str, int]                                  # id -> how many 503s before it answers
    missing: frozenset = frozenset()                       # 404, every time
    broken: frozenset = frozenset()                        # NaN balance: the warehouse refuses it
    hanging: frozenset = frozenset()                       # never answered

def make_night(n: int = 300, seed: int = 11, *, missing=(), broken=(), hanging=()) -> Night:
    rng, pick = random.Random(seed), lambda numbers: frozenset(f"r{k:03d}" for k in numbers)
    flaky = {f"r{k:03d}": rng.choices([0, 1, 2], weights=[75, 20, 5])[0] for k in range(1, n + 1)}
    return Night(flaky, pick(missing), pick(broken), pick(hanging))

def record_of(night: Night, i: str) -> dict:
    return {"id": i, "balance": math.nan if i in night.broken else int(i[1:]) * 10}

def crm(night: Night) -> ScriptedHttp:
    special = {**{i: [ErrInfo("HTTP_404", "no such record")] for i in night.missing}, **{i: [HANG] for i in night.hanging}}
    unavailable = ErrInfo("HTTP_503", "service unavailable", retryable=True)
    return ScriptedHttp({i: special.get(i, [unavailable] * k + [record_of(night, i)]) for i, k in night.flaky.items()}, latency=0.2)


# %% [markdown]
# `observe_night` runs one version against one night and returns what the world saw. A
# **heartbeat** task ticks every 0.1 s: the longest gap between ticks is how long the loop was
# frozen. The version's `time.sleep` is replaced by what it does to the loop: the clock moves on,
# nothing else runs.

# %%
@dataclass(frozen=True)
class Seen:
    saved: dict
    reported: list
    requests: int
    in_flight: int
    tasks: int
    frozen: float
    seconds: float
    samples: list
    outcome: object

PRELUDE = ("Err", "Ok", "AsyncPlan", "HttpClientCap", "StorageCap", "RetryPolicy", "ExponentialBackoff", "Ledger",
           "async_gather", "async_lift", "async_map", "async_retry", "account_for")


# %%
def observe_night(version: str, night: Night, *, limit: float = 600, **options) -> Seen:
    namespace, api, store, sim = {name: globals()[name] for name in PRELUDE}, crm(night), FakeStorage(), Simulation(limit=limit)
    exec(compile(version, "nightly_sync.py", "exec"), namespace)                 # a fresh module per run
    namespace["time"] = SimpleNamespace(sleep=lambda seconds: sim.clock.advance_to(sim.now + seconds))
    sync_all = namespace["sync_all"]
    ticks, tasks, parameters = [], [0], inspect.signature(sync_all).parameters
    async def heartbeat():
        while True:
            ticks.append(sim.now)
            tasks[0] = max(tasks[0], len(asyncio.all_tasks()) - 1)           # not counting the heartbeat
            await asyncio.sleep(0.1)
    async def job():
        beating = asyncio.create_task(heartbeat())
        if "rng" in parameters:
            options["rng"] = sim.rng
        client = httpx.AsyncClient if "client" in parameters else HttpxJsonClient
        async with client(base_url="https://crm.example.com", transport=api.transport()) as client:
            work = sync_all(list(night.flaky), client, store, **options)
            outcome = await (work if inspect.iscoroutine(work) else perform_async(work))
        beating.cancel()
        return outcome
    outcome = sim.run(job())
    failed = sorted(o.item for o in outcome.value.failed) if isinstance(outcome, Ok) else sorted(outcome)
    frozen = max(b - a for a, b in zip(ticks, ticks[1:]))
    return Seen(store.records, failed, api.requests, api.peak, tasks[0], frozen, sim.now, api.samples, outcome)


# %% [markdown]
# ## Pin the behaviour with one test
#
# Before changing a line, write down what the script does *as the outside world sees it*, a
# **characterization test**: every record saved, nothing reported failed, one request per record
# plus one per `503`, inside a ten-minute window. Nothing about *how*.

# %%
WINDOW = 600.0                                           # virtual seconds the job may take

def expected_requests(night: Night) -> int:
    return sum(1 if i in night.missing else k + 1 for i, k in night.flaky.items())

def behavioural_test(version: str, night: Night = make_night()) -> Seen:
    seen = observe_night(version, night)
    assert seen.saved == {i: record_of(night, i) for i in night.flaky}, f"{len(seen.saved)} records saved"
    assert seen.reported == [], f"reported failed on a calm night: {seen.reported[:5]}"
    assert seen.requests == expected_requests(night), f"{seen.requests} requests"
    assert seen.seconds <= WINDOW, f"took {seen.seconds:g} virtual s, the window is {WINDOW:g}"
    return seen


# %% [markdown]
# **Predict, then run.** Does the script pass? Check your predictions: requests in flight, and the
# longest the loop was frozen.

# %%
STEPS = {"0 script": SCRIPT}
baseline = behavioural_test(SCRIPT)
print(f"passes: {len(baseline.saved)} saved, reported {baseline.reported}, {baseline.requests} requests, "
      f"{baseline.in_flight} in flight at most, {baseline.tasks} tasks alive, loop frozen up to "
      f"{baseline.frozen:g} s, done at t={baseline.seconds:g} s")

# %% [markdown]
# It passes, which is why it is in production. But: 300 requests in flight behind a "limit" of 16
# (`limited` makes a fresh `Semaphore(16)` per call, each bounding one coroutine), and the loop
# frozen for 77.1 s straight. `time.sleep` blocks the *thread*: no task, timer or heartbeat runs,
# and when many `503`s land in the same instant, their sleeps run one after another.
#
# ## Watch the problems show
#
# Each problem gets a test of its own, a **pin**, on a 60-record night that makes it show.

# %%
def pin_failures(version):                    # the warehouse refuses records 7 and 42
    night = make_night(60, broken=(7, 42))
    seen = observe_night(version, night)
    assert seen.reported == sorted(night.broken), f"{len(seen.saved)} saved, reported {seen.reported}"

def pin_bounded(version):
    seen = observe_night(version, make_night(60))
    assert seen.in_flight <= 16, f"{seen.in_flight} requests in flight at once; the CRM allows 16"

def pin_404(version):                         # record 5 was deleted
    night = make_night(60, missing=(5,))
    seen = observe_night(version, night)
    assert seen.requests == expected_requests(night), f"{seen.requests} requests, {expected_requests(night)} expected"

def pin_hang(version):                        # the request for record 9 is never answered
    seen = observe_night(version, make_night(60, hanging=(9,)))
    assert seen.reported == ["r009"], f"reported {seen.reported}"

def pin_frozen(version):
    seen = observe_night(version, make_night(60))
    assert seen.frozen <= 0.11, f"the event loop was frozen for {seen.frozen:g} s"

PINS = {"failures": pin_failures, "bounded": pin_bounded, "404": pin_404, "hang": pin_hang, "frozen": pin_frozen}

# %% [markdown]
# **Predict, then run.** The warehouse refuses two records. What does the script report?

# %% tags=["raises-exception"]
pin_failures(SCRIPT)

# %% [markdown]
# Nothing: the two saves returned `Err(INVALID_RECORD)` inside tasks nobody awaits. A deleted record:

# %% tags=["raises-exception"]
pin_404(SCRIPT)

# %% [markdown]
# `raise_for_status` turns the `404` into an `httpx.HTTPError`, retried like a `503`: five requests
# for a record that will never come back, each followed by a frozen second. And a request that is
# never answered, with `timeout=None`:

# %% tags=["raises-exception"]
pin_hang(SCRIPT)

# %% [markdown]
# The job never ends; the simulation stops it at its limit, naming what still waits. (A fake
# transport enforces no httpx timeout: the code itself must bound every attempt.)
#
# ## Refactor in three steps
#
# Each step is an edit as `(old, new)` pairs; `review` prints the diff and re-runs the test and every pin.

# %%
def edit(source: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert source.count(old) == 1, f"expected exactly one {old!r}"
        source = source.replace(old, new)
    return source

def passes(pin, version) -> bool:
    try:
        pin(version)
        return True
    except (AssertionError, SimulationLimitError):
        return False

RESULTS = {}                                             # step -> (what the test saw, {pin: passed})

def review(name: str, before: str) -> None:
    diff = difflib.unified_diff(STEPS[before].splitlines(), STEPS[name].splitlines(), lineterm="", n=0)
    print("\n".join(line for line in diff if not line.startswith(("---", "+++"))))
    seen = behavioural_test(STEPS[name])
    RESULTS[name] = seen, {pin: passes(test, STEPS[name]) for pin, test in PINS.items()}
    pins = ", ".join(f"{pin} {'✓' if ok else '✗'}" for pin, ok in RESULTS[name][1].items())
    print(f"\nbehavioural test ✓ ({seen.requests} requests, {seen.in_flight} in flight, {seen.seconds:g} s) | {pins}")


# %% [markdown]
# ### Step 1: own the task
#
# **Change:** the save is awaited and a refused save raises into `failed`; `store_later` and the
# hopeful `sleep(5)` go. **Behaviour changes on purpose**: a refused save is reported, not lost.
#
# **Predict, then run.** Which pins turn ✓?

# %%
STEPS["1 own the task"] = edit(SCRIPT,
    ('def store_later(store, record):\n    asyncio.create_task(store.save(record["id"], record))    # don\'t wait for the slow warehouse\n',
     'async def save(store, record):\n    saved = await store.save(record["id"], record)\n'
     '    if isinstance(saved, Err):\n        raise IOError(saved.error.code)\n'),
    ("store_later(store, await fetch(client, record_id))", "await save(store, await fetch(client, record_id))"),
    ("    await asyncio.sleep(5)                                   # give the background saves time to land\n", ""))
review("1 own the task", "0 script")

# %% [markdown]
# ### Step 2: bound the fan-out
#
# **Change:** one semaphore, created once and shared by every record; `limited` goes. An
# `asyncio.TaskGroup` starts a task per record and waits for all (cancelling the rest if one raised).

# %%
STEPS["2 TaskGroup"] = edit(STEPS["1 own the task"],
    ("async def limited(work):\n    async with asyncio.Semaphore(16):                        # the CRM allows 16 requests at a time\n"
     "        return await work\n\n", ""),
    ("async def sync_all(ids, client, store):\n    failed = []\n"
     "    await asyncio.gather(*[limited(sync_one(client, store, i, failed)) for i in ids])\n",
     "async def sync_all(ids, client, store, concurrency=16):\n    failed = []\n"
     "    gate = asyncio.Semaphore(concurrency)                    # one gate, shared by every record\n"
     "    async def one(record_id):\n        async with gate:\n            await sync_one(client, store, record_id, failed)\n"
     "    async with asyncio.TaskGroup() as group:\n        for record_id in ids:\n            group.create_task(one(record_id))\n"))
review("2 TaskGroup", "1 own the task")

# %% [markdown]
# The package's form: `async_gather(plans, concurrency=16)`, 16 workers over the same per-record
# work (each plan returns `Ok`, so every record runs).
#
# **Predict, then run.** Against the `TaskGroup` form: the same records? The same requests in
# flight at every instant? The same number of tasks alive?

# %%
STEPS["2 async_gather"] = edit(STEPS["2 TaskGroup"],
    ("    gate = asyncio.Semaphore(concurrency)                    # one gate, shared by every record\n"
     "    async def one(record_id):\n        async with gate:\n            await sync_one(client, store, record_id, failed)\n"
     "    async with asyncio.TaskGroup() as group:\n        for record_id in ids:\n            group.create_task(one(record_id))\n",
     "    async def one(record_id):\n        await sync_one(client, store, record_id, failed)\n        return Ok(record_id)\n"
     "    await async_gather([async_lift(lambda i=i: one(i)) for i in ids], concurrency=concurrency)()\n"))
review("2 async_gather", "2 TaskGroup")

# %%
rows = []
for night in (make_night(60, broken=(7,)), make_night()):
    for concurrency in (1, 5, 16):
        plain, package = (observe_night(STEPS[step], night, concurrency=concurrency) for step in ("2 TaskGroup", "2 async_gather"))
        assert (plain.saved, plain.reported, plain.samples) == (package.saved, package.reported, package.samples)
        assert plain.in_flight == package.in_flight == concurrency
        rows.append([len(night.flaky), concurrency, plain.in_flight, f"{plain.seconds:g}", plain.tasks, package.tasks])
print(format_table(["records", "concurrency", "in flight (both)", "virtual s (both)", "tasks (TaskGroup)", "tasks (async_gather)"], rows))

# %% [markdown]
# The same job, observed: the same records, reports, and requests in flight at every instant
# (`samples`). They differ in tasks: `TaskGroup` + `Semaphore` makes one per record up front,
# `async_gather` keeps `concurrency` workers. The description adds that bound and a value to test
# before it runs; it costs a wrapper per record. (`scan_source` counts 0 driving calls for it,
# yet `async_gather(...)()` drives: the check is a floor, not a proof.)
#
# ### Step 3: retry by policy, describe the core
#
# **Change:** the core takes lesson 07's `HttpxJsonClient` port (errors come back as classified
# values) and the loop becomes a `RetryPolicy`. Held to the [checklist](#Review-an-async-pull-request-with-this-checklist),
# it retries exactly what the adapter marks retryable (`retry_on=None`; lesson 07's table: `429`,
# `503`, timeouts and more, never a `404`), 4 attempts, backoff 1, 2, 4 s with **full jitter** (an
# injected `rng`), 5 s per attempt. Every function returns a plan; `account_for` (lesson 08) keeps a `Ledger`.
# **Behaviour changes on purpose**: the pins turn ✓ and the report says where and why.

# %%
CORE = """\
# nightly_sync.py: the core, descriptions only
FETCH_POLICY = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(initial=1, factor=2, cap=8),
                           jitter="full", attempt_timeout=5)   # retry_on=None: what the adapter marks retryable

def fetch(http: HttpClientCap, record_id: str, rng) -> AsyncPlan[dict]:
    return async_retry(async_lift(lambda: http.get_json(f"/records/{record_id}")), FETCH_POLICY, rng=rng, name=record_id)

def save(store: StorageCap, record: dict) -> AsyncPlan[str]:
    return async_map(async_lift(lambda: store.save(record["id"], record)), lambda _: record["id"])

def sync_all(ids, http: HttpClientCap, store: StorageCap, concurrency: int = 16, *, rng) -> AsyncPlan[Ledger]:
    steps = [("fetch", lambda i: fetch(http, i, rng)), ("save", lambda record: save(store, record))]
    return account_for(ids, steps, concurrency=concurrency)
"""
SHELL = """\
async def main():                                                       # the shell: drives, opens, closes
    async with HttpxJsonClient("https://crm.example.com") as http:     # a 5 s timeout, a bounded pool
        ledger = await perform_async(sync_all(load_ids(), http, Warehouse("postgres://warehouse/prod"), rng=random.Random()))
    print(ledger.table())

asyncio.run(main())
"""
STEPS["3 policy, described"] = CORE
review("3 policy, described", "2 async_gather")

# %% [markdown]
# **Predict, then run.** On a night with every kind of fault (2 deleted, 3 refused, 1 never
# answered), how many outcomes does the ledger hold, and where does the unanswered record fail?

# %%
print("driving calls, core:", scan_source(CORE, "nightly_sync.py"), "| shell:", [str(v) for v in scan_source(SHELL, "main.py")])
STORMY = make_night(missing=(5, 123), broken=(7, 42, 250), hanging=(9,))
ledger = observe_night(CORE, STORMY).outcome.value
assert ledger.problems(list(STORMY.flaky)) == []
print(ledger.table())

# %% [markdown]
# ## Compare every step
#
# Each row is one version on the calm night: each pin turns ✓ at its step and stays.

# %%
RESULTS["0 script"] = baseline, {pin: passes(test, SCRIPT) for pin, test in PINS.items()}
rows = []
for name, version in STEPS.items():
    seen, passed = RESULTS[name]
    rows.append([name, "✓", *["✓" if passed[pin] else "✗" for pin in PINS], seen.in_flight, seen.tasks,
                 seen.requests, len(scan_source(version)), f"{seen.frozen:g}", f"{seen.seconds:g}"])
print(format_table(["step", "behaviour", *PINS, "in flight", "tasks", "requests", "driving calls", "frozen s", "virtual s"], rows))

# %% [markdown]
# ### Draw what the API saw
#
# **Predict, then run.** The final version allows 16 requests in flight. Will it average 16?

# %%
def plot_in_flight(runs: dict[str, Seen]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(10, 3.8), layout="constrained")
        ax = fig.add_subplot()
        for (label, seen), style, marker in zip(runs.items(), ("-", "--"), ("o", "s")):
            ax.step(*zip(*seen.samples), where="post", linestyle=style, label=f"{label}: peak {seen.in_flight}")
            ax.plot([seen.seconds], [0], marker=marker, markersize=9, linestyle="none", label=f"{label}: job ends")
        ax.axhline(16, color="0.4", linestyle=":", label="the CRM's limit (16)")
        ax.set(xlabel="virtual time (virtual seconds)", ylabel="requests in flight (symmetric log scale)")
        ax.set_yscale("symlog", linthresh=20)
        ax.set_ylim(0, 400)
        ax.legend(loc="upper right", fontsize=9)
    return fig

def mean_in_flight(seen: Seen) -> float:
    return sum((t_next - t) * d for (t, d), (t_next, _) in zip(seen.samples, seen.samples[1:])) / seen.seconds


# %%
runs = {"0 script": baseline, "3 policy, described": RESULTS["3 policy, described"][0]}
summary = "; ".join(f"{label}: peak {s.in_flight}, mean {mean_in_flight(s):.1f} in flight, ends at t={s.seconds:g}"
                    for label, s in runs.items())
show_figure(plot_in_flight(runs), alt="Requests in flight over virtual time on the calm night. " + summary)
print(summary.replace("; ", "\n"))

# %% [markdown]
# The script's wall of 300 requests at t = 0 drains only as fast as the frozen loop reads answers.
# The final version never crosses the dotted limit, yet its mean is 7.7: a worker whose
# record got a `503` keeps its slot while it waits out its backoff. A bound is a ceiling, not a rate.
#
# ## Prove behaviour is preserved with Hypothesis
#
# Hypothesis draws many nights (sizes, seeds) and checks every version against the script.

# %%
@settings(max_examples=10)
@given(night=st.builds(make_night, n=st.integers(1, 30), seed=st.integers(0, 10_000)))
def every_step_preserves_behaviour(night: Night) -> None:
    first = observe_night(SCRIPT, night)
    for version in STEPS.values():
        seen = observe_night(version, night)
        assert (seen.saved, seen.reported, seen.requests) == (first.saved, first.reported, first.requests)

every_step_preserves_behaviour()
print(f"all {len(STEPS)} versions agree with the script on every generated night (max_examples=10)")

# %% [markdown]
# ## Measure the cost before and after
#
# | cost | the script | step 3 |
# |---|---|---|
# | tasks alive at once | O(n) | O(c): `c` workers and the job |
# | requests in flight at once | n | ≤ c |
# | requests in all | Σ (faults + 1), a `404` five times | Σ min(faults + 1, 4), a `404` once |
# | loop frozen | the `time.sleep`s that land together | never |
#
# Measured above: tasks grow with n for `TaskGroup` (61 for 60 records, 301 for 300) and stay at
# 17 for `async_gather` ([step 2](#Step-2:-bound-the-fan-out)); the rest in [the comparison](#Compare-every-step).
#
# ## Fix the anti-patterns
#
#
# | anti-pattern | symptom | fixed by |
# |---|---|---|
# | a fire-and-forget task | a failure nobody hears about; a `sleep` that hopes | step 1 |
# | a `Semaphore` created per call | 300 requests in flight behind a "limit" of 16 | step 2 |
# | `time.sleep` in async code | the whole loop frozen, 77.1 s at a time | step 3 |
# | retry every `HTTPError`, `timeout=None` | a `404` asked for 5 times; an unanswered request hangs the job | step 3 |
#
# Refactoring's own anti-pattern, a test that pins the implementation, fails and is fixed in the
# [appendix](further/11_refactoring_guide.ipynb). (`account_for` settles each record on purpose:
# `async_gather` fails fast, [lesson 07](07_async_adapters.ipynb).)
#
# ## Review an async pull request with this checklist
#
# | # | ask | a good answer looks like | red flags | lesson |
# |---|---|---|---|---|
# | # | ask | good answer | red flags | lesson |
# |---|---|---|---|---|
# | 1 | **Where is work described, where driven?** | plans in the core; one shell drives | `create_task`, `gather`, `asyncio.run` in the core | [01](01_async_await_as_descriptions.ipynb) |
# | 2 | **What bounds the concurrency?** | one shared semaphore; `async_gather(..., concurrency=n)` | `gather(*[...])` over any input; a `Semaphore` made per call | [08](08_async_service_integrations.ipynb) |
# | 3 | **What is retried, what stops it?** | a `RetryPolicy`: the adapter's retryable errors, capped backoff **with jitter**, attempt timeout | `except httpx.HTTPError` around a call; `timeout=None` | [04](04_retry_and_timeout_policies.ipynb) |
# | 4 | **Where does time come from?** | the loop's clock; randomness injected | `time.sleep` in async code; `sleep(n)` to "let things finish" | [05](05_deterministic_async_testing.ipynb) |
# | 5 | **What happens to a failure?** | an outcome per input, with step and `ErrInfo` | `except Exception: failed.append(x)` | [08](08_async_service_integrations.ipynb) |
# | 6 | **What closes the resources?** | `async with`, in the shell | a client never closed | [07](07_async_adapters.ipynb) |
#
# And for the pull request itself: **which test shows behaviour was kept?**

# %% [markdown]
# ## Test yourself
#
# Answer in the widget, or read the answer key below it (no kernel needed).

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("11")

# %%
lesson_answer_key("11")

# %% [markdown]
# ## Exercise
#
# **[Exercise 11 · Refactoring Guide](../exercises/11_refactoring_guide.ipynb)** (10 points, with a
# **Check your work** cell):
#
# 1. **Refactor a messy sync into a description**: `sync_records(ids, http, store, concurrency)`.
# 2. **Replace an ad-hoc retry loop with a policy**: `RETRY` and `fetch_record(http, record_id)`.
# 3. **Write the behavioural test**: `assert_sync_behaviour(sync_all, night)`.
#
# ## On your own
#
# - Rewrite step 2's plain form with an `asyncio.Queue(maxsize=16)` and 16 worker tasks. Same `samples`?
# - Apply the checklist to an async module of your own. Which question does the code not answer?
#
# ## Further reading
#
# - Michael Feathers, *Working Effectively with Legacy Code* (Prentice Hall, 2004): characterization tests.
# - Python docs, [Developing with asyncio](https://docs.python.org/3/library/asyncio-dev.html): debug
#   mode's "slow callback" warning, which catches a blocking call like `time.sleep`.
# - Amazon Builders' Library, [Timeouts, retries, and backoff with jitter](https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
#
# ## Continue with
#
# **[12 · Capstone: async RAG pipeline](12_capstone_async_rag_pipeline.ipynb)**: a pipeline built from
# the start to pass this checklist.

# %% [markdown]
# ---
# [← 10 Async Pipeline Laws](10_async_pipeline_laws.ipynb) · [Contents](00_module_overview.ipynb) · [12 Capstone: async RAG pipeline →](12_capstone_async_rag_pipeline.ipynb)
