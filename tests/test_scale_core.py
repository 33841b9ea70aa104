"""Scale (issue 11), kernel side: memory-mapped loading, shards, chunked validation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.embeddings.shards import (
    finished_shards,
    iter_shards,
    read_manifest,
    write_manifest,
    write_shard,
)


def _raw(n, d=16, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + offset


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(folder))
    return folder


# ---------------------------------------------------------------- mmap load
@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_mmap_load_equals_in_memory_load(tmp_path, cache_dir, suffix):
    ref = am.Embeddings.from_arrays({"image": _raw(50, seed=1), "text": _raw(50, seed=2)},
                                    meta={"caption": [f"c{i}" for i in range(50)]})
    if suffix == ".npy":
        path = tmp_path / "x.npy"
        np.save(path, ref.stacked())
    else:
        path = ref.save(tmp_path / "x.npz")
    plain = am.Embeddings.load(path, mmap=False)
    mapped = am.Embeddings.load(path, mmap=True)
    assert mapped.modalities == plain.modalities
    for name in plain.modalities:
        np.testing.assert_array_equal(mapped[name], plain[name])
        np.testing.assert_allclose(mapped.norms[name], plain.norms[name], rtol=1e-6)
        assert isinstance(mapped[name].base, np.memmap) or isinstance(mapped[name], np.memmap)
        assert not mapped[name].flags.writeable
    assert mapped.fingerprint == plain.fingerprint
    pd.testing.assert_frame_equal(mapped.meta, plain.meta)
    # unit float32 rows are mapped zero-copy: no normalised copy in the cache
    assert mapped.provenance["mmap"] == {"image": "source", "text": "source"}


def test_mmap_of_raw_rows_writes_one_normalised_copy_in_cache(tmp_path, cache_dir):
    raw = np.stack([_raw(40, seed=3, offset=2.0), _raw(40, seed=4)]).astype(np.float32)
    path = tmp_path / "raw.npy"
    np.save(path, raw)
    first = am.Embeddings.load(path, mmap=True)
    copies = sorted(cache_dir.glob("normalised/*/*.npy"))
    assert {p.name for p in copies} >= {"image.npy", "text.npy"}
    assert all(str(cache_dir) in v for v in first.provenance["mmap"].values())
    expected = am.Embeddings.from_arrays({"image": raw[0], "text": raw[1]})
    np.testing.assert_allclose(first["image"], expected["image"], atol=1e-7)
    np.testing.assert_allclose(first.norms["text"], expected.norms["text"], rtol=1e-6)
    stamp = {p: p.stat().st_mtime_ns for p in copies}
    again = am.Embeddings.load(path, mmap=True)  # reused, not rewritten
    assert {p: p.stat().st_mtime_ns for p in copies} == stamp
    np.testing.assert_array_equal(again["image"], first["image"])


def test_mmap_rejects_nan_and_zero_rows_by_index(tmp_path, cache_dir):
    raw = np.stack([_raw(30, seed=5), _raw(30, seed=6)]).astype(np.float32)
    raw[0, 7, 3] = np.nan
    np.save(tmp_path / "nan.npy", raw)
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 row\(s\): 7"):
        am.Embeddings.load(tmp_path / "nan.npy", mmap=True)
    raw[0, 7, 3] = 0.5
    raw[1, 12] = 0
    np.save(tmp_path / "zero.npy", raw)
    with pytest.raises(ValueError, match=r"all-zero row\(s\): 12"):
        am.Embeddings.load(tmp_path / "zero.npy", mmap=True)


def test_mmap_truncated_file_is_a_clear_error(tmp_path, cache_dir):
    raw = np.stack([_raw(30), _raw(30, seed=1)]).astype(np.float32)
    np.save(tmp_path / "x.npy", raw)
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match="truncated"):
        am.Embeddings.load(tmp_path / "cut.npy", mmap=True)


def test_mmap_argument_is_checked(tmp_path):
    with pytest.raises(TypeError, match="mmap="):
        am.Embeddings.load(am.datasets.reference_path("features_clip.npy"), mmap="yes")


_RSS_SCRIPT = textwrap.dedent(
    """
    import json, sys, numpy as np
    def _rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    path = sys.argv[1]
    # write a unit-row (2, N, 512) float32 file of ~1 GB in blocks (plain writes)
    n, d = 262_144, 512
    header = {"descr": "<f4", "fortran_order": False, "shape": (2, n, d)}
    rng = np.random.default_rng(0)
    with open(path, "wb") as out:
        np.lib.format.write_array_header_2_0(out, header)
        for _ in range(2 * n // 8192):
            block = rng.normal(size=(8192, d)).astype(np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out.write(block.tobytes())
    del block
    import amumo as am
    before = _rss()
    emb = am.Embeddings.load(path, mmap=True)
    after = _rss()
    print(json.dumps({"extra": after - before, "n": len(emb), "how": emb.provenance["mmap"]}))
    """
)


LINUX_ONLY = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads VmRSS from /proc/self/status"
)


@LINUX_ONLY
@pytest.mark.slow
def test_mmap_load_of_1gb_stays_under_300mb_extra_rss(tmp_path, cache_dir):
    script = tmp_path / "rss.py"
    script.write_text(_RSS_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "big.npy")],
        capture_output=True, text=True, timeout=600, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] == 262_144
    assert result["how"] == {"image": "source", "text": "source"}
    assert (tmp_path / "big.npy").stat().st_size > 1 << 30
    assert result["extra"] < 0.3 * (1 << 30), result


def test_from_arrays_has_no_whole_float64_copy():
    """Normalising 20k x 512 float32 rows peaks at the float32 result plus one block."""
    import tracemalloc

    x = np.random.default_rng(0).normal(size=(20_000, 512)).astype(np.float32)
    tracemalloc.start()
    am.Embeddings.from_arrays({"image": x, "text": x})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # two float32 results (82 MB) + block temporaries; a float64 copy would add 82 MB each
    assert peak < 2 * x.nbytes + 120e6, peak / 1e6


# ---------------------------------------------------------------- shards
def _write_three(out, n=(7, 5, 9), d=12):
    parts = []
    for i, rows in enumerate(n):
        image, text = _raw(rows, d, seed=10 + i, offset=1.0), _raw(rows, d, seed=20 + i)
        meta = {"caption": [f"s{i}-{j}" for j in range(rows)], "k": np.arange(rows) + 100 * i}
        write_shard(out, i, {"image": image, "text": text}, meta=meta,
                    provenance={"worker": i})
        parts.append((image, text, meta))
    whole = am.Embeddings.from_arrays(
        {"image": np.concatenate([p[0] for p in parts]),
         "text": np.concatenate([p[1] for p in parts])},
        meta=pd.concat([pd.DataFrame(p[2]) for p in parts], ignore_index=True),
    )
    return whole


def test_shards_open_as_one_memory_mapped_embeddings(tmp_path):
    out = tmp_path / "run"
    whole = _write_three(out)
    assert finished_shards(out) == [0, 1, 2]
    write_manifest(out, provenance={"model": "demo"})
    manifest = read_manifest(out)
    assert manifest["n_pairs"] == 21 and [s["n"] for s in manifest["shards"]] == [7, 5, 9]
    emb = am.Embeddings.open(out)
    assert len(emb) == 21 and emb.modalities == ("image", "text")
    for name in emb.modalities:
        np.testing.assert_array_equal(emb[name], whole[name])
        np.testing.assert_allclose(emb.norms[name], whole.norms[name])
        assert isinstance(emb[name].base, np.memmap)
    assert emb.meta["caption"].tolist() == whole.meta["caption"].tolist()
    assert emb.meta["k"].tolist() == whole.meta["k"].tolist()
    assert emb.provenance["model"] == "demo" and emb.provenance["n_shards"] == 3
    assert (out / "consolidated" / "consolidated.json").exists()
    assert am.Embeddings.open(out, verify=True).fingerprint == emb.fingerprint
    assert abs(am.gap_distance(emb) - am.gap_distance(whole)) < 1e-12


def test_unfinished_shard_is_ignored_with_a_warning_and_blocks_the_manifest(tmp_path):
    out = tmp_path / "run"
    _write_three(out)
    (out / "shard-000003").mkdir()
    np.save(out / "shard-000003" / "emb0.npy", np.zeros((3, 12), np.float32))
    assert finished_shards(out) == [0, 1, 2]
    with pytest.warns(UserWarning, match="unfinished shards"):
        emb = am.Embeddings.open(out)
    assert len(emb) == 21
    with pytest.raises(ValueError, match="unfinished shards"):
        write_manifest(out)


def test_shard_rewrite_needs_overwrite_and_mismatch_is_refused(tmp_path):
    out = tmp_path / "run"
    write_shard(out, 0, {"image": _raw(4), "text": _raw(4, seed=1)})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_shard(out, 0, {"image": _raw(4), "text": _raw(4, seed=1)})
    write_shard(out, 0, {"image": _raw(6), "text": _raw(6, seed=1)}, overwrite=True)
    assert len(am.Embeddings.open(out)) == 6
    with pytest.raises(ValueError, match="must match"):
        write_shard(out, 1, {"image": _raw(4, d=8), "text": _raw(4, d=8)})
    with pytest.raises(ValueError, match="shard_id"):
        write_shard(out, -1, {"image": _raw(4), "text": _raw(4, seed=1)})
    with pytest.raises(ValueError, match="NaN"):
        write_shard(out, 2, {"image": np.full((3, 16), np.nan), "text": _raw(3)})


def test_corrupt_shard_is_detected(tmp_path):
    out = tmp_path / "run"
    write_shard(out, 0, {"image": _raw(4), "text": _raw(4, seed=1)})
    path = out / "shard-000000" / "emb1.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        am.Embeddings.open(out, verify=True)


def test_open_errors_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        am.Embeddings.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no finished shards"):
        am.Embeddings.open(tmp_path / "empty")
    out = tmp_path / "run"
    _write_three(out)
    with pytest.raises(FileNotFoundError, match="consolidate"):
        am.Embeddings.open(out, consolidate=False)


def test_iter_shards_is_zero_copy_and_in_order(tmp_path):
    out = tmp_path / "run"
    whole = _write_three(out)
    pieces = list(iter_shards(out))
    assert [len(p) for p in pieces] == [7, 5, 9]
    assert all(isinstance(p["image"].base, np.memmap) for p in pieces)
    np.testing.assert_array_equal(np.concatenate([p["text"] for p in pieces]), whole["text"])


# ---------------------------------------------------------------- projections at scale
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
    emb, truth = _blobs(n_per=100, seed=1)
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

    emb, truth = _blobs(n_per=100, seed=2)
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


# ---------------------------------------------------------------- clustering at scale
def _blobs(n_per=400, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, d))
    centres[0, 0], centres[1, 0], centres[1, 1], centres[2, 1] = 1.0, 0.7, 0.7, 1.0
    truth = np.repeat([0, 1, 2], n_per)
    perm = rng.permutation(len(truth))
    truth = truth[perm]
    x = centres[truth] + 0.08 * rng.normal(size=(len(truth), d))
    y = centres[truth] + 0.08 * rng.normal(size=(len(truth), d))
    return am.Embeddings.from_arrays({"image": x, "text": y}), truth


def test_kmeans_ordering_properties():
    from amumo.analysis.similarity import cluster_pairs

    emb, truth = _blobs()
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

    emb, _ = _blobs(n_per=30)
    order, labels = cluster_pairs(emb, k=3, method="ward")
    feats = np.concatenate([emb["image"], emb["text"]], axis=1) / np.float32(np.sqrt(2))
    ref_order, ref_labels = am.cluster_order(cosine_matrix(feats), method="ward", k=3)
    np.testing.assert_array_equal(order, ref_order)
    np.testing.assert_array_equal(labels, ref_labels)
    by_text = cluster_pairs(emb, k=2, by="text", limit=10)
    assert set(by_text[1].tolist()) == {0, 1}
    with pytest.raises(ValueError, match="k="):
        cluster_pairs(emb, k=0)


def _rss() -> int:
    """Resident bytes of this process (Linux)."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmRSS:"))


