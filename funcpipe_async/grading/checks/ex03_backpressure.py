"""Exercise 03 · Backpressure: the checks of its three tasks.

* t1 ``offer_drop_oldest(buffer, item, capacity)`` — the drop-oldest offer as a pure function
  ``-> (new_buffer, evicted)``: checked against the invariants on generated buffers (depth ≤
  capacity, conservation, the newest item always admitted, the oldest evicted first, nothing
  evicted while there is room, ``ValueError`` for a capacity below 1), then folded over
  generated offer/take scripts and compared with the lesson's ``BoundedQueue`` driven on
  virtual time.
* t2 ``telemetry_policy(consumer_rate, max_age)`` — a ``QueuePolicy`` for latest-value
  telemetry: on generated rates and budgets, bursts of readings go through a one-stage
  ``pipeline`` with the student's policy on virtual time; every delivered reading must be
  at most ``max_age`` old, the latest reading must arrive, the sensor must never wait, and
  no more readings may be dropped than the budget forces.
* t3 ``measure_littles_law(events)`` — λ, L and W from a list of ``(time, "in" | "out")``
  events, compared with the reference on generated traces (items left in the queue at the
  end included).

Every task is decided by a judge outside the worker: it draws the buffers, scripts, rates and
traces (the fixed examples, then fresh ones from the grading run's seed), asks the worker's
probes (``PROBES``) to call the student's function on them, and compares what they report
with its own reference: ``offer*`` report what each offer returned (or which bad capacities
raised ``ValueError``) and, for a script, what was taken, left and evicted — the judge drives
the lesson's ``BoundedQueue`` itself; ``telemetry`` reports the policy returned, as data, and
the judge sends the bursts through ``pipeline`` with that policy on its own virtual clock;
``littles`` reports the three numbers.  The references below have the tasks' signatures and
are importable, so each task hides its own from the worker (``Task.hides``): called there,
it refuses, saying why.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.pipelines import Stage, pipeline
from funcpipe_async.plan import AsyncPlan, async_lift
from funcpipe_async.queues import BoundedQueue, QueueClosed, QueuePolicy
from funcpipe_async.result import ErrInfo, Ok, Result

__all__ = ["EXERCISE", "PROBES", "offer_reference", "telemetry_reference", "littles_reference"]


def _g(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------------------------------------
# Task 1: evict before you admit


def offer_reference(buffer: tuple[int, ...], item: int, capacity: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The reference answer of Task 1."""
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    everything = (*buffer, item)
    cut = max(len(everything) - capacity, 0)
    return everything[cut:], everything[:cut]


@st.composite
def _offers(draw: st.DrawFn) -> tuple[tuple[int, ...], int, int]:
    capacity = draw(st.integers(1, 6))
    size = draw(st.sampled_from([capacity, capacity - 1, 0, capacity]) if capacity > 1 else st.just(capacity))
    size = draw(st.integers(0, capacity)) if draw(st.booleans()) else size
    start = draw(st.integers(0, 50))
    buffer = tuple(range(start, start + size))  # distinct items, oldest first
    return buffer, start + size, capacity


_BAD_CAPACITIES = (0, -1)


def _wrong_shape() -> kit.CheckFailed:
    return kit.CheckFailed(kit.TAMPERED)


