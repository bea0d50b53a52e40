"""Contract tests as data: one list of clauses, run against every implementation of a port.

A port's docstring states its contract in words; a :class:`Clause` states one promise of it
as code — an ``async`` check that calls the implementation and raises ``AssertionError``
when the promise is broken.  :func:`run_contract` runs every clause against every
implementation and returns a :class:`ContractReport`: a table *clause × implementation →
pass / FAIL*, with the reason for every failure.  Run the same clauses against the fake
and the real adapter and the fake is proven to tell the truth about production; run them
against a deliberately wrong fake and the contract is proven to have teeth.

* **Fresh per clause.**  Each clause gets a fresh implementation from its factory, opened
  with ``async with`` and closed afterwards whatever the clause did — so one clause's
  writes cannot hide another's bug, and no connection outlives its clause.
* **Exceptions break the contract.**  A clause that raises ``AssertionError`` fails with
  its message.  Any other ``Exception`` fails too, reported as ``raised Type: message``:
  an implementation that raises where the port promises ``Err`` breaks the contract.
  ``CancelledError`` (and other ``BaseException`` s) propagate: cancellation is never a
  verdict.
* **Sequential, deterministic.**  Clauses and implementations run one after another in the
  order given, so the report (and its table) is the same on every run.

:data:`STORAGE_CONTRACT` is the contract of :class:`~funcpipe_async.ports.StorageCap`,
clause by clause.  Example (in a notebook cell, or under any driver)::

    report = await run_contract(STORAGE_CONTRACT, {
        "FakeStorage": without_lifetime(FakeStorage),
        "SqliteStorage": lambda: SqliteStorage(":memory:"),
    })
    print(report.table())

This module describes work and never drives it: :func:`run_contract` is a coroutine
function for a shell to await.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from funcpipe_async.gather import async_gather
from funcpipe_async.plan import async_lift
from funcpipe_async.ports import StorageCap
from funcpipe_async.result import Err, ErrInfo, Ok, Result
from funcpipe_async.trace import format_table

__all__ = [
    "Clause",
    "Verdict",
    "ContractReport",
    "run_contract",
    "without_lifetime",
    "STORAGE_CONTRACT",
]

C = TypeVar("C")

PASS = "pass"
FAIL = "FAIL"


@dataclass(frozen=True)
class Clause(Generic[C]):
    """One promise of a port's contract.

    ``check(implementation)`` awaits calls on the implementation and raises
    ``AssertionError`` (with a message saying what was expected and what happened) when the
    promise is broken; it returns ``None`` when it holds.
    """

    name: str
    check: Callable[[C], Awaitable[None]]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a Clause needs a non-empty name, got {self.name!r}")
        if not callable(self.check):
            raise TypeError(f"Clause {self.name!r}: check must be an async function, got {type(self.check).__name__}")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one clause against one implementation; ``detail`` is empty when it passed."""

    clause: str
    implementation: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class ContractReport:
    """Every verdict of a contract run, in run order (clause by clause, implementation by implementation)."""

    clauses: tuple[str, ...]
    implementations: tuple[str, ...]
    verdicts: tuple[Verdict, ...]

    def verdict(self, clause: str, implementation: str) -> Verdict:
        """The verdict for ``clause`` against ``implementation``."""
        for v in self.verdicts:
            if (v.clause, v.implementation) == (clause, implementation):
                return v
        raise KeyError(f"no verdict for clause {clause!r} against {implementation!r}")

    def passed(self, implementation: str | None = None) -> bool:
        """Whether every clause held (for one ``implementation``, or for all)."""
        if implementation is not None and implementation not in self.implementations:
            raise KeyError(f"no implementation named {implementation!r}; the report has {list(self.implementations)}")
        return all(v.passed for v in self.verdicts if implementation in (None, v.implementation))

    def failures(self) -> list[Verdict]:
        """The verdicts that failed, in run order."""
        return [v for v in self.verdicts if not v.passed]

    def table(self) -> str:
        """A text table: one row per clause, one column per implementation, cells ``pass`` / ``FAIL``."""
        rows = [
            [clause, *(PASS if self.verdict(clause, impl).passed else FAIL for impl in self.implementations)]
            for clause in self.clauses
        ]
        return format_table(["clause", *self.implementations], rows)

    def explain(self) -> str:
        """One line per failure: ``implementation · clause: why`` (empty when everything passed)."""
        return "\n".join(f"{v.implementation} · {v.clause}: {v.detail}" for v in self.failures())


