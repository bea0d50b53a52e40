# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 07 Async Adapters](07_async_adapters.ipynb) · [Contents](00_module_overview.ipynb) · [09 Async Chunking →](09_async_chunking.ipynb)
#
# # 08 · Async Service Integrations
#
# Lesson 07 put a real library behind each port: `HttpxJsonClient` for HTTP, `SqliteStorage` for a
# database, each turning its library's exceptions into `Err(ErrInfo)` at the boundary and living
# exactly as long as an `async with` block. This lesson plugs them together against a **real
# service**: a JSON service on `127.0.0.1`, started and stopped by the notebook, that fails on
# purpose — 503s, dropped connections, broken bodies, missing items, slow answers. Through it runs
# one pipeline, **fetch → validate → save**, for 300 ids, with bounded concurrency, a rate limit,
# a connection pool, timeouts and retries. The question is not "does it work on a good day?" but
# **"can I account for every single input on a bad one?"**
#
# **What you'll do**
# - Start a real HTTP service inside a cell, inject each kind of fault, and see what the client
#   adapter turns it into.
# - Show the pool limit, the timeout and the retry policy working on the wire, counted by the server.
# - Run the end-to-end pipeline for 300 ids under faults, print its **ledger** — every input saved
#   or reported with its `ErrInfo`, exactly once — and plot the outcomes.
# - Predict every request the server will see from the fault script alone, and check it.
# - Break the pipeline three ways — unbounded fan-out, a non-idempotent retried save, a batch that
#   loses its failures — and fix each one.
#
# **What you'll learn**
# - Where each resilience concern lives: retry, rate limit, bounded concurrency, pool limit, timeout.
# - `account_for(ids, steps, concurrency=n)` and `Ledger`: a batch that cannot lose an input.
# - `AsyncRateLimiter` in front of every request, retries included.
# - Why an idempotent save (an upsert on a key) is what makes retrying a write safe.
# - How to keep tests of real sockets deterministic: count things, never time them.
#
# **What you'll need**
# - Lessons [04 Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb) (`RetryPolicy`,
#   `async_retry`), [05 Deterministic Async Testing](05_deterministic_async_testing.ipynb)
#   (`Simulation`) and [07 Async Adapters](07_async_adapters.ipynb) (ports, adapters, lifetimes).
#   Lesson 06 (rate limiting) introduces `TokenBucket` and `AsyncRateLimiter`; this lesson only uses them.
# - About 60 minutes. Nothing to install and no network: the service listens on the loopback
#   interface only, on a port the system picks, and is gone when each cell ends.

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["08 Async Service Integrations"]
#   concept --> capstone["Capstone pressure point: lesson 12, every document embedded or reported"]
# ```
#
# ```mermaid
# flowchart LR
#   ids["300 ids"] --> gate["account_for: at most 16 in flight"]
#   gate --> limit["rate limit: a token per request"]
#   limit --> fetch["fetch: HttpxJsonClient, pool of 16, timeout, retry"]
#   fetch --> validate["validate: pure, Result"]
#   validate --> save["save: SqliteStorage upsert, retry"]
#   save --> ledger["Ledger: one Outcome per id"]
#   fetch -. Err .-> ledger
#   validate -. Err .-> ledger
#   save -. Err .-> ledger
# ```
#
# The first diagram places the lesson: the capstone must embed every document or say why it could
# not. The second is this lesson's pipeline: every id enters through a bounded gate, every request
# pays the rate limiter, and every id leaves as exactly one line of the ledger — saved, or failed at
# a named step with its `ErrInfo`.
#
# **Core question.** How do you connect async descriptions to real services — a network and a
# database — so that under faults the batch stays bounded, polite to the service, and **accounts for
# every input exactly once**?
#
# **Why it matters.** Integration code is where "it worked in the demo" meets a service that
# answers 503 under load, drops a connection, or sends a broken body. The usual failure is not a
# crash; it is a *quiet* one: 300 ids in, 287 rows out, and nobody can say what happened to the
# other 13, or why some rows are there twice. A ledger that must add up turns that silence into a
# failing check.
#
# **The review question to carry:** *for this batch, where is each input at the end — and which
# line of code guarantees that no input is lost, duplicated or left running?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`. `setup()` loads the course's Hypothesis profile. The
# notebook is the **shell**: it starts the service, opens the adapters in `async with` blocks and
# drives plans with top-level `await` — on the kernel's real event loop for the real service, and on
# a `Simulation` (virtual time) for the fakes.

# %%
import asyncio
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass

