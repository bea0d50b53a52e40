# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 10 Async Pipeline Laws](../10_async_pipeline_laws.ipynb) · [Contents](../00_module_overview.ipynb) · [11 Refactoring Guide →](../11_refactoring_guide.ipynb)
#
# # Further · 10 · More pipeline laws
#
# An optional appendix to [lesson 10](../10_async_pipeline_laws.ipynb): every law and invariant in
# one table, what the generated scripts cover, and the broken implementations and the anti-pattern
# the lesson left out of its core path. Run it after the lesson; it repeats only the lesson's
# setup and the `show` helper.

# %%
import asyncio

from hypothesis import given, settings, strategies as st

from funcpipe_async import (
    ArrowScript, BatchPolicy, ConstantBackoff, Err, Observation, Ok, PlanScript, RetryPolicy, ScriptOp,
    StreamScript, async_bind, async_gather, async_lift, async_map, async_pure, async_retry,
    async_settle, check_gather_laws, check_law, check_stream_laws, format_table, observe,
    plan_scripts, setup, stream_scripts,
)

setup()

def show(reports) -> None:
    for r in reports:
        print(f"{r.law:<16} {r.examples:>4} examples  {'holds' if r.holds else 'FAILS'}")
        if not r.holds:
            print("    " + r.counterexample)

def results_only(left: Observation, right: Observation) -> bool:
    return left.result == right.result


# %% [markdown]
# ## Read every law and invariant
#
# | family | law | statement | compared | enforcement (live in this notebook, and in `tests/`) |
# |---|---|---|---|---|
# | monad | left identity | `async_bind(async_pure(x), f) == f(x)` | result, effects, time | `check_monad_laws` — [Check the monad laws on effects](../10_async_pipeline_laws.ipynb#Check-the-monad-laws-on-effects); `tests/test_law_checker.py` |
# | monad | right identity | `async_bind(m, async_pure) == m` | result, effects, time | same; a bind that drives `m` twice is caught |
# | monad | associativity | `async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))` | result, effects, time | same |
# | monad | map via bind | `async_map(m, h) == async_bind(m, lambda x: async_pure(h(x)))` | result, effects, time | same |
# | gather | order | `gather(ps, concurrency=k)` gives the values in input order, when no plan fails | result | `check_gather_laws` — [Check the gather laws](../10_async_pipeline_laws.ipynb#Check-the-gather-laws); a gather in completion order is caught ([here](#Break-the-order-law)) |
# | gather | `concurrency=1` is sequential | `gather(ps, concurrency=1) == sequence(ps)` | result, effects, time | same; a gather that ignores its bound is caught — only by the instants of its effects |
# | retry | one attempt is the plan | `retry(m, RetryPolicy(max_attempts=1)) == m` | result, effects, time | `check_retry_laws` — [Check the retry laws](../10_async_pipeline_laws.ipynb#Check-the-retry-laws); a retry that waits first is caught by elapsed time |
# | retry | non-retryable runs once | `retry(m, policy) == m` when `m`'s errors are not retryable | result, effects, time | same; a retry of every error is caught by its repeated effects ([anti-pattern 3](#Anti-pattern-3:-a-strategy-that-never-reaches-the-failing-case)) |
# | streams | map fusion | `s.map(f).map(g) == s.map(lambda x: g(f(x)))` | result, effects, time | `check_stream_laws` — [Check the stream laws](../10_async_pipeline_laws.ipynb#Check-the-stream-laws), [Break three stream operators](#Break-three-stream-operators) |
# | streams | filter fusion | `s.filter(p).filter(q) == s.filter(lambda x: p(x) and q(x))` | result, effects, time | same |
# | streams | chunk/flatten | `s.chunk(n).flatten() == s` | result, effects, time | same; a chunk that drops its remainder is caught |
# | streams | batch/flatten | `s.batch(BatchPolicy(n, w)).flatten() == s` | result, effects, time | same; a batch that waits after a full batch is caught by elapsed time |
# | your own | settle never fails | `async_settle(m)` is `Ok` of `m`'s result, with `m`'s effects and time | a custom `same=` | [Write a law with its own comparison](#Write-a-law-with-its-own-comparison) |
# | your own | success is final | `retry(m, policy) == m` when `m` never fails | result, effects, time | same section — the law's condition lives in its strategy |
# | invariant | scripts are data | `script.build(log)` performs nothing; each build is a fresh plan; a script prints as the code that makes it | — | [See what drawn scripts cover](#See-what-drawn-scripts-cover) |
# | invariant | verdicts are reproducible | the same law on the same implementation gives the same verdict and the same minimal counterexample, every run | — | every report in this notebook (nbval compares them) |
#
#
# `async_sequence(ps)` runs the plans one after another and collects their values.
#
# ## Choose the kind of test
#
# | you want to check | use | why |
# |---|---|---|
# | one known scenario: a bug report, a regression | an example test | cheap, readable, pins the exact case |
# | a property of one function: attempts ≤ `max_attempts`, waits capped | a Hypothesis property (lessons 04–05) | many inputs, one implementation, one assertion |
# | two ways of writing the same thing agree: a refactor, a fusion, an optimised version | a law: `check_law` | both sides on the same generated effectful plans, compared by observation |
# | your own implementation of an abstraction the course already has laws for | `check_monad_laws(bind=…)`, `check_gather_laws(gather=…)`, … | the family's laws are already written; pass your implementation |

