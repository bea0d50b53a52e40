"""Wrong answers for exercise 07, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task; ``FEEDBACK`` holds a substring of the
feedback the grader must give for it (see ``grading_fixtures/ex01.py``).
"""

from __future__ import annotations

T1 = "# Task 1 — Convert a blocking library's exceptions\n"
T2 = "# Task 2 — Give a connection a lifetime\n"
T3 = "# Task 3 — Write a contract clause with teeth\n"


def _fetch(
    call: str = "await asyncio.to_thread(client.stock, sku)",
    invalid: str = "InvalidSku",
    rate_retryable: str = "True",
    unavailable: str = "(ConnectionError, TimeoutError)",
    extra: str = "",
) -> str:
    return (
        T1
        + f"""
async def fetch_stock(client, sku):
    try:
        units = {call}
    except SkuNotFound as error:
        return Err(ErrInfo("NOT_FOUND", str(error)))
    except {invalid} as error:
        return Err(ErrInfo("INVALID_SKU", str(error)))
    except RateLimited as error:
        return Err(ErrInfo("RATE_LIMITED", str(error), retryable={rate_retryable}))
    except {unavailable} as error:
        return Err(ErrInfo("UNAVAILABLE", str(error), retryable=True))
{extra}    return Ok(units)
"""
    )


_STORE_CLASS = """
class InventoryStore:
    def __init__(self, connection):
        self._connection = connection

    def release(self):
        connection, self._connection = self._connection, None
        return connection

    async def stock(self, sku):
{stock}

"""

_GUARDED = """        if self._connection is None:
            raise RuntimeError("use the store inside `async with`")
        return await self._connection.stock(sku)"""


def _store(body: str, stock: str = _GUARDED) -> str:
    return (
        T2
        + _STORE_CLASS.format(stock=stock)
        + f"""@asynccontextmanager
async def open_inventory(warehouse):
{body}"""
    )


def _clause(body: str, head: str = "async def") -> str:
    return (
        T3
        + f"""
{head} latest_save_wins(store):
{body}"""
    )


MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "blocks the loop": _fetch(call="client.stock(sku)"),
        "except Exception": _fetch(
            extra="""    except Exception as error:
        return Err(ErrInfo("SDK_ERROR", str(error)))
"""
        ),
        "catches ValueError": _fetch(invalid="ValueError"),
        "rate limit not retryable": _fetch(rate_retryable="False"),
        "forgets TimeoutError": _fetch(unavailable="ConnectionError"),
        "borrows the grader's reference": T1
        + """
from funcpipe_async.grading.checks import ex07_async_adapters as grader


async def fetch_stock(client, sku):
    try:
        outcome = await asyncio.to_thread(client.stock, sku)
    except Exception as error:
        outcome = error
    answer = grader._stock_reference(outcome)
    if isinstance(answer, BaseException):
        raise answer
    return answer
""",
        "retries inside the adapter": T1
        + """
async def fetch_stock(client, sku):
    for attempt in range(3):
        try:
            return Ok(await asyncio.to_thread(client.stock, sku))
        except SkuNotFound as error:
            return Err(ErrInfo("NOT_FOUND", str(error)))
        except InvalidSku as error:
            return Err(ErrInfo("INVALID_SKU", str(error)))
        except RateLimited as error:
            last = Err(ErrInfo("RATE_LIMITED", str(error), retryable=True))
        except (ConnectionError, TimeoutError) as error:
            last = Err(ErrInfo("UNAVAILABLE", str(error), retryable=True))
    return last
""",
    },
    "t2": {
        "no finally": _store("""    store = InventoryStore(await warehouse.connect())
    yield store
    await store.release().close()
"""),
        "except Exception": _store("""    store = InventoryStore(await warehouse.connect())
    try:
        yield store
    except Exception:
        await store.release().close()
        raise
    else:
        await store.release().close()
"""),
        "swallows the exception": _store("""    store = InventoryStore(await warehouse.connect())
    try:
        yield store
    except BaseException:
        pass
    await store.release().close()
"""),
        "never releases": _store("""    connection = await warehouse.connect()
    try:
        yield InventoryStore(connection)
    finally:
        await connection.close()
"""),
        "no guard": _store(
            """    store = InventoryStore(await warehouse.connect())
    try:
        yield store
    finally:
        await store.release().close()
""",
            stock="        return await self._connection.stock(sku)",
        ),
        "connects twice": _store("""    store = InventoryStore(await warehouse.connect())
    store._connection = await warehouse.connect()
    try:
        yield store
    finally:
        await store.release().close()
"""),
    },
    "t3": {
        "one shape only": _clause("""    assert await store.save("other", {"v": "o"}) == Ok(None)
    assert await store.save("k", {"v": 1}) == Ok(None)
    assert await store.save("k", {"v": 2}) == Ok(None)
    assert await store.load("k") == Ok({"v": 2})
    assert await store.load("other") == Ok({"v": "o"})
"""),
        "ignores other keys": _clause("""    for record in [{"a": 1}, {"b": 2}, {"c": 3}]:
        assert await store.save("k", record) == Ok(None)
    assert await store.load("k") == Ok({"c": 3})
"""),
        "never loads": _clause("""    for record in [{"a": 1}, {"b": 2}, {"c": 3}]:
        assert await store.save("k", record) == Ok(None)
"""),
        "compares with tuples": _clause("""    assert await store.save("other", {"v": "o"}) == Ok(None)
    for record in [{"a": (1, 2)}, {"b": (2,)}, {"c": (3, 4)}]:
        assert await store.save("k", record) == Ok(None)
    assert await store.load("k") == Ok({"c": (3, 4)})
    assert await store.load("other") == Ok({"v": "o"})
"""),
        "not async": _clause(
            """    assert store is not None
""",
            head="def",
        ),
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "blocks the loop"): "blocked the event loop",
    ("t1", "except Exception"): "it is a defect (a bug) and must propagate unchanged",
    ("t1", "catches ValueError"): "raises ValueError returned Err",
    ("t1", "rate limit not retryable"): "RATE_LIMITED must have retryable=True",
    ("t1", "forgets TimeoutError"): "TimeoutError escaped the adapter",
    ("t1", "retries inside the adapter"): "retrying is the caller's policy",
    ("t1", "borrows the grader's reference"): "uses the grader's own reference answer",
    ("t2", "no finally"): "code after a bare `yield` never runs",
    ("t2", "except Exception"): "CancelledError is a BaseException",
    ("t2", "swallows the exception"): "the exception must propagate unchanged",
    ("t2", "never releases"): "reached the closed connection (ConnectionClosed)",
    ("t2", "no guard"): "it must raise RuntimeError",
    ("t2", "connects twice"): "opens exactly one connection on entry",
    ("t3", "one shape only"): "merges a new record into the old one",
    ("t3", "ignores other keys"): "forgets every other key",
    ("t3", "never loads"): "a wrong fake slipped through the contract",
    ("t3", "compares with tuples"): "your clause rejected FakeStorage",
    ("t3", "not async"): "must be an `async def` clause",
}
