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
# Every lesson so far stated laws — `async_bind` is associative, `concurrency=1` is sequential, a
# non-retryable error is tried once, `chunk` then `flatten` gives the stream back — and checked a
# few of them. This lesson turns the checking into a tool. A **law** says two plans are equal; the
# package's **law checker** draws effectful plans with Hypothesis, drives both sides on virtual time,
# and compares what each run *showed*: its result, the effects it performed at the instants it
# performed them, and how long it took. Then it is pointed at broken implementations — a bind that
# runs its plan twice, a gather that ignores its bound, a retry that waits before trying, a batch
# that dawdles — and catches every one, with the smallest example that shows the bug.
#
# **What you'll do**
# - See two plans with the same result, one of which charges twice and one of which sleeps a minute
#   longer, and the observation that tells them apart.
# - Generate effectful plans as data: scripts that record effects, sleep, suspend and fail.
# - Run the four families of laws — monad, gather, retry, streams — and catch a broken
#   implementation of each, live, with the counterexample read line by line.
# - Write laws of your own with `check_law`, including one that only holds under a condition.
# - Watch three law-testing anti-patterns fail, then fix them.
#
# **What you'll learn**
# - What "two plans are equal" means for effectful async code, and which laws need which part of it.
# - `observe`, `Observation`, `check_law`, `LawReport`, and `check_monad_laws`,
#   `check_gather_laws`, `check_retry_laws`, `check_stream_laws`.
# - `PlanScript`, `ArrowScript`, `StreamScript`, `ScriptOp`, `EffectLog` and their strategies
#   `plan_scripts()`, `arrow_scripts()`, `stream_scripts()`.
# - When a law checker is the right test, and when an example or a plain property is.
#
# **What you'll need**
# - Lesson [01](01_async_await_as_descriptions.ipynb) (`AsyncPlan`, the monad laws),
#   [02](02_async_generators.ipynb) (streams), [04](04_retry_and_timeout_policies.ipynb) (retry
#   policies) and [05](05_deterministic_async_testing.ipynb) (virtual time, Hypothesis with async code).
# - About 50 minutes. Run the cells top to bottom (*Run ▸ Run All Cells* works too).

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
# ```mermaid
# flowchart TD
#   problem["Start with the design or failure question"] --> example["Study the worked example and trade-offs"]
#   example --> boundary["Name the boundary this page is trying to protect"]
#   boundary --> proof["Carry that question into code review or the capstone"]
# ```
#
# The first diagram places the lesson: the laws of lessons 01–09, gathered into one checker that
# lesson 11 (refactoring) and the capstone lean on whenever they rewrite a pipeline. The second is
# the rhythm of every lesson.
#
# **Core question.** When is one async pipeline a safe replacement for another — regrouped binds,
# a fused map, a bounded gather, a retried call — and how do you check that on hundreds of
# effectful examples without waiting for a real clock?
#
# **Why it matters.** Refactoring async code is mostly rewriting one plan as an "equivalent" one.
# For pure functions, equal outputs are enough. For plans they are not: a rewrite that returns the
# same value but calls the payment service twice, starts five requests where one was allowed, or
# adds a second of latency to every call is a production incident, and a test that compares only
# results will pass it. A law checker that compares effects and time is how you refactor with
# confidence.
#
# **The review question to carry:** *this rewrite claims to be equivalent — equivalent in result,
# in effects, in timing, or all three, and which test checks that?*

# %% [markdown]
# ## Set up
#
# Everything comes from `funcpipe_async`; nothing the package provides is re-defined here. The
# broken implementations below are this lesson's specimens: each is defined in the notebook, next
# to the law that catches it. `setup()` loads the course's Hypothesis profile (derandomized, so
# every example, verdict and counterexample printed here is the same on every run).

# %%
import asyncio
import inspect
import re
import time

import matplotlib
from hypothesis import given, settings, strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure

from funcpipe_async import (
    ArrowScript, BatchPolicy, ConstantBackoff, EffectLog, Err, Observation, Ok, PlanScript,
    Question, RetryPolicy, ScriptOp, Simulation, StreamScript, answer_key_html, api_summary,
    arrow_scripts, async_bind, async_gather, async_lift, async_map, async_pure, async_retry,
    async_sequence, async_settle, check_gather_laws, check_law, check_monad_laws, check_retry_laws,
    check_stream_laws, course_rc, format_table, int_plans, observe, perform_async, plan_scripts,
    quiz_widget, setup, show_figure, stream_scripts,
)

setup()

# %% [markdown]
# ## Compare more than results
#
# Lesson 01 checked the monad laws by driving both sides and comparing their `Result`s. Here are
# three plans that give the same `Result`. Each is a `PlanScript` — a small program that starts
# from a value and runs a list of instructions (more on them below). The first charges a card once;
# the second charges it twice; the third waits a minute and then charges. Drive each and look only
# at the result:

# %%
charge_once = PlanScript(42, (ScriptOp("effect", "charge"),))
charge_twice = PlanScript(42, (ScriptOp("effect", "charge"), ScriptOp("effect", "charge")))
charge_late = PlanScript(42, (ScriptOp("sleep", 60), ScriptOp("effect", "charge")))
SPECIMENS = {"charge_once": charge_once, "charge_twice": charge_twice, "charge_late": charge_late}

for name, script in SPECIMENS.items():
    print(f"{name:<12}", Simulation().run(script.build(EffectLog())))

# %% [markdown]
# By results, the three are interchangeable. `observe(side)` drives a plan the way the law checker
# does — on a fresh `Simulation` starting at t = 0, with a fresh `EffectLog` — and returns an
# `Observation`: the result, every effect as `label(value)@instant`, and the elapsed virtual time.
# Watch the second and third lines:

# %%
for name, script in SPECIMENS.items():
    print(f"{name:<12}", observe(script.build))

# %% [markdown]
# That is the checker's definition of equality, and the first table of this lesson: two plans are
# **equal** when their observations are — same result, same effects in the same order at the same
# virtual instants, same elapsed time. Each part catches something the others miss:

# %%
reference = observe(charge_once.build)
rows = []
for name, script in SPECIMENS.items():
    seen = observe(script.build)
    rows.append([name, seen.result == reference.result, seen.effects == reference.effects,
                 seen.elapsed == reference.elapsed, seen == reference])
print(format_table(["plan", "same result", "same effects", "same elapsed", "equal observation"], rows))

# %% [markdown]
# A results-only comparison says "equal" three times. The observation says it once, for the plan
# compared with itself. Everything in this lesson is that idea applied at scale: Hypothesis draws
# the plans, `observe` drives them, and a law says which two observations must be equal.

