"""GapSweep widget, Python side: state, binary payload, read-out, linking both directions,
harm colours and the name of the gap agreeing with the plots."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import ipywidgets
import numpy as np
import pandas as pd
import pytest
import traitlets

import amumo as am
from amumo.experiments import fairness_sweep, zero_shot_sweep
from amumo.widgets.gap_sweep import GapSweep

LAMS = np.round(np.linspace(-0.5, 1.0, 7), 6)


def _task(seed=0, n_classes=8, n=160, dim=24):
    rng = np.random.default_rng(seed)
    texts = rng.normal(size=(n_classes, dim))
    labels = rng.integers(0, n_classes - 2, size=n)  # the last two classes are "harmful"
    groups = np.array(["left", "right"])[rng.integers(0, 2, size=n)]
    images = texts[labels] + 2.0 * rng.normal(size=(n, dim)) + 4.0 * np.eye(dim)[0]
    return images, texts, labels, groups


@pytest.fixture(scope="module")
def frames():
    images, texts, labels, groups = _task()
    names = [f"c{i}" for i in range(6)] + ["bad1", "bad2"]
    sweep = zero_shot_sweep(images, texts, labels, LAMS, class_names=names)
    fair = fairness_sweep(images, texts, groups, ["bad1", "bad2"], LAMS, labels=labels,
                          class_names=names)
    return sweep, fair


class FakeExplorer(traitlets.HasTraits):
    """Stands in for am.Explorer: a Float `lam` trait for the close-the-gap slider."""

    lam = traitlets.Float(0.0)


def test_state_is_binary_float32_and_complete(frames):
    sweep, fair = frames
    w = GapSweep(sweep, fair)
    state = w.get_state()
    assert isinstance(state["_xs"], bytes) and isinstance(state["_ys"], bytes)
    labels = [s["label"] for s in state["_series"]]
    assert labels == ["top-1", "top-5", "harm: left", "harm: right"]
    assert len(state["_xs"]) == 4 * len(LAMS) * 4  # 4 series × 7 λ × float32
    ys = np.frombuffer(state["_ys"], dtype="<f4")
    top1 = w._series[0]
    np.testing.assert_allclose(ys[top1["offset"]: top1["offset"] + top1["length"]],
                               sweep.sort_values("lam").top1, rtol=1e-6)
    assert state["_unshifted"]["top1"] == sweep.loc[sweep.lam == 0, "top1"].item()
    assert state["_unshifted"]["harm:left"] == fair.loc[
        (fair.lam == 0) & (fair.group == "left"), "harm_rate"].item()
    assert state["height"] == 460 and "8 classes" in state["title"]
    # the whole initial state is small: binary curves + JSON metadata
    binary = sum(len(v) for v in state.values() if isinstance(v, bytes))
    text = len(json.dumps({k: v for k, v in state.items() if not isinstance(v, bytes)},
                          default=str))
    assert binary + text < 20_000
    table = w.series()
    assert set(table.series) == set(labels) and len(table) == 4 * len(LAMS)


def test_series_are_drawn_in_lambda_order_even_if_swept_unordered():
    images, texts, labels, _ = _task()
    lams = [1.0, -0.5, 0.5, 0.0]
    w = GapSweep(zero_shot_sweep(images, texts, labels, lams), metrics=["top1"])
    assert np.frombuffer(w._xs, dtype="<f4").tolist() == sorted(lams)
    assert w.lams.tolist() == sorted(lams)


def test_lam_from_python_and_readout(frames):
    sweep, fair = frames
    w = GapSweep(sweep, fair)
    assert w.lam == 0.0
    w.lam = 0.5
    assert w.get_state()["lam"] == 0.5
    out = w.at()
    assert out["nearest_lam"] == 0.5
    assert out["top-1"] == sweep.loc[sweep.lam == 0.5, "top1"].item()
    assert out["harm: right"] == fair.loc[(fair.lam == 0.5) & (fair.group == "right"),
                                          "harm_rate"].item()
    assert out["gap_distance"] == sweep.loc[sweep.lam == 0.5, "gap_distance"].item()
    # between grid points: the nearest computed λ
    assert w.at(0.3)["nearest_lam"] == 0.25
    with pytest.raises(traitlets.TraitError, match="finite"):
        w.lam = float("nan")


def test_front_end_update_reaches_python(frames):
    """What the browser does on a click: a state update with the new λ."""
    sweep, _ = frames
    w = GapSweep(sweep)
    seen = []
    w.observe(lambda change: seen.append(change["new"]), "lam")
    w.set_state({"lam": 0.75})
    assert w.lam == 0.75 and seen == [0.75]


def test_link_both_directions_with_the_explorer(frames):
    sweep, _ = frames
    w = GapSweep(sweep, lam=0.25)
    explorer = FakeExplorer(lam=0.0)
    w.link(explorer)
    assert explorer.lam == 0.25  # the explorer takes the cursor's value first
    w.lam = 1.0
    assert explorer.lam == 1.0
    explorer.lam = -0.5  # moving the close-gap slider moves the cursor
    assert w.lam == -0.5
    w.set_state({"lam": 0.5})  # a drag in the browser moves the slider
    assert explorer.lam == 0.5
    w.unlink()
    w.lam = 0.0
    assert explorer.lam == 0.5


def test_link_with_the_real_explorer(frames):
    sweep, _ = frames
    explorer = am.Explorer(am.datasets.clip_coco500())
    w = GapSweep(sweep)
    w.link(explorer)
    w.lam = 0.5
    assert explorer.lam == pytest.approx(0.5)
    explorer.lam = 1.0
    assert w.lam == pytest.approx(1.0)


def test_link_with_any_float_trait_and_errors(frames):
    sweep, _ = frames
    w = GapSweep(sweep)
    slider = ipywidgets.FloatSlider(min=-1, max=1)
    w.link(slider, "value")
    slider.value = 0.5
    assert w.lam == 0.5
    other = GapSweep(sweep)
    w.link(other)
    other.lam = -0.25
    assert w.lam == -0.25 and slider.value == -0.25
    with pytest.raises(TypeError, match="without a 'lam' trait"):
        w.link(slider)
    with pytest.raises(TypeError, match="without a 'lam' trait"):
        w.link(object())


def test_compute_runs_the_sweeps():
    images, texts, labels, groups = _task(seed=1)
    w = GapSweep.compute(images, texts, labels, LAMS, groups=groups, harmful_classes=[6, 7])
    pd.testing.assert_frame_equal(w.sweep, zero_shot_sweep(images, texts, labels, LAMS))
    assert w.fairness is not None and set(w.fairness.group) == {"left", "right"}
    harm_only = GapSweep.compute(images, texts, lams=LAMS, groups=groups, harmful_classes=[7])
    assert harm_only.sweep is None and [s["panel"] for s in harm_only._series] == ["harm"] * 2
    fair = harm_only.fairness
    assert harm_only.at(0.0)["harm: left"] == fair.loc[
        (fair.lam == 0) & (fair.group == "left"), "harm_rate"].item()
    with pytest.raises(ValueError, match="nothing to sweep"):
        GapSweep.compute(images, texts)
    with pytest.raises(ValueError, match="both groups= and harmful_classes="):
        GapSweep.compute(images, texts, labels, groups=groups)


def test_constructor_errors_and_skipped_metrics():
    images, texts, labels, _ = _task(n_classes=4)
    sweep = zero_shot_sweep(images, texts, labels, LAMS)
    w = GapSweep(sweep)
    assert w.skipped_metrics == ["top5"]  # top5 undefined with 4 classes: said, not hidden
    assert [s["key"] for s in w._series] == ["top1"]
    with pytest.raises(ValueError, match="needs sweep="):
        GapSweep()
    with pytest.raises(TypeError, match="pass the DataFrame"):
        GapSweep(sweep.to_dict())
    with pytest.raises(ValueError, match="'top9' is not a numeric column"):
        GapSweep(sweep, metrics=["top9"])
    with pytest.raises(ValueError, match="nothing to draw"):
        GapSweep(sweep, metrics=["top5"])
    with pytest.raises(traitlets.TraitError, match="at least 120"):
        GapSweep(sweep, height=50)


def test_figure_is_the_static_plot(frames):
    sweep, fair = frames
    assert any(t.name == "unshifted" for t in GapSweep(sweep).figure().data)
    assert len(GapSweep(None, fair).figure().data) > 0


def test_front_end_is_the_bundled_module_and_parses():
    """The front end lives in js/widgets/gap_sweep.js (+ js/css/gap_sweep.css), bundled into
    amumo/static/ like every other widget's; what the widget sends is that bundle."""
    root = Path(__file__).resolve().parent.parent
    static = root / "amumo" / "static"
    assert "export default { render }" in (root / "js/widgets/gap_sweep.js").read_text()
    state = GapSweep(zero_shot_sweep(*_task()[:3], LAMS)).get_state()
    assert state["_esm"].strip() == (static / "gap_sweep.js").read_text().strip()
    assert state["_css"].strip() == (static / "gap_sweep.css").read_text().strip()
    assert ".amumo-gapsweep-plot" in state["_css"]
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run([node, "--input-type=module", "--check"], input=state["_esm"],
                            text=True, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_is_an_amumo_widget_exported_from_the_widgets_package():
    import amumo.widgets
    from amumo.widgets._base import AmumoWidget

    assert am.GapSweep is amumo.widgets.GapSweep is GapSweep
    assert "GapSweep" in amumo.widgets.__all__
    assert issubclass(GapSweep, AmumoWidget)


# ---------------------------------------------------------------- colours and names
def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], float)


