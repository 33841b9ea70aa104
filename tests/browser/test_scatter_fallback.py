"""The scatter draws with WebGL and falls back to canvas 2D where WebGL is unavailable.

A static page (``save_html``) opened from file:// in headless Chromium, once as is
(WebGL, software SwiftShader here) and once with WebGL taken away before the page's
scripts run: both render every point, and the gestures both renderers share (hover,
box, click, wheel zoom, alt-drag pan, double-click reset, the max_points sample) work the
same way in both.
"""

from __future__ import annotations

import json

import pytest

import amumo as am
from amumo.widgets.export import save_html

NO_WEBGL = """
const original = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
  if (String(kind).includes("webgl")) return null;
  return original.call(this, kind, ...rest);
};
"""


def _plot_square(view) -> tuple[float, float, float]:
    """Page coordinates of the plot's top-left corner and the side of the square plot."""
    geo = json.loads(view.get_attribute("data-geometry"))
    box = view.locator("canvas.amumo-overlay").bounding_box()
    return box["x"] + geo["left"], box["y"] + geo["top"], geo["plot"]


def _open_drawn(context, path, webgl=True):
    """Open a saved page (without WebGL unless ``webgl``) and wait until the scatter is
    drawn: ``(page, view)``."""
    page = context.new_page()
    if not webgl:
        page.add_init_script(NO_WEBGL)
    page.goto(path.resolve().as_uri())
    page.wait_for_selector(".amumo-scatter-view[data-drawn=true]", timeout=30_000)
    return page, page.locator(".amumo-scatter-view")


