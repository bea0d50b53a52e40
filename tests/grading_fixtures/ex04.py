"""Wrong answers for exercise 04, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Fit a policy to a deadline\n"
T2 = "# Task 2 — Retry a flaky dependency by the rules\n"
T3 = "# Task 3 — Charge once, however often you retry\n"


def _fit(condition: str, waits: str = 'delay_schedule(replace(policy, jitter="none"))', attempts: str = "1") -> str:
    return (
        T1
        + f"""
def fit_to_deadline(policy, deadline):
    if policy.attempt_timeout >= deadline:
        raise ValueError("no attempt fits")
    waits = {waits}
    attempts, worst = {attempts}, policy.attempt_timeout
    for wait in waits:
        if {condition}:
            break
        attempts, worst = attempts + 1, worst + wait + policy.attempt_timeout
    return replace(policy, max_attempts=attempts, deadline=deadline)
"""
    )


_STRICT = "worst + wait + policy.attempt_timeout >= deadline"


def _policy(**changes: str) -> str:
    fields = {
        "max_attempts": "4",
        "backoff": "ExponentialBackoff(initial=0.5, factor=2, cap=1.5)",
        "retry_on": 'frozenset({"HTTP_503", "CONN_RESET", "TIMEOUT"})',
        "attempt_timeout": "1",
        "deadline": "5",
    }
    fields.update(changes)
    body = "".join(f"    {name}={value},\n" for name, value in fields.items() if value != "")
    return (
        T2
        + f"""
FETCH_POLICY = RetryPolicy(
{body})

def fetch_with_retry(service):
    return async_retry(async_lift(service.call), FETCH_POLICY)
"""
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "fits on the deadline": _fit("worst + wait + policy.attempt_timeout > deadline"),
        "counts retries": _fit(_STRICT, attempts="0"),
        "jittered schedule": _fit(_STRICT, waits="delay_schedule(policy)"),
        "no cap": _fit(
            _STRICT,
            waits="[policy.backoff.initial * policy.backoff.factor ** k if isinstance(policy.backoff, ExponentialBackoff) "
            "else policy.backoff.delay for k in range(policy.max_attempts - 1)]",
        ),
        "adds attempts": T1
        + """
def fit_to_deadline(policy, deadline):
    if policy.attempt_timeout >= deadline:
        raise ValueError("no attempt fits")
    attempts = 1
    while True:
        longer = replace(policy, jitter="none", max_attempts=attempts + 1)
        if (attempts + 1) * policy.attempt_timeout + sum(delay_schedule(longer)) >= deadline:
            break
        attempts += 1
    return replace(policy, max_attempts=attempts, deadline=deadline)
""",
        "forgets the deadline": T1
        + """
def fit_to_deadline(policy, deadline):
    if policy.attempt_timeout >= deadline:
        raise ValueError("no attempt fits")
    waits = delay_schedule(replace(policy, jitter="none"))
    attempts, worst = 1, policy.attempt_timeout
    for wait in waits:
        if worst + wait + policy.attempt_timeout >= deadline:
            break
        attempts, worst = attempts + 1, worst + wait + policy.attempt_timeout
    return replace(policy, max_attempts=attempts)
""",
        "borrows the grader's reference": T1
        + """
from funcpipe_async.grading.checks.ex04_retry_and_timeout_policies import _fit_reference as fit


def fit_to_deadline(policy, deadline):
    return fit(policy, deadline)
""",
        "never refuses": T1
        + """
def fit_to_deadline(policy, deadline):
    waits = delay_schedule(replace(policy, jitter="none"))
    attempts, worst = 1, policy.attempt_timeout
    for wait in waits:
        if worst + wait + policy.attempt_timeout >= deadline:
            break
        attempts, worst = attempts + 1, worst + wait + policy.attempt_timeout
    return replace(policy, max_attempts=attempts, deadline=deadline)
""",
    },
    "t2": {
        "retries by flag": _policy(retry_on=""),
        "no cap": _policy(backoff="ExponentialBackoff(initial=0.5, factor=2, cap=30)"),
        "counts retries": _policy(max_attempts="3"),
        "no attempt timeout": _policy(attempt_timeout=""),
        "no deadline": _policy(deadline=""),
        "forgets TIMEOUT": _policy(retry_on='frozenset({"HTTP_503", "CONN_RESET"})'),
        "eager": T2
        + """
FETCH_POLICY = RetryPolicy(max_attempts=4, backoff=ExponentialBackoff(initial=0.5, factor=2, cap=1.5),
                           retry_on=frozenset({"HTTP_503", "CONN_RESET", "TIMEOUT"}), attempt_timeout=1, deadline=5)

def fetch_with_retry(service):
    result = Simulation().run(async_retry(async_lift(service.call), FETCH_POLICY))   # runs now
    return async_lift(lambda: _same(result))

async def _same(result):
    return result
""",
    },
    "t3": {
        "no key": T3
        + """
def charge_order(payments, order_id, amount):
    return async_retry(async_lift(lambda: payments.charge(amount)), PAY_POLICY)
""",
        "key inside the retried plan": T3
        + """
from uuid import uuid4

def charge_order(payments, order_id, amount):
    return async_retry(async_lift(lambda: payments.charge(amount, key=str(uuid4()))), PAY_POLICY)
""",
        "random key per submission": T3
        + """
from uuid import uuid4

def charge_order(payments, order_id, amount):
    key = str(uuid4())
    return async_retry(async_lift(lambda: payments.charge(amount, key=key)), PAY_POLICY)
""",
        "one key for every order": T3
        + """
def charge_order(payments, order_id, amount):
    return async_retry(async_lift(lambda: payments.charge(amount, key="charge")), PAY_POLICY)
""",
        "no retry policy": T3
        + """
def charge_order(payments, order_id, amount):
    key = f"order-{order_id}/charge"
    return async_lift(lambda: payments.charge(amount, key=key))
""",
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "fits on the deadline"): "the deadline must *exceed* the worst case",
    ("t1", "counts retries"): "count attempts (the first one included), not retries",
    ("t1", "jittered schedule"): "jitter only shortens waits",
    ("t1", "no cap"): "walk the policy's own capped schedule",
    ("t1", "adds attempts"): "fitting only ever removes attempts",
    ("t1", "forgets the deadline"): "carries the SLA as its deadline",
    ("t1", "never refuses"): "not even one attempt fits",
    ("t1", "borrows the grader's reference"): "uses the grader's own reference answer",
    ("t2", "retries by flag"): "decides by code",
    ("t2", "no cap"): "the waits between attempts are exponential and capped",
    ("t2", "counts retries"): "max_attempts counts attempts, not retries",
    ("t2", "no attempt timeout"): "every attempt is cut at 1 s",
    ("t2", "no deadline"): "the whole call ends by the 5 s deadline",
    ("t2", "forgets TIMEOUT"): "it counts as Err(TIMEOUT), which this caller retries",
    ("t2", "eager"): "describing runs nothing",
    ("t3", "no key"): "charged twice",
    ("t3", "key inside the retried plan"): "fresh per attempt, de-duplicates nothing",
    ("t3", "random key per submission"): "one logical operation, one key",
    ("t3", "one key for every order"): "a different order is a different operation",
    ("t3", "no retry policy"): "the caller's policy is PAY_POLICY",
}
