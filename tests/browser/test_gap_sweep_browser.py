"""GapSweep in a real JupyterLab + headless Chromium: renders, click/drag/keys set λ, Python moves
the cursor, and a linked slider follows both ways."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SETUP = """
import numpy as np, ipywidgets as W
import amumo as am
rng = np.random.default_rng(0)
texts = rng.normal(size=(8, 24))
labels = rng.integers(0, 6, size=300)
groups = np.array(["white", "grey", "black"])[rng.integers(0, 3, size=300)]
images = texts[labels] + 2.0 * rng.normal(size=(300, 24)) + 4.0 * np.eye(24)[0]
names = ["c0", "c1", "c2", "c3", "c4", "c5", "harm1", "harm2"]
lams = np.round(np.linspace(-0.5, 1.0, 31), 6)
w = am.GapSweep.compute(images, texts, labels, lams, groups=groups,
                        harmful_classes=["harm1", "harm2"], class_names=names)
slider = W.FloatSlider(min=-0.5, max=1.0, step=0.05, description="λ (explorer)")
w.link(slider, "value")
"""


def _lam_attr(page) -> float:
    return float(page.locator(".amumo-gapsweep").get_attribute("data-lam"))


def test_gap_sweep_in_jupyterlab(open_notebook, wait_for_output, run_cell, screenshot):  # noqa: F811
    page = open_notebook([SETUP, "W.VBox([slider, w])"])
    wait_for_output(page, ".amumo-gapsweep[data-rendered]")
    plot = page.locator(".amumo-gapsweep-plot")
    assert page.locator(".amumo-gapsweep-plot polyline").count() == 5  # top-1, top-5, 3 groups
    assert "λ = 0.00" in page.locator(".amumo-gapsweep-readout").text_content()
    screenshot(page, "rendered")

    # click at ~75 % of the plot width: λ snaps to a computed value and reaches Python
    box = plot.bounding_box()
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + 0.3 * box["height"])
    page.wait_for_function("document.querySelector('.amumo-gapsweep').dataset.lam !== '0'")
    clicked = _lam_attr(page)
    assert 0.4 < clicked < 0.9
    assert abs(round(clicked / 0.05) * 0.05 - clicked) < 1e-6  # on the 0.05 grid
    out = run_cell(page, "print(w.lam, slider.value)")
    assert [float(v) for v in out.split()] == pytest.approx([clicked, clicked])
    screenshot(page, "clicked")

    # drag from near the left edge to the middle: the final position wins
    page.mouse.move(box["x"] + 0.15 * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.down()
    for frac in (0.2, 0.3, 0.4, 0.5):
        page.mouse.move(box["x"] + frac * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.up()
    page.wait_for_timeout(300)
    dragged = _lam_attr(page)
    assert -0.1 < dragged < 0.4 and dragged != clicked
    out = run_cell(page, "print(w.lam)")
    assert float(out) == pytest.approx(dragged)

    # Python (or the linked slider) moves the cursor in the browser
    run_cell(page, "slider.value = -0.25")
    page.wait_for_function("document.querySelector('.amumo-gapsweep').dataset.lam === '-0.25'")
    assert "λ = −0.25" in page.locator(".amumo-gapsweep-readout").text_content()

    # keyboard: arrow right steps to the next computed λ
    plot.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('.amumo-gapsweep').dataset.lam === '-0.2'")
    out = run_cell(page, "print(w.lam, slider.value)")
    assert [float(v) for v in out.split()] == pytest.approx([-0.2, -0.2])
    screenshot(page, "final")
    errors = [m for m in page.amumo_console if m.startswith("pageerror")]
    assert not errors, errors


EXPLORER_SETUP = """
import numpy as np
import amumo as am
from amumo.experiments import zero_shot_sweep
emb = am.datasets.clip_coco500()
sweep = zero_shot_sweep(emb["image"], emb["text"], np.arange(len(emb)),
                        np.round(np.linspace(-0.5, 1.0, 16), 6))
w = am.GapSweep(sweep, title="clip_coco500: caption retrieval vs λ")
explorer = am.Explorer(emb)
w.link(explorer)
"""


def test_gap_sweep_drives_the_explorer(open_notebook, wait_for_output, run_cell,  # noqa: F811
                                       screenshot):  # noqa: F811
    page = open_notebook(["import amumo as am"])
    run_cell(page, EXPLORER_SETUP)
    run_cell(page, "import ipywidgets as W; display(W.VBox([w, explorer]))")
    wait_for_output(page, ".amumo-gapsweep[data-rendered]")
    page.wait_for_timeout(1500)  # let the Explorer draw
    plot = page.locator(".amumo-gapsweep-plot")
    box = plot.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + 0.4 * box["height"])
    page.wait_for_function("document.querySelector('.amumo-gapsweep').dataset.lam !== '0'")
    lam = _lam_attr(page)
    assert lam > 0.5
    out = run_cell(page, "print(w.lam, explorer.lam, am.gap_distance(explorer.embeddings), "
                         "w.at()['gap_distance'])")
    got_w, got_ex, explorer_gap, sweep_gap = (float(v) for v in out.split())
    assert got_w == pytest.approx(lam) and got_ex == pytest.approx(lam)
    # captions are the class texts here, so the Explorer's shifted gap is the sweep's gap at λ
    assert explorer_gap == pytest.approx(sweep_gap, abs=1e-3)
    run_cell(page, "explorer.lam = 0.0")  # the Explorer's slider moves the sweep's cursor
    page.wait_for_function("document.querySelector('.amumo-gapsweep').dataset.lam === '0'")
    screenshot(page, "explorer-linked")
    errors = [m for m in page.amumo_console if m.startswith("pageerror")]
    assert not errors, errors
