"""On-disk cache of embedding runs, written in checksummed chunks.

Layout under the cache root (``cache_dir`` argument, else ``$AMUMO_CACHE_DIR``,
else the platform's user cache dir, e.g. ``~/.cache/amumo``)::

    embeddings/<key>/manifest.json
    embeddings/<key>/chunk-000000-<sha1[:16]>.npz
    embeddings/<key>/chunk-000001-<sha1[:16]>.npz
    ...

``key`` hashes the encoder fingerprint, the dataset fingerprint (which covers
augmentation parameters), the modalities and the chunk size. Every chunk is
written to a temporary file and renamed into place, so an interrupted run
leaves only whole chunks; the SHA-1 of each file's bytes is part of its name,
so a corrupted or truncated chunk is detected on read, reported and recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from amumo._cache_dir import CACHE_ENV, CacheDirError, default_cache_dir, resolve_cache_dir
from amumo._util import atomic_write_bytes

__all__ = [
    "CACHE_ENV",
    "CACHE_FORMAT",
    "Chunk",
    "ChunkCache",
    "CacheWarning",
    "CacheDirError",
    "ChunkWriter",
    "default_cache_dir",
    "resolve_cache_dir",
    "clear_cache",
]

#: Bump when the chunk format changes (old entries are then ignored).
CACHE_FORMAT = 1
_INFO = "__info__"
_OK = "ok"


class CacheWarning(UserWarning):
    """A cache entry was unusable (corrupt, truncated, unreadable) and is being recomputed."""


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached embedding run under the cache root; returns bytes freed.

    Examples
    --------
    >>> import tempfile
    >>> clear_cache(tempfile.mkdtemp())
    0
    """
    folder = resolve_cache_dir(cache_dir) / "embeddings"
    if not folder.is_dir():
        return 0
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    return freed


@dataclass
class Chunk:
    """The result for pairs ``start .. start + len(ok)`` of one run.

    ``arrays[m]`` has one row per pair; rows of pairs with ``ok == False`` are
    zeros (those pairs were skipped; ``skipped`` says why).
    """

    start: int
    ok: np.ndarray
    arrays: dict[str, np.ndarray]
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        payload: dict[str, np.ndarray] = {
            _OK: self.ok.astype(np.bool_),
            _INFO: np.frombuffer(
                json.dumps({"start": self.start, "skipped": self.skipped}, default=str).encode(),
                dtype=np.uint8,
            ),
        }
        for name, values in self.arrays.items():
            payload[f"emb:{name}"] = np.asarray(values, dtype=np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, modalities: tuple[str, ...]) -> Chunk:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            info = json.loads(bytes(archive[_INFO]).decode())
            ok = archive[_OK].astype(np.bool_)
            arrays = {m: archive[f"emb:{m}"].astype(np.float32, copy=False) for m in modalities}
        for name, values in arrays.items():
            if values.ndim != 2 or values.shape[0] != len(ok):
                raise ValueError(f"array {name!r} has shape {values.shape} for {len(ok)} pairs")
        return cls(start=int(info["start"]), ok=ok, arrays=arrays, skipped=list(info["skipped"]))


def _rows_usable(chunk: Chunk) -> bool:
    """Every kept pair has finite, non-zero rows in every modality."""
    for values in chunk.arrays.values():
        kept = values[chunk.ok]
        if kept.size and (not np.isfinite(kept).all() or not kept.any(axis=1).all()):
            return False
    return True


