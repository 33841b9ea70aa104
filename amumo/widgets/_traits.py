"""Typed array traits: numbers that travel to the browser as one binary buffer.

A widget assigns a numpy array (or anything ``np.asarray`` takes) to a trait such
as ``xy = Float32Array(columns=2)``; the trait checks it and holds it as the
little-endian bytes of its dtype, which ipywidgets sends as a binary buffer and
the front end reads as a typed array (``new Float32Array(view.buffer, ...)``).
Nothing is filled by hand and no wrong dtype, shape or out-of-range value gets
through: a float64 array becomes float32, ``columns=2`` refuses an ``(n, 3)``
array, an int32 trait refuses a value above 2³¹ − 1 instead of wrapping it.

The value stays ``bytes`` on the Python side (what these traits held before),
so ``np.frombuffer(widget.xy, "<f4")`` reads it back; ``b""`` means "nothing".

Examples
--------
>>> import numpy as np, traitlets
>>> class W(traitlets.HasTraits):
...     xy = Float32Array(columns=2)
>>> w = W(xy=np.array([[1.0, 2.0], [3.0, 4.0]]))  # float64 in, float32 bytes held
>>> len(w.xy), np.frombuffer(w.xy, "<f4").tolist()
(16, [1.0, 2.0, 3.0, 4.0])
>>> try:
...     W(xy=np.zeros((2, 3)))
... except traitlets.TraitError as err:
...     print(err)
The 'xy' trait of a W instance expects a float32 array of 2 columns, not an array of shape (2, 3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

__all__ = ["Float32Array", "Int32Array", "Uint8Array"]


class _PackedArray(traitlets.TraitType[bytes, Any]):
    """Base: an array of one dtype held as its little-endian bytes (a binary buffer)."""

    #: numpy dtype of the buffer, little-endian (the browser's typed arrays are).
    dtype = np.dtype("<f4")
    kind = "float32"
    default_value = b""

    def __init__(self, default_value: Any = b"", *, columns: int | None = None,
                 **kwargs: Any) -> None:
        if columns is not None and (int(columns) != columns or columns < 1):
            raise ValueError(f"columns={columns!r} must be a positive integer.")
        self.columns = None if columns is None else int(columns)
        super().__init__(default_value=default_value, **kwargs)

    @property
    def info_text(self) -> str:  # type: ignore[override]
        shape = f" of {self.columns} columns" if self.columns else ""
        return f"a {self.kind} array{shape}"

    def validate(self, obj: Any, value: Any) -> bytes:
        row_bytes = self.dtype.itemsize * (self.columns or 1)
        if isinstance(value, (bytes, bytearray, memoryview)):  # already packed
            raw = bytes(value)
            if len(raw) % row_bytes:
                self._refuse(obj, f"{len(raw)} bytes, not a whole number of {row_bytes}-byte "
                                  "rows")
            return raw
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            self.error(obj, value)
        if array.dtype == object or array.dtype.kind not in "biuf":
            self._refuse(obj, f"an array of dtype {array.dtype}")
        if array.size and self.columns and (array.ndim != 2 or array.shape[1] != self.columns):
            self._refuse(obj, f"an array of shape {array.shape}")
        self._check_range(obj, array)
        return np.ascontiguousarray(array, dtype=self.dtype).tobytes()

    def _check_range(self, obj: Any, array: np.ndarray) -> None:
        if self.dtype.kind == "f" or not array.size or array.dtype == self.dtype:
            return
        info = np.iinfo(self.dtype)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            self._refuse(obj, "an array holding NaN or Inf")
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            self._refuse(obj, f"values in [{low}, {high}], outside {self.kind}'s "
                              f"[{info.min}, {info.max}]")

    def _refuse(self, obj: Any, what: str) -> None:
        owner = "an object" if obj is None else f"a {type(obj).__name__} instance"
        raise traitlets.TraitError(
            f"The {self.name!r} trait of {owner} expects {self.info_text}, not {what}."
        )


class Float32Array(_PackedArray):
    """float32 numbers (coordinates, values), sent as a ``Float32Array`` buffer."""

    dtype = np.dtype("<f4")
    kind = "float32"


class Int32Array(_PackedArray):
    """int32 indices (orders, pair ids, boundaries), sent as an ``Int32Array`` buffer."""

    dtype = np.dtype("<i4")
    kind = "int32"


class Uint8Array(_PackedArray):
    """uint8 codes (palette indices, quantised images), sent as a ``Uint8Array`` buffer."""

    dtype = np.dtype("u1")
    kind = "uint8"
