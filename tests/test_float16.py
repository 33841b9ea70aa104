"""float16 storage: shards written with dtype="float16", float16 .npy files mapped as they
are, and every metric / view path on float16 memory maps giving what float32 gives on the
same values (metrics accumulate in float64, products run in float32 blocks)."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.embeddings.shards import read_manifest, write_manifest, write_shard


def _raw(n=3000, d=32, seed=0):
    rng = np.random.default_rng(seed)
    cone, gi, gt = rng.normal(size=(3, d))
    z = rng.normal(size=(n, d))
    return {"image": z * 0.4 + cone + gi + rng.normal(size=(n, d)) * 0.6,
            "text": z * 0.4 + cone + gt + rng.normal(size=(n, d)) * 0.6}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same pairs as float16 shards (opened: float16 memory maps) and as float32 rows
    holding exactly the float16 values."""
    folder = tmp_path_factory.mktemp("f16shards")
    raw = _raw()
    caption = [f"pair {i} {'red' if i % 3 else 'blue'}" for i in range(3000)]
    for k in range(3):
        rows = slice(1000 * k, 1000 * (k + 1))
        write_shard(folder, k, {m: v[rows] for m, v in raw.items()},
                    meta={"caption": caption[rows]}, dtype="float16")
    write_manifest(folder, provenance={"model": "synthetic"})
    e16 = am.Embeddings.open(folder, cache_dir=tmp_path_factory.mktemp("cache"))
    e32 = am.Embeddings.from_arrays({m: np.asarray(e16[m], np.float32) for m in e16.modalities},
                                    meta=e16.meta, normalized=True)
    return e16, e32, folder


def test_float16_shards_are_half_the_size_and_stay_float16(pair, tmp_path):
    e16, e32, folder = pair
    from amumo.embeddings._rows import _mapping

    assert e16["image"].dtype == np.float16 and _mapping(e16["image"]) is not None  # a map
    assert read_manifest(folder)["dtype"] == "float16"
    raw = _raw(n=1000)
    write_shard(tmp_path, 0, raw, dtype="float32")
    size32 = (tmp_path / "shard-000000" / "emb0.npy").stat().st_size
    size16 = (folder / "shard-000000" / "emb0.npy").stat().st_size
    assert size16 - 128 == (size32 - 128) // 2
    norms = np.linalg.norm(np.asarray(e16["text"], np.float64), axis=1)
    assert np.abs(norms - 1).max() < 1e-3  # unit within float16 rounding
    full = am.Embeddings.from_arrays(_raw())
    assert np.abs(np.asarray(e16["image"], np.float64) - full["image"]).max() < 1e-3
    np.testing.assert_allclose(e16.norms["image"], full.norms["image"], rtol=1e-6)
    with pytest.raises(ValueError, match="one dtype"):
        write_shard(folder, 7, raw)  # a float32 shard in a float16 folder
    with pytest.raises(ValueError, match="'float32' .default. or 'float16'"):
        write_shard(tmp_path, 1, raw, dtype="float64")
    again = am.Embeddings.open(folder, verify=True, cache_dir=tmp_path / "c")
    assert again.fingerprint == e16.fingerprint and again["image"].dtype == np.float16


def test_gap_stats_accumulate_in_float64(pair):
    e16, _, _ = pair
    got = am.GapStats(block=256).update(e16).metrics()
    x = np.asarray(e16["image"], np.float64)
    y = np.asarray(e16["text"], np.float64)
    assert got["gap_distance"] == pytest.approx(np.linalg.norm(x.mean(0) - y.mean(0)), abs=1e-12)
    assert got["paired_cosine"] == pytest.approx(np.mean(np.sum(x * y, 1)), abs=1e-12)
    total = x.sum(0)
    cone = (total @ total - np.sum(x * x)) / (len(x) * (len(x) - 1))
    assert got["cone_cosine:image"] == pytest.approx(cone, abs=1e-12)
    # what summing in float16 would give: off by far more than the rounding of the rows
    naive = np.linalg.norm(np.asarray(e16["image"]).sum(0, dtype=np.float16) / len(x)
                           - np.asarray(e16["text"]).sum(0, dtype=np.float16) / len(x))
    assert abs(naive - got["gap_distance"]) > 1e-3


