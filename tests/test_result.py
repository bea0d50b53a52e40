"""``result``: Ok / Err / ErrInfo are frozen values that compare by value and match structurally."""

from __future__ import annotations

import dataclasses

import pytest

from funcpipe_async import Err, ErrInfo, Ok, Result


def _describe(result: Result[int, ErrInfo]) -> str:
    match result:
        case Ok(value=v):
            return f"ok {v}"
        case Err(error=ErrInfo(code=code)):
            return f"err {code}"
    raise AssertionError("unreachable")


def test_ok_err_errinfo_are_frozen() -> None:
    ok, err, info = Ok(1), Err(ErrInfo("X")), ErrInfo("X", "msg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ok.value = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        err.error = ErrInfo("Y")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.code = "Y"  # type: ignore[misc]
    assert ok == Ok(1) and err == Err(ErrInfo("X")) and info == ErrInfo("X", "msg")


def test_equality_is_by_value() -> None:
    assert Ok([1, 2]) == Ok([1, 2])
    assert Ok(1) != Ok(2)
    assert Ok(1) != Err(1)  # type: ignore[comparison-overlap]
    assert Err(ErrInfo("A", "m", retryable=True)) == Err(ErrInfo("A", "m", retryable=True))
    assert ErrInfo("A", "m", retryable=True) != ErrInfo("A", "m", retryable=False)
    assert ErrInfo("A", "m") != ErrInfo("A", "other")
    assert hash(Ok(1)) == hash(Ok(1))
    assert hash(ErrInfo("A")) == hash(ErrInfo("A"))


def test_errinfo_defaults() -> None:
    info = ErrInfo("HTTP_503")
    assert (info.code, info.message, info.retryable) == ("HTTP_503", "", False)


def test_results_work_with_match() -> None:
    assert _describe(Ok(3)) == "ok 3"
    assert _describe(Err(ErrInfo("NOT_FOUND"))) == "err NOT_FOUND"


@pytest.mark.parametrize("code", ["", None, 5])
def test_errinfo_rejects_empty_or_non_string_code(code: object) -> None:
    with pytest.raises(ValueError, match="code"):
        ErrInfo(code)  # type: ignore[arg-type]
