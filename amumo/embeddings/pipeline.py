"""``am.embed``: turn an encoder and a paired dataset into :class:`Embeddings`.

Work is split into chunks of ``chunk_size`` pairs and batches of
``batch_size`` pairs (a batch never crosses a chunk). The stages overlap:

- **loading** (reading, decoding, preprocessing, tokenising) runs in worker
  processes (:mod:`amumo.embeddings.loader`: a torch ``DataLoader``, threads
  without torch), a few batches ahead, into pinned memory on CUDA;
- **encoding** runs in the calling thread; with a staged encoder
  (``batch_preparer`` / ``encode_prepared``, e.g. :class:`~amumo.models.OpenCLIP`)
  the next batch is launched on the device before the previous one is read
  back, so the GPU does not wait for Python;
- **writing** each finished chunk to the on-disk cache
  (:mod:`amumo.embeddings.cache`) happens in a writer thread.

An interrupted run (Ctrl-C, a crash, a killed kernel) resumes from the last
finished chunk, and a repeated call reads everything back without loading the
model at all (:class:`~amumo.models.OpenCLIP` builds its model on first use).

A pair is skipped -- left out of every modality, named in a
:class:`SkippedPairsWarning` and in ``emb.provenance["skipped"]`` -- when one
of its items cannot be read or prepared (any error: a corrupt file, a
decompression bomb...) or when the encoder returns a non-finite or all-zero
row for it. Skips are recorded in the cache with the chunk, never the bad rows.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import __version__
from amumo.data.base import DatasetView, stable_hash
from amumo.embeddings.cache import Chunk, ChunkCache, ChunkWriter, resolve_cache_dir
from amumo.embeddings.container import Embeddings
from amumo.embeddings.loader import (
    LoadedBatch,
    default_batch_size,
    default_num_workers,
    iter_batches,
)
from amumo.models.base import as_float32_rows, check_batch_size

__all__ = ["embed", "SkippedPairsWarning", "NoReadablePairsError", "DEFAULT_CHUNK_SIZE"]

#: Pairs per cache chunk (the granularity of resuming after an interruption).
DEFAULT_CHUNK_SIZE = 256
_PIPELINE_VERSION = 1
_LISTED = 10


class NoReadablePairsError(ValueError):
    """Every pair was skipped; ``skipped`` lists why (as ``emb.provenance["skipped"]`` would)."""

    def __init__(self, message: str, skipped: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.skipped = skipped


class SkippedPairsWarning(UserWarning):
    """Some pairs were left out: an item could not be read, or the encoder's row was unusable."""


def _check_dataset(dataset: Any) -> None:
    missing = [
        attr for attr in ("modalities", "meta", "fingerprint", "item", "__len__")
        if not hasattr(dataset, attr)
    ]
    if missing:
        raise TypeError(
            f"dataset is a {type(dataset).__name__} without {missing}; pass a paired dataset "
            "from amumo.data (SyntheticShapes, ImageTextFolder, COCOCaptions, ...) or any "
            "object following the amumo.data.PairedDataset protocol."
        )


def _check_encoder(encoder: Any) -> None:
    missing = [
        attr for attr in ("modalities", "fingerprint", "encode", "name")
        if not hasattr(encoder, attr)
    ]
    if missing:
        raise TypeError(
            f"encoder is a {type(encoder).__name__} without {missing}; pass an amumo.models "
            "encoder (OpenCLIP, CallableEncoder, Precomputed) or any object following the "
            "amumo.models.Encoder protocol."
        )


def _resolve_modalities(
    encoder: Any, dataset: Any, modalities: Sequence[str] | None
) -> tuple[str, ...]:
    data_mods = tuple(dataset.modalities)
    enc_mods = tuple(encoder.modalities)
    if modalities is None:
        chosen = data_mods
    else:
        if isinstance(modalities, str):
            raise TypeError(
                f"modalities={modalities!r} is a single string; pass a list such as "
                "['image', 'text']."
            )
        chosen = tuple(modalities)
        for m in chosen:
            if m not in data_mods:
                raise ValueError(
                    f"unknown modality {m!r}: the dataset {getattr(dataset, 'name', '')!s} has "
                    f"{data_mods}."
                )
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"modalities={chosen} has duplicates.")
    if len(chosen) < 2:
        raise ValueError(
            f"modalities={chosen}: the modality gap needs at least two modalities, e.g. "
            "('image', 'text')."
        )
    lacking = [m for m in chosen if m not in enc_mods]
    if lacking:
        common = [m for m in chosen if m in enc_mods]
        hint = (
            f"pass modalities={common} to embed only those"
            if len(common) >= 2
            else "use an encoder for these modalities"
        )
        raise ValueError(
            f"modality mismatch: the dataset has {data_mods} but the encoder {encoder.name} "
            f"encodes {enc_mods} (missing {lacking}); {hint}."
        )
    return chosen


