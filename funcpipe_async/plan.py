"""``AsyncPlan``: asynchronous work as a pure, replayable description.

An ``AsyncPlan[A]`` is a zero-argument callable that returns a *fresh* awaitable of
``Result[A, ErrInfo]`` each time it is called — the async twin of Module 07's
``IOPlan[A] = () -> Result[A, ErrInfo]``.  Building a plan does nothing; calling it
creates a coroutine (still nothing has happened); awaiting that coroutine — driving the
plan, which only the shell does — performs the effects.

Laws (checked by :func:`funcpipe_async.check_monad_laws` and ``tests/test_plan_laws.py``),
where ``==`` means "drives to equal results":

* left identity   ``async_bind(async_pure(x), f) == f(x)``
* right identity  ``async_bind(m, async_pure) == m``
* associativity   ``async_bind(async_bind(m, f), g) == async_bind(m, lambda x: async_bind(f(x), g))``
* map via bind    ``async_map(m, f) == async_bind(m, lambda x: async_pure(f(x)))``

Invariants:

* **description purity** — ``async_pure``, ``async_bind``, ``async_map`` and ``async_lift``
  call nothing the caller gave them; effects happen only while a plan is driven.
* **replayability** — driving the same plan twice runs its effects twice, each time with
  fresh coroutines.
* **stack safety** — plans built here are data (``_Pure``, ``_Bind``, ``_Map``, ``_Lift``
  nodes) run by one loop with an explicit continuation stack, so a chain of 100,000 binds,
  nested either way, runs in constant Python stack and constant await depth; the cost
  per bind does not grow with the chain.

Expected failures short-circuit as ``Err``; an exception raised inside a step is a
defect and propagates unchanged.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = [
    "AsyncPlan",
    "async_pure",
    "async_fail",
    "async_from_result",
    "async_bind",
    "async_map",
    "async_lift",
    "async_settle",
    "PlanNode",
    "ReusedCoroutineError",
    "PlanTypeError",
]

A = TypeVar("A")
B = TypeVar("B")

AsyncPlan: TypeAlias = Callable[[], Awaitable[Result[A, ErrInfo]]]
"""A pure, replayable description of async work that eventually yields ``Result[A, ErrInfo]``."""


class ReusedCoroutineError(RuntimeError):
    """A plan's step handed back a coroutine that had already been started.

    Raised when ``async_lift`` is given ``lambda: coro`` for one shared coroutine object
    instead of a factory that creates a fresh coroutine on every call.
    """


class PlanTypeError(TypeError):
    """A plan or a step produced something of the wrong shape (not a plan, not a Result)."""


def _describe(obj: object) -> str:
    """A short, address-free name for a callable or value (used in reprs and errors)."""
    if isinstance(obj, PlanNode):
        return repr(obj)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(name, str):
        return name.replace(".<locals>", "")
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


class PlanNode(Generic[A]):
    """Base class of the plan nodes built by this module.

    Calling a node returns a fresh coroutine that interprets the node (and everything it
    binds to) with one iterative loop.  Nodes are immutable (each subclass is a frozen,
    slotted dataclass compared by identity); ``repr`` shows the structure, three levels
    deep, without memory addresses.
    """

    __slots__ = ()

    def __call__(self) -> Coroutine[Any, Any, Result[A, ErrInfo]]:
        return _interpret(self)

    def _repr(self, depth: int) -> str:  # pragma: no cover - overridden by every node
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._repr(3)


def _node_repr(obj: object, depth: int) -> str:
    if isinstance(obj, PlanNode):
        return obj._repr(depth) if depth > 0 else "…"
    return _describe(obj)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Pure(PlanNode[A]):
    result: Result[A, ErrInfo]

    def _repr(self, depth: int) -> str:
        match self.result:
            case Ok(value=v):
                return f"async_pure({v!r})"
            case Err(error=e):
                return f"async_fail({e!r})"
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Bind(PlanNode[B]):
    plan: AsyncPlan[Any]
    f: Callable[[Any], AsyncPlan[B]]

    def _repr(self, depth: int) -> str:
        return f"async_bind({_node_repr(self.plan, depth - 1)}, {_describe(self.f)})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Map(PlanNode[B]):
    plan: AsyncPlan[Any]
    f: Callable[[Any], B]

    def _repr(self, depth: int) -> str:
        return f"async_map({_node_repr(self.plan, depth - 1)}, {_describe(self.f)})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Lift(PlanNode[A]):
    make: Callable[[], Awaitable[Result[A, ErrInfo]]]

    def __call__(self) -> Coroutine[Any, Any, Result[A, ErrInfo]]:
        return _run_leaf(self.make)  # a lone leaf needs no continuation stack

    def _repr(self, depth: int) -> str:
        return f"async_lift({_describe(self.make)})"


def async_pure(value: A) -> AsyncPlan[A]:
    """A plan that succeeds with ``value`` and does nothing else."""
    return _Pure(Ok(value))


def async_fail(error: ErrInfo) -> AsyncPlan[Any]:
    """A plan that fails with ``Err(error)`` and does nothing else."""
    if not isinstance(error, ErrInfo):
        raise PlanTypeError(f"async_fail takes an ErrInfo, got {type(error).__name__}")
    return _Pure(Err(error))


def async_from_result(result: Result[A, ErrInfo]) -> AsyncPlan[A]:
    """A plan that yields an already-computed ``Result`` and does nothing else.

    This is how a pure, fallible step (validation, parsing) joins a chain of async steps.
    """
    if type(result) is not Ok and type(result) is not Err:
        raise PlanTypeError(f"async_from_result takes Ok(...) or Err(...), got {type(result).__name__}")
    return _Pure(result)


def async_bind(plan: AsyncPlan[A], f: Callable[[A], AsyncPlan[B]]) -> AsyncPlan[B]:
    """Sequence ``plan`` then the plan ``f`` builds from its value; an ``Err`` skips ``f``.

    O(1) to build: ``f`` is not called until the plan is driven and ``plan`` succeeds.
    """
    if not callable(plan):
        raise PlanTypeError(f"async_bind's first argument must be an AsyncPlan, got {type(plan).__name__}")
    if not callable(f):
        raise PlanTypeError(f"async_bind's second argument must be a function, got {type(f).__name__}")
    return _Bind(plan, f)


def async_map(plan: AsyncPlan[A], f: Callable[[A], B]) -> AsyncPlan[B]:
    """Transform the success value of ``plan`` with the pure function ``f``.

    Equal, when driven, to ``async_bind(plan, lambda x: async_pure(f(x)))``.
    """
    if not callable(plan):
        raise PlanTypeError(f"async_map's first argument must be an AsyncPlan, got {type(plan).__name__}")
    if not callable(f):
        raise PlanTypeError(f"async_map's second argument must be a function, got {type(f).__name__}")
    return _Map(plan, f)


def async_lift(make_coro: Callable[[], Awaitable[Result[A, ErrInfo]]]) -> AsyncPlan[A]:
    """Lift a zero-argument async capability call into a replayable plan.

    Precondition: ``make_coro`` returns a **fresh** coroutine on every call.

    * correct:   ``async_lift(lambda: http.get_json(url))``
    * incorrect: ``coro = http.get_json(url); async_lift(lambda: coro)`` — the second drive
      fails with :class:`ReusedCoroutineError`.
    """
    if inspect.isawaitable(make_coro):
        if inspect.iscoroutine(make_coro):
            make_coro.close()  # never awaited: close it so it does not warn later
        raise PlanTypeError(
            "async_lift takes a function that creates a coroutine, not a coroutine: "
            "write async_lift(lambda: cap.method(...))"
        )
    if not callable(make_coro):
        raise PlanTypeError(f"async_lift takes a zero-argument function, got {type(make_coro).__name__}")
    return _Lift(make_coro)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Settle(PlanNode[Result[A, ErrInfo]]):
    plan: AsyncPlan[A]

    def __call__(self) -> Coroutine[Any, Any, Result[Result[A, ErrInfo], ErrInfo]]:
        return _settle(self.plan)

    def _repr(self, depth: int) -> str:
        return f"async_settle({_node_repr(self.plan, depth - 1)})"


async def _settle(plan: AsyncPlan[A]) -> Result[Result[A, ErrInfo], ErrInfo]:
    outcome = await _fresh(plan)
    if type(outcome) is not Ok and type(outcome) is not Err:
        raise PlanTypeError(f"{_describe(plan)} produced {outcome!r}; a plan must produce Ok(...) or Err(...)")
    return Ok(outcome)


def async_settle(plan: AsyncPlan[A]) -> AsyncPlan[Result[A, ErrInfo]]:
    """Describe running ``plan`` and keeping its outcome, ``Ok`` or ``Err``, as the value.

    The settled plan always succeeds: ``Err(e)`` becomes ``Ok(Err(e))`` and ``Ok(x)``
    becomes ``Ok(Ok(x))``.  Use it when one failure must not stop the others — e.g.
    ``async_gather([async_settle(p) for p in plans], concurrency=n)`` runs every plan and
    returns every outcome in input order, where ``async_gather`` alone stops at the first
    ``Err``.  Exceptions (defects) and cancellation still propagate.
    """
    if not callable(plan):
        raise PlanTypeError(f"async_settle takes an AsyncPlan, got {type(plan).__name__}")
    return _Settle(plan)


async def _run_leaf(make: Callable[[], Awaitable[Any]]) -> Any:
    """Drive one lifted call: what ``_interpret`` does for a plan that is a single leaf."""
    result = await _fresh(make)
    if type(result) is not Ok and type(result) is not Err:
        raise _not_a_result(make, result)
    return result


def _not_a_result(make: object, result: object) -> PlanTypeError:
    return PlanTypeError(f"{_describe(make)} produced {result!r}; a plan must produce Ok(...) or Err(...)")


_Coroutine = types.CoroutineType


def _fresh(make: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    """``make()``, checked: a fresh awaitable (never a coroutine that already ran).

    Synchronous, so awaiting ``_fresh(make)`` adds no coroutine frame to a leaf.  The common
    case — a coroutine just created — is three attribute reads (``inspect.getcoroutinestate``
    inlined); anything else takes the slow path."""
    awaitable = make()
    if type(awaitable) is _Coroutine and not (
        awaitable.cr_running or awaitable.cr_suspended or awaitable.cr_frame is None
    ):
        return awaitable
    return _fresh_slow(make, awaitable)


def _reused(make: object) -> ReusedCoroutineError:
    return ReusedCoroutineError(
        f"{_describe(make)} returned a coroutine that was already started; an AsyncPlan "
        "must create a fresh coroutine each time it is driven — lift a factory such as "
        "`lambda: cap.method(...)`, not one shared coroutine object"
    )


def _fresh_slow(make: Callable[[], Awaitable[Any]], awaitable: object) -> Awaitable[Any]:
    if inspect.iscoroutine(awaitable):  # a coroutine that is not fresh
        raise _reused(make)
    if not inspect.isawaitable(awaitable):
        raise PlanTypeError(
            f"{_describe(make)} returned {type(awaitable).__name__}, not an awaitable; "
            "an AsyncPlan is a function returning a fresh coroutine"
        )
    return awaitable


async def _interpret(root: PlanNode[A]) -> Result[A, ErrInfo]:
    """Run a plan with one loop and an explicit stack of pending binds and maps (stack-safe).

    The stack holds the ``_Bind`` / ``_Map`` nodes themselves (no per-step allocation); the
    loop descends to the innermost plan, runs it, then unwinds the stack, switching back to
    descending whenever a bind's function returns a new plan.
    """
    stack: list[Any] = []
    current: Any = root
    while True:
        # Descend through binds and maps, remembering each node to apply on the way back.
        kind = type(current)
        while kind is _Bind or kind is _Map:
            stack.append(current)
            current = current.plan
            kind = type(current)
        if kind is _Pure:
            result: Any = current.result
        else:
            if kind is _Lift:
                make = current.make
            elif callable(current):
                make = current
            else:
                if inspect.iscoroutine(current):
                    current.close()  # never awaited: close it so it does not warn later
                    raise PlanTypeError(
                        "a function given to async_bind returned a coroutine; it must return an "
                        "AsyncPlan: wrap the call, async_lift(lambda: cap.method(...))"
                    )
                raise PlanTypeError(
                    f"a function given to async_bind returned {type(current).__name__}; "
                    "it must return an AsyncPlan (for a plain value, wrap it: async_pure(x))"
                )
            result = await _fresh(make)
            if type(result) is not Ok and type(result) is not Err:
                raise _not_a_result(make, result)
        # Unwind: apply maps in place; a bind's function hands back the next plan to run.
        while True:
            if not stack:
                return result  # type: ignore[no-any-return]
            if type(result) is Err:  # an Err skips every remaining bind and map
                return result
            node = stack.pop()
            if type(node) is _Map:
                result = Ok(node.f(result.value))
            else:
                current = node.f(result.value)
                break
