# ---
# jupyter:
#   funcpipe_async:
#     exercise: 08_async_service_integrations
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 08 Async Service Integrations](../notebooks/08_async_service_integrations.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
#
# # Exercise 08 · Async Service Integrations
#
# Three graded tasks on the lesson's ideas: validation is a **pure** function from a body to a
# `Result`; a pipeline is three named **steps** — fetch, validate, save — each retried exactly where a
# retry may help; and a batch is trusted only when its **ledger adds up** against what the database
# holds. A weather-station service stands in for the catalogue: it serves sensor readings at
# `/readings/<id>`. Everything runs on fakes and **virtual time** — no server. 10 points.
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
# Run this first. The grader runs it too, before your task cells: leave it as it is. It imports what
# the lesson used and defines `reading_key`, the key a reading is stored under.

# %% tags=["setup"]
# Setup — run this first; the grader runs it too
import asyncio
from collections import Counter

from funcpipe_async import (
    AsyncPlan, ConstantBackoff, Err, ErrInfo, FakeHttp, FakeStorage, Ledger, Ok, Outcome, Result, RetryPolicy,
    Simulation, Step, account_for, async_bind, async_from_result, async_lift, async_retry,
)


def reading_key(record: dict) -> str:
    """Where a reading is stored: "<sensor>@<at>" — one row per sensor and instant."""
    return f"{record['sensor']}@{record['at']}"


# %% [markdown]
# ## Task 1 — Validate a reading (3 points)
#
# The service answers `GET /readings/<id>` with a JSON object — a *body*, which may be anything the
# upstream sent. Write `validate_reading(body)`, a **pure** function that returns `Ok(record)` for a
# valid reading, or the first problem as `Err(ErrInfo(code, message))`. The rules, checked **field by
# field in the order `sensor`, `celsius`, `at`**, and for each field **presence, then type, then
# value** — the first problem wins:
#
# | field | type (else `BAD_TYPE`) | value (else `BAD_VALUE`) |
# |---|---|---|
# | `sensor` | `str` | not empty or blank (`"  "`) |
# | `celsius` | a number: `int` or `float`, **not `bool`** | finite, within `[-90, 60]` (both ends allowed) |
# | `at` | `int`, **not `bool`** | `>= 0` |
#
# A field that is absent is `MISSING_FIELD`. Every validation error is non-retryable (the default
# `retryable=False`): the same body fails the same way every time. The record returned has exactly the
# three fields — `sensor`, `celsius` **as a `float`**, and `at` — whatever else the body holds.
#
# *How it is checked:* on bodies Hypothesis generates — each field missing, of a wrong type, a
# `bool`, out of range, `nan`, `inf`, blank, and with extra fields — your result is compared with the
# expected one: the same `Ok` record (with `celsius` a `float`), or an `Err` with the same code.
#
# <details><summary>Hint 1</summary>
#
# What does `isinstance(True, int)` return in Python? Try it — then look at how the lesson's
# `validate` checks a price's type.
# </details>
#
# <details><summary>Hint 2</summary>
#
# What does a comparison with `float("nan")` return? Try `nan < 0` and `nan >= 0`. Which way of writing
# the range check rejects `nan` without a special case — and is there a function in `math` that says
# it outright?
# </details>

# %% tags=["task:t1"]
# Task 1 — Validate a reading
def validate_reading(body: dict) -> Result[dict, ErrInfo]:
    """A reading record from a fetched body, or the first problem as Err(MISSING_FIELD | BAD_TYPE | BAD_VALUE)."""
    # BEGIN SOLUTION
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    rules = (
        ("sensor", lambda v: isinstance(v, str), lambda v: bool(v.strip()), "must not be blank"),
        ("celsius", number, lambda v: -90 <= v <= 60, "must be within [-90, 60]"),
        ("at", lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v >= 0, "must be >= 0"),
    )
    for field, typed, valid, rule in rules:
        if field not in body:
            return Err(ErrInfo("MISSING_FIELD", f"no {field!r}"))
        if not typed(body[field]):
            return Err(ErrInfo("BAD_TYPE", f"{field} has the wrong type: {body[field]!r}"))
        if not valid(body[field]):                        # nan fails the range check too
            return Err(ErrInfo("BAD_VALUE", f"{field} {rule}, got {body[field]!r}"))
    return Ok({"sensor": body["sensor"], "celsius": float(body["celsius"]), "at": body["at"]})
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a valid reading, then one body per rule.

# %% tags=["solution-only"]
for body in ({"sensor": "roof", "celsius": 21, "at": 5, "unit": "C"}, {"celsius": 21, "at": 5},
             {"sensor": "roof", "celsius": True, "at": 5}, {"sensor": "roof", "celsius": float("nan"), "at": 5},
             {"sensor": " ", "celsius": 99, "at": -1}, {"sensor": "roof", "celsius": -90, "at": -1}):
    print(body, "->", validate_reading(body))


# %% [markdown]
# ## Task 2 — Write the steps of the pipeline (4 points)
#
# Write `reading_steps(http, store, validate, policy)`, which returns the **steps** that
# `account_for(ids, steps, concurrency=n)` runs every id through, as in the lesson's `pipeline_steps`
# — a list of `(name, function)` pairs, each function taking the previous step's value and returning
# an `AsyncPlan`:
#
# 1. `"fetch"`: the id → the body of `http.get_json(f"/readings/{id}")`, **retried with `policy`**;
# 2. `"validate"`: the body → the record of `validate(body)` (a `Result`: lift it with
#    `async_from_result`);
# 3. `"save"`: the record → `store.save(reading_key(record), record)`, **retried with `policy`**.
#
# `http` is an `HttpClientCap`, `store` a `StorageCap`, `validate` a validator like yours (the
# grader passes a correct one, so this task does not depend on Task 1), `policy` a `RetryPolicy`.
# Retry only what may succeed: `async_retry` with the policy retries the `Err`s whose `retryable` flag
# is set — a 503, a dropped connection, a busy database, a lost reply — and returns a 404 or a broken
# body after one request. The save is an upsert on the reading's key, so a retried save never stores a
# row twice. Building the steps — and calling a step function — runs nothing; only the shell drives.
#
# *How it is checked:* on generated fault scripts — per id, a list of answers (`503`, a dropped
# connection, `404`, a broken body, a valid or an invalid reading; the last repeats), and a database
# whose first saves of some keys answer `DB_BUSY` or lose their reply — with generated policies (1 to 4
# attempts) and concurrency, your steps and the reference are each driven through `account_for` on
# virtual time. For every id, its ledger line, the requests the service saw and the save calls must be
# the reference's, and the database must hold the same keys.
#
# <details><summary>Hint 1</summary>
#
# Which cell of lesson 08 builds exactly this list of named steps? What differs here: is there a rate
# limiter, and which key does a reading get?
# </details>
#
# <details><summary>Hint 2</summary>
#
# A retry runs the same plan again: does your plan make a **fresh** coroutine on every attempt, or
# one coroutine, once? (Lesson 01's reused-coroutine anti-pattern shows what happens otherwise.)
# </details>

# %% tags=["task:t2"]
# Task 2 — Write the steps of the pipeline
def reading_steps(http, store, validate, policy: RetryPolicy) -> list[Step]:
    """fetch (retried) -> validate (pure) -> save under reading_key (retried): the steps of account_for."""
    # BEGIN SOLUTION
    return [
        ("fetch", lambda item: async_retry(async_lift(lambda: http.get_json(f"/readings/{item}")), policy)),
        ("validate", lambda body: async_from_result(validate(body))),
        ("save", lambda record: async_retry(async_lift(lambda: store.save(reading_key(record), record)), policy)),
    ]
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: three readings through `FakeHttp` (one answers 503 for ever, one is invalid) and
# `FakeStorage`, on virtual time.

# %% tags=["solution-only"]
http = FakeHttp({"/readings/1": {"sensor": "roof", "celsius": 21.5, "at": 1},
                 "/readings/2": {"sensor": "roof", "celsius": 99, "at": 2}},
                failures={"/readings/3": ErrInfo("HTTP_503", "unavailable", retryable=True)})
store, policy = FakeStorage(), RetryPolicy(max_attempts=3, backoff=ConstantBackoff(0.5))
plan = account_for(["1", "2", "3"], reading_steps(http, store, validate_reading, policy), concurrency=2)
print("calls before driving:", http.calls)
ledger = Simulation().run(plan).value
print(ledger.table())
print("requests:", dict(Counter(http.calls)), "| rows:", sorted(store.records))


# %% [markdown]
# ## Task 3 — Reconcile a ledger with the database (3 points)
#
# A ledger says what the pipeline *believes*; the database says what is *there*. Write
# `reconcile(ids, ledger, keys)`, which compares the inputs `ids` (unique), a `Ledger` and the keys
# stored in the database (here each record is stored under its input's id), and returns a dict with
# four sorted lists of ids, each id at most once per list:
#
# - `"lost"` — inputs with **no** outcome in the ledger;
# - `"duplicated"` — inputs with **more than one** outcome in the ledger;
# - `"unsaved"` — inputs the ledger says were **saved** (by any of their outcomes) that have **no row**;
# - `"unreported"` — keys in the database that the ledger does **not** say were saved — a save whose
#   reply was lost and that then gave up, or a stray write.
#
# A batch is trustworthy when all four lists are empty. `ledger.outcomes` holds the `Outcome`s (each
# has `.item` and `.saved`).
#
# *How it is checked:* on generated inputs, ledgers (outcomes in any order; some inputs missing, some
# twice, saved or failed) and key lists (some saved inputs missing, some strays), your report is
# compared with the expected one.
#
# <details><summary>Hint 1</summary>
#
# Which of the four lists is about *how many times* an input was reported, and which are about two
# sets disagreeing? Which standard-library tools count things and compare sets?
# </details>

# %% tags=["task:t3"]
# Task 3 — Reconcile a ledger with the database
def reconcile(ids: list[str], ledger: Ledger, keys: list[str]) -> dict[str, list[str]]:
    """The ids that are lost, duplicated, unsaved or unreported — each list sorted, each id once."""
    # BEGIN SOLUTION
    seen = Counter(o.item for o in ledger.outcomes)
    reported_saved = {o.item for o in ledger.outcomes if o.saved}
    return {
        "lost": sorted(i for i in set(ids) if seen[i] == 0),
        "duplicated": sorted(i for i, n in seen.items() if n > 1),
        "unsaved": sorted(reported_saved - set(keys)),
        "unreported": sorted(set(keys) - reported_saved),
    }
    # END SOLUTION


# %% [markdown] tags=["solution-only"]
# In the solution: a batch of five where one input was lost, one reported twice, one saved without a
# row, and one row nobody reported.

# %% tags=["solution-only"]
FAILED = ErrInfo("HTTP_503", "unavailable", retryable=True)
books = Ledger((Outcome("a"), Outcome("c", "save", FAILED), Outcome("b"), Outcome("d"), Outcome("b")))
print(books)
print(reconcile(["a", "b", "c", "d", "e"], books, ["b", "a", "c"]))

# %% [markdown]
# ## Check your work
#
# Run the cell below whenever you like. It checks the code you last **ran** in each task cell —
# run a task cell again after you edit it — in a separate process, with a 10-second limit per
# task. Each task scores all its points or none, with feedback saying what the checks found.

# %%
from funcpipe_async.grading import check_my_work

check_my_work("08_async_service_integrations")

# %% [markdown]
# ## On your own
#
# - Add a `"dedupe"` step after `"validate"` that fails with `Err(ErrInfo("DUPLICATE", ...))` when a reading's key was
#   already seen in this batch. Which invariant of `reconcile` does it protect, and what state does it
#   need that the other steps do not?
# - Run `reading_steps` with the lesson's real `HttpxJsonClient` and `SqliteStorage`: what changes in
#   your code? (Nothing should — that is what the ports are for.)
# - `reconcile` assumes each record is stored under its input's id. Rewrite it for the exercise's
#   `reading_key`: what must the ledger remember for that?
#
# ## Hand it in
#
# Save the notebook (*File ▸ Save*) and hand in the `.ipynb` file as your course asks. Your
# instructor grades it with the same checks you just ran (see [the exercises README](../exercises/README.md)).
#
# ---
# [← 08 Async Service Integrations](../notebooks/08_async_service_integrations.ipynb) · [Contents](../notebooks/00_module_overview.ipynb) · [Exercises](../exercises/README.md)