def _index_mapper(encoder: Any, dataset: Any) -> Any:
    """For index-kind encoders (Precomputed): dataset position -> encoder row."""
    rows = getattr(encoder, "n", None)
    if rows == len(dataset):
        return lambda positions: list(positions)
    if isinstance(dataset, DatasetView) and rows == len(dataset.parent):
        return lambda positions: [int(dataset.indices[p]) for p in positions]
    raise ValueError(
        f"{encoder.name} has {rows} rows but the dataset has {len(dataset)} pairs; row i must "
        "belong to pair i (or to pair i of the unfiltered dataset of a filtered view)."
    )


class _ChunkBuilder:
    """Collects the batches of one chunk into a :class:`Chunk`."""

    def __init__(self, start: int, size: int, n_batches: int) -> None:
        self.start = start
        self.ok = np.zeros(size, dtype=np.bool_)
        self.arrays: dict[str, np.ndarray] = {}
        self.skipped: list[dict[str, Any]] = []
        self.remaining = n_batches

    def add(self, positions: list[int], ok: np.ndarray, rows: dict[str, np.ndarray | None],
            skipped: list[dict[str, Any]], who: str) -> bool:
        """Place one batch's rows; True when the chunk is complete."""
        offset = np.asarray(positions, dtype=np.intp) - self.start
        self.ok[offset] = ok
        for m, values in rows.items():
            if values is None:
                continue
            if m not in self.arrays:
                self.arrays[m] = np.zeros((len(self.ok), values.shape[1]), dtype=np.float32)
            elif self.arrays[m].shape[1] != values.shape[1]:
                raise ValueError(
                    f"{who} returned {values.shape[1]} dimensions for modality {m!r} after "
                    f"{self.arrays[m].shape[1]} in an earlier batch; it must always return the "
                    "same D."
                )
            self.arrays[m][offset[ok]] = values
        self.skipped.extend(skipped)
        self.remaining -= 1
        return self.remaining == 0

    def chunk(self, modalities: tuple[str, ...]) -> Chunk:
        arrays = {
            m: self.arrays.get(m, np.zeros((len(self.ok), 0), dtype=np.float32))
            for m in modalities
        }
        skipped = sorted(self.skipped, key=lambda s: s["item"])
        return Chunk(start=self.start, ok=self.ok, arrays=arrays, skipped=skipped)


def _check_rows(rows: dict[str, np.ndarray], batch: LoadedBatch,
                modalities: tuple[str, ...]) -> None:
    """Drop pairs whose rows are NaN / Inf / all zero (recorded by item index)."""
    kept = np.flatnonzero(batch.ok)
    bad = np.zeros(len(kept), dtype=np.bool_)
    reasons: dict[int, tuple[str, str]] = {}
    for m in modalities:
        values = rows[m]
        finite = np.isfinite(values).all(axis=1)
        zero = finite & ~values.any(axis=1)
        for j in np.flatnonzero(~finite | zero):
            if not bad[j]:
                reasons[int(j)] = (m, "the encoder returned NaN/Inf in this pair's row"
                                   if not finite[j] else
                                   "the encoder returned an all-zero row (cannot be normalised)")
            bad[j] = True
    if not bad.any():
        return
    for j, (m, reason) in sorted(reasons.items()):
        batch.skipped.append({"item": int(batch.positions[kept[j]]), "modality": m,
                              "error": reason})
    batch.ok[kept[bad]] = False
    for m in modalities:
        rows[m] = rows[m][~bad]


def _progress(total: int, initial: int, enabled: bool, description: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="pair", desc=description, leave=True)


