"""The judge ↔ worker wire: length-prefixed JSON messages, and the course's values as JSON.

The judge (:mod:`funcpipe_async.grading._judge`) and the worker that runs a student's code
(:mod:`funcpipe_async.grading._worker`) talk over two dedicated pipes, never stdout.  Each
message is a 4-byte big-endian length and that many bytes of UTF-8 JSON.  The judge reads
with a deadline and a size limit and only ever *parses* what it receives: nothing from the
worker is executed, unpickled or imported.  A message that is too big, late, truncated,
not JSON or nested too deeply is a :class:`ProtocolError`, which the judge turns into a
failed task.

:func:`encode` / :func:`decode` carry the values probes report — plain JSON, tuples, dicts
with any plain keys, ``Ok`` / ``Err`` / ``ErrInfo`` — so the judge can compare them with
its own reference.  Anything else is carried as its type name and a short ``repr`` and is
never equal to a reference value.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any

from funcpipe_async.result import Err, ErrInfo, Ok

__all__ = ["MAX_MESSAGE", "ProtocolError", "Opaque", "send", "receive", "encode", "decode"]

MAX_MESSAGE = 4_000_000
"""Bytes one message may hold."""

_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message in time."""


@dataclass(frozen=True)
class Opaque:
    """A value the wire cannot carry faithfully: its type's name and a short ``repr``."""

    type: str
    text: str

    def __repr__(self) -> str:
        return self.text


def send(fd: int, message: Any) -> None:
    """Write one message to ``fd`` (blocking)."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"a message of {len(data):,} bytes is more than the {MAX_MESSAGE:,} allowed")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError("no complete message before the deadline")
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ProtocolError(
                "the other side closed the channel" + (" mid-message" if chunks or left != size else "")
            )
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> Any:
    """Read one message from ``fd``; :class:`TimeoutError` after ``deadline`` (``time.monotonic``)."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"a message of {size:,} bytes is more than the {MAX_MESSAGE:,} allowed")
    data = _read_exactly(fd, size, deadline)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, huge ints, deep nesting
        raise ProtocolError(f"not a JSON message ({type(error).__name__})") from None


def _short_repr(value: object, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - a student's __repr__ may raise
        text = f"<{type(value).__name__} whose repr raised {type(error).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON data (see the module's docstring); deep or odd values become opaque."""
    if depth > 50:
        return {"$": "opaque", "type": type(value).__name__, "text": "<nested too deeply>"}
    kind = type(value)
    if value is None or kind in (bool, str, float):
        return value
    if kind is int:
        return value if abs(value) < 10**300 else {"$": "opaque", "type": "int", "text": "<a huge int>"}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind is tuple:
        return {"$": "tuple", "items": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        return {"$": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if kind is Ok:
        return {"$": "ok", "value": encode(value.value, depth + 1)}
    if kind is Err:
        return {"$": "err", "error": encode(value.error, depth + 1)}
    if kind is ErrInfo:
        return {
            "$": "errinfo",
            "code": encode(value.code, depth + 1),
            "message": encode(value.message, depth + 1),
            "retryable": encode(value.retryable, depth + 1),
        }
    return {"$": "opaque", "type": kind.__name__, "text": _short_repr(value)}


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return Opaque(type(value).__name__, _short_repr(value))
    return value


def decode(data: Any) -> Any:
    """The value :func:`encode` described (the judge's side: builds only plain data and course values)."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise ProtocolError("not an encoded value")
    tag = data.get("$")
    if tag == "tuple":
        return tuple(decode(v) for v in _items(data))
    if tag == "dict":
        pairs = _items(data)
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise ProtocolError("a dict's items are pairs")
        return {_hashable(decode(k)): decode(v) for k, v in pairs}
    if tag == "ok":
        return Ok(decode(data.get("value")))
    if tag == "err":
        return Err(decode(data.get("error")))
    if tag == "errinfo":
        code, message, retryable = decode(data.get("code")), decode(data.get("message")), decode(data.get("retryable"))
        return ErrInfo(code, message, retryable)
    if tag == "opaque":
        return Opaque(str(data.get("type"))[:100], str(data.get("text"))[:200])
    raise ProtocolError(f"unknown value tag {str(tag)[:40]!r}")


def _items(data: dict[str, Any]) -> list[Any]:
    items = data.get("items")
    if not isinstance(items, list):
        raise ProtocolError("an encoded container needs a list of items")
    return items
