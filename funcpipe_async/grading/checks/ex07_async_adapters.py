"""Exercise 07 · Async Adapters: the checks of its three tasks, and the exercise's fake world.

* t1 ``fetch_stock(client, sku)`` — an adapter method over a **blocking** SDK
  (:class:`InventoryClient`): the call runs in a worker thread (never on the loop), exactly
  once, and the SDK's exceptions become the classified ``Err`` of the task's table
  (``SkuNotFound`` → ``NOT_FOUND``, ``InvalidSku`` → ``INVALID_SKU``, ``RateLimited`` →
  ``RATE_LIMITED`` retryable, ``ConnectionError`` / ``TimeoutError`` → ``UNAVAILABLE``
  retryable); any other exception is a defect and propagates unchanged.  Checked on
  generated outcomes, defects included.
* t2 ``open_inventory(warehouse)`` — an ``@asynccontextmanager`` over a :class:`Warehouse`
  connection: nothing is opened until the block is entered, one connection per block,
  closed exactly once on every way out (normal, an exception — which propagates unchanged
  —, a cancellation), and the store it yielded refuses use after the block with a
  ``RuntimeError``.  Checked on generated scenarios on virtual time.
* t3 ``latest_save_wins(store)`` — a contract clause for ``StorageCap`` (saving a key again
  replaces its record; other keys keep theirs), run with ``run_contract`` against correct
  stores (it must pass them) and generated broken ones (it must fail every one).

Every task is decided by a judge outside the worker: it draws the examples from the grading
run's seed and asks the worker's probes (``PROBES``), which run the student's code on fakes
and virtual time (``Simulation``: a worker thread's work takes no virtual time, so no probe
opens a socket or waits for real) and report plain data — ``stock``: what ``fetch_stock``
returned or raised (and whether it is the SDK's own exception), the SDK's calls and whether
the first ran on the loop's thread; ``inventory``: connections opened before, inside and
after the block, the store's answers, what escaped the block and what using the store after
it did; ``clause``: whether the clause passed the named store, and the verdict's detail.
The judge compares them with its own reference (the task's table, the warehouse's stock, a
store's known correctness).  Task 1's reference is private to this module, and ``reaches``
reports whether ``fetch_stock`` uses it: such a task is refused.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from funcpipe_async.contracts import Clause, ContractReport, run_contract, without_lifetime
from funcpipe_async.fakes import FakeStorage
from funcpipe_async.grading import kit
from funcpipe_async.grading.checks._reach import prober, refuse_borrowed
from funcpipe_async.grading.spec import Exercise, Task, Worker
from funcpipe_async.ports import StorageCap, check_key, encode_record
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "EXERCISE",
    "InventoryClient",
    "SkuNotFound",
    "InvalidSku",
    "RateLimited",
    "Warehouse",
    "Connection",
    "ConnectionClosed",
    "PROBES",
]


# ---------------------------------------------------------------------------------------------
# The exercise's fake world (imported by the exercise's set-up cell)


class SkuNotFound(Exception):
    """The inventory SDK: no such SKU."""


class InvalidSku(ValueError):
    """The inventory SDK: the SKU is malformed (a ``ValueError``, as many SDKs do)."""


class RateLimited(Exception):
    """The inventory SDK: too many requests, slow down."""


class InventoryClient:
    """A **blocking** inventory SDK — a stand-in for a vendor library with no async API.

    ``stock(sku)`` returns the units in stock (an ``int``) or raises.  Call *n* plays entry
    *n* of ``script`` (an ``int`` to return, or an exception to raise; afterwards
    ``default`` units).  ``calls`` lists the SKUs asked for; ``threads`` the id of the thread
    each call ran in, so you can see whether it ran on the event loop's thread.
    """

    def __init__(self, script: Sequence[int | BaseException] = (), *, default: int = 7) -> None:
        self._script = list(script)
        self._default = default
        self.calls: list[str] = []
        self.threads: list[int] = []

    def stock(self, sku: str) -> int:
        self.calls.append(sku)
        self.threads.append(threading.get_ident())
        n = len(self.calls) - 1
        outcome = self._script[n] if n < len(self._script) else self._default
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def __repr__(self) -> str:
        return f"InventoryClient(script={self._script!r})"


class ConnectionClosed(Exception):
    """A :class:`Connection` was used after it was closed."""


class Connection:
    """A connection to a :class:`Warehouse` (``await stock(sku)``, ``await close()``)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self.closed = False

    async def stock(self, sku: str) -> Result[int, ErrInfo]:
        if self.closed:
            raise ConnectionClosed("this connection was closed")
        await asyncio.sleep(self._warehouse.latency)
        if self.closed:
            raise ConnectionClosed("this connection was closed while the call was running")
        units = self._warehouse.units.get(sku)
        return Ok(units) if units is not None else Err(ErrInfo("NOT_FOUND", f"no SKU {sku!r}"))

    async def close(self) -> None:
        if self.closed:
            self._warehouse.double_closes += 1
            return
        self.closed = True
        self._warehouse.closes += 1
        await asyncio.sleep(0)


