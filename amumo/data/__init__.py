"""Paired datasets: image/text (and more modalities) by pair index.

- :class:`PairedDataset` — the protocol :func:`amumo.embed` needs.
- :class:`SyntheticShapes` — procedurally drawn shapes + captions, no files needed.
- :class:`SyntheticShapesAudio` — the same with a third modality, a tone per shape
  (:class:`Audio` items).
- :class:`ImageTextFolder`, :class:`COCOCaptions`, :class:`ImageTextParquet`,
  :class:`WebDatasetTar`, :class:`HuggingFaceDataset` (Hugging Face ``datasets``) — loaders.
- :class:`Augmented` — Amumo's rotate / noise / blur / shift / vshift / random_rotate sets.
- ``dataset.filter(text_contains=[...], mode="any"|"all", regex=None)`` — caption filter.
"""

from amumo.data import synthetic
from amumo.data.audio import Audio, wav_bytes
from amumo.data.augment import AUGMENTATIONS, Augmented, augment_image, default_levels
from amumo.data.base import (
    BaseDataset,
    DatasetView,
    PairedDataset,
    UnreadableItemError,
    stable_hash,
)
from amumo.data.coco import COCOCaptions
from amumo.data.folder import ImageTextFolder
from amumo.data.huggingface import HuggingFaceDataset
from amumo.data.parquet import ImageTextParquet
from amumo.data.synthetic import SyntheticShapes
from amumo.data.synthetic_audio import SyntheticShapesAudio
from amumo.data.webdataset import WebDatasetTar

__all__ = [
    "PairedDataset",
    "BaseDataset",
    "DatasetView",
    "UnreadableItemError",
    "SyntheticShapes",
    "SyntheticShapesAudio",
    "Audio",
    "wav_bytes",
    "ImageTextFolder",
    "COCOCaptions",
    "ImageTextParquet",
    "WebDatasetTar",
    "HuggingFaceDataset",
    "Augmented",
    "AUGMENTATIONS",
    "augment_image",
    "default_levels",
    "synthetic",
    "stable_hash",
]