# %% [markdown]
# ## See what drawn scripts cover
#
# `plan_scripts()` draws a start value and up to four instructions. Here are the first scripts of
# each mix of instructions among the hundred the course profile draws (derandomized: the same
# hundred every run), and what driving each one shows:

# %%
drawn: list[PlanScript] = []

@given(plan_scripts())
def collect(script: PlanScript) -> None:
    drawn.append(script)

collect()
by_shape: dict[frozenset[str], PlanScript] = {}
for script in drawn:                                   # the first script of each mix of instructions
    by_shape.setdefault(frozenset(op.kind for op in script.ops), script)
brief = lambda r: f"Ok({r.value})" if isinstance(r, Ok) else f"Err({r.error.code})"
rows = [[repr(s), brief(o.result), ", ".join(o.effects) or "-", o.elapsed]
        for s, o in ((s, observe(s.build)) for s in list(by_shape.values())[:9])]
print(format_table(["script", "result", "effects", "elapsed (s)"], rows))

# %% [markdown]
# A law can only catch bugs its examples reach, so count what the hundred cover:

# %%
def coverage(scripts: list[PlanScript]) -> list[list[object]]:
    runs = [({op.kind for op in s.ops}, observe(s.build)) for s in scripts]
    checks = {"fails": lambda kinds, o: isinstance(o.result, Err), "sleeps": lambda kinds, o: "sleep" in kinds,
              "suspends (yield)": lambda kinds, o: "yield" in kinds, "records an effect": lambda kinds, o: bool(o.effects),
              "records an effect, then fails": lambda kinds, o: bool(o.effects) and isinstance(o.result, Err)}
    return [[what, sum(test(kinds, o) for kinds, o in runs)] for what, test in checks.items()]

print(f"of {len(drawn)} scripts drawn by plan_scripts():")
print(format_table(["the script…", "scripts"], coverage(drawn)))

# %% [markdown]
# Arrows (`int -> AsyncPlan[int]`, for the monad laws) and streams (for the stream laws) are
# scripts too. An `ArrowScript` runs its instructions on the value it is given; a `StreamScript`
# waits, records `emit(value)` and yields, item by item:

# %%
arrow = ArrowScript((ScriptOp("effect", "f"), ScriptOp("sleep", 0.5), ScriptOp("add", 1)))
stream = StreamScript(((1.0, 5), (0.0, -2), (0.5, 7)))
print(arrow, "applied to 2:", observe(lambda log: async_bind(async_pure(2), arrow.build(log))))
print(stream, "to a list:", observe(lambda log: stream.build(log).to_list()))

# %% [markdown]
# ## Break the order law
#
# A gather that collects values in the order the plans *finish*. With `concurrency=1` that is
# input order, so the sequential law cannot see it; the **order** law, which runs with
# `concurrency` from 1 to 4 and compares results, does:

# %%
def gather_in_completion_order(plans, concurrency):
    async def run():
        finished = []
        result = await async_gather([async_map(p, finished.append) for p in plans], concurrency=concurrency)()
        return result if isinstance(result, Err) else Ok(finished)
    return async_lift(run)

show(check_gather_laws(gather=gather_in_completion_order, max_examples=20))

# %% [markdown]
# The **result** gave this one away: `[0, 1]` against `[1, 0]` — the first plan suspended once
# (`yield()`), so the second finished first, with `concurrency=2`. Two laws, two different
# promises, each catching what the other cannot.

# %% [markdown]
# ## Break three stream operators
#
# Three broken stream operators, checked in one call. **batch** waits `max_wait` once more after a
# *full* batch before handing it on — a misreading of lesson 09's "by size or by time, whichever
# first" as "and then the time as well". **chunk** drops its last, short group, the classic
# off-by-one of hand-written chunking. **filter** keeps what the predicate rejects:

# %%
def batch_that_waits_after_a_full_batch(s, policy):
    async def hand_on(group):
        await asyncio.sleep(policy.max_wait if len(group) == policy.max_size else 0)
        return Ok(group)
    return s.batch(policy).map_plan(lambda group: async_lift(lambda: hand_on(group)))

def chunk_dropping_the_remainder(s, n):
    return s.chunk(n).filter(lambda group: len(group) == n)

def filter_inverted(s, p):
    return s.filter(lambda x: not p(x))

