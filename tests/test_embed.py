"""am.embed: shapes, determinism, cache speed, resume, corrupt-cache recovery, skipping, errors."""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import amumo as am
from amumo.data import Augmented, ImageTextFolder, SyntheticShapes
from amumo.embeddings.cache import CacheWarning
from amumo.embeddings.pipeline import SkippedPairsWarning
from amumo.models import CallableEncoder, Precomputed

pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def tiny():
    return am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0)


class Counting:
    """Wraps an encoder: counts encoded items, optionally interrupts on the k-th call."""

    def __init__(self, inner, interrupt_on_call=None):
        self.inner = inner
        self.items = 0
        self.calls = 0
        self.interrupt_on_call = interrupt_on_call
        self.name = inner.name
        self.modalities = inner.modalities
        self.fingerprint = inner.fingerprint

    def encode(self, modality, items, batch_size=64):
        self.calls += 1
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt("simulated Ctrl-C")
        self.items += len(items)
        return self.inner.encode(modality, items, batch_size=batch_size)


def test_shapes_meta_provenance(tiny, tmp_path):
    ds = SyntheticShapes(40, seed=1)
    emb = am.embed(tiny, ds, batch_size=16, progress=False, cache_dir=tmp_path)
    assert isinstance(emb, am.Embeddings)
    assert emb.modalities == ("image", "text") and len(emb) == 40 and emb.dim == 64
    assert emb["image"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb["text"], axis=1), 1, atol=1e-5)
    assert emb.meta["caption"].tolist() == ds.captions
    assert emb.meta["item"].tolist() == list(range(40))
    assert emb.meta["id"].tolist() == ds.meta["id"].tolist()
    prov = emb.provenance
    assert prov["model"] == tiny.name and prov["dataset"] == ds.name
    assert prov["encoder_fingerprint"] == tiny.fingerprint
    assert prov["dataset_fingerprint"] == ds.fingerprint
    assert prov["skipped"] == [] and emb.skipped == [] and prov["created"]
    # the embedding equals the encoder's own output (normalised)
    direct = tiny.encode("text", ds.captions)
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    np.testing.assert_allclose(emb["text"], direct, atol=1e-5)


def test_deterministic_and_any_n(tiny, tmp_path):
    ds = SyntheticShapes(37, seed=2)
    a = am.embed(tiny, ds, cache=False, progress=False, chunk_size=16, batch_size=8)
    b = am.embed(tiny, ds, cache=False, progress=False, chunk_size=1000, batch_size=37)
    assert len(a) == 37  # not truncated to a multiple of the chunk or batch size
    np.testing.assert_allclose(a["image"], b["image"], atol=1e-5)
    c = am.embed(tiny, ds, progress=False, cache_dir=tmp_path, chunk_size=16)
    d = am.embed(tiny, ds, progress=False, cache_dir=tmp_path, chunk_size=16)
    np.testing.assert_array_equal(c["image"], d["image"])
    assert len(list((tmp_path / "embeddings").rglob("chunk-*.npz"))) == 3


def test_cache_hit_is_much_faster(tiny, tmp_path):
    ds = SyntheticShapes(96, seed=3)
    start = time.perf_counter()
    miss = am.embed(tiny, ds, progress=False, cache_dir=tmp_path)
    t_miss = time.perf_counter() - start
    counting = Counting(tiny)
    start = time.perf_counter()
    hit = am.embed(counting, ds, progress=False, cache_dir=tmp_path)
    t_hit = time.perf_counter() - start
    assert counting.calls == 0
    assert hit.provenance["from_cache"] == 96
    np.testing.assert_array_equal(hit["image"], miss["image"])
    assert t_miss > 10 * t_hit, (t_miss, t_hit)
    # a fresh encoder object with the same fingerprint hits too, without building its model
    fresh = am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0)
    am.embed(fresh, ds, progress=False, cache_dir=tmp_path)
    assert fresh._model is None
    # another seed is another model: a miss
    other = Counting(am.models.OpenCLIP("amumo-tiny", device="cpu", seed=9))
    am.embed(other, ds, progress=False, cache_dir=tmp_path)
    assert other.items == 2 * 96


def test_env_var_sets_cache_dir(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path / "envcache"))
    emb = am.embed(tiny, SyntheticShapes(5), progress=False)
    assert emb.provenance["cache"].startswith(str(tmp_path / "envcache"))
    assert list((tmp_path / "envcache" / "embeddings").rglob("manifest.json"))


