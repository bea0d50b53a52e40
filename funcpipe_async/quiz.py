"""Lesson quizzes: questions as data, an interactive widget, and an answer key for readers
without a kernel.

:meth:`Question.feedback` is the pure grading logic (tested in pytest);
:func:`quiz_widget` wraps it in ipywidgets for JupyterLab; :func:`answer_key_html` renders
the answers inside a collapsed ``<details>`` block, stored with the notebook so the answers
are readable on GitHub or in nbviewer.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Question", "quiz_widget", "answer_key_html"]


@dataclass(frozen=True)
class Question:
    """A multiple-choice question: ``options[answer]`` is right; ``why`` explains it."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    why: str

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError(f"a question needs at least two options: {self.prompt!r}")
        if not 0 <= self.answer < len(self.options):
            raise ValueError(
                f"answer index {self.answer} is out of range for {len(self.options)} options: {self.prompt!r}"
            )

    def feedback(self, choice: int | None) -> str:
        """What a learner who picked option ``choice`` (``None``: nothing yet) should read."""
        if choice is None:
            return "Pick an answer first."
        if not 0 <= choice < len(self.options):
            raise ValueError(f"choice {choice} is out of range for {len(self.options)} options")
        if choice == self.answer:
            return f"Correct. {self.why}"
        return f"Not quite: {self.options[choice]!r} is not it. Think again, or open the answer key."


def quiz_widget(questions: Sequence[Question]) -> Any:
    """An ipywidgets box: one set of radio buttons per question and a "Check" button each."""
    import ipywidgets as widgets

    boxes: list[Any] = []
    for number, question in enumerate(questions, start=1):
        radio = widgets.RadioButtons(options=list(question.options), value=None,
                                     layout=widgets.Layout(width="max-content"))
        result = widgets.HTML()
        button = widgets.Button(description="Check", button_style="primary")

        def on_click(_: Any, q: Question = question, r: Any = radio, out: Any = result) -> None:
            choice = None if r.value is None else q.options.index(r.value)
            out.value = f"<b>{html.escape(q.feedback(choice))}</b>"

        button.on_click(on_click)
        title = widgets.HTML(f"<b>{number}. {html.escape(question.prompt)}</b>")
        boxes.append(widgets.VBox([title, radio, widgets.HBox([button, result])]))
    return widgets.VBox(boxes)


def answer_key_html(questions: Sequence[Question]) -> str:
    """The answers in a collapsed ``<details>`` block (open it after you have tried)."""
    items = "".join(
        f"<li><b>{html.escape(q.prompt)}</b><br>→ {html.escape(q.options[q.answer])}"
        f"<br><i>{html.escape(q.why)}</i></li>"
        for q in questions
    )
    return f"<details><summary>Answer key (open after you have tried)</summary><ol>{items}</ol></details>"
