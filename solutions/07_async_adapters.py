# ---
# jupyter:
#   funcpipe_async:
#     exercise: 07_async_adapters
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 07 Async Adapters](../notebooks/07_async_adapters.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 07 · Async Adapters
#
# Three graded tasks on the lesson's ideas: an adapter is the one place that knows a library — it
# **converts the library's exceptions into `Err(ErrInfo)`** (and lets bugs through), it runs a
# **blocking library in a worker thread** so the loop stays free, it **owns its resource's
# lifetime** with `async with`, and **one contract** holds it and its fake to the same promises.
# Everything runs on fakes and virtual time. 10 points.
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
# package, it imports this exercise's small fake world from the grader: a blocking inventory SDK
# (`InventoryClient` and its exceptions) for Task 1 and a fake inventory database (`Warehouse`) for
# Task 2.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from funcpipe_async import (
    STORAGE_CONTRACT, Clause, Err, ErrInfo, FakeStorage, Ok, Result, Simulation, StorageCap, run_contract,
    without_lifetime,
)
from funcpipe_async.grading.checks.ex07_async_adapters import (
    Connection, InvalidSku, InventoryClient, RateLimited, SkuNotFound, Warehouse,
)


# %% [markdown]
# ## Task 1 — Convert a blocking library's exceptions (4 points)
#
# `InventoryClient` is a vendor SDK with no async API: `client.stock(sku)` **blocks**, then returns
# the units in stock (an `int`) or raises. Write the adapter method `fetch_stock(client, sku)` — an
# `async def` returning `Result[int, ErrInfo]` — that
#
# - runs `client.stock(sku)` **in a worker thread** (`asyncio.to_thread`), so the event loop keeps
#   serving other tasks while the SDK blocks; exactly **once** (retrying is the caller's policy);
# - returns `Ok(units)`, or converts the SDK's **expected failures** by this table (the message is
#   yours to choose; `str(error)` is fine):
#
#   | the SDK raises | `ErrInfo.code` | `retryable` |
#   |---|---|---|
#   | `SkuNotFound` | `NOT_FOUND` | `False` |
#   | `InvalidSku` (a subclass of `ValueError`) | `INVALID_SKU` | `False` |
#   | `RateLimited` | `RATE_LIMITED` | `True` |
#   | `ConnectionError` (any subclass) or `TimeoutError` | `UNAVAILABLE` | `True` |
#
# - lets **every other exception propagate unchanged** — a `KeyError`, a `TypeError`, a plain
#   `ValueError` inside the SDK is a bug, and converting it would hide it.
#
# *How it is checked:* on generated SKUs and SDK outcomes — units, every failure of the table (with
# subclasses such as `ConnectionResetError`), and defects (`KeyError`, `TypeError`, `ValueError`,
# `RuntimeError`, `AttributeError`) — your method is awaited on virtual time. The SDK records the
# thread each call ran in and how often it was called; the result (or the exception that came out)
# is compared with the table.
#
# <details><summary>Hint 1</summary>
#
# Which asyncio function did the lesson's `ThreadedEmbedder` use to keep the loop free? When the
# function it runs raises in the worker thread, where does that exception come out — and can a
# `try/except` in your coroutine see it?
# </details>
#
# <details><summary>Hint 2</summary>
#
# `InvalidSku` is a `ValueError`, and so is a plain `ValueError` raised by a bug. If you catch the
# parent class, which of the two have you converted? Look at the lesson's table "Decide where each
# exception is handled": which row does a bug belong to?
# </details>

# %% tags=["task:t1"]
# Task 1 — Convert a blocking library's exceptions
async def fetch_stock(client: InventoryClient, sku: str) -> Result[int, ErrInfo]:
    """The units in stock for `sku`, or the classified Err; defects propagate."""
    # BEGIN SOLUTION
    try:
        units = await asyncio.to_thread(client.stock, sku)      # the blocking SDK, off the loop
    except SkuNotFound as error:
        return Err(ErrInfo("NOT_FOUND", str(error)))
    except InvalidSku as error:
        return Err(ErrInfo("INVALID_SKU", str(error)))
    except RateLimited as error:
        return Err(ErrInfo("RATE_LIMITED", str(error), retryable=True))
    except (ConnectionError, TimeoutError) as error:
        return Err(ErrInfo("UNAVAILABLE", f"{type(error).__name__}: {error}", retryable=True))
    return Ok(units)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: one call per kind of outcome, then a defect, which propagates.

