# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 06 Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb) · [Contents](00_module_overview.ipynb) · [08 Async Service Integrations →](08_async_service_integrations.ipynb)
#
# # 07 · Async Adapters
#
# Sooner or later a pipeline talks to the world: an HTTP API, a database, a blocking model. This
# lesson draws one line, the **port**: core code depends on a small `Protocol`, and an **adapter**
# behind it is the only code that knows the library. The adapter turns exceptions into
# `Err(ErrInfo)`, owns the resource's lifetime with `async with`, and keeps blocking calls off the
# event loop. One **contract** runs against a fake and the real adapter, so a test with the fake
# tells the truth about production.
#
# **What you'll do**
# - Call a real HTTP server with httpx directly, then through a port, and prove both (and a fake)
#   give the same answers.
# - See `async_gather` fail fast; run one contract against a fake, the adapter and a wrong fake.
# - Break three things on purpose and fix each.
#
# **What you'll learn**
# - `httpx.AsyncClient` with `async with`, a timeout, pool limits and `raise_for_status`.
# - Ports as `typing.Protocol`s; the adapters `HttpxJsonClient` and `ThreadedEmbedder`
#   (`asyncio.to_thread`); `FakeHttp`; `Clause` and `run_contract`.
# - Which failures become `Err`, which are retryable, and why a bug is neither.
#
# **What you'll need**
# - Lessons [01](01_async_await_as_descriptions.ipynb) (`AsyncPlan`, `Result`, the shell),
#   [04](04_retry_and_timeout_policies.ipynb) (retryable errors) and
#   [05](05_deterministic_async_testing.ipynb) (fakes, virtual time).
# - About 50 minutes. Nothing leaves your machine: the server listens on loopback only. Deep dives
#   (SQLite storage, `MockTransport`, more proofs) are in the optional
#   [07 · going further](further/07_async_adapters.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart LR
#   core["core: plans over ports<br/>(no httpx, no sqlite3)"] -->|"HttpClientCap / StorageCap / EmbeddingCap"| port(("port"))
#   port --> fake["fakes: FakeHttp, FakeStorage"]
#   port --> adapter["adapters: HttpxJsonClient, SqliteStorage, ThreadedEmbedder"]
#   adapter -->|"exceptions → Err(ErrInfo)<br/>async with → lifetime<br/>to_thread → loop stays free"| world["the world"]
#   contract["one contract"] -.-> fake
#   contract -.-> adapter
# ```
#
# Core code sees only the port; behind it a fake (for tests) and an adapter (for production) keep
# the same contract. The capstone (lesson 12) embeds documents through such a port.
#
# **Core question.** How does async core code use HTTP, databases and blocking libraries without
# depending on them — every expected failure a value, every resource released, the loop never
# frozen, and a test with a fake as good as a run against the real thing?
#
# **Why it matters.** Incidents start at the boundary: one unhandled `ConnectError` kills a batch
# of ten thousand, a forgotten `aclose()` leaks sockets, a blocking SDK call stalls every request.
#
# **The review question to carry:** *where does this code touch the world — and is that place an
# adapter behind a port that converts failures, owns its resources and passes the fake's contract?*

# %% [markdown]
# ## Set up
#
# Real sockets and threads: most cells `await` on the kernel's own loop (the notebook is the
# shell) and print counts, codes and ledgers, never timings or port numbers. Cells with only fakes
# and timers use `Simulation`.

