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
# Sooner or later a pipeline talks to the world: an HTTP API, a database, a model that only has a
# blocking Python API. That is where async code gets hard to test and easy to break — a concrete
# client constructed deep in the logic, an `httpx.ConnectError` that takes a whole batch down, a
# connection pool nobody closes, a blocking call that freezes every other task. This lesson draws
# one line, the **port**: core code depends on a small `Protocol` (`HttpClientCap`, `StorageCap`,
# `EmbeddingCap`), and an **adapter** on the other side of the line is the only code that knows the
# library. The adapter turns the library's exceptions into `Err(ErrInfo)`, owns the resource's
# lifetime with `async with`, and moves blocking calls off the event loop. One **contract** — the
# same checks — then runs against a fake and against the real adapter, so a test written with the
# fake tells the truth about production.
#
# **What you'll do**
# - Write core functions against a port and drive them, unchanged, with a fake and with a real
#   HTTP client talking to a real server on `127.0.0.1`.
# - Inject every kind of fault — 503, a dropped connection, a slow reply, a broken body, a missing
#   item — and read the `ErrInfo` each one becomes at the boundary.
# - Open and close a connection pool and a SQLite connection with `async with`, and count the
#   server's open connections going back to zero.
# - Count a heartbeat's ticks while a blocking library runs on the loop, then in a worker thread.
# - Run one contract against a fake and a real adapter, and watch it catch a wrong fake.
# - Break three things on purpose — a concrete client in core, an exception escaping the boundary,
#   a client never closed — and fix each one.
#
# **What you'll learn**
# - Ports as `typing.Protocol`s; adapters: `HttpxJsonClient` (httpx), `SqliteStorage` (sqlite3),
#   `ThreadedEmbedder` (any blocking function); the fakes `FakeHttp`, `FakeStorage`, `FakeEmbedder`.
# - The classification table (`classify_status`, `classify_transport_error`): which failures are
#   expected, which are retryable, and why a bug is neither.
# - Resource lifetimes with async context managers; `asyncio.to_thread` for blocking libraries.
# - Contract tests as data: `Clause`, `run_contract`, `STORAGE_CONTRACT`; `LoopbackJsonService`
#   and `Faults` for a real server whose faults are scripted.
#
# **What you'll need**
# - Lessons [01 async/await as Descriptions](01_async_await_as_descriptions.ipynb) (`AsyncPlan`,
#   `Result`, `ErrInfo`, the shell) and [04 Retry and Timeout Policies](04_retry_and_timeout_policies.ipynb)
#   (which errors are retryable); [05 Deterministic Async Testing](05_deterministic_async_testing.ipynb)
#   for fakes and virtual time.
# - About 50 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too). Nothing
#   leaves your machine: the "real" server listens on the loopback interface only.

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["07 Async Adapters"]
#   concept --> capstone["Capstone pressure point: lesson 12, embedding through a capability"]
# ```
#
# ```mermaid
# flowchart LR
#   core["core: plans over ports<br/>(no httpx, no sqlite3)"] -->|"HttpClientCap / StorageCap / EmbeddingCap"| port(("port"))
#   port --> fake["fakes<br/>FakeHttp, FakeStorage"]
#   port --> adapter["adapters<br/>HttpxJsonClient, SqliteStorage, ThreadedEmbedder"]
#   adapter -->|"exceptions → Err(ErrInfo)<br/>async with → lifetime<br/>to_thread → loop stays free"| world["the world: HTTP, SQLite, a blocking model"]
#   contract["one contract"] -.->|"same clauses"| fake
#   contract -.->|"same clauses"| adapter
# ```
#
# The first diagram places the lesson in Module 08; the capstone embeds documents through exactly
# such a port. The second is the lesson in one picture: core code sees only the port; behind it sit
# a fake (for tests) and an adapter (for production); the adapter is the only place that knows a
# library, and one contract holds both to the same promises.
#
# **Core question.** How do you let async core code use HTTP, a database and blocking libraries
# without depending on any of them — so that every expected failure arrives as a value, every
# resource is released, the loop never freezes, and a test with a fake means the same as a run
# against the real thing?
#
# **Why it matters.** The boundary is where production incidents start: an unhandled
# `ConnectError` in one request kills a batch of ten thousand, a forgotten `aclose()` leaks sockets
# until the process hits its file limit, a blocking SDK call stalls every request the service is
# serving. And a fake that does not behave like the real adapter makes every test green and every
# deploy a gamble.
#
# **The review question to carry:** *where does this code touch the outside world — and is that
# place an adapter behind a port, which converts failures, owns its resources and passes the same
# contract as the fake?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`. `setup()` loads the course's Hypothesis profile
# (derandomized). Two things are new: this lesson uses **real sockets and threads**, so its cells
# `await` on the kernel's own event loop (top-level `await`; the notebook is the shell) — the
# virtual-time `Simulation` does not simulate sockets. Cells that only wait on timers or fakes still
# use `Simulation`. And since real time varies from run to run, the cells print **counts, codes and
# ledgers, never timings** — and never the server's port number, which the operating system picks.

# %%
import asyncio
import inspect
import json
import tempfile
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
from hypothesis import given, settings, strategies as st
import matplotlib
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    STORAGE_CONTRACT, AsyncPlan, Clause, EmbeddingCap, Err, ErrInfo, FakeEmbedder, FakeHttp,
    FakeStorage, Faults, HttpClientCap, HttpxJsonClient, LoopbackJsonService, Ok, Question, Result,
    Simulation, SqliteStorage, StorageCap, ThreadedEmbedder, answer_key_html, api_summary,
    async_gather, async_lift, classify_status, classify_transport_error, course_rc, first_sentence,
    format_table, hash_embedding, quiz_widget, run_contract, setup, show_figure, without_lifetime,
)

