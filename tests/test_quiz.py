"""``quiz``: questions as package data, feedback logic, the widget's buttons, and the answer key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from funcpipe_async import Question, answer_key_html, lesson_answer_key, lesson_quiz, load_quiz, quiz_widget
from funcpipe_async.quiz import RIGHT_COLOUR, WRONG_COLOUR, inline_code, quiz_lessons

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

Q1 = Question(
    "When does building an `AsyncPlan` perform its effects?",
    ("When it is built", "When it is driven", "Never"),
    1,
    "Building is description; only driving performs effects.",
    ("Building only describes.", "", "Driving performs them."),
)
Q2 = Question("Is <gather> bounded?", ("yes & always", "no"), 0, "A fixed pool of workers.")


# --- the data ------------------------------------------------------------------------------


def test_every_lesson_has_a_quiz_in_the_package() -> None:
    assert quiz_lessons() == LESSONS


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lessons_quiz_loads_with_a_reason_for_every_option(lesson: str) -> None:
    questions = load_quiz(lesson[:2])
    assert 3 <= len(questions) <= 8
    for q in questions:
        assert 0 <= q.answer < len(q.options)
        assert q.why.strip(), q.prompt
        assert len(q.reasons) == len(q.options)
        for i, reason in enumerate(q.reasons):
            if i != q.answer:
                assert len(reason.strip()) >= 15, (q.prompt, q.options[i])
                assert reason != q.why
        assert len(set(q.options)) == len(q.options), q.prompt
        for text in (q.prompt, *q.options, q.why, *q.reasons):
            assert text.count("`") % 2 == 0, f"unbalanced backticks: {text!r}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_notebook_shows_the_quiz_by_lesson_number_and_no_answers(lesson: str) -> None:
    cells = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert any(f'lesson_quiz("{lesson[:2]}")' in s for s in sources)
    assert any(f'lesson_answer_key("{lesson[:2]}")' in s for s in sources)
    everything = "\n".join(sources)
    assert "Question(" not in everything and "QUIZ" not in everything
    for q in load_quiz(lesson):
        assert q.why not in everything


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_answer_text_leaks_into_the_quiz_cells_stored_output(lesson: str) -> None:
    """Before answering, the widget's stored output (and the notebook's saved widget state)
    hold no explanation, no reason and no marker of which option is right."""
    notebook = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text())
    quiz_cell = next(
        c for c in notebook["cells"] if c["cell_type"] == "code" and "lesson_quiz(" in "".join(c["source"])
    )
    stored = json.dumps(quiz_cell.get("outputs", [])) + json.dumps(notebook["metadata"].get("widgets", {}))
    for q in load_quiz(lesson):
        for secret in (q.why, *[r for r in q.reasons if r]):
            assert json.dumps(secret)[1:-1] not in stored, secret
    assert "✓" not in stored and RIGHT_COLOUR not in stored


def test_no_answer_text_leaks_into_the_widgets_state_before_answering() -> None:
    for lesson in LESSONS:
        box = lesson_quiz(lesson[:2])
        state = json.dumps([w.get_state() for w in _all_widgets(box)], default=str, ensure_ascii=False)
        for q in load_quiz(lesson):
            for secret in (q.why, *[r for r in q.reasons if r]):
                assert secret not in state and inline_code(secret) not in state, secret


def test_an_unknown_lesson_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no quiz for lesson '99'; lessons with a quiz: 00_module_overview"):
        load_quiz("99")


def test_the_answer_key_of_a_lesson_is_a_collapsed_details_block() -> None:
    key = lesson_answer_key("03")
    assert key.data.startswith("<details><summary>") and "<details open" not in key.data


# --- one question --------------------------------------------------------------------------


def test_question_needs_at_least_two_options() -> None:
    with pytest.raises(ValueError, match="at least two options"):
        Question("p?", ("only",), 0, "why")


@pytest.mark.parametrize("answer", [-1, 3, 10])
def test_question_answer_must_index_an_option(answer: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Question("p?", ("a", "b", "c"), answer, "why")


def test_every_wrong_option_needs_a_reason_when_reasons_are_given() -> None:
    with pytest.raises(ValueError, match=r"wrong option\(s\) C have no reason"):
        Question("p?", ("a", "b", "c"), 0, "why", ("", "b is not it", " "))
    with pytest.raises(ValueError, match="one reason per option"):
        Question("p?", ("a", "b", "c"), 0, "why", ("", "b is not it"))


def test_feedback_for_the_correct_choice_explains_why() -> None:
    assert Q1.feedback(1) == "✓ Correct. Building is description; only driving performs effects."


def test_feedback_for_a_wrong_choice_gives_its_own_reason_without_the_answer() -> None:
    assert Q1.feedback(0) == "✗ Not quite. Building only describes. Try another option, or open the answer key."
    assert Q1.feedback(2).startswith("✗ Not quite. Driving performs them.")
    assert "When it is driven" not in Q1.feedback(0) and Q1.why not in Q1.feedback(0)


def test_feedback_without_reasons_names_the_choice() -> None:
    assert Q2.feedback(1) == "✗ Not quite. 'no' is not it. Try another option, or open the answer key."


def test_feedback_for_no_choice_asks_for_one() -> None:
    assert Q1.feedback(None) == "Pick an answer first."


@pytest.mark.parametrize("choice", [-1, 3])
def test_feedback_rejects_an_out_of_range_choice(choice: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Q1.feedback(choice)


def test_right_and_wrong_differ_in_colour_symbol_border_and_words() -> None:
    right, wrong = Q1.feedback_html(1), Q1.feedback_html(0)
    assert RIGHT_COLOUR in right and "solid" in right and "✓ Correct." in right
    assert WRONG_COLOUR in wrong and "dashed" in wrong and "✗ Not quite." in wrong
    assert RIGHT_COLOUR not in wrong and WRONG_COLOUR not in right


def test_backticks_become_escaped_code() -> None:
    assert inline_code("use `a < b` & `f()`") == "use <code>a &lt; b</code> &amp; <code>f()</code>"
    assert "<code>AsyncPlan</code>" in answer_key_html([Q1])


def test_answer_key_html_has_every_answer_and_reason_inside_details() -> None:
    text = answer_key_html([Q1, Q2])
    assert text.startswith("<details><summary>") and text.endswith("</details>")
    inside = text[len("<details>") : -len("</details>")]
    for q in (Q1, Q2):
        assert q.why in inside
    assert "B. When it is driven" in inside and "Building only describes." in inside
    assert "Is &lt;gather&gt; bounded?" in inside and "yes &amp; always" in inside  # escaped
    assert "<gather>" not in text
    assert len(re.findall(r"<li><b>", inside)) == 2


# --- the widget ----------------------------------------------------------------------------


def _all_widgets(widget: object) -> list[object]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += _all_widgets(child)
    return found


def test_quiz_widget_buttons_show_styled_feedback() -> None:
    box = quiz_widget([Q1, Q2])
    assert len(box.children) == 2
    title, *rows, result = box.children[0].children
    assert title.value == "<b>1. When does building an <code>AsyncPlan</code> perform its effects?</b>"
    buttons = [row.children[0] for row in rows]
    assert [b.description for b in buttons] == ["A", "B", "C"]
    assert [row.children[1].value for row in rows] == list(Q1.options)
    assert result.value == ""
    buttons[0].click()  # ipywidgets' own way to fire the on_click handlers
    assert "✗ Not quite." in result.value and "Building only describes." in result.value
    assert buttons[0].description == "A ✗" and buttons[0].style.button_color == WRONG_COLOUR
    buttons[1].click()
    assert "✓ Correct." in result.value and Q1.why in result.value
    assert buttons[0].description == "A" and buttons[0].style.button_color is None  # earlier pick cleared
    assert buttons[1].description == "B ✓" and buttons[1].style.button_color == RIGHT_COLOUR
    # the second question's widgets are independent of the first's
    assert box.children[1].children[-1].value == ""
    assert box.children[1].children[0].value == "<b>2. Is &lt;gather&gt; bounded?</b>"