class ChunkCache:
    """One cached run: a folder of checksummed chunk files plus a manifest.

    Parameters
    ----------
    root : Path
        The cache root (see :func:`resolve_cache_dir`).
    key : str
        Hash identifying the run (encoder + dataset + modalities + chunk size).
    manifest : dict
        Human-readable description stored next to the chunks.
    modalities : tuple of str
    """

    def __init__(
        self, root: Path, key: str, manifest: dict[str, Any], modalities: tuple[str, ...]
    ) -> None:
        self.root = Path(root)
        self.key = key
        self.folder = self.root / "embeddings" / key
        self.modalities = tuple(modalities)
        self.manifest = {"format": CACHE_FORMAT, "key": key, **manifest}

    def check_writable(self) -> None:
        """Raise :class:`CacheDirError` unless chunks can be written here (call before any work).

        Creates the run's folder and a probe file in it (removed at once).
        """
        where = f"the cache folder {str(self.root)!r}"
        if os.environ.get(CACHE_ENV) and Path(os.environ[CACHE_ENV]).expanduser() == self.root:
            where += f" (from ${CACHE_ENV})"
        fix = ("pass cache_dir= a writable folder, or cache=False to embed without caching")
        for folder in (self.root, *self.root.parents):
            if folder.exists() and not folder.is_dir():
                raise CacheDirError(f"{where} cannot be used: {str(folder)!r} is a file, not a "
                                    f"folder; {fix}.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise CacheDirError(
                f"{where} is not writable ({type(err).__name__}: {err.strerror or err}); {fix}."
            ) from err

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def created(self) -> str | None:
        """When the run was first written (ISO 8601, UTC), if the manifest exists."""
        try:
            return json.loads(self.manifest_path.read_text()).get("created")
        except (OSError, ValueError):
            return None

    def _write_manifest(self) -> None:
        if self.manifest_path.is_file() and self.created() is not None:
            return
        manifest = {**self.manifest, "created": datetime.now(timezone.utc).isoformat()}
        atomic_write_bytes(
            self.manifest_path, json.dumps(manifest, indent=2, default=str).encode()
        )

    def _candidates(self, index: int) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"chunk-{index:06d}-*.npz"))

    def load(self, index: int, expected_len: int) -> Chunk | None:
        """The chunk ``index`` if a verified copy exists, else None.

        A file whose bytes do not match the checksum in its name (corrupt or
        truncated), or that cannot be parsed, triggers a :class:`CacheWarning`,
        is deleted and None is returned so the caller recomputes it.
        """
        for path in self._candidates(index):
            reason = None
            try:
                data = path.read_bytes()
            except OSError as err:
                data, reason = b"", f"unreadable ({err})"
            if reason is None:
                digest = hashlib.sha1(data).hexdigest()[:16]
                if not path.stem.endswith(digest):
                    reason = f"checksum mismatch ({len(data)} bytes; corrupt or truncated)"
            chunk = None
            if reason is None:
                try:
                    chunk = Chunk.from_bytes(data, self.modalities)
                except (ValueError, KeyError, OSError, EOFError) as err:
                    reason = f"unparseable ({type(err).__name__}: {err})"
            if chunk is not None and len(chunk.ok) != expected_len:
                reason = f"holds {len(chunk.ok)} pairs, expected {expected_len}"
                chunk = None
            if chunk is not None and not _rows_usable(chunk):
                # amumo <= 0.1 cached an encoder's NaN / zero rows as if they were fine
                reason = "holding NaN/Inf or all-zero rows for kept pairs (an older amumo)"
                chunk = None
            if chunk is not None:
                return chunk
            warnings.warn(
                f"embedding cache chunk {path} is {reason}; deleting it and recomputing "
                "those pairs.",
                CacheWarning,
                stacklevel=3,
            )
            try:
                path.unlink()
            except OSError:
                pass
        return None

    def save(self, index: int, chunk: Chunk) -> Path:
        """Write chunk ``index`` atomically; the file name carries its checksum."""
        self._write_manifest()
        data = chunk.to_bytes()
        digest = hashlib.sha1(data).hexdigest()[:16]
        path = self.folder / f"chunk-{index:06d}-{digest}.npz"
        atomic_write_bytes(path, data)
        for other in self._candidates(index):
            if other != path:
                other.unlink(missing_ok=True)
        return path

    def clear(self) -> None:
        """Delete this run's folder."""
        shutil.rmtree(self.folder, ignore_errors=True)


class ChunkWriter:
    """Writes finished chunks in a background thread, off the embedding loop's hot path.

    :meth:`submit` queues a chunk (blocking only when ``max_pending`` chunks
    are waiting, which bounds memory); :meth:`close` waits until every queued
    chunk is on disk. An error while writing is raised again by the next
    :meth:`submit` or by :meth:`close`. Every chunk is written atomically, so
    a process killed mid-write leaves only whole chunks.

    Examples
    --------
    >>> import tempfile
    >>> store = ChunkCache(Path(tempfile.mkdtemp()), "k", {}, ("image", "text"))
    >>> ok = np.ones(2, dtype=bool)
    >>> chunk = Chunk(0, ok, {"image": np.ones((2, 3)), "text": np.ones((2, 3))})
    >>> with ChunkWriter(store) as writer:
    ...     writer.submit(0, chunk)
    >>> store.load(0, 2).ok.tolist()
    [True, True]
    """

    def __init__(self, store: ChunkCache, max_pending: int = 4) -> None:
        self.store = store
        self._queue: queue.Queue[tuple[int, Chunk] | None] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amumo-chunk-writer",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._error is None:
                try:
                    self.store.save(*job)
                except BaseException as err:  # noqa: BLE001 - re-raised in the caller
                    self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def submit(self, index: int, chunk: Chunk) -> None:
        """Queue chunk ``index`` for writing."""
        self._raise()
        self._queue.put((index, chunk))

    def close(self) -> None:
        """Write everything queued, stop the thread, raise a pending write error."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise()

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