setup()

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | category | name | statement | enforcement (live in this notebook) |
# |---|---|---|---|
# | invariant | core depends on ports | core functions take an `HttpClientCap` / `StorageCap`; they never import or build a client | [Depend on a port, not a client](#Depend-on-a-port,-not-a-client) and [anti-pattern 1](#Anti-pattern-1:-a-concrete-client-in-core) |
# | invariant | the boundary converts | every expected failure of the world (status, transport, body) comes back as `Err(ErrInfo)`, never as an exception | [Inject every fault](#Inject-every-fault-and-read-what-it-becomes) and [anti-pattern 2](#Anti-pattern-2:-an-exception-escaping-the-boundary) |
# | law | the classification | `classify_status(s)` is `HTTP_s`, retryable exactly for 408, 425, 429, 500, 502, 503, 504 | Hypothesis — [Prove the laws](#Prove-the-laws-with-Hypothesis) |
# | invariant | defects propagate | an exception that is not an expected failure (a bug) is never turned into `Err` | [Let a defect crash](#Let-a-defect-crash) |
# | invariant | lifetimes | an adapter works only inside `async with`; outside it is a `RuntimeError`; after the block the server holds 0 connections | [Give every resource a lifetime](#Give-every-resource-a-lifetime) and [anti-pattern 3](#Anti-pattern-3:-a-client-never-closed) |
# | invariant | the loop stays free | a blocking library runs in a worker thread: other tasks keep running while it works | [Keep the loop free](#Keep-the-loop-free-while-a-blocking-library-works) |
# | law | idempotent saves | saving a key *n* times keeps one record, the latest; `writes` counts *n*, `count()` 1 | Hypothesis — [Prove the laws](#Prove-the-laws-with-Hypothesis) |
# | invariant | fake ≡ real | the fake and the real adapter pass the same contract, clause by clause | [Run one contract against both](#Run-one-contract-against-the-fake-and-the-real-adapter) and Hypothesis |
# | invariant | the pool bounds connections | at most `max_connections` connections are open at once, and a pooled client reuses them | [Count what a connection costs](#Count-what-a-connection-costs) |

# %% [markdown]
# ## Read the public API
#
# The ports are `Protocol`s: a class satisfies one by having the right methods — no inheritance, no
# registration. Here are the ports, the adapters, the fakes and the test tools, each with its
# signature and the first sentence of its documentation:

# %%
for port in (HttpClientCap, StorageCap, EmbeddingCap):
    methods = [n for n, v in vars(port).items() if callable(v) and not n.startswith("_")]
    print(f"{port.__name__}: {', '.join(methods)} — {first_sentence(port)}")
print(api_summary([HttpxJsonClient, SqliteStorage, ThreadedEmbedder, LoopbackJsonService,
                   Faults, run_contract, Clause]))


# %% [markdown]
# ## Depend on a port, not a client
#
# `HttpClientCap` promises one thing: `await http.get_json(url)` gives `Ok(json_object)` or
# `Err(ErrInfo)`. Core code asks for that and nothing more. Here is a core function — it turns item
# ids into a plan that fetches their titles, at most 4 at a time, and reports every item: its title,
# or the code of its error. It imports no HTTP library; its first parameter is the port.

# %%
def title_ledger(http: HttpClientCap, ids: list[str]) -> AsyncPlan[list[str]]:
    """A plan: fetch every item and say what happened to each — its title or its error code."""
    async def one(item: str) -> Result[str, ErrInfo]:
        result = await http.get_json(f"/items/{item}")
        return Ok(f"{item}: {result.value['title']}" if isinstance(result, Ok) else f"{item}: {result.error.code}")
    return async_gather([async_lift(lambda i=i: one(i)) for i in ids], concurrency=4)


# %% [markdown]
# First with a fake. `FakeHttp` answers from a dict and returns scripted `ErrInfo`s for chosen URLs;
# it suspends like a network call but needs no network, so `Simulation` can drive it. Building the
# plan calls nothing — watch `calls` before and after driving.

# %%
ITEMS = {str(i): {"id": str(i), "title": f"item {i}", "price": 10 * i} for i in range(1, 7)}
fake = FakeHttp({f"/items/{k}": v for k, v in ITEMS.items()},
                failures={"/items/3": classify_status(503, "Service Unavailable")})
plan = title_ledger(fake, ["1", "3", "9"])
print("calls before driving:", fake.calls)
print(Simulation().run(plan))
print("calls after driving: ", fake.calls)

# %% [markdown]
# Now the same function, unchanged, with the real adapter: `HttpxJsonClient` (httpx, with a bounded
# connection pool) talking to `LoopbackJsonService`, a real JSON server on `127.0.0.1` whose faults
# are scripted per item — here, item 3 answers 503. The cell starts the server, opens the client,
# drives the plan with top-level `await`, and closes both before it ends. Compare the ledger with
# the fake's:

# %%
with LoopbackJsonService(ITEMS, faults=Faults(unavailable={"3": 1})) as service:
    async with HttpxJsonClient(service.base_url, max_connections=4) as http:
        print(await title_ledger(http, ["1", "3", "9"])())
    print("requests the server saw:", service.requests)


# %% [markdown]
# The same ledger, line for line. `title_ledger` cannot tell the two apart, and that is the point:
# the fake is a faithful stand-in *for this port*. The second port, `StorageCap`, works the same way.
# A slightly bigger core function — fetch, validate, save — takes both ports:

# %%
def copy_items(http: HttpClientCap, store: StorageCap, ids: list[str]) -> AsyncPlan[list[str]]:
    """A plan: fetch each item, keep only priced ones, save them by id; one ledger line per item."""
    async def one(item: str) -> Result[str, ErrInfo]:
        fetched = await http.get_json(f"/items/{item}")
        if isinstance(fetched, Err):
            return Ok(f"{item}: fetch {fetched.error.code}")
        if not isinstance(fetched.value.get("price"), int):
            return Ok(f"{item}: invalid, no price")
        saved = await store.save(item, fetched.value)
        return Ok(f"{item}: saved" if isinstance(saved, Ok) else f"{item}: save {saved.error.code}")
    return async_gather([async_lift(lambda i=i: one(i)) for i in ids], concurrency=4)


# %%
WORLD = dict(ITEMS, **{"7": {"id": "7", "title": "no price"}})
fake_store = FakeStorage()
print("fake:", Simulation().run(copy_items(FakeHttp({f"/items/{k}": v for k, v in WORLD.items()}), fake_store,
                                          ["1", "2", "7", "9"])))
with LoopbackJsonService(WORLD) as service:
    async with HttpxJsonClient(service.base_url) as http, SqliteStorage(":memory:") as store:
        print("real:", await copy_items(http, store, ["1", "2", "7", "9"])())
        print("stored:", sorted(fake_store.records), "in the fake;", (await store.keys()).value, "in SQLite")


# %% [markdown]
# Why a `Protocol` and not a base class? The fakes and adapters inherit from nothing — a class fits
# a port by having the method (structural typing, checked by `mypy --strict`). A third-party client
# can fit a port without knowing it exists, and the core never imports the module that defines an
# adapter. Here is a one-off adapter of your own, satisfying `HttpClientCap` by shape alone:

