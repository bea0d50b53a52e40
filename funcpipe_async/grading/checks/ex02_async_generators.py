"""Exercise 02 · Async Generators: the checks of its three tasks.

* t1 ``windows(stream, n)`` — a stream combinator: the sliding windows of ``n`` consecutive
  items.  Its law (``windows(stream_of(xs), n)`` runs to ``[tuple(xs[i:i+n]) …]``) is checked
  on generated lists; building it runs nothing; a second run gives the same windows; it pulls
  at most ``n + k − 1`` items for ``take(k)``; it closes its source when the consumer stops;
  ``n < 1`` is a ``ValueError``.
* t2 ``read_log(resource, lines)`` — a source that owns a ``Resource``: acquired when a run
  starts (never when the stream is built), one line per virtual second, and released however
  the run ends — exhausted, ``take``, ``break`` inside ``aclosing``, an ``Err``, an exception,
  a cancellation; a second run acquires and releases again.
* t3 ``first_alert(readings, threshold)`` — a plan that finds the first reading strictly over
  ``threshold`` (``Err(NO_ALERT)`` when there is none) and pulls nothing after it.

Every task is decided by a judge outside the worker: it draws the items, lines and readings
(from the grading run's seed as well as the fixed examples), asks the worker's probes
(``PROBES``) to build the student's stream or plan on them over the grader's own recording
sources and drive it on virtual time, and compares what they report with its own reference.
The probes report, as plain data: for ``windows``, whether building started the source,
the results of two runs, the items pulled for ``take(k)`` and whether an owned source was
still held, and which bad ``n`` raised ``ValueError``; for ``read_log``, whether building
acquired, a full run's result, end instant and resource counts, a second run's, and the
count still held after each early exit; for ``first_alert``, the result and the readings
pulled.

Whether a source is still held is read *inside* the run, the moment the plan returns: after
``Simulation.run`` the loop's shutdown closes any leaked generator and would hide the leak.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.plan import AsyncPlan, async_fail, async_pure
from funcpipe_async.result import Err, ErrInfo, Ok
from funcpipe_async.streams import EMIT, Resource, Stream, stream_from, stream_of
from funcpipe_async.trace import Trace

__all__ = ["EXERCISE", "PROBES", "windows_reference", "NO_ALERT"]

NO_ALERT = "NO_ALERT"
BAD = ErrInfo("BAD", "downstream rejected this line")


def windows_reference(xs: list[Any], n: int) -> list[tuple[Any, ...]]:
    """The law of Task 1: every run of ``n`` consecutive items, in order."""
    return [tuple(xs[i : i + n]) for i in range(len(xs) - n + 1)]


def _counted(xs: list[Any] | range, starts: list[int], pulls: list[Any]) -> Stream[Any]:
    """A source that records each time a run starts and each item it hands over."""

    async def source() -> AsyncGenerator[Any, None]:
        starts.append(1)
        for x in xs:
            pulls.append(x)
            yield x

    return stream_from(source)


def _owned(resource: Resource) -> Stream[int]:
    """An endless source (one item per virtual second) that holds ``resource`` while it runs."""

    async def source() -> AsyncGenerator[int, None]:
        resource.acquire()
        try:
            i = 0
            while True:
                await asyncio.sleep(1)
                yield i
                i += 1
        finally:
            resource.release()

    return stream_from(source)


async def _result_and_held(plan: AsyncPlan[Any], resource: Resource) -> tuple[Any, int]:
    try:
        result: Any = await plan()
    except Exception as error:  # noqa: BLE001 - the scenario's own exception is data here
        result = error
    return result, resource.held


def _as_stream(value: object, doing: str) -> Stream[Any]:
    if not isinstance(value, Stream):
        raise kit.CheckFailed(
            f"{doing} returned {kit.show(value)}, not a Stream: wrap an async generator *function* in "
            "stream_from(...), so that every run of the stream starts afresh"
        )
    return value


# ---------------------------------------------------------------------------------------------
# Task 1: slide a window over a stream


@st.composite
def _window_cases(draw: st.DrawFn) -> tuple[list[int], int]:
    xs = draw(st.lists(st.integers(-9, 9), max_size=12))
    n = draw(st.integers(1, 5))
    return xs, n


_BAD_NS = (0, -2)
_TAKES = ((3, 2), (1, 4), (4, 1), (2, 5))
_OWNED_TAKES = ((2, 3), (3, 1))


def _build_windows(ns: Mapping[str, Any], stream: Stream[Any], n: int, doing: str) -> Stream[Any]:
    windows = kit.function(ns, "windows")
    return _as_stream(kit.call(windows, stream, n, doing=doing), doing)


def _probe_windows_bad(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """Build ``windows(stream_of([1, 2, 3]), n)`` for each bad ``n``: did it raise ValueError?"""
    windows = kit.function(ns, "windows")
    answers: list[dict[str, Any]] = []
    for bad in payload["ns"]:
        try:
            windows(stream_of([1, 2, 3]), int(bad))
        except ValueError:
            answers.append({"outcome": "value_error"})
            continue
        except NotImplementedError:
            raise kit.not_done("windows") from None
        except Exception as error:  # noqa: BLE001 - a defect in student code is reported as data
            answers.append({"outcome": "raised", "error": kit.describe_exception(error)})
            continue
        answers.append({"outcome": "returned"})
    return answers


def _probe_windows(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Build ``windows`` on a counted source of the judge's items; whether building started the
    source, and what two runs gave."""
    xs, n = [int(x) for x in payload["xs"]], int(payload["n"])
    starts: list[int] = []
    pulls: list[Any] = []
    doing = f"windows(stream_of({xs}), {n})"
    stream = _build_windows(ns, _counted(xs, starts, pulls), n, doing)
    if starts:
        return {"started_when_built": True}
    first = kit.simulate(stream.to_list(), doing=f"running {doing}")
    second = kit.simulate(stream.to_list(), doing=f"running {doing} a second time")
    return {"started_when_built": False, "first": first, "second": second}