# %% [markdown]
# ## Laws and invariants, each with a live check
#
# | family | law | statement | compared | enforcement (live in this notebook, and in `tests/`) |
# |---|---|---|---|---|
# | monad | left identity | `async_bind(async_pure(x), f) == f(x)` | result, effects, time | `check_monad_laws` — [Check the monad laws on effects](#Check-the-monad-laws-on-effects); `tests/test_law_checker.py` |
# | monad | right identity | `async_bind(m, async_pure) == m` | result, effects, time | same; a bind that drives `m` twice is caught |
# | monad | associativity | `async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))` | result, effects, time | same |
# | monad | map via bind | `async_map(m, h) == async_bind(m, lambda x: async_pure(h(x)))` | result, effects, time | same |
# | gather | order | `gather(ps, concurrency=k)` gives the values in input order, when no plan fails | result | `check_gather_laws` — [Check the gather laws](#Check-the-gather-laws); a gather in completion order is caught |
# | gather | `concurrency=1` is sequential | `gather(ps, concurrency=1) == sequence(ps)` | result, effects, time | same; a gather that ignores its bound is caught — only by the instants of its effects |
# | retry | one attempt is the plan | `retry(m, RetryPolicy(max_attempts=1)) == m` | result, effects, time | `check_retry_laws` — [Check the retry laws](#Check-the-retry-laws); a retry that waits first is caught by elapsed time |
# | retry | non-retryable runs once | `retry(m, policy) == m` when `m`'s errors are not retryable | result, effects, time | same; a retry of every error is caught by its repeated effects |
# | streams | map fusion | `s.map(f).map(g) == s.map(lambda x: g(f(x)))` | result, effects, time | `check_stream_laws` — [Check the stream laws](#Check-the-stream-laws) |
# | streams | filter fusion | `s.filter(p).filter(q) == s.filter(lambda x: p(x) and q(x))` | result, effects, time | same |
# | streams | chunk/flatten | `s.chunk(n).flatten() == s` | result, effects, time | same; a chunk that drops its remainder is caught |
# | streams | batch/flatten | `s.batch(BatchPolicy(n, w)).flatten() == s` | result, effects, time | same; a batch that waits after a full batch is caught by elapsed time |
# | your own | settle never fails | `async_settle(m)` is `Ok` of `m`'s result, with `m`'s effects and time | a custom `same=` | [Write your own law](#Write-your-own-law-with-check_law) |
# | your own | success is final | `retry(m, policy) == m` when `m` never fails | result, effects, time | same section — the law's condition lives in its strategy |
# | invariant | scripts are data | `script.build(log)` performs nothing; each build is a fresh plan; a script prints as the code that makes it | — | [Generate effectful plans as data](#Generate-effectful-plans-as-data) |
# | invariant | verdicts are reproducible | the same law on the same implementation gives the same verdict and the same minimal counterexample, every run | — | every report in this notebook (nbval compares them) |
#
# `async_sequence(ps)` runs the plans one after another and collects their values; it is written out in
# [Check the gather laws](#Check-the-gather-laws).

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
# | `async_settle(m)` never fails | `Ok` of `m`'s result | ✓ | ✓ | the result changes shape on purpose; nothing else may |
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
# ## Read the public API
#
# The checker lives in the shell (it drives plans); the scripts and strategies are descriptions.
# Signatures and the first line of each docstring:

# %%
print(api_summary([observe, check_law, check_monad_laws, check_gather_laws, check_retry_laws,
                   check_stream_laws, plan_scripts, arrow_scripts, stream_scripts], annotations=False))

# %% [markdown]
# `check_law(law, statement, strategy, sides, *, max_examples, same)` is the one general tool:
# `strategy` draws a tuple of arguments, `sides(*args)` returns the two sides of the law — each a
# function from a fresh `EffectLog` to the plan to drive — and `same(left, right)` compares the two
# `Observation`s (by default, all of them). It returns a `LawReport` and never raises for a
# failing law. The four `check_*_laws` functions are laws already written with it.

# %% [markdown]
# ## Generate effectful plans as data
#
# A law checked on `async_pure(3)` and `async_fail(...)` proves little: those plans have no effects
# and take no time, so a bind that runs its plan twice or a gather that ignores its bound behaves
# exactly like the real thing. The checker's plans are **scripts**: small programs of six
# instructions that do what real plans do.

# %%
print(inspect.getdoc(ScriptOp))

# %% [markdown]
# `plan_scripts()` draws a start value and up to four instructions. Here are nine of the hundred
# scripts the course profile draws, each the first with its mix of instructions (derandomized: the same hundred every run), and what driving each
# one shows. Look for a failure after effects, a failure after a sleep, and `fail_over`, whose
# outcome depends on the value reaching it (`fail_over(1)` fails on 2, `fail_over(2)` would not):

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
# A script is a frozen value; `script.build(log)` turns it into a **fresh plan** that records its
# effects into `log`. Building performs nothing. Driving the same plan twice runs the script twice —
# a plan is a description, so it replays — and `observe`, which builds and drives on a fresh clock
# and log each time, sees the same thing every time:

# %%
script = PlanScript(3, (ScriptOp("effect", "a"), ScriptOp("sleep", 1.0), ScriptOp("add", 2), ScriptOp("effect", "b")))
log = EffectLog()
plan = script.build(log)
print("after build:       ", log.entries)
sim = Simulation()
print("first drive: ", sim.run(plan), log.entries)
print("second drive:", sim.run(plan), log.entries)
print("observed twice, equal:", observe(script.build) == observe(script.build))