def embed(
    encoder: Any,
    dataset: Any,
    batch_size: int | None = None,
    cache: bool = True,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    modalities: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    num_workers: int | None = None,
) -> Embeddings:
    """Embed every pair of ``dataset`` with ``encoder``; cached on disk, with a progress bar.

    Parameters
    ----------
    encoder : Encoder
        :class:`~amumo.models.OpenCLIP`, :class:`~amumo.models.CallableEncoder`,
        :class:`~amumo.models.Precomputed` or any object with ``name``,
        ``modalities``, ``fingerprint`` and ``encode(modality, items, batch_size)``.
    dataset : PairedDataset
        E.g. :class:`~amumo.data.SyntheticShapes`, a filtered view, an
        :class:`~amumo.data.Augmented` set.
    batch_size : int, optional
        Pairs per forward pass; default by the encoder's device: 256 on CUDA,
        64 elsewhere.
    cache : bool, default True
        Read / write the on-disk cache. The key is the encoder fingerprint plus
        the dataset fingerprint (which covers augmentation parameters).
    progress : bool, default True
        Show a tqdm progress bar (notebook widget in Jupyter).
    cache_dir : path, optional
        Cache root; default ``$AMUMO_CACHE_DIR`` or the platform's user cache dir.
    modalities : sequence of str, optional
        Which of the dataset's modalities to embed (default: all of them).
    chunk_size : int, default 256
        Pairs per cache chunk: an interrupted run resumes from the last finished chunk.
    num_workers : int, optional
        Processes that read, decode, preprocess and tokenise ahead of the
        encoder (threads when torch is not installed; 0: in the calling
        thread). Default from the CPU count and the encoder's device (see
        :func:`amumo.embeddings.loader.default_num_workers`): all cores but one
        (at most 12) for a GPU, a quarter (at most 4) on the CPU.

    Returns
    -------
    Embeddings
        One row per readable pair. ``meta`` is the dataset's meta (captions, ids,
        augmentation level...) plus an ``item`` column: the pair's position in
        ``dataset``. ``provenance`` records model, dataset, fingerprints,
        creation time, cache location and ``skipped`` pairs.

    Raises
    ------
    ValueError
        Empty dataset, unknown modality, encoder / dataset modality mismatch,
        wrong encoder output, or no readable pair at all.
    TypeError
        ``encoder`` / ``dataset`` do not follow the protocols.

    CacheDirError
        The cache folder is an empty path, a file or not writable (checked
        before any work; pass ``cache_dir=`` another folder or ``cache=False``).

    Warns
    -----
    SkippedPairsWarning
        Pairs with an item that cannot be read or prepared (a corrupt or
        missing file, a decompression bomb, any error in ``dataset.item``) or
        for which the encoder returned NaN / Inf / all-zero rows are left out
        of every modality; the warning lists them by item index with the
        reason, as does ``emb.provenance["skipped"]`` (also ``emb.skipped``).
    CacheWarning
        A cache chunk was corrupt or truncated and is recomputed.

    Examples
    --------
    >>> import tempfile, amumo as am
    >>> from amumo.data import SyntheticShapes
    >>> enc = am.models.OpenCLIP("amumo-tiny", device="cpu")
    >>> emb = am.embed(enc, SyntheticShapes(16), progress=False, cache_dir=tempfile.mkdtemp())
    >>> emb.modalities, len(emb), emb["image"].shape
    (('image', 'text'), 16, (16, 64))
    >>> emb.meta["caption"][0] == SyntheticShapes(16).captions[0]
    True
    """
    _check_encoder(encoder)
    _check_dataset(dataset)
    batch_size = check_batch_size(
        default_batch_size(_device(encoder)) if batch_size is None else batch_size
    )
    if num_workers is None:
        num_workers = default_num_workers(_device(encoder))
    elif isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
            or num_workers < 0:
        raise ValueError(f"num_workers={num_workers!r}; pass 0 (load in this thread) or a "
                         "positive number of worker processes.")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}; pass a positive integer such as 256.")
    n = len(dataset)
    if n == 0:
        raise ValueError(
            f"dataset {getattr(dataset, 'name', type(dataset).__name__)} has no pairs (did a "
            "filter match nothing?); pass a dataset with at least one pair."
        )
    chosen = _resolve_modalities(encoder, dataset, modalities)
    by_index = getattr(encoder, "input_kind", "item") == "index"
    index_rows = _index_mapper(encoder, dataset) if by_index else None

    store: ChunkCache | None = None
    if cache:
        fingerprint = encoder.fingerprint
        if fingerprint is None or getattr(encoder, "cacheable", True) is False:
            if fingerprint is None:
                warnings.warn(
                    f"{encoder.name} has no fingerprint, so its embeddings are not cached; give "
                    "it one (e.g. CallableEncoder(..., fingerprint='my-model-v1')) to enable "
                    "the cache, or pass cache=False to silence this.",
                    UserWarning,
                    stacklevel=2,
                )
        else:
            key = stable_hash(
                "embed", _PIPELINE_VERSION, fingerprint, dataset.fingerprint, chosen,
                int(chunk_size),
            )
            manifest = {
                "encoder": encoder.name,
                "encoder_fingerprint": fingerprint,
                "dataset": getattr(dataset, "name", type(dataset).__name__),
                "dataset_fingerprint": dataset.fingerprint,
                "modalities": list(chosen),
                "n": n,
                "chunk_size": int(chunk_size),
            }
            store = ChunkCache(resolve_cache_dir(cache_dir), key, manifest, chosen)

    n_chunks = math.ceil(n / chunk_size)
    chunks: list[Chunk | None] = [None] * n_chunks
    if store is not None:
        for c in range(n_chunks):
            chunks[c] = store.load(c, min(chunk_size, n - c * chunk_size))
    from_cache = sum(len(ch.ok) for ch in chunks if ch is not None)
    if from_cache < n:
        if store is not None:
            store.check_writable()  # before any work, not after the first chunk
        bar = _progress(n, from_cache, progress, f"embed {getattr(dataset, 'name', 'dataset')}")
        try:
            _compute(encoder, dataset, chosen, chunks, chunk_size, batch_size, num_workers,
                     index_rows, store, bar)
        finally:
            if bar is not None:
                bar.close()
    return _assemble(encoder, dataset, chosen, chunks, store, from_cache)  # type: ignore[arg-type]


