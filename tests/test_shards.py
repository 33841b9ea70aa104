"""Shard folders (amumo.embeddings.shards): written shard by shard, opened as one
memory-mapped Embeddings, unfinished and corrupt shards detected, rewrites refused.

(Shard folders under hostile or damaged records: tests/test_shard_checks.py.)
"""

from __future__ import annotations

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
