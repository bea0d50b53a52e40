"""Build submission notebooks for the grader's tests from the solution notebook."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def with_cells(notebook: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    """A copy of ``notebook`` whose cells tagged ``task:<id>`` hold ``replacements[id]``."""
    changed = copy.deepcopy(notebook)
    found = set()
    for cell in changed["cells"]:
        for tag in cell.get("metadata", {}).get("tags", []):
            task = tag.removeprefix("task:")
            if tag.startswith("task:") and task in replacements:
                cell["source"] = replacements[task]
                cell["outputs"], cell["execution_count"] = [], None
                found.add(task)
    missing = set(replacements) - found
    assert not missing, f"no cells for {missing}"
    return changed


def write(notebook: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
