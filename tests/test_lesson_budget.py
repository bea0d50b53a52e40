"""Every core lesson fits the time it states, and shows the plain-asyncio form of what it teaches.

The budget rule is the course's (``tools/lesson_budget.py``: prose at 130 words a minute plus
code at 8 lines a minute, at most 50 minutes a lesson, 60 for the capstone).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import lesson_budget  # noqa: E402

# The plain-asyncio constructs a student must be able to read and write (COURSE_SPEC).
PLAIN = {
    "Semaphore": r"asyncio\.Semaphore\(",
    "TaskGroup": r"asyncio\.TaskGroup\(|TaskGroup\(\)",
    "Queue(maxsize)": r"asyncio\.Queue\(\s*maxsize|asyncio\.Queue\(\d",
    "asyncio.timeout": r"asyncio\.timeout\(",
    "asyncio.gather": r"asyncio\.gather\(",
    "aclosing": r"aclosing\(",
    "httpx": r"httpx\.AsyncClient\(",
}


@pytest.mark.parametrize("path", lesson_budget.lessons(), ids=lambda p: p.stem)
def test_lesson_fits_its_stated_time(path: Path) -> None:
    budget = lesson_budget.budget(path)
    assert budget.problem is None, f"{path.name}: {budget.problem} ({budget.words} words, {budget.lines} code lines)"


def test_the_budget_rule_counts_what_it_should() -> None:
    b = lesson_budget.Budget("03_x.ipynb", words=1300, lines=80, stated=20)
    assert b.estimate == 20 and b.problem is None
    assert (
        lesson_budget.Budget("03_x.ipynb", 1300, 88, 20).problem == "estimated 21 minutes, more than the 20 it states"
    )
    assert "more than the 50" in (lesson_budget.Budget("03_x.ipynb", 10, 1, 55).problem or "")
    assert lesson_budget.Budget("12_x.ipynb", 10, 1, 55).problem is None


@pytest.mark.parametrize(
    "path", [p for p in lesson_budget.lessons() if not p.name.startswith("00_")], ids=lambda p: p.stem
)
def test_lesson_shows_a_plain_asyncio_form(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    shown = [name for name, pattern in PLAIN.items() if re.search(pattern, code)]
    assert shown, f"{path.name}: no plain-asyncio form ({', '.join(PLAIN)}) in any code cell"
