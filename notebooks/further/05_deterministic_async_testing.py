# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 05 Deterministic Async Testing](../05_deterministic_async_testing.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 05 · Going further: the virtual clock up close
#
# Optional material for [lesson 05](../05_deterministic_async_testing.ipynb): every timing API on the
# virtual clock, when the clock jumps, how ties are broken, the clock laws under Hypothesis, plans
# that never end, and two more testing anti-patterns — mocking `asyncio.sleep` and the global `random`.

# %%
import asyncio
import itertools
import random
from unittest.mock import AsyncMock, patch

from hypothesis import given, strategies as st

from funcpipe_async import (
    Err, ErrInfo, ExponentialBackoff, Ok, Result, RetryPolicy, ScriptedService, Simulation, Trace,
    VirtualClock, async_lift, async_retry, async_timeout, delay_schedule, format_table, perform_async, setup,
)

setup()

# %% [markdown]
# ## See how the loop jumps its clock
#
# An asyncio event loop repeats one step: run every callback that is ready (each task runs until
# its next `await`), then ask its *selector* to wait for I/O — at most until the earliest timer is
# due. On the real loop, that wait **is** the passage of time. `loop.time()` reads a monotonic
# clock, and every timing API — `asyncio.sleep`, `loop.call_later`, `asyncio.wait_for`,
# `asyncio.timeout` — is a timer on that clock.
#
# `Simulation` runs a normal asyncio loop with two changes: `loop.time()` returns its
# `VirtualClock`, and when nothing is ready, the selector does not sleep — it **moves the clock to
# the earliest timer** and returns at once:
#
# ```mermaid
# flowchart TD
#   run["run every ready callback: each task runs to its next await"] --> ready{"is anything ready?"}
#   ready -- yes --> run
#   ready -- no --> timer{"is a timer pending?"}
#   timer -- "yes: sleep, call_later, wait_for, timeout" --> jump["jump the VirtualClock to the earliest timer"]
#   jump --> run
#   timer -- no --> thread{"is a worker thread busy?"}
#   thread -- yes --> wait["wait for it for real, clock standing still"]
#   wait --> run
#   thread -- no --> dead["DeadlockError: nothing can ever happen again"]
# ```
#
# This is trio's `MockClock(autojump_threshold=0)`, done for asyncio. Because the loop itself
# keeps the time, every timing API obeys it with no patching. The next cell uses all four; read
# the times in the table — each is exactly where the timer was due.

# %%
async def clock_tour() -> list[tuple[str, float]]:
    loop, seen = asyncio.get_running_loop(), []
    await asyncio.sleep(600)
    seen.append(("asyncio.sleep(600) returned", loop.time()))
    try:
        await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
    except TimeoutError:
        seen.append(("asyncio.wait_for(..., timeout=30) timed out", loop.time()))
    try:
        async with asyncio.timeout(90):
            await asyncio.Event().wait()
    except TimeoutError:
        seen.append(("async with asyncio.timeout(90) expired", loop.time()))
    rang = loop.create_future()
    loop.call_later(120, rang.set_result, "ran")
    seen.append((f"loop.call_later(120, ...) {await rang}", loop.time()))
    return seen

print(format_table(["what happened", "virtual time (s)"], Simulation().run(clock_tour())))

# %% [markdown]
# ## Watch the clock jump
#
# Time moves **only** when every task is waiting. To see that, record an event whenever something
# happens in a small scenario: a `poller` checks every 30 s; a `fetcher` fetches for 45 s, parses
# the answer (CPU work), then saves for 20 s. `sim.trace` is a `Trace` on the virtual clock.

# %%
def parse(n: int) -> int:                        # pure CPU work: no await inside
    return sum(i * i for i in range(n))

async def morning(trace: Trace) -> None:
    async def poller() -> None:
        for check in range(1, 4):
            await asyncio.sleep(30)
            trace.record("check", "poller", n=check)
    async def fetcher() -> None:
        trace.record("start", "fetcher")
        await asyncio.sleep(45)                  # the fetch
        trace.record("fetched", "fetcher")
        trace.record("parsed", "fetcher", checksum=parse(50_000) % 997)
        await asyncio.sleep(20)                  # the save
        trace.record("saved", "fetcher")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(poller(), name="poller")
        tg.create_task(fetcher(), name="fetcher")


# %%
sim = Simulation()
sim.run(morning(sim.trace))
print(sim.trace.table())

# %% [markdown]
# Read the times: events share a few instants. Between them every task was waiting, so the clock
# leapt to the next timer; at an instant, tasks ran — including the CPU-bound `parse`, which took
# zero virtual time. Grouped by instant:

# %%
instants = {t: [f"{e.name} {e.kind}" for e in sim.trace.events if e.time == t]
            for t in dict.fromkeys(e.time for e in sim.trace.events)}
for t, what in instants.items():
    print(f"t={t:g}: {', '.join(what)}")
print(f"{len(sim.trace)} events at {len(instants)} instants")