def _device(encoder: Any) -> str:
    return str(getattr(encoder, "device", "cpu") or "cpu")


def _plan(chunks: list[Chunk | None], n: int, chunk_size: int,
          batch_size: int) -> tuple[list[tuple[int, list[int]]], dict[int, _ChunkBuilder]]:
    """Batches of the chunks still to compute, and a builder per such chunk."""
    batches: list[tuple[int, list[int]]] = []
    builders: dict[int, _ChunkBuilder] = {}
    for c, done in enumerate(chunks):
        if done is not None:
            continue
        start, stop = c * chunk_size, min(n, (c + 1) * chunk_size)
        starts = range(start, stop, batch_size)
        builders[c] = _ChunkBuilder(start, stop - start, len(starts))
        batches.extend((c, list(range(s, min(s + batch_size, stop)))) for s in starts)
    return batches, builders


def _compute(
    encoder: Any,
    dataset: Any,
    modalities: tuple[str, ...],
    chunks: list[Chunk | None],
    chunk_size: int,
    batch_size: int,
    num_workers: int,
    index_rows: Any,
    store: ChunkCache | None,
    bar: Any,
) -> None:
    """Fill the missing ``chunks``: load in workers, encode here, write in a thread."""
    batches, builders = _plan(chunks, len(dataset), chunk_size, batch_size)
    staged = index_rows is None and all(
        callable(getattr(encoder, attr, None)) for attr in ("batch_preparer", "encode_prepared")
    )
    who = f"{encoder.name}.encode"
    if index_rows is not None:  # rows looked up by pair index: nothing to load
        loaded: Any = (
            LoadedBatch(c, pos, np.ones(len(pos), dtype=np.bool_), [],
                        {m: index_rows(pos) for m in modalities})
            for c, pos in batches
        )
    else:
        cuda = _device(encoder).startswith("cuda")
        loaded = iter_batches(
            dataset, modalities, batches,
            preparer=encoder.batch_preparer() if staged else None,
            num_workers=num_workers, pin_memory=staged and cuda,
        )

    def launch(batch: LoadedBatch) -> dict[str, Any]:
        if not batch.ok.any():
            return {}
        if staged:
            return {m: encoder.encode_prepared(m, batch.items[m]) for m in modalities}
        return {m: encoder.encode(m, batch.items[m], batch_size=batch_size) for m in modalities}

    def finish(batch: LoadedBatch, outputs: dict[str, Any]) -> None:
        n_ok = int(batch.ok.sum())
        rows: dict[str, Any] = {m: None for m in modalities}
        if n_ok:
            # a staged encoder may return a deferred read-back: call it now
            rows = {m: as_float32_rows(outputs[m]() if callable(outputs[m]) else outputs[m],
                                       n_ok, f"{who}({m!r}, ...)")
                    for m in modalities}
            _check_rows(rows, batch, modalities)
        builder = builders[batch.chunk]
        if builder.add(batch.positions, batch.ok, rows, batch.skipped, encoder.name):
            chunk = builder.chunk(modalities)
            chunks[batch.chunk] = chunk
            if writer is not None:
                writer.submit(batch.chunk, chunk)
            del builders[batch.chunk]
        if bar is not None:
            bar.update(len(batch.positions))

    writer = ChunkWriter(store) if store is not None else None
    pending: tuple[LoadedBatch, dict[str, Any]] | None = None
    failed = True
    try:
        for batch in loaded:
            outputs = launch(batch)
            # a staged encoder's outputs stay on the device: read the previous batch
            # back only now, after the next one is queued, so the device keeps busy
            if pending is not None:
                previous, pending = pending, None
                finish(*previous)
            if staged:
                pending = (batch, outputs)
            else:
                finish(batch, outputs)
        if pending is not None:
            previous, pending = pending, None
            finish(*previous)
        failed = False
    finally:
        if hasattr(loaded, "close"):
            loaded.close()  # stops loader workers
        if failed and pending is not None:
            try:  # its work is done: keep it (an interrupted run resumes after it)
                finish(*pending)
            except Exception:  # noqa: BLE001, S110 - the original error is being raised
                pass
        if writer is not None:
            if failed:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001, S110 - the original error is being raised
                    pass
            else:
                writer.close()