# %%
import asyncio
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import matplotlib
from hypothesis import given, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    AsyncPlan, Clause, Err, ErrInfo, FakeHttp, Faults, HttpClientCap, HttpxJsonClient, LoopbackJsonService,
    Ok, Result, Simulation, ThreadedEmbedder, lesson_answer_key, api_summary, async_gather, async_lift,
    classify_status, course_rc, format_table, hash_embedding, lesson_quiz, run_contract, setup, show_figure,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | plain ≡ port | httpx used directly, `HttpxJsonClient` behind a port and a fake give the same ledger | [Put the same calls behind a port](#Put-the-same-calls-behind-a-port) |
# | invariant | the boundary converts | every expected failure comes back as `Err(ErrInfo)`, never an exception | [Anti-pattern 2](#Anti-pattern-2:-an-exception-escaping-the-boundary) |
# | law | the classification | `classify_status(s)` is `HTTP_s`, retryable exactly for 408, 425, 429, 500, 502, 503, 504 | Hypothesis — [Prove the classification law](#Prove-the-classification-law-with-Hypothesis) |
# | invariant | defects propagate | a bug inside an adapter is never turned into `Err` | [Let a defect crash](#Let-a-defect-crash) |
# | invariant | fake ≡ real | fake and adapter pass one contract; a wrong fake fails it | [Run one contract](#Run-one-contract-against-the-fake-and-the-real-adapter) |
# | invariant | lifetimes | a client works only inside `async with`; after it the server holds 0 connections | [Anti-pattern 3](#Anti-pattern-3:-a-client-never-closed) |
# | invariant | the loop stays free | a blocking library runs in a worker thread | [Anti-pattern 1](#Anti-pattern-1:-a-blocking-call-on-the-loop) |
# | invariant | the pool bounds connections | at most `max_connections` are open at once | [Count what a connection costs](#Count-what-a-connection-costs) |

# %% [markdown]
# ## Decide where each exception is handled
#
# | exception | example | where it is handled | becomes |
# |---|---|---|---|
# | the world failed, retrying may help | 503, timeout, dropped connection | in the adapter, narrowly (`except httpx.TransportError`) | `Err(..., retryable=True)` |
# | the world said no | 404, a body that is not JSON | in the adapter | `Err(..., retryable=False)` |
# | our bug | `KeyError`, `TypeError` | nowhere: let it propagate | a crash with a traceback |
# | cancellation | `CancelledError` | nowhere: let it propagate | the task stops |
# | shell misuse | a client used outside its `async with` | nowhere: the adapter raises `RuntimeError` | a crash naming the fix |
#
# Never `except Exception` in an adapter: it converts bugs.

# %% [markdown]
# ## Read the public API
#
# A port is a `Protocol`: a class satisfies it by having the right methods, with no inheritance.
# `HttpClientCap` promises one thing: `await http.get_json(url)` gives `Ok(json_object)` or
# `Err(ErrInfo)`.

# %%
print(api_summary([HttpxJsonClient, FakeHttp, ThreadedEmbedder, LoopbackJsonService,
                   Faults, run_contract, Clause]))

# %% [markdown]
# ## Call a service with httpx directly
#
# `LoopbackJsonService` is a real JSON server on `127.0.0.1` whose faults are scripted per item:
# item 3 answers **503** once, item 4's connection is **dropped** once, item 6's body is **not
# JSON**, item 9 does not exist (**404**). Here is the plain form, httpx used directly. Read it for
# four things: `async with` gives the client (and its connection pool) a lifetime; the pool and the
# timeout are set once; `raise_for_status()` turns any status that is not 2xx into an exception;
# and every failure is caught where the call is made.

# %%
async def plain_titles(base_url: str, ids: list[str]) -> list[str]:
    """httpx directly: one ledger line per item, its title or what went wrong."""
    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(base_url=base_url, timeout=0.5, limits=limits) as client:
        async def one(item: str) -> str:
            try:
                response = await client.get(f"/items/{item}")
                response.raise_for_status()
                return f"{item}: {response.json()['title']}"
            except httpx.HTTPStatusError as error:
                return f"{item}: HTTP_{error.response.status_code}"
            except httpx.TimeoutException:
                return f"{item}: HTTP_TIMEOUT"
            except httpx.TransportError:
                return f"{item}: HTTP_CONNECTION"
            except ValueError:                         # json.JSONDecodeError
                return f"{item}: BAD_JSON"
        return list(await asyncio.gather(*(one(i) for i in ids)))

# %% [markdown]
# **Predict:** what does each of the five items become? Then run.

# %%
ITEMS = {str(i): {"id": str(i), "title": f"item {i}", "price": 10 * i} for i in range(1, 7)}
FAULTS = Faults(unavailable={"3": 1}, drop={"4": 1}, malformed=frozenset({"6"}))
BATCH = ["1", "3", "4", "6", "9"]

with LoopbackJsonService(ITEMS, faults=FAULTS) as service:
    plain = await plain_titles(service.base_url, BATCH)
print(plain)

# %% [markdown]
# Every line is right. But the `try/except` ladder belongs to this one function — the next caller
# must repeat it — and it only runs against a real server: a test needs sockets.
#
# ## Put the same calls behind a port
#
# `title_ledger` is core code. Its first parameter is the port; it imports no HTTP library. The
# `try/except` ladder lives once, in the adapter `HttpxJsonClient`, which returns `Err(ErrInfo)`
# with a stable `code` and a `retryable` flag (lesson 04's retry policies read it).

# %%
def title_ledger(http: HttpClientCap, ids: list[str]) -> AsyncPlan[list[str]]:
    """A plan: fetch every item and say what happened to each — its title or its error code."""
    async def one(item: str) -> Result[str, ErrInfo]:
        result = await http.get_json(f"/items/{item}")
        return Ok(f"{item}: {result.value['title']}" if isinstance(result, Ok) else f"{item}: {result.error.code}")
    return async_gather([async_lift(lambda i=i: one(i)) for i in ids], concurrency=4)

with LoopbackJsonService(ITEMS, faults=FAULTS) as service:
    async with HttpxJsonClient(service.base_url, max_connections=4, timeout=0.5) as http:
        ported = await title_ledger(http, BATCH)()
print(ported)
assert ported == Ok(plain)

# %% [markdown]
# The same ledger, line for line. Now what the port buys: the same core function runs **without a
# network**. `FakeHttp` answers from a dict and returns scripted `ErrInfo`s; it suspends like a
# network call, so `Simulation` drives it on virtual time.
#
# **Predict:** does building the plan call the fake? Then run.

# %%
SCRIPTED = {"/items/3": classify_status(503, "Service Unavailable"),
            "/items/4": ErrInfo("HTTP_CONNECTION", "RemoteProtocolError", retryable=True),
            "/items/6": ErrInfo("BAD_JSON", "the body is not JSON")}
RESPONSES = {f"/items/{k}": v for k, v in ITEMS.items()}
fake = FakeHttp(RESPONSES, failures=SCRIPTED)
plan = title_ledger(fake, BATCH)
print("calls before driving:", fake.calls)
assert Simulation().run(plan) == Ok(plain)
print("calls after driving: ", fake.calls)

# %% [markdown]
# **What the port adds:** the conversion written once; core code you can test on virtual time with
# a fake; and a contract (below) that keeps the fake honest. **What it costs:** a `Protocol`, an
# adapter class and a fake to maintain, and an `Err` to check where the plain form would have
# raised. The plain form is what the adapter contains; write it there, once.
#
# ## Know what fails fast
#
# `title_ledger` returns `Ok` for **every** item, even a failed one. Why? Because `async_gather`
# **fails fast**: the first `Err` (in time) fails the whole gather and cancels the plans still
# running; an exception does the same and propagates. This is taught once, here; later lessons
# link back.
#
# **Predict:** four items take 1, 2, 3 and 4 s; the one at 2 s fails. What does the gather return,
# when, and which items finished? Then run.

# %%
SPEC = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]

