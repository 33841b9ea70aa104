"""Memory-mapped Embeddings (``Embeddings.load(path, mmap=True)``; amumo.embeddings._mapped,
_rows): the same rows as an in-memory load, one normalised copy of raw rows in the cache,
bad rows named, a bounded resident size, and passes over the map that leave it unmapped."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import amumo as am


def _raw(n, d=16, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + offset


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(folder))
    return folder


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
    # the pages of a gather are asked for at once: one range per run of touching pages
    from amumo.embeddings._rows import prefetch_rows

    assert prefetch_rows(rows, np.array([0, 1, 2, 3, 39_999])) == 2  # 4 rows: 1 KB each
    assert prefetch_rows(rows, np.array([], dtype=np.int64)) == 0
    assert prefetch_rows(rows, np.array([-1, 40_000, 10**9])) == 1  # the last row; others: gather's
    assert 0 < prefetch_rows(rows, idx) <= len(idx)
    # in-memory arrays: plain indexing, release is a no-op
    plain = np.array(rows)
    assert prefetch_rows(plain, idx) == 0
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
