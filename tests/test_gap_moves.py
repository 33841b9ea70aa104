"""Moving modalities along the gap (amumo.analysis.gap): ``am.shift`` and ``am.close_gap``.

Unit rows after every move, the gap shrinking with λ, the inputs left alone, M-way closing,
limits (huge λ, antipodal pairs) and the threaded path giving the sequential rows.
"""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.analysis.losses import loss_landscape


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


@pytest.fixture(scope="module")
def small(clip):
    return clip.subset(range(6))


def _random3(seed: int = 0, n: int = 50, d: int = 16) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    return am.Embeddings.from_arrays({
        "image": rng.normal(size=(n, d)) + 2.0 * np.eye(d)[0],
        "text": rng.normal(size=(n, d)) - 2.0 * np.eye(d)[0],
        "audio": rng.normal(size=(n, d)) + 3.0 * np.eye(d)[1],
    })


# ----------------------------------------------------------------- shift
def test_shift_zero_is_identity(clip):
    assert am.shift(clip, 0.0) is clip


def test_shift_keeps_unit_rows_and_reduces_gap(clip):
    gaps = [am.gap_distance(am.shift(clip, lam)) for lam in (-0.5, 0.0, 0.5, 1.0)]
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3]
    assert gaps[3] < 0.01
    shifted = am.shift(clip, 0.7)
    for m in shifted.modalities:
        np.testing.assert_allclose(np.linalg.norm(shifted[m], axis=1), 1, atol=1e-6)


def test_shift_does_not_mutate_and_moves_along_gap(clip):
    before = clip["image"].copy()
    shifted = am.shift(clip, 0.5)
    np.testing.assert_array_equal(clip["image"], before)
    delta = am.gap_vector(clip)
    moved = shifted["image"].astype(np.float64) - clip["image"]
    # Image rows move against the gap direction.
    assert np.mean(moved @ delta) < 0
    assert shifted.provenance["gap_shifts"][-1]["lam"] == 0.5


def test_shift_leaves_third_modality_alone():
    rng = np.random.default_rng(0)
    arrays = {m: rng.normal(size=(10, 5)) + i for i, m in enumerate(("image", "text", "audio"))}
    e = am.Embeddings.from_arrays(arrays)
    shifted = am.shift(e, 1.0, "image", "text")
    np.testing.assert_array_equal(shifted["audio"], e["audio"])


def test_shift_bad_arguments(clip):
    with pytest.raises(ValueError, match="lam"):
        am.shift(clip, float("nan"))
    with pytest.raises(ValueError, match="a='audio'"):
        am.shift(clip, 0.5, a="audio")
    with pytest.raises(ValueError, match="different"):
        am.shift(clip, 0.5, "image", "image")
    with pytest.raises(TypeError, match="amumo.Embeddings"):
        am.shift(np.ones((3, 3)), 0.5)


def test_huge_lambda_gives_the_limit_direction_not_nan(small):
    gap = am.gap_vector(small)
    for lam, sign in ((1e300, 1.0), (-1e300, -1.0), (1.7e308, 1.0)):
        shifted = am.shift(small, lam)
        assert np.isfinite(shifted["image"]).all() and np.isfinite(shifted["text"]).all()
        # x − λΔ/2 → −Δ/|Δ| and y + λΔ/2 → +Δ/|Δ|: every row at the limit
        unit = (gap / np.linalg.norm(gap)).astype(np.float32)
        np.testing.assert_allclose(shifted["image"], -sign * unit[None].repeat(6, 0), atol=1e-6)
        np.testing.assert_allclose(shifted["text"], sign * unit[None].repeat(6, 0), atol=1e-6)
    # moderate λ unchanged by the rescaling (same direction as the textbook formula)
    x = small["image"].astype(np.float64)
    expected = x - 2.5 / 2 * gap
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(am.shift(small, 2.5)["image"], expected, atol=1e-6)
    grid = loss_landscape(small, [1e300, 0.0, -1e300], temperatures=[0.01, 1.0])
    assert np.isfinite(grid).all()