async def item(name: str, seconds: float, finished: list[str], raise_it: bool = False) -> Result[str, ErrInfo]:
    await asyncio.sleep(seconds)
    if name == "b" and raise_it:
        raise ConnectionError("b: connection dropped")
    if name == "b":
        return Err(ErrInfo("HTTP_503", "b is unavailable", retryable=True))
    finished.append(name)
    return Ok(name)

finished, sim = [], Simulation()
plans = [async_lift(lambda n=n, s=s: item(n, s, finished)) for n, s in SPEC]
print(sim.run(async_gather(plans, concurrency=4)), "at t =", sim.now, "— finished:", finished)

# %% [markdown]
# `Err` at t = 2; `c` and `d` were cancelled. `asyncio.TaskGroup` cancels the siblings too when one
# raises. Plain `asyncio.gather` does **not**: it re-raises the first exception and leaves the
# others running. **Predict:** which items have finished 5 s after it raised?

# %%
async def plain_gather() -> list[str]:
    finished: list[str] = []
    try:
        await asyncio.gather(*(item(n, s, finished, raise_it=True) for n, s in SPEC))
    except ConnectionError:
        print("asyncio.gather raised at t =", asyncio.get_running_loop().time())
    await asyncio.sleep(5)                          # do the others keep running?
    return finished