# %% [markdown]
# Why data and not hand-written coroutines? Because a script
#
# * **prints as code** — `script(3, [effect('a'), sleep(1.0), add(2), effect('b')])` — so a
#   counterexample in a report is something you can paste into a cell and replay;
# * **shrinks** — Hypothesis simplifies a failing script instruction by instruction, down to the
#   smallest one that still fails (you will see `script(0, [effect('a')])` a lot);
# * **replays** — each build is a fresh plan with fresh coroutines, so both sides of a law, and every
#   retry attempt, run real code.
#
# What do the hundred drawn scripts cover? A law can only catch bugs its examples reach, so count:

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
# ## Check the monad laws on effects
#
# Lesson 01 printed this table and called the laws checked. What it compared is the point of this
# lesson: by default, `check_monad_laws` draws effectful scripts for `m`, `f` and `g` and compares
# whole observations.

# %%
for report in check_monad_laws(max_examples=20):
    print(report)


# %% [markdown]
# Now a broken `bind`. Someone "validates" the first step with a dry run before the real one —
# the result is the real run's, so nothing looks wrong. `check_monad_laws(bind=...)` checks this
# implementation instead of the package's (arrows of at most one instruction keep the shrinking
# short). A small helper prints each verdict and, for a failing law, its minimal counterexample on
# its own line:

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
# Read the right-identity counterexample left to right: the drawn `m` is `script(0, [effect('a')])`,
# the smallest script with an effect. Both sides give `Ok(value=0)` after 0 s — result and time
# agree — but the left side recorded `a(0)` **twice**. The **effects** gave it away. Left identity
# holds: there the plan driven twice is `async_pure(x)`, which has no effects, so running it twice is
# invisible — which is exactly why a law needs effectful plans on *both* sides of every bind.
#
# Would a results-only checker have caught it? Here is the same right-identity law, written with
# `check_law`, comparing only results:

# %%
def results_only(left: Observation, right: Observation) -> bool:
    return left.result == right.result

right_identity = lambda bind: lambda m: (lambda log: bind(m.build(log), async_pure), m.build)
print(check_law("right identity", "async_bind(m, async_pure) == m", st.tuples(plan_scripts()),
                right_identity(bind_driving_twice), max_examples=20, same=results_only))

# %% [markdown]
# It holds, over 20 effectful examples. A results-only law suite would ship a bind that performs
# every first step twice — every charge, every write, every message sent.
#
# ## Check the gather laws
#
# `check_gather_laws` states two laws. **Order** compares results only (concurrency moves effects
# earlier, on purpose); **`concurrency=1` is sequential** compares everything. The sequential side
# is the package's `async_sequence(ps)`: the plans bound one after another with `async_bind`,
# collecting values (the next sections use it too):

# %%
for report in check_gather_laws(max_examples=20):
    print(report)


# %% [markdown]
# The broken gather: one that treats `concurrency` as a hint and starts every plan at once. Its
# values are right and in order; it fails fast like the real one. Only *when* things happen differs:

# %%
def gather_ignoring_bound(plans, concurrency):
    return async_gather(plans, concurrency=max(len(plans), 1))      # "the bound is just a hint"

show(check_gather_laws(gather=gather_ignoring_bound, max_examples=20))


# %% [markdown]
# Order holds — the values are right. `concurrency=1` fails on two plans: one that sleeps 0.5 s,
# then one that records `a`. Both sides return `Ok([0, 0])` after 0.5 s: **result and elapsed time
# agree**. But sequentially, `a(0)` happens at t = 0.5, after the first plan finished; here it
# happened at t = 0, while the first plan was still sleeping. Only the **instant of an effect** gave
# it away. Replay the counterexample, with a start and an end effect on three plans, and draw it:

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
for title, seen in runs.items():
    print(f"{title:<42} {seen.result}, {seen.elapsed:g} s")


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
# Sequentially the plans tile the timeline end to end, 4 s in all; ignoring the bound they all start
# at t = 0 and the run takes 2.5 s. With three plans the elapsed time differs too — but the
# *minimal* counterexample is the one where it does not, and Hypothesis found it: two plans whose
# total time is the same either way. A law that compared result and elapsed time would not have
# been enough. One that compares only results — as the order law does, over plans that never
# fail — passes it outright:

# %%
def concurrency_one_law(gather, plans=st.lists(plan_scripts(), max_size=5), same=lambda a, b: a == b, max_examples=50):
    return check_law("concurrency=1", "gather(ps, concurrency=1) == async_sequence(ps)", st.tuples(plans),
                     lambda ps: (lambda log: gather([s.build(log) for s in ps], concurrency=1),
                                 lambda log: async_sequence([s.build(log) for s in ps])),
                     max_examples=max_examples, same=same)

never_failing_lists = st.lists(plan_scripts(failures=False), max_size=5)
print(concurrency_one_law(gather_ignoring_bound, plans=never_failing_lists, same=results_only, max_examples=30))


# %% [markdown]
# (Results alone do catch it on rarer examples: when two plans fail with different errors and the
# later one fails first, running them together changes *which* error wins. A law should not depend
# on such luck.)
#
# A second broken gather, for the other law: it collects values in the order the plans *finish*.
# With `concurrency=1` that is input order, so the sequential law cannot see it — the **order** law,
# which runs with `concurrency` from 1 to 4 and compares results, does:

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
# (`yield()`), so the second finished first, with `concurrency=2`. Two laws, two different promises, each catching what the other cannot.
#
# ## Check the retry laws
#
# `check_retry_laws` states two laws over scripts whose errors are not retryable (`BOOM`,
# `TOO_BIG`): one attempt is the plan itself, and a non-retryable error ends the call after one
# attempt, whatever the policy.

# %%
for report in check_retry_laws(max_examples=20):
    print(report)


# %% [markdown]
# The broken retry is polite: it waits a millisecond before its first attempt, "to let the
# connection settle". A millisecond per call, on every call — nobody would see it in a result:

# %%
def retry_that_waits_first(plan, policy):
    async def run():
        await asyncio.sleep(0.001)                       # "let the connection settle"
        return await async_retry(plan, policy)()
    return async_lift(run)

waits_first_reports = check_retry_laws(retry=retry_that_waits_first, max_examples=20)
show(waits_first_reports)

# %% [markdown]
# Both laws fail on the simplest script there is, `script(0, [])`: no effects, `Ok(value=0)` on both
# sides — only **elapsed time** differs, 0.001 s against 0. The results-only version of the same law
# passes it:

# %%
print(check_law("one attempt", "retry(m, RetryPolicy(max_attempts=1)) == m", st.tuples(plan_scripts()),
                lambda m: (lambda log: retry_that_waits_first(m.build(log), RetryPolicy(max_attempts=1)), m.build),
                max_examples=20, same=results_only))

# %% [markdown]
# A second broken retry — one that retries *every* error, non-retryable ones included — is caught
# by the other law, through its repeated effects; it waits for [anti-pattern 3](#Anti-pattern-3:-a-strategy-that-never-reaches-the-failing-case),
# where a careless strategy lets it through.
#
# ## Check the stream laws
#
# The stream laws are about rewrites of a pipeline: two maps fused into one, two filters into one,
# `chunk` or `batch` undone by `flatten`. The streams are `StreamScript`s whose items arrive over
# virtual time; each side is run to a list.

# %%
for report in check_stream_laws(max_examples=20):
    print(report)


# %% [markdown]
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
# ## Write your own law with `check_law`
#
# Any claim of the form "these two plans are equal" is a law you can check. Three decisions make
# one: the **strategy** (which inputs the law speaks of), the **sides** (two functions from a fresh
# log to a plan), and the **comparison** (`same=`, when the law promises less than everything).
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
# **Success is final.** Retrying a plan that never fails changes nothing — whatever the policy,
# even one that retries the scripts' own error codes. Here is a first attempt at the law, drawing
# `m` from all scripts:

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
# It fails on the package's own `async_retry` — and `async_retry` is right: `script(0,
# [fail('BOOM')])` fails, the policy retries `BOOM`, so two attempts and a 0.5 s wait are correct.
# The *law* was wrong: it speaks only of plans that never fail. **A law's condition lives in its
# strategy**: draw only the inputs it speaks of (here `plan_scripts(failures=False)`), or derive
# dependent values from the drawn ones — never draw freely and hope.