import matplotlib
from hypothesis import given, strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    AsyncRateLimiter, ConstantBackoff, Err, ErrInfo, ExponentialBackoff, FakeStorage, Faults,
    HttpClientCap, HttpxJsonClient, Ledger, LoopbackJsonService, Ok, Outcome, Question, Result,
    RetryPolicy, ScriptedHttp, Simulation, SqliteStorage, Step, StorageCap,
    TokenBucket, account_for, answer_key_html, api_summary, async_bind, async_from_result,
    async_gather, async_lift, async_retry, course_rc, format_table, max_window_cost, quiz_widget,
    setup, show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | the boundary converts | every injected fault reaches the pipeline as `Err(ErrInfo)` with a code and a `retryable` flag — never as an exception | [Turn each fault into an ErrInfo](#Turn-each-fault-into-an-ErrInfo) |
# | invariant | exactly once | the ledger has one outcome per input: `ledger.problems(ids) == []` | [Run the pipeline under faults](#Run-the-pipeline-under-faults) and Hypothesis |
# | invariant | nothing saved twice | rows == saved and `keys == sorted(saved)`; a retried save is a second *write*, never a second *row* | [Save idempotently](#Save-idempotently-to-SQLite), [Check the invariants](#Check-the-invariants-live), anti-pattern 2 |
# | law | retries only where retryable | the requests for an input are exactly `min(failures + 1, max_attempts)` from its fault script; a 404 or a broken body costs one request | [Predict every request](#Predict-every-request-from-the-fault-script) and Hypothesis |
# | invariant | bounded | at most `concurrency` inputs in flight; the server never holds more than `max_connections` connections | [Bound the pool](#Bound-the-pool), Hypothesis, anti-pattern 1 |
# | invariant | rate limited | every request, retries included, passes the limiter; in any window `w` at most `rate·w + burst` are admitted | [Check the invariants](#Check-the-invariants-live) |
# | invariant | nothing left open | after the cell: the server stopped, the client pool closed, no connection open, no task left | [Run the pipeline under faults](#Run-the-pipeline-under-faults) |

# %% [markdown]
# ## Decide where each concern lives
#
# Five mechanisms protect the pipeline and the service. They are easy to confuse, because each one
# "limits" something. Each lives in exactly one place and bounds one thing:
#
# | concern | lives in | bounds | set it from | if it is missing |
# |---|---|---|---|---|
# | **retry** | `async_retry(step, policy)` around one step's call | attempts per request, only for retryable errors | the failure classes below | one 503 loses an input |
# | **rate limit** | `await limiter.acquire()` before *each* request, retries included | requests per second toward the service | the service's quota | the batch (and its retries) hits the service as fast as it can |
# | **bounded concurrency** | `account_for(..., concurrency=n)` (it is `async_gather`) | inputs in flight, tasks, memory | what the service and this process can take | 300 requests and 300 tasks at once — [anti-pattern 1](#Anti-pattern-1:-unbounded-fan-out-against-the-service) |
# | **pool limit** | `HttpxJsonClient(max_connections=...)` | sockets open at once | the service's connection limit; ≥ `concurrency` | connections grow with load |
# | **timeout** | `HttpxJsonClient(timeout=...)` (or `attempt_timeout`) | how long one request may take | the service's slow-but-healthy latency, with margin | one hung request holds a slot for ever |
#
# What to do with each failure, by class:
#
# | failure | `ErrInfo.code` | retryable | the pipeline | ends in the ledger as |
# |---|---|---|---|---|
# | 503, 429, 502, 504 | `HTTP_503` … | yes | retry with backoff | saved if it recovers, else `fetch: HTTP_503` |
# | dropped / reset connection | `HTTP_CONNECTION` | yes | retry (a GET is idempotent) | saved if it recovers |
# | slow answer | `HTTP_TIMEOUT` | yes | retry; the attempt's socket is closed | saved if a later attempt is fast |
# | no free pooled connection in time | `HTTP_POOL_TIMEOUT` | yes | retry — but it says concurrency exceeds the pool: fix the bound | — |
# | 404, 400 | `HTTP_404` … | no | report at once | `fetch: HTTP_404` |
# | body is not a JSON object | `BAD_JSON` | no | report: the upstream is broken | `fetch: BAD_JSON` |
# | record fails validation | `MISSING_FIELD`, `BAD_TYPE`, `BAD_VALUE` | no | report, **never save** | `validate: …` |
# | database busy or locked | `DB_BUSY` | yes | retry: the upsert makes it safe | saved |
# | an exception | — | never | crash: it is a defect | (no ledger: fix the bug) |

# %% [markdown]
# ## Read the public API
#
# The pieces this lesson plugs together, with their signatures and the first line of their docs.
# Lesson 07 built the adapters and lesson 06 the limiter; `account_for` and `Ledger` are new.

# %%
print(api_summary([LoopbackJsonService, Faults, HttpxJsonClient, SqliteStorage,
                   AsyncRateLimiter, TokenBucket, account_for, Ledger, Outcome]))

# %% [markdown]
# ## Start a service on loopback
#
# The catalogue the service serves: 300 items with ids `001` … `300`. A few are broken *in the data*,
# not on the wire — an empty title, a negative price, a price that is a string, a missing price —
# and two ids are not in the catalogue at all. Those are the validator's and the 404's business.

# %%
IDS = [f"{n:03d}" for n in range(1, 301)]
CATALOGUE = {i: {"id": i, "title": f"item {int(i)}", "price": int(i) * 10} for i in IDS}
CATALOGUE["013"] = {"id": "013", "title": "", "price": 130}            # empty title
CATALOGUE["026"] = {"id": "026", "title": "item 26", "price": -1}      # negative price
CATALOGUE["113"] = {"id": "113", "title": "item 113", "price": "9.99"} # price is a string
CATALOGUE["213"] = {"id": "213", "title": "item 213"}                  # no price at all
MISSING = ["040", "240"]
for i in MISSING:
    del CATALOGUE[i]
print(len(IDS), "ids;", len(CATALOGUE), "items in the catalogue; missing:", MISSING)

# %% [markdown]
# `LoopbackJsonService` is a real HTTP server (the standard library's `ThreadingHTTPServer`) on
# `127.0.0.1`, on an **ephemeral port** the system picks — so this notebook never prints its port
# or URL: it differs every run. The `with` block starts it; leaving the block stops it and joins its
# threads. Inside, `HttpxJsonClient` is opened with `async with` on the service's `base_url`. Watch
# for: a real JSON body, the server's own count of requests, and `running` turning `False` after the
# block.

# %%
with LoopbackJsonService(CATALOGUE) as service:
    async with HttpxJsonClient(service.base_url, max_connections=4) as http:
        print(await http.get_json("/items/007"))
        print(await http.get_json("/items/040"))
    print("server saw:", service.requests, "| client closed:", http.closed)
print("running after the block:", service.running, "| open connections:", service.open_connections)

# %% [markdown]
# ## Turn each fault into an ErrInfo
#
# Lesson 07 injected every fault and read what it becomes; this is the same check for this lesson's
# catalogue, as the reference for everything below. Faults are scripted **per item and per
# request**, not drawn at random: `Faults(unavailable={"007": 2})` means the first two requests for
# item 007 answer 503 and the third answers normally. So a run under faults is the same on every
# machine, however the requests interleave. One item per switch, fetched once each: look at the code
# and the `retryable` flag each one becomes — they decide, below, what the pipeline retries.

# %%
PROBE = Faults(unavailable={"007": 2}, drop={"003": 1}, slow={"005": 2.0}, malformed=frozenset({"088"}))
print(PROBE)

async def fetch_once(service, ids: list[str], **client) -> list[list[object]]:
    async with HttpxJsonClient(service.base_url, **client) as http:
        results = [await http.get_json(f"/items/{i}") for i in ids]
    return [[i, r.error.code if isinstance(r, Err) else "Ok", r.error.retryable if isinstance(r, Err) else "-",
             service.requests.get(f"/items/{i}", 0)] for i, r in zip(ids, results)]


# %% [markdown]
# The slow item waits 2 s on the server; the client's timeout here is 0.5 s — four times shorter than
# that delay and more than ten times longer than a normal answer on loopback — so which item times out
# never depends on how fast or how busy this machine is.

# %%
SWITCHES = {"007": "unavailable (503)", "003": "drop (connection closed)", "005": "slow (2 s)",
            "088": "malformed body", "040": "missing (not in catalogue)", "001": "no fault"}
with LoopbackJsonService(CATALOGUE, faults=PROBE) as service:
    rows = await fetch_once(service, list(SWITCHES), timeout=0.5)
print(format_table(["item", "code", "retryable", "server requests"],
                   [[f"{i} {SWITCHES[i]}", c, r, n] for i, c, r, n in rows]))


# %% [markdown]
# Five different faults, five codes — and the `retryable` column is the adapter's claim about whether
# *the same request* may later succeed: a 503, a dropped connection and a timeout may; a missing item
# and a broken body will not. Note the slow item: the client gave up after 0.5 s and closed its
# socket, while the server's handler was still waiting; `close()` wakes it, so the cell still ends
# with nothing running.
#
# ## Bound the pool
#
# `max_connections` bounds the sockets the client opens to the service; a request that finds all of
# them busy waits for one (up to the timeout, then `HTTP_POOL_TIMEOUT`). Here 100 requests are
# started at once — the notebook is the shell, so it may call `asyncio.gather` — against a pool of 8.
# The server counts the connections it holds: look at its peak.

# %%
async def hundred_at_once(service, pool: int) -> Counter:
    async with HttpxJsonClient(service.base_url, max_connections=pool) as http:
        results = await asyncio.gather(*(http.get_json(f"/items/{i}") for i in IDS[:100]))
    return Counter("Ok" if isinstance(r, Ok) else r.error.code for r in results)

with LoopbackJsonService(CATALOGUE) as service:
    outcomes = await hundred_at_once(service, pool=8)
    print(dict(outcomes), "| requests served:", sum(service.requests.values()))
    print("connections the server held at once, at most:", service.peak_connections, "(pool limit 8)")

# %% [markdown]
# 100 requests, all answered, through at most 8 connections: the pool queued the rest. The pool is a
# **safety net for sockets**, not a concurrency limit for work — all 100 requests (and their
# coroutines) were still alive at once, waiting in the pool's queue with their timeouts ticking.
# [Anti-pattern 1](#Anti-pattern-1:-unbounded-fan-out-against-the-service) shows why that matters.
#
# ## Cut a slow request short
#
# A slow answer becomes `Err(HTTP_TIMEOUT, retryable=True)` after the client's timeout. Retrying it
# is safe — a GET is idempotent — but useless while the item stays slow. `async_retry` with a policy
# from lesson 04 makes 3 attempts with short backoffs; the server counts all three.

# %%
QUICK = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.002, factor=2, cap=0.01))

