"""``trace``: an append-only record of describe / drive / start / finish / done events."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
from functools import partial

import pytest

from funcpipe_async import (
    DESCRIBE,
    DONE,
    DRIVE,
    FINISH,
    START,
    AsyncPlan,
    Err,
    ErrInfo,
    Event,
    LogicalClock,
    Ok,
    Result,
    Span,
    Trace,
    async_bind,
    async_fail,
    async_gather,
    async_lift,
    async_map,
    async_pure,
    format_table,
    perform_async,
    run_sync,
)


def inc(x: int) -> int:
    return x + 1


def _two_steps(trace: Trace) -> AsyncPlan[int]:
    fetch = trace.step("fetch", async_pure(1))
    parse = trace.step("parse", async_map(async_pure(2), inc))
    return async_bind(fetch, lambda _: parse)


# --- clock and record ------------------------------------------------------------------------


def test_logical_clock_ticks_once_per_reading() -> None:
    clock = LogicalClock()
    assert [clock(), clock(), clock()] == [0.0, 1.0, 2.0]
    later = LogicalClock(5)
    assert [later(), later()] == [5.0, 6.0]


def test_record_appends_an_event_at_the_clock_time() -> None:
    trace = Trace()
    first = trace.record("depth", "queue", depth=3)
    second = trace.record("depth", "queue", depth=4)
    assert first == Event(0, 0.0, "depth", "queue", {"depth": 3})
    assert second == Event(1, 1.0, "depth", "queue", {"depth": 4})
    assert trace.events == (first, second)
    assert len(trace) == 2


def test_events_are_frozen_and_the_record_is_a_snapshot() -> None:
    trace = Trace()
    event = trace.record("tick", "clock")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.kind = "other"  # type: ignore[misc]
    snapshot = trace.events
    trace.record("tick", "clock")
    assert len(snapshot) == 1 and len(trace.events) == 2


def test_seq_strictly_increases_and_time_never_decreases() -> None:
    times = itertools.chain([0.0, 0.5, 0.5, 2.0], itertools.count(3.0))
    trace = Trace(clock=lambda: next(times))
    steps = [trace.step(f"s{i}", async_pure(i)) for i in range(3)]
    run_sync(async_gather(steps, concurrency=2), trace=trace)
    seqs = [e.seq for e in trace.events]
    assert seqs == list(range(len(trace)))
    stamps = [e.time for e in trace.events]
    assert stamps == sorted(stamps)
    assert stamps[:4] == [0.0, 0.5, 0.5, 2.0]


def test_custom_clock_times_are_recorded_as_floats() -> None:
    trace = Trace(clock=lambda: 3)
    event = trace.record("tick", "t")
    assert event.time == 3.0 and isinstance(event.time, float)


# --- steps, runs and spans ------------------------------------------------------------------


def test_step_records_describe_at_build_time_only() -> None:
    trace = Trace()
    plan = _two_steps(trace)
    assert [(e.kind, e.name, e.time) for e in trace.events] == [
        (DESCRIBE, "fetch", 0.0),
        (DESCRIBE, "parse", 1.0),
    ]
    coro = plan()
    assert inspect.iscoroutine(coro)
    coro.close()
    assert len(trace) == 2  # creating (and closing) a coroutine ran nothing


def test_step_records_start_and_finish_with_run_numbers_each_drive() -> None:
    trace = Trace()
    plan = _two_steps(trace)
    assert run_sync(plan, trace=trace) == Ok(3)
    assert run_sync(plan, trace=trace) == Ok(3)
    got = [(e.time, e.kind, e.name, dict(e.data)) for e in trace.events]
    assert got == [
        (0.0, DESCRIBE, "fetch", {}),
        (1.0, DESCRIBE, "parse", {}),
        (2.0, DRIVE, "shell", {}),
        (3.0, START, "fetch", {"run": 1}),
        (4.0, FINISH, "fetch", {"run": 1, "ok": True}),
        (5.0, START, "parse", {"run": 1}),
        (6.0, FINISH, "parse", {"run": 1, "ok": True}),
        (7.0, DONE, "shell", {"ok": True}),
        (8.0, DRIVE, "shell", {}),
        (9.0, START, "fetch", {"run": 2}),
        (10.0, FINISH, "fetch", {"run": 2, "ok": True}),
        (11.0, START, "parse", {"run": 2}),
        (12.0, FINISH, "parse", {"run": 2, "ok": True}),
        (13.0, DONE, "shell", {"ok": True}),
    ]


def test_spans_pair_start_and_finish_of_each_run() -> None:
    trace = Trace()
    plan = _two_steps(trace)
    run_sync(plan, trace=trace)
    run_sync(plan, trace=trace)
    assert trace.spans() == [
        Span("fetch", 1, 0.0, 3.0, 4.0, True),
        Span("parse", 1, 1.0, 5.0, 6.0, True),
        Span("fetch", 2, 0.0, 9.0, 10.0, True),
        Span("parse", 2, 1.0, 11.0, 12.0, True),
    ]


def test_err_finish_records_ok_false_and_the_code() -> None:
    trace = Trace()
    save = trace.step("save", async_fail(ErrInfo("DISK_FULL", "no space")))
    assert run_sync(save, trace=trace) == Err(ErrInfo("DISK_FULL", "no space"))
    (finish,) = trace.of_kind(FINISH)
    assert dict(finish.data) == {"run": 1, "ok": False, "code": "DISK_FULL"}
    assert trace.of_kind(DONE)[0].data == {"ok": False}
    (span,) = trace.spans()
    assert span.ok is False and span.finished == finish.time


def test_a_step_that_never_runs_has_no_span() -> None:
    trace = Trace()
    fail = trace.step("fail", async_fail(ErrInfo("STOP")))
    later = trace.step("later", async_pure(1))
    run_sync(async_bind(fail, lambda _: later))
    assert [s.name for s in trace.spans()] == ["fail"]
    assert trace.names() == ["fail", "later"]


def test_start_and_finish_share_a_run_number_under_concurrency() -> None:
    async def slow(i: int) -> Result[int, ErrInfo]:
        for _ in range(3 - i % 3):
            await asyncio.sleep(0)
        return Ok(i)

    trace = Trace()
    steps = [trace.step("fetch", async_lift(partial(slow, i))) for i in range(6)]
    assert run_sync(async_gather(steps, concurrency=3)) == Ok(list(range(6)))
    starts = [int(str(e.data["run"])) for e in trace.of_kind(START)]
    finishes = [int(str(e.data["run"])) for e in trace.of_kind(FINISH)]
    assert starts == [1, 2, 3, 4, 5, 6]
    assert sorted(finishes) == starts and finishes != starts  # they overlapped
    spans = trace.spans()
    assert sorted(s.run for s in spans) == starts
    for span in spans:
        assert span.finished is not None and span.started < span.finished and span.ok is True
        start = next(e for e in trace.of_kind(START) if e.data["run"] == span.run)
        finish = next(e for e in trace.of_kind(FINISH) if e.data["run"] == span.run)
        assert (span.started, span.finished) == (start.time, finish.time)


def test_a_step_that_raises_leaves_an_open_span() -> None:
    async def explode() -> Result[int, ErrInfo]:
        raise KeyError("defect")

    trace = Trace()
    with pytest.raises(KeyError):
        run_sync(trace.step("bad", async_lift(explode)), trace=trace)
    assert [e.kind for e in trace.events] == [DESCRIBE, DRIVE, START]
    assert trace.spans() == [Span("bad", 1, 0.0, 2.0, None, None)]


def test_of_kind_and_names() -> None:
    trace = Trace()
    run_sync(_two_steps(trace), trace=trace)
    assert [e.name for e in trace.of_kind(START, FINISH)] == ["fetch", "fetch", "parse", "parse"]
    assert trace.of_kind("nothing") == []
    assert trace.names() == ["fetch", "parse"]  # the shell's drive/done are not steps


def test_step_runs_count_per_name_across_plans() -> None:
    trace = Trace()
    a = trace.step("x", async_pure(1))
    b = trace.step("x", async_pure(2))
    run_sync(async_bind(a, lambda _: b))
    assert [e.data["run"] for e in trace.of_kind(START)] == [1, 2]
    # the describe a span points at is the latest one before it started
    assert [s.described for s in trace.spans()] == [1.0, 1.0]


# --- tables --------------------------------------------------------------------------------


def test_table_is_deterministic_aligned_text() -> None:
    def scenario() -> str:
        trace = Trace()
        run_sync(trace.step("fetch", async_fail(ErrInfo("HTTP_404"))), trace=trace)
        return trace.table()

    expected = "\n".join(
        [
            "time  event     step   details",
            "----  --------  -----  ----------------------------",
            "0     describe  fetch",
            "1     drive     shell",
            "2     start     fetch  run=1",
            "3     finish    fetch  run=1 ok=False code=HTTP_404",
            "4     done      shell  ok=False",
        ]
    )
    assert scenario() == expected
    assert scenario() == expected  # same text on every run


def test_table_filters_kinds_and_formats_fractional_times() -> None:
    times = itertools.count(0.0, 0.25)
    trace = Trace(clock=lambda: next(times))
    run_sync(trace.step("a", async_pure(1)))
    assert trace.table(kinds=[START, FINISH]) == "\n".join(
        [
            "time   event   step  details",
            "-----  ------  ----  -------------",
            "0.250  start   a     run=1",
            "0.500  finish  a     run=1 ok=True",
        ]
    )


def test_format_table_has_no_trailing_spaces() -> None:
    text = format_table(["a", "long header"], [["x", ""], ["yy", "z"]])
    assert text == "a   long header\n--  -----------\nx\nyy  z"
    assert all(line == line.rstrip() for line in text.splitlines())


# --- the shell records drive and done ---------------------------------------------------------


def test_perform_async_records_drive_and_done() -> None:
    trace = Trace()
    result = asyncio.run(perform_async(async_pure(5), trace=trace))
    assert result == Ok(5)
    assert [(e.kind, e.name, dict(e.data)) for e in trace.events] == [
        (DRIVE, "shell", {}),
        (DONE, "shell", {"ok": True}),
    ]
    asyncio.run(perform_async(async_fail(ErrInfo("NO")), trace=trace))
    assert trace.events[-1].data == {"ok": False}


# --- invalid inputs --------------------------------------------------------------------------


@pytest.mark.parametrize("start", [-1, 1.5, True, "0"])
def test_logical_clock_rejects_bad_start(start: object) -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        LogicalClock(start)  # type: ignore[arg-type]


def test_trace_rejects_a_non_callable_clock() -> None:
    with pytest.raises(TypeError, match="clock"):
        Trace(clock=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["", None])
def test_record_rejects_an_empty_kind(kind: object) -> None:
    trace = Trace()
    with pytest.raises(ValueError, match="kind"):
        trace.record(kind, "x")  # type: ignore[arg-type]
    assert len(trace) == 0


def test_step_rejects_a_non_plan() -> None:
    trace = Trace()
    with pytest.raises(TypeError, match="AsyncPlan"):
        trace.step("x", Ok(1))  # type: ignore[arg-type]
    assert len(trace) == 0


def test_format_table_rejects_a_ragged_row() -> None:
    with pytest.raises(ValueError, match="3 cells, expected 2"):
        format_table(["a", "b"], [["1", "2"], ["1", "2", "3"]])