# %%
class Canned:
    """An HttpClientCap that answers every URL with the same body."""
    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        return Ok({"title": f"canned for {url}"})

print(Simulation().run(title_ledger(Canned(), ["1", "2"])))

# %% [markdown]
# ## Turn exceptions into `Err` at the boundary
#
# A library reports failure by raising: httpx raises `ConnectError`, `ReadTimeout`,
# `RemoteProtocolError`; `response.json()` raises `JSONDecodeError`. The adapter is the one place
# that catches them and says, once, what each one *means* for the caller: an `ErrInfo` with a stable
# `code` and a `retryable` flag (lesson 04's retry policies read that flag). Here is the table for
# HTTP statuses, printed from `classify_status` itself:

# %%
STATUSES = [301, 400, 401, 403, 404, 408, 409, 422, 425, 429, 500, 501, 502, 503, 504]
rows = [[s, (info := classify_status(s)).code, info.retryable,
         "may succeed later" if info.retryable else "the request itself is wrong (or unsupported)"] for s in STATUSES]
print(format_table(["status", "ErrInfo.code", "retryable", "why"], rows))

# %% [markdown]
# 501 *Not Implemented* is a 5xx that is **not** retryable: the server says it will never do this.
# And 301? The adapter does not follow redirects, so a moved resource is an error to fix in the URL,
# not to retry. A request that never got an answer is classified by the kind of transport error:

# %%
transport_errors = [httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset"),
                    httpx.ConnectTimeout("connect"), httpx.ReadTimeout("read"), httpx.PoolTimeout("pool"),
                    httpx.UnsupportedProtocol("ftp://")]
rows = [[type(e).__name__, (info := classify_transport_error(e)).code, info.retryable] for e in transport_errors]
print(format_table(["httpx raised", "ErrInfo.code", "retryable"], rows))

# %% [markdown]
# ### Inject every fault and read what it becomes
#
# Tables are claims; here is the real thing. `Faults` scripts what the server does **per item and
# per request** — so the run is the same however the requests interleave:
#
# * `unavailable={"3": 2}` — the first 2 requests for item 3 answer **503**;
# * `drop={"4": 1}` — the first request for item 4 gets **no answer**: the server closes the connection;
# * `slow={"5": 2}` — item 5 takes 2 s, longer than the client's timeout (0.5 s here);
# * `malformed={"6"}` — item 6's body is **not JSON**;
# * item 9 does not exist — **404**.
#
# Each item is fetched twice. Watch the second round: the 503 persists (2 scripted), the dropped
# connection recovers, the missing and malformed items do not — the `retryable` flag says which
# could.

# %%
FAULTS = Faults(unavailable={"3": 2}, drop={"4": 1}, slow={"5": 2}, malformed=frozenset({"6"}))
rows = []
with LoopbackJsonService(ITEMS, faults=FAULTS) as service:
    async with HttpxJsonClient(service.base_url, timeout=0.5) as http:
        for item in ["1", "3", "4", "5", "6", "9"]:
            first, second = await http.get_json(f"/items/{item}"), await http.get_json(f"/items/{item}")
            show = lambda r: "Ok" if isinstance(r, Ok) else f"{r.error.code} (retryable={r.error.retryable})"
            rows.append([item, show(first), show(second)])
    served = service.requests
print(format_table(["item", "1st request", "2nd request"], rows))
print("requests per item the server counted:", {p.removeprefix("/items/"): n for p, n in served.items()})


# %% [markdown]
# Every failure came back as a value; nothing raised. Notice item 5: the server counted its
# requests, but the client stopped waiting after 0.5 s and said `HTTP_TIMEOUT`. Leaving the
# `with` block stopped the server and woke its slow handler at once — nothing is left running.
#
# The same adapter can be tested **without any socket**: httpx's `MockTransport` calls a Python
# function instead of the network, and whatever that function raises or returns goes through the
# same classification. This is the cheapest way to pin an adapter's conversions in unit tests:

