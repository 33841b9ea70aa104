"""PCA in a fixed frame: a shifted view is placed in the axes fitted before the shift."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.analysis import projection as projection_module


def _gap_pairs(n: int, d: int = 16, seed: int = 0) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d)) * np.linspace(2.0, 0.2, d)  # distinct variances
    offset = np.zeros(d)
    offset[0] = 3.0
    return am.Embeddings.from_arrays({
        "image": shared + 0.5 * rng.normal(size=(n, d)) + offset,
        "text": shared + 0.5 * rng.normal(size=(n, d)) - offset,
    })


def _sklearn_frame(reference: am.Embeddings, emb: am.Embeddings, k: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    fit = np.vstack([reference["image"], reference["text"]]).astype(np.float64)
    rows = np.vstack([emb["image"], emb["text"]]).astype(np.float64)
    return PCA(n_components=k, svd_solver="full", random_state=0).fit(fit).transform(rows)


def _equal_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    for j in range(a.shape[1]):
        err = min(np.abs(a[:, j] - b[:, j]).max(), np.abs(a[:, j] + b[:, j]).max())
        assert err < atol, f"component {j}: max error {err}"


def test_shifted_view_is_placed_in_the_reference_frame():
    base = _gap_pairs(200)
    closed = am.close_gap(base)
    xy = am.project(closed, "pca", n_components=3, reference=base, cache=False)
    _equal_up_to_sign(xy, _sklearn_frame(base, closed, 3), atol=1e-4)
    # ... which is not the frame a refit on the closed pairs gives
    refit = am.project(closed, "pca", n_components=3)
    assert not np.allclose(np.abs(xy), np.abs(refit), atol=1e-2)
    # the reference placed in its own frame is the plain projection
    np.testing.assert_allclose(am.project(base, "pca", n_components=3, reference=base),
                               am.project(base, "pca", n_components=3), atol=1e-5)


def test_reference_frame_of_the_randomized_pca_is_fitted_once():
    base = _gap_pairs(6000, d=24, seed=1)  # 12,000 rows: above the exact limit
    assert 2 * len(base) > projection_module.PCA_EXACT_LIMIT
    projection_module.clear_projection_cache()
    shifted = am.shift(base, 0.5)
    xy = am.project(shifted, "pca", n_components=2, reference=base, cache=False)
    assert len(projection_module._FRAMES) == 1
    again = am.project(am.shift(base, 0.7), "pca", n_components=2, reference=base, cache=False)
    assert len(projection_module._FRAMES) == 1 and not np.allclose(xy, again)
    # One affine frame: the map fitted from the base rows to their coordinates places
    # the shifted rows exactly where project() put them.
    base_xy = am.project(base, "pca", n_components=2)
    rows = np.vstack([base["image"], base["text"]]).astype(np.float64)
    design = np.hstack([rows, np.ones((len(rows), 1))])
    frame, *_ = np.linalg.lstsq(design, base_xy.astype(np.float64), rcond=None)
    moved = np.vstack([shifted["image"], shifted["text"]]).astype(np.float64)
    predicted = np.hstack([moved, np.ones((len(moved), 1))]) @ frame
    np.testing.assert_allclose(xy, predicted, atol=1e-4)


def test_reference_must_match():
    base = _gap_pairs(50)
    other = am.Embeddings.from_arrays({"image": np.eye(50, 8) + 0.1, "text": np.eye(50, 8) - 0.1})
    with pytest.raises(ValueError, match="reference has modalities"):
        am.project(base, "pca", reference=other)
    with pytest.raises(TypeError, match="reference is a"):
        am.project(base, "pca", reference=np.zeros((50, 16)))
    with pytest.raises(ValueError, match="reference= fits the frame"):
        am.project(base, "umap", reference=base)


def test_explorer_closes_the_gap_within_one_pca_frame():
    base = _gap_pairs(150, seed=3)
    ex = am.Explorer(base, projection="pca")
    ex.wait()
    before = ex._coords.copy()
    ex.closed = True
    ex.wait()
    after = ex._coords
    expected = am.project(ex.embeddings, "pca", n_components=after.shape[1], reference=base,
                          cache=False)
    _equal_up_to_sign(after, expected, atol=1e-4)
    n = len(base)
    centre_gap = lambda xy: np.linalg.norm(xy[:n, :2].mean(0) - xy[n:, :2].mean(0))  # noqa: E731
    assert centre_gap(after) < 0.05 * centre_gap(before)
    # the axes kept their orientation: the within-modality spread still correlates
    for j in range(2):
        assert np.corrcoef(before[:n, j], after[:n, j])[0, 1] > 0
    ex.closed = False
    ex.wait()
    np.testing.assert_allclose(ex._coords, before, atol=1e-5)


def test_the_frame_of_a_plain_projection_is_reused_by_shifted_views(monkeypatch):
    """The Explorer projects the pairs at build, then a close-gap click places the closed
    rows in that frame: the second call must not fit PCA again (14 s at 1M pairs)."""
    base = _gap_pairs(6000, d=24, seed=2)
    projection_module.clear_projection_cache()
    fits = []
    real = projection_module._pca_frame
    monkeypatch.setattr(projection_module, "_pca_frame",
                        lambda *a, **k: fits.append(1) or real(*a, **k))
    plain = am.project(base, "pca", n_components=2)
    assert len(fits) == 1
    closed = am.close_gap(base)
    xy = am.project(closed, "pca", n_components=2, reference=base, cache=False)
    assert len(fits) == 1  # placed in the kept frame
    assert not np.allclose(xy, plain, atol=1e-3)
    # cache=False without a reference neither reads nor fills the frame store
    am.project(base, "pca", n_components=2, cache=False, seed=5)
    assert len(fits) == 2 and len(projection_module._FRAMES) == 1


def test_randomized_pca_split_between_threads_matches_one_thread(monkeypatch):
    """From PARALLEL_ROWS rows each pass is split into PARTS ranges run in threads; the
    coordinates must be those of one thread (the split never depends on timing)."""
    import threading

    import amumo.analysis._projection_scale as scale_module

    base = _gap_pairs(6000, d=24, seed=4)
    projection_module.clear_projection_cache()
    one = am.project(base, "pca", n_components=2, cache=False)
    names = []
    real = scale_module.RowStack.blocks

    def blocks(self, *args, **kwargs):
        names.append(threading.current_thread().name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(scale_module.RowStack, "blocks", blocks)
    monkeypatch.setattr(scale_module, "PARALLEL_ROWS", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    split = am.project(base, "pca", n_components=2, cache=False)
    assert any(name.startswith("amumo-pca") for name in names)
    np.testing.assert_allclose(split, one, atol=1e-6)
    assert split.shape == (12_000, 2) and split.dtype == np.float32


def test_project_owns_the_pca_solver_choice(monkeypatch):
    base = _gap_pairs(300)
    projection_module.clear_projection_cache()
    auto = am.project(base, "pca", n_components=3, cache=False)  # solver="auto": exact here
    _equal_up_to_sign(auto, _sklearn_frame(base, base, 3), atol=1e-5)
    exact = am.project(base, "pca", n_components=3, cache=False, solver="exact")
    _equal_up_to_sign(exact, auto, atol=1e-5)
    randomized = am.project(base, "pca", n_components=3, cache=False, solver="randomized",
                            n_iter=12)
    _equal_up_to_sign(randomized, auto, atol=1e-3)
    # above the limit "auto" is randomized (n_iter accepted), "exact" stays exact
    monkeypatch.setattr(projection_module, "PCA_EXACT_LIMIT", 100)
    forced = am.project(base, "pca", n_components=3, cache=False, solver="exact",
                        svd_solver="full")
    _equal_up_to_sign(forced, auto, atol=1e-5)
    with pytest.raises(TypeError, match="n_iter"):
        am.project(base, "pca", cache=False, svd_solver="full")
    with pytest.raises(ValueError, match="solver='fast' is unknown"):
        am.project(base, "pca", solver="fast")
    with pytest.raises(ValueError, match="method='umap' has none"):
        am.project(base, "umap", solver="exact")


def test_scatter_draws_what_project_auto_gives(monkeypatch):
    """The view asks project(solver='auto') and does not pick a solver itself."""
    base = _gap_pairs(120)
    projection_module.clear_projection_cache()
    calls = []
    original = projection_module.project

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    from amumo.widgets import scatter as scatter_module

    monkeypatch.setattr(scatter_module, "project", spy)
    w = am.Scatter(base)
    xy = np.frombuffer(w.xy, dtype="<f4").reshape(-1, 2)
    assert calls and all(c.get("solver") == "auto" and "svd_solver" not in c for c in calls)
    _equal_up_to_sign(xy, am.project(base, "pca", n_components=2), atol=1e-5)
