"""``tools/browser_check.py``'s parts that need no browser: judging cell errors, the demo list,
and the JupyterLab server it starts — bound to 127.0.0.1, token-protected, and gone afterwards.

The browser half runs as its own step of ``make test`` (it needs Chromium), including a self-test
that an unwired slider is reported."""

from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from course_tools import load_tool

ROOT = Path(__file__).resolve().parents[1]


browser_check = load_tool("browser_check")


def _cell(source: str, *, tags: list[str] | None = None, errors: list[str] | None = None) -> dict[str, object]:
    return {"source": source, "tags": tags or [], "errors": errors or [], "count": 1}


def test_errors_only_in_raises_exception_cells_are_counted() -> None:
    cells = [_cell("x = 1"), _cell("assert False", tags=["raises-exception"], errors=["AssertionError: "])]
    assert browser_check.check_errors(cells) == 1


def test_an_error_in_an_untagged_cell_fails_and_names_the_cell() -> None:
    cells = [_cell("x = 1"), _cell("import missing\n", errors=["ModuleNotFoundError: No module named 'missing'"])]
    with pytest.raises(browser_check.CheckError, match=r"code cell 2 \('import missing'\) raised ModuleNotFoundError"):
        browser_check.check_errors(cells)


def test_a_tagged_cell_that_raises_nothing_fails() -> None:
    cells = [_cell("assert True", tags=["raises-exception"])]
    with pytest.raises(browser_check.CheckError, match="tagged raises-exception but raised nothing"):
        browser_check.check_errors(cells)


def test_the_checked_demos_are_the_cells_tagged_instructor_demo() -> None:
    """The browser checks exactly the demo cells INSTRUCTORS.md lists (they carry the tag)."""
    tagged = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "instructor-demo" in cell.get("metadata", {}).get("tags", []):
                tagged[f"notebooks/{path.name}"] = "".join(cell["source"])
    assert sorted(tagged) == sorted(demo.notebook for demo in browser_check.DEMOS)
    instructors = (ROOT / "INSTRUCTORS.md").read_text()
    for demo in browser_check.DEMOS:
        assert demo.call in tagged[demo.notebook], demo
        assert demo.notebook.removeprefix("notebooks/") in instructors


def test_cells_must_run_once_each_in_order() -> None:
    cells = [_cell("a"), _cell("b"), _cell("c")]
    for cell, count in zip(cells, (1, 2, 3)):
        cell["count"] = count
    browser_check.check_ran_in_order(cells)
    for counts in [(1, 2, None), (1, 3, 4), (2, 1, 3), (5, 6, 7)]:  # one never ran · skipped · order · stale
        for cell, count in zip(cells, counts):
            cell["count"] = count
        with pytest.raises(browser_check.CheckError, match="did not run once each, in order"):
            browser_check.check_ran_in_order(cells)


def test_every_demo_names_a_slider_the_package_draws() -> None:
    from funcpipe_async.demos.backpressure import backpressure_demo
    from funcpipe_async.demos.fairness import fairness_demo

    def labels(widget: Any) -> set[str]:
        found = {widget.description} if type(widget).__name__.endswith("Slider") else set()
        for child in getattr(widget, "children", ()):
            found |= labels(child)
        return found

    drawn = {"backpressure_demo(": labels(backpressure_demo()), "fairness_demo(": labels(fairness_demo())}
    assert [demo.slider in drawn[demo.call] for demo in browser_check.DEMOS] == [True, True]


def test_the_self_tests_are_valid_notebooks_each_broken_in_one_way() -> None:
    import nbformat

    unwired, js_error, tall, small_text = browser_check.SELF_TESTS
    for test in browser_check.SELF_TESTS:
        notebook = nbformat.reads(browser_check.self_test_notebook(test.source), as_version=4)
        nbformat.validate(notebook)
        assert browser_check.SELF_TEST_DEMO.call in notebook.cells[0].source
    assert "observe" not in unwired.source and "console.error" not in unwired.source
    assert "observe" in js_error.source and "console.error" in js_error.source
    for test in (tall, small_text):
        assert "observe" in test.source and "demo_png" in test.source and "console.error" not in test.source
    assert "figsize=(6, 9)" in tall.source and "VBox([slider, image])" in tall.source
    assert (
        "labelsize=6" in small_text.source
        and "labelsize=12" not in small_text.source
        and "HBox([slider, image])" in small_text.source
    )


