"""Properties of the analysis core: gap, losses, metrics, similarity, clustering (also the
k-means order of many pairs), projections.

Shifting and closing the gap (``am.shift``, ``am.close_gap``): tests/test_gap_moves.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from _pairs import blobs

import amumo as am


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


@pytest.fixture(scope="module")
def small(clip):
    return clip.subset(np.arange(0, 500, 5))  # 100 pairs


def two_cones(n=60, d=16, seed=0, offset=4.0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, d))
    x = base + offset * np.eye(d)[0]
    y = base + 0.3 * rng.normal(size=(n, d)) - offset * np.eye(d)[0]
    return am.Embeddings.from_arrays({"image": x, "text": y})


# ----------------------------------------------------------------- gap
def test_gap_vector_is_centroid_difference(clip):
    expected = clip["image"].astype(np.float64).mean(0) - clip["text"].astype(np.float64).mean(0)
    np.testing.assert_allclose(am.gap_vector(clip), expected, atol=1e-7)
    np.testing.assert_allclose(am.gap_vector(clip, "text", "image"), -expected, atol=1e-7)


def test_gap_distance_known_limits():
    x = np.eye(4)[:2]
    same = am.Embeddings.from_arrays({"image": x, "text": x})
    assert am.gap_distance(same) == 0
    opposite = am.Embeddings.from_arrays({"image": x, "text": -x})
    assert am.gap_distance(opposite) == pytest.approx(2 * np.linalg.norm(x.mean(0)))
    antipodal = am.Embeddings.from_arrays({"image": np.eye(3)[:1], "text": -np.eye(3)[:1]})
    assert am.gap_distance(antipodal) == pytest.approx(2.0)


def test_gap_invariant_to_rotation(clip):
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(512, 512)))
    rotated = am.Embeddings.from_arrays({"image": clip["image"] @ q, "text": clip["text"] @ q})
    assert am.gap_distance(rotated) == pytest.approx(am.gap_distance(clip), abs=1e-5)
    assert am.losses.info_nce(rotated, 0.01) == pytest.approx(
        am.losses.info_nce(clip, 0.01), abs=1e-4
    )


# ----------------------------------------------------------------- losses
LOSS_NAMES = ["info_nce", "cyclip", "info_loob", "siglip"]


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_invariant_to_permuting_pairs(small, name):
    loss = getattr(am.losses, name)
    perm = np.random.default_rng(1).permutation(len(small))
    assert loss(small.subset(perm), 0.05) == pytest.approx(loss(small, 0.05), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_do_not_mutate(small, name):
    before = small["image"].copy()
    getattr(am.losses, name)(small, 0.05)
    np.testing.assert_array_equal(small["image"], before)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_reject_bad_temperature(small, name):
    with pytest.raises(ValueError, match="temperature"):
        getattr(am.losses, name)(small, 0.0)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_punish_breaking_the_pairs(small, name):
    """Shuffling one modality against the other (breaking pairs) must raise every loss."""
    loss = getattr(am.losses, name)
    perm = np.random.default_rng(2).permutation(len(small))
    broken = am.Embeddings.from_arrays({"image": small["image"], "text": small["text"][perm]})
    assert loss(broken, 0.05) > loss(small, 0.05)


def test_info_nce_matches_explicit_cross_entropy():
    rng = np.random.default_rng(0)
    e = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(5, 3)), "text": rng.normal(size=(5, 3))}
    )
    s = e["image"].astype(np.float64) @ e["text"].astype(np.float64).T / 0.1
    p_rows = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    p_cols = np.exp(s) / np.exp(s).sum(0, keepdims=True)
    expected = -(np.log(np.diag(p_rows)).mean() + np.log(np.diag(p_cols)).mean()) / 2
    assert am.losses.info_nce(e, 0.1) == pytest.approx(expected, rel=1e-10)


def test_info_nce_limit_of_identical_orthogonal_pairs():
    """Perfectly matched orthonormal pairs at tiny temperature have loss -> 0."""
    e = am.Embeddings.from_arrays({"image": np.eye(8), "text": np.eye(8)})
    assert am.losses.info_nce(e, 0.01) < 1e-30
    assert am.losses.info_nce(e, 1e6) == pytest.approx(np.log(8), rel=1e-5)


def test_cyclip_regularisers_vanish_for_identical_modalities(small):
    same = am.Embeddings.from_arrays({"image": small["image"], "text": small["image"]})
    assert am.losses.cyclip(same, 0.05) == pytest.approx(am.losses.info_nce(same, 0.05))


def test_info_loob_below_info_nce(small):
    assert am.losses.info_loob(small, 0.05) < am.losses.info_nce(small, 0.05)


def test_siglip_explicit_formula():
    rng = np.random.default_rng(3)
    e = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(4, 3)), "text": rng.normal(size=(4, 3))}
    )
    s = e["image"].astype(np.float64) @ e["text"].astype(np.float64).T
    z = 2 * np.eye(4) - 1
    expected = -np.sum(np.log(1 / (1 + np.exp(-z * (s / 0.1 - 10))))) / 4
    assert am.losses.siglip(e, 0.1) == pytest.approx(expected, rel=1e-9)


def test_loss_landscape_shape_and_values(small):
    lams = [-0.5, 0.0, 0.5, 1.0]
    temps = [0.01, 1.0]
    grid = am.loss_landscape(small, lams, temps)
    assert grid.shape == (2, 4)
    assert grid[0, 1] == pytest.approx(am.losses.info_nce(small, 0.01))
    assert grid[1, 3] == pytest.approx(am.losses.info_nce(am.shift(small, 1.0), 1.0))
    with pytest.raises(ValueError, match="loss='hinge'"):
        am.loss_landscape(small, lams, temps, loss="hinge")
    with pytest.raises(ValueError, match="lams is empty"):
        am.loss_landscape(small, [], temps)


# ----------------------------------------------------------------- metrics
def test_recall_bounds_and_monotonic(clip):
    r = am.recall_at_k(clip, (1, 5, 10, 500))
    assert 0 <= r[1] <= r[5] <= r[10] <= r[500] == 1.0
    with pytest.raises(ValueError, match="k=0"):
        am.recall_at_k(clip, 0)


def test_perfect_pairs_have_full_recall_and_zero_alignment():
    x = np.random.default_rng(0).normal(size=(20, 6))
    e = am.Embeddings.from_arrays({"image": x, "text": x})
    assert am.recall_at_k(e, 1)[1] == 1.0
    assert am.alignment(e) == pytest.approx(0, abs=1e-10)
    assert am.paired_cosine(e) == pytest.approx(1)


def test_cone_cosine_matches_brute_force(small):
    x = small["image"].astype(np.float64)
    s = x @ x.T
    n = len(x)
    expected = (s.sum() - np.trace(s)) / (n * (n - 1))
    assert am.cone_cosine(small, "image") == pytest.approx(expected, abs=1e-9)


def test_uniformity_extremes():
    collapsed = am.Embeddings.from_arrays(
        {"image": np.ones((5, 3)), "text": np.eye(3)[[0, 1, 2, 0, 1]]}
    )
    assert am.uniformity(collapsed, "image") == pytest.approx(0.0, abs=1e-6)
    spread = am.Embeddings.from_arrays({"image": np.vstack([np.eye(3), -np.eye(3)]),
                                        "text": np.vstack([np.eye(3), -np.eye(3)])})
    assert am.uniformity(spread, "image") < -2


def test_separability_of_mixed_vs_separated():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    mixed = am.Embeddings.from_arrays({"image": x, "text": rng.normal(size=(200, 8))})
    assert am.separability(mixed) < 0.7
    assert am.separability(two_cones(200, 8)) > 0.95


# ----------------------------------------------------------------- similarity + clustering
def test_similarity_symmetric_unit_diagonal_and_blocks(small):
    s = am.similarity(small)
    n = len(small)
    assert s.dtype == np.float32 and s.shape == (2 * n, 2 * n)
    np.testing.assert_array_equal(s, s.T)
    np.testing.assert_array_equal(np.diag(s), 1.0)
    np.testing.assert_allclose(s[:n, n:], small["image"] @ small["text"].T, atol=1e-6)
    assert s.min() >= -1 and s.max() <= 1
    reordered = am.similarity(small, modalities=("text", "image"))
    np.testing.assert_allclose(reordered[:n, :n], s[n:, n:], atol=1e-6)


@pytest.mark.parametrize("method", ["average", "complete", "ward"])
def test_cluster_order_recovers_planted_blobs(method):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32)) * 3
    truth = np.repeat(np.arange(4), 25)
    x = centres[truth] + 0.3 * rng.normal(size=(100, 32))
    perm = rng.permutation(100)
    x, truth = x[perm], truth[perm]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order, labels = am.cluster_order(x @ x.T, method=method, k=4)
    assert sorted(order.tolist()) == list(range(100))
    # Each planted blob is exactly one cluster, and blobs are contiguous in the order.
    for blob in range(4):
        assert len(set(labels[truth == blob])) == 1
    assert len(set(labels)) == 4
    along = labels[order]
    assert np.count_nonzero(np.diff(along)) == 3
    # Labels are numbered in order of appearance along the leaves.
    assert along[0] == 0 and along[-1] == 3


def test_cluster_order_without_k_and_optimal_flag(small):
    s = am.similarity(small)
    a = am.cluster_order(s, optimal=True)
    b = am.cluster_order(s, optimal=False)
    assert sorted(a.tolist()) == sorted(b.tolist()) == list(range(len(s)))

    def neighbour_similarity(order):
        return float(np.mean(s[order[:-1], order[1:]]))

    assert neighbour_similarity(a) >= neighbour_similarity(b) - 1e-9


def test_cluster_order_bad_input():
    with pytest.raises(ValueError, match="square"):
        am.cluster_order(np.ones((3, 4)))
    with pytest.raises(ValueError, match="not symmetric"):
        am.cluster_order(np.array([[1.0, 0.2], [0.9, 1.0]]))
    with pytest.raises(ValueError, match="method='bogus'"):
        am.cluster_order(np.eye(3), method="bogus")
    with pytest.raises(ValueError, match="k=5"):
        am.cluster_order(np.eye(3), k=5)
    bad = np.eye(3)
    bad[0, 1] = bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        am.cluster_order(bad)


# ----------------------------------------------------------------- projections
def test_pca_projection_shape_order_and_determinism(small):
    am.analysis.clear_projection_cache()
    a = am.project(small, "pca", seed=0, cache=False)
    b = am.project(small, "pca", seed=0, cache=False)
    assert a.shape == (200, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    # The first component separates the modalities of CLIP (the gap dominates).
    n = len(small)
    assert abs(a[:n, 0].mean() - a[n:, 0].mean()) > 3 * a[:, 0].std() / 2


def test_pca_fit_on_one_modality_projects_the_other(small):
    xy = am.project(small, "pca", fit_on="image")
    n = len(small)
    # Fitted on images: image coordinates are centred, text is projected out of sample.
    np.testing.assert_allclose(xy[:n].mean(0), 0, atol=1e-5)
    assert np.abs(xy[n:].mean(0)).max() > 1e-3


def test_projection_cache_returns_copies(small):
    first = am.project(small, "pca")
    first[:] = 0
    assert np.abs(am.project(small, "pca")).sum() > 0


def test_projection_bad_arguments(small):
    with pytest.raises(ValueError, match="method='lda'"):
        am.project(small, "lda")
    with pytest.raises(ValueError, match="fit_on='audio'"):
        am.project(small, "pca", fit_on="audio")
    with pytest.raises(ValueError, match="tsne.*fit_on"):
        am.project(small, "tsne", fit_on="image")
    with pytest.raises(ValueError, match="n_components"):
        am.project(small, "pca", n_components=0)


@pytest.mark.slow
def test_umap_deterministic_under_seed_and_out_of_sample(small):
    a = am.project(small, "umap", seed=3, cache=False)
    b = am.project(small, "umap", seed=3, cache=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert a.shape == (200, 2)
    fitted = am.project(small, "umap", fit_on="image", seed=3, cache=False)
    assert np.isfinite(fitted).all()
    sampled = am.project(small, "umap", seed=3, max_fit=120, cache=False)
    assert np.isfinite(sampled).all() and sampled.shape == (200, 2)


@pytest.mark.slow
def test_tsne_deterministic_under_seed(small):
    sub = small.subset(np.arange(40))
    a = am.project(sub, "tsne", seed=1, cache=False)
    b = am.project(sub, "tsne", seed=1, cache=False)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_metrics_agrees_with_the_single_metric_functions(small):
    m = am.metrics(small, temperature=0.05, ks=(1, 3), include_separability=False)
    assert m["info_nce"] == pytest.approx(am.losses.info_nce(small, 0.05), rel=1e-12)
    for src, dst in (("image", "text"), ("text", "image")):
        for k, value in am.recall_at_k(small, (1, 3), src, dst).items():
            assert m[f"recall@{k}:{src}->{dst}"] == pytest.approx(value)
    assert "separability" not in m
    with pytest.raises(ValueError, match="k=0"):
        am.metrics(small, ks=(0,))


# ----------------------------------------------------------------- projections of too few items
@pytest.mark.parametrize(("method", "fit_on", "n"), [("umap", "all", 1), ("umap", "image", 3),
                                                      ("pca", "image", 1)])
def test_projection_of_too_few_items_says_what_is_needed(clip, method, fit_on, n):
    with pytest.raises(ValueError, match=rf"method='{method}' needs at least \d+ items"):
        am.project(clip.subset(range(n)), method=method, fit_on=fit_on)


# ----------------------------------------------------------------- clustering many pairs


def test_kmeans_ordering_properties():
    from amumo.analysis.similarity import cluster_pairs

    emb, truth = blobs()
    seen = []
    order, labels = cluster_pairs(emb, k=3, limit=100, progress=seen.append)
    n = len(emb)
    assert sorted(order.tolist()) == list(range(n))
    # clusters are the blobs, contiguous along the order, numbered by appearance
    assert len({(t, l) for t, l in zip(truth, labels, strict=True)}) == 3
    along = labels[order]
    assert np.all(np.diff(along) >= 0) and along[0] == 0
    # the middle blob (similar to both others) is the middle cluster
    assert truth[order][n // 2] == 1
    # within a cluster: decreasing cosine to the cluster's mean direction
    feats = np.concatenate([emb["image"], emb["text"]], axis=1) / np.sqrt(2)
    for c in range(3):
        members = order[along == c]
        centre = feats[members].mean(axis=0)
        centre /= np.linalg.norm(centre)
        cos = feats[members] @ centre
        assert np.all(np.diff(cos) <= 1e-6)
    assert seen == sorted(seen) and seen[-1] == 1.0
    again = cluster_pairs(emb, k=3, limit=100)
    np.testing.assert_array_equal(again[0], order)  # seeded


def test_cluster_pairs_small_n_is_the_hierarchical_order():
    from amumo.analysis.similarity import cluster_pairs, cosine_matrix

    emb, _ = blobs(n_per=30)
    order, labels = cluster_pairs(emb, k=3, method="ward")
    feats = np.concatenate([emb["image"], emb["text"]], axis=1) / np.float32(np.sqrt(2))
    ref_order, ref_labels = am.cluster_order(cosine_matrix(feats), method="ward", k=3)
    np.testing.assert_array_equal(order, ref_order)
    np.testing.assert_array_equal(labels, ref_labels)
    by_text = cluster_pairs(emb, k=2, by="text", limit=10)
    assert set(by_text[1].tolist()) == {0, 1}
    with pytest.raises(ValueError, match="k="):
        cluster_pairs(emb, k=0)