def pairs_meta(dataset: Any, kept: np.ndarray) -> pd.DataFrame:
    """The meta rows of the embedded pairs ``kept`` (positions in ``dataset``), with their
    positions in an ``item`` column first (a dataset's own ``item`` becomes ``item_original``).
    """
    meta = dataset.meta
    meta = meta.iloc[kept].reset_index(drop=True) if isinstance(meta, pd.DataFrame) else None
    if meta is None:
        meta = pd.DataFrame(index=pd.RangeIndex(len(kept)))
    if "item" in meta.columns:
        meta = meta.rename(columns={"item": "item_original"})
    meta.insert(0, "item", np.asarray(kept).astype(np.int64))
    return meta


def _assemble(
    encoder: Any,
    dataset: Any,
    modalities: tuple[str, ...],
    chunks: list[Chunk],
    store: ChunkCache | None,
    from_cache: int,
) -> Embeddings:
    ok = np.concatenate([ch.ok for ch in chunks])
    skipped = [entry for ch in chunks for entry in ch.skipped]
    kept = np.flatnonzero(ok)
    n = len(ok)
    if kept.size == 0:
        listed = "; ".join(f"item {s['item']} ({s['modality']}): {s['error']}" for s in skipped[:3])
        raise NoReadablePairsError(
            f"none of the {n} pairs could be read ({listed}); check the dataset's files.",
            skipped,
        )
    arrays: dict[str, np.ndarray] = {}
    for m in modalities:
        parts = [ch.arrays[m][ch.ok] for ch in chunks if ch.ok.any()]
        dims = {p.shape[1] for p in parts}
        if len(dims) != 1:
            raise ValueError(
                f"{encoder.name} returned different dimensions {sorted(dims)} for modality "
                f"{m!r} across chunks (a stale cache?); rerun with cache=False."
            )
        arrays[m] = np.concatenate(parts)

    meta = pairs_meta(dataset, kept)

    full_meta = dataset.meta if isinstance(dataset.meta, pd.DataFrame) else None
    for entry in skipped:
        if full_meta is not None and "id" in full_meta.columns:
            entry.setdefault("id", str(full_meta["id"].iloc[entry["item"]]))
    if skipped:
        listed = "; ".join(
            f"item {s['item']}{' (' + s['id'] + ')' if 'id' in s else ''}: {s['error']}"
            for s in skipped[:_LISTED]
        )
        more = f" (and {len(skipped) - _LISTED} more)" if len(skipped) > _LISTED else ""
        warnings.warn(
            f"{len(skipped)} of {n} pairs skipped in every modality (an item could not be read, "
            f"or the encoder's row was unusable): {listed}{more}. They are listed in "
            "emb.provenance['skipped'].",
            SkippedPairsWarning,
            stacklevel=3,
        )

    created = (store.created() if store is not None else None) or datetime.now(
        timezone.utc
    ).isoformat()
    provenance: dict[str, Any] = {
        "model": encoder.name,
        "encoder_fingerprint": encoder.fingerprint,
        "dataset": getattr(dataset, "name", type(dataset).__name__),
        "dataset_fingerprint": dataset.fingerprint,
        "n_pairs": n,
        "created": created,
        "cache": str(store.folder) if store is not None else None,
        "from_cache": int(from_cache),
        "skipped": skipped,
    }
    provenance["amumo_version"] = __version__
    return Embeddings.from_arrays(arrays, meta=meta, provenance=provenance)
