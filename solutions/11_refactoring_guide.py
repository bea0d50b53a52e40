# ---
# jupyter:
#   funcpipe_async:
#     exercise: 11_refactoring_guide
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 11 Refactoring Guide](../notebooks/11_refactoring_guide.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 11 · Refactoring Guide
#
# Three graded tasks on the lesson's method: refactor a messy async function into a
# **description** that takes its ports and a **bound**; replace an ad-hoc retry loop with a
# **policy** that makes exactly the same calls; and write the **behavioural test** that tells a
# correct version from broken ones by what the outside world sees. Everything runs on **virtual
# time**. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. Besides the
# package's API it imports the exercise's small world — the lesson's nightly job, scaled down:
#
# - `Night(ids, latency={...}, refused={id: ErrInfo}, broken=frozenset(...))` — which records the API
#   has, how long each answer takes, which ids the API refuses (`404`, `503`) and which records the
#   warehouse refuses (a `NaN` balance). `night.expected_saved()` and `night.expected_failed()` say
#   what a correct job leaves behind.
# - `RecordsApi(night)` — that night's API, an `HttpClientCap`: `await api.get_json("/records/r1")`.
#   It counts `requests`, and `peak`, the most requests in flight at once.
# - `ScriptHttp(script, latency)` — an API that answers from one `ScriptedService` script (lesson
#   05); `calls` holds the virtual time of every request.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio

from funcpipe_async import (
    HANG, AsyncPlan, ConstantBackoff, Err, ErrInfo, ExponentialBackoff, FakeStorage, HttpClientCap, Ok, Result,
    RetryPolicy, Simulation, StorageCap, async_bind, async_gather, async_lift, async_map, async_retry, async_settle,
    delay_schedule,
)
from funcpipe_async.grading.checks.ex11_refactoring_guide import Night, RecordsApi, ScriptHttp

NOT_FOUND = ErrInfo("HTTP_404", "no such record")
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)


# %% [markdown]
# ## Task 1 — Refactor a messy sync into a description (4 points)
#
# This function arrived in a pull request. It works, and it has two of the lesson's smells: a
# **global client** (and store), and an **unbounded `gather`** — one request per id, all at once.
#
# ```python
# CLIENT = CrmClient("https://crm.example.com")
# STORE = WarehouseClient("postgres://warehouse/prod")
#
# async def sync_records_messy(ids):
#     async def one(record_id):
#         result = await CLIENT.get_json(f"/records/{record_id}")
#         if isinstance(result, Err):
#             return record_id                     # the API refused it
#         saved = await STORE.save(record_id, result.value)
#         return record_id if isinstance(saved, Err) else None
#     done = await asyncio.gather(*[one(i) for i in ids])
#     return [i for i in done if i is not None]    # the ids that failed, in input order
# ```
#
# Write `sync_records(ids, http, store, concurrency)`, its refactored **description**: a plain `def`
# that returns an `AsyncPlan` and runs nothing until a shell drives it. Keep every behaviour the
# outside world sees, and change only what the lesson's refactoring changes (ports as arguments, a
# bounded fan-out, a description instead of running code):
#
# - the ports are arguments: fetch with `http.get_json(f"/records/{record_id}")`, save the record it
#   returns with `store.save(record_id, record)`;
# - every record is fetched **once** (no retries here) and saved if the API returned it;
# - the plan produces `Ok` of **the ids that failed** — refused by the API *or* by the warehouse —
#   **in input order**, and one record's failure never stops the others;
# - at most `concurrency` records are in flight at once — and up to `concurrency` are: the job ends
#   when a pool of `concurrency` workers working through the ids in order would end.
#
# *How it is checked:* on nights Hypothesis generates (0 to 9 records, latencies from 0.25 to 2 s,
# `404`s, `503`s and refused records) and bounds from 1 to 4, your plan is driven on a
# `Simulation` and compared with the reference: the requests, the warehouse's records, the result,
# the peak in flight and the virtual time the job ends.
#
# <details><summary>Hint 1</summary>
#
# How do you describe *one* record, fetch and then save what came back, as a single plan? Which
# combinator of [lesson 01](../notebooks/01_async_await_as_descriptions.ipynb) chains a plan to one
# that needs its value? And which call of the lesson's step 2 runs many plans with a bound?
# </details>
#
# <details><summary>Hint 2</summary>
#
# What does `async_gather` do with the first `Err` ([lesson 07](../notebooks/07_async_adapters.ipynb))?
# How can one record's `Err` become a *value*, so every record runs, and where do you then turn the
# list of outcomes into the failed ids, in input order?
# </details>
#
# <details><summary>Try it</summary>
#
# Make a three-record night where the API refuses one record and the warehouse another, and drive
# your plan with a bound of 2 on a `Simulation`. Which ids should come back, what should
# `api.peak` be, and which records should the store hold?
# </details>

