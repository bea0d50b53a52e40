"""The registry of exercises: one module per exercise, found by the notebook's slug.

``exercises/01_async_await_as_descriptions.ipynb`` is checked by the module
``ex01_async_await_as_descriptions`` in this folder, which defines ``EXERCISE`` (an
:class:`~funcpipe_async.grading.spec.Exercise`).  Adding an exercise is adding one module
here and one solution notebook; nothing else needs registering.
"""

from __future__ import annotations

import importlib
import pkgutil

from funcpipe_async.grading.spec import Exercise

__all__ = ["load_exercise", "exercise_slugs", "UnknownExercise"]


class UnknownExercise(LookupError):
    """No checks module exists for this slug."""


def _module_name(slug: str) -> str:
    return f"{__name__}.ex{slug}"


def exercise_slugs() -> list[str]:
    """Every exercise that has checks, in lesson order."""
    return sorted(m.name[2:] for m in pkgutil.iter_modules(__path__) if m.name.startswith("ex"))


def load_exercise(slug: str) -> Exercise:
    """The exercise ``slug`` (``"01_async_await_as_descriptions"``), or :class:`UnknownExercise`."""
    if slug not in exercise_slugs():
        known = ", ".join(exercise_slugs())
        raise UnknownExercise(f"no exercise called {slug!r} (known: {known})")
    module = importlib.import_module(_module_name(slug))
    exercise = getattr(module, "EXERCISE", None)
    if not isinstance(exercise, Exercise) or exercise.slug != slug:
        raise UnknownExercise(f"{module.__name__} must define EXERCISE = Exercise(slug={slug!r}, ...)")
    return exercise