async def fetch_retried(service, item: str, **client) -> Result:
    async with HttpxJsonClient(service.base_url, **client) as http:
        return await async_retry(async_lift(lambda: http.get_json(f"/items/{item}")), QUICK)()

with LoopbackJsonService(CATALOGUE, faults=Faults(slow={"005": 2.0})) as service:
    print(await fetch_retried(service, "005", timeout=0.2))
    print("server requests:", service.requests)

# %% [markdown]
# ## Retry what may succeed
#
# Item 007 answers 503 twice, then 200. With the same policy the call succeeds on attempt 3, and the
# server's count shows the three attempts. A missing item is a different story: `HTTP_404` is not
# retryable, so the policy stops after one request.

# %%
with LoopbackJsonService(CATALOGUE, faults=Faults(unavailable={"007": 2})) as service:
    print(await fetch_retried(service, "007"))
    print(await fetch_retried(service, "040"))
    print("server requests:", service.requests)


# %% [markdown]
# ## Save idempotently to SQLite
#
# `SqliteStorage` keeps records in SQLite, running the blocking `sqlite3` calls in worker threads.
# Its `save` is an **upsert on the key**: saving a key again replaces the row. So a save that is
# retried — because its reply was lost, or the database was busy — is a second *write*, never a
# second *row*. The adapter counts both: `writes` (calls that reached the database) and `count()`
# (rows). Watch them differ.

# %%
async with SqliteStorage() as store:
    for attempt in range(3):                                       # the same save, retried
        print(await store.save("007", {"id": "007", "title": "item 7", "price": 70}))
    print("writes:", store.writes, "| rows:", await store.count(), "| keys:", await store.keys())
    print(await store.load("007"))
    print(await store.save("bad", {"price": float("nan")}))       # not JSON: refused, nothing stored
print("closed after the block:", store.closed)


# %% [markdown]
# ## Validate before you save
#
# Validation is **pure**: a body in, a `Result` out — no I/O, no waiting, so it needs no adapter and
# no retry. A record has a non-empty string `id` and `title` and an integer `price ≥ 0`; the first
# problem found wins, and every validation error is non-retryable (the same body fails the same way).
# The record saved is built from the checked fields only, so an unexpected field in a body never
# reaches the database.

# %%
def validate(body) -> Result[dict, ErrInfo]:
    """A catalogue record from a fetched body, or the first problem as Err(MISSING_FIELD | BAD_TYPE | BAD_VALUE)."""
    for field, kind in (("id", str), ("title", str), ("price", int)):
        if field not in body:
            return Err(ErrInfo("MISSING_FIELD", f"item {body.get('id')}: no {field!r}"))
        value = body[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            return Err(ErrInfo("BAD_TYPE", f"item {body.get('id')}: {field} must be {kind.__name__}, got {value!r}"))
    if not body["id"] or not body["title"].strip():
        return Err(ErrInfo("BAD_VALUE", f"item {body['id']}: id and title must not be empty"))
    if body["price"] < 0:
        return Err(ErrInfo("BAD_VALUE", f"item {body['id']}: price must be >= 0, got {body['price']}"))
    return Ok({"id": body["id"], "title": body["title"], "price": body["price"]})


# %%
for i in ("001", "013", "026", "113", "213"):
    print(i, validate(CATALOGUE[i]))
print("extra field dropped:", validate({**CATALOGUE["001"], "internal": "secret"}))


# %% [markdown]
# ## Limit the rate
#
# A service publishes a quota ("400 requests per second, bursts of 20"). `AsyncRateLimiter(TokenBucket(rate, burst))`
# from lesson 06 enforces it on the loop's clock: `await limiter.acquire()` returns once a token is
# available, first come, first served. On virtual time you can see the exact schedule: 30 requests at
# once against `rate=100, burst=10` — a burst of 10 at t = 0, then one every 10 ms.

# %%
async def thirty_at_once(limiter: AsyncRateLimiter) -> list[float]:
    loop, times = asyncio.get_running_loop(), []
    async def one() -> None:
        await limiter.acquire()
        times.append(round(loop.time(), 3))
    await asyncio.gather(*(one() for _ in range(30)))
    return times

limiter = AsyncRateLimiter(TokenBucket(rate=100, burst=10))
times = Simulation().run(thirty_at_once(limiter))
print("admitted at t=0:", times.count(0.0), "| then:", times[10:14], "… last at", times[-1])
print("most admitted in any 0.1 s window:", max_window_cost(limiter.admitted, 0.1),
      "<= rate·0.1 + burst =", 100 * 0.1 + 10)

# %% [markdown]
# In the pipeline the limiter sits **inside** the retried call, in front of each request: a retry is a
# request too, and the service's quota counts it. (A limiter outside the retry would let a storm of
# retries through at full speed — lesson 04's retry storm.)
#
# ## Describe the pipeline
#
# The pipeline is three named steps — the `Step` pairs `account_for` takes. Each is a plan built from
# *capabilities* (the ports `HttpClientCap` and `StorageCap` of lesson 07), so the same steps run
# against the real service and SQLite, or against fakes on virtual time. Building them runs nothing.

# %%
POLICY = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.002, factor=2, cap=0.01))

