"""Turning data into what the browser draws: binary buffers, text blobs, colours, thumbnails."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "f32_bytes",
    "i32_bytes",
    "u8_bytes",
    "texts_blob",
    "pick_text_column",
    "MODALITY_COLORS",
    "CATEGORY_COLORS",
    "color_options",
    "color_codes",
    "thumbnail",
    "json_safe",
]

#: Modality colours (blue, orange, green, red, ...): distinguishable, colour-blind safe first two.
MODALITY_COLORS = ["#3b6fb6", "#e8833a", "#4e9f50", "#d1495b", "#8e6bbf", "#8c6d31"]
#: Categorical palette for clusters and meta columns (Tableau-20 order, dark first).
CATEGORY_COLORS = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]
#: Continuous colour stops (viridis) for numeric meta columns.
_VIRIDIS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"]
#: Cyclic colour stops (twilight-like: light, blue, dark, red, light) for angles, where
#: 0° and 360° must get the same colour (viridis would put them at opposite ends).
_CYCLIC = ["#e2d9e2", "#9fb5d2", "#5f86b6", "#4a4c9a", "#2f1436", "#6a2850", "#a8485a",
           "#cc8f7d", "#e2d9e2"]
#: Augmentations whose level is periodic, and the period (amumo.data.Augmented meta).
CYCLIC_AUGMENTATIONS = {"rotate": 360.0, "random_rotate": 360.0, "shift": 1.0}
#: A categorical column with more distinct values than this is not offered for colouring.
MAX_CATEGORIES = 24
#: An integer or text column whose non-missing values are at least this share distinct
#: (over more than ID_MIN_VALUES values) names the pairs one by one (pair, image_id,
#: annotation_id, file, caption...): an identifier, not offered for colouring.
ID_SHARE = 0.9
ID_MIN_VALUES = 10
_SEPARATOR = "\u001e"
#: Rows a column's distinct values are counted on first (ten million captions would take
#: seconds and a GB to count; a column with too many values shows it within these).
_PEEK_ROWS = 10_000
_TEXT_COLUMNS = ("caption", "text", "label", "title", "name", "class", "category")


def f32_bytes(array: Any) -> bytes:
    """float64/float32 array -> little-endian float32 bytes (C order)."""
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def i32_bytes(array: Any) -> bytes:
    """int64/int32 array -> little-endian int32 bytes."""
    a = np.asarray(array)
    if a.size and (a.max() > np.iinfo(np.int32).max or a.min() < np.iinfo(np.int32).min):
        raise ValueError("index values do not fit in int32.")
    return np.ascontiguousarray(a, dtype="<i4").tobytes()


def u8_bytes(array: Any) -> bytes:
    return np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def texts_blob(texts: Sequence[Any]) -> bytes:
    """UTF-8 records separated by U+001E (a control character no caption uses; any
    occurrence inside a text is replaced by a space)."""
    return _SEPARATOR.join(
        "" if t is None or (isinstance(t, float) and math.isnan(t)) else
        str(t).replace(_SEPARATOR, " ")
        for t in texts
    ).encode("utf-8")


def pick_text_column(meta: pd.DataFrame, preferred: str | None = None) -> str | None:
    """The meta column shown as each pair's text: ``preferred`` if given, else the first of
    caption/text/label/title/name/class/category that exists, else None."""
    if preferred is not None:
        if preferred not in meta.columns:
            raise ValueError(
                f"text_column={preferred!r} is not a meta column; choose one of "
                f"{list(meta.columns)}."
            )
        return preferred
    lower = {str(c).lower(): c for c in meta.columns}
    for name in _TEXT_COLUMNS:
        if name in lower:
            return lower[name]
    return None


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def colorable(meta: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` of ``meta`` can colour the points at all: a numeric column with a
    value, or a text column of at most :data:`MAX_CATEGORIES` categories. ``color_by`` may
    name any such column; :func:`color_options` offers the readable ones."""
    if column in ("modality", "cluster"):
        return True
    if column not in meta.columns:
        return False
    series = meta[column]
    if _is_numeric(series):
        return bool(series.notna().any())
    if series.iloc[:_PEEK_ROWS].nunique(dropna=True) > MAX_CATEGORIES:
        return False  # captions: decided on the first rows, not by counting ten million
    return series.nunique(dropna=True) <= MAX_CATEGORIES


def _identifier(series: pd.Series) -> bool:
    """Integer or text values that are nearly all distinct (:data:`ID_SHARE`): ids, not a
    quantity or a category. Non-integer numbers (scores, sizes) are quantities."""
    values = series.dropna()
    if len(values) <= ID_MIN_VALUES:
        return False
    if _is_numeric(values) and not np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        return False
    return values.nunique() >= ID_SHARE * len(values)


