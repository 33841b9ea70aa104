"""Augmented: Amumo's augmentation sets (rotate, noise, blur, shift, vshift, random_rotate).

Humer et al. (2023, "Amumo") study how the modality gap reacts when one image
is transformed step by step while its caption stays fixed, e.g. one image
rotated in 100 steps paired with its caption. :class:`Augmented` builds such
sets from any image–text dataset, seeded, so the same call gives the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from amumo.data.base import BaseDataset

__all__ = ["Augmented", "AUGMENTATIONS", "default_levels", "augment_image"]

#: Augmentation kinds and the meaning / default range of their level.
AUGMENTATIONS: dict[str, str] = {
    "rotate": "angle in degrees, counter-clockwise, corners filled with the median border "
    "colour; default 0 to 360 (exclusive)",
    "noise": "std of Gaussian pixel noise as a fraction of the 0-255 range; default 0 to 0.5",
    "blur": "Gaussian blur radius as a fraction of the image's longer side; default 0 to 0.08",
    "shift": "cyclic shift right as a fraction of the width (Amumo's HShift); default 0 to 1 "
    "(exclusive)",
    "vshift": "cyclic shift down as a fraction of the height (Amumo's VShift); default 0 to 1 "
    "(exclusive)",
    "random_rotate": "random angle in degrees drawn from [0, 360) under seed",
}


def default_levels(kind: str, count: int, seed: int = 0) -> np.ndarray:
    """The default level values of ``count`` steps of ``kind``.

    Examples
    --------
    >>> default_levels("rotate", 4).tolist()
    [0.0, 90.0, 180.0, 270.0]
    """
    if kind == "rotate":
        return np.linspace(0.0, 360.0, count, endpoint=False)
    if kind == "noise":
        return np.linspace(0.0, 0.5, count)
    if kind == "blur":
        return np.linspace(0.0, 0.08, count)
    if kind in ("shift", "vshift"):
        return np.linspace(0.0, 1.0, count, endpoint=False)
    if kind == "random_rotate":
        return np.random.default_rng([seed, 0xA06]).uniform(0.0, 360.0, size=count)
    raise ValueError(f"kind={kind!r}; choose one of {tuple(AUGMENTATIONS)}.")


def augment_image(
    image: Image.Image, kind: str, level: float, rng: np.random.Generator | None = None
) -> Image.Image:
    """Apply one augmentation at ``level`` (see :data:`AUGMENTATIONS`) to an RGB image."""
    image = image.convert("RGB")
    if kind in ("rotate", "random_rotate"):
        pixels = np.asarray(image)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        fill = tuple(int(c) for c in np.median(border, axis=0))
        return image.rotate(float(level), resample=Image.Resampling.BILINEAR, fillcolor=fill)
    if kind == "noise":
        if level == 0:
            return image.copy()
        rng = rng if rng is not None else np.random.default_rng(0)
        pixels = np.asarray(image, dtype=np.float32)
        noisy = pixels + rng.normal(0.0, float(level) * 255.0, size=pixels.shape)
        return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    if kind == "blur":
        radius = float(level) * max(image.size)
        return image.copy() if radius == 0 else image.filter(ImageFilter.GaussianBlur(radius))
    if kind in ("shift", "vshift"):
        pixels = np.asarray(image)
        axis = 1 if kind == "shift" else 0  # columns (right) or rows (down)
        offset = int(round(float(level) * pixels.shape[axis]))
        return Image.fromarray(np.roll(pixels, offset, axis=axis))
    raise ValueError(f"kind={kind!r}; choose one of {tuple(AUGMENTATIONS)}.")


class Augmented(BaseDataset):
    """Every chosen pair of ``dataset`` at every augmentation level.

    Pair ``b * L + k`` is base pair ``b`` (of the chosen ones) with its image
    augmented at level ``k`` of ``L``; other modalities (the caption) are
    unchanged.

    Parameters
    ----------
    dataset : PairedDataset
        Needs an ``"image"`` modality.
    kind : {"rotate", "noise", "blur", "shift", "vshift", "random_rotate"}
        See :data:`AUGMENTATIONS` for what a level means.
    levels : int or sequence of float, default 10
        Number of steps over the default range, or the level values themselves
        (not for ``random_rotate``, whose angles are drawn under ``seed``).
    seed : int, default 0
        Seeds noise and random angles.
    items : sequence of int, optional
        Base pairs to augment (default: all). ``items=[0], levels=100`` is
        Amumo's "one image in 100 steps".

    Attributes
    ----------
    levels : ndarray
        The level values.
    meta : DataFrame
        The base meta plus ``base_item``, ``augmentation``, ``level`` and
        ``level_index``; ``id`` becomes ``"<base id>|<kind>=<level>"`` (the base id
        is kept in ``base_id``).

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> rot = Augmented(SyntheticShapes(5), "rotate", levels=100, items=[0])
    >>> len(rot), float(rot.meta["level"].iloc[25]), rot.item("text", 99) == rot.item("text", 0)
    (100, 90.0, True)
    """

    def __init__(
        self,
        dataset: Any,
        kind: str,
        levels: int | Sequence[float] = 10,
        seed: int = 0,
        *,
        items: Sequence[int] | None = None,
    ) -> None:
        if "image" not in getattr(dataset, "modalities", ()):
            raise ValueError(
                f"dataset has modalities {getattr(dataset, 'modalities', None)}; augmentations "
                "need an 'image' modality."
            )
        if kind not in AUGMENTATIONS:
            raise ValueError(f"kind={kind!r}; choose one of {tuple(AUGMENTATIONS)}.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}.")
        if isinstance(levels, bool):
            raise TypeError("levels must be a number of steps or a sequence of level values.")
        if isinstance(levels, (int, np.integer)):
            if levels < 1:
                raise ValueError(f"levels={levels}; pass at least one step.")
            values = default_levels(kind, int(levels), int(seed))
        else:
            if kind == "random_rotate":
                raise ValueError(
                    "random_rotate draws its angles under seed; pass levels as a number of "
                    "steps (or use kind='rotate' with explicit angles)."
                )
            values = np.asarray(list(levels), dtype=np.float64)
            if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
                raise ValueError("levels must be a non-empty sequence of finite numbers.")
            if kind in ("noise", "blur") and (values < 0).any():
                raise ValueError(f"{kind} levels must be >= 0, got {values.min()}.")
        self.dataset = dataset
        self.kind = kind
        self.seed = int(seed)
        self.levels = values
        self.levels.setflags(write=False)
        if items is None:
            self.base_items = np.arange(len(dataset))
        else:
            self.base_items = BaseDataset._resolve_indices(dataset, items) if isinstance(
                dataset, BaseDataset
            ) else np.asarray(list(items), dtype=np.intp)
            if self.base_items.size == 0:
                raise ValueError("items is empty; pass at least one base pair to augment.")
            bad = (self.base_items < 0) | (self.base_items >= len(dataset))
            if bad.any():
                raise IndexError(f"items {self.base_items[bad].tolist()} are out of range.")
        self.modalities = tuple(dataset.modalities)
        self.caption_column = getattr(dataset, "caption_column", "caption")

    def __len__(self) -> int:
        return len(self.base_items) * len(self.levels)

    @property
    def name(self) -> str:
        base = getattr(self.dataset, "name", type(self.dataset).__name__)
        return (
            f"Augmented({base}, {self.kind!r}, {len(self.levels)} levels, "
            f"{len(self.base_items)} base pairs, seed={self.seed})"
        )

    def _split(self, i: int) -> tuple[int, int]:
        b, k = divmod(i, len(self.levels))
        return int(self.base_items[b]), k

    def _fingerprint_parts(self) -> list[Any]:
        return [
            self.dataset.fingerprint,
            self.kind,
            self.levels,
            self.seed,
            self.base_items.astype(np.int64),
        ]

    def _build_meta(self) -> pd.DataFrame:
        base_meta = self.dataset.meta
        n_levels = len(self.levels)
        rows = np.repeat(self.base_items, n_levels)
        frame = base_meta.iloc[rows].reset_index(drop=True)
        level_index = np.tile(np.arange(n_levels), len(self.base_items))
        frame["base_item"] = rows
        frame["augmentation"] = self.kind
        frame["level"] = self.levels[level_index]
        frame["level_index"] = level_index
        base_ids = (
            frame["id"].astype(str) if "id" in frame.columns else pd.Series(rows).astype(str)
        )
        frame["base_id"] = base_ids.to_numpy()
        frame["id"] = [
            f"{b}|{self.kind}={lv:g}" for b, lv in zip(base_ids, frame["level"], strict=True)
        ]
        return frame

    def _item(self, modality: str, i: int) -> Any:
        base, k = self._split(i)
        item = self.dataset.item(modality, base)
        if modality != "image":
            return item
        rng = np.random.default_rng([self.seed, base, k])
        return augment_image(item, self.kind, float(self.levels[k]), rng)
