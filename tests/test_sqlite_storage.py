"""``SqliteStorage``-only behaviour: writes versus rows, a busy database, its lifetime."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from funcpipe_async import Err, Ok
from funcpipe_async.adapters import SqliteStorage

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_a_retried_save_is_a_second_write_but_never_a_second_row(tmp_path: Path) -> None:
    async def main() -> tuple[int, object, object]:
        async with SqliteStorage(tmp_path / "db.sqlite") as store:
            for key in ["a", "b", "a", "a", "c"]:
                await store.save(key, {"key": key})
            return store.writes, await store.count(), await store.keys()

    assert asyncio.run(main()) == (5, Ok(3), Ok(["a", "b", "c"]))


def test_records_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    async def save() -> None:
        async with SqliteStorage(tmp_path / "db.sqlite") as store:
            await store.save("k", {"v": [1, 2]})

    async def load() -> object:
        async with SqliteStorage(tmp_path / "db.sqlite") as store:
            return await store.load("k")

    asyncio.run(save())
    assert asyncio.run(load()) == Ok({"v": [1, 2]})


def test_a_locked_database_is_a_retryable_db_busy(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, body TEXT NOT NULL)")
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock

    async def main() -> object:
        async with SqliteStorage(path, timeout=0) as store:
            return await store.save("k", {"v": 1})

    try:
        result = asyncio.run(main())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert isinstance(result, Err) and (result.error.code, result.error.retryable) == ("DB_BUSY", True)


def test_the_store_exists_only_inside_async_with() -> None:
    store = SqliteStorage()
    with pytest.raises(RuntimeError, match="is not open"):
        asyncio.run(store.save("k", {}))

    async def twice() -> None:
        async with store:
            assert repr(store) == "SqliteStorage(in memory, writes=0, open)"
        with pytest.raises(RuntimeError, match="was closed"):
            await store.load("k")
        with pytest.raises(RuntimeError, match="entered once"):
            async with store:
                pass

    asyncio.run(twice())


@pytest.mark.parametrize(("kwargs", "error"), [({"path": 3}, TypeError), ({"timeout": -1}, ValueError)])
def test_arguments_are_validated(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        SqliteStorage(**kwargs)  # type: ignore[arg-type]
