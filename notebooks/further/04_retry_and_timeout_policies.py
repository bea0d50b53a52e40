# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← back to 04 Retry and Timeout Policies](../04_retry_and_timeout_policies.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # 04 · Going further: timeouts around a retry, schedule laws, defects
#
# Optional material for [lesson 04](../04_retry_and_timeout_policies.ipynb): a timeout owned by the
# caller and placed *around* the retry, the laws of the pure schedule, long backoffs on virtual time,
# `Retry-After`, and a defect that must crash.

# %%
import asyncio
import random
from dataclasses import replace

from hypothesis import given, strategies as st

from funcpipe_async import (
    ConstantBackoff, Err, ErrInfo, ExponentialBackoff, Ok, Result, RetryPolicy, ScriptedService, Simulation,
    async_lift, async_retry, async_timeout, attempt_timeline_summary, delay_schedule, setup,
)

setup()
UNAVAILABLE = ErrInfo("HTTP_503", "service unavailable", retryable=True)
five_tries = RetryPolicy(max_attempts=5, backoff=ConstantBackoff(1))

# %% [markdown]
# ## Put the timeout outside the retry
#
# The lesson's decision table has a fourth row: a timeout owned by the *caller*, around the whole
# retry, rather than a `deadline` inside the policy.
#
# | timeout | bounds | use it when | watch out for |
# |---|---|---|---|
# | outside: `async_timeout(async_retry(...))` or `asyncio.timeout` | the whole call, from the caller's side | the caller, not the policy, owns the budget | the retry sees a cancellation (recorded as `cancelled`), not a result |
#
# First the plain form: an outer `asyncio.timeout` cancels the retrying call at t = 2.5, in the middle
# of attempt 2. The trace records the attempt it interrupted, and the caller sees `TimeoutError`.

# %%
async def outer_timeout(seconds: float, call) -> str:
    try:
        async with asyncio.timeout(seconds):
            await call
    except TimeoutError:
        return f"outer timeout at t={asyncio.get_running_loop().time():g}"

down, sim = ScriptedService([UNAVAILABLE], latency=1), Simulation()
print(sim.run(outer_timeout(2.5, async_retry(async_lift(down.call), five_tries, trace=sim.trace)())))
print(attempt_timeline_summary(sim.trace))

# %% [markdown]
# The same bound as a description, `async_timeout(async_retry(...), 7)`, next to the policy's own
# `deadline=7`, against a dependency whose attempts take 4 s and fail. Both stop at t = 7 and cancel
# attempt 2; they differ in what the trace and the result say.

# %%
slow_fail = RetryPolicy(max_attempts=5, backoff=ConstantBackoff(1))
for label, build in (
    ("deadline=7 inside the policy",
     lambda call, trace: async_retry(async_lift(call), replace(slow_fail, deadline=7), trace=trace, name="inside")),
    ("async_timeout(..., 7) outside",
     lambda call, trace: async_timeout(async_retry(async_lift(call), slow_fail, trace=trace, name="outside"), 7,
                                       trace=trace, name="outside")),
):
    sim, service = Simulation(), ScriptedService([UNAVAILABLE], latency=4)
    print(f"{label}: {sim.run(build(service.call, sim.trace))} at t={sim.now:g}")
    print(attempt_timeline_summary(sim.trace))

# %% [markdown]
# Inside, the policy knows its deadline: it reports `DEADLINE_EXCEEDED` with the last error, and it
# can give up *before* a wait that would end past the deadline. Outside, the retry only sees a
# cancellation; the caller gets a plain `TIMEOUT`. Pick the form by who owns the budget.

# %% [markdown]
# ## Wait minutes for free
#
# Because the clock is virtual, long waits cost nothing. This policy backs off for minutes against a
# dependency that never recovers; the run ends at once, at exactly the virtual time the schedule says.

# %%
patient = RetryPolicy(max_attempts=8, backoff=ExponentialBackoff(initial=2, factor=2, cap=120))
never_up, sim = ScriptedService([UNAVAILABLE]), Simulation()
print(sim.run(async_retry(async_lift(never_up.call), patient)))
print(f"{len(never_up.calls)} attempts; waits {delay_schedule(patient)} sum to {sum(delay_schedule(patient)):g} s "
      f"= the virtual clock, {sim.now / 60:.1f} simulated minutes")

# %% [markdown]
# ## Honour `Retry-After`
#
# `async_retry` waits by its own schedule and does not read a server's `Retry-After`. For a service
# that sends one with `HTTP_429`, give 429 a backoff whose first wait is no shorter than the
# `Retry-After` it usually sends, or leave `HTTP_429` out of `retry_on` and let the caller reschedule.
# A `401`/`403` is not retried either: refresh credentials, then make a *new* call.
#
# ## Prove the schedule laws
#
# The schedule is a pure function, so these properties need no simulation: exponential waits are
# `initial · 2ᵏ` capped at `cap`, full jitter stays in `[0, d]`, equal jitter in `[d/2, d]`.

# %%
@given(initial=st.floats(0.001, 10), cap_ratio=st.floats(1, 100), retries=st.integers(1, 15))
def schedule_is_exponential_and_capped(initial, cap_ratio, retries) -> None:
    cap = initial * cap_ratio
    waits = delay_schedule(RetryPolicy(max_attempts=retries + 1, backoff=ExponentialBackoff(initial, 2, cap)))
    assert waits == tuple(min(initial * 2 ** k, cap) for k in range(retries))

@given(seed=st.integers(0, 2**32), jitter=st.sampled_from(["full", "equal"]), retries=st.integers(1, 12))
def jitter_stays_in_bounds(seed, jitter, retries) -> None:
    policy = RetryPolicy(max_attempts=retries + 1, backoff=ExponentialBackoff(1, 2, cap=30), jitter=jitter)
    for wait, d in zip(delay_schedule(policy, random.Random(seed)), delay_schedule(replace(policy, jitter="none"))):
        assert (0 if jitter == "full" else d / 2) <= wait <= d

schedule_is_exponential_and_capped()
jitter_stays_in_bounds()
print("waits are initial·2^k capped at cap; full jitter in [0, d], equal jitter in [d/2, d]")

# %% [markdown]
# ## Let a defect crash
#
# An exception is a bug, not an expected failure: `async_retry` does not catch it, so it propagates
# after exactly one attempt, with its own type and message. Retrying a `KeyError` would only hide it.

# %%
attempts = []

async def buggy() -> Result[str, ErrInfo]:
    attempts.append("call")
    return Ok({"id": 1}["name"])        # a bug: KeyError

try:
    Simulation().run(async_retry(async_lift(buggy), five_tries))
except KeyError as error:
    print(f"KeyError({error}) propagated after {len(attempts)} attempt(s)")


# %% [markdown]
# The same for any policy and any exception, with Hypothesis:

# %%
@given(max_attempts=st.integers(1, 20), error=st.sampled_from([KeyError, ValueError, ZeroDivisionError]))
def defects_are_never_retried(max_attempts, error) -> None:
    calls = []
    async def broken() -> Result[str, ErrInfo]:
        calls.append("call")
        raise error("a bug")
    try:
        Simulation().run(async_retry(async_lift(broken), replace(five_tries, max_attempts=max_attempts)))
    except error:
        assert calls == ["call"]
    else:
        raise AssertionError("the exception was swallowed")

defects_are_never_retried()
print("an exception propagates after exactly one attempt, for every policy drawn")

# %% [markdown]
# ---
# [← back to 04 Retry and Timeout Policies](../04_retry_and_timeout_policies.ipynb) · [Contents](../00_module_overview.ipynb)