class Warehouse:
    """A fake inventory database: ``await connect()`` opens a :class:`Connection`.

    ``connects`` and ``closes`` count connections opened and closed; ``open`` is the
    difference.  Each ``stock`` call takes ``latency`` seconds of the loop's clock.
    """

    def __init__(self, units: Mapping[str, int] | None = None, *, latency: float = 0.5) -> None:
        self.units = dict(units if units is not None else {"apple": 3, "pear": 0})
        self.latency = latency
        self.connects = 0
        self.closes = 0
        self.double_closes = 0

    @property
    def open(self) -> int:
        return self.connects - self.closes

    async def connect(self) -> Connection:
        await asyncio.sleep(0)
        self.connects += 1
        return Connection(self)

    def __repr__(self) -> str:
        return f"Warehouse(connects={self.connects}, closes={self.closes})"


# ---------------------------------------------------------------------------------------------
# Task 1: convert a blocking SDK's exceptions

_EXPECTED: tuple[tuple[type[BaseException], str, bool], ...] = (
    (SkuNotFound, "NOT_FOUND", False),
    (InvalidSku, "INVALID_SKU", False),
    (RateLimited, "RATE_LIMITED", True),
    (ConnectionError, "UNAVAILABLE", True),
    (TimeoutError, "UNAVAILABLE", True),
)


def _stock_reference(outcome: int | BaseException) -> Result[int, ErrInfo] | BaseException:
    """What ``fetch_stock`` must give for one SDK outcome: a Result, or the defect itself."""
    if not isinstance(outcome, BaseException):
        return Ok(outcome)
    for kind, code, retryable in _EXPECTED:
        if isinstance(outcome, kind):
            return Err(ErrInfo(code, str(outcome), retryable))
    return outcome


_FAILURES: list[Callable[[str], BaseException]] = [
    SkuNotFound,
    InvalidSku,
    RateLimited,
    ConnectionResetError,
    ConnectionRefusedError,
    ConnectionError,
    TimeoutError,
]
_DEFECTS: list[Callable[[str], BaseException]] = [KeyError, TypeError, ValueError, RuntimeError, AttributeError]


@st.composite
def _stock_cases(draw: st.DrawFn) -> tuple[str, int | BaseException]:
    sku = draw(st.sampled_from(["apple", "pear", "plum", "sku-17", "x"]))
    kind = draw(st.sampled_from(["units", "failure", "defect"]))
    message = draw(st.sampled_from(["", "boom", "try later", "no route"]))
    if kind == "units":
        return sku, draw(st.integers(0, 500))
    maker = draw(st.sampled_from(_FAILURES if kind == "failure" else _DEFECTS))
    return sku, maker(message)


def _name(outcome: object) -> str:
    return type(outcome).__name__ if isinstance(outcome, BaseException) else repr(outcome)


