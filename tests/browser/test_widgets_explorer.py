"""Explorer and the single views in a real JupyterLab + headless Chromium.

Each test builds a notebook, waits for the widget's own ``data-rendered`` mark, drives
the pointer like a person and reads the result from the DOM and from the kernel.
Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _screen import heatmap_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

SHAPES_CELL = """
import numpy as np, amumo as am
from amumo.data import SyntheticShapes
ds = SyntheticShapes(60, seed=0)
rng = np.random.default_rng(0)
base = rng.normal(size=(60, 32))
emb = am.Embeddings.from_arrays(
    {"image": base + rng.normal(size=32) * 2, "text": base + rng.normal(size=(60, 32))},
    meta=ds.meta,
)
ex = am.Explorer(emb, dataset=ds)
ex
"""


def _geometry(locator) -> dict:
    return json.loads(locator.get_attribute("data-geometry"))



def test_explorer_renders_clip_coco500(open_notebook, wait_for_output, screenshot):
    page = open_notebook([
        "import amumo as am",
        "ex = am.Explorer(am.datasets.clip_coco500())\nex",
    ])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(400)
    root.scroll_into_view_if_needed()
    shot = screenshot(page, "page")
    root.screenshot(path=str(shot.with_name("explorer-coco500.png")))
    # All canvases drew (heatmap 2; scatter 3: axes and lines, WebGL points, overlay), the
    # metrics panel shows the reference gap.
    assert page.locator(".amumo-explorer canvas").count() == 5
    assert root.locator(".amumo-scatter-view").get_attribute("data-renderer") == "webgl"
    root.locator(".amumo-scatter-view[data-drawn=true]").wait_for()
    gap = page.locator('.amumo-metric-before[data-metric="gap_distance"]')
    assert gap.inner_text() == "0.851"
    assert page.locator(".amumo-heatmap-view .amumo-statusline").inner_text().startswith("1,000")


def test_hover_cell_previews_caption(open_notebook, wait_for_output, run_cell, screenshot):
    page = open_notebook([
        "import amumo as am",
        SHAPES_CELL,
        "seen = []\n"
        "ex.observe(lambda c: seen.append((ex.hovered, dict(ex.hovered_cell))),"
        " ['hovered', 'hovered_cell'])",
    ])
    expected = run_cell(page, "print(ds.meta['caption'][7])").strip()
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(500)  # let the notebook finish scrolling to the new cell
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    heatmap = root.locator(".amumo-heatmap-panel")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    # Row: image of pair 5; column: text of pair 7 (60 pairs per modality block).
    x, y = heatmap_cell(heatmap, 5, 60 + 7)
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y)
    card = root.locator('.amumo-card[data-modality="text"][data-pair="7"] .amumo-caption')
    card.wait_for(timeout=5000)
    assert card.inner_text() == expected
    # The image card shows pair 5 with a lazily fetched thumbnail.
    root.locator('.amumo-card[data-modality="image"][data-pair="5"] img').wait_for(timeout=10000)
    # The scatter highlights both items (overlay drawn) and the tooltip names them.
    tip = heatmap.locator(".amumo-tooltip")
    assert "image #5" in tip.inner_text() and "text #7" in tip.inner_text()
    hover_ms = float(root.get_attribute("data-hover-ms"))
    assert hover_ms < 50, hover_ms
    root.screenshot(path=str(screenshot(page, "hover").with_name("explorer-hover.png")))
    # Python received the hovered pair and cell (throttled to one message per 60 ms).
    page.wait_for_timeout(300)
    out = run_cell(page, "print([s for s in seen if s[0] == 5][-1:])")
    assert "'row': ['image', 5], 'col': ['text', 7]" in out


def test_close_gap_updates_metrics_and_scatter(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([
        "import amumo as am",
        "ex = am.Explorer(am.datasets.clip_coco500())\nex",
    ])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    after = root.locator('.amumo-metric-after[data-metric="gap_distance"]')
    assert abs(float(after.get_attribute("data-value")) - 0.8514) < 1e-3
    scatter = root.locator(".amumo-scatter-view")
    # The λ slider: half a shift reaches Python and the panel.
    root.locator(".amumo-lam").evaluate(
        "el => { el.value = '0.5'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function(
        """() => {
          const el = document.querySelector('.amumo-metric-after[data-metric="gap_distance"]');
          return el && Number(el.dataset.value) < 0.6;
        }""",
        timeout=15000,
    )
    assert run_cell(page, "print(ex.lam)").strip() == "0.5"
    assert root.locator(".amumo-lam-value").inner_text() == "λ = 0.50"
    before_sum = scatter.get_attribute("data-xy-sum")
    root.locator(".amumo-close-gap").click()
    page.wait_for_function(
        """() => {
          const el = document.querySelector('.amumo-metric-after[data-metric="gap_distance"]');
          return el && Number(el.dataset.value) < 0.01;
        }""",
        timeout=15000,
    )
    assert float(after.get_attribute("data-value")) < 0.01
    assert root.locator('.amumo-metric-before[data-metric="gap_distance"]').inner_text() == "0.851"
    assert scatter.get_attribute("data-xy-sum") != before_sum
    page.wait_for_timeout(700)  # let the points finish moving
    root.screenshot(path=str(screenshot(page, "closed").with_name("explorer-closed.png")))
    # The caption filter on the shipped MSCOCO captions: 7 mention a giraffe.
    root.locator(".amumo-filter").fill("giraffe")
    page.wait_for_function(
        "() => document.querySelector('.amumo-count').textContent === '7 of 500 pairs'",
        timeout=15000,
    )
    assert run_cell(page, "print(ex.n_pairs, ex.closed)").strip() == "7 True"
    root.locator(".amumo-heatmap-view .amumo-statusline").wait_for()
    assert root.locator(".amumo-heatmap-view").get_attribute("data-n") == "14"


def test_box_selection_reaches_python(open_notebook, wait_for_output, run_cell, screenshot):
    page = open_notebook([
        "import amumo as am",
        "ex = am.Explorer(am.datasets.clip_coco500())\nex",
    ])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    root.scroll_into_view_if_needed()
    view = root.locator(".amumo-scatter-view")
    view.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    geo = _geometry(view)
    box = view.locator("canvas.amumo-overlay").bounding_box()
    x0 = box["x"] + geo["left"] + 2
    y0 = box["y"] + geo["top"] + 2
    # The left third of the plot: the image cone of CLIP (PC 1 separates the modalities).
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + geo["plot"] * 0.2, y0 + geo["plot"] * 0.5, steps=8)
    page.mouse.move(x0 + geo["plot"] * 0.33, y0 + geo["plot"] - 4, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "() => Number(document.querySelector('.amumo-explorer').dataset.selected) > 0"
    )
    shown = int(root.get_attribute("data-selected"))
    page.wait_for_timeout(500)  # selection is debounced (200 ms)
    out = run_cell(page, "print(len(ex.selected), len(ex.selection()))").split()
    assert int(out[0]) == shown > 10
    assert int(out[1]) == shown
    root.screenshot(path=str(screenshot(page, "selected").with_name("explorer-selected.png")))
