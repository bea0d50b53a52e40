"""The shell's drivers: ``perform_async`` (inside a loop) and ``run_sync`` (from sync code)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from funcpipe_async import (
    DONE,
    DRIVE,
    Err,
    ErrInfo,
    FakeHttp,
    Ok,
    Trace,
    async_bind,
    async_fail,
    async_lift,
    async_pure,
    perform_async,
    run_sync,
)

ROOT = Path(__file__).resolve().parents[1]


def test_perform_async_returns_the_result() -> None:
    http = FakeHttp({"/a": {"n": 1}})
    plan = async_bind(async_lift(lambda: http.get_json("/a")), lambda body: async_pure(body["n"]))
    assert asyncio.run(perform_async(plan)) == Ok(1)
    assert asyncio.run(perform_async(async_fail(ErrInfo("NO")))) == Err(ErrInfo("NO"))
    assert http.calls == ["GET /a"]


@pytest.mark.parametrize("bad", [Ok(1), 5, None])
def test_perform_async_rejects_a_non_callable(bad: object) -> None:
    coro: Any = perform_async(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="perform_async needs an AsyncPlan"):
        asyncio.run(coro)


def test_run_sync_drives_with_no_loop_running() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    trace = Trace()
    assert run_sync(async_pure(3), trace=trace) == Ok(3)
    assert [e.kind for e in trace.events] == [DRIVE, DONE]


def test_run_sync_leaves_no_loop_running() -> None:
    run_sync(async_pure(1))
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_run_sync_works_inside_a_running_loop() -> None:
    # run_sync inside a running loop (a notebook cell) applies nest_asyncio, which patches
    # asyncio for the whole process; run it in its own interpreter so no other test sees
    # the patched asyncio.  -W error: the nested drive must not warn either.
    script = textwrap.dedent(
        """
        import asyncio
        from funcpipe_async import (
            FakeHttp, Ok, Trace, async_bind, async_gather, async_lift, async_pure, run_sync,
        )

        async def cell():
            # a notebook cell: the loop is running, and the cell calls run_sync synchronously
            asyncio.get_running_loop()
            http = FakeHttp({"/a": {"n": 1}, "/b": {"n": 2}})
            fetch = lambda url: async_lift(lambda: http.get_json(url))
            plan = async_gather([fetch("/a"), fetch("/b")], concurrency=2)
            trace = Trace()
            first = run_sync(plan, trace=trace)
            second = run_sync(async_bind(async_pure(20), lambda x: async_pure(x + 1)))
            assert getattr(asyncio, "_nest_patched", False), "run_sync did not take the nested path"
            return first, second, http.calls, [e.kind for e in trace.events]

        first, second, calls, kinds = asyncio.run(cell())
        assert first == Ok([{"n": 1}, {"n": 2}]), first
        assert second == Ok(21), second
        assert sorted(calls) == ["GET /a", "GET /b"], calls
        assert kinds == ["drive", "done"], kinds
        print("nested ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "nested ok\n"
    assert done.stderr == ""