# %%
show([success_is_final(async_retry, plan_scripts(failures=False))])


# %% [markdown]
# With its condition in the strategy, the law holds for `async_retry` (and, run on
# `retry_that_waits_first`, it fails on `script(0, [])` by elapsed time, like the package's retry
# laws). A law that fails on a correct implementation is as useless as one that passes a broken
# one — so check every new law against both.
#
# ## Measure what a law check costs
#
# | step | cost | notes |
# |---|---|---|
# | one example | 2 simulations, one per side | each O(ops + events) on a fresh virtual clock |
# | a law that holds | `max_examples` examples | 2 × `max_examples` simulations |
# | a law that fails | the examples until the first failure, **plus shrinking** | shrinking drives more examples to find the minimal one |
# | virtual seconds | free | the clock jumps to the next timer: cost follows events, not durations |
# | the same law on the wall clock | Θ(both sides' durations) per example | plus tolerance for scheduling noise |
#
# The measurement counts instead of timing: a comparison that tallies every example it compares and
# the virtual seconds both sides took. Watch three things: a failing law costs more examples than a
# passing one (shrinking), every example is two simulations, and the virtual seconds — what a
# wall-clock version would have had to sleep — cost nothing here.

# %%
class Meter:
    """A `same=` that compares whole observations and counts what it was given."""
    def __init__(self) -> None:
        self.examples, self.virtual_seconds = 0, 0.0
    def __call__(self, left: Observation, right: Observation) -> bool:
        self.examples += 1
        self.virtual_seconds += left.elapsed + right.elapsed
        return left == right

def metered(law) -> list[object]:
    meter = Meter()
    report = law(meter)
    return [report.law, "holds" if report.holds else "FAILS", meter.examples, 2 * meter.examples,
            f"{meter.virtual_seconds:g}"]


# %%
rows = [metered(lambda same: concurrency_one_law(async_gather, same=same, max_examples=20)),
        metered(lambda same: concurrency_one_law(async_gather, same=same, max_examples=40))]
for row, note in zip(rows, (", max_examples=20", ", max_examples=40")):
    row[0] += note
for report in waits_first_reports:          # the failing retry laws from above: not run again
    rows.append([f"{report.law}, retry_that_waits_first, max_examples=20", "FAILS", report.examples,
                 2 * report.examples, "-"])
print(format_table(["law", "verdict", "examples compared", "simulations", "virtual s simulated"], rows))


# %% [markdown]
# A law that holds compares exactly `max_examples` examples — twice as many simulations — and the
# cost grows linearly with it; the virtual seconds its plans slept were simulated in no real time.
# The failing laws (their counts are read from the reports of
# [Check the retry laws](#Check-the-retry-laws)) compared far more examples than they were asked for: after the first failure,
# Hypothesis keeps driving smaller variants until none of them fails, to hand you the minimal one.
# `max_examples` is the knob: modest in a notebook (20–50 here), higher in CI.
#
# ## Fix the anti-patterns
#
# | anti-pattern | symptom | fix |
# |---|---|---|
# | a results-only law test | a bind that runs twice, a retry that waits, a gather that ignores its bound — all pass | compare observations: result, effects at their instants, elapsed time |
# | a law test on the wall clock | slow (every example sleeps for real) and flaky (two correct runs never take the same time) | observe on virtual time: exact instants, no real sleeping |
# | a strategy that never reaches the failing case | plans that never fail, never sleep or never record an effect: the broken implementation passes | effectful scripts that fail, sleep and record — and count what your strategy covers |
#
# ### Anti-pattern 1: a results-only law test
#
# A law test in lesson 04's style — drive both sides, compare the `Result`s — over the package's
# `int_plans()` (pure, failing, suspending and bound plans). The implementation under test is a
# retry that, before reporting a failure it will not retry, still "backs off" for the policy's
# delay:

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
# The test should fail on this implementation — every failed call now takes 30 s longer. Run it and
# check that it did:

# %% tags=["raises-exception"]
try:
    not_retryable_by_results()
    caught = False
except AssertionError:
    caught = True
