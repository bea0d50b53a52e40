# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 07 Async Adapters](../07_async_adapters.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 07 · Going further: classification, storage and contracts
#
# Optional material for [lesson 07](../07_async_adapters.ipynb): the full classification tables,
# every fault the loopback server can inject, `httpx.MockTransport`, a port satisfied by shape
# alone, `SqliteStorage` and its lifetime, worker threads in parallel, the storage contract with
# two wrong fakes, Hypothesis over SQLite, and the test-double decision table.

# %%
import asyncio
import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, settings, strategies as st

from funcpipe_async import (
    STORAGE_CONTRACT, AsyncPlan, Err, ErrInfo, FakeHttp, FakeStorage, Faults, HttpClientCap, HttpxJsonClient,
    LoopbackJsonService, Ok, Result, Simulation, SqliteStorage, StorageCap, ThreadedEmbedder, async_gather,
    async_lift, classify_status, classify_transport_error, format_table, hash_embedding, run_contract, setup,
    without_lifetime,
)

setup()
ITEMS = {str(i): {"id": str(i), "title": f"item {i}", "price": 10 * i} for i in range(1, 7)}

# %% [markdown]
# ## Read the classification tables
#
# What `HttpxJsonClient` makes of every status it may see (printed from `classify_status` itself),
# and of every transport error httpx raises. 501 is a 5xx that is not retryable: the server says it
# will never do this. The adapter does not follow redirects, so a 301 is an error to fix in the URL.

# %%
STATUSES = [301, 400, 401, 403, 404, 408, 409, 422, 425, 429, 500, 501, 502, 503, 504]
print(format_table(["status", "ErrInfo.code", "retryable"],
                   [[s, classify_status(s).code, classify_status(s).retryable] for s in STATUSES]))
errors = [httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset"),
          httpx.ConnectTimeout("connect"), httpx.ReadTimeout("read"), httpx.PoolTimeout("pool"),
          httpx.UnsupportedProtocol("ftp://")]
print(format_table(["httpx raised", "ErrInfo.code", "retryable"],
                   [[type(e).__name__, classify_transport_error(e).code, classify_transport_error(e).retryable] for e in errors]))

# %% [markdown]
# ## Inject every fault, twice
#
# `Faults` scripts the server **per item and per request**, so a run is the same however requests
# interleave: item 3 answers 503 twice, item 4's first connection is dropped, item 5 takes 2 s
# (longer than the client's 0.5 s timeout), item 6's body is not JSON, item 9 is missing. Each item
# is fetched twice: the drop recovers, the others do not.

# %%
FAULTS = Faults(unavailable={"3": 2}, drop={"4": 1}, slow={"5": 2}, malformed=frozenset({"6"}))
show = lambda r: "Ok" if isinstance(r, Ok) else f"{r.error.code} (retryable={r.error.retryable})"
rows = []
with LoopbackJsonService(ITEMS, faults=FAULTS) as service:
    async with HttpxJsonClient(service.base_url, timeout=0.5) as http:
        for item in ["1", "3", "4", "5", "6", "9"]:
            rows.append([item, show(await http.get_json(f"/items/{item}")), show(await http.get_json(f"/items/{item}"))])
print(format_table(["item", "1st request", "2nd request"], rows))

# %% [markdown]
# ## Test an adapter without sockets
#
# httpx's `MockTransport` calls a Python function instead of the network; what it raises or returns
# goes through the same classification — the cheapest way to pin an adapter's conversions. `/list`
# answers valid JSON, but a list: the port promises an *object*, so the adapter says `BAD_JSON`.

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
# ## Satisfy a port by shape alone
#
# Ports are `Protocol`s: a class fits one by having the method, checked by `mypy --strict`, with no
# inheritance. A one-off adapter of your own:

# %%
class Canned:
    """An HttpClientCap that answers every URL with the same body."""
    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        return Ok({"title": f"canned for {url}"})

def titles(http: HttpClientCap, ids: list[str]) -> AsyncPlan[list[Any]]:
    return async_gather([async_lift(lambda i=i: http.get_json(f"/items/{i}")) for i in ids], concurrency=2)

print(Simulation().run(titles(Canned(), ["1", "2"])))

# %% [markdown]
# ## Give a pool and a database a lifetime
#
# The `repr` says where a client is in its life. An exception inside the block closes the pool
# just the same (the server's handler threads notice a hang-up a moment later, so `service.settle()` waits for them).

# %%
with LoopbackJsonService(ITEMS) as service:
    http = HttpxJsonClient(service.base_url, max_connections=2)
    print("built: ", repr(http).split(", ", 1)[1])
    try:
        async with http:
            print("inside:", repr(http).split(", ", 1)[1], (await http.get_json("/items/1")).value["title"])
            raise ValueError("a bug in the code using the client")
    except ValueError as error:
        print("the exception propagated:", error)
    print("after: ", repr(http).split(", ", 1)[1], "— open connections:", await service.settle())

