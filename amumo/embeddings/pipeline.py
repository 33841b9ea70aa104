"""``am.embed``: turn an encoder and a paired dataset into :class:`Embeddings`.

Work is split into chunks of ``chunk_size`` pairs. Each finished chunk goes to
the on-disk cache (:mod:`amumo.embeddings.cache`) before the next one starts,
so an interrupted run (Ctrl-C, a crash, a killed kernel) resumes from the last
finished chunk, and a repeated call reads everything back without loading the
model at all (:class:`~amumo.models.OpenCLIP` builds its model on first use).
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
from amumo.data.base import DatasetView, UnreadableItemError, stable_hash
from amumo.embeddings.cache import Chunk, ChunkCache, resolve_cache_dir
from amumo.embeddings.container import Embeddings
from amumo.models.base import as_float32_rows, check_batch_size

__all__ = ["embed", "SkippedPairsWarning", "DEFAULT_CHUNK_SIZE"]

#: Pairs per cache chunk (the granularity of resuming after an interruption).
DEFAULT_CHUNK_SIZE = 256
_PIPELINE_VERSION = 1
_LISTED = 10
#: Errors of ``dataset.item`` that mean "this item is unreadable", not "a bug".
_ITEM_ERRORS = (UnreadableItemError, OSError)


class SkippedPairsWarning(UserWarning):
    """Some pairs were left out because one of their items could not be read."""


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


def _describe_error(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _compute_chunk(
    encoder: Any,
    dataset: Any,
    modalities: tuple[str, ...],
    start: int,
    stop: int,
    batch_size: int,
    index_rows: Any,
) -> Chunk:
    positions = list(range(start, stop))
    ok = np.ones(len(positions), dtype=np.bool_)
    skipped: list[dict[str, Any]] = []
    items: dict[str, list[Any]] = {m: [] for m in modalities}
    if index_rows is None:
        for k, i in enumerate(positions):
            row: dict[str, Any] = {}
            for m in modalities:
                try:
                    row[m] = dataset.item(m, i)
                except _ITEM_ERRORS as err:
                    ok[k] = False
                    skipped.append({"item": i, "modality": m, "error": _describe_error(err)})
                    break
            if ok[k]:
                for m in modalities:
                    items[m].append(row[m])
    else:
        rows = index_rows(positions)
        for m in modalities:
            items[m] = rows
    n_ok = int(ok.sum())
    arrays: dict[str, np.ndarray] = {}
    for m in modalities:
        if n_ok == 0:
            arrays[m] = np.zeros((len(positions), 0), dtype=np.float32)
            continue
        out = as_float32_rows(
            encoder.encode(m, items[m], batch_size=batch_size), n_ok,
            f"{encoder.name}.encode({m!r}, ...)",
        )
        full = np.zeros((len(positions), out.shape[1]), dtype=np.float32)
        full[ok] = out
        arrays[m] = full
    return Chunk(start=start, ok=ok, arrays=arrays, skipped=skipped)


def _progress(total: int, initial: int, enabled: bool, description: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="pair", desc=description, leave=True)


def embed(
    encoder: Any,
    dataset: Any,
    batch_size: int = 64,
    cache: bool = True,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    modalities: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
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
    batch_size : int, default 64
        Items per forward pass.
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

    Warns
    -----
    SkippedPairsWarning
        Pairs with an unreadable item (e.g. a corrupt image file) are left out
        of every modality; the warning lists them, as does
        ``emb.provenance["skipped"]`` (also ``emb.skipped``).
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
    batch_size = check_batch_size(batch_size)
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
    bar = None
    if from_cache < n:
        bar = _progress(
            n, from_cache, progress,
            f"embed {getattr(dataset, 'name', 'dataset')}",
        )
    try:
        for c in range(n_chunks):
            if chunks[c] is not None:
                continue
            start, stop = c * chunk_size, min(n, (c + 1) * chunk_size)
            chunk = _compute_chunk(encoder, dataset, chosen, start, stop, batch_size, index_rows)
            if store is not None:
                store.save(c, chunk)
            chunks[c] = chunk
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()

    return _assemble(encoder, dataset, chosen, chunks, store, from_cache)  # type: ignore[arg-type]


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
        raise ValueError(
            f"none of the {n} pairs could be read ({listed}); check the dataset's files."
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

    meta = dataset.meta
    meta = meta.iloc[kept].reset_index(drop=True) if isinstance(meta, pd.DataFrame) else None
    if meta is None:
        meta = pd.DataFrame(index=pd.RangeIndex(len(kept)))
    if "item" in meta.columns:
        meta = meta.rename(columns={"item": "item_original"})
    meta.insert(0, "item", kept.astype(np.int64))

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
            f"{len(skipped)} of {n} pairs skipped in every modality because an item could not "
            f"be read: {listed}{more}. They are listed in emb.provenance['skipped'].",
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
