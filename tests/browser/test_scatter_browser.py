"""The scatter view in JupyterLab + headless Chromium: new points sent while it draws are
queued, never dropped ("drawing failed: ... previous draw call has not yet finished"); a
selection too large to mark point by point keeps its outline after the projection changes;
a running UMAP is cancelled from its busy sign.

Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import json
import re

import pytest

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


def _scatter_state(view) -> dict:
    """What the scatter view drew and says: its data size, the points drawn, status, busy text."""
    status = view.locator(".amumo-statusline").inner_text()
    busy = view.get_attribute("data-busy") == "true"
    match = re.match(r"([\d,]+) points", status)
    return {
        "n": int(view.get_attribute("data-n")),
        "drawn": view.get_attribute("data-drawn-points"),
        "status": int(match.group(1).replace(",", "")) if match else None,
        "busy": view.locator(".amumo-busy").inner_text() if busy else "",
    }


def test_filter_changes_during_a_draw_are_queued_not_dropped(
    open_notebook, wait_for_output, run_cell, screenshot
):
    # The walkthrough's cells: the Explorer, then (next cell, Run All) a filter. Its new
    # points reach the scatter while it still draws the first ones.
    page = open_notebook([
        SHAPES_CELL,
        'ex.filter_mode = "all"\nex.filter_text = "red circle"',
    ])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    view = root.locator(".amumo-scatter-view")
    # Then, each time, several changes in one cell: every one sends new points at once.
    bursts = [
        ["", "red circle", "blue", "red circle"],
        ["red", "", "red circle"],
        ["circle", "green", "red", "blue square", "red circle", ""],
        ["blue", "red circle"],
        ["", "square", "red circle", "circle"],
    ]
    for k, texts in enumerate([None, *bursts]):
        if texts is not None:
            run_cell(page, "\n".join(f"ex.filter_text = {t!r}" for t in texts))
        n_pairs = int(run_cell(page, "print(ex.n_pairs)"))
        page.wait_for_function(
            "(n) => { const v = document.querySelector('.amumo-scatter-view');"
            " const failed = v.querySelector('.amumo-busy').textContent.includes('failed');"
            " return failed || v.dataset.drawn === 'true' && Number(v.dataset.n) === n"
            " && v.dataset.busy !== 'true'; }",
            arg=2 * n_pairs, timeout=20000,
        )
        page.wait_for_timeout(600)  # anything still queued would show up here
        state = _scatter_state(view)
        if k in (0, 3):
            screenshot(page, f"burst{k}", view=root.locator(".amumo-scatter-panel"))
        assert "drawing failed" not in state["busy"], (k, state)
        assert state["busy"] == "", (k, state)
        # The points drawn are the points the status line announces: the last filter's.
        assert state["status"] == state["n"] == 2 * n_pairs, (k, state)
        assert state["drawn"] == str(2 * n_pairs), (k, state)
    assert not [m for m in page.amumo_console if "previous draw call" in m]


BIG_SCATTER = """
import json
import numpy as np
import amumo as am
# Pairs spread mostly along one shared direction (dimension 0: PC 1, and the axis across
# the gap in the gap-axis projection), with a small modality gap along dimension 1.
rng = np.random.default_rng(0)
n = 120_000
concept = rng.standard_normal((n, 16), dtype=np.float32)
concept[:, 0] *= 3
offset = np.zeros(16, np.float32)
offset[1] = 0.6
emb = am.Embeddings.from_arrays({
    "image": concept + 0.3 * rng.standard_normal((n, 16), dtype=np.float32) + offset,
    "text": concept + 0.3 * rng.standard_normal((n, 16), dtype=np.float32) - offset,
})
sc = am.Scatter(emb, projection="pca")
sc
"""


_JS_BLUE_BOX = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const {width, height} = canvas;
  const px = ctx.getImageData(0, 0, width, height).data;
  const ratio = width / canvas.clientWidth;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, count = 0;
  for (let k = 0; k < width * height; k++) {
    if (px[4 * k + 3] < 60 || px[4 * k + 2] - px[4 * k] < 100) continue;
    const x = (k % width) / ratio, y = Math.floor(k / width) / ratio;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    count++;
  }
  return count ? {x0, y0, x1, y1, count} : null;
}"""


