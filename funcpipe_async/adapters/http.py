"""``HttpClientCap`` over ``httpx.AsyncClient``: the HTTP boundary of the course.

httpx is the ecosystem's async HTTP client (it is also what JupyterLab itself depends on),
with explicit connection-pool limits and per-phase timeouts.  This adapter is the one place
that imports it.  What it guarantees:

* **The boundary converts.**  Every expected failure becomes ``Err(ErrInfo)``, classified by
  :func:`classify_status` and :func:`classify_transport_error`:

  ============================================  ======================  ==========
  what happened                                 ``ErrInfo.code``        retryable
  ============================================  ======================  ==========
  2xx with a JSON object body                   — (``Ok(body)``)        —
  2xx whose body is not a JSON object           ``BAD_JSON``            no
  404, 400, 401, 403, … (the request is wrong)  ``HTTP_<status>``       no
  408, 425, 429, 500, 502, 503, 504             ``HTTP_<status>``       yes
  a timeout (connect, read, write)              ``HTTP_TIMEOUT``        yes
  no free connection in the pool in time        ``HTTP_POOL_TIMEOUT``   yes
  refused / reset / dropped connection          ``HTTP_CONNECTION``     yes
  a malformed or unsupported URL                ``HTTP_BAD_URL``        no
  ============================================  ======================  ==========

  Anything else is a defect and propagates; so does cancellation.
* **Resources have a lifetime.**  The client exists only inside ``async with
  HttpxJsonClient(...) as http:``; leaving the block closes the pool and every socket.
  Calling :meth:`get_json` outside the block raises ``RuntimeError`` (a bug in the shell,
  not a failure of the world).
* **Bounded.**  At most ``max_connections`` sockets are open at once; a request waits up to
  ``timeout`` seconds for a free one, then fails with ``HTTP_POOL_TIMEOUT``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["HttpxJsonClient", "classify_status", "classify_transport_error"]

_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def classify_status(status: int, reason: str = "") -> ErrInfo:
    """The ``ErrInfo`` for a non-2xx ``status``: retryable when the same request may later succeed."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"classify_status needs an HTTP status code (100–599), got {status!r}")
    if 200 <= status < 300:
        raise ValueError(f"status {status} is a success, not an error")
    message = f"{status} {reason}".strip()
    return ErrInfo(f"HTTP_{status}", message, retryable=status in _RETRYABLE_STATUSES)


def classify_transport_error(error: httpx.TransportError) -> ErrInfo:
    """The ``ErrInfo`` for an httpx transport failure (the request never got an answer)."""
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, httpx.PoolTimeout):
        return ErrInfo("HTTP_POOL_TIMEOUT", f"no free connection in the pool ({detail})", retryable=True)
    if isinstance(error, httpx.TimeoutException):
        return ErrInfo("HTTP_TIMEOUT", detail, retryable=True)
    if isinstance(error, httpx.UnsupportedProtocol):
        return ErrInfo("HTTP_BAD_URL", detail, retryable=False)
    return ErrInfo("HTTP_CONNECTION", detail, retryable=True)


class HttpxJsonClient:
    """Fetch JSON objects over HTTP with a bounded connection pool (see the module docstring).

    ``base_url`` is prefixed to every path (``get_json("/items/7")``); ``max_connections``
    bounds the pool; ``timeout`` (seconds) applies to connecting, reading, writing and
    waiting for a pooled connection.  ``transport`` is for tests (e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str = "",
        *,
        max_connections: int = 10,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections must be a positive int, got {max_connections!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.base_url = base_url
        self.max_connections = max_connections
        self.timeout = float(timeout)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self.requests = 0

    async def __aenter__(self) -> HttpxJsonClient:
        if self._client is not None or self._closed:
            raise RuntimeError("an HttpxJsonClient is entered once: make a new one for each `async with`")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            limits=httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections),
            timeout=httpx.Timeout(self.timeout),
            transport=self._transport,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool and every socket (idempotent)."""
        client, self._client, self._closed = self._client, None, True
        if client is not None:
            await client.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    async def get_json(self, url: str) -> Result[Mapping[str, Any], ErrInfo]:
        """``GET url`` and return its JSON object, or the classified ``Err``."""
        client = self._client
        if client is None:
            state = "was closed" if self._closed else "is not open"
            raise RuntimeError(
                f"this HttpxJsonClient {state}: call get_json inside `async with HttpxJsonClient(...) as http:`"
            )
        self.requests += 1
        try:
            response = await client.get(url)
        except httpx.InvalidURL as error:
            return Err(ErrInfo("HTTP_BAD_URL", f"InvalidURL: {error}", retryable=False))
        except httpx.TransportError as error:
            return Err(classify_transport_error(error))
        if not response.is_success:
            return Err(classify_status(response.status_code, response.reason_phrase))
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return Err(ErrInfo("BAD_JSON", f"GET {url}: the body is not JSON ({error.__class__.__name__})"))
        if not isinstance(body, dict):
            return Err(ErrInfo("BAD_JSON", f"GET {url}: expected a JSON object, got {type(body).__name__}"))
        return Ok(body)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._client is not None else "not entered")
        return (
            f"HttpxJsonClient({self.base_url!r}, max_connections={self.max_connections}, "
            f"timeout={self.timeout:g}, {state})"
        )
