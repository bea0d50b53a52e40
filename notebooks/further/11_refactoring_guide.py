# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 11 Refactoring Guide](../11_refactoring_guide.ipynb) · [Contents](../00_module_overview.ipynb) · [12 Capstone: async RAG pipeline →](../12_capstone_async_rag_pipeline.ipynb)
#
# # Further · 11 · More on the refactoring
#
# An optional appendix to [lesson 11](../11_refactoring_guide.ipynb): a refactoring anti-pattern
# (a test that pins the implementation), stopping the final job from outside, and two more
# Hypothesis properties of the final version. It repeats the lesson's world (nights, the fake
# CRM) and its step-3 core.

# %%
import asyncio
import json
import math
import random
from dataclasses import dataclass
from unittest.mock import patch

import httpx
from hypothesis import given, settings, strategies as st

from funcpipe_async import (
    HANG, AsyncPlan, Err, ErrInfo, ExponentialBackoff, FakeStorage, HttpClientCap, HttpxJsonClient, Ledger,
    RetryPolicy, ScriptedHttp, Simulation, StorageCap, account_for, async_lift, async_map, async_retry,
    perform_async, setup,
)

setup()

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

exec(CORE)

async def run_final(night: Night, api: ScriptedHttp, store: FakeStorage, *, rng, concurrency: int = 16) -> Ledger:
    async with HttpxJsonClient(base_url="https://crm.example.com", transport=api.transport()) as http:
        return (await perform_async(sync_all(list(night.flaky), http, store, concurrency, rng=rng))).value


# %% [markdown]
# ## Anti-pattern: a test that pins the implementation
#
# A tempting "test" of a fan-out: patch `asyncio.gather` and assert it was called with every
# record. Here are step 2's two plain shapes, `gather` + a shared semaphore and `TaskGroup` + a
# shared semaphore, over a stand-in for the per-record work:

# %%
async def work(record_id: str, done: list[str]) -> None:
    await asyncio.sleep(0.1)
    done.append(record_id)

async def with_gather(ids, done, concurrency=16):
    gate = asyncio.Semaphore(concurrency)
    async def one(i):
        async with gate:
            await work(i, done)
    await asyncio.gather(*[one(i) for i in ids])

async def with_task_group(ids, done, concurrency=16):
    gate = asyncio.Semaphore(concurrency)
    async def one(i):
        async with gate:
            await work(i, done)
    async with asyncio.TaskGroup() as group:
        for i in ids:
            group.create_task(one(i))

IDS = [f"r{k:03d}" for k in range(1, 301)]

def test_gathers_everything(sync) -> None:
    with patch("asyncio.gather", wraps=asyncio.gather) as gather:
        Simulation().run(sync(IDS, []))
    calls = [len(c.args) for c in gather.call_args_list]
    assert len(IDS) in calls, f"asyncio.gather was called with {calls} awaitables"

test_gathers_everything(with_gather)
print("passes on the gather version")

# %% tags=["raises-exception"]
test_gathers_everything(with_task_group)

# %% [markdown]
# A test that fails when behaviour is *kept* trains the team to update tests until they pass. The
# fix is a test of what the outside world sees: every record done, and how long it took.

# %%
def test_behaviour(sync) -> None:
    done, sim = [], Simulation()
    sim.run(sync(IDS, done))
    assert sorted(done) == IDS and round(sim.now, 9) == 1.9, sim.now       # 300 records, 16 at a time: 19 waves of 0.1 s

for sync in (with_gather, with_task_group):
    test_behaviour(sync)
print("the behavioural test passes on both")

# %% [markdown]
# ## Stop the job from outside
#
# The operator stops the final version at t = 1.5 s (a deploy, a kill signal). `async_retry` lets
# the cancellation through (lesson 04): no attempt after it, no task left behind. The shell cancels
# the job mid-run and counts the requests the API received after the cancel:

# %%
async def cancel_at(seconds: float, night: Night) -> str:
    api, rng = crm(night), random.Random(11)
    task = asyncio.ensure_future(run_final(night, api, FakeStorage(), rng=rng))
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    made = api.requests
    await asyncio.sleep(30)                              # later: did anything else reach the API?
    return f"cancelled at t={seconds:g}: {made} requests before, {api.requests - made} after, {len(asyncio.all_tasks()) - 1} tasks left"

print(Simulation().run(cancel_at(1.5, make_night())))

# %% [markdown]
# ## Prove the final version bounded and accounted, with Hypothesis
#
# **Bounded.** For any night and any bound, the final version never has more requests in flight
# than the bound, and uses it (a night of at least `concurrency` records reaches it).

# %%
nights = st.builds(make_night, n=st.integers(1, 40), seed=st.integers(0, 10_000))

@settings(max_examples=30)
@given(night=nights, concurrency=st.integers(1, 12))
def concurrency_is_bounded(night: Night, concurrency: int) -> None:
    api, sim = crm(night), Simulation()
    sim.run(run_final(night, api, FakeStorage(), rng=sim.rng, concurrency=concurrency))
    assert api.peak == min(concurrency, len(night.flaky))

concurrency_is_bounded()
print("in flight == min(concurrency, records) on every generated night and bound (max_examples=30)")

# %% [markdown]
# **Every input accounted for.** On nights with every kind of fault, the ledger has one outcome per
# record; deleted records fail at `fetch` with `HTTP_404` after exactly one request, refused ones
# at `save` with `INVALID_RECORD`, unanswered ones at `fetch` with `TIMEOUT`.

# %%
@st.composite
def stormy_nights(draw: st.DrawFn) -> Night:
    n = draw(st.integers(1, 40))
    picks = [draw(st.lists(st.integers(1, n), max_size=3, unique=True)) for _ in range(3)]
    missing, broken, hanging = picks[0], [k for k in picks[1] if k not in picks[0]], [k for k in picks[2] if k not in picks[0] + picks[1]]
    return make_night(n, draw(st.integers(0, 10_000)), missing=missing, broken=broken, hanging=hanging)

@settings(max_examples=30)
@given(night=stormy_nights())
def every_input_is_accounted_for(night: Night) -> None:
    api, sim = crm(night), Simulation()
    ledger = sim.run(run_final(night, api, FakeStorage(), rng=sim.rng))
    assert ledger.problems(list(night.flaky)) == []
    assert {o.item for o in ledger.failed if o.stage == "fetch" and o.error.code == "HTTP_404"} == night.missing
    assert {o.item for o in ledger.failed if o.stage == "save"} == night.broken
    assert {o.item for o in ledger.failed if o.stage == "fetch" and o.error.code == "TIMEOUT"} == night.hanging
    assert all(len(api.services[i].calls) == 1 for i in night.missing)

every_input_is_accounted_for()
print("one outcome per record, each failure at its step with its code, on every generated stormy night (max_examples=30)")

# %% [markdown]
# ---
# [← 11 Refactoring Guide](../11_refactoring_guide.ipynb) · [Contents](../00_module_overview.ipynb) · [12 Capstone: async RAG pipeline →](../12_capstone_async_rag_pipeline.ipynb)