print("finished by t = 7:", Simulation().run(plain_gather()))

# %% [markdown]
# `c` and `d` ran on, unobserved. Fail-fast is right for "all or nothing"; for a batch where each
# item stands alone, make each item's outcome a value — a ledger line — as `title_ledger` does.
#
# ## Let a defect crash
#
# The boundary converts *expected* failures. A **defect** — a bug — must crash: as an `Err` it would
# hide behind a retry or a "skipped item" line. **Predict:** `ThreadedEmbedder`, the adapter for a
# blocking model, meets a model server that is down, then a `KeyError` inside the library. Which
# becomes an `Err`? Then run.

# %%
def model_server_down(text: str) -> list[float]:
    raise ConnectionRefusedError("model server at :8501 refused")

def model_with_a_bug(text: str) -> list[float]:
    return [{"hello": 1.0}[word] for word in text.split()]     # KeyError for any other word: a bug

print(await ThreadedEmbedder(model_server_down, model_name="m").embed("hello world"))

# %% tags=["raises-exception"]
await ThreadedEmbedder(model_with_a_bug, model_name="m").embed("hello world")

# %% [markdown]
# ## Run one contract against the fake and the real adapter
#
# A **contract test** writes the port's promises once, as `Clause`s (async functions that call the
# port and assert); `run_contract(clauses, implementations)` runs every clause against a fresh
# instance of each, opened with `async with`. Two clauses, and the worlds they run in:

# %%
async def existing_items_are_ok(http: HttpClientCap) -> None:
    for key in ("1", "2"):
        result = await http.get_json(f"/items/{key}")
        assert result == Ok(ITEMS[key]), f"/items/{key}: expected its JSON body, got {result!r}"

async def faults_are_classified_errs(http: HttpClientCap) -> None:
    for key, code, retryable in (("3", "HTTP_503", True), ("4", "HTTP_CONNECTION", True), ("6", "BAD_JSON", False)):
        result = await http.get_json(f"/items/{key}")
        assert isinstance(result, Err) and (result.error.code, result.error.retryable) == (code, retryable), \
            f"/items/{key}: expected Err({code}, retryable={retryable}), got {result!r}"

HTTP_CONTRACT = [Clause("an existing item is Ok with its body", existing_items_are_ok),
                 Clause("503, a drop, a broken body: classified Errs", faults_are_classified_errs)]

# %%
@asynccontextmanager
async def real_world():
    with LoopbackJsonService(ITEMS, faults=Faults(unavailable={"3": 99}, drop={"4": 99}, malformed=frozenset({"6"}))) as service:
        async with HttpxJsonClient(service.base_url) as http:
            yield http

@asynccontextmanager
async def fake_world():
    yield FakeHttp(RESPONSES, failures=SCRIPTED)

@asynccontextmanager
async def wrong_fake():                 # someone scripted the drop as a 503
    yield FakeHttp(RESPONSES, failures=SCRIPTED | {"/items/4": classify_status(503, "Service Unavailable")})

# %% [markdown]
# **Predict:** which implementation fails which clause? Then run.

# %%
report = await run_contract(HTTP_CONTRACT, {"FakeHttp": fake_world, "HttpxJsonClient + server": real_world,
                                            "wrong fake": wrong_fake})
print(report.table())
print(report.explain())