@pytest.mark.parametrize("webgl", [True, False], ids=["webgl", "canvas"])
def test_scatter_renders_with_and_without_webgl(chromium_browser, tmp_path, artifacts_dir, webgl):
    path = save_html(am.Scatter(am.datasets.clip_coco500()), tmp_path / "scatter.html")
    context = chromium_browser.new_context(offline=True, viewport={"width": 900, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        if not webgl:
            page.add_init_script(NO_WEBGL)
        page.goto(path.resolve().as_uri())
        page.wait_for_selector(".amumo-scatter[data-rendered]", timeout=30_000)
        view = page.locator(".amumo-scatter-view")
        assert view.get_attribute("data-renderer") == ("webgl" if webgl else "canvas")
        assert view.get_attribute("data-n") == "1000"
        if webgl:
            page.wait_for_selector(".amumo-scatter-view[data-drawn=true]", timeout=30_000)
        page.wait_for_timeout(300)
        # A box over the left half selects pairs (image points sit there).
        x0, y0, s = _plot_square(view)
        page.mouse.move(x0 + 2, y0 + 2)
        page.mouse.down()
        page.mouse.move(x0 + s * 0.5, y0 + s - 2, steps=8)
        page.mouse.up()
        page.wait_for_function(
            "() => Number(document.querySelector('.amumo-scatter').dataset.selected) > 100",
            timeout=10_000,
        )
        view.screenshot(path=str(artifacts_dir / f"scatter-{'webgl' if webgl else 'canvas'}.png"))
        assert not errors
    finally:
        context.close()


@pytest.mark.parametrize("webgl", [True, False], ids=["webgl", "canvas"])
def test_no_points_are_drawn_before_their_coordinates_arrive(chromium_browser, tmp_path, webgl):
    """A projection still on its way (no ``xy`` yet) draws nothing and says so; it drew
    every item at the origin before (20 million zeros, 19 s of the browser at 10^7 pairs)."""
    widget = am.Scatter(am.datasets.clip_coco500())
    widget.xy = b""  # as sent while a background projection computes
    path = save_html(widget, tmp_path / "waiting.html")
    context = chromium_browser.new_context(offline=True, viewport={"width": 900, "height": 800})
    try:
        page, view = _open_drawn(context, path, webgl)
        assert view.get_attribute("data-n") == "0"
        if webgl:
            assert view.get_attribute("data-drawn-points") == "0"
        status = view.locator(".amumo-statusline").inner_text()
        assert "coordinates of 500 pairs on their way" in status
    finally:
        context.close()


@pytest.mark.parametrize("webgl", [True, False], ids=["webgl", "canvas"])
def test_scatter_draws_a_seeded_sample_above_max_points(chromium_browser, tmp_path, webgl):
    import numpy as np

    widget = am.Scatter(am.datasets.clip_coco500(), max_points=400)
    drawn = set(np.frombuffer(widget.scatter_pairs, dtype="<i4").tolist())
    assert len(drawn) == 200
    path = save_html(widget, tmp_path / "sample.html")
    context = chromium_browser.new_context(offline=True, viewport={"width": 900, "height": 800})
    try:
        page, view = _open_drawn(context, path, webgl)
        assert view.get_attribute("data-n") == "400"
        assert "sample of 200 of 500 pairs" in view.locator(".amumo-statusline").inner_text()
        x0, y0, s = _plot_square(view)
        hovered = set()
        for k in range(60):  # sweep: every hovered pair is one of the drawn sample
            page.mouse.move(x0 + s * (0.05 + 0.015 * k), y0 + s * (0.3 + 0.006 * k))
            value = view.get_attribute("data-hovered")
            if value and value != "-1":
                hovered.add(int(value))
        assert hovered and hovered <= drawn
        # A box over everything selects exactly the drawn pairs (shown-pair indices).
        page.mouse.move(x0 + 1, y0 + 1)
        page.mouse.down()
        page.mouse.move(x0 + s - 1, y0 + s - 1, steps=8)
        page.mouse.up()
        page.wait_for_function(
            "() => document.querySelector('.amumo-scatter').dataset.selected === '200'",
            timeout=10_000,
        )
    finally:
        context.close()


@pytest.mark.parametrize("webgl", [True, False], ids=["webgl", "canvas"])
def test_scatter_zooms_pans_and_resets(chromium_browser, tmp_path, webgl):
    path = save_html(am.Scatter(am.datasets.clip_coco500()), tmp_path / "pan.html")
    context = chromium_browser.new_context(offline=True, viewport={"width": 900, "height": 800})
    try:
        page, view = _open_drawn(context, path, webgl)
        x0, y0, s = _plot_square(view)
        before = json.loads(view.get_attribute("data-window"))
        page.mouse.move(x0 + s * 0.5, y0 + s * 0.5)
        for _ in range(3):
            page.mouse.wheel(0, -200)
        page.wait_for_timeout(300)
        zoomed = json.loads(view.get_attribute("data-window"))
        width = zoomed["x1"] - zoomed["x0"]
        assert width < 0.8 * (before["x1"] - before["x0"])
        # Alt-drag 30 % of the plot to the right: the window moves 30 % of its width left,
        # not at all vertically, and nothing gets selected.
        page.keyboard.down("Alt")
        page.mouse.down()
        page.mouse.move(x0 + s * 0.8, y0 + s * 0.5, steps=8)
        page.mouse.up()
        page.keyboard.up("Alt")
        page.wait_for_timeout(300)
        panned = json.loads(view.get_attribute("data-window"))
        assert panned["x0"] - zoomed["x0"] == pytest.approx(-0.3 * width, rel=0.1)
        assert panned["y0"] == pytest.approx(zoomed["y0"], abs=1e-3 * width)
        assert not page.locator(".amumo-scatter").get_attribute("data-selected")
        # Double-click resets the view.
        page.mouse.dblclick(x0 + s * 0.5, y0 + s * 0.5)
        page.wait_for_timeout(300)
        reset = json.loads(view.get_attribute("data-window"))
        assert reset["x0"] == pytest.approx(before["x0"], abs=1e-6)
    finally:
        context.close()


@pytest.mark.parametrize("webgl", [True, False], ids=["webgl", "canvas"])
def test_fine_y_ticks_are_scaled_so_they_stay_clear_of_the_axis_title(
    chromium_browser, tmp_path, artifacts_dir, webgl
):
    """Zoomed far in, y ticks such as "−0.002" reached into the rotated "PC 2" title; they
    read "−2" with "×10⁻³" on the title instead."""
    path = save_html(am.Scatter(am.datasets.clip_coco500()), tmp_path / "ticks.html")
    context = chromium_browser.new_context(offline=True, viewport={"width": 900, "height": 800})
    try:
        page, view = _open_drawn(context, path, webgl)
        assert view.get_attribute("data-y-title") == "PC 2"  # coarse ticks: as they are
        assert "." in view.get_attribute("data-y-ticks")
        x0, y0, s = _plot_square(view)
        page.mouse.move(x0 + s * 0.3, y0 + s * 0.5)
        for _ in range(40):  # zoom until a tick step is a thousandth or finer
            page.mouse.wheel(0, -400)
            page.wait_for_timeout(30)
            window = json.loads(view.get_attribute("data-window"))
            if window["y1"] - window["y0"] < 0.01:
                break
        page.wait_for_timeout(300)
        title = view.get_attribute("data-y-title")
        ticks = view.get_attribute("data-y-ticks").split(" ")
        assert title.startswith("PC 2 \u00d710\u207b"), title
        assert all(t.lstrip("\u2212").isdigit() for t in ticks), ticks
        kind = "webgl" if webgl else "canvas"
        view.screenshot(path=str(artifacts_dir / f"scatter-fine-ticks-{kind}.png"))
    finally:
        context.close()


def _wait_selected(page, count):
    page.wait_for_function(
        f"() => document.querySelector('.amumo-scatter').dataset.selected === '{count}'"
    )


def _find_point(page, view, x0, y0, s, start=0.05):
    """Sweep the pointer across the plot until it hovers a point: ``(x, y, pair id)``."""
    for k in range(120):
        x, y = x0 + s * (start + 0.0075 * k), y0 + s * (0.3 + 0.003 * k)
        page.mouse.move(x, y)
        value = view.get_attribute("data-hovered")
        if value and value != "-1":
            return x, y, int(value)
    raise AssertionError("no point found under the sweep")


@pytest.mark.parametrize("webgl", [True, False], ids=["webgl", "canvas"])
def test_click_selects_the_pair_under_the_pointer(chromium_browser, tmp_path, webgl):
    path = save_html(am.Scatter(am.datasets.clip_coco500()), tmp_path / "click.html")
    context = chromium_browser.new_context(offline=True, viewport={"width": 900, "height": 800})
    try:
        page, view = _open_drawn(context, path, webgl)
        root = page.locator(".amumo-scatter")
        x0, y0, s = _plot_square(view)
        x, y, first = _find_point(page, view, x0, y0, s)
        assert "#" in view.locator(".amumo-tooltip").inner_text()
        page.mouse.click(x, y)  # the pair of the point under the pointer
        _wait_selected(page, 1)
        assert "1 pair selected" in view.locator(".amumo-statusline").inner_text()
        x2, y2, second = _find_point(page, view, x0, y0, s, start=0.55)  # the other cone
        assert second != first
        page.keyboard.down("Shift")
        page.mouse.click(x2, y2)  # shift adds
        page.keyboard.up("Shift")
        _wait_selected(page, 2)
        page.mouse.click(x0 + 3, y0 + 3)  # an empty corner: clears
        _wait_selected(page, 0)
        assert root.get_attribute("data-selected") == "0"
    finally:
        context.close()