def _probe_windows_take(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """``windows(s, n).take(k)`` on a counted source of 1000 items, for each ``(n, k)``: the
    result and how many items it pulled."""
    answers: list[dict[str, Any]] = []
    for n, k in payload["cases"]:
        n, k = int(n), int(k)
        starts: list[int] = []
        pulls: list[Any] = []
        doing = f"windows(s, {n}).take({k}) on a source of 1000 items"
        stream = _build_windows(ns, _counted(range(1000), starts, pulls), n, doing)
        result = kit.simulate(stream.take(k).to_list(), doing=f"running {doing}")
        answers.append({"result": result, "pulled": len(pulls)})
    return answers


def _probe_windows_owned(ns: Mapping[str, Any], payload: Any) -> list[dict[str, Any]]:
    """``windows(s, n).take(k)`` on an endless source that holds a resource, for each ``(n, k)``:
    the result and how many times the resource was still held when the plan returned."""
    answers: list[dict[str, Any]] = []
    for n, k in payload["cases"]:
        n, k = int(n), int(k)
        resource = Resource("source")
        doing = f"windows(s, {n}).take({k}) on an endless source that holds a resource"
        stream = _build_windows(ns, _owned(resource), n, doing)
        result, held = kit.simulate(_result_and_held(stream.take(k).to_list(), resource), doing=f"running {doing}")
        answers.append({"result": result, "held": held})
    return answers


def _wrong_shape() -> kit.CheckFailed:
    return kit.CheckFailed(kit.TAMPERED)


def _answer_list(answer: Any, size: int, *keys: str) -> list[dict[str, Any]]:
    """The worker's answer as ``size`` dicts with ``keys``, or a verdict if it said something else."""
    if (
        not isinstance(answer, list)
        or len(answer) != size
        or not all(isinstance(a, dict) and all(k in a for k in keys) for a in answer)
    ):
        raise _wrong_shape()
    return answer


def judge_windows(worker: Worker) -> str:
    for bad, said in zip(
        _BAD_NS, _answer_list(worker.ask("windows_bad", {"ns": list(_BAD_NS)}), len(_BAD_NS), "outcome")
    ):
        if said["outcome"] == "value_error":
            continue
        if said["outcome"] == "raised":
            raise kit.CheckFailed(
                f"windows(stream, {bad}) raised {said.get('error')}; a window of {bad} items makes "
                "no sense — raise ValueError when n < 1, as chunk(0) does"
            )
        if said["outcome"] != "returned":
            raise _wrong_shape()
        raise kit.CheckFailed(
            f"windows(stream, {bad}) returned without complaint; a window of {bad} items makes no sense — "
            "raise ValueError when n < 1, as chunk(0) does, when the stream is built"
        )

    def prop(case: tuple[list[int], int]) -> None:
        xs, n = case
        doing = f"windows(stream_of({xs}), {n})"
        answer = worker.ask("windows", {"xs": xs, "n": n})
        if not isinstance(answer, dict) or not isinstance(answer.get("started_when_built"), bool):
            raise _wrong_shape()
        if answer["started_when_built"]:
            raise kit.CheckFailed(
                f"building {doing} already started its source: describing runs nothing — "
                "pull from the source only inside the async generator"
            )
        first, second = answer.get("first"), answer.get("second")
        expected = Ok(windows_reference(xs, n))
        if first != expected:
            raise kit.CheckFailed(
                f"{doing} ran to {kit.show(first)}, expected {kit.show(expected)}: the windows are every run of "
                f"{n} consecutive items, in order — the first is items 0..{n - 1}, the last ends with the last "
                "item, and fewer than n items give no window at all"
            )
        if second != first:
            raise kit.CheckFailed(
                f"running {doing} twice gave {kit.show(first)}, then {kit.show(second)}: a stream is a replayable "
                "description — keep the window's state (the deque) inside the async generator, so every run "
                "starts with an empty window"
            )

    kit.for_all(_window_cases(), prop)

    takes = _answer_list(
        worker.ask("windows_take", {"cases": [list(c) for c in _TAKES]}), len(_TAKES), "result", "pulled"
    )
    for (n, k), said in zip(_TAKES, takes):
        doing = f"windows(s, {n}).take({k}) on a source of 1000 items"
        pulled = said["pulled"]
        if not isinstance(pulled, int) or isinstance(pulled, bool):
            raise _wrong_shape()
        if pulled > n + k - 1:
            raise kit.CheckFailed(
                f"{doing} pulled {pulled} items from its source; {n + k - 1} are enough for {k} windows of {n}. "
                "A stream is pulled lazily: read one item per window, never collect the stream first"
            )
        if said["result"] != Ok(windows_reference(list(range(n + k - 1)), n)):
            raise kit.CheckFailed(f"{doing} ran to {kit.show(said['result'])}")

    owned = _answer_list(
        worker.ask("windows_owned", {"cases": [list(c) for c in _OWNED_TAKES]}), len(_OWNED_TAKES), "result", "held"
    )
    for (n, k), said in zip(_OWNED_TAKES, owned):
        doing = f"windows(s, {n}).take({k}) on an endless source that holds a resource"
        held = said["held"]
        if not isinstance(held, int) or isinstance(held, bool):
            raise _wrong_shape()
        if held:
            raise kit.CheckFailed(
                f"{doing}: when take({k}) was satisfied the source was still open (held={held}). Hold the upstream "
                "run in `async with aclosing(stream.iterate()) as items:`, so that closing windows closes its source"
            )
        if said["result"] != Ok(windows_reference(list(range(n + k - 1)), n)):
            raise kit.CheckFailed(f"{doing} ran to {kit.show(said['result'])}")
    return (
        "windows follows its law on generated streams, replays, pulls only what the windows need, closes its "
        "source on early exit and refuses n < 1"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: own a resource, release it always


def _exit_names(lines: list[str]) -> list[str]:
    """The ways a run can end early, in the order they are tried."""
    return [
        f"take({max(1, len(lines) - 1)})",
        "a break inside aclosing after the first line",
        "an Err from a map_plan on the first line",
        "an exception from a map on the first line",
        "a cancellation half a second in",
    ]


def _exits(stream: Stream[str], lines: list[str]) -> dict[str, Callable[[Resource], Any]]:
    """The ways a run can end early, each a coroutine factory returning ``(result, held)``."""
    k = max(1, len(lines) - 1)

    def fails_at_first(line: str) -> AsyncPlan[str]:
        return async_fail(BAD) if line == lines[0] else async_pure(line)

    def crash(line: str) -> str:
        raise KeyError(line)

    async def break_early(resource: Resource) -> tuple[Any, int]:
        async with aclosing(stream.iterate()) as items:
            async for _ in items:
                break
        return "break", resource.held

    async def cancel(resource: Resource) -> tuple[Any, int]:
        try:
            async with asyncio.timeout(0.5):  # cancels the run half a second in
                await stream.to_list()()
        except TimeoutError:
            pass
        return "cancelled", resource.held

    scenarios: list[Callable[[Resource], Any]] = [
        lambda r: _result_and_held(stream.take(k).to_list(), r),
        break_early,
        lambda r: _result_and_held(stream.map_plan(fails_at_first).to_list(), r),
        lambda r: _result_and_held(stream.map(crash).to_list(), r),
        cancel,
    ]
    return dict(zip(_exit_names(lines), scenarios))


def _probe_read_log(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Build ``read_log`` on the judge's lines and run it on virtual time: a full run (result,
    when it ended, the resource's counts), a second run, and every early exit (the resource's
    count still held when the run was over).  Stops at the first build that acquired."""
    read_log = kit.function(ns, "read_log")
    lines = [str(line) for line in payload["lines"]]
    doing = f"read_log(resource, {lines})"

    def build(resource: Resource) -> Stream[str]:
        return _as_stream(kit.call(read_log, resource, lines, doing=doing), doing)

    resource = Resource("log")
    stream = build(resource)
    if resource.acquired:
        return {"acquired_when_built": True}
    ended: list[float] = []

    async def full() -> tuple[Any, int]:
        result, held = await _result_and_held(stream.to_list(), resource)
        ended.append(asyncio.get_running_loop().time())
        return result, held

    result, held = kit.simulate(full(), doing=f"running {doing}")
    first = {"result": result, "took": ended[0], "held": held, "acquired": resource.acquired}
    again, held = kit.simulate(_result_and_held(stream.to_list(), resource), doing=f"running {doing} again")
    second = {"result": again, "held": held, "acquired": resource.acquired}
    exits: list[dict[str, Any]] = []
    for how in _exit_names(lines):
        fresh = Resource("log")
        scenario = _exits(build(fresh), lines)[how]
        if fresh.acquired:
            return {"acquired_when_built": True}
        _, held = kit.simulate(scenario(fresh), doing=f"{doing} ended by {how}")
        exits.append({"how": how, "held": held})
    return {"acquired_when_built": False, "first": first, "second": second, "exits": exits}


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_shape()
    return value


def judge_read_log(worker: Worker) -> str:
    def prop(lines: list[str]) -> None:
        doing = f"read_log(resource, {lines})"
        answer = worker.ask("read_log", {"lines": lines})
        if not isinstance(answer, dict) or not isinstance(answer.get("acquired_when_built"), bool):
            raise _wrong_shape()
        if answer["acquired_when_built"]:
            raise kit.CheckFailed(
                f"building {doing} already acquired the resource: a stream is a description — acquire inside "
                "the async generator, when a run starts, so a stream nobody runs holds nothing"
            )
        first, second, exits = answer.get("first"), answer.get("second"), answer.get("exits")
        if not (isinstance(first, dict) and isinstance(second, dict) and isinstance(first.get("took"), (int, float))):
            raise _wrong_shape()
        result, took = first.get("result"), first["took"]
        held, acquired = _count(first.get("held")), _count(first.get("acquired"))
        if result != Ok(lines):
            raise kit.CheckFailed(
                f"running {doing} gave {kit.show(result)}, expected Ok({lines!r}): one item per line, in order"
            )
        if took != len(lines):
            raise kit.CheckFailed(
                f"running {doing} took {took:g} virtual seconds, expected {len(lines)}: wait "
                "`await asyncio.sleep(1)` before each line (reading is slow)"
            )
        if held or acquired != 1:
            raise kit.CheckFailed(
                f"after a full run of {doing} the resource was acquired {acquired} time(s) and is still "
                f"held {held} time(s): acquire once when the run starts, release in a `finally`"
            )
        again, held, acquired = second.get("result"), _count(second.get("held")), _count(second.get("acquired"))
        if again != result or acquired != 2 or held:
            raise kit.CheckFailed(
                f"running {doing} a second time gave {kit.show(again)} (the first run gave {kit.show(result)}), with "
                f"the resource acquired {acquired} time(s) in all: every run must start afresh — pass "
                "stream_from the generator *function*, never one generator object made in advance"
            )
        names = _exit_names(lines)
        said = _answer_list(exits, len(names), "how", "held")
        for how, ended in zip(names, said):
            if ended["how"] != how:
                raise _wrong_shape()
            held = _count(ended["held"])
            if held:
                raise kit.CheckFailed(
                    f"{doing} ended by {how}: the resource was still held (held={held}) when the run was over. "
                    "Release it in a `finally` around the loop, so it runs on every exit — the end, a take, a "
                    "break, an Err, an exception or a cancellation"
                )

    kit.for_all(
        st.lists(st.sampled_from(["GET /", "POST /login", "GET /health", "error: disk"]), min_size=2, max_size=5),
        prop,
        examples=25,
    )
    return "read_log acquires when a run starts and releases on every exit: the end, take, break, an Err, an exception, a cancellation"


# ---------------------------------------------------------------------------------------------
# Task 3: pull exactly what you need


@st.composite
def _alert_cases(draw: st.DrawFn) -> tuple[list[int], int]:
    xs = draw(st.lists(st.integers(0, 20), max_size=15))
    on_a_reading = bool(xs) and draw(st.booleans())
    threshold = draw(st.sampled_from(xs)) if on_a_reading else draw(st.integers(0, 21))
    return xs, threshold


def _probe_alert(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 3: build ``first_alert`` on a traced stream of the judge's
    readings, drive it on virtual time; its result and how many readings it pulled."""
    first_alert = kit.function(ns, "first_alert")
    xs, threshold = [int(x) for x in payload["xs"]], int(payload["threshold"])
    trace = Trace()
    doing = f"first_alert(stream_of({xs}), {threshold})"
    plan = kit.as_plan(
        kit.call(first_alert, stream_of(xs).traced(trace, "readings"), threshold, doing=doing), doing=doing
    )
    if trace.events:
        raise kit.CheckFailed(f"building {doing} already pulled readings: describing runs nothing — return a plan")
    result = kit.simulate(plan, doing=f"driving {doing}")
    return {"result": result, "pulled": len(trace.of_kind(EMIT))}


PROBES = {
    "windows_bad": _probe_windows_bad,
    "windows": _probe_windows,
    "windows_take": _probe_windows_take,
    "windows_owned": _probe_windows_owned,
    "read_log": _probe_read_log,
    "alert": _probe_alert,
}
"""What the worker answers: the ``windows*`` probes (Task 1), ``read_log`` (Task 2), ``alert`` (Task 3)."""


def judge_first_alert(worker: Worker) -> str:
    def prop(case: tuple[list[int], int]) -> None:
        xs, threshold = case
        doing = f"first_alert(stream_of({xs}), {threshold})"
        answer = worker.ask("alert", {"xs": xs, "threshold": threshold})
        if not isinstance(answer, dict) or not isinstance(answer.get("pulled"), int):
            raise kit.CheckFailed(kit.TAMPERED)
        result, pulled = answer.get("result"), answer["pulled"]
        index = next((i for i, x in enumerate(xs) if x > threshold), None)
        if index is None:
            if isinstance(result, Ok) and result.value in xs:
                raise kit.CheckFailed(
                    f"{doing} gave {kit.show(result)}, but {result.value!r} is not over {threshold}: the alert is the "
                    f"first reading *strictly* over the threshold, and with none the answer is Err(ErrInfo({NO_ALERT!r}, ...))"
                )
            if not (isinstance(result, Err) and isinstance(result.error, ErrInfo) and result.error.code == NO_ALERT):
                raise kit.CheckFailed(
                    f"{doing} gave {kit.show(result)}: no reading is over {threshold}, so the answer is an expected "
                    f"failure, Err(ErrInfo({NO_ALERT!r}, ...)) — not a value"
                )
            return
        if result != Ok(xs[index]):
            raise kit.CheckFailed(
                f"{doing} gave {kit.show(result)}, expected Ok({xs[index]}): the first reading *strictly* over the "
                f"threshold is reading {index}"
            )
        if pulled > index + 1:
            raise kit.CheckFailed(
                f"{doing} pulled {pulled} readings, but the first alert is reading {index}: {index + 1} are enough. "
                "Stop pulling as soon as you find it — filter, then take(1) — never collect the whole stream"
            )

    kit.for_all(_alert_cases(), prop)
    return "first_alert finds the first reading over the threshold, fails as data when there is none, and pulls nothing after it"


EXERCISE = Exercise(
    slug="02_async_generators",
    title="02 · Async Generators",
    tasks=(
        Task(
            "t1",
            "Slide a window over a stream",
            4,
            ("windows",),
            judge=judge_windows,
            hides=(f"{__name__}.windows_reference",),
        ),
        Task("t2", "Own a resource, release it always", 3, ("read_log",), judge=judge_read_log),
        Task("t3", "Pull exactly what you need", 3, ("first_alert",), judge=judge_first_alert),
    ),
)
