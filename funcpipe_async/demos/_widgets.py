"""The projector layout both slider demos share: controls beside a figure shown at its drawn size.

A demo builds its controls with :func:`slider` and :func:`choice`, then :func:`demo_box`
lays them out (controls | figure over its text) and :func:`live` redraws on every change.
Only the demos import this module (it imports ipywidgets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from funcpipe_async.plots import DEMO_CSS

LABEL_PX = 110  # every control's label column, so the sliders line up


def slider(value: float, low: float, high: float, label: str, *, width: int, step: float | None = None) -> Any:
    """A labelled slider that reports only when released (each report re-simulates): a
    ``FloatSlider`` moving by ``step``, or an ``IntSlider`` when there is no step."""
    common = {
        "value": value,
        "min": low,
        "max": high,
        "description": label,
        "continuous_update": False,
        "layout": widgets.Layout(width=f"{width}px"),
        "style": {"description_width": f"{LABEL_PX}px"},
    }
    return widgets.IntSlider(**common) if step is None else widgets.FloatSlider(step=step, **common)


def choice(options: Sequence[str], value: str, label: str, *, width: int, button_px: int) -> Any:
    """Toggle buttons whose chosen option carries a ✓ as well as the theme's colour (a
    projector washes colour out), kept up to date as the choice changes."""
    buttons = widgets.ToggleButtons(
        options=list(options),
        value=value,
        description=label,
        layout=widgets.Layout(width=f"{width}px"),
        style={"description_width": f"{LABEL_PX}px", "button_width": f"{button_px}px"},
    )

    def mark(_: object = None) -> None:
        buttons.icons = ["check" if option == buttons.value else "" for option in buttons.options]

    buttons.observe(mark, names="value")
    mark()
    return buttons


def demo_box(controls: Sequence[Any], figure_px: tuple[int, int], *classes: str) -> tuple[Any, Any, Any]:
    """``(box, image, text)``: an HBox of the controls beside the figure (an ``Image`` sized to
    the PNG's pixels, so it is never scaled soft) over its text (an ``HTML`` as wide as the figure)."""
    width, height = figure_px
    image = widgets.Image(
        format="png", layout=widgets.Layout(width=f"{width}px", height=f"{height}px", flex="0 0 auto")
    )
    text = widgets.HTML(layout=widgets.Layout(width=f"{width}px"))
    box = widgets.HBox(
        [
            widgets.VBox(list(controls), layout=widgets.Layout(flex="0 0 auto")),
            widgets.VBox([image, text]),
            widgets.HTML(DEMO_CSS),
        ],
        layout=widgets.Layout(align_items="flex-start"),
    )
    for name in ("funcpipe-demo", *classes):
        box.add_class(name)
    return box, image, text


def live(inputs: Sequence[Any], update: Callable[[object], None]) -> None:
    """Call ``update`` whenever one of ``inputs`` changes value, and once now."""
    for widget in inputs:
        widget.observe(update, names="value")
    update(None)
