"""``Stream``: the laws, laziness, replay, cleanup on every kind of early exit, errors, reprs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import (
    CLOSE,
    EMIT,
    PULL,
    Err,
    ErrInfo,
    Ok,
    Resource,
    Result,
    Simulation,
    Stream,
    StreamFailed,
    Trace,
    async_fail,
    async_lift,
    async_pure,
    merge_streams,
    stream_count,
    stream_from,
    stream_of,
)
from funcpipe_async.gather import merge_iterators
from funcpipe_async.plan import AsyncPlan

BAD = ErrInfo("BAD", "scripted failure")
ints = st.lists(st.integers(-20, 20), max_size=30)
funcs: list[Callable[[int], int]] = [lambda x: x + 1, lambda x: 2 * x, lambda x: -x, lambda x: x * x]
preds: list[Callable[[int], bool]] = [lambda x: x % 2 == 0, lambda x: x > 0, lambda x: x % 3 != 0]


def run(s: Stream[Any]) -> Result[list[Any], ErrInfo]:
    return Simulation().run(s.to_list())


async def result_and_held(plan: AsyncPlan[Any], *resources: Resource) -> tuple[Any, list[int]]:
    """Drive ``plan``, then read what is still held *inside* the run: after ``Simulation.run``
    returns, the loop's ``shutdown_asyncgens`` would close a leaked generator and hide the leak."""
    try:
        result: Any = await plan()
    except Exception as error:  # noqa: BLE001 - reported as data
        result = error
    return result, [r.held for r in resources]


def owned(resource: Resource, n: int | None = None, delay: float = 1.0) -> Stream[int]:
    """A source that holds ``resource`` while it runs: ``n`` items (``None``: for ever)."""

    async def source() -> AsyncGenerator[int, None]:
        resource.acquire()
        try:
            i = 0
            while n is None or i < n:
                await asyncio.sleep(delay)
                yield i
                i += 1
        finally:
            resource.release()

    return stream_from(source)


def counting(xs: list[int], pulls: list[int]) -> Stream[int]:
    async def source() -> AsyncGenerator[int, None]:
        for x in xs:
            pulls.append(x)
            yield x

    return stream_from(source)


# --- laws ---------------------------------------------------------------------------------------


@given(xs=ints)
def test_map_identity(xs: list[int]) -> None:
    assert run(stream_of(xs).map(lambda x: x)) == run(stream_of(xs)) == Ok(xs)


@given(xs=ints, f=st.sampled_from(funcs), g=st.sampled_from(funcs))
def test_map_fusion(xs: list[int], f: Callable[[int], int], g: Callable[[int], int]) -> None:
    assert run(stream_of(xs).map(f).map(g)) == run(stream_of(xs).map(lambda x: g(f(x))))


@given(xs=ints, p=st.sampled_from(preds), q=st.sampled_from(preds))
def test_filter_fusion(xs: list[int], p: Callable[[int], bool], q: Callable[[int], bool]) -> None:
    assert run(stream_of(xs).filter(p).filter(q)) == run(stream_of(xs).filter(lambda x: p(x) and q(x)))


@given(xs=ints, n=st.integers(0, 35))
def test_take_pulls_at_most_n_items(xs: list[int], n: int) -> None:
    pulls: list[int] = []
    assert run(counting(xs, pulls).take(n)) == Ok(xs[:n])
    assert len(pulls) == min(n, len(xs))


def test_take_on_an_infinite_stream_is_finite() -> None:
    assert run(stream_count(5, 2).take(4)) == Ok([5, 7, 9, 11])


@given(xs=ints, n=st.integers(1, 8))
def test_chunk_then_flatten_is_identity(xs: list[int], n: int) -> None:
    chunks = run(stream_of(xs).chunk(n))
    assert isinstance(chunks, Ok)
    assert all(1 <= len(c) <= n for c in chunks.value)
    assert all(len(c) == n for c in chunks.value[:-1])
    assert run(stream_of(xs).chunk(n).flatten()) == Ok(xs)


@given(xs=ints)
def test_replay_gives_equal_results(xs: list[int]) -> None:
    calls: list[str] = []

    async def source() -> AsyncGenerator[int, None]:
        calls.append("run")
        for x in xs:
            await asyncio.sleep(0.5)
            yield x

    s = stream_from(source).map(lambda x: x + 1).chunk(3).flatten()
    plan = s.to_list()
    assert Simulation().run(plan) == Simulation().run(plan) == Ok([x + 1 for x in xs])
    assert calls == ["run", "run"]  # each run called the factory afresh