def test_gap_sweep_harm_colours_match_the_plot_and_are_distinct():
    from pathlib import Path

    from amumo.experiments import fairness_sweep, plot_fairness, zero_shot_sweep

    rng = np.random.default_rng(0)
    texts = rng.normal(size=(4, 16))
    labels = rng.integers(0, 3, size=120)
    images = texts[labels] + rng.normal(size=(120, 16)) + 3 * np.eye(16)[0]
    groups = np.array(["white", "black"])[rng.integers(0, 2, size=120)]
    lams = np.linspace(-0.5, 1.0, 4)
    sweep = zero_shot_sweep(images, texts, labels, lams)
    fair = fairness_sweep(images, texts, groups, [3], lams, labels=labels)
    view = am.GapSweep(sweep, fair)
    harm = {s["label"]: s["color"] for s in view._series if s["panel"] == "harm"}
    figure = plot_fairness(fair)
    plotted = {t.name: t.line.color for t in figure.data if t.showlegend}
    assert harm == {f"harm: {g}": plotted[g] for g in ("white", "black")}
    # far apart (Euclidean RGB distance), and not the colour of any accuracy curve
    a, b = (_rgb(c) for c in harm.values())
    assert np.linalg.norm(a - b) > 150
    accuracy = {s["color"] for s in view._series if s["panel"] == "accuracy"}
    assert not accuracy & set(harm.values())
    # one name for the sweep's gap (images vs class texts), never a bare "gap": the front end
    # (js/widgets/gap_sweep.js) takes it from the kernel, which takes it from the plots
    source = (Path(__file__).resolve().parent.parent / "js/widgets/gap_sweep.js").read_text()
    assert view.get_state()["_gap_name"] == "class-text gap"
    assert source.count('model.get("_gap_name")') == 2
    assert "`gap ${" not in source and 'textContent = "gap"' not in source
    assert figure.layout.xaxis2.title.text.startswith("class-text gap")