# %% tags=["task:t1"]
# Task 1 — Refactor a messy sync into a description
def sync_records(ids: list[str], http: HttpClientCap, store: StorageCap, concurrency: int) -> AsyncPlan[list[str]]:
    """A plan: fetch and save every id, at most `concurrency` at a time; it produces the failed ids, in input order."""
    # BEGIN SOLUTION
    def one(record_id: str) -> AsyncPlan[Result[None, ErrInfo]]:
        fetch = async_lift(lambda: http.get_json(f"/records/{record_id}"))
        return async_settle(async_bind(fetch, lambda record: async_lift(lambda: store.save(record_id, record))))

    outcomes = async_gather([one(i) for i in ids], concurrency=concurrency)
    return async_map(outcomes, lambda results: [i for i, r in zip(ids, results) if isinstance(r, Err)])
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a night of six records — one the API does not have, one it is too busy for, one
# the warehouse refuses — synced with a bound of 2. Nothing runs while the plan is built.

# %% tags=["solution-only"]
night = Night(("r1", "r2", "r3", "r4", "r5", "r6"), latency={"r1": 1.0, "r4": 0.25},
              refused={"r2": NOT_FOUND, "r5": UNAVAILABLE}, broken=frozenset({"r3"}))
api, store, sim = RecordsApi(night), FakeStorage(), Simulation()
plan = sync_records(list(night.ids), api, store, 2)
print("requests while building:", api.requests)
print(sim.run(plan), f"| saved {sorted(store.records)} | {api.requests} requests, peak {api.peak} | ended t={sim.now:g}")

# %% [markdown]
# ## Task 2 — Replace an ad-hoc retry loop with a policy (3 points)
#
# The same pull request fetches one record with this loop. Unlike the lesson's script, it has
# rules — they are just buried in control flow:
#
# ```python
# async def fetch_record_messy(http, record_id):
#     delay = 0.5
#     for attempt in range(1, 6):                                   # five tries in all
#         try:
#             result = await asyncio.wait_for(http.get_json(f"/records/{record_id}"), timeout=2)
#         except asyncio.TimeoutError:
#             result = Err(ErrInfo("TIMEOUT", "no answer within 2 s", retryable=True))
#         if isinstance(result, Ok) or result.error.code not in ("HTTP_503", "HTTP_429", "TIMEOUT"):
#             return result                                         # done, or not worth retrying
#         if attempt < 5:
#             await asyncio.sleep(delay)
#             delay = min(delay * 2, 2)
#     return result
# ```
#
# Refactor it without changing what it does: write `RETRY`, a `RetryPolicy` that states the loop's
# rules as a value — *what is retried, how many times, how far apart, and what stops one try* — and
# `fetch_record(http, record_id)`, a plain `def` returning the plan that fetches
# `f"/records/{record_id}"` under `RETRY`.
#
# *How it is checked:* against scripts Hypothesis generates (`503`, `429`, `409` flagged retryable,
# `404`, `HANG`, the record; answers taking 0 to 3 s), your plan and **the loop itself** are driven on
# virtual time: the instant of every call, the result (its error code, or the record) and the moment
# the call ends must be the loop's. Then `RETRY` must be a `RetryPolicy`.
#
# <details><summary>Hint 1</summary>
#
# Read the loop line by line: which line says how many tries in all, which how far apart, which
# errors are retried, and what stops one try? Which field of `RetryPolicy`
# ([lesson 04](../notebooks/04_retry_and_timeout_policies.ipynb)) states each? Does
# `delay_schedule(RETRY)` match the loop's sleeps?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Does the loop decide by the error's **code** or by its `retryable` flag? What does it do with a
# `409` that is flagged retryable? Which `RetryPolicy` field chooses between the two ways?
# </details>

# %% tags=["task:t2"]
# Task 2 — Replace an ad-hoc retry loop with a policy
# BEGIN SOLUTION
RETRY = RetryPolicy(
    max_attempts=5,                                             # range(1, 6): five tries in all
    backoff=ExponentialBackoff(initial=0.5, factor=2, cap=2),   # sleeps 0.5, 1, 2, 2 s
    retry_on=frozenset({"HTTP_503", "HTTP_429", "TIMEOUT"}),    # by code, as the loop decides
    attempt_timeout=2,                                          # wait_for(..., timeout=2)
)
# END SOLUTION

