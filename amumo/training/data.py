"""Turn a paired image–text dataset into arrays the trainer can batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PairArrays", "pair_arrays", "split_probe"]


@dataclass(frozen=True)
class PairArrays:
    """All pairs of a dataset in memory: uint8 pixels, captions and meta rows."""

    pixels: np.ndarray  # uint8 (N, S, S, 3)
    captions: list[str]
    meta: pd.DataFrame

    def __len__(self) -> int:
        return len(self.captions)


def pair_arrays(dataset: Any, image_size: int | None = None) -> PairArrays:
    """Render every image (as ``uint8 (N, S, S, 3)``) and collect every caption.

    Parameters
    ----------
    dataset : PairedDataset
        Needs the modalities ``"image"`` and ``"text"`` (e.g.
        :class:`amumo.data.SyntheticShapes`). ``dataset.images(size=...)`` is
        used when available, else ``dataset.item("image", i)``.
    image_size : int, optional
        Side to resize images to; default the dataset's own (square) size.
    """
    modalities = getattr(dataset, "modalities", None)
    if modalities is None or not hasattr(dataset, "__len__") or not hasattr(dataset, "item"):
        raise TypeError(
            f"dataset is a {type(dataset).__name__}; pass a paired dataset with image and "
            "text modalities, e.g. amumo.data.SyntheticShapes(2000, seed=0)."
        )
    for needed in ("image", "text"):
        if needed not in modalities:
            raise ValueError(
                f"dataset has modalities {tuple(modalities)}; training needs 'image' and 'text'."
            )
    n = len(dataset)
    if n < 4:
        raise ValueError(f"dataset has {n} pairs; contrastive training needs at least 4.")
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer))
        or image_size < 8
    ):
        raise ValueError(f"image_size={image_size!r} must be an integer of at least 8 pixels.")
    size = None if image_size is None else (int(image_size), int(image_size))
    if hasattr(dataset, "images"):
        pixels = np.asarray(dataset.images(size=size))
    else:
        from amumo.models.tiny import _as_pixels

        frames = [dataset.item("image", i) for i in range(n)]
        side = image_size or np.asarray(frames[0].convert("RGB")).shape[0]
        pixels = _as_pixels(frames, int(side))
    if pixels.ndim != 4 or pixels.shape[1] != pixels.shape[2] or pixels.shape[3] != 3:
        raise ValueError(
            f"the dataset's images have shape {pixels.shape[1:]}; training needs square RGB "
            "images: pass image_size=... to resize them."
        )
    captions = getattr(dataset, "captions", None)
    if captions is None:
        captions = [dataset.item("text", i) for i in range(n)]
    captions = [str(c) for c in captions]
    meta = getattr(dataset, "meta", None)
    meta = pd.DataFrame({"caption": captions}) if meta is None else meta.reset_index(drop=True)
    return PairArrays(pixels.astype(np.uint8, copy=False), captions, meta)


def split_probe(n: int, probe: int | Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, probe)``: the probe pairs are held out from training.

    ``probe`` is a number of pairs (drawn with ``seed``) or explicit indices.
    """
    if isinstance(probe, (bool, np.bool_)):
        raise TypeError("probe must be a number of pairs or a sequence of pair indices.")
    if isinstance(probe, (int, np.integer)):
        if not 2 <= probe <= n - 2:
            raise ValueError(
                f"probe={probe} pairs; choose between 2 and {n - 2} (the dataset has {n} "
                "pairs and training needs at least 2)."
            )
        rng = np.random.default_rng([seed, 0x9B0BE])
        probe_idx = np.sort(rng.choice(n, size=int(probe), replace=False))
    else:
        probe_idx = np.asarray(probe)
        if probe_idx.ndim != 1 or not np.issubdtype(probe_idx.dtype, np.integer):
            raise TypeError("probe indices must be a 1-D sequence of integers.")
        if len(np.unique(probe_idx)) != len(probe_idx):
            raise ValueError("probe indices repeat; pass each pair index once.")
        if len(probe_idx) < 2 or probe_idx.min() < 0 or probe_idx.max() >= n:
            raise ValueError(
                f"probe indices must be at least 2 distinct indices in [0, {n}); got "
                f"{len(probe_idx)} with range [{probe_idx.min()}, {probe_idx.max()}]."
            )
        if n - len(probe_idx) < 2:
            raise ValueError("probe leaves fewer than 2 pairs to train on.")
    mask = np.ones(n, dtype=bool)
    mask[probe_idx] = False
    return np.flatnonzero(mask), probe_idx.astype(np.intp)
