# ---
# jupyter:
#   funcpipe_async:
#     exercise: 10_async_pipeline_laws
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 10 Async Pipeline Laws](../notebooks/10_async_pipeline_laws.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 10 · Async Pipeline Laws
#
# Three graded tasks on the lesson's ideas: a **law** says two plans are equal, and the law
# checker compares them by **result, effects at their instants, and elapsed time**; a law's
# **condition lives in its strategy**; and a law compares **exactly what it promises**. Each
# task is graded the way the lesson tests laws: your law is run against the package's correct
# implementation, where it must hold, and against broken ones, each of which it must catch.
# Everything runs on **virtual time**. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. It imports
# the law checker and the scripts from the lesson, and defines two helpers: `script_duration`
# (how long a script sleeps in all) and the lesson's `sequence`.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
from collections import Counter

from hypothesis import strategies as st

from funcpipe_async import (
    AsyncPlan, EffectLog, Err, ErrInfo, LawReport, Observation, Ok, PlanScript, ScriptOp, async_bind,
    async_gather, async_sequence, async_lift, async_map, async_pure, async_timeout, check_law, observe, plan_scripts,
)


def script_duration(script: PlanScript) -> float:
    """The virtual seconds `script` sleeps in all: it never runs longer (it may stop earlier, at a failure)."""
    return sum(float(op.arg) for op in script.ops if op.kind == "sleep")


# %% [markdown]
# ## Task 1 — Write both sides of a gather law (4 points)
#
# A gather of **one** plan is that plan, with its value in a list:
#
# ```text
# gather([m], concurrency=k) == async_map(m, lambda x: [x])      for every script m and every k ≥ 1
# ```
#
# Write `gather_singleton_law(gather)`, which checks this law for the implementation `gather`
# (called as `gather(plans, concurrency=k)`) with `check_law`, and returns its `LawReport`:
#
# - the **strategy** draws a script `m` (from `plan_scripts()`) and a `k` from 1 to 4;
# - the **sides** are two functions of a fresh `EffectLog`: each builds its *own* plan from the
#   script, `m.build(log)`, and wraps it — one in `gather([...], concurrency=k)`, the other in
#   `async_map(..., lambda x: [x])`;
# - the **comparison** is the default one: result, effects at their instants, elapsed time;
# - `max_examples=50` (the grader runs your law five times).
#
# *How it is checked:* your law must **hold** for `async_gather`, and **fail** for four broken
# gathers: one that returns the bare value for a single plan, one that drops failed plans, one
# that drives each plan twice at once, and one that starts half a second late. Each is caught by a
# different part of the observation — and only if your strategy reaches the case.
#
# <details><summary>Hint 1</summary>
#
# Which cell of the lesson calls `check_law` with a strategy that draws *two* values, and builds
# both sides from a fresh log? ([Check two laws on plain asyncio](../notebooks/10_async_pipeline_laws.ipynb#Check-two-laws-on-plain-asyncio)
# and `concurrency_one_law` in [Check the gather laws](../notebooks/10_async_pipeline_laws.ipynb#Check-the-gather-laws).)
# What does `sides` receive, and what must each of the two sides it returns take?
# </details>
#
# <details><summary>Hint 2</summary>
#
# For each of the four broken gathers, ask: what must `m` do (fail? record an effect? sleep?)
# for the bug to show, and which part of the observation shows it? Does your strategy draw such
# an `m`, and does your comparison look at that part?
# </details>
#
# <details><summary>Try it</summary>
#
# Print your law's report for `async_gather`: does it hold? Then write a broken gather of your own
# (one that unwraps the single value, say) and check that the report fails on it.
# </details>

# %% tags=["task:t1"]
# Task 1 — Write both sides of a gather law
def gather_singleton_law(gather) -> LawReport:
    """Check `gather([m], concurrency=k) == async_map(m, lambda x: [x])` for the implementation `gather`."""
    # BEGIN SOLUTION
    return check_law(
        "singleton gather", "gather([m], concurrency=k) == async_map(m, lambda x: [x])",
        st.tuples(plan_scripts(), st.integers(1, 4)),
        lambda m, k: (lambda log: gather([m.build(log)], concurrency=k),
                      lambda log: async_map(m.build(log), lambda x: [x])),
        max_examples=50,
    )
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the law on the package's gather, and on a gather that drives each plan twice —
# the counterexample shows every effect twice, with the right result and the right time.

# %% tags=["solution-only"]
def gather_twice(plans, concurrency):
    return async_map(async_gather([p for p in plans for _ in range(2)], concurrency=2 * concurrency), lambda xs: xs[::2])

print(gather_singleton_law(async_gather))
print(gather_singleton_law(gather_twice).counterexample)


# %% [markdown]
# ## Task 2 — Put a timeout law's condition in its strategy (3 points)
#
# A timeout that does not fire changes nothing:
#
# ```text
# timeout(m, t) == m      when m finishes before t
# ```
#
# Write `timeout_law(timeout)`, which checks this law for the implementation `timeout` (called as
# `timeout(plan, t)`) with `check_law` and returns its `LawReport`. The law speaks only of plans that
# finish **before** `t` — a plan that is still running at `t` is *supposed* to time out — so, as the
# lesson put it, **the condition lives in the strategy**: draw the script `m` first, then a `t`
# derived from it, longer than everything `m` sleeps (the set-up cell's `script_duration(m)`, plus
# a margin above 0). Compare whole observations (the default) and use `max_examples=50`.
#
# *How it is checked:* your law must **hold** for `async_timeout` — if it fails there, your `t` is not
# always beyond the script's end — and **fail** for three broken timeouts: one that turns every
# `Err` into `Err(TIMEOUT)`, one that waits out the whole `t` before returning a fast result, and one
# that races two copies of the plan.
#
# <details><summary>Hint 1</summary>
#
# How do you draw a value that depends on another drawn value? Look up Hypothesis's `flatmap`
# and `@st.composite` ([drawing interactively](https://hypothesis.readthedocs.io/en/latest/data.html)).
# </details>
#
# <details><summary>Hint 2</summary>
#
# If `t` equals the script's total sleep exactly, which fires first at that instant: the
# timeout's timer or the script's last sleep? Which of the two was set first? What does that say
# about the margin you add?
# </details>

# %% tags=["task:t2"]
# Task 2 — Put a timeout law's condition in its strategy
def timeout_law(timeout) -> LawReport:
    """Check `timeout(m, t) == m` for every script m and every t beyond m's end, for the implementation `timeout`."""
    # BEGIN SOLUTION
    cases = plan_scripts().flatmap(
        lambda m: st.tuples(st.just(m), st.sampled_from([0.5, 1.0, 10.0]).map(lambda margin: script_duration(m) + margin))
    )
    return check_law(
        "timeout", "timeout(m, t) == m when m finishes before t", cases,
        lambda m, t: (lambda log: timeout(m.build(log), t), m.build),
        max_examples=50,
    )
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the law holds on the package's timeout; drawn carelessly — `t` from a fixed list,
# whatever the script — it "fails" on the package's timeout, which is correct: the law was wrong.

# %% tags=["solution-only"]
print(timeout_law(async_timeout))
careless = check_law("timeout", "timeout(m, t) == m", st.tuples(plan_scripts(), st.sampled_from([1.0, 2.0])),
                     lambda m, t: (lambda log: async_timeout(m.build(log), t), m.build), max_examples=50)
print(careless.counterexample)


# %% [markdown]
# ## Task 3 — Compare what the law promises (3 points)
#
# Concurrency changes **when** things happen, never **what** happens. For plans that never fail:
#
# ```text
# gather(ps, concurrency=k)  does the same work as  sequence(ps)      for every k ≥ 1
# ```
#
# "The same work" is less than equal observations: with `k > 1` the plans overlap, so effects
# happen earlier, in an interleaved order, and the run is shorter — all correct. It is more than
# equal results: a gather that runs a plan twice has the right result and has done the wrong work.
#
# Write `same_work(left, right)`, the comparison (`same=`) for this law: it takes two `Observation`s
# and returns `True` exactly when they have **the same result and the same effects, as a multiset,
# ignoring their instants** (`"a(1)@0.5"` and `"a(1)@2"` are the same effect, done at different
# times) — and ignores elapsed time.
#
# *How it is checked:* on generated lists of never-failing scripts and `k` from 1 to 4, a correct
# `async_gather` must be judged the same as `sequence` (no false alarm); and a gather that returns
# values in the order the plans finish, and one that drives a plan twice, must be judged different on
# every example where their work really differs.
#
# <details><summary>Hint 1</summary>
#
# An effect prints as `"label(value)@instant"`. How do you drop the part after the `@`? And which
# standard-library type compares two collections while ignoring their order, but not their counts?
# </details>
#
# <details><summary>Try it</summary>
#
# Pass `same_work` as `same=` to a `check_law` of `async_gather` against `sequence` on
# never-failing scripts: it should hold. With the default comparison, should the same law hold?
# </details>

# %% tags=["task:t3"]
# Task 3 — Compare what the law promises
def same_work(left: Observation, right: Observation) -> bool:
    """The same result and the same effects (a multiset, instants ignored); elapsed time ignored."""
    # BEGIN SOLUTION
    def work(observation: Observation) -> Counter:
        return Counter(effect.rsplit("@", 1)[0] for effect in observation.effects)

    return left.result == right.result and work(left) == work(right)
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the law with `same_work` holds for the package's gather at every concurrency, and
# with the default comparison it raises a false alarm.

# %% tags=["solution-only"]
def same_work_law(same):
    return check_law("same work", "gather(ps, concurrency=k) does the same work as async_sequence(ps)",
                     st.tuples(st.lists(plan_scripts(failures=False), max_size=4), st.integers(1, 4)),
                     lambda ps, k: (lambda log: async_gather([s.build(log) for s in ps], concurrency=k),
                                    lambda log: async_sequence([s.build(log) for s in ps])),
                     max_examples=50, same=same)

print(same_work_law(same_work))
print(same_work_law(lambda a, b: a == b).counterexample)

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("10_async_pipeline_laws")

# %% [markdown]
# ## On your own
#
# - Write the law `gather(ps, concurrency=k) == gather(ps, concurrency=k + 1)` comparing results
#   only. Which of Task 3's broken gathers does it catch? Why can it not compare effects?
# - In Task 2, replace the default comparison by one that ignores elapsed time. Which broken
#   timeout passes now? What would that bug cost in production?
# - State a law for `async_settle` and `async_gather` together: gathering settled plans never
#   fails, and gives one outcome per plan, in input order. Check it, then break it.
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 10 Async Pipeline Laws](../notebooks/10_async_pipeline_laws.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
