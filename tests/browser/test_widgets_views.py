"""The single views, the Comparer (hover linked; long titles wrap and keep the heatmaps in
line) and a trained model's Explorer in JupyterLab + Chromium."""

from __future__ import annotations

import json

import pytest

import amumo as am

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _center(locator, geo_key: str = "side") -> tuple[dict, dict]:
    view = locator
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    return geo, box


def test_heatmap_cluster_zoom_and_click(open_notebook, wait_for_output, run_cell, screenshot):
    page = open_notebook([
        "import amumo as am",
        "hm = am.Heatmap(am.datasets.clip_coco500(), cluster=True, cluster_k=5)\nhm",
    ])
    root = wait_for_output(page, ".amumo-heatmap[data-rendered]")
    page.wait_for_timeout(300)
    root.scroll_into_view_if_needed()
    view = root.locator(".amumo-heatmap-view")
    geo, box = _center(view)
    x0, y0 = box["x"] + geo["left"], box["y"] + geo["top"]
    # Click cell (image 10, text 20) in the clustered order: selects both pairs.
    cell = geo["side"] / 1000
    page.mouse.click(x0 + (500 + 20.5) * cell, y0 + 10.5 * cell)
    page.wait_for_timeout(800)  # click acts after the double-click interval (250 ms)
    out = run_cell(page, "import numpy as np\n"
                         "order = np.frombuffer(hm.order, np.int32)\n"
                         "print(sorted({int(order[10]), int(order[20])}) == hm.selected)")
    assert out.strip() == "True"
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    geo, box = _center(view)
    x0, y0 = box["x"] + geo["left"], box["y"] + geo["top"]
    page.mouse.move(x0 + geo["side"] * 0.25, y0 + geo["side"] * 0.25)
    for _ in range(6):
        page.mouse.wheel(0, -300)
    page.wait_for_timeout(400)
    assert "zoom" in view.locator(".amumo-statusline").inner_text()
    tip = view.locator(".amumo-tooltip")
    assert "image–image" in tip.inner_text()
    root.screenshot(path=str(screenshot(page, "zoom").with_name("heatmap-zoom.png")))


def test_scatter_lasso_and_linked_preview(open_notebook, wait_for_output, run_cell, screenshot):
    page = open_notebook([
        "import amumo as am, ipywidgets as W",
        "emb = am.datasets.clip_coco500()\n"
        "sc = am.Scatter(emb, color_by='pair')\n"
        "pv = am.Preview(emb)\n"
        "W.jslink((sc, 'hovered'), (pv, 'hovered'))\n"
        "W.HBox([sc, pv])",
    ])
    root = wait_for_output(page, ".amumo-scatter[data-rendered]")
    wait_for_output(page, ".amumo-preview[data-rendered]")
    page.wait_for_timeout(300)
    root.scroll_into_view_if_needed()
    view = root.locator(".amumo-scatter-view")
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    x0, y0, s = box["x"] + geo["left"], box["y"] + geo["top"], geo["plot"]
    # Lasso (shift-drag) a triangle over the left half of the plot.
    page.keyboard.down("Shift")
    page.mouse.move(x0 + 2, y0 + 2)
    page.mouse.down()
    page.mouse.move(x0 + s * 0.45, y0 + s * 0.5, steps=10)
    page.mouse.move(x0 + 2, y0 + s - 2, steps=10)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function(
        "() => Number(document.querySelector('.amumo-scatter').dataset.selected) > 0"
    )
    page.wait_for_timeout(500)
    shown = int(root.get_attribute("data-selected"))
    assert run_cell(page, "print(len(sc.selection()))").strip() == str(shown)
    # Hover a point: the Preview (a separate widget) follows through jslink in the browser.
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = view.locator("canvas.amumo-overlay").bounding_box()
    x0, y0 = box["x"] + geo["left"], box["y"] + geo["top"]
    found = False
    for k in range(40):
        page.mouse.move(x0 + s * (0.1 + 0.02 * k), y0 + s * 0.5)
        if view.locator(".amumo-tooltip:not([hidden])").count():
            found = True
            break
    assert found
    card = page.locator(".amumo-preview .amumo-card").first
    card.wait_for(timeout=5000)
    pair = int(card.get_attribute("data-pair"))
    caption = am.datasets.clip_coco500().meta.loc[pair, "caption"].strip()
    assert caption in card.inner_text()  # the shipped MSCOCO caption
    page.locator(".jp-OutputArea-output .widget-hbox").first.screenshot(
        path=str(screenshot(page, "lasso").with_name("scatter-preview.png"))
    )


