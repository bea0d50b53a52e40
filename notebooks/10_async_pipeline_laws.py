# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 09 Async Chunking](09_async_chunking.ipynb) · [Contents](00_module_overview.ipynb) · [11 Refactoring Guide →](11_refactoring_guide.ipynb)
#
# # 10 · Async Pipeline Laws
#
# A **law** says two pieces of async code are equal. A **law checker** generates effectful inputs
# with Hypothesis, runs both sides on virtual time, and compares what each run *showed*: its
# result, its effects at their instants, and how long it took. You start with plain `asyncio`,
# then point the package's checker at broken implementations and read the smallest failing example.
#
# **What you'll do**
# - Check "one worker equals sequential" and "order is kept" on a plain `asyncio.gather` +
#   `asyncio.Semaphore` pipeline, then on the package's `async_gather`, and prove the two equal.
# - Run the monad, gather, retry and stream laws, catch broken implementations, write a law of your own.
#
# **What you'll learn**
# - What "equal" means for async code with effects, and which laws need which part of it.
# - `observe`, `check_law`, the `check_*_laws` families and the script strategies.
#
# **What you'll need**
# - Lessons [01](01_async_await_as_descriptions.ipynb) (`AsyncPlan`, the monad laws),
#   [04](04_retry_and_timeout_policies.ipynb) (retry policies), [05](05_deterministic_async_testing.ipynb)
#   (virtual time, Hypothesis with async code) and [08](08_async_service_integrations.ipynb)
#   (the fetch → validate → save pipeline).
# - About 50 minutes. The full laws table, more broken implementations and a third anti-pattern
#   are in the appendix [further/10](further/10_async_pipeline_laws.ipynb).

# %% [markdown]
# ## Place this lesson
#
# ```mermaid
# flowchart TD
#   family["Python Programming"] --> program["Python Functional Programming"]
#   program --> module["Module 08: Async Pipelines, Backpressure, and Fairness"]
#   module --> concept["10 Async Pipeline Laws"]
#   concept --> capstone["Capstone pressure point: lesson 12, refactoring the RAG pipeline without changing what it does"]
# ```
#
# The laws of lessons 01–09, in one checker that lesson 11 and the capstone lean on. (The working
# rhythm is in [lesson 01](01_async_await_as_descriptions.ipynb#Place-this-lesson).)
#
# **Core question.** When is one async pipeline a safe replacement for another (more workers, a
# regrouped bind, a fused map), and how do you check that on hundreds of examples without a real clock?
#
# **Why it matters.** A rewrite that returns the same value but calls the payment service twice,
# starts five requests where one was allowed, or adds a second to every call is a production
# incident, and a test that compares only results passes it.

# %% [markdown]
# ## Set up
#
# The broken implementations below are this lesson's specimens. `setup()` loads the course's
# Hypothesis profile (derandomized: every verdict here is the same on every run).

# %%
import asyncio
import inspect
import re

import matplotlib
from hypothesis import given, settings, strategies as st
from matplotlib.figure import Figure

from funcpipe_async import (
    ConstantBackoff, EffectLog, Err, Observation, Ok, PlanScript, RetryPolicy, ScriptOp,
    Simulation, lesson_answer_key, api_summary, arrow_scripts, async_bind, async_gather, async_lift, async_map,
    async_retry, async_sequence, check_gather_laws, check_law, check_monad_laws,
    check_retry_laws, check_stream_laws, course_rc, format_table, int_plans, observe, perform_async,
    plan_scripts, lesson_quiz, setup, show_figure, stream_scripts,
)

setup()

# %% [markdown]
# ## Check two laws on plain asyncio
#
# Start with no package at all: lesson 08's **fetch → validate → save** as ordinary coroutines.
# A job is an `(item, seconds)` pair: the fetch takes that long, the save 0.1 s. Each effect goes
# to an `EffectLog` as `label(item)@instant`.

# %%
async def fetch(item: int, seconds: float, log: EffectLog) -> dict:
    await asyncio.sleep(seconds)
    log.record("fetch", item)
    return {"id": item, "price": 10 * item}

def validate(body: dict) -> dict:
    if body["price"] < 0:
        raise ValueError(f"negative price: {body}")
    return body

async def save(record: dict, log: EffectLog) -> int:
    await asyncio.sleep(0.1)
    log.record("save", record["id"])
    return record["id"]

