"""Wrong answers for exercise 12, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Deduplicate by structure\n"
T2 = "# Task 2 — Embed every chunk, bounded, retried, cut\n"
T3 = "# Task 3 — Reconcile the ledger\n"


def _dedup(key: str) -> str:
    return T1 + f'''
def structural_dedup(chunks):
    seen, kept = set(), []
    for e in chunks:
        key = {key}
        if key not in seen:
            seen.add(key)
            kept.append(e)
    return kept
'''


def _embed(one: str, gather: str = "async_gather([one(c) for c in chunks], concurrency=concurrency)") -> str:
    return T2 + f'''
def embed_all(chunks, embedder, concurrency):
    def one(chunk):
        call = async_lift(lambda: embedder.embed(chunk.text))
        make = lambda vector: EmbeddedChunk(chunk.chunk_id, chunk.text, vector, embedder.model_name)
{one}
    return {gather}
'''


_GOOD_ONE = "        return async_settle(async_map(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY), make))"


def _reconcile(body: str) -> str:
    return T3 + f'''
def reconcile(chunks, results):
    first, outcomes = {{}}, []
    for chunk, result in zip(chunks, results):
{body}
    return Ledger(tuple(outcomes))
'''


_FAIL = '''        if isinstance(result, Err):
            outcomes.append(Outcome(chunk.chunk_id, "embed", result.error))
            continue
'''
_KEEP_OR_DUP = '''        key = (result.value.text, result.value.vector)
        if key in first:
            outcomes.append(Outcome(chunk.chunk_id, "dedup", ErrInfo("DUPLICATE", "again")))
        else:
            first[key] = chunk.chunk_id
            outcomes.append(Outcome(chunk.chunk_id))'''

MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "key by text only": _dedup("e.text"),
        "key by id": _dedup("(e.chunk_id, e.text, e.vector)"),
        "keeps the last": T1 + '''
def structural_dedup(chunks):
    last = {}
    for e in chunks:
        last[(e.text, e.vector)] = e
    return [e for e in chunks if last[(e.text, e.vector)] is e]
''',
        "sorted output": T1 + '''
def structural_dedup(chunks):
    seen, kept = set(), []
    for e in chunks:
        if (e.text, e.vector) not in seen:
            seen.add((e.text, e.vector))
            kept.append(e)
    return sorted(kept, key=lambda e: (e.text, e.vector))
''',
        "key by vector only": _dedup("e.vector"),
    },
    "t2": {
        "no timeout": _embed("        return async_settle(async_map(async_retry(call, EMBED_POLICY), make))"),
        "no retry": _embed("        return async_settle(async_map(async_timeout(call, ATTEMPT_TIMEOUT), make))"),
        "fails fast": _embed("        return async_map(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY), make)"),
        "unbounded": _embed(_GOOD_ONE, gather="async_gather([one(c) for c in chunks], concurrency=max(len(chunks), 1))"),
        "sequential": _embed(_GOOD_ONE, gather="async_gather([one(c) for c in chunks], concurrency=1)"),
        "timeout outside the retry": _embed(
            "        return async_settle(async_map(async_timeout(async_retry(call, EMBED_POLICY), ATTEMPT_TIMEOUT), make))"),
        "eager": T2 + '''
def embed_all(chunks, embedder, concurrency):
    def one(chunk):
        call = async_lift(lambda: embedder.embed(chunk.text))
        make = lambda vector: EmbeddedChunk(chunk.chunk_id, chunk.text, vector, embedder.model_name)
        return async_settle(async_map(async_retry(async_timeout(call, ATTEMPT_TIMEOUT), EMBED_POLICY), make))
    done = Simulation().run(async_gather([one(c) for c in chunks], concurrency=concurrency))   # runs now
    return async_lift(lambda: _same(done))

async def _same(result):
    return result
''',
    },
    "t3": {
        "drops failures": _reconcile('''        if isinstance(result, Err):
            continue
''' + _KEEP_OR_DUP),
        "duplicates saved": _reconcile(_FAIL + '''        outcomes.append(Outcome(chunk.chunk_id))'''),
        "a failure counts as the first": _reconcile('''        key = (chunk.text, result.value.vector if isinstance(result, Ok) else None)
        if isinstance(result, Err):
            first[(chunk.text, None)] = chunk.chunk_id
            outcomes.append(Outcome(chunk.chunk_id, "embed", result.error))
        elif (chunk.text, None) in first or key in first:
            outcomes.append(Outcome(chunk.chunk_id, "dedup", ErrInfo("DUPLICATE", "again")))
        else:
            first[key] = chunk.chunk_id
            outcomes.append(Outcome(chunk.chunk_id))'''),
        "a generic error": _reconcile('''        if isinstance(result, Err):
            outcomes.append(Outcome(chunk.chunk_id, "embed", ErrInfo("EMBED_FAILED", "embedding failed")))
            continue
''' + _KEEP_OR_DUP),
        "dedup by text": _reconcile(_FAIL + '''        key = result.value.text
        if key in first:
            outcomes.append(Outcome(chunk.chunk_id, "dedup", ErrInfo("DUPLICATE", "again")))
        else:
            first[key] = chunk.chunk_id
            outcomes.append(Outcome(chunk.chunk_id))'''),
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "key by text only"): "not the text alone",
    ("t1", "key by id"): "not by id or document",
    ("t1", "keeps the last"): "keep the *first* occurrence",
    ("t1", "sorted output"): "keep the first occurrences in input order",
    ("t1", "key by vector only"): "two chunks with different texts are different",
    ("t2", "no timeout"): "a hanging embed call was never cut",
    ("t2", "no retry"): "retry by EMBED_POLICY",
    ("t2", "fails fast"): "one failed chunk must not sink the others",
    ("t2", "unbounded"): "unbounded fan-out",
    ("t2", "sequential"): "use the concurrency you are given",
    ("t2", "timeout outside the retry"): "retry by EMBED_POLICY",
    ("t2", "eager"): "describing runs nothing",
    ("t3", "drops failures"): "a failed chunk is an outcome too",
    ("t3", "duplicates saved"): "is a duplicate: report it",
    ("t3", "a failure counts as the first"): "an earlier chunk with this text failed",
    ("t3", "a generic error"): "with the ErrInfo that stopped it",
    ("t3", "dedup by text"): "another model's vector is a different chunk",
}
