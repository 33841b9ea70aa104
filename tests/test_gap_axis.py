"""Gap-axis projection: geometry, fixed frame, the PCA-hides-the-gap default, widgets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

import amumo as am
from amumo.analysis.gap import shift_arrays
from amumo.analysis.gap_axis import gap_axes, gap_projection, pca_gap_share, pca_hides_gap


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def hidden_gap(n=150, d=16, seed=0):
    """Two modalities whose gap is small next to a large shared spread (PCA misses it)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 3)) * [6.0, 5.0, 4.0]
    base = np.zeros((n, d))
    base[:, 1:4] = shared
    base[:, 0] = 10.0
    x = base + rng.normal(size=(n, d)) * 0.3 + 1.5 * np.eye(d)[5]
    y = base + rng.normal(size=(n, d)) * 0.3 - 1.5 * np.eye(d)[5]
    return am.Embeddings.from_arrays({"image": x, "text": y})


def test_axes_orthonormal_and_x_is_the_gap(clip):
    origin, axes = gap_axes(clip, n_components=4)
    assert np.allclose(axes @ axes.T, np.eye(4), atol=1e-10)
    delta = am.gap_vector(clip)
    assert np.allclose(axes[0], delta / np.linalg.norm(delta))
    xy = am.project(clip, "gap")
    n = len(clip)
    assert xy.shape == (2 * n, 2) and xy.dtype == np.float32
    # Centroids at ±‖Δ‖/2 on the x axis, 0 on the y axis.
    assert xy[:n, 0].mean() == pytest.approx(am.gap_distance(clip) / 2, abs=1e-5)
    assert xy[n:, 0].mean() == pytest.approx(-am.gap_distance(clip) / 2, abs=1e-5)
    assert abs(xy[:n, 1].mean() + xy[n:, 1].mean()) < 1e-4


def test_y_is_top_variance_direction_orthogonal_to_gap(clip):
    _, axes = gap_axes(clip, n_components=2)
    rows = np.concatenate([clip["image"], clip["text"]]).astype(np.float64)
    u = axes[0]
    resid = rows - np.outer(rows @ u, u)
    resid -= resid.mean(0)
    top = np.linalg.svd(resid, full_matrices=False)[2][0]
    assert abs(float(top @ axes[1])) == pytest.approx(1.0, abs=1e-6)


def test_rotation_equivariance(clip):
    q = ortho_group.rvs(clip.dim, random_state=0)
    rows = {m: clip[m].astype(np.float64) @ q for m in clip.modalities}
    rotated = am.Embeddings.from_arrays(rows)
    a = am.project(clip, "gap")
    b = am.project(rotated, "gap")
    assert np.allclose(a[:, 0], b[:, 0], atol=1e-4)  # the gap axis has a sign: image at +
    assert np.allclose(np.abs(a[:, 1]), np.abs(b[:, 1]), atol=1e-4)


def test_shift_moves_points_along_x_only_before_renormalising(clip):
    origin, axes = gap_axes(clip)
    x, y = clip["image"].astype(np.float64), clip["text"].astype(np.float64)
    delta = am.gap_vector(clip)
    lam = 0.7
    moved_x = x - lam * delta / 2
    before = (x - origin) @ axes.T
    after = (moved_x - origin) @ axes.T
    assert np.allclose(after[:, 1], before[:, 1], atol=1e-12)
    assert np.allclose(after[:, 0] - before[:, 0], -lam * np.linalg.norm(delta) / 2)
    # After re-normalising (am.shift), y changes only by each point's new norm (a few %).
    new_x, _ = shift_arrays(x, y, lam)
    renorm = (new_x - origin) @ axes.T
    assert np.mean(np.abs(renorm[:, 1] - before[:, 1])) < 0.1 * np.mean(
        np.abs(renorm[:, 0] - before[:, 0])
    )


def test_reference_frame(clip):
    closed = am.close_gap(clip)
    fixed = gap_projection(closed, reference=clip)
    n = len(clip)
    assert abs(fixed[:n, 0].mean() - fixed[n:, 0].mean()) < 2e-3  # the gap is gone along x
    reused = gap_projection(closed, frame=gap_axes(clip))  # a fitted frame, reused
    assert np.array_equal(reused, fixed)
    with pytest.raises(ValueError, match="frame"):
        gap_projection(closed, frame=(np.zeros(3), np.eye(3)))
    with pytest.raises(ValueError, match="no gap axis"):
        x = np.random.default_rng(0).normal(size=(5, 4))
        gap_projection(am.Embeddings.from_arrays({"image": x, "text": x}))


def test_pca_hides_gap_criterion(clip):
    assert pca_gap_share(clip) == pytest.approx(1.0, abs=1e-3)
    assert not pca_hides_gap(clip)
    hidden = hidden_gap()
    assert pca_gap_share(hidden) < 0.1
    assert pca_hides_gap(hidden)
    # In the gap projection the modalities separate along x.
    xy = am.project(hidden, "gap")
    n = len(hidden)
    assert xy[:n, 0].min() > xy[n:, 0].max()


def test_project_gap_options(clip):
    assert "gap" in am.PROJECTION_METHODS
    three = am.project(clip, "gap", n_components=3)
    assert three.shape == (1000, 3)
    text_only = am.project(clip, "gap", modalities=["text"])
    with pytest.raises(ValueError, match="fit_on must be 'all'"):
        am.project(clip, "gap", fit_on="image")
    # x is the same gap axis; y is fitted on the included (text) rows only
    assert np.allclose(text_only[:, 0], am.project(clip, "gap")[500:, 0], atol=1e-6)


# ---------------------------------------------------------------- widgets
def _xy(widget):
    return np.frombuffer(widget.xy, dtype=np.float32).reshape(-1, 2)


def test_scatter_defaults_to_gap_axis_where_pca_hides_it(clip):
    assert am.Scatter(clip).projection == "pca"
    w = am.Scatter(hidden_gap())
    assert w.projection == "gap"
    assert w.axis_labels == ["gap axis Δ/‖Δ‖", "PC 1 ⊥ Δ"]
    assert am.Scatter(hidden_gap(), projection="pca").projection == "pca"  # explicit wins
    assert am.Explorer(hidden_gap()).projection == "gap"


def test_explorer_closing_moves_points_along_x(clip):
    ex = am.Explorer(clip, projection="gap")
    before = _xy(ex).copy()
    n = len(clip)
    assert before[:n, 0].mean() == pytest.approx(am.gap_distance(clip) / 2, abs=1e-4)
    ex.closed = True
    after = _xy(ex)
    dx = np.abs(after[:, 0] - before[:, 0]).mean()
    dy = np.abs(after[:, 1] - before[:, 1]).mean()
    assert dx > 0.4 and dy < 0.06 * dx
    assert abs(after[:n, 0].mean() - after[n:, 0].mean()) < 2e-3
    ex.projection = "pca"
    assert ex.axis_labels == ["PC 1", "PC 2"]


def test_large_n_fits_the_cross_directions_on_a_sample(monkeypatch, clip):
    from amumo.analysis import gap_axis

    exact_origin, exact_axes = gap_axes(clip, n_components=3)
    monkeypatch.setattr(gap_axis, "FIT_MAX_PAIRS", 250)
    origin, axes = gap_axes(clip, n_components=3)
    assert np.array_equal(origin, exact_origin) and np.array_equal(axes[0], exact_axes[0])
    assert np.allclose(axes @ axes.T, np.eye(3), atol=1e-10)
    assert abs(float(axes[1] @ exact_axes[1])) > 0.9  # the same main direction, from half
