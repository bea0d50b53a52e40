"""Check the instructor's demos in a real browser: JupyterLab + headless Chromium.

    python tools/browser_check.py                  # what `make test` runs (and `make browser-check`)
    python tools/browser_check.py --shots DIR      # also keep before/after screenshots in DIR
    python tools/browser_check.py --every-lesson   # also Run All Cells on every other lesson (~2 min more)

For each demo notebook (lesson 03's backpressure sliders, lesson 06's fairness sliders) it:

1. starts JupyterLab on 127.0.0.1 with a random token, serving *copies* of the notebooks from a
   temporary folder (so autosave never touches the repository) with throwaway settings;
2. opens the notebook in headless Chromium (Debian's ``chromium``, driven by the ``playwright``
   package through ``executable_path``; Playwright downloads no browser of its own);
3. clears the stored outputs, runs every cell through the **Run ▸ Run All Cells** menu, as a
   student would, and requires each code cell to have run once, in order (execution counts
   1…n); the only errors allowed are in cells tagged ``raises-exception``, and each of those
   must raise;
4. presses the right-arrow key on one slider of the demo and waits for the figure to change:
   the ``<img>`` gets a new PNG and its pixels differ from before;
5. fails on any JavaScript error (console ``error`` message or uncaught exception).

Two **self-tests** then open broken demos and require the check to fail on each, for the right
reason: a slider wired to nothing ("the figure did not change"), and a working slider on a page
that logs a JavaScript error.  A check that passes is therefore not one that sees nothing.

The server, its kernels, the browser and the temporary folder are cleaned up whatever happens
(failure, timeout, Ctrl-C or SIGTERM; on Linux, the server and the browser go even if the check
itself is killed).  Exit status 0 when every demo passed, 1 otherwise, 2 when
the tools are missing (a clear message says which, and how to get it).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by _check_tools with what to do
    sync_playwright = None
    PlaywrightError = Exception

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google, and this kind of
# machine's closed network refuses it; --no-sandbox because CI runs as root.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-crash-reporter",
)
SERVER_START_S = 60.0
KERNEL_S = 60.0
RUN_ALL_S = 180.0
REDRAW_S = 30.0
SELF_TEST_REDRAW_S = 5.0
PROJECTOR = {"width": 1280, "height": 720}  # the classroom projector the demos must fit
MIN_TEXT_PX = 14.0  # funcpipe_async.plots.MIN_TEXT_PX
# Where JupyterLab 4.6 keeps Presentation Mode (INSTRUCTORS.md names this path; the check clicks it).
PRESENTATION_MENU = ("View", "Appearance", "Presentation Mode")
LANDING = "notebooks/00_module_overview.ipynb"  # what `make lab` must open


@dataclass(frozen=True)
class Demo:
    """One notebook to check: where it is, the cell that draws the demo, and the slider to move."""

    notebook: str  # path from the repository root ("" for the self-test's generated one)
    call: str  # text that identifies the demo's cell
    slider: str  # the slider's description label
    key: str = "ArrowRight"


DEMOS = (
    Demo("notebooks/03_backpressure.ipynb", call="backpressure_demo(", slider="producer /s"),
    Demo("notebooks/06_rate_limiting_and_fairness.ipynb", call="fairness_demo(", slider="A req/s"),
)

_SELF_TEST_WIDGETS = """\
import ipywidgets as widgets
import matplotlib.pyplot as plt
from funcpipe_async import figure_png
from funcpipe_async.plots import demo_png

def draw(n):
    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([0, 1], [0, n])
    ax.tick_params(labelsize=12)
    plt.close(fig)
    return figure_png(fig)

