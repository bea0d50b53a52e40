"""Wrong answers for exercise 11, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Refactor a messy sync into a description\n"
T2 = "# Task 2 — Replace an ad-hoc retry loop with a policy\n"
T3 = "# Task 3 — Write the behavioural test\n"


def _sync(
    one: str,
    gather: str = "async_gather([one(i) for i in ids], concurrency=concurrency)",
    failed: str = "[i for i, r in zip(ids, results) if isinstance(r, Err)]",
) -> str:
    return (
        T1
        + f"""
def sync_records(ids, http, store, concurrency):
    def one(record_id):
        fetch = async_lift(lambda: http.get_json(f"/records/{{record_id}}"))
{one}

    outcomes = {gather}
    return async_map(outcomes, lambda results: {failed})
"""
    )


_SETTLED = (
    "        return async_settle(async_bind(fetch, lambda record: async_lift(lambda: store.save(record_id, record))))"
)


def _policy(**changes: str) -> str:
    fields = {
        "max_attempts": "5",
        "backoff": "ExponentialBackoff(initial=0.5, factor=2, cap=2)",
        "retry_on": 'frozenset({"HTTP_503", "HTTP_429", "TIMEOUT"})',
        "attempt_timeout": "2",
    }
    fields.update(changes)
    body = "".join(f"    {name}={value},\n" for name, value in fields.items() if value != "")
    return (
        T2
        + f"""
RETRY = RetryPolicy(
{body})

def fetch_record(http, record_id):
    return async_retry(async_lift(lambda: http.get_json(f"/records/{{record_id}}")), RETRY)
"""
    )


def _helper(*skip: str, peak: str = "api.peak <= concurrency") -> str:
    lines = {
        "build": 'assert api.requests == 0 and store.calls == [], "building ran work"',
        "result": 'assert result == Ok(night.expected_failed()), f"reported {result}"',
        "saved": 'assert store.records == night.expected_saved(), f"saved {sorted(store.records)}"',
        "requests": 'assert api.requests == len(night.ids), f"{api.requests} requests"',
        "peak": f'assert {peak}, f"{{api.peak}} in flight"',
    }
    body = "\n    ".join(line for name, line in lines.items() if name not in skip and name != "build")
    build = "" if "build" in skip else lines["build"]
    return (
        T3
        + f"""
def assert_sync_behaviour(sync_all, night, concurrency):
    api, store = RecordsApi(night), FakeStorage()
    plan = sync_all(list(night.ids), api, store, concurrency)
    {build}
    result = Simulation().run(plan)
    {body}
"""
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "unbounded": _sync(_SETTLED, gather="async_gather([one(i) for i in ids], concurrency=max(len(ids), 1))"),
        "fail fast": _sync(
            "        return async_bind(fetch, lambda record: async_lift(lambda: store.save(record_id, record)))",
            failed="[]",
        ),
        "one at a time": _sync(_SETTLED, gather="async_gather([one(i) for i in ids], concurrency=1)"),
        "drops save errors": _sync(
            "        save = lambda record: async_map(async_settle(async_lift(lambda: store.save(record_id, record))), "
            "lambda _: None)\n        return async_settle(async_bind(fetch, save))"
        ),
        "eager": T1
        + """
def sync_records(ids, http, store, concurrency):
    async def one(record_id):
        result = await http.get_json(f"/records/{record_id}")
        if isinstance(result, Err):
            return record_id
        saved = await store.save(record_id, result.value)
        return record_id if isinstance(saved, Err) else None

    async def everything():
        done = []
        for i in ids:
            done.append(await one(i))
        return Ok([i for i in done if i is not None])

    failed = Simulation().run(everything())          # runs now, while "describing"
    return async_lift(lambda: _done(failed))

async def _done(result):
    return result
""",
        # not a mistake but a shortcut: the grader's own answer
        "calls the reference": T1
        + """
from funcpipe_async.grading.checks import ex11_refactoring_guide as checks

def sync_records(ids, http, store, concurrency):
    return checks.sync_reference(ids, http, store, concurrency)
