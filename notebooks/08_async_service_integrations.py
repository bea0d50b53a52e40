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
# Lesson 07 put a real library behind each port — `HttpxJsonClient` for HTTP, `SqliteStorage` for a
# database — and turned every library failure into `Err(ErrInfo)`. This lesson runs one pipeline,
# **fetch → validate → save**, for 300 ids against a **real service** on `127.0.0.1` that fails on
# purpose, with bounded concurrency, a rate limit, a connection pool and retries. The question is not
# "does it work on a good day?" but **"can I account for every input on a bad one?"**
#
# **What you'll do**
# - Fan out requests with plain `httpx` and `asyncio.gather`, watch an unbounded fan-out fail with
#   real pool timeouts, and bound it with an `asyncio.Semaphore`.
# - Write the whole batch by hand, then as `account_for` steps, and check they end the same way.
# - Predict every request the server sees from the fault script alone, and prove the pipeline's
#   laws with Hypothesis.
#
# **What you'll learn**
# - Where each resilience concern lives: retry, rate limit, bounded concurrency, pool limit, timeout.
# - `account_for(ids, steps, concurrency=n)` and `Ledger`: a batch that cannot lose an input.
# - How to keep tests of real sockets deterministic: count things, never time them.
#
# **What you'll need**
# - Lessons [04](04_retry_and_timeout_policies.ipynb) (`RetryPolicy`, `async_retry`),
#   [05](05_deterministic_async_testing.ipynb) (`Simulation`), [06](06_rate_limiting_and_fairness.ipynb)
#   (`AsyncRateLimiter`) and [07](07_async_adapters.ipynb) (ports, adapters, the fault table).
# - About 50 minutes. No network: the service listens on loopback only and stops when each cell ends.
#   Deep dives are in the appendix [further/08](further/08_async_service_integrations.ipynb).

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
#   ids["300 ids"] --> gate["at most 16 in flight"]
#   gate --> fetch["fetch: rate limit, pool, timeout, retry"]
#   fetch --> validate["validate: pure"]
#   validate --> save["save: upsert, retry"]
#   save --> ledger["Ledger: one Outcome per id"]
#   fetch -. Err .-> ledger
#   validate -. Err .-> ledger
# ```
#
# **Core question.** How do you connect async code to real services so that under faults the batch
# stays bounded, polite to the service, and **accounts for every input exactly once**?
#
# **Why it matters.** Integration code rarely crashes; it fails *quietly*: 300 ids in, 287 rows out,
# and nobody can say what happened to the other 13. A ledger that must add up turns that silence into
# a failing check.
#
# **The review question to carry:** *where is each input at the end — and which line guarantees that
# no input is lost, duplicated or left running?*

# %% [markdown]
# ## Set up
#
# The notebook is the **shell**: it starts the service, opens clients in `async with` blocks and
# drives plans with top-level `await` — on the kernel's real loop for the real service, and on a
# `Simulation` for the fakes.

# %%
import asyncio
import contextlib
from collections import Counter

