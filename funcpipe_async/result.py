"""Results as values: ``Ok``, ``Err`` and the ``ErrInfo`` an expected failure carries.

A step that can fail in an expected way (a 404, a validation error, a timeout) does not
raise: it returns ``Err(ErrInfo(...))``.  Exceptions are kept for defects — bugs that
should crash loudly.  Both constructors are frozen dataclasses, so they compare by value
and work with structural pattern matching::

    match result:
        case Ok(value=v):
            ...
        case Err(error=e):
            ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar, assert_never

__all__ = ["ErrInfo", "Ok", "Err", "Result", "assert_never"]

A = TypeVar("A", covariant=True)
E = TypeVar("E", covariant=True)


@dataclass(frozen=True, slots=True)
class ErrInfo:
    """What went wrong, as data.

    ``code`` is a short machine-readable tag (``"HTTP_503"``, ``"INVALID"``), ``message``
    is for people, and ``retryable`` says whether trying the same step again could
    succeed (a policy reads it; the step that failed decides it).
    """

    code: str
    message: str = ""
    retryable: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise ValueError(f"ErrInfo.code must be a non-empty string, got {self.code!r}")


@dataclass(frozen=True, slots=True)
class Ok(Generic[A]):
    """A success carrying ``value``."""

    value: A


@dataclass(frozen=True, slots=True)
class Err(Generic[E]):
    """An expected failure carrying ``error`` (an :class:`ErrInfo` throughout this course)."""

    error: E


Result: TypeAlias = Ok[A] | Err[E]
"""``Result[A, E]`` is either ``Ok[A]`` or ``Err[E]``; match on it, never on ``None``."""