# %% tags=["solution-only"]
outcomes = [42, SkuNotFound("plum"), InvalidSku("bad sku"), RateLimited("slow down"), ConnectionResetError("reset")]
client = InventoryClient(outcomes + [KeyError("units")])
for _ in outcomes:
    print(Simulation().run(fetch_stock(client, "apple")))
try:
    Simulation().run(fetch_stock(client, "apple"))
except KeyError as error:
    print("a defect propagated: KeyError", error)
print("calls ran off the loop's thread:", threading.get_ident() not in client.threads)


# %% [markdown]
# ## Task 2 — Give a connection a lifetime (3 points)
#
# `Warehouse` is a fake inventory database: `conn = await warehouse.connect()` opens a connection,
# `await conn.stock(sku)` answers `Ok(units)` or `Err(NOT_FOUND)`, `await conn.close()` closes it.
# `warehouse.open` counts the connections still open. The cell below has an adapter class,
# `InventoryStore`, that answers through a connection until `release()` takes the connection away.
# Write two things:
#
# 1. `InventoryStore.stock(sku)`: answer through the connection — or, when the store has no
#    connection (it was released), raise **`RuntimeError`** with a message that says to use the
#    store inside `async with` (a bug in the shell gets a clear error, not whatever a closed
#    connection does);
# 2. `open_inventory(warehouse)`, an **async context manager** written with
#    `@asynccontextmanager`: `async with open_inventory(warehouse) as store:` opens **one**
#    connection and yields an `InventoryStore` over it; leaving the block releases the store and
#    closes the connection **exactly once**, however the block ends — normally, by an exception
#    (which must **propagate unchanged**), or by a **cancellation**.
#
# Calling `open_inventory(warehouse)` without entering it must open nothing.
#
# *How it is checked:* on generated scenarios — a few `stock` calls, then a normal end, an
# exception raised inside the block, or a cancellation (a timeout around the block fires while a
# `stock` call is waiting) — on virtual time. The check counts the warehouse's connections inside
# and after the block, and then tries the store it was given, outside its block.
#
# <details><summary>Hint 1</summary>
#
# In an `@asynccontextmanager` function, which part runs on entering the block and which on leaving
# it? If the block raises, where in your function does that exception appear — and does the code
# after the `yield` still run? Which Python statement runs on *every* way out?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Is `asyncio.CancelledError` an `Exception`? What would an `except Exception:` that closes the
# connection do when the block is cancelled? And what must happen to the exception afterwards?
# </details>

# %% tags=["task:t2"]
# Task 2 — Give a connection a lifetime
class InventoryStore:
    """Stock levels through a Warehouse connection, until `release()` takes the connection away."""

    def __init__(self, connection: Connection) -> None:
        self._connection: Connection | None = connection

    def release(self) -> Connection | None:
        """Take the connection away (the store refuses every call afterwards) and return it."""
        connection, self._connection = self._connection, None
        return connection

    async def stock(self, sku: str) -> Result[int, ErrInfo]:
        # BEGIN SOLUTION
        if self._connection is None:
            raise RuntimeError("this InventoryStore is closed: use it inside `async with open_inventory(...) as store:`")
        return await self._connection.stock(sku)
        # END SOLUTION


@asynccontextmanager
async def open_inventory(warehouse: Warehouse) -> AsyncIterator[InventoryStore]:
    """`async with open_inventory(warehouse) as store:` — one connection, closed however the block ends."""
    # BEGIN SOLUTION
    store = InventoryStore(await warehouse.connect())
    try:
        yield store
    finally:                                       # normal end, an exception, a cancellation
        connection = store.release()
        if connection is not None:
            await connection.close()
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a block that ends normally, one that raises, and use after the block.

# %% tags=["solution-only"]
async def demo() -> None:
    warehouse = Warehouse()
    async with open_inventory(warehouse) as store:
        print(await store.stock("apple"), "| open inside:", warehouse.open)
    try:
        async with open_inventory(warehouse) as store:
            raise ValueError("a bug in the block")
    except ValueError as error:
        print("propagated:", error, "| open after:", warehouse.open, "| closed:", warehouse.closes)
    try:
        await store.stock("apple")
    except RuntimeError as error:
        print("RuntimeError:", error)