slider = widgets.IntSlider(value=5, min=0, max=10, description="self-test")
image = widgets.Image(value=draw(5), format="png")
"""


@dataclass(frozen=True)
class SelfTest:
    """A broken demo the check must fail on, with the words its failure must contain."""

    name: str
    what: str
    source: str
    expect: str


_SELF_TEST_WIRED = "slider.observe(lambda change: setattr(image, 'value', draw(change['new'])), names='value')\n"
SELF_TEST_DEMO = Demo("", call="self_test_demo(", slider="self-test")
SELF_TESTS = (
    SelfTest(
        "self_test_unwired.ipynb",
        "a slider wired to nothing",
        _SELF_TEST_WIDGETS + "widgets.VBox([slider, image])   # self_test_demo(\n",
        expect="did not change",
    ),
    SelfTest(
        "self_test_js_error.ipynb",
        "a working demo on a page that logs a JavaScript error",
        _SELF_TEST_WIDGETS.replace("figure_png(fig)", "demo_png(fig)")  # it fits the projector: only the error fails
        + "slider.observe(lambda change: setattr(image, 'value', draw(change['new'])), names='value')\n"
        + "from IPython.display import HTML, display\n"
        + "display(HTML(\"<script>console.error('self-test: an error in the page')</script>\"))\n"
        + "widgets.HBox([slider, image])   # self_test_demo(\n",
        expect="JavaScript errors in the console",
    ),
    SelfTest(
        "self_test_tall.ipynb",
        "a slider above a figure too tall for 1280×720",
        _SELF_TEST_WIDGETS.replace("figsize=(3, 2)", "figsize=(6, 9)").replace("figure_png(fig)", "demo_png(fig)")
        + _SELF_TEST_WIRED
        + "widgets.VBox([slider, image])   # self_test_demo(\n",
        expect="not both inside",
    ),
    SelfTest(
        "self_test_small_text.ipynb",
        "a figure beside its slider whose chart text is too small",
        _SELF_TEST_WIDGETS.replace("figure_png(fig)", "demo_png(fig)").replace("labelsize=12", "labelsize=6")
        + _SELF_TEST_WIRED
        + "widgets.HBox([slider, image])   # self_test_demo(\n",
        expect="smaller than 14 px",
    ),
)


class CheckError(Exception):
    """A demo failed the check; the message says what the browser saw."""


class ToolMissing(Exception):
    """Chromium or Playwright is not installed; the message says how to get it."""


@dataclass
class Report:
    """What one demo's check saw."""

    name: str
    code_cells: int = 0
    expected_errors: int = 0
    redraw_s: float | None = None
    readout: tuple[str, str] = ("", "")
    projector: str = ""
    js_errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        before, after = self.readout
        slider = f"slider {before} → {after}: the figure redrew in {self.redraw_s:.2f} s; " if self.redraw_s else ""
        projector = f"{self.projector}; " if self.projector else ""
        return (
            f"{self.name}: {self.code_cells} code cells ran, {self.expected_errors} raised as tagged "
            f"(raises-exception); {slider}{projector}JavaScript errors: {len(self.js_errors)}"
        )


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens and its token."""

    port: int
    token: str
    root: Path
    pid: int  # the server's; its kernels run in its session

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"


def _write_settings(settings: Path) -> None:
    """Throwaway user settings: no news pop-up, no update check (the network is closed anyway)."""
    target = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@contextmanager
def jupyter_lab(notebooks: dict[str, str], *, bin_dir: Path, default_url: str | None = None) -> Iterator[Lab]:
    """Start JupyterLab on 127.0.0.1 with a random token, serving ``notebooks`` (relative path →
    JSON text) from a temporary folder, landing on ``default_url`` (as ``make lab`` does); on
    exit shut it down (kernels too) and remove the folder."""
    work = Path(tempfile.mkdtemp(prefix="funcpipe-browser-"))
    root = work / "lab"
    root.mkdir()
    for name, text in notebooks.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    _write_settings(work / "settings")
    port, token = free_port(), secrets.token_hex(24)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
        IPYTHONDIR=str(work / "ipython"),
    )
    env.pop("MPLBACKEND", None)  # the kernel must draw inline, as in class
    command = [
        str(bin_dir / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # lets the check read cells' state (window.jupyterapp)
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if default_url is not None:
        command.append(f"--LabApp.default_url={default_url}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = work / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    lab = Lab(port, token, root, server.pid)
    try:
        _wait_until_up(lab, server, log_path)
        yield lab
    finally:
        _stop(lab, server)
        shutil.rmtree(work, ignore_errors=True)


def _die_with_parent() -> None:
    """In the server's process, before exec: on Linux, ask for SIGTERM if the check itself dies, even
    by SIGKILL, so no server (and through it no kernel) outlives it.  Elsewhere, a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_up(lab: Lab, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckError(
                f"JupyterLab exited with status {server.returncode} while starting:\n" + log_path.read_text()[-2000:]
            )
        try:
            with urllib.request.urlopen(lab.url("/api/status"), timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise CheckError(f"JupyterLab did not answer within {SERVER_START_S:.0f} s:\n" + log_path.read_text()[-2000:])


def _stop(lab: Lab, server: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure: kill its process group."""
    if server.poll() is None:
        try:
            request = urllib.request.Request(lab.url("/api/shutdown"), method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            server.wait(timeout=15)
        except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)  # kernels are in the server's session: none survive
    except ProcessLookupError:
        pass
    if server.poll() is None:
        server.wait(timeout=10)


# --------------------------------------------------------------------------- the browser

_KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

_CLEAR = """async () => {
  await window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
  return window.jupyterapp.shell.currentWidget.content.widgets
    .filter(c => c.model.type === 'code' && (c.model.executionCount !== null || c.model.outputs.length > 0)).length;
}"""

_ALL_RAN = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w.sessionContext.session.kernel.status === 'idle'
    && w.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount !== null);
}"""

_CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(c => c.model.type === 'code')
  .map(c => ({
    source: c.model.sharedModel.getSource(),
    tags: c.model.getMetadata('tags') || [],
    count: c.model.executionCount,
    errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
  }))"""

_SHOW_CELL = """(call) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const i = nb.widgets.findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(call));
  if (i < 0) return false;
  nb.activeCellIndex = i;
  nb.scrollToItem(i, 'start');
  return true;
}"""


def check_ran_in_order(cells: Sequence[dict[str, Any]]) -> None:
    """The fresh kernel ran every code cell once, top to bottom: execution counts are 1, 2, …, n."""
    counts = [cell["count"] for cell in cells]
    if counts != list(range(1, len(cells) + 1)):
        raise CheckError(f"the code cells did not run once each, in order: execution counts {counts}")


def check_errors(cells: Sequence[dict[str, Any]]) -> int:
    """Every error is in a ``raises-exception`` cell and every such cell raised; returns their count."""
    problems = []
    for number, cell in enumerate(cells, start=1):
        tagged = "raises-exception" in cell["tags"]
        first_line = cell["source"].splitlines()[0] if cell["source"] else ""
        if cell["errors"] and not tagged:
            problems.append(f"code cell {number} ({first_line!r}) raised {cell['errors'][0]}")
        if tagged and not cell["errors"]:
            problems.append(f"code cell {number} ({first_line!r}) is tagged raises-exception but raised nothing")
    if problems:
        raise CheckError("cells ran differently in the browser:\n  " + "\n  ".join(problems))
    return sum(1 for cell in cells if cell["errors"])


@contextmanager
def notebook_page(browser: Any, report: Report) -> Iterator[Any]:
    """A fresh browser page that records the JavaScript errors it sees in ``report``; on a failure
    they are added to the message (they may explain it), and on success any of them is a failure."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.on("console", lambda m: report.js_errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: report.js_errors.append(f"uncaught: {e}"))
    try:
        yield page
    except CheckError as failure:
        if report.js_errors:
            raise CheckError(
                f"{failure}\nJavaScript errors in the console:\n  " + "\n  ".join(report.js_errors)
            ) from None
        raise
    finally:
        try:  # free the kernel now rather than when the server stops
            page.evaluate(
                "async () => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " if (w && w.sessionContext) await w.sessionContext.shutdown(); }"
            )
        except PlaywrightError:
            pass
        page.close()
    if report.js_errors:
        raise CheckError("JavaScript errors in the console:\n  " + "\n  ".join(report.js_errors))


