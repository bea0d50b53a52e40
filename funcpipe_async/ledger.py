"""Every input accounted for exactly once: a pipeline of named steps that ends in a ledger.

A batch job that loses an item silently, or reports one twice, cannot be trusted however
fast it is.  :func:`account_for` describes running each input through the same named
steps (``fetch → validate → save``) with bounded concurrency, and turns the outcome of
every input into one :class:`Outcome`: **saved**, or **failed at a step with its
``ErrInfo``**.  One input's failure never stops the others (an input's plan always succeeds, with its
``Outcome`` as the value), so the ledger always has the whole batch::

    steps = [
        ("fetch",    lambda item: async_retry(fetch(item), policy)),
        ("validate", lambda body: async_from_result(validate(body))),
        ("save",     lambda record: async_retry(save(record), policy)),
    ]
    ledger = await account_for(ids, steps, concurrency=8)()   # in the shell
    assert ledger.problems(ids) == []

Invariants (``tests/test_ledger.py``):

* **exactly once** — the ledger has one outcome per input, in input order, so
  ``ledger.problems(inputs)`` is empty: nothing lost, nothing duplicated, nothing invented;
* **first failure wins** — an input that fails at a step is reported with that step's
  name and ``ErrInfo``, and no later step runs for it;
* **bounded** — at most ``concurrency`` inputs are in flight (it is ``async_gather``);
* **defects crash** — an exception inside a step is a bug, not an outcome: it propagates
  and cancels the rest, like everywhere else in the course.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from funcpipe_async.gather import async_gather
from funcpipe_async.plan import AsyncPlan, PlanTypeError, async_lift, async_map
from funcpipe_async.result import Err, ErrInfo, Ok, Result

__all__ = ["Step", "Outcome", "Ledger", "account_for"]

Step = tuple[str, Callable[[Any], AsyncPlan[Any]]]
"""A named step: ``(name, value -> plan of the next value)``; the first step receives the input."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one input: saved (``stage`` and ``error`` are ``None``) or failed at ``stage``."""

    item: str
    stage: str | None = None
    error: ErrInfo | None = None

    def __post_init__(self) -> None:
        if (self.stage is None) != (self.error is None):
            raise ValueError("an Outcome is either saved (no stage, no error) or failed (a stage and an ErrInfo)")

    @property
    def saved(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        if self.error is None:
            return f"{self.item}: saved"
        retry = ", retryable" if self.error.retryable else ""
        return f"{self.item}: failed at {self.stage} with {self.error.code}{retry}"


@dataclass(frozen=True)
class Ledger:
    """The outcomes of a batch, one per input, in input order."""

    outcomes: tuple[Outcome, ...]

    @property
    def saved(self) -> list[str]:
        return [o.item for o in self.outcomes if o.saved]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.saved]

    def problems(self, inputs: Iterable[str]) -> list[str]:
        """What breaks *exactly once* against ``inputs``: lost, duplicated or unexpected items."""
        wanted = Counter(inputs)
        seen = Counter(o.item for o in self.outcomes)
        found = []
        for item in sorted(set(wanted) | set(seen)):
            if seen[item] < wanted[item]:
                found.append(f"{item}: lost ({wanted[item]} in, {seen[item]} accounted for)")
            elif item not in wanted:
                found.append(f"{item}: accounted for but never an input")
            elif seen[item] > wanted[item]:
                found.append(f"{item}: accounted for {seen[item]} times")
        return found

    def counts(self) -> dict[str, int]:
        """How many inputs ended each way: ``saved``, then ``<stage>: <code>`` by count."""
        tally = Counter("saved" if o.error is None else f"{o.stage}: {o.error.code}" for o in self.outcomes)
        return {key: tally[key] for key in sorted(tally, key=lambda k: (k != "saved", -tally[k], k))}

    def table(self) -> str:
        """The counts as a text table, with the total (deterministic: for notebooks)."""
        rows = list(self.counts().items())
        width = max([len("outcome"), *(len(k) for k, _ in rows)])
        lines = [f"{'outcome':<{width}}  inputs", f"{'-' * width}  ------"]
        lines += [f"{key:<{width}}  {n:>6}" for key, n in rows]
        lines.append(f"{'total':<{width}}  {len(self.outcomes):>6}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Ledger({len(self.outcomes)} inputs: {len(self.saved)} saved, {len(self.failed)} failed)"


async def _through(item: str, steps: Sequence[Step]) -> Result[Outcome, ErrInfo]:
    value: Any = item
    for name, step in steps:
        plan = step(value)
        if not callable(plan):
            raise PlanTypeError(f"step {name!r} returned {type(plan).__name__}; a step returns an AsyncPlan")
        result = await plan()
        if isinstance(result, Err):
            return Ok(Outcome(item, name, result.error))
        if not isinstance(result, Ok):
            raise PlanTypeError(f"step {name!r} produced {result!r}; a plan must produce Ok(...) or Err(...)")
        value = result.value
    return Ok(Outcome(item))


def account_for(inputs: Iterable[str], steps: Sequence[Step], *, concurrency: int) -> AsyncPlan[Ledger]:
    """Describe running every input through ``steps``, at most ``concurrency`` at a time, into a ledger."""
    items = list(inputs)
    checked = list(steps)
    if not checked:
        raise ValueError("account_for needs at least one step")
    for step in checked:
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], str) and callable(step[1])):
            raise TypeError(f"a step is a (name, function) pair, got {step!r}")
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise TypeError(f"inputs are ids (str), got {bad[0]!r}")
    plans: list[AsyncPlan[Outcome]] = [async_lift(partial(_through, item, checked)) for item in items]
    return async_map(async_gather(plans, concurrency=concurrency), lambda outcomes: Ledger(tuple(outcomes)))
