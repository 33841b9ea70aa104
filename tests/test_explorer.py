"""The Explorer's kernel side (amumo.widgets.explorer): a λ it cannot show, at scale what is
sent, close-the-gap in the background and the jobs it stops, and an augmentation's note,
per-level metrics and cyclic colours.

(Python side of every widget, linking and bytes sent: tests/test_widgets.py; the colour
range: tests/test_heatmap.py; the browser at 200,000 pairs: tests/browser/test_scatter_scale.py.)
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import traitlets
from _pairs import synthetic

import amumo as am
from amumo.widgets import Explorer
from amumo.widgets import explorer as explorer_module
from amumo.widgets._base import JobCancelled
from amumo.widgets._items import TEXTS_LIMIT


@pytest.fixture(scope="module")
def coco():
    return am.datasets.clip_coco500()


# ---------------------------------------------------------------- λ


def test_explorer_huge_lambda_keeps_metrics_current(coco):
    ex = am.Explorer(coco)
    ex.lam = 1e300
    assert ex.error == ""
    after = {r["key"]: r["after"] for r in ex.metrics["rows"]}
    assert after["gap_distance"] == pytest.approx(2.0, abs=1e-6)  # the limit: antipodal centroids
    assert "1e+300" in ex.metrics["note"]
    with pytest.raises(traitlets.TraitError, match="finite"):
        ex.lam = float("nan")


def test_explorer_reverts_lambda_it_cannot_show():
    x = np.zeros((3, 4))
    x[:, 0] = 1.0
    emb = am.Embeddings.from_arrays({"image": x, "text": -x})  # identical antipodal pairs
    ex = am.Explorer(emb)
    ex.lam = 1.0  # puts every row on the origin
    assert ex.lam == 0.0
    assert "lam=1.0 cannot be shown" in ex.error
    after = {r["key"]: r["after"] for r in ex.metrics["rows"]}
    assert after["gap_distance"] == pytest.approx(am.gap_distance(emb))


# ---------------------------------------------------------------- at scale
def test_explorer_state_at_100k_pairs_within_budget():
    n = 100_000
    ex = Explorer(synthetic(n))
    ex.wait()
    size = ex.state_size()
    assert size["total"] <= 8_000_000  # the budget at 100k pairs
    per = size["per_trait"]
    assert per["xy"] == 2 * n * 2 * 4  # float32 x, y of every item, once
    assert per["colors"] == 2 * n  # one uint8 code per item
    assert per["overview"] <= 1024 * 1024  # block means, never the (2N)² matrix
    assert n > TEXTS_LIMIT and ex.texts == b""  # captions fetched on hover instead
    # Colour changes send only codes: the coordinates are not resent.
    sent: list[set] = []
    original = ex.send_state

    def spy(key=None):
        sent.append(set([key] if isinstance(key, str) else key or []))
        return original(key)

    ex.send_state = spy
    ex.color_by = "topic"
    assert any("colors" in keys for keys in sent)
    assert not any("xy" in keys for keys in sent)


def test_explorer_close_gap_runs_in_the_background_and_supersedes(monkeypatch):
    monkeypatch.setattr(explorer_module, "VIEWS_SYNC_LIMIT", 100)
    coco = am.datasets.clip_coco500()
    ex = Explorer(coco)
    calls: list[bool] = []
    slow = threading.Event()
    original = ex._mitigated

    def mitigated(base, row_map=None):
        calls.append(ex.closed)
        if not slow.is_set():
            slow.wait(1.0)
        return original(base, row_map)

    ex._mitigated = mitigated
    ex.closed = True
    assert ex.busy.get("heatmap") and ex.busy.get("scatter")  # shown at once
    assert ex.metrics["pending"]  # the old numbers stay, greyed
    ex.closed = False
    ex.closed = True  # three clicks while the first runs
    slow.set()
    ex.wait()
    assert len(calls) <= 2
    assert ex.busy == {}
    gap = {r["key"]: r for r in ex.metrics["rows"]}["gap_distance"]
    assert gap["after"] < 1e-3 and not ex.metrics["pending"]


def test_metrics_panel_estimates_retrieval_above_the_exact_limit():
    from amumo.analysis.retrieval import EXACT_LIMIT

    ex = Explorer(synthetic(EXACT_LIMIT + 500, d=8))
    ex.wait()
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    recall = rows["recall@1:image->text"]
    assert recall["estimate"] and "seeded queries" in recall["help"]
    lo, hi = recall["ci_before"]
    assert lo <= recall["before"] <= hi
    assert not rows["gap_distance"].get("estimate")  # exact, from sums
    exact = am.gap_distance(ex.embeddings)
    assert rows["gap_distance"]["before"] == pytest.approx(exact, abs=1e-9)


def test_close_gap_click_stops_the_failures_search_of_the_old_pictures(monkeypatch):
    """At 1M pairs the failures / calibration job of the pictures being replaced ran on
    beside close_gap (its random gathers from the memory map held ~0.6 GB: peak RSS 4.6 ->
    5.2 GB); a click now stops it, and the closed pictures get their own tables."""
    import amumo.widgets.science as science_module

    monkeypatch.setattr(explorer_module, "VIEWS_SYNC_LIMIT", 100)
    monkeypatch.setattr(science_module, "SYNC_LIMIT", 100, raising=False)
    import amumo.widgets._base as base_module

    monkeypatch.setattr(base_module, "SYNC_LIMIT", 100)
    real = science_module.failed_retrievals
    started, stopped = threading.Event(), threading.Event()

    def slow(emb, *args, should_stop=None, **kwargs):
        if not started.is_set():  # the first search (open gap): wait to be stopped
            started.set()
            for _ in range(500):
                if should_stop is not None and should_stop():
                    stopped.set()
                    raise JobCancelled
                time.sleep(0.01)
        return real(emb, *args, should_stop=should_stop, **kwargs)

    monkeypatch.setattr(science_module, "failed_retrievals", slow)
    ex = Explorer(am.datasets.clip_coco500())
    assert started.wait(10)
    original, seen = ex._mitigated, []

    def mitigated(base, row_map=None):  # the shift waits for the old search to stop (<= 3 s)
        seen.append(stopped.wait(3))
        return original(base, row_map)

    ex._mitigated = mitigated
    ex.closed = True
    ex.wait()
    assert seen == [True]  # stopped by the click, while the shift ran
    assert ex.failures["summary"]["n_queries"] == 500
    assert ex.calibration["means"]["unmatched"] > 0.3  # the closed pictures' histograms


# ---------------------------------------------------------------- augmentations
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