async def process(job: tuple[int, float], log: EffectLog) -> int:
    item, seconds = job
    return await save(validate(await fetch(item, seconds, log)), log)


# %% [markdown]
# Two ways to run a list of jobs: one after another, and with at most `workers` at a time (lesson
# 08's `asyncio.gather` + `asyncio.Semaphore` idiom):

# %%
async def sequential(jobs, log: EffectLog) -> list[int]:
    return [await process(job, log) for job in jobs]

async def with_workers(jobs, log: EffectLog, workers: int) -> list[int]:
    gate = asyncio.Semaphore(workers)
    async def one(job):
        async with gate:
            return await process(job, log)
    return await asyncio.gather(*(one(job) for job in jobs))


# %% [markdown]
# `observe(side)` runs `side(log)` on a fresh `Simulation` (lesson 05) with a fresh `EffectLog`
# and returns an `Observation`: result, effects with instants, elapsed virtual time.
#
# **Predict, then run.** Four jobs whose fetches take 0.3, 0.1, 0.2 and 0.5 s. With one worker, is
# the observation *exactly* the sequential one, instants included? With four, which item is
# fetched first, what order do the results come back in, and how long does the run take?

# %%
JOBS = [(1, 0.3), (2, 0.1), (3, 0.2), (4, 0.5)]
plain = {"sequential": observe(lambda log: sequential(JOBS, log)),
         "1 worker": observe(lambda log: with_workers(JOBS, log, 1)),
         "4 workers": observe(lambda log: with_workers(JOBS, log, 4))}
for name, seen in plain.items():
    print(f"{name:<11}", seen)

# %% [markdown]
# One worker is the sequential run to the instant. Four workers fetch item 2 first and finish in
# 0.6 s instead of 1.5, yet `gather` hands the results back in input order. Those are two laws,
# stated as assertions:

# %%
assert plain["1 worker"] == plain["sequential"]                    # concurrency 1 equals sequential
assert plain["4 workers"].result == plain["sequential"].result     # order is kept
assert plain["4 workers"].effects != plain["sequential"].effects   # ...but not when things happen

# %% [markdown]
# Four jobs are one example. `check_law` checks a law on many: a strategy draws the inputs (lists
# of up to six jobs), `sides` builds both sides, and `same` says what must be equal (by default the
# whole observation; the order law promises the result only):

# %%
jobs = st.lists(st.tuples(st.integers(0, 9), st.sampled_from([0.0, 0.1, 0.3])), max_size=6)
print(check_law("1 worker", "with_workers(jobs, 1) == sequential(jobs)", st.tuples(jobs),
                lambda js: (lambda log: with_workers(js, log, 1), lambda log: sequential(js, log)),
                max_examples=50))
print(check_law("order", "with_workers(jobs, 4) returns sequential(jobs)'s values", st.tuples(jobs),
                lambda js: (lambda log: with_workers(js, log, 4), lambda log: sequential(js, log)),
                max_examples=50, same=lambda left, right: left.result == right.result))

# %% [markdown]
# Now the package's form beside it: each job becomes a plan (`async_lift` of the same coroutine,
# wrapped in `Ok`) and `async_gather(plans, concurrency=k)` runs them. The claim: for every list
# of jobs and every `k`, the same values, effects at the same instants, and elapsed time.

# %%
async def as_ok(coroutine):
    return Ok(await coroutine)

def process_plan(job, log: EffectLog):
    return async_lift(lambda: as_ok(process(job, log)))

same_run = lambda p, q: Ok(p.result) == q.result and (p.effects, p.elapsed) == (q.effects, q.elapsed)
bridge = check_law("plain == package", "with_workers(jobs, k) == async_gather(plans, concurrency=k)",
                   st.tuples(jobs, st.integers(1, 4)),
                   lambda js, k: (lambda log: with_workers(js, log, k),
                                  lambda log: async_gather([process_plan(j, log) for j in js], concurrency=k)),
                   max_examples=50, same=same_run)
print(bridge)
assert bridge.holds

# %% [markdown]
# The two forms are the same program, observed. The description adds a value built before
# anything runs (handed to a checker, replayed on a fresh clock) and a bound in *tasks* too: `k`
# workers, where `gather` + `Semaphore` makes one task per job up front. It costs a wrapper per
# step and one more vocabulary. Every law below can be checked on plain coroutines like this.

