"""Lesson quizzes: questions as package data, an interactive widget, and an answer key for
readers without a kernel.

Each lesson's questions live in ``funcpipe_async/quizzes/NN_slug.json`` (shipped in the
wheel), not in the notebook, so a learner sees no answer before answering.  A lesson shows
only ``lesson_quiz("03")`` (the widget) and ``lesson_answer_key("03")`` (a collapsed ``<details>`` block,
stored with the notebook, so the answers are readable on GitHub or in nbviewer).

A data file is ``{"lesson": "03_backpressure", "questions": [...]}``; each question is
``{"prompt": str, "answer": int, "options": [{"text": str, "why": str}, ...]}``: the right
option's ``why`` says why it is right, every other option's ``why`` says why *that* option is
wrong.  Text between backticks is shown as code.

:meth:`Question.feedback` is the pure grading logic (tested in pytest); :func:`quiz_widget`
wraps it in ipywidgets for JupyterLab.  Right and wrong answers differ in colour (the
colour-blind-safe Okabe–Ito blue and vermillion), in symbol (✓ / ✗), in border style and in
words, so no one needs to tell the colours apart.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "Question",
    "quiz_widget",
    "answer_key_html",
    "load_quiz",
    "lesson_quiz",
    "lesson_answer_key",
    "quiz_lessons",
    "inline_code",
]

RIGHT_COLOUR = "#0072B2"  # Okabe–Ito blue
WRONG_COLOUR = "#D55E00"  # Okabe–Ito vermillion
_LETTERS = "ABCDEFGH"
_CODE = re.compile(r"`([^`]+)`")


def inline_code(text: str) -> str:
    """``text`` as HTML: escaped, with each `backticked` span as ``<code>``."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


@dataclass(frozen=True)
class Question:
    """A multiple-choice question: ``options[answer]`` is right and ``why`` explains it;
    ``reasons[i]`` (one per option, ``""`` for the answer) says why option ``i`` is wrong."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    why: str
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError(f"a question needs at least two options: {self.prompt!r}")
        if len(self.options) > len(_LETTERS):
            raise ValueError(f"a question has at most {len(_LETTERS)} options: {self.prompt!r}")
        if not 0 <= self.answer < len(self.options):
            raise ValueError(
                f"answer index {self.answer} is out of range for {len(self.options)} options: {self.prompt!r}"
            )
        if self.reasons:
            if len(self.reasons) != len(self.options):
                raise ValueError(
                    f"need one reason per option ({len(self.options)}), got {len(self.reasons)}: {self.prompt!r}"
                )
            missing = [_LETTERS[i] for i, r in enumerate(self.reasons) if i != self.answer and not r.strip()]
            if missing:
                raise ValueError(f"wrong option(s) {', '.join(missing)} have no reason: {self.prompt!r}")

    def feedback(self, choice: int | None) -> str:
        """What a learner who picked option ``choice`` (``None``: nothing yet) should read.
        A wrong choice gets its own reason and never the right answer."""
        if choice is None:
            return "Pick an answer first."
        if not 0 <= choice < len(self.options):
            raise ValueError(f"choice {choice} is out of range for {len(self.options)} options")
        if choice == self.answer:
            return f"✓ Correct. {self.why}"
        reason = self.reasons[choice] if self.reasons else f"{self.options[choice]!r} is not it."
        return f"✗ Not quite. {reason} Try another option, or open the answer key."

    def feedback_html(self, choice: int | None) -> str:
        """:meth:`feedback` as a styled block: blue, solid, ✓ when right; vermillion, dashed, ✗ when wrong."""
        text = self.feedback(choice)
        if choice is None:
            return f"<i>{html.escape(text)}</i>"
        right = choice == self.answer
        colour, border, verdict = (RIGHT_COLOUR, "solid", "right") if right else (WRONG_COLOUR, "dashed", "wrong")
        head, _, rest = text.partition(". ")
        return (
            f"<div class='funcpipe-quiz-{verdict}' style='border-left:6px {border} {colour};"
            f"padding:2px 8px;margin:2px 0;white-space:normal'>"
            f"<b style='color:{colour}'>{html.escape(head)}.</b> {inline_code(rest)}</div>"
        )


def quiz_lessons() -> list[str]:
    """The lessons that have a quiz, as ``NN_slug`` names."""
    folder = resources.files("funcpipe_async") / "quizzes"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_quiz(lesson: str) -> tuple[Question, ...]:
    """The questions of ``lesson`` (``"03"`` or ``"03_backpressure"``) from the package's data."""
    names = quiz_lessons()
    matches = [n for n in names if n == lesson or n.split("_", 1)[0] == lesson]
    if len(matches) != 1:
        raise ValueError(f"no quiz for lesson {lesson!r}; lessons with a quiz: {', '.join(names)}")
    data = json.loads((resources.files("funcpipe_async") / "quizzes" / f"{matches[0]}.json").read_text("utf-8"))
    questions = []
    for q in data["questions"]:
        options = tuple(str(o["text"]) for o in q["options"])
        answer = int(q["answer"])
        whys = tuple(str(o.get("why", "")) for o in q["options"])
        reasons = tuple("" if i == answer else w for i, w in enumerate(whys))
        questions.append(
            Question(str(q["prompt"]), options, answer, whys[answer] if 0 <= answer < len(whys) else "", reasons)
        )
    return tuple(questions)