SCREEN = {"x": 40.0, "y": 90.0, "width": 1200.0, "height": 600.0}


def _box(x: float, y: float, width: float, height: float) -> dict[str, float]:
    return {"x": x, "y": y, "width": width, "height": height}


def test_a_demo_that_fits_the_projector_passes_and_says_so() -> None:
    said = browser_check.judge_projector(
        _box(500, 100, 720, 400), [_box(180, 100, 300, 28)], SCREEN, natural_width=720, min_text_png_px=15.28
    )
    assert said == (
        "at 1280×720 in Presentation Mode the figure (720×400 px, shown 1:1) and 1 controls are on "
        "screen, smallest chart text 15.3 px"
    )


@pytest.mark.parametrize(
    ("figure", "controls", "natural", "text", "words"),
    [
        (_box(180, 160, 720, 560), [_box(180, 100, 300, 28)], 720, 15.0, "outside: the figure"),  # below the fold
        (_box(500, 100, 720, 400), [_box(180, 700, 300, 28)], 720, 15.0, "outside: control 1"),
        (None, [_box(180, 100, 300, 28)], 720, 15.0, "outside: the figure"),
        (_box(500, 100, 720, 400), [], 720, 15.0, "no sliders found"),
        (_box(500, 100, 720, 400), [_box(180, 100, 300, 28)], 900, 15.0, "scaled"),  # soft
        (_box(500, 100, 720, 400), [_box(180, 100, 300, 28)], 720, None, "does not say how large"),
        (_box(500, 100, 720, 400), [_box(180, 100, 300, 28)], 720, 12.5, "smaller than 14 px"),
    ],
)
def test_a_demo_that_does_not_fit_the_projector_fails_for_the_reason(
    figure: dict[str, float] | None, controls: list[dict[str, float]], natural: float, text: float | None, words: str
) -> None:
    with pytest.raises(browser_check.CheckError, match=words):
        browser_check.judge_projector(figure, controls, SCREEN, natural_width=natural, min_text_png_px=text)


def test_the_landing_page_is_the_one_make_lab_opens(tmp_path: Path) -> None:
    assert browser_check.make_lab_landing() == "/lab/tree/notebooks/00_module_overview.ipynb"
    other = tmp_path / "Makefile"
    other.write_text("lab:\n\tjupyter lab --LabApp.default_url=/lab/tree/notebooks/03_backpressure.ipynb\n")
    with pytest.raises(browser_check.CheckError, match="not /lab/tree/notebooks/00_module_overview.ipynb"):
        browser_check.make_lab_landing(other)
    other.write_text("lab:\n\tjupyter lab\n")
    with pytest.raises(browser_check.CheckError, match="expected one --LabApp.default_url"):
        browser_check.make_lab_landing(other)


def test_instructors_md_names_jupyterlab_46s_presentation_mode_menu_path() -> None:
    instructors = (ROOT / "INSTRUCTORS.md").read_text()
    assert " ▸ ".join(browser_check.PRESENTATION_MENU) in instructors
    assert "View ▸ Presentation Mode" not in instructors


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_server_is_local_token_protected_and_gone_afterwards() -> None:
    notebook = browser_check.self_test_notebook("1 + 1")
    with pytest.raises(RuntimeError, match="the body failed"):
        with browser_check.jupyter_lab({"x.ipynb": notebook}, bin_dir=Path(sys.executable).parent) as lab:
            server = psutil.Process(lab.pid)
            addresses = {c.laddr.ip for c in server.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
            assert addresses == {"127.0.0.1"}
            with pytest.raises(urllib.error.HTTPError) as refused:  # no token, no notebook
                urllib.request.urlopen(f"http://127.0.0.1:{lab.port}/api/contents/x.ipynb", timeout=10)
            refused.value.close()  # the error carries the open response
            assert refused.value.code == 403
            with urllib.request.urlopen(lab.url("/api/contents/x.ipynb"), timeout=10) as reply:
                assert json.load(reply)["name"] == "x.ipynb"
            request = urllib.request.Request(lab.url("/api/kernels"), data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=30) as reply:
                assert json.load(reply)["name"]
            processes = [server, *server.children(recursive=True)]
            assert len(processes) >= 2  # the server and the kernel it started
            work = lab.root.parent
            raise RuntimeError("the body failed")
    gone, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    assert not _listening(lab.port)
    assert not work.exists()
