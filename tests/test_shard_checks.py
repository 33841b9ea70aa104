"""Shard folders under hostile or damaged records (amumo.embeddings._shard_checks): each
fails naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

import amumo as am
from amumo.embeddings.shards import write_manifest, write_shard


def _rows(seed, n=6, d=8):
    rng = np.random.default_rng(seed)
    return {"image": rng.normal(size=(n, d)), "text": rng.normal(size=(n, d))}


@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "run"
    for k in range(3):
        write_shard(out, k, _rows(k), meta={"caption": [f"c{k}{j}" for j in range(6)]})
    write_manifest(out)
    return out


def _edit(path, change):
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../etc/passwd", "../shard-000001/emb0.npy",
                                  "", None])
@pytest.mark.parametrize("key", ["files", "norms", "meta"])
def test_marker_paths_outside_the_shard_folder_are_refused(tmp_path, name, key):
    out = tmp_path / "one"
    write_shard(out, 0, _rows(0), meta={"caption": list("abcdef")})
    marker = out / "shard-000000" / "shard.json"

    def point_away(record):
        if key == "files":
            record["files"]["image"] = name
        else:
            record[key] = name

    _edit(marker, point_away)
    if key == "meta" and name is None:  # no meta is allowed
        assert len(am.Embeddings.open(out)) == 6
        return
    with pytest.raises(ValueError, match=r"shard\.json names the file .* plain names"):
        am.Embeddings.open(out)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("shards"), r"has no list of 'shards'"),
        (lambda m: m["shards"][0].update(id="../../etc"), r"lists the shard .*\.\./\.\./etc"),
        (lambda m: m["shards"][0].update(id=True), r"non-negative integer"),
        (lambda m: m["shards"].append(m["shards"][0]), r"lists shard\(s\) \[0\] more than once"),
        (lambda m: m.update(n_pairs=17), r"says n_pairs=17 in n_shards=3, but its shard list "
                                         r"holds 18 pairs in 3 shards"),
        (lambda m: (m["shards"].pop(1), m.update(n_pairs=12, n_shards=2)),
         r"lists the shards \[0, 2\], but the folder holds the finished shards \[0, 1, 2\]"),
    ],
    ids=["no shards", "../../etc id", "bool id", "listed twice", "n_pairs off", "one dropped"],
)
def test_manifests_that_do_not_add_up_are_refused(folder, change, message):
    _edit(folder / "manifest.json", change)
    with pytest.raises(ValueError, match=r"manifest\.json .*" + message + r".*write_manifest"):
        am.Embeddings.open(folder)
    with pytest.raises(ValueError, match=message):
        list(am.embeddings.shards.iter_shards(folder))


def test_norms_of_the_wrong_shape_are_refused(tmp_path):
    out = tmp_path / "one"
    write_shard(out, 0, _rows(0))
    np.save(out / "shard-000000" / "norms.npy", np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"norms\.npy holds float64 \(2, 3\).*needs float "
                                         r"\(2, 6\).*rewrite it"):
        am.Embeddings.open(out)


@pytest.mark.parametrize("bad", ["nan", "scaled"])
def test_rows_that_are_nan_or_not_unit_are_found_when_opening(tmp_path, bad):
    """Shard files are unit float32; a damaged or foreign one gave a cosine of -1.64."""
    out = tmp_path / "one"
    write_shard(out, 0, _rows(0))
    path = out / "shard-000000" / "emb0.npy"
    rows = np.load(path)
    if bad == "nan":
        rows[4, 2] = np.nan
    else:
        rows[1] *= -1.64
    np.save(path, rows)
    message = r"NaN or Inf in 1 row\(s\): 4" if bad == "nan" else r"1 row\(s\) of 'image' are " \
        r"not unit length \(1; norm 1\.64 in row 1\)"
    with pytest.raises(ValueError, match=r"emb0\.npy: .*" + message + r".*rewrite it"):
        am.Embeddings.open(out)
    with pytest.raises(ValueError, match=message):
        am.embeddings.shards.read_shard(out, 0)


def test_verify_checks_the_consolidated_copy_that_is_mapped(folder):
    emb = am.Embeddings.open(folder, verify=True)
    consolidated = emb.provenance["consolidated"]
    del emb
    path = f"{consolidated}/emb1.npy"
    rows = np.load(path)
    rows[[7, 8]] = rows[[8, 7]]  # still unit rows: only the checksums can tell
    np.save(path, rows)
    assert len(am.Embeddings.open(folder)) == 18  # not verified: opens (documented)
    with pytest.raises(ValueError, match=r"emb1\.npy: the rows of shard 1 \(pairs 6\.\.11\) "
                                         r"do not match that shard's checksum"):
        am.Embeddings.open(folder, verify=True)


def test_a_shard_from_another_encoder_is_refused(tmp_path):
    out = tmp_path / "run"
    write_shard(out, 0, _rows(0), provenance={"encoder_fingerprint": "model-a"})
    with pytest.raises(ValueError, match=r"encoder 'model-b', but shard 0 .* from 'model-a'"):
        write_shard(out, 1, _rows(1), provenance={"encoder_fingerprint": "model-b"})
    write_shard(out, 1, _rows(1), provenance={"encoder_fingerprint": "model-a"})
