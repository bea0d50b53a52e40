"""The notebook rules of CONTRIBUTING.md, checked on every committed notebook.

nbval proves a notebook's stored outputs match a fresh run; these tests prove the stored
notebook is one nbval can say something about (executed, no stderr, reasons on ignored
cells) and that a reader can follow it (navigation lines, no dead links).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if p.parent.name == "notebooks"]
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_every_code_cell_is_stored_executed(path: Path) -> None:
    unexecuted = [
        _source(c).splitlines()[0] for c in _cells(path)
        if c["cell_type"] == "code" and _source(c).strip() and c.get("execution_count") is None
    ]
    if path.parent.name != "exercises":  # student versions are stored unexecuted on purpose
        assert not unexecuted, f"{_id(path)}: cells saved without running (nbval skips them): {unexecuted}"


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
