"""Make or refresh the student's own copy of the course in ``work/`` (what ``make lab`` opens).

    python tools/student_copy.py

Students work in ``work/`` — the lessons (``work/notebooks/``, appendices included) and the
exercises (``work/exercises/``) — never in the course's own folders, so opening a lesson
(JupyterLab autosaves it) or solving an exercise changes nothing git tracks, and
``git pull`` brings course updates without a conflict.  ``work/`` is ignored by git.

A file is copied only when ``work/`` does not have it yet: a student's work is never
overwritten.  When the course's version of a file differs from the student's copy, the
script says so; to take the new version, rename or delete the copy and run it again.
Solutions are not copied.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "work"
COPIED = {  # course folder -> which of its files a student gets
    "notebooks": ("*.ipynb",),
    "notebooks/further": ("*.ipynb",),
    "exercises": ("*.ipynb", "README.md"),
}


def refresh(work: Path = WORK) -> tuple[list[Path], list[Path]]:
    """Copy what ``work`` lacks; return (copied, differing) as paths inside ``work``."""
    copied, differing = [], []
    for folder, patterns in COPIED.items():
        for pattern in patterns:
            for source in sorted((ROOT / folder).glob(pattern)):
                target = work / folder / source.name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
                    copied.append(target)
                elif not filecmp.cmp(source, target, shallow=False):
                    differing.append(target)
    return copied, differing


def main() -> int:
    copied, differing = refresh()
    if copied:
        print(f"work/: copied {len(copied)} course files (lessons and exercises) for you to work in")
    if differing:
        print(
            f"work/: {len(differing)} of your files differ from the course's version (your edits, or a "
            "course update); yours are kept. To take the course's version of one, rename or delete it "
            "and run `make lab` again:"
        )
        for path in differing:
            print(f"  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
