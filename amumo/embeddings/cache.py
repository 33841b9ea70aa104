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
import shutil
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from amumo.embeddings.io import atomic_write_bytes

__all__ = [
    "CACHE_ENV",
    "CACHE_FORMAT",
    "Chunk",
    "ChunkCache",
    "CacheWarning",
    "default_cache_dir",
    "resolve_cache_dir",
    "clear_cache",
]

#: Environment variable overriding the cache root.
CACHE_ENV = "AMUMO_CACHE_DIR"
#: Bump when the chunk format changes (old entries are then ignored).
CACHE_FORMAT = 1
_INFO = "__info__"
_OK = "ok"


class CacheWarning(UserWarning):
    """A cache entry was unusable (corrupt, truncated, unreadable) and is being recomputed."""


def default_cache_dir() -> Path:
    """``$AMUMO_CACHE_DIR`` if set, else the user cache dir from platformdirs."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("amumo", appauthor=False))


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root to use: ``cache_dir`` if given, else :func:`default_cache_dir`."""
    if cache_dir is None:
        return default_cache_dir()
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path, got {type(cache_dir).__name__}.")
    return Path(cache_dir).expanduser()


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