# %%
def scripted(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/refused":
        raise httpx.ConnectError("connection refused", request=request)
    if path == "/hangs":
        raise httpx.ReadTimeout("no answer", request=request)
    if path == "/list":
        return httpx.Response(200, json=[1, 2, 3])
    return httpx.Response(429 if path == "/busy" else 200, json={"path": path})

async with HttpxJsonClient("http://adapter.test", transport=httpx.MockTransport(scripted)) as http:
    for path in ["/ok", "/busy", "/refused", "/hangs", "/list"]:
        result = await http.get_json(path)
        print(f"{path:<9}", result if isinstance(result, Ok) else (result.error.code, result.error.retryable))


# %% [markdown]
# `/list` answered 200 with valid JSON — but a list, and the port promises a JSON *object*. The
# adapter checks the shape it promises (`BAD_JSON`), so core code can index the body without
# guarding against a list.
#
# ### Let a defect crash
#
# The boundary converts *expected* failures — things the world does. A **defect** is a bug in our
# own code (or a library misused): converting it into `Err` would hide it behind a retry loop or a
# "skipped item" line. So an adapter catches a narrow list of exceptions and lets everything else
# through. `ThreadedEmbedder` converts a model's `ValueError` (bad input) and `OSError` /
# `TimeoutError` (the model server is down), but a `KeyError` inside the library is a bug:

# %%
def model_with_a_bug(text: str) -> list[float]:
    vocabulary = {"hello": 1.0}
    return [vocabulary[word] for word in text.split()]     # KeyError for any unknown word: a bug

def model_server_down(text: str) -> list[float]:
    raise ConnectionRefusedError("model server at :8501 refused")

print(await ThreadedEmbedder(model_server_down, model_name="m").embed("hello world"))

# %% tags=["raises-exception"]
await ThreadedEmbedder(model_with_a_bug, model_name="m").embed("hello world")

# %% [markdown]
# The `KeyError` reaches the shell with its traceback — exactly what you want from a bug. The rule
# of thumb for where `try/except` goes:
#
# | exception | example | where it is handled | becomes |
# |---|---|---|---|
# | the world failed, retrying may help | 503, timeout, dropped connection, locked database | in the adapter, narrowly (`except httpx.TransportError`) | `Err(..., retryable=True)` |
# | the world said no | 404, 400, a body that is not JSON, an invalid record | in the adapter | `Err(..., retryable=False)` |
# | our bug | `KeyError`, `TypeError`, `AttributeError` | nowhere: let it propagate | a crash with a traceback |
# | cancellation | `CancelledError` | nowhere: let it propagate | the task stops |
# | shell misuse | a client used outside its `async with` | nowhere: the adapter raises `RuntimeError` | a crash naming the fix |
#
# Never `except Exception` in an adapter: it converts bugs, and lesson 04 showed what an
# `except BaseException` does to cancellation.

# %% [markdown]
# ## Give every resource a lifetime
#
# A connection pool holds sockets; a database connection holds a file and a lock. The adapter's
# resource exists exactly as long as an `async with` block: `__aenter__` opens it, `__aexit__`
# closes it — on success, on an exception and on cancellation. The `repr` says where a client is in
# its life:

# %%
with LoopbackJsonService(ITEMS) as service:
    http = HttpxJsonClient(service.base_url, max_connections=2)
    print("built:    ", repr(http).split(", ", 1)[1])
    async with http:
        print("inside:   ", repr(http).split(", ", 1)[1])
        await http.get_json("/items/1")
        print("the server holds", service.open_connections, "connection(s) while the pool is open")
    print("after:    ", repr(http).split(", ", 1)[1])

# %% [markdown]
# The cell prints the `repr` without its first part, which holds the URL and therefore the port
# number. Using the client outside its block is a bug in the shell, not a failure of the world — so
# it is a `RuntimeError` whose message says the fix, not an `Err`:

# %%
for attempt in ("before the block", "after the block"):
    client = HttpxJsonClient("http://adapter.test")
    if attempt == "after the block":
        async with client:
            pass
    try:
        await client.get_json("/items/1")
    except RuntimeError as error:
        print(f"{attempt}: RuntimeError: {error}")


# %% [markdown]
# The server side confirms the release. Closing a client hangs up its sockets; the server's handler
# threads notice it a moment later, so the next cell waits (up to 2 s, polling) for the count to
# settle before printing it (a count, not a time). An exception inside the block closes the pool
# just the same:

# %%
async def settled(service: LoopbackJsonService, limit: float = 2.0) -> int:
    """The server's open connections, once they stop dropping (or after `limit` seconds)."""
    for _ in range(int(limit / 0.01)):
        if service.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    return service.open_connections


# %%
with LoopbackJsonService(ITEMS, faults=Faults(slow={str(i): 0.2 for i in range(1, 4)})) as service:
    try:
        async with HttpxJsonClient(service.base_url, max_connections=3) as http:
            await asyncio.gather(*(http.get_json(f"/items/{i}") for i in range(1, 4)))
            print("inside the block:", service.open_connections, "connections open")
            raise ValueError("a bug in the code using the client")
    except ValueError as error:
        print("the exception propagated:", error)
    print("after the block:", await settled(service), "connections open; client closed:", http.closed)

# %% [markdown]
# Three requests ran at once, on three connections (the pool allows 3): all three were open inside
# the block and none after it, although the block ended with an exception. (The cell uses
# `asyncio.gather` because the notebook is the shell; core code would use `async_gather`.)
#
# `SqliteStorage` keeps the same rule for its database connection. `sqlite3` is a blocking library:
# every statement runs in a worker thread (`asyncio.to_thread`), serialised by a lock. And its saves
# are **upserts**: saving a key again replaces its row, so a retried save never stores a record
# twice. `writes` counts the saves that reached the database, `count()` the rows:

# %%
with tempfile.TemporaryDirectory() as folder:
    async with SqliteStorage(Path(folder) / "items.db") as store:
        for attempt in range(3):                       # a save retried three times …
            await store.save("item-1", {"title": "item 1", "attempt": attempt})
        print(f"writes={store.writes}, rows={(await store.count()).value}, stored={(await store.load('item-1')).value}")
    try:
        await store.load("item-1")
    except RuntimeError as error:
        print("RuntimeError:", error)


# %% [markdown]
# ## Keep the loop free while a blocking library works
#
# An event loop runs one thing at a time: while a coroutine runs without awaiting, nothing else
# runs. Call a blocking library — an SDK, a model's `encode`, `requests.get`, `time.sleep` — from a
# coroutine, and every other task freezes until it returns. To see it, run a **heartbeat** task that
# ticks every 10 ms and count its ticks while a "model" blocks for 0.2 s. This needs the real loop
# and real time: under `Simulation`, a worker thread's work takes zero virtual time, so a heartbeat
# could not tick during it.

# %%
def slow_model(text: str) -> list[float]:
    """A stand-in for a blocking library: 0.2 s of work, then a deterministic vector."""
    time.sleep(0.2)
    return hash_embedding(text)


# %%
async def ticks_during(work) -> int:
    """How often a 10 ms heartbeat ticked while `work()` ran."""
    ticks = 0
    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)                      # let the heartbeat start
    before = ticks
    await work()
    during = ticks - before
    beat.cancel()
    await asyncio.gather(beat, return_exceptions=True)
    return during


# %% [markdown]
# First the mistake: an `async def` that calls the blocking function directly. It *looks* async —
# but there is no `await` while the work happens, so the heartbeat cannot run:

# %%
async def embed_on_the_loop() -> Result[tuple[float, ...], ErrInfo]:
    return Ok(tuple(slow_model("hello")))                # blocks the loop for 0.2 s

print("heartbeat ticks while the model ran on the loop:", await ticks_during(embed_on_the_loop))

# %% [markdown]
# Zero, every run: the loop was frozen. Now the same model behind `ThreadedEmbedder`, which runs it
# with `asyncio.to_thread` — in a worker thread, while the loop keeps serving other tasks. The
# exact tick count depends on the machine, so the cell prints whether the heartbeat kept going:

# %%
threaded = ThreadedEmbedder(slow_model, model_name="slow-model")
ticks = await ticks_during(lambda: threaded.embed("hello"))
print("heartbeat kept ticking while the model ran in a thread:", ticks > 0)
print("the same vector as the model's:", (await threaded.embed("hello")).value == tuple(hash_embedding("hello")))

# %% [markdown]
# Worker threads also let several blocking calls overlap — `to_thread` uses the loop's default
# thread pool, which is bounded (`min(32, CPU count + 4)` threads). Four concurrent embeddings:
# `max_in_flight` counts how many were running at once.

# %%
threaded = ThreadedEmbedder(slow_model, model_name="slow-model")
results = await asyncio.gather(*(threaded.embed(f"text {i}") for i in range(4)))
print(f"{threaded.calls} calls, at most {threaded.max_in_flight} in flight, all Ok: {all(isinstance(r, Ok) for r in results)}")

