"""``notebook``: the environment check, ``show_figure``'s guards, ``setup``, and the API summary."""

from __future__ import annotations

import pytest
from hypothesis import settings
from matplotlib.figure import Figure

from funcpipe_async import (
    COURSE_PROFILE,
    QueuePolicy,
    Simulation,
    api_summary,
    check_law,
    environment_report,
    figure_png,
    first_sentence,
    setup,
    show_figure,
)


def test_environment_report_rows_all_pass_here() -> None:
    rows = environment_report()
    failing = [row for row in rows if not row[1]]
    assert failing == []
    checks = [check for check, _, _ in rows]
    assert checks[0] == "Python 3.11 or newer"
    for name in ("jupyterlab", "ipykernel", "ipywidgets", "nest-asyncio", "hypothesis", "matplotlib", "nbval", "mypy"):
        assert f"{name} installed" in checks
    assert checks[-2:] == ["Hypothesis course profile", "matplotlib renders PNG"]
    assert all(isinstance(detail, str) and detail for _, _, detail in rows)


def test_environment_report_is_deterministic() -> None:
    assert environment_report() == environment_report()


def test_setup_loads_the_course_profile() -> None:
    setup()
    current = settings.default
    assert current is not None
    assert current.derandomize is True
    assert current.database is None
    assert current.deadline is None
    assert settings.get_profile(COURSE_PROFILE).derandomize is True


@pytest.mark.parametrize("not_a_figure", [None, "figure", b"\x89PNG"])
def test_show_figure_rejects_a_non_figure(not_a_figure: object) -> None:
    with pytest.raises(TypeError, match="matplotlib Figure"):
        show_figure(not_a_figure, alt="a figure")  # type: ignore[arg-type]


@pytest.mark.parametrize("alt", ["", "   \n"])
def test_show_figure_rejects_empty_alt_text(alt: str) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    with pytest.raises(ValueError, match="alt text"):
        show_figure(fig, alt=alt)


def test_show_figure_publishes_png_with_alt_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[tuple[dict[str, str], bool]] = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw=False: shown.append((data, raw)))
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    show_figure(fig, alt="a falling line")
    ((data, raw),) = shown
    assert raw is True
    assert data["text/plain"] == "[figure] a falling line"
    import base64

    assert base64.b64decode(data["image/png"]) == figure_png(fig)


def _documented() -> None:
    """Run :func:`~funcpipe_async.Simulation.run` with ``main``; e.g. 1.5 s. Then more."""


def _undocumented(x: int) -> int:
    return x


def test_first_sentence_is_one_plain_line() -> None:
    assert first_sentence(_documented) == "Run `run` with `main`; e.g. 1.5 s."
    assert first_sentence(_undocumented) == "(no docstring)"
    assert "\n" not in first_sentence(QueuePolicy) and first_sentence(QueuePolicy).endswith(".")


def test_api_summary_gives_name_signature_and_sentence_per_object() -> None:
    text = api_summary([QueuePolicy, Simulation.run])
    assert text.splitlines() == [
        "QueuePolicy(capacity: int | None = 8, overflow: Overflow = 'suspend') -> None",
        "    A queue's size and what it does when full, as data.",
        "Simulation.run(self, main: Any, *, cancel_leftovers: bool = False) -> Any",
        "    " + first_sentence(Simulation.run),
    ]


def test_api_summary_without_annotations_shows_defaults_by_name_and_no_address() -> None:
    (line, _) = api_summary([check_law], annotations=False).splitlines()
    assert line == "check_law(law, statement, strategy, sides, *, max_examples=100, same=_same)"
    assert "0x" not in api_summary([check_law])
