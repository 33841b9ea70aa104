"""Shifted / closed / mitigated rows computed when read (issue 24): the same numbers as the
eager float32 copies, on small data with tiny blocks."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.analysis.retrieval import retrieval_metrics
from amumo.analysis.summary import gap_metrics
from amumo.embeddings import _lazy, _rows
from amumo.embeddings._lazy import LazyRows, Step
from amumo.embeddings._rows import take_rows
from amumo.widgets._matrix import display_rows, pooled


@pytest.fixture(params=[np.float32, np.float16])
def mapped(request, tmp_path, monkeypatch):
    monkeypatch.setattr(_rows, "ROW_BLOCK", 64)
    rng = np.random.default_rng(5)
    n, d = 1500, 24
    cone = rng.normal(size=d)
    arrays = []
    for gap in (1.0, -1.0):
        x = rng.normal(size=(n, d)) + 2 * cone + gap * rng.normal(size=d) * 2
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        arrays.append(x.astype(request.param))
    path = tmp_path / "rows.npy"
    np.save(path, np.stack(arrays))
    return am.Embeddings.load(path, mmap=True)


def test_lazy_close_gap_equals_the_eager_copy_bit_for_bit(mapped):
    eager = am.close_gap(mapped, lazy=False)
    lazy = am.close_gap(mapped, lazy=True)
    assert isinstance(lazy["image"], LazyRows) and isinstance(eager["image"], np.ndarray)
    assert lazy.provenance["close_gap"] == eager.provenance["close_gap"]
    for m in mapped.modalities:
        assert np.array_equal(np.asarray(lazy[m]), eager[m])
        assert np.array_equal(lazy[m][100:300], eager[m][100:300])
        assert np.array_equal(lazy[m][7], eager[m][7])
        index = np.array([1400, 3, 77, 3])
        assert np.array_equal(take_rows(lazy[m], index), eager[m][index])
    assert am.GapStats().update(lazy).metrics() == am.GapStats().update(eager).metrics()
    assert am.gap_distance(lazy) < 1e-3
    assert lazy.fingerprint != mapped.fingerprint
    assert np.array_equal(np.asarray(lazy.subset([5, 9])["text"]), eager.subset([5, 9])["text"])


def test_lazy_shift_and_views_equal_eager(mapped):
    for lam in (0.5, -0.7, 3.0):  # 3.0: the float64 path of a scaled shift
        eager = am.shift(mapped, lam, lazy=False)
        lazy = am.shift(mapped, lam, lazy=True)
        for m in mapped.modalities:
            assert np.array_equal(np.asarray(lazy[m]), eager[m])
    eager, lazy = am.shift(mapped, 0.5, lazy=False), am.shift(mapped, 0.5, lazy=True)
    assert np.array_equal(pooled(display_rows(lazy), 32), pooled(display_rows(eager), 32))
    order = np.random.default_rng(0).permutation(len(mapped))
    assert np.array_equal(pooled(display_rows(lazy, order), 32),
                          pooled(display_rows(eager, order), 32))
    a = retrieval_metrics(lazy, sample=200, seed=1)
    b = retrieval_metrics(eager, sample=200, seed=1)
    assert a == b
    assert gap_metrics(lazy) == gap_metrics(eager)
    xy_lazy = am.project(lazy, "pca", reference=mapped, cache=False)
    xy_eager = am.project(eager, "pca", reference=mapped, cache=False)
    assert np.array_equal(xy_lazy, xy_eager)


def test_lazy_mitigations_equal_eager(mapped):
    for method in ("center", "standardize"):
        eager = am.mitigate(mapped, method, 0.8, report=False, lazy=False)
        lazy = am.mitigate(mapped, method, 0.8, report=False, lazy=True)
        for m in mapped.modalities:
            assert isinstance(lazy[m], LazyRows)
            assert np.array_equal(np.asarray(lazy[m]), eager[m])


def test_lazy_rows_refuse_to_materialise_when_large(monkeypatch):
    rows = LazyRows(np.eye(4, dtype=np.float32), [Step("shift", np.ones(4) * 0.1)])
    assert np.asarray(rows).shape == (4, 4)
    monkeypatch.setattr(_lazy, "MATERIALISE_LIMIT", 10)
    with pytest.raises(MemoryError, match="read them in blocks"):
        np.asarray(rows)


def test_size_decides_by_default(mapped, monkeypatch):
    assert isinstance(am.close_gap(mapped)["image"], np.ndarray)
    monkeypatch.setattr(_lazy, "LAZY_BYTES", 1000)
    assert isinstance(am.close_gap(mapped)["image"], LazyRows)
    assert isinstance(am.shift(mapped, 0.3)["text"], LazyRows)


def test_close_gap_estimated_on_a_sample_then_checked(mapped):
    exact = am.GapStats().update(mapped)
    known = {m: exact.mean(m) for m in mapped.modalities}
    checked = am.close_gap(mapped, lazy=True, sample=300, centroids=known)
    info = checked.provenance["close_gap"]
    assert info["estimated"] is False and info["gap_after"] < 1e-3
    assert am.gap_distance(checked) == pytest.approx(info["gap_after"], abs=1e-12)
    quick = am.close_gap(mapped, lazy=True, sample=300, centroids=known, verify=False)
    assert quick.provenance["close_gap"]["estimated"] is True
    assert am.gap_distance(quick) < 0.05  # 300 pairs: a rough estimate, checked later
    # the whole data as the "sample": the control variate gives the exact centroids
    whole = am.close_gap(mapped, lazy=True, sample=len(mapped), centroids=known, verify=False)
    assert am.gap_distance(whole) == pytest.approx(whole.provenance["close_gap"]["gap_after"],
                                                   abs=1e-6)
    with pytest.raises(ValueError, match="lazy=True"):
        am.close_gap(mapped, lazy=False, sample=300)
    shifted = am.shift(mapped, 0.4, lazy=True, centroids=known)
    plain = am.shift(mapped, 0.4, lazy=True)
    assert np.allclose(np.asarray(shifted["image"]), np.asarray(plain["image"]), atol=1e-6)