@given(parts=st.lists(st.tuples(ints, st.sampled_from([0.0, 0.5, 1.0, 1.5])), min_size=1, max_size=4))
def test_merge_keeps_each_sources_order_and_loses_nothing(parts: list[tuple[list[int], float]]) -> None:
    def timed(tag: int, xs: list[int], delay: float) -> Stream[tuple[int, int]]:
        async def source() -> AsyncGenerator[tuple[int, int], None]:
            for x in xs:
                await asyncio.sleep(delay)
                yield (tag, x)

        return stream_from(source)

    result = run(merge_streams(*(timed(i, xs, d) for i, (xs, d) in enumerate(parts))))
    assert isinstance(result, Ok)
    for i, (xs, _) in enumerate(parts):
        assert [x for tag, x in result.value if tag == i] == xs
    assert len(result.value) == sum(len(xs) for xs, _ in parts)


def test_merge_interleaves_by_arrival_and_breaks_ties_by_argument_order() -> None:
    fast, slow = Resource("fast"), Resource("slow")
    merged = merge_streams(
        owned(slow, 3, delay=2.0).map(lambda x: f"slow{x}"), owned(fast, 3, delay=1.0).map(lambda x: f"fast{x}")
    )
    assert Simulation().run(result_and_held(merged.to_list(), fast, slow)) == (
        Ok(["fast0", "slow0", "fast1", "fast2", "slow1", "slow2"]),
        [0, 0],
    )


def test_merge_has_at_most_one_pull_in_flight_per_source() -> None:
    pulls: list[int] = []
    # the consumer takes 2 items; each source may have been asked once more, never more
    result = run(merge_streams(counting(list(range(100)), pulls), counting(list(range(100)), pulls)).take(2))
    assert result == Ok([0, 0])
    assert len(pulls) <= 4


# --- cleanup on early exit ---------------------------------------------------------------------


COMBINATORS: dict[str, Callable[[Stream[int]], Stream[Any]]] = {
    "source": lambda s: s,
    "map": lambda s: s.map(lambda x: x + 1),
    "filter": lambda s: s.filter(lambda x: x % 2 == 0),
    "chunk": lambda s: s.chunk(2),
    "flatten": lambda s: s.chunk(2).flatten(),
    "map_plan": lambda s: s.map_plan(async_pure),
    "map_plan concurrency=3": lambda s: s.map_plan(async_pure, concurrency=3),
    "traced": lambda s: s.traced(Trace()),
    "merge": lambda s: merge_streams(s, stream_of([100, 200])),
}


@pytest.mark.parametrize("name", COMBINATORS)
def test_take_closes_every_source(name: str) -> None:
    resource = Resource()
    plan = COMBINATORS[name](owned(resource)).take(3).to_list()  # an infinite source
    result, held = Simulation().run(result_and_held(plan, resource))
    assert isinstance(result, Ok) and len(result.value) == 3
    assert resource.acquired == 1 and held == [0]


@pytest.mark.parametrize("name", COMBINATORS)
def test_break_inside_aclosing_closes_every_source(name: str) -> None:
    resource = Resource()
    stream = COMBINATORS[name](owned(resource))

    async def consumer() -> int:
        async with aclosing(stream.iterate()) as items:
            async for _ in items:
                break
        return resource.held  # checked right after the break: already released

    assert Simulation().run(consumer()) == 0


@pytest.mark.parametrize("name", COMBINATORS)
def test_an_exception_downstream_closes_every_source(name: str) -> None:
    resource = Resource()

    def boom(x: Any) -> Any:
        raise KeyError("a bug")

    plan = COMBINATORS[name](owned(resource)).map(boom).to_list()
    error, held = Simulation().run(result_and_held(plan, resource))
    assert isinstance(error, KeyError) and held == [0]


@pytest.mark.parametrize("name", COMBINATORS)
def test_an_err_downstream_closes_every_source(name: str) -> None:
    resource = Resource()
    plan = COMBINATORS[name](owned(resource)).map_plan(lambda x: async_fail(BAD)).to_list()
    assert Simulation().run(result_and_held(plan, resource)) == (Err(BAD), [0])