def test_resume_after_interruption(tiny, tmp_path):
    ds = SyntheticShapes(70, seed=4)
    reference = am.embed(tiny, ds, cache=False, progress=False)
    # chunk 0 = 2 calls (image, text), chunk 1 = 2 calls; stop in chunk 2's text call
    interrupted = Counting(tiny, interrupt_on_call=6)
    with pytest.raises(KeyboardInterrupt):
        am.embed(interrupted, ds, progress=False, cache_dir=tmp_path, chunk_size=16)
    chunks = sorted((tmp_path / "embeddings").rglob("chunk-*.npz"))
    assert [p.name[:12] for p in chunks] == ["chunk-000000", "chunk-000001"]
    assert not list((tmp_path / "embeddings").rglob("*.tmp"))
    resumed = Counting(tiny)
    emb = am.embed(resumed, ds, progress=False, cache_dir=tmp_path, chunk_size=16)
    assert resumed.items == 2 * (70 - 32)  # only the unfinished chunks were encoded
    assert emb.provenance["from_cache"] == 32
    np.testing.assert_allclose(emb["image"], reference["image"], atol=1e-5)
    np.testing.assert_allclose(emb["text"], reference["text"], atol=1e-5)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_cache_chunk_is_detected_and_recomputed(tiny, tmp_path, damage):
    ds = SyntheticShapes(40, seed=5)
    good = am.embed(tiny, ds, progress=False, cache_dir=tmp_path, chunk_size=16)
    chunk = sorted((tmp_path / "embeddings").rglob("chunk-000001-*.npz"))[0]
    data = bytearray(chunk.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray(b"\x00" * len(data))
    chunk.write_bytes(bytes(data))
    counting = Counting(tiny)
    with pytest.warns(CacheWarning, match="chunk-000001"):
        again = am.embed(counting, ds, progress=False, cache_dir=tmp_path, chunk_size=16)
    assert counting.items == 2 * 16  # only the damaged chunk was recomputed
    np.testing.assert_allclose(again["image"], good["image"], atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: no warning any more
        am.embed(tiny, ds, progress=False, cache_dir=tmp_path, chunk_size=16)


def _png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_bad_images_are_skipped_in_every_modality(tiny, tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    colours = ["red", "green", "blue", "white", "black", "purple"]
    for c in colours:
        (root / f"{c}.png").write_bytes(_png(c))
    (root / "blue.png").write_bytes(b"this is not a png")
    (root / "black.png").write_bytes(_png("black")[:40])  # truncated
    pd.DataFrame({"file": [f"{c}.png" for c in colours],
                  "caption": [f"a {c} square" for c in colours]}).to_csv(
        root / "captions.csv", index=False)
    ds = ImageTextFolder(root)
    with pytest.warns(SkippedPairsWarning, match=r"2 of 6 pairs skipped.*blue\.png.*black\.png"):
        emb = am.embed(tiny, ds, progress=False, cache_dir=tmp_path / "cache", chunk_size=4)
    assert len(emb) == 4
    assert emb.meta["caption"].tolist() == [f"a {c} square" for c in
                                           ("red", "green", "white", "purple")]
    assert emb.meta["item"].tolist() == [0, 1, 3, 5]
    skipped = emb.provenance["skipped"]
    assert [s["item"] for s in skipped] == [2, 4] and emb.skipped == skipped
    assert {s["modality"] for s in skipped} == {"image"}
    assert skipped[0]["id"] == "blue.png"
    # text rows stay aligned with their images
    good = am.embed(tiny, ds.subset([0, 1, 3, 5]), cache=False, progress=False)
    np.testing.assert_allclose(emb["text"], good["text"], atol=1e-5)
    np.testing.assert_allclose(emb["image"], good["image"], atol=1e-5)
    # from cache the skipped pairs are reported again
    with pytest.warns(SkippedPairsWarning):
        cached = am.embed(tiny, ds, progress=False, cache_dir=tmp_path / "cache", chunk_size=4)
    assert cached.provenance["from_cache"] == 6 and len(cached) == 4
    # all unreadable -> clear error
    with pytest.raises(ValueError, match="none of the 2 pairs could be read"):
        am.embed(tiny, ds.subset([2, 4]), progress=False, cache=False)


def test_filtered_views_and_augmented_meta(tiny, tmp_path):
    ds = SyntheticShapes(60, seed=6)
    full = am.embed(tiny, ds, progress=False, cache_dir=tmp_path)
    red = ds.filter(text_contains=["red"])
    emb = am.embed(tiny, red, progress=False, cache_dir=tmp_path)
    idx = [i for i, c in enumerate(ds.captions) if "red" in c]
    assert emb.meta["index"].tolist() == idx
    assert emb.meta["item"].tolist() == list(range(len(idx)))
    np.testing.assert_allclose(emb["text"], full["text"][idx], atol=1e-5)
    rot = Augmented(ds, "rotate", levels=8, items=[0])
    emb_rot = am.embed(tiny, rot, progress=False, cache_dir=tmp_path)
    assert emb_rot.meta["level"].tolist() == list(np.linspace(0, 360, 8, endpoint=False))
    assert emb_rot.meta["augmentation"].unique().tolist() == ["rotate"]
    np.testing.assert_allclose(emb_rot["image"][0], full["image"][0], atol=1e-5)  # level 0
    assert not np.allclose(emb_rot["image"][2], full["image"][0], atol=1e-3)
    # other augmentation parameters are other cache entries
    emb_rot2 = am.embed(tiny, Augmented(ds, "rotate", levels=8, seed=1, items=[0]),
                        progress=False, cache_dir=tmp_path)
    assert emb_rot2.provenance["cache"] != emb_rot.provenance["cache"]


def test_precomputed_and_callable_through_embed(tiny, tmp_path):
    ds = SyntheticShapes(30, seed=7)
    full = am.embed(tiny, ds, progress=False, cache=False)
    pre = Precomputed(full)
    same = am.embed(pre, ds, progress=False, cache_dir=tmp_path)
    np.testing.assert_allclose(same["image"], full["image"], atol=1e-6)
    assert not (tmp_path / "embeddings").exists()  # Precomputed is never cached
    view = ds.filter(["circle"])
    sub = am.embed(pre, view, progress=False)  # rows looked up by original index
    np.testing.assert_allclose(sub["text"], full["text"][view.meta["index"]], atol=1e-6)
    with pytest.raises(ValueError, match="has 30 rows but the dataset has 5"):
        am.embed(pre, SyntheticShapes(5), progress=False)
    fn = CallableEncoder({"image": lambda xs: np.ones((len(xs), 3)) + np.arange(3),
                          "text": lambda xs: np.ones((len(xs), 3))})
    with pytest.warns(UserWarning, match="no fingerprint"):
        emb = am.embed(fn, ds, progress=False, cache_dir=tmp_path)
    assert len(emb) == 30 and not (tmp_path / "embeddings").exists()
    fn_fp = CallableEncoder({"image": lambda xs: np.ones((len(xs), 3)) + np.arange(3),
                             "text": lambda xs: np.ones((len(xs), 3))}, fingerprint="const")
    am.embed(fn_fp, ds, progress=False, cache_dir=tmp_path)
    assert (tmp_path / "embeddings").exists()


def test_progress_bar(tiny, capsys):
    am.embed(tiny, SyntheticShapes(8), progress=True, cache=False)
    err = capsys.readouterr().err
    assert "8/8" in err and "pair" in err
    am.embed(tiny, SyntheticShapes(8), progress=False, cache=False)
    assert capsys.readouterr().err == ""


def test_clear_errors(tiny):
    ds = SyntheticShapes(10)
    with pytest.raises(ValueError, match="has no pairs"):
        am.embed(tiny, ds.filter(["zebra"]), progress=False, cache=False)
    with pytest.raises(ValueError, match="unknown modality 'audio'"):
        am.embed(tiny, ds, modalities=["image", "audio"], progress=False, cache=False)
    with pytest.raises(TypeError, match="single string"):
        am.embed(tiny, ds, modalities="image", progress=False, cache=False)
    with pytest.raises(ValueError, match="at least two modalities"):
        am.embed(tiny, ds, modalities=["image"], progress=False, cache=False)
    audio = CallableEncoder({"image": lambda xs: np.ones((len(xs), 2)),
                             "audio": lambda xs: np.ones((len(xs), 2))})
    with pytest.raises(ValueError, match=r"modality mismatch.*missing \['text'\]"):
        am.embed(audio, ds, progress=False, cache=False)
    with pytest.raises(TypeError, match="encoder is a str"):
        am.embed("ViT-B-32", ds)
    with pytest.raises(TypeError, match="dataset is a list"):
        am.embed(tiny, [1, 2, 3])
    with pytest.raises(ValueError, match="batch_size"):
        am.embed(tiny, ds, batch_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        am.embed(tiny, ds, chunk_size=0)
    wrong = CallableEncoder({"image": lambda xs: np.ones((1, 2)),
                             "text": lambda xs: np.ones((len(xs), 2))})
    with pytest.raises(ValueError, match="one row per item"):
        am.embed(wrong, ds, progress=False, cache=False)
