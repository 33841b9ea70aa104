"""am.embed (amumo.embeddings.pipeline, loader) at speed and under hostile inputs.

Parallel loading (worker processes / threads) gives the same numbers as loading
in the calling thread; bf16 works on CPU; one bad item (a decompression bomb,
any decoding error), NaN / Inf / all-zero encoder rows, an edited image behind a
Parquet path column, an unusable cache folder, a null caption: none of them
costs a run or corrupts the cache.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import amumo as am
from amumo.data import ImageTextFolder, ImageTextParquet, SyntheticShapes
from amumo.embeddings.cache import CacheDirError, ChunkCache
from amumo.embeddings.loader import default_num_workers, iter_batches
from amumo.embeddings.pipeline import SkippedPairsWarning
from amumo.models import CallableEncoder

pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def tiny():
    return am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0)


def _png(colour, size=(20, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _bomb_png(side: int = 30000) -> bytes:
    """A valid side × side greyscale PNG of zeros: ~0.9 MB on disk, 900 M pixels decoded."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    rows = b"\x00" * ((side + 1) * 100)  # filter byte + pixels, 100 rows at a time
    idat = b"".join(packer.compress(rows) for _ in range(side // 100)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- part 1: speed paths
@pytest.mark.parametrize("backend", ["torch", "threads"])
def test_parallel_loading_gives_the_same_numbers(tiny, backend, monkeypatch):
    ds = SyntheticShapes(70, seed=11)
    inline = am.embed(tiny, ds, cache=False, progress=False, batch_size=16, num_workers=0)
    if backend == "threads":
        import amumo.embeddings.loader as loader

        original = loader.iter_batches

        def threads(*args, **kwargs):
            return original(*args, **{**kwargs, "backend": "threads"})

        monkeypatch.setattr("amumo.embeddings.pipeline.iter_batches", threads)
    parallel = am.embed(tiny, ds, cache=False, progress=False, batch_size=16, num_workers=2,
                        chunk_size=32)
    np.testing.assert_allclose(parallel["image"], inline["image"], atol=1e-6)
    np.testing.assert_allclose(parallel["text"], inline["text"], atol=1e-6)
    assert parallel.meta["item"].tolist() == list(range(70))


def test_deferred_read_back_of_a_staged_encoder(tiny):
    """encode_prepared may return a callable (CUDA: wait for the copy to pinned memory)."""
    calls = []

    class Deferred:
        name, modalities, fingerprint, device = tiny.name, tiny.modalities, None, "cpu"

        def encode(self, modality, items, batch_size=64):  # pragma: no cover - not used
            raise AssertionError

        def batch_preparer(self):
            return tiny.batch_preparer()

        def encode_prepared(self, modality, batch):
            rows = tiny.encode_prepared(modality, batch)

            def result():
                calls.append(modality)
                return rows.numpy()

            return result

    ds = SyntheticShapes(20, seed=5)
    emb = am.embed(Deferred(), ds, cache=False, progress=False, batch_size=8)
    reference = am.embed(tiny, ds, cache=False, progress=False, batch_size=8)
    np.testing.assert_array_equal(emb["image"], reference["image"])
    assert calls == ["image", "text"] * 3  # 3 batches, each read back once


def test_loader_keeps_order_and_skips_bad_items_in_workers():
    ds = SyntheticShapes(9, seed=0)

    class Flaky:
        modalities = ds.modalities

        def item(self, modality, i):
            if i == 4 and modality == "image":
                raise RuntimeError("a bug in record 4")
            return ds.item(modality, i)

    batches = [(0, [0, 1, 2]), (0, [3, 4, 5]), (1, [6, 7, 8])]
    for backend in ("torch", "threads"):
        out = list(iter_batches(Flaky(), ("image", "text"), batches, num_workers=2,
                                backend=backend))
        assert [b.positions for b in out] == [p for _, p in batches]
        assert out[1].ok.tolist() == [True, False, True]
        assert out[1].skipped == [{"item": 4, "modality": "image",
                                   "error": "RuntimeError: a bug in record 4"}]
        assert len(out[1].items["text"]) == 2


def test_workers_that_cannot_receive_the_dataset_fall_back_to_threads(tiny, monkeypatch):
    import pickle

    from torch.utils.data import DataLoader

    def cannot_pickle(self):
        raise pickle.PicklingError("Can't pickle <function <lambda>>")

    ds = SyntheticShapes(20, seed=2)
    inline = am.embed(tiny, ds, cache=False, progress=False, batch_size=8, num_workers=0)
    monkeypatch.setattr(DataLoader, "__iter__", cannot_pickle)
    with pytest.warns(RuntimeWarning, match="loading in 2 threads instead"):
        threaded = am.embed(tiny, ds, cache=False, progress=False, batch_size=8, num_workers=2)
    np.testing.assert_allclose(threaded["image"], inline["image"], atol=1e-6)


def test_defaults_by_device():
    assert default_num_workers("cuda", cpus=16) == 12
    assert default_num_workers("cpu", cpus=16) == 4
    assert default_num_workers("cpu", cpus=2) == 0
    with pytest.raises(ValueError, match="num_workers"):
        am.embed(CallableEncoder({"image": len, "text": len}), SyntheticShapes(2),
                 num_workers=-1, cache=False)


@pytest.mark.parametrize("precision", ["bf16", "fp16", "amp_bf16"])
def test_half_precision_on_cpu(precision):
    ds = SyntheticShapes(24, seed=3)
    full = am.embed(am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0), ds, cache=False,
                    progress=False)
    half = am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0, precision=precision)
    emb = am.embed(half, ds, cache=False, progress=False, batch_size=8)
    assert emb["image"].dtype == np.float32 and emb["text"].dtype == np.float32
    for m in ("image", "text"):
        cosine = np.sum(emb[m] * full[m], axis=1)
        assert cosine.min() > 0.999, (m, cosine.min())  # same model, lower precision
        assert not np.array_equal(emb[m], full[m])  # it did run in low precision
    assert half.fingerprint != am.models.OpenCLIP("amumo-tiny", device="cpu").fingerprint


