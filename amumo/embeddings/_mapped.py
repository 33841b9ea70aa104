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
   absolute path, inode, size, modification and status-change times and a 1 MiB
   sample of its rows, see ``_copy_key``). That copy is memory-mapped;
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

__all__ = [
    "MMAP_AUTO_BYTES", "RowSource", "check_row_dtype", "check_npy_layout", "read_npy_layout",
    "npy_source", "npz_sources", "map_rows",
]

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


def check_row_dtype(dtype: np.dtype, where: str) -> None:
    """TypeError unless ``dtype`` holds real numbers (float16/32/64 or integers).

    numpy counts ``timedelta64`` as an integer type; embeddings never are.
    """
    if np.dtype(dtype).kind not in "fiu":
        raise TypeError(
            f"{where} has dtype {dtype}; embeddings must be float16/32/64 (or integer)."
        )


def check_npy_layout(path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int) -> None:
    """ValueError/TypeError naming ``path`` unless its ``.npy`` header describes a readable
    Mind-the-Gap ``(M, N, D)`` array that the file holds in full.

    Checked before anything is allocated or mapped: a header may claim 37 TiB, negative
    or zero dimensions, or a dtype that is not numbers.
    """
    if len(shape) != 3:
        raise ValueError(
            f"{path} holds an array of shape {shape}; the Mind-the-Gap layout is "
            "(M modalities, N pairs, D dims). For one (N, D) array per modality use "
            "Embeddings.from_arrays."
        )
    if any(int(s) < 0 for s in shape):
        raise ValueError(
            f"{path} has a corrupt .npy header: shape {shape} has a negative dimension; "
            "copy or regenerate the file."
        )
    check_row_dtype(dtype, str(path))
    m, n, d = (int(s) for s in shape)
    if m == 0 or n == 0 or d == 0:
        what = "modalities" if m == 0 else "pairs (N = 0)" if n == 0 else "dimensions (D = 0)"
        raise ValueError(
            f"{path} holds an array of shape {shape}: no {what}, so there is nothing to "
            "load (Embeddings.from_arrays refuses empty arrays too); write at least one pair."
        )
    need = offset + m * n * d * np.dtype(dtype).itemsize
    size = os.path.getsize(path)
    if size < need:
        raise ValueError(
            f"{path} is shorter than its header says ({size:,} < {need:,} bytes for shape "
            f"{shape} {np.dtype(dtype)}); the file is truncated or its header is corrupt: "
            "copy or regenerate it."
        )


def read_npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """The checked header of a Mind-the-Gap ``.npy`` file: shape, dtype, Fortran order,
    data offset (see :func:`check_npy_layout`)."""
    with open(path, "rb") as handle:
        try:
            shape, dtype, fortran = npy_header(handle)
        except (ValueError, SyntaxError, TypeError, UnicodeDecodeError, EOFError) as err:
            raise ValueError(
                f"{path} could not be read as a .npy array ({err}); the file may be truncated "
                "or corrupt: copy or regenerate it."
            ) from err
        offset = handle.tell()
    check_npy_layout(path, shape, dtype, offset)
    return shape, dtype, fortran, offset


def npy_source(path: Path, modalities: tuple[str, ...]) -> dict[str, RowSource]:
    """The M ``(N, D)`` slices of a Mind-the-Gap ``(M, N, D)`` ``.npy`` file."""
    shape, dtype, fortran, offset = read_npy_layout(path)
    if len(modalities) != shape[0]:
        raise ValueError(
            f"{path} holds {shape[0]} modalities but modalities={modalities} names "
            f"{len(modalities)}; pass one name per leading slice."
        )
    m, n, d = shape
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
            check_row_dtype(dtype, f"{path}:{member}")
            offset = handle.tell()
            if info.file_size < offset - start + shape[0] * shape[1] * dtype.itemsize:
                raise ValueError(f"{path}: member {member!r} is truncated; re-create the file.")
            out[name] = RowSource(path, offset, shape, dtype, False, f"{path}:{member}")
    return out


#: Bytes read at evenly spaced places of the rows for the normalised copy's key.
SAMPLE_BLOCKS, SAMPLE_BYTES = 256, 4096