def pipeline_steps(http: HttpClientCap, store: StorageCap, limiter: AsyncRateLimiter,
                   policy: RetryPolicy) -> list[Step]:
    """fetch (rate-limited, retried) -> validate (pure) -> save (idempotent upsert, retried)."""
    async def limited_get(item: str) -> Result:
        await limiter.acquire()                           # every request pays a token, retries too
        return await http.get_json(f"/items/{item}")
    return [
        ("fetch", lambda item: async_retry(async_lift(lambda: limited_get(item)), policy)),
        ("validate", lambda body: async_from_result(validate(body))),
        ("save", lambda record: async_retry(async_lift(lambda: store.save(record["id"], record)), policy)),
    ]


# %% [markdown]
# `account_for(ids, steps, concurrency=n)` runs every id through the steps, at most `n` at a time
# (it is `async_gather` underneath), and turns each id's fate into one `Outcome`: saved, or failed at
# the first step that returned an `Err`, with that `ErrInfo`. One id's failure never stops the others,
# and the `Ledger` it produces has exactly one outcome per input, in input order.
#
# The service's faults for the real run, scripted per item:
#
# * 30 items answer 503 twice, then recover (every 10th from 007);
# * 2 items answer 503 for ever (050 and 150);
# * 12 items drop their first connection (every 25th from 003);
# * 2 items have a broken body (088 and 188).
#
# With the 2 missing ids and 4 invalid records, 14 of the 300 ids have a fault that retrying cannot fix.

# %%
FAULTS = Faults(
    unavailable={**{f"{n:03d}": 2 for n in range(7, 301, 10)}, "050": 99, "150": 99},
    drop={f"{n:03d}": 1 for n in range(3, 301, 25)},
    malformed=frozenset({"088", "188"}),
)
print(len(FAULTS.unavailable), "items answer 503 (2 for ever),", len(FAULTS.drop), "drop a connection,",
      len(FAULTS.malformed), "have a broken body")

# %% [markdown]
# ## Run the pipeline under faults
#
# The shell: one `async` function opens the rate limiter, the HTTP client and the database — each for
# exactly the run — drives the ledger plan, and reads the database back. The settings: 16 inputs in
# flight, a pool of 16 connections, 400 requests per second with bursts of 20, and `POLICY` (3
# attempts, backoff 2 ms, 4 ms).

# %%
CONCURRENCY, POOL, RATE, BURST = 16, 16, 400, 20

@dataclass(frozen=True)
class Run:
    ledger: Ledger
    rows: int
    keys: list[str]
    writes: int
    admitted: list[tuple[float, float]]
    client_closed: bool
    store_closed: bool


# %%
async def run_pipeline(service, ids: list[str]) -> Run:
    limiter = AsyncRateLimiter(TokenBucket(rate=RATE, burst=BURST))
    async with HttpxJsonClient(service.base_url, max_connections=POOL) as http, SqliteStorage() as store:
        ledger = await account_for(ids, pipeline_steps(http, store, limiter, POLICY), concurrency=CONCURRENCY)()
        rows, keys = await store.count(), await store.keys()
    return Run(ledger.value, rows.value, keys.value, store.writes, limiter.admitted, http.closed, store.closed)


# %% [markdown]
# The cell below starts the service, runs the 300 ids through the pipeline, and stops the service —
# all inside the cell. Look at the ledger's total (300: one line per input), the problems list (empty:
# nothing lost, duplicated or invented), and the last line: everything the cell opened is closed, and
# no task it started is left.

# %%
before = asyncio.all_tasks()
with LoopbackJsonService(CATALOGUE, faults=FAULTS) as service:
    run = await run_pipeline(service, IDS)
    served, peak = service.requests, service.peak_connections
ledger = run.ledger
print(ledger.table())
print("problems:", ledger.problems(IDS))
left = len(asyncio.all_tasks() - before)
print(f"server running: {service.running} | client pool closed: {run.client_closed} | database closed: "
      f"{run.store_closed} | open connections: {service.open_connections} | tasks left: {left}")

# %% [markdown]
# Every failure is named: which step, which code. The failed inputs, one line each:

# %%
for outcome in ledger.failed:
    print(outcome, "—", outcome.error.message)

# %% [markdown]
# ## Check the invariants live
#
# Exactly once, nothing saved twice, the pool bound and the rate limit — each as an assertion on
# what the run produced. Saved ids and database rows are two independent records of the same
# truth: the ledger says what the pipeline *believes* it saved, the database what is *there*.

# %%
assert ledger.problems(IDS) == [] and len(ledger.outcomes) == len(IDS)
assert run.rows == len(ledger.saved) and run.keys == sorted(ledger.saved) and run.writes == run.rows
assert peak <= POOL
requests = sum(served.values())
assert len(run.admitted) == requests                           # every request paid a token
assert max_window_cost(run.admitted, 1.0) <= RATE * 1.0 + BURST
print(f"exactly once: {len(ledger.outcomes)} outcomes for {len(IDS)} inputs | saved {len(ledger.saved)} = "
      f"rows {run.rows} = writes {run.writes}; keys == sorted(saved)")
