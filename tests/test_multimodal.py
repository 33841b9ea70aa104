"""More than two modalities: gap matrix, M-way mitigation, the synthetic image/text/audio
dataset and encoder, WAV previews, cluster names (M-way close-gap: tests/test_gap_moves.py)."""

from __future__ import annotations

import io
import itertools
import wave

import numpy as np
import pytest

import amumo as am
from amumo.analysis.cluster_names import class_tfidf, cluster_terms, tokenize
from amumo.data import Audio, SyntheticShapes, SyntheticShapesAudio, wav_bytes
from amumo.data.audio import as_audio, is_audio
from amumo.models import ShapesEncoder
from amumo.models.synthetic import read_audio, read_caption, read_image


def _embed(encoder: ShapesEncoder, ds: SyntheticShapesAudio) -> am.Embeddings:
    """Encode every item directly (what am.embed does, without its cache)."""
    arrays = {
        m: encoder.encode(m, [ds.item(m, i) for i in range(len(ds))]) for m in ds.modalities
    }
    return am.Embeddings.from_arrays(arrays, meta=ds.meta)


@pytest.fixture(scope="module")
def three() -> am.Embeddings:
    return _embed(ShapesEncoder(seed=1), SyntheticShapesAudio(120, seed=4))


def _random3(seed: int = 0, n: int = 50, d: int = 16) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    return am.Embeddings.from_arrays({
        "image": rng.normal(size=(n, d)) + 2.0 * np.eye(d)[0],
        "text": rng.normal(size=(n, d)) - 2.0 * np.eye(d)[0],
        "audio": rng.normal(size=(n, d)) + 3.0 * np.eye(d)[1],
    })


# ----------------------------------------------------------------- gap matrix
@pytest.mark.parametrize("metric", ["gap_distance", "rmg"])
def test_gap_matrix_symmetric_zero_diagonal_and_equal_to_pairwise(metric, three):
    gm = am.gap_matrix(three, metric)
    assert list(gm.index) == list(gm.columns) == list(three.modalities)
    values = gm.to_numpy()
    np.testing.assert_array_equal(values, values.T)
    np.testing.assert_array_equal(np.diag(values), 0.0)
    fn = am.gap_distance if metric == "gap_distance" else am.rmg
    for a, b in itertools.permutations(three.modalities, 2):
        assert gm.loc[a, b] == pytest.approx(fn(three, a, b), rel=1e-12, abs=1e-12)
        assert gm.loc[a, b] > 0.05  # the synthetic encoder has a real gap between every pair
    assert gm.attrs["metric"] == metric


def test_gap_matrix_reference_on_clip_and_options():
    clip = am.datasets.clip_coco500()
    gm = am.gap_matrix(clip)
    assert gm.loc["image", "text"] == pytest.approx(0.8514, abs=1e-4)
    assert am.gap_matrix(clip, "rmg").loc["text", "image"] == pytest.approx(0.5915, abs=1e-4)
    emb = _random3()
    sub = am.gap_matrix(emb, modalities=["audio", "image"])
    assert list(sub.index) == ["audio", "image"]
    custom = am.gap_matrix(emb, lambda e, a, b: am.centroid_cosine(e, a, b))
    assert custom.loc["image", "audio"] == pytest.approx(am.centroid_cosine(emb, "image", "audio"))
    with pytest.raises(ValueError, match="metric='cosine'"):
        am.gap_matrix(emb, "cosine")
    with pytest.raises(ValueError, match="modalities='video'"):
        am.gap_matrix(emb, modalities=["image", "video"])
    with pytest.raises(TypeError, match="list"):
        am.gap_matrix(emb, modalities="image")


# ----------------------------------------------------------------- mitigation
# (shift / close_gap of M modalities: tests/test_gap_moves.py)
def test_mitigation_composes_with_m_way_close_gap():
    emb = _random3(2)
    before = am.gap_matrix(emb).to_numpy().max()
    for method in am.MITIGATIONS:
        mitigated = am.mitigate(emb, method, 1.0)
        assert mitigated.modalities == emb.modalities
        assert am.gap_matrix(mitigated).to_numpy().max() < before
        closed = am.close_gap(mitigated)
        assert am.gap_matrix(closed).to_numpy().max() < 1e-3
    # The full "shift" of mitigate is one step of close_gap: closing after it is quick.
    shifted = am.mitigate(emb, "shift", 1.0)
    steps = am.close_gap(emb).provenance["close_gap"]["iterations"]
    assert am.close_gap(shifted).provenance["close_gap"]["iterations"] <= steps


