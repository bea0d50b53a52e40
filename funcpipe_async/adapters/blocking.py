"""``EmbeddingCap`` over a blocking function: how to wrap a library that has no async API.

Many libraries (a model's ``encode``, a C extension, ``requests``) only block.  Called from
a coroutine they freeze the whole event loop — every other task waits.  The fix is one
line: run the call in a worker thread with ``asyncio.to_thread``, so the loop keeps
serving the other tasks, and convert the library's exceptions at the boundary.

:class:`ThreadedEmbedder` does that for any ``text -> vector`` function: ``ValueError``
(the input is wrong) becomes ``Err(EMBED_INVALID)``, ``OSError`` / ``TimeoutError`` (the
model server or disk is unavailable) ``Err(EMBED_UNAVAILABLE, retryable)``, and an empty
text is refused before any thread starts, exactly like ``FakeEmbedder``.  It counts the
calls in flight, so a lesson can show the concurrency bound holding.

:func:`funcpipe_async.fakes.hash_embedding` is a deterministic stand-in for a real model:
a pure, blocking function (SHA-256 of the text), so the lessons need no model download.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from funcpipe_async.meter import InFlight
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["ThreadedEmbedder"]


class ThreadedEmbedder:
    """An ``EmbeddingCap`` that runs a blocking ``embed(text) -> vector`` in worker threads."""

    def __init__(self, embed: Callable[[str], Sequence[float]], *, model_name: str) -> None:
        if not callable(embed):
            raise TypeError(f"ThreadedEmbedder needs a callable text -> vector, got {type(embed).__name__}")
        if not isinstance(model_name, str) or not model_name:
            raise ValueError(f"model_name must be a non-empty string, got {model_name!r}")
        self._embed = embed
        self._model_name = model_name
        self.calls = 0
        self._meter = InFlight()

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def in_flight(self) -> int:
        """Calls running now."""
        return self._meter.now

    @property
    def max_in_flight(self) -> int:
        """The most calls that were running at once."""
        return self._meter.peak

    async def embed(self, text: str) -> Result[tuple[float, ...], ErrInfo]:
        if not isinstance(text, str) or not text.strip():
            return Err(ErrInfo("EMPTY_TEXT", "cannot embed an empty text"))
        self.calls += 1
        try:
            with self._meter:
                vector = await asyncio.to_thread(self._embed, text)
        except ValueError as error:
            return Err(ErrInfo("EMBED_INVALID", f"{self._model_name}: {error}"))
        except (OSError, TimeoutError) as error:
            return Err(
                ErrInfo("EMBED_UNAVAILABLE", f"{self._model_name}: {type(error).__name__}: {error}", retryable=True)
            )
        return Ok(tuple(float(x) for x in vector))

    def __repr__(self) -> str:
        name = getattr(self._embed, "__name__", type(self._embed).__name__)
        return f"ThreadedEmbedder({name}, model_name={self._model_name!r}, calls={self.calls})"
