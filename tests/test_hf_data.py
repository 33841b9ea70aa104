"""am.data.HuggingFaceDataset on tables built by the test (Dataset.from_dict with generated
images and tones; no Hub access): lazy decoding, meta, splits, streams copied and resumed."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import amumo as am  # noqa: E402
from amumo.data import HuggingFaceDataset, SyntheticShapes, SyntheticShapesAudio  # noqa: E402
from amumo.data.base import UnreadableItemError  # noqa: E402


def _png(image) -> dict:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


@pytest.fixture(scope="module")
def shapes():
    return SyntheticShapes(12, seed=4)


@pytest.fixture(scope="module")
def table(shapes):
    labels = datasets.ClassLabel(names=["circle", "square", "triangle", "star"])
    return datasets.Dataset.from_dict({
        "image": [_png(shapes.item("image", i)) for i in range(len(shapes))],
        "caption": shapes.captions,
        "score": np.linspace(0, 1, len(shapes)),
        "shape": [labels.str2int(s) for s in shapes.meta["shape"]],
        "tags": [[i, i + 1] for i in range(len(shapes))],
    }).cast_column("image", datasets.Image()).cast_column("shape", labels)


def test_items_meta_and_fingerprint(table, shapes):
    ds = HuggingFaceDataset(table)
    assert len(ds) == 12 and ds.modalities == ("image", "text")
    for i in (0, 5, 11):
        np.testing.assert_array_equal(np.asarray(ds.item("image", i)),
                                      np.asarray(shapes.item("image", i)))
        assert ds.item("text", i) == shapes.captions[i]
    assert ds.meta.columns.tolist() == ["id", "caption", "score", "shape"]
    assert ds.meta["shape"].tolist() == shapes.meta["shape"].tolist()  # class names
    assert ds.skipped_meta == ["tags"] and ds.meta["id"].iloc[3] == "row-3"
    assert HuggingFaceDataset(table).fingerprint == ds.fingerprint
    assert HuggingFaceDataset(table, n=5).fingerprint != ds.fingerprint
    assert len(HuggingFaceDataset(table, n=5)) == 5
    other = table.map(lambda r: {"caption": r["caption"].upper()})
    assert HuggingFaceDataset(other).fingerprint != ds.fingerprint
    assert HuggingFaceDataset(table, meta=["tags"]).meta.columns.tolist() == [
        "id", "caption", "tags"]
    # the caption filter and subsets work as on every amumo dataset
    red = ds.filter(text_contains="red")
    assert all("red" in c for c in red.captions)


def test_images_are_decoded_only_when_asked(table, monkeypatch):
    import amumo.data.huggingface as module

    calls = []
    original = module.decode_image
    monkeypatch.setattr(module, "decode_image", lambda *a: calls.append(1) or original(*a))
    ds = HuggingFaceDataset(table)
    _ = ds.meta, ds.captions, ds.fingerprint
    assert calls == []
    ds.item("image", 2)
    assert calls == [1]


def test_corrupt_image_is_a_skipped_pair(table, tmp_path):
    broken = table.cast_column("image", datasets.Image(decode=False)).map(
        lambda r, i: {"image": {"bytes": b"not a png" if i == 3 else r["image"]["bytes"],
                                "path": None}}, with_indices=True)
    ds = HuggingFaceDataset(broken.cast_column("image", datasets.Image()))
    with pytest.raises(UnreadableItemError, match="row 3"):
        ds.item("image", 3)
    enc = am.models.ShapesEncoder(seed=0)
    with pytest.warns(am.embeddings.SkippedPairsWarning, match="item 3"):
        emb = am.embed(enc, ds, cache_dir=tmp_path, progress=False)
    assert len(emb) == 11 and 3 not in emb.meta["item"].tolist()


def test_splits_columns_and_captions(table):
    dd = datasets.DatasetDict({"train": table, "validation": table.select(range(4))})
    with pytest.raises(ValueError, match=r"splits \['train', 'validation'\]"):
        HuggingFaceDataset(dd)
    assert len(HuggingFaceDataset(dd, split="validation")) == 4
    with pytest.raises(ValueError, match="no column"):
        HuggingFaceDataset(table, text="prompt")
    many = datasets.Dataset.from_dict({"image": table.cast_column(
        "image", datasets.Image(decode=False))["image"][:3],
        "sentences": [["first a", "second a"], ["first b"], ["first c", "second c"]]}).cast_column(
        "image", datasets.Image())
    ds = HuggingFaceDataset(many, text="sentences", caption_index=1)
    assert ds.captions == ["second a", "first b", "second c"]
    empty = many.map(lambda r, i: {"sentences": [""] if i == 1 else r["sentences"]},
                     with_indices=True)
    with pytest.raises(ValueError, match=r"empty at rows \[1\]"):
        HuggingFaceDataset(empty, text="sentences")


def test_embeds_with_a_tiny_transformers_clip(table, tmp_path):
    pytest.importorskip("transformers")
    model, processor = am.models.tiny_hf_clip(seed=0)
    enc = am.models.HuggingFace(model, processor)
    ds = HuggingFaceDataset(table)
    emb = am.embed(enc, ds, cache_dir=tmp_path, progress=False, batch_size=5)
    assert len(emb) == 12 and emb.meta["score"].tolist() == table["score"][:]
    direct = enc.encode("image", [ds.item("image", i) for i in range(12)])
    np.testing.assert_allclose(emb["image"], direct / np.linalg.norm(direct, axis=1)[:, None],
                               atol=1e-6)
    # the Explorer previews the table's images (decoded on hover) and its meta row
    explorer = am.Explorer(emb, dataset=ds, encoder=enc)
    reply, buffers = explorer._request_item({"pair": 2, "modality": "image"})
    assert reply.get("mime", "").startswith("image/") and len(buffers[0]) > 100
    fields = explorer._request_item({"pair": 2})[0]["fields"]
    assert fields["caption"] == table["caption"][2]
    assert fields["score"] == pytest.approx(table["score"][2], abs=1e-6)


def test_audio_text_table_matches_the_synthetic_dataset(tmp_path):
    source = SyntheticShapesAudio(6, seed=2)
    table = datasets.Dataset.from_dict({
        "audio": [{"bytes": source.item("audio", i).to_wav(), "path": None} for i in range(6)],
        "text": source.captions,
    }).cast_column("audio", datasets.Audio())
    ds = HuggingFaceDataset(table, image=None, text="text", audio="audio")
    assert ds.modalities == ("text", "audio")
    clip = ds.item("audio", 1)
    original = source.item("audio", 1)
    assert clip.sample_rate == original.sample_rate
    np.testing.assert_allclose(clip.samples, original.samples, atol=1 / 32767 + 1e-6)
    enc = am.models.ShapesEncoder(seed=0)
    got = am.embed(enc, ds, cache=False, progress=False)
    want = am.embed(enc, source, modalities=["text", "audio"], cache=False, progress=False)
    np.testing.assert_array_equal(got["text"], want["text"])
    # the audio went through 16-bit WAV: the same rows as the source's clips read back
    heard = [am.data.Audio(*am.data.audio.mono_waveform(source.item("audio", i).to_wav()))
             for i in range(6)]
    rows = enc.encode("audio", heard)
    np.testing.assert_allclose(got["audio"], rows / np.linalg.norm(rows, axis=1)[:, None],
                               atol=1e-6)
    with pytest.raises(ValueError, match="image= or audio="):
        HuggingFaceDataset(table, image=None, text="text")


def _stream(table, fail_after=None, seen=None):
    rows = table.cast_column("image", datasets.Image(decode=False))

    def generate():
        for i, row in enumerate(rows):
            if seen is not None:
                seen.append(i)
            if fail_after is not None and i == fail_after:
                raise KeyboardInterrupt  # the user interrupts the copy
            yield row

    return datasets.IterableDataset.from_generator(generate, features=table.features)


def test_stream_first_n_rows_copied_once_and_resumed(table, shapes, tmp_path):
    with pytest.raises(ValueError, match="pass n="):
        HuggingFaceDataset(table.to_iterable_dataset())
    with pytest.raises(KeyboardInterrupt):
        HuggingFaceDataset(_stream(table, fail_after=7), n=10, part_size=3,
                           cache_dir=tmp_path, progress=False)
    parts = sorted(p.name for p in (tmp_path / "hf-stream").glob("*/part-*"))
    assert parts == ["part-000000", "part-000001"]  # 6 rows kept; no half-written part
    first_part = next((tmp_path / "hf-stream").glob("*/part-000000"))
    stamp = first_part.stat().st_mtime_ns
    ds = HuggingFaceDataset(_stream(table), n=10, part_size=3, cache_dir=tmp_path,
                            progress=False)
    assert len(ds) == 10 and first_part.stat().st_mtime_ns == stamp
    for i in (0, 6, 9):
        np.testing.assert_array_equal(np.asarray(ds.item("image", i)),
                                      np.asarray(shapes.item("image", i)))
    assert ds.captions == shapes.captions[:10]
    again = HuggingFaceDataset(_stream(table), n=10, part_size=3, cache_dir=tmp_path,
                               progress=False)
    assert again.fingerprint == ds.fingerprint
    assert len(HuggingFaceDataset(_stream(table), n=50, cache_dir=tmp_path,
                                  progress=False)) == 12  # a shorter stream: all its rows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb = am.embed(am.models.ShapesEncoder(seed=0), ds, cache_dir=tmp_path, progress=False)
    assert len(emb) == 10