def run_all_cells(page: Any, lab: Lab, name: str, report: Report) -> None:
    """Open ``name``, clear its stored outputs, **Run ▸ Run All Cells**, and judge the run."""
    page.goto(lab.url(f"/lab/tree/{name}?reset"))
    try:
        page.wait_for_function(_KERNEL_READY, timeout=KERNEL_S * 1000, polling=200)
    except PlaywrightError:
        raise CheckError(f"the notebook's kernel was not ready within {KERNEL_S:.0f} s") from None

    # The stored notebook is executed: clear it first, so every count and output seen below is this run's.
    if page.evaluate(_CLEAR):
        raise CheckError("clearing the stored outputs left some in place")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    try:
        page.wait_for_function(_ALL_RAN, timeout=RUN_ALL_S * 1000, polling=250)
    except PlaywrightError:
        ran = page.evaluate(_CELLS)
        done = sum(1 for cell in ran if cell["count"] is not None)
        raise CheckError(
            f"Run All Cells had not finished after {RUN_ALL_S:.0f} s: {done} of {len(ran)} code cells ran"
        ) from None
    cells = page.evaluate(_CELLS)
    report.code_cells = len(cells)
    check_ran_in_order(cells)
    report.expected_errors = check_errors(cells)


def check_lesson(browser: Any, lab: Lab, name: str) -> Report:
    """Open one notebook and run it all, as a student does."""
    report = Report(name)
    with notebook_page(browser, report) as page:
        run_all_cells(page, lab, name, report)
    return report


