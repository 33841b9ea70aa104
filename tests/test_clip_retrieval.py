"""Embeddings.open on clip-retrieval output folders (LAION's published layout), written by
the test: img_emb/img_emb_K.npy, text_emb/text_emb_K.npy (float16, unit rows) and
metadata/metadata_K.parquet with captions, urls and keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.embeddings.clip_retrieval import iter_parts, list_parts

pytest.importorskip("pyarrow")


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_folder(root, sizes=(40, 25, 35), d=16, dtype=np.float16, seed=0, normalise=True,
                 width=2, metadata=True):
    """What clip-retrieval inference writes: partitions numbered with zero padding."""
    rng = np.random.default_rng(seed)
    cone = rng.normal(size=d)
    total = sum(sizes)
    z = rng.normal(size=(total, d))
    image = z + cone + rng.normal(size=d) + rng.normal(size=(total, d))
    text = z + cone + rng.normal(size=d) + rng.normal(size=(total, d))
    if normalise:
        image, text = _unit(image), _unit(text)
    for sub in ("img_emb", "text_emb", "metadata"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    start = 0
    for k, n in enumerate(sizes):
        rows = slice(start, start + n)
        name = str(k).zfill(width)
        np.save(root / "img_emb" / f"img_emb_{name}.npy", image[rows].astype(dtype))
        np.save(root / "text_emb" / f"text_emb_{name}.npy", text[rows].astype(dtype))
        if metadata:
            pd.DataFrame({
                "image_path": [f"{i:09d}.jpg" for i in range(start, start + n)],
                "caption": [f"caption {i}" for i in range(start, start + n)],
                "url": [f"http://example.org/{i}.jpg" for i in range(start, start + n)],
                "key": [f"{i:09d}" for i in range(start, start + n)],
                "similarity": np.linspace(0.2, 0.4, n),
            }).to_parquet(root / "metadata" / f"metadata_{name}.parquet")
        start += n
    return image, text


def test_several_partitions_open_as_one_float16_map(tmp_path):
    image, text = write_folder(tmp_path / "laion")
    cache = tmp_path / "cache"
    emb = am.Embeddings.open(tmp_path / "laion", cache_dir=cache)
    assert emb.modalities == ("image", "text") and len(emb) == 100 and emb.dim == 16
    assert emb["image"].dtype == np.float16 and emb.provenance["format"] == "clip-retrieval"
    np.testing.assert_array_equal(emb["text"], text.astype(np.float16))
    assert emb.meta["caption"].tolist() == [f"caption {i}" for i in range(100)]
    assert emb.meta["id"].iloc[41] == "000000041" and emb.meta["part"].iloc[41] == 1
    assert {"url", "similarity", "image_path"} <= set(emb.meta.columns)
    from amumo.widgets.remote import url_column

    assert url_column(emb.meta) == "url"  # previews fetch LAION's photos like coco_url
    copy = next(cache.glob("clip-retrieval/*/image.npy"))
    stamp = copy.stat().st_mtime_ns
    again = am.Embeddings.open(tmp_path / "laion", cache_dir=cache)
    assert copy.stat().st_mtime_ns == stamp and again.fingerprint == emb.fingerprint
    checked = am.Embeddings.open(tmp_path / "laion", cache_dir=cache, verify=True)
    assert copy.stat().st_mtime_ns != stamp  # rebuilt from the partition files
    np.testing.assert_array_equal(checked["image"], emb["image"])
    # the metrics come out of float64 sums, partition by partition or all at once
    whole = am.GapStats().update(emb).metrics()
    parts = am.GapStats.combine(am.GapStats().update(p) for p in iter_parts(tmp_path / "laion"))
    assert parts.metrics()["gap_distance"] == pytest.approx(whole["gap_distance"], abs=1e-12)
    x, y = (np.asarray(emb[m], np.float64) for m in ("image", "text"))
    assert whole["gap_distance"] == pytest.approx(np.linalg.norm(x.mean(0) - y.mean(0)),
                                                  abs=1e-12)
    emb.subset([0, 99])  # the usual container operations work
    with pytest.raises(FileNotFoundError, match="consolidated copy"):
        am.Embeddings.open(tmp_path / "laion", cache_dir=tmp_path / "empty", consolidate=False)


def test_one_partition_is_mapped_zero_copy_and_meta_columns(tmp_path):
    write_folder(tmp_path / "one", sizes=(30,), width=1)
    emb = am.Embeddings.open(tmp_path / "one", cache_dir=tmp_path / "cache",
                             meta_columns=["caption"])
    assert emb.provenance["mmap"] == {"image": "source", "text": "source"}
    assert emb.meta.columns.tolist() == ["id", "caption", "part"]
    assert emb.meta["id"].iloc[3] == "0/3"  # no key column read: partition/row
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.npy"))


def test_rows_not_normalised_are_normalised_once(tmp_path):
    image, _ = write_folder(tmp_path / "raw", sizes=(20, 20), normalise=False, dtype=np.float32)
    emb = am.Embeddings.open(tmp_path / "raw", cache_dir=tmp_path / "cache")
    assert emb["image"].dtype == np.float32
    np.testing.assert_allclose(emb["image"], _unit(image), atol=1e-6)
    np.testing.assert_allclose(emb.norms["image"], np.linalg.norm(image, axis=1), rtol=1e-6)


def test_metadata_elsewhere_and_missing(tmp_path):
    write_folder(tmp_path / "emb", sizes=(10, 10))
    (tmp_path / "emb" / "metadata").rename(tmp_path / "laion2B-en-metadata")
    bare = am.Embeddings.open(tmp_path / "emb", cache_dir=tmp_path / "c")
    assert bare.meta.columns.tolist() == ["id", "part"]
    with_meta = am.Embeddings.open(tmp_path / "emb", metadata=tmp_path / "laion2B-en-metadata",
                                   cache_dir=tmp_path / "c")
    assert with_meta.meta["caption"].iloc[12] == "caption 12"


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        ("drop_text_part", ValueError, r"partitions \[1\] have embeddings of one modality"),
        ("no_text", FileNotFoundError, "nothing to pair with"),
        ("short_text", ValueError, "row i of both must be pair i"),
        ("meta_rows", ValueError, "must describe the same pairs"),
        ("other_dim", ValueError, "one model"),
        ("nan_row", ValueError, "NaN or Inf"),
    ],
)
def test_inconsistent_folders_are_refused(tmp_path, damage, error, match):
    root = tmp_path / "f"
    write_folder(root, sizes=(10, 12))
    if damage == "drop_text_part":
        (root / "text_emb" / "text_emb_01.npy").unlink()
    elif damage == "no_text":
        for f in (root / "text_emb").iterdir():
            f.unlink()
    elif damage == "short_text":
        np.save(root / "text_emb" / "text_emb_01.npy", np.ones((11, 16), np.float16) / 4)
    elif damage == "meta_rows":
        pd.DataFrame({"caption": ["x"] * 3}).to_parquet(root / "metadata" / "metadata_00.parquet")
    elif damage == "other_dim":
        np.save(root / "img_emb" / "img_emb_01.npy", np.ones((12, 8), np.float16) / 8 ** 0.5)
        np.save(root / "text_emb" / "text_emb_01.npy", np.ones((12, 8), np.float16) / 8 ** 0.5)
    elif damage == "nan_row":
        bad = np.load(root / "img_emb" / "img_emb_01.npy")
        bad[4] = np.nan
        np.save(root / "img_emb" / "img_emb_01.npy", bad)
    with pytest.raises(error, match=match):
        am.Embeddings.open(root, cache_dir=tmp_path / "cache")
    assert list_parts.__doc__


def test_shard_folders_still_open_and_refuse_clip_retrieval_options(tmp_path):
    from amumo.embeddings.shards import write_shard

    rng = np.random.default_rng(0)
    write_shard(tmp_path / "s", 0, {"image": rng.normal(size=(4, 3)),
                                    "text": rng.normal(size=(4, 3))})
    assert len(am.Embeddings.open(tmp_path / "s")) == 4
    with pytest.raises(ValueError, match="clip-retrieval folders"):
        am.Embeddings.open(tmp_path / "s", meta_columns=["caption"])
