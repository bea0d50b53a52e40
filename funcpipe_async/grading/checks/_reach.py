"""Does a student's function reach the grader's own answer?  (Not an exercise: no ``ex`` prefix.)

A checks module holds the reference its judge compares with, and the worker imports that
module, so a submission could import the reference and call it under the task's name.
Where a task's answer is such a reference, the module's ``PROBES["reaches"]`` reports
which of them the student's function reaches — is one, names one in its code (attribute
access included), or uses a global bound to one, directly or through a helper defined
next to it — and the judge refuses the task with :func:`refuse`.  Honest detection, not a
wall: the probe runs in the worker, so only a submission that also forges the probes'
answers gets past it, and those have to compute the right answers.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from funcpipe_async.grading import kit
from funcpipe_async.grading.spec import Worker

__all__ = [
    "reaches",
    "prober",
    "refuse_borrowed",
    "ReferenceCalled",
    "guarding",
    "call_guarded",
    "refused",
    "trip",
]


class ReferenceCalled(BaseException):
    """Raised by a reference answer called while a probe runs the student's function."""


_CALLED: list[str] = []
"""Non-empty once a guarded reference was called (kept even if the student's code swallows the exception)."""


def trip() -> Any:
    """Record that a guarded reference was called, and refuse to answer."""
    _CALLED.append("called")
    raise ReferenceCalled


def _tripwire(*args: Any, **kwargs: Any) -> Any:
    # This code object runs as the guarded reference, with the *checks module's* globals: it may
    # name builtins only, so it reaches this module through the import system.
    return __import__("funcpipe_async.grading.checks._reach", fromlist=["trip"]).trip()


@contextmanager
def guarding(reference: Callable[..., Any]) -> Iterator[list[str]]:
    """While a probe runs the student's function, the checks module's ``reference`` answer (a
    public name, which the set-up cell's import makes reachable) raises instead of answering,
    under whatever name the student's code holds it; the list it yields says whether it was called.
    Once it was, what the block raises (the :class:`ReferenceCalled`, or the verdict it led to)
    is swallowed: the probe answers "reference" whatever the student's code did next.
    (The other way: :func:`reaches`, which reads the student's code instead of running it.)"""
    if not isinstance(reference, types.FunctionType):  # pragma: no cover - the references are plain functions
        raise TypeError(f"{reference!r} is not a plain function")
    code = reference.__code__
    _CALLED.clear()
    reference.__code__ = _tripwire.__code__
    try:
        yield _CALLED
    except (ReferenceCalled, Exception):
        if not _CALLED:
            raise
    finally:
        reference.__code__ = code


def call_guarded(
    reference: Callable[..., Any], name: str, fn: Callable[..., Any], *args: Any
) -> tuple[Any, BaseException | None] | None:
    """``fn(*args)`` — a student's pure function — with ``reference`` guarded: ``None`` when it
    called the reference, else ``(value, None)``, or ``(None, error)`` for the exception it
    raised (anything that is not an ``Exception``, such as ``SystemExit``, goes on up).  A
    stub's ``NotImplementedError`` is :func:`kit.not_done`."""
    with guarding(reference) as called:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except NotImplementedError:
            raise kit.not_done(name) from None
        except BaseException as error:  # noqa: BLE001 - a defect in student code is reported as data
            if not called and not isinstance(error, Exception):
                raise
            outcome = (None, error)
    return None if called else outcome


def refused(name: str, reference: str, task: str) -> str:
    """The feedback for a student function that calls the grader's own answer."""
    return (
        f"{name} calls {reference}, the grader's own answer (the exercise's checks module defines it to check "
        f"yours against): an answer computed by the grader earns no points — {task}"
    )


def reaches(fn: object, references: Mapping[str, object]) -> list[str]:
    """The names of ``references`` that ``fn`` reaches (see the module's docstring)."""
    found = {name for name, ref in references.items() if fn is ref}
    scope = getattr(fn, "__globals__", None)
    scope = scope if isinstance(scope, dict) else {}
    codes: list[object] = [getattr(fn, "__code__", None)]
    walked: set[int] = set()
    while codes and len(walked) < 2000:
        code = codes.pop()
        if not isinstance(code, types.CodeType) or id(code) in walked:
            continue
        walked.add(id(code))
        for name in code.co_names:
            if name in references:
                found.add(name)
            value = scope.get(name)
            found.update(ref_name for ref_name, ref in references.items() if value is ref)
            if isinstance(value, types.FunctionType) and value.__globals__ is scope:
                codes.append(value.__code__)  # a helper of the submission's: walk it too
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return sorted(found)


def prober(references: Mapping[str, Mapping[str, object]]) -> Callable[[Mapping[str, Any], Any], list[str]]:
    """``PROBES["reaches"]``: for the task function named in the payload, the references of
    ``references[name]`` it reaches."""

    def probe(ns: Mapping[str, Any], payload: Any) -> list[str]:
        name = str(payload)
        if name not in references:
            raise kit.CheckFailed(f"no such task function {name!r}")
        return reaches(kit.function(ns, name), references[name])

    return probe


def refuse_borrowed(worker: Worker, name: str) -> None:
    """Fail the task when the worker says the student's ``name`` reaches the grader's reference."""
    answer = worker.ask("reaches", name)
    if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
        raise kit.CheckFailed(kit.TAMPERED)
    if answer:
        raise kit.CheckFailed(
            f"{name} uses the grader's own reference answer ({', '.join(kit.show(a, 40) for a in answer)}), which "
            "the checks compare with: the task is to write it yourself, from the rules in the exercise"
        )
