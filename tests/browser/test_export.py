"""Exported HTML pages render and respond to hover from file:// with no network and no kernel."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anywidget
import ipywidgets as W
import numpy as np
import pytest
import traitlets

import amumo
from amumo.widgets.export import save_html

pytestmark = pytest.mark.browser

# A canvas of points; hovering one highlights it and shows its index, all in the browser.
# The hovered index also goes through model.set + save_changes, as amumo's views do, which
# must be harmless without a kernel.
DOTS_ESM = """
function render({ model, el }) {
  const v = model.get("xy");
  const xy = new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4);
  const size = 240;
  const root = document.createElement("div");
  root.className = "export-dots";
  const canvas = document.createElement("canvas");
  canvas.width = size; canvas.height = size;
  const readout = document.createElement("div");
  readout.className = "export-dots-readout";
  root.append(canvas, readout);
  const ctx = canvas.getContext("2d");
  const draw = () => {
    const hovered = model.get("hovered");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, size, size);
    for (let i = 0; i < xy.length / 2; i++) {
      ctx.fillStyle = i === hovered ? "#e4572e" : "#1f77b4";
      const r = i === hovered ? 8 : 4;
      ctx.beginPath();
      ctx.arc(xy[2 * i] * size, xy[2 * i + 1] * size, r, 0, 2 * Math.PI);
      ctx.fill();
    }
    readout.textContent = hovered < 0 ? model.get("label") : `${model.get("label")} #${hovered}`;
    root.dataset.hovered = String(hovered);
  };
  canvas.addEventListener("mousemove", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const x = (ev.clientX - rect.left) / size, y = (ev.clientY - rect.top) / size;
    let best = -1, bestD = 0.0009;  // within 0.03 of a point
    for (let i = 0; i < xy.length / 2; i++) {
      const d = (xy[2 * i] - x) ** 2 + (xy[2 * i + 1] - y) ** 2;
      if (d < bestD) { best = i; bestD = d; }
    }
    model.set("hovered", best);
    model.save_changes();
  });
  model.on("change:hovered", draw);
  draw();
  root.dataset.n = String(xy.length / 2);
  root.dataset.rendered = "1";
  el.appendChild(root);
}
export default { render };
"""


class Dots(anywidget.AnyWidget):
    _esm = DOTS_ESM
    _css = ".export-dots canvas { border: 2px solid rgb(0, 128, 0); }"
    xy = traitlets.Bytes().tag(sync=True)
    hovered = traitlets.Int(-1).tag(sync=True)
    label = traitlets.Unicode("dots").tag(sync=True)


def _dots(n: int = 12, label: str = "dots") -> tuple[Dots, np.ndarray]:
    xy = np.random.default_rng(7).uniform(0.1, 0.9, size=(n, 2)).astype(np.float32)
    return Dots(xy=xy.tobytes(), label=label), xy


@pytest.fixture
def offline_page(chromium_browser):
    """A page that cannot reach any network; records every non-local request."""
    context = chromium_browser.new_context(offline=True, viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.remote_requests = []
    page.errors = []
    page.on(
        "request",
        lambda r: None
        if r.url.startswith(("file:", "blob:", "data:"))
        else page.remote_requests.append(r.url),
    )
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def _open(page, path: Path, selector: str, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector(selector, state="attached", timeout=timeout * 1000)
    return time.perf_counter() - start


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_anywidget_export_renders_and_hovers_offline(
    offline_page, tmp_path, artifacts_dir, compress
):
    widget, xy = _dots(label="offline")
    out = save_html(widget, tmp_path / "dots.html", title="Dots <export>", compress=compress)
    page = offline_page

    seconds = _open(page, out, ".export-dots[data-rendered]")
    assert seconds < 20
    assert page.title() == "Dots <export>"
    root = page.locator(".export-dots")
    # Binary buffer arrived intact; _css applied; initial state shown.
    assert root.get_attribute("data-n") == str(len(xy))
    border = page.eval_on_selector(".export-dots canvas", "c => getComputedStyle(c).borderTopColor")
    assert border == "rgb(0, 128, 0)"
    assert page.locator(".export-dots-readout").text_content() == "offline"

    # Hover point 5 (pure JS: no kernel behind the page).
    box = page.locator(".export-dots canvas").bounding_box()
    page.mouse.move(box["x"] + 2 + float(xy[5, 0]) * 240, box["y"] + 2 + float(xy[5, 1]) * 240)
    page.wait_for_function("() => document.querySelector('.export-dots').dataset.hovered === '5'")
    assert page.locator(".export-dots-readout").text_content() == "offline #5"
    page.screenshot(path=str(artifacts_dir / f"export-dots-{'gzip' if compress else 'plain'}.png"))
    page.mouse.move(box["x"] + 1, box["y"] + 1)
    page.wait_for_function("() => document.querySelector('.export-dots').dataset.hovered === '-1'")

    assert page.remote_requests == []
    assert page.errors == []


def test_ipywidgets_container_with_browser_link_offline(offline_page, tmp_path, artifacts_dir):
    dots, _ = _dots(label="in a box")
    slider = W.IntSlider(value=3, min=0, max=10, description="n")
    text = W.IntText(value=3)
    W.jslink((slider, "value"), (text, "value"))  # a link that lives in the browser
    box = W.VBox([W.HTML("<b class='export-title'>Exported box</b>"), W.HBox([slider, text]), dots])
    out = save_html(box, tmp_path / "box.html")
    page = offline_page

    _open(page, out, ".export-dots[data-rendered]")
    assert page.locator(".export-title").text_content() == "Exported box"
    assert page.locator(".widget-readout").first.text_content().strip() == "3"
    # Drive the slider from the keyboard; the jslink updates the text box without a kernel.
    page.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.widget-text input').value === '5'", timeout=10_000
    )
    page.screenshot(path=str(artifacts_dir / "export-box.png"))
    assert page.remote_requests == []
    assert page.errors == []


def test_explorer_export_renders_and_hovers_offline(offline_page, tmp_path, artifacts_dir):
    explorer = amumo.Explorer(amumo.datasets.clip_coco500())
    out = explorer.save_html(tmp_path / "explorer.html", title="amumo Explorer")
    size_mb = out.stat().st_size / 1e6
    page = offline_page

    seconds = _open(page, out, ".amumo-explorer[data-rendered]", timeout=60)
    print(f"explorer export: {size_mb:.1f} MB, rendered from file:// in {seconds:.1f} s")
    root = page.locator(".amumo-explorer")
    page.screenshot(path=str(artifacts_dir / "export-explorer.png"))
    before = root.screenshot()

    # Hover across the heatmap (or the whole explorer if it has none) until the view changes.
    target = page.locator(".amumo-explorer .amumo-heatmap canvas, .amumo-explorer canvas").first
    area = (target if target.count() else root).bounding_box()
    changed = False
    for fx, fy in [(0.3, 0.3), (0.6, 0.4), (0.45, 0.7), (0.8, 0.8)]:
        page.mouse.move(area["x"] + fx * area["width"], area["y"] + fy * area["height"], steps=4)
        page.wait_for_timeout(150)
        if root.screenshot() != before:
            changed = True
            break
    page.screenshot(path=str(artifacts_dir / "export-explorer-hover.png"))
    assert changed, "hovering the exported Explorer changed nothing on screen"
    assert page.remote_requests == []
    assert page.errors == []


@pytest.mark.parametrize(
    ("kind", "selector"),
    [
        ("heatmap", ".amumo-heatmap[data-rendered] canvas"),
        ("landscape", "#amumo-landscape .scatterlayer .trace:nth-child(3)"),
        ("gap_sweep", ".amumo-gapsweep[data-rendered] polyline"),
    ],
)
def test_every_view_has_save_html_that_renders_offline(
    offline_page, tmp_path, artifacts_dir, kind, selector
):
    emb = amumo.datasets.clip_coco500().subset(range(100))
    if kind == "gap_sweep":  # captions as the class texts: retrieval accuracy vs λ
        widget = amumo.GapSweep.compute(emb["image"], emb["text"], np.arange(100), [0.0, 0.5, 1.0])
    elif kind == "heatmap":
        widget = amumo.Heatmap(emb)
    else:
        widget = amumo.Landscape(emb, [0.01, 1.0])
    out = widget.save_html(tmp_path / f"{kind}.html", title=f"amumo {kind}")
    page = offline_page
    seconds = _open(page, out, selector, timeout=60)
    print(f"{kind} export: {out.stat().st_size / 1e6:.1f} MB, rendered in {seconds:.1f} s")
    page.screenshot(path=str(artifacts_dir / f"export-{kind}.png"))
    assert page.remote_requests == []
    assert page.errors == []
    if kind == "gap_sweep":
        # top-5 is 0.96 at λ = 0 (0.9599999785 as float32): the cursor's read-out compares a
        # curve with itself there and must say +0.000, not −0.000
        readout = page.locator(".amumo-gapsweep-readout").text_content()
        assert "top-5 0.960 (+0.000)" in readout, readout


def _metric_now(page, key: str = "gap_distance") -> float:
    cell = page.locator(f'.amumo-metric-after[data-metric="{key}"]')
    return float(cell.get_attribute("data-value"))


def test_explorer_export_is_honest_offline(offline_page, tmp_path, artifacts_dir):
    """Close the gap and cluster work in the page (precomputed states); what needs the kernel
    is greyed out with a note; previews show the shipped captions and meta rows; the
    COCO photos (never downloaded here) say they are not in the export."""
    explorer = amumo.Explorer(amumo.datasets.clip_coco500())
    out = explorer.save_html(tmp_path / "explorer.html")
    page = offline_page
    page.set_viewport_size({"width": 1500, "height": 1000})
    _open(page, out, ".amumo-explorer[data-rendered]", timeout=60)
    root = page.locator(".amumo-explorer")
    note = root.locator(".amumo-static-note")
    assert "close the gap" in note.inner_text()
    assert "need the notebook's kernel" in note.inner_text()
    # Controls that need the kernel are greyed out and cannot be used.
    for selector in (".amumo-lam", ".amumo-projection", ".amumo-color-by", ".amumo-filter",
                     ".amumo-cluster-method", ".amumo-cluster-k"):
        control = root.locator(selector)
        assert control.is_disabled(), selector
        assert "amumo-offline-control" in control.get_attribute("class")
    assert root.locator(".amumo-close-gap").is_enabled()
    assert root.locator(".amumo-cluster-toggle").is_enabled()

    # Close the gap: the precomputed state is swapped in (metrics, scatter, heatmap).
    assert abs(_metric_now(page) - 0.8514) < 1e-3
    scatter = root.locator(".amumo-scatter-view")
    xy_before = scatter.get_attribute("data-xy-sum")
    heat_before = root.locator(".amumo-heatmap-panel canvas").first.screenshot()
    root.locator(".amumo-close-gap").click()
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'.amumo-metric-after[data-metric=\"gap_distance\"]').dataset.value) < 0.01"
    )
    assert root.get_attribute("data-static-state") == "10"
    page.wait_for_timeout(700)
    assert scatter.get_attribute("data-xy-sum") != xy_before
    assert root.locator(".amumo-heatmap-panel canvas").first.screenshot() != heat_before
    assert root.locator(".amumo-lam-value").inner_text() == "closed"
    page.screenshot(path=str(artifacts_dir / "export-explorer-closed.png"))
    # ... and back.
    root.locator(".amumo-close-gap").click()
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'.amumo-metric-after[data-metric=\"gap_distance\"]').dataset.value) > 0.8"
    )
    # Cluster: the precomputed order reorders the heatmap.
    heat_open = root.locator(".amumo-heatmap-panel canvas").first.screenshot()
    root.locator(".amumo-cluster-toggle").click()
    page.wait_for_function(
        "() => document.querySelector('.amumo-explorer').dataset.staticState === '01'"
    )
    page.wait_for_timeout(300)
    assert root.locator(".amumo-heatmap-panel canvas").first.screenshot() != heat_open
    page.screenshot(path=str(artifacts_dir / "export-explorer-clustered.png"))
    root.locator(".amumo-cluster-toggle").click()

    # Hover a point: the preview shows the real caption and the meta row from the export.
    view = root.locator(".amumo-scatter-view")
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    card = root.locator('.amumo-card[data-modality="text"] .amumo-caption')
    for k in range(60):
        page.mouse.move(box["x"] + geo["left"] + geo["plot"] * (0.05 + 0.015 * k),
                        box["y"] + geo["top"] + geo["plot"] * 0.5)
        if card.count():
            break
    card.first.wait_for(timeout=5000)
    pair = int(root.locator('.amumo-card[data-modality="text"]').first.get_attribute("data-pair"))
    caption = amumo.datasets.clip_coco500().meta.loc[pair, "caption"]
    assert card.first.inner_text().strip() == caption.strip()
    fields = root.locator('.amumo-card[data-modality="text"] .amumo-fields')
    page.wait_for_function(
        "() => document.querySelector('.amumo-card .amumo-fields dt') !== null", timeout=5000
    )
    assert "image_id" in fields.first.inner_text()
    error = root.locator('.amumo-card[data-modality="image"] .amumo-thumb-error')
    error.wait_for(timeout=5000)
    assert "not in this export" in error.inner_text()
    credit = root.locator('.amumo-card[data-modality="image"] .amumo-credit')
    assert "License" in credit.inner_text()
    page.screenshot(path=str(artifacts_dir / "export-explorer-preview.png"))
    assert page.remote_requests == []
    assert page.errors == []


def test_export_embeds_thumbnails_of_local_images(offline_page, tmp_path, artifacts_dir):
    from amumo.data import SyntheticShapes

    ds = SyntheticShapes(40, seed=0)
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 16))
    emb = amumo.Embeddings.from_arrays(
        {"image": base + 2 * rng.normal(size=16), "text": base + rng.normal(size=(40, 16))},
        meta=ds.meta,
    )
    explorer = amumo.Explorer(emb, dataset=ds)
    out = explorer.save_html(tmp_path / "shapes.html")
    page = offline_page
    page.set_viewport_size({"width": 1500, "height": 1000})
    _open(page, out, ".amumo-explorer[data-rendered]", timeout=60)
    root = page.locator(".amumo-explorer")
    heat = root.locator(".amumo-heatmap-view")
    geo = json.loads(heat.get_attribute("data-geometry"))
    box = heat.locator("canvas.amumo-overlay").bounding_box()
    cell = geo["side"] / 80
    page.mouse.move(box["x"] + geo["left"] + 3.5 * cell, box["y"] + geo["top"] + 43.5 * cell)
    image = root.locator('.amumo-card[data-modality="image"] img')
    image.first.wait_for(timeout=5000)
    width = image.first.evaluate("img => img.naturalWidth")
    assert 0 < width <= 96
    page.screenshot(path=str(artifacts_dir / "export-shapes-thumbnail.png"))
    assert page.remote_requests == []
    assert page.errors == []


def test_exported_panels_that_need_the_kernel_say_so(offline_page, tmp_path, artifacts_dir):
    """A request a panel would send to the kernel is answered at once with a message."""
    explorer = amumo.Explorer(amumo.datasets.clip_coco500())
    out = explorer.save_html(tmp_path / "explorer.html")
    page = offline_page
    page.set_viewport_size({"width": 1500, "height": 1400})
    _open(page, out, ".amumo-explorer[data-rendered]", timeout=60)
    root = page.locator(".amumo-explorer")
    assert root.locator(".amumo-retrieval-panel").count(), "the Explorer has a retrieval panel"
    view = root.locator(".amumo-scatter-view")
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    rank = root.locator(".amumo-retrieval-rank")
    for k in range(60):
        page.mouse.move(box["x"] + geo["left"] + geo["plot"] * (0.05 + 0.015 * k),
                        box["y"] + geo["top"] + geo["plot"] * 0.5)
        page.wait_for_timeout(30)
        if "needs the Python kernel" in rank.inner_text():
            break
    assert "needs the Python kernel" in rank.inner_text()
    page.screenshot(path=str(artifacts_dir / "export-explorer-retrieval.png"))
    assert page.errors == []


def test_export_greyed_remedy_says_kernel_and_selection_metrics_follow_the_selection(
    offline_page, tmp_path, artifacts_dir
):
    """Issue 21 item 11: the greyed-out remedy picker's tooltip described the method instead
    of saying it needs the kernel, and the page kept a "selected (27)" metrics column while
    the scatter showed no selection. Now the saved selection is drawn with its column, and
    a selection changed in the page (which cannot recompute its metrics) drops the column."""
    explorer = amumo.Explorer(amumo.datasets.clip_coco500())
    explorer.selected = list(range(0, 270, 10))  # 27 pairs
    assert explorer.metrics["selection"]["n"] == 27
    out = explorer.save_html(tmp_path / "selected.html")
    page = offline_page
    page.set_viewport_size({"width": 1500, "height": 1000})
    _open(page, out, ".amumo-explorer[data-rendered]", timeout=60)
    root = page.locator(".amumo-explorer")
    remedy = root.locator("select.amumo-mitigation")
    assert remedy.is_disabled()
    assert remedy.get_attribute("title").startswith("Needs the Python kernel")
    page.wait_for_function(
        "() => document.querySelector('.amumo-explorer').dataset.selected === '27'")
    assert root.locator("th", has_text="selected (27)").count() == 1
    page.screenshot(path=str(artifacts_dir / "export-selection-saved.png"))
    root.locator(".amumo-clear-selection").first.click()
    page.wait_for_function(
        "() => document.querySelector('.amumo-explorer').dataset.selected === '0'")
    page.wait_for_timeout(300)
    assert root.locator("th", has_text="selected (").count() == 0
    # A precomputed state swapped in later does not bring the stale column back.
    root.locator(".amumo-close-gap").click()
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'.amumo-metric-after[data-metric=\"gap_distance\"]').dataset.value) < 0.01"
    )
    assert root.locator("th", has_text="selected (").count() == 0
    page.screenshot(path=str(artifacts_dir / "export-selection-cleared.png"))
    assert page.errors == []