def test_bf16_vit_random_init_small():
    """An open_clip ViT in bf16 (the crash of issue 12: FloatTensor input, BFloat16 weights)."""
    enc = am.models.OpenCLIP("ViT-B-32", device="cpu", precision="bf16")
    emb = am.embed(enc, SyntheticShapes(4, seed=0), cache=False, progress=False)
    assert emb["image"].shape == (4, 512) and np.isfinite(emb["image"]).all()


def test_chunks_written_by_the_writer_thread_and_resume_with_workers(tiny, tmp_path):
    ds = SyntheticShapes(50, seed=8)
    reference = am.embed(tiny, ds, cache=False, progress=False)
    calls = {"n": 0}

    class Interrupting:
        name, modalities, fingerprint = tiny.name, tiny.modalities, tiny.fingerprint
        device = "cpu"

        def encode(self, modality, items, batch_size=64):  # pragma: no cover - not used
            raise AssertionError("a staged encoder is fed through encode_prepared")

        def batch_preparer(self):
            return tiny.batch_preparer()

        def encode_prepared(self, modality, batch):
            calls["n"] += 1
            if calls["n"] == 7:  # the image call of the 4th batch
                raise KeyboardInterrupt("simulated Ctrl-C")
            return tiny.encode_prepared(modality, batch)

    with pytest.raises(KeyboardInterrupt):
        am.embed(Interrupting(), ds, progress=False, cache_dir=tmp_path, chunk_size=10,
                 batch_size=10, num_workers=2)
    # batches 0-2 were encoded (batch 2 was in flight on the device): 3 whole chunks
    names = sorted(p.name[:12] for p in (tmp_path / "embeddings").rglob("chunk-*.npz"))
    assert names == ["chunk-000000", "chunk-000001", "chunk-000002"]
    assert not list((tmp_path / "embeddings").rglob("*.tmp"))
    calls["n"] = -1000
    emb = am.embed(Interrupting(), ds, progress=False, cache_dir=tmp_path, chunk_size=10,
                   batch_size=10, num_workers=2)
    assert calls["n"] == -1000 + 2 * 2  # two chunks left, image + text each
    assert emb.provenance["from_cache"] == 30
    np.testing.assert_allclose(emb["image"], reference["image"], atol=1e-5)