def check_demo(
    browser: Any, lab: Lab, name: str, demo: Demo, *, redraw_s: float = REDRAW_S, shots: Path | None = None
) -> Report:
    """Open one notebook, run it all, move the demo's slider and watch the figure."""
    report = Report(name)
    with notebook_page(browser, report) as page:
        run_all_cells(page, lab, name, report)
        _move_slider(page, name, demo, report, redraw_s=redraw_s, shots=shots)
        check_projector(page, name, demo, report, shots=shots)
    return report


def _move_slider(page: Any, name: str, demo: Demo, report: Report, *, redraw_s: float, shots: Path | None) -> None:
    """Press the demo slider's arrow key and require a new figure: a new PNG with other pixels."""
    if not page.evaluate(_SHOW_CELL, demo.call):
        raise CheckError(f"no cell calls {demo.call!r}")
    cell = page.locator(".jp-CodeCell").filter(has_text=demo.call).last
    slider = cell.locator(".widget-slider").filter(has_text=demo.slider).first
    image = cell.locator(".widget-image").first
    try:
        slider.wait_for(state="visible", timeout=30_000)
        image.wait_for(state="visible", timeout=30_000)
    except PlaywrightError as exc:
        raise CheckError(f"the demo did not render a slider {demo.slider!r} and an image: {exc}") from None
    readout = slider.locator(".widget-readout")
    before_value = readout.inner_text()
    before_src = image.get_attribute("src")
    before_png = image.screenshot()

    slider.locator(".noUi-handle").focus()
    page.keyboard.press(demo.key)
    start = time.monotonic()
    after_value = readout.inner_text()
    report.readout = (before_value, after_value)
    if after_value == before_value:
        raise CheckError(f"pressing {demo.key} on the slider {demo.slider!r} did not move it ({before_value})")
    try:
        page.wait_for_function(
            "([img, src]) => img.getAttribute('src') !== src",
            arg=[image.element_handle(), before_src],
            timeout=redraw_s * 1000,
            polling=50,
        )
    except PlaywrightError:
        raise CheckError(
            f"the figure did not change within {redraw_s:.0f} s of moving {demo.slider!r} "
            f"{before_value} → {after_value}"
        ) from None
    report.redraw_s = time.monotonic() - start
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    after_png = image.screenshot()
    if shots is not None:
        stem = Path(name).stem
        (shots / f"{stem}.before.png").write_bytes(before_png)
        (shots / f"{stem}.after.png").write_bytes(after_png)
    if after_png == before_png:
        raise CheckError(f"the figure got a new image after moving {demo.slider!r}, but its pixels are the same")


# --------------------------------------------------------------------------- the projector

_PNG_TEXT = """async (img) => {
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let i = 8;
  while (i + 8 <= bytes.length) {
    const n = (bytes[i] << 24 | bytes[i + 1] << 16 | bytes[i + 2] << 8 | bytes[i + 3]) >>> 0;
    const type = String.fromCharCode(...bytes.slice(i + 4, i + 8));
    if (type === 'tEXt') {
      const text = String.fromCharCode(...bytes.slice(i + 8, i + 8 + n));
      const [key, value] = text.split('\\0');
      if (key === 'funcpipe:min-text-px') return value;
    }
    if (type === 'IDAT') break;
    i += 12 + n;
  }
  return null;
}"""

