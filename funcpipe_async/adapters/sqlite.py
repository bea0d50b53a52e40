"""``StorageCap`` over the standard library's ``sqlite3``: a blocking library behind an async port.

``sqlite3`` blocks the calling thread, so every statement runs in a worker thread
(``asyncio.to_thread``) and the event loop stays free.  One connection is shared and its
statements are serialised by an ``asyncio.Lock`` (SQLite allows one writer at a time).

* **Idempotent writes.**  ``save(key, record)`` is an upsert on a primary key: saving the
  same key twice keeps **one** row (the latest record), so a retried save can never store
  a record twice.  ``writes`` counts the calls that reached the database; ``count()`` the
  rows — a retry shows as ``writes > count()``, never as a duplicate.
* **Records are JSON objects**, stored as canonical JSON (sorted keys).  A record that is not
  one is ``Err(INVALID_RECORD)``; ``load`` of a missing key is ``Err(NOT_FOUND)``.
* **The boundary converts.**  A busy or locked database is ``Err(DB_BUSY, retryable)``;
  any other ``sqlite3.Error`` is ``Err(DB_ERROR)``.  Other exceptions are defects.
* **Lifetime.**  The connection exists only inside ``async with SqliteStorage(path) as
  store:``; use outside it is a ``RuntimeError``.  ``path=":memory:"`` gives a private
  in-memory database.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from funcpipe_async.ports import encode_save
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["SqliteStorage"]

T = TypeVar("T")

_SCHEMA = "CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, body TEXT NOT NULL)"
_UPSERT = "INSERT INTO records (key, body) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET body = excluded.body"


def _db_error(error: sqlite3.Error) -> ErrInfo:
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return ErrInfo("DB_BUSY", text, retryable=True)
    return ErrInfo("DB_ERROR", f"{type(error).__name__}: {text}")


class SqliteStorage:
    """Records by key in a SQLite database (see the module docstring)."""

    def __init__(self, path: str | Path = ":memory:", *, timeout: float = 5.0) -> None:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"SqliteStorage path must be a str or Path, got {type(path).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"timeout must be a number of seconds ≥ 0, got {timeout!r}")
        self.path = str(path)
        self.timeout = float(timeout)
        self._connection: sqlite3.Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self.writes = 0

    async def __aenter__(self) -> SqliteStorage:
        if self._connection is not None or self._closed:
            raise RuntimeError("a SqliteStorage is entered once: make a new one for each `async with`")
        self._connection = await asyncio.to_thread(self._open)
        self._lock = asyncio.Lock()
        return self

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False, isolation_level=None)
        connection.execute(_SCHEMA)
        return connection

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        connection, self._connection, self._closed = self._connection, None, True
        if connection is not None:
            await asyncio.to_thread(connection.close)

    @property
    def closed(self) -> bool:
        return self._closed

    def _require_open(self) -> tuple[sqlite3.Connection, asyncio.Lock]:
        connection, lock = self._connection, self._lock
        if connection is None or lock is None:
            state = "was closed" if self._closed else "is not open"
            raise RuntimeError(f"this SqliteStorage {state}: use it inside `async with SqliteStorage(...) as store:`")
        return connection, lock

    async def _run(self, statement: Callable[[sqlite3.Connection], T]) -> Result[T, ErrInfo]:
        connection, lock = self._require_open()
        async with lock:
            try:
                return Ok(await asyncio.to_thread(statement, connection))
            except sqlite3.Error as error:
                return Err(_db_error(error))

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        """Store ``record`` under ``key``; saving a key again replaces it (one row per key)."""
        self._require_open()
        encoded = encode_save(key, record)
        if isinstance(encoded, Err):
            return encoded
        body = encoded.value
        self.writes += 1
        result = await self._run(lambda c: c.execute(_UPSERT, (key, body)))
        return Ok(None) if isinstance(result, Ok) else result

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        """The record saved under ``key``, or ``Err(NOT_FOUND)``."""
        result = await self._run(lambda c: c.execute("SELECT body FROM records WHERE key = ?", (key,)).fetchone())
        if isinstance(result, Err):
            return result
        row = result.value
        if row is None:
            return Err(ErrInfo("NOT_FOUND", f"no record under {key!r}"))
        decoded: dict[str, Any] = json.loads(row[0])
        return Ok(decoded)

    async def keys(self) -> Result[list[str], ErrInfo]:
        """Every key, sorted."""
        result = await self._run(lambda c: [row[0] for row in c.execute("SELECT key FROM records ORDER BY key")])
        return result

    async def count(self) -> Result[int, ErrInfo]:
        """How many records (rows) are stored."""
        return await self._run(lambda c: int(c.execute("SELECT COUNT(*) FROM records").fetchone()[0]))

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._connection is not None else "not entered")
        name = "in memory" if self.path == ":memory:" else Path(self.path).name
        return f"SqliteStorage({name}, writes={self.writes}, {state})"
