"""The notebook rules of CONTRIBUTING.md, checked on every committed notebook.

nbval proves a notebook's stored outputs match a fresh run; these tests prove the stored
notebook is one nbval can say something about (executed, no stderr, reasons on ignored
cells) and that a reader can follow it (navigation lines, no dead links).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "notebooks/further", "solutions", "exercises")
NOTEBOOKS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))
EXECUTED = [p for p in NOTEBOOKS if p.parent.name != "exercises"]
EXERCISES = [p for p in NOTEBOOKS if p.parent.name == "exercises"]
LESSONS = [p for p in NOTEBOOKS if p.parent.name == "notebooks"]
ANSI = re.compile(r"\x1b\[")
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Where a path of the machine that executed a notebook would show: the checkout, home, temp and
# interpreter folders (the checkout's own absolute path first, whatever it is).
ABSOLUTE_PATH = re.compile(
    re.escape(str(ROOT)) + r"|/(?:work|tmp|root|home|Users|opt|usr|var)/|~/|site-packages|\.venv/|python3\.\d+/"
)
# An IPython frame outside the notebook that still names a line: "File <path>:<line>, in f(...)".
LIBRARY_LINE = re.compile(r"^File [^\n]*:\d+, in ", re.MULTILINE)

sys.path.insert(0, str(ROOT / "tools"))
import lesson_sources  # noqa: E402

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _cells(path: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return cells


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _tags(cell: dict[str, Any]) -> list[str]:
    tags: list[str] = cell.get("metadata", {}).get("tags", [])
    return tags


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_are_lesson_notebooks() -> None:
    assert (ROOT / "notebooks" / "00_module_overview.ipynb") in LESSONS
    assert len(LESSONS) >= 2


@pytest.mark.parametrize("path", EXECUTED, ids=_id)
def test_every_code_cell_is_stored_executed(path: Path) -> None:
    unexecuted = [
        _source(c).splitlines()[0]
        for c in _cells(path)
        if c["cell_type"] == "code" and _source(c).strip() and c.get("execution_count") is None
    ]
    assert not unexecuted, f"{_id(path)}: cells saved without running (nbval skips them): {unexecuted}"


@pytest.mark.parametrize("path", EXERCISES, ids=_id)
def test_student_versions_are_stored_unexecuted(path: Path) -> None:
    """A student opens a clean exercise: no counts, no outputs (nbval runs it without comparing)."""
    ran = [
        _source(c).splitlines()[0]
        for c in _cells(path)
        if c["cell_type"] == "code" and (c.get("execution_count") is not None or c.get("outputs"))
    ]
    assert not ran, f"{_id(path)}: cells stored with outputs or counts: {ran}"


def _texts(cell: dict[str, Any]) -> list[str]:
    """Every text a cell's outputs store: streams, text mimetypes, error messages and tracebacks."""
    texts = []
    for out in cell.get("outputs", []):
        texts.append("".join(out.get("text", "")))
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/") or mime.endswith("json"):
                texts.append(value if isinstance(value, str) else json.dumps(value))
        texts.extend([out.get("evalue", ""), *out.get("traceback", [])])
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_outputs_carry_no_ansi_escapes(path: Path) -> None:
    for cell in _cells(path):
        bad = [t for t in _texts(cell) if ANSI.search(t)]
        assert not bad, f"{_id(path)}: an output holds ANSI colour codes: {bad[0][:80]!r} (make notebooks strips them)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_outputs_carry_no_absolute_paths(path: Path) -> None:
    for cell in _cells(path):
        for text in _texts(cell):
            found = ABSOLUTE_PATH.search(text)
            assert not found, (
                f"{_id(path)}: an output names a machine path near {text[max(found.start() - 40, 0) : found.end() + 40]!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_tracebacks_name_no_library_line_numbers(path: Path) -> None:
    """Moving a line of the package must not rewrite a lesson: library frames keep module and function only."""
    for cell in _cells(path):
        for out in cell.get("outputs", []):
            for frame in out.get("traceback", []):
                assert not LIBRARY_LINE.search(ANSI_CODE.sub("", frame)), (
                    f"{_id(path)}: a traceback frame names a library line: {frame[:100]!r}"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_widget_state_is_stored(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in notebook.get("metadata", {}), f"{_id(path)}: metadata.widgets holds widget state"
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {}), (
                f"{_id(path)}: an output stores a widget view (random model id)"
            )


@pytest.mark.parametrize("path", lesson_sources.paired_notebooks(), ids=_id)
def test_notebook_and_its_script_are_a_pair(path: Path) -> None:
    """The .py script is the reviewed source: it must say exactly what the executed notebook holds."""
    reason = lesson_sources.drift(path)
    assert reason is None, reason


def test_every_script_has_its_notebook() -> None:
    scripts = [p for folder in lesson_sources.FOLDERS for p in (ROOT / folder).glob("*.py")]
    orphans = [p.relative_to(ROOT).as_posix() for p in scripts if not p.with_suffix(".ipynb").exists()]
    assert not orphans, f"scripts without an executed notebook (run make notebooks): {orphans}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_output_goes_to_stderr(path: Path) -> None:
    for cell in _cells(path):
        for out in cell.get("outputs", []):
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), (
                f"{_id(path)}: a cell wrote to stderr: {''.join(out.get('text', ''))[:120]!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_errors_only_in_cells_tagged_raises_exception(path: Path) -> None:
    for cell in _cells(path):
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if "raises-exception" in _tags(cell):
            assert errors, f"{_id(path)}: a cell tagged raises-exception did not raise: {_source(cell)[:80]!r}"
        else:
            assert not errors, f"{_id(path)}: an untagged cell raised {errors[0]['ename']}: {_source(cell)[:80]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_ignored_outputs_state_their_reason(path: Path) -> None:
    for cell in _cells(path):
        if "nbval-ignore-output" in _tags(cell):
            first = _source(cell).splitlines()[0] if _source(cell) else ""
            assert re.match(r"# nbval-ignore-output: \S", first), (
                f"{_id(path)}: a cell tagged nbval-ignore-output must say why on its first line "
                f"('# nbval-ignore-output: <reason>'), found {first!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_memory_addresses_in_outputs(path: Path) -> None:
    for cell in _cells(path):
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not re.search(r"0x[0-9a-f]{6,}", text), f"{_id(path)}: an output shows a memory address"


@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_lesson_has_navigation_at_top_and_bottom(path: Path) -> None:
    markdown = [_source(c) for c in _cells(path) if c["cell_type"] == "markdown"]
    assert "[Contents](00_module_overview.ipynb)" in markdown[0], f"{_id(path)}: no navigation line at the top"
    assert "[Contents](00_module_overview.ipynb)" in markdown[-1], f"{_id(path)}: no navigation line at the bottom"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_relative_links_point_at_files_that_exist(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for target in LINK.findall(_source(cell)):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # web links and in-page anchors
            file_part = target.split("#", 1)[0]
            assert (path.parent / file_part).exists(), f"{_id(path)}: dead link {target!r}"


@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_lessons_import_the_package_from_its_top_level(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            deep = re.findall(r"(?:from|import) funcpipe_async\.\w+", _source(cell))
            assert not deep, f"{_id(path)}: import from the public namespace instead: {deep}"


HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def _anchors(path: Path) -> set[str]:
    """The ids JupyterLab gives a notebook's headings: the rendered text, spaces as hyphens."""
    anchors = set()
    for cell in _cells(path):
        if cell["cell_type"] == "markdown":
            for text in HEADING.findall(_source(cell)):
                rendered = re.sub(r"[`*]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text))
                anchors.add(rendered.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_links_to_a_section_find_that_section(path: Path) -> None:
    """A link such as ``03_backpressure.ipynb#Bound-the-queue`` lands on a heading that exists."""
    for cell in _cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for target in LINK.findall(_source(cell)):
            if re.match(r"[a-z]+:", target) or "#" not in target:
                continue
            file_part, anchor = target.split("#", 1)
            other = (path.parent / file_part) if file_part else path
            if other.suffix != ".ipynb" or not other.exists():
                continue
            assert anchor in _anchors(other), f"{_id(path)}: {target!r} names no heading of {other.name}"
