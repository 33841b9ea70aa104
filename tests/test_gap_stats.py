"""GapStats (mergeable O(N·D) metrics) and blocked / sampled retrieval (issue 11)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import amumo as am
from amumo.analysis.retrieval import (
    Cancelled,
    rank_queries,
    resolve_sample,
    retrieval_metrics,
    wilson_interval,
)
from amumo.embeddings.shards import write_shard

SUM_KEYS = ("gap_distance", "paired_cosine", "alignment", "rmg", "l2i", "centroid_cosine")


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def _synthetic(n, d=32, m=2, seed=0, gap=1.0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d))
    names = ["image", "text", "audio"][:m]
    arrays = {}
    for i, name in enumerate(names):
        offset = np.zeros(d)
        offset[i] = 3.0 * gap
        arrays[name] = shared + 0.8 * rng.normal(size=(n, d)) + offset
    return am.Embeddings.from_arrays(arrays)


def _close(stats: dict, ref: dict, keys, tol=1e-9):
    for key in keys:
        assert abs(stats[key] - ref[key]) <= tol, (key, stats[key], ref[key])


@pytest.mark.parametrize("random_init, expected", [
    (False, {"rmg": 0.5915, "l2i": 1.1745, "centroid_cosine": 0.3088, "gap_distance": 0.8514}),
    (True, {"rmg": 0.7478, "l2i": 1.3938}),
])
def test_reference_values(random_init, expected):
    emb = am.datasets.clip_coco500(random_init=random_init)
    stats = am.GapStats().update(emb).metrics()
    metrics = am.metrics(emb, include_separability=False)
    for key, value in expected.items():
        assert round(stats[key], 4) == value
        assert round(metrics[key], 4) == value


def test_equals_direct_functions_and_metrics(clip):
    stats = am.GapStats().update(clip).metrics()
    ref = am.metrics(clip, include_separability=False)
    _close(stats, ref, SUM_KEYS + ("cone_cosine:image", "cone_cosine:text"))
    # against the independent direct formulas (science helper's gap_measures, metrics.py)
    assert abs(stats["rmg"] - am.rmg(clip)) <= 1e-9
    assert abs(stats["l2i"] - am.l2i(clip)) <= 1e-9
    assert abs(stats["centroid_cosine"] - am.centroid_cosine(clip)) <= 1e-9
    assert abs(stats["gap_distance"] - am.gap_distance(clip)) <= 1e-9
    assert abs(stats["paired_cosine"] - am.paired_cosine(clip)) <= 1e-9
    assert abs(stats["alignment"] - am.alignment(clip)) <= 1e-9
    assert abs(stats["cone_cosine:text"] - am.cone_cosine(clip, "text")) <= 1e-9
    np.testing.assert_allclose(am.GapStats().update(clip).gap_vector(), am.gap_vector(clip),
                               atol=1e-12)


def test_brute_force_definitions():
    emb = _synthetic(60, seed=3)
    x, y = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    stats = am.GapStats(block=7).update(emb).metrics()  # blocks that do not divide N
    cos = x @ x.T
    within = (cos.sum() - np.trace(cos)) / (60 * 59)
    assert stats["cone_cosine:image"] == pytest.approx(within, abs=1e-12)
    d = lambda c: (1 - c) / 2  # noqa: E731
    m = max(1e-3, d(np.mean(np.sum(x * y, axis=1))))
    wy = ((y @ y.T).sum() - np.trace(y @ y.T)) / (60 * 59)
    assert stats["rmg"] == pytest.approx(m / (m + (d(within) + d(wy)) / 2), abs=1e-12)
    assert stats["l2i"] == pytest.approx(np.mean(np.linalg.norm(x - y, axis=1)), abs=1e-12)


def test_over_shards_and_after_merge_equals_metrics(tmp_path, clip):
    for i, (lo, hi) in enumerate(((0, 120), (120, 121), (121, 400), (400, 500))):
        write_shard(tmp_path, i, clip.subset(np.arange(lo, hi)))
    ref = am.metrics(clip, include_separability=False)
    over_shards = am.GapStats().update_shards(tmp_path).metrics()
    _close(over_shards, ref, SUM_KEYS + ("cone_cosine:image", "cone_cosine:text"))
    # one accumulator per shard (one per machine), merged
    parts = [am.GapStats().update(s) for s in am.embeddings.shards.iter_shards(tmp_path)]
    merged = am.GapStats.combine(parts).metrics()
    _close(merged, ref, SUM_KEYS)
    # sent as JSON between processes, then merged
    wire = [am.GapStats.from_dict(json.loads(json.dumps(p.to_dict()))) for p in parts]
    total = wire[0] + wire[1] + wire[2] + wire[3]
    _close(total.metrics(), ref, SUM_KEYS)
    assert total.n == 500 and merged["n_pairs"] == 500
    # the opened folder gives the same metrics as well
    _close(am.metrics(am.Embeddings.open(tmp_path), include_separability=False), ref, SUM_KEYS)


def test_three_modalities_every_pair():
    emb = _synthetic(80, m=3, seed=5)
    stats = am.GapStats().update(emb)
    for a, b in (("image", "text"), ("image", "audio"), ("audio", "text")):
        ref = am.metrics(emb, a, b, include_separability=False)
        _close(stats.metrics(a, b), ref, SUM_KEYS)
    names, table = stats.pair_table("gap_distance")
    assert names == ("image", "text", "audio")
    np.testing.assert_allclose(table, table.T)
    assert table[0, 2] == pytest.approx(am.gap_distance(emb, "image", "audio"))


def test_errors():
    stats = am.GapStats()
    with pytest.raises(ValueError, match="empty"):
        stats.metrics()
    stats.update(_synthetic(10))
    with pytest.raises(ValueError, match="cannot be added"):
        stats.merge(am.GapStats().update(_synthetic(10, d=8)))
    with pytest.raises(ValueError, match="not one of"):
        stats.metrics("image", "audio")
    with pytest.raises(TypeError, match="GapStats"):
        stats.merge({"n": 3})
    with pytest.raises(ValueError, match="block"):
        am.GapStats(block=0)


# ---------------------------------------------------------------- blocked retrieval
def _full_matrix(emb, k, temperature):
    x, y = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    sims = x @ y.T
    out = {}
    for name, s in (("image->text", sims), ("text->image", sims.T)):
        ranks = np.sum(s > np.diagonal(s)[:, None], axis=1)
        for kk in k:
            out[f"recall@{kk}:{name}"] = float(np.mean(ranks < kk))
    out["info_nce"] = am.losses.info_nce(emb, temperature)
    return out


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_blocked_retrieval_equals_full_matrix(precision, monkeypatch):
    import amumo.analysis.retrieval as retrieval

    monkeypatch.setattr(retrieval, "BLOCK_ENTRIES", 997)  # many small, ragged blocks
    emb = _synthetic(300, seed=1, gap=0.3)
    # exact ties: duplicate rows in both modalities
    x, y = np.array(emb["image"]), np.array(emb["text"])
    x[10] = x[11]
    y[20] = y[21] = y[22]
    emb = am.Embeddings.from_arrays({"image": x, "text": y})
    ref = _full_matrix(emb, (1, 5, 10), 0.05)
    got = retrieval_metrics(emb, temperature=0.05, sample=None, precision=precision)
    for key, value in ref.items():
        tol = 1e-12 if precision == "float64" or not key.startswith("info") else 1e-5
        assert abs(got[key] - value) <= tol, (key, got[key], value)
    assert got["retrieval_exact"] == 1.0
    assert am.recall_at_k(emb, (1, 5)) == {1: ref["recall@1:image->text"],
                                            5: ref["recall@5:image->text"]}


def test_metrics_retrieval_matches_reference_on_clip(clip):
    ref = _full_matrix(clip, (1, 5, 10), 0.01)
    got = am.metrics(clip, include_separability=False)
    for key, value in ref.items():
        assert got[key] == pytest.approx(value, abs=1e-12)
    f32 = retrieval_metrics(clip, precision="float32")
    assert {k: f32[k] for k in ref if k.startswith("recall")} == {
        k: v for k, v in ref.items() if k.startswith("recall")
    }
    assert abs(f32["info_nce"] - ref["info_nce"]) < 1e-5


def test_rank_queries_subset_equals_rows_of_all():
    emb = _synthetic(120, seed=2, gap=0.2)
    full = rank_queries(emb["image"], emb["text"], temperature=0.1)
    sub = rank_queries(emb["image"], emb["text"], np.array([3, 50, 119]), temperature=0.1)
    np.testing.assert_array_equal(sub.ranks, full.ranks[[3, 50, 119]])
    np.testing.assert_allclose(sub.nce, full.nce[[3, 50, 119]], atol=1e-12)


def test_sampled_estimates_cover_the_exact_value():
    emb = _synthetic(3000, d=24, seed=7, gap=0.15)
    exact = retrieval_metrics(emb, temperature=0.05, sample=None)
    est = retrieval_metrics(emb, temperature=0.05, sample=400, seed=0)
    assert est["retrieval_exact"] == 0.0 and est["retrieval_queries"] == 400
    for key in ("recall@1:image->text", "recall@10:text->image", "info_nce"):
        assert est[f"{key}:ci_low"] <= exact[key] <= est[f"{key}:ci_high"], key
        assert est[f"{key}:ci_low"] < est[key] < est[f"{key}:ci_high"]
    assert 0 < exact["recall@1:image->text"] < 1  # not a trivial case
    again = retrieval_metrics(emb, temperature=0.05, sample=400, seed=0)
    assert again == est  # seeded


def test_metrics_sample_api():
    emb = _synthetic(200, seed=9)
    auto = am.metrics(emb, include_separability=False)  # small N: exact
    assert auto["retrieval_exact"] == 1.0 and not any(k.endswith("ci_low") for k in auto)
    est = am.metrics(emb, include_separability=False, sample=50, seed=1)
    assert est["retrieval_exact"] == 0.0 and "recall@1:image->text:ci_low" in est
    assert est["gap_distance"] == auto["gap_distance"]  # sums are always exact
    assert resolve_sample("auto", 10_000) is None and resolve_sample("auto", 10_001) == 1000
    assert resolve_sample(500, 100) is None
    with pytest.raises(ValueError, match="sample="):
        am.metrics(emb, sample="some")
    with pytest.raises(ValueError, match="sample="):
        am.metrics(emb, sample=0)


def test_progress_and_cancel():
    emb = _synthetic(400, seed=4)
    seen = []
    retrieval_metrics(emb, sample=100, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    with pytest.raises(Cancelled):
        am.metrics(emb, sample=None, should_stop=lambda: True)


def test_wilson_interval_limits():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    lo, hi = wilson_interval(30, 100, 0.99)
    lo95, hi95 = wilson_interval(30, 100, 0.95)
    assert lo < lo95 < 0.3 < hi95 < hi
