"""Encoders that wrap user functions or precomputed arrays (no torch needed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from amumo.data.base import stable_hash
from amumo.models.base import as_float32_rows, check_batch_size

__all__ = ["CallableEncoder", "Precomputed"]


def _check_modality(modalities: tuple[str, ...], modality: str, who: str) -> None:
    if modality not in modalities:
        raise ValueError(
            f"{who} cannot encode modality={modality!r}; it encodes {modalities}."
        )


class CallableEncoder:
    """Any function per modality as an encoder (a Hugging Face model, a sklearn pipeline...).

    Parameters
    ----------
    functions : mapping of str to callable
        ``{"image": f, "text": g}``; each takes a list of items (PIL images,
        strings, ...) and returns an array-like or torch tensor ``(len(items), D)``.
    name : str, optional
        Shown in provenance; defaults to the functions' names.
    fingerprint : str, optional
        A stable identity of the functions *and their weights* (e.g.
        ``"my-model@v3"``). Without it the embedding cache cannot know when the
        functions change, so :func:`amumo.embed` does not cache (and says so).

    Examples
    --------
    >>> import numpy as np
    >>> from amumo.models import CallableEncoder
    >>> enc = CallableEncoder({"image": lambda xs: np.ones((len(xs), 3)),
    ...                        "text": lambda xs: [[len(x), 1.0, 0.0] for x in xs]},
    ...                       fingerprint="toy-v1")
    >>> enc.encode("text", ["ab", "abc"]).tolist()
    [[2.0, 1.0, 0.0], [3.0, 1.0, 0.0]]
    """

    input_kind = "item"

    def __init__(
        self,
        functions: Mapping[str, Callable[[list[Any]], Any]],
        name: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        if not isinstance(functions, Mapping) or not functions:
            raise TypeError(
                "functions must be a non-empty dict such as {'image': f, 'text': g}, "
                f"got {type(functions).__name__}."
            )
        for modality, fn in functions.items():
            if not isinstance(modality, str) or not modality:
                raise TypeError(f"modality name {modality!r} must be a non-empty string.")
            if not callable(fn):
                raise TypeError(f"functions[{modality!r}] is not callable ({type(fn).__name__}).")
        if fingerprint is not None and (not isinstance(fingerprint, str) or not fingerprint):
            raise TypeError("fingerprint must be a non-empty string (or None).")
        self._functions = dict(functions)
        self._fingerprint = None if fingerprint is None else stable_hash("callable", fingerprint)
        self._name = name or "CallableEncoder(" + ", ".join(
            f"{m}={getattr(f, '__qualname__', type(f).__name__)}"
            for m, f in self._functions.items()
        ) + ")"

    @property
    def name(self) -> str:
        return self._name

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self._functions)

    @property
    def fingerprint(self) -> str | None:
        return self._fingerprint

    @property
    def cacheable(self) -> bool:
        return self._fingerprint is not None

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Call the modality's function on batches of ``items``; float32 ``(n, D)``."""
        _check_modality(self.modalities, modality, self.name)
        batch_size = check_batch_size(batch_size)
        items = list(items)
        fn = self._functions[modality]
        parts = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            parts.append(as_float32_rows(fn(batch), len(batch), f"functions[{modality!r}]"))
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        dims = {p.shape[1] for p in parts}
        if len(dims) > 1:
            raise ValueError(
                f"functions[{modality!r}] returned different widths {sorted(dims)} across "
                "batches; it must always return the same D."
            )
        return np.concatenate(parts)

    def __repr__(self) -> str:
        return self._name


class Precomputed:
    """Embeddings computed elsewhere, served as an encoder (rows looked up by pair index).

    :func:`amumo.embed` passes pair indices instead of items, so
    ``am.embed(Precomputed(emb), dataset)`` attaches the dataset's meta to
    existing embeddings, skipping unreadable pairs like any other encoder. Row
    ``i`` must belong to pair ``i`` of the dataset (or of the unfiltered dataset
    when ``dataset`` is a filtered view).

    Parameters
    ----------
    embeddings : Embeddings or mapping of str to (N, D) array
    name : str, optional

    Examples
    --------
    >>> import numpy as np
    >>> from amumo.models import Precomputed
    >>> enc = Precomputed({"image": np.eye(3), "text": np.eye(3)[::-1]})
    >>> enc.encode("text", [0, 2]).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """

    input_kind = "index"
    cacheable = False

    def __init__(self, embeddings: Any, name: str | None = None):
        if isinstance(embeddings, Mapping):
            raw = {}
            for modality, values in embeddings.items():
                if not isinstance(modality, str) or not modality:
                    raise TypeError(f"modality name {modality!r} must be a non-empty string.")
                raw[modality] = as_float32_rows(
                    values, len(np.asarray(values)), f"embeddings[{modality!r}]"
                )
            provenance: dict[str, Any] = {}
        elif hasattr(embeddings, "modalities") and hasattr(embeddings, "norms"):
            # an amumo Embeddings: serve the raw rows (unit rows times their norms)
            norms = embeddings.norms
            raw = {
                m: (np.asarray(embeddings[m], np.float64) * norms[m][:, None]).astype(np.float32)
                for m in embeddings.modalities
            }
            provenance = dict(getattr(embeddings, "provenance", {}) or {})
        else:
            raise TypeError(
                f"embeddings is a {type(embeddings).__name__}; pass an amumo Embeddings or a "
                "dict {'image': X, 'text': Y} of (N, D) arrays."
            )
        if not raw:
            raise ValueError("embeddings has no modality; pass at least one (N, D) array.")
        shapes = {m: a.shape for m, a in raw.items()}
        if len({s[0] for s in shapes.values()}) != 1:
            raise ValueError(
                f"modalities have different numbers of rows {shapes}; row i of every modality "
                "must be pair i."
            )
        if not all(np.isfinite(a).all() for a in raw.values()):
            raise ValueError("embeddings contain NaN or Inf; fix or drop those rows first.")
        for a in raw.values():
            a.setflags(write=False)
        self._raw = raw
        self._fingerprint = stable_hash("precomputed", *[(m, raw[m]) for m in raw])
        self._name = name or f"Precomputed({provenance.get('model', 'embeddings')})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self._raw)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def n(self) -> int:
        """Number of rows (pairs) available."""
        return next(iter(self._raw.values())).shape[0]

    @property
    def dim(self) -> int:
        """Embedding dimension D."""
        return next(iter(self._raw.values())).shape[1]

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Rows at the pair indices ``items``."""
        _check_modality(self.modalities, modality, self.name)
        idx = np.asarray(list(items))
        if idx.size == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if idx.dtype == np.bool_ or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"{self.name} looks rows up by pair index; items must be integers, got "
                f"{idx.dtype}. Use it through am.embed(encoder, dataset), which passes indices."
            )
        bad = (idx < 0) | (idx >= self.n)
        if bad.any():
            raise IndexError(
                f"pair indices {idx[bad][:10].tolist()} are out of range for {self.n} "
                "precomputed rows."
            )
        return self._raw[modality][idx]

    def __repr__(self) -> str:
        return self._name
