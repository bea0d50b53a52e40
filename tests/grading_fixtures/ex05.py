"""Wrong answers for exercise 05, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task; ``FEEDBACK`` holds a substring of the
feedback the grader must give for it (see ``grading_fixtures/ex01.py``).
"""

from __future__ import annotations

T1 = "# Task 1 — Test a timeout on virtual time\n"
T2 = "# Task 2 — Test that a seed replays a run\n"
T3 = "# Task 3 — Predict when a retry ends\n"

_DRIVE = """
async def _drive(plan):
    result = await perform_async(plan)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    return result, others
"""

MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "checks only the result": T1
        + _DRIVE
        + """
def assert_times_out_at(plan, limit):
    result, others = Simulation().run(_drive(plan))
    assert isinstance(result, Err) and result.error.code == "TIMEOUT", result
    assert not others, others
""",
        "allows an early timeout": T1
        + _DRIVE
        + """
def assert_times_out_at(plan, limit):
    sim = Simulation()
    result, others = sim.run(_drive(plan))
    assert isinstance(result, Err) and result.error.code == "TIMEOUT", result
    assert sim.now <= limit, f"timed out at t={sim.now}, after the limit {limit}"
    assert not others, others
""",
        "checks only the instant": T1
        + _DRIVE
        + """
def assert_times_out_at(plan, limit):
    sim = Simulation()
    result, others = sim.run(_drive(plan))
    assert sim.now == limit, f"ended at t={sim.now}, expected {limit}"
    assert not others, others
""",
        "ignores leftover tasks": T1
        + """
def assert_times_out_at(plan, limit):
    sim = Simulation()
    result = sim.run(plan, cancel_leftovers=True)
    assert isinstance(result, Err) and result.error.code == "TIMEOUT", result
    assert sim.now == limit, f"timed out at t={sim.now}, expected {limit}"
""",
        "measures the wall clock": T1
        + """
import time

def assert_times_out_at(plan, limit):
    started = time.monotonic()
    result = Simulation().run(plan)
    elapsed = time.monotonic() - started
    assert isinstance(result, Err) and result.error.code == "TIMEOUT", result
    assert abs(elapsed - limit) < 0.1, f"timed out after {elapsed:.2f} s, expected {limit}"
""",
        "drives on the wall clock": T1
        + """
import time

def assert_times_out_at(plan, limit):
    started = time.monotonic()
    result = run_sync(plan)
    elapsed = time.monotonic() - started
    assert isinstance(result, Err) and result.error.code == "TIMEOUT", result
    assert abs(elapsed - limit) < 0.1 * limit, f"timed out after {elapsed:.2f} s, expected {limit}"
""",
        "returns a bool": T1
        + """
def assert_times_out_at(plan, limit):
    sim = Simulation()
    result = sim.run(plan)
    return isinstance(result, Err) and result.error.code == "TIMEOUT" and sim.now == limit
""",
        "async def": T1
        + """
async def assert_times_out_at(plan, limit):
    result = await perform_async(plan)
    assert isinstance(result, Err) and result.error.code == "TIMEOUT"
""",
    },
    "t2": {
        "compares results only": T2
        + """
def assert_same_trace(make_scenario, seed):
    results = []
    for _ in range(2):
        sim = Simulation(seed=seed)
        results.append(sim.run(make_scenario(sim)))
    assert results[0] == results[1], results
""",
        "compares event kinds only": T2
        + """
def assert_same_trace(make_scenario, seed):
    kinds = []
    for _ in range(2):
        sim = Simulation(seed=seed)
        sim.run(make_scenario(sim))
        kinds.append([(e.kind, e.name) for e in sim.trace.events])
    assert kinds[0] == kinds[1], kinds
""",
        "one Simulation for both runs": T2
        + """
def assert_same_trace(make_scenario, seed):
    sim = Simulation(seed=seed)
    sim.run(make_scenario(sim))
    first = sim.trace.events
    sim.run(make_scenario(sim))
    second = sim.trace.events[len(first):]
    assert first == second, "the two runs differ"
""",
        "ignores the seed": T2
        + """
def assert_same_trace(make_scenario, seed):
    traces = []
    for _ in range(2):
        sim = Simulation()
        sim.run(make_scenario(sim))
        traces.append(sim.trace.events)
    assert traces[0] == traces[1], "the two runs differ"
""",
        "runs once": T2
        + """
def assert_same_trace(make_scenario, seed):
    sim = Simulation(seed=seed)
    sim.run(make_scenario(sim))
    assert sim.trace.events == sim.trace.events
""",
    },
    "t3": {
        "one wait too many": T3
        + """
def retry_finishes_at(policy, failures, latency):
    waits = delay_schedule(policy)
    if policy.attempt_timeout is not None and latency >= policy.attempt_timeout:
        return policy.max_attempts * policy.attempt_timeout + sum(waits)
    attempts = min(failures + 1, policy.max_attempts)
    return sum(waits[:attempts]) + attempts * latency
""",
        "forgets the successful call's latency": T3
        + """
def retry_finishes_at(policy, failures, latency):
    waits = delay_schedule(policy)
    if policy.attempt_timeout is not None and latency >= policy.attempt_timeout:
        return policy.max_attempts * policy.attempt_timeout + sum(waits)
    if failures < policy.max_attempts:
        return sum(waits[:failures]) + failures * latency
    return sum(waits) + policy.max_attempts * latency
""",
        "ignores the attempt timeout": T3
        + """
def retry_finishes_at(policy, failures, latency):
    attempts = min(failures + 1, policy.max_attempts)
    return sum(delay_schedule(policy)[: attempts - 1]) + attempts * latency
""",
        "hands in the grader's reference": T3
        + """
from funcpipe_async.grading.checks.ex05_deterministic_async_testing import retry_end

def retry_finishes_at(policy, failures, latency):
    return retry_end(policy, failures, latency)[2]
""",
        "ignores max_attempts": T3
        + """
def retry_finishes_at(policy, failures, latency):
    waits = delay_schedule(policy)
    if policy.attempt_timeout is not None and latency >= policy.attempt_timeout:
        return policy.max_attempts * policy.attempt_timeout + sum(waits)
    return sum(waits[:failures]) + (failures + 1) * latency
""",
    },
}

# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "checks only the result"): "after the limit t=30",
    ("t1", "allows an early timeout"): "before the limit t=30",
    ("t1", "checks only the instant"): "but with Ok — no timeout fired",
    ("t1", "ignores leftover tasks"): "it leaves a task running",
    ("t1", "measures the wall clock"): "assert_times_out_at rejected a plan that times out at exactly t=1",
    ("t1", "drives on the wall clock"): "it waited on the wall clock",
    ("t1", "returns a bool"): "a test helper must *fail*",
    ("t1", "async def"): "is an `async def`",
    ("t2", "compares results only"): "accepted a scenario that does not replay",
    ("t2", "compares event kinds only"): "accepted a scenario that does not replay",
    ("t2", "one Simulation for both runs"): "fresh Simulation(seed=7)",
    ("t2", "ignores the seed"): "fresh Simulation(seed=7)",
    ("t2", "runs once"): "called make_scenario 1 time(s)",
    ("t3", "one wait too many"): "but on virtual time the call ends at",
    ("t3", "forgets the successful call's latency"): "but on virtual time the call ends at",
    ("t3", "ignores the attempt timeout"): "longer than the",
    ("t3", "ignores max_attempts"): "all fail and it gives up",
    ("t3", "hands in the grader's reference"): "is the package's answer to Task 3",
}