# %% [markdown]
# ## Compare more than results
#
# Why compare effects and time at all? Three plans written as `PlanScript`s (small programs the
# checker generates, below): one charges a card once, one twice, one waits a minute, then charges.
#
# **Predict, then run.** Which of the three return the same result? Which observations are equal?

# %%
SPECIMENS = {"charge_once": PlanScript(42, (ScriptOp("effect", "charge"),)),
             "charge_twice": PlanScript(42, (ScriptOp("effect", "charge"), ScriptOp("effect", "charge"))),
             "charge_late": PlanScript(42, (ScriptOp("sleep", 60), ScriptOp("effect", "charge")))}
reference = observe(SPECIMENS["charge_once"].build)
rows = [[name, seen.result, seen.result == reference.result, seen.effects == reference.effects,
         seen.elapsed == reference.elapsed, seen == reference]
        for name, seen in ((name, observe(script.build)) for name, script in SPECIMENS.items())]
print(format_table(["plan", "result", "same result", "same effects", "same elapsed", "equal observation"], rows))

# %% [markdown]
# A results-only comparison says "equal" three times; the observation says it once. Two plans are
# **equal** when their observations are.

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# One row per family; all sixteen laws and invariants are in
# [the appendix](further/10_async_pipeline_laws.ipynb#Read-every-law-and-invariant).
#
# | family | the laws | compared | enforcement (live in this notebook; also `tests/test_law_checker.py`) |
# |---|---|---|---|
# | gather | order kept; `concurrency=1` equals sequential | result; everything | [Check two laws on plain asyncio](#Check-two-laws-on-plain-asyncio), [Check the gather laws](#Check-the-gather-laws) |
# | monad | left and right identity, associativity, map via bind | everything | [Check the monad laws on effects](#Check-the-monad-laws-on-effects) |
# | retry | one attempt is the plan; a non-retryable error runs once | everything | [Check the retry laws](#Check-the-retry-laws) |
# | streams | map and filter fusion; `chunk` and `batch` undone by `flatten` | everything | [Check the stream laws](#Check-the-stream-laws) |
# | your own | success is final: retrying a plan that never fails changes nothing | everything | [Write your own law](#Write-your-own-law-with-check_law) |
# | invariant | verdicts are reproducible: same law, same implementation, same verdict and counterexample | — | every report here (nbval compares them) |

# %% [markdown]
# ## Choose what to compare
#
# A law promises some things and not others. Compare exactly what it promises: less, and a broken
# implementation passes; more, and a correct one fails.
#
# | law | result | effects (with instants) | elapsed | why |
# |---|---|---|---|---|
# | monad laws, fusion laws, chunk/batch then flatten | ✓ | ✓ | ✓ | a rewrite: nothing observable may change |
# | `concurrency=1` is sequential | ✓ | ✓ | ✓ | one at a time means each effect at the instant a sequential run has it |
# | gather order with `concurrency=k` | ✓ | — | — | more concurrency moves effects earlier and shortens the run; only the order of values is promised |
# | retry laws (one attempt, non-retryable) | ✓ | ✓ | ✓ | an extra attempt shows in effects, an extra wait in time |
#
# A law is the right test when two ways of writing the same thing must agree (a refactor, more
# workers); one known scenario wants an example test, a property of one function a plain property.

# %% [markdown]
# ## Read the public API
#
# The checker lives in the shell (it drives plans); the scripts and strategies are descriptions.

# %%
print(api_summary([observe, check_law, check_monad_laws, check_gather_laws, check_retry_laws,
                   check_stream_laws, plan_scripts, arrow_scripts, stream_scripts], annotations=False))

# %% [markdown]
# ## Generate effectful plans as data
#
# A law checked on `async_pure(3)` proves little: it has no effects and takes no time. The
# checker's plans are **scripts**, small programs of six instructions that do what real plans do:

# %%
print(inspect.getdoc(ScriptOp))

# %% [markdown]
# A script is a frozen value; `script.build(log)` turns it into a **fresh plan** that records into
# `log`. `plan_scripts()` draws a start value and up to four instructions.
#
# **Predict, then run.** This script starts from 2, records `a`, sleeps 1 s, then hits
# `fail_over(1)`. What is its result, which effects did it record, and when?

# %%
script = PlanScript(2, (ScriptOp("effect", "a"), ScriptOp("sleep", 1.0), ScriptOp("fail_over", 1)))
print(script, "->", observe(script.build))

