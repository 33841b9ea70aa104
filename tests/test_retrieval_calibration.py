"""Single-item retrieval, failed retrievals and cosine calibration (analysis side)."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.analysis.calibration import calibration_figure, cosine_histograms, cosine_samples
from amumo.analysis.neighbours import failed_retrievals, neighbours


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def test_neighbours_brute_force(clip):
    sims = clip["text"].astype(np.float64) @ clip["image"].astype(np.float64).T
    for pair in (0, 3, 239, 499):
        hit = neighbours(clip, pair, "text", "image", k=7)
        order = np.argsort(-sims[pair], kind="stable")[:7]
        assert hit["pairs"] == order.tolist()
        assert hit["scores"] == pytest.approx(sims[pair, order])
        assert hit["rank"] == int(np.sum(sims[pair] > sims[pair, pair]))
        assert hit["true_score"] == pytest.approx(sims[pair, pair])
        assert hit["n_candidates"] == 500


def test_neighbour_ranks_give_recall(clip):
    ranks = [neighbours(clip, i, k=1)["rank"] for i in range(len(clip))]
    assert np.mean(np.array(ranks) == 0) == pytest.approx(am.recall_at_k(clip, 1)[1])
    assert np.mean(np.array(ranks) < 5) == pytest.approx(am.recall_at_k(clip, 5)[5])


def test_neighbours_errors(clip):
    for bad in (-1, 500, 1.5, True):
        with pytest.raises(ValueError, match="pair="):
            neighbours(clip, bad)
    with pytest.raises(ValueError, match="k="):
        neighbours(clip, 0, k=0)
    assert len(neighbours(clip.subset([0, 1, 2]), 0, k=10)["pairs"]) == 3


def test_failed_retrievals_exact(clip):
    table, summary = failed_retrievals(clip, max_rows=500)
    assert summary["n_failed"] == round((1 - 0.552) * 500) == len(table)
    assert summary["failure_rate"] == pytest.approx(1 - 0.552)
    assert not summary["estimate"]
    assert (table["rank"] > 0).all()
    assert np.all(np.diff(table["rank"]) <= 0)  # worst first
    assert (table["top_score"] > table["true_score"]).all()
    sims = clip["image"].astype(np.float64) @ clip["text"].astype(np.float64).T
    row = table.iloc[0]
    assert int(row["top_pair"]) == int(np.argmax(sims[int(row["pair"])]))
    reverse, rsummary = failed_retrievals(clip, "text", "image", max_rows=5)
    assert rsummary["n_failed"] == round((1 - 0.506) * 500)
    assert len(reverse) == 5


def test_failed_retrievals_estimate(clip):
    table, summary = failed_retrievals(clip, max_queries=200, seed=1)
    assert summary["estimate"] and summary["n_queries"] == 200
    lo, hi = summary["interval"]
    assert lo < summary["failure_rate"] < hi
    assert lo < 0.448 < hi  # the exact rate lies in the 95 % interval
    again, _ = failed_retrievals(clip, max_queries=200, seed=1)
    assert table.equals(again)


def test_cosine_samples_match_exact_means(clip):
    s = cosine_samples(clip, max_samples=50_000, seed=0)
    assert s["matched"].mean() == pytest.approx(am.paired_cosine(clip))
    assert s["within:image"].mean() == pytest.approx(am.cone_cosine(clip, "image"), abs=0.01)
    assert s["within:text"].mean() == pytest.approx(am.cone_cosine(clip, "text"), abs=0.01)
    sims = clip["image"].astype(np.float64) @ clip["text"].astype(np.float64).T
    off = sims[~np.eye(500, dtype=bool)]
    assert s["unmatched"].mean() == pytest.approx(off.mean(), abs=0.005)
    # i != j always: no within-modality sample is an item with itself
    assert s["within:image"].max() < 0.999


def test_cosine_histograms(clip):
    h = cosine_histograms(clip, bins=40)
    edges = np.asarray(h["edges"])
    assert len(edges) == 41
    for values in h["series"].values():
        assert np.sum(np.asarray(values) * np.diff(edges)) == pytest.approx(1.0)
    assert h["means"]["matched"] == pytest.approx(0.3099, abs=1e-4)
    assert 0.95 < h["auc"] <= 1.0
    assert h == cosine_histograms(clip, bins=40)  # seeded
    rnd = cosine_histograms(am.datasets.clip_coco500(random_init=True))
    assert 0.4 < rnd["auc"] < 0.7  # random init: a pair is no more similar than any other
    fig = calibration_figure(clip)
    assert [t.name for t in fig.data] == ["matched", "unmatched", "within:image", "within:text"]


def test_calibration_large_n_samples_matched():
    rng = np.random.default_rng(0)
    emb = am.Embeddings.from_arrays({"image": rng.normal(size=(3000, 8)),
                                     "text": rng.normal(size=(3000, 8))})
    s = cosine_samples(emb, max_samples=1000)
    assert all(len(v) == 1000 for v in s.values())
    with pytest.raises(ValueError, match="max_samples"):
        cosine_samples(emb, max_samples=0)


def test_one_query_is_linear_in_n():
    """A hover asks one row against all candidates: memory O(N), never N x N."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 200_000  # an N x N float64 matrix would need 320 GB
    emb = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(n, 4)), "text": rng.normal(size=(n, 4))}
    )
    tracemalloc.start()
    hit = neighbours(emb, 123, k=5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * n  # a few float64 vectors of length N
    assert len(hit["pairs"]) == 5 and hit["n_candidates"] == n
    table, summary = failed_retrievals(emb, max_queries=50, max_rows=5)
    assert summary["estimate"] and summary["n_queries"] == 50


def test_failed_retrievals_blocks_do_not_change_the_table(clip, monkeypatch):
    import importlib

    module = importlib.import_module("amumo.analysis.neighbours")  # the module, not the function

    expected = failed_retrievals(clip, max_rows=500)
    monkeypatch.setattr(module, "QUERY_CHUNK", 7)
    monkeypatch.setattr(importlib.import_module("amumo.embeddings._rows"), "ROW_BLOCK", 33)
    table, summary = failed_retrievals(clip, max_rows=500)
    assert summary == expected[1]
    assert table[["pair", "rank", "top_pair"]].equals(expected[0][["pair", "rank", "top_pair"]])
    assert np.allclose(table["top_score"], expected[0]["top_score"])


def test_failed_retrievals_can_be_stopped(clip, monkeypatch):
    import importlib

    from amumo.analysis._progress import Cancelled

    module = importlib.import_module("amumo.analysis.neighbours")
    monkeypatch.setattr(module, "SCORE_BLOCK", 50)  # ten candidate blocks: checked ten times

    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        failed_retrievals(clip, should_stop=stop)
    assert len(calls) == 2  # stopped at the second block


def test_neighbours_float32_path(clip):
    for pair in (0, 3, 239):
        exact = neighbours(clip, pair, k=5)
        fast = neighbours(clip, pair, k=5, exact=False)
        assert fast["scores"] == pytest.approx(exact["scores"], abs=1e-6)
        assert fast["rank"] == exact["rank"]
        assert set(fast["pairs"]) == set(exact["pairs"])