# --------------------------------------------------------------------------- part 2: failures
def test_decompression_bomb_is_skipped_named_and_recorded(tiny, tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    (root / "ok1.png").write_bytes(_png("red"))
    (root / "bomb.png").write_bytes(_bomb_png())
    (root / "ok2.png").write_bytes(_png("blue"))
    assert (root / "bomb.png").stat().st_size < 2_000_000
    pd.DataFrame({"file": ["ok1.png", "bomb.png", "ok2.png"],
                  "caption": ["red", "a huge image", "blue"]}).to_csv(root / "captions.csv",
                                                                    index=False)
    ds = ImageTextFolder(root)
    for workers in (0, 2):
        with pytest.warns(SkippedPairsWarning, match=r"item 1 \(bomb\.png\).*decompression bomb"):
            emb = am.embed(tiny, ds, progress=False, cache_dir=tmp_path / "c", batch_size=2,
                           num_workers=workers)
        assert emb.meta["item"].tolist() == [0, 2]
        assert emb.skipped[0]["item"] == 1 and "MAX_IMAGE_PIXELS" in emb.skipped[0]["error"]
    # also as bytes in a Parquet file
    path = tmp_path / "pairs.parquet"
    pd.DataFrame({"image": [_png("red"), _bomb_png()], "caption": ["red", "huge"]}).to_parquet(path)
    with pytest.warns(SkippedPairsWarning, match="row 1 of pairs.parquet"):
        emb = am.embed(tiny, ImageTextParquet(path), progress=False, cache=False)
    assert len(emb) == 1


def test_any_error_decoding_one_item_skips_that_pair(tiny):
    ds = SyntheticShapes(6, seed=1)

    class Broken(SyntheticShapes):
        def _item(self, modality, i):
            if modality == "image" and i == 2:
                raise KeyError("record 2 has no pixels")
            if modality == "image" and i == 4:
                return "not an image"  # fails in the preprocessing, not in item()
            return super()._item(modality, i)

    broken = Broken(6, seed=1)
    with pytest.warns(SkippedPairsWarning, match="2 of 6 pairs skipped"):
        emb = am.embed(tiny, broken, cache=False, progress=False)
    assert emb.meta["item"].tolist() == [0, 1, 3, 5]
    errors = {s["item"]: s["error"] for s in emb.skipped}
    assert "record 2 has no pixels" in errors[2] and "is a str" in errors[4]
    good = am.embed(tiny, ds.subset([0, 1, 3, 5]), cache=False, progress=False)
    np.testing.assert_allclose(emb["image"], good["image"], atol=1e-6)
    np.testing.assert_allclose(emb["text"], good["text"], atol=1e-6)


def _poisoned(bad_rows: dict[int, float], calls: list[int] | None = None):
    """A text/image encoder whose output for the items listed in bad_rows is that value."""

    def image(items):
        if calls is not None:
            calls.append(len(items))
        return np.stack([np.asarray(x, np.float32).mean(axis=(0, 1)) + 1 for x in items])

    def text(items):
        rows = []
        for t in items:
            key = int(t.split()[-1])
            value = bad_rows.get(key)
            rows.append(np.full(3, value, np.float32) if value is not None
                        else np.array([key + 1, 1.0, 2.0], np.float32))
        return np.stack(rows)

    return CallableEncoder({"image": image, "text": text}, fingerprint="poisoned-v1")


class Numbered(SyntheticShapes):
    """Captions end with the pair's index, so the encoder above can poison chosen pairs."""

    def _item(self, modality, i):
        if modality == "text":
            return f"pair {i}"
        return super()._item(modality, i)


@pytest.mark.parametrize("cache", [False, True])
def test_nan_inf_zero_rows_are_skipped_by_item_index_and_never_cached(tmp_path, cache):
    ds = Numbered(12, seed=0, image_size=16)
    bad = {3: np.nan, 7: np.inf, 8: 0.0}
    calls: list[int] = []
    with pytest.warns(SkippedPairsWarning, match=r"3 of 12 pairs skipped.*item 3.*NaN/Inf"):
        emb = am.embed(_poisoned(bad, calls), ds, progress=False, cache=cache,
                       cache_dir=tmp_path, chunk_size=5, batch_size=3)
    assert emb.meta["item"].tolist() == [i for i in range(12) if i not in bad]
    reasons = {s["item"]: s["error"] for s in emb.skipped}
    assert set(reasons) == {3, 7, 8}
    assert "NaN/Inf" in reasons[3] and "NaN/Inf" in reasons[7] and "all-zero" in reasons[8]
    assert all(s["modality"] == "text" for s in emb.skipped)
    assert np.isfinite(emb["text"]).all()
    if cache:
        # the cached chunks hold no bad row: rerun from the cache, no encoder call
        for path in (tmp_path / "embeddings").rglob("chunk-*.npz"):
            with np.load(path) as archive:
                assert np.isfinite(archive["emb:text"]).all()
        calls.clear()
        with pytest.warns(SkippedPairsWarning):
            again = am.embed(_poisoned(bad, calls), ds, progress=False, cache_dir=tmp_path,
                             chunk_size=5, batch_size=3)
        assert calls == [] and again.provenance["from_cache"] == 12
        np.testing.assert_array_equal(again["text"], emb["text"])


def test_a_cached_chunk_with_nan_rows_from_an_older_amumo_is_recomputed(tmp_path):
    from pathlib import Path

    from amumo.embeddings.cache import CacheWarning, Chunk

    ds = Numbered(6, seed=0, image_size=16)
    bad = {2: np.nan}
    with pytest.warns(SkippedPairsWarning):
        emb = am.embed(_poisoned(bad), ds, progress=False, cache_dir=tmp_path)
    folder = Path(emb.provenance["cache"])
    store = ChunkCache(folder.parent.parent, folder.name, {}, ("image", "text"))
    good = store.load(0, 6)
    text = good.arrays["text"].copy()
    text[2] = np.nan  # what amumo 0.1 cached: the NaN row, marked ok
    store.save(0, Chunk(0, np.ones(6, dtype=bool), {"image": good.arrays["image"],
                                                     "text": text}))
    with pytest.warns(CacheWarning, match="NaN/Inf or all-zero rows"), \
            pytest.warns(SkippedPairsWarning, match="item 2"):
        again = am.embed(_poisoned(bad), ds, progress=False, cache_dir=tmp_path)
    np.testing.assert_array_equal(again["text"], emb["text"])


def test_parquet_path_column_fingerprint_covers_the_images(tiny, tmp_path):
    (tmp_path / "imgs").mkdir()
    for name, colour in (("a.png", "red"), ("b.png", "green")):
        (tmp_path / "imgs" / name).write_bytes(_png(colour))
    path = tmp_path / "pairs.parquet"
    pd.DataFrame({"path": ["imgs/a.png", "imgs/b.png"], "caption": ["a", "b"]}).to_parquet(path)
    before = ImageTextParquet(path)
    first = am.embed(tiny, before, progress=False, cache_dir=tmp_path / "c")
    # edit one referenced image (content and mtime change, the Parquet file does not)
    (tmp_path / "imgs" / "b.png").write_bytes(_png("yellow", size=(24, 24)))
    os.utime(tmp_path / "imgs" / "b.png", ns=(1, 10**18))
    after = ImageTextParquet(path)
    assert after.fingerprint != before.fingerprint
    second = am.embed(tiny, after, progress=False, cache_dir=tmp_path / "c")
    assert second.provenance["from_cache"] == 0
    np.testing.assert_allclose(second["image"][0], first["image"][0], atol=1e-6)
    assert not np.allclose(second["image"][1], first["image"][1], atol=1e-3)
    # struct cells holding only a path are covered too
    structs = tmp_path / "structs.parquet"
    pd.DataFrame({"image": [{"bytes": None, "path": "imgs/a.png"}],
                  "caption": ["a"]}).to_parquet(structs)
    fp = ImageTextParquet(structs).fingerprint
    os.utime(tmp_path / "imgs" / "a.png", ns=(1, 2 * 10**18))
    assert ImageTextParquet(structs).fingerprint != fp


def test_unusable_cache_dir_fails_before_any_work(tmp_path, monkeypatch):
    ds = Numbered(4, image_size=16)
    calls: list[int] = []
    enc = _poisoned({}, calls)
    with pytest.raises(CacheDirError, match=r"cache_dir='' is an empty path.*cache=False"):
        am.embed(enc, ds, cache_dir="", progress=False)
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    with pytest.raises(CacheDirError, match=r"is a file, not a folder.*cache_dir=.*cache=False"):
        am.embed(enc, ds, cache_dir=a_file, progress=False)
    with pytest.raises(CacheDirError, match="is a file"):
        am.embed(enc, ds, cache_dir=a_file / "below", progress=False)
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(a_file))
    with pytest.raises(CacheDirError, match=r"from \$AMUMO_CACHE_DIR"):
        am.embed(enc, ds, progress=False)
    monkeypatch.delenv("AMUMO_CACHE_DIR")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("amumo.embeddings.cache.tempfile.mkstemp", refuse)
    with pytest.raises(CacheDirError, match=r"not writable.*Permission denied.*cache=False"):
        am.embed(enc, ds, cache_dir=tmp_path / "ro", progress=False)
    assert calls == []  # nothing was encoded
    # cache=False ignores cache_dir
    assert len(am.embed(enc, ds, cache=False, cache_dir="", progress=False)) == 4


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="root writes into read-only folders; covered by the probe test above")
def test_read_only_cache_dir_for_real(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(CacheDirError, match="not writable"):
            am.embed(_poisoned({}), Numbered(3, image_size=16), cache_dir=ro, progress=False)
    finally:
        ro.chmod(0o755)


def test_a_complete_read_only_cache_is_still_read(tmp_path, monkeypatch):
    ds = Numbered(4, image_size=16)
    first = am.embed(_poisoned({}), ds, cache_dir=tmp_path, progress=False)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ChunkCache, "check_writable", refuse)
    again = am.embed(_poisoned({}), ds, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again["image"], first["image"])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_cache_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        am.embed(_poisoned({}), Numbered(3, image_size=16), cache_dir=tmp_path, progress=False)
    finally:
        os.umask(old)
    files = list((tmp_path / "embeddings").rglob("*.*"))
    assert {p.suffix for p in files} == {".json", ".npz"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}


def test_null_caption_in_jsonl_is_a_clear_error(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(_png("red"))
    lines = [json.dumps({"file": "a.png", "caption": "fine"}), "",
             json.dumps({"file": "b.png", "caption": None}),
             json.dumps({"file": "c.png"})]
    (tmp_path / "captions.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"captions\.jsonl, lines 3, 4: the caption "
                                         r"\('caption'\) is null or absent"):
        ImageTextFolder(tmp_path)
    (tmp_path / "captions.jsonl").write_text(
        "\n".join([lines[0], json.dumps({"file": None, "caption": "x"})]) + "\n")
    with pytest.raises(ValueError, match="line 2: the image file"):
        ImageTextFolder(tmp_path)
    (tmp_path / "captions.jsonl").write_text(
        json.dumps({"file": "a.png", "caption": ["a", "list"]}) + "\n")
    with pytest.raises(ValueError, match="line 1: the caption .* is a list"):
        ImageTextFolder(tmp_path)
