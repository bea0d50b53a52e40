"""Wrong answers for exercise 09, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Batch by count, tokens or time\n"
T2 = "# Task 2 — Put results back in order\n"
T3 = "# Task 3 — Choose a policy for a latency budget\n"

_TICK = """        if items and now >= opened + policy.max_wait:
            flushes.append(Flush(items, opened + policy.max_wait, "time"))
            items, tokens = (), 0
"""
_ROOM = """        if items and tokens + weight > max_tokens:
            flushes.append(Flush(items, now, "tokens"))
            items, tokens = (), 0
"""
_OFFER = """        if not items:
            opened = now
        items, tokens = (*items, i), tokens + weight
"""
_FULL = """        if len(items) == policy.max_size or tokens == max_tokens:
            flushes.append(Flush(items, now, "size" if len(items) == policy.max_size else "tokens"))
            items, tokens = (), 0
"""
_END = """    if items:
        flushes.append(Flush(items, opened + policy.max_wait, "time"))
"""


def _batches(body: str, end: str = _END, check: bool = True) -> str:
    refuse = (
        """        if weight > max_tokens:
            raise ValueError("too heavy")
"""
        if check
        else ""
    )
    return (
        T1
        + f"""
def token_batches(policy, max_tokens, arrivals):
    flushes, items, tokens, opened = [], (), 0, 0.0
    for i, (now, weight) in enumerate(arrivals):
{refuse}{body}{end}    return flushes
"""
    )


def _embed(match: str, size: str = "size", concurrency: str = "concurrency") -> str:
    return (
        T2
        + f"""
def embed_in_order(embedder, docs, size, concurrency):
    def call(batch):
        def match(reply):
{match}
        return async_bind(embedder.embed_batch(batch), match)
    return batch_calls(docs, call, size={size}, concurrency={concurrency})
"""
    )


_MATCH = """            by_id = dict(reply)
            missing = [d for d, _ in batch if d not in by_id]
            if missing:
                return async_fail(ErrInfo("MISSING_RESULT", f"no vector for {missing[0]}"))
            return async_pure([by_id[d] for d, _ in batch])"""


def _choose(measure: str = "percentile(latencies, 95)", pick: str = "min(fits)", refuse: bool = True) -> str:
    none = (
        """    if not fits:
        raise ValueError("no candidate meets the budget")
"""
        if refuse
        else """    if not fits:
        return BatchPolicy(1, 0)
"""
    )
    return (
        T3
        + f"""
def choose_policy(arrivals, p95_budget):
    fits = []
    for size in CANDIDATE_SIZES:
        for wait in CANDIDATE_WAITS:
            policy = BatchPolicy(size, wait)
            latencies, calls = serve_latencies(policy, arrivals)
            if {measure} <= p95_budget:
                fits.append((calls, percentile(latencies, 95), size, wait))
{none}    calls, p95, size, wait = {pick}
    return BatchPolicy(size, wait)
"""
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        # the lesson's anti-pattern 1: one timer for the batcher, restarted at every flush
        "timer from the last flush": T1
        + """
def token_batches(policy, max_tokens, arrivals):
    flushes, items, tokens, last = [], (), 0, 0.0
    for i, (now, weight) in enumerate(arrivals):
        if weight > max_tokens:
            raise ValueError("too heavy")
        if items and now >= last + policy.max_wait:
            last = last + policy.max_wait
            flushes.append(Flush(items, last, "time"))
            items, tokens = (), 0
        if items and tokens + weight > max_tokens:
            flushes.append(Flush(items, now, "tokens"))
            items, tokens, last = (), 0, now
        items, tokens = (*items, i), tokens + weight
        if len(items) == policy.max_size or tokens == max_tokens:
            flushes.append(Flush(items, now, "size" if len(items) == policy.max_size else "tokens"))
            items, tokens, last = (), 0, now
        elif now >= last + policy.max_wait:
            flushes.append(Flush(items, now, "time"))
            items, tokens, last = (), 0, now
    if items:
        flushes.append(Flush(items, last + policy.max_wait, "time"))
    return flushes
