"""Gap measures of current research: reference values, brute force, invariances, limits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg
from scipy.stats import ortho_group

import amumo as am
from amumo.analysis.gap_measures import rmg_from_means


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


@pytest.fixture(scope="module")
def random_init():
    return am.datasets.clip_coco500(random_init=True)


def _emb(x, y, **extra):
    return am.Embeddings.from_arrays({"image": x, "text": y, **extra})


def _toy(n=60, d=12, seed=0, offset=1.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + offset * np.eye(d)[0]
    y = x + rng.normal(size=(n, d)) * 0.8 - offset * np.eye(d)[1]
    return _emb(x, y)


def _rotate(emb, seed=1):
    q = ortho_group.rvs(emb.dim, random_state=seed)
    return am.Embeddings.from_arrays({m: emb[m].astype(np.float64) @ q for m in emb.modalities})


# ---------------------------------------------------------------- reference values (issue 13)
def test_reference_values_clip(clip):
    assert am.rmg(clip) == pytest.approx(0.5915, abs=5e-5)
    assert am.l2i(clip) == pytest.approx(1.1745, abs=5e-5)
    assert am.centroid_cosine(clip) == pytest.approx(0.3088, abs=5e-5)
    assert am.frechet_distance(clip) == pytest.approx(1.1052, abs=5e-5)
    top = am.gap_dimensions(clip).head(2)
    assert top["dim"].tolist() == [442, 362]
    assert top["cumulative"].iloc[-1] == pytest.approx(0.686, abs=5e-4)


def test_reference_values_random_init(random_init):
    assert am.rmg(random_init) == pytest.approx(0.7478, abs=5e-5)
    assert am.l2i(random_init) == pytest.approx(1.3938, abs=5e-5)


# ---------------------------------------------------------------- brute force
def test_rmg_brute_force():
    emb = _toy()
    x, y = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    n = len(x)
    d = lambda c: (1 - c) / 2  # noqa: E731
    off = ~np.eye(n, dtype=bool)
    m = max(1e-3, d(np.mean(np.diag(x @ y.T))))
    da, db = d((x @ x.T)[off].mean()), d((y @ y.T)[off].mean())
    assert am.rmg(emb) == pytest.approx(m / (m + (da + db) / 2), rel=1e-10)
    distances = [np.linalg.norm(p - q) for p, q in zip(x, y, strict=True)]
    assert am.l2i(emb) == pytest.approx(np.mean(distances))
    cx, cy = x.mean(0), y.mean(0)
    expected = cx @ cy / np.linalg.norm(cx) / np.linalg.norm(cy)
    assert am.centroid_cosine(emb) == pytest.approx(expected)


def test_frechet_matches_scipy_sqrtm():
    emb = _toy(n=80, d=6)
    x, y = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    sa, sb = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    cross = linalg.sqrtm(sa @ sb).real
    diff = x.mean(0) - y.mean(0)
    expected = diff @ diff + np.trace(sa) + np.trace(sb) - 2 * np.trace(cross)
    assert am.frechet_distance(emb) == pytest.approx(expected, rel=1e-8)
    assert am.frechet_distance(emb, squared=False) == pytest.approx(np.sqrt(expected), rel=1e-8)


def test_frechet_gaussians_closed_form():
    # Diagonal covariances: W2^2 = |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2.
    rng = np.random.default_rng(3)
    n, d = 4000, 4
    x = rng.normal(size=(n, d)) * [1.0, 2.0, 0.5, 1.0] + 10.0 * np.eye(d)[0]
    y = rng.normal(size=(n, d)) * [0.5, 1.0, 1.5, 1.0] + 10.0 * np.eye(d)[1]
    emb = _emb(x, y)
    xs, ys = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    # Compare with the closed form of the fitted (not the generating) Gaussians' eigen-form.
    sa, sb = np.cov(xs, rowvar=False), np.cov(ys, rowvar=False)
    ra = linalg.sqrtm(sa).real
    cross = np.trace(linalg.sqrtm(ra @ sb @ ra).real)
    diff = xs.mean(0) - ys.mean(0)
    assert am.frechet_distance(emb) == pytest.approx(
        diff @ diff + np.trace(sa) + np.trace(sb) - 2 * cross, rel=1e-8
    )


def test_rmg_from_means_matches(clip):
    x, y = clip["image"].astype(np.float64), clip["text"].astype(np.float64)
    n = len(x)
    paired = float(np.mean(np.sum(x * y, axis=1)))
    within = [(z.sum(0) @ z.sum(0) - n) / (n * (n - 1)) for z in (x, y)]
    assert rmg_from_means(paired, *within) == pytest.approx(am.rmg(clip), rel=1e-6)


# ---------------------------------------------------------------- invariances
@pytest.mark.parametrize("measure", ["rmg", "l2i", "centroid_cosine", "frechet_distance"])
def test_rotation_invariance(measure):
    emb = _toy()
    fn = getattr(am, measure)
    assert fn(_rotate(emb)) == pytest.approx(fn(emb), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("measure", ["rmg", "l2i", "centroid_cosine", "frechet_distance"])
def test_pair_permutation_and_symmetry(measure):
    emb = _toy()
    fn = getattr(am, measure)
    perm = np.random.default_rng(0).permutation(len(emb))
    assert fn(emb.subset(perm)) == pytest.approx(fn(emb), rel=1e-6)
    assert fn(emb, "text", "image") == pytest.approx(fn(emb), rel=1e-6)


def test_pairing_matters_for_rmg_not_for_frechet():
    emb = _toy()
    perm = np.random.default_rng(0).permutation(len(emb))
    shuffled = _emb(emb["image"], emb["text"][perm])
    assert am.rmg(shuffled) > am.rmg(emb) + 0.05  # broken pairs look farther apart
    assert am.l2i(shuffled) > am.l2i(emb)
    assert am.frechet_distance(shuffled) == pytest.approx(am.frechet_distance(emb), rel=1e-6)
    assert am.centroid_cosine(shuffled) == pytest.approx(am.centroid_cosine(emb), rel=1e-6)


def test_limits_identical_modalities():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    emb = _emb(x, x)
    within = am.cone_cosine(emb, "image")
    # The matched term is floored at 1e-3 exactly as in Schrodi et al.'s code.
    assert am.rmg(emb) == pytest.approx(1e-3 / (1e-3 + (1 - within) / 2), rel=1e-6)
    assert am.l2i(emb) == pytest.approx(0.0, abs=1e-6)
    assert am.centroid_cosine(emb) == pytest.approx(1.0)
    assert am.frechet_distance(emb) == pytest.approx(0.0, abs=1e-9)


def test_limits_far_apart():
    # Antipodal pairs: cos = -1, so m = 1 and RMG = 1 / (1 + (d_a + d_b)/2) in (0.5, 1].
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)) + 5 * np.eye(6)[0]
    emb = _emb(x, -x)
    assert am.l2i(emb) == pytest.approx(2.0)
    assert am.centroid_cosine(emb) == pytest.approx(-1.0)
    assert 0.5 < am.rmg(emb) <= 1.0


def test_rmg_unpaired_random_is_half():
    # Independent isotropic modalities in high D: every cosine ~ 0, so RMG ~ 0.5.
    rng = np.random.default_rng(0)
    emb = _emb(rng.normal(size=(400, 256)), rng.normal(size=(400, 256)))
    assert am.rmg(emb) == pytest.approx(0.5, abs=0.01)


def test_blocked_sums_match_one_block(monkeypatch):
    from amumo.embeddings import _rows

    emb = _toy(n=101)
    expected = (am.rmg(emb), am.l2i(emb), am.frechet_distance(emb), am.centroid_cosine(emb))
    monkeypatch.setattr(_rows, "ROW_BLOCK", 7)  # the one block size of the analysis passes
    got = (am.rmg(emb), am.l2i(emb), am.frechet_distance(emb), am.centroid_cosine(emb))
    assert got == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- gap dimensions
def test_gap_dimensions_table(clip):
    table = am.gap_dimensions(clip)
    assert list(table.columns) == ["dim", "delta", "share", "cumulative"]
    assert len(table) == clip.dim and sorted(table["dim"]) == list(range(clip.dim))
    assert np.all(np.diff(table["share"]) <= 0)
    assert table["cumulative"].iloc[-1] == pytest.approx(1.0)
    delta = am.gap_vector(clip)
    assert table["delta"].to_numpy() == pytest.approx(delta[table["dim"].to_numpy()])


def test_gap_dimensions_follow_coordinate_permutation():
    emb = _toy()
    perm = np.random.default_rng(1).permutation(emb.dim)
    permuted = _emb(emb["image"][:, perm], emb["text"][:, perm])
    top = am.gap_dimensions(emb)["dim"].to_numpy()
    top_permuted = am.gap_dimensions(permuted)["dim"].to_numpy()
    assert perm[top_permuted[:3]].tolist() == top[:3].tolist()


def test_gap_dimensions_no_gap():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4))
    with pytest.raises(ValueError, match="coincide"):
        am.gap_dimensions(_emb(x, x))


def test_ablate_gap_dimensions(clip):
    assert am.ablate_gap_dimensions(clip, 0) is clip
    ablated = am.ablate_gap_dimensions(clip, 2)
    for m in clip.modalities:
        assert np.all(ablated[m][:, [442, 362]] == 0)
        assert np.allclose(np.linalg.norm(ablated[m], axis=1), 1, atol=1e-6)
    assert am.gap_distance(ablated) < am.gap_distance(clip)
    assert ablated.provenance["ablated_dims"] == [442, 362]
    # Removing the two gap dimensions removes 68.6 % of the unnormalised ‖Δ‖².
    assert am.ablate_gap_dimensions(clip, 0, dims=[442]).provenance["ablated_dims"] == [442]
    for bad in (-1, clip.dim, 1.5, True):
        with pytest.raises(ValueError, match="k="):
            am.ablate_gap_dimensions(clip, bad)


def test_ablate_rejects_empty_rows():
    emb = _emb(np.eye(3) + 0.1, np.eye(3)[::-1] + 0.1)
    with pytest.raises(ValueError, match="dims"):
        am.ablate_gap_dimensions(emb, 0, dims=[0, 1, 2])


def test_gap_ablation_curve(clip):
    curve = am.gap_ablation_curve(clip, ks=[0, 1, 2, 8])
    assert curve["k"].tolist() == [0, 1, 2, 8]
    assert curve.loc[0, "rmg"] == pytest.approx(am.rmg(clip))
    assert curve.loc[0, "recall@1:image->text"] == pytest.approx(0.552)
    assert curve.loc[2, "share_removed"] == pytest.approx(0.686, abs=5e-4)
    assert np.all(np.diff(curve["share_removed"]) > 0)
    assert np.all(np.diff(curve["gap_distance"]) < 0)


def test_gap_summary_keys(clip):
    summary = am.gap_summary(clip, recall=False)
    assert set(summary) == {"gap_distance", "rmg", "l2i", "centroid_cosine", "paired_cosine"}
    assert summary["gap_distance"] == pytest.approx(am.gap_distance(clip))


def test_metrics_has_rmg_keys(clip):
    # am.metrics takes these from mergeable sums (am.GapStats); they must agree exactly.
    metrics = am.metrics(clip, include_separability=False)
    assert metrics["rmg"] == pytest.approx(am.rmg(clip), rel=1e-9)
    assert metrics["l2i"] == pytest.approx(am.l2i(clip), rel=1e-6)
    assert metrics["centroid_cosine"] == pytest.approx(am.centroid_cosine(clip), rel=1e-6)
    stats = am.GapStats().update(clip).metrics()
    assert stats["rmg"] == pytest.approx(am.rmg(clip), rel=1e-9)
    assert stats["l2i"] == pytest.approx(am.l2i(clip), rel=1e-9)


def test_errors(clip):
    with pytest.raises(TypeError, match="Embeddings"):
        am.rmg(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="modality"):
        am.rmg(clip, "image", "audio")
    with pytest.raises(ValueError, match="at least 2"):
        am.rmg(clip.subset([0]))
