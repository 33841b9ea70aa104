"""Projections of many points (amumo.analysis._projection_scale, projection): randomized
PCA equal to exact PCA, cancelling, t-SNE / UMAP fitted on a sample with the rest placed
out of sample, and UMAP's progress by epoch with a stop between epochs."""

from __future__ import annotations

import numpy as np
import pytest
from _pairs import blobs

import amumo as am


def _spectral(n=3000, d=24, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.r_[6.0, 3.0, np.full(d - 2, 0.5)]
    x = rng.normal(size=(n, d)) * scales + 2.0
    y = rng.normal(size=(n, d)) * scales + 2.0
    y[:, 3] += 1.0
    return am.Embeddings.from_arrays({"image": x, "text": y})


def test_randomized_pca_matches_exact_pca(monkeypatch):
    from sklearn.decomposition import PCA

    import amumo.analysis.projection as projection

    emb = _spectral()
    monkeypatch.setattr(projection, "PCA_EXACT_LIMIT", 100)
    seen = []
    got = am.project(emb, "pca", cache=False, progress=seen.append)
    rows = np.concatenate([emb["image"], emb["text"]]).astype(np.float64)
    ref = PCA(2, svd_solver="full").fit_transform(rows)
    for j in range(2):
        assert abs(np.corrcoef(got[:, j], ref[:, j])[0, 1]) > 0.9999
    assert got.dtype == np.float32 and got.shape == (6000, 2)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    again = am.project(emb, "pca", cache=False)
    np.testing.assert_array_equal(got, again)  # deterministic (sign-normalised)
    text_fit = am.project(emb, "pca", fit_on="text", cache=False)
    ref_text = PCA(2, svd_solver="full").fit(rows[3000:]).transform(rows)
    assert abs(np.corrcoef(text_fit[:, 0], ref_text[:, 0])[0, 1]) > 0.9999
    with pytest.raises(TypeError, match="n_iter"):
        am.project(emb, "pca", cache=False, svd_solver="full")


def test_projection_can_be_cancelled(monkeypatch):
    import amumo.analysis.projection as projection
    from amumo.analysis.retrieval import Cancelled

    monkeypatch.setattr(projection, "PCA_EXACT_LIMIT", 100)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        am.project(_spectral(), "pca", cache=False, should_stop=stop)


def test_tsne_on_a_sample_places_the_rest_in_their_cluster():
    emb, truth = blobs(n_per=100, seed=1)
    xy = am.project(emb, "tsne", max_fit=250, cache=False, seed=0)
    assert xy.shape == (600, 2) and np.isfinite(xy).all()
    labels = np.concatenate([truth, truth])  # image rows, then text rows
    rng = np.random.default_rng(0)
    fitted = np.sort(rng.choice(600, size=250, replace=False))  # the documented seeded sample
    placed = np.setdiff1d(np.arange(600), fitted)
    # every placed row lands among fitted rows of its own blob
    dist = np.linalg.norm(xy[placed][:, None, :] - xy[fitted][None, :, :], axis=2)
    nearest = fitted[np.argmin(dist, axis=1)]
    assert np.mean(labels[nearest] == labels[placed]) > 0.95


def test_umap_places_many_rows_by_neighbours_and_few_by_its_transform(monkeypatch):
    """UMAP's own transform optimises every placed row (~20 min for 100k pairs on this
    machine); above UMAP_TRANSFORM_LIMIT rows to place, "auto" places them like t-SNE's."""
    import amumo.analysis.projection as projection

    emb, truth = blobs(n_per=100, seed=2)
    calls = []
    real = projection.knn_place
    monkeypatch.setattr(projection, "knn_place",
                        lambda *a, **k: calls.append("knn") or real(*a, **k))
    monkeypatch.setattr(projection, "UMAP_TRANSFORM_LIMIT", 100)
    xy = am.project(emb, "umap", max_fit=250, cache=False, seed=0, n_epochs=50)
    assert calls == ["knn"] and xy.shape == (600, 2) and np.isfinite(xy).all()
    labels = np.concatenate([truth, truth])
    fitted = np.sort(np.random.default_rng(0).choice(600, size=250, replace=False))
    placed = np.setdiff1d(np.arange(600), fitted)
    dist = np.linalg.norm(xy[placed][:, None, :] - xy[fitted][None, :, :], axis=2)
    assert np.mean(labels[fitted[np.argmin(dist, axis=1)]] == labels[placed]) > 0.95
    forced = am.project(emb, "umap", max_fit=250, cache=False, seed=0, n_epochs=50,
                        placement="transform")
    assert calls == ["knn"]  # UMAP's transform placed them
    np.testing.assert_array_equal(forced[fitted], xy[fitted])  # same fit either way
    with pytest.raises(ValueError, match="placement="):
        am.project(emb, "umap", placement="nearest")
    with pytest.raises(ValueError, match="no out-of-sample transform"):
        am.project(emb, "tsne", placement="transform")


def test_umap_reports_its_epochs_and_stops_between_them():
    """Issue 21 item 9: UMAP at 200k pairs ran 47 s with only "computing UMAP…". The fit
    now says which epoch it is in (``describe``), its fraction advances with the epochs,
    and ``should_stop`` ends it before the next epoch; the coordinates are those of a
    run without hooks."""
    from amumo.analysis._progress import Cancelled

    emb, _ = blobs(n_per=60, seed=4)
    notes, fractions = [], []
    xy = am.project(emb, "umap", max_fit=150, cache=False, seed=0, n_epochs=40,
                    describe=notes.append, progress=fractions.append)
    epochs = [n for n in notes if "epoch" in n]
    assert epochs[0] == "UMAP epoch 0 of 40 (150 points)"
    assert epochs[-1] == "UMAP epoch 40 of 40 (150 points)" and len(epochs) == 9
    assert notes[0].startswith("UMAP: neighbour graph") and "placing the other" in notes[-1]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert 0.05 < fractions[len(fractions) // 2] < 0.5  # epochs fill the fit's half
    np.testing.assert_array_equal(
        xy, am.project(emb, "umap", max_fit=150, cache=False, seed=0, n_epochs=40))
    seen = []
    with pytest.raises(Cancelled):
        am.project(emb, "umap", max_fit=150, cache=False, seed=0, n_epochs=40,
                   describe=seen.append, should_stop=lambda: any("epoch 10 " in n for n in seen))
    assert seen[-1] == "UMAP epoch 10 of 40 (150 points)"  # no epoch after the stop
