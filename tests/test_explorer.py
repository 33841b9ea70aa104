"""The Explorer's kernel side (amumo.widgets.explorer): λ it cannot show, the colour range
checked at the boundary, and at scale what is sent, background close-the-gap and jobs.

(Python side of every widget, linking and bytes sent: tests/test_widgets.py.)
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import traitlets

import amumo as am
from amumo.widgets import Explorer
from amumo.widgets import explorer as explorer_module
from amumo.widgets._base import JobCancelled
from amumo.widgets._items import TEXTS_LIMIT


@pytest.fixture(scope="module")
def coco():
    return am.datasets.clip_coco500()


@pytest.fixture(scope="module")
def small(coco):
    return coco.subset(range(6))


# ---------------------------------------------------------------- λ and colour range


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


@pytest.mark.parametrize("kwargs", [{"vmin": 2.0}, {"vmax": -1.0}, {"vmin": float("nan")},
                                    {"vmin": 0.5, "vmax": 0.2}])
def test_colour_range_is_validated_at_the_boundary(small, kwargs):
    with pytest.raises(traitlets.TraitError, match="vmin|vmax"):
        am.Heatmap(small, **kwargs)
    ex = am.Explorer(small)
    with pytest.raises(traitlets.TraitError):
        for name, value in kwargs.items():
            setattr(ex, name, value)
    ex.lam = 0.5  # later changes keep working
    ex.closed = True
    assert ex.scale[0] < ex.scale[1]


# ---------------------------------------------------------------- at scale
def synthetic(n: int, d: int = 16, seed: int = 0) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    concept = rng.standard_normal((n, d), dtype=np.float32)
    arrays = {
        m: concept + 0.8 * rng.standard_normal((n, d), dtype=np.float32) + shift
        for m, shift in (("image", 1.0), ("text", -1.0))
    }
    meta = {"caption": [f"scene {i}" for i in range(n)], "topic": np.arange(n) % 17}
    return am.Embeddings.from_arrays(arrays, meta=meta)


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
