"""Real adapters for the capability ports of ``funcpipe_async.ports``.

Each adapter wraps one concrete library and is the only place that knows it:

* :class:`~funcpipe_async.adapters.http.HttpxJsonClient` — ``HttpClientCap`` over
  ``httpx.AsyncClient`` (connection-pool limits, timeouts);
* :class:`~funcpipe_async.adapters.sqlite.SqliteStorage` — ``StorageCap`` over the standard
  library's blocking ``sqlite3``, run in worker threads with ``asyncio.to_thread``;
* :class:`~funcpipe_async.adapters.blocking.ThreadedEmbedder` — ``EmbeddingCap`` over any
  blocking ``text -> vector`` function.

The rules every adapter keeps (and ``tests/test_contract_*.py`` check against the fakes):
an **expected** failure of the outside world (a 503, a timeout, a dropped connection, a
locked database) comes back as ``Err(ErrInfo)`` whose ``retryable`` flag says whether trying
again could help; an exception is a **defect** (a bug) and propagates.  Resources live
exactly as long as an ``async with`` block: using an adapter outside one is a clear
``RuntimeError``, and leaving the block closes every connection.
"""

from __future__ import annotations

from funcpipe_async.adapters.blocking import ThreadedEmbedder
from funcpipe_async.adapters.http import HttpxJsonClient, classify_status, classify_transport_error
from funcpipe_async.adapters.sqlite import SqliteStorage

__all__ = [
    "HttpxJsonClient",
    "classify_status",
    "classify_transport_error",
    "SqliteStorage",
    "ThreadedEmbedder",
]