assert caught, "the law test passed a retry that waits 30 s before reporting every non-retryable failure"

# %% [markdown]
# It passed: the results are identical, and nothing in the test looked at time. The fix is to
# compare observations — `check_law` with its default `same=` — over effectful scripts:

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
# Why not run the law on the real event loop and compare what happens? Take the `concurrency=1` law
# on (a shorter copy of) its counterexample from above — a plan that sleeps 0.25 s, then one that
# records `a` — with the
# **correct** `async_gather`, and drive both sides on the notebook's own loop (top-level `await`),
# measuring elapsed time with `loop.time()`:

# %%
async def observe_on_the_wall_clock(side):
    log, loop = EffectLog(), asyncio.get_running_loop()
    started = loop.time()
    result = await perform_async(side(log))
    return result, loop.time() - started

pair = [PlanScript(0, (ScriptOp("sleep", 0.25),)), PlanScript(0, (ScriptOp("effect", "a"),))]
wall_left = await observe_on_the_wall_clock(lambda log: async_gather([s.build(log) for s in pair], concurrency=1))
wall_right = await observe_on_the_wall_clock(lambda log: async_sequence([s.build(log) for s in pair]))
print("results equal:", wall_left[0] == wall_right[0])
per_side = observe(lambda log: async_sequence([s.build(log) for s in pair])).elapsed
print(f"real seconds slept for this one example: {2 * per_side:g} ({per_side:g} s per side)")

# %% tags=["raises-exception"]
assert wall_left[1] == wall_right[1] == 0.25, (
    "the correct async_gather failed its own law on the wall clock: neither side took exactly 0.25 s, "
    "and the two sides did not take the same time")

# %% [markdown]
# A correct implementation "fails": real sleeps overshoot by a scheduler-dependent amount, so two
# runs of the same plan never take exactly the same time, and no instant is exact. The usual
# patch — compare within a tolerance — makes the test flaky instead (how much noise does a busy CI
# runner add?) and slow: this one example slept half a second, and the 40 examples measured in
# the cost table above would sleep 44 s — every virtual second there is a real one here. The fix is lesson
# 05's: the same law on virtual time, where instants are exact and nothing really sleeps.

# %%
started = time.perf_counter()
virtual = concurrency_one_law(async_gather, max_examples=40)
assert virtual.holds and time.perf_counter() - started < 30      # the real cost, checked, not printed
print(virtual)
print("real seconds slept: 0 — every sleep was a jump of the virtual clock")


# %% [markdown]
# ### Anti-pattern 3: a strategy that never reaches the failing case
#
# A law is only as strong as its examples. Here is the "non-retryable errors run once" law, written
# by hand with `check_law` — the comparison is right this time, whole observations. But its scripts
# come from `plan_scripts(failures=False)`, copied from the "success is final" law above, where
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
# ## Test yourself
#
# Answer in the widget (run the cell), or open the answer key below it — it is stored with the
# notebook, so you can read it without a kernel.

# %%
QUIZ = [
    Question("Two plans both return Ok(42). When are they equal for the law checker?",
             ("always: the results are equal", "when they also record the same effects at the same instants and take the same time",
              "when their code is the same"),
             1, "An Observation is result + effects at their virtual instants + elapsed time; plans are compared by all three."),
    Question("A bind that drives its first plan twice passes left identity but fails right identity. Why?",
             ("left identity is not a real law", "in left identity the plan driven twice is async_pure(x), which has no effects",
              "Hypothesis did not find the example"),
             1, "Running a plan with no effects twice is invisible; the law needs effectful plans on both sides."),
    Question("A gather that ignores its bound gives the right values in order. Which comparison catches it?",
             ("results", "the instants of the effects", "nothing can"),
             1, "Its minimal counterexample has the same result and the same elapsed time; only an effect happens earlier."),
    Question("The gather order law compares results only. Why not effects and time as well?",
             ("it would be too slow", "with concurrency > 1 effects happen earlier and the run is shorter, on purpose",
              "effects are not recorded in gathers"),
             1, "Compare exactly what a law promises: more, and a correct implementation fails."),
    Question("A retry waits 1 ms before its first attempt. Which part of the observation shows it on script(0, [])?",
             ("the result", "the effects", "the elapsed time"),
             2, "No effects, same Ok: only elapsed time differs, 0.001 s against 0."),
    Question("Your law 'retry(m, policy) == m when m never fails' fails on the package's async_retry. What first?",
             ("report a bug in async_retry", "check the law's condition is in its strategy, e.g. plan_scripts(failures=False)",
              "lower max_examples"),
             1, "A law that fails on a correct implementation is a wrong law; draw only the inputs it speaks of."),
    Question("Why are generated plans scripts (data) rather than random coroutines?",
             ("they print as code, shrink to a minimal example, and build a fresh plan every time",
              "coroutines cannot be awaited in Hypothesis", "data is faster"),
             0, "A counterexample you can read, paste and replay is the point of a law checker."),
    Question("A failing law compared 180 examples with max_examples=100. Where did the other 80 come from?",
             ("a bug in the checker", "shrinking: Hypothesis drove smaller variants to find the minimal counterexample",
              "the wall clock"),
             1, "Shrinking costs extra simulations, only when a law fails."),
]

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: widget model ids differ per run
quiz_widget(QUIZ)