# %% [markdown]
# Two caveats. A thread cannot be cancelled: if the caller times out, the library call still runs
# to completion in its thread (its result is dropped). And threads do not make pure-Python CPU work
# faster (the GIL) — they keep the loop *responsive*; for real CPU work use a process pool
# (`loop.run_in_executor(ProcessPoolExecutor(), ...)`).
#
# | the library | what to do | example |
# |---|---|---|
# | has a native async API | use it directly, in an adapter | httpx, asyncpg, aiosqlite |
# | blocks, does I/O | `asyncio.to_thread` in the adapter | `sqlite3`, `requests`, a vendor SDK, boto3 |
# | blocks, CPU-bound in pure Python | a process pool in the adapter | parsing, compression in Python |
# | blocks, CPU-bound in C that releases the GIL | `to_thread` | numpy, many model runtimes |
# | must not run concurrently (not thread-safe) | `to_thread` plus an `asyncio.Lock` | one `sqlite3` connection (`SqliteStorage`) |

# %% [markdown]
# ## Run one contract against the fake and the real adapter
#
# A fake earns its place only if it behaves like the real adapter where it matters. The way to know
# is a **contract test**: the port's promises written once, as checks, and run against every
# implementation. The package states `StorageCap`'s contract as `STORAGE_CONTRACT`, one `Clause` per
# promise of its docstring:

# %%
print(inspect.getdoc(StorageCap))
print()
for clause in STORAGE_CONTRACT:
    print("•", clause.name)

# %% [markdown]
# `run_contract(clauses, implementations)` runs every clause against a **fresh** instance of every
# implementation, opened with `async with` and closed after the clause, and returns a report. Three
# implementations: the fake, SQLite in memory, and SQLite on a file (a real file in a temporary
# folder, so the worker threads and the file locking are exercised too):

# %%
with tempfile.TemporaryDirectory() as folder:
    report = await run_contract(STORAGE_CONTRACT, {
        "FakeStorage": without_lifetime(FakeStorage),
        "SQLite memory": lambda: SqliteStorage(":memory:"),
        "SQLite file": lambda: SqliteStorage(Path(folder) / "contract.db"),
    })
print(report.table())
print("every clause holds for every implementation:", report.passed())


# %% [markdown]
# A clause is an `async` function that calls the port and asserts. Writing one for `HttpClientCap`
# needs a *world* — the same items and faults on both sides: `FakeHttp` models the faults as scripted
# `ErrInfo`s, the real side is `HttpxJsonClient` talking to a `LoopbackJsonService` scripted with
# `Faults`. Four clauses:

# %%
async def existing_items_are_ok(http: HttpClientCap) -> None:
    for key in ("1", "2"):
        result = await http.get_json(f"/items/{key}")
        assert result == Ok(ITEMS[key]), f"/items/{key}: expected its JSON body, got {result!r}"

async def missing_is_404_not_retryable(http: HttpClientCap) -> None:
    result = await http.get_json("/items/404404")
    assert isinstance(result, Err) and (result.error.code, result.error.retryable) == ("HTTP_404", False), result


# %%
async def faults_are_classified_errs(http: HttpClientCap) -> None:
    for key, code, retryable in (("3", "HTTP_503", True), ("4", "HTTP_CONNECTION", True), ("5", "BAD_JSON", False)):
        result = await http.get_json(f"/items/{key}")
        assert isinstance(result, Err), f"/items/{key}: expected Err({code}), got {result!r}"
        assert (result.error.code, result.error.retryable) == (code, retryable), f"/items/{key}: got {result.error}"

async def concurrent_requests_get_their_own_answer(http: HttpClientCap) -> None:
    results = await async_gather([async_lift(lambda k=k: http.get_json(f"/items/{k}")) for k in "1216" * 5], concurrency=8)()
    assert results == Ok([ITEMS[k] for k in "1216" * 5]), "answers were mixed up or lost"

HTTP_CONTRACT = [Clause("an existing item is Ok with its body", existing_items_are_ok),
                 Clause("a missing item is HTTP_404, not retryable", missing_is_404_not_retryable),
                 Clause("503, a drop, a broken body: classified Errs", faults_are_classified_errs),
                 Clause("concurrent requests each get their answer", concurrent_requests_get_their_own_answer)]


# %%
@asynccontextmanager
async def fake_world():
    yield FakeHttp({f"/items/{k}": v for k, v in ITEMS.items()}, failures={
        "/items/3": classify_status(503, "Service Unavailable"),
        "/items/4": ErrInfo("HTTP_CONNECTION", "RemoteProtocolError", retryable=True),
        "/items/5": ErrInfo("BAD_JSON", "the body is not JSON")})

@asynccontextmanager
async def real_world():
    faults = Faults(unavailable={"3": 99}, drop={"4": 99}, malformed=frozenset({"5"}))
    with LoopbackJsonService(ITEMS, faults=faults) as service:
        async with HttpxJsonClient(service.base_url, max_connections=4) as http:
            yield http

http_report = await run_contract(HTTP_CONTRACT, {"FakeHttp": fake_world, "HttpxJsonClient + server": real_world})
print(http_report.table())


# %% [markdown]
# Both tables are all `pass` — which proves something only if the contract can also *fail*. The next
# section checks that.
#
# ## Catch a wrong fake with the same contract
#
# Two fakes someone might plausibly write. `AppendOnlyStorage` keeps a list of rows and returns the
# first one saved under a key — an `INSERT` where the real adapter upserts, so a retried save leaves
# the old record in force. `RaisingStorage` calls `json.dumps` itself and lets its `TypeError` out
# for a record that is not JSON, where the port promises `Err(INVALID_RECORD)`.

# %%
class AppendOnlyStorage(FakeStorage):
    """Wrong: every save appends a row; load returns the first row for the key."""
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str]] = []

    async def save(self, key, record):
        result = await super().save(key, record)
        if isinstance(result, Ok):
            self.rows.append((key, json.dumps(self.records[key])))
        return result

    async def load(self, key):
        first = next((body for k, body in self.rows if k == key), None)
        return Ok(json.loads(first)) if first is not None else Err(ErrInfo("NOT_FOUND", key))

class RaisingStorage(FakeStorage):
    """Wrong: lets the JSON library's exception escape instead of returning Err(INVALID_RECORD)."""
    async def save(self, key, record):
        json.dumps(record, allow_nan=False)
        return await super().save(key, record)


# %%
wrong = await run_contract(STORAGE_CONTRACT, {"FakeStorage": without_lifetime(FakeStorage),
                                              "AppendOnly": without_lifetime(AppendOnlyStorage),
                                              "Raising": without_lifetime(RaisingStorage)})
