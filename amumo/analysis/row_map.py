"""The map a gap shift or a remedy applied to each modality, for rows that were not there.

:func:`amumo.shift`, :func:`amumo.close_gap` and :func:`amumo.mitigate` move every
stored row of a modality by the same steps, each an affine map followed by
re-normalisation::

    x  <-  unit(x / scale + offset)

(``scale`` a number or one value per dimension; ``offset`` a vector). The steps depend
on the data (the centroids, the per-dimension moments), so a new row — a typed query,
an image a user drops in — can only be moved *the same way* if the steps are kept. Pass
a :class:`RowMap` as ``row_map=`` and the function appends its steps; then
:meth:`RowMap.apply` moves any other row of that modality exactly as the stored rows
were moved (up to float32 rounding: the stored rows are float32, the map float64).

Examples
--------
>>> import numpy as np, amumo as am
>>> emb = am.datasets.clip_coco500()
>>> moves = RowMap()
>>> closed = am.close_gap(emb, row_map=moves)
>>> row = np.asarray(emb["text"][7], dtype=np.float64)
>>> bool(np.allclose(moves.apply(row, "text"), closed["text"][7], atol=1e-6))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RowMap"]


class RowMap:
    """Steps ``x <- unit(x / scale + offset)`` per modality, in the order they were applied.

    Filled by ``shift(..., row_map=)``, ``close_gap(..., row_map=)`` and
    ``mitigate(..., row_map=)``; a modality without steps is left as it is (only
    normalised). An empty map is the identity.
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, tuple[Any, np.ndarray]]] = []

    def add(self, moves: dict[str, tuple[Any, Any]]) -> None:
        """Record one step: ``{modality: (scale, offset)}`` for the modalities it moved."""
        step = {}
        for modality, (scale, offset) in moves.items():
            scale_value = np.asarray(scale, dtype=np.float64)
            step[str(modality)] = (
                float(scale_value) if scale_value.ndim == 0 else scale_value.copy(),
                np.array(offset, dtype=np.float64),
            )
        self.steps.append(step)

    def __len__(self) -> int:
        return len(self.steps)

    def __bool__(self) -> bool:  # an empty map is still a map (identity), never "missing"
        return True

    def modalities(self) -> set[str]:
        """The modalities some step moved."""
        return {m for step in self.steps for m in step}

    def apply(self, rows: Any, modality: str) -> np.ndarray:
        """Move ``rows`` (one row ``(D,)`` or ``(n, D)``) of ``modality`` by every step.

        Returns float64 unit rows of the same shape. Raises ``ValueError`` when a row is
        zero or is moved onto the origin (it has no direction).
        """
        array = np.array(rows, dtype=np.float64)
        single = array.ndim == 1
        block = array[None, :] if single else array
        if block.ndim != 2:
            raise ValueError(f"rows must be one row (D,) or a block (n, D), not {array.shape}.")
        block = _unit(block, modality, "the row")
        for k, step in enumerate(self.steps):
            if modality not in step:
                continue
            scale, offset = step[modality]
            if offset.shape != (block.shape[1],):
                raise ValueError(
                    f"the map was recorded on {offset.shape[0]}-dimensional rows; these rows "
                    f"have {block.shape[1]} dimensions."
                )
            block = _unit(block / scale + offset, modality, f"step {k + 1} of the map")
        return block[0] if single else block


def _unit(block: np.ndarray, modality: str, where: str) -> np.ndarray:
    norms = np.linalg.norm(block, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError(
            f"{where} sends a {modality!r} row to the origin or to NaN: it has no direction "
            "to re-normalise (an all-zero query, or a shift exactly onto it)."
        )
    return block / norms[:, None]
