"""One contract for ``EmbeddingCap``: ``FakeEmbedder`` and a blocking model behind ``ThreadedEmbedder``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from funcpipe_async import EmbeddingCap, Err, FakeEmbedder, Ok, hash_embedding
from funcpipe_async.adapters import ThreadedEmbedder

pytestmark = pytest.mark.usefixtures("no_leaks")

EMBEDDERS: dict[str, Callable[[], EmbeddingCap]] = {
    "fake": lambda: FakeEmbedder(dims=4, model_name="m"),
    "threaded": lambda: ThreadedEmbedder(hash_embedding, model_name="m"),
}


@pytest.mark.parametrize("name", EMBEDDERS)
def test_embedding_is_deterministic_with_the_model_s_dimensions(name: str) -> None:
    embedder = EMBEDDERS[name]()
    first, again = asyncio.run(embedder.embed("hello")), asyncio.run(embedder.embed("hello"))
    assert first == again == Ok(tuple(hash_embedding("hello")))
    assert embedder.model_name == "m"


@pytest.mark.parametrize("name", EMBEDDERS)
@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_text_is_refused(name: str, text: str) -> None:
    result = asyncio.run(EMBEDDERS[name]().embed(text))
    assert isinstance(result, Err) and result.error.code == "EMPTY_TEXT"


def test_a_blocking_model_runs_off_the_loop_so_other_tasks_keep_going() -> None:
    def slow_model(text: str) -> list[float]:
        time.sleep(0.05)  # a blocking library call
        return [float(len(text))]

    embedder = ThreadedEmbedder(slow_model, model_name="slow")

    async def main() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            for _ in range(5):
                await asyncio.sleep(0.005)
                ticks += 1

        await asyncio.gather(ticker(), *(embedder.embed(f"t{i}") for i in range(4)))
        return ticks, embedder.max_in_flight

    ticks, in_flight = asyncio.run(main())
    assert ticks == 5 and in_flight == 4


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (ValueError("too long"), "EMBED_INVALID", False),
        (TimeoutError("model server"), "EMBED_UNAVAILABLE", True),
        (ConnectionResetError("reset"), "EMBED_UNAVAILABLE", True),
    ],
)
def test_the_library_s_exceptions_become_classified_errs(error: Exception, code: str, retryable: bool) -> None:
    def broken(text: str) -> list[float]:
        raise error

    result = asyncio.run(ThreadedEmbedder(broken, model_name="b").embed("x"))
    assert isinstance(result, Err) and (result.error.code, result.error.retryable) == (code, retryable)


def test_a_defect_in_the_library_propagates() -> None:
    def buggy(text: str) -> list[float]:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        asyncio.run(ThreadedEmbedder(buggy, model_name="b").embed("x"))
    assert threading.active_count() >= 1