def quiz_widget(questions: Sequence[Question]) -> Any:
    """An ipywidgets box: per question, the prompt, one lettered button per option beside the
    option's text (code shown as code), and the feedback for the option picked.  The answers
    and reasons stay in the kernel: nothing in the widgets' state gives them away."""
    import ipywidgets as widgets

    boxes: list[Any] = []
    for number, question in enumerate(questions, start=1):
        result = widgets.HTML()
        buttons = [
            widgets.Button(
                description=_LETTERS[i],
                tooltip=f"answer {_LETTERS[i]}",
                layout=widgets.Layout(width="4.5em", flex="0 0 auto"),
            )
            for i in range(len(question.options))
        ]

        def on_click(button: Any, q: Question = question, bs: list[Any] = buttons, out: Any = result) -> None:
            choice = bs.index(button)
            for i, b in enumerate(bs):
                b.description, b.style.button_color, b.style.text_color = _LETTERS[i], None, None
            button.description = _LETTERS[choice] + (" ✓" if choice == q.answer else " ✗")
            button.style.button_color = RIGHT_COLOUR if choice == q.answer else WRONG_COLOUR
            button.style.text_color = "white"
            out.value = q.feedback_html(choice)

        rows = []
        for button, option in zip(buttons, question.options):
            button.on_click(on_click)
            rows.append(
                widgets.HBox([button, widgets.HTML(inline_code(option))], layout=widgets.Layout(align_items="center"))
            )
        title = widgets.HTML(f"<b>{number}. {inline_code(question.prompt)}</b>")
        boxes.append(widgets.VBox([title, *rows, result], layout=widgets.Layout(margin="0 0 10px 0")))
    box = widgets.VBox(boxes)
    box.add_class("funcpipe-quiz")
    return box


def answer_key_html(questions: Sequence[Question]) -> str:
    """The answers in a collapsed ``<details>`` block (open it after you have tried): per
    question the right option and why, then why each other option is wrong."""
    items = []
    for q in questions:
        wrong = "".join(
            f"<li>{_LETTERS[i]}. {inline_code(o)} — {inline_code(q.reasons[i])}</li>"
            for i, o in enumerate(q.options)
            if i != q.answer and q.reasons
        )
        items.append(
            f"<li><b>{inline_code(q.prompt)}</b><br>→ {_LETTERS[q.answer]}. {inline_code(q.options[q.answer])}"
            f"<br><i>{inline_code(q.why)}</i>" + (f"<ul>{wrong}</ul>" if wrong else "") + "</li>"
        )
    return "<details><summary>Answer key (open after you have tried)</summary><ol>" + "".join(items) + "</ol></details>"


def lesson_quiz(lesson: str) -> Any:
    """The quiz widget for ``lesson`` (``"03"``), its questions loaded from the package."""
    return quiz_widget(load_quiz(lesson))


def lesson_answer_key(lesson: str) -> Any:
    """``lesson``'s answer key as a displayable HTML object (a collapsed ``<details>`` block)."""
    from IPython.display import HTML

    return HTML(answer_key_html(load_quiz(lesson)))  # type: ignore[no-untyped-call]
