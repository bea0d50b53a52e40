# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 08 Async Service Integrations](../08_async_service_integrations.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 08 · Async Service Integrations — going further
#
# Optional deep dives for [lesson 08](../08_async_service_integrations.ipynb): the anti-pattern of
# retrying a save that is not idempotent, failing live and then fixed; the exact schedule a rate
# limiter admits; and what a timeout does to a slow item's retries. Everything prints counts, never
# timings.

# %%
import asyncio
import json
import sqlite3

from funcpipe_async import (
    AsyncRateLimiter, Err, ErrInfo, ExponentialBackoff, Faults, HttpxJsonClient, Ledger, LoopbackJsonService, Ok,
    Result, RetryPolicy, Simulation, SqliteStorage, StorageCap, TokenBucket, account_for, async_lift, async_retry,
    max_window_cost, setup,
)

setup()
POLICY = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=0.002, factor=2, cap=0.01))
RECORDS = {f"{n:03d}": {"id": f"{n:03d}", "title": f"item {n}", "price": n * 10} for n in range(1, 41)}

# %% [markdown]
# ## Retry a save that is not idempotent
#
# A save whose reply is lost is the write-side twin of lesson 04's double charge: the row is in the
# database, but the caller sees an error and retries. Two small classes set the trap, for this
# demonstration only: `AppendOnlyStore`, a **non-idempotent** SQLite table (every save `INSERT`s, no
# key), and `LostReplies`, which lets the first save of some keys land and then reports a retryable
# `DB_TIMEOUT`, as a dropped connection to a database would.

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

    async def count(self) -> Result:
        return Ok(self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0])


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


# %% [markdown]
# 40 records, every 4th save loses its first reply, each save retried with the lesson's policy, 4 at a
# time. The ledger looks perfect; the table does not.

# %%
LOST = set(sorted(RECORDS)[::4])

async def save_all(store) -> tuple[Ledger, int]:
    lossy = LostReplies(store, LOST)
    steps = [("save", lambda key: async_retry(async_lift(lambda: lossy.save(key, RECORDS[key])), POLICY))]
    ledger = (await account_for(sorted(RECORDS), steps, concurrency=4)()).value
    return ledger, (await store.count()).value

append_only = AppendOnlyStore()
ledger, rows = await save_all(append_only)
print(ledger, "| problems:", ledger.problems(list(RECORDS)), f"| writes: {append_only.writes} | rows: {rows}")

# %% tags=["raises-exception"]
assert rows == len(ledger.saved), f"{rows} rows for {len(ledger.saved)} saved inputs: {rows - len(ledger.saved)} stored twice"

# %% [markdown]
# Each lost reply was retried, and each retry inserted the record again. Retrying is only safe when
# the operation is **idempotent**. The fix is in the adapter, not in the retry policy: lesson 07's
# `SqliteStorage.save` is an upsert on the key, so a retried save is a second *write* of the same *row*.

# %%
async with SqliteStorage() as store:
    fixed, rows = await save_all(store)
assert rows == len(fixed.saved)
print(fixed, f"| writes: {store.writes} | rows: {rows}")

# %% [markdown]
# Writes exceed rows by exactly the lost replies; rows equal saved inputs: *writes may exceed rows,
# rows never exceed inputs*.
#
# ## Read the schedule a rate limiter admits
#
# `AsyncRateLimiter(TokenBucket(rate, burst))` (lesson 06) admits on the loop's clock. On virtual time
# the schedule is exact: 30 requests at once against `rate=100, burst=10` — a burst of 10 at t = 0,
# then one every 10 ms — and no 0.1 s window admits more than `rate·0.1 + burst`.

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
print("most admitted in any 0.1 s window:", max_window_cost(limiter.admitted, 0.1), "<= 100·0.1 + 10")

# %% [markdown]
# ## Retry a slow item, and a missing one
#
# A slow answer becomes `Err(HTTP_TIMEOUT, retryable=True)` after the client's timeout: retrying is
# safe (a GET is idempotent) but useless while the item stays slow — the server counts all three
# attempts. A missing item is `HTTP_404`, not retryable: one request. Item 007 answers 503 twice and
# then recovers on the third attempt.

# %%
CATALOGUE = {f"{n:03d}": {"id": f"{n:03d}"} for n in range(1, 10)}
FAULTS = Faults(slow={"005": 2.0}, unavailable={"007": 2})

async def fetch_retried(service: LoopbackJsonService, item: str) -> str:
    async with HttpxJsonClient(service.base_url, timeout=0.5) as http:
        result = await async_retry(async_lift(lambda: http.get_json(f"/items/{item}")), POLICY)()
    return "Ok" if isinstance(result, Ok) else result.error.code

with LoopbackJsonService(CATALOGUE, faults=FAULTS) as service:
    for item in ("005", "007", "040"):
        print(item, await fetch_retried(service, item), "| server requests:", service.requests.get(f"/items/{item}", 0))

# %% [markdown]
# ---
# [← back to 08 Async Service Integrations](../08_async_service_integrations.ipynb) · [Contents](../00_module_overview.ipynb)