_SHOW_OUTPUT = """(call) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cell = nb.widgets.find(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(call));
  const out = cell && cell.node.querySelector('.jp-OutputArea-output');
  if (!out) return false;
  out.scrollIntoView({block: 'start'});
  return true;
}"""


def open_menu(page: Any, path: Sequence[str]) -> None:
    """Click through a menu path, e.g. View ▸ Appearance ▸ Presentation Mode, as an instructor does;
    a label that is not there fails with the labels that are."""
    page.get_by_role("menuitem", name=path[0], exact=True).click()
    for label in path[1:]:
        item = page.locator(".lm-Menu").last.locator(
            f".lm-Menu-item:has(.lm-Menu-itemLabel:text-is({json.dumps(label)}))"
        )
        try:
            item.wait_for(state="visible", timeout=5_000)
        except PlaywrightError:
            there = page.locator(".lm-Menu").last.locator(".lm-Menu-itemLabel").all_inner_texts()
            raise CheckError(
                f"no menu item {label!r} under {' ▸ '.join(path[: path.index(label)])}; "
                f"JupyterLab has: {', '.join(t for t in there if t.strip())}"
            ) from None
        if label == path[-1]:
            item.click()
        else:
            item.hover()


def inside(box: dict[str, float] | None, area: dict[str, float]) -> bool:
    """``box`` (a bounding box) lies wholly inside ``area``, to the pixel."""
    return box is not None and (
        box["x"] >= area["x"] - 0.5
        and box["y"] >= area["y"] - 0.5
        and box["x"] + box["width"] <= area["x"] + area["width"] + 0.5
        and box["y"] + box["height"] <= area["y"] + area["height"] + 0.5
    )


def judge_projector(
    figure: dict[str, float] | None,
    controls: Sequence[dict[str, float] | None],
    visible: dict[str, float],
    *,
    natural_width: float,
    min_text_png_px: float | None,
) -> str:
    """The demo fits the projector: the figure and every control wholly inside the visible notebook
    area, the figure shown at the size it was drawn (no soft scaling), its smallest text at least
    :data:`MIN_TEXT_PX` pixels where shown.  Returns a description; raises :class:`CheckError`."""
    outside = [f"control {i + 1}" for i, box in enumerate(controls) if not inside(box, visible)]
    if not inside(figure, visible):
        outside.insert(0, "the figure")
    if outside or not controls:
        raise CheckError(
            f"at {PROJECTOR['width']}×{PROJECTOR['height']} in Presentation Mode the figure and "
            f"the sliders are not both inside the visible notebook ({visible}): outside: "
            f"{', '.join(outside) or 'no sliders found'}; figure at {figure}"
        )
    assert figure is not None
    if abs(figure["width"] - natural_width) > 1:
        raise CheckError(
            f"the figure is drawn {natural_width:.0f} px wide but shown {figure['width']:.0f} px "
            "wide: scaled, so its text is soft; draw it at the size it is shown"
        )
    if min_text_png_px is None:
        raise CheckError(
            "the figure's PNG does not say how large its text is (no funcpipe:min-text-px "
            "chunk: draw it with funcpipe_async.plots.demo_png)"
        )
    shown = min_text_png_px * figure["width"] / natural_width
    if shown < MIN_TEXT_PX:
        raise CheckError(
            f"the chart's smallest text is {shown:.1f} px on screen: smaller than "
            f"{MIN_TEXT_PX:.0f} px at {PROJECTOR['width']}×{PROJECTOR['height']}"
        )
    return (
        f"at {PROJECTOR['width']}×{PROJECTOR['height']} in Presentation Mode the figure "
        f"({figure['width']:.0f}×{figure['height']:.0f} px, shown 1:1) and {len(controls)} controls are on "
        f"screen, smallest chart text {shown:.1f} px"
    )


