"""Three modalities in a real JupyterLab + headless Chromium: the Explorer's pair picker
and gap matrix, heatmap quadrants for image/text/audio, an audio preview that plays (its
clip length shown before playing), cluster names in the heatmap and the scatter legend, the
GapMatrix widget.

Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import json

import pytest
from _screen import heatmap_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 60
THREE_CELL = f"""
import amumo as am
ds = am.data.SyntheticShapesAudio({N}, seed=0)
emb = am.embed(am.models.ShapesEncoder(), ds, progress=False, cache=False)
ex = am.Explorer(emb, dataset=ds, cluster=True, cluster_by="text", cluster_k=5,
                 color_by="cluster")
ex
"""



def test_three_modality_explorer_pair_picker_audio_and_cluster_names(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([THREE_CELL])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(500)
    root.scroll_into_view_if_needed()
    heatmap = root.locator(".amumo-heatmap-panel")
    assert int(heatmap.locator(".amumo-heatmap-view").get_attribute("data-n")) == 3 * N

    # The pair picker offers the three pairs; picking image-audio reaches the kernel,
    # retitles the metrics and highlights that cell of the gap matrix.
    picker = root.locator("select.amumo-gap-pair")
    assert picker.is_visible()
    assert picker.locator("option").all_inner_texts() == ["image–text", "image–audio", "text–audio"]
    picker.select_option(label="image–audio")
    chip = root.locator(".amumo-pair-chip")
    page.wait_for_function(
        "() => document.querySelector('.amumo-pair-chip').textContent === 'image–audio'"
    )
    assert chip.inner_text() == "image–audio"
    assert root.locator('tr[data-metric="recall@1:image->audio"]').count() == 1
    picked = root.locator(".amumo-gap-cell-picked")
    assert picked.count() == 2  # (image, audio) and (audio, image)
    assert run_cell(page, "print(ex.gap_pair)").strip() == "['image', 'audio']"
    gap = float(run_cell(page, "print(am.gap_distance(emb, 'image', 'audio'))"))
    shown = float(root.locator('.amumo-metric-before[data-metric="gap_distance"]').get_attribute(
        "data-value"
    ))
    assert shown == pytest.approx(gap, abs=1e-6)
    # Clicking the text-audio cell of the matrix picks that pair.
    root.locator('.amumo-gap-cell[data-a="text"][data-b="audio"]').click()
    page.wait_for_function(
        "() => document.querySelector('.amumo-pair-chip').textContent === 'text–audio'"
    )
    # Close the gap of the picked pair: its cell goes to ~0, the others stay.
    root.locator("input.amumo-close-gap").check()
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'.amumo-gap-cell[data-a=\"text\"][data-b=\"audio\"]').dataset.value) < 0.001"
    )
    other = float(root.locator('.amumo-gap-cell[data-a="image"][data-b="text"]').get_attribute(
        "data-value"
    ))
    assert other > 0.3
    shot = screenshot(page, "page")
    root.screenshot(path=str(shot.with_name("multimodal-explorer.png")))

    # Cluster names: in Python, in the scatter legend.
    names = json.loads(run_cell(page, "import json; print(json.dumps(ex.cluster_names))"))
    assert len(names) == 5 and all(names)
    legend = root.locator(".amumo-scatter-panel .amumo-legend-item").all_inner_texts()
    assert any(names[0] in item for item in legend), (legend, names)

    # Hover an audio-audio cell: the preview shows a player; it plays after a click.
    heatmap.scroll_into_view_if_needed()  # a cell run just before may have scrolled it
    x, y = heatmap_cell(heatmap, 2 * N + 3, 2 * N + 3)
    page.mouse.move(x, y)
    tip = heatmap.locator(".amumo-tip-cluster")
    tip.wait_for(state="visible", timeout=5_000)
    assert tip.inner_text().replace("cluster: ", "") in names  # same cluster: one name
    audio = root.locator(".amumo-preview-panel audio").first
    audio.wait_for(state="attached", timeout=10_000)
    assert audio.get_attribute("src").startswith("blob:")
    # Leaving the heatmap keeps the audio card (so its player can be reached).
    card = root.locator(".amumo-preview-panel .amumo-card-audio").first
    card.locator(".amumo-card-title").click()  # a user gesture, as a person's click
    assert root.locator(".amumo-preview-panel audio").count() >= 1
    state = page.evaluate(
        """async () => {
            const a = document.querySelector('.amumo-preview-panel audio');
            await a.play();
            await new Promise((r) => setTimeout(r, 400));
            return {t: a.currentTime, paused: a.paused, ready: a.readyState,
                    duration: a.duration, error: a.error && a.error.code};
        }"""
    )
    assert state["error"] is None and state["ready"] >= 2, state
    assert state["duration"] == pytest.approx(0.8, abs=0.01), state
    assert state["t"] > 0.05, state
    root.screenshot(path=str(shot.with_name("multimodal-explorer-audio.png")))
    errors = [m for m in page.amumo_console if m.startswith("pageerror")]
    assert not errors, errors


MOLECULES_CELL = """
import numpy as np, pandas as pd
from amumo.data import BaseDataset