def _content_sample(source: RowSource) -> bytes:
    """BLAKE2 digest of ``SAMPLE_BLOCKS`` blocks of ``SAMPLE_BYTES`` spread evenly over the
    source's rows (first and last included): 1 MiB read with ``pread``, whatever N is."""
    n, d = source.shape
    size = n * d * source.dtype.itemsize
    digest = hashlib.blake2b(digest_size=16)
    positions = np.unique(np.linspace(0, max(0, size - SAMPLE_BYTES), SAMPLE_BLOCKS).astype(int))
    fd = os.open(source.path, os.O_RDONLY)
    try:
        for position in positions:
            digest.update(os.pread(fd, min(SAMPLE_BYTES, size), source.offset + int(position)))
    finally:
        os.close(fd)
    return digest.digest()


def _copy_key(source: RowSource) -> str:
    """Key of the normalised copy of ``source``: which file (path, device, inode), which
    version of it (size, modification *and* status-change time), and a sample of its bytes.

    The modification time can be set back by anyone (``os.utime``, ``cp -p``, ``rsync -t``),
    so a file replaced by other rows of the same size and mtime must not find the old copy:
    the inode (a new file by rename) and the status-change time (any write or ``utime``;
    only the kernel sets it) change, and the sampled bytes differ for any other rows.
    """
    stat = source.path.stat()
    text = json.dumps(
        [str(source.path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns,
         stat.st_ino, stat.st_dev, source.offset, list(source.shape), source.dtype.str,
         _content_sample(source).hex()]
    )
    return hashlib.sha1(text.encode()).hexdigest()[:20]


#: Values of ``check=`` (Embeddings.load / open): "auto" scans files below
#: :data:`amumo.embeddings._checked.DEFER_BYTES` per modality when they are opened and
#: checks larger ones as their rows are first read; "full" always scans at open.
CHECKS = ("auto", "full")


def check_option(check: Any) -> str:
    """``check`` if it is one of :data:`CHECKS`, else a ValueError saying what to pass."""
    if check not in CHECKS:
        raise ValueError(
            f"check={check!r} must be 'auto' (scan files below 1 GiB per modality when "
            "opened, check larger ones as their rows are first read) or 'full' (scan every "
            "row when opened)."
        )
    return check


def unit_norms(n: int) -> np.ndarray:
    """Read-only norms of rows stored unit length (1.0 each; no memory per row)."""
    return np.broadcast_to(np.float64(1.0), (int(n),))


def deferred_map(
    name: str, source: RowSource, cache_dir: Any, check: str = "auto"
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The rows mapped as they are with their check deferred to the first reads (see
    :mod:`amumo.embeddings._checked`), or None when they must be scanned now: ``check``
    is "full", the modality is below ``DEFER_BYTES``, the dtype is not a storage dtype,
    or a row of the sample read now is bad."""
    from amumo.embeddings import _checked
    from amumo.embeddings._rows import unit_tolerance

    n, d = source.shape
    stored = np.dtype(np.float16 if source.dtype == np.float16 else np.float32)
    if check_option(check) == "full" or source.fortran or source.dtype != stored or \
            n * d * stored.itemsize < _checked.DEFER_BYTES:
        return None
    key = _checked.identity_key(source.path, source.offset, source.shape, source.dtype)
    if _checked.is_recorded(cache_dir, key):
        return source.memmap(), {"mapped": "source", "checked": "earlier (cache record)"}
    if not _checked.sample_is_clean(source.path, source.offset, source.shape, source.dtype,
                                    unit_tolerance(stored)):
        return None
    mapped = source.memmap()
    _checked.watch(mapped, name, source.label, cache_dir=cache_dir, key=key)
    return mapped, {"mapped": "source", "checked": "as rows are first read"}


def map_rows(
    name: str, source: RowSource, cache_dir: str | os.PathLike[str] | None = None,
    check: str = "auto",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Memory-map one modality: ``(unit float32 / float16 rows, norms float64, info)``.

    See the module docstring for the scan / zero-copy / normalised-copy rules;
    ``check`` (:data:`CHECKS`) for when the rows are scanned.
    ``info`` says which happened (``{"mapped": "source"}`` or
    ``{"mapped": "normalised copy", "copy": path}``, and ``"checked"`` when the check was
    deferred to the first reads). Deferred rows report norms of 1 (they are unit length
    within the storage tolerance, or the first read raises).
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

    deferred = deferred_map(name, source, cache_dir, check)
    if deferred is not None:
        return deferred[0], unit_norms(n), deferred[1]

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
