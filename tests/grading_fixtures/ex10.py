"""Wrong answers for exercise 10, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Write both sides of a gather law\n"
T2 = "# Task 2 — Put a timeout law's condition in its strategy\n"
T3 = "# Task 3 — Compare what the law promises\n"


def _gather_law(
    scripts: str = "plan_scripts()",
    right: str = "async_map(m.build(log), lambda x: [x])",
    same: str = "",
    examples: str = "50",
) -> str:
    extra = f", same={same}" if same else ""
    return (
        T1
        + f"""
def gather_singleton_law(gather):
    return check_law(
        "singleton gather", "gather([m], concurrency=k) == async_map(m, lambda x: [x])",
        st.tuples({scripts}, st.integers(1, 4)),
        lambda m, k: (lambda log: gather([m.build(log)], concurrency=k), lambda log: {right}),
        max_examples={examples}{extra},
    )
"""
    )


def _timeout_law(cases: str, same: str = "") -> str:
    extra = f", same={same}" if same else ""
    return (
        T2
        + f"""
def timeout_law(timeout):
    cases = {cases}
    return check_law(
        "timeout", "timeout(m, t) == m when m finishes before t", cases,
        lambda m, t: (lambda log: timeout(m.build(log), t), m.build), max_examples=50{extra},
    )
"""
    )


_DERIVED = (
    "{scripts}.flatmap(lambda m: st.tuples(st.just(m), "
    "st.sampled_from([0.5, 1.0, 10.0]).map(lambda margin: script_duration(m) + margin)))"
)


def _same_work(body: str) -> str:
    return (
        T3
        + f"""
def same_work(left, right):
{body}
"""
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "results only": _gather_law(same="lambda a, b: a.result == b.result"),
        "never fails": _gather_law(scripts="plan_scripts(failures=False)"),
        "forgets the list": _gather_law(right="m.build(log)"),
        "effects and time only": _gather_law(same="lambda a, b: a.effects == b.effects and a.elapsed == b.elapsed"),
        "too few examples": _gather_law(examples="5"),
        "hard-coded verdict": T1
        + """
def gather_singleton_law(gather):
    return LawReport("singleton gather", "gather([m], concurrency=k) == async_map(m, lambda x: [x])", 50, True)
""",
        # not a mistake but a shortcut: a verdict by the implementation's name, not its behaviour
        "knows the reference by name": T1
        + """
def gather_singleton_law(gather):
    holds = gather.__name__ == "async_gather"
    return LawReport("singleton gather", "gather([m], concurrency=k) == async_map(m, lambda x: [x])", 50, holds)
""",
    },
    "t2": {
        "t drawn freely": _timeout_law("st.tuples(plan_scripts(), st.sampled_from([1.0, 2.0, 5.0]))"),
        "t on the last sleep": _timeout_law(
            "plan_scripts().map(lambda m: (m, script_duration(m) + 0.0)).filter(lambda c: c[1] > 0)"
        ),
        "never fails": _timeout_law(_DERIVED.format(scripts="plan_scripts(failures=False)")),
        "results only": _timeout_law(
            _DERIVED.format(scripts="plan_scripts()"), same="lambda a, b: a.result == b.result"
        ),
        "ignores effects": _timeout_law(
            _DERIVED.format(scripts="plan_scripts()"),
            same="lambda a, b: a.result == b.result and a.elapsed == b.elapsed",
        ),
    },
    "t3": {
        "compares everything": _same_work("    return left == right"),
        "effects in order": _same_work(
            "    strip = lambda o: [e.rsplit('@', 1)[0] for e in o.effects]\n"
            "    return left.result == right.result and strip(left) == strip(right)"
        ),
        "keeps the instants": _same_work(
            "    return left.result == right.result and Counter(left.effects) == Counter(right.effects)"
        ),
        "results only": _same_work("    return left.result == right.result"),
        "effects only": _same_work(
            "    return Counter(e.rsplit('@', 1)[0] for e in left.effects) == "
            "Counter(e.rsplit('@', 1)[0] for e in right.effects)"
        ),
        # not a mistake but a shortcut: the grader's own answer
        "calls the reference": T3
        + """
from funcpipe_async.grading.checks.ex10_async_pipeline_laws import same_work_reference

def same_work(left, right):
    return same_work_reference(left, right)
""",
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "results only"): "only the effects show it",
    ("t1", "never fails"): "Your plans never fail, so it never had a failure to drop",
    ("t1", "forgets the list"): "your law fails for the package's own async_gather",
    ("t1", "effects and time only"): "Compare results: the right side is async_map(m, lambda x: [x])",
    ("t1", "too few examples"): "too few to catch anything",
    ("t1", "hard-coded verdict"): "passed your law",
    ("t2", "t drawn freely"): "Put the condition in the strategy",
    ("t2", "t on the last sleep"): "plans that finish *before* t",
    ("t2", "never fails"): "never had an Err to rewrite",
    ("t2", "results only"): "only elapsed time shows it",
    ("t2", "ignores effects"): "only the effects show it",
    ("t3", "compares everything"): "Concurrency changes when effects happen",
    ("t3", "effects in order"): "the effects of different plans interleave",
    ("t3", "keeps the instants"): "Concurrency changes when effects happen",
    ("t3", "results only"): "a gather that drives a plan twice",
    ("t3", "effects only"): "in the order the plans finish",
    ("t1", "knows the reference by name"): "your law fails for the package's own async_gather",
    ("t3", "calls the reference"): "calls same_work_reference, the grader's own answer",
}