import httpx
import matplotlib
from hypothesis import given, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    AsyncRateLimiter, Err, ErrInfo, ExponentialBackoff, FakeStorage, Faults, HttpClientCap, HttpxJsonClient,
    Ledger, LoopbackJsonService, Ok, Result, RetryPolicy, ScriptedHttp, Simulation, SqliteStorage,
    Step, StorageCap, TokenBucket, account_for, lesson_answer_key, api_summary, async_bind, async_from_result,
    async_gather, async_lift, async_retry, course_rc, format_table, max_window_cost, lesson_quiz, setup,
    show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | exactly once | one outcome per input: `ledger.problems(ids) == []` | [Run the pipeline under faults](#Run-the-pipeline-under-faults), Hypothesis |
# | law | plain = package | the hand-written batch and `account_for` end every input the same way, with the same requests | [Run the pipeline under faults](#Run-the-pipeline-under-faults) |
# | law | retries only where retryable | an input costs `min(failures + 1, max_attempts)` requests | [Predict every request](#Predict-every-request-from-the-fault-script), Hypothesis |
# | invariant | bounded | at most `concurrency` in flight; no request waits for a pooled connection | [Bound a fan-out by hand](#Bound-a-fan-out-by-hand), Hypothesis |
# | invariant | rate limited, nothing saved twice | every request pays a token; rows == saved inputs | [Run the pipeline under faults](#Run-the-pipeline-under-faults) |

# %% [markdown]
# ## Decide where each concern lives
#
# | concern | lives in | bounds | if it is missing |
# |---|---|---|---|
# | **retry** | `async_retry(step, policy)` around one step | attempts, only for retryable errors | one 503 loses an input |
# | **rate limit** | `await limiter.acquire()` before *each* request, retries included | requests per second | retries hit the service at full speed |
# | **bounded concurrency** | a `Semaphore`, or `account_for(..., concurrency=n)` | inputs in flight, tasks | every input at once: pool timeouts |
# | **pool limit** | `max_connections` of the client | sockets open at once | connections grow with load |
# | **timeout** | the client's `timeout` | one request's wait | a hung request holds a slot for ever |
#
# Which failures are retryable — 503, a dropped connection, a timeout: yes; 404, a broken body: no —
# is the adapter's table from [lesson 07](07_async_adapters.ipynb#Decide-where-each-exception-is-handled).

# %% [markdown]
# ## Read the public API

# %%
print(api_summary([LoopbackJsonService, Faults, HttpxJsonClient, SqliteStorage, account_for, Ledger]))

# %% [markdown]
# ## Start a service on loopback
#
# The catalogue: 300 items, ids `001` … `300`. Four are broken *in the data* (an empty title, a
# negative price, a price that is a string, no price), and two ids are missing. `LoopbackJsonService`
# serves it from a real HTTP server on an ephemeral port (so no cell prints its URL), started and
# stopped by a `with` block; `Faults` scripts its failures per item and per request (lesson 07).

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
# ## Bound a fan-out by hand
#
# The tempting shell: `asyncio.gather` over one request per id, all at once, through an
# `httpx.AsyncClient` whose pool holds 4 connections. Here every answer takes 0.5 s (`slow`) and a
# request may wait 0.1 s for a pooled connection (`Timeout(pool=0.1)`) — a service under load and a
# client that will not queue for ever. `gate` is what each request enters first.

# %%
SLOW = Faults(slow={i: 0.5 for i in IDS[:12]})
LIMITS, TIMEOUT = httpx.Limits(max_connections=4), httpx.Timeout(5.0, pool=0.1)

async def fan_out(service: LoopbackJsonService, ids: list[str], gate) -> Counter:
    async with httpx.AsyncClient(base_url=service.base_url, limits=LIMITS, timeout=TIMEOUT) as client:
        async def get(item: str) -> int | str:
            async with gate:
                try:
                    return (await client.get(f"/items/{item}")).status_code
                except httpx.TransportError as error:
                    return type(error).__name__
        return Counter(await asyncio.gather(*(get(i) for i in ids)))


# %% [markdown]
# **Predict:** 12 requests at once, no gate (`contextlib.nullcontext()`). How many reach the server?
# Then run.

# %%
with LoopbackJsonService(CATALOGUE, faults=SLOW) as service:
    unbounded = await fan_out(service, IDS[:12], contextlib.nullcontext())
    print("no gate:", dict(unbounded), "| requests the server saw:", sum(service.requests.values()))

# %% tags=["raises-exception"]
assert "PoolTimeout" not in unbounded, f"unbounded fan-out: {unbounded['PoolTimeout']} requests never left the process"

# %% [markdown]
# Four requests got a connection; the other eight waited in the pool's queue with their timeout
# running and failed with `httpx.PoolTimeout` — never sent. The pool bounds *sockets*, not *work*:
# every request was already in flight in this process. The fix bounds the work: an
# `asyncio.Semaphore(4)` lets a request into the client only when one of 4 permits is free.

# %%
with LoopbackJsonService(CATALOGUE, faults=SLOW) as service:
    bounded = await fan_out(service, IDS[:12], asyncio.Semaphore(4))
    print("Semaphore(4):", dict(bounded), "| requests the server saw:", sum(service.requests.values()),
          "| peak connections:", service.peak_connections)
assert "PoolTimeout" not in bounded

# %% [markdown]
# ## Validate before you save
#
# Validation is **pure**: a body in, a `Result` out — no I/O, so no adapter and no retry. A record
# has a non-empty string `id` and `title` and an integer `price ≥ 0` (a `bool` is not an integer
# here); the first problem wins. **Predict:** which code does each of the four broken records get?

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

for i in ("013", "026", "113", "213"):
    print(i, validate(CATALOGUE[i]).error.code)

# %% [markdown]
# ## Count outcomes by hand, then with account_for
#
# The real run's faults, scripted per item: 30 items answer 503 twice then recover (every 10th from
# 007), 2 answer 503 for ever (050, 150), 12 drop their first connection (every 25th from 003), and 2
# have a broken body (088, 188).

# %%
FAULTS = Faults(
    unavailable={**{f"{n:03d}": 2 for n in range(7, 301, 10)}, "050": 99, "150": 99},
    drop={f"{n:03d}": 1 for n in range(3, 301, 25)},
    malformed=frozenset({"088", "188"}),
)
print(len(FAULTS.unavailable), "items answer 503,", len(FAULTS.drop), "drop a connection,",
      len(FAULTS.malformed), "have a broken body")

# %% [markdown]
# The batch in plain asyncio: a `Semaphore` bounds the inputs in flight, a hand-written loop retries a
# 503 or a dropped connection up to 3 attempts with a doubling backoff, and every input ends as one
# string — `"saved"` or the step and code it failed with. (It leaves out the rate limiter: one
# `await limiter.acquire()` before each request.)

# %%
async def fetch_by_hand(client: httpx.AsyncClient, item: str) -> dict | str:
    for attempt in range(3):
        await asyncio.sleep(0 if attempt == 0 else 0.002 * 2 ** (attempt - 1))
        try:
            response = await client.get(f"/items/{item}")
        except httpx.TransportError:
            code = "HTTP_CONNECTION"                            # retryable: try again
            continue
        if response.status_code != 503:
            break
        code = "HTTP_503"
    else:
        return f"fetch: {code}"
    if response.status_code != 200:
        return f"fetch: HTTP_{response.status_code}"
    try:
        return response.json()
    except ValueError:
        return "fetch: BAD_JSON"


# %%
async def batch_by_hand(service: LoopbackJsonService, ids: list[str], concurrency: int) -> tuple[dict, dict]:
    gate, rows = asyncio.Semaphore(concurrency), {}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=service.base_url, limits=limits, timeout=5.0) as client:
        async def one(item: str) -> str:
            async with gate:
                body = await fetch_by_hand(client, item)
                if isinstance(body, str):
                    return body
                checked = validate(body)
                if isinstance(checked, Err):
                    return f"validate: {checked.error.code}"
                rows[item] = checked.value                      # "save"
                return "saved"
        ends = await asyncio.gather(*(one(i) for i in ids))
    return dict(zip(ids, ends)), rows