""",
    },
    "t2": {
        "retries by flag": _policy(retry_on=""),
        "no cap": _policy(backoff="ExponentialBackoff(initial=0.5, factor=2, cap=30)"),
        "counts retries": _policy(max_attempts="4"),
        "no attempt timeout": _policy(attempt_timeout=""),
        "the old constant sleep": _policy(backoff="ConstantBackoff(1)"),
        "forgets TIMEOUT": _policy(retry_on='frozenset({"HTTP_503", "HTTP_429"})'),
        "a loop, not a policy": T2
        + """
async def _loop(http, record_id):
    delay = 0.5
    for attempt in range(1, 6):
        try:
            result = await asyncio.wait_for(http.get_json(f"/records/{record_id}"), timeout=2)
        except asyncio.TimeoutError:
            result = Err(ErrInfo("TIMEOUT", "no answer within 2 s", retryable=True))
        if isinstance(result, Ok) or result.error.code not in ("HTTP_503", "HTTP_429", "TIMEOUT"):
            return result
        if attempt < 5:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2)
    return result

def fetch_record(http, record_id):
    return async_lift(lambda: _loop(http, record_id))
""",
        # not a mistake but a shortcut: the loop the task replaces, taken from the checks
        "calls the loop itself": T2
        + """
from funcpipe_async.grading.checks.ex11_refactoring_guide import fetch_record_messy

RETRY = RetryPolicy(max_attempts=5, backoff=ExponentialBackoff(initial=0.5, factor=2, cap=2),
                    retry_on=frozenset({"HTTP_503", "HTTP_429", "TIMEOUT"}), attempt_timeout=2)

def fetch_record(http, record_id):
    return async_lift(lambda: fetch_record_messy(http, record_id))
""",
    },
    "t3": {
        "ignores in flight": _helper("peak"),
        "ignores requests": _helper("requests"),
        "only checks what was saved": _helper("result", "requests", "peak"),
        "exact in flight": _helper(peak="api.peak == concurrency"),
        "does not check building": _helper("build"),
        "async helper": T3
        + """
async def assert_sync_behaviour(sync_all, night, concurrency):
    api, store = RecordsApi(night), FakeStorage()
    result = await sync_all(list(night.ids), api, store, concurrency)()
    assert result == Ok(night.expected_failed())
""",
        # not a mistake but a shortcut: a verdict by the version's name, not its behaviour
        "knows the versions by name": T3
        + """
def assert_sync_behaviour(sync_all, night, concurrency):
    assert sync_all.__name__ not in ("_eager", "_fail_fast", "_loses_save_failures", "_retries_404", "_unbounded")
""",
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "unbounded"): "at most concurrency=",
    ("t1", "fail fast"): "one record's failure must not stop the batch",
    ("t1", "one at a time"): "the bound is a maximum to use",
    ("t1", "drops save errors"): "a save that fails is a failure too",
    ("t1", "eager"): "describing runs nothing",
    ("t2", "retries by flag"): "by code, whatever the error's retryable flag says",
    ("t2", "no cap"): "capped at 2 s",
    ("t2", "counts retries"): "max_attempts counts attempts",
    ("t2", "no attempt timeout"): "give the policy an attempt_timeout",
    ("t2", "the old constant sleep"): "doubling from 0.5 s",
    ("t2", "forgets TIMEOUT"): "counts as Err(TIMEOUT), which the loop retries",
    ("t2", "a loop, not a policy"): "RETRY is not a RetryPolicy",
    ("t3", "ignores in flight"): "at most concurrency=",
    ("t3", "ignores requests"): "every record is fetched once",
    ("t3", "only checks what was saved"): "a failure nobody hears about",
    ("t3", "exact in flight"): "rejected a correct version",
    ("t3", "does not check building"): "describing runs nothing",
    ("t3", "async helper"): "is an `async def`",
    ("t1", "calls the reference"): "calls sync_reference, the grader's own answer",
    ("t2", "calls the loop itself"): "calls fetch_record_messy, the grader's own answer",
    ("t3", "knows the versions by name"): "your helper passed a broken version",
}