print(f"pool: server peak <= {POOL}: {peak <= POOL} | rate limit: {len(run.admitted)} tokens for "
      f"{requests} requests; window law holds: {max_window_cost(run.admitted, 1.0) <= RATE + BURST}")


# %% [markdown]
# ## Predict every request from the fault script
#
# Because faults are scripted per item and per request, the number of requests the server sees for
# each item is a **pure function of the script and the policy**: request *n* for an item fails while
# *n* ≤ the larger of its `drop` and `unavailable` counts (both are retryable), so the item costs
# `min(failures + 1, max_attempts)` requests — and a non-retryable answer (404, broken body) ends it
# at once. No timing is involved, so the prediction must match the server's count *exactly*, for all
# 300 items.

# %%
def predicted_requests(item: str, faults: Faults, policy: RetryPolicy) -> int:
    failures = max(faults.drop.get(item, 0), faults.unavailable.get(item, 0))
    return min(failures + 1, policy.max_attempts)

mismatches = [i for i in IDS if served[f"/items/{i}"] != predicted_requests(i, FAULTS, POLICY)]
print("requests per item as predicted:", len(IDS) - len(mismatches), "of", len(IDS),
      "| mismatches:", mismatches)
print("requests in all:", requests, "| by attempts made:",
      dict(sorted(Counter(served[f"/items/{i}"] for i in IDS).items())))
print("item 007 (503 twice, then 200):", served["/items/007"], "requests, then",
      "saved" if "007" in ledger.saved else "lost")

# %% [markdown]
# ## Plot the outcomes
#
# The figure has two panels: on the left, how the 300 inputs ended, one bar per outcome (the stage is
# in the label and in the hatch); on the right, how many requests each input cost. The x axis of the
# left panel is logarithmic so that a single failed input is visible next to 290 saved ones. The
# plotting function belongs to this lesson only, so it lives here; its twin `outcomes_summary`
# returns the plotted numbers as text.

# %%
HATCH = {"saved": "", "fetch": "//", "validate": "..", "save": "xx"}

def outcomes_summary(ledger: Ledger, requests_per_input: Counter) -> str:
    bars = "; ".join(f"{k}: {n}" for k, n in ledger.counts().items())
    cost = ", ".join(f"{n} inputs x {r} request{'s' * (r > 1)}" for r, n in sorted(requests_per_input.items()))
    return f"outcomes of {len(ledger.outcomes)} inputs: {bars}. Requests per input: {cost}."


# %%
def plot_outcomes(ledger: Ledger, requests_per_input: Counter) -> Figure:
    counts = ledger.counts()
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[3, 2])
        colours = [p["color"] for p in matplotlib.rcParams["axes.prop_cycle"]]
        labels = list(counts)[::-1]
        for y, key in enumerate(labels):
            stage = key.split(":")[0]
            left.barh(y, counts[key], color=colours[list(HATCH).index(stage)], hatch=HATCH[stage], edgecolor="0.2")
            left.annotate(str(counts[key]), (counts[key], y), xytext=(4, 0), textcoords="offset points", va="center")
        left.set(yticks=range(len(labels)), yticklabels=labels, xscale="log", xlim=(0.8, 1000),
                 xlabel="inputs (log scale)", title=f"How {len(ledger.outcomes)} inputs ended")
        attempts = sorted(requests_per_input)
        bars = right.bar([str(a) for a in attempts], [requests_per_input[a] for a in attempts], color=colours[4],
                         hatch="\\\\", edgecolor="0.2")
        right.bar_label(bars)
        right.set(xlabel="requests the server saw for the input", ylabel="inputs", title="What each input cost")
    return fig


# %%
per_input = Counter(served[f"/items/{i}"] for i in IDS)
summary = outcomes_summary(ledger, per_input)
show_figure(plot_outcomes(ledger, per_input), alt="Two bar charts. " + summary)
print(summary)

# %% [markdown]
# Read the left panel as the batch's report card: one tall bar (saved) and a handful of short ones,
# each naming the step and the code. Nothing is in an "unknown" bar — there is no such bar, because
# `account_for` cannot produce one. The right panel shows what the faults cost: most inputs took one
# request, the recovering 503s and the permanent ones three, the dropped connections two.
#
# ## Prove the pipeline's laws with Hypothesis
#
# The real run checks one fault script. To check *every* script, run the same `pipeline_steps` against
# fakes on virtual time: the package's `ScriptedHttp`, an HTTP client whose answers are scripted per
# item and per request (like the loopback service, but in memory: one `ScriptedService` per item, 10 ms
# each here), and `FakeStorage`. `ScriptedHttp` also counts how many requests are in flight at once.

# %%
print(api_summary([ScriptedHttp]))

# %% [markdown]
# A script entry is one answer: a retryable 503 or dropped connection, a non-retryable 404 or broken
# body, or a body — valid or not. Hypothesis draws a script for each of up to 12 items and a
# concurrency from 1 to 6. For every example, four things must hold: every input is accounted for
# exactly once; each input ends as its script says; it cost exactly the predicted number of
# requests; and no more than `concurrency` requests were ever in flight.

# %%
ANSWERS = {
    "503": ErrInfo("HTTP_503", "unavailable", retryable=True),
    "drop": ErrInfo("HTTP_CONNECTION", "dropped", retryable=True),
    "404": ErrInfo("HTTP_404", "not found"),
    "broken": ErrInfo("BAD_JSON", "not a JSON object"),
    "good": "good",
    "invalid": "invalid",
}

def body(item: str, entry: str) -> object:
    if entry in ("good", "invalid"):
        return {"id": item, "title": f"item {item}", "price": 1 if entry == "good" else -1}
    return ANSWERS[entry]


# %% [markdown]
# What an input with a given script must end as, and what it must cost — the same reasoning as
# `predicted_requests`, for scripts: retryable answers are retried until an answer that is not
# retryable, or until the attempts run out.

# %%
def expected(script: list[str], policy: RetryPolicy) -> tuple[str, int]:
    """How an input with this script ends, and how many requests it costs."""
    for n in range(1, policy.max_attempts + 1):
        entry = script[min(n, len(script)) - 1]
        if entry not in ("503", "drop"):             # not retryable, or an answer: the input ends here
            break
    if entry in ("good", "invalid"):
        return ("saved" if entry == "good" else "validate: BAD_VALUE"), n
    return f"fetch: {ANSWERS[entry].code}", n


# %%
EXAMPLES = Counter()

