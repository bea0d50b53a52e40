"""One contract for ``StorageCap`` (see its docstring), run against the fake and SQLite.

``SqliteStorage`` runs both in memory and on a file, so the file-backed path (and its
worker threads) is covered too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcpipe_async import Err, FakeStorage, Ok, StorageCap
from funcpipe_async.adapters import SqliteStorage

pytestmark = pytest.mark.usefixtures("no_leaks")


@asynccontextmanager
async def fake(_: Path) -> AsyncIterator[StorageCap]:
    yield FakeStorage()


@asynccontextmanager
async def sqlite_memory(_: Path) -> AsyncIterator[StorageCap]:
    async with SqliteStorage(":memory:") as store:
        yield store


@asynccontextmanager
async def sqlite_file(folder: Path) -> AsyncIterator[StorageCap]:
    async with SqliteStorage(folder / "records.db") as store:
        yield store


STORES = {"fake": fake, "sqlite-memory": sqlite_memory, "sqlite-file": sqlite_file}


def with_store(name: str, folder: Path, check: Callable[[StorageCap], Awaitable[None]]) -> None:
    async def main() -> None:
        async with STORES[name](folder) as store:
            await check(store)

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_load_returns_what_save_stored_as_plain_json(store: str, tmp_path: Path) -> None:
    async def check(s: StorageCap) -> None:
        assert await s.save("a", {"n": 1, "tags": ("x", "y"), "nested": {"ok": True}}) == Ok(None)
        assert await s.load("a") == Ok({"n": 1, "tags": ["x", "y"], "nested": {"ok": True}})

    with_store(store, tmp_path, check)


@pytest.mark.parametrize("store", STORES)
def test_save_is_idempotent_per_key_and_the_latest_record_wins(store: str, tmp_path: Path) -> None:
    async def check(s: StorageCap) -> None:
        for _ in range(3):
            assert await s.save("k", {"v": 1}) == Ok(None)
        assert await s.save("k", {"v": 2}) == Ok(None)
        assert await s.load("k") == Ok({"v": 2})

    with_store(store, tmp_path, check)


@pytest.mark.parametrize("store", STORES)
def test_a_missing_key_is_not_found(store: str, tmp_path: Path) -> None:
    async def check(s: StorageCap) -> None:
        result = await s.load("nobody")
        assert isinstance(result, Err) and (result.error.code, result.error.retryable) == ("NOT_FOUND", False)

    with_store(store, tmp_path, check)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize(
    ("key", "record", "code"),
    [
        ("k", {"f": {1, 2}}, "INVALID_RECORD"),
        ("k", {"nan": float("nan")}, "INVALID_RECORD"),
        ("k", [1, 2], "INVALID_RECORD"),
        ("", {"v": 1}, "INVALID_KEY"),
    ],
)
def test_an_invalid_record_or_key_is_refused_and_nothing_is_stored(
    store: str, tmp_path: Path, key: str, record: Any, code: str
) -> None:
    async def check(s: StorageCap) -> None:
        result = await s.save(key, record)
        assert isinstance(result, Err) and (result.error.code, result.error.retryable) == (code, False)
        assert isinstance(await s.load(key), Err)

    with_store(store, tmp_path, check)


@pytest.mark.parametrize("store", STORES)
def test_concurrent_saves_of_overlapping_keys_keep_one_record_per_key(store: str, tmp_path: Path) -> None:
    async def check(s: StorageCap) -> None:
        keys = [f"k{i % 7}" for i in range(50)]
        results = await asyncio.gather(*(s.save(k, {"key": k}) for k in keys))
        assert all(r == Ok(None) for r in results)
        for k in set(keys):
            assert await s.load(k) == Ok({"key": k})

    with_store(store, tmp_path, check)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(
    records=st.dictionaries(
        st.sampled_from("abc"), st.dictionaries(st.text(max_size=4), json_values, max_size=3), min_size=1
    )
)
def test_fake_and_sqlite_agree_on_any_json_records(records: dict[str, dict[str, Any]]) -> None:
    async def load_all(store: StorageCap) -> list[object]:
        for key, record in records.items():
            await store.save(key, record)
        return [await store.load(k) for k in "abcd"]

    async def both() -> tuple[list[object], list[object]]:
        async with SqliteStorage() as real:
            return await load_all(FakeStorage()), await load_all(real)

    from_fake, from_sqlite = asyncio.run(both())
    assert from_fake == from_sqlite