def test_comparer_hover_is_linked(open_notebook, wait_for_output, screenshot):
    page = open_notebook([
        "import amumo as am",
        "cmp = am.Comparer({'CLIP ViT-B/16': am.datasets.clip_coco500(),\n"
        "                   'random init': am.datasets.clip_coco500(random_init=True)})\ncmp",
    ])
    root = wait_for_output(page, ".amumo-comparer[data-rendered]")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_timeout(400)
    root.scroll_into_view_if_needed()
    views = root.locator(".amumo-heatmap-view")
    assert views.count() == 2
    geo = json.loads(views.nth(0).get_attribute("data-geometry"))
    box = views.nth(0).locator("canvas.amumo-overlay").bounding_box()
    cell = geo["side"] / 1000
    page.mouse.move(box["x"] + geo["left"] + 20.5 * cell, box["y"] + geo["top"] + 520.5 * cell)
    values = root.locator(".amumo-compare-value")
    page.wait_for_function(
        "els => els.every(e => e.textContent.length > 0)", arg=values.element_handles()
    )
    # Exact values arrive from the kernel for every model (not only the hovered one).
    page.wait_for_function(
        "els => els.every(e => e.dataset.value && !e.textContent.startsWith('≈'))",
        arg=values.element_handles(), timeout=10000,
    )
    exact = [float(values.nth(k).get_attribute("data-value")) for k in range(2)]
    assert abs(exact[0] - 0.3471) < 2e-3 and exact[0] != exact[1]
    assert "text #20" in root.locator(".amumo-readout").inner_text()
    root.screenshot(path=str(screenshot(page, "hover").with_name("comparer.png")))


