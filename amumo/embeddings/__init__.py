"""Embeddings container, file formats, the on-disk cache and the embed pipeline."""

from amumo.embeddings._map_guard import MappedFileChangedError
from amumo.embeddings.cache import CacheDirError, CacheWarning, clear_cache, default_cache_dir
from amumo.embeddings.container import Embeddings
from amumo.embeddings.io import load, save_npz
from amumo.embeddings.pipeline import NoReadablePairsError, SkippedPairsWarning, embed

__all__ = [
    "Embeddings",
    "MappedFileChangedError",
    "load",
    "save_npz",
    "embed",
    "SkippedPairsWarning",
    "CacheWarning",
    "CacheDirError",
    "NoReadablePairsError",
    "clear_cache",
    "default_cache_dir",
]
