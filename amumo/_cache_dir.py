"""The cache root of amumo (embedding chunks, downloaded photos, streamed dataset parts,
row-check records): a helper every layer may import (it imports nothing from amumo), so
that :mod:`amumo.data` and :mod:`amumo.embeddings` agree on one folder.

Examples
--------
>>> resolve_cache_dir("/tmp/amumo-cache").name
'amumo-cache'
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "CacheDirError", "default_cache_dir", "resolve_cache_dir"]

#: Environment variable overriding the cache root.
CACHE_ENV = "AMUMO_CACHE_DIR"


class CacheDirError(ValueError):
    """The cache folder cannot be used (empty path, a file, not writable); raised before work."""


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
    if not os.fspath(cache_dir).strip():
        raise CacheDirError(
            f"cache_dir={os.fspath(cache_dir)!r} is an empty path; pass a folder "
            "(cache_dir='/path/to/cache'), leave it out for the default "
            f"(${CACHE_ENV} or the user cache dir), or pass cache=False to not cache."
        )
    return Path(cache_dir).expanduser()
