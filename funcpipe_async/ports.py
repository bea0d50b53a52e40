"""Capability ports: what the core may ask of the outside world, as ``Protocol`` s.

Core code depends on these protocols, never on a concrete client; the shell injects a real
adapter or a fake.  Every method returns a ``Result``: an adapter turns its library's
exceptions into ``Err(ErrInfo)`` at the boundary, so the core never sees a raw exception
for an expected failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["HttpClientCap", "StorageCap", "EmbeddingCap", "encode_record", "check_key", "encode_save"]


class HttpClientCap(Protocol):
    """Fetch JSON documents."""

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]: ...


class StorageCap(Protocol):
    """Records (JSON objects) by key.

    The contract every implementation keeps (``tests/test_contract_storage.py`` runs it
    against ``FakeStorage`` and ``SqliteStorage``):

    * ``save`` is **idempotent per key**: saving a key again replaces its record, so there is
      one record per key however often a save is retried;
    * a record that is not a JSON object is ``Err(INVALID_RECORD)`` (see :func:`encode_record`),
      an empty key ``Err(INVALID_KEY)``; nothing is stored;
    * ``load`` returns what was saved, as plain JSON (tuples come back as lists), or
      ``Err(NOT_FOUND)``.
    """

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]: ...

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]: ...


def encode_record(record: object) -> Result[str, ErrInfo]:
    """``record`` as canonical JSON text (sorted keys), or ``Err(INVALID_RECORD)`` if it is not a JSON object."""
    if not isinstance(record, Mapping):
        return Err(ErrInfo("INVALID_RECORD", f"a record is a JSON object (a mapping), got {type(record).__name__}"))
    try:
        return Ok(json.dumps(dict(record), sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as error:
        return Err(ErrInfo("INVALID_RECORD", f"the record is not JSON: {error}"))


def encode_save(key: object, record: object) -> Result[str, ErrInfo]:
    """What a ``save(key, record)`` stores: the record's canonical JSON, or why it is refused
    (``INVALID_KEY`` first, then ``INVALID_RECORD``) — the one rule every ``StorageCap`` shares."""
    checked = check_key(key)
    if isinstance(checked, Err):
        return checked
    return encode_record(record)


def check_key(key: object) -> Result[str, ErrInfo]:
    """``key`` if it is a non-empty string, else ``Err(INVALID_KEY)``."""
    if not isinstance(key, str) or not key:
        return Err(ErrInfo("INVALID_KEY", f"a key is a non-empty string, got {key!r}"))
    return Ok(key)


class EmbeddingCap(Protocol):
    """Turn a text into a vector with a named model."""

    @property
    def model_name(self) -> str: ...

    async def embed(self, text: str) -> Result[tuple[float, ...], ErrInfo]: ...
