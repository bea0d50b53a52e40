# ---
# jupyter:
#   funcpipe_async:
#     exercise: 01_async_await_as_descriptions
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 01 async/await as Descriptions](../notebooks/01_async_await_as_descriptions.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 01 · async/await as Descriptions
#
# Three graded tasks on the lesson's ideas: a plan **describes** work and runs nothing until a
# shell drives it; `async_bind` chains dependent steps and **the first `Err` short-circuits**;
# a plan is **replayable**. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. `DIRECTORY`
# is a small world to try your code on — the checks generate many others.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
from funcpipe_async import (
    AsyncPlan, Err, ErrInfo, FakeHttp, HttpClientCap, Ok, Result,
    async_bind, async_lift, async_map, async_pure, perform_async, run_sync,
)

DIRECTORY = {
    "/users/ada":   {"id": "ada", "email": "ada@example.org", "team": "core"},
    "/users/grace": {"id": "grace", "email": "grace@example.org", "team": "infra"},
    "/teams/core":  {"id": "core", "lead": "grace"},
    "/teams/infra": {"id": "infra", "lead": "alan"},     # alan has no document: a 404
}


# %% [markdown]
# ## Task 1 — Describe a fetch, run nothing (3 points)
#
# In the lesson, `load_user("1", http)` returned a plan, and the fake's call log stayed empty
# until the shell drove it: **describing runs nothing**. A teammate wrote this step the eager way —
# the request happens the moment the function is called:
#
# ```python
# def fetch_email_now(user_id: str, http: HttpClientCap) -> Result[str, ErrInfo]:
#     document = run_sync(async_lift(lambda: http.get_json(f"/users/{user_id}")))   # runs now
#     return Ok(document.value["email"]) if isinstance(document, Ok) else document
# ```
#
# Write `fetch_email(user_id, http)`, which returns an `AsyncPlan[str]` instead:
#
# - driving it makes one call, `GET /users/<user_id>`, and yields `Ok(email)`, the document's
#   `"email"` field;
# - when the fetch answers `Err(...)` (a 404, or a scripted fault), that `Err` comes out unchanged;
# - building the plan calls nothing: `http.calls` stays `[]` until a shell drives it;
# - it is replayable: driving it again fetches again and gives the same result.
#
# *How it is checked:* on generated directories (users present, missing or failing), your plan's
# result and the fake's call log are compared with the expected ones — after building, after one
# drive, and after a second drive.
#
# <details><summary>Hint 1</summary>
#
# Which function turns a capability call into a plan without calling it? Look at the lesson's
# `load_user` (section *Keep driving in the shell*).
# </details>
#
# <details><summary>Hint 2</summary>
#
# The fetch yields the whole document, and you want one field of it. Which combinator in the
# lesson's *Read the public API* list applies a plain function to a success value, and what
# does it do with an `Err`?
# </details>
#
# <details><summary>Try it</summary>
#
# In a new cell of your own, build your plan over a `FakeHttp(DIRECTORY)` and look at the
# fake's `calls` before and after a drive, as the lesson did in *Build the plan and watch
# nothing happen*. What should each print?
# </details>

# %% tags=["task:t1"]
# Task 1 — Describe a fetch, run nothing
def fetch_email(user_id: str, http: HttpClientCap) -> AsyncPlan[str]:
    """A plan that GETs /users/<user_id> and yields the user's email."""
    # BEGIN SOLUTION
    document = async_lift(lambda: http.get_json(f"/users/{user_id}"))
    return async_map(document, lambda body: body["email"])
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: building performs no call; each drive performs one.

# %% tags=["solution-only"]
http = FakeHttp(DIRECTORY)
plan = fetch_email("ada", http)
print("calls after building:", http.calls)
print("first drive: ", await perform_async(plan), http.calls)
print("second drive:", await perform_async(plan), http.calls)
print("missing user:", await perform_async(fetch_email("alan", http)))


# %% [markdown]
# ## Task 2 — Chain three dependent fetches (4 points)
#
# *Who leads my team?* Answering takes three fetches, and each one needs the previous answer:
# `GET /users/<user_id>` gives the user's `"team"`; `GET /teams/<team>` gives the team's `"lead"`;
# `GET /users/<lead>` gives the lead's `"email"`. Write `team_lead_email(user_id, http)`, an
# `AsyncPlan[str]` for that chain:
#
# - the three calls happen in that order, once each — and only when the plan is driven;
# - **the first `Err` short-circuits**: when a fetch answers `Err`, that `Err` comes out unchanged
#   and the later fetches never happen (the fake's call log shows how far the plan got);
# - the result is `Ok(<the lead's email>)` when all three succeed.
#
# Factor the steps into small helpers, as the lesson's `_fetch` / `_validate` / `_save` were, and
# keep them in this cell. (You may reuse `fetch_email` from Task 1 — but then a mistake there
# costs you here too.)
#
# *How it is checked:* on generated directories — teams whose lead is missing, users without a
# document, scripted faults at any of the three steps — your plan's result and its calls, in order,
# are compared with the expected ones.
#
# <details><summary>Hint 1</summary>
#
# When a step answers `Err`, does `async_bind` ever call the function you gave it? Then do you
# need an `if` of your own to stop the chain? (Lesson: *Follow an Err through the chain*.)
# </details>
#
# <details><summary>Hint 2</summary>
#
# Each fetch needs a value from the one before it. How does the lesson's `async_user_pipeline`
# hand `fetch`'s value to `validate`, and `validate`'s to `save`? Your three fetches have the
# same dependencies.
# </details>
#
# <details><summary>Hint 3</summary>
#
# Does your plan yield `Ok(<an AsyncPlan>)` instead of an email? Compare the signatures of
# `async_map` and `async_bind`: which one expects a function that returns a plan?
# </details>

# %% tags=["task:t2"]
# Task 2 — Chain three dependent fetches
# BEGIN SOLUTION
def _get(url: str, http: HttpClientCap) -> AsyncPlan[dict]:
    return async_lift(lambda: http.get_json(url))

def _team_of(user: dict, http: HttpClientCap) -> AsyncPlan[dict]:
    return _get(f"/teams/{user['team']}", http)

def _email_of_lead(team: dict, http: HttpClientCap) -> AsyncPlan[str]:
    return async_map(_get(f"/users/{team['lead']}", http), lambda lead: lead["email"])
# END SOLUTION

def team_lead_email(user_id: str, http: HttpClientCap) -> AsyncPlan[str]:
    """A plan: the user's document -> their team's document -> the team lead's email."""
    # BEGIN SOLUTION
    return async_bind(
        _get(f"/users/{user_id}", http),
        lambda user: async_bind(_team_of(user, http), lambda team: _email_of_lead(team, http)),
    )
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the call log stops at the first `Err`.

# %% tags=["solution-only"]
for user_id in ["ada", "grace", "alan"]:
    http = FakeHttp(DIRECTORY)
    result = await perform_async(team_lead_email(user_id, http))
    print(f"{user_id:<6} {result}")
    print(f"       calls: {http.calls}")


# %% [markdown]
# ## Task 3 — Regroup the chain and test it (3 points)
#
# Task 2 nests its binds to the right: `async_bind(user, lambda u: async_bind(team(u), lead))`.
# The lesson's **associativity** law says the grouping does not matter: the same steps grouped to
# the left, `async_bind(async_bind(user, team), lead)`, are the same plan. Check it on your own chain.
#
# 1. Write `team_lead_email_left(user_id, http)`: Task 2's three fetches grouped the other way —
#    the outer `async_bind`'s first argument is itself an `async_bind` (user, then team), and its
#    function gets the *team* and ends the chain. No lambda reaches back for the user.
# 2. Write the test helper `assert_same_chain(one, other, directory)`. `one` and `other` each take a
#    fake and return a plan (`lambda http: team_lead_email("ada", http)`); the helper drives each
#    once with `run_sync`, on its own fresh `FakeHttp(directory)`, and raises `AssertionError`
#    unless both give the same result **and** made the same calls, in the same order. Otherwise it
#    returns `None`. Write it as a plain `def`, so it works inside a Hypothesis property.
#
# *How it is checked:* your `team_lead_email_left` is driven on generated directories and compared,
# result and calls, with the expected ones. Your helper is given pairs of chains on generated
# directories: pairs that agree (the two groupings) must pass; pairs whose results differ, or whose
# call logs differ, must fail. A helper that always passes, or always fails, scores nothing.
#
# <details><summary>Hint 1</summary>
#
# In the left grouping, what does the inner `async_bind` produce — the user, or the team? Then what
# does the outer bind's function receive, and which fetch is left for it to make?
# </details>
#
# <details><summary>Hint 2</summary>
#
# If both chains shared one fake, whose calls would its log hold when you compare? And which two
# things does each drive give you to compare — can `Result`s and lists be compared with `==`?
# </details>

# %% tags=["task:t3"]
# Task 3 — Regroup the chain and test it
def team_lead_email_left(user_id: str, http: HttpClientCap) -> AsyncPlan[str]:
    """Task 2's chain grouped to the left: async_bind(async_bind(user, team), lead's email)."""
    # BEGIN SOLUTION
    def get(url: str) -> AsyncPlan[dict]:
        return async_lift(lambda: http.get_json(url))

    user_then_team = async_bind(get(f"/users/{user_id}"), lambda user: get(f"/teams/{user['team']}"))
    return async_bind(user_then_team, lambda team: async_map(get(f"/users/{team['lead']}"), lambda lead: lead["email"]))
    # END SOLUTION


def assert_same_chain(one, other, directory: dict) -> None:
    """Drive one(http) and other(http), each on a fresh FakeHttp(directory); AssertionError unless
    both give the same result after the same calls."""
    # BEGIN SOLUTION
    runs = []
    for build in (one, other):
        http = FakeHttp(directory)
        runs.append((run_sync(build(http)), list(http.calls)))
    (first, first_calls), (second, second_calls) = runs
    assert first == second, f"the results differ: {first} vs {second}"
    assert first_calls == second_calls, f"the calls differ: {first_calls} vs {second_calls}"
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: the associativity property on generated directories, with Hypothesis.

# %% tags=["solution-only"]
from hypothesis import given, strategies as st
from funcpipe_async import load_course_profile

load_course_profile()

users = st.fixed_dictionaries({"email": st.sampled_from(["a@x.org", "b@y.org"]), "team": st.sampled_from(["core", "infra"])})
directories = st.fixed_dictionaries({}, optional={
    "/users/ada": users, "/users/grace": users,
    "/teams/core": st.fixed_dictionaries({"lead": st.sampled_from(["ada", "grace", "alan"])}),
    "/teams/infra": st.fixed_dictionaries({"lead": st.sampled_from(["ada", "grace"])}),
})

@given(directories, st.sampled_from(["ada", "grace", "alan"]))
def regrouping_changes_nothing(directory: dict, user_id: str) -> None:
    assert_same_chain(lambda http: team_lead_email(user_id, http),
                      lambda http: team_lead_email_left(user_id, http), directory)

regrouping_changes_nothing()
print("both groupings give the same result after the same calls, on every generated directory")

try:
    assert_same_chain(lambda http: team_lead_email("ada", http), lambda http: fetch_email("ada", http), DIRECTORY)
except AssertionError as error:
    print("two different chains are rejected:", error)

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("01_async_await_as_descriptions")

# %% [markdown]
# ## On your own
#
# - Write a Hypothesis property for associativity on *your* chain: for every user id, regrouping
#   the binds of `team_lead_email` gives the same result **and** the same calls.
# - Add a fourth step: save the lead's email with a `FakeStorage`. Where is the save described,
#   and when does it run?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 01 async/await as Descriptions](../notebooks/01_async_await_as_descriptions.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