# %% [markdown]
# The fake and the real adapter pass every clause, so a test with the fake tells the truth; the
# wrong fake is caught, by clause and item. Run the contract in CI and the fake stays honest. The package's `StorageCap` has its contract too
# (`STORAGE_CONTRACT`), run against `FakeStorage` and SQLite in
# [going further](further/07_async_adapters.ipynb).
#
# ## Prove the classification law with Hypothesis
#
# One law fixes what every status becomes: `HTTP_<status>`, retryable exactly for the statuses
# that may succeed later. 501 *Not Implemented* is a 5xx that is **not** retryable.

# %%
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}

@given(st.integers(100, 599).filter(lambda s: not 200 <= s < 300))
def classification_law(status: int) -> None:
    info = classify_status(status, "reason")
    assert info.code == f"HTTP_{status}" and info.retryable == (status in RETRYABLE)

classification_law()
print("classification law holds for every generated status")

# %% [markdown]
# ## Count what a connection costs
#
# A new connection costs a TCP handshake (on HTTPS, TLS too). A pooled client reuses its
# connections (keep-alive); a client per request pays every time.
#
# | pattern, *n* requests | requests | connections opened | open at once |
# |---|---|---|---|
# | one pooled client, sequential | O(*n*) | O(1) | 1 |
# | a new client per request | O(*n*) | O(*n*) | 1 (sequential) … *n* (concurrent) |
# | one pooled client, concurrent, `max_connections=k` | O(*n*) | O(*k*) | ≤ *k* |
# | an adapter call | O(1) extra: one classification, a dict lookup | | |
#
# **Predict:** for *n* = 3 and *n* = 9, how many connections does the server accept from each
# pattern? Then run.

# %%
async def pooled(base: str, n: int) -> None:
    async with HttpxJsonClient(base) as http:
        for i in range(n):
            await http.get_json(f"/items/{i % 6 + 1}")

async def client_per_request(base: str, n: int) -> None:
    for i in range(n):
        async with HttpxJsonClient(base) as http:
            await http.get_json(f"/items/{i % 6 + 1}")

rows = []
for n in (3, 9):
    for pattern in (pooled, client_per_request):
        with LoopbackJsonService(ITEMS) as service:
            await pattern(service.base_url, n)
            rows.append([pattern.__name__, n, sum(service.requests.values()), service.connections_opened])
print(format_table(["pattern", "n", "requests", "connections opened"], rows))

# %% [markdown]
# Connections grow with *n* only when clients are not reused. And the pool is a bound: 12
# concurrent requests, each answered after 0.1 s, through `max_connections=4`:

# %%
with LoopbackJsonService(ITEMS, faults=Faults(slow={k: 0.1 for k in ITEMS})) as service:
    async with HttpxJsonClient(service.base_url, max_connections=4) as http:
        results = await asyncio.gather(*(http.get_json(f"/items/{i % 6 + 1}") for i in range(12)))
    print(f"{sum(isinstance(r, Ok) for r in results)} Ok answers; connections opened: "
          f"{service.connections_opened}, peak open: {service.peak_connections}")

# %% [markdown]
# ## Fix the anti-patterns
#
# ### Anti-pattern 1: a blocking call on the loop
#
# A loop runs one thing at a time: while a coroutine runs without awaiting, nothing else runs. A
# blocking call (`requests.get`, a model's `encode`, `time.sleep`) in an `async def` freezes every
# task. To see it, a **heartbeat** ticks every 10 ms while a "model" blocks for 0.2 s (real time:
# under `Simulation` a worker thread takes no virtual time).
#
# **Predict:** how many times does the heartbeat tick during the 0.2 s call? Then run.

# %%
def slow_model(text: str) -> list[float]:
    """A stand-in for a blocking library: 0.2 s of work, then a vector."""
    time.sleep(0.2)
    return hash_embedding(text)

async def heartbeat_during(work) -> tuple[list[float], float]:
    """Times a 10 ms heartbeat ticked, relative to the start of `work()`, and how long it ran."""
    loop, ticks = asyncio.get_running_loop(), []
    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks.append(loop.time())
    async with asyncio.TaskGroup() as group:
        beat = group.create_task(heartbeat())
        start = loop.time()
        await work()
        took = loop.time() - start
        await asyncio.sleep(0.05)                   # then let the heartbeat run alone
        beat.cancel()
    return [t - start for t in ticks], took

