"""The :class:`Embeddings` container: paired, L2-normalised embeddings of several modalities.

Row ``i`` of every modality belongs to pair ``i`` (an image and its caption, say).
Rows are stored as float32 and normalised to unit length; the raw norms stay
available in :attr:`Embeddings.norms`. Rows memory-mapped from float16 files
(shards written with ``dtype="float16"``, clip-retrieval folders) stay float16:
half the disk and page cache, unit length within float16 rounding (~5e-4);
every analysis reads them in blocks cast to float32 (products) or float64 (sums).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import map_in_threads
from amumo.embeddings._lazy import is_lazy
from amumo.embeddings._map_guard import check_mapped
from amumo.embeddings._rows import hash_rows, take_rows
from amumo.embeddings._validate import check_modality_array, normalise_rows

__all__ = ["Embeddings"]

_MAX_LISTED_ROWS = 10
#: Above this many bytes the fingerprint hashes the modalities in parallel threads.
_PARALLEL_HASH_BYTES = 64 << 20


def _normalise_meta(meta: Any, n: int) -> pd.DataFrame:
    if meta is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    if isinstance(meta, pd.DataFrame):
        frame = meta.copy()
    elif isinstance(meta, Mapping):
        try:
            frame = pd.DataFrame(dict(meta))
        except ValueError as err:
            raise ValueError(
                f"meta could not be turned into a table ({err}); pass a DataFrame or a "
                "dict of equal-length columns with one value per pair."
            ) from err
    else:
        raise TypeError(
            f"meta is a {type(meta).__name__}; pass a pandas DataFrame or a dict of columns "
            "with one row per pair."
        )
    if len(frame) != n:
        raise ValueError(
            f"meta has {len(frame)} rows but the embeddings have {n} pairs; pass one meta "
            "row per pair, in pair order."
        )
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        name = frame.index.name or "index"
        if name in frame.columns:
            name = "original_index"
        frame = frame.reset_index(names=name)
    return frame


def _stored_identity(array: Any) -> str | None:
    """A stand-in for the bytes of a very large memory-mapped modality, or of rows computed
    on read; None for arrays whose bytes are hashed."""
    describe = getattr(array, "identity", None)
    if callable(describe) and not isinstance(array, np.ndarray):
        return str(describe())
    from amumo.embeddings._checked import DEFER_BYTES, identity_key

    if not isinstance(array, np.memmap) or array.nbytes < DEFER_BYTES or \
            not getattr(array, "filename", None):
        return None
    base = array
    while isinstance(getattr(base, "base", None), np.memmap):
        base = base.base
    start = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return "file:" + identity_key(base.filename, int(base.offset) + int(start), array.shape,
                                  array.dtype)


class Embeddings:
    """Paired embeddings of two or more modalities.

    Build one with :meth:`from_arrays` or :meth:`load`; the constructor is
    internal. Arrays are float32, rows unit-length and read-only; every
    transformation (``subset``, ``shift``...) returns a new object.

    Attributes
    ----------
    modalities : tuple of str
        Modality names in order, e.g. ``("image", "text")``.
    meta : pandas.DataFrame
        One row per pair (captions, ids, augmentation level...).
    norms : dict of str to ndarray
        The L2 norm of every raw row before normalisation.
    provenance : dict
        Where the embeddings came from (model, dataset, created, ...).

    Examples
    --------
    >>> import numpy as np, amumo as am
    >>> rng = np.random.default_rng(0)
    >>> emb = am.Embeddings.from_arrays({"image": rng.normal(size=(4, 8)),
    ...                                  "text": rng.normal(size=(4, 8))})
    >>> emb.modalities, len(emb), emb.dim
    (('image', 'text'), 4, 8)
    >>> bool(np.allclose(np.linalg.norm(emb["image"], axis=1), 1))
    True
    """

    __slots__ = ("_arrays", "_norms", "_meta", "provenance", "_fingerprint")

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        norms: dict[str, np.ndarray],
        meta: pd.DataFrame,
        provenance: dict[str, Any],
    ) -> None:
        self._arrays = arrays
        self._norms = norms
        self._meta = meta
        self.provenance = provenance
        self._fingerprint: str | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, Any],
        meta: pd.DataFrame | Mapping[str, Sequence[Any]] | None = None,
        provenance: Mapping[str, Any] | None = None,
        *,
        normalized: bool = False,
    ) -> Embeddings:
        """Build paired embeddings from one ``(N, D)`` array per modality.

        Parameters
        ----------
        arrays : mapping of str to array-like
            ``{"image": X, "text": Y, ...}``; at least two modalities, all with the
            same ``N`` (pairs) and ``D`` (dimensions). float16/32/64 accepted.
        meta : DataFrame or dict of columns, optional
            One row per pair, e.g. ``{"caption": [...]}``.
        provenance : dict, optional
            Free-form description of where the embeddings came from.
        normalized : bool, default False
            Internal fast path: the arrays are already unit rows (float32, or float16
            from a float16 file: kept as they are).

        Returns
        -------
        Embeddings

        Raises
        ------
        ValueError
            Fewer than two modalities, N = 0, mismatched N or D, NaN/Inf or
            all-zero rows (the offending rows are listed), wrong number of dims.
        TypeError
            Non-numeric arrays, non-string modality names, bad ``meta`` type.

        Examples
        --------
        >>> import numpy as np, amumo as am
        >>> emb = am.Embeddings.from_arrays({"image": np.eye(3), "text": np.eye(3)[::-1]},
        ...                                 meta={"caption": ["a", "b", "c"]})
        >>> emb.meta["caption"].tolist()
        ['a', 'b', 'c']
        """
        if not isinstance(arrays, Mapping):
            raise TypeError(
                f"arrays is a {type(arrays).__name__}; pass a dict such as "
                "{'image': X, 'text': Y} with one (N, D) array per modality."
            )
        if len(arrays) < 2:
            raise ValueError(
                f"arrays has {len(arrays)} modality(ies) ({list(arrays)}); the modality gap "
                "needs at least two, e.g. {'image': X, 'text': Y}."
            )
        for name in arrays:
            if not isinstance(name, str) or not name:
                raise TypeError(f"modality name {name!r} must be a non-empty string.")
        checked: dict[str, np.ndarray] = {}
        for name, values in arrays.items():
            if normalized:  # float16 unit rows (a float16 file, memory-mapped) stay float16
                array = np.asarray(values)
                checked[name] = array if array.dtype in (np.float16, np.float32) else \
                    array.astype(np.float32)
            else:
                checked[name] = check_modality_array(name, values)
        shapes = {name: a.shape for name, a in checked.items()}
        ns = {s[0] for s in shapes.values()}
        if len(ns) != 1:
            raise ValueError(
                f"modalities have different numbers of rows {shapes}; row i of every "
                "modality must be pair i, so all must have the same N."
            )
        ds = {s[1] for s in shapes.values()}
        if len(ds) != 1:
            raise ValueError(
                f"modalities have different dimensions {shapes}; embeddings compared in "
                "one space must share D (project them to a common space first)."
            )
        n = ns.pop()
        stored: dict[str, np.ndarray] = {}
        norms: dict[str, np.ndarray] = {}
        for name, a in checked.items():
            if normalized:
                unit = a
                norm = np.ones(n, dtype=np.float64)
            else:
                # float64 norms: 1e154-sized rows overflow float32; blocks of rows keep
                # memory at the float32 result plus a few 8 MiB blocks.
                unit, norm = normalise_rows(name, a)
            unit.setflags(write=False)
            norm.setflags(write=False)
            stored[name] = unit
            norms[name] = norm
        return cls(stored, norms, _normalise_meta(meta, n), dict(provenance or {}))

    def _derive(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        meta: pd.DataFrame | None = None,
        norms: Mapping[str, np.ndarray] | None = None,
        normalized: bool = False,
        **provenance: Any,
    ) -> Embeddings:
        """New Embeddings from float rows (re-normalised), keeping meta/provenance.

        ``normalized=True``: the new arrays are already float32 unit rows made by
        the caller (e.g. the blocked shift); they are stored as they are, no copy.
        """
        stored = {}
        for name, a in arrays.items():
            if a is self._arrays.get(name):
                stored[name] = a  # unchanged modality: no copy (it may be memory-mapped)
                continue
            if normalized and isinstance(a, np.ndarray) and a.dtype == np.float32:
                a.setflags(write=False)
                stored[name] = a
                continue
            if is_lazy(a):  # rows computed when read (too large to copy): kept as they are
                stored[name] = a
                continue
            unit = normalise_rows(name, np.asarray(a), derived=True)[0]
            unit.setflags(write=False)
            stored[name] = unit
        new_prov = {**self.provenance, **provenance}
        return Embeddings(
            stored,
            dict(norms) if norms is not None else dict(self._norms),
            self._meta.copy() if meta is None else meta,
            new_prov,
        )

    # ------------------------------------------------------------------ access
    @property
    def modalities(self) -> tuple[str, ...]:
        """Modality names in order."""
        return tuple(self._arrays)

    @property
    def dim(self) -> int:
        """Embedding dimension D."""
        return next(iter(self._arrays.values())).shape[1]

    @property
    def meta(self) -> pd.DataFrame:
        """Per-pair table (a copy is not made; do not mutate in place)."""
        return self._meta

    @property
    def norms(self) -> dict[str, np.ndarray]:
        """Raw row norms before normalisation, per modality."""
        return dict(self._norms)

    @property
    def skipped(self) -> list[Any]:
        """Items skipped while embedding (unreadable inputs), as recorded in provenance."""
        return list(self.provenance.get("skipped", []))

    def __len__(self) -> int:
        return next(iter(self._arrays.values())).shape[0]

    def __getitem__(self, modality: str) -> np.ndarray:
        try:
            array = self._arrays[modality]
        except KeyError:
            raise KeyError(
                f"unknown modality {modality!r}; this Embeddings has {self.modalities}."
            ) from None
        # A memory-mapped file truncated by another process since it was mapped: a named
        # error now instead of SIGBUS (the process killed) on the next read (_map_guard).
        check_mapped(array)
        return array

    def __contains__(self, modality: object) -> bool:
        return modality in self._arrays

    def __iter__(self):
        return iter(self._arrays)

    def stacked(self) -> np.ndarray:
        """All modalities as one ``(M, N, D)`` float32 array (the Mind-the-Gap layout)."""
        return np.stack([self[m] for m in self.modalities])

    def check_modality(self, modality: str, argument: str = "modality") -> str:
        """Return ``modality`` if present, else raise a ValueError naming ``argument``."""
        if modality not in self._arrays:
            raise ValueError(
                f"{argument}={modality!r} is not a modality of these embeddings; "
                f"choose one of {self.modalities}."
            )
        return modality

    def pair_modalities(self, a: str | None = None, b: str | None = None) -> tuple[str, str]:
        """Resolve the two modalities to compare (defaults: the first two)."""
        a = self.modalities[0] if a is None else self.check_modality(a, "a")
        b = self.modalities[1] if b is None else self.check_modality(b, "b")
        if a == b:
            raise ValueError(f"a and b are both {a!r}; pass two different modalities.")
        return a, b

    @property
    def fingerprint(self) -> str:
        """Stable SHA-1 of modality names, shapes and array bytes (cache key for projections).

        Each modality's bytes are hashed on their own, block by block (no whole copy),
        and the digests combined; above 64 MB the modalities are hashed in parallel
        threads (hashlib releases the GIL: 1 s instead of 2 s for a million pairs on two
        cores). A modality memory-mapped from a file of 1 GiB or more is identified by
        the file instead (path, device, inode, size, modification and status-change
        times: :func:`amumo.embeddings._checked.identity_key`), not read whole (10 s per
        modality at ten million pairs); rows computed on read
        (:mod:`amumo.embeddings._lazy`) by their source and transformation.
        """
        if self._fingerprint is None:
            names = list(self.modalities)

            def modality_digest(name: str) -> bytes:
                part = hashlib.sha1()
                identity = _stored_identity(self._arrays[name])
                if identity is not None:  # a very large file, or rows computed on read
                    part.update(identity.encode())
                else:
                    hash_rows(part, self._arrays[name])
                return part.digest()

            size = sum(self._arrays[name].nbytes for name in names)
            parts = map_in_threads(modality_digest, names,
                                   parallel=size > _PARALLEL_HASH_BYTES, name="amumo-hash")
            digest = hashlib.sha1()
            for name, part in zip(names, parts, strict=True):
                digest.update(name.encode())
                digest.update(str(self._arrays[name].shape).encode())
                digest.update(part)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    # ------------------------------------------------------------------ selection
    def subset(self, indices: Sequence[int] | np.ndarray) -> Embeddings:
        """Keep the pairs at ``indices`` (in that order).

        Examples
        --------
        >>> import amumo as am
        >>> emb = am.datasets.clip_coco500()
        >>> len(emb.subset([0, 5, 7]))
        3
        """
        idx = np.asarray(indices)
        if idx.dtype == np.bool_:
            raise TypeError("indices is a boolean mask; use emb.filter(mask) for masks.")
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            if idx.size == 0:
                idx = idx.astype(np.intp).reshape(-1)
            else:
                raise TypeError(f"indices must be a 1-D sequence of integers, got {idx.dtype}.")
        if idx.size == 0:
            raise ValueError("indices is empty; a subset needs at least one pair.")
        n = len(self)
        out = (idx < -n) | (idx >= n)
        if out.any():
            raise IndexError(
                f"indices {idx[out][:_MAX_LISTED_ROWS].tolist()} are out of range for {n} pairs."
            )
        idx = np.where(idx < 0, idx + n, idx)
        arrays = {}
        for name in self.modalities:
            # take_rows: a memory-mapped source is gathered without mapping it whole
            a = take_rows(self._arrays[name], idx)
            a.setflags(write=False)
            arrays[name] = a
        norms = {name: self._norms[name][idx] for name in self.modalities}
        meta = self._meta.iloc[idx]
        if "pair" not in meta.columns:
            meta = meta.assign(pair=idx)
        meta = meta.reset_index(drop=True)
        return Embeddings(arrays, norms, meta, dict(self.provenance))

    def filter(self, mask: Sequence[bool] | np.ndarray) -> Embeddings:
        """Keep the pairs where ``mask`` is True.

        Examples
        --------
        >>> import amumo as am
        >>> emb = am.datasets.clip_coco500()
        >>> len(emb.filter(emb.meta["pair"] < 10))
        10
        """
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"mask must be boolean, got dtype {m.dtype}; use subset() for indices.")
        if m.shape != (len(self),):
            raise ValueError(f"mask has shape {m.shape}; expected ({len(self)},), one per pair.")
        return self.subset(np.flatnonzero(m))

    # ------------------------------------------------------------------ I/O
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write amumo's ``.npz`` format atomically (temporary file + rename).

        Parameters
        ----------
        path : str or Path
            Destination ending in ``.npz``.
        overwrite : bool, default False
            Replace an existing file; otherwise an existing file raises.

        Examples
        --------
        >>> import tempfile, pathlib, amumo as am
        >>> emb = am.datasets.clip_coco500()
        >>> p = emb.save(pathlib.Path(tempfile.mkdtemp()) / "run.npz")
        >>> am.Embeddings.load(p).fingerprint == emb.fingerprint
        True
        """
        from amumo.embeddings.io import save_npz

        return save_npz(self, path, overwrite=overwrite)

    @classmethod
    def load(
        cls,
        path: str | Path,
        modalities: Sequence[str] | None = None,
        *,
        mmap: bool | None = None,
        cache_dir: str | Path | None = None,
        check: str = "auto",
    ) -> Embeddings:
        """Read amumo's ``.npz`` or a Mind-the-Gap ``(M, N, D)`` ``.npy`` file.

        Parameters
        ----------
        path : str or Path
        modalities : sequence of str, optional
            Names for the M arrays of a ``.npy`` file; default ``("image", "text")``.
        mmap : bool, optional
            Memory-map the rows instead of reading them into RAM: ``.npy`` files
            and uncompressed ``.npz`` members (``Embeddings.save`` writes those;
            compressed members are read into memory). Default ``None``: map
            files of 64 MiB or more. Rows are validated (NaN/Inf, zero rows) in
            blocks by plain file reads. float32 rows that are already unit length
            are used zero-copy; anything else is normalised **once** into a
            float32 copy at ``<cache_dir>/normalised/<key>/<modality>.npy``,
            reused by later loads of the unchanged file (see
            :mod:`amumo.embeddings._mapped`). ``provenance["mmap"]`` says which.
        cache_dir : str or Path, optional
            Where normalised copies go; default ``$AMUMO_CACHE_DIR`` or the user
            cache dir (:func:`amumo.embeddings.default_cache_dir`).
        check : {"auto", "full"}, default "auto"
            When memory-mapped rows are checked (NaN / Inf, zero, not unit length).
            ``"auto"``: modalities under 1 GiB are scanned when opened; larger ones are
            sampled when opened and every other row is checked by the first pass that
            reads it, which raises :class:`~amumo.embeddings._checked.InvalidRowsError`
            for a bad row before giving any result (ten million 512-d float16 pairs then
            open in a second instead of half a minute; a later open of the unchanged
            file knows they were checked). ``"full"``: scan every row now (and write a
            normalised copy of rows that are not unit length). See
            :mod:`amumo.embeddings._checked`.

        Examples
        --------
        >>> import amumo as am
        >>> from amumo.datasets import reference_path
        >>> am.Embeddings.load(reference_path("features_clip.npy")).modalities
        ('image', 'text')
        """
        from amumo.embeddings.io import load

        return load(path, modalities=modalities, mmap=mmap, cache_dir=cache_dir, check=check)

    @classmethod
    def open(
        cls,
        folder: str | Path,
        *,
        consolidate: bool | None = None,
        verify: bool = False,
        cache_dir: str | Path | None = None,
        metadata: str | Path | None = None,
        meta_columns: Sequence[str] | None = None,
        check: str = "auto",
    ) -> Embeddings:
        """Open a folder of shards or a clip-retrieval output as one memory-mapped Embeddings.

        Parameters
        ----------
        folder : str or Path
            Written by :func:`amumo.embeddings.shards.write_shard` (e.g. by the
            Ray helper in :mod:`amumo.scale`), or by ``clip-retrieval inference``
            (``img_emb/img_emb_K.npy``, ``text_emb/text_emb_K.npy``,
            ``metadata/metadata_K.parquet``: LAION's published embeddings; see
            :mod:`amumo.embeddings.clip_retrieval`). float16 files stay float16.
        consolidate : bool, optional
            Several shards are joined **once** into one file per modality (the shards' dtype)
            (``<folder>/consolidated/``, or the cache dir if the folder is read
            only), streamed shard by shard, then memory-mapped; later opens reuse
            it. One shard is mapped directly. ``False`` refuses to write and
            raises if a consolidated copy is needed but missing.
        verify : bool, default False
            Re-compute every shard file's checksum, and that of each shard's rows in
            the consolidated copy that is mapped (reads everything once more); for a
            clip-retrieval folder, rebuild its joined copy from the partition files.
            Without it the rows are still scanned once, in blocks, for NaN/Inf and
            rows that are not unit length (as :meth:`load` does).
        cache_dir : str or Path, optional
            Fallback location for the consolidated copy.
        metadata, meta_columns : optional
            clip-retrieval folders only: the ``metadata_K.parquet`` folder when it is
            not ``folder/metadata``, and the metadata columns to read (default all).
        check : {"auto", "full"}, default "auto"
            Shard folders: when the rows of shard files of 1 GiB or more per modality are
            checked (as in :meth:`load`: sampled now and checked as they are first read,
            or ``"full"``: every row now).

        Examples
        --------
        >>> import tempfile, numpy as np, amumo as am
        >>> from amumo.embeddings.shards import write_shard
        >>> folder = tempfile.mkdtemp()
        >>> rng = np.random.default_rng(0)
        >>> for i in range(3):
        ...     _ = write_shard(folder, i, {"image": rng.normal(size=(4, 8)),
        ...                                 "text": rng.normal(size=(4, 8))})
        >>> emb = am.Embeddings.open(folder)
        >>> len(emb), emb.dim, emb.provenance["n_shards"]
        (12, 8, 3)
        """
        from amumo.embeddings.clip_retrieval import is_clip_retrieval_folder, open_clip_retrieval
        from amumo.embeddings.shards import open_shards

        if is_clip_retrieval_folder(folder):
            return open_clip_retrieval(folder, metadata=metadata, meta_columns=meta_columns,
                                       consolidate=consolidate, verify=verify,
                                       cache_dir=cache_dir)
        if metadata is not None or meta_columns is not None:
            raise ValueError(
                f"metadata= and meta_columns= apply to clip-retrieval folders (img_emb/, "
                f"text_emb/); {folder} is a shard folder, whose meta is in its shards."
            )
        return open_shards(folder, consolidate=consolidate, verify=verify, cache_dir=cache_dir,
                           check=check)

    def to_json_meta(self) -> str:
        """The meta table as JSON (``orient="split"``), as stored in ``.npz`` files."""
        return self._meta.to_json(orient="split", date_format="iso")

    def __repr__(self) -> str:
        model = self.provenance.get("model")
        dataset = self.provenance.get("dataset")
        extra = "".join(
            f", {k}={v!r}" for k, v in (("model", model), ("dataset", dataset)) if v
        )
        return (
            f"Embeddings(modalities={self.modalities}, n={len(self)}, dim={self.dim}{extra})"
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (sizes and provenance)."""
        return {
            "modalities": list(self.modalities),
            "n": len(self),
            "dim": self.dim,
            "provenance": json.loads(json.dumps(self.provenance, default=str)),
        }
