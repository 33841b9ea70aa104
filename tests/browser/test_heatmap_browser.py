"""The heatmap's cluster names in JupyterLab + headless Chromium: every name in the key is
whole, inside the widget and apart; every number on the matrix clear of the quadrant tags
and of the others, also zoomed in.

Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


THREE_MODALITIES = """
import amumo as am
ds = am.data.SyntheticShapesAudio(60, seed=0)
emb = am.embed(am.models.ShapesEncoder(), ds, progress=False, cache=False)
ex = am.Explorer(emb, dataset=ds, cluster=True, cluster_by="text", cluster_k=5,
                 color_by="cluster")
ex
"""


_JS_KEY = """(root) => [...root.querySelectorAll('.amumo-heatmap-panel .amumo-cluster-key-item')]
  .map((li) => {
    const name = li.querySelector('.amumo-cluster-name');
    const r = li.getBoundingClientRect();
    return {number: li.dataset.cluster, name: name.textContent,
            clipped: name.scrollWidth > name.clientWidth + 1 || li.scrollWidth > li.clientWidth + 1,
            visible: getComputedStyle(name).visibility === 'visible' && r.width > 0,
            x: r.x, y: r.y, w: r.width, h: r.height};
  })"""


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and \
        a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def _check_cluster_names(page, root, names: list[str], label: str, screenshot) -> None:
    heatmap = root.locator(".amumo-heatmap-panel")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    screenshot(page, label, view=heatmap)
    view = heatmap.locator(".amumo-heatmap-view")
    widget = root.bounding_box()
    stage = heatmap.locator(".amumo-stage").bounding_box()
    # The key names every cluster, whole, inside the widget, off the matrix, apart.
    key = page.evaluate(_JS_KEY, root.element_handle())
    assert [k["name"] for k in key] == names, key
    assert [k["number"] for k in key] == [str(i + 1) for i in range(len(names))]
    for k in key:
        assert k["visible"] and not k["clipped"], k
        assert widget["x"] <= k["x"] and k["x"] + k["w"] <= widget["x"] + widget["width"], k
        assert widget["y"] <= k["y"] and k["y"] + k["h"] <= widget["y"] + widget["height"], k
        assert not _overlap(k, {"x": stage["x"], "y": stage["y"], "w": stage["width"],
                                "h": stage["height"]}), k
    for a in range(len(key)):
        for b in range(a + 1, len(key)):
            assert not _overlap(key[a], key[b]), (key[a], key[b])
    # On the matrix each cluster has its number, inside the plot, clear of the quadrant
    # tags ("image–image") and of the other numbers.
    labels = json.loads(view.get_attribute("data-labels"))
    geo = json.loads(view.get_attribute("data-geometry"))
    plot = {"x": geo["left"], "y": geo["top"], "w": geo["side"], "h": geo["side"]}
    badges, tags = labels["badges"], labels["tags"]
    assert {b["cluster"] for b in badges} == set(range(len(names))), badges
    for b in badges:
        assert plot["x"] <= b["x"] and b["x"] + b["w"] <= plot["x"] + plot["w"], b
        assert plot["y"] <= b["y"] and b["y"] + b["h"] <= plot["y"] + plot["h"], b
        for t in tags:
            assert not _overlap(b, t), (b, t)
    for a in range(len(badges)):
        for b in range(a + 1, len(badges)):
            assert not _overlap(badges[a], badges[b]), (badges[a], badges[b])


@pytest.mark.parametrize("case", ["coco", "three_modalities"])
def test_every_cluster_name_is_readable(case, open_notebook, wait_for_output, run_cell,
                                        screenshot):
    cell = (
        "import amumo as am\nex = am.Explorer(am.datasets.clip_coco500(), cluster=True)\nex"
        if case == "coco" else THREE_MODALITIES
    )
    page = open_notebook([cell])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    names = json.loads(run_cell(page, "import json; print(json.dumps(ex.cluster_legend))"))
    assert len(names) == (6 if case == "coco" else 5) and all(names)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.amumo-heatmap-panel .amumo-cluster-key-item')"
        ".length === n", arg=len(names), timeout=20000,
    )
    _check_cluster_names(page, root, names, case, screenshot)
    # Hovering a key entry outlines that cluster on the matrix.
    root.locator('.amumo-heatmap-panel .amumo-cluster-key-item[data-cluster="2"]').hover()
    page.wait_for_timeout(200)
    screenshot(page, f"{case}-key-hover", view=root.locator(".amumo-heatmap-panel"))
    # Zoomed in, the numbers are placed again, still clear of the tags and of each other.
    if case == "coco":
        view = root.locator(".amumo-heatmap-panel .amumo-heatmap-view")
        geo = json.loads(view.get_attribute("data-geometry"))
        box = root.locator(".amumo-heatmap-panel canvas.amumo-overlay").bounding_box()
        page.mouse.move(box["x"] + geo["left"] + 40, box["y"] + geo["top"] + 40)
        page.mouse.wheel(0, -600)
        page.wait_for_timeout(400)
        labels = json.loads(view.get_attribute("data-labels"))
        for b in labels["badges"]:
            for t in labels["tags"]:
                assert not _overlap(b, t), (b, t)
        screenshot(page, f"{case}-zoomed", view=root.locator(".amumo-heatmap-panel"))
