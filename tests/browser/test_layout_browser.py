"""Layout: the preview card shows all of its meta fields, the Preview / Metrics row
has no empty half, and an augmented Explorer says what it shows."""

from __future__ import annotations

import json

import pytest
from _screen import heatmap_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AUGMENTED = """
import numpy as np, amumo as am
from amumo.data import SyntheticShapes
from amumo.models import CallableEncoder

def image_features(images):
    arrays = [np.asarray(im.convert("RGB"), dtype=np.float64) / 255 for im in images]
    return [np.concatenate([a.mean((0, 1)), a.std((0, 1)), a[:8, :8].mean((0, 1)), [1.0]])
            for a in arrays]

def text_features(texts):
    words = ["red", "blue", "green", "circle", "square", "small", "large", "star", "big"]
    return [[float(w in t) for w in words] + [1.0] for t in texts]

enc = CallableEncoder({"image": image_features, "text": text_features}, name="toy",
                      fingerprint="toy-layout-v1")
ex = am.Explorer(dataset=SyntheticShapes(30, seed=1), encoder=enc)
ex.augmentation = "rotate"
ex.wait()
ex.color_by = "level"
ex
"""


def _hover_cell(page, root, row: int, col: int) -> None:
    heatmap = root.locator(".amumo-heatmap-panel")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    x, y = heatmap_cell(heatmap, row, col)
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y)


def _preview_fits(root) -> dict:
    return root.evaluate(
        """(el) => {
          const body = el.querySelector('.amumo-preview-body');
          const metrics = el.querySelector('.amumo-metrics-panel');
          const table = metrics.querySelector('table');
          const card = el.querySelector('.amumo-preview-body .amumo-card');
          return {scroll: body.scrollHeight, client: body.clientHeight,
                  firstCardFits: card.getBoundingClientRect().bottom
                                 <= body.getBoundingClientRect().bottom + 1,
                  more: el.querySelectorAll('.amumo-preview-body .amumo-more-fields').length,
                  fields: el.querySelectorAll('.amumo-preview-body .amumo-fields dt').length,
                  metricsWidth: metrics.getBoundingClientRect().width,
                  tableWidth: table.getBoundingClientRect().width};
        }"""
    )


@pytest.mark.parametrize("width", [1400, 1900])
def test_preview_shows_whole_cards_and_metrics_leave_no_gap(
    open_notebook, wait_for_output, screenshot, width
):
    page = open_notebook(["import amumo as am",
                          "ex = am.Explorer(am.datasets.clip_coco500())\nex"])
    page.set_viewport_size({"width": width, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(500)
    _hover_cell(page, root, 12, 500 + 40)
    root.locator('.amumo-card[data-modality="text"] .amumo-fields dt').first.wait_for()
    page.wait_for_timeout(400)
    fits = _preview_fits(root)
    # side by side (1400): every card whole; in the narrow third column (1900) at least the
    # first (more scroll, with a scrollbar); extra fields behind "N more fields", announced
    assert fits["firstCardFits"], fits
    if width == 1400:
        assert fits["scroll"] <= fits["client"] + 1, fits
    assert fits["fields"] >= 2 and fits["more"] >= 1, fits
    # the metrics panel is about as wide as its table (no ~300 px empty half)
    assert fits["metricsWidth"] - fits["tableWidth"] < 120, fits
    root.screenshot(path=str(screenshot(page, "hover").with_name(f"explorer-layout-{width}.png")))


def test_augmented_explorer_note_fields_and_cyclic_legend(
    open_notebook, wait_for_output, screenshot
):
    page = open_notebook([AUGMENTED])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(500)
    note = root.locator(".amumo-aug-note")
    assert note.is_visible()
    assert "first 20 of 30 pairs × 10 levels = 200 pairs" in note.inner_text()
    assert "(per level)" in root.locator('tr[data-metric="info_nce"] th').inner_text()
    assert "(cyclic)" in root.locator(".amumo-scatter-view .amumo-legend").inner_text()
    _hover_cell(page, root, 25, 200 + 25)  # image and text of pair 25 (item 2, level 5)
    card = root.locator('.amumo-card[data-modality="image"]')
    card.locator(".amumo-fields dt").first.wait_for()
    page.wait_for_timeout(300)
    terms = card.locator(".amumo-fields dt").all_inner_texts()
    assert terms[:2] == ["augmentation", "level"], terms
    values = card.locator(".amumo-fields dd").all_inner_texts()
    assert values[:2] == ["rotate", "180"], values
    root.screenshot(path=str(screenshot(page, "augmented").with_name("explorer-augmented.png")))


def test_comparer_tooltip_leaves_the_colour_bar_visible(open_notebook, wait_for_output,
                                                          screenshot):
    page = open_notebook([
        "import amumo as am",
        "emb = am.datasets.clip_coco500()\n"
        "am.Comparer({'CLIP': emb, 'random init': am.datasets.clip_coco500(random_init=True)})",
    ])
    page.set_viewport_size({"width": 1400, "height": 1200})
    root = wait_for_output(page, ".amumo-comparer[data-rendered]")
    page.wait_for_timeout(500)
    view = root.locator(".amumo-heatmap-view").first
    view.scroll_into_view_if_needed()
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    bar_left = box["x"] + geo["left"] + geo["side"] + 14
    tip = view.locator(".amumo-tooltip")
    # across the matrix, left half (tooltip to the right) and right half (to the left)
    for fx in (0.05, 0.3, 0.5, 0.7, 0.95):
        x = box["x"] + geo["left"] + fx * geo["side"]
        y = box["y"] + geo["top"] + 0.2 * geo["side"]
        page.mouse.move(x - 5, y)
        page.mouse.move(x, y)
        tip.wait_for(state="visible")
        page.wait_for_timeout(100)
        right = tip.bounding_box()["x"] + tip.bounding_box()["width"]
        assert right <= bar_left + 1, (fx, right, bar_left)
        if fx == 0.5:
            root.screenshot(path=str(screenshot(page, "tip").with_name("comparer-tooltip.png")))
