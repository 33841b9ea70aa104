"""am.mitigate: shift / center / standardize, before / after report, invariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

import amumo as am


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def _three(n=80, d=10, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, d))
    return am.Embeddings.from_arrays({
        "image": base + 2 * np.eye(d)[0],
        "text": base + rng.normal(size=(n, d)) + 2 * np.eye(d)[1],
        "audio": base + rng.normal(size=(n, d)) + 2 * np.eye(d)[2],
    })


def _largest_gap(emb):
    return max(
        am.gap_distance(emb, p, q)
        for i, p in enumerate(emb.modalities)
        for q in emb.modalities[i + 1:]
    )


def test_center_closes_the_gap(clip):
    centred = am.mitigate(clip, "center")
    info = centred.provenance["mitigation"]
    assert info["method"] == "center" and info["strength"] == 1.0
    assert info["before"]["gap_distance"] == pytest.approx(am.gap_distance(clip))
    assert info["after"]["gap_distance"] == pytest.approx(am.gap_distance(centred))
    assert am.gap_distance(centred) < 0.03  # 0.851 before; only re-normalisation is left
    assert info["after"]["rmg"] < info["before"]["rmg"]
    for m in clip.modalities:
        assert np.allclose(np.linalg.norm(centred[m], axis=1), 1, atol=1e-6)


def test_center_equals_explicit_formula(clip):
    x = clip["image"].astype(np.float64)
    expected = x - 0.5 * x.mean(0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(am.mitigate(clip, "center", 0.5)["image"], expected, atol=1e-6)


def test_standardize_equals_explicit_formula(clip):
    y = clip["text"].astype(np.float64)
    expected = (y - y.mean(0)) / y.std(0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    result = am.mitigate(clip, "standardize")
    assert np.allclose(result["text"], expected, atol=1e-6)
    assert am.gap_distance(result) < 0.03


def test_shift_reuses_am_shift(clip):
    for lam in (0.3, 1.0, -0.5):
        expected = am.shift(clip, lam)["image"]
        assert np.array_equal(am.mitigate(clip, "shift", lam)["image"], expected)
    closed = am.mitigate(clip, "shift", 1.0)
    assert closed.provenance["mitigation"]["after"]["gap_distance"] < 0.01


@pytest.mark.parametrize("method", ["center", "standardize", "shift"])
def test_strength_zero_is_identity(clip, method):
    result = am.mitigate(clip, method, 0.0)
    for m in clip.modalities:
        assert np.allclose(result[m], clip[m], atol=1e-6)
    assert result is not clip  # provenance of the input is not touched
    assert "mitigation" not in clip.provenance


@pytest.mark.parametrize("method", ["center", "standardize", "shift"])
def test_strength_monotone(clip, method):
    gaps = [am.gap_distance(am.mitigate(clip, method, s, report=False)) for s in (0, 0.5, 1)]
    assert gaps[0] > gaps[1] > gaps[2]


def test_center_and_shift_commute_with_rotation(clip):
    q = ortho_group.rvs(clip.dim, random_state=0)
    rows = {m: clip[m].astype(np.float64) @ q for m in clip.modalities}
    rotated = am.Embeddings.from_arrays(rows)
    for method in ("center", "shift"):
        a = am.mitigate(clip, method, report=False)["text"].astype(np.float64) @ q
        b = am.mitigate(rotated, method, report=False)["text"]
        assert np.allclose(a, b, atol=2e-5)


def test_standardize_commutes_with_coordinate_permutation(clip):
    perm = np.random.default_rng(0).permutation(clip.dim)
    permuted = am.Embeddings.from_arrays({m: clip[m][:, perm] for m in clip.modalities})
    a = am.mitigate(clip, "standardize", report=False)["image"][:, perm]
    b = am.mitigate(permuted, "standardize", report=False)["image"]
    assert np.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("method", ["center", "standardize", "shift"])
def test_pair_permutation_equivariance(clip, method):
    perm = np.random.default_rng(1).permutation(len(clip))
    a = am.mitigate(clip, method, 0.7, report=False)["image"][perm]
    b = am.mitigate(clip.subset(perm), method, 0.7, report=False)["image"]
    assert np.allclose(a, b, atol=1e-6)


def test_more_than_two_modalities():
    emb = _three()
    before = _largest_gap(emb)
    for method in ("center", "standardize", "shift"):
        result = am.mitigate(emb, method, report=False)
        assert _largest_gap(result) < 0.25 * before, method
        for m in emb.modalities:
            assert not np.allclose(result[m], emb[m])  # every modality is mapped
    # shift with lam = 1 moves every centroid onto the common mean (before re-normalising).
    rows = {m: emb[m].astype(np.float64) for m in emb.modalities}
    common = np.mean([r.mean(0) for r in rows.values()], axis=0)
    expected = rows["audio"] + (common - rows["audio"].mean(0))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(am.mitigate(emb, "shift", report=False)["audio"], expected, atol=1e-6)
    # with a and b given, shift moves only that pair
    pair = am.mitigate(emb, "shift", 1.0, "image", "audio", report=False)
    assert np.array_equal(pair["text"], emb["text"])
    assert am.gap_distance(pair, "image", "audio") < 0.2 * am.gap_distance(emb, "image", "audio")


def test_report_table(clip):
    result = am.mitigate(clip, "standardize")
    table = am.gap_report(result)
    assert list(table.columns) == ["before", "after"]
    assert table.loc["rmg", "before"] == pytest.approx(0.5915, abs=5e-5)
    assert table.loc["recall@1:image->text", "before"] == pytest.approx(0.552)
    many = am.gap_report({"CLIP": clip, "center": am.mitigate(clip, "center")}, recall=False)
    assert list(many.columns) == ["CLIP", "center"]
    assert "recall@1:image->text" not in many.index
    assert many.loc["gap_distance", "CLIP"] == pytest.approx(0.8514, abs=5e-5)


def test_history_accumulates(clip):
    twice = am.mitigate(am.mitigate(clip, "center", report=False), "shift", 0.5, report=False)
    assert [h["method"] for h in twice.provenance["mitigations"]] == ["center", "shift"]


def test_errors(clip):
    with pytest.raises(ValueError, match="method='magic'"):
        am.mitigate(clip, "magic")
    with pytest.raises(ValueError, match=r"strength=1.5 must lie in \[0, 1\]"):
        am.mitigate(clip, "center", 1.5)
    with pytest.raises(ValueError, match="strength"):
        am.mitigate(clip, "shift", float("nan"))
    with pytest.raises(TypeError, match="Embeddings"):
        am.mitigate(clip["image"], "center")
    with pytest.raises(TypeError):
        am.gap_report({})