@LINUX_ONLY
def test_release_and_take_rows_keep_data_and_drop_resident_pages(tmp_path, cache_dir):
    from amumo.embeddings._rows import release_rows, take_rows

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 40_000, 256)).astype(np.float32)  # 82 MB
    x /= np.linalg.norm(x, axis=2, keepdims=True)
    np.save(tmp_path / "x.npy", x)
    emb = am.Embeddings.load(tmp_path / "x.npy", mmap=True)
    rows = emb["image"]
    before = _rss()
    total = rows.sum(axis=0, dtype=np.float64)  # maps every page (41 MB)
    assert _rss() - before > 30e6
    release_rows(rows)
    assert _rss() - before < 10e6
    np.testing.assert_array_equal(rows.sum(axis=0, dtype=np.float64), total)  # data intact
    release_rows(rows)
    idx = np.sort(rng.choice(40_000, size=500, replace=False))
    before = _rss()
    got = take_rows(rows, idx, np.float64)
    assert _rss() - before < 15e6  # scattered gathers do not map the whole file
    np.testing.assert_array_equal(got, x[0][idx].astype(np.float64))
    # in-memory arrays: plain indexing, release is a no-op
    plain = np.array(rows)
    release_rows(plain)
    np.testing.assert_array_equal(take_rows(plain, idx), plain[idx])