# %% [markdown]
# ## Break ties in the order timers were set
#
# Reproducibility needs one more rule: when two timers are due **at the same instant**, which
# fires first? asyncio's own heap leaves such ties unordered; the simulation breaks them by
# scheduling order: first set, first fired. Five tasks created in the order e, d, c, b, a all
# sleep exactly one second, and a `call_later` for the same instant is set right after them:

# %%
async def five_sleepers() -> list[str]:
    woke: list[str] = []
    async def sleeper(name: str) -> None:
        await asyncio.sleep(1)
        woke.append(name)
    async with asyncio.TaskGroup() as tg:
        for name in "edcba":
            tg.create_task(sleeper(name))
        asyncio.get_running_loop().call_later(1, woke.append, "call_later")
    return woke

print("woke in order:", Simulation().run(five_sleepers()))


# %% [markdown]
# The sleepers wake in creation order, e to a — not alphabetically, not at random. And
# `call_later` comes first although it is written last: creating a task does not run it, so each
# sleeper sets its timer only when it first runs, after `five_sleepers` reaches its next `await`
# (the end of the `TaskGroup` block). The `call_later` timer was *set* first, so it fires first:
# order is by when the timer was set.

# %% [markdown]
# ## Check the clock laws
#
# **Monotonic, with exact wake-ups.** Hypothesis draws a few tasks, each with a list of naps
# (including zero-length ones), runs them together, and checks two things: the trace's times never
# decrease, and each task wakes at exactly the running sum of its naps. Note the shape — the
# standard way to use Hypothesis with async code: a plain *sync* `@given` function that builds the
# scenario and drives it with `Simulation().run`. (`@given` on an `async def` is refused; see
# below.) First a small scenario builder, reused later for the cost measurement:

# %%
async def nappers(trace: Trace, plans: list[list[float]]) -> None:
    """One task per plan; each sleeps its naps in turn and records `woke` after each."""
    async def napper(name: str, naps: list[float]) -> None:
        for nap in naps:
            await asyncio.sleep(nap)
            trace.record("woke", name)
    async with asyncio.TaskGroup() as tg:
        for i, naps in enumerate(plans):
            tg.create_task(napper(f"t{i}", naps))


# %% [markdown]
# Then the property. Each example gets a fresh `Simulation`, so examples cannot leak into each
# other.

# %%
naps = st.lists(st.sampled_from([0, 0.25, 0.5, 1, 2.5, 60]), max_size=5)

@given(plans=st.lists(naps, min_size=1, max_size=4))
def clock_is_monotonic_and_exact(plans: list[list[float]]) -> None:
    sim = Simulation()
    sim.run(nappers(sim.trace, plans))
    times = [e.time for e in sim.trace.events]
    assert times == sorted(times), sim.trace.table()
    for i, plan in enumerate(plans):
        assert [e.time for e in sim.trace.events if e.name == f"t{i}"] == list(itertools.accumulate(plan))

clock_is_monotonic_and_exact()
print("virtual time never went backwards, and every task woke exactly on time")


# %% [markdown]
# Two refusals worth seeing: Hypothesis will not run an `async def` test by itself, and the clock
# will not go back.

# %%
@given(st.integers())
async def async_property(x: int) -> None:        # Hypothesis cannot drive this
    await asyncio.sleep(x)

try:
    async_property()
except Exception as error:
    print(type(error).__name__ + ":", str(error).splitlines()[0])

try:
    VirtualClock(start=5).advance_to(3)
except ValueError as error:
    print("ValueError:", error)


# %% [markdown]
# **Time moves only when every task waits.** A CPU-bound step never awaits, so no other task can
# run and no timer can fire: on the virtual clock it takes no time at all, however long it really
# runs.

# %%
async def cpu_bound_step() -> float:
    loop = asyncio.get_running_loop()
    before = loop.time()
    parse(300_000)                               # real work: milliseconds of CPU, no await
    return loop.time() - before

print("virtual seconds spent in a CPU-bound step:", Simulation().run(cpu_bound_step()))

# %% [markdown]
# ## Stop a plan that never ends
#
# Two bugs never deadlock — something is always about to happen — yet never finish either. The
# simulation stops both with `SimulationLimitError` instead of spinning forever.
#
# **A loop with no exit.** This poller sleeps and checks, forever. Virtual time races ahead until
# it passes the simulation's `limit` (one simulated day by default; an hour here):

# %% tags=["raises-exception"]
async def poll_until_done(status: dict[str, bool]) -> str:
    while not status["done"]:                    # nothing ever sets it
        await asyncio.sleep(60)
    return "done"

Simulation(limit=3600).run(poll_until_done({"done": False}))


# %% [markdown]
# **Busy-waiting.** `await asyncio.sleep(0)` yields but sets no timer, so a loop around it keeps
# the loop busy while the clock never moves. After `max_idle_steps` loop steps without time moving
# (a million by default; ten thousand here, to keep the lesson fast), the simulation calls it what
# it is:

