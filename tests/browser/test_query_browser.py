"""Queries, labels and cluster portraits in JupyterLab + headless Chromium: ask the pairs a
question, write down what a lasso found, clusters with portraits.

- typing a query into the Explorer's box marks it in the projection (a star, an arrow to
  its nearest images across the gap, rings on its neighbours) and lists its top-k of every
  modality; hovering a listed item marks that pair in the other views (the list and the
  marker are bus subscribers); closing the gap moves the query with the texts and its image
  neighbours change; without an encoder the box is disabled and says what to pass;
- a lasso, a label typed into the selection panel, "colour by labels": the legend names the
  label, Python reads the labels; undo removes them;
- image clusters show their medoid's thumbnail in the heatmap's key and the scatter legend;
  audio clusters a play button.

Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHAPES = """
import amumo as am
from amumo.data import SyntheticShapes
shapes = SyntheticShapes(120, seed=0)
tiny = am.models.tiny_shapes()
emb = am.embed(tiny, shapes, progress=False, cache=False)
"""


def _ask(page, root, text: str) -> dict:
    """Type ``text`` into the query box, press Ask, wait for the list; the panel's state."""
    panel = root.locator(".amumo-query-panel")
    before = panel.get_attribute("data-query-id") or "0"
    box = panel.locator("input.amumo-query-input")
    box.fill(text)
    panel.locator("button.amumo-query-ask").click()
    page.wait_for_function(
        "([el, id]) => el.dataset.queryId !== id && el.dataset.query",
        arg=[panel.element_handle(), before], timeout=30_000,
    )
    return {"label": panel.get_attribute("data-query"), "id": panel.get_attribute("data-query-id")}


def _listed(root, modality: str) -> list[int]:
    rows = root.locator(f".amumo-query-list[data-modality='{modality}'] .amumo-query-row")
    return [int(p) for p in rows.evaluate_all("els => els.map(e => e.dataset.pair)")]