async def embed_on_the_loop() -> Result[tuple[float, ...], ErrInfo]:
    return Ok(tuple(slow_model("hello")))           # looks async; blocks the loop for 0.2 s

on_loop, took = await heartbeat_during(embed_on_the_loop)
during = sum(0 <= t < took for t in on_loop)
print("heartbeat ticks while the model ran on the loop:", during)

# %% tags=["raises-exception"]
assert during > 0, "the heartbeat never ticked: the blocking call froze the event loop"

# %% [markdown]
# The fix: run the library in a worker thread with `asyncio.to_thread`, as `ThreadedEmbedder` does,
# so the loop keeps serving other tasks. (A thread cannot be cancelled, and it does not make
# pure-Python CPU work faster — for that, a process pool.)

# %%
threaded = ThreadedEmbedder(slow_model, model_name="slow-model")
in_thread, took_threaded = await heartbeat_during(lambda: threaded.embed("hello"))
assert sum(0 <= t < took_threaded for t in in_thread) > 0
print("heartbeat kept ticking while the model ran in a thread: True")

# %% [markdown]
# The figure shows *when* the loop stood still, which the counts do not: each tick as a mark on
# real time, the model call shaded.

# %%
def plot_heartbeats(rows: list[tuple[str, list[float], float]]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(9, 2.4), layout="constrained")
        ax = fig.add_subplot()
        for y, (label, ticks, took) in enumerate(rows):
            ax.broken_barh([(0, 1000 * took)], (y - 0.3, 0.6), color="0.85")
            ax.plot([1000 * t for t in ticks], [y] * len(ticks), "|", color="black", markersize=18)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows])
        ax.set_xlabel("real time from the start of the model call (ms); grey: the call")
        ax.set_title("A 10 ms heartbeat while a model works for 200 ms")
    return fig

show_figure(plot_heartbeats([("on the loop", on_loop, took), ("in a thread", in_thread, took_threaded)]),
            alt="Heartbeat ticks over time: none during the call on the loop, steady ticks during it in a thread.")
print("on the loop: no tick during the call, ticks resume only after it; in a thread: ticks all through the call")

# %% [markdown]
# ### Anti-pattern 2: an exception escaping the boundary
#
# An "adapter" that satisfies the port's *signature* but not its promise: it returns `Ok` on
# success and lets every failure raise.

# %%
class LeakyHttp:
    """Wrong: an HttpClientCap whose failures escape as exceptions."""
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        response = await self.client.get(url)
        response.raise_for_status()
        return Ok(response.json())

# %% [markdown]
# **Predict:** `title_ledger` over six items, one connection dropped. How many ledger lines? Then run.

# %%
batch = ["1", "2", "3", "4", "5", "6"]
with LoopbackJsonService(ITEMS, faults=Faults(drop={"4": 1})) as service:
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        try:
            outcome = await title_ledger(LeakyHttp(client), batch)()
        except httpx.TransportError as error:
            outcome = f"{type(error).__name__} escaped"
print("with LeakyHttp:", outcome)

# %% tags=["raises-exception"]
assert isinstance(outcome, Ok) and len(outcome.value) == len(batch), (
    f"one bad item must not sink the batch: the ledger should have {len(batch)} lines, got {outcome!r}")

# %% [markdown]
# One dropped connection and the batch is gone: `async_gather` fails fast on the exception,
# cancels the other requests and re-raises — no record of which item failed. (Catching `Exception`
# in core instead would swallow real bugs too.) The fix belongs in the adapter:

# %%
with LoopbackJsonService(ITEMS, faults=Faults(drop={"4": 1})) as service:
    async with HttpxJsonClient(service.base_url) as http:
        outcome = await title_ledger(http, batch)()
assert isinstance(outcome, Ok) and len(outcome.value) == len(batch)
print("with HttpxJsonClient:", outcome)

