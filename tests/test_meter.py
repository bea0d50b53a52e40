"""``InFlight``: the one in-flight/peak meter the fakes, the threaded adapter and the loopback service use."""

from __future__ import annotations

import asyncio

import pytest

from funcpipe_async import BatchCost, BatchEmbedder, FakeEmbedder, ScriptedHttp, Simulation
from funcpipe_async.meter import InFlight


def test_now_and_peak_follow_enter_and_exit_however_the_call_leaves() -> None:
    meter = InFlight()
    with meter:
        with meter:
            assert (meter.now, meter.peak) == (2, 2)
        with pytest.raises(KeyError), meter:
            raise KeyError("boom")
        assert (meter.now, meter.peak) == (1, 2)
    assert (meter.now, meter.peak, meter.samples) == (0, 2, [])
    assert repr(meter) == "InFlight(now=0, peak=2)"


def test_exit_without_enter_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="without a matching enter"):
        InFlight().exit()


def test_timed_samples_are_a_step_function_on_the_loops_clock_and_count_cancelled_calls_out() -> None:
    meter = InFlight(timed=True)

    async def call(seconds: float) -> None:
        with meter:
            await asyncio.sleep(seconds)

    async def main() -> None:
        slow = asyncio.get_running_loop().create_task(call(10))
        await call(1)
        await asyncio.sleep(1)
        slow.cancel()
        await asyncio.gather(slow, return_exceptions=True)

    Simulation().run(main())
    assert meter.samples == [(0.0, 1), (0.0, 2), (1.0, 1), (2.0, 0)]
    assert (meter.now, meter.peak) == (0, 2)


def test_the_fakes_report_the_meters_counts() -> None:
    http = ScriptedHttp({"a": [{"id": "a"}], "b": [{"id": "b"}]}, latency=1)
    embedder = FakeEmbedder()
    batches = BatchEmbedder(BatchCost(overhead=1, per_item=0))

    async def main() -> None:
        await asyncio.gather(
            http.get_json("/a"),
            http.get_json("/b"),
            http.get_json("/missing"),
            embedder.embed("x"),
            embedder.embed("y"),
            batches.embed(["x"])(),
            batches.embed(["y", "z"])(),
        )

    Simulation().run(main())
    assert (http.in_flight, http.peak, http.samples) == (0, 2, [(0.0, 1), (0.0, 2), (1.0, 1), (1.0, 0)])
    assert (embedder.in_flight, embedder.max_in_flight) == (0, 2)
    assert (batches.in_flight, batches.peak) == (0, 2)
