"""The paired-dataset protocol and the shared base class of amumo's datasets.

A *paired dataset* holds N pairs; pair ``i`` has one item per modality
(``item("image", i)`` is a PIL image, ``item("text", i)`` its caption) and one
row ``i`` of :attr:`meta`. Every dataset also has a stable :attr:`fingerprint`
so that embeddings computed from it can be cached on disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = [
    "PairedDataset",
    "BaseDataset",
    "DatasetView",
    "UnreadableItemError",
    "stable_hash",
]

_MAX_LISTED = 10


class UnreadableItemError(ValueError):
    """An item (typically an image file) exists in the dataset but cannot be decoded.

    :func:`amumo.embed` catches this error, skips the whole pair in every
    modality, and lists it in a warning and in ``emb.provenance["skipped"]``.
    """


def stable_hash(*parts: Any) -> str:
    """SHA-1 hex digest of JSON-serialisable ``parts`` (stable across processes).

    Examples
    --------
    >>> stable_hash("a", 1) == stable_hash("a", 1)
    True
    """
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, bytes):
            digest.update(part)
        elif isinstance(part, np.ndarray):
            digest.update(str(part.dtype).encode())
            digest.update(str(part.shape).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@runtime_checkable
class PairedDataset(Protocol):
    """What :func:`amumo.embed` and the widgets need from a dataset.

    Attributes
    ----------
    modalities : tuple of str
        E.g. ``("image", "text")``.
    meta : pandas.DataFrame
        One row per pair (for image/text datasets at least a ``caption`` column).
    fingerprint : str
        Stable identity of the content: equal fingerprints mean equal items.
    """

    @property
    def modalities(self) -> tuple[str, ...]: ...

    @property
    def meta(self) -> pd.DataFrame: ...

    @property
    def fingerprint(self) -> str: ...

    def __len__(self) -> int: ...

    def item(self, modality: str, i: int) -> Any: ...


def _as_terms(text_contains: str | Iterable[str] | None) -> list[str]:
    if text_contains is None:
        return []
    if isinstance(text_contains, str):
        return [text_contains]
    terms = list(text_contains)
    for term in terms:
        if not isinstance(term, str):
            raise TypeError(
                f"text_contains holds {term!r} ({type(term).__name__}); pass strings, "
                "e.g. text_contains=['red', 'circle']."
            )
    return terms


class BaseDataset:
    """Shared behaviour of amumo's paired datasets.

    Subclasses set :attr:`modalities` and implement ``__len__``, ``_item``,
    ``_build_meta`` and ``_fingerprint_parts``. They get validated
    :meth:`item` access, :meth:`images`, :attr:`captions`, :meth:`subset` and the
    caption :meth:`filter` for free.
    """

    modalities: tuple[str, ...] = ("image", "text")
    #: Meta column holding the text shown for a pair (used by :meth:`filter`).
    caption_column: str = "caption"

    _meta_cache: pd.DataFrame | None = None
    _fingerprint_cache: str | None = None

    # ------------------------------------------------------------------ to implement
    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _item(self, modality: str, i: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_meta(self) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fingerprint_parts(self) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ public API
    @property
    def name(self) -> str:
        """Short human-readable description, recorded in embeddings' provenance."""
        return f"{type(self).__name__}(n={len(self)})"

    @property
    def meta(self) -> pd.DataFrame:
        """One row per pair (do not mutate; it is cached)."""
        if self._meta_cache is None:
            frame = self._build_meta().reset_index(drop=True)
            if len(frame) != len(self):
                raise RuntimeError(
                    f"{type(self).__name__} built {len(frame)} meta rows for {len(self)} pairs."
                )
            self._meta_cache = frame
        return self._meta_cache

    @property
    def fingerprint(self) -> str:
        """Stable SHA-1 identifying the dataset's content (cache key)."""
        if self._fingerprint_cache is None:
            self._fingerprint_cache = stable_hash(type(self).__name__, *self._fingerprint_parts())
        return self._fingerprint_cache

    @property
    def captions(self) -> list[str]:
        """The caption of every pair, in order."""
        if self.caption_column in self.meta.columns:
            return [str(c) for c in self.meta[self.caption_column]]
        return [str(self.item("text", i)) for i in range(len(self))]

    def check_modality(self, modality: str, argument: str = "modality") -> str:
        """Return ``modality`` if this dataset has it, else raise a clear ValueError."""
        if modality not in self.modalities:
            raise ValueError(
                f"{argument}={modality!r} is not a modality of {type(self).__name__}; "
                f"choose one of {self.modalities}."
            )
        return modality

    def _check_index(self, i: Any) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"i must be an integer pair index, got {type(i).__name__} {i!r}.")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"pair index {i} is out of range for {n} pairs.")
        return int(i) + n if i < 0 else int(i)

    def item(self, modality: str, i: int) -> Any:
        """Item of pair ``i`` in ``modality`` (a PIL image for "image", a str for "text").

        Raises
        ------
        ValueError
            Unknown modality.
        IndexError
            ``i`` out of range.
        UnreadableItemError
            The stored item exists but cannot be decoded (e.g. a corrupt image file).
        """
        self.check_modality(modality)
        return self._item(modality, self._check_index(i))

    def __getitem__(self, i: int) -> dict[str, Any]:
        """All items of pair ``i`` as ``{modality: item}``."""
        i = self._check_index(i)
        return {m: self._item(m, i) for m in self.modalities}

    def _resolve_indices(self, indices: Sequence[int] | np.ndarray | None) -> np.ndarray:
        n = len(self)
        if indices is None:
            return np.arange(n)
        idx = np.asarray(indices)
        if idx.size == 0:
            return idx.astype(np.intp).reshape(-1)
        if idx.ndim != 1 or idx.dtype == np.bool_ or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"indices must be a 1-D sequence of integer pair indices, got dtype {idx.dtype} "
                f"and shape {idx.shape}."
            )
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise IndexError(
                f"indices {idx[bad][:_MAX_LISTED].tolist()} are out of range for {n} pairs."
            )
        return np.where(idx < 0, idx + n, idx).astype(np.intp)

    def images(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        size: int | tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Images of the given pairs as one ``uint8`` array ``(n, H, W, 3)``.

        Parameters
        ----------
        indices : sequence of int, optional
            Pairs to render; all by default.
        size : int or (width, height), optional
            Resize every image to this size. Required when the images differ in size.
        """
        self.check_modality("image")
        idx = self._resolve_indices(indices)
        target = (size, size) if isinstance(size, int) else size
        frames = []
        for i in idx:
            image = self._item("image", int(i)).convert("RGB")
            if target is not None and image.size != tuple(target):
                image = image.resize(tuple(target))
            frames.append(np.asarray(image, dtype=np.uint8))
        if not frames:
            side = target or (0, 0)
            return np.zeros((0, side[1], side[0], 3), dtype=np.uint8)
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ValueError(
                f"the images have different sizes {sorted(shapes)[:3]}; pass size=(W, H) "
                "to resize them to one size."
            )
        return np.stack(frames)

    def subset(self, indices: Sequence[int] | np.ndarray) -> DatasetView:
        """A view on the pairs at ``indices`` (in that order).

        The view's ``meta`` has an ``index`` column holding the original indices.
        """
        return DatasetView(self, self._resolve_indices(indices), description="subset")

    def filter(
        self,
        text_contains: str | Iterable[str] | None = None,
        mode: Literal["any", "all"] = "any",
        regex: str | None = None,
        *,
        case: bool = False,
    ) -> DatasetView:
        """Keep the pairs whose caption matches (the caption filter).

        Parameters
        ----------
        text_contains : str or list of str, optional
            Substrings to look for in the caption.
        mode : {"any", "all"}, default "any"
            Keep a pair if its caption contains any / all of ``text_contains``.
        regex : str, optional
            A regular expression the caption must match (``re.search``); combined
            with ``text_contains`` by AND.
        case : bool, default False
            Case-sensitive matching.

        Returns
        -------
        DatasetView
            The matching pairs in their original order; ``meta["index"]`` holds
            their indices in the unfiltered dataset. With no condition at all,
            every pair is kept; with no match, the view is empty.

        Examples
        --------
        >>> from amumo.data import SyntheticShapes
        >>> ds = SyntheticShapes(50, seed=0)
        >>> red = ds.filter(text_contains=["red"])
        >>> all("red" in c for c in red.captions)
        True
        >>> list(red.meta["index"]) == [i for i, c in enumerate(ds.captions) if "red" in c]
        True
        """
        if mode not in ("any", "all"):
            raise ValueError(f"mode={mode!r}; choose 'any' or 'all'.")
        terms = _as_terms(text_contains)
        pattern = None
        if regex is not None:
            if not isinstance(regex, str):
                raise TypeError(f"regex must be a string, got {type(regex).__name__}.")
            try:
                pattern = re.compile(regex, 0 if case else re.IGNORECASE)
            except re.error as err:
                raise ValueError(
                    f"regex={regex!r} is not a valid regular expression: {err}"
                ) from err
        captions = self.captions
        if not case:
            terms = [t.lower() for t in terms]
        keep = []
        combine = any if mode == "any" else all
        for i, caption in enumerate(captions):
            text = caption if case else caption.lower()
            ok = combine(t in text for t in terms) if terms else True
            if ok and pattern is not None:
                ok = pattern.search(caption) is not None
            if ok:
                keep.append(i)
        description = {"text_contains": terms, "mode": mode, "regex": regex, "case": case}
        return DatasetView(self, np.asarray(keep, dtype=np.intp), description=description)

    def __repr__(self) -> str:
        return f"{self.name}"


class DatasetView(BaseDataset):
    """A subset of another dataset's pairs, keeping the original indices.

    Views of views collapse onto the root dataset, so ``meta["index"]`` always
    refers to the unfiltered dataset.

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> ds = SyntheticShapes(20, seed=1)
    >>> view = ds.subset([3, 7]).subset([1])
    >>> view.meta["index"].tolist(), view.captions == [ds.captions[7]]
    ([7], True)
    """

    def __init__(self, parent: BaseDataset, indices: np.ndarray, description: Any = None):
        if isinstance(parent, DatasetView):
            indices = parent.indices[indices] if len(indices) else indices
            parent = parent.parent
        self.parent = parent
        self.indices = np.asarray(indices, dtype=np.intp)
        self.indices.setflags(write=False)
        self.description = description
        self.modalities = parent.modalities
        self.caption_column = parent.caption_column

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def name(self) -> str:
        return f"{self.parent.name}[{len(self)} of {len(self.parent)}]"

    def _item(self, modality: str, i: int) -> Any:
        return self.parent._item(modality, int(self.indices[i]))

    def _build_meta(self) -> pd.DataFrame:
        parent_meta = self.parent.meta
        frame = parent_meta.iloc[self.indices].reset_index(drop=True)
        if "index" in frame.columns:
            frame = frame.drop(columns="index")
        frame.insert(0, "index", self.indices.copy())
        return frame

    def _fingerprint_parts(self) -> list[Any]:
        return [self.parent.fingerprint, self.indices.astype(np.int64)]

    def images(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        size: int | tuple[int, int] | None = None,
    ) -> np.ndarray:
        idx = self._resolve_indices(indices)
        return self.parent.images(self.indices[idx], size=size)