@given(scripts=st.dictionaries(st.sampled_from([f"{n:03d}" for n in range(12)]),
                               st.lists(st.sampled_from(list(ANSWERS)), min_size=1, max_size=4), max_size=12),
       concurrency=st.integers(1, 6))
def pipeline_accounts_for_every_input_exactly_once(scripts, concurrency) -> None:
    EXAMPLES["pipeline"] += 1
    ids = sorted(scripts)
    http, store = ScriptedHttp({i: [body(i, e) for e in s] for i, s in scripts.items()}, latency=0.01), FakeStorage()
    steps = pipeline_steps(http, store, AsyncRateLimiter(TokenBucket(rate=100, burst=5)), POLICY)
    ledger = Simulation().run(account_for(ids, steps, concurrency=concurrency)).value
    assert ledger.problems(ids) == [] and sorted(store.records) == sorted(ledger.saved)
    for outcome in ledger.outcomes:
        ends, cost = expected(scripts[outcome.item], POLICY)
        assert (str(outcome.stage) + ": " + outcome.error.code if outcome.error else "saved") == ends
        assert len(http.services[outcome.item].calls) == cost
    assert http.peak <= concurrency

pipeline_accounts_for_every_input_exactly_once()
print(f"exactly once, the scripted end, the predicted requests, at most `concurrency` in flight: "
      f"{EXAMPLES['pipeline']} examples")

# %% [markdown]
# ## Measure the cost
#
# | operation | time | memory / resources |
# |---|---|---|
# | describing the pipeline (`pipeline_steps`, `account_for`) | O(n) to list the inputs | O(n) plans, nothing running |
# | requests to the service | n without faults; at most `n × max_attempts` under faults | — |
# | writes to the database | one per saved input, plus one per retried save | rows = saved inputs (an upsert per key) |
# | inputs, tasks in flight | — | at most `concurrency` (plus the driver) |
# | sockets | — | at most `max_connections` |
# | the ledger | O(n) to build and to check | O(n): one `Outcome` per input |
# | the rate limit | the run lasts at least `(requests − burst) / rate` | O(1) bucket state |
#
# The measurement is counts, never timings. First, the same 300 ids against the same catalogue with
# **no** injected faults, for comparison with the run above:

# %%
with LoopbackJsonService(CATALOGUE) as service:
    clean = await run_pipeline(service, IDS)
    clean_requests = sum(service.requests.values())
rows = [[label, len(IDS), n, f"{n / len(IDS):.2f}", r.writes, r.rows, len(r.ledger.saved)]
        for label, n, r in (("no faults", clean_requests, clean), ("under faults", requests, run))]
print(format_table(["run", "inputs", "requests", "requests/input", "writes", "rows", "saved"], rows))


# %% [markdown]
# Without faults every input costs one request and every valid record one write and one row. The
# faults add 76 requests — 30 × 2 for the recovering 503s, 2 × 2 for the permanent ones, 12 × 1 for the
# dropped connections — and exactly as many as `predicted_requests` said; rows still equal saved
# inputs. The second measurement is the *bound*: on fakes and virtual time, the number of inputs in
# flight and the tasks alive do not grow with the batch.

# %%
async def peak_tasks(n: int) -> tuple[int, int, int]:
    http = ScriptedHttp({f"{k:05d}": [body(f"{k:05d}", "good")] for k in range(n)}, latency=0.01)
    store, seen = FakeStorage(), {"tasks": 0}
    class Watching:                                          # a StorageCap that looks at the task count
        async def save(self, key, record):
            seen["tasks"] = max(seen["tasks"], len(asyncio.all_tasks()))
            return await store.save(key, record)
    steps = pipeline_steps(http, Watching(), AsyncRateLimiter(TokenBucket(rate=10_000, burst=100)), POLICY)
    ledger = (await account_for(sorted(http.services), steps, concurrency=CONCURRENCY)()).value
    return len(ledger.saved), http.peak, seen["tasks"]

print(format_table(["inputs", "saved", "requests in flight (peak)", "tasks alive (peak)"],
                   [[n, *Simulation().run(peak_tasks(n))] for n in (100, 1_000, 3_000)]))


# %% [markdown]
# Ten times the inputs, the same 16 in flight and the same 17 tasks (16 workers and the driver).
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | unbounded fan-out: `asyncio.gather` over every id | n requests and n tasks at once; the pool hides it until timeouts fire | `account_for(..., concurrency=n)` / `async_gather(..., concurrency=n)` |
# | retrying a non-idempotent save | a lost reply makes the retry insert the record again: more rows than inputs | an upsert on a key (`SqliteStorage.save`); writes may exceed rows, rows never exceed inputs |
# | a batch that loses its failures | "287 saved" — and no one can say what happened to the other 13 | one outcome per input: `account_for` and its `Ledger`, checked with `problems(ids)` |
#
# ### Anti-pattern 1: unbounded fan-out against the service
#
# The tempting shell: `asyncio.gather` over a coroutine per id, all at once — here the first 60 ids,
# which is enough to see it. A small wrapper around the client counts the requests in flight at the
# call boundary. The pool (16 connections) is there, so the server never sees more than 16
# connections — but all 60 requests are in flight in *this* process: 60 tasks, 60 requests queued in
# the pool, each with its timeout already ticking.

# %%
class InFlight:
    """An HttpClientCap wrapper that counts requests in flight at once."""
    def __init__(self, http: HttpClientCap) -> None:
        self.http, self.now, self.peak = http, 0, 0

    async def get_json(self, url: str) -> Result:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await self.http.get_json(url)
        finally:
            self.now -= 1


# %%
async def fan_out(service, ids: list[str]) -> tuple[int, int]:
    async with HttpxJsonClient(service.base_url, max_connections=POOL) as client:
        http = InFlight(client)
        results = await asyncio.gather(*(http.get_json(f"/items/{i}") for i in ids))   # every id at once
    return sum(isinstance(r, Ok) for r in results), http.peak

with LoopbackJsonService(CATALOGUE) as service:
    ok, in_flight = await fan_out(service, IDS[:60])
    print(f"{ok} answers; requests in flight at once: {in_flight}; server peak connections <= {POOL}: "
          f"{service.peak_connections <= POOL}")

# %% tags=["raises-exception"]
assert in_flight <= CONCURRENCY, (
    f"unbounded fan-out: {in_flight} requests in flight at once, the budget toward the service is {CONCURRENCY}")