@pytest.mark.models
def test_explorer_trained_tiny_model(open_notebook, wait_for_output, run_cell, screenshot):
    """A trained TinyCLIP on SyntheticShapes, clustered, one image-text cell hovered (the shot
    is tests/artifacts/explorer-tiny-shapes.png; docs/explorer.png was taken from it). What
    the picture shows is checked against the kernel: the hovered cell's two pairs in the
    tooltip and the preview, the cell's cosine, the thumbnail, the six named clusters and
    every point drawn."""
    pytest.importorskip("torch")
    page = open_notebook([
        "import amumo as am\nfrom amumo.data import SyntheticShapes",
        "ds = SyntheticShapes(300, seed=1)\n"
        "emb = am.embed(am.models.tiny_shapes(), ds, progress=False, cache=False)\n"
        "ex = am.Explorer(emb, dataset=ds, cluster=True, cluster_k=6)\nex",
    ], timeout=240)
    page.set_viewport_size({"width": 1480, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(600)
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    view = root.locator(".amumo-heatmap-view")
    assert view.get_attribute("data-n") == "600"
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    cell = geo["side"] / 600
    # Row 60 (image block), column 380 (text block: position 80), in the clustered order.
    page.mouse.move(box["x"] + geo["left"] + 380.5 * cell, box["y"] + geo["top"] + 60.5 * cell)
    image = root.locator('.amumo-card[data-modality="image"] img').first
    image.wait_for(timeout=10000)
    caption = root.locator('.amumo-card[data-modality="text"] .amumo-caption')
    caption.wait_for()
    tooltip = root.locator(".amumo-heatmap-panel .amumo-tooltip")
    value = tooltip.locator(".amumo-tip-value")
    page.wait_for_function(  # the exact cell value arrives from the kernel
        "(el) => el.dataset.value !== ''", arg=value.element_handle(), timeout=10000
    )
    page.wait_for_function(
        "(el) => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=10000
    )
    page.wait_for_timeout(300)
    root.screenshot(path=str(screenshot(page, "hover").with_name("explorer-tiny-shapes.png")))
    # Read the page before running a cell (a running cell may scroll the page under the
    # pointer and hover another cell).
    shown = {
        "pairs": root.locator(".amumo-preview-panel .amumo-preview-view").get_attribute(
            "data-pairs"),
        "quadrant": tooltip.locator(".amumo-tip-quadrant").inner_text(),
        "tip_rows": tooltip.locator(".amumo-tip-row").all_inner_texts(),
        "value": float(value.get_attribute("data-value")),
        "caption": caption.inner_text(),
        "key": root.locator(".amumo-heatmap-panel .amumo-cluster-name").all_inner_texts(),
        "points": root.locator(".amumo-scatter-view").get_attribute("data-drawn-points"),
    }
    truth = json.loads(run_cell(page, (
        "import json, numpy as np\n"
        "order = np.frombuffer(ex.order, '<i4')\n"
        "r, c = int(order[60]), int(order[80])\n"
        "e = ex.embeddings\n"
        "print(json.dumps({'r': r, 'c': c, 'captions': [ds.captions[r], ds.captions[c]],\n"
        "                  'cos': float(np.dot(e['image'][r], e['text'][c])),\n"
        "                  'legend': ex.cluster_legend}))"
    )))
    r, c = truth["r"], truth["c"]
    assert shown["pairs"] == f"{r},{c}"  # the row's image, then the column's text
    assert shown["quadrant"] == "image–text"
    assert shown["tip_rows"][0] == f"row: image #{r} {truth['captions'][0]}"
    assert shown["tip_rows"][1] == f"col: text #{c} {truth['captions'][1]}"
    assert shown["value"] == pytest.approx(truth["cos"], abs=1e-5)
    assert shown["caption"] == truth["captions"][1]
    assert len(shown["key"]) == 6 and shown["key"] == truth["legend"] and all(shown["key"])
    assert shown["points"] == "600"  # both modalities of all 300 pairs


def test_landscape_renders_with_plotly(open_notebook, wait_for_output, run_cell, screenshot):
    page = open_notebook([
        "import amumo as am",
        "land = am.Landscape(am.datasets.clip_coco500(), temperatures=[0.01, 0.05, 0.1, 1.0],\n"
        "                    lam=0.5)\nland",
    ])
    root = wait_for_output(page, ".amumo-landscape .js-plotly-plot", timeout=60)
    page.wait_for_timeout(500)
    assert root.locator(".scatterlayer .trace").count() == 5  # four curves + the λ marker
    run_cell(page, "land.lam = -0.5")
    page.wait_for_timeout(500)
    page.locator(".jp-OutputArea-output .amumo-landscape").first.screenshot(
        path=str(screenshot(page, "curves").with_name("landscape.png"))
    )


def test_two_views_of_one_widget_get_their_own_replies(open_notebook, wait_for_output, run_cell):
    """Replies to custom messages reach every view of a model; ids keep them apart."""
    page = open_notebook([
        "import amumo as am",
        "hm = am.Heatmap(am.datasets.clip_coco500(), max_overview=64)\n"
        "display(hm)\ndisplay(hm)",
    ])
    wait_for_output(page, ".amumo-heatmap[data-rendered]")
    views = page.locator(".jp-OutputArea-output .amumo-heatmap-view")
    assert views.count() == 2
    expected = {}
    for k, (r, c) in enumerate([(3, 700), (600, 40)]):
        view = views.nth(k)
        view.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        geo = json.loads(view.get_attribute("data-geometry"))
        box = view.locator("canvas.amumo-overlay").bounding_box()
        cell = geo["side"] / 1000
        # Pooled overview (64²): the tooltip starts approximate, then the exact value comes.
        page.mouse.move(box["x"] + geo["left"] + (c + 0.5) * cell,
                        box["y"] + geo["top"] + (r + 0.5) * cell)
        page.wait_for_function(
            "el => { const v = el.querySelector('.amumo-tip-value');"
            " return v && v.dataset.value !== ''; }",
            arg=view.element_handle(), timeout=10000,
        )
        value = view.locator(".amumo-tip-value").get_attribute("data-value")
        expected[k] = (r, c, float(value))
        page.mouse.move(2, 2)
    code = "import numpy as np\nrows = np.concatenate([hm._emb['image'], hm._emb['text']])\n"
    code += "print(' '.join(f'{float(rows[r] @ rows[c]):.5f}' for r, c in "
    code += repr([(r, c) for r, c, _ in expected.values()]) + "))"
    truth = [float(v) for v in run_cell(page, code).split()]
    assert [round(v, 4) for *_, v in expected.values()] == [round(t, 4) for t in truth]


COMPARER = """
import numpy as np
import amumo as am
from amumo.data import SyntheticShapes
shapes = SyntheticShapes(120, seed=5)
rng = np.random.default_rng(0)
base = rng.normal(size=(120, 16))
def model(seed):
    r = np.random.default_rng(seed)
    return am.Embeddings.from_arrays(
        {"image": base + r.normal(size=(120, 16)) + r.normal(size=16) * 2,
         "text": base + r.normal(size=(120, 16))}, meta=shapes.meta)
names = ["tiny CLIP, trained", "OpenCLIP amumo-tiny, random init",
         "OpenCLIP amumo-tiny, random init (seed 1)"]
comparer = am.Comparer({name: model(k) for k, name in enumerate(names)}, cluster=True)
comparer
"""


def test_comparer_titles_keep_the_heatmaps_in_line(open_notebook, wait_for_output,
                                                   run_cell, screenshot):
    page = open_notebook([COMPARER])
    page.set_viewport_size({"width": 1450, "height": 1000})  # three heatmaps side by side
    root = wait_for_output(page, ".amumo-comparer[data-rendered]")
    page.wait_for_function(
        "() => document.querySelectorAll('.amumo-compare-key .amumo-cluster-key-item').length > 0",
        timeout=20000,
    )
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    screenshot(page, "comparer", view=root)
    cells = root.locator(".amumo-compare-cell")
    assert cells.count() == 3
    lefts = [cells.nth(k).bounding_box()["x"] for k in range(3)]
    assert lefts == sorted(lefts) and lefts[0] < lefts[1] < lefts[2], lefts  # one row
    titles = root.locator(".amumo-compare-cell .amumo-panel-title")
    heights = [titles.nth(k).bounding_box()["height"] for k in range(3)]
    assert max(heights) > 1.5 * min(heights), heights  # the long title wraps at this width
    # Every title whole (wrapped, never cut) and every heatmap at the same height.
    assert titles.all_inner_texts() == json.loads(
        run_cell(page, "import json; print(json.dumps(names))"))
    for k in range(3):
        clipped = titles.nth(k).evaluate("(el) => el.scrollWidth > el.clientWidth + 1")
        assert not clipped, k
    tops = [cells.nth(k).locator(".amumo-stage").bounding_box()["y"] for k in range(3)]
    assert max(tops) - min(tops) <= 1, tops
    # One key of the clusters under the three heatmaps (they share the first model's order).
    assert root.locator(".amumo-heatmap-view .amumo-cluster-key:not([hidden])").count() == 0
    key = root.locator(".amumo-compare-key .amumo-cluster-name").all_inner_texts()
    assert key == json.loads(run_cell(page, "print(json.dumps(comparer.cluster_legend))"))