print(wrong.table())
print()
print(wrong.explain())

# %% [markdown]
# The contract names each broken promise and why. A test suite that ran only against
# `AppendOnlyStorage` would pass happily — and production, with its upserts, would behave
# differently. The contract is what makes the fake trustworthy. The same check as an assertion, the
# way a test suite would state it:

# %% tags=["raises-exception"]
assert wrong.passed("AppendOnly"), "AppendOnlyStorage breaks the StorageCap contract:\n" + wrong.explain()

# %% [markdown]
# The fix is to make the fake keep the promise — `FakeStorage` replaces a key's record and returns
# `Err` for a bad one — and keep running the contract against every fake in CI, so it stays true
# when someone edits it.
#
# ## Prove the laws with Hypothesis
#
# Examples show a few cases; properties check many. First the classification law, over every HTTP
# status that is not a success:

# %%
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}

@given(st.integers(100, 599).filter(lambda s: not 200 <= s < 300))
def classification_law(status: int) -> None:
    info = classify_status(status, "reason")
    assert info.code == f"HTTP_{status}" and info.retryable == (status in RETRYABLE)
    assert info.message == f"{status} reason"

classification_law()
print("classification law holds for every generated status")

# %% [markdown]
# Next, idempotent saves on the real adapter: for any sequence of saves (keys from a small set, so
# they repeat), SQLite keeps one row per key, holding the **latest** record, while `writes` counts
# every save. `Simulation` can drive `SqliteStorage`: while a worker thread works, the virtual clock
# stands still and the loop waits for the thread.

# %%
saves = st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 9)), min_size=1, max_size=12)

@settings(max_examples=20)
@given(saves)
def idempotent_saves(sequence: list[tuple[str, int]]) -> None:
    async def run() -> tuple[int, int, dict[str, Any]]:
        async with SqliteStorage() as store:
            for key, value in sequence:
                await store.save(key, {"v": value})
            loaded = {k: (await store.load(k)).value["v"] for k in sorted({k for k, _ in sequence})}
            return store.writes, (await store.count()).value, loaded
    writes, rows, loaded = Simulation().run(run())
    assert writes == len(sequence) and rows == len({k for k, _ in sequence})
    assert loaded == {k: v for k, v in sequence}          # dict(...) keeps the last value per key

idempotent_saves()
print("idempotent saves: one row per key, the latest record, writes = saves")

# %% [markdown]
# Last, the invariant that makes the fake worth having: for **any** JSON records, the fake and
# SQLite give back exactly the same thing, key by key (including keys never saved):

# %%
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=4),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                           max_leaves=6)
records = st.dictionaries(st.sampled_from("abc"), st.dictionaries(st.text(max_size=3), json_values, max_size=3), min_size=1)

@settings(max_examples=20)
@given(records)
def fake_agrees_with_sqlite(saved: dict[str, dict[str, Any]]) -> None:
    async def load_all(store: StorageCap) -> list[Result[Mapping[str, Any], ErrInfo]]:
        for key, record in saved.items():
            await store.save(key, record)
        return [await store.load(k) for k in "abcd"]
    async def both():
        async with SqliteStorage() as real:
            return await load_all(FakeStorage()), await load_all(real)
    from_fake, from_sqlite = Simulation().run(both())
    assert from_fake == from_sqlite

fake_agrees_with_sqlite()
print("the fake and SQLite agree on every generated set of records")

# %% [markdown]
# ## Decide: a fake, the real adapter, or `MockTransport`
#
# | test double | what it is | proves | costs | use it for |
# |---|---|---|---|---|
# | fake (`FakeHttp`, `FakeStorage`) | an in-memory implementation of the port | your **core** logic, on virtual time, with scripted faults | microseconds; no sockets, no threads | almost every test of core code |
# | `httpx.MockTransport` | the real adapter, with a function in place of the network | the **adapter's conversions**: status, exceptions, body → `Err` | microseconds; no sockets | unit tests of an adapter |
# | real adapter + loopback server | real sockets, real HTTP, real SQLite file | pools, timeouts, connection lifetimes, threads — what mocks cannot | milliseconds; real time (print counts, not timings) | the contract tests, a few integration tests |
# | `unittest.mock.AsyncMock` of the client | a recorder that returns what you told it | that you called what you called — nothing about behaviour | cheap, but it drifts from the real library silently | rarely; prefer a fake that passes the contract |
#
# The contract connects the rows: a fake that passes the same clauses as the real adapter lets the
# cheap row stand in for the expensive one.

# %% [markdown]
# ## Count what a connection costs
#
# Every new connection costs a TCP handshake (and on HTTPS, a TLS handshake: several round trips).
# A pooled client keeps connections open and reuses them (HTTP keep-alive); a client made per
# request pays the handshake every time — and the cost of building a client, which for httpx
# includes loading the TLS certificate store. The server counts what it saw — `requests`,
# `connections_opened` (every connection it accepted) and `peak_connections` (the most at once):
#
# | pattern | requests | connections opened | connections open at once | note |
# |---|---|---|---|---|
# | one pooled client, *n* sequential requests | *n* | 1 | 1 | keep-alive reuses the connection |
# | a new client per request, *n* requests | *n* | *n* | 1 (sequential) … *n* (concurrent) | a handshake per request, and sockets churn |
# | one pooled client, *n* concurrent requests, `max_connections=k` | *n* | ≤ *k* | ≤ *k* | the pool is a concurrency bound |
# | no limit, *n* concurrent requests | *n* | up to *n* | up to *n* | the server (or the OS file limit) is the bound |
#
# The measurement, with *n* = 10:

# %%
N = 10
ids = [str(i % 6 + 1) for i in range(N)]

async def pooled(base: str) -> None:
    async with HttpxJsonClient(base) as http:
        for i in ids:
            await http.get_json(f"/items/{i}")

async def client_per_request(base: str) -> None:
    for i in ids:
        async with HttpxJsonClient(base) as http:
            await http.get_json(f"/items/{i}")

sequential = []
for label, pattern in (("one pooled client", pooled), ("a client per request", client_per_request)):
    with LoopbackJsonService(ITEMS) as service:
        await pattern(service.base_url)
        sequential.append([label, sum(service.requests.values()), service.connections_opened, service.peak_connections])
print(format_table(["sequential, n=10", "requests", "connections opened", "peak open"], sequential))

