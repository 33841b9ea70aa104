"""SyntheticShapes: procedurally drawn image–caption pairs, no files needed.

Every pair is a coloured shape of some size at some position on a plain
background, with a template caption such as ``"a small red circle in the top
left"``. The vocabulary is small and fixed (see :data:`VOCABULARY`) so a tiny
CLIP can be trained on it in minutes, and everything is deterministic under
``seed``: the same call always gives the same pixels and captions.

The background colour is drawn but not mentioned in the caption, so images vary
in a way the text does not describe (as real captions do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from amumo.data.base import BaseDataset

__all__ = [
    "SyntheticShapes",
    "SHAPES",
    "COLOURS",
    "COLOUR_RGB",
    "SIZES",
    "POSITIONS",
    "BACKGROUNDS",
    "BACKGROUND_RGB",
    "ATTRIBUTES",
    "CAPTION_TEMPLATE",
    "VOCABULARY",
    "caption_for",
]

#: Shapes drawn.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
#: Colour names, in caption order.
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
#: RGB of each colour name.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 210, 20),
    "purple": (140, 40, 190),
    "orange": (245, 130, 20),
}
#: Size names and the shape's radius as a fraction of the image side.
SIZES: tuple[str, ...] = ("small", "medium", "large")
_SIZE_RADIUS = {"small": 0.09, "medium": 0.145, "large": 0.2}
#: Position names and the shape's centre as a fraction of the image side (x, y).
POSITIONS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right", "center")
_POSITION_XY = {
    "top left": (0.28, 0.28),
    "top right": (0.72, 0.28),
    "bottom left": (0.28, 0.72),
    "bottom right": (0.72, 0.72),
    "center": (0.5, 0.5),
}
#: Background names (not mentioned in captions).
BACKGROUNDS: tuple[str, ...] = ("white", "grey", "black")
#: RGB of each background name.
BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "grey": (128, 128, 128),
    "black": (15, 15, 15),
}
#: Every attribute with its values, in meta-column order.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "colour": COLOURS,
    "size": SIZES,
    "position": POSITIONS,
    "background": BACKGROUNDS,
}
#: Caption template (``str.format`` fields are attribute names).
CAPTION_TEMPLATE = "a {size} {colour} {shape} in the {position}"
#: Every word any caption can contain, sorted.
VOCABULARY: tuple[str, ...] = tuple(
    sorted(
        {w for w in CAPTION_TEMPLATE.format(size="", colour="", shape="", position="").split()}
        | {w for values in (SHAPES, COLOURS, SIZES, POSITIONS) for v in values for w in v.split()}
    )
)

# Bump when the drawing changes: it is part of the fingerprint (embedding cache key).
_RENDER_VERSION = 1
_SUPERSAMPLE = 2
_JITTER_XY = 0.045
_JITTER_SCALE = 0.12
_JITTER_RGB = 18


def caption_for(shape: str, colour: str, size: str, position: str) -> str:
    """The caption of one attribute combination.

    Examples
    --------
    >>> caption_for("circle", "red", "small", "top left")
    'a small red circle in the top left'
    """
    for name, value in (("shape", shape), ("colour", colour), ("size", size),
                        ("position", position)):
        if value not in ATTRIBUTES[name]:
            raise ValueError(f"{name}={value!r}; choose one of {ATTRIBUTES[name]}.")
    return CAPTION_TEMPLATE.format(shape=shape, colour=colour, size=size, position=position)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        k, radii, offset = 4, [r * 0.92 * np.sqrt(2)] * 4, np.pi / 4
    elif shape == "triangle":
        k, radii, offset = 3, [r * 1.15] * 3, -np.pi / 2
    elif shape == "star":
        k, radii, offset = 10, [r * 1.1, r * 0.45] * 5, -np.pi / 2
    else:  # pragma: no cover - guarded by SHAPES
        raise ValueError(shape)
    theta = offset + angle + np.arange(k) * 2 * np.pi / k
    return [
        (cx + rad * np.cos(t), cy + rad * np.sin(t)) for rad, t in zip(radii, theta, strict=True)
    ]


class SyntheticShapes(BaseDataset):
    """Procedurally drawn shapes with template captions (offline demo and tests).

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int, default 0
        Seeds the attributes and the small per-image jitter (position, size,
        colour shade, angle). Same ``(n, seed, image_size)``, same pixels.
    image_size : int, default 64
        Side of the square RGB images, in pixels (16 to 1024).

    Attributes
    ----------
    meta : pandas.DataFrame
        Columns ``id, shape, colour, size, position, background, caption``.

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> ds = SyntheticShapes(8, seed=0)
    >>> len(ds), ds.modalities
    (8, ('image', 'text'))
    >>> ds.item("image", 0).size
    (64, 64)
    >>> ds.images().shape
    (8, 64, 64, 3)
    >>> ds.item("text", 0) == ds.meta["caption"][0]
    True
    """

    modalities = ("image", "text")

    def __init__(self, n: int, seed: int = 0, image_size: int = 64) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an integer number of pairs, got {type(n).__name__}.")
        if n < 1:
            raise ValueError(f"n={n}; a dataset needs at least one pair.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}.")
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
            raise TypeError(f"image_size must be an integer, got {type(image_size).__name__}.")
        if not 16 <= image_size <= 1024:
            raise ValueError(f"image_size={image_size}; choose a side between 16 and 1024 pixels.")
        self.n = int(n)
        self.seed = int(seed)
        self.image_size = int(image_size)
        rng = np.random.default_rng([self.seed, 0x5AFE])
        self._codes = {
            name: rng.integers(len(values), size=self.n) for name, values in ATTRIBUTES.items()
        }
        self._jitter = rng.uniform(-1.0, 1.0, size=(self.n, 3))  # dx, dy, scale
        self._shade = rng.integers(-_JITTER_RGB, _JITTER_RGB + 1, size=(self.n, 3))
        self._angle = rng.uniform(-0.25, 0.25, size=self.n)  # radians

    def __len__(self) -> int:
        return self.n

    @property
    def name(self) -> str:
        return f"SyntheticShapes(n={self.n}, seed={self.seed}, image_size={self.image_size})"

    def _fingerprint_parts(self) -> list[Any]:
        return [self.n, self.seed, self.image_size, _RENDER_VERSION]

    def attributes(self, i: int) -> dict[str, str]:
        """The attribute values of pair ``i``."""
        i = self._check_index(i)
        return {name: ATTRIBUTES[name][self._codes[name][i]] for name in ATTRIBUTES}

    def _caption(self, i: int) -> str:
        a = {name: ATTRIBUTES[name][self._codes[name][i]] for name in ATTRIBUTES}
        return CAPTION_TEMPLATE.format(**a)

    def _build_meta(self) -> pd.DataFrame:
        columns: dict[str, Any] = {"id": [f"shape-{i:06d}" for i in range(self.n)]}
        for name, values in ATTRIBUTES.items():
            columns[name] = np.asarray(values, dtype=object)[self._codes[name]]
        columns["caption"] = [self._caption(i) for i in range(self.n)]
        return pd.DataFrame(columns)

    def _render(self, i: int) -> Image.Image:
        side = self.image_size * _SUPERSAMPLE
        shape = SHAPES[self._codes["shape"][i]]
        colour = np.asarray(COLOUR_RGB[COLOURS[self._codes["colour"][i]]]) + self._shade[i]
        fill = tuple(int(c) for c in np.clip(colour, 0, 255))
        background = BACKGROUND_RGB[BACKGROUNDS[self._codes["background"][i]]]
        px, py = _POSITION_XY[POSITIONS[self._codes["position"][i]]]
        dx, dy, ds = self._jitter[i]
        radius = _SIZE_RADIUS[SIZES[self._codes["size"][i]]] * (1 + _JITTER_SCALE * ds) * side
        cx = (px + _JITTER_XY * dx) * side
        cy = (py + _JITTER_XY * dy) * side
        image = Image.new("RGB", (side, side), background)
        draw = ImageDraw.Draw(image)
        if shape == "circle":
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
        else:
            draw.polygon(_polygon(shape, cx, cy, radius, float(self._angle[i])), fill=fill)
        return image.resize((self.image_size, self.image_size), Image.Resampling.BOX)

    def _item(self, modality: str, i: int) -> Any:
        if modality == "image":
            return self._render(i)
        return self._caption(i)

    def images(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        size: int | tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Rendered images as ``uint8 (n, H, W, 3)`` (see :meth:`BaseDataset.images`).

        Examples
        --------
        >>> SyntheticShapes(5, seed=2).images([0, 4]).shape
        (2, 64, 64, 3)
        """
        idx = self._resolve_indices(indices)
        target = (size, size) if isinstance(size, int) else size
        out_hw = (target[1], target[0]) if target else (self.image_size, self.image_size)
        out = np.empty((len(idx), out_hw[0], out_hw[1], 3), dtype=np.uint8)
        for k, i in enumerate(idx):
            image = self._render(int(i))
            if target is not None and image.size != tuple(target):
                image = image.resize(tuple(target))
            out[k] = np.asarray(image)
        return out
