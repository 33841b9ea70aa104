"""Reading and writing :class:`~amumo.embeddings.container.Embeddings` files.

Two formats:

- amumo's ``.npz``: one array per modality (``emb:<name>``), the raw norms
  (``norm:<name>``) and a JSON header (``__amumo__``) with modality names,
  the meta table and provenance.
- the Mind-the-Gap ``.npy`` layout: one ``(M, N, D)`` array, modality names
  given by the caller (default ``("image", "text")``).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import atomic_write_bytes  # re-exported: old imports keep working
from amumo.embeddings.container import Embeddings

__all__ = ["load", "save_npz", "atomic_write_bytes", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_HEADER = "__amumo__"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def save_npz(emb: Embeddings, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``emb`` to amumo's ``.npz`` format atomically. See :meth:`Embeddings.save`."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path {str(path)!r} must end in '.npz' (amumo's embeddings format).")
    header = {
        "format": "amumo.embeddings",
        "version": FORMAT_VERSION,
        "modalities": list(emb.modalities),
        "meta": json.loads(emb.to_json_meta()),
        "provenance": emb.provenance,
    }
    payload: dict[str, np.ndarray] = {
        _HEADER: np.frombuffer(json.dumps(header, default=str).encode(), dtype=np.uint8)
    }
    norms = emb.norms
    for name in emb.modalities:
        payload[f"emb:{name}"] = emb[name]
        payload[f"norm:{name}"] = norms[name]
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)


def _sniff(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_ZIP_MAGIC):
        return "npz"
    raise ValueError(
        f"{path} is neither a .npy array nor amumo's .npz (unrecognised file header "
        f"{head[:6]!r}); pass a file written by Embeddings.save or np.save of an "
        "(M, N, D) array."
    )


def _load_npy(path: Path, modalities: Sequence[str] | None) -> Embeddings:
    try:
        stacked = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(
            f"{path} could not be read as a .npy array ({err}); the file may be truncated "
            "or corrupt: copy or regenerate it."
        ) from err
    if stacked.ndim != 3:
        raise ValueError(
            f"{path} holds an array of shape {stacked.shape}; the Mind-the-Gap layout is "
            "(M modalities, N pairs, D dims). For one (N, D) array per modality use "
            "Embeddings.from_arrays."
        )
    names = tuple(modalities) if modalities is not None else ("image", "text")
    if len(names) != stacked.shape[0]:
        raise ValueError(
            f"{path} holds {stacked.shape[0]} modalities but modalities={names} names "
            f"{len(names)}; pass one name per leading slice."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"modalities={names} has duplicates; names must be unique.")
    arrays = {name: stacked[i] for i, name in enumerate(names)}
    provenance = {"source_file": str(path), "format": "mind-the-gap .npy (M, N, D)"}
    return Embeddings.from_arrays(arrays, provenance=provenance)


def _load_npz(path: Path, modalities: Sequence[str] | None) -> Embeddings:
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = set(archive.files)
            if _HEADER not in files:
                raise ValueError(
                    f"{path} is a .npz without amumo's header; write it with "
                    "Embeddings.save, or load its arrays yourself and call "
                    "Embeddings.from_arrays."
                )
            header = json.loads(bytes(archive[_HEADER]).decode())
            names = header["modalities"]
            arrays = {name: archive[f"emb:{name}"] for name in names}
            norms = {name: archive[f"norm:{name}"] for name in names}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} could not be read as amumo's .npz ({type(err).__name__}: {err}); the "
            "file is truncated or corrupt: re-create it with Embeddings.save."
        ) from err
    if modalities is not None and tuple(modalities) != tuple(names):
        raise ValueError(
            f"modalities={tuple(modalities)} does not match the names stored in {path} "
            f"({tuple(names)}); omit modalities for .npz files."
        )
    meta_json: dict[str, Any] = header.get("meta") or {}
    if meta_json.get("data") is not None and meta_json.get("columns"):
        meta = pd.DataFrame(meta_json["data"], columns=meta_json["columns"])
    else:
        meta = None
    emb = Embeddings.from_arrays(arrays, meta=meta, provenance=header.get("provenance") or {})
    # The stored rows are unit length already; keep the raw norms that came with them.
    for name in names:
        stored = np.asarray(norms[name], dtype=np.float32)
        if stored.shape == (len(emb),):
            stored.setflags(write=False)
            emb._norms[name] = stored
    return emb


def load(path: str | Path, modalities: Sequence[str] | None = None) -> Embeddings:
    """Load embeddings from ``path``. See :meth:`Embeddings.load`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; pass a .npy or .npz file.")
    kind = _sniff(path)
    if kind == "npy":
        return _load_npy(path, modalities)
    return _load_npz(path, modalities)
