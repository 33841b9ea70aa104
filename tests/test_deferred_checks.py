"""Very large memory-mapped files: rows checked as they are first read (issue 24).

Small data with the thresholds monkeypatched down (DEFER_BYTES, the sample, the block of
the bookkeeping): every path that files of 1 GiB+ per modality take in real use.
"""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.embeddings import _checked
from amumo.embeddings._rows import take_rows
from amumo.embeddings.shard_writer import ShardWriter

N, D = 3000, 16


@pytest.fixture()
def small_limits(monkeypatch, tmp_path):
    monkeypatch.setattr(_checked, "DEFER_BYTES", 1)
    monkeypatch.setattr(_checked, "SAMPLE_RUNS", 4)
    monkeypatch.setattr(_checked, "SAMPLE_RUN", 2)
    monkeypatch.setattr(_checked, "CHECK_BLOCK", 256)
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _unit(seed: int, dtype=np.float32) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(N, D)) + 0.5
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(dtype)


def _npy(path, image, text):
    np.save(path, np.stack([image, text]))
    return path


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_deferred_load_gives_the_same_numbers_and_records_the_check(small_limits, dtype):
    path = _npy(small_limits / "rows.npy", _unit(0, dtype), _unit(1, dtype))
    lazy = am.Embeddings.load(path, mmap=True)
    assert lazy.provenance["rows_checked"] == {"image": "as rows are first read",
                                                "text": "as rows are first read"}
    full = am.Embeddings.load(path, mmap=True, check="full")
    assert "rows_checked" not in full.provenance
    assert am.GapStats().update(lazy).metrics() == am.GapStats().update(full).metrics()
    assert np.all(lazy.norms["image"] == 1.0)
    records = list((small_limits / "cache" / "checked").glob("*.json"))
    assert len(records) == 2  # one per modality, written when its last block was checked
    again = am.Embeddings.load(path, mmap=True)
    assert again.provenance["rows_checked"]["image"] == "earlier (cache record)"


def test_a_nan_row_outside_the_sample_stops_the_first_pass(small_limits):
    image = _unit(0)
    image[1234] = np.nan
    path = _npy(small_limits / "rows.npy", image, _unit(1))
    emb = am.Embeddings.load(path, mmap=True)  # the sample misses row 1234
    with pytest.raises(_checked.InvalidRowsError, match=r"rows 1234 of modality 'image'.*NaN"):
        am.GapStats().update(emb)
    with pytest.raises(_checked.InvalidRowsError, match="1234"):
        am.gap_distance(emb)  # every pass, not only the first, until the block is clean
    with pytest.raises(ValueError, match="1234"):
        am.Embeddings.load(path, mmap=True, check="full")
    assert not list((small_limits / "cache" / "checked").glob("*.json")) or all(
        "image" not in p.read_text() for p in (small_limits / "cache" / "checked").glob("*")
    )


def test_a_gather_of_a_bad_row_raises(small_limits):
    image = _unit(0)
    image[1500] *= 1.5
    path = _npy(small_limits / "rows.npy", image, _unit(1))
    emb = am.Embeddings.load(path, mmap=True)
    assert take_rows(emb["image"], np.array([3, 5])).shape == (2, D)
    with pytest.raises(_checked.InvalidRowsError, match="not unit length.*check='full'"):
        take_rows(emb["image"], np.array([3, 1500]))
    with pytest.raises(_checked.InvalidRowsError):
        emb.subset([1500])
    fixed = am.Embeddings.load(path, mmap=True, check="full")  # normalised copy, as before
    assert fixed.provenance["mmap"]["image"] != "source"
    assert abs(fixed.norms["image"][1500] - 1.5) < 1e-3


def test_a_bad_row_in_the_sample_means_the_full_scan_at_open(small_limits):
    image = _unit(0)
    image[0] = np.inf  # row 0 is always sampled
    path = _npy(small_limits / "rows.npy", image, _unit(1))
    with pytest.raises(ValueError, match="NaN or Inf"):
        am.Embeddings.load(path, mmap=True)


def test_deferred_shards_and_identity_fingerprint(small_limits):
    folder = small_limits / "shards"
    with ShardWriter(folder, 0, ("image", "text"), D, dtype="float16") as shard:
        shard.append({"image": _unit(0), "text": _unit(1)},
                     meta={"caption": [f"c{i}" for i in range(N)]})
    emb = am.Embeddings.open(folder)
    assert emb.provenance["rows_checked"]["text"] == "as rows are first read"
    full = am.Embeddings.open(folder, check="full")
    assert full.provenance["rows_checked"]["text"] == "now"
    assert am.GapStats().update(emb).metrics() == am.GapStats().update(full).metrics()
    # a corrupt file (a byte flipped on disk after writing) is caught by the first pass
    path = folder / "shard-000000" / "emb1.npy"
    data = bytearray(path.read_bytes())
    offset = len(data) - N * D * 2 + 2000 * D * 2
    data[offset:offset + 2] = np.array([np.nan], np.float16).tobytes()
    path.write_bytes(bytes(data))
    broken = am.Embeddings.open(folder)
    with pytest.raises(_checked.InvalidRowsError, match="rows 2000 of modality 'text'"):
        am.GapStats().update(broken)


def test_identity_fingerprint_of_large_maps(small_limits):
    path = _npy(small_limits / "rows.npy", _unit(0), _unit(1))
    first = am.Embeddings.load(path, mmap=True).fingerprint
    assert first == am.Embeddings.load(path, mmap=True).fingerprint
    np.save(path, np.stack([_unit(2), _unit(1)]))  # rewritten: another identity
    assert am.Embeddings.load(path, mmap=True).fingerprint != first
