"""Argument checks and the shared shift-and-score step of the downstream experiments.

Every user-facing error names the argument and says how to fix it; nothing is
silently dropped, truncated or reordered.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from amumo.analysis.gap import shift_arrays
from amumo.embeddings.container import Embeddings

_MAX_LISTED = 10


def list_items(items: Sequence[Any]) -> str:
    """``a, b, c (and 4 more)`` for error messages."""
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")


def _float_array(values: Any, argument: str) -> np.ndarray:
    if isinstance(values, Embeddings):
        raise TypeError(
            f"{argument} is an amumo.Embeddings; pass one modality's array, e.g. "
            f"{argument}=emb['image']."
        )
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{argument} is a {type(values).__name__}; pass a numeric array.")
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nested lists
        raise ValueError(
            f"{argument} is ragged (rows of different lengths); pass a rectangular array."
        ) from None
    if array.dtype == object or array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"{argument} has dtype {array.dtype}; pass a float (or integer) array.")
    return array.astype(np.float64, copy=False)


def _check_rows(array: np.ndarray, argument: str) -> np.ndarray:
    """Finite, non-zero rows, returned L2-normalised (float64)."""
    flat = array.reshape(-1, array.shape[-1])
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite).tolist()
        raise ValueError(
            f"{argument} has NaN or Inf in {len(bad)} row(s): {list_items(bad)}; "
            "fix or remove those rows."
        )
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    if (norms == 0).any():
        bad = np.flatnonzero(norms.reshape(-1) == 0).tolist()
        raise ValueError(
            f"{argument} has {len(bad)} all-zero row(s): {list_items(bad)}; a zero vector "
            "has no direction for cosine similarity. Remove those rows."
        )
    return array / norms


def check_images(images: Any, argument: str = "images") -> np.ndarray:
    """Image embeddings as an L2-normalised float64 ``(N, D)`` array."""
    array = _float_array(images, argument)
    if array.ndim != 2:
        raise ValueError(
            f"{argument} has shape {array.shape}; expected (N, D), one embedding per image "
            "(reshape a single vector with x[None, :])."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{argument} has shape {array.shape}; pass at least one non-empty row.")
    return _check_rows(array, argument)


def check_class_texts(class_texts: Any, dim: int, argument: str = "class_texts") -> np.ndarray:
    """One unit text embedding per class, ``(C, D)`` float64.

    Accepts ``(C, D)``; a prompt ensemble ``(C, T, D)``; or a sequence of ``C``
    arrays of shape ``(T_c, D)`` (different numbers of prompts per class). Each
    prompt is normalised, the prompts of a class are averaged and the mean is
    re-normalised (CLIP's prompt ensembling, Radford et al. 2021).
    """
    if isinstance(class_texts, (list, tuple)) and class_texts and all(
        np.ndim(c) == 2 for c in class_texts
    ):
        ensembles = [_float_array(c, f"{argument}[{i}]") for i, c in enumerate(class_texts)]
        rows = []
        for i, ens in enumerate(ensembles):
            if ens.shape[0] == 0 or ens.shape[1] != dim:
                raise ValueError(
                    f"{argument}[{i}] has shape {ens.shape}; expected (T, {dim}) with T ≥ 1 "
                    "prompt embeddings for that class, matching the images' dimension."
                )
            rows.append(_check_rows(ens, f"{argument}[{i}]").mean(axis=0))
        return _check_rows(np.stack(rows), f"{argument} (ensemble means)")
    array = _float_array(class_texts, argument)
    if array.ndim == 3:
        if 0 in array.shape:
            raise ValueError(f"{argument} has shape {array.shape}; pass non-empty (C, T, D).")
        if array.shape[2] != dim:
            raise ValueError(
                f"{argument} has dimension {array.shape[2]} but images have {dim}; embed "
                "images and class texts with the same model."
            )
        array = _check_rows(array, argument).mean(axis=1)
        return _check_rows(array, f"{argument} (ensemble means)")
    if array.ndim != 2:
        raise ValueError(
            f"{argument} has shape {array.shape}; expected (C, D) with one embedding per "
            "class, or (C, T, D) for T prompts per class (averaged and re-normalised)."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{argument} has no rows; pass at least one class embedding.")
    if array.shape[1] != dim:
        raise ValueError(
            f"{argument} has dimension {array.shape[1]} but images have {dim}; embed images "
            "and class texts with the same model."
        )
    return _check_rows(array, argument)


def check_class_names(class_names: Any, n_classes: int) -> list[Hashable]:
    """Class names as a list of length C (default ``0 … C−1``), unique."""
    if class_names is None:
        return list(range(n_classes))
    if isinstance(class_names, (str, bytes)):
        raise TypeError("class_names is a single string; pass a list with one name per class.")
    names = list(class_names)
    if len(names) != n_classes:
        raise ValueError(
            f"class_names has {len(names)} entries but class_texts has {n_classes} classes; "
            "pass one name per row of class_texts, in the same order."
        )
    seen: dict[Hashable, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise ValueError(
                f"class_names has {name!r} twice (positions {seen[name]} and {i}); class "
                "names must be unique."
            )
        seen[name] = i
    return names


def check_labels(
    labels: Any, n_images: int, class_names: list[Hashable], argument: str = "labels"
) -> np.ndarray:
    """Integer class index per image (``0 ≤ label < C``).

    Labels may also be class names (strings) when ``class_names`` are given.
    """
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"{argument} is a single string; pass one label per image.")
    values = np.asarray(labels.to_numpy() if isinstance(labels, pd.Series) else labels)
    if values.ndim != 1:
        raise ValueError(f"{argument} has shape {values.shape}; expected ({n_images},).")
    if len(values) != n_images:
        raise ValueError(
            f"{argument} has {len(values)} entries but there are {n_images} images; pass one "
            "label per image row, in the same order."
        )
    n_classes = len(class_names)
    if values.dtype.kind in "OUS":
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({v for v in values.tolist() if v not in index}, key=str)
        if unknown:
            raise ValueError(
                f"{argument} contains {len(unknown)} name(s) not in class_names: "
                f"{list_items(unknown)}; known classes: {list_items(class_names)}."
            )
        return np.array([index[v] for v in values.tolist()], dtype=np.int64)
    if values.dtype.kind == "b":
        raise TypeError(f"{argument} is boolean; pass integer class indices (0 … C−1).")
    if values.dtype.kind == "f":
        if not np.isfinite(values).all() or not np.equal(np.round(values), values).all():
            raise TypeError(
                f"{argument} has non-integer values; pass integer class indices (0 … C−1)."
            )
    elif values.dtype.kind not in "iu":
        raise TypeError(f"{argument} has dtype {values.dtype}; pass integer class indices.")
    values = values.astype(np.int64)
    bad = np.flatnonzero((values < 0) | (values >= n_classes))
    if len(bad):
        raise ValueError(
            f"{argument} has {len(bad)} value(s) outside 0 … {n_classes - 1} (there are "
            f"{n_classes} class texts), at image row(s) {list_items(bad.tolist())}."
        )
    return values


def check_lams(lams: Any) -> np.ndarray:
    """λ grid as a non-empty 1-D float64 array of finite values, order kept."""
    if isinstance(lams, (str, bytes)):
        raise TypeError("lams is a string; pass numbers, e.g. np.linspace(-0.5, 1.0, 31).")
    values = np.atleast_1d(np.asarray(lams, dtype=object))
    if values.ndim != 1:
        raise ValueError(f"lams has shape {values.shape}; pass a 1-D sequence of numbers.")
    if len(values) == 0:
        raise ValueError("lams is empty; pass at least one shift, e.g. [0.0].")
    try:
        out = values.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError("lams must hold numbers, e.g. np.linspace(-0.5, 1.0, 31).") from None
    if not np.isfinite(out).all():
        raise ValueError("lams contains NaN or Inf; pass finite shifts.")
    return out


def check_gap(gap: Any, images: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, str]:
    """The gap vector Δ to shift along and a description of where it came from."""
    dim = images.shape[1]
    if gap is None:
        delta = images.mean(axis=0) - texts.mean(axis=0)
        return delta, "mean(images) - mean(class_texts)"
    if isinstance(gap, Embeddings):
        a, b = gap.pair_modalities()
        if gap.dim != dim:
            raise ValueError(
                f"gap is an Embeddings of dimension {gap.dim} but images have {dim}; use "
                "embeddings of the same model."
            )
        delta = np.asarray(gap[a], dtype=np.float64).mean(axis=0) - np.asarray(
            gap[b], dtype=np.float64
        ).mean(axis=0)
        return delta, f"mean(gap[{a!r}]) - mean(gap[{b!r}])"
    delta = _float_array(gap, "gap")
    if delta.shape != (dim,):
        raise ValueError(
            f"gap has shape {delta.shape}; expected ({dim},), a gap vector such as "
            "am.gap_vector(emb) from embeddings of the same model."
        )
    if not np.isfinite(delta).all():
        raise ValueError("gap contains NaN or Inf; pass a finite gap vector.")
    return delta, "given"


def check_groups(groups: Any, n_images: int) -> dict[Hashable, np.ndarray]:
    """Groups as ``{name: row indices}``, each non-empty.

    ``groups`` is either one label per image (array, list, Series, Categorical:
    every category of a Categorical must have images) or a mapping
    ``{name: indices or boolean mask}`` (groups may overlap).
    """
    if groups is None:
        raise TypeError("groups is None; pass one group label per image or {name: indices}.")
    out: dict[Hashable, np.ndarray] = {}
    if isinstance(groups, Mapping):
        if not groups:
            raise ValueError("groups is an empty mapping; pass at least one group.")
        for name, rows in groups.items():
            idx = np.asarray(rows)
            if idx.dtype == np.bool_:
                if idx.shape != (n_images,):
                    raise ValueError(
                        f"groups[{name!r}] is a boolean mask of shape {idx.shape}; expected "
                        f"({n_images},), one entry per image."
                    )
                idx = np.flatnonzero(idx)
            else:
                if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
                    raise TypeError(
                        f"groups[{name!r}] must be integer row indices or a boolean mask."
                    )
                idx = idx.astype(np.int64)
                if idx.size and (idx.min() < 0 or idx.max() >= n_images):
                    raise ValueError(
                        f"groups[{name!r}] has row indices outside 0 … {n_images - 1}."
                    )
                if len(np.unique(idx)) != len(idx):
                    raise ValueError(f"groups[{name!r}] lists some image rows twice.")
            out[name] = idx
    else:
        if isinstance(groups, (str, bytes)):
            raise TypeError("groups is a single string; pass one group label per image.")
        categories: Iterable[Hashable] | None = None
        if isinstance(groups, pd.Series) and isinstance(groups.dtype, pd.CategoricalDtype):
            categories = list(groups.cat.categories)
            values = groups.to_numpy(dtype=object)
        elif isinstance(groups, pd.Categorical):
            categories = list(groups.categories)
            values = np.asarray(groups, dtype=object)
        else:
            values = np.asarray(groups.to_numpy() if isinstance(groups, pd.Series) else groups)
        if values.ndim != 1 or len(values) != n_images:
            raise ValueError(
                f"groups has shape {values.shape}; expected ({n_images},), one group label per "
                "image, or pass a mapping {name: indices}."
            )
        missing = [i for i, v in enumerate(values.tolist()) if v is None or v != v]
        if missing:
            raise ValueError(
                f"groups has no label (None/NaN) for {len(missing)} image(s): "
                f"{list_items(missing)}; give every image a group or pass a mapping "
                "{name: indices} that leaves them out on purpose."
            )
        if categories is None:
            categories = list(pd.unique(values))
        for name in categories:
            out[name] = np.flatnonzero(values == name)
    empty = [name for name, idx in out.items() if len(idx) == 0]
    if empty:
        raise ValueError(
            f"group(s) {list_items(empty)} have no images; every group needs at least one "
            "image for a rate to exist. Drop unused groups (e.g. "
            "series.cat.remove_unused_categories()) or add images."
        )
    return out


def check_harmful(
    harmful_classes: Any, class_names: list[Hashable], names_given: bool
) -> list[int]:
    """Harmful classes as sorted unique class indices."""
    if harmful_classes is None:
        raise TypeError("harmful_classes is None; pass the names (or indices) of harmful classes.")
    items = [harmful_classes] if isinstance(harmful_classes, (str, int)) else list(
        harmful_classes
    )
    if not items:
        raise ValueError("harmful_classes is empty; pass at least one class name.")
    index = {name: i for i, name in enumerate(class_names)}
    out: list[int] = []
    unknown: list[Any] = []
    for item in items:
        if isinstance(item, (bool, np.bool_)):
            raise TypeError("harmful_classes holds booleans; pass class names or indices.")
        if names_given and item in index:
            out.append(index[item])
        elif isinstance(item, (int, np.integer)) and 0 <= int(item) < len(class_names):
            out.append(int(item))
        else:
            unknown.append(item)
    if unknown:
        if not names_given and any(isinstance(u, str) for u in unknown):
            raise ValueError(
                f"harmful_classes has names {list_items(unknown)} but class_names was not "
                "given; pass class_names=[...] (one per row of class_texts) or use indices."
            )
        raise ValueError(
            f"unknown harmful class(es) {list_items(unknown)}; known classes: "
            f"{list_items(class_names)}."
        )
    if len(set(out)) != len(out):
        raise ValueError("harmful_classes lists a class twice; list each harmful class once.")
    return sorted(out)


def shifted_scores(
    images: np.ndarray, texts: np.ndarray, lam: float, gap: np.ndarray
) -> tuple[np.ndarray, float]:
    """Cosine scores ``(N, C)`` after shifting by ``lam`` along ``gap``, and the new gap.

    Uses :func:`amumo.analysis.gap.shift_arrays` (images ``−λΔ/2``, texts
    ``+λΔ/2``, re-normalised, float64). The returned gap distance is
    ``‖mean(images') − mean(texts')‖`` of the two shifted sets.
    """
    x, y = shift_arrays(images, texts, float(lam), gap)
    distance = float(np.linalg.norm(x.mean(axis=0) - y.mean(axis=0)))
    return x @ y.T, distance
