"""Wrong answers for exercise 12, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Embed a document in one batch call\n"
T2 = "# Task 2 — Measure both designs\n"
T3 = "# Task 3 — Defend the change\n"


def _batched(
    new: str = "list(dict.fromkeys(c.text for c in chunks if c.text not in cache))",
    guard: str = "async_settle(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY))",
    keep: str = "[fan(c) for c in chunks]",
    empty: str = "if not new:\n        return async_pure([fan(c) for c in chunks])\n",
) -> str:
    return (
        T1
        + f"""
def embed_doc_batched(chunks, api, cache):
    new = {new}
    failure = [None]

    def fan(c):
        if c.text in cache:
            return Ok(EmbeddedChunk(c.chunk_id, c.text, cache[c.text], api.model_name))
        return failure[0]

    def spread(r):
        if isinstance(r, Ok):
            cache.update(dict(zip(new, r.value)))
        else:
            failure[0] = r
        return {keep}

    {empty}
    call = async_lift(lambda: api.embed_batch(tuple(new)))
    return async_map({guard}, spread)
"""
    )


def _measure(body: str) -> str:
    return (
        T2
        + f"""
def measure(docs):
{body}


MEASURED = measure(CORPUS)
"""
    )


_GOOD_MEASURE = """    per_text, batched = run_capstone(per_text_step, docs), run_capstone(embed_doc_batched, docs)
    return {"calls_per_text": per_text.calls, "calls_batched": batched.calls,
            "p95_search_per_text": percentile(per_text.latencies["search"], P),
            "p95_search_batched": percentile(batched.latencies["search"], P)}"""


def _defence(text: str) -> str:
    return (
        T3
        + f"""
def defence():
    return {text!r}
"""
    )


_PROSE = (
    "Batching the document into one call is better: it makes far fewer calls and search waits less, "
    "because one call pays the fixed overhead once. The cost is that a failed call now fails every new "
    "text of the document, and the call's time grows with the batch, so the timeout caps the batch size."
)

MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "one call per text": T1
        + """
def embed_doc_batched(chunks, api, cache):
    return per_text_step(chunks, api, cache)
""",
        "sends cached texts": _batched(new="list(dict.fromkeys(c.text for c in chunks))"),
        "sends repeats": _batched(new="[c.text for c in chunks if c.text not in cache]"),
        "drops cached chunks": _batched(keep="[fan(c) for c in chunks if c.text in new or isinstance(r, Err)]"),
        "no timeout": _batched(guard="async_settle(async_retry(call, EMBED_POLICY))"),
        "no retry": _batched(guard="async_settle(async_timeout(call, ATTEMPT_TIMEOUT))"),
        "fails fast": T1
        + """
def embed_doc_batched(chunks, api, cache):
    new = list(dict.fromkeys(c.text for c in chunks if c.text not in cache))

    def spread(vectors):
        cache.update(dict(zip(new, vectors)))
        return [Ok(EmbeddedChunk(c.chunk_id, c.text, cache[c.text], api.model_name)) for c in chunks]

    if not new:
        return async_pure(spread([]))
    call = async_lift(lambda: api.embed_batch(tuple(new)))
    return async_map(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY), spread)
""",
        "calls when nothing is new": _batched(empty=""),
    },
    "t2": {
        "numbers typed in": _measure("""    return {"calls_per_text": 62, "calls_batched": 25, "p95_search_per_text": 0.82,
            "p95_search_batched": 0.52}"""),
        "the median": _measure(_GOOD_MEASURE.replace("P)", "50)")),
        "batched twice": _measure(
            _GOOD_MEASURE.replace("run_capstone(per_text_step, docs)", "run_capstone(embed_doc_batched, docs)").replace(
                "P)", "95)"
            )
        ),
        "never ran the measurement": T2
        + """
def measure(docs):
"""
        + _GOOD_MEASURE.replace("P)", "95)")
        + """


MEASURED = {}
""",
    },
    "t3": {
        "no numbers": _defence(_PROSE),
        "too short": _defence("Batching wins: 62 calls became 25."),
        "wrong numbers": _defence(_PROSE + " We measured 60 calls per text and 20 batched."),
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "one call per text"): "one batch call per document, not one call per text",
    ("t1", "sends cached texts"): "never sent again",
    ("t1", "sends repeats"): "each distinct text once per call",
    ("t1", "drops cached chunks"): "one Result per chunk",
    ("t1", "no timeout"): "a hanging call was never cut",
    ("t1", "no retry"): "retry the call by EMBED_POLICY",
    ("t1", "fails fast"): "a failed call must not sink the document",
    ("t1", "calls when nothing is new"): "no call at all",
    ("t2", "numbers typed in"): "not numbers written in",
    ("t2", "the median"): "not the median",
    ("t2", "batched twice"): "calls_per_text",
    ("t2", "never ran the measurement"): "MEASURED must be what measure(CORPUS) returns",
    ("t3", "no numbers"): "cite both call counts",
    ("t3", "too short"): "at least 40 words",
    ("t3", "wrong numbers"): "cite both call counts",
}