# %%
HTML(answer_key_html(QUIZ))

# %% [markdown]
# ## Exercise
#
# The graded exercise is **[Exercise 10 · Async Pipeline Laws](../exercises/10_async_pipeline_laws.ipynb)**
# (10 points), with a **Check your work** cell that runs the same checks the grader does (see
# [the exercises README](../exercises/README.md)). Each task is graded by running *your law* against
# the package's correct implementation and against broken ones: it must hold for the first and catch
# every one of the others.
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
# - Write the law "`async_retry(async_retry(m, p), q)` makes at most `p.max_attempts ×
#   q.max_attempts` attempts" with a policy that retries `BOOM`. What do you compare — and how do
#   you count attempts from an `Observation`?
# - `check_stream_laws` has no law for `take`. State one (`s.take(n).take(k) == s.take(min(n, k))`)
#   and check it. Does it hold for the source's *effects* too — how many items does the source emit?
# - Break `async_timeout` in a way only time shows (it waits out the full timeout before returning a
#   fast result) and in a way only effects show (it races two copies of the plan). Which of your
#   laws catches which?
# - Run `check_gather_laws(max_examples=1000)` and look at the virtual seconds simulated. How long
#   would the wall-clock version take?
#
# ## Further reading
#
# - Hypothesis documentation, [what you can generate and how](https://hypothesis.readthedocs.io/en/latest/data.html)
#   and [shrinking](https://hypothesis.works/articles/compositional-shrinking/): why drawn values
#   simplify to a minimal counterexample.
# - The `returns` library's [container interfaces](https://github.com/dry-python/returns/blob/master/returns/interfaces/container.py):
#   laws declared beside the type they govern, checked by a reusable law checker.
# - Typelevel's [cats laws and Discipline](https://typelevel.org/cats/typeclasses/lawtesting.html): law
#   checking as a library, for every implementation of an abstraction.
# - John Hughes, ["Experiences with QuickCheck: testing the hard stuff and staying sane"](https://www.cs.tufts.edu/~nr/cs257/archive/john-hughes/quviq-testing.pdf):
#   property-based testing of effectful, concurrent systems.
# - ZIO's [ZIO Test](https://zio.dev/reference/test/): property tests of effects on a test clock —
#   the same two ideas, effects as values and virtual time, in another ecosystem.
#
# ## Continue with
#
# **[11 · Refactoring Guide](11_refactoring_guide.ipynb)**: a messy, real-looking async script refactored step by
# step into descriptions and a shell — each step a rewrite claimed to be equivalent, and pinned by
# the laws and checks of this lesson. You can now say precisely what "equivalent" means for an async
# pipeline, check it over hundreds of effectful examples in milliseconds, and read the minimal
# counterexample when it fails.

# %% [markdown]
# ---
# [← 09 Async Chunking](09_async_chunking.ipynb) · [Contents](00_module_overview.ipynb) · [11 Refactoring Guide →](11_refactoring_guide.ipynb)