_OUTCOMES: dict[str, Callable[[str], BaseException]] = {
    getattr(maker, "__name__", ""): maker for maker in [*_FAILURES, *_DEFECTS]
}


def _outcome_data(outcome: int | BaseException) -> list[Any]:
    if isinstance(outcome, BaseException):
        return ["raise", type(outcome).__name__, str(outcome)]
    return ["units", outcome]


def _outcome_from_data(data: Sequence[Any]) -> int | BaseException:
    if data[0] == "units":
        return int(data[1])
    return _OUTCOMES[str(data[1])](str(data[2]))


_STOCK_EDGES: tuple[tuple[str, int | BaseException], ...] = (
    ("apple", 3),
    *(("sku-17", maker("")) for maker in _FAILURES),
    *(("sku-17", maker("")) for maker in _DEFECTS),
)
"""Outcomes every submission is tried on first, before the generated ones."""


def _probe_stock(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 1: await ``fetch_stock`` on virtual time with an SDK playing the
    judge's outcome; whether it is an ``async def``, what it returned or raised (and whether
    that is the very exception the SDK raised), the SDK's calls and whether the first ran on
    the event loop's thread."""
    fetch_stock = kit.function(ns, "fetch_stock")
    if not inspect.iscoroutinefunction(fetch_stock):
        return {"async": False}
    sku, outcome = str(payload["sku"]), _outcome_from_data(payload["outcome"])
    client = InventoryClient([outcome])

    async def run() -> tuple[object, int]:
        loop_thread = threading.get_ident()
        try:
            got: object = await fetch_stock(client, sku)
        except Exception as error:  # noqa: BLE001 - what escaped is reported
            got = error
        return got, loop_thread

    got, loop_thread = kit.simulate(
        run(), doing=f"fetch_stock(client, {sku!r}) when the SDK's stock() {_does(outcome)}"
    )
    if isinstance(got, NotImplementedError):
        raise kit.not_done("fetch_stock")
    report = {
        "async": True,
        "calls": list(client.calls),
        "on_loop": bool(client.threads) and client.threads[0] == loop_thread,
    }
    if isinstance(got, BaseException):
        return {**report, "outcome": "raised", "same": got is outcome, "error": kit.describe_exception(got)}
    return {**report, "outcome": "returned", "value": got}


def _does(outcome: object) -> str:
    return f"raises {_name(outcome)}" if isinstance(outcome, BaseException) else f"returns {outcome!r}"


def _stock_answer(answer: Any) -> dict[str, Any]:
    ok = (
        isinstance(answer, dict)
        and answer.get("async") is False
        or (
            isinstance(answer, dict)
            and answer.get("async") is True
            and isinstance(answer.get("calls"), list)
            and isinstance(answer.get("on_loop"), bool)
            and (
                (
                    answer.get("outcome") == "raised"
                    and isinstance(answer.get("same"), bool)
                    and isinstance(answer.get("error"), str)
                )
                or (answer.get("outcome") == "returned" and "value" in answer)
            )
        )
    )
    if not ok:
        raise kit.CheckFailed(kit.TAMPERED)
    return dict(answer)