# %% tags=["raises-exception"]
async def spin_until_done(status: dict[str, bool]) -> str:
    while not status["done"]:
        await asyncio.sleep(0)                   # yields, but time never moves
    return "done"

Simulation(max_idle_steps=10_000).run(spin_until_done({"done": False}))


# %% [markdown]
# The fixes: give polling a bound (a deadline, as lesson 04's policies have), and wait for the
# *event* instead of spinning on a flag. Here a worker sets an `asyncio.Event` after 90 s, and
# the waiter wakes exactly then:

# %%
async def wait_for_worker() -> str:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(90, done.set)    # the worker finishes after 90 s
    async with asyncio.timeout(3600):                       # and never wait for ever
        await done.wait()
    return "done"

sim = Simulation(max_idle_steps=10_000)
print(sim.run(wait_for_worker()), "at t =", sim.now)

# %% [markdown]
# ## Anti-pattern: mocking `asyncio.sleep`
#
# A common way to make slow async tests fast is to patch `asyncio.sleep` with a mock that returns
# at once. This test checks two timing facts: a 5 s call under a 1 s timeout must time out, and
# of two tasks sleeping 2 s and 1 s, the 1 s one must finish first.

# %%
async def slow_answer() -> Result[str, ErrInfo]:
    await asyncio.sleep(5)                       # the dependency takes 5 s
    return Ok("slow answer")

async def finish_order() -> list[str]:
    order: list[str] = []
    async def worker(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        order.append(name)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(worker("slow (2 s)", 2))
        tg.create_task(worker("fast (1 s)", 1))
    return order


# %%
async def timing_test() -> tuple[Result[str, ErrInfo], list[str]]:
    timed = await perform_async(async_timeout(async_lift(slow_answer), 1.0, name="slow answer"))
    return timed, await finish_order()


# %% [markdown]
# Run it with the mock in place. (It is driven on a `Simulation` here only so that no other code
# in the notebook's kernel sees the patched `asyncio.sleep` while it is active; on the real loop
# the mock behaves the same, because a mocked sleep never waits on any clock.)

# %%
sim = Simulation()
with patch("asyncio.sleep", new=AsyncMock(return_value=None)) as instant_sleep:
    mocked_timeout, mocked_order = sim.run(timing_test())
print("timeout result:", mocked_timeout)
print("finish order:  ", mocked_order)
print("sleeps requested:", [c.args[0] for c in instant_sleep.await_args_list], "| time that passed:", sim.now)

# %% tags=["raises-exception"]
assert isinstance(mocked_timeout, Err) and mocked_order[0] == "fast (1 s)", (
    f"the timeout never fired ({mocked_timeout}) and the tasks finished in creation order {mocked_order}")

# %% [markdown]
# The mock did not make time *fast* — it removed it. Every sleep returned without suspending, so
# the 1 s timeout never had a chance to fire and the tasks finished in the order they were
# created. The fix is to keep time and drop only its cost: the same test, unpatched, on virtual
# time.

# %%
sim = Simulation()
timed, order = sim.run(timing_test())
assert isinstance(timed, Err) and order == ["fast (1 s)", "slow (2 s)"]
print("timeout result:", timed)
print("finish order:  ", order, "| virtual time that passed:", sim.now)


# %% [markdown]
# ## Anti-pattern: the global `random`
#
# This hand-rolled jittered backoff draws from the module-level generator. Its result depends on
# whatever state that generator is in — which depends on every other test that ran before it.
# Two explicit seeds stand in for "whatever the state happened to be" on two runs:

# %%
def jittered_waits(attempts: int) -> list[float]:          # code under test, using the global generator
    return [round(random.uniform(0, min(2 ** n, 30)), 3) for n in range(attempts - 1)]

random.seed(1)                                   # the global state on one run...
first_run = jittered_waits(5)
random.seed(2)                                   # ...and on another
second_run = jittered_waits(5)
print("run 1:", first_run)
print("run 2:", second_run)

# %% tags=["raises-exception"]
assert first_run == second_run, "the same test saw different waits on two runs: a failure here can never be replayed"

# %% [markdown]
# The fix is to inject the generator. The package's policies already insist on it: a jittered
# policy without an `rng` is refused, and with `Simulation(seed=...).rng` the waits are the same on
# every run with that seed.

# %%
jittered = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=1, factor=2, cap=30), jitter="full")
try:
    async_retry(async_lift(ScriptedService(["ok"]).call), jittered)   # no rng given
except TypeError as error:
    print("TypeError:", error)

run_1 = delay_schedule(jittered, Simulation(seed=7).rng)
run_2 = delay_schedule(jittered, Simulation(seed=7).rng)
assert run_1 == run_2
print("seed 7, twice:", [round(w, 3) for w in run_1])

# %% [markdown]
# ---
# [← back to 05 Deterministic Async Testing](../05_deterministic_async_testing.ipynb) · [Contents](../00_module_overview.ipynb)