# %% [markdown]
# ### Anti-pattern 3: a client never closed
#
# A helper that makes a client and forgets it. It returns the right answer — but the pool keeps its
# connection open after the work is done. (The cell keeps a reference, to close it after counting.)

# %%
forgotten: list[httpx.AsyncClient] = []

async def fetch_and_forget(base: str, ids: list[str]) -> list[str]:
    client = httpx.AsyncClient(base_url=base)            # never closed
    forgotten.append(client)                             # (only so this cell can clean up)
    return [(await client.get(f"/items/{i}")).json()["title"] for i in ids]

with LoopbackJsonService(ITEMS) as service:
    print(await fetch_and_forget(service.base_url, ["1", "2", "3"]))
    await asyncio.sleep(0.1)                             # long after the work finished …
    still_open = service.open_connections
    for client in forgotten:
        await client.aclose()
print("connections the server still held:", still_open)

# %% tags=["raises-exception"]
assert still_open == 0, f"the work is done, yet {still_open} connection is still open: nobody closed the client"

# %% [markdown]
# One socket per forgotten client, until the process hits its file limit. The fix: the client's
# lifetime is a block the shell owns. `HttpxJsonClient` closes its pool however the block ends, and
# outside it raises a `RuntimeError` naming the fix. (The server notices a hang-up a moment later,
# so `service.settle()` waits, up to 2 s, before counting.)

# %%
with LoopbackJsonService(ITEMS) as service:
    async with HttpxJsonClient(service.base_url) as http:
        print(await title_ledger(http, ["1", "2", "3"])())
    print("open after the block:", await service.settle())
    try:
        await http.get_json("/items/1")
    except RuntimeError as error:
        print("RuntimeError:", error)

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell); the answer key is below it, readable without a kernel.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("07")

# %%
lesson_answer_key("07")

# %% [markdown]
# ## Exercise
#
# **[Exercise 07 · Async Adapters](../exercises/07_async_adapters.ipynb)** (10 points, with a
# **Check your work** cell; see [the exercises README](../exercises/README.md)): convert a blocking
# library's exceptions, give a connection a lifetime, write a contract clause with teeth.
#
# ## On your own
#
# - Add a `slow` fault and a clause for timeouts to `HTTP_CONTRACT`; make the fake script
#   `HTTP_TIMEOUT`.
# - Put `async_retry` (lesson 04) around `title_ledger`'s fetch with a policy that reads the
#   `retryable` flag, against `Faults(unavailable={"3": 2})`. How many requests does the server count
#   for item 3?
# - Wrap a blocking library you use behind a port. Which of its exceptions are expected failures,
#   and which are bugs?
#
# ## Further reading
#
# - [07 · going further](further/07_async_adapters.ipynb): SQLite storage and its contract,
#   `MockTransport`, transport errors, a wrong storage fake, more Hypothesis proofs.
# - Alistair Cockburn, [Hexagonal architecture](https://alistair.cockburn.us/hexagonal-architecture/);
#   [PEP 544](https://peps.python.org/pep-0544/) (protocols).
# - httpx: [Resource limits](https://www.python-httpx.org/advanced/resource-limits/),
#   [Timeouts](https://www.python-httpx.org/advanced/timeouts/), [Exceptions](https://www.python-httpx.org/exceptions/).
# - Python docs: [`asyncio.gather`](https://docs.python.org/3/library/asyncio-task.html#asyncio.gather),
#   [`asyncio.to_thread`](https://docs.python.org/3/library/asyncio-task.html#asyncio.to_thread),
#   [running blocking code](https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code).
# - Harry Percival & Bob Gregory, [*Architecture Patterns with Python*](https://www.cosmicpython.com/book/chapter_03_abstractions.html), chapter 3.
#
# ## Continue with
#
# **[08 · Async Service Integrations](08_async_service_integrations.ipynb)**: these adapters in one
# pipeline — fetch → validate → save with bounded concurrency, a rate limit and injected faults,
# every input accounted for.

# %% [markdown]
# ---
# [← 06 Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb) · [Contents](00_module_overview.ipynb) · [08 Async Service Integrations →](08_async_service_integrations.ipynb)
