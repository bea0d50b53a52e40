"""Build a static HTML version of the course, for reading without a kernel.

    python tools/export_html.py                 # every lesson, solution and exercise → build/html/
    python tools/export_html.py --out DIR       # somewhere else
    python tools/export_html.py notebooks/03_backpressure.ipynb ...   # only these (and the index)

The stored outputs are exported as they are (nothing is executed), in JupyterLab's look
(nbconvert's ``lab`` template) with two changes the course needs:

* every figure keeps its **alt text**: ``show_figure`` stores it as the figure's
  ``text/plain`` twin, ``[figure] <alt>``, and ``tools/html_template`` writes it into the
  ``<img alt="…">``;
* **links between pages work**: ``NN_slug.ipynb`` → ``NN_slug.html`` and the folders'
  ``README.md`` → ``index.html`` (rendered from the README), so the navigation lines,
  *Continue with* and the exercise links all lead somewhere.

``build/html/index.html`` opens the module overview.  Live widgets (quizzes, sliders) need a
kernel; their answer keys are stored as HTML and read fine.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import mistune
import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")
TEMPLATE = Path(__file__).resolve().parent / "html_template"

# href="…" or src="…" pointing at a local .ipynb or README.md (not http:, not #anchors)
_LOCAL = re.compile(r'(href=")(?![a-z]+:)([^"#]*?)(\.ipynb|README\.md)((?:#[^"]*)?")')


def rewrite_links(html: str) -> str:
    """Point local ``.ipynb`` links at their ``.html`` pages and ``README.md`` at ``index.html``."""

    def swap(match: re.Match[str]) -> str:
        prefix, path, ending, rest = match.groups()
        if ending == "README.md":
            return f"{prefix}{path}index.html{rest}"
        return f"{prefix}{path}.html{rest}"

    return _LOCAL.sub(swap, html)


def _exporter() -> HTMLExporter:
    return HTMLExporter(template_name=TEMPLATE.name, extra_template_basedirs=[str(TEMPLATE.parent)])


def export_notebook(path: Path, out: Path, exporter: HTMLExporter) -> Path:
    notebook = nbformat.read(path, as_version=4)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": path.stem}})
    target = out / path.parent.name / f"{path.stem}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rewrite_links(body), encoding="utf-8")
    return target


def export_readme(readme: Path, out: Path) -> Path:
    title = f"FuncPipe Async — {readme.parent.name}"
    body = mistune.html(readme.read_text(encoding="utf-8"))
    assert isinstance(body, str)
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>\n{rewrite_links(body)}\n</body></html>\n"
    )
    target = out / readme.parent.name / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def export(paths: list[Path], out: Path) -> list[Path]:
    exporter = _exporter()
    written = [export_notebook(path, out, exporter) for path in paths]
    for folder in ("exercises", "solutions"):
        readme = ROOT / folder / "README.md"
        if readme.is_file():
            written.append(export_readme(readme, out))
    index = out / "index.html"
    index.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="0; url=notebooks/00_module_overview.html">'
        "<title>FuncPipe Async — Module 08</title></head>\n"
        '<body><p><a href="notebooks/00_module_overview.html">FuncPipe Async — Module 08: open the course</a></p>'
        "</body></html>\n",
        encoding="utf-8",
    )
    written.append(index)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to export (default: every one)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "html", help="output folder (default: build/html)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(p for f in FOLDERS for p in (ROOT / f).glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"export_html: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    written = export(paths, args.out)
    print(f"wrote {len(written)} pages to {args.out}; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
