"""Paired datasets: image/text (and more modalities) by pair index.

- :class:`PairedDataset` — the protocol :func:`amumo.embed` needs.
- :class:`SyntheticShapes` — procedurally drawn shapes + captions, no files needed.
"""

from amumo.data import synthetic
from amumo.data.base import (
    BaseDataset,
    DatasetView,
    PairedDataset,
    UnreadableItemError,
    stable_hash,
)
from amumo.data.synthetic import SyntheticShapes

__all__ = [
    "PairedDataset",
    "BaseDataset",
    "DatasetView",
    "UnreadableItemError",
    "SyntheticShapes",
    "synthetic",
    "stable_hash",
]