""",
        "offer before tick": _batches(_ROOM + _OFFER + _TICK.replace("if items and", "if len(items) > 1 and") + _FULL),
        "adds, then checks tokens": _batches(_OFFER + _FULL.replace("tokens == max_tokens", "tokens >= max_tokens")),
        "time flush stamped when noticed": _batches(
            _TICK.replace('opened + policy.max_wait, "time"', 'now, "time"') + _ROOM + _OFFER + _FULL
        ),
        "forgets the last batch": _batches(_TICK + _ROOM + _OFFER + _FULL, end=""),
        "waits when full of tokens": _batches(
            _TICK
            + _ROOM
            + _OFFER
            + _FULL.replace(" or tokens == max_tokens", "").replace(
                '"size" if len(items) == policy.max_size else "tokens"', '"size"'
            )
        ),
        "never refuses": _batches(_TICK + _ROOM + _OFFER + _FULL, check=False),
        # not a mistake but a shortcut: the grader's own answer, under the task's name
        "calls the reference": T1
        + """
from funcpipe_async.grading.checks.ex09_async_chunking import token_batches_reference as token_batches
""",
    },
    "t2": {
        "trusts the reply's order": _embed("            return async_pure([vector for _, vector in reply])"),
        "pads a missing vector": _embed("""            by_id = dict(reply)
            return async_pure([by_id.get(d) for d, _ in batch])"""),
        "unbounded": _embed(_MATCH, concurrency="max(len(docs), 1)"),
        "one call per document": _embed(_MATCH, size="1"),
        "eager": T2
        + """
def embed_in_order(embedder, docs, size, concurrency):
    def call(batch):
        def match(reply):
            by_id = dict(reply)
            missing = [d for d, _ in batch if d not in by_id]
            if missing:
                return async_fail(ErrInfo("MISSING_RESULT", "missing"))
            return async_pure([by_id[d] for d, _ in batch])
        return async_bind(embedder.embed_batch(batch), match)
    result = Simulation().run(batch_calls(docs, call, size=size, concurrency=concurrency))   # runs now
    return async_map(async_pure(None), lambda _: result.value if isinstance(result, Ok) else None)
""",
        "calls the reference": T2
        + """
from funcpipe_async.grading.checks import ex09_async_chunking as checks

def embed_in_order(embedder, docs, size, concurrency):
    return checks.embed_in_order_reference(embedder, docs, size, concurrency)
""",
    },
    "t3": {
        "budget on the median": _choose(measure="percentile(latencies, 50)"),
        "lowest latency, not fewest calls": _choose(pick="min(fits, key=lambda f: (f[1], f[0]))"),
        "latency without the call": T3
        + """
def choose_policy(arrivals, p95_budget):
    fits = []
    for size in CANDIDATE_SIZES:
        for wait in CANDIDATE_WAITS:
            flushes = batch_schedule(BatchPolicy(size, wait), arrivals)
            waits = [f.at - arrivals[i] for f in flushes for i in f.items]
            if percentile(waits, 95) <= p95_budget:
                fits.append((len(flushes), size, wait))
    if not fits:
        raise ValueError("no candidate meets the budget")
    calls, size, wait = min(fits)
    return BatchPolicy(size, wait)
""",
        "never refuses": _choose(refuse=False),
        "calls the reference": T3
        + """
import functools

from funcpipe_async.grading.checks.ex09_async_chunking import choose_policy_reference

choose_policy = functools.partial(choose_policy_reference)
""",
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "timer from the last flush"): "the clock starts at a batch's first item, not at the last flush",
    ("t1", "offer before tick"): "tick before you offer",
    ("t1", "adds, then checks tokens"): "no batch may carry more than max_tokens",
    ("t1", "time flush stamped when noticed"): "is stamped at its deadline",
    ("t1", "forgets the last batch"): "nothing may be left behind",
    ("t1", "waits when full of tokens"): "can take no other item",
    ("t1", "never refuses"): "can never be sent",
    ("t2", "trusts the reply's order"): "match each vector to its document by id",
    ("t2", "pads a missing vector"): "must be Err(ErrInfo('MISSING_RESULT'",
    ("t2", "unbounded"): "in flight (concurrency=",
    ("t2", "one call per document"): "batches of",
    ("t2", "eager"): "describing runs nothing",
    ("t3", "budget on the median"): "the budget is on the p95",
    ("t3", "lowest latency, not fewest calls"): "the fewest calls that meet the budget",
    ("t3", "latency without the call"): "measured from arrival to result",
    ("t3", "never refuses"): "raise ValueError",
    ("t1", "calls the reference"): "calls token_batches_reference, the grader's own answer",
    ("t2", "calls the reference"): "calls embed_in_order_reference, the grader's own answer",
    ("t3", "calls the reference"): "calls choose_policy_reference, the grader's own answer",
}