def judge_fetch_stock(worker: Worker) -> str:
    refuse_borrowed(worker, "fetch_stock")

    def prop(case: tuple[str, int | BaseException]) -> None:
        sku, outcome = case
        answer = _stock_answer(worker.ask("stock", {"sku": sku, "outcome": _outcome_data(outcome)}))
        if not answer["async"]:
            raise kit.CheckFailed(
                "fetch_stock must be an `async def`: it is an adapter method, awaited by core code like "
                "`await http.get_json(url)`, and it awaits `asyncio.to_thread(client.stock, sku)`"
            )
        doing = f"fetch_stock(client, {sku!r}) when the SDK's stock() {_does(outcome)}"
        calls = answer["calls"]
        if calls != [sku]:
            if not calls:
                raise kit.CheckFailed(
                    f"{doing}: the SDK was never called — call client.stock(sku) (in a worker thread)"
                )
            raise kit.CheckFailed(
                f"{doing}: the SDK was called {len(calls)} times with {kit.show(calls)}; an adapter calls it "
                "once and reports what happened — retrying is the caller's policy (lesson 04), not the adapter's"
            )
        if answer["on_loop"]:
            raise kit.CheckFailed(
                f"{doing}: stock() ran on the event loop's thread, so it blocked the event loop — every other "
                "task froze until it returned. Run the blocking call in a worker thread: "
                "`await asyncio.to_thread(client.stock, sku)`"
            )
        want = _stock_reference(outcome)
        raised = answer["outcome"] == "raised"
        got = answer.get("value")
        if isinstance(want, BaseException):
            if raised and answer["same"]:
                return
            if not raised and isinstance(got, (Ok, Err)):
                raise kit.CheckFailed(
                    f"{doing} returned {kit.show(got)}, but {_name(outcome)} is not an expected failure of the "
                    "inventory — it is a defect (a bug) and must propagate unchanged. Catch only the exceptions "
                    "of the table, by their classes, never `except Exception`"
                )
            came = answer["error"] if raised else kit.show(got)
            raise kit.CheckFailed(f"{doing}: the defect must propagate unchanged, but {came} came out instead")
        if raised:
            raise kit.CheckFailed(
                f"{doing}: {answer['error']} escaped the adapter. {_name(outcome)} is an expected "
                f"failure of the world: return {kit.show(want)} instead — the boundary converts"
            )
        if not isinstance(got, (Ok, Err)):
            raise kit.CheckFailed(f"{doing} returned {kit.show(got)}; an adapter returns Ok(units) or Err(ErrInfo)")
        if isinstance(want, Ok):
            if got != want:
                raise kit.CheckFailed(f"{doing} should be {kit.show(want)}, got {kit.show(got)}")
            return
        if not isinstance(got, Err) or not isinstance(got.error, ErrInfo):
            raise kit.CheckFailed(f"{doing} should be an Err with code {want.error.code}, got {kit.show(got)}")
        if got.error.code != want.error.code:
            raise kit.CheckFailed(
                f"{doing} should be Err with code {want.error.code} (the task's table), got code {got.error.code!r}"
            )
        if got.error.retryable != want.error.retryable:
            why = (
                "it may succeed later, so a retry policy may try again"
                if want.error.retryable
                else "the same request gets the same answer, so retrying cannot help"
            )
            raise kit.CheckFailed(
                f"{doing}: {want.error.code} must have retryable={want.error.retryable} — {why}; "
                f"yours said retryable={got.error.retryable}"
            )

    for case in _STOCK_EDGES:  # every row of the table and every kind of defect, whatever the run's seed
        prop(case)
    kit.for_all(_stock_cases(), prop)
    return (
        "the SDK runs in a worker thread, once per call; every expected failure comes back as its classified Err, "
        "and every defect propagates unchanged"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: an async context manager whose connection is always released


class _Boom(Exception):
    """A bug in the code using the store (raised inside the block by the check)."""


@dataclass(frozen=True)
class _Scenario:
    skus: tuple[str, ...]
    ending: str  # "normal", "exception" or "cancel"

    def __str__(self) -> str:
        calls = ", ".join(f"stock({s!r})" for s in self.skus) or "no call"
        end = {
            "normal": "the block ends normally",
            "exception": "then the code in the block raises an exception",
            "cancel": "then the task is cancelled while a stock() call is waiting",
        }[self.ending]
        return f"`async with open_inventory(warehouse) as store:` with {calls}, {end}"


_SCENARIOS = st.builds(
    _Scenario,
    st.lists(st.sampled_from(["apple", "pear", "plum"]), max_size=3).map(tuple),
    st.sampled_from(["normal", "exception", "cancel"]),
)


async def _use_after(store: Any) -> list[Any]:
    """What using the store after its block did: ``["runtime"]`` (RuntimeError), ``["closed"]``
    (it reached the closed connection), ``["raised", text]`` or ``["returned", value]``."""
    try:
        result = await store.stock("apple")
    except RuntimeError:
        return ["runtime"]
    except NotImplementedError:
        raise kit.not_done("InventoryStore.stock") from None
    except ConnectionClosed:
        return ["closed"]
    except Exception as error:  # noqa: BLE001 - reported as data
        return ["raised", kit.describe_exception(error)]
    return ["returned", result]


def _after_feedback(after: Sequence[Any]) -> str | None:
    """The judge's words for :func:`_use_after`'s report (``None``: it raised RuntimeError, as it must)."""
    when = "after its `async with` block"
    if after[0] == "runtime":
        return None
    if after[0] == "closed":
        return (
            f"using the store {when} reached the closed connection (ConnectionClosed): release the store when "
            "the block ends, and make stock() raise a RuntimeError that says to use it inside `async with` — "
            "a bug in the shell is a clear RuntimeError, not whatever the library does with a closed connection"
        )
    if after[0] == "raised":
        return (
            f"using the store {when} raised {after[1]}; it must raise RuntimeError, "
            "saying to use the store inside `async with open_inventory(...)`"
        )
    return f"using the store {when} returned {kit.show(after[1])}; it must raise RuntimeError"


def _not_a_context_manager(fn: Callable[..., Any]) -> None:
    """Verdicts for an ``open_inventory`` that is still the stub, or is not an async generator."""
    inner = inspect.unwrap(fn)
    if inspect.isasyncgenfunction(inner):
        return
    if inspect.iscoroutinefunction(inner):

        async def probe() -> bool:
            try:
                await inner(Warehouse())
            except NotImplementedError:
                return True
            except Exception:  # noqa: BLE001 - any other outcome: not an async generator either way
                return False
            return False

        if kit.simulate(probe(), doing="open_inventory(warehouse)"):
            raise kit.not_done("open_inventory")
    raise kit.CheckFailed(
        "open_inventory must be an async generator under @asynccontextmanager: `async def` whose body "
        "connects, then `yield`s the store (inside try/finally), then closes"
    )


def _probe_inventory(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 2: run the judge's scenario with ``open_inventory`` over a fake
    warehouse on virtual time; what each step observed (connections opened before the block,
    inside it and left open after it, the store's answers, what escaped the block, what using
    the store after the block did)."""
    open_inventory = kit.function(ns, "open_inventory")
    _not_a_context_manager(open_inventory)
    scenario = _Scenario(tuple(str(s) for s in payload["skus"]), str(payload["ending"]))
    warehouse = Warehouse()
    manager = kit.call(open_inventory, warehouse, doing="open_inventory(warehouse)")
    report: dict[str, Any] = {
        "connects_before": warehouse.connects,
        "manager": hasattr(manager, "__aenter__") and hasattr(manager, "__aexit__"),
    }
    if report["connects_before"] or not report["manager"]:
        return report
    boom = _Boom("a bug in the block")

    async def run() -> tuple[list[object], tuple[int, int], object, Any, list[Any] | None]:
        answers: list[object] = []
        inside = (0, 0)
        escaped: object = None
        store: Any = None
        try:
            async with asyncio.timeout(10 if scenario.ending == "cancel" else None):
                async with manager as store:
                    for sku in scenario.skus:
                        answers.append(await store.stock(sku))
                    inside = (warehouse.connects, warehouse.open)
                    if scenario.ending == "exception":
                        raise boom
                    if scenario.ending == "cancel":
                        warehouse.latency = 60.0
                        await store.stock("apple")  # cut at t = 10 by the timeout: a cancellation
        except TimeoutError:
            escaped = "cancelled"
        except BaseException as error:  # noqa: BLE001 - reported below
            escaped = error
        after = None if store is None else await _use_after(store)
        return answers, inside, escaped, store, after

    answers, inside, escaped, store, after = kit.simulate(run(), doing=str(scenario))
    if isinstance(escaped, NotImplementedError):
        raise kit.not_done("InventoryStore.stock")
    what = (
        "none" if escaped is None else "cancelled" if escaped == "cancelled" else "boom" if escaped is boom else "other"
    )
    return {
        **report,
        "started": store is not None,
        "answers": answers,
        "inside": list(inside),
        "escaped": what,
        "escaped_text": kit.show(escaped),
        "open": warehouse.open,
        "double_closes": warehouse.double_closes,
        "after": after,
    }


def _inventory_answer(answer: Any) -> dict[str, Any]:
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("connects_before"), int)
        or not isinstance(answer.get("manager"), bool)
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    if answer["connects_before"] or not answer["manager"]:
        return answer
    ok = (
        isinstance(answer.get("started"), bool)
        and isinstance(answer.get("answers"), list)
        and isinstance(answer.get("inside"), list)
        and answer.get("escaped") in ("none", "cancelled", "boom", "other")
        and isinstance(answer.get("escaped_text"), str)
        and isinstance(answer.get("open"), int)
        and isinstance(answer.get("double_closes"), int)
        and (
            answer.get("started") is False
            or isinstance(answer.get("after"), list)
            and len(answer["after"]) in (1, 2)
            and answer["after"][0] in ("runtime", "closed", "raised", "returned")
        )
    )
    if not ok:
        raise kit.CheckFailed(kit.TAMPERED)
    return answer


def judge_open_inventory(worker: Worker) -> str:
    def prop(scenario: _Scenario) -> None:
        a = _inventory_answer(worker.ask("inventory", {"skus": list(scenario.skus), "ending": scenario.ending}))
        if a["connects_before"]:
            raise kit.CheckFailed(
                "calling open_inventory(warehouse) opened a connection before `async with`: "
                "the resource lives exactly as long as the block"
            )
        if not a["manager"]:
            raise kit.CheckFailed(
                "open_inventory(warehouse) returned something that is not an async context "
                "manager: decorate it with @asynccontextmanager"
            )
        escaped = a["escaped"]
        if not a["started"]:
            raise kit.CheckFailed(
                f"{scenario}: the block never started ({a['escaped_text']}): "
                "open_inventory must connect and yield an InventoryStore"
            )
        units = Warehouse().units
        expected = [Ok(units[s]) if s in units else Err(ErrInfo("NOT_FOUND", f"no SKU {s!r}")) for s in scenario.skus]
        answers = a["answers"]
        if [(type(x), x.value if isinstance(x, Ok) else None) for x in answers] != [
            (type(e), e.value if isinstance(e, Ok) else None) for e in expected
        ]:
            raise kit.CheckFailed(
                f"{scenario}: store.stock should give the connection's answers {expected}, got {kit.show(answers)}"
            )
        if a["inside"] != [1, 1]:
            connects, still_open = (a["inside"] + [None, None])[:2]
            raise kit.CheckFailed(
                f"{scenario}: inside the block the warehouse saw {connects} connection(s) opened, {still_open} open; "
                "open_inventory opens exactly one connection on entry, and the store uses it for every call"
            )
        if scenario.ending == "exception" and escaped != "boom":
            got = "nothing (it was swallowed)" if escaped == "none" else a["escaped_text"]
            raise kit.CheckFailed(
                f"{scenario}: the exception must propagate unchanged out of the block; got {got}. "
                "Never swallow what arrives at the `yield`: close in a `finally`, which re-raises"
            )
        if scenario.ending == "cancel" and escaped != "cancelled":
            raise kit.CheckFailed(
                f"{scenario}: the cancellation must propagate out of the block; got {a['escaped_text']}"
            )
        if scenario.ending == "normal" and escaped != "none":
            raise kit.CheckFailed(f"{scenario}: the block raised {a['escaped_text']}")
        if a["open"] != 0:
            hint = (
                " CancelledError is a BaseException, not an Exception: close in a `finally`, whatever ended the block"
                if scenario.ending == "cancel"
                else " When the block raises, the exception arrives at the `yield`, and code after a bare `yield` "
                "never runs: close in a `finally`"
                if scenario.ending == "exception"
                else " Close it after the `yield`"
            )
            raise kit.CheckFailed(f"{scenario}: after the block {a['open']} connection is still open.{hint}")
        if a["double_closes"]:
            raise kit.CheckFailed(
                f"{scenario}: the connection was closed {1 + a['double_closes']} times; close it once"
            )
        after = _after_feedback(a["after"])
        if after is not None:
            raise kit.CheckFailed(f"{scenario}: {after}")

    # the three ways out, in this order, then generated ones
    kit.for_all(_SCENARIOS, prop, known=[_Scenario(("apple", "plum"), e) for e in ("normal", "exception", "cancel")])
    return (
        "calling open_inventory opens nothing; one connection per block, closed exactly once after a normal end, "
        "an exception (which propagates) and a cancellation; the store refuses use after its block"
    )


# ---------------------------------------------------------------------------------------------
# Task 3: a contract clause that passes correct stores and fails broken ones


class _Store:
    """A ``StorageCap`` kept in a dict, correct unless ``bug`` names a way to be wrong."""

    BUGS: dict[str, str] = {
        "first": "keeps the first record saved under a key and ignores later saves",
        "merge": "merges a new record into the old one instead of replacing it",
        "third": "applies the first two saves of a key but ignores the third and later ones",
        "reject": "answers Err(DB_ERROR) to a second save of the same key (an INSERT, not an upsert)",
        "raise": "raises an IntegrityError on a second save of the same key",
        "clobber": "forgets every other key when a key is saved",
        "forget": "forgets a key when it is saved a second time",
    }

    def __init__(self, bug: str | None = None, pause: int = 0) -> None:
        self.bug = bug
        self.pause = pause
        self.records: dict[str, str] = {}
        self.saves: dict[str, int] = {}

    async def _yield(self) -> None:
        for _ in range(self.pause + 1):
            await asyncio.sleep(0)

    async def save(self, key: str, record: Mapping[str, Any]) -> Result[None, ErrInfo]:
        await self._yield()
        checked = check_key(key)
        if isinstance(checked, Err):
            return checked
        encoded = encode_record(record)
        if isinstance(encoded, Err):
            return encoded
        n = self.saves[key] = self.saves.get(key, 0) + 1
        bug, body = self.bug, encoded.value
        if n > 1 and bug == "first":
            return Ok(None)
        if n > 1 and bug == "merge":
            body = json.dumps({**json.loads(self.records.get(key, "{}")), **json.loads(body)}, sort_keys=True)
        if n > 2 and bug == "third":
            return Ok(None)
        if n > 1 and bug == "reject":
            return Err(ErrInfo("DB_ERROR", "IntegrityError: UNIQUE constraint failed: records.key"))
        if n > 1 and bug == "raise":
            raise _IntegrityError("UNIQUE constraint failed: records.key")
        if bug == "clobber":
            self.records.clear()
        if n > 1 and bug == "forget":
            self.records.pop(key, None)
            return Ok(None)
        self.records[key] = body
        return Ok(None)

    async def load(self, key: str) -> Result[Mapping[str, Any], ErrInfo]:
        await self._yield()
        if key not in self.records:
            return Err(ErrInfo("NOT_FOUND", f"no record under {key!r}"))
        loaded: dict[str, Any] = json.loads(self.records[key])
        return Ok(loaded)


class _IntegrityError(Exception):
    """What a database driver raises for a duplicate key."""


_BROKEN = st.tuples(st.sampled_from(sorted(_Store.BUGS)), st.integers(0, 2))


_CORRECT: tuple[tuple[str, Callable[[], StorageCap]], ...] = (
    ("FakeStorage", FakeStorage),
    ("a correct dict store", _Store),
    ("a correct store that answers slowly", lambda: _Store(pause=2)),
)


def _probe_clause(ns: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """The worker's side of Task 3: run the student's clause with ``run_contract`` against the
    store the judge names (a correct one by its place in ``_CORRECT``, or a broken one by its
    bug and pause) on virtual time; whether the clause passed it, and the verdict's detail."""
    clause_fn = kit.function(ns, "latest_save_wins")
    if not inspect.iscoroutinefunction(clause_fn):
        return {"async": False}
    if payload.get("bug") is None:
        name, make = _CORRECT[int(payload["correct"])]
    else:
        bug, pause = str(payload["bug"]), int(payload["pause"])
        if bug not in _Store.BUGS:
            raise kit.CheckFailed(f"no such broken store {bug!r}")
        name, make = f"a store that {_Store.BUGS[bug]}", lambda: _Store(bug, pause)
    clause: Clause[StorageCap] = Clause("latest save wins", clause_fn)
    report: ContractReport = kit.simulate(
        run_contract([clause], {name: without_lifetime(make)}),
        doing=f"running your clause against {name}",
    )
    verdict = report.verdicts[0]
    if verdict.detail.startswith("raised NotImplementedError"):
        raise kit.not_done("latest_save_wins")
    return {"async": True, "passed": bool(verdict.passed), "detail": str(verdict.detail)}


def _ask_clause(worker: Worker, payload: dict[str, Any]) -> tuple[bool, str]:
    answer = worker.ask("clause", payload)
    if isinstance(answer, dict) and answer.get("async") is False:
        raise kit.CheckFailed(
            "latest_save_wins must be an `async def` clause: run_contract awaits it with each store, and it "
            "awaits store.save(...) and store.load(...)"
        )
    if not (
        isinstance(answer, dict)
        and answer.get("async") is True
        and isinstance(answer.get("passed"), bool)
        and isinstance(answer.get("detail"), str)
    ):
        raise kit.CheckFailed(kit.TAMPERED)
    return answer["passed"], answer["detail"]


def judge_latest_save_wins(worker: Worker) -> str:
    for k, (name, _) in enumerate(_CORRECT):
        passed, detail = _ask_clause(worker, {"correct": k})
        if not passed:
            raise kit.CheckFailed(
                f"your clause rejected {name}, which keeps the contract: {detail}. A clause must pass "
                "every correct implementation — records come back as plain JSON (lists, not tuples), and a "
                "fresh store is empty"
            )

    def prop(case: tuple[str, int]) -> None:
        bug, pause = case
        passed, _ = _ask_clause(worker, {"bug": bug, "pause": pause})
        if passed:
            hint = {
                "merge": " Save records of different shapes (e.g. {'a': 1} then {'b': 2}): the latest must come back "
                "exactly, with no field of an older one",
                "third": " Save more than twice",
                "clobber": " Save another key too, and check it still holds its own record",
            }.get(bug, "")
            raise kit.CheckFailed(
                f"your clause passed a store that {_Store.BUGS[bug]} — a wrong fake slipped through the contract.{hint}"
            )

    kit.for_all(_BROKEN, prop, examples=30)
    return "your clause passes every correct store and fails every broken one, naming what broke"


PROBES = {
    "reaches": prober({"fetch_stock": {"_stock_reference": _stock_reference}}),
    "stock": _probe_stock,
    "inventory": _probe_inventory,
    "clause": _probe_clause,
}
"""What the worker answers: ``stock`` (Task 1), ``inventory`` (Task 2), ``clause`` (Task 3),
and ``reaches`` (whether ``fetch_stock`` uses the grader's reference answer)."""


EXERCISE = Exercise(
    slug="07_async_adapters",
    title="07 · Async Adapters",
    tasks=(
        Task("t1", "Convert a blocking library's exceptions", 4, ("fetch_stock",), judge=judge_fetch_stock),
        Task("t2", "Give a connection a lifetime", 3, ("open_inventory",), judge=judge_open_inventory),
        Task("t3", "Write a contract clause with teeth", 3, ("latest_save_wins",), judge=judge_latest_save_wins),
    ),
)
