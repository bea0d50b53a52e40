"""The Markdown guides stay true: their links lead somewhere, and the instructors' benchmark table
and `make bench` cover every script in benchmarks/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDES = [
    ROOT / "README.md",
    ROOT / "INSTRUCTORS.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "exercises" / "README.md",
    ROOT / "solutions" / "README.md",
    ROOT / "benchmarks" / "README.md",
]
LINK = re.compile(r"\]\(([^)\s]+)\)")
BENCHMARKS = sorted(p.name for p in (ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_in_guides_point_at_files_that_exist(guide: Path) -> None:
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", guide.read_text(encoding="utf-8"), flags=re.S)  # code shows syntax
    for target in LINK.findall(prose):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (guide.parent / target.split("#", 1)[0]).exists(), f"{guide.name}: dead link {target!r}"


def test_the_instructors_benchmark_table_gives_every_benchmark_its_command() -> None:
    instructors = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    table = [line for line in instructors.splitlines() if line.startswith("|")]
    for name in BENCHMARKS:
        assert any(f"`.venv/bin/python benchmarks/{name}`" in row for row in table), name


def test_make_bench_runs_every_benchmark() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    bench = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert sorted(re.findall(r"benchmarks/(bench_\w+\.py)", bench)) == BENCHMARKS
