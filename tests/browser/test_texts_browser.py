"""Captions of pairs past the kernel's ``TEXTS_LIMIT`` (amumo.widgets._items, js/lib/texts.js)
in JupyterLab + headless Chromium: they show in the preview, in both tooltips and in the
selection list, fetched for the rows shown, a few at a time, cached in the browser.

Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import json

import pytest
from _screen import heatmap_cell, heatmap_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHAPES_CELL = """
import amumo as am
from amumo.data import SyntheticShapes
shapes = SyntheticShapes(300, seed=0)
tiny = am.models.tiny_shapes()
shapes_emb = am.embed(tiny, shapes, progress=False, cache=False)
ex = am.Explorer(shapes_emb, dataset=shapes, encoder=tiny)
ex
"""


def _hover_a_point(page, view) -> int:
    """Move over the scatter until a point's tooltip shows; its pair id."""
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    x0, y0, s = box["x"] + geo["left"], box["y"] + geo["top"], geo["plot"]
    for row in (0.5, 0.3, 0.7):
        for k in range(60):
            page.mouse.move(x0 + s * (0.05 + 0.015 * k), y0 + s * row)
            if view.locator(".amumo-tooltip:not([hidden])").count():
                return int(view.get_attribute("data-hovered"))
    raise AssertionError("no point found under the pointer")


def test_captions_above_the_texts_limit_are_fetched_on_hover(
    open_notebook, wait_for_output, run_cell, screenshot
):
    # Above TEXTS_LIMIT pairs (50,000) the kernel sends no texts; lowered here so 300 pairs
    # stand for 200k. Every texts request the kernel serves is logged.
    page = open_notebook([
        "import amumo.widgets._items as items_module\nitems_module.TEXTS_LIMIT = 50",
        SHAPES_CELL,
        "asked = []\n_serve = ex._request_texts\n"
        "ex._request_texts = lambda content: (asked.append(list(content['pairs'])), "
        "_serve(content))[1]",
    ])
    assert run_cell(page, "print(len(ex.texts), ex.text_field)") == "0 caption"
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    root.locator(".amumo-scatter-view[data-drawn=true]").wait_for()
    page.wait_for_timeout(300)
    captions = json.loads(
        run_cell(page, "import json; print(json.dumps(list(shapes.meta['caption'])))")
    )

    # Scatter: the tooltip and the preview card of the hovered pair show its caption.
    view = root.locator(".amumo-scatter-view")
    view.scroll_into_view_if_needed()
    pair = _hover_a_point(page, view)
    tip = view.locator(".amumo-tooltip .amumo-tip-row")
    tip.wait_for(state="visible", timeout=5000)
    assert tip.inner_text() == captions[pair]
    card = root.locator(f'.amumo-card[data-modality="text"][data-pair="{pair}"] .amumo-caption')
    card.wait_for(timeout=5000)
    page.wait_for_function(
        "(el) => el.textContent !== '…'", arg=card.element_handle(), timeout=5000
    )
    assert card.inner_text() == captions[pair]
    assert "(no text)" not in root.locator(".amumo-preview-panel").inner_text()
    screenshot(page, "scatter-hover", view=root.locator(".amumo-grid"))

    # Heatmap: hovering a cell gives both captions in its tooltip.
    heatmap = root.locator(".amumo-heatmap-panel")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    # image row 40, text column 200 (no clustering: identity order)
    page.mouse.move(*heatmap_cell(heatmap, 40, heatmap_cells(heatmap) // 2 + 200))
    rows = heatmap.locator(".amumo-tooltip .amumo-tip-row")
    tooltip = heatmap.locator(".amumo-tooltip").element_handle()
    page.wait_for_function("(el) => !el.textContent.includes('…')", arg=tooltip, timeout=5000)
    assert captions[40] in rows.nth(0).inner_text()
    assert captions[200] in rows.nth(1).inner_text()
    screenshot(page, "heatmap-hover", view=heatmap)

    # A selection lists its first pairs with their captions.
    run_cell(page, "ex.selected = [3, 5, 8]")
    page.mouse.move(5, 5)
    listed = root.locator(".amumo-preview-selection li")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.amumo-preview-selection li')]"
        ".every((li) => !li.textContent.includes('…'))", timeout=5000,
    )
    assert listed.nth(1).inner_text() == f"#5 {captions[5]}"

    # The kernel was asked for a few texts at a time, each at most once (cached in the
    # browser), never for the whole column.
    asked = json.loads(run_cell(page, "print(json.dumps(asked))"))
    flat = [p for request in asked for p in request]
    assert asked and max(len(request) for request in asked) <= 8, asked
    assert len(flat) == len(set(flat)), asked
    assert {pair, 40, 200, 3, 5, 8} <= set(flat)
    # Hovering the same point again asks for nothing more.
    page.mouse.move(5, 5)
    view.scroll_into_view_if_needed()
    assert _hover_a_point(page, view) == pair
    tip.wait_for(state="visible", timeout=5000)
    assert tip.inner_text() == captions[pair]
    again = json.loads(run_cell(page, "print(json.dumps(asked))"))
    assert len(again) == len(asked), again