# ----------------------------------------------------------------- close_gap
def test_close_gap_reaches_tolerance_with_unit_rows(clip):
    closed = am.close_gap(clip, tol=1e-4)
    assert am.gap_distance(closed) < 1e-4
    for m in closed.modalities:
        np.testing.assert_allclose(np.linalg.norm(closed[m], axis=1), 1, atol=1e-6)
    info = closed.provenance["close_gap"]
    assert info["iterations"] >= 1 and info["gap_before"] == pytest.approx(0.8514, abs=1e-3)


def test_close_gap_max_iter_error(clip):
    with pytest.raises(RuntimeError, match="max_iter"):
        am.close_gap(clip, tol=1e-9, max_iter=1)


def test_close_gap_of_an_antipodal_single_pair_raises(small):
    x = np.zeros((1, 4))
    x[0, 0] = 1.0
    emb = am.Embeddings.from_arrays({"image": x, "text": -x})
    with pytest.raises(ValueError, match="onto the origin.*antipodal"):
        am.close_gap(emb)
    with pytest.raises(ValueError, match="lam=1 moves 1 row"):
        am.shift(emb, 1.0)
    # a single ordinary pair closes in one step
    one = am.close_gap(small.subset([0]))
    assert am.gap_distance(one) < 1e-3


def test_close_gap_all_modalities_to_common_mean():
    emb = _random3()
    before = am.gap_matrix(emb).to_numpy()
    assert before[before > 0].min() > 0.5
    closed = am.close_gap(emb, tol=1e-4)
    after = am.gap_matrix(closed).to_numpy()
    assert after.max() < 1e-4
    for m in closed.modalities:
        np.testing.assert_allclose(np.linalg.norm(closed[m], axis=1), 1.0, atol=1e-6)
    info = closed.provenance["close_gap"]
    assert info["modalities"] == ["image", "text", "audio"]
    assert info["gap_before"] == pytest.approx(before.max())
    assert info["gap_after"] < 1e-4 and info["iterations"] >= 1


def test_close_gap_pair_leaves_others_and_matches_two_modality_shift():
    emb = _random3(1)
    closed = am.close_gap(emb, "image", "audio")
    assert am.gap_distance(closed, "image", "audio") < 1e-3
    np.testing.assert_array_equal(closed["text"], emb["text"])
    sub = am.close_gap(emb, modalities=["text", "audio"])
    np.testing.assert_array_equal(sub["image"], emb["image"])
    # Two modalities: one step is am.shift with lam=1 (Liang et al.).
    clip = am.datasets.clip_coco500()
    one = am.close_gap(clip, max_iter=1, tol=1.0)
    np.testing.assert_allclose(one["image"], am.shift(clip, 1.0)["image"], atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        am.close_gap(emb, "image", modalities=["image", "text"])
    with pytest.raises(ValueError, match="two different"):
        am.close_gap(emb, modalities=["image", "image"])


# ----------------------------------------------------------------- threads
@pytest.mark.parametrize("modalities", [2, 3])
def test_moving_modalities_in_parallel_threads_gives_the_same_rows(monkeypatch, modalities):
    """Above PARALLEL_ROWS pairs close_gap / shift move each modality in its own thread;
    the result must be the sequential one, bit for bit."""
    import threading

    import amumo.analysis.gap as gap_module

    rng = np.random.default_rng(3)
    names = ["image", "text", "audio"][:modalities]
    emb = am.Embeddings.from_arrays(
        {m: rng.normal(size=(700, 16)) + 3.0 * (k == 0) for k, m in enumerate(names)}
    )
    sequential = am.close_gap(emb), am.shift(emb, 0.6)
    calls = []
    real = gap_module._moved
    monkeypatch.setattr(gap_module, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(gap_module, "_moved", lambda *a, **k: calls.append(
        threading.current_thread().name) or real(*a, **k))
    parallel = am.close_gap(emb), am.shift(emb, 0.6)
    assert any(name.startswith("amumo-gap") for name in calls)  # the threaded path ran
    for seq, par in zip(sequential, parallel, strict=True):
        for m in names:
            np.testing.assert_array_equal(seq[m], par[m])
    assert sequential[0].provenance["close_gap"] == parallel[0].provenance["close_gap"]
