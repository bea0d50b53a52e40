"""Capability ports: what the core may ask of the outside world, as ``Protocol`` s.

Core code depends on these protocols, never on a concrete client; the shell injects a real
adapter or a fake.  Every method returns a ``Result``: an adapter turns its library's
exceptions into ``Err(ErrInfo)`` at the boundary, so the core never sees a raw exception
for an expected failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from funcpipe_async.result import ErrInfo, Result

__all__ = ["HttpClientCap", "StorageCap", "EmbeddingCap"]


class HttpClientCap(Protocol):
    """Fetch JSON documents."""

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]: ...


class StorageCap(Protocol):
    """Save records by key (idempotently: saving the same key twice keeps one record)."""

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]: ...


class EmbeddingCap(Protocol):
    """Turn a text into a vector with a named model."""

    @property
    def model_name(self) -> str: ...

    async def embed(self, text: str) -> Result[tuple[float, ...], ErrInfo]: ...
