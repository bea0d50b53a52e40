"""``make lab``'s student copy: the course's lessons and exercises, never the solutions, and a
student's own work is never overwritten."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import student_copy  # noqa: E402


def test_the_first_copy_has_every_lesson_and_exercise_and_no_solution(tmp_path: Path) -> None:
    copied, differing = student_copy.refresh(tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in copied}
    assert "notebooks/00_module_overview.ipynb" in names
    assert "exercises/03_backpressure.ipynb" in names and "exercises/README.md" in names
    assert len([n for n in names if n.startswith("notebooks/") and n.count("/") == 1]) == len(
        list((ROOT / "notebooks").glob("*.ipynb"))
    )
    assert not (tmp_path / "solutions").exists() and not any(p.suffix == ".py" for p in copied)
    assert differing == []


def test_a_students_edit_is_kept_and_reported(tmp_path: Path) -> None:
    student_copy.refresh(tmp_path)
    mine = tmp_path / "exercises" / "03_backpressure.ipynb"
    mine.write_text("my answers", encoding="utf-8")
    (tmp_path / "notebooks" / "01_async_await_as_descriptions.ipynb").unlink()
    copied, differing = student_copy.refresh(tmp_path)
    assert mine.read_text(encoding="utf-8") == "my answers"
    assert differing == [mine]
    assert [p.name for p in copied] == ["01_async_await_as_descriptions.ipynb"]