# %% [markdown]
# Now concurrency: 12 requests at once, each answered after 0.1 s (`slow`), through one client with
# `max_connections` of 4 and of 10. The pool bounds the sockets — and so the load on the server —
# whatever the caller's concurrency:

# %%
concurrent = []
for limit in (4, 10):
    with LoopbackJsonService(ITEMS, faults=Faults(slow={k: 0.1 for k in ITEMS})) as service:
        async with HttpxJsonClient(service.base_url, max_connections=limit) as http:
            results = await asyncio.gather(*(http.get_json(f"/items/{i % 6 + 1}") for i in range(12)))
        concurrent.append([limit, sum(isinstance(r, Ok) for r in results), service.connections_opened, service.peak_connections])
print(format_table(["max_connections", "Ok answers", "connections opened", "peak open"], concurrent))


# %% [markdown]
# ### Draw the counts
#
# Both measurements in one figure: for each pattern, the requests the server answered and the
# connections it accepted. Bars carry hatches as well as colours, and the cell prints the plotted
# numbers.

# %%
def plot_connection_costs(patterns: list[tuple[str, int, int]]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(9, 3.8), layout="constrained")
        ax = fig.add_subplot()
        c = [p["color"] for p in matplotlib.rcParams["axes.prop_cycle"]]
        y = range(len(patterns))
        ax.barh([i + 0.2 for i in y], [p[1] for p in patterns], height=0.4, color=c[0], hatch="..", label="requests")
        ax.barh([i - 0.2 for i in y], [p[2] for p in patterns], height=0.4, color=c[1], hatch="//",
                label="connections opened")
        ax.set_yticks(list(y), [p[0] for p in patterns])
        ax.invert_yaxis()
        ax.set_xlabel("count (requests, connections)")
        ax.set_title("What the server saw: requests vs connections")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig

patterns = [(f"{label}, 10 sequential", n, opened) for label, n, opened, _ in sequential] + \
           [(f"pool of {limit}, 12 concurrent", n, opened) for limit, n, opened, _ in concurrent]
summary = "; ".join(f"{name}: {n} requests, {opened} connection{'s' * (opened != 1)}" for name, n, opened in patterns)
show_figure(plot_connection_costs(patterns), alt="Horizontal bars per pattern. " + summary)
print(summary.replace("; ", "\n"))


# %% [markdown]
# Requests grow with *n* in every pattern; connections grow with *n* only when clients are not
# reused. With a pool, connections are bounded by `max_connections` — O(*k*), not O(*n*). The
# other costs of an adapter are small and constant per call: one classification (a dictionary
# lookup), and for a thread-wrapped library one hand-off to a worker thread.
#
# ## Fix the anti-patterns
#
# ### Anti-pattern 1: a concrete client in core
#
# Here is core code that builds its own client. It reads naturally — and it can only ever talk to
# one real host. There is no way to hand it a fake, a `MockTransport` or the loopback server:

# %%
async def fetch_titles_concrete(ids: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url="http://inventory.internal") as client:   # decided inside core
        titles = []
        for item in ids:
            response = await client.get(f"/items/{item}")
            titles.append(response.json()["title"])
        return titles


# %% [markdown]
# A test wants to run it in the fake world — the one `title_ledger` ran in above. It cannot:

# %% tags=["raises-exception"]
fake = FakeHttp({f"/items/{k}": v for k, v in ITEMS.items()})
await fetch_titles_concrete(["1", "2"], http=fake)

# %% [markdown]
# The only way to test it is a network with a host called `inventory.internal` (or patching httpx
# internals). It also cannot take a pool from the shell, a timeout policy, or a different base URL
# per environment, and every failure it meets is an httpx exception. The fix is the one at the top
# of this lesson: take the **port** as a parameter and let the shell decide what is behind it.
# `title_ledger(http, ids)` already does; in the fake world:

# %%
ledger = Simulation().run(title_ledger(fake, ["1", "2"]))
assert ledger == Ok(["1: item 1", "2: item 2"])
print(ledger, "| calls:", fake.calls)


# %% [markdown]
# ### Anti-pattern 2: an exception escaping the boundary
#
# An "adapter" that satisfies the port's *signature* but not its promise: it returns `Ok` on
# success and lets everything else raise — `raise_for_status()` for a 503, httpx's own exception for
# a dropped connection, `JSONDecodeError` for a broken body:

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
# Drive `title_ledger` — which promises a line for every item — over a batch of 6 items where one
# connection is dropped:

# %%
batch = ["1", "2", "3", "4", "5", "6"]
with LoopbackJsonService(ITEMS, faults=Faults(drop={"4": 1})) as service:
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        try:
            outcome = await title_ledger(LeakyHttp(client), batch)()
        except httpx.TransportError as error:
            outcome = "an httpx exception escaped"
print("with LeakyHttp:", outcome)

# %% tags=["raises-exception"]
assert isinstance(outcome, Ok) and len(outcome.value) == len(batch), (
    f"one bad item must not sink the batch: the ledger should have {len(batch)} lines, got {outcome!r}")

# %% [markdown]
# One dropped connection, and the whole batch is gone: `async_gather` treats an exception as a
# defect, cancels the other requests and re-raises — five good answers lost, and no record of which
# item failed. (Catching `Exception` in the core instead would be worse: it would swallow real bugs
# too.) The fix belongs in the adapter: convert the expected failures, narrowly. `HttpxJsonClient`
# does, so the same core function accounts for every item:

# %%
with LoopbackJsonService(ITEMS, faults=Faults(drop={"4": 1})) as service:
    async with HttpxJsonClient(service.base_url) as http:
        outcome = await title_ledger(http, batch)()
assert isinstance(outcome, Ok) and len(outcome.value) == len(batch)
print("with HttpxJsonClient:", outcome)

# %% [markdown]
# ### Anti-pattern 3: a client never closed
#
# A helper that makes a client for its work and forgets it. It returns the right answer, so nothing
# looks wrong — but the client's pool keeps its connection open after the work is done. (So that
# this notebook leaves nothing behind, the cell keeps a reference to the forgotten client and closes
# it *after* counting.)

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
    print("connections the server still holds:", still_open)
    for client in forgotten:                             # clean up what the anti-pattern left
        await client.aclose()

# %% tags=["raises-exception"]
assert still_open == 0, f"the work is done, yet {still_open} connection is still open: nobody closed the client"