def fetch_record(http: HttpClientCap, record_id: str) -> AsyncPlan[dict]:
    """A plan: fetch one record, retried as the loop did — by the policy RETRY."""
    # BEGIN SOLUTION
    return async_retry(async_lift(lambda: http.get_json(f"/records/{record_id}")), RETRY)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the schedule before anything runs, then three scripts on virtual time.

# %% tags=["solution-only"]
print("waits:", delay_schedule(RETRY))
scripts = {
    "hang, 503, 429, then the record": [HANG, UNAVAILABLE, ErrInfo("HTTP_429", "slow down"), {"id": "r7"}],
    "404 at once": [NOT_FOUND],
    "always 503": [UNAVAILABLE],
}
for label, script in scripts.items():
    sim, http = Simulation(), ScriptHttp(script, latency=0.25)
    result = sim.run(fetch_record(http, "r7"))
    print(f"{label:<32} calls at {http.calls}, ended t={sim.now:g}: {result}")


# %% [markdown]
# ## Task 3 — Write the behavioural test (3 points)
#
# The lesson's method rests on one test that asserts what the outside world sees — never how the
# code is arranged. Write it for Task 1's job: `assert_sync_behaviour(sync_all, night, concurrency)`
# takes a *version* of the job — any function with Task 1's signature,
# `sync_all(ids, http, store, concurrency) -> AsyncPlan[list[str]]` — and a `Night`. It must:
#
# - **return** (pass) when the version is correct on that night: the bounded reference, a version
#   that works one record at a time, a version built on `account_for`;
# - **raise `AssertionError`** (fail) when it is broken — when it runs work while its plan is being
#   built, stops the batch at the first failure, loses a failure the warehouse reported, fetches a
#   record more than once, or has more than `concurrency` requests in flight.
#
# Build the world yourself — `RecordsApi(night)` and `FakeStorage()` — build the plan, drive it with
# `Simulation().run(plan)` (a plain `def`: the helper is a shell), and assert. Use `assert` with a
# message that says what the world saw; let nothing else escape.
#
# *How it is checked:* on nights Hypothesis generates (each with a record the API does not have and
# one the warehouse refuses, more records than the bound), your helper is run on the three correct
# versions and on five broken ones; it must pass the first and fail each of the others.
#
# <details><summary>Hint 1</summary>
#
# Which of the five broken versions can you see *before* you drive the plan, and which only
# after? What do the fakes count (see the set-up cell), and what does the night say a correct job
# leaves behind?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Is the bound a target or a maximum? What should your helper say about a version that runs one
# record at a time?
# </details>

# %% tags=["task:t3"]
# Task 3 — Write the behavioural test
def assert_sync_behaviour(sync_all, night: Night, concurrency: int) -> None:
    """Return if `sync_all` does on `night` what the outside world expects; raise AssertionError otherwise."""
    # BEGIN SOLUTION
    api, store = RecordsApi(night), FakeStorage()
    plan = sync_all(list(night.ids), api, store, concurrency)
    assert api.requests == 0 and store.calls == [], f"building ran work: {api.requests} requests, {store.calls}"
    result = Simulation().run(plan)
    assert result == Ok(night.expected_failed()), f"reported {result}, expected Ok({night.expected_failed()})"
    assert store.records == night.expected_saved(), f"saved {sorted(store.records)}"
    assert api.requests == len(night.ids), f"{api.requests} requests for {len(night.ids)} records"
    assert api.peak <= concurrency, f"{api.peak} requests in flight, the bound is {concurrency}"
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the helper passes Task 1's answer, a one-at-a-time version, and fails an
# unbounded one with a message that says what the world saw.

# %% tags=["solution-only"]
night = Night(("r1", "r2", "r3", "r4"), refused={"r2": NOT_FOUND}, broken=frozenset({"r3"}))
assert_sync_behaviour(sync_records, night, 2)
assert_sync_behaviour(lambda ids, http, store, c: sync_records(ids, http, store, 1), night, 2)
try:
    assert_sync_behaviour(lambda ids, http, store, c: sync_records(ids, http, store, 10), night, 2)
except AssertionError as failure:
    print("the unbounded version fails:", failure)

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("11_refactoring_guide")

# %% [markdown]
# ## On your own
#
# - Add a retry to Task 1 with Task 2's `RETRY`. Which of Task 3's assertions must change, and which
#   new night would show the change?
# - Give `assert_sync_behaviour` a time budget: fail a version whose job ends later than the bounded
#   reference would. What does that make of the one-at-a-time version — and is that what you want?
# - Run your helper on the messy function itself (`exec` it into a namespace holding a `CLIENT` and
#   a `STORE`, as the lesson's `observe_night` `exec`s each version). Which assertion fails first?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 11 Refactoring Guide](../notebooks/11_refactoring_guide.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
