"""``tools/export_html.py``: the static course keeps every figure's alt text and working links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from course_tools import load_tool

ROOT = Path(__file__).resolve().parents[1]


export_html = load_tool("export_html")
PAGES = [
    ROOT / "notebooks" / "03_backpressure.ipynb",
    ROOT / "notebooks" / "06_rate_limiting_and_fairness.ipynb",
    ROOT / "solutions" / "02_async_generators.ipynb",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    export_html.export(PAGES, out)
    return out


def test_every_figure_keeps_its_alt_text(site: Path) -> None:
    html = (site / "notebooks" / "03_backpressure.html").read_text(encoding="utf-8")
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) >= 4
    for image in images:
        alt = re.search(r'alt="([^"]*)"', image)
        assert alt is not None and len(alt.group(1)) > 20, image[:120]
        assert not alt.group(1).startswith("[figure]")


def test_local_links_point_at_pages_the_export_writes(site: Path) -> None:
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        for href in re.findall(r'href="([^"#]*)(?:#[^"]*)?"', html):
            if not href or re.match(r"[a-z]+:", href) or href.startswith("//"):
                continue
            assert not href.endswith((".ipynb", "README.md")), f"{page.name}: {href}"
            target = (page.parent / href).resolve()
            # an exported page exists for every notebook or README it stands for
            source = target.with_suffix(".ipynb") if target.name != "index.html" else target.parent / "README.md"
            exists = source.relative_to(site.resolve())
            if target.name == "index.html" and target.parent == site.resolve():
                continue  # the site's own index
            assert (ROOT / exists).is_file(), f"{page.relative_to(site)} links to {href}, which stands for nothing"


def test_the_index_opens_the_overview_and_readmes_become_pages(site: Path) -> None:
    assert "url=notebooks/00_module_overview.html" in (site / "index.html").read_text(encoding="utf-8")
    exercises = (site / "exercises" / "index.html").read_text(encoding="utf-8")
    assert 'href="03_backpressure.html"' in exercises


def test_rewrite_links_leaves_web_links_and_anchors_alone() -> None:
    html = '<a href="03_backpressure.ipynb#Bound-the-queue">x</a> <a href="https://x.org/a.ipynb">y</a> <a href="#top">z</a>'
    assert export_html.rewrite_links(html) == (
        '<a href="03_backpressure.html#Bound-the-queue">x</a> <a href="https://x.org/a.ipynb">y</a> <a href="#top">z</a>'
    )


def test_a_missing_notebook_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export_html.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)]) == 2
    assert "no such notebook" in capsys.readouterr().err