# %% [markdown]
# Why data and not hand-written coroutines? A script **prints as code** (a counterexample you can
# paste and replay), **shrinks** (Hypothesis simplifies a failing one to the smallest), and each
# build **replays** with fresh coroutines. Arrows and streams are scripts too
# ([appendix](further/10_async_pipeline_laws.ipynb)).

# %% [markdown]
# ## Check the monad laws on effects
#
# Lesson 01 checked the monad laws by comparing results. By default `check_monad_laws` draws
# effectful scripts for `m`, `f` and `g` and compares whole observations:

# %%
for report in check_monad_laws(max_examples=20):
    print(report)


# %% [markdown]
# Now a broken `bind` that "validates" the first step with a dry run before the real one; the
# result is the real run's. `check_monad_laws(bind=...)` checks it instead of the package's;
# `show` prints each verdict and any minimal counterexample.
#
# **Predict, then run.** Left identity binds `async_pure(x)`; right identity binds a drawn script
# `m`. Which of the two laws can see a plan that is driven twice?

# %%
def bind_driving_twice(m, f):
    async def dry_run_then_real():
        await m()                      # a "harmless" dry run...
        return await m()               # ...then the real one
    return async_bind(async_lift(dry_run_then_real), f)

def show(reports) -> None:
    for r in reports:
        print(f"{r.law:<16} {r.examples:>4} examples  {'holds' if r.holds else 'FAILS'}")
        if not r.holds:
            print("    " + r.counterexample)

show(check_monad_laws(bind=bind_driving_twice, arrows=arrow_scripts(max_ops=1), max_examples=20))


# %% [markdown]
# Right identity fails on `script(0, [effect('a')])`, the smallest script with an effect: both
# sides give `Ok(value=0)` after 0 s, but the left recorded `a(0)` **twice**. Left identity holds:
# the plan driven twice there is `async_pure(x)`, which has no effects.
#
# %% [markdown]
# ## Check the gather laws
#
# `check_gather_laws` states the two laws you checked on plain asyncio, over generated scripts:
# **order** compares results only; **`concurrency=1` is sequential** compares everything. The
# sequential side is `async_sequence(ps)`, the package's form of the `for` loop in `sequential`:

# %%
for report in check_gather_laws(max_examples=20):
    print(report)


# %% [markdown]
# The broken gather treats `concurrency` as a hint and starts every plan at once. Its values are
# right and in order; only *when* things happen differs.
#
# **Predict, then run.** Which of the two laws fails, and which part of the observation (result,
# effects, elapsed) will show it on the minimal counterexample?

# %%
def gather_ignoring_bound(plans, concurrency):
    return async_gather(plans, concurrency=max(len(plans), 1))      # "the bound is just a hint"

show(check_gather_laws(gather=gather_ignoring_bound, max_examples=20))


# %% [markdown]
# Order holds. `concurrency=1` fails on two plans: one that sleeps 0.5 s, then one that records
# `a`. Both sides return `Ok([0, 0])` after 0.5 s, so **result and elapsed time agree**; but
# sequentially `a(0)` happens at t = 0.5, and here at t = 0. Only the **instant of an effect** gave
# it away. Replay it with a start and an end effect on three plans, and draw it:

# %%
def timed_script(n: int, seconds: float) -> PlanScript:
    return PlanScript(n, (ScriptOp("effect", "start"), ScriptOp("sleep", seconds), ScriptOp("effect", "end")))

def spans(observation: Observation) -> dict[int, list[float]]:
    """Plan number -> [start, end] instants, read from the effects `start(n)@t` and `end(n)@t`."""
    found: dict[int, list[float]] = {}
    for label, n, at in (re.fullmatch(r"(\w+)\((-?\d+)\)@(.+)", e).groups() for e in observation.effects):
        found.setdefault(int(n), []).append(float(at))
    return found

three = [timed_script(1, 1.0), timed_script(2, 0.5), timed_script(3, 2.5)]
runs = {"async_sequence(ps): the law's side": observe(lambda log: async_sequence([s.build(log) for s in three])),
        "gather_ignoring_bound(ps, concurrency=1)": observe(lambda log: gather_ignoring_bound([s.build(log) for s in three], 1))}


