"""Ready-made datasets and embeddings (like ``sklearn.datasets``).

``clip_coco500`` ships the reference embeddings of the Mind-the-Gap repository
(Liang et al., NeurIPS 2022; github.com/Weixin-Liang/Modality-Gap, folder
``Figure_1_Modality_Gap``, MIT licence, see ``modality_gap/LICENSE``): CLIP
ViT-B/16 image and caption embeddings of 500 MSCOCO val2017 image–caption
pairs, pretrained and randomly initialised.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd

from amumo.embeddings.container import Embeddings

__all__ = ["clip_coco500", "reference_path", "REFERENCE_FIGURES"]

_PACKAGE = "amumo.datasets"
_FOLDER = "modality_gap"

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


def _coco_captions(annotations: str | Path, n: int) -> pd.DataFrame:
    """Rebuild the captions of the 500 pairs from MSCOCO's captions_val2017.json.

    The Mind-the-Gap notebook walked ``captions_val2017.json`` keeping, for each
    image id in annotation order, the last caption listed for it, and stopped
    after 500 images; this repeats that walk.
    """
    path = Path(annotations)
    if not path.exists():
        raise FileNotFoundError(
            f"annotations={str(path)!r} does not exist; download MSCOCO's "
            "annotations_trainval2017.zip from cocodataset.org and pass the path of "
            "annotations/captions_val2017.json."
        )
    data = json.loads(path.read_text())
    id2url = {item["id"]: item["coco_url"] for item in data["images"]}
    id2caption: dict[int, str] = {}
    for item in data["annotations"]:
        id2caption[item["image_id"]] = item["caption"]
    rows = []
    for image_id, caption in id2caption.items():
        rows.append({"image_id": image_id, "caption": caption.strip(), "url": id2url[image_id]})
        if len(rows) == n:
            break
    return pd.DataFrame(rows)


def clip_coco500(random_init: bool = False, annotations: str | Path | None = None) -> Embeddings:
    """CLIP ViT-B/16 embeddings of 500 MSCOCO val2017 image–caption pairs.

    Parameters
    ----------
    random_init : bool, default False
        The same pairs through a randomly initialised CLIP of the same
        architecture (the paper's cone-effect experiment).
    annotations : path, optional
        MSCOCO's ``captions_val2017.json``. The reference files carry no
        captions; given the annotations, the captions and image URLs of the 500
        pairs are rebuilt and put in ``meta``.

    Returns
    -------
    Embeddings
        Modalities ``("image", "text")``, N = 500, D = 512; ``meta`` has a
        ``pair`` column (and ``caption``, ``image_id``, ``url`` with annotations).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> emb.modalities, len(emb), emb.dim
    (('image', 'text'), 500, 512)
    >>> round(am.gap_distance(emb), 4)
    0.8514
    """
    name = "features_clip_random.npy" if random_init else "features_clip.npy"
    emb = Embeddings.load(reference_path(name))
    meta = pd.DataFrame({"pair": range(len(emb))})
    meta["label"] = [f"MSCOCO val2017 pair {i}" for i in range(len(emb))]
    if annotations is not None:
        captions = _coco_captions(annotations, len(emb))
        meta = pd.concat([meta, captions], axis=1)
    provenance = {
        "model": "CLIP ViT-B/16 (OpenAI, random init)"
        if random_init
        else "CLIP ViT-B/16 (OpenAI, pretrained)",
        "dataset": "MSCOCO val2017 captions, 500 pairs",
        "source": "github.com/Weixin-Liang/Modality-Gap Figure_1_Modality_Gap/" + name,
        "licence": "MIT (c) the Mind-the-Gap authors; see amumo/datasets/modality_gap/LICENSE",
        "citation": "Liang, Zhang, Kwon, Yeung, Zou. Mind the Gap: Understanding the "
        "Modality Gap in Multi-modal Contrastive Representation Learning. NeurIPS 2022.",
    }
    return Embeddings.from_arrays(
        {m: emb[m] for m in emb.modalities}, meta=meta, provenance=provenance
    )
