"""``funcpipe_async.contracts``: one contract, run against every implementation of a port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from funcpipe_async import (
    STORAGE_CONTRACT,
    Clause,
    Err,
    ErrInfo,
    FakeStorage,
    Ok,
    Result,
    StorageCap,
    run_contract,
    without_lifetime,
)
from funcpipe_async.adapters import HttpxJsonClient, SqliteStorage
from funcpipe_async.loopback import LoopbackJsonService

pytestmark = pytest.mark.usefixtures("no_leaks")

CLAUSES = [c.name for c in STORAGE_CONTRACT]


class KeepsDuplicates(FakeStorage):
    """Appends every save; load returns the first record saved under a key (an INSERT without upsert)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, dict[str, Any]]] = []

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        result = await super().save(key, record)
        if isinstance(result, Ok):
            self.rows.append((key, json.loads(json.dumps(self.records[key]))))
        return result

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        for k, record in self.rows:
            if k == key:
                return Ok(json.loads(json.dumps(record)))
        return Err(ErrInfo("NOT_FOUND", key))


class RaisesOnBadRecords(FakeStorage):
    """Lets the JSON library's exceptions out instead of returning Err(INVALID_RECORD)."""

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        json.dumps(record, allow_nan=False)  # TypeError / ValueError escape the boundary
        return await super().save(key, record)


class SharesObjects(FakeStorage):
    """Keeps the caller's object itself: a later change by the caller changes the store."""

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        result = await super().save(key, record)
        if isinstance(result, Ok):
            self.records[key] = record  # type: ignore[assignment]
        return result

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        if key not in self.records:
            return Err(ErrInfo("NOT_FOUND", key))
        return Ok(self.records[key])


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_the_storage_contract_holds_for_the_fake_and_sqlite_in_memory_and_on_file(tmp_path: Path) -> None:
    report = run(
        run_contract(
            STORAGE_CONTRACT,
            {
                "fake": without_lifetime(FakeStorage),
                "memory": lambda: SqliteStorage(":memory:"),
                "file": lambda: SqliteStorage(tmp_path / "records.db"),
            },
        )
    )
    assert report.passed(), report.explain()
    assert report.implementations == ("fake", "memory", "file") and report.clauses == tuple(CLAUSES)
    assert len(report.verdicts) == 3 * len(CLAUSES)


@pytest.mark.parametrize(
    ("broken", "failing"),
    [
        (KeepsDuplicates, {"save is idempotent per key; the latest wins"}),
        (RaisesOnBadRecords, {"a non-JSON record is Err(INVALID_RECORD)"}),
        (SharesObjects, {"records are copied in and out", "load returns what save stored, as plain JSON"}),
    ],
)
def test_a_wrong_fake_fails_exactly_the_clauses_it_breaks(broken: type[FakeStorage], failing: set[str]) -> None:
    report = run(
        run_contract(STORAGE_CONTRACT, {"good": without_lifetime(FakeStorage), "broken": without_lifetime(broken)})
    )
    assert report.passed("good")
    assert {v.clause for v in report.failures()} == failing
    assert all(v.implementation == "broken" and v.detail for v in report.failures())


def test_an_exception_instead_of_err_is_reported_as_raised() -> None:
    report = run(run_contract(STORAGE_CONTRACT, {"raising": without_lifetime(RaisesOnBadRecords)}))
    (failure,) = report.failures()
    assert failure.detail.startswith("raised TypeError: Object of type set is not JSON serializable")


def test_the_table_has_a_row_per_clause_and_a_column_per_implementation() -> None:
    report = run(
        run_contract(
            STORAGE_CONTRACT, {"good": without_lifetime(FakeStorage), "dups": without_lifetime(KeepsDuplicates)}
        )
    )
    lines = report.table().splitlines()
    assert lines[0].split() == ["clause", "good", "dups"]
    assert len(lines) == 2 + len(CLAUSES)
    row = next(line for line in lines if line.startswith("save is idempotent"))
    assert row.split()[-2:] == ["pass", "FAIL"]
    assert report.explain().splitlines()[0].startswith("dups · save is idempotent per key; the latest wins: ")


def test_every_clause_gets_a_fresh_implementation_that_is_closed_afterwards() -> None:
    made: list[SqliteStorage] = []

    def factory() -> SqliteStorage:
        made.append(SqliteStorage())
        return made[-1]

    report = run(run_contract(STORAGE_CONTRACT, {"sqlite": factory}))
    assert report.passed() and len(made) == len(CLAUSES)
    assert all(store.closed for store in made)


def test_an_implementation_is_closed_even_when_its_clause_fails() -> None:
    closed: list[bool] = []

    @asynccontextmanager
    async def tracked() -> AsyncIterator[StorageCap]:
        try:
            yield KeepsDuplicates()
        finally:
            closed.append(True)

    report = run(run_contract(STORAGE_CONTRACT[1:2], {"dups": tracked}))
    assert not report.passed() and closed == [True]


def test_cancellation_is_never_a_verdict() -> None:
    async def cancelled(_: StorageCap) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        run(run_contract([Clause("cancelled", cancelled)], {"fake": without_lifetime(FakeStorage)}))


@pytest.mark.parametrize(
    ("clauses", "impls", "error"),
    [
        ([], {"fake": without_lifetime(FakeStorage)}, ValueError),
        (["not a clause"], {"fake": without_lifetime(FakeStorage)}, TypeError),
        (list(STORAGE_CONTRACT[:1]) * 2, {"fake": without_lifetime(FakeStorage)}, ValueError),
        (STORAGE_CONTRACT, {}, ValueError),
        (STORAGE_CONTRACT, {"fake": FakeStorage()}, TypeError),
    ],
)
def test_run_contract_validates_its_arguments(clauses: Any, impls: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        run(run_contract(clauses, impls))


@pytest.mark.parametrize(("name", "check"), [("", lambda s: None), ("ok", "not callable")])
def test_a_clause_is_validated_when_built(name: str, check: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        Clause(name, check)


def test_report_lookups_name_what_is_missing() -> None:
    report = run(run_contract(STORAGE_CONTRACT[:1], {"fake": without_lifetime(FakeStorage)}))
    with pytest.raises(KeyError, match="no implementation named 'real'"):
        report.passed("real")
    with pytest.raises(KeyError, match="no verdict"):
        report.verdict("nope", "fake")


def test_the_loopback_service_counts_every_connection_it_accepts() -> None:
    async def fetch(base: str, pooled: bool) -> None:
        if pooled:
            async with HttpxJsonClient(base) as http:
                for _ in range(5):
                    assert isinstance(await http.get_json("/items/1"), Ok)
        else:
            for _ in range(5):
                async with HttpxJsonClient(base) as http:
                    assert isinstance(await http.get_json("/items/1"), Ok)

    for pooled, opened in ((True, 1), (False, 5)):
        with LoopbackJsonService({"1": {"id": "1"}}) as service:
            run(fetch(service.base_url, pooled))
            assert service.connections_opened == opened and service.requests == {"/items/1": 5}


def test_the_loopback_service_stays_quiet_when_a_client_resets_its_connection(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import socket
    import struct
    import time

    with LoopbackJsonService({"1": {"id": "1"}}) as service:
        for n in range(1, 4):
            with socket.create_connection(("127.0.0.1", service.port)) as raw:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            for _ in range(200):  # wait (≤ 2 s) until the handler thread has seen the reset
                if service.open_connections == 0 and service.connections_opened == n:
                    break
                time.sleep(0.01)
    assert service.connections_opened == 3
    assert capfd.readouterr().err == ""