# %%
def plot_spans(runs: dict[str, Observation]) -> Figure:
    with matplotlib.rc_context(course_rc()):
        fig = Figure(figsize=(9, 3.8), layout="constrained")
        axes = fig.subplots(len(runs), 1, sharex=True)
        for ax, (title, seen), hatch in zip(axes, runs.items(), ("", "//")):
            for n, (start, end) in spans(seen).items():
                ax.barh(f"plan {n}", end - start, left=start, hatch=hatch, edgecolor="0.2", alpha=0.8)
                ax.plot([start, end], [f"plan {n}"] * 2, linestyle="none", marker="o", color="0.1")
            ax.set_title(f"{title}: {seen.elapsed:g} s", loc="left", fontsize=10)
            ax.invert_yaxis()
        axes[-1].set_xlabel("virtual time (virtual seconds); dots mark the start and end effects")
    return fig


# %%
summary = "; ".join(f"{title}: " + ", ".join(f"plan {n} {s:g}–{e:g} s" for n, (s, e) in spans(seen).items())
                    for title, seen in runs.items())
show_figure(plot_spans(runs), alt="Two timelines of three plans. " + summary)
print(summary.replace("; ", "\n"))


# %% [markdown]
# Sequentially the plans tile the timeline, 4 s in all; ignoring the bound they all start at t = 0
# and the run takes 2.5 s. The *minimal* counterexample, though, has equal elapsed times: a law
# comparing result and elapsed time would have passed this gather. The law, written with
# `check_law` for the cells below:

# %%
def concurrency_one_law(gather, plans=st.lists(plan_scripts(), max_size=5), same=lambda a, b: a == b, max_examples=50):
    return check_law("concurrency=1", "gather(ps, concurrency=1) == async_sequence(ps)", st.tuples(plans),
                     lambda ps: (lambda log: gather([s.build(log) for s in ps], concurrency=1),
                                 lambda log: async_sequence([s.build(log) for s in ps])),
                     max_examples=max_examples, same=same)


# %% [markdown]
# ## Check the retry laws
#
# Two laws over scripts whose errors are not retryable: one attempt is the plan itself, and a
# non-retryable error ends the call after one attempt, whatever the policy.

# %%
for report in check_retry_laws(max_examples=20):
    print(report)


# %% [markdown]
# The broken retry waits a millisecond before its first attempt, "to let the connection settle".
#
# **Predict, then run.** On the simplest script there is, `script(0, [])`, which part of the
# observation differs?

# %%
def retry_that_waits_first(plan, policy):
    async def run():
        await asyncio.sleep(0.001)                       # "let the connection settle"
        return await async_retry(plan, policy)()
    return async_lift(run)

waits_first_reports = check_retry_laws(retry=retry_that_waits_first, max_examples=20)
show(waits_first_reports)

# %% [markdown]
# Both laws fail on `script(0, [])`: no effects, `Ok(value=0)` on both sides; only **elapsed
# time** differs, 0.001 s against 0.
#
# ## Check the stream laws
#
# Rewrites of a stream pipeline: two maps fused, two filters fused, `chunk` or `batch` undone by
# `flatten`, over `StreamScript`s whose items arrive over virtual time.
#
# **Predict, then run.** For `s.chunk(n).flatten() == s` to hold, what must `chunk` do with a last
# group shorter than `n`?

# %%
for report in check_stream_laws(max_examples=20):
    print(report)


# %% [markdown]
# It must emit it: all four hold. Three broken stream operators are in the
# [appendix](further/10_async_pipeline_laws.ipynb).
#
# ## Write your own law with `check_law`
#
# Three decisions make a law: the **strategy** (which inputs it speaks of), the **sides**, and the
# **comparison** (`same=`). **Success is final**: retrying a plan that never fails changes
# nothing, whatever the policy. A first attempt draws `m` from all scripts.
#
# **Predict, then run.** The package's `async_retry` is correct. Does this law hold for it?

# %%
retrying_boom = st.builds(
    lambda attempts, delay: RetryPolicy(max_attempts=attempts, backoff=ConstantBackoff(delay),
                                        retry_on=frozenset({"BOOM", "TOO_BIG"})),
    st.integers(2, 5), st.sampled_from([0.5, 2.0]))

def success_is_final(retry, scripts):
    return check_law("success is final", "retry(m, policy) == m when m never fails", st.tuples(scripts, retrying_boom),
                     lambda m, policy: (lambda log: retry(m.build(log), policy), m.build), max_examples=30)

show([success_is_final(async_retry, plan_scripts())])

# %% [markdown]
# It fails, and `async_retry` is right: `script(0, [fail('BOOM')])` fails, the policy retries
# `BOOM`, so two attempts and a 0.5 s wait are correct. The *law* was wrong. **A law's condition
# lives in its strategy**: draw only the inputs it speaks of (`plan_scripts(failures=False)`).