def check_projector(page: Any, name: str, demo: Demo, report: Report, *, shots: Path | None) -> None:
    """At 1280×720, in Presentation Mode (through the View menu) with the file browser closed,
    scroll to the demo and require it to fit (:func:`judge_projector`); screenshot it."""
    page.set_viewport_size(PROJECTOR)
    open_menu(page, PRESENTATION_MENU)
    try:
        page.wait_for_function(
            "() => window.jupyterapp.shell.presentationMode === true"
            " && !!document.querySelector('.jp-mod-presentationMode')",
            timeout=5_000,
        )
    except PlaywrightError:
        raise CheckError(f"{' ▸ '.join(PRESENTATION_MENU)} did not turn Presentation Mode on") from None
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    page.wait_for_timeout(500)  # the panels settle
    if not page.evaluate(_SHOW_OUTPUT, demo.call):
        raise CheckError(f"no output under the cell that calls {demo.call!r}")
    page.wait_for_timeout(500)
    cell = page.locator(".jp-CodeCell").filter(has_text=demo.call).last
    image = cell.locator(".widget-image").first
    controls = [
        s for s in cell.locator(".widget-slider, .widget-toggle-buttons, .widget-dropdown").all() if s.is_visible()
    ]
    visible = page.locator(".jp-NotebookPanel-notebook").first.bounding_box()
    view = {"x": 0, "y": 0, **PROJECTOR}
    area = {
        "x": max(visible["x"], 0),
        "y": max(visible["y"], 0),
        "width": min(visible["x"] + visible["width"], view["width"]) - max(visible["x"], 0),
        "height": min(visible["y"] + visible["height"], view["height"]) - max(visible["y"], 0),
    }
    natural = page.evaluate("(img) => img.naturalWidth", image.element_handle())
    text = page.evaluate(_PNG_TEXT, image.element_handle())
    if shots is not None:
        page.screenshot(path=str(shots / f"{Path(name).stem}.projector.png"))
    report.projector = judge_projector(
        image.bounding_box(),
        [c.bounding_box() for c in controls],
        area,
        natural_width=float(natural),
        min_text_png_px=float(text) if text is not None else None,
    )
    marked = cell.locator(".widget-toggle-button.mod-active i.fa-check")
    if cell.locator(".widget-toggle-buttons").count() and not marked.count():
        raise CheckError("the chosen option's toggle button carries no ✓ (icon 'check')")


def check_landing(browser: Any, lab: Lab, *, shots: Path | None) -> str:
    """Open the server's root URL, as ``make lab``'s browser does: the active tab must be
    lesson 00 (:data:`LANDING`), with no news pop-up."""
    report = Report("landing")
    with notebook_page(browser, report) as page:
        page.goto(lab.url("/"))
        try:
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " return !!(w && w.context && w.context.path); }",
                timeout=KERNEL_S * 1000,
            )
        except PlaywrightError:
            raise CheckError(
                f"the landing page opened no document within {KERNEL_S:.0f} s (at {page.url.split('?')[0]})"
            ) from None
        try:  # and it opened for work: cells drawn, kernel idle
            page.wait_for_function(_KERNEL_READY, timeout=KERNEL_S * 1000, polling=200)
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.content.widgets.length > 0"
                " && !!document.querySelector('.jp-Notebook .jp-Cell')",
                timeout=KERNEL_S * 1000,
            )
        except PlaywrightError:
            raise CheckError(f"the landing notebook's kernel was not ready within {KERNEL_S:.0f} s") from None
        page.wait_for_timeout(1000)  # a news pop-up would have shown by now
        path = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").first.inner_text().strip()
        toasts = page.locator(".Toastify__toast").all_inner_texts()
        if shots is not None:
            page.screenshot(path=str(shots / "landing.png"))
        if path != LANDING or tab != Path(LANDING).name:
            raise CheckError(f"the landing page's active tab is {tab!r} ({path!r}), not {LANDING!r}")
        if toasts:
            raise CheckError(f"the landing page shows a pop-up: {toasts}")
    return f"landing: the root URL opens {path} as the active tab, no pop-up"


def make_lab_landing(makefile: Path = ROOT / "Makefile") -> str:
    """The ``--LabApp.default_url`` that ``make lab`` passes (read from the Makefile, so the check
    follows it); its path must be :data:`LANDING`."""
    import re

    found = re.findall(r"--LabApp\.default_url=(\S+)", makefile.read_text())
    if len(found) != 1:
        raise CheckError(f"expected one --LabApp.default_url in {makefile.name}, found {found}")
    if found[0] != f"/lab/tree/{LANDING}":
        raise CheckError(f"make lab lands on {found[0]}, not /lab/tree/{LANDING}")
    return found[0]