# %% [markdown]
# Why it matters even though every request succeeded here: with a larger pool, the service would get
# 60 connections at once — 300 for the whole batch (on this machine, more than the loopback server's listen queue holds, so
# connections start timing out); with this pool, requests at the back of the queue wait for a
# connection with their timeout running, and a slower service turns them into `HTTP_POOL_TIMEOUT`s —
# and with retries, into more requests. The fix bounds the *work*, not only the sockets:
# `async_gather(plans, concurrency=16)` runs 16 workers, and the 17th request starts only when one
# finishes.

# %%
async def bounded(service, ids: list[str]) -> tuple[int, int]:
    async with HttpxJsonClient(service.base_url, max_connections=POOL) as client:
        http = InFlight(client)
        results = await async_gather([async_lift(lambda i=i: http.get_json(f"/items/{i}")) for i in ids],
                                     concurrency=CONCURRENCY)()
    return len(results.value), http.peak

with LoopbackJsonService(CATALOGUE) as service:
    ok, in_flight = await bounded(service, [i for i in IDS[:60] if i not in MISSING])
assert in_flight <= CONCURRENCY
print(f"{ok} answers; requests in flight at once: {in_flight} (concurrency {CONCURRENCY})")


# %% [markdown]
# (`async_gather` fails fast — the first `Err` would cancel the rest — so this fix leaves out the two
# missing ids. The pipeline uses `account_for`, which is `async_gather` over plans that always
# succeed with an `Outcome`, so it needs no such care.)
#
# ### Anti-pattern 2: retrying a non-idempotent save
#
# A save whose reply is lost is the write-side twin of lesson 04's double charge: the row is in the
# database, but the caller sees an error and retries. Two small classes set the trap, both for this
# demonstration only: `AppendOnlyStore`, a deliberately **non-idempotent** SQLite table (every save
# `INSERT`s, there is no key), and `LostReplies`, which lets the first save of some keys land and then
# reports a retryable `DB_TIMEOUT`, as a dropped connection to a database would.

# %%
class AppendOnlyStore:
    """A non-idempotent StorageCap: every save INSERTs a row (no primary key). For the anti-pattern only."""
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE records (key TEXT, body TEXT)")
        self.lock, self.writes = asyncio.Lock(), 0

    async def save(self, key: str, record) -> Result:
        self.writes += 1
        async with self.lock:
            await asyncio.to_thread(self.db.execute, "INSERT INTO records VALUES (?, ?)", (key, json.dumps(record)))
        return Ok(None)

    def rows(self) -> tuple[int, int]:
        return self.db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM records").fetchone()


# %%
class LostReplies:
    """Wraps a StorageCap: the first save of each key in `keys` lands, then its reply is lost."""
    def __init__(self, store: StorageCap, keys: set[str]) -> None:
        self.store, self.pending = store, set(keys)

    async def save(self, key: str, record) -> Result:
        result = await self.store.save(key, record)
        if key in self.pending:
            self.pending.discard(key)
            return Err(ErrInfo("DB_TIMEOUT", "the write landed, the reply was lost", retryable=True))
        return result

FIRST_40 = [i for i in IDS if i in CATALOGUE and isinstance(validate(CATALOGUE[i]), Ok)][:40]
LOST = set(FIRST_40[::4])                               # every 4th save loses its first reply
print(len(FIRST_40), "ids;", len(LOST), "saves lose their first reply")


# %% [markdown]
# The same pipeline and retry policy (4 inputs in flight), 40 ids with valid records. Watch the ledger — it looks
# perfect — and then the table.

# %%
async def save_through(service, store: StorageCap) -> Ledger:
    limiter = AsyncRateLimiter(TokenBucket(rate=RATE, burst=BURST))
    async with HttpxJsonClient(service.base_url, max_connections=4) as http:
        steps = pipeline_steps(http, LostReplies(store, LOST), limiter, POLICY)
        return (await account_for(FIRST_40, steps, concurrency=4)()).value

append_only = AppendOnlyStore()
with LoopbackJsonService(CATALOGUE) as service:
    lossy = await save_through(service, append_only)
rows, distinct = append_only.rows()
print(lossy, "| problems:", lossy.problems(FIRST_40))
print(f"writes: {append_only.writes} | rows: {rows} | distinct keys: {distinct}")

# %% tags=["raises-exception"]
assert rows == len(lossy.saved), (
    f"{rows} rows for {len(lossy.saved)} saved inputs: {rows - distinct} records stored twice")

# %% [markdown]
# The ledger is right — 40 inputs, 40 saved — and the table is wrong: each of the 10 lost replies was
# retried, and each retry inserted the record again. Retrying is only safe when the operation is
# **idempotent**. The fix is in the adapter, not in the retry policy: `SqliteStorage.save` is an upsert
# on the key, so the retried save is a second *write* and the same *row*.

# %%
with LoopbackJsonService(CATALOGUE) as service:
    async with SqliteStorage() as store:
        fixed = await save_through(service, store)
        rows, keys = (await store.count()).value, (await store.keys()).value
assert rows == len(fixed.saved) and keys == sorted(fixed.saved)
print(fixed, f"| writes: {store.writes} | rows: {rows} | keys == sorted(saved): {keys == sorted(fixed.saved)}")


# %% [markdown]
# Writes exceed rows by exactly the 10 retries; rows equal saved inputs. That is the pair the Big-O
# table promised: *writes may exceed rows, rows never exceed inputs*.
#
# ### Anti-pattern 3: a batch that loses its failures
#
# The other tempting shell runs the whole batch as one `async_gather` — and `async_gather` **fails
# fast**: the first `Err` cancels everything still running, and the result is that one `Err`. It is the
# right rule for "all or nothing" work and the wrong one for a batch. On fakes and virtual time (so
# the count below is the same on every run), with the first 30 ids and the real fault script turned
# into per-item scripts:

# %%
def scripts_from(faults: Faults, ids: list[str]) -> dict[str, list]:
    """Per-item answers equivalent to the loopback service's fault script (for the fakes)."""
    def answer(i: str, n: int) -> object:
        if n <= faults.drop.get(i, 0): return ANSWERS["drop"]
        if n <= faults.unavailable.get(i, 0): return ANSWERS["503"]
        return ANSWERS["broken"] if i in faults.malformed else CATALOGUE[i]
    return {i: [answer(i, n) for n in (1, 2, 3)] for i in ids if i in CATALOGUE}

SCRIPTS = scripts_from(FAULTS, IDS[:30])