# %% [markdown]
# **Predict:** of the 300 ids, how many end `saved`? Count the faults that retrying cannot fix. Then run.

# %%
with LoopbackJsonService(CATALOGUE, faults=FAULTS) as service:
    by_hand, rows_by_hand = await batch_by_hand(service, IDS, concurrency=16)
    served_by_hand = service.requests
print(dict(Counter(by_hand.values()).most_common()))

# %% [markdown]
# It works — and it is all in one function: the retry rule, the bound, the classification and the
# bookkeeping are tangled, nothing can run without a server, and the only proof that every input was
# accounted for is `zip`.
#
# ## Describe the pipeline
#
# The same batch as a description: three named `Step`s built from *capabilities* (the ports of lesson
# 07), so they run against the real service or against fakes on virtual time. The rate limiter sits
# **inside** the retried call — a retry is a request too, and the quota counts it.

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
# `account_for(ids, steps, concurrency=n)` runs every id through the steps, at most `n` at a time (it
# is `async_gather` underneath), and turns each id's fate into one `Outcome`: saved, or failed at the
# first step that returned an `Err`. One id's failure never stops the others, and the `Ledger` has
# exactly one outcome per input, in input order.
#
# ## Run the pipeline under faults
#
# The shell opens the rate limiter (400 requests a second, bursts of 20), the HTTP client (a pool of
# 16) and the database, each for exactly the run, and drives the plan:

# %%
async def run_pipeline(service: LoopbackJsonService, ids: list[str]) -> tuple[Ledger, list[str], int, list]:
    limiter = AsyncRateLimiter(TokenBucket(rate=400, burst=20))
    async with HttpxJsonClient(service.base_url, max_connections=16) as http, SqliteStorage() as store:
        ledger = await account_for(ids, pipeline_steps(http, store, limiter, POLICY), concurrency=16)()
        keys = await store.keys()
    return ledger.value, keys.value, store.writes, limiter.admitted

before = asyncio.all_tasks()
with LoopbackJsonService(CATALOGUE, faults=FAULTS) as service:
    ledger, keys, writes, admitted = await run_pipeline(service, IDS)
    served = service.requests