def _error_text(error: BaseException) -> str:
    """``Type: message`` on one line, for a verdict's detail."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


async def _verdict(clause: Clause[C], name: str, factory: Callable[[], AbstractAsyncContextManager[C]]) -> Verdict:
    try:
        async with factory() as implementation:
            await clause.check(implementation)
    except AssertionError as error:
        return Verdict(clause.name, name, False, " ".join(str(error).split()) or "AssertionError")
    except Exception as error:  # noqa: BLE001 - an exception where the port promises a Result breaks the contract
        return Verdict(clause.name, name, False, f"raised {_error_text(error)}")
    return Verdict(clause.name, name, True)


async def run_contract(
    clauses: Sequence[Clause[C]],
    implementations: Mapping[str, Callable[[], AbstractAsyncContextManager[C]]],
) -> ContractReport:
    """Run every clause against a fresh instance of every implementation (see the module docstring).

    ``implementations`` maps a display name to a factory returning an async context manager
    that yields the implementation (an adapter such as ``SqliteStorage`` is its own; wrap a
    plain object's constructor with :func:`without_lifetime`).
    """
    clauses = tuple(clauses)
    if not clauses:
        raise ValueError("run_contract needs at least one Clause")
    bad = [c for c in clauses if not isinstance(c, Clause)]
    if bad:
        raise TypeError(f"run_contract takes Clause values, got {type(bad[0]).__name__}")
    names = [c.name for c in clauses]
    if len(set(names)) != len(names):
        raise ValueError(f"clause names must be unique, got {names}")
    if not isinstance(implementations, Mapping) or not implementations:
        raise ValueError("run_contract needs a mapping of at least one implementation name to its factory")
    for name, factory in implementations.items():
        if not callable(factory):
            raise TypeError(f"implementation {name!r}: expected a factory (a callable), got {type(factory).__name__}")
    verdicts = [
        await _verdict(clause, name, factory) for clause in clauses for name, factory in implementations.items()
    ]
    return ContractReport(tuple(names), tuple(implementations), tuple(verdicts))


def without_lifetime(make: Callable[[], C]) -> Callable[[], AbstractAsyncContextManager[C]]:
    """A factory for :func:`run_contract` from a plain constructor (an object with nothing to close)."""
    if not callable(make):
        raise TypeError(f"without_lifetime needs a callable that makes the implementation, got {type(make).__name__}")

    @asynccontextmanager
    async def opened() -> AsyncIterator[C]:
        yield make()

    return opened


# --- the StorageCap contract ----------------------------------------------------------------


def _expect_err(result: Result[Any, ErrInfo], code: str, doing: str) -> None:
    assert isinstance(result, Err), f"{doing} should be Err({code}), got {result!r}"
    assert result.error.code == code, f"{doing} should be Err({code}), got Err({result.error.code})"
    assert not result.error.retryable, f"{doing}: {code} must not be retryable (the same call gets the same answer)"


async def _round_trip(store: StorageCap) -> None:
    record = {"n": 1, "tags": ("x", "y"), "nested": {"ok": True}}
    saved = await store.save("a", record)
    assert saved == Ok(None), f"save('a', …) should be Ok(None), got {saved!r}"
    loaded = await store.load("a")
    expected = Ok({"n": 1, "tags": ["x", "y"], "nested": {"ok": True}})
    assert loaded == expected, f"load('a') should give back the record as plain JSON {expected!r}, got {loaded!r}"


async def _idempotent(store: StorageCap) -> None:
    for version in (1, 1, 2):
        saved = await store.save("k", {"v": version})
        assert saved == Ok(None), f"saving key 'k' again should be Ok(None) (an upsert), got {saved!r}"
    loaded = await store.load("k")
    assert loaded == Ok({"v": 2}), (
        f"after saving 'k' three times, load('k') should be the latest, Ok({{'v': 2}}); got {loaded!r}"
    )


async def _other_keys(store: StorageCap) -> None:
    await store.save("a", {"v": "a"})
    await store.save("b", {"v": "b"})
    await store.save("a", {"v": "a2"})
    loaded = await store.load("b")
    assert loaded == Ok({"v": "b"}), f"saving 'a' again must leave 'b' alone: load('b') gave {loaded!r}"


async def _missing(store: StorageCap) -> None:
    _expect_err(await store.load("nobody"), "NOT_FOUND", "load('nobody') of a key never saved")


async def _invalid_record(store: StorageCap) -> None:
    for record in ({"f": {1, 2}}, {"nan": float("nan")}, [1, 2]):
        _expect_err(await store.save("bad", record), "INVALID_RECORD", f"save('bad', {record!r})")  # type: ignore[arg-type]
    assert isinstance(await store.load("bad"), Err), "a refused record must not be stored, but load('bad') found one"


async def _invalid_key(store: StorageCap) -> None:
    _expect_err(await store.save("", {"v": 1}), "INVALID_KEY", "save('', …) with an empty key")
    assert isinstance(await store.load(""), Err), "a record refused for its key must not be stored"


async def _copies(store: StorageCap) -> None:
    record: dict[str, Any] = {"items": [1]}
    await store.save("c", record)
    record["items"].append(2)  # the caller changes its own object …
    first = await store.load("c")
    assert first == Ok({"items": [1]}), f"the store must keep what was saved, not the caller's object: got {first!r}"
    if isinstance(first, Ok) and isinstance(first.value.get("items"), list):
        first.value["items"].append(3)  # … or the object load gave it
    again = await store.load("c")
    assert again == Ok({"items": [1]}), f"changing what load returned must not change the store: got {again!r}"


async def _concurrent(store: StorageCap) -> None:
    keys = [f"k{i % 7}" for i in range(40)]
    saves = async_gather(
        [async_lift(lambda k=k, i=i: store.save(k, {"key": k, "i": i})) for i, k in enumerate(keys)],  # type: ignore[misc]
        concurrency=8,
    )
    result = await saves()
    assert isinstance(result, Ok), f"40 concurrent saves of 7 keys should all be Ok, got {result!r}"
    for key in sorted(set(keys)):
        loaded = await store.load(key)
        assert isinstance(loaded, Ok) and loaded.value.get("key") == key, f"load({key!r}) gave {loaded!r}"


STORAGE_CONTRACT: tuple[Clause[StorageCap], ...] = (
    Clause("load returns what save stored, as plain JSON", _round_trip),
    Clause("save is idempotent per key; the latest wins", _idempotent),
    Clause("saving one key leaves the others alone", _other_keys),
    Clause("a missing key is Err(NOT_FOUND)", _missing),
    Clause("a non-JSON record is Err(INVALID_RECORD)", _invalid_record),
    Clause("an empty key is Err(INVALID_KEY)", _invalid_key),
    Clause("records are copied in and out", _copies),
    Clause("concurrent saves keep one record per key", _concurrent),
)
"""The contract of :class:`~funcpipe_async.ports.StorageCap` (its docstring), one clause per promise."""
