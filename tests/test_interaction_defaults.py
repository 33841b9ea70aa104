"""Interaction and look (issue 15): defaults that show structure on the shipped data, a
colour range that follows the data (with a lock), and names that agree between views."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am


@pytest.fixture(scope="module")
def coco():
    return am.datasets.clip_coco500()


def test_default_clustering_shows_blocks_on_coco(coco):
    heatmap = am.Heatmap(coco, cluster=True)
    assert heatmap.cluster_method == "ward" and heatmap.cluster_k == 6
    sizes = np.bincount(heatmap.cluster_labels)
    # average linkage put 484 of 500 pairs in one cluster; ward gives balanced blocks
    assert len(sizes) == 6 and sizes.max() < 0.35 * len(coco)
    assert np.frombuffer(heatmap.cluster_bounds, np.int32).size == 5


def _cross_codes(widget) -> np.ndarray:
    size = widget.overview_size
    codes = np.frombuffer(widget.overview, np.uint8).reshape(size, size)
    return codes[: size // 2, size // 2 :]


def test_colour_range_follows_the_data_and_can_be_locked(coco):
    ex = am.Explorer(coco)
    assert ex.scale == [pytest.approx(-0.05), 1.0]
    ex.lam = -1.0  # widen the gap: image-text similarities fall below -0.05
    low = ex.scale[0]
    assert low < -0.2
    rows = am.shift(coco, -1.0)
    true_min = float((rows["image"] @ rows["text"].T).min())
    assert low <= true_min < low + 0.05
    cross = _cross_codes(ex)
    assert (cross == 0).mean() < 0.01  # not saturated to one colour
    assert len(np.unique(cross)) > 50
    # locked: the range in use stays while lambda changes
    ex.scale_locked = True
    ex.lam = 1.0
    assert ex.scale == [pytest.approx(low), 1.0]
    ex.closed = True
    assert ex.scale == [pytest.approx(low), 1.0]
    # unlocked: follows the data again
    ex.scale_locked = False
    assert ex.scale[0] > low
    # explicit ends win over the automatic range, and are checked against each other
    ex.vmax = 0.9
    ex.vmin = 0.1
    assert ex.scale == [pytest.approx(0.1), pytest.approx(0.9)]
    ex.vmin = None
    ex.lam = -1.0
    assert ex.scale[1] == pytest.approx(0.9) and ex.scale[0] < 0.9


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


def test_augmented_explorer_explains_count_metrics_and_colours(tmp_path, monkeypatch):
    from amumo.analysis.losses import info_nce
    from amumo.data import SyntheticShapes
    from amumo.models import CallableEncoder

    def image_features(images):
        arrays = [np.asarray(im.convert("RGB"), dtype=np.float64) / 255 for im in images]
        return [np.concatenate([a.mean((0, 1)), a.std((0, 1)), a[:8, :8].mean((0, 1)), [1.0]])
                for a in arrays]

    def text_features(texts):
        words = ["red", "blue", "green", "circle", "square", "small", "large", "star", "big"]
        return [[float(w in t) for w in words] + [1.0] for t in texts]

    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path))
    enc = CallableEncoder({"image": image_features, "text": text_features}, name="toy",
                          fingerprint="toy-aug-v1")
    ex = am.Explorer(dataset=SyntheticShapes(30, seed=1), encoder=enc)
    ex.wait()
    assert ex.augmentation_note == ""
    ex.augmentation = "rotate"
    ex.wait()
    # the pair count change is said, not silent
    assert ex.n_pairs == 200
    assert "first 20 of 30 pairs × 10 levels = 200 pairs" in ex.augmentation_note
    # InfoNCE / R@1 within each level (each caption once), averaged over the levels
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    assert rows["info_nce"]["label"].endswith("(per level)")
    emb = ex.embeddings
    levels = ex.dataset.meta["level_index"].to_numpy()
    per_level = np.mean([info_nce(emb.subset(np.flatnonzero(levels == k)), 0.01)
                         for k in range(10)])
    assert rows["info_nce"]["before"] == pytest.approx(per_level, rel=1e-6)
    assert info_nce(emb, 0.01) > rows["info_nce"]["before"] + 1.0  # duplicates inflate it
    # angles: a cyclic colour map, 0° and 324° (next to 360°) close in colour
    ex.color_by = "level"
    assert ex.legend["cyclic"] and ex.legend["vmax"] == 360.0
    codes = np.frombuffer(ex.colors, np.uint8)[: ex.n_pairs]
    palette = ex.palette
    angle = ex.dataset.meta["level"].to_numpy()
    first, last, half = (palette[codes[np.flatnonzero(angle == a)[0]]] for a in (0, 324, 180))
    rgb = {k: np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for k, c in
           {"first": first, "last": last, "half": half}.items()}
    assert np.linalg.norm(rgb["first"] - rgb["last"]) < np.linalg.norm(rgb["first"] - rgb["half"])
    ex.augmentation = "none"
    ex.wait()
    assert ex.augmentation_note == "" and ex.n_pairs == 30
    assert not {r["key"]: r for r in ex.metrics["rows"]}["info_nce"]["label"].endswith("level)")


def test_training_monitor_legend_names_the_cone_line_styles():
    pytest.importorskip("torch")
    from amumo.training.monitor import TrainingMonitor

    monitor = TrainingMonitor()
    monitor._add_run("run 1")
    monitor._add_run("run 2")
    key_traces = [t for t in monitor.figure.data if t.legendgroup == "cone-key"]
    keys = {t.name: t.line.dash for t in key_traces}
    assert keys == {"cone cosine: image": "dot", "cone cosine: text": "dashdot"}
    assert all(t.showlegend is not False for t in key_traces)