print(ledger.table())
print("problems:", ledger.problems(IDS), "| server running:", service.running,
      "| open connections:", service.open_connections, "| tasks left:", len(asyncio.all_tasks() - before))

# %% [markdown]
# **Predict:** will the hand-written batch and the ledger disagree about any input, or about any
# request the server counted? The check, with the ledger's other invariants:

# %%
def ending(outcome) -> str:
    return "saved" if outcome.saved else f"{outcome.stage}: {outcome.error.code}"

assert by_hand == {o.item: ending(o) for o in ledger.outcomes} and served_by_hand == served
assert sorted(rows_by_hand) == keys == sorted(ledger.saved) and writes == len(keys)
assert len(admitted) == sum(served.values()) and max_window_cost(admitted, 1.0) <= 400 + 20
print(f"plain == account_for for all {len(IDS)} inputs and every request; rows {len(keys)} = saved = writes; "
      f"{len(admitted)} tokens for {len(admitted)} requests")

# %% [markdown]
# What the description adds: the steps are values you can run on fakes and virtual time (the
# Hypothesis section does, hundreds of times), the ledger is a record you can check, and
# `problems(ids)` is a single line that fails when an input is lost. What it costs: a layer to learn
# (`Step`, `account_for`, `Ledger`) and the `Result` plumbing. The failed inputs, one line each:

# %%
for outcome in ledger.failed:
    print(outcome, "—", outcome.error.message)

# %% [markdown]
# ## Predict every request from the fault script
#
# Faults are scripted per item and per request, so the requests the server sees for an item are a
# **pure function of the script and the policy**: request *n* fails while *n* ≤ the larger of its
# `drop` and `unavailable` counts, so it costs `min(failures + 1, max_attempts)` — and a 404 or a
# broken body ends it at once. **Predict:** how many requests in all? Then run.

# %%
def predicted_requests(item: str, faults: Faults, policy: RetryPolicy) -> int:
    failures = max(faults.drop.get(item, 0), faults.unavailable.get(item, 0))
    return min(failures + 1, policy.max_attempts)

per_input = Counter(served[f"/items/{i}"] for i in IDS)
mismatches = [i for i in IDS if served[f"/items/{i}"] != predicted_requests(i, FAULTS, POLICY)]
print("requests in all:", sum(served.values()), "| inputs by requests made:", dict(sorted(per_input.items())),
      "| mismatches with the prediction:", mismatches)

# %% [markdown]
# ## Plot what each input cost
#
# The figure splits each bar — inputs by the requests they cost — into saved and failed inputs (log
# scale, so a single failed input is visible next to hundreds). **Predict:** how many requests can a
# failed input have cost — and a saved one?

# %%
def plot_cost(ledger: Ledger, served: dict[str, int]) -> tuple[Figure, str]:
    cost = Counter((served[f"/items/{o.item}"], o.saved) for o in ledger.outcomes)
    attempts = sorted({n for n, _ in cost})
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(7, 3.6), layout="constrained")
        ax = fig.subplots()
        for shift, saved, hatch in ((-0.2, True, ""), (0.2, False, "//")):
            bars = ax.bar([n + shift for n in attempts], [cost[n, saved] for n in attempts], width=0.4,
                          hatch=hatch, edgecolor="0.2", label="saved" if saved else "failed, named in the ledger")
            ax.bar_label(bars)
        ax.set(xticks=attempts, yscale="log", xlabel="requests the server saw for the input", ylabel="inputs (log)")
        ax.legend()
    summary = "; ".join(f"{n} request(s): {cost[n, True]} saved, {cost[n, False]} failed" for n in attempts)
    return fig, summary

fig, summary = plot_cost(ledger, served)
show_figure(fig, alt="Bars of inputs by requests made, saved and failed side by side. " + summary)
print(summary)

# %% [markdown]
# ## Prove the pipeline's laws with Hypothesis
#
# The real run checks one fault script. To check *every* script, run the same `pipeline_steps` against
# fakes on virtual time: `ScriptedHttp` (answers scripted per item and per request, 10 ms each; it
# counts requests in flight) and `FakeStorage`. A script entry is a retryable `503` or `drop`, a
# non-retryable `404` or `broken` body, or a `good` or `invalid` record.