class Molecules(BaseDataset):
    modalities = ("image", "molecule")
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"]
    def __len__(self): return 3
    def _item(self, m, i):
        return self.smiles[i] if m == "molecule" else np.full((32, 32, 3), 60 * i, np.uint8)
    def _build_meta(self): return pd.DataFrame({"compound": ["ethanol", "phenol", "aspirin"]})
    def _fingerprint_parts(self): return [1]

mols = Molecules()
rng = np.random.default_rng(0)
memb = am.Embeddings.from_arrays(
    {"image": rng.normal(size=(3, 8)), "molecule": rng.normal(size=(3, 8))}, meta=mols.meta)
am.Preview(memb, dataset=mols, hovered=2)
"""


def test_gap_matrix_widget_renders_and_reports_clicks(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([
        "import amumo as am\n"
        "ds = am.data.SyntheticShapesAudio(40, seed=1)\n"
        "emb = am.embed(am.models.ShapesEncoder(), ds, progress=False, cache=False)\n"
        "gm = am.GapMatrix(emb)\ngm",
        MOLECULES_CELL,
    ])
    root = wait_for_output(page, ".amumo-gap-matrix-widget[data-rendered]")
    cells = root.locator("td.amumo-gap-cell")
    assert cells.count() == 9
    value = float(root.locator('td[data-a="image"][data-b="audio"]').get_attribute("data-value"))
    expected = float(run_cell(page, "print(am.gap_distance(emb, 'image', 'audio'))"))
    assert value == pytest.approx(expected, abs=1e-9)
    # Shading spans the off-diagonal range: the smallest and largest gaps look far apart
    # (linear 0..max shading made 0.778 and 0.851 nearly the same blue).
    shown = {
        (a, b): (float(cell.get_attribute("data-value")), cell.evaluate(
            "c => getComputedStyle(c).backgroundColor"))
        for a, b in (("image", "text"), ("image", "audio"), ("text", "audio"))
        for cell in [root.locator(f'td[data-a="{a}"][data-b="{b}"]')]
    }
    ordered = sorted(shown.values())
    lightest, darkest = (
        [int(x) for x in colour[colour.index("(") + 1:-1].split(",")] for _, colour in
        (ordered[0], ordered[-1])
    )
    assert sum(abs(x - y) for x, y in zip(lightest, darkest, strict=True)) > 250, shown
    root.locator('td[data-a="text"][data-b="audio"]').click()
    page.wait_for_timeout(300)
    assert run_cell(page, "print(gm.picked)").strip() == "['text', 'audio']"
    root.locator("select.amumo-gap-metric").select_option("rmg")
    page.wait_for_function(
        "() => Number(document.querySelector('td[data-a=\"image\"][data-b=\"text\"]')"
        ".dataset.value) < 0.9"
    )
    rmg = float(run_cell(page, "print(am.rmg(emb, 'image', 'text'))"))
    shown = float(root.locator('td[data-a="image"][data-b="text"]').get_attribute("data-value"))
    assert shown == pytest.approx(rmg, abs=1e-9)
    root.screenshot(path=str(screenshot(page, "page").with_name("gap-matrix-widget.png")))

    # Molecules (CLOOME) preview as their SMILES text.
    smiles = wait_for_output(page, ".amumo-preview[data-rendered]").locator("code.amumo-smiles")
    smiles.wait_for(state="visible", timeout=10_000)
    assert smiles.inner_text() == "CC(=O)Oc1ccccc1C(=O)O"
    card = page.locator('.amumo-card[data-modality="molecule"]')
    assert "null" not in card.inner_text()


AUDIO = """
import amumo as am
ds = am.data.SyntheticShapesAudio(60, seed=0)
emb = am.embed(am.models.ShapesEncoder(), ds, progress=False, cache=False)
ex = am.Explorer(emb, dataset=ds)
ex
"""


def test_audio_player_shows_the_clip_length_before_playing(open_notebook, wait_for_output,
                                                           screenshot):
    page = open_notebook([AUDIO])
    page.set_viewport_size({"width": 1600, "height": 1400})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    heatmap = root.locator(".amumo-heatmap-panel")
    heatmap.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.mouse.move(*heatmap_cell(heatmap, 2 * 60 + 3, 2 * 60 + 3))  # audio-audio, pair 3
    time = root.locator(".amumo-preview-panel .amumo-card-audio .amumo-time").first
    time.wait_for(timeout=10000)
    # The kernel's 0.8 s, before anything was played (the browser's own controls read
    # "0:00 / 0:00" for a clip under a second).
    assert time.inner_text() == "0.00 / 0.80 s"
    screenshot(page, "before-play", view=root.locator(".amumo-preview-panel"))
    root.locator(".amumo-preview-panel .amumo-play").first.click()
    page.wait_for_function(
        "(el) => parseFloat(el.textContent) > 0.05", arg=time.element_handle(), timeout=5000
    )
    screenshot(page, "playing", view=root.locator(".amumo-preview-panel"))
    page.wait_for_function(
        "() => document.querySelector('.amumo-preview-panel audio').ended", timeout=5000
    )
    assert time.inner_text() == "0.80 / 0.80 s"
    assert root.locator(".amumo-preview-panel .amumo-play").first.get_attribute(
        "aria-label").startswith("play")