# %%
def one_input(steps: list[Step], item: str):
    """The three steps chained for one input: its result is the first Err, or Ok (no Outcome)."""
    (_, fetch), (_, check), (_, save) = steps
    return async_bind(fetch(item), lambda body: async_bind(check(body), save))


# %%
http, store = ScriptedHttp(SCRIPTS, latency=0.01), FakeStorage()
steps = pipeline_steps(http, store, AsyncRateLimiter(TokenBucket(rate=100, burst=5)), POLICY)
batch = async_gather([one_input(steps, i) for i in IDS[:30]], concurrency=4)
result = Simulation().run(batch)
print(result)
print("rows saved:", len(store.records), "of", len(IDS[:30]), "inputs")

# %% tags=["raises-exception"]
assert isinstance(result, Ok), (
    f"the batch is one Err; {len(store.records)} of 30 inputs were saved and nothing says what happened to the rest")

# %% [markdown]
# One error message for a batch of 30, some rows in the database, and no way to tell which inputs were
# never tried, which failed, and which were saved. The fix is `account_for`: every input's plan
# *settles* into an `Outcome`, so one failure cannot cancel the others, and `problems(ids)` checks the
# count.

# %%
http, store = ScriptedHttp(SCRIPTS, latency=0.01), FakeStorage()
steps = pipeline_steps(http, store, AsyncRateLimiter(TokenBucket(rate=100, burst=5)), POLICY)
accounted = Simulation().run(account_for(IDS[:30], steps, concurrency=4)).value
print(accounted.table())
assert accounted.problems(IDS[:30]) == [] and sorted(store.records) == sorted(accounted.saved)
print("problems:", accounted.problems(IDS[:30]), "| rows == saved:", sorted(store.records) == sorted(accounted.saved))

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("The pool has 16 connections and the shell gathers 300 requests at once. How many requests are in flight in the process?",
             ("16", "300", "it depends on the server"),
             1, "The pool bounds sockets, not work: 300 coroutines wait in its queue, timeouts ticking. Bound the work with concurrency=n."),
    Question("Where does the rate limiter's acquire() belong?",
             ("once per input, before the retried fetch", "inside the retried call, before each request", "after the save"),
             1, "A retry is a request too: the service's quota counts it, so every attempt pays a token."),
    Question("Item 050 answers 503 for ever. With max_attempts=3, how many requests does it cost, and how does it end?",
             ("1, fetch: HTTP_503", "3, fetch: HTTP_503", "3, saved"),
             1, "503 is retryable, so all 3 attempts are made; then the last Err is reported in the ledger."),
    Question("A fetched body is not a JSON object. What should the pipeline do?",
             ("retry it", "report BAD_JSON at once: the same request gets the same body", "save it as it is"),
             1, "A broken body is not transient; retrying costs requests and changes nothing."),
    Question("A save's reply is lost after the row was written, and the save is retried. What keeps the database right?",
             ("a longer timeout", "an idempotent save: an upsert on the record's key", "fewer retries"),
             1, "With an upsert the retry is a second write of the same row: writes > rows, rows == saved."),
    Question("Which check proves that no input was lost or reported twice?",
             ("rows == writes", "ledger.problems(ids) == []", "no exception was raised"),
             1, "One outcome per input, compared with the inputs: nothing lost, duplicated or invented."),
    Question("Why does this notebook print request counts but never timings or the port?",
             ("timings are secret", "counts are a pure function of the fault script; timings and ports change every run",
              "nbval cannot print numbers"),
             1, "Scripted faults make counts deterministic; the port is ephemeral and timings depend on the machine."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 08 · Async Service Integrations](../exercises/08_async_service_integrations.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does (see
# [the exercises README](../exercises/README.md)). It runs on fakes and virtual time — no server:
#
# 1. **Validate a reading** — `validate_reading(body)`: a pure function returning `Ok(record)` or the
#    first problem as `Err` with the right code.
# 2. **Write the steps of the pipeline** — `reading_steps(http, store, validate, policy)`: fetch →
#    validate → save, retried only where it may help, checked on generated fault scripts: every input
#    accounted for, the predicted requests, no duplicate rows.
# 3. **Reconcile a ledger with the database** — `reconcile(ids, ledger, keys)`: the ids that are lost,
#    reported twice, reported saved but not in the database, or in the database but not reported saved.
#
# ## On your own
#
# - Add `slow={"005": 2.0}` to `FAULTS` with the client's `timeout=0.2`. Predict the ledger line and
#   the requests for item 005 before you run it. Then look at `service.peak_connections`: why can it now
#   exceed the pool limit? (Hint: who still holds a connection the client abandoned?)
# - Give the rate limiter `rate=50`. What happens to the run's duration, and to every count it prints?
# - Put the limiter *outside* `async_retry` (once per input) and count tokens against requests. Which
#   invariant breaks?
# - Replace `SqliteStorage()` with `SqliteStorage(path)` for a file, run the pipeline twice, and compare
#   writes and rows after the second run. What does that say about re-running a batch that failed
#   halfway?
#
# ## Further reading
#
# - HTTPX, [Resource limits](https://www.python-httpx.org/advanced/resource-limits/) and
#   [Timeouts](https://www.python-httpx.org/advanced/timeouts/): pool limits and the four timeouts
#   (connect, read, write, pool).
# - SQLite, [UPSERT](https://www.sqlite.org/lang_upsert.html): `INSERT … ON CONFLICT DO UPDATE`, the
#   statement behind `SqliteStorage.save`.
# - Google SRE book, [Handling Overload](https://sre.google/sre-book/handling-overload/): client-side
#   throttling and why load from retries counts.
# - Stripe API, [Idempotent requests](https://docs.stripe.com/api/idempotent_requests): making a retried
#   write safe when you do not own the database.
# - Python docs, [`asyncio.to_thread`](https://docs.python.org/3/library/asyncio-task.html#asyncio.to_thread):
#   how a blocking library (here `sqlite3`) runs without blocking the event loop.
#
# ## Continue with
#
# **[09 · Async Chunking](09_async_chunking.ipynb)**: batching by size and by time, whichever comes first —
# one call to an expensive capability for many inputs, in order, and the latency/throughput trade-off
# as a plot. The ledger of this lesson comes with you: a batch of inputs still has to account for
# each one.

# %% [markdown]
# ---
# [← 07 Async Adapters](07_async_adapters.ipynb) · [Contents](00_module_overview.ipynb) · [09 Async Chunking →](09_async_chunking.ipynb)
