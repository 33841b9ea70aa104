"""Ready-made datasets and embeddings (like ``sklearn.datasets``).

``clip_coco500`` ships the reference embeddings of the Mind-the-Gap repository
(Liang et al., NeurIPS 2022; github.com/Weixin-Liang/Modality-Gap, folder
``Figure_1_Modality_Gap``, MIT licence, see ``modality_gap/LICENSE``): CLIP
ViT-B/16 image and caption embeddings of 500 MSCOCO val2017 image–caption
pairs, pretrained and randomly initialised, with the captions of those pairs
(``modality_gap/coco500_captions.csv``: MSCOCO annotations © COCO Consortium,
CC BY 4.0). The photos are not shipped: they belong to their Flickr authors
under the licence named in each row, and the widgets load them from
``coco_url`` at display time when the kernel is online.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd

from amumo.embeddings.container import Embeddings

__all__ = ["clip_coco500", "coco500_captions", "reference_path", "REFERENCE_FIGURES"]

_PACKAGE = "amumo.datasets"
_FOLDER = "modality_gap"
_CAPTIONS = "coco500_captions.csv"
#: Meta columns of ``clip_coco500()`` taken from the captions file, in order.
CAPTION_COLUMNS = (
    "image_id", "annotation_id", "caption", "coco_url", "width", "height",
    "image_license", "image_license_url",
)
#: Credit line of the shipped captions (CC BY 4.0 asks for it wherever they are shown).
CAPTIONS_CREDIT = (
    "Captions: MSCOCO val2017 annotations (c) COCO Consortium, CC BY 4.0 "
    "(cocodataset.org/#termsofuse). Photos: their Flickr authors, licence per row "
    "(image_license); not shipped, loaded from coco_url when online."
)

#: Reference figures from the shipped README (float64, rows re-normalised).
REFERENCE_FIGURES = {
    "features_clip.npy": {
        "gap_distance": 0.8514,
        "paired_cosine": 0.3099,
        "recall@1:image->text": 0.552,
        "info_nce@0.01": 1.8009,
        "cone_cosine:image": 0.531,
        "cone_cosine:text": 0.515,
    },
    "features_clip_random.npy": {
        "gap_distance": 1.1361,
        "paired_cosine": 0.0285,
        "recall@1:image->text": 0.002,
        "info_nce@0.01": 8.4021,
        "cone_cosine:image": 0.681,
        "cone_cosine:text": 0.663,
    },
}


def reference_path(name: str) -> Path:
    """Path of a file shipped in ``amumo/datasets/modality_gap`` (e.g. ``features_clip.npy``)."""
    path = Path(str(resources.files(_PACKAGE).joinpath(_FOLDER, name)))
    if not path.exists():
        shipped = sorted(p.name for p in path.parent.iterdir())
        raise FileNotFoundError(f"{name!r} is not shipped with amumo; available: {shipped}.")
    return path


def coco500_captions() -> pd.DataFrame:
    """The captions, image ids, photo links and licences of the 500 ``clip_coco500`` pairs.

    Row ``pair`` = i belongs to row i of both embedding arrays. Rebuilt from MSCOCO's
    ``annotations/captions_val2017.json`` with the walk of the Mind-the-Gap notebook
    (see :func:`clip_coco500`); ``caption`` is exactly the string that was encoded.
    Columns: pair, image_id, annotation_id, caption, coco_url, flickr_url, width,
    height, image_license, image_license_url.

    The captions are © COCO Consortium under Creative Commons Attribution 4.0
    (cocodataset.org/#termsofuse; credit in ``modality_gap/SOURCE.md``). The photos
    belong to their Flickr authors under the licence named per row and are not
    shipped.

    Examples
    --------
    >>> import amumo as am
    >>> captions = am.datasets.coco500_captions()
    >>> len(captions), int(captions.loc[0, "image_id"])
    (500, 179765)
    >>> captions.loc[0, "caption"]
    'A motorcycle with its brake extended standing outside'
    """
    frame = pd.read_csv(reference_path(_CAPTIONS), keep_default_na=False)
    if len(frame) != 500 or frame["pair"].tolist() != list(range(500)):
        raise RuntimeError(
            f"{reference_path(_CAPTIONS)} is damaged (expected pairs 0..499); reinstall amumo."
        )
    return frame


def _coco_captions(annotations: str | Path, n: int) -> pd.DataFrame:
    """Rebuild the captions of the 500 pairs from MSCOCO's captions_val2017.json.

    The Mind-the-Gap notebook walked ``captions_val2017.json`` keeping, for each
    image id in annotation order, the last caption listed for it, and stopped
    after 500 images; this repeats that walk. Returns the columns of
    :data:`CAPTION_COLUMNS` that the file has (ids, caption, photo link, size,
    licence).
    """
    path = Path(annotations)
    if not path.exists():
        raise FileNotFoundError(
            f"annotations={str(path)!r} does not exist; download MSCOCO's "
            "annotations_trainval2017.zip from cocodataset.org and pass the path of "
            "annotations/captions_val2017.json."
        )
    data = json.loads(path.read_text())
    images = {item["id"]: item for item in data["images"]}
    licences = {item.get("id"): item for item in data.get("licenses", [])}
    last: dict[int, dict] = {}
    for item in data["annotations"]:
        last[item["image_id"]] = item
    rows = []
    for image_id, annotation in last.items():
        image = images[image_id]
        licence = licences.get(image.get("license"), {})
        rows.append({
            "image_id": image_id,
            "annotation_id": annotation.get("id"),
            "caption": annotation["caption"],  # as encoded (not stripped)
            "coco_url": image.get("coco_url"),
            "width": image.get("width"),
            "height": image.get("height"),
            "image_license": licence.get("name"),
            "image_license_url": licence.get("url"),
        })
        if len(rows) == n:
            break
    frame = pd.DataFrame(rows)
    return frame[[c for c in frame.columns if frame[c].notna().any()]]


def clip_coco500(random_init: bool = False, annotations: str | Path | None = None) -> Embeddings:
    """CLIP ViT-B/16 embeddings of 500 MSCOCO val2017 image–caption pairs, with captions.

    Parameters
    ----------
    random_init : bool, default False
        The same pairs through a randomly initialised CLIP of the same
        architecture (the paper's cone-effect experiment); same captions.
    annotations : path, optional
        MSCOCO's ``captions_val2017.json``: rebuild the captions from it instead of
        using the shipped copy (:func:`coco500_captions`), e.g. to check them.

    Returns
    -------
    Embeddings
        Modalities ``("image", "text")``, N = 500, D = 512. ``meta`` columns:
        ``pair``, ``image_id``, ``annotation_id``, ``caption`` (the encoded text),
        ``coco_url`` (the photo, http), ``width``, ``height``, ``image_license``,
        ``image_license_url``. Captions © COCO Consortium, CC BY 4.0; the photos are
        not shipped (the Preview loads them from ``coco_url`` when online).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> emb.modalities, len(emb), emb.dim
    (('image', 'text'), 500, 512)
    >>> round(am.gap_distance(emb), 4)
    0.8514
    >>> emb.meta.loc[1, "caption"]
    'A desk and chair in an office cubicle.'
    """
    name = "features_clip_random.npy" if random_init else "features_clip.npy"
    emb = Embeddings.load(reference_path(name))
    meta = pd.DataFrame({"pair": range(len(emb))})
    if annotations is not None:
        captions = _coco_captions(annotations, len(emb))
    else:
        captions = coco500_captions()[list(CAPTION_COLUMNS)]
    meta = pd.concat([meta, captions.reset_index(drop=True)], axis=1)
    provenance = {
        "model": "CLIP ViT-B/16 (OpenAI, random init)"
        if random_init
        else "CLIP ViT-B/16 (OpenAI, pretrained)",
        "dataset": "MSCOCO val2017 captions, 500 pairs",
        "source": "github.com/Weixin-Liang/Modality-Gap Figure_1_Modality_Gap/" + name,
        "licence": "MIT (c) the Mind-the-Gap authors; see amumo/datasets/modality_gap/LICENSE",
        "captions": CAPTIONS_CREDIT,
        "citation": "Liang, Zhang, Kwon, Yeung, Zou. Mind the Gap: Understanding the "
        "Modality Gap in Multi-modal Contrastive Representation Learning. NeurIPS 2022.",
    }
    return Embeddings.from_arrays(
        {m: emb[m] for m in emb.modalities}, meta=meta, provenance=provenance
    )
