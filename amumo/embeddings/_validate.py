"""The checks every modality array passes on its way into an :class:`~amumo.embeddings.Embeddings`.

:func:`check_modality_array` checks one modality's type and shape;
:func:`normalise_rows` finds NaN/Inf and all-zero rows and normalises the rest
to float32 unit rows, one block of rows at a time (:mod:`amumo.embeddings._rows`),
without a float64 copy of the whole array. Used by the container
(:meth:`Embeddings.from_arrays`), the file loaders (``io.py``) and the
memory-mapped path (``_mapped.py``), so all three reject the same inputs with
the same messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amumo.embeddings._map_guard import check_mapped
from amumo.embeddings._rows import chunk_rows, list_rows, release_rows, row_blocks

__all__ = ["check_modality_array", "normalise_rows", "safe_unit_rows"]


def safe_unit_rows(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows and L2 norms of a float64 ``(N, D)`` array, without overflow or underflow.

    ``‖x‖ = s·‖x / s‖`` with ``s = max|x_j|``: rows of values near 1e154 (whose squares
    overflow) or 1e-170 (whose squares underflow) keep their direction. All-zero rows
    give zero rows and zero norms (callers reject them).

    Examples
    --------
    >>> import numpy as np
    >>> unit, norms = safe_unit_rows(np.array([[3e200, 4e200], [3e-200, 4e-200]]))
    >>> unit.tolist(), bool(np.allclose(norms, [5e200, 5e-200], rtol=1e-12))
    ([[0.6, 0.8], [0.6, 0.8]], True)
    """
    scale = np.max(np.abs(array), axis=1)
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    scaled = array / safe
    inner = np.linalg.norm(scaled, axis=1)
    unit = scaled / np.where(inner > 0, inner, 1.0)[:, None]
    with np.errstate(over="ignore"):
        norms = scale * inner  # may be inf for values near the float64 limit; rows stay exact
    return unit, norms


def check_modality_array(name: str, values: Any) -> np.ndarray:
    """Check one modality's array type and shape; return it as an (N, D) numpy array."""
    if isinstance(values, (str, bytes)):
        raise TypeError(
            f"arrays[{name!r}] is a {type(values).__name__}; pass a numeric (N, D) array "
            "with one row per pair."
        )
    array = np.asarray(values)
    if array.dtype.kind not in "fiu":  # numpy counts timedelta64 as an integer type
        raise TypeError(
            f"arrays[{name!r}] has dtype {array.dtype}; pass a float16/32/64 (or integer) "
            "array of shape (N, D)."
        )
    if array.ndim != 2:
        hint = (
            "reshape a single vector with x[None, :]"
            if array.ndim == 1
            else "split a stacked (M, N, D) array into one (N, D) array per modality, "
            "or use Embeddings.load for .npy files in that layout"
        )
        raise ValueError(
            f"arrays[{name!r}] has shape {array.shape} ({array.ndim}-D); expected a 2-D "
            f"(N, D) array with one row per pair: {hint}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"arrays[{name!r}] has no rows (N = 0); pass at least one pair.")
    if array.shape[1] == 0:
        raise ValueError(f"arrays[{name!r}] has no columns (D = 0); pass non-empty vectors.")
    # NaN/Inf and all-zero rows are found by normalise_rows, block by block:
    # no float64 copy of the whole array.
    return array


def normalise_rows(
    name: str, array: np.ndarray, *, derived: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows (float32) and float64 norms of ``array``, one block of rows at a time.

    Memory: the float32 result plus one float64 block
    (:data:`~amumo.embeddings._rows.CHUNK_BYTES`) and its temporaries, whatever N is.
    Raises ValueError listing NaN/Inf or all-zero rows (``derived``: message for rows
    produced by an operation such as ``shift``).
    """
    n, d = array.shape
    check_mapped(array)  # a truncated memory map: a named error, not SIGBUS
    out = np.empty((n, d), dtype=np.float32)
    norms = np.empty(n, dtype=np.float64)
    nonfinite: list[np.ndarray] = []
    zero: list[np.ndarray] = []
    for rows in row_blocks(n, chunk_rows(d)):
        block = np.asarray(array[rows], dtype=np.float64)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            nonfinite.append(rows.start + np.flatnonzero(~finite))
            block = np.where(finite[:, None], block, 0.0)
        empty = finite & ~np.any(block != 0, axis=1)
        if empty.any():
            zero.append(rows.start + np.flatnonzero(empty))
        unit, norms[rows] = safe_unit_rows(block)
        out[rows] = unit
        if isinstance(array, np.ndarray):
            release_rows(array, rows)  # memory-mapped input: RSS of one block
    if derived and (nonfinite or zero):
        bad = np.unique(np.concatenate(nonfinite + zero))
        raise ValueError(
            f"the derived {name!r} rows {list_rows(bad)} are zero or not finite and "
            "have no direction; the operation that produced them is undefined there."
        )
    if nonfinite:
        bad = np.concatenate(nonfinite)
        raise ValueError(
            f"arrays[{name!r}] has NaN or Inf in {len(bad)} row(s): {list_rows(bad)}; "
            "fix or remove those pairs (e.g. emb.subset(...)) before building Embeddings."
        )
    if zero:
        bad = np.concatenate(zero)
        raise ValueError(
            f"arrays[{name!r}] has {len(bad)} all-zero row(s): {list_rows(bad)}; a zero "
            "vector has no direction and cannot be normalised. Remove those pairs first."
        )
    return out, norms
