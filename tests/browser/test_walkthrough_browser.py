"""Issue 21, "the walkthrough at scale", front-end items in JupyterLab + headless Chromium.

- item 1: trait changes that send new points while the scatter is drawing are queued,
  never dropped ("drawing failed: ... previous draw call has not yet finished");
- item 2: captions of pairs past the kernel's ``TEXTS_LIMIT`` show in the preview and in
  both tooltips (fetched for the hovered rows, cached in the browser);
- item 5: a selection too large to mark point by point keeps its outline on the points
  after the projection changes;
- item 6: every cluster name of the heatmap is readable (no clipping, no overlap);
- item 7: the Retrieval card follows close-the-gap;
- item 12: thousands separators, audio durations, Comparer titles in line, calibration axis.

Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

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


def _shot(screenshot, page, locator, label: str) -> None:
    """Screenshot of one element (scrolled into view) beside the page's, in tests/artifacts/."""
    locator.scroll_into_view_if_needed()
    page.wait_for_timeout(150)
    locator.screenshot(path=str(screenshot(page, label, full_page=False).with_suffix(".view.png")))


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
            _shot(screenshot, page, root.locator(".amumo-scatter-panel"), f"burst{k}")
        assert "drawing failed" not in state["busy"], (k, state)
        assert state["busy"] == "", (k, state)
        # The points drawn are the points the status line announces: the last filter's.
        assert state["status"] == state["n"] == 2 * n_pairs, (k, state)
        assert state["drawn"] == str(2 * n_pairs), (k, state)
    assert not [m for m in page.amumo_console if "previous draw call" in m]