# %% [markdown]
# One connection per forgotten client — in a loop or a long-running service that is one socket (a
# file descriptor, on both ends) per call, until the process hits its limit and every new
# connection fails with "Too many open files". Python may close it eventually when the client is
# garbage-collected, with a `ResourceWarning` if you are lucky. The fix: the client's lifetime is a
# block, and the shell — not the helper — owns it:

# %%
async def fetch_titles(http: HttpClientCap, ids: list[str]) -> list[str]:
    return [(await http.get_json(f"/items/{i}")).value["title"] for i in ids]

with LoopbackJsonService(ITEMS) as service:
    async with HttpxJsonClient(service.base_url) as http:
        print(await fetch_titles(http, ["1", "2", "3"]))
        print("inside the block:", service.open_connections, "connection open")
    still_open = await settled(service)
print("after the block:", still_open, "connections open")
assert still_open == 0

# %% [markdown]
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("What should core code that needs HTTP take as a parameter?",
             ("an `httpx.AsyncClient`", "a base URL", "an `HttpClientCap` — the port"),
             2, "Core depends on the port; the shell decides whether a fake or a real adapter is behind it."),
    Question("An adapter gets `httpx.ConnectError`. What does it return?",
             ("it re-raises it", "`Err(ErrInfo('HTTP_CONNECTION', ..., retryable=True))`", "`Ok(None)`"),
             1, "An expected failure of the world becomes a classified Err at the boundary; the caller's policy decides on retries."),
    Question("A `KeyError` is raised inside the library an adapter wraps. What should the adapter do?",
             ("convert it to `Err(INTERNAL)`", "let it propagate: it is a defect", "retry the call"),
             1, "Only expected failures are converted; converting a bug hides it behind retries and skipped items."),
    Question("Which status is retryable?",
             ("404", "501", "503"),
             2, "503 may succeed later; 404 and 501 will give the same answer again."),
    Question("A client is used after its `async with` block. What happens with `HttpxJsonClient`?",
             ("`Err(HTTP_CONNECTION)`", "a `RuntimeError` saying to use it inside the block", "it reopens the pool"),
             1, "Misusing a resource is a bug in the shell, not a failure of the world."),
    Question("An `async def` calls a blocking SDK function directly. What do other tasks do meanwhile?",
             ("they keep running", "nothing: the loop is frozen until the call returns", "they are cancelled"),
             1, "The heartbeat counted 0 ticks; `asyncio.to_thread` moves the call to a worker thread."),
    Question("Why run one contract against the fake and the real adapter?",
             ("so tests written against the fake tell the truth about production", "to make the fake faster",
              "because mypy requires it"),
             0, "A fake that passes the same clauses can stand in for the adapter; a wrong fake is caught by name."),
    Question("12 concurrent requests through one client with `max_connections=4`: how many connections are open at most?",
             ("4", "20", "1"),
             0, "The pool bounds open connections: the peak was 4, and a pooled client reuses them."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 07 · Async Adapters](../exercises/07_async_adapters.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does
# (see [the exercises README](../exercises/README.md)):
#
# 1. **Convert a blocking library's exceptions** — `fetch_stock(client, sku)`: call a blocking
#    inventory SDK in a worker thread and turn its exceptions into the right `Err(ErrInfo)`, while
#    its bugs still propagate.
# 2. **Give a connection a lifetime** — `open_inventory(warehouse)`: an `@asynccontextmanager` whose
#    connection is opened on entry and closed on every exit — normal, exception, cancellation — and
#    whose store refuses to be used outside its block.
# 3. **Write a contract clause with teeth** — `latest_save_wins(store)`: a clause of the
#    `StorageCap` contract that passes the correct fake and fails every broken store the grader
#    generates.
#
# ## On your own
#
# - Write `HttpxJsonClient`'s contract clause for timeouts: script `slow` for one item, use a short
#   client timeout, and run the clause against a `FakeHttp` that scripts `HTTP_TIMEOUT`.
# - Put `async_retry` (lesson 04) around `title_ledger`'s fetch, with a policy that retries by the
#   `retryable` flag, and run it against `Faults(unavailable={"3": 2})`. How many requests does the
#   server count for item 3?
# - Wrap a real blocking library you use — `requests`, a database driver, a model — behind a port,
#   with its exceptions converted. Which of its exceptions are expected failures, and which are bugs?
# - Count open sockets in this process (on Linux, the `socket:` entries of `/proc/self/fd`) before
#   and after anti-pattern 3, instead of asking the server.
#
# ## Further reading
#
# - Alistair Cockburn, [Hexagonal architecture](https://alistair.cockburn.us/hexagonal-architecture/):
#   ports and adapters, the original article.
# - Python docs, [`typing.Protocol`](https://docs.python.org/3/library/typing.html#typing.Protocol)
#   and [PEP 544](https://peps.python.org/pep-0544/): structural subtyping.
# - httpx, [Resource limits](https://www.python-httpx.org/advanced/resource-limits/),
#   [Timeouts](https://www.python-httpx.org/advanced/timeouts/),
#   [Exceptions](https://www.python-httpx.org/exceptions/) and
#   [Transports (`MockTransport`)](https://www.python-httpx.org/advanced/transports/).
# - Python docs, [`asyncio.to_thread`](https://docs.python.org/3/library/asyncio-task.html#asyncio.to_thread)
#   and [developing with asyncio: blocking code](https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code).
# - Python docs, [`contextlib.asynccontextmanager`](https://docs.python.org/3/library/contextlib.html#contextlib.asynccontextmanager)
#   and the [`async with` statement](https://docs.python.org/3/reference/compound_stmts.html#async-with).
# - Martin Fowler, [Contract Test](https://martinfowler.com/bliki/ContractTest.html), and
#   Harry Percival & Bob Gregory, [*Architecture Patterns with Python*](https://www.cosmicpython.com/book/chapter_03_abstractions.html),
#   chapter 3: fakes versus mocks, and testing at the boundary.
#
# ## Continue with
#
# **[08 · Async Service Integrations](08_async_service_integrations.ipynb)**: the adapters of this
# lesson in one pipeline — a real service started by the notebook, a client with pool limits,
# timeouts and retries, SQLite storage, and fetch → validate → save with bounded concurrency, a rate
# limit and injected faults, every input accounted for. You now keep the outside world behind
# ports: every failure arrives as a value, every resource has a block, and one contract keeps the
# fake honest.

# %% [markdown]
# ---
# [← 06 Rate Limiting and Fairness](06_rate_limiting_and_fairness.ipynb) · [Contents](00_module_overview.ipynb) · [08 Async Service Integrations →](08_async_service_integrations.ipynb)
