"""Wrong answers for exercise 08, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Validate a reading\n"
T2 = "# Task 2 — Write the steps of the pipeline\n"
T3 = "# Task 3 — Reconcile a ledger with the database\n"


def _validate(
    number: str = "isinstance(v, (int, float)) and not isinstance(v, bool)",
    blank: str = "bool(v.strip())",
    celsius: str = "-90 <= v <= 60",
    record: str = '{"sensor": body["sensor"], "celsius": float(body["celsius"]), "at": body["at"]}',
    retryable: str = "False",
) -> str:
    return (
        T1
        + f"""
def validate_reading(body):
    rules = (
        ("sensor", lambda v: isinstance(v, str), lambda v: {blank}, "must not be blank"),
        ("celsius", lambda v: {number}, lambda v: {celsius}, "must be within [-90, 60]"),
        ("at", lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v >= 0, "must be >= 0"),
    )
    for field, typed, valid, rule in rules:
        if field not in body:
            return Err(ErrInfo("MISSING_FIELD", f"no {{field!r}}", retryable={retryable}))
        if not typed(body[field]):
            return Err(ErrInfo("BAD_TYPE", f"{{field}}: wrong type", retryable={retryable}))
        if not valid(body[field]):
            return Err(ErrInfo("BAD_VALUE", f"{{field}} {{rule}}", retryable={retryable}))
    return Ok({record})
"""
    )


def _steps(
    fetch: str = 'async_retry(async_lift(lambda: http.get_json(f"/readings/{item}")), policy)',
    check: str = "async_from_result(validate(body))",
    save: str = "async_retry(async_lift(lambda: store.save(reading_key(record), record)), policy)",
) -> str:
    return (
        T2
        + f"""
def reading_steps(http, store, validate, policy):
    return [
        ("fetch", lambda item: {fetch}),
        ("validate", lambda body: {check}),
        ("save", lambda record: {save}),
    ]
"""
    )


def _reconcile(
    lost: str = "sorted(i for i in set(ids) if seen[i] == 0)",
    duplicated: str = "sorted(i for i, n in seen.items() if n > 1)",
    unsaved: str = "sorted(reported_saved - set(keys))",
    unreported: str = "sorted(set(keys) - reported_saved)",
) -> str:
    return (
        T3
        + f"""
def reconcile(ids, ledger, keys):
    seen = Counter(o.item for o in ledger.outcomes)
    reported_saved = {{o.item for o in ledger.outcomes if o.saved}}
    return {{"lost": {lost}, "duplicated": {duplicated}, "unsaved": {unsaved}, "unreported": {unreported}}}
"""
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "a bool is a number": _validate(number="isinstance(v, (int, float))"),
        "blank sensor": _validate(blank="bool(v)"),
        "open range": _validate(celsius="-90 < v < 60"),
        "keeps the body": _validate(record="dict(body)"),
        "celsius as given": _validate(
            record='{"sensor": body["sensor"], "celsius": body["celsius"], "at": body["at"]}'
        ),
        "retryable": _validate(retryable="True"),
        "presence first": T1
        + """
def validate_reading(body):
    for field in ("sensor", "celsius", "at"):
        if field not in body:
            return Err(ErrInfo("MISSING_FIELD", f"no {field!r}"))
    if not isinstance(body["sensor"], str):
        return Err(ErrInfo("BAD_TYPE", "sensor"))
    if not body["sensor"].strip():
        return Err(ErrInfo("BAD_VALUE", "sensor"))
    c = body["celsius"]
    if not isinstance(c, (int, float)) or isinstance(c, bool):
        return Err(ErrInfo("BAD_TYPE", "celsius"))
    if not -90 <= c <= 60:
        return Err(ErrInfo("BAD_VALUE", "celsius"))
    if not isinstance(body["at"], int) or isinstance(body["at"], bool):
        return Err(ErrInfo("BAD_TYPE", "at"))
    if body["at"] < 0:
        return Err(ErrInfo("BAD_VALUE", "at"))
    return Ok({"sensor": body["sensor"], "celsius": float(c), "at": body["at"]})
""",
    },
    "t2": {
        "fetch not retried": _steps(fetch='async_lift(lambda: http.get_json(f"/readings/{item}"))'),
        "save not retried": _steps(save="async_lift(lambda: store.save(reading_key(record), record))"),
        "retries everything": _steps(
            fetch='async_retry(async_lift(lambda: http.get_json(f"/readings/{item}")), '
            'replace(policy, retry_on=frozenset({"HTTP_503", "HTTP_CONNECTION", "HTTP_404", "BAD_JSON"})))'
        ).replace("def reading_steps", "from dataclasses import replace\n\ndef reading_steps"),
        "no validation": _steps(check="async_from_result(Ok(body))"),
        "saved under the sensor": _steps(
            save='async_retry(async_lift(lambda: store.save(record["sensor"], record)), policy)'
        ),
        "one coroutine for every attempt": _steps(
            fetch='async_retry(async_lift(lambda coro=http.get_json(f"/readings/{item}"): coro), policy)'
        ),
        "async steps": T2
        + """
def reading_steps(http, store, validate, policy):
    async def fetch(item):
        return await http.get_json(f"/readings/{item}")
    return [
        ("fetch", fetch),
        ("validate", lambda body: async_from_result(validate(body))),
        ("save", lambda record: async_retry(async_lift(lambda: store.save(reading_key(record), record)), policy)),
    ]
""",
    },
    "t3": {
        "failures counted as lost": _reconcile(lost="sorted(set(ids) - reported_saved)"),
        "duplicates ignored": _reconcile(duplicated="[]"),
        "unsaved against the inputs": _reconcile(unsaved="sorted(reported_saved - set(ids))"),
        "unreported only strangers": _reconcile(unreported="sorted(set(keys) - set(ids))"),
        "borrows the grader's reference": T3
        + """
import funcpipe_async.grading.checks.ex08_async_service_integrations as grader

reference = grader._reconcile_reference


def _answer(ids, ledger, keys):
    return reference(ids, ledger, keys)


def reconcile(ids, ledger, keys):
    return _answer(ids, ledger, keys)
""",
        "in ledger order": _reconcile(duplicated="[o.item for o in ledger.outcomes if seen[o.item] > 1]"),
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "a bool is a number"): "a bool is not a number here",
    ("t1", "blank sensor"): "a value against the rules is BAD_VALUE",
    ("t1", "open range"): "every rule holds, so the reading is valid",
    ("t1", "keeps the body"): "must not be kept",
    ("t1", "celsius as given"): "celsius as a float",
    ("t1", "retryable"): "a validation error is never retryable",
    ("t1", "presence first"): "fields are checked in the order sensor, celsius, at",
    ("t2", "fetch not retried"): "retry the fetch with async_retry",
    ("t2", "save not retried"): "retry the save with async_retry(..., policy) too",
    ("t2", "retries everything"): "retry only what may succeed",
    ("t2", "no validation"): "a record that fails validation is never saved",
    ("t2", "saved under the sensor"): "save each record under its reading's key",
    ("t2", "one coroutine for every attempt"): "fresh coroutine",
    ("t2", "async steps"): "a step returns an AsyncPlan",
    ("t3", "failures counted as lost"): "an input with no outcome in the ledger",
    ("t3", "duplicates ignored"): "an input with more than one outcome",
    ("t3", "unsaved against the inputs"): "no row under that id",
    ("t3", "unreported only strangers"): "a row the ledger does not say was saved",
    ("t3", "in ledger order"): "in another order or repeated",
    ("t3", "borrows the grader's reference"): "uses the grader's own reference answer",
}
