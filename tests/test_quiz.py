"""``quiz``: questions as data, feedback logic, the widget's button, and the answer key."""

from __future__ import annotations

import pytest

from funcpipe_async import Question, answer_key_html, quiz_widget

Q1 = Question(
    "When does building an AsyncPlan perform its effects?",
    ("When it is built", "When it is driven", "Never"),
    1,
    "Building is description; only driving performs effects.",
)
Q2 = Question("Is <gather> bounded?", ("yes & always", "no"), 0, "A fixed pool of workers.")


def test_question_needs_at_least_two_options() -> None:
    with pytest.raises(ValueError, match="at least two options"):
        Question("p?", ("only",), 0, "why")


@pytest.mark.parametrize("answer", [-1, 3, 10])
def test_question_answer_must_index_an_option(answer: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Question("p?", ("a", "b", "c"), answer, "why")


def test_feedback_for_the_correct_choice_explains_why() -> None:
    assert Q1.feedback(1) == "Correct. Building is description; only driving performs effects."


def test_feedback_for_a_wrong_choice_names_it_without_the_answer() -> None:
    text = Q1.feedback(0)
    assert text == "Not quite: 'When it is built' is not it. Think again, or open the answer key."
    assert "When it is driven" not in text


def test_feedback_for_no_choice_asks_for_one() -> None:
    assert Q1.feedback(None) == "Pick an answer first."


@pytest.mark.parametrize("choice", [-1, 3])
def test_feedback_rejects_an_out_of_range_choice(choice: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Q1.feedback(choice)


def test_answer_key_html_has_every_answer_inside_details() -> None:
    text = answer_key_html([Q1, Q2])
    assert text.startswith("<details><summary>") and text.endswith("</details>")
    inside = text[len("<details>") : -len("</details>")]
    for q in (Q1, Q2):
        assert q.why in inside
    assert "When it is driven" in inside
    assert "Is &lt;gather&gt; bounded?" in inside and "yes &amp; always" in inside  # escaped
    assert "<gather>" not in text
    assert inside.count("<li>") == 2


def test_quiz_widget_check_button_shows_feedback() -> None:
    box = quiz_widget([Q1, Q2])
    assert len(box.children) == 2
    title, radio, row = box.children[1].children
    button, result = row.children
    assert "2. Is &lt;gather&gt; bounded?" in title.value
    assert list(radio.options) == ["yes & always", "no"] and radio.value is None
    assert result.value == ""
    button.click()  # ipywidgets' own way to fire the on_click handlers
    assert result.value == "<b>Pick an answer first.</b>"
    radio.value = "no"
    button.click()
    assert result.value == "<b>Not quite: &#x27;no&#x27; is not it. Think again, or open the answer key.</b>"
    radio.value = "yes & always"
    button.click()
    assert result.value == "<b>Correct. A fixed pool of workers.</b>"
    # the first question's widgets are independent of the second's
    first_result = box.children[0].children[2].children[1]
    assert first_result.value == ""