def _same_groups(a: pd.Series, b: pd.Series) -> bool:
    """Whether ``a`` and ``b`` split the rows into the same groups (one value ↔ one value),
    e.g. a licence name and its URL."""
    both = pd.DataFrame({"a": a.astype("string"), "b": b.astype("string")}).fillna("\0")
    pairs = len(both.drop_duplicates())
    return pairs == both["a"].nunique() == both["b"].nunique()


def color_options(meta: pd.DataFrame, keep: Sequence[str] = ()) -> list[str]:
    """``modality``, ``cluster`` and the meta columns that make a readable colouring.

    Offered: numeric columns (a colour scale) and text columns of at most
    :data:`MAX_CATEGORIES` categories, except

    - identifiers: integer or text columns whose values are nearly all distinct
      (:data:`ID_SHARE` of them, e.g. ``pair``, ``image_id``, ``annotation_id``, file
      names): one colour per pair says nothing;
    - a text column that groups the pairs exactly like a column offered before it
      (``image_license_url`` next to ``image_license``): the same colouring twice.

    ``keep`` (e.g. a ``color_by`` chosen in Python) is listed even when the rules above
    leave it out, as long as it can colour (:func:`colorable`).

    Examples
    --------
    >>> meta = pd.DataFrame({"pair": range(50), "label": ["a", "b"] * 25,
    ...                      "label_url": ["http://a", "http://b"] * 25, "size": range(50)})
    >>> meta["size"] = meta["size"] * 0.5
    >>> color_options(meta)
    ['modality', 'cluster', 'label', 'size']
    >>> color_options(meta, keep=["pair"])
    ['modality', 'cluster', 'label', 'size', 'pair']
    """
    options = ["modality", "cluster"]
    categorical: list[str] = []
    for column in meta.columns:
        name = str(column)
        series = meta[column]
        if name in options or not colorable(meta, column) or _identifier(series):
            continue
        if not _is_numeric(series):
            if any(_same_groups(series, meta[other]) for other in categorical):
                continue
            categorical.append(column)
        options.append(name)
    options += [str(k) for k in keep if str(k) not in options and colorable(meta, str(k))]
    return options


