"""Gestures on the heatmap: double-click resets the zoom and nothing else; zoomed heatmaps
label their rows and columns with pair ids, as the tooltip does."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import amumo as am",
    "ex = am.Explorer(am.datasets.clip_coco500())\nex",
]


def _heatmap_origin(view) -> tuple[float, float, float]:
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    return box["x"] + geo["left"], box["y"] + geo["top"], geo["side"]


def _selected(root) -> int:
    return int(root.get_attribute("data-selected") or 0)


def test_double_click_resets_zoom_without_touching_the_selection(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook(CELLS)
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(400)
    heatmap = root.locator(".amumo-heatmap-panel")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    view = heatmap.locator(".amumo-heatmap-view")
    status = view.locator(".amumo-statusline")
    x0, y0, side = _heatmap_origin(view)
    cell = side / 1000
    # A click on cell (image 10, text 20) selects pairs 10 and 20 (after the double-click
    # interval has passed without a second click).
    page.mouse.click(x0 + (500 + 20.5) * cell, y0 + 10.5 * cell)
    page.wait_for_function(
        "() => Number(document.querySelector('.amumo-explorer').dataset.selected) === 2"
    )
    page.wait_for_timeout(500)
    assert run_cell(page, "print(ex.selected)").strip() == "[10, 20]"

    # Zoom into the image-image quadrant: ticks and status show pair ids.
    page.mouse.move(x0 + side * 0.1, y0 + side * 0.1)
    for _ in range(5):
        page.mouse.wheel(0, -350)
    page.wait_for_timeout(500)
    zoomed = status.inner_text()
    pattern = r"zoom [\d.]+× · rows (image|text) #\d+ … (text )?#\d+ · cols (image|text) #\d+"
    assert re.match(pattern, zoomed), zoomed
    heatmap.screenshot(path=str(screenshot(page, "zoomed").with_name("heatmap-zoom-ticks.png")))

    # Fast double-click on a cell: the zoom resets, the selection stays.
    page.mouse.dblclick(x0 + side * 0.3, y0 + side * 0.6)
    page.wait_for_timeout(700)
    assert status.inner_text().startswith("1,000 × 1,000"), status.inner_text()
    assert _selected(root) == 2
    # Slow double-click (second click after the gate's 250 ms, still a dblclick for the
    # browser): the first click's selection is undone.
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(300)
    x, y = x0 + side * 0.7, y0 + side * 0.2
    page.mouse.move(x, y)
    page.mouse.down(click_count=1)
    page.mouse.up(click_count=1)
    page.wait_for_timeout(350)
    page.mouse.down(click_count=2)
    page.mouse.up(click_count=2)
    page.wait_for_timeout(700)
    assert status.inner_text().startswith("1,000 × 1,000"), status.inner_text()
    assert _selected(root) == 2
    assert run_cell(page, "print(ex.selected)").strip() == "[10, 20]"

    # Scatter: a double-click on empty space resets the view and keeps the selection
    # (a single click there clears it).
    scatter = root.locator(".amumo-scatter-view")
    scatter.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    geo = json.loads(scatter.get_attribute("data-geometry"))
    box = scatter.locator("canvas").last.bounding_box()
    sx, sy = box["x"] + geo["left"] + 4, box["y"] + geo["top"] + 4  # top-left corner: empty
    page.mouse.dblclick(sx, sy)
    page.wait_for_timeout(700)
    assert _selected(root) == 2
    assert run_cell(page, "print(ex.selected)").strip() == "[10, 20]"
    page.mouse.click(sx, sy)
    page.wait_for_function(
        "() => Number(document.querySelector('.amumo-explorer').dataset.selected) === 0"
    )
    root.screenshot(path=str(screenshot(page, "after").with_name("explorer-after-dblclick.png")))
    # The colour range's lock is a switch in the heatmap toolbar bound to scale_locked.
    lock = heatmap.locator("label.amumo-switch", has=page.locator(".amumo-scale-lock"))
    assert "lock range" in lock.inner_text()
    lock.click()
    page.wait_for_timeout(400)
    assert run_cell(page, "print(ex.scale_locked)").strip() == "True"
