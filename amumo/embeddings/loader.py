"""Parallel loading for :func:`amumo.embed`: read, decode, preprocess and tokenise off the hot path.

The pipeline splits the pairs it has to compute into batches (never crossing a
cache chunk). :func:`iter_batches` yields them **in order** as
:class:`LoadedBatch` objects, prepared by worker processes (a
``torch.utils.data.DataLoader`` when torch is installed) or threads (a
:class:`~concurrent.futures.ThreadPoolExecutor` otherwise), while the caller
runs the encoder on the previous batch.

What a worker does for each pair of its batch:

1. ``dataset.item(modality, i)`` for every modality. *Any* exception here
   (a missing or corrupt file, a decompression bomb, a bug in one record)
   marks the pair as skipped, with the item index, the modality and the error;
   the other pairs of the batch go on.
2. The encoder's *preparer* (``encoder.batch_preparer()``, e.g. open_clip's
   image transform and tokenizer) turns the readable items of each modality
   into one batch (a tensor). If it fails on the batch, the items are prepared
   one by one to find and skip the culprit(s).

Encoders without ``batch_preparer`` get the raw items and do everything in
``encode``; their items are still read and decoded in the workers.

Examples
--------
>>> from amumo.data import SyntheticShapes
>>> batches = [(0, [0, 1, 2]), (0, [3, 4])]
>>> out = list(iter_batches(SyntheticShapes(5), ("image", "text"), batches, num_workers=0))
>>> [b.positions for b in out], out[1].items["text"][0] == SyntheticShapes(5).captions[3]
([[0, 1, 2], [3, 4]], True)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "LoadedBatch",
    "iter_batches",
    "default_num_workers",
    "default_batch_size",
    "available_cpus",
    "describe_error",
]

_MAX_MESSAGE = 500


def describe_error(err: BaseException) -> str:
    """``"TypeName: message"``, cut to 500 characters (recorded for skipped pairs)."""
    text = str(err) or type(err).__name__
    if not text.startswith(type(err).__name__) and not isinstance(err, (OSError, ValueError)):
        text = f"{type(err).__name__}: {text}"
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def available_cpus() -> int:
    """CPU cores this process may use (its affinity mask where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def default_num_workers(device: str = "cpu", cpus: int | None = None) -> int:
    """Loader workers for a device, from the CPU count.

    On an accelerator (``cuda``, ``mps``) the CPU only loads, so every core but
    one (for the main process) loads, up to 12 (more rarely helps: the model
    is then the bottleneck). On the CPU the model itself needs the cores, so
    a quarter of them load, up to 4; with fewer than 4 cores loading stays in
    the calling process (``0``).

    Examples
    --------
    >>> default_num_workers("cuda", cpus=16), default_num_workers("cpu", cpus=16)
    (12, 4)
    >>> default_num_workers("cpu", cpus=2), default_num_workers("cuda:1", cpus=2)
    (0, 1)
    """
    cpus = available_cpus() if cpus is None else int(cpus)
    kind = str(device).split(":")[0]
    if kind in ("cuda", "mps"):
        return max(0, min(cpus - 1, 12))
    return max(0, min(cpus // 4, 4))


def default_batch_size(device: str = "cpu") -> int:
    """Pairs per forward pass by device: 256 on CUDA, 64 elsewhere.

    Examples
    --------
    >>> default_batch_size("cuda:0"), default_batch_size("cpu")
    (256, 64)
    """
    return 256 if str(device).split(":")[0] == "cuda" else 64


@dataclass
class LoadedBatch:
    """One batch of pairs, read and prepared.

    Attributes
    ----------
    chunk : int
        The cache chunk the batch belongs to.
    positions : list of int
        Pair indices in the dataset.
    ok : ndarray of bool
        Per position: every item was read and prepared.
    skipped : list of dict
        ``{"item", "modality", "error"}`` for each pair that was not.
    items : dict
        Per modality, the prepared batch of the readable pairs (a tensor when
        the encoder has a preparer, else the list of raw items).
    """

    chunk: int
    positions: list[int]
    ok: np.ndarray
    skipped: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, Any] = field(default_factory=dict)

    def pin_memory(self) -> LoadedBatch:
        """Page-lock the prepared tensors (called by the DataLoader's pinning thread)."""
        for m, value in self.items.items():
            if hasattr(value, "pin_memory") and hasattr(value, "is_pinned"):
                self.items[m] = value.pin_memory()
        return self


Preparer = Callable[[str, list[Any]], Any]


def _prepare(preparer: Preparer, modality: str, keep: list[int], raw: list[Any],
             positions: list[int], ok: np.ndarray, skipped: list[dict[str, Any]]) -> Any:
    """Prepare a modality's batch of the pairs ``keep``.

    If the batch fails, every item is prepared alone: the ones that fail are
    marked skipped and ``None`` is returned (the caller retries without them);
    if none fails alone, the batch's own error is raised.
    """
    try:
        return preparer(modality, [raw[k] for k in keep])
    except Exception as batch_error:  # noqa: BLE001 - find the item(s) at fault below
        culprits = 0
        for k in keep:
            try:
                preparer(modality, [raw[k]])
            except Exception as err:  # noqa: BLE001 - one bad item must not cost the run
                ok[k] = False
                culprits += 1
                skipped.append({"item": int(positions[k]), "modality": modality,
                                "error": describe_error(err)})
        if culprits == 0:
            raise batch_error
        return None


def load_batch(dataset: Any, modalities: Sequence[str], chunk: int, positions: list[int],
               preparer: Preparer | None) -> LoadedBatch:
    """Read and prepare one batch (runs in a loader worker)."""
    ok = np.ones(len(positions), dtype=np.bool_)
    skipped: list[dict[str, Any]] = []
    raw: dict[str, list[Any]] = {m: [None] * len(positions) for m in modalities}
    for k, i in enumerate(positions):
        for m in modalities:
            try:
                raw[m][k] = dataset.item(m, i)
            except Exception as err:  # noqa: BLE001 - skipped, named and recorded
                ok[k] = False
                skipped.append({"item": int(i), "modality": m, "error": describe_error(err)})
                break
    items: dict[str, Any] = {}
    if preparer is None:
        for m in modalities:
            items[m] = [raw[m][k] for k in np.flatnonzero(ok)]
        return LoadedBatch(chunk, list(positions), ok, skipped, items)
    # every pass drops at least one pair, so this ends
    while ok.any():
        keep = [int(k) for k in np.flatnonzero(ok)]
        items = {}
        for m in modalities:
            prepared = _prepare(preparer, m, keep, raw[m], positions, ok, skipped)
            if prepared is None:
                break
            items[m] = prepared
        else:
            return LoadedBatch(chunk, list(positions), ok, skipped, items)
    return LoadedBatch(chunk, list(positions), ok, skipped, {})


class _BatchSet:
    """Map-style dataset for ``DataLoader(batch_size=None)``: element k is batch k."""

    def __init__(self, dataset: Any, modalities: Sequence[str],
                 batches: Sequence[tuple[int, list[int]]], preparer: Preparer | None) -> None:
        self.dataset = dataset
        self.modalities = tuple(modalities)
        self.batches = list(batches)
        self.preparer = preparer

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> LoadedBatch:
        chunk, positions = self.batches[k]
        return load_batch(self.dataset, self.modalities, chunk, positions, self.preparer)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run a block with one torch intra-op thread (as DataLoader workers do), then restore.

    Preprocessing many small tensors on torch's thread pool is dominated by
    thread hand-offs: measured on a busy 2-core machine, ViT-B-32's image
    transform took 80-118 ms per pair with 2 threads and 4 ms with 1.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _as_is(sample: Any) -> Any:
    return sample


def _torch_batches(source: _BatchSet, num_workers: int, pin_memory: bool,
                   prefetch: int) -> Iterator[LoadedBatch]:
    from torch.utils.data import DataLoader

    loader = DataLoader(
        source, batch_size=None, shuffle=False, num_workers=num_workers,
        collate_fn=_as_is, pin_memory=pin_memory, prefetch_factor=prefetch,
        persistent_workers=False,
    )
    try:
        batches = iter(loader)  # starts the workers
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        # "spawn" start method (macOS, Windows) and a dataset / preparer that cannot
        # be pickled (a lambda, a local class): load in threads instead
        warnings.warn(
            f"loader worker processes cannot receive the dataset ({type(err).__name__}: "
            f"{err}); loading in {num_workers} threads instead. Make the dataset picklable "
            "or pass num_workers=0 to silence this.",
            RuntimeWarning,
            stacklevel=4,
        )
        yield from _thread_batches(source, num_workers, prefetch)
        return
    yield from batches


def _thread_batches(source: _BatchSet, num_workers: int,
                    prefetch: int) -> Iterator[LoadedBatch]:
    ahead = max(1, num_workers * prefetch)
    with ThreadPoolExecutor(max_workers=num_workers, thread_name_prefix="amumo-load") as pool:
        pending: deque[Any] = deque()
        k = 0
        try:
            while k < len(source) or pending:
                while k < len(source) and len(pending) < ahead:
                    pending.append(pool.submit(source.__getitem__, k))
                    k += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def iter_batches(
    dataset: Any,
    modalities: Sequence[str],
    batches: Sequence[tuple[int, list[int]]],
    *,
    preparer: Preparer | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch: int = 2,
    backend: str = "auto",
) -> Iterator[LoadedBatch]:
    """Yield :class:`LoadedBatch` for each ``(chunk, positions)`` in ``batches``, in order.

    Parameters
    ----------
    dataset : PairedDataset
    modalities : sequence of str
    batches : sequence of (int, list of int)
    preparer : callable, optional
        ``preparer(modality, items) -> batch``; must be picklable when the
        workers are processes started with "spawn" (macOS, Windows).
    num_workers : int, default 0
        0 loads in the calling thread; more uses worker processes (torch) or threads.
    pin_memory : bool, default False
        Page-lock the prepared tensors (for non-blocking copies to CUDA).
    prefetch : int, default 2
        Batches loaded ahead per worker.
    backend : {"auto", "torch", "threads"}
        "auto": torch's DataLoader when torch is importable, else threads.
    """
    source = _BatchSet(dataset, modalities, batches, preparer)
    if num_workers <= 0 or len(source) <= 1:
        for k in range(len(source)):
            with _one_torch_thread():
                batch = source[k]
            yield batch.pin_memory() if pin_memory else batch
        return
    num_workers = min(num_workers, len(source))
    if backend == "auto":
        try:
            import torch.utils.data  # noqa: F401
        except ImportError:
            backend = "threads"
        else:
            backend = "torch"
    if backend == "torch":
        yield from _torch_batches(source, num_workers, pin_memory, prefetch)
    elif backend == "threads":
        yield from _thread_batches(source, num_workers, prefetch)
    else:
        raise ValueError(f"backend={backend!r}; use 'auto', 'torch' or 'threads'.")
