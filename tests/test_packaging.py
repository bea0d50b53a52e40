"""The package's metadata tells the truth: every import it makes is a declared dependency, and
it has one version string."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import funcpipe_async

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "funcpipe_async"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _top_level_imports() -> dict[str, str]:
    """Every third-party top-level module the package imports → the first file that imports it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "funcpipe_async":
                    found.setdefault(top, path.relative_to(ROOT).as_posix())
    return found


def _declared() -> set[str]:
    return {
        re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0].lower().replace("_", "-")
        for dep in PYPROJECT["project"]["dependencies"]
    }


def test_every_third_party_import_is_a_declared_dependency() -> None:
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module, where in _top_level_imports().items():
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & _declared():
            missing[module] = where
    assert not missing, f"imported but not in pyproject's dependencies: {missing}"


def test_the_imports_found_include_the_ones_we_know_of() -> None:
    """The scan itself works: it sees httpx (adapters/) and matplotlib (plots.py)."""
    imports = _top_level_imports()
    assert {"httpx", "matplotlib", "hypothesis"} <= set(imports)


def test_one_version_string() -> None:
    assert "version" not in PYPROJECT["project"], "the version lives in funcpipe_async.__version__ only"
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert importlib.metadata.version("funcpipe-async") == funcpipe_async.__version__