def test_typed_query_marker_list_hover_and_close_gap(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([SHAPES + (
        "ex = am.Explorer(emb, dataset=shapes, encoder=tiny)\n"
        "hover_log = []  # every pair the kernel hears hovered (the page scrolls under the "
        "pointer when a cell runs)\n"
        "ex.observe(lambda change: hover_log.append(change['new']), names='hovered')\nex"
    )])
    page.set_viewport_size({"width": 1600, "height": 1500})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    panel = root.locator(".amumo-query-panel")
    assert panel.get_attribute("data-enabled") == "true"
    question = "a small red circle in the top left"  # a caption as the model knows them
    state = _ask(page, root, question)
    assert state["label"] == f"“{question}”"

    # The list: k = 10 neighbours in each modality, the same as Python's.
    expected = json.loads(run_cell(page, (
        "import json\nr = ex.query_result['results']\n"
        "print(json.dumps({m: [x['pair'] for x in v] for m, v in r.items()}))"
    )))
    assert set(expected) == {"image", "text"}
    for modality, pairs in expected.items():
        assert len(pairs) == 10
        assert _listed(root, modality) == pairs
    # Python's DataFrame holds the same ranking.
    frame = json.loads(run_cell(page, (
        f"df = ex.query({question!r})\n"
        "print(json.dumps(df[df.modality == 'image'].pair.tolist()))"
    )))
    assert frame == expected["image"]

    # The marker: a star with the label, an arrow across the gap, rings on the neighbours.
    view = root.locator(".amumo-scatter-view")
    page.wait_for_function("el => !!el.dataset.query", arg=view.element_handle())
    drawn = json.loads(view.get_attribute("data-query"))
    assert drawn["label"] == f"“{question}”"
    assert drawn["star"] is not None
    assert drawn["arrows"] == 1  # to the 10 nearest images, in the far cone
    assert drawn["rings"] == 20
    # Image thumbnails of the image neighbours arrive lazily (item requests).
    page.wait_for_function(
        "el => el.querySelectorAll(\".amumo-query-list[data-modality='image'] "
        ".amumo-portrait[data-loaded='true']\").length === 10",
        arg=panel.element_handle(), timeout=20_000,
    )
    screenshot(page, "marker", view=root.locator(".amumo-scatter-panel"))
    screenshot(page, "list", view=panel)

    # Hovering a listed image: the preview shows that pair, the kernel hears it.
    first = expected["image"][0]
    row = panel.locator(
        f".amumo-query-list[data-modality='image'] .amumo-query-row[data-pair='{first}']"
    )
    row.hover()
    preview = root.locator(".amumo-preview-view")
    page.wait_for_function(
        "([el, p]) => (el.dataset.pairs || '').split(',').includes(String(p))",
        arg=[preview.element_handle(), first], timeout=10_000,
    )
    heard = False
    for _ in range(20):
        heard = run_cell(page, f"print({first} in hover_log)").strip() == "True"
        if heard:
            break
        page.wait_for_timeout(150)
    assert heard
    # ... and a pair hovered elsewhere (here: from Python) is marked in the list.
    page.mouse.move(5, 5)  # off the views (the pointer must not hover another pair)
    page.wait_for_timeout(300)
    second = expected["text"][1]
    run_cell(page, f"ex.hovered = {second}")
    page.wait_for_function(
        "([el, p]) => !!el.querySelector(`.amumo-query-row.amumo-query-linked[data-pair='${p}']`)",
        arg=[panel.element_handle(), second], timeout=10_000,
    )
    screenshot(page, "hover-result", view=root.locator(".amumo-grid"))
    page.mouse.move(5, 5)

    # Close the gap: the query moves with the texts, its image neighbours change.
    before_images = _listed(root, "image")
    before_star = drawn["star"]
    query_id = panel.get_attribute("data-query-id")
    root.locator("input.amumo-close-gap").check()
    page.wait_for_function(
        "([el, id]) => el.dataset.queryId !== id", arg=[panel.element_handle(), query_id],
        timeout=30_000,
    )
    after_images = _listed(root, "image")
    assert after_images != before_images
    assert "closing the gap" in panel.locator(".amumo-query-note").inner_text()
    page.wait_for_timeout(500)
    moved = json.loads(view.get_attribute("data-query"))
    assert moved["star"] != before_star
    screenshot(page, "marker-closed", view=root.locator(".amumo-scatter-panel"))
    screenshot(page, "list-closed", view=panel)

    # "More like this" from a listed text.
    other = _listed(root, "text")[2]
    panel.locator(
        f".amumo-query-list[data-modality='text'] .amumo-query-row[data-pair='{other}'] "
        ".amumo-query-more"
    ).click(force=True)
    page.wait_for_function(
        "el => (el.dataset.query || '').startsWith('like #')", arg=panel.element_handle(),
        timeout=20_000,
    )
    assert _listed(root, "text")[0] == other  # itself first, cosine 1
    # Clearing removes the marker.
    panel.locator("button.amumo-query-clear").click()
    page.wait_for_function("el => !el.dataset.query", arg=view.element_handle())
    assert run_cell(page, "print(ex.query_result)").strip() == "{}"


def test_query_box_without_an_encoder_says_what_to_pass(open_notebook, wait_for_output, screenshot):
    page = open_notebook([SHAPES + "ex = am.Explorer(emb, dataset=shapes)\nex"])
    page.set_viewport_size({"width": 1600, "height": 1300})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    panel = root.locator(".amumo-query-panel")
    assert panel.get_attribute("data-enabled") == "false"
    assert panel.locator("input.amumo-query-input").is_disabled()
    assert panel.locator("button.amumo-query-ask").is_disabled()
    reason = panel.locator(".amumo-query-reason")
    assert reason.is_visible()
    assert "encoder=" in reason.inner_text()
    screenshot(page, "disabled", view=panel)


def test_lasso_label_colour_by_the_label_and_undo(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([SHAPES + "ex = am.Explorer(emb, dataset=shapes, encoder=tiny)\nex"])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    view = root.locator(".amumo-scatter-view")
    page.wait_for_function("el => el.dataset.drawn === 'true'", arg=view.element_handle())
    view.scroll_into_view_if_needed()
    geo = json.loads(view.get_attribute("data-geometry"))
    box = root.locator(".amumo-scatter-view canvas.amumo-overlay").bounding_box()
    corners = [(0.02, 0.02), (0.45, 0.02), (0.45, 0.45), (0.02, 0.45)]  # upper left
    points = [(box["x"] + geo["left"] + geo["plot"] * u, box["y"] + geo["top"] + geo["plot"] * v)
              for u, v in corners]
    page.keyboard.down("Shift")
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in [*points[1:], points[0]]:
        page.mouse.move(*point, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    panel = root.locator(".amumo-selection-panel")
    page.wait_for_function("el => Number(el.dataset.selected) > 0", arg=panel.element_handle())
    selected = int(panel.get_attribute("data-selected"))

    panel.locator("input.amumo-label-input").fill("upper left")
    panel.locator("button.amumo-label-button").click()
    page.wait_for_function(
        "el => (el.dataset.labels || '').startsWith('upper left:')", arg=panel.element_handle(),
        timeout=20_000,
    )
    assert panel.get_attribute("data-labels") == f"upper left:{selected}"
    labelled = json.loads(run_cell(page, (
        "import json\nprint(json.dumps([int(ex.annotations.notna().sum()), "
        "sorted(set(ex.selection()['annotation']))]))"
    )))
    assert labelled == [selected, ["upper left"]]

    # Colour by the label: the legend names it, the unlabelled pairs are grey.
    panel.locator("input.amumo-colour-by-label").check()
    legend = root.locator(".amumo-scatter-view .amumo-legend")
    page.wait_for_function(
        "el => el.innerText.includes('upper left')", arg=legend.element_handle(), timeout=20_000,
    )
    assert "unlabelled" in legend.inner_text()
    assert run_cell(page, "print(ex.color_by)").strip() == "annotation"
    screenshot(page, "labelled", view=root.locator(".amumo-grid"))
    page.set_viewport_size({"width": 2100, "height": 1400})  # the wide layout: a side column
    page.wait_for_timeout(400)
    screenshot(page, "labelled-wide", view=root.locator(".amumo-grid"))
    page.set_viewport_size({"width": 1600, "height": 1400})

    # Show only the labelled pairs, then all again.
    panel.locator("select.amumo-label-filter").select_option(label="upper left")
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.n) === 2 * n", arg=[view.element_handle(), selected],
        timeout=20_000,
    )
    screenshot(page, "filtered", view=root.locator(".amumo-grid"))
    panel.locator("select.amumo-label-filter").select_option(label="all pairs")
    page.wait_for_function("el => Number(el.dataset.n) === 240", arg=view.element_handle(),
                           timeout=20_000)

    # Undo: the labels are gone, the colouring falls back to the modalities.
    panel.locator("button.amumo-undo-label").click()
    page.wait_for_function("el => !el.dataset.labels", arg=panel.element_handle(), timeout=20_000)
    assert run_cell(page, "print(int(ex.annotations.notna().sum()), ex.color_by)").split() == [
        "0", "modality"]


def test_cluster_portraits_in_the_key_and_the_legend(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([SHAPES + (
        "ex = am.Explorer(emb, dataset=shapes, cluster=True, cluster_by='image', cluster_k=6,\n"
        "                 color_by='cluster')\nex"
    )])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    key = root.locator(".amumo-heatmap-panel .amumo-cluster-key")
    key.scroll_into_view_if_needed()
    page.wait_for_function(
        "el => el.querySelectorAll('.amumo-portrait[data-loaded=\"true\"]').length === 6",
        arg=key.element_handle(), timeout=30_000,
    )
    medoids = json.loads(run_cell(page, (
        "import json\nprint(json.dumps([p['pair'] for p in ex.cluster_portraits]))"
    )))
    shown = [int(p) for p in key.locator(".amumo-portrait").evaluate_all(
        "els => els.map(e => e.dataset.pair)")]
    assert shown == medoids
    legend = root.locator(".amumo-scatter-view .amumo-legend")
    page.wait_for_function(
        "el => el.querySelectorAll('.amumo-portrait[data-loaded=\"true\"]').length === 6",
        arg=legend.element_handle(), timeout=30_000,
    )
    screenshot(page, "key", view=root.locator(".amumo-heatmap-panel"))
    screenshot(page, "legend", view=root.locator(".amumo-scatter-panel"))

    # Audio clusters: a play button beside each name, the clip fetched on the first click.
    run_cell(page, (
        "ds3 = am.data.SyntheticShapesAudio(40, seed=1)\n"
        "emb3 = am.embed(am.models.ShapesEncoder(), ds3, progress=False, cache=False)\n"
        "ex3 = am.Explorer(emb3, dataset=ds3, cluster=True, cluster_by='audio', cluster_k=4)\n"
        "display(ex3)"
    ))
    audio_key = page.locator(".amumo-explorer").nth(1).locator(
        ".amumo-heatmap-panel .amumo-cluster-key"
    )
    audio_key.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "el => el.querySelectorAll('.amumo-portrait-play').length === 4",
        arg=audio_key.element_handle(), timeout=30_000,
    )
    button = audio_key.locator(".amumo-portrait-play").first
    button.click()
    page.wait_for_function(
        "el => !el.classList.contains('amumo-loading') && !el.disabled",
        arg=button.element_handle(), timeout=20_000,
    )
    screenshot(page, "audio-key", view=audio_key)