# %%
show([success_is_final(async_retry, plan_scripts(failures=False))])


# %% [markdown]
# Check every new law against a correct implementation and a broken one. (A law with a custom
# `same=` is in the [appendix](further/10_async_pipeline_laws.ipynb).)
#
# ## Measure what a law check costs
#
# | step | cost | notes |
# |---|---|---|
# | one example | 2 simulations, one per side | each O(ops + events) on a fresh virtual clock |
# | a law that holds | `max_examples` examples | 2 × `max_examples` simulations |
# | a law that fails | the examples until the first failure, **plus shrinking** | shrinking drives more examples to find the minimal one |
# | virtual seconds | free | the clock jumps to the next timer: cost follows events, not durations |
# | the same law on the wall clock | Θ(both sides' durations) per example | every virtual second is a real one |
#
# The measurement counts instead of timing: each `LawReport` says how many examples it compared.
#
# **Predict, then run.** The retry laws above were asked for 20 examples and failed. Did they
# compare more than 20, or fewer?

# %%
rows = []
for n in (20, 40):
    report = concurrency_one_law(async_gather, max_examples=n)
    rows.append([f"{report.law}, async_gather", n, "holds" if report.holds else "FAILS", report.examples])
for report in waits_first_reports:          # the failing retry laws from above: not run again
    rows.append([f"{report.law}, retry_that_waits_first", 20, "FAILS", report.examples])
print(format_table(["law", "max_examples", "verdict", "examples compared"], rows))


# %% [markdown]
# A law that holds compares exactly `max_examples` examples; a failing one compares more, because
# after the first failure Hypothesis **shrinks**: it drives smaller variants to find the minimal one.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | a results-only law test | a bind that runs twice, a retry that waits, a gather that ignores its bound — all pass | compare observations: result, effects at their instants, elapsed time |
# | a law test on the wall clock | slow (every example sleeps for real) and noisy (durations compared within a tolerance) | observe on virtual time: exact instants, no real sleeping |
#
# A third, a strategy that never reaches the failing case, is in the
# [appendix](further/10_async_pipeline_laws.ipynb#Anti-pattern-3:-a-strategy-that-never-reaches-the-failing-case).
#
# ### Anti-pattern 1: a results-only law test
#
# A law test in lesson 04's style (drive both sides, compare the `Result`s) over `int_plans()`.
# Under test: a retry that, before reporting a failure it will not retry, still "backs off":

# %%
def retry_backing_off_before_giving_up(plan, policy):
    async def run():
        result = await async_retry(plan, policy)()
        if isinstance(result, Err):
            await asyncio.sleep(policy.backoff.delay)    # waits even though nothing will be retried
        return result
    return async_lift(run)

@settings(max_examples=30)
@given(plan=int_plans(), attempts=st.integers(2, 5))
def not_retryable_by_results(plan, attempts) -> None:
    policy = RetryPolicy(max_attempts=attempts, backoff=ConstantBackoff(30))
    assert Simulation().run(retry_backing_off_before_giving_up(plan, policy)) == Simulation().run(plan)


# %% [markdown]
# **Predict, then run.** Every failed call now takes 30 s longer. Does this test catch it?

# %% tags=["raises-exception"]
try:
    not_retryable_by_results()
    caught = False
except AssertionError:
    caught = True
assert caught, "the law test passed a retry that waits 30 s before reporting every non-retryable failure"

# %% [markdown]
# It passed: the results are identical, and nothing in the test looked at time. The fix is to
# compare observations (`check_law` with its default `same=`) over effectful scripts:

# %%
fixed = check_law("not retryable", "retry(m, policy) == m when m's errors are not retryable",
                  st.tuples(plan_scripts(), st.integers(2, 5)),
                  lambda m, n: (lambda log: retry_backing_off_before_giving_up(
                      m.build(log), RetryPolicy(max_attempts=n, backoff=ConstantBackoff(30))), m.build),
                  max_examples=50)
show([fixed])
assert not fixed.holds