# ----------------------------------------------------------------- synthetic audio
def test_synthetic_three_modalities_are_seeded_and_consistent():
    a, b = SyntheticShapesAudio(10, seed=2), SyntheticShapesAudio(10, seed=2)
    shapes = SyntheticShapes(10, seed=2)
    assert a.fingerprint == b.fingerprint != shapes.fingerprint
    assert a.captions == shapes.captions
    np.testing.assert_array_equal(a.item("audio", 3).samples, b.item("audio", 3).samples)
    assert not np.array_equal(a.item("audio", 3).samples, a.item("audio", 4).samples)
    for i in range(10):
        heard = read_audio(a.item("audio", i))
        truth = a.meta.iloc[i]
        assert heard["colour"] == truth["colour"] and heard["shape"] == truth["shape"]
    assert {"pitch_hz", "beeps"} <= set(a.meta.columns)


def test_shapes_encoder_reads_concepts_and_gives_a_gap(three):
    ds = SyntheticShapesAudio(60, seed=9)
    hits = {"image": 0, "text": 0}
    for i in range(60):
        truth = ds.meta.iloc[i]
        seen = read_image(ds.item("image", i))
        hits["image"] += seen["shape"] == truth["shape"] and seen["colour"] == truth["colour"]
        hits["text"] += read_caption(ds.item("text", i))["shape"] == truth["shape"]
    assert hits["text"] == 60 and hits["image"] >= 54
    for a, b in itertools.combinations(three.modalities, 2):
        assert am.recall_at_k(three, 5, a, b)[5] > 0.3  # aligned concepts ...
        assert am.gap_distance(three, a, b) > 0.5  # ... in separate cones
    again = _embed(ShapesEncoder(seed=1), SyntheticShapesAudio(120, seed=4))
    np.testing.assert_array_equal(again["audio"], three["audio"])
    with pytest.raises(ValueError, match="dim"):
        ShapesEncoder(dim=4)
    with pytest.raises(ValueError, match="video"):
        ShapesEncoder(modalities=("video",))


def test_wav_bytes_round_trip_and_audio_forms():
    samples = np.sin(2 * np.pi * 440 * np.arange(4000) / 8000) * 0.5
    data = wav_bytes(Audio(samples, 8000))
    with wave.open(io.BytesIO(data)) as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (8000, 1, 2)
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    np.testing.assert_allclose(pcm / 32767, samples, atol=1e-4)
    assert wav_bytes((samples, 8000)) == data
    assert wav_bytes({"array": samples, "sampling_rate": 8000}) == data
    assert wav_bytes(data) == data
    loud = wav_bytes(Audio(samples * 4, 8000))
    assert np.abs(np.frombuffer(loud[44:], "<i2")).max() == 32767  # scaled, not clipped
    assert is_audio((samples, 8000)) and not is_audio("a caption") and as_audio(3) is None
    with pytest.raises(TypeError, match="not audio"):
        wav_bytes("a caption")
    with pytest.raises(ValueError, match="sample_rate"):
        Audio(samples, 2)
    with pytest.raises(ValueError, match="NaN"):
        Audio(np.array([0.0, np.nan]), 8000)


# ----------------------------------------------------------------- cluster names
def test_tokenize_and_class_tfidf_by_hand():
    assert tokenize("The CAT's toys, and 2 dogs!") == ["cat", "toys", "dogs"]
    texts = ["red apple", "red cherry", "red apple pie", "blue sky", "blue sea"]
    weights, vocab, df = class_tfidf(texts, [0, 0, 0, 1, 1], bigrams=False)
    j = {t: vocab.index(t) for t in vocab}
    # tf(red, 0) = 3/7 (7 terms in cluster 0), A = (7 + 4) / 2, f(red) = 3
    assert weights[0, j["red"]] == pytest.approx(3 / 7 * np.log1p(5.5 / 3))
    assert weights[1, j["blue"]] == pytest.approx(2 / 4 * np.log1p(5.5 / 2))
    assert weights[1, j["red"]] == 0 and df[0, j["apple"]] == 2


def test_cluster_names_on_a_small_corpus():
    texts = [
        "a white toilet in a small bathroom", "toilets next to a sink", "the toilet seat is up",
        "a dog runs on the grass", "two dogs play with a ball", "a brown dog sleeping",
        "a plane flying in the blue sky", "an airplane on the runway", "a plane takes off",
    ]
    labels = np.repeat([0, 1, 2], 3)
    names = am.cluster_names(texts, labels, n_terms=2)
    assert names[0].split(" | ")[0] == "toilet"  # "toilets" folded onto "toilet"
    assert names[1].split(" | ")[0] == "dog"
    assert names[2].split(" | ")[0] == "plane"
    assert all(len(n.split(" | ")) <= 2 for n in names)
    # min_df: a word of one caption cannot name a three-caption cluster
    assert "seat" not in names[0] and "runway" not in names[2]
    assert am.cluster_names(texts, labels, min_df=1, n_terms=9, separator="/")[0].count("/") > 2
    table = cluster_terms(texts, labels)
    assert list(table.columns) == ["cluster", "rank", "term", "score", "captions", "size"]
    assert am.cluster_names(["a", "b"], [0, 2]) == ["", "", ""]
    with pytest.raises(ValueError, match="one cluster label per text"):
        am.cluster_names(texts, [0, 1])
    with pytest.raises(TypeError, match="single string"):
        am.cluster_names("a dog", [0])