Simulation().run(demo())


# %% [markdown]
# ## Task 3 — Write a contract clause with teeth (3 points)
#
# The lesson's contract caught a wrong fake by name; the package's `STORAGE_CONTRACT` catches a
# fake that kept the first record (see [07 · going further](../notebooks/further/07_async_adapters.ipynb)).
# Write that clause yourself: `latest_save_wins(store)`, an `async def` that takes any `StorageCap`, calls `save` and
# `load`, and **raises `AssertionError`** (an `assert` with a message) when the store breaks this
# promise — and returns `None` when it keeps it:
#
# > *Saving a key again **replaces** its record: after several saves under one key, `load` gives
# > exactly the last record saved — and saving one key leaves every other key's record as it was.*
#
# Your clause must **pass every correct store** (`FakeStorage` and others; each clause run gets a
# fresh, empty store) and **fail every broken one**. The grader runs it with `run_contract`, as the
# lesson did, against stores that are broken in ways real stores are: they keep the first record,
# merge records, stop applying saves after a while, refuse or raise on a duplicate key, or lose
# records of other keys.
#
# *How it is checked:* `run_contract([Clause("latest save wins", latest_save_wins)], ...)` against
# three correct stores (one answers slowly), then against generated broken stores; a broken store
# your clause passes is named in the feedback.
#
# <details><summary>Hint 1</summary>
#
# What does a record look like after a round trip through JSON — does a tuple come back as a tuple?
# And if a broken store *raises* instead of returning, does your clause need to catch that?
# (What did `run_contract` report for the `Raising` store in the lesson's appendix?)
# </details>
#
# <details><summary>Hint 2</summary>
#
# For each broken store in the list above, what sequence of saves would make it give a different
# answer from a correct one? A store that *merges* records, one that stops applying saves after a
# while, one that loses *other* keys: would two saves of similar records under one key catch them all?
# </details>

# %% tags=["task:t3"]
# Task 3 — Write a contract clause with teeth
async def latest_save_wins(store: StorageCap) -> None:
    """Clause: saving a key again replaces its record; other keys keep theirs."""
    # BEGIN SOLUTION
    other = {"other": ["kept"]}
    assert await store.save("other", other) == Ok(None), "saving a new key should be Ok(None)"
    versions = [{"a": 1}, {"b": [2]}, {"c": {"d": 3}}, {"a": 4}]          # different shapes
    for record in versions:
        saved = await store.save("k", record)
        assert saved == Ok(None), f"saving key 'k' again should be Ok(None) (an upsert), got {saved!r}"
    loaded = await store.load("k")
    assert loaded == Ok(versions[-1]), f"after {len(versions)} saves of 'k', load should give the last, {versions[-1]!r}; got {loaded!r}"
    kept = await store.load("other")
    assert kept == Ok(other), f"saving 'k' must leave 'other' alone: load('other') gave {kept!r}"
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the clause against the correct fake and two broken stores, as a contract table.

# %% tags=["solution-only"]
class KeepsFirst(FakeStorage):
    async def save(self, key, record):
        if key in self.records:
            return Ok(None)
        return await super().save(key, record)

class Merges(FakeStorage):
    async def save(self, key, record):
        return await super().save(key, {**self.records.get(key, {}), **record})

report = Simulation().run(run_contract([Clause("latest save wins", latest_save_wins)], {
    "FakeStorage": without_lifetime(FakeStorage), "KeepsFirst": without_lifetime(KeepsFirst),
    "Merges": without_lifetime(Merges)}))
print(report.table())
print(report.explain())

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("07_async_adapters")

# %% [markdown]
# ## On your own
#
# - Give `fetch_stock` a retry: wrap it with lesson 04's `async_retry` and a policy that trusts the
#   `retryable` flag. Which outcomes of the table are retried, and how many SDK calls does a
#   `RateLimited` twice, then 42, cost?
# - Rewrite Task 2 as a class with `__aenter__` and `__aexit__` (like `HttpxJsonClient`), and make it
#   refuse a second `async with` on the same object. Why is that safer than reopening?
# - Turn `latest_save_wins` into a Hypothesis property over generated keys and records, and run it
#   with `run_contract` against `FakeStorage` and `SqliteStorage`.
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 07 Async Adapters](../notebooks/07_async_adapters.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
