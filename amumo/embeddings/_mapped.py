"""Memory-mapped embeddings: rows read from disk on demand, validated in blocks.

Used by :meth:`Embeddings.load(path, mmap=True) <amumo.Embeddings.load>` for
``.npy`` files and uncompressed ``.npz`` members, and by
:meth:`Embeddings.open` for folders of shards.

How a modality's rows are mapped
--------------------------------
1. The rows are scanned once with ordinary file reads in blocks of ~16 MiB
   (so the scan does not add the file to the process's resident memory):
   NaN/Inf and all-zero rows raise a ValueError listing them; every row's norm
   is kept (N float64 values, 8 MB per million rows).
2. float32 or float16 rows that are already unit length (within
   :func:`~amumo.embeddings._rows.unit_tolerance`: 1e-5, or 2e-3 for float16) are
   used **as they are**: the array is a read-only ``numpy.memmap`` of the file,
   zero-copy. float16 stays float16 (half the page cache); every analysis reads
   such rows in blocks cast to float32 / float64.
3. Anything else (other dtypes, rows not of unit length, Fortran order) gets a
   normalised copy (float16 for a float16 source, else float32) written **once**,
   block by block, to
   ``<cache dir>/normalised/<key>/<modality>.npy`` (the cache dir is
   ``$AMUMO_CACHE_DIR`` or the user cache dir, see
   :func:`amumo.embeddings.default_cache_dir`; ``key`` hashes the source's
   absolute path, size and modification time). That copy is memory-mapped;
   later loads of the same unchanged file reuse it without a scan. It never
   holds two copies of the array in RAM.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from amumo._util import atomic_write, atomic_write_bytes
from amumo.embeddings._rows import RowScan, file_blocks, npy_header, unit_tolerance
from amumo.embeddings._validate import normalise_rows

__all__ = ["MMAP_AUTO_BYTES", "RowSource", "npy_source", "npz_sources", "map_rows"]

#: ``Embeddings.load(path)`` with ``mmap=None`` maps files at least this large (64 MiB).
MMAP_AUTO_BYTES = 64 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


class RowSource:
    """Where one ``(N, D)`` block of rows lives in a file: offset, shape, dtype, order."""

    def __init__(
        self, path: Path, offset: int, shape: tuple[int, int], dtype: np.dtype,
        fortran: bool, label: str,
    ) -> None:
        self.path = Path(path)
        self.offset = int(offset)
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.fortran = bool(fortran)
        self.label = label

    def memmap(self) -> np.ndarray:
        """A read-only memory map of the rows (C order only)."""
        return np.memmap(
            self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape
        )


def _check_float(dtype: np.dtype, where: str) -> None:
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)) or (
        dtype == np.bool_
    ):
        raise TypeError(
            f"{where} has dtype {dtype}; embeddings must be float16/32/64 (or integer)."
        )


def npy_source(path: Path, modalities: tuple[str, ...]) -> dict[str, RowSource]:
    """The M ``(N, D)`` slices of a Mind-the-Gap ``(M, N, D)`` ``.npy`` file."""
    with open(path, "rb") as handle:
        try:
            shape, dtype, fortran = npy_header(handle)
        except ValueError as err:
            raise ValueError(
                f"{path} could not be read as a .npy array ({err}); the file may be truncated "
                "or corrupt: copy or regenerate it."
            ) from err
        offset = handle.tell()
    if len(shape) != 3:
        raise ValueError(
            f"{path} holds an array of shape {shape}; the Mind-the-Gap layout is "
            "(M modalities, N pairs, D dims). For one (N, D) array per modality use "
            "Embeddings.from_arrays."
        )
    _check_float(dtype, str(path))
    if len(modalities) != shape[0]:
        raise ValueError(
            f"{path} holds {shape[0]} modalities but modalities={modalities} names "
            f"{len(modalities)}; pass one name per leading slice."
        )
    m, n, d = shape
    need = offset + m * n * d * dtype.itemsize
    if os.path.getsize(path) < need:
        raise ValueError(
            f"{path} is shorter than its header says ({os.path.getsize(path)} < {need} bytes); "
            "the file is truncated: copy or regenerate it."
        )
    if fortran:
        # Fortran order: slice i is not contiguous; read it through numpy instead.
        return {}
    step = n * d * dtype.itemsize
    return {
        name: RowSource(path, offset + i * step, (n, d), dtype, False, f"{path}[{i}]")
        for i, name in enumerate(modalities)
    }


def npz_sources(path: Path, members: dict[str, str]) -> dict[str, RowSource]:
    """Row sources of uncompressed ``.npz`` members ``{modality: member name}``.

    Compressed (deflated) members cannot be memory-mapped and are left out; the
    caller reads those into memory.
    """
    out: dict[str, RowSource] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        for name, member in members.items():
            try:
                info = archive.getinfo(member + ".npy")
            except KeyError:
                continue
            if info.compress_type != zipfile.ZIP_STORED:
                continue
            handle.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
            if fields[0] != b"PK\x03\x04":
                raise ValueError(f"{path}: member {member!r} has a corrupt zip header.")
            start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
            handle.seek(start)
            shape, dtype, fortran = npy_header(handle)
            if len(shape) != 2 or fortran:
                continue
            _check_float(dtype, f"{path}:{member}")
            offset = handle.tell()
            if info.file_size < offset - start + shape[0] * shape[1] * dtype.itemsize:
                raise ValueError(f"{path}: member {member!r} is truncated; re-create the file.")
            out[name] = RowSource(path, offset, shape, dtype, False, f"{path}:{member}")
    return out


def _copy_key(source: RowSource) -> str:
    stat = source.path.stat()
    text = json.dumps(
        [str(source.path.resolve()), stat.st_size, stat.st_mtime_ns, source.offset,
         list(source.shape), source.dtype.str]
    )
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def map_rows(
    name: str, source: RowSource, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Memory-map one modality: ``(unit float32 / float16 rows, norms float64, info)``.

    See the module docstring for the scan / zero-copy / normalised-copy rules.
    ``info`` says which happened (``{"mapped": "source"}`` or
    ``{"mapped": "normalised copy", "copy": path}``).
    """
    from amumo.embeddings.cache import resolve_cache_dir

    n, d = source.shape
    folder = resolve_cache_dir(cache_dir) / "normalised" / _copy_key(source)
    copy_path = folder / f"{name}.npy"
    norms_path = folder / f"{name}.norms.npy"
    done_path = folder / f"{name}.done"
    if done_path.exists() and copy_path.exists() and norms_path.exists():
        unit = np.load(copy_path, mmap_mode="r")
        norms = np.load(norms_path)
        if unit.shape == (n, d) and norms.shape == (n,):
            return unit, norms, {"mapped": "normalised copy", "copy": str(copy_path)}

    scan = RowScan(name, n)
    with open(source.path, "rb") as handle:
        for start, block in file_blocks(handle, source.offset, n, d, source.dtype):
            if source.dtype == np.float16:  # float32 sums: exact enough for a 2e-3 check,
                block = block.astype(np.float32)  # 3x faster than the float64 path
            scan.add(start, block, exact=block.dtype != np.float32)
    scan.raise_if_bad()
    stored = np.dtype(np.float16 if source.dtype == np.float16 else np.float32)
    if source.dtype == stored and scan.is_unit(unit_tolerance(stored)):
        return source.memmap(), scan.norms, {"mapped": "source"}

    norms = np.empty(n, dtype=np.float64)
    header = {"descr": np.lib.format.dtype_to_descr(stored),
              "fortran_order": False, "shape": (n, d)}
    with atomic_write(copy_path) as out, open(source.path, "rb") as handle:
        np.lib.format.write_array_header_2_0(out, header)
        for start, block in file_blocks(handle, source.offset, n, d, source.dtype):
            unit, norms[start : start + len(block)] = normalise_rows(name, block)
            out.write(memoryview(unit.astype(stored, copy=False)).cast("B"))
    with atomic_write(norms_path) as out:
        np.save(out, norms)
    atomic_write_bytes(done_path, json.dumps({"source": source.label, "n": n, "dim": d}).encode())
    unit = np.load(copy_path, mmap_mode="r")
    return unit, norms, {"mapped": "normalised copy", "copy": str(copy_path)}
