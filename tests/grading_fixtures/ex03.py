"""Wrong answers for exercise 03, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Evict before you admit\n"
T2 = "# Task 2 — Size a telemetry queue to a budget\n"
T3 = "# Task 3 — Measure Little's law from a trace\n"


def _offer(body: str) -> str:
    return T1 + "def offer_drop_oldest(buffer, item, capacity):\n" + body


def _policy(body: str) -> str:
    return T2 + "def telemetry_policy(consumer_rate, max_age):\n" + body


_CAP = "    capacity = math.floor(max_age * consumer_rate)\n    if capacity < 1:\n        raise ValueError('no reading fits')\n"


def _little(body: str) -> str:
    return (
        T3
        + """def measure_littles_law(events):
    end = events[-1][0]
    arrivals = [t for t, kind in events if kind == "in"]
    departures = [t for t, kind in events if kind == "out"]
"""
        + body
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "admits then forgets to evict": _offer("""    if capacity < 1:
        raise ValueError("capacity")
    return (*buffer, item), ()
"""),
        "drops the newest": _offer("""    if capacity < 1:
        raise ValueError("capacity")
    if len(buffer) >= capacity:
        return tuple(buffer), (item,)
    return (*buffer, item), ()
"""),
        "drops the newest and never refuses": _offer("""    if len(buffer) >= capacity:
        return tuple(buffer), (item,)
    return (*buffer, item), ()
"""),
        "evicts the newest waiting": _offer("""    if capacity < 1:
        raise ValueError("capacity")
    if len(buffer) >= capacity:
        return (*buffer[:-1], item), (buffer[-1],)
    return (*buffer, item), ()
"""),
        "evicts one too early": _offer("""    if capacity < 1:
        raise ValueError("capacity")
    if len(buffer) >= capacity - 1 and buffer:
        return (*buffer[1:], item), (buffer[0],)
    return (*buffer, item), ()
"""),
        "loses the evicted item": _offer("""    if capacity < 1:
        raise ValueError("capacity")
    everything = (*buffer, item)
    return everything[-capacity:], ()
"""),
        "hands in the grader's reference": T1
        + ("from funcpipe_async.grading.checks.ex03_backpressure import offer_reference as offer_drop_oldest\n"),
        "never refuses a bad capacity": _offer("""    everything = (*buffer, item)
    cut = max(len(everything) - capacity, 0)
    return everything[cut:], everything[:cut]
"""),
    },
    "t2": {
        "drops the newest": _policy(_CAP + "    return QueuePolicy(capacity, 'drop_newest')\n"),
        "suspends the sensor": _policy(_CAP + "    return QueuePolicy(capacity, 'suspend')\n"),
        "fails on overflow": _policy(_CAP + "    return QueuePolicy(capacity, 'fail')\n"),
        "unbounded": _policy(_CAP + "    return QueuePolicy.unbounded()\n"),
        "one too many": _policy(_CAP + "    return QueuePolicy(capacity + 1, 'drop_oldest')\n"),
        "one too few": _policy(_CAP + "    return QueuePolicy(max(capacity - 1, 1), 'drop_oldest')\n"),
        "hands in the grader's reference": T2
        + ("from funcpipe_async.grading.checks.ex03_backpressure import telemetry_reference as telemetry_policy\n"),
        "never refuses": _policy(
            "    return QueuePolicy(max(math.floor(max_age * consumer_rate), 1), 'drop_oldest')\n"
        ),
    },
    "t3": {
        "W over departed items only": _little("""    stays = [departures[k] - t for k, t in enumerate(arrivals) if k < len(departures)]
    area = sum((departures[k] if k < len(departures) else end) - t for k, t in enumerate(arrivals))
    return len(arrivals) / end, area / end, (sum(stays) / len(stays) if stays else 0.0)
"""),
        "L as a mean over events": _little("""    depth, depths = 0, []
    for _, kind in events:
        depth += 1 if kind == "in" else -1
        depths.append(depth)
    area = sum((departures[k] if k < len(departures) else end) - t for k, t in enumerate(arrivals))
    return len(arrivals) / end, sum(depths) / len(depths), (area / len(arrivals) if arrivals else 0.0)
"""),
        "hands in the grader's reference": T3
        + ("from funcpipe_async.grading.checks.ex03_backpressure import littles_reference as measure_littles_law\n"),
        "λ from departures": _little("""    area = sum((departures[k] if k < len(departures) else end) - t for k, t in enumerate(arrivals))
    return len(departures) / end, area / end, (area / len(arrivals) if arrivals else 0.0)
"""),
    },
}

FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "admits then forgets to evict"): "must evict before it admits",
    ("t1", "drops the newest"): "refusing it is drop-newest",
    # two mistakes: the lesson's concept is reported first, then the side check
    ("t1", "drops the newest and never refuses"): "refusing it is drop-newest (2) offer_drop_oldest((1, 2), 3, ",
    ("t1", "evicts the newest waiting"): "the oldest item (the front of the buffer) goes first",
    ("t1", "evicts one too early"): "evict only when the queue is full",
    ("t1", "loses the evicted item"): "an item vanished or appeared",
    ("t1", "never refuses a bad capacity"): "raise ValueError",
    ("t1", "hands in the grader's reference"): "is the package's answer to Task 1",
    ("t2", "hands in the grader's reference"): "is the package's answer to Task 2",
    ("t3", "hands in the grader's reference"): "is the package's answer to Task 3",
    ("t2", "drops the newest"): "evict the oldest, not the newest",
    ("t2", "suspends the sensor"): "A sensor cannot wait",
    ("t2", "fails on overflow"): "ends the whole stream",
    ("t2", "unbounded"): "nothing bounds their age",
    ("t2", "one too many"): "is too big",
    ("t2", "one too few"): "drops more than it must",
    ("t2", "never refuses"): "no queue can meet that budget",
    ("t3", "W over departed items only"): "items still inside at T",
    ("t3", "L as a mean over events"): "the *time*-average number",
    ("t3", "λ from departures"): "λ counts arrivals",
}