@pytest.mark.parametrize("name", COMBINATORS)
def test_cancellation_closes_every_source(name: str) -> None:
    resource = Resource()
    plan = COMBINATORS[name](owned(resource)).to_list()

    async def cancel_later() -> str:
        task = asyncio.ensure_future(plan())
        await asyncio.sleep(2.5)
        held = resource.held
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return f"held {held} while running, {resource.held} after cancel"

    assert Simulation().run(cancel_later()) == "held 1 while running, 0 after cancel"


def test_merge_closes_every_source_on_early_exit() -> None:
    a, b, c = Resource("a"), Resource("b"), Resource("c")
    merged = merge_streams(owned(a, delay=1.0), owned(b, delay=1.5), owned(c, delay=10.0))
    assert Simulation().run(result_and_held(merged.take(4).to_list(), a, b, c)) == (Ok([0, 0, 1, 2]), [0, 0, 0])
    assert [r.acquired for r in (a, b, c)] == [1, 1, 1]


def test_merge_iterators_closes_unstarted_and_suspended_sources_on_a_source_error() -> None:
    closed: list[str] = []

    async def good(name: str) -> AsyncGenerator[int, None]:
        try:
            while True:
                await asyncio.sleep(1)
                yield 1
        finally:
            closed.append(name)

    async def broken() -> AsyncGenerator[int, None]:
        await asyncio.sleep(1.5)
        raise ValueError("source bug")
        yield 0  # pragma: no cover - makes this an async generator

    async def consume() -> tuple[str, list[str]]:
        try:
            async with aclosing(merge_iterators([good("a"), broken(), good("b")])) as items:
                async for _ in items:
                    pass
        except ValueError as error:
            return str(error), sorted(closed)  # read inside the run, before the loop's shutdown
        return "no error", sorted(closed)

    assert Simulation().run(consume()) == ("source bug", ["a", "b"])


def test_the_cleanup_checks_can_see_a_leak() -> None:
    # A stage written without aclosing leaks its source; result_and_held must notice.
    resource = Resource()
    source = owned(resource)

    async def leaky_take() -> AsyncGenerator[int, None]:
        async for x in source.iterate():
            yield x
            return

    result, held = Simulation().run(result_and_held(stream_from(leaky_take).to_list(), resource))
    assert result == Ok([0]) and held == [1]
    assert resource.held == 0  # ... and the loop's shutdown closed it afterwards, hiding the leak


def test_a_bare_break_does_not_close_a_run_until_much_later() -> None:
    # Python's rule, shown in the lesson: without aclosing the source stays open after break.
    resource = Resource()
    stream = owned(resource)

    async def consumer() -> int:
        items = stream.iterate()
        async for _ in items:
            break
        await asyncio.sleep(100)
        held = resource.held
        await items.aclose()
        return held

    assert Simulation().run(consumer()) == 1
    assert resource.held == 0


# --- errors: Err ends the stream, exceptions propagate ---------------------------------------


def step(x: int) -> AsyncPlan[int]:
    return async_fail(BAD) if x == 3 else async_pure(x * 10)


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_an_err_ends_the_stream_and_is_the_terminal_result(concurrency: int) -> None:
    pulls: list[int] = []
    result = run(counting(list(range(100)), pulls).map_plan(step, concurrency=concurrency))
    assert result == Err(BAD)
    assert len(pulls) <= 4 + concurrency  # it stopped at the failure, not at the end


def test_iterating_by_hand_an_err_arrives_as_stream_failed() -> None:
    async def consume() -> list[int]:
        seen: list[int] = []
        async with aclosing(stream_of(range(10)).map_plan(step).iterate()) as items:
            async for x in items:
                seen.append(x)
        return seen

    with pytest.raises(StreamFailed) as caught:
        Simulation().run(consume())
    assert caught.value.error == BAD


def test_results_as_items_keep_going_past_failures() -> None:
    def checked(x: int) -> Result[int, ErrInfo]:
        return Err(BAD) if x == 3 else Ok(x)

    assert run(stream_of(range(5)).map(checked)) == Ok([Ok(0), Ok(1), Ok(2), Err(BAD), Ok(4)])