def _probe_offer_bad(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """``offer_drop_oldest((1, 2), 3, capacity)`` for each bad capacity: did it raise ValueError?"""
    fn = kit.function(ns, "offer_drop_oldest")
    answers: list[dict[str, Any]] = []
    for bad in payload["capacities"]:
        try:
            fn((1, 2), 3, int(bad))
        except ValueError:
            answers.append({"outcome": "value_error"})
            continue
        except NotImplementedError:
            raise kit.not_done("offer_drop_oldest") from None
        except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
            answers.append({"outcome": "raised", "error": kit.describe_exception(error)})
            continue
        answers.append({"outcome": "returned"})
    return answers


def _offer(fn: Any, buffer: tuple[int, ...], item: int, capacity: int) -> Any:
    doing = f"offer_drop_oldest({buffer!r}, {item!r}, {capacity})"
    return kit.call(fn, buffer, item, capacity, doing=doing)


def _probe_offer(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """One offer on the judge's buffer: what the student's function returned."""
    fn = kit.function(ns, "offer_drop_oldest")
    buffer = tuple(int(x) for x in payload["buffer"])
    got = _offer(fn, buffer, int(payload["item"]), int(payload["capacity"]))
    return {"returned": got}


def _probe_offer_fold(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Fold the student's offers (and the takes) over the judge's script: what was taken, what is
    left and how many were evicted; or the first offer that did not return a pair."""
    fn = kit.function(ns, "offer_drop_oldest")
    capacity = int(payload["capacity"])
    buffer: tuple[int, ...] = ()
    dropped = 0
    taken: list[int] = []
    for op in payload["ops"]:
        if op is None:
            if buffer:
                taken.append(buffer[0])
                buffer = buffer[1:]
            continue
        got = _offer(fn, buffer, int(op), capacity)
        pair = _as_pair(got)
        if pair is None:
            return {"bad_offer": [list(buffer), int(op)], "returned": got}
        buffer, evicted = pair
        dropped += len(evicted)
    return {"taken": taken, "left": list(buffer), "dropped": dropped}


def _as_pair(got: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """``(new_buffer, evicted)`` as tuples, or ``None`` if ``got`` is not a pair of sequences."""
    if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(p, (tuple, list)) for p in got)):
        return None
    return tuple(got[0]), tuple(got[1])


def _not_a_pair(doing: str, got: Any) -> kit.CheckFailed:
    return kit.CheckFailed(f"{doing} returned {kit.show(got)}; return a pair (new_buffer, evicted) of tuples")


def _refuses_a_bad_capacity(worker: Worker) -> str:
    answers = worker.ask("offer_bad", {"capacities": list(_BAD_CAPACITIES)})
    if (
        not isinstance(answers, list)
        or len(answers) != len(_BAD_CAPACITIES)
        or not all(isinstance(a, dict) for a in answers)
    ):
        raise _wrong_shape()
    for bad, said in zip(_BAD_CAPACITIES, answers):
        if said.get("outcome") == "value_error":
            continue
        if said.get("outcome") == "raised":
            raise kit.CheckFailed(
                f"offer_drop_oldest((1, 2), 3, {bad}) raised {said.get('error')}; a capacity "
                "below 1 is a mistake in the policy: raise ValueError saying so"
            )
        if said.get("outcome") != "returned":
            raise _wrong_shape()
        raise kit.CheckFailed(
            f"offer_drop_oldest((1, 2), 3, {bad}) returned instead of refusing: a queue of capacity {bad} "
            "can hold nothing — raise ValueError, as QueuePolicy does"
        )
    return "a capacity below 1 is refused with ValueError"


def _drops_the_oldest(worker: Worker) -> str:
    def prop(case: tuple[tuple[int, ...], int, int]) -> None:
        buffer, item, capacity = case
        doing = f"offer_drop_oldest({buffer!r}, {item!r}, {capacity})"
        answer = worker.ask("offer", {"buffer": list(buffer), "item": item, "capacity": capacity})
        if not isinstance(answer, dict) or "returned" not in answer:
            raise _wrong_shape()
        pair = _as_pair(answer["returned"])
        if pair is None:
            raise _not_a_pair(doing, answer["returned"])
        new, evicted = pair
        if len(new) > capacity:
            raise kit.CheckFailed(
                f"your buffer held {len(new)} items with capacity {capacity} ({doing} returned {new!r}) — "
                "the drop-oldest strategy must evict before it admits"
            )
        if not _conserves(new, evicted, buffer, item):
            raise kit.CheckFailed(
                f"{doing} returned buffer {new!r} and evicted {evicted!r}: items in must equal items kept + "
                "items evicted — an item vanished or appeared"
            )
        if not new or new[-1] != item:
            raise kit.CheckFailed(
                f"{doing} did not admit the new item {item!r} (buffer {new!r}): drop-oldest always admits the "
                "newest item — refusing it is drop-newest"
            )
        if len(buffer) < capacity and evicted:
            raise kit.CheckFailed(
                f"{doing} evicted {evicted!r} although the buffer had room ({len(buffer)} of {capacity}): "
                "evict only when the queue is full"
            )
        expected = offer_reference(buffer, item, capacity)
        if (new, evicted) != expected:
            raise kit.CheckFailed(
                f"{doing} returned {(new, evicted)!r}, expected {expected!r}: the oldest item (the front of "
                "the buffer) goes first, and the others keep their order"
            )

    kit.for_all(_offers(), prop)

    def fold(script: tuple[tuple[int, tuple[int | None, ...]], ...]) -> None:
        capacity, ops = script[0]
        answer = worker.ask("offer_fold", {"capacity": capacity, "ops": list(ops)})
        if not isinstance(answer, dict):
            raise _wrong_shape()
        if "bad_offer" in answer:
            bad = answer["bad_offer"]
            if not (isinstance(bad, list) and len(bad) == 2 and isinstance(bad[0], list)):
                raise _wrong_shape()
            raise _not_a_pair(f"offer_drop_oldest({tuple(bad[0])!r}, {bad[1]!r}, {capacity})", answer.get("returned"))
        taken, left, dropped = answer.get("taken"), answer.get("left"), answer.get("dropped")
        if not (isinstance(taken, list) and isinstance(left, list) and isinstance(dropped, int)):
            raise _wrong_shape()
        reference = kit.simulate(_bounded_queue_run(capacity, ops), doing="the lesson's BoundedQueue")
        if (taken, tuple(left), dropped) != reference:
            raise kit.CheckFailed(
                f"offers and takes {list(ops)!r} on capacity {capacity}: your offers gave taken={taken}, "
                f"left={left}, dropped={dropped}; BoundedQueue(QueuePolicy({capacity}, 'drop_oldest')) "
                f"gives taken={reference[0]}, left={list(reference[1])}, dropped={reference[2]}"
            )

    scripts = st.integers(1, 4).flatmap(
        lambda cap: st.lists(st.one_of(st.none(), st.integers(0, 99)), max_size=14).map(
            lambda ops: ((cap, tuple(ops)),)
        )
    )
    kit.for_all(scripts, fold, examples=30)
    return (
        "offer_drop_oldest keeps at most `capacity` items, always admits the newest, evicts the oldest "
        "first, and matches BoundedQueue(…, 'drop_oldest') on virtual time"
    )


judge_offer_drop_oldest = kit.in_order(_drops_the_oldest, _refuses_a_bad_capacity)
"""The lesson's concept (evict the oldest, admit the newest) first; the capacity check after it,
and both when both fail."""


def _conserves(new: tuple[Any, ...], evicted: tuple[Any, ...], buffer: tuple[int, ...], item: int) -> bool:
    """Items in equal items kept plus items evicted (as multisets; unhashable items never match)."""
    try:
        return Counter(new) + Counter(evicted) == Counter(buffer) + Counter([item])
    except TypeError:
        return False


async def _bounded_queue_run(capacity: int, ops: Sequence[int | None]) -> tuple[list[int], tuple[int, ...], int]:
    queue: BoundedQueue[int] = BoundedQueue(QueuePolicy(capacity, "drop_oldest"), "q")
    taken: list[int] = []
    for op in ops:
        if op is None:
            if queue.depth:
                taken.append(await queue.get())
        else:
            await queue.put(op)
    queue.close()
    left: list[int] = []
    while True:
        try:
            left.append(await queue.get())
        except QueueClosed:
            return taken, tuple(left), queue.dropped


# ---------------------------------------------------------------------------------------------
# Task 2: size a telemetry queue to a budget


def telemetry_reference(consumer_rate: float, max_age: float) -> QueuePolicy:
    """The reference answer of Task 2."""
    capacity = math.floor(max_age * consumer_rate + 1e-9)
    if capacity < 1:
        raise ValueError(f"a consumer of {consumer_rate}/s cannot deliver any reading within {max_age} s")
    return QueuePolicy(capacity, "drop_oldest")


_RATES = st.sampled_from([1.0, 2.0, 4.0, 0.5, 8.0, 0.25])  # exact binary fractions: exact virtual times
_AGES = st.integers(1, 40).map(lambda q: q / 4)


def _deliveries(
    policy: QueuePolicy, consumer_rate: float, burst: int
) -> tuple[Result[Any, ErrInfo], list[tuple[int, float]], int]:
    """A burst of ``burst`` readings at t=0 through one stage; ``(result, [(reading, delivered_at)], put_waits)``."""
    delivered: list[tuple[int, float]] = []
    service = 1 / consumer_rate

    def show_on_dashboard(reading: int) -> AsyncPlan[int]:
        async def run() -> Result[int, ErrInfo]:
            await asyncio.sleep(service)
            delivered.append((reading, asyncio.get_running_loop().time()))
            return Ok(reading)

        return async_lift(run)

    plan = pipeline(range(burst), [Stage("dashboard", show_on_dashboard, queue=policy)], collect=False)
    result = kit.simulate(plan, doing=f"a burst of {burst} readings through {policy!r}")
    waits = result.value.queues[0].put_waits if isinstance(result, Ok) else 0
    return result, delivered, waits


def _probe_telemetry(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``telemetry_policy(rate, max_age)``: the policy it returned, as data, or the ValueError it
    raised (any other exception is a verdict)."""
    fn = kit.function(ns, "telemetry_policy")
    rate, max_age = float(payload["rate"]), float(payload["max_age"])
    try:
        got = fn(rate, max_age)
    except NotImplementedError:
        raise kit.not_done("telemetry_policy") from None
    except ValueError as error:
        return {"outcome": "value_error", "error": str(error)[:200]}
    except Exception as error:  # noqa: BLE001 - a defect is the verdict
        raise kit.CheckFailed(
            f"telemetry_policy({_g(rate)}, {_g(max_age)}) raised {kit.describe_exception(error)}"
        ) from None
    if isinstance(got, QueuePolicy):
        return {"outcome": "policy", "capacity": got.capacity, "overflow": got.overflow}
    return {"outcome": "other", "shown": kit.show(got)}


def _policy_of(answer: Mapping[str, Any]) -> QueuePolicy:
    """The policy the worker described, rebuilt here (the judge runs the bursts itself)."""
    capacity, overflow = answer.get("capacity"), answer.get("overflow")
    if not (capacity is None or (isinstance(capacity, int) and not isinstance(capacity, bool))) or overflow not in (
        "suspend",
        "drop_newest",
        "drop_oldest",
        "fail",
    ):
        raise _wrong_shape()
    try:
        return QueuePolicy(capacity, overflow)
    except (TypeError, ValueError):
        raise _wrong_shape() from None


def judge_telemetry_policy(worker: Worker) -> str:
    def prop(case: tuple[float, float]) -> None:
        rate, max_age = case
        doing = f"telemetry_policy({_g(rate)}, {_g(max_age)})"
        try:
            expected: QueuePolicy | None = telemetry_reference(rate, max_age)
        except ValueError:
            expected = None
        answer = worker.ask("telemetry", {"rate": rate, "max_age": max_age})
        if not isinstance(answer, dict):
            raise _wrong_shape()
        outcome = answer.get("outcome")
        if outcome == "value_error":
            if expected is None:
                return
            raise kit.CheckFailed(
                f"{doing} raised ValueError ({answer.get('error')}), but capacity {expected.capacity} meets the budget: "
                f"{expected.capacity} readings at {_g(rate)}/s take {_g((expected.capacity or 0) / rate)} s"
            )
        if outcome not in ("policy", "other"):
            raise _wrong_shape()
        got_text = str(answer.get("shown")) if outcome == "other" else repr(_policy_of(answer))
        if expected is None:
            raise kit.CheckFailed(
                f"{doing} returned {got_text}, but no queue can meet that budget: one reading takes "
                f"{_g(1 / rate)} s to show, more than {_g(max_age)} s — raise ValueError"
            )
        if outcome == "other":
            raise kit.CheckFailed(f"{doing} returned {got_text}; return a QueuePolicy — a policy is data")
        got = _policy_of(answer)
        if got.capacity is None:
            raise kit.CheckFailed(
                f"{doing} returned an unbounded queue: after a burst, readings wait as long as the backlog is "
                f"deep — nothing bounds their age. Bound the queue"
            )
        if got.overflow == "fail":
            raise kit.CheckFailed(
                f"{doing} uses overflow='fail': the first burst bigger than the queue ends the whole stream "
                "with Err(QUEUE_FULL). Telemetry should shed old readings and keep going"
            )
        burst = 2 * (expected.capacity or 1) + 3
        result, delivered, waits = _deliveries(got, rate, burst)
        if got.overflow == "suspend" or waits:
            raise kit.CheckFailed(
                f"{doing} uses overflow='suspend': the sensor had to wait {waits} times for room. A sensor "
                "cannot wait — and the readings it holds back arrive stale. Drop instead"
            )
        if not isinstance(result, Ok):
            raise kit.CheckFailed(f"a burst through {got!r} ended with {kit.show(result)}")
        stale = [(r, t) for r, t in delivered if t > max_age + 1e-9]
        if stale:
            reading, at = stale[0]
            raise kit.CheckFailed(
                f"with {got!r} and a consumer of {_g(rate)}/s, a burst of {burst} readings at t=0 delivered "
                f"reading {reading} at t={_g(at)}: {_g(at)} s old, over the {_g(max_age)} s budget. The last "
                f"of C queued readings is shown after C/μ s — capacity {got.capacity} is too big"
            )
        if not delivered or delivered[-1][0] != burst - 1:
            raise kit.CheckFailed(
                f"with {got!r}, the latest reading ({burst - 1}) of a burst never reached the dashboard "
                f"(delivered: {[r for r, _ in delivered]}): telemetry wants the freshest value — "
                "evict the oldest, not the newest"
            )
        if got != expected:
            raise kit.CheckFailed(
                f"{doing} returned {got!r}: it meets the budget but drops more than it must — "
                f"{expected!r} still shows every reading within {_g(max_age)} s "
                f"({expected.capacity} readings take {_g((expected.capacity or 0) / rate)} s at {_g(rate)}/s)"
            )

    kit.for_all(st.tuples(_RATES, _AGES), prop)
    return (
        "telemetry_policy evicts the oldest readings, never makes the sensor wait, and picks the largest "
        "capacity whose worst age, capacity / consumer_rate, fits the budget"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: Little's law from a trace


def littles_reference(events: Sequence[tuple[float, str]]) -> tuple[float, float, float]:
    """The reference answer of Task 3: ``(λ, L, W)`` over ``[0, T]``, ``T`` the last event's time."""
    end = events[-1][0]
    arrivals = [t for t, kind in events if kind == "in"]
    departures = [t for t, kind in events if kind == "out"]
    area = sum((departures[k] if k < len(departures) else end) - t for k, t in enumerate(arrivals))
    n = len(arrivals)
    return n / end, area / end, (area / n if n else 0.0)


@st.composite
def _traces(draw: st.DrawFn) -> list[tuple[float, str]]:
    steps = draw(st.lists(st.tuples(st.integers(0, 8), st.booleans()), min_size=1, max_size=25))
    t, depth, events = 0.0, 0, []
    for gap, arrive in steps:
        t += gap / 4
        if arrive or depth == 0:
            events.append((t, "in"))
            depth += 1
        else:
            events.append((t, "out"))
            depth -= 1
    if events[-1][0] == 0:
        events.append((1.0, "in"))
    return events


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _probe_littles(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """``measure_littles_law(events)`` on the judge's trace: the three numbers it returned (as
    floats), or what it returned instead."""
    fn = kit.function(ns, "measure_littles_law")
    events = [(float(t), str(kind)) for t, kind in payload["events"]]
    doing = (
        f"measure_littles_law({events!r})"
        if len(events) <= 8
        else f"measure_littles_law(<{len(events)} events, from {events[:3]!r} to {events[-1]!r}>)"
    )
    got = kit.call(fn, events, doing=doing)
    if (
        isinstance(got, tuple)
        and len(got) == 3
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in got)
    ):
        return {"numbers": [float(x) for x in got]}
    return {"shown": kit.show(got)}


def judge_measure_littles_law(worker: Worker) -> str:
    def prop(events: list[tuple[float, str]]) -> None:
        doing = (
            f"measure_littles_law({events!r})"
            if len(events) <= 8
            else f"measure_littles_law(<{len(events)} events, from {events[:3]!r} to {events[-1]!r}>)"
        )
        answer = worker.ask("littles", {"events": [[t, kind] for t, kind in events]})
        if not isinstance(answer, dict):
            raise _wrong_shape()
        numbers = answer.get("numbers")
        if numbers is None:
            raise kit.CheckFailed(f"{doing} returned {answer.get('shown')}; return a tuple (λ, L, W) of numbers")
        if not (isinstance(numbers, list) and len(numbers) == 3 and all(isinstance(x, float) for x in numbers)):
            raise _wrong_shape()
        lam, big_l, w = numbers
        e_lam, e_l, e_w = littles_reference(events)
        end = events[-1][0]
        if not _close(lam, e_lam):
            raise kit.CheckFailed(
                f"{doing}: λ = {lam:.4g}, expected {e_lam:.4g} — λ counts arrivals ('in' events) per second of "
                f"the window [0, T], here T = {_g(end)} s"
            )
        if not _close(big_l, e_l):
            raise kit.CheckFailed(
                f"{doing}: L = {big_l:.4g}, expected {e_l:.4g} — L is the *time*-average number in the queue: "
                "each depth weighted by how long it lasted, divided by T"
            )
        if not _close(w, e_w):
            raise kit.CheckFailed(
                f"{doing}: W = {w:.4g}, expected {e_w:.4g} — W is the mean time in the queue per arrival; items "
                f"still inside at T = {_g(end)} s count up to T (so L = λW exactly)"
            )

    kit.for_all(_traces(), prop)
    return "measure_littles_law gives the reference λ, L and W, and so L = λW, on every generated trace"


PROBES = {
    "offer_bad": _probe_offer_bad,
    "offer": _probe_offer,
    "offer_fold": _probe_offer_fold,
    "telemetry": _probe_telemetry,
    "littles": _probe_littles,
}
"""What the worker answers: the ``offer*`` probes (Task 1), ``telemetry`` (Task 2), ``littles`` (Task 3)."""


EXERCISE = Exercise(
    slug="03_backpressure",
    title="03 · Backpressure",
    tasks=(
        Task(
            "t1",
            "Evict before you admit",
            4,
            ("offer_drop_oldest",),
            judge=judge_offer_drop_oldest,
            hides=(f"{__name__}.offer_reference",),
        ),
        Task(
            "t2",
            "Size a telemetry queue to a budget",
            3,
            ("telemetry_policy",),
            judge=judge_telemetry_policy,
            hides=(f"{__name__}.telemetry_reference",),
        ),
        Task(
            "t3",
            "Measure Little's law from a trace",
            3,
            ("measure_littles_law",),
            judge=judge_measure_littles_law,
            hides=(f"{__name__}.littles_reference",),
        ),
    ),
)