def _same(a, b, atol=1e-6):
    if isinstance(a, dict):
        for key in a:
            if isinstance(a[key], (float, int, np.floating)) and not isinstance(a[key], bool):
                assert b[key] == pytest.approx(a[key], abs=atol, nan_ok=True), key
        return
    if isinstance(a, am.Embeddings):
        for m in a.modalities:
            assert b[m].dtype == np.float32
            np.testing.assert_allclose(b[m], a[m], atol=atol)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert b.dtype != np.float16, "a float16 result leaked out"
    np.testing.assert_allclose(b, a, atol=atol)


def test_every_metric_path_matches_float32_on_the_same_values(pair):
    e16, e32, _ = pair
    from amumo.analysis.calibration import cosine_samples
    from amumo.analysis.retrieval import retrieval_metrics
    from amumo.analysis.similarity import cluster_pairs

    paths = {
        "metrics": lambda e: am.metrics(e, temperature=0.05),
        "retrieval": lambda e: retrieval_metrics(e, sample=500, seed=1),
        "gap_distance": am.gap_distance,
        "rmg": am.rmg,
        "gap_matrix": am.gap_matrix,
        "gap_dimensions": lambda e: am.gap_dimensions(e).select_dtypes("number").to_numpy(),
        "shift": lambda e: am.shift(e, 0.5),
        "close_gap": am.close_gap,
        "center": lambda e: am.mitigate(e, "center", report=False),
        "standardize": lambda e: am.mitigate(e, "standardize", report=False),
        "pca": lambda e: am.project(e, "pca", cache=False),
        "gap axis": lambda e: am.project(e, "gap", cache=False),
        "similarity": lambda e: am.similarity(e.subset(range(300))),
        "cosine samples": lambda e: cosine_samples(e, max_samples=2000, seed=0)["unmatched"],
        "cluster": lambda e: cluster_pairs(e, k=4)[0],
        "subset": lambda e: e.subset([5, 1, 2999]),
    }
    for name, path in paths.items():
        want, got = path(e32), path(e16)
        if name == "subset":
            assert got["image"].dtype == np.float16  # a subset keeps the storage dtype
            np.testing.assert_array_equal(np.asarray(got["image"], np.float32), want["image"])
            continue
        if name in ("pca", "gap axis"):  # float32 blocks either way: the same to rounding
            _same(want, got, atol=2e-5)
            continue
        _same(want, got, atol=1e-9 if name in ("gap_distance", "rmg", "gap_matrix") else 1e-6)


def test_views_draw_float16_maps(pair):
    e16, e32, _ = pair
    from amumo.widgets import Explorer, Heatmap, Scatter
    from amumo.widgets._matrix import display_rows, window

    heat16, heat32 = Heatmap(e16), Heatmap(e32)
    assert heat16.overview == heat32.overview and len(heat16.overview) > 0
    cells = window(display_rows(e16), 0, 50, 3000, 3050)
    assert cells.dtype == np.float32
    np.testing.assert_allclose(cells, window(display_rows(e32), 0, 50, 3000, 3050), atol=1e-6)
    s16, s32 = Scatter(e16), Scatter(e32)
    np.testing.assert_allclose(np.frombuffer(s16.xy, np.float32),
                               np.frombuffer(s32.xy, np.float32), atol=2e-5)
    ex = Explorer(e16)
    assert ex.state_size()["total"] > 0
    ex.closed = True  # the close-gap toggle on float16 maps
    assert ex.closed


# ---------------------------------------------------------------------------- .npy files
def test_float16_npy_is_mapped_as_it_is(tmp_path):
    raw = _raw(n=500)
    unit = am.Embeddings.from_arrays(raw)
    path = tmp_path / "features.npy"
    np.save(path, np.stack([unit["image"], unit["text"]]).astype(np.float16))
    emb = am.Embeddings.load(path, mmap=True, cache_dir=tmp_path / "cache")
    assert emb["image"].dtype == np.float16 and emb.provenance["mmap"] == {
        "image": "source", "text": "source"}
    not_unit = tmp_path / "raw.npy"
    np.save(not_unit, np.stack([raw["image"], raw["text"]]).astype(np.float16))
    copied = am.Embeddings.load(not_unit, mmap=True, cache_dir=tmp_path / "cache")
    assert copied["image"].dtype == np.float16 and copied.provenance["mmap"]["image"] != "source"
    assert np.abs(np.linalg.norm(np.asarray(copied["image"], np.float64), axis=1) - 1).max() < 1e-3
    in_memory = am.Embeddings.load(path, mmap=False)
    assert in_memory["image"].dtype == np.float32  # read into RAM: float32 as before
