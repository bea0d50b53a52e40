"""Wrong answers for exercise 06, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Write the token-bucket step\n"
T2 = "# Task 2 — Schedule by deficit round robin\n"
T3 = "# Task 3 — Compute Jain's index\n"
T4 = "# Task 4 — Limit each tenant in plain asyncio\n"


def _step(
    refill: str = "min(config.burst, state.tokens + (now - state.updated) * config.rate)",
    wait: str = "(cost - tokens) / config.rate",
    admit_state: str = "TokenState(tokens - cost, now)",
    refuse_state: str = "TokenState(tokens, now)",
    guard: bool = True,
) -> str:
    check = '    if cost > config.burst:\n        raise ValueError("never fits")\n' if guard else ""
    return (
        T1
        + f"""
def token_bucket_step(config, state, now, cost):
{check}    tokens = {refill}
    if tokens >= cost:
        return Decision(True), {admit_state}
    return Decision(False, {wait}), {refuse_state}
"""
    )


def _drr(visit: str, add: str = "quantum * weights.get(t, 1.0)") -> str:
    return (
        T2
        + f"""
from collections import deque

def drr_order(queues, weights, quantum):
    lines = {{t: deque(v) for t, v in queues.items() if v}}
    active = deque(lines)
    deficit = {{t: 0.0 for t in lines}}
    order = []
    while active:
        t = active.popleft()
        deficit[t] += {add}
        line = lines[t]
{visit}
        if line:
            active.append(t)
        else:
            deficit[t] = 0.0
    return order
"""
    )


_FITS = """        while line and line[0] <= deficit[t]:
            size = line.popleft()
            deficit[t] -= size
            order.append((t, size))"""


def _jain(body: str) -> str:
    return (
        T3
        + f"""
def jain(xs):
{body}
"""
    )


def _limiter(body: str, line: str = "lines.setdefault(tenant, asyncio.Lock())") -> str:
    return (
        T4
        + f"""
def tenant_limiter(rate, burst):
    buckets = {{}}
    lines = {{}}
    shared = asyncio.Lock()

    async def acquire(tenant):
        loop = asyncio.get_running_loop()
        async with {line}:
{body}

    return acquire
"""
    )


_RECHECK = """            while True:
                now = loop.time()
                tokens, updated = buckets.get(tenant, (burst, now))
                tokens = {refill}
                if tokens >= 1:
                    buckets[tenant] = (tokens - 1, now)
                    return
                buckets[tenant] = (tokens, now)
                await asyncio.sleep({wait})"""


def _recheck(refill: str = "min(burst, tokens + (now - updated) * rate)", wait: str = "(1 - tokens) / rate") -> str:
    return _RECHECK.format(refill=refill, wait=wait)


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "no cap": _step(refill="state.tokens + (now - state.updated) * config.rate"),
        "inexact wait": _step(wait="cost / config.rate"),
        "forgets the clock": _step(
            admit_state="TokenState(tokens - cost, state.updated)", refuse_state="TokenState(tokens, state.updated)"
        ),
        "refusal drains the bucket": _step(refuse_state="TokenState(0.0, now)"),
        "waits forever": _step(guard=False),
        "calls the package": T1
        + """
def token_bucket_step(config, state, now, cost):
    return config.step(state, now, cost)
""",
    },
    "t2": {
        "plain round robin": _drr("""        if line and line[0] <= deficit[t]:
            size = line.popleft()
            deficit[t] -= size
            order.append((t, size))"""),
        "ignores the weights": _drr(_FITS, add="quantum"),
        "drains a queue per visit": _drr("""        while line:
            order.append((t, line.popleft()))"""),
        "drops large requests": _drr(
            """        while line and line[0] > quantum * weights.get(t, 1.0):
            line.popleft()
"""
            + _FITS
        ),
    },
    "t3": {
        "divides by n squared": _jain("""    if not xs:
        raise ValueError("no allocations")
    return sum(xs) ** 2 / (len(xs) ** 2 * sum(x * x for x in xs))"""),
        "forgets to square the sum": _jain("""    if not xs:
        raise ValueError("no allocations")
    return sum(xs) / (len(xs) * sum(x * x for x in xs))"""),
        "no error for no tenants": _jain("""    if not xs:
        return 1.0
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))"""),
        "calls the package": _jain("""    from funcpipe_async import jain_index
    return jain_index(xs)"""),
    },
    "t4": {
        "one line for all tenants": _limiter(_recheck(), line="shared"),
        "no cap on the bucket": _limiter(_recheck(refill="tokens + (now - updated) * rate")),
        "sleeps a whole token": _limiter(_recheck(wait="1 / rate")),
        "goes after its sleep without looking": T4
        + """
def tenant_limiter(rate, burst):
    buckets = {}

    async def acquire(tenant):
        loop = asyncio.get_running_loop()
        now = loop.time()
        tokens, updated = buckets.get(tenant, (burst, now))
        tokens = min(burst, tokens + (now - updated) * rate)
        buckets[tenant] = (tokens, now)
        if tokens < 1:
            await asyncio.sleep((1 - tokens) / rate)
            buckets[tenant] = (1.0, loop.time())
        tokens, updated = buckets[tenant]
        buckets[tenant] = (tokens - 1, updated)

    return acquire
""",
        "starts empty": _limiter(_recheck().replace("(burst, now)", "(0.0, now)")),
        "calls the package": T4
        + """
def tenant_limiter(rate, burst):
    from funcpipe_async import KeyedLimiter
    return KeyedLimiter(TokenBucket(rate, burst)).acquire
""",
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "no cap"): "tokens never exceed the burst",
    ("t1", "inexact wait"): "must wait exactly",
    ("t1", "forgets the clock"): "it must record now",
    ("t1", "refusal drains the bucket"): "a refused request takes nothing",
    ("t1", "waits forever"): "raise ValueError",
    ("t1", "calls the package"): "write it yourself",
    ("t2", "plain round robin"): "DRR counts *work*, not requests",
    ("t2", "ignores the weights"): "should get",
    ("t2", "drains a queue per visit"): "no tenant is starved",
    ("t2", "drops large requests"): "every request must be served exactly once",
    ("t3", "divides by n squared"): "equal shares must give exactly 1",
    ("t3", "forgets to square the sum"): "Does doubling every allocation change your answer?",
    ("t3", "no error for no tenants"): "raise ValueError",
    ("t3", "calls the package"): "write it yourself",
    ("t4", "one line for all tenants"): "it was held up by another tenant's callers",
    ("t4", "no cap on the bucket"): "its bucket lets at most rate × window + burst",
    ("t4", "sleeps a whole token"): "it waited longer than needed",
    ("t4", "goes after its sleep without looking"): "or did others wake with it?",
    ("t4", "starts empty"): "Does the bucket start full?",
    ("t4", "calls the package"): "write it yourself",
}