def self_test_notebook(source: str) -> str:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return str(nbformat.writes(notebook))


def run_self_test(browser: Any, lab: Lab, test: SelfTest) -> bool:
    """The check must fail on ``test``'s broken demo, for the expected reason."""
    try:
        check_demo(browser, lab, test.name, SELF_TEST_DEMO, redraw_s=SELF_TEST_REDRAW_S)
    except CheckError as exc:
        reason = str(exc).replace("\n", " ")
        if test.expect in reason:
            print(f"  ok  self-test: {test.what} is caught ({reason})", flush=True)
            return True
        print(f"  FAIL self-test: {test.what}: expected {test.expect!r}, got: {reason}", flush=True)
        return False
    print(f"  FAIL self-test: {test.what} passed the check", flush=True)
    return False


# --------------------------------------------------------------------------- main


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _check_tools() -> None:
    if not Path(CHROMIUM).exists():
        raise ToolMissing(
            f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install chromium`, "
            "which `make test` does when it can) or set CHROMIUM=/path/to/chromium"
        )
    if sync_playwright is None:
        raise ToolMissing("the playwright package is missing: run `make test`, which installs requirements.txt")


def run(demos: Sequence[Demo], *, shots: Path | None, self_test: bool, lessons: Sequence[Path] = ()) -> int:
    _check_tools()
    bin_dir = Path(sys.executable).parent
    notebooks = {Path(d.notebook).name: (ROOT / d.notebook).read_text() for d in demos}
    notebooks[LANDING] = (ROOT / LANDING).read_text()
    notebooks.update({path.name: path.read_text() for path in lessons})
    self_tests = SELF_TESTS if self_test else ()
    notebooks.update({test.name: self_test_notebook(test.source) for test in self_tests})
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    failures = 0
    with (
        jupyter_lab(notebooks, bin_dir=bin_dir, default_url=make_lab_landing()) as lab,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS))
        try:
            print(f"browser check: JupyterLab on 127.0.0.1 (token), Chromium {browser.version}")
            try:
                print("  ok  " + check_landing(browser, lab, shots=shots), flush=True)
            except CheckError as exc:
                failures += 1
                print(f"  FAIL landing: {exc}", flush=True)
            for demo in demos:
                name = Path(demo.notebook).name
                try:
                    print("  ok  " + check_demo(browser, lab, name, demo, shots=shots).line(), flush=True)
                except CheckError as exc:
                    failures += 1
                    print(f"  FAIL {name}: {exc}", flush=True)
            failures += sum(not run_self_test(browser, lab, test) for test in self_tests)
            demo_names = {Path(d.notebook).name for d in demos}
            for path in lessons:
                if path.name in demo_names:
                    continue  # already run, and its slider moved
                try:
                    print("  ok  " + check_lesson(browser, lab, path.name).line(), flush=True)
                except CheckError as exc:
                    failures += 1
                    print(f"  FAIL {path.name}: {exc}", flush=True)
        finally:
            browser.close()
    verdict = "passed" if not failures else f"FAILED ({failures})"
    if shots is not None:
        print(f"screenshots in {shots}")
    print(f"browser check {verdict} in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shots",
        type=Path,
        default=ROOT / "build" / "browser-check",
        help="keep the screenshots here: the landing page, each demo at 1280×720 in Presentation "
        "Mode, each figure before/after the slider move (default: build/browser-check/)",
    )
    parser.add_argument("--no-self-test", action="store_true", help="skip the self-tests (broken demos it must fail)")
    parser.add_argument(
        "--every-lesson",
        action="store_true",
        help="also run every other lesson in notebooks/ with Run All Cells (about 2 minutes more)",
    )
    args = parser.parse_args(argv)
    lessons = sorted((ROOT / "notebooks").glob("*.ipynb")) if args.every_lesson else []
    signal.signal(signal.SIGTERM, _raise_on_sigterm)  # so `finally` cleans up on a CI timeout too
    try:
        return run(DEMOS, shots=args.shots, self_test=not args.no_self_test, lessons=lessons)
    except ToolMissing as exc:
        print(f"browser check: {exc}", file=sys.stderr)
        return 2
    except CheckError as exc:
        print(f"browser check FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("browser check interrupted; the server and browser were shut down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