# %% [markdown]
# Caught on `script(0, [fail('BOOM')])`: the same `Err`, no effects, **30 s** against 0.
#
# ### Anti-pattern 2: a law test on the wall clock
#
# Why not run the law on the real event loop? Done honestly, it compares results exactly and
# durations *within a tolerance* (real sleeps overshoot). Here is the `concurrency=1` law that
# way, on the notebook's own loop, for the **correct** `async_gather`, over 40 drawn examples,
# with a unit-test budget of one real second.
#
# **Predict, then run.** Will it finish inside its budget?

# %%
examples: list[list[PlanScript]] = []

@settings(max_examples=40)
@given(st.lists(plan_scripts(), max_size=5))
def collect_lists(scripts: list[PlanScript]) -> None:
    examples.append(scripts)

collect_lists()

async def wall_clock_law(examples, tolerance=0.25):
    loop = asyncio.get_running_loop()
    for ps in examples:
        start = loop.time()
        left = await perform_async(async_gather([s.build(EffectLog()) for s in ps], concurrency=1))
        middle = loop.time()
        right = await perform_async(async_sequence([s.build(EffectLog()) for s in ps]))
        assert left == right and abs((middle - start) - (loop.time() - middle)) <= tolerance

sleeps = sum(observe(lambda log: async_sequence([s.build(log) for s in ps])).elapsed for ps in examples)
print(f"the 40 examples sleep {sleeps:g} real seconds per side")


# %% tags=["raises-exception"]
try:
    async with asyncio.timeout(1.0):
        await wall_clock_law(examples)
except TimeoutError:
    raise AssertionError("the wall-clock law ran out of its 1 s budget before its 40 examples were done") from None

# %% [markdown]
# It cannot: every virtual second is a real one here. Given the time, it still guesses: a
# tolerance wide enough for a busy CI runner passes a gather that is a little late, and it never
# sees the instants of effects that caught `gather_ignoring_bound`. The fix is lesson 05's: the
# same law on virtual time.

# %%
virtual = concurrency_one_law(async_gather, max_examples=40)
print(virtual)
assert virtual.holds

# %% [markdown]
# ## Test yourself
#
# Answer in the widget, or read the answer key below it (no kernel needed).

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
lesson_quiz("10")

# %%
lesson_answer_key("10")

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 10 · Async Pipeline Laws](../exercises/10_async_pipeline_laws.ipynb)**
# (10 points), with a **Check your work** cell (see [the exercises README](../exercises/README.md)).
# Each task runs *your law* against the package's correct implementation, where it must hold, and
# against broken ones, which it must catch.
#
# 1. **Write both sides of a gather law** — `gather_singleton_law(gather)`: `gather([m],
#    concurrency=k)` is `async_map(m, lambda x: [x])`, checked on effectful scripts.
# 2. **Put a timeout law's condition in its strategy** — `timeout_law(timeout)`: `timeout(m, t)` is
#    `m` when `m` finishes before `t`.
# 3. **Compare what the law promises** — `same_work(left, right)`: the comparison for "concurrency
#    changes when things happen, never what happens".
#
# ## On your own
#
# - Write the plain-asyncio form of `with_workers` with `asyncio.TaskGroup` and an
#   `asyncio.Queue(maxsize=workers)` feeding `workers` tasks. Does it pass the same three laws?
# - `check_stream_laws` has no law for `take`. State one (`s.take(n).take(k) == s.take(min(n, k))`)
#   and check it. Does it hold for the source's *effects* too?
# - Break `async_timeout` in a way only time shows, and in a way only effects show. Which law catches which?
#
# ## Further reading
#
# - Hypothesis, [what you can generate and how](https://hypothesis.readthedocs.io/en/latest/data.html)
#   and [shrinking](https://hypothesis.works/articles/compositional-shrinking/).
# - Typelevel's [cats laws and Discipline](https://typelevel.org/cats/typeclasses/lawtesting.html): law
#   checking as a library, for every implementation of an abstraction.
# - John Hughes, ["Experiences with QuickCheck: testing the hard stuff and staying sane"](https://www.cs.tufts.edu/~nr/cs257/archive/john-hughes/quviq-testing.pdf):
#   property-based testing of effectful, concurrent systems.
#
# ## Continue with
#
# **[11 · Refactoring Guide](11_refactoring_guide.ipynb)**: a messy, real-looking async script refactored step by
# step into descriptions and a shell, each step a rewrite claimed to be equivalent and pinned by a test.

# %% [markdown]
# ---
# [← 09 Async Chunking](09_async_chunking.ipynb) · [Contents](00_module_overview.ipynb) · [11 Refactoring Guide →](11_refactoring_guide.ipynb)