# %% [markdown]
# `SqliteStorage` keeps the same rule for a database connection. `sqlite3` blocks, so every statement
# runs in a worker thread (`asyncio.to_thread`), serialised by a lock; saves are **upserts**, so a
# retried save never stores a record twice.

# %%
with tempfile.TemporaryDirectory() as folder:
    async with SqliteStorage(Path(folder) / "items.db") as store:
        for attempt in range(3):
            await store.save("item-1", {"title": "item 1", "attempt": attempt})
        print(f"writes={store.writes}, rows={(await store.count()).value}, stored={(await store.load('item-1')).value}")
    try:
        await store.load("item-1")
    except RuntimeError as error:
        print("RuntimeError:", error)

# %% [markdown]
# ## Run blocking calls side by side
#
# `to_thread` uses the loop's default thread pool (`min(32, CPU count + 4)` threads), so several
# blocking calls overlap:

# %%
def slow_model(text: str) -> list[float]:
    time.sleep(0.1)
    return hash_embedding(text)

threaded = ThreadedEmbedder(slow_model, model_name="slow-model")
results = await asyncio.gather(*(threaded.embed(f"text {i}") for i in range(4)))
print(f"{threaded.calls} calls, at most {threaded.max_in_flight} in flight, all Ok: {all(isinstance(r, Ok) for r in results)}")

# %% [markdown]
# | the library | what to do | example |
# |---|---|---|
# | has a native async API | use it directly, in an adapter | httpx, asyncpg, aiosqlite |
# | blocks, does I/O | `asyncio.to_thread` in the adapter | `sqlite3`, `requests`, boto3 |
# | blocks, CPU-bound in pure Python | a process pool in the adapter | parsing in Python |
# | blocks, CPU-bound in C that releases the GIL | `to_thread` | numpy, many model runtimes |
# | not thread-safe | `to_thread` plus an `asyncio.Lock` | one `sqlite3` connection |
#
# ## Run the storage contract, and catch two wrong fakes
#
# `STORAGE_CONTRACT` states `StorageCap`'s promises as clauses. Against the fake and SQLite (in
# memory and on a file) every clause holds. `AppendOnlyStorage` returns the first record saved under
# a key (an `INSERT` where the adapter upserts); `RaisingStorage` lets `json.dumps`' `TypeError` out
# where the port promises `Err(INVALID_RECORD)`.

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

with tempfile.TemporaryDirectory() as folder:
    report = await run_contract(STORAGE_CONTRACT, {
        "FakeStorage": without_lifetime(FakeStorage), "SQLite memory": lambda: SqliteStorage(":memory:"),
        "SQLite file": lambda: SqliteStorage(Path(folder) / "contract.db"),
        "AppendOnly": without_lifetime(AppendOnlyStorage), "Raising": without_lifetime(RaisingStorage)})
print(report.table())
print(report.explain())

# %% [markdown]
# ## Prove the storage laws with Hypothesis
#
# **Idempotent saves** on the real adapter: for any sequence of saves, SQLite keeps one row per key,
# the latest, while `writes` counts every save. **Fake ≡ SQLite**: for any JSON records, both give
# back exactly the same thing, key by key. `Simulation` can drive `SqliteStorage`: while a worker
# thread works, the virtual clock stands still.

# %%
saves = st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 9)), min_size=1, max_size=12)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=4),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                           max_leaves=6)
records = st.dictionaries(st.sampled_from("abc"), st.dictionaries(st.text(max_size=3), json_values, max_size=3), min_size=1)

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
    assert writes == len(sequence) and rows == len({k for k, _ in sequence}) and loaded == dict(sequence)

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

idempotent_saves()
fake_agrees_with_sqlite()
print("idempotent saves, and the fake agrees with SQLite: 20 generated examples each")

# %% [markdown]
# ## Decide: a fake, the real adapter, or `MockTransport`
#
# | test double | proves | costs | use it for |
# |---|---|---|---|
# | fake (`FakeHttp`, `FakeStorage`) | your core logic, on virtual time, with scripted faults | microseconds | almost every test of core code |
# | `httpx.MockTransport` | the adapter's conversions: status, exceptions, body → `Err` | microseconds, no sockets | unit tests of an adapter |
# | real adapter + loopback server | pools, timeouts, lifetimes, threads | milliseconds of real time | the contract tests, a few integration tests |
# | `unittest.mock.AsyncMock` of the client | that you called what you called | cheap, but drifts from the library silently | rarely: prefer a fake that passes the contract |
#
# A concrete client built inside core code (`async with httpx.AsyncClient(base_url="http://inventory.internal")`
# in the middle of the logic) can be tested only with a network that has that host; taking the
# port as a parameter lets the shell choose any row of this table.
#
# ---
# [← back to 07 Async Adapters](../07_async_adapters.ipynb) · [Contents](../00_module_overview.ipynb)