def test_fold_and_for_each() -> None:
    assert Simulation().run(stream_of(range(5)).fold(0, lambda acc, x: acc + x)) == Ok(10)
    seen: list[int] = []

    def save(x: int) -> AsyncPlan[None]:
        async def do() -> Result[None, ErrInfo]:
            seen.append(x)
            return Ok(None)

        return async_lift(do)

    plan = stream_of(range(4)).for_each(save)
    assert seen == []  # describing runs nothing
    assert Simulation().run(plan) == Ok(4) and seen == [0, 1, 2, 3]
    assert Simulation().run(stream_of(range(9)).for_each(step)) == Err(BAD)


def test_map_plan_concurrency_bounds_running_plans_and_keeps_order() -> None:
    running, most = 0, 0

    def slow(x: int) -> AsyncPlan[int]:
        async def do() -> Result[int, ErrInfo]:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(10 - x)  # later items finish first
            running -= 1
            return Ok(x)

        return async_lift(do)

    sim = Simulation()
    assert sim.run(stream_of(range(6)).map_plan(slow, concurrency=3).to_list()) == Ok(list(range(6)))
    assert most == 3
    assert sim.now == 10 + 7  # two batches: max(10, 9, 8), then max(7, 6, 5)


def test_traced_records_pull_emit_close() -> None:
    trace = Trace()
    run(stream_of([7, 8, 9]).traced(trace, "src").take(2))
    assert [(e.kind, dict(e.data)) for e in trace.events] == [
        (PULL, {"item": 0}),
        (EMIT, {"item": 0}),
        (PULL, {"item": 1}),
        (EMIT, {"item": 1}),
        (CLOSE, {"items": 2}),
    ]


# --- bad arguments and reprs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: stream_of([1]).take(-1), ValueError, "Stream.take needs n >= 0, got -1"),
        (lambda: stream_of([1]).take(1.5), TypeError, "Stream.take needs an int"),
        (lambda: stream_of([1]).take(True), TypeError, "Stream.take needs an int"),
        (lambda: stream_of([1]).chunk(0), ValueError, "Stream.chunk needs n >= 1, got 0"),
        (lambda: stream_of([1]).map(3), TypeError, "Stream.map needs a function, got int"),
        (lambda: stream_of([1]).filter(None), TypeError, "Stream.filter needs a function"),
        (lambda: stream_of([1]).map_plan(async_pure, concurrency=0), ValueError, "concurrency needs n >= 1"),
        (lambda: stream_of(5), TypeError, "stream_of needs an iterable"),
        (lambda: stream_of("abc"), TypeError, "stream_of needs an iterable"),
        (lambda: stream_from(42), TypeError, "stream_from needs a function"),
        (lambda: merge_streams(stream_of([1]), [2]), TypeError, "argument 1 is list, not a Stream"),
        (lambda: stream_count(0.5), TypeError, "stream_count start must be an int"),
    ],
)
def test_bad_arguments_are_clear_errors(build: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        build()


def test_stream_from_refuses_a_generator_object() -> None:
    async def numbers() -> AsyncGenerator[int, None]:
        yield 1

    gen = numbers()
    with pytest.raises(TypeError, match="not a generator"):
        stream_from(gen)  # type: ignore[arg-type]
    assert run(stream_from(numbers)) == Ok([1])


def double(x: int) -> int:
    return 2 * x


def test_reprs_read_like_code() -> None:
    s = stream_of([1, 2, 3]).map(double).filter(bool).take(2).chunk(2).flatten()
    assert repr(s) == "stream_of([1, 2, 3]).map(double).filter(bool).take(2).chunk(2).flatten()"
    assert repr(s.to_list()) == repr(s) + ".to_list()"
    assert repr(stream_count().map_plan(async_pure, concurrency=2).fold(0, max)) == (
        "stream_count(0).map_plan(async_pure, concurrency=2).fold(0, max)"
    )
    assert repr(merge_streams(stream_of(range(3)), stream_of(range(1000)))) == (
        "merge_streams(stream_of(range(0, 3)), stream_of(range(0, 1000)))"
    )
    assert repr(stream_of(list(range(100)))) == "stream_of(<100 items>)"
    assert "0x" not in repr(stream_from(lambda: stream_of([1]).iterate()))


def test_streams_are_immutable() -> None:
    s = stream_of([1])
    with pytest.raises(AttributeError):
        s._text = "x"  # type: ignore[misc]
