"""Reading and writing :class:`~amumo.embeddings.container.Embeddings` files.

Two formats:

- amumo's ``.npz``: one array per modality (``emb:<name>``), the raw norms
  (``norm:<name>``) and a JSON header (``__amumo__``) with modality names,
  the meta table and provenance.
- the Mind-the-Gap ``.npy`` layout: one ``(M, N, D)`` array, modality names
  given by the caller (default ``("image", "text")``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo._npz_check import check_npz_members
from amumo._util import atomic_write, atomic_write_bytes  # atomic_write_bytes: re-exported
from amumo.embeddings._mapped import (
    MMAP_AUTO_BYTES,
    check_row_dtype,
    map_rows,
    npy_source,
    npz_sources,
    read_npy_layout,
)
from amumo.embeddings._validate import normalise_rows
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
    # Streamed into the temporary file (uncompressed members, so load(mmap=True) can map them).
    with atomic_write(path, overwrite=overwrite) as handle:
        np.savez(handle, **payload)
    return path


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


def _mapped_embeddings(
    path: Path, sources: dict, names: Sequence[str], cache_dir: Any, loaded: dict | None = None,
    meta: Any = None, provenance: dict | None = None, check: str = "auto",
) -> Embeddings:
    """Embeddings whose modalities are memory-mapped (``sources``) or already in ``loaded``."""

    units: dict[str, np.ndarray] = {}
    norms: dict[str, np.ndarray] = {}
    mapped: dict[str, str] = {}
    checked: dict[str, str] = {}
    for name in names:
        if name in sources:
            units[name], norms[name], info = map_rows(name, sources[name], cache_dir, check)
            mapped[name] = info.get("copy", "source")
            if "checked" in info:
                checked[name] = info["checked"]
        else:  # compressed member: read into memory, normalised block by block
            units[name], norms[name] = normalise_rows(name, np.asarray((loaded or {})[name]))
    prov = {**(provenance or {}), "mmap": mapped}
    if checked:  # rows of very large files are checked as they are first read
        prov["rows_checked"] = checked
    emb = Embeddings.from_arrays(units, meta=meta, provenance=prov, normalized=True)
    for name in names:
        norms[name].setflags(write=False)
        emb._norms[name] = norms[name]
    return emb


def _load_npy(
    path: Path, modalities: Sequence[str] | None, mmap: bool = False, cache_dir: Any = None,
    check: str = "auto",
) -> Embeddings:
    if mmap:
        names = tuple(modalities) if modalities is not None else ("image", "text")
        if len(set(names)) != len(names):
            raise ValueError(f"modalities={names} has duplicates; names must be unique.")
        sources = npy_source(path, names)
        if sources:
            provenance = {"source_file": str(path), "format": "mind-the-gap .npy (M, N, D)"}
            return _mapped_embeddings(path, sources, names, cache_dir, provenance=provenance,
                                      check=check)
    read_npy_layout(path)  # a header claiming 37 TiB, D = 0 or timedelta: refused before np.load
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


def _check_header(path: Path, header: Any, files: set[str]) -> list[str]:
    """The modality names of a decoded amumo header, or a ValueError saying what is wrong."""
    names = header.get("modalities") if isinstance(header, dict) else None
    if not (
        isinstance(names, list)
        and names
        and all(isinstance(n, str) and n for n in names)
        and len(set(names)) == len(names)
    ):
        raise ValueError(
            f"{path} has a malformed amumo header (expected a JSON object whose "
            f"'modalities' is a list of distinct names, got {str(header)[:120]!r}); the file "
            "is corrupt or not written by amumo: re-create it with Embeddings.save."
        )
    missing = [f"emb:{n}" for n in names if f"emb:{n}" not in files]
    if missing:
        raise ValueError(
            f"{path} lacks the arrays {missing} its header names; the file is corrupt: "
            "re-create it with Embeddings.save."
        )
    return names


def _check_members(
    path: Path, names: list[str], members: dict[str, tuple[tuple[int, ...], np.dtype]]
) -> None:
    """ValueError/TypeError naming ``path`` unless every ``emb:<name>`` member is a
    non-empty ``(N, D)`` array of numbers with the same N (checked from the headers)."""
    sizes = {}
    for name in names:
        shape, dtype = members[f"emb:{name}"]
        check_row_dtype(dtype, f"{path}: member 'emb:{name}'")
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(
                f"{path}: member 'emb:{name}' has shape {shape}; amumo's .npz holds one "
                "non-empty (N, D) array per modality (N = 0 pairs or D = 0 cannot be "
                "loaded, as Embeddings.from_arrays refuses them): re-create it with "
                "Embeddings.save."
            )
        sizes[name] = shape[0]
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"{path} holds different numbers of rows per modality ({sizes}); row i of "
            "every modality must be pair i: the file is corrupt, re-create it with "
            "Embeddings.save."
        )


def _load_npz(
    path: Path, modalities: Sequence[str] | None, mmap: bool = False, cache_dir: Any = None,
    check: str = "auto",
) -> Embeddings:
    members = check_npz_members(path)  # malformed or forged .npy headers, before allocating
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = set(archive.files)
            if _HEADER not in files:
                raise ValueError(
                    f"{path} is a .npz without amumo's header; write it with "
                    "Embeddings.save, or load its arrays yourself and call "
                    "Embeddings.from_arrays."
                )
            raw = archive[_HEADER]
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise ValueError(
                    f"{path}: the amumo header is a {raw.dtype} array of shape {raw.shape}, "
                    "not JSON bytes; the file is corrupt: re-create it with Embeddings.save."
                )
            header = json.loads(bytes(raw).decode("utf-8"))
            names = _check_header(path, header, files)
            _check_members(path, names, members)
            sources = npz_sources(path, {n: f"emb:{n}" for n in names}) if mmap else {}
            arrays = {name: archive[f"emb:{name}"] for name in names if name not in sources}
            norms = {name: archive[f"norm:{name}"] for name in names if f"norm:{name}" in files}
    except (
        zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError, RecursionError,
        UnicodeDecodeError,
    ) as err:
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
    provenance = header.get("provenance") or {}
    if not isinstance(meta_json, dict) or not isinstance(provenance, dict):
        raise ValueError(
            f"{path} has a malformed amumo header ('meta' and 'provenance' must be JSON "
            "objects); the file is corrupt: re-create it with Embeddings.save."
        )
    if meta_json.get("data") is not None and meta_json.get("columns"):
        try:
            meta = pd.DataFrame(meta_json["data"], columns=meta_json["columns"])
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{path} has a malformed meta table in its header ({err}); the file is "
                "corrupt: re-create it with Embeddings.save."
            ) from err
    else:
        meta = None
    if sources:
        emb = _mapped_embeddings(path, sources, names, cache_dir, arrays, meta, provenance,
                                 check)
    else:
        emb = Embeddings.from_arrays(arrays, meta=meta, provenance=provenance)
    # The stored rows are unit length already; keep the raw norms that came with them.
    for name in norms:
        stored = np.asarray(norms[name], dtype=np.float64)
        if stored.shape == (len(emb),):
            stored.setflags(write=False)
            emb._norms[name] = stored
    return emb


def _modality_names(modalities: Any) -> tuple[str, ...]:
    """``modalities`` as a tuple of non-empty names; a single string is refused, because
    iterating it would silently name the modalities after its letters ("ab" -> a, b)."""
    if isinstance(modalities, (str, bytes)):
        raise TypeError(
            f"modalities={modalities!r} is one string; pass a sequence of names, one per "
            "modality in the file, e.g. ('image', 'text')."
        )
    try:
        names = tuple(modalities)
    except TypeError:
        raise TypeError(
            f"modalities={modalities!r} is not a sequence; pass names such as "
            "('image', 'text')."
        ) from None
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"modalities={names!r}: every name must be a non-empty string.")
    return names


def load(
    path: str | Path,
    modalities: Sequence[str] | None = None,
    *,
    mmap: bool | None = None,
    cache_dir: str | Path | None = None,
    check: str = "auto",
) -> Embeddings:
    """Load embeddings from ``path``. See :meth:`Embeddings.load`."""
    from amumo.embeddings._mapped import check_option

    check = check_option(check)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; pass a .npy or .npz file.")
    if mmap is not None and not isinstance(mmap, bool):
        raise TypeError(f"mmap={mmap!r} must be True, False or None (map files >= 64 MiB).")
    if modalities is not None:
        modalities = _modality_names(modalities)
    kind = _sniff(path)
    use_mmap = path.stat().st_size >= MMAP_AUTO_BYTES if mmap is None else mmap
    if kind == "npy":
        return _load_npy(path, modalities, use_mmap, cache_dir, check)
    return _load_npz(path, modalities, use_mmap, cache_dir, check)
