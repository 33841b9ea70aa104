"""The shipped reference embeddings reproduce the figures of the Mind-the-Gap README."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import amumo as am
from amumo.datasets import REFERENCE_FIGURES, reference_path

SHARED_README = Path(__file__).resolve().parents[2] / "shared/data/modality_gap/README.md"


@pytest.fixture(scope="module", params=[False, True], ids=["pretrained", "random_init"])
def case(request):
    random_init = request.param
    name = "features_clip_random.npy" if random_init else "features_clip.npy"
    return am.datasets.clip_coco500(random_init=random_init), REFERENCE_FIGURES[name]


def test_gap_distance(case):
    emb, ref = case
    assert am.gap_distance(emb) == pytest.approx(ref["gap_distance"], abs=1e-3)


def test_paired_cosine(case):
    emb, ref = case
    assert am.paired_cosine(emb) == pytest.approx(ref["paired_cosine"], abs=1e-3)


def test_recall_at_1(case):
    emb, ref = case
    assert am.recall_at_k(emb, 1)[1] == pytest.approx(ref["recall@1:image->text"], abs=1e-3)


def test_info_nce(case):
    emb, ref = case
    assert am.losses.info_nce(emb, 0.01) == pytest.approx(ref["info_nce@0.01"], abs=1e-3)


def test_cone_cosine(case):
    emb, ref = case
    for modality in ("image", "text"):
        key = f"cone_cosine:{modality}"
        assert am.cone_cosine(emb, modality) == pytest.approx(ref[key], abs=1e-3)


def test_metrics_dict_agrees_with_reference(case):
    emb, ref = case
    m = am.metrics(emb, temperature=0.01)
    assert m["gap_distance"] == pytest.approx(ref["gap_distance"], abs=1e-3)
    assert m["info_nce"] == pytest.approx(ref["info_nce@0.01"], abs=1e-3)
    assert m["recall@1:image->text"] == pytest.approx(ref["recall@1:image->text"], abs=1e-3)
    for key in ("cone_cosine:image", "cone_cosine:text", "recall@5:text->image", "alignment",
                "uniformity:image", "uniformity:text", "separability", "recall@10:image->text"):
        assert key in m
    # Both CLIPs separate the modalities perfectly: that is the gap.
    assert m["separability"] > 0.99
    json.dumps(m)  # flat and JSON-friendly


def test_reference_table_in_shared_readme_matches_constants():
    """The constants we test against are the ones published beside the data."""
    if not SHARED_README.exists():
        pytest.skip("../shared is not beside the checkout")
    text = SHARED_README.read_text()
    for name, figures in REFERENCE_FIGURES.items():
        rows = [line for line in text.splitlines() if line.startswith(f"| {name} ")]
        row = rows[-1]  # the second table holds the figures
        for key in ("gap_distance", "paired_cosine", "recall@1:image->text", "info_nce@0.01"):
            assert f"{figures[key]:g}" in row.replace(" ", ""), (name, key, row)


def test_shipped_files_are_the_reference_files():
    if not SHARED_README.exists():
        pytest.skip("../shared is not beside the checkout")
    for name in REFERENCE_FIGURES:
        shipped = np.load(reference_path(name))
        original = np.load(SHARED_README.parent / name)
        np.testing.assert_array_equal(shipped, original)
    assert reference_path("LICENSE").read_text().startswith("MIT")


def test_closing_the_gap_raises_low_temperature_info_nce():
    """Liang et al. 2022: at tau=0.01 the gap is kept because closing it costs loss."""
    emb = am.datasets.clip_coco500()
    before = am.losses.info_nce(emb, 0.01)
    closed = am.close_gap(emb)
    after = am.losses.info_nce(closed, 0.01)
    assert am.gap_distance(closed) < 1e-3
    assert after > before + 1.0  # 1.80 -> 3.82
    # ... and at tau = 1 closing the gap lowers the loss instead.
    assert am.losses.info_nce(closed, 1.0) < am.losses.info_nce(emb, 1.0)


def test_random_init_has_cone_effect():
    emb = am.datasets.clip_coco500(random_init=True)
    assert am.cone_cosine(emb, "image") > 0.5
    assert am.cone_cosine(emb, "text") > 0.5


def test_clip_coco500_rebuilds_captions_from_coco_annotations(tmp_path):
    """The Mind-the-Gap walk: image ids in annotation order, last caption of each, first 500."""
    images = [{"id": i, "coco_url": f"http://images.cocodataset.org/val2017/{i:012d}.jpg"}
              for i in range(1000, 1600)]
    annotations = []
    for i in range(1000, 1600):  # two captions per image; the second one is kept
        annotations.append({"image_id": i, "caption": f"first caption of {i}"})
        annotations.append({"image_id": i, "caption": f" second caption of {i} "})
    annotations.insert(0, {"image_id": 1599, "caption": "early caption of 1599"})
    path = tmp_path / "captions_val2017.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))

    emb = am.datasets.clip_coco500(annotations=path)
    meta = emb.meta
    assert len(meta) == 500
    # 1599 appears first in annotation order, so it is pair 0, with its last caption
    # exactly as encoded (not stripped).
    assert meta.loc[0, "image_id"] == 1599
    assert meta.loc[0, "caption"] == " second caption of 1599 "
    assert meta.loc[1, "image_id"] == 1000
    assert meta.loc[1, "coco_url"].endswith("000000001000.jpg")
    assert meta["pair"].tolist() == list(range(500))
    with pytest.raises(FileNotFoundError, match="captions_val2017.json"):
        am.datasets.clip_coco500(annotations=tmp_path / "missing.json")


def test_clip_coco500_ships_the_captions_of_its_pairs():
    """Captions, ids, photo links and licences are in meta by default (both models)."""
    shipped = am.datasets.coco500_captions()
    reference = SHARED_README.parent / "coco500_captions.csv"
    if reference.exists():  # ../shared beside the checkout: the shipped file is that file
        assert reference_path("coco500_captions.csv").read_bytes() == reference.read_bytes()
    for random_init in (False, True):
        meta = am.datasets.clip_coco500(random_init=random_init).meta
        for column in ("pair", "caption", "image_id", "coco_url", "image_license",
                       "image_license_url"):
            assert column in meta.columns, column
        assert meta["pair"].tolist() == list(range(500))
        assert meta["caption"].tolist() == shipped["caption"].tolist()
        assert meta.loc[1, "caption"] == "A desk and chair in an office cubicle."
        assert meta["coco_url"].str.startswith("http://images.cocodataset.org/val2017/").all()
        assert "label" not in meta.columns  # the old "MSCOCO val2017 pair i" placeholder
    assert "CC BY 4.0" in am.datasets.clip_coco500().provenance["captions"]
    assert "Creative Commons Attribution 4.0" in reference_path("SOURCE.md").read_text()
    assert "Attribution 4.0" in reference_path("NOTICE-captions.md").read_text()


@pytest.mark.parametrize(("word", "random_init"), [("toilet", False), ("giraffe", False)])
def test_shipped_captions_line_up_with_the_embeddings(word, random_init):
    """Pairs whose captions name the same object are closer than average in BOTH modalities
    (text rows and image rows): a shifted or shuffled caption file would fail this."""
    emb = am.datasets.clip_coco500(random_init=random_init)
    hits = emb.meta["caption"].str.lower().str.contains(word).to_numpy()
    assert hits.sum() >= 5
    for modality in ("image", "text"):
        x = emb[modality].astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        sim = x @ x.T
        group = sim[np.ix_(hits, hits)][~np.eye(hits.sum(), dtype=bool)].mean()
        overall = sim[~np.eye(len(x), dtype=bool)].mean()
        assert group > overall + 0.1, (modality, group, overall)
    # Shuffling the captions breaks the alignment (the test can fail).
    shuffled = np.random.default_rng(0).permutation(hits)
    x = emb["image"].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    group = sim[np.ix_(shuffled, shuffled)][~np.eye(shuffled.sum(), dtype=bool)].mean()
    overall = sim[~np.eye(len(x), dtype=bool)].mean()
    assert group < overall + 0.05