# %%
ANSWERS = {"503": ErrInfo("HTTP_503", "unavailable", retryable=True),
           "drop": ErrInfo("HTTP_CONNECTION", "dropped", retryable=True),
           "404": ErrInfo("HTTP_404", "not found"), "broken": ErrInfo("BAD_JSON", "not a JSON object")}

def body(item: str, entry: str) -> object:
    if entry in ("good", "invalid"):
        return {"id": item, "title": f"item {item}", "price": 1 if entry == "good" else -1}
    return ANSWERS[entry]

def expected(script: list[str], policy: RetryPolicy) -> tuple[str, int]:
    """How an input with this script ends, and how many requests it costs."""
    for n in range(1, policy.max_attempts + 1):
        entry = script[min(n, len(script)) - 1]
        if entry not in ("503", "drop"):             # not retryable, or an answer: the input ends here
            break
    ends = {"good": "saved", "invalid": "validate: BAD_VALUE"}.get(entry) or f"fetch: {ANSWERS[entry].code}"
    return ends, n


# %% [markdown]
# For every drawn script and concurrency: every input is accounted for once, ends as its script says,
# costs the predicted requests, and no more than `concurrency` requests are ever in flight.
# **Predict** with `expected`: how does an input scripted `["503", "503", "503", "good"]` end, and
# after how many requests? Then run the property.

# %%
EXAMPLES = Counter()
ENTRIES = ["503", "drop", "404", "broken", "good", "invalid"]

@given(scripts=st.dictionaries(st.sampled_from([f"{n:03d}" for n in range(12)]),
                               st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=4), max_size=12),
       concurrency=st.integers(1, 6))
def pipeline_accounts_for_every_input_exactly_once(scripts, concurrency) -> None:
    EXAMPLES["pipeline"] += 1
    ids = sorted(scripts)
    http, store = ScriptedHttp({i: [body(i, e) for e in s] for i, s in scripts.items()}, latency=0.01), FakeStorage()
    steps = pipeline_steps(http, store, AsyncRateLimiter(TokenBucket(rate=100, burst=5)), POLICY)
    ledger = Simulation().run(account_for(ids, steps, concurrency=concurrency)).value
    assert ledger.problems(ids) == [] and sorted(store.records) == sorted(ledger.saved)
    for outcome in ledger.outcomes:
        assert (ending(outcome), len(http.services[outcome.item].calls)) == expected(scripts[outcome.item], POLICY)
    assert http.peak <= concurrency

pipeline_accounts_for_every_input_exactly_once()
print(f"exactly once, the scripted end, the predicted requests, at most `concurrency` in flight: "
      f"{EXAMPLES['pipeline']} examples")

# %% [markdown]
# ## Measure the cost
#
# | operation | time | memory / resources |
# |---|---|---|
# | describing the pipeline | O(n) to list the inputs | O(n) plans, nothing running |
# | requests to the service | n without faults; at most `n × max_attempts` | — |
# | writes to the database | one per saved input, plus one per retried save | rows = saved inputs (upsert) |
# | inputs and tasks in flight | — | at most `concurrency` (plus the driver) |
# | the ledger | O(n) to build and to check | one `Outcome` per input |
#
# **Predict:** with `concurrency=16`, how many tasks are alive at the peak for 100 inputs, and for
# 3,000? Measured on fakes and virtual time:

# %%
async def peak_tasks(n: int) -> list[int]:
    http = ScriptedHttp({f"{k:05d}": [body(f"{k:05d}", "good")] for k in range(n)}, latency=0.01)
    store, seen = FakeStorage(), Counter()
    class Watching:                                          # a StorageCap that looks at the task count
        async def save(self, key, record):
            seen["tasks"] = max(seen["tasks"], len(asyncio.all_tasks()))
            return await store.save(key, record)
    steps = pipeline_steps(http, Watching(), AsyncRateLimiter(TokenBucket(rate=10_000, burst=100)), POLICY)
    ledger = (await account_for(sorted(http.services), steps, concurrency=16)()).value
    return [n, len(ledger.saved), http.peak, seen["tasks"]]

print(format_table(["inputs", "saved", "requests in flight (peak)", "tasks alive (peak)"],
                   [Simulation().run(peak_tasks(n)) for n in (100, 1_000, 3_000)]))