def _coco_captions() -> list[str]:
    meta = am.datasets.clip_coco500().meta
    assert "caption" in meta.columns, "clip_coco500 ships the 500 COCO captions"
    return meta["caption"].astype(str).tolist()


def test_cluster_names_on_coco_captions_name_the_toilets():
    captions = _coco_captions()
    emb = am.datasets.clip_coco500()
    text = emb["text"]
    _, labels = am.cluster_order(np.clip(text @ text.T, -1, 1), method="ward", k=12)
    names = am.cluster_names(captions, labels)
    has_toilet = np.array(["toilet" in c.lower() for c in captions])
    toilets = int(np.argmax(np.bincount(labels[has_toilet], minlength=12)))
    assert "toilet" in names[toilets].split(" | ")
    planes = np.array(["plane" in c.lower() for c in captions])
    assert "plane" in names[int(np.argmax(np.bincount(labels[planes], minlength=12)))]
    assert all(names), names  # every cluster of 500 captions gets words


def test_cluster_names_from_a_sample_of_large_clusters():
    rng = np.random.default_rng(0)
    words = {0: "toilet bathroom", 1: "plane sky", 2: "dog grass"}
    labels = rng.integers(0, 3, size=3000)
    texts = [f"a {words[c]} {rng.choice(['big', 'small', 'old'])}" for c in labels]
    full = am.cluster_names(texts, labels, n_terms=1)
    sampled = am.cluster_names(texts, labels, n_terms=1, max_per_cluster=50, seed=1)
    assert sampled == full == ["toilet bathroom", "plane sky", "dog grass"]
    table = cluster_terms(texts, labels, max_per_cluster=50)
    assert table.groupby("cluster")["captions"].max().max() <= 50
    assert (table.groupby("cluster")["size"].first() == np.bincount(labels)).all()
    with pytest.raises(ValueError, match="max_per_cluster"):
        am.cluster_names(texts, labels, max_per_cluster=0)


def test_cluster_names_with_two_word_terms():
    texts = [
        "a teddy bear on a bed", "two teddy bears", "the brown teddy bear sits",
        "a red fire hydrant", "fire hydrant by the road", "an old fire hydrant",
        "a bear in the woods", "a polar bear swimming",
    ]
    labels = [0, 0, 0, 1, 1, 1, 2, 2]
    names = am.cluster_names(texts, labels)
    assert names[0].split(" | ")[0] == "teddy bear"  # "bears" folded, the pair kept together
    assert names[1].split(" | ")[0] == "fire hydrant"
    for name in names:  # a chosen term's words are not repeated ("teddy bear" | "bear")
        words = [w for term in name.split(" | ") for w in term.split()]
        assert len(words) == len(set(words)), name
    _, vocab, df = class_tfidf(texts, labels)
    assert "bear sits" not in vocab or df[0, vocab.index("bear sits")] == 1
    assert "hydrant road" not in vocab  # "by the" stood between them
    assert am.cluster_names(texts, labels, bigrams=False)[1].split(" | ")[0] in ("fire", "hydrant")


def test_mismatched_tones_are_found_by_their_low_text_audio_similarity():
    ds = SyntheticShapesAudio(200, seed=3, mismatch=0.1)
    wrong = ds.meta["tone_of"].to_numpy() != np.arange(200)
    assert wrong.sum() == 20 and ds.fingerprint != SyntheticShapesAudio(200, seed=3).fingerprint
    for i in np.flatnonzero(wrong)[:5]:
        src = int(ds.meta["tone_of"][i])
        assert ds.captions[src] != ds.captions[i]
        assert read_audio(ds.item("audio", i))["colour"] == ds.meta["colour"][src]
    emb = _embed(ShapesEncoder(seed=2), ds)
    cos = np.einsum("ij,ij->i", emb["text"], emb["audio"])
    lowest = np.argsort(cos)[:20]
    assert wrong[lowest].mean() >= 0.7  # listening to the least similar pairs finds them
    assert SyntheticShapesAudio(5, seed=0).meta["tone_of"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="mismatch"):
        SyntheticShapesAudio(5, mismatch=1.5)