def _interp_hex(stops: list[str], t: float) -> str:
    t = min(1.0, max(0.0, t)) * (len(stops) - 1)
    k = min(len(stops) - 2, int(t))
    f = t - k
    a = [int(stops[k][i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(stops[k + 1][i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def cyclic_period(meta: pd.DataFrame, column: Any) -> float | None:
    """The period of a periodic numeric column, else None.

    The ``level`` of a rotation (degrees, period 360) or cyclic shift (fraction of the
    width, period 1) in :class:`amumo.data.Augmented` meta: one augmentation kind in the
    ``augmentation`` column tells which.

    Examples
    --------
    >>> import pandas as pd
    >>> cyclic_period(pd.DataFrame({"augmentation": ["rotate"] * 2, "level": [0, 90]}), "level")
    360.0
    """
    if str(column) != "level" or "augmentation" not in meta.columns:
        return None
    kinds = pd.unique(meta["augmentation"].astype("string").dropna())
    if len(kinds) != 1 or not _is_numeric(meta[column]):
        return None
    return CYCLIC_AUGMENTATIONS.get(str(kinds[0]))


def color_codes(
    by: str,
    modalities: Sequence[str],
    n_pairs: int,
    meta: pd.DataFrame | None = None,
    clusters: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Per-item colour codes (uint8, modality blocks), the palette and a legend.

    ``by`` is ``"modality"``, ``"cluster"`` (needs ``clusters``: one label per pair)
    or a meta column (categorical: one colour per value; numeric: 64 steps of viridis).
    """
    m = len(modalities)
    if by == "modality":
        codes = np.repeat(np.arange(m, dtype=np.uint8), n_pairs)
        palette = [MODALITY_COLORS[k % len(MODALITY_COLORS)] for k in range(m)]
        legend = {"kind": "categorical", "items": [
            {"label": name, "color": palette[k]} for k, name in enumerate(modalities)
        ]}
        return codes, palette, legend
    if by == "cluster":
        if clusters is None:
            raise ValueError("color_by='cluster' needs cluster labels (set cluster_k).")
        labels = np.asarray(clusters, dtype=np.int64)
        k = int(labels.max()) + 1 if labels.size else 0
        palette = [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in range(max(1, k))]
        codes = np.tile((labels % 256).astype(np.uint8), m)
        legend = {"kind": "categorical", "items": [
            {"label": f"cluster {i + 1}", "color": palette[i]} for i in range(k)
        ]}
        return codes, palette, legend
    if meta is None or by not in [str(c) for c in meta.columns]:
        raise ValueError(
            f"color_by={by!r} is neither 'modality', 'cluster' nor a meta column "
            f"({[] if meta is None else list(meta.columns)})."
        )
    column = next(c for c in meta.columns if str(c) == by)
    series = meta[column]
    period = cyclic_period(meta, column)
    if period is not None:
        values = np.mod(series.to_numpy(dtype=np.float64), period)
        finite = np.isfinite(values)
        steps = 64  # code i = angle i/64 of a turn; 0 and the period share a colour
        level = np.where(finite, np.floor(np.nan_to_num(values) / period * steps) % steps, steps)
        palette = [_interp_hex(_CYCLIC, i / steps) for i in range(steps)] + ["#c0c0c0"]
        codes = np.tile(level.astype(np.uint8), m)
        legend = {
            "kind": "continuous",
            "cyclic": True,
            "label": f"{by} (cyclic)",
            "vmin": 0.0,
            "vmax": period,
            "gradient": list(_CYCLIC),
        }
        return codes, palette, legend
    if _is_numeric(series):
        values = series.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        lo = float(np.min(values[finite])) if finite.any() else 0.0
        hi = float(np.max(values[finite])) if finite.any() else 1.0
        steps = 64
        scaled = np.zeros(len(values)) if hi <= lo else (values - lo) / (hi - lo)
        level = np.where(finite, np.round(np.nan_to_num(scaled) * (steps - 1)), steps)
        palette = [_interp_hex(_VIRIDIS, i / (steps - 1)) for i in range(steps)] + ["#c0c0c0"]
        codes = np.tile(level.astype(np.uint8), m)
        legend = {
            "kind": "continuous",
            "label": by,
            "vmin": lo,
            "vmax": hi,
            "gradient": [_interp_hex(_VIRIDIS, i / 5) for i in range(6)],
        }
        return codes, palette, legend
    values = series.astype("string").fillna("(missing)")
    categories = list(pd.unique(values))
    if len(categories) > 255:
        raise ValueError(
            f"color_by={by!r} has {len(categories)} distinct values; colour by a column "
            f"with at most {MAX_CATEGORIES} values."
        )
    index = {c: i for i, c in enumerate(categories)}
    codes = np.tile(np.array([index[v] for v in values], dtype=np.uint8), m)
    palette = [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in range(len(categories))]
    legend = {"kind": "categorical", "items": [
        {"label": str(c), "color": palette[i]} for i, c in enumerate(categories)
    ]}
    return codes, palette, legend


#: Largest image (pixels, after JPEG's reduced decoding) a thumbnail decodes: 40 Mpx is
#: ~120 MB of RGB. A 560 KB PNG of 12000 x 12000 pixels took a kernel from 148 MB to 1.25 GB.
MAX_THUMBNAIL_PIXELS = 40_000_000


def _open_within_budget(source: Any, size: int) -> Any:
    """``Image.open(source)``, decoded at a reduced scale where the format allows (JPEG:
    1/2 to 1/8, no larger than needed for ``size``), refused above
    :data:`MAX_THUMBNAIL_PIXELS` before any pixel is decoded."""
    from PIL import Image

    image = Image.open(source)
    full = image.size
    if image.format == "JPEG":
        image.draft("RGB", (size, size))  # DCT scaling: decodes 1/8 of the side at best
    width, height = image.size
    if width * height > MAX_THUMBNAIL_PIXELS:
        image.close()
        raise ValueError(
            f"the image is {full[0]:,} x {full[1]:,} pixels ({full[0] * full[1] / 1e6:.0f} Mpx), "
            f"more than the {MAX_THUMBNAIL_PIXELS / 1e6:.0f} Mpx a preview decodes; not shown "
            "(open it in an image viewer)."
        )
    return image


def thumbnail(image: Any, size: int = 192) -> tuple[bytes, str]:
    """A PIL image (or array / path / file) as PNG (small or with alpha) or JPEG bytes, at
    most ``size`` pixels on its longer side. Returns ``(bytes, mime)``.

    Files are decoded within a pixel budget (:data:`MAX_THUMBNAIL_PIXELS`; JPEGs at a
    reduced scale), so a small file claiming a huge image cannot fill the memory.
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        array = image
        if array.dtype != np.uint8:
            array = np.clip(array * (255 if array.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
        image = Image.fromarray(array)
        image.thumbnail((size, size))
    elif not isinstance(image, Image.Image):
        image = _open_within_budget(image, size)
        image.thumbnail((size, size))  # loads (within the budget) and shrinks in place
    else:
        image = image.copy()
        image.thumbnail((size, size))
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P") or image.width * image.height <= 128 * 128:
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue(), "image/jpeg"


def json_safe(value: Any) -> Any:
    """A meta value as JSON (numpy scalars to Python, NaN to None, others to str)."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else round(float(value), 6)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)
