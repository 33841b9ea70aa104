"""Embeddings container: construction (no whole float64 copy), validation, selection and
file formats, and files under hostile content (forged .npy / .npz headers, arrays declared
far larger than the file, a memory-mapped file replaced by other rows of the same size and
mtime).

(Memory-mapped loading: tests/test_embeddings_mapped.py; shard folders: tests/test_shards.py.)
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.datasets import reference_path


def rand(n=6, d=4, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(dtype)


@pytest.fixture
def emb():
    return am.Embeddings.from_arrays(
        {"image": rand(seed=1), "text": rand(seed=2)},
        meta={"caption": [f"c{i}" for i in range(6)]},
        provenance={"model": "test"},
    )


# ----------------------------------------------------------------- construction
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_dtypes_are_stored_as_float32_unit_rows(dtype):
    x = rand(dtype=np.float64) * 10
    e = am.Embeddings.from_arrays({"image": x.astype(dtype), "text": x.astype(dtype) + 1})
    assert e["image"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e["image"], axis=1), 1, atol=1e-6)
    raw = np.linalg.norm(x.astype(dtype).astype(np.float64), axis=1)
    np.testing.assert_allclose(e.norms["image"], raw, rtol=1e-5)


def test_basic_accessors(emb):
    assert emb.modalities == ("image", "text")
    assert len(emb) == 6 and emb.dim == 4
    assert list(emb.meta["caption"])[:2] == ["c0", "c1"]
    assert "image" in emb and "audio" not in emb
    assert emb.stacked().shape == (2, 6, 4)
    assert "n=6" in repr(emb)


def test_arrays_are_read_only_and_inputs_untouched():
    x, y = rand(seed=3), rand(seed=4)
    x0 = x.copy()
    e = am.Embeddings.from_arrays({"image": x, "text": y})
    np.testing.assert_array_equal(x, x0)
    with pytest.raises(ValueError):
        e["image"][0, 0] = 5


def test_three_modalities():
    e = am.Embeddings.from_arrays({"image": rand(), "text": rand(seed=5), "audio": rand(seed=6)})
    assert e.modalities == ("image", "text", "audio")
    assert am.similarity(e).shape == (18, 18)
    assert am.gap_distance(e, "image", "audio") > 0


def test_unknown_modality_keyerror_lists_choices(emb):
    with pytest.raises(KeyError, match="image"):
        emb["audio"]


def test_fingerprint_stable_and_sensitive(emb):
    same = am.Embeddings.from_arrays({"image": rand(seed=1), "text": rand(seed=2)})
    other = am.Embeddings.from_arrays({"image": rand(seed=1), "text": rand(seed=9)})
    assert emb.fingerprint == same.fingerprint
    assert emb.fingerprint != other.fingerprint


def test_meta_with_custom_index_keeps_it_as_a_column():
    meta = pd.DataFrame({"caption": list("abcdef")}, index=[f"id{i}" for i in range(6)])
    e = am.Embeddings.from_arrays({"image": rand(), "text": rand(seed=1)}, meta=meta)
    assert list(e.meta.index) == list(range(6))
    assert e.meta["index"].tolist()[0] == "id0"


# ----------------------------------------------------------------- bad input
def test_nan_rows_are_named():
    x = rand()
    x[2, 1] = np.nan
    x[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"arrays\['image'\].*NaN or Inf.*2, 4"):
        am.Embeddings.from_arrays({"image": x, "text": rand()})


def test_zero_rows_are_named():
    y = rand()
    y[3] = 0
    with pytest.raises(ValueError, match=r"arrays\['text'\].*all-zero.*3"):
        am.Embeddings.from_arrays({"image": rand(), "text": y})


def test_different_n():
    with pytest.raises(ValueError, match="different numbers of rows"):
        am.Embeddings.from_arrays({"image": rand(n=5), "text": rand(n=6)})


def test_different_d():
    with pytest.raises(ValueError, match="different dimensions"):
        am.Embeddings.from_arrays({"image": rand(d=3), "text": rand(d=4)})


def test_one_dimensional():
    with pytest.raises(ValueError, match=r"1-D.*x\[None, :\]"):
        am.Embeddings.from_arrays({"image": np.ones(4), "text": rand()})


def test_three_dimensional():
    with pytest.raises(ValueError, match="3-D.*Embeddings.load"):
        am.Embeddings.from_arrays({"image": np.ones((2, 3, 4)), "text": rand()})


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.ones((2, 2), dtype=bool),
                                 np.array([[1 + 1j]]), "text"])
def test_non_numeric(bad):
    with pytest.raises(TypeError, match=r"arrays\['image'\]"):
        am.Embeddings.from_arrays({"image": bad, "text": rand()})


def test_fewer_than_two_modalities():
    with pytest.raises(ValueError, match="at least two"):
        am.Embeddings.from_arrays({"image": rand()})


def test_empty():
    with pytest.raises(ValueError, match="N = 0"):
        am.Embeddings.from_arrays({"image": np.zeros((0, 4)), "text": np.zeros((0, 4))})


def test_arrays_not_a_mapping():
    with pytest.raises(TypeError, match="pass a dict"):
        am.Embeddings.from_arrays([rand(), rand()])


def test_meta_wrong_length():
    with pytest.raises(ValueError, match="meta has 2 rows"):
        am.Embeddings.from_arrays({"image": rand(), "text": rand()}, meta={"c": [1, 2]})


# ----------------------------------------------------------------- selection
def test_subset_keeps_order_meta_and_original_pair_ids(emb):
    sub = emb.subset([4, 1])
    np.testing.assert_array_equal(sub["image"], emb["image"][[4, 1]])
    assert sub.meta["caption"].tolist() == ["c4", "c1"]
    assert sub.meta["pair"].tolist() == [4, 1]
    assert sub.norms["text"].tolist() == emb.norms["text"][[4, 1]].tolist()


def test_subset_errors(emb):
    with pytest.raises(IndexError, match="out of range"):
        emb.subset([0, 6])
    with pytest.raises(ValueError, match="empty"):
        emb.subset([])
    with pytest.raises(TypeError, match="filter"):
        emb.subset(np.ones(6, dtype=bool))


def test_filter(emb):
    mask = emb.meta["caption"].isin(["c0", "c5"]).to_numpy()
    assert emb.filter(mask).meta["caption"].tolist() == ["c0", "c5"]
    with pytest.raises(ValueError, match="shape"):
        emb.filter(np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        emb.filter([0, 1, 0, 1, 0, 1])


# ----------------------------------------------------------------- files
def test_npz_round_trip(emb, tmp_path):
    path = emb.save(tmp_path / "run.npz")
    back = am.Embeddings.load(path)
    assert back.modalities == emb.modalities
    np.testing.assert_array_equal(back["text"], emb["text"])
    np.testing.assert_allclose(back.norms["image"], emb.norms["image"])
    pd.testing.assert_frame_equal(back.meta, emb.meta)
    assert back.provenance["model"] == "test"
    assert back.fingerprint == emb.fingerprint


def test_save_does_not_overwrite_silently(emb, tmp_path):
    path = emb.save(tmp_path / "run.npz")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        emb.save(path)
    emb.subset([0, 1]).save(path, overwrite=True)
    assert len(am.Embeddings.load(path)) == 2


def test_save_is_atomic_when_interrupted(emb, tmp_path, monkeypatch):
    path = emb.save(tmp_path / "run.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        emb.subset([0]).save(path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temp file left


def test_save_requires_npz_suffix(emb, tmp_path):
    with pytest.raises(ValueError, match=".npz"):
        emb.save(tmp_path / "run.npy")


def test_load_mind_the_gap_npy():
    e = am.Embeddings.load(reference_path("features_clip.npy"))
    assert e.modalities == ("image", "text") and len(e) == 500 and e.dim == 512
    named = am.Embeddings.load(reference_path("features_clip.npy"), modalities=("img", "txt"))
    assert named.modalities == ("img", "txt")


def test_load_npy_wrong_modality_count(tmp_path):
    path = tmp_path / "three.npy"
    np.save(path, np.random.default_rng(0).normal(size=(3, 4, 5)))
    with pytest.raises(ValueError, match="3 modalities"):
        am.Embeddings.load(path)
    assert am.Embeddings.load(path, modalities=("a", "b", "c")).modalities == ("a", "b", "c")


@pytest.mark.parametrize("mmap", [False, True])
def test_load_refuses_one_string_of_modalities(tmp_path, emb, mmap):
    # "ab" used to name the modalities after its letters, silently.
    path = tmp_path / "two.npy"
    np.save(path, np.random.default_rng(0).normal(size=(2, 4, 5)))
    with pytest.raises(TypeError, match=r"modalities='ab' is one string.*\('image', 'text'\)"):
        am.Embeddings.load(path, modalities="ab", mmap=mmap)
    emb.save(tmp_path / "two.npz")
    with pytest.raises(TypeError, match="one string"):
        am.Embeddings.load(tmp_path / "two.npz", modalities="it", mmap=mmap)
    with pytest.raises(TypeError, match="non-empty string"):
        am.Embeddings.load(path, modalities=("image", 3), mmap=mmap)
    assert am.Embeddings.load(path, modalities=["x", "y"], mmap=mmap).modalities == ("x", "y")


def test_load_npy_wrong_ndim(tmp_path):
    path = tmp_path / "flat.npy"
    np.save(path, np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(M modalities, N pairs, D dims\)"):
        am.Embeddings.load(path)


def test_load_unknown_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello world")
    with pytest.raises(ValueError, match="neither a .npy"):
        am.Embeddings.load(path)


def test_load_truncated_npy(tmp_path):
    data = reference_path("features_clip.npy").read_bytes()
    path = tmp_path / "cut.npy"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        am.Embeddings.load(path)


def test_load_truncated_npz(emb, tmp_path):
    path = emb.save(tmp_path / "run.npz")
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        am.Embeddings.load(cut)


def test_load_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, a=np.ones(3))
    assert zipfile.is_zipfile(path)
    with pytest.raises(ValueError, match="without amumo's header"):
        am.Embeddings.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        am.Embeddings.load(tmp_path / "nope.npz")


def test_fingerprint_follows_content_names_and_layout_on_both_hash_paths(monkeypatch):
    import amumo.embeddings.container as container_module

    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(50, 8))
    emb = am.Embeddings.from_arrays({"image": x, "text": y})
    same = am.Embeddings.from_arrays({"image": x.copy(), "text": y.copy()})
    edited = y.copy()
    edited[17, 3] += 0.5
    changed = am.Embeddings.from_arrays({"image": x, "text": edited})
    renamed = am.Embeddings.from_arrays({"image": x, "caption": y})
    swapped = am.Embeddings.from_arrays({"text": y, "image": x})
    prints = [e.fingerprint for e in (emb, same, changed, renamed, swapped)]
    assert prints[0] == prints[1]
    assert len(set(prints[1:])) == 4  # one changed value, a name, the order: all differ
    monkeypatch.setattr(container_module, "_PARALLEL_HASH_BYTES", 0)  # hashed in threads
    again = [am.Embeddings.from_arrays({"image": x, "text": y}).fingerprint,
             am.Embeddings.from_arrays({"image": x, "text": edited}).fingerprint]
    assert again == [prints[0], prints[2]]


# ----------------------------------------------------------------- huge / tiny values
@pytest.mark.parametrize("scale", [1e154, 1e200, 1e-170])
def test_rows_with_overflowing_squares_keep_their_direction(tmp_path, scale):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        emb = am.Embeddings.from_arrays({"image": x * scale, "text": y})
    reference = am.Embeddings.from_arrays({"image": x, "text": y})
    np.testing.assert_allclose(emb["image"], reference["image"], atol=1e-6)
    np.testing.assert_allclose(
        emb.norms["image"], np.linalg.norm(x, axis=1) * scale, rtol=1e-6
    )
    # metrics are those of the unscaled rows, not recall@1 = 1.0 of all-zero rows
    assert am.metrics(emb) == pytest.approx(am.metrics(reference))
    back = am.Embeddings.load(emb.save(tmp_path / "big.npz"))
    np.testing.assert_array_equal(back["image"], emb["image"])
    np.testing.assert_allclose(back.norms["image"], emb.norms["image"], rtol=1e-12)


# ----------------------------------------------------------------- files under hostile content
@pytest.fixture(scope="module")
def small():
    return am.datasets.clip_coco500().subset(range(6))
def _npz_with_member(path, name, npy_bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.npy", npy_bytes)


def _npy_header(descr, shape):
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def test_npz_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "forged.npz"
    _npz_with_member(path, "emb:image", _npy_header("<f4", (100_000, 100_000)) + b"\0" * 64)
    with pytest.raises(ValueError, match=r"emb:image.*\(100000, 100000\).*37\.3 GB.*re-create"):
        am.Embeddings.load(path)


@pytest.mark.parametrize(
    "member",
    [
        b"\x93NUMPY\x01\x00\x10\x00{'descr': 5}    \n",  # dict with wrong types
        b"\x93NUMPY\x01\x00\x08\x00\xff\xfe\xfd\xfc\xfb\xfa\xf9\n",  # not text
        b"\x93NUMPY\x01\x00\x10\x00not a dict at all\n",
        b"\x93NUMPY\x01",  # truncated
    ],
)
def test_malformed_npy_headers_give_a_clear_error(tmp_path, member):
    path = tmp_path / "bad.npz"
    _npz_with_member(path, "emb:image", member)
    with pytest.raises(ValueError, match=r"bad\.npz: member 'emb:image' has a malformed \.npy"):
        am.Embeddings.load(path)


@pytest.mark.parametrize(
    "header",
    [b"\xff\xfe not utf-8", b"[1, 2]", json.dumps({"modalities": "image"}).encode(),
     json.dumps({"modalities": ["image", "text"], "meta": 3}).encode(),
     json.dumps({"modalities": ["image", "audio"]}).encode()],
)
def test_malformed_amumo_headers_give_a_clear_error(small, tmp_path, header):
    good = small.save(tmp_path / "good.npz")
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "__amumo__.npy":
                buffer = __import__("io").BytesIO()
                np.save(buffer, np.frombuffer(header, dtype=np.uint8))
                data = buffer.getvalue()
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match=r"bad\.npz.*(corrupt|malformed|lacks)"):
        am.Embeddings.load(path)


def _npy_file(path, descr, shape, payload=b""):
    path.write_bytes(_npy_header(descr, shape) + payload)
    return path


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize(
    ("descr", "shape", "payload", "message"),
    [
        ("<f4", (2, 100_000_000, 50_000), b"\0" * 64,
         r"shorter than its header says .*40,000,000,000,128 bytes.*header is corrupt"),
        ("<f4", (2, -5, 4), b"\0" * 64, r"negative dimension"),
        ("<f4", (2, 3, 0), b"", r"shape \(2, 3, 0\): no dimensions \(D = 0\)"),
        ("<f4", (2, 0, 4), b"", r"shape \(2, 0, 4\): no pairs \(N = 0\).*from_arrays refuses"),
        ("<m8[ns]", (2, 3, 4), b"\0" * 192, r"dtype timedelta64\[ns\]; embeddings must be"),
    ],
    ids=["37TiB", "negative", "D=0", "N=0", "timedelta"],
)
def test_mind_the_gap_headers_are_checked_before_reading(tmp_path, mmap, descr, shape,
                                                         payload, message):
    """Raw MemoryError (37 TiB), ValueError, TypeError from memoryview, or an empty
    Embeddings whose gap_distance is 0.0: now one message naming the file."""
    path = _npy_file(tmp_path / "forged.npy", descr, shape, payload)
    with pytest.raises((ValueError, TypeError), match=r"forged\.npy.*" + message):
        am.Embeddings.load(path, mmap=mmap)


@pytest.mark.parametrize("mmap", [False, True])
def test_npz_with_empty_timedelta_or_deeply_nested_members(small, tmp_path, mmap):
    good = small.save(tmp_path / "good.npz")

    def forged(name, member, array):
        buffer = __import__("io").BytesIO()
        np.save(buffer, array)
        path = tmp_path / name
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                dst.writestr(info.filename, buffer.getvalue() if info.filename == member
                             else src.read(info))
        return path

    empty = forged("empty.npz", "emb:image.npy", np.zeros((0, small.dim), np.float32))
    with pytest.raises(ValueError, match=r"empty\.npz: member 'emb:image' has shape \(0, 512\)"):
        am.Embeddings.load(empty, mmap=mmap)
    ragged = forged("ragged.npz", "emb:image.npy", np.eye(4, small.dim, dtype=np.float32))
    with pytest.raises(ValueError, match=r"ragged\.npz holds different numbers of rows"):
        am.Embeddings.load(ragged, mmap=mmap)
    times = forged("times.npz", "emb:text.npy", np.zeros((6, small.dim), "m8[ns]"))
    with pytest.raises(TypeError, match=r"times\.npz: member 'emb:text' has dtype timedelta"):
        am.Embeddings.load(times, mmap=mmap)
    deep = forged("deep.npz", "__amumo__.npy",
                  np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"deep\.npz could not be read.*RecursionError"):
        am.Embeddings.load(deep, mmap=mmap)
    with pytest.raises(TypeError, match=r"arrays\['image'\] has dtype timedelta64"):
        am.Embeddings.from_arrays({"image": np.ones((2, 3), "m8[s]"), "text": np.ones((2, 3))})


@pytest.mark.parametrize("how", ["in place", "renamed over"])
def test_mmap_copy_is_keyed_on_content_not_size_and_mtime(tmp_path, monkeypatch, how):
    """A file replaced by other rows of the same size, its mtime set back (cp -p, rsync -t),
    must not be answered from the normalised copy of the old rows."""
    import os

    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(3)
    old = rng.normal(size=(2, 50, 8)) * 3  # not unit length: load(mmap=True) makes a copy
    new = rng.normal(size=(2, 50, 8)) * 3
    path = tmp_path / "pairs.npy"
    np.save(path, old.astype(np.float32))
    first = am.Embeddings.load(path, mmap=True)
    assert "normalised" in first.provenance["mmap"]["image"]
    stat = os.stat(path)
    if how == "in place":
        with open(path, "r+b") as handle:
            handle.seek(stat.st_size - new.size * 4)
            handle.write(new.astype(np.float32).tobytes())
    else:
        np.save(tmp_path / "new.npy", new.astype(np.float32))
        os.replace(tmp_path / "new.npy", path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    second = am.Embeddings.load(path, mmap=True)
    expected = new[0] / np.linalg.norm(new[0], axis=1, keepdims=True)
    np.testing.assert_allclose(second["image"], expected, atol=1e-6)
    again = am.Embeddings.load(path, mmap=True)  # unchanged now: the new copy is reused
    assert again.provenance["mmap"] == second.provenance["mmap"]


# ----------------------------------------------------------------- memory
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