# %% [markdown]
# Thirty times the inputs, the same 16 in flight and the same 17 tasks (16 workers and the driver).
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | unbounded fan-out: `asyncio.gather` over every id | pool timeouts: requests fail without being sent | a `Semaphore` or `account_for(..., concurrency=n)` — [failing and fixed above](#Bound-a-fan-out-by-hand) |
# | a batch that loses its failures | one error for the batch; no one can say what happened to each input | one outcome per input: `account_for` |
# | retrying a non-idempotent save | a lost reply makes the retry insert the record twice | an upsert on a key (lesson 07's `SqliteStorage`) — failing and fixed in [further/08](further/08_async_service_integrations.ipynb) |
#
# ### A batch that loses its failures
#
# The other tempting shell runs the batch as one `async_gather` of per-input chains — and
# `async_gather` fails fast ([lesson 07](07_async_adapters.ipynb#Know-what-fails-fast)):
# the first `Err` is the result of the whole batch. **Predict:** 30 inputs, every 7th missing — how
# many rows, and what does the result tell you about the others?

# %%
SCRIPTS = {f"{n:03d}": [body(f"{n:03d}", "good" if n % 7 else "404")] for n in range(1, 31)}
http, store = ScriptedHttp(SCRIPTS, latency=0.01), FakeStorage()
(_, fetch), (_, check), (_, save) = pipeline_steps(http, store, AsyncRateLimiter(TokenBucket(rate=100, burst=5)), POLICY)
result = Simulation().run(async_gather([async_bind(fetch(i), lambda b: async_bind(check(b), save)) for i in SCRIPTS],
                                       concurrency=4))
print(result, "| rows:", len(store.records))

# %% tags=["raises-exception"]
assert isinstance(result, Ok), f"one Err for a batch of 30; {len(store.records)} rows, and nothing says what happened to the rest"

# %% [markdown]
# The fix is the ledger: every input's plan *settles* into an `Outcome`, so one failure cannot cancel
# the others.

# %%
http, store = ScriptedHttp(SCRIPTS, latency=0.01), FakeStorage()
steps = pipeline_steps(http, store, AsyncRateLimiter(TokenBucket(rate=100, burst=5)), POLICY)
accounted = Simulation().run(account_for(list(SCRIPTS), steps, concurrency=4)).value
assert accounted.problems(list(SCRIPTS)) == [] and sorted(store.records) == accounted.saved
print(accounted.table())

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("08")

# %%
lesson_answer_key("08")

# %% [markdown]
# ## Exercise
#
# **[Exercise 08 · Async Service Integrations](../exercises/08_async_service_integrations.ipynb)**
# (10 points, with a **Check your work** cell; see [the exercises README](../exercises/README.md)). It
# runs on fakes and virtual time:
#
# 1. **Validate a reading** — `validate_reading(body)`: a pure function, `Ok(record)` or the first problem.
# 2. **Write the steps of the pipeline** — `reading_steps(http, store, validate, policy)`, checked on
#    generated fault scripts.
# 3. **Reconcile a ledger with the database** — `reconcile(ids, ledger, keys)`: what is lost, reported
#    twice, or disagrees with the database.
#
# ## On your own
#
# - Add `slow={"005": 2.0}` to `FAULTS` with the client's `timeout=0.2`. Predict item 005's ledger line
#   and requests, then look at `service.peak_connections`: why can it now exceed the pool?
# - Move the limiter *outside* `async_retry` (once per input) and count tokens against requests. Which
#   assertion breaks?
# - Give `batch_by_hand` a second retry rule (retry 502 too). How many places must change, and how
#   many in `pipeline_steps`?
#
# ## Further reading
#
# - HTTPX, [Resource limits](https://www.python-httpx.org/advanced/resource-limits/) and
#   [Timeouts](https://www.python-httpx.org/advanced/timeouts/) (connect, read, write, **pool**).
# - Google SRE book, [Handling Overload](https://sre.google/sre-book/handling-overload/): client-side
#   throttling and why load from retries counts.
# - Stripe API, [Idempotent requests](https://docs.stripe.com/api/idempotent_requests): a retried
#   write made safe when you do not own the database.
# - Python docs, [`asyncio.Semaphore`](https://docs.python.org/3/library/asyncio-sync.html#asyncio.Semaphore).
#
# ## Continue with
#
# **[09 · Async Chunking](09_async_chunking.ipynb)**: one call to an expensive capability for many
# inputs — batching by size or time — where every input still has to be accounted for.

# %% [markdown]
# ---
# [← 07 Async Adapters](07_async_adapters.ipynb) · [Contents](00_module_overview.ipynb) · [09 Async Chunking →](09_async_chunking.ipynb)