@LINUX_ONLY
def test_view_passes_over_a_memory_map_do_not_map_the_whole_file(tmp_path, cache_dir):
    """Subsets, the heatmap overview and colour range, the calibration samples and the gap
    vector read a memory-mapped file without leaving it resident (each once mapped all of
    it: a 100k-pair Explorer held its 0.4 GB source in RSS on top of the closed copy)."""
    from amumo.analysis.calibration import cosine_samples
    from amumo.embeddings._rows import release_rows
    from amumo.widgets._matrix import auto_scale, display_rows, pooled

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 80_000, 256)).astype(np.float32)  # 164 MB
    x /= np.linalg.norm(x, axis=2, keepdims=True)
    np.save(tmp_path / "x.npy", x)
    del x
    emb = am.Embeddings.load(tmp_path / "x.npy", mmap=True)
    raw = {m: np.array(emb[m]) for m in emb.modalities}
    for m in emb.modalities:
        release_rows(emb[m])  # reading it for `raw` mapped every page
    in_ram = am.Embeddings.from_arrays(raw)
    every = np.linspace(0, 79_999, 2_000).astype(np.int64)
    for data in (in_ram, in_ram.subset(np.arange(9_000))):  # imports and first-call caches
        auto_scale(pooled(display_rows(data), 64), display_rows(data))
        cosine_samples(data.subset(every[:100]), max_samples=50)
    before = _rss()
    part = emb.subset(every)
    rows = display_rows(emb)
    over = pooled(rows, 64)
    low, _ = auto_scale(over, rows)
    samples = cosine_samples(emb, max_samples=5_000)
    gap = am.gap_vector(emb)  # also the start of every λ step of the Explorer
    assert _rss() - before < 40e6  # of a 164 MB file: results + about one block
    means = {m: raw[m].mean(axis=0, dtype=np.float64) for m in raw}
    np.testing.assert_allclose(gap, means["image"] - means["text"], atol=1e-12)
    np.testing.assert_array_equal(part["text"], raw["text"][every])
    np.testing.assert_allclose(over, pooled(display_rows(in_ram), 64), atol=1e-6)
    assert low == auto_scale(over, display_rows(in_ram))[0]
    for key, values in cosine_samples(in_ram, max_samples=5_000).items():
        np.testing.assert_allclose(samples[key], values, atol=1e-6)


def test_umap_reports_its_epochs_and_stops_between_them():
    """Issue 21 item 9: UMAP at 200k pairs ran 47 s with only "computing UMAP…". The fit
    now says which epoch it is in (``describe``), its fraction advances with the epochs,
    and ``should_stop`` ends it before the next epoch; the coordinates are those of a
    run without hooks."""
    from amumo.analysis._progress import Cancelled

    emb, _ = _blobs(n_per=60, seed=4)
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
