"""Does each core lesson fit the study time it states?

    python tools/lesson_budget.py            # a table: words, code lines, stated and estimated minutes
    python tools/lesson_budget.py --check    # exit 1 if a lesson is over budget

The estimate is the course's budget rule (COURSE_SPEC: "Lessons that fit a student's time"):
prose read at 130 words a minute plus code read and run at 8 lines a minute, for every
``notebooks/NN_*.ipynb`` (appendices in ``notebooks/further/`` are optional and not counted).
A lesson is over budget when its estimate exceeds the "About N minutes" it states, when it
states none, or when it states more than 50 minutes (60 for the capstone, lesson 12).
It is a budget, not a target: shorten a lesson by cutting repetition and moving reference
material to ``further/``, not by squeezing lines together.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS_PER_MINUTE, LINES_PER_MINUTE = 130, 8


@dataclass(frozen=True)
class Budget:
    name: str
    words: int
    lines: int
    stated: int

    @property
    def estimate(self) -> int:
        return round(self.words / WORDS_PER_MINUTE + self.lines / LINES_PER_MINUTE)

    @property
    def cap(self) -> int:
        return 60 if self.name.startswith("12_") else 50

    @property
    def problem(self) -> str | None:
        if not self.stated:
            return "states no time ('About N minutes')"
        if self.stated > self.cap:
            return f"states {self.stated} minutes, more than the {self.cap} a lesson may take"
        if self.estimate > self.stated:
            return f"estimated {self.estimate} minutes, more than the {self.stated} it states"
        return None


def budget(path: Path) -> Budget:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    prose = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    words = sum(len(re.findall(r"[A-Za-z0-9_']+", text)) for text in prose)
    lines = sum(1 for text in code for line in text.splitlines() if line.strip())
    stated = re.search(r"[Aa]bout (\d+) min", " ".join(prose))
    return Budget(path.name, words, lines, int(stated.group(1)) if stated else 0)


def lessons() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str]) -> int:
    budgets = [budget(p) for p in lessons()]
    print(f"{'lesson':44} {'words':>6} {'lines':>5} {'stated':>6} {'est':>4}")
    for b in budgets:
        print(f"{b.name:44} {b.words:6d} {b.lines:5d} {b.stated:6d} {b.estimate:4d}  {b.problem or ''}")
    over = [b for b in budgets if b.problem]
    return 1 if "--check" in argv and over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