show(check_stream_laws(batch=batch_that_waits_after_a_full_batch, chunk=chunk_dropping_the_remainder,
                       filter_=filter_inverted, max_examples=20))

# %% [markdown]
# Map fusion holds — `map` was not replaced. The other three each fail on a one-item stream,
# `[[0.0, 0]]`: an item `0` emitted at t = 0. The inverted filter and the short chunk give the
# wrong **result** (`[]` instead of `[0]`). The batch is subtler: the same list `[0]`, the same
# `emit(0)@0`, batched with `max_size=1` and `max_wait=0.5` — and 0.5 s against 0. Only **elapsed
# time**. By results, the batch law holds:

# %%
print(check_law("batch/flatten", "s.batch(BatchPolicy(n, w)).flatten() == s",
                st.tuples(stream_scripts(), st.integers(1, 4), st.sampled_from([0.0, 0.5, 1.5])),
                lambda s, n, w: (lambda log: batch_that_waits_after_a_full_batch(s.build(log), BatchPolicy(n, w)).flatten().to_list(),
                                 lambda log: s.build(log).to_list()),
                max_examples=20, same=results_only))


# %% [markdown]
# ## Write a law with its own comparison
#
# **`async_settle` never fails.** `async_settle(m)` turns `m`'s result into a value: `Ok(Ok(x))` or
# `Ok(Err(e))`. The law: the settled plan is always `Ok` *of `m`'s result*, with `m`'s effects at
# `m`'s instants and `m`'s elapsed time. The result changes shape on purpose, so the comparison is
# custom:

# %%
def settled_is_ok_of(left: Observation, right: Observation) -> bool:
    return (isinstance(left.result, Ok) and left.result.value == right.result
            and left.effects == right.effects and left.elapsed == right.elapsed)

print(check_law("settle", "async_settle(m) == Ok of m's result, same effects and time", st.tuples(plan_scripts()),
                lambda m: (lambda log: async_settle(m.build(log)), m.build), max_examples=30, same=settled_is_ok_of))

# %% [markdown]
# ## Anti-pattern 3: a strategy that never reaches the failing case
#
# A law is only as strong as its examples. Here is the "non-retryable errors run once" law, written
# by hand with `check_law` — the comparison is right this time, whole observations. But its scripts
# come from `plan_scripts(failures=False)`, copied from the lesson's "success is final" law, where
# that condition belonged. The implementation under test retries every error, whatever the
# policy's judgement — lesson 04's "which errors to retry" table, forgotten:

# %%
def retry_every_error(plan, policy):
    async def run():
        for _ in range(policy.max_attempts):
            result = await plan()
            if isinstance(result, Ok):
                break
        return result
    return async_lift(run)

def not_retryable_law(retry, scripts):
    policies = st.builds(lambda n: RetryPolicy(max_attempts=n, backoff=ConstantBackoff(0.5)), st.integers(2, 5))
    return check_law("not retryable", "retry(m, policy) == m when m's errors are not retryable",
                     st.tuples(scripts, policies),
                     lambda m, policy: (lambda log: retry(m.build(log), policy), m.build), max_examples=50)

weak = not_retryable_law(retry_every_error, plan_scripts(failures=False))
print(weak)

# %% tags=["raises-exception"]
assert not weak.holds, (
    "the law passed retry_every_error: none of its plans ever fails, so the broken retry never had "
    "an error to retry")

# %% [markdown]
# Count what the strategy covers, as we did for `plan_scripts()`, and the coverage table says why —
# a law about errors, over plans that never fail:

# %%
never_failing: list[PlanScript] = []

@settings(max_examples=50)
@given(plan_scripts(failures=False))
def collect_never_failing(script: PlanScript) -> None:
    never_failing.append(script)

collect_never_failing()
print(f"of {len(never_failing)} scripts drawn by plan_scripts(failures=False):")
print(format_table(["the script…", "scripts"], coverage(never_failing)))

# %% [markdown]
# Nothing fails, so nothing can be retried, correctly or not. The same trap has other shapes: plans
# that never sleep let a gather that ignores its bound pass, plans that never record an effect let a
# bind that runs twice pass. The fix is a strategy that reaches the case the law is about — here,
# all of `plan_scripts()`, a third of which fail:

# %%
strong = not_retryable_law(retry_every_error, plan_scripts())
show([strong])
assert not strong.holds

# %% [markdown]
# The minimal counterexample is a script that records `a` and then fails with the non-retryable
# `BOOM`: the broken retry recorded `a(0)` once per attempt — same `Err`, same elapsed time, so the
# **effects** gave it away. A non-retryable `HTTP_400` after a write would have written twice.

# %% [markdown]
# ---
# [← 10 Async Pipeline Laws](../10_async_pipeline_laws.ipynb) · [Contents](../00_module_overview.ipynb) · [11 Refactoring Guide →](../11_refactoring_guide.ipynb)
