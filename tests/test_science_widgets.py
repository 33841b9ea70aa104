"""Explorer research panels, Python side: remedy picker, retrieval requests, failures,
calibration and selection metrics."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import amumo as am
from amumo.analysis.neighbours import neighbours
from amumo.widgets.science import selection_metrics


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def rows_of(ex):
    return {r["key"]: r for r in ex.metrics["rows"]}


def request(ex, content):
    """Drive a custom message like the browser does and return the reply."""
    sent = []
    ex.send = lambda msg, buffers=None: sent.append(msg)
    ex._dispatch(ex, {**content, "id": "t-1"}, [])
    assert len(sent) == 1 and sent[0]["id"] == "t-1"
    return sent[0]


def test_metrics_panel_has_current_measures(clip):
    ex = am.Explorer(clip)
    rows = rows_of(ex)
    assert rows["rmg"]["before"] == pytest.approx(0.5915, abs=5e-5)
    assert rows["l2i"]["before"] == pytest.approx(1.1745, abs=5e-5)
    assert rows["centroid_cosine"]["before"] == pytest.approx(0.3088, abs=5e-5)
    assert ex.metrics["rows"][0]["key"] == "gap_distance"


def test_remedy_picker(clip):
    ex = am.Explorer(clip)
    assert ex.mitigation == "shift" and ex.mitigations == ["shift", "center", "standardize"]
    ex.lam = 0.5
    shifted = am.gap_distance(am.shift(clip, 0.5))
    assert rows_of(ex)["gap_distance"]["after"] == pytest.approx(shifted)
    ex.mitigation = "center"
    assert rows_of(ex)["gap_distance"]["after"] == pytest.approx(
        am.gap_distance(am.mitigate(clip, "center", report=False)), abs=1e-6
    )
    assert ex.metrics["note"] == "now = after center (strength 1)"
    before = ex.embeddings
    ex.lam = 1.2  # ignored while the remedy is not "shift"
    assert ex.embeddings is before
    ex.strength = 0.5
    expected = am.mitigate(clip, "center", 0.5, report=False)
    assert np.allclose(ex.embeddings["text"], expected["text"], atol=1e-6)
    ex.mitigation = "standardize"
    assert rows_of(ex)["gap_distance"]["after"] == pytest.approx(
        am.gap_distance(am.mitigate(clip, "standardize", 0.5, report=False)), abs=1e-6
    )
    ex.strength = 0.0
    assert ex.embeddings is ex._base
    ex.closed = True  # closing still overrides every remedy
    assert rows_of(ex)["gap_distance"]["after"] < 1e-3
    ex.closed = False
    ex.mitigation = "shift"  # back to λ (now 1.2)
    assert rows_of(ex)["gap_distance"]["after"] == pytest.approx(
        am.gap_distance(am.shift(clip, 1.2)), abs=1e-6
    )
    with pytest.raises(traitlets.TraitError, match="mitigation='magic'"):
        ex.mitigation = "magic"
    with pytest.raises(traitlets.TraitError, match="strength"):
        ex.strength = 1.5
    with pytest.raises(TypeError, match="read-only"):
        am.Explorer(clip, failures={})
    ex2 = am.Explorer(clip, mitigation="center", strength=0.25)
    assert np.allclose(
        ex2.embeddings["image"], am.mitigate(clip, "center", 0.25, report=False)["image"],
        atol=1e-6,
    )


def test_neighbours_request(clip):
    ex = am.Explorer(clip)
    reply = request(ex, {"type": "neighbours", "pair": 3, "modality": 0, "k": 4})
    hit = neighbours(clip, 3, "image", "text", k=4)
    assert [r["pair"] for r in reply["rows"]] == hit["pairs"]
    assert reply["rank"] == hit["rank"] == 0
    assert reply["rows"][0]["true"] and reply["rows"][0]["text"] == clip.meta["caption"][3]
    assert (reply["source"], reply["target"]) == ("image", "text")
    back = request(ex, {"type": "neighbours", "pair": 3, "modality": 1})
    assert (back["source"], back["target"]) == ("text", "image") and len(back["rows"]) == 5
    bad = request(ex, {"type": "neighbours", "pair": 10_000, "modality": 0})
    assert "not among the shown pairs" in bad["error"]


def test_neighbours_follow_filter_and_shift(clip):
    ex = am.Explorer(clip)
    ex.filter_text = "dog"
    ids = ex._ids
    reply = request(ex, {"type": "neighbours", "pair": int(ids[2]), "modality": 0, "k": 3})
    hit = neighbours(ex.embeddings, 2, "image", "text", k=3)
    assert [r["pair"] for r in reply["rows"]] == [int(ids[p]) for p in hit["pairs"]]
    assert reply["n_candidates"] == len(ids)
    ex.closed = True  # retrieval runs on the embeddings as shown
    reply = request(ex, {"type": "neighbours", "pair": int(ids[2]), "modality": 0, "k": 3})
    assert reply["rank"] == neighbours(ex.embeddings, 2, k=1)["rank"]


def test_failures_and_calibration_traits(clip):
    ex = am.Explorer(clip)
    summary = ex.failures["summary"]
    assert summary["n_failed"] == 224 and summary["n_queries"] == 500
    rows = ex.failures["rows"]
    assert 0 < len(rows) <= 40 and rows[0]["rank"] >= rows[-1]["rank"]
    assert rows[0]["text"] == clip.meta["caption"][rows[0]["pair"]]
    assert set(ex.calibration) >= {"edges", "series", "means", "auc"}
    assert ex.calibration["means"]["matched"] == pytest.approx(0.3099, abs=1e-4)
    ex.filter_text = "dog"  # failures use original pair ids of the filtered pairs
    assert {r["pair"] for r in ex.failures["rows"]} <= set(ex._ids.tolist())
    assert ex.failures["summary"]["n_queries"] == len(ex._ids)
    frame = ex.retrieval_failures()
    assert list(frame["pair"]) == [r["pair"] for r in ex.failures["rows"]]
    assert frame.attrs["summary"]["n_queries"] == len(ex._ids)
    state = ex.get_state()
    assert len(str(state["failures"])) < 20_000 and len(str(state["calibration"])) < 10_000


def test_selection_metrics(clip):
    ex = am.Explorer(clip)
    assert ex.metrics["selection"] == {}
    ex.selected = list(range(0, 60, 2))
    sel = ex.metrics["selection"]
    expected = selection_metrics(clip, np.arange(0, 60, 2))
    assert sel["n"] == 30
    for key in ("gap_distance", "rmg", "recall@1:image->text", "recall@1:text->image"):
        assert sel[key] == pytest.approx(expected[key])
    assert sel["rmg"] == pytest.approx(am.rmg(clip.subset(np.arange(0, 60, 2))))
    ex.lam = 0.5  # the selection column follows the shown embeddings
    assert ex.metrics["selection"]["gap_distance"] == pytest.approx(
        am.gap_distance(am.shift(clip, 0.5).subset(np.arange(0, 60, 2))), abs=1e-6
    )
    ex.selected = []
    assert ex.metrics["selection"] == {}
    assert selection_metrics(clip, [4]) == {}


def test_selection_metrics_large_selection(clip, monkeypatch):
    from amumo.analysis import summary

    monkeypatch.setattr(summary, "SELECTION_RECALL_LIMIT", 100)
    positions = np.arange(0, 500, 2)  # 250 pairs > 100: sums exact, recall sampled
    got = selection_metrics(clip, positions)
    sub = clip.subset(positions)
    assert got["n"] == 250 and got["recall_sampled"] == 100
    assert got["gap_distance"] == pytest.approx(am.gap_distance(sub), rel=1e-9)
    assert got["rmg"] == pytest.approx(am.rmg(sub), rel=1e-9)
    assert got["l2i"] == pytest.approx(am.l2i(sub), rel=1e-9)
    sample = positions[np.linspace(0, 249, 100).astype(int)]
    assert got["recall@1:image->text"] == pytest.approx(
        am.recall_at_k(clip.subset(sample), 1)[1]
    )


def test_panel_and_selection_science_live_in_analysis():
    # The widgets display these numbers; amumo.analysis computes them (old paths kept).
    from amumo.analysis import summary
    from amumo.widgets import explorer, science

    assert explorer.gap_metrics is summary.gap_metrics
    assert science.selection_metrics is summary.selection_metrics
    assert summary.selection_metrics.__module__ == "amumo.analysis.summary"
