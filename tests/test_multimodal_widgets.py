"""Widgets with more than two modalities, Python side: the Explorer's gap pair,
audio and molecule previews, cluster by modality with named clusters, GapMatrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets

import amumo as am
from amumo.data import BaseDataset, SyntheticShapesAudio
from amumo.models import ShapesEncoder


@pytest.fixture(scope="module")
def shapes3() -> tuple[am.Embeddings, SyntheticShapesAudio]:
    ds = SyntheticShapesAudio(48, seed=0)
    enc = ShapesEncoder()
    arrays = {m: enc.encode(m, [ds.item(m, i) for i in range(len(ds))]) for m in ds.modalities}
    return am.Embeddings.from_arrays(arrays, meta=ds.meta), ds


def test_explorer_acts_on_the_picked_pair(shapes3):
    emb, ds = shapes3
    ex = am.Explorer(emb, dataset=ds)
    assert ex.metrics["pair"] == ["image", "text"]
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    assert rows["gap_distance"]["before"] == pytest.approx(am.gap_distance(emb, "image", "text"))
    matrix = ex.metrics["gap_matrix"]
    assert matrix["modalities"] == ["image", "text", "audio"]
    np.testing.assert_allclose(matrix["before"], am.gap_matrix(emb).to_numpy(), atol=1e-6)

    ex.gap_pair = ["audio", "image"]
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    assert rows["gap_distance"]["before"] == pytest.approx(am.gap_distance(emb, "audio", "image"))
    assert "recall@1:audio->image" in rows
    ex.lam = 0.5
    np.testing.assert_array_equal(ex.embeddings["text"], emb["text"])  # others untouched
    assert am.gap_distance(ex.embeddings, "audio", "image") < am.gap_distance(emb, "audio", "image")
    ex.closed = True
    now = np.asarray(ex.metrics["gap_matrix"]["now"])
    assert now[2, 0] < 1e-3 and now[0, 1] > 0.3
    with pytest.raises(traitlets.TraitError, match="two different modalities"):
        ex.gap_pair = ["audio", "audio"]
    with pytest.raises(traitlets.TraitError, match="two different modalities"):
        ex.gap_pair = ["image", "video"]
    ex.gap_pair = []
    assert ex.metrics["pair"] == ["image", "text"]


def test_two_modalities_have_no_gap_matrix_panel():
    ex = am.Explorer(am.datasets.clip_coco500())
    assert ex.metrics["pair"] == ["image", "text"] and "gap_matrix" not in ex.metrics


def test_audio_items_preview_as_wav_on_demand(shapes3):
    emb, ds = shapes3
    ex = am.Explorer(emb, dataset=ds)
    assert ex.kinds["audio"] == "audio" and ex.media["audio"] is True
    assert "audio" not in str(ex.get_state().get("texts", b""))  # nothing sent up front
    reply, buffers = ex._request_item({"pair": 5, "modality": "audio"})
    assert reply == {"mime": "audio/wav", "duration": 0.8}
    assert buffers[0] == ds.item("audio", 5).to_wav()
    from amumo.widgets._media import media_reply

    long_reply, long_data = media_reply("audio", (np.zeros(8000 * 45), 8000))
    assert long_reply["duration"] == 30.0 and long_reply["full_duration"] == 45.0  # said
    assert len(long_data[0]) == 44 + 30 * 8000 * 2
    # without a dataset, audio embeddings have nothing to play
    plain = am.Preview(emb)
    assert plain.kinds["audio"] == "audio" and plain.media["audio"] is False


class _Molecules(BaseDataset):
    """Two pairs of microscopy-like images and molecules given as SMILES (CLOOME)."""

    modalities = ("image", "molecule")
    _smiles = ("CCO", "c1ccccc1O")

    def __len__(self) -> int:
        return 2

    def _item(self, modality: str, i: int):
        if modality == "molecule":
            return self._smiles[i]
        return np.full((8, 8, 3), 40 * (i + 1), dtype=np.uint8)

    def _build_meta(self) -> pd.DataFrame:
        return pd.DataFrame({"compound": ["ethanol", "phenol"]})

    def _fingerprint_parts(self) -> list:
        return [1]


def test_molecules_preview_as_smiles_text():
    ds = _Molecules()
    rng = np.random.default_rng(0)
    emb = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(2, 8)), "molecule": rng.normal(size=(2, 8))}, meta=ds.meta
    )
    preview = am.Preview(emb, dataset=ds)
    assert preview.kinds["molecule"] == "molecule" and preview.media["molecule"]
    reply, buffers = preview._request_item({"pair": 1, "modality": "molecule"})
    assert reply["text"] == "c1ccccc1O"
    try:
        import rdkit  # noqa: F401
    except ImportError:
        assert buffers == [] and "mime" not in reply
    else:  # pragma: no cover - optional
        assert reply["mime"] == "image/png" and buffers[0][:4] == b"\x89PNG"


def test_cluster_by_a_modality_and_cluster_names(shapes3):
    emb, ds = shapes3
    heat = am.Heatmap(emb, dataset=ds, cluster=True, cluster_k=4, cluster_by="audio")
    labels = heat.cluster_labels
    names = heat.cluster_names
    assert len(names) == 4 and all(names) and heat.cluster_legend == names
    audio = emb["audio"]
    _, expected = am.cluster_order(np.clip(audio @ audio.T, -1, 1), method=heat.cluster_method,
                                   k=4)
    np.testing.assert_array_equal(labels, expected)
    assert names == am.cluster_names(ds.captions, labels)
    heat.cluster_by = "text"
    assert not np.array_equal(heat.cluster_labels, labels) or heat.cluster_names != names
    with pytest.raises(traitlets.TraitError, match="cluster_by='video'"):
        heat.cluster_by = "video"
    heat.cluster = False
    assert heat.cluster_labels is None and heat.cluster_names is None and heat.cluster_legend == []


def test_scatter_legend_names_clusters_on_coco():
    emb = am.datasets.clip_coco500()
    assert "caption" in emb.meta.columns, "clip_coco500 ships the 500 COCO captions"
    scatter = am.Scatter(emb, color_by="cluster", cluster_k=8, cluster_method="ward",
                         cluster_by="text")
    names = scatter.cluster_names
    labels = [item["label"] for item in scatter.legend["items"]]
    assert labels == [f"{k + 1} · {n}" for k, n in enumerate(names)]
    toilet = [n for n in names if "toilet" in n.split(" | ")]
    assert toilet, names


def test_unnamed_clusters_without_captions():
    rng = np.random.default_rng(1)
    emb = am.Embeddings.from_arrays({"a": rng.normal(size=(20, 4)), "b": rng.normal(size=(20, 4))})
    heat = am.Heatmap(emb, cluster=True, cluster_k=3)
    assert heat.cluster_names == ["cluster 1", "cluster 2", "cluster 3"]


def test_gap_matrix_widget(shapes3):
    emb, _ = shapes3
    gm = am.GapMatrix(emb)
    np.testing.assert_allclose(gm.values, am.gap_matrix(emb).to_numpy())
    gm.metric = "rmg"
    np.testing.assert_allclose(gm.values, am.gap_matrix(emb, "rmg").to_numpy())
    assert gm.frame().attrs["metric"] == "rmg"
    with pytest.raises(traitlets.TraitError, match="metric='cos'"):
        gm.metric = "cos"
    with pytest.raises(TypeError, match="metrc"):
        am.GapMatrix(emb, metrc="rmg")
    # A click in the GapMatrix can drive an Explorer's pair.
    ex = am.Explorer(emb)
    traitlets.dlink((gm, "picked"), (ex, "gap_pair"))
    gm.picked = ["text", "audio"]
    assert ex.metrics["pair"] == ["text", "audio"]


def test_gap_axis_follows_the_picked_pair(shapes3):
    emb, ds = shapes3
    ex = am.Explorer(emb, dataset=ds, projection="gap")
    n = len(emb)

    def centre_x() -> list[float]:
        x = np.frombuffer(ex.xy, "<f4").reshape(-1, 2)[:, 0]
        return [float(x[k * n : (k + 1) * n].mean()) for k in range(3)]

    image, text, audio = centre_x()
    assert image > 0.2 and text < -0.2 and abs(audio) < 0.2  # Δ = mean(image) - mean(text)
    ex.gap_pair = ["image", "audio"]
    image, text, audio = centre_x()
    assert image > 0.2 and audio < -0.2 and abs(text) < 0.2


def test_comparer_clusters_by_a_modality_with_names(shapes3):
    emb, ds = shapes3
    other = am.Embeddings.from_arrays({m: emb[m][:, ::-1] for m in emb.modalities}, meta=ds.meta)
    comp = am.Comparer({"a": emb, "b": other}, cluster=True, cluster_k=3, cluster_by="audio")
    audio = emb["audio"]
    _, expected = am.cluster_order(np.clip(audio @ audio.T, -1, 1), method=comp.cluster_method,
                                   k=3)
    np.testing.assert_array_equal(comp.cluster_labels, expected)
    assert comp.cluster_names == am.cluster_names(ds.captions, expected)
    comp.cluster = False
    assert comp.cluster_names is None and comp.cluster_legend == []


def test_audio_files_preview_as_they_are(tmp_path):
    from amumo.widgets._media import MAX_AUDIO_FILE, media_kind, media_reply

    clip = tmp_path / "clip.mp3"
    clip.write_bytes(b"ID3 fake mp3 bytes")
    assert media_kind("audio", str(clip)) == "audio"
    assert media_kind("text", str(clip)) is None  # a caption that ends in .mp3 stays text
    reply, data = media_reply("audio", str(clip))
    assert reply == {"mime": "audio/mpeg"} and data == [b"ID3 fake mp3 bytes"]
    big = tmp_path / "long.wav"
    with open(big, "wb") as f:
        f.truncate(MAX_AUDIO_FILE + 1)
    with pytest.raises(ValueError, match="MB"):
        media_reply("audio", big)
