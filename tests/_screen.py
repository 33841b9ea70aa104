"""Where things are on the page, for browser tests: the screen point of a heatmap cell."""

from __future__ import annotations

import json
from typing import Any


def heatmap_cell(heatmap: Any, row: int, col: int) -> tuple[float, float]:
    """Page coordinates of the centre of cell (``row``, ``col``) of a heatmap panel
    (a Playwright locator of ``.amumo-heatmap-panel`` or of an element holding one) at
    its unzoomed view: the view's ``data-geometry`` (plot left / top / side in CSS
    pixels), its ``data-n`` cells a side and the overlay canvas's box on the page."""
    view = heatmap.locator(".amumo-heatmap-view")
    geo = json.loads(view.get_attribute("data-geometry"))
    n = int(view.get_attribute("data-n"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    cell = geo["side"] / n
    return (box["x"] + geo["left"] + (col + 0.5) * cell,
            box["y"] + geo["top"] + (row + 0.5) * cell)


def heatmap_cells(heatmap: Any) -> int:
    """Cells a side of the heatmap view in ``heatmap`` (its ``data-n``)."""
    return int(heatmap.locator(".amumo-heatmap-view").get_attribute("data-n"))