def test_large_selection_outline_follows_a_projection_change(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([BIG_SCATTER])
    page.set_viewport_size({"width": 1400, "height": 1100})
    root = wait_for_output(page, ".amumo-scatter[data-rendered]")
    view = root.locator(".amumo-scatter-view")
    root.locator(".amumo-scatter-view[data-drawn=true]").wait_for(timeout=60000)
    view.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    x0, y0, s = box["x"] + geo["left"], box["y"] + geo["top"], geo["plot"]
    # A box over the left 45 % of the plot: more pairs than are marked point by point.
    page.mouse.move(x0 + 3, y0 + 3)
    page.mouse.down()
    page.mouse.move(x0 + 0.45 * s, y0 + s - 3, steps=12)
    page.mouse.up()
    page.wait_for_function(
        "() => Number(document.querySelector('.amumo-scatter').dataset.selected) > 0"
    )
    page.wait_for_timeout(600)
    selected = int(root.get_attribute("data-selected"))
    assert 2 * selected > 100_000  # above HIGHLIGHT_LIMIT points (js/lib/sizes.js)
    overlay = view.locator("canvas.amumo-overlay").element_handle()

    def expected_box() -> dict:
        """Stage-pixel bounding box of the selected pairs' items, from the kernel's xy."""
        window = json.loads(view.get_attribute("data-window"))
        code = (
            "xy = np.frombuffer(sc.xy, np.float32).reshape(2, n, 2)\n"
            "sel = np.array(sc.selected)\n"
            "pts = xy[:, sel].reshape(-1, 2)\n"
            "print(json.dumps([float(v) for v in (*pts.min(0), *pts.max(0))]))"
        )
        lo_x, lo_y, hi_x, hi_y = json.loads(run_cell(page, code))

        def sx(x: float) -> float:
            return geo["left"] + (x - window["x0"]) / (window["x1"] - window["x0"]) * s

        def sy(y: float) -> float:
            return geo["top"] + s - (y - window["y0"]) / (window["y1"] - window["y0"]) * s

        clip = lambda v, lo, hi: min(max(v, lo), hi)  # noqa: E731
        left, top = geo["left"], geo["top"]
        return {
            "x0": clip(sx(lo_x), left, left + s), "x1": clip(sx(hi_x), left, left + s),
            "y0": clip(sy(hi_y), top, top + s), "y1": clip(sy(lo_y), top, top + s),
        }

    # The box just drawn is outlined (and the selected items are shaded).
    drawn = page.evaluate(_JS_BLUE_BOX, overlay)
    screenshot(page, "pca", view=root)
    assert drawn is not None, "no selection drawn"
    assert drawn["x0"] <= geo["left"] + 3 + 2 and drawn["y0"] <= geo["top"] + 3 + 2, drawn
    assert drawn["x1"] >= geo["left"] + 0.45 * s - 2 and drawn["y1"] >= geo["top"] + s - 3 - 2

    def check(label: str) -> None:
        drawn = page.evaluate(_JS_BLUE_BOX, overlay)
        want = expected_box()
        screenshot(page, label, view=root)
        assert drawn is not None, f"{label}: no selection drawn"
        for side in ("x0", "y0", "x1", "y1"):
            assert abs(drawn[side] - want[side]) <= 6, (label, side, drawn, want)

    # Another projection: new coordinates for every point, the same selection.
    run_cell(page, 'sc.projection = "gap"')
    page.wait_for_function(
        "() => document.querySelector('.amumo-scatter-view').dataset.drawn === 'true'"
        " && document.querySelector('.amumo-scatter-view .amumo-statusline')"
        ".textContent.includes('selected')", timeout=30000,
    )
    page.wait_for_timeout(800)
    assert int(root.get_attribute("data-selected")) == selected
    check("gap-axis")
    assert "selected" in view.locator(".amumo-statusline").inner_text()
    print(f"footprint of {selected:,} pairs ({2 * selected:,} points):",
          view.get_attribute("data-footprint-ms"), "ms")


UMAP_CELL = """
import numpy as np
import amumo as am
import amumo.analysis.projection as projection
real = projection._fit_umap
# many epochs: still running when the test clicks cancel
projection._fit_umap = lambda *a, **k: real(*a, **{**k, "n_epochs": 5000})
rng = np.random.default_rng(0)
w = am.Scatter(am.Embeddings.from_arrays({"image": rng.normal(size=(300, 16)) + 2,
                                          "text": rng.normal(size=(300, 16)) - 2}))
pca = w.xy
w
"""


def test_a_running_umap_is_cancelled_from_its_busy_sign(
    open_notebook, wait_for_output, run_cell, screenshot
):
    """Issue 21 item 9: the busy sign of a UMAP still computing has a cancel button; a
    click stops the fit and the scatter goes back to the PCA picture shown meanwhile."""
    page = open_notebook([UMAP_CELL], timeout=120)
    root = wait_for_output(page, ".amumo-scatter[data-rendered]")
    run_cell(page, "w.projection = 'umap'; print('started')")
    button = root.locator(".amumo-busy .amumo-busy-action")
    button.wait_for(state="visible", timeout=120_000)
    page.wait_for_function(
        "() => document.querySelector('.amumo-busy').textContent.includes('epoch')",
        timeout=120_000,
    )
    screenshot(page, "umap-busy-cancel", view=root)
    assert button.inner_text() == "cancel"
    button.click()
    page.wait_for_function(
        "() => document.querySelector('.amumo-scatter-view').dataset.busy === 'false'",
        timeout=30_000,
    )
    state = run_cell(page, "w.wait(timeout=30); print(w.projection, repr(w.projection_status),"
                           " w.xy == pca)")
    assert state == "pca '' True"
