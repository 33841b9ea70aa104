"""Writing one shard block by block: :class:`ShardWriter`.

:func:`amumo.embeddings.shards.write_shard` takes whole arrays, so a shard must fit
in memory (as float32 rows). A worker that embeds a long stream, or a script that
converts ten million rows from another format, appends blocks instead::

    with ShardWriter(out_dir, 0, ("image", "text"), dim=512, dtype="float16") as shard:
        for x, y, captions in batches:
            shard.append({"image": x, "text": y}, meta={"caption": captions})

Every block is checked and normalised exactly as ``write_shard`` does (NaN / Inf /
all-zero rows raise, naming their row in the whole shard), then written straight to
the shard's files; memory is one block. The result is the same folder
``write_shard`` writes (same files, checksums and marker), so
:meth:`amumo.Embeddings.open`, :func:`~amumo.embeddings.shards.read_shard` and
:func:`~amumo.embeddings.shards.write_manifest` read it unchanged. As with
``write_shard`` the marker ``shard.json`` is written last, by :meth:`ShardWriter.close`;
a writer that fails or is interrupted leaves no marker, so readers ignore the folder
and a retry replaces it.

Examples
--------
>>> import tempfile, numpy as np, amumo as am
>>> out = tempfile.mkdtemp()
>>> rng = np.random.default_rng(0)
>>> with ShardWriter(out, 0, ("image", "text"), dim=8) as shard:
...     for _ in range(3):
...         shard.append({"image": rng.normal(size=(5, 8)), "text": rng.normal(size=(5, 8))},
...                      meta={"caption": ["a"] * 5})
>>> emb = am.Embeddings.open(out)
>>> len(emb), emb.meta["caption"].iloc[14]
(15, 'a')
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from amumo._util import __version__, atomic_write, atomic_write_bytes
from amumo.embeddings._rows import storage_dtype
from amumo.embeddings._validate import normalise_rows

__all__ = ["ShardWriter"]

#: Bytes reserved for a ``.npy`` header whose row count is known only at the end
#: (magic, version, length and the padded dictionary: a multiple of 64).
_HEADER_BYTES = 128


def npy_header_bytes(shape: tuple[int, ...], dtype: np.dtype, size: int = _HEADER_BYTES) -> bytes:
    """A ``.npy`` version 1.0 header for ``shape`` / ``dtype`` padded to exactly ``size`` bytes.

    The rows can then be written after a placeholder header and the real one written
    over it at the end, whatever the final row count.

    >>> len(npy_header_bytes((10, 4), np.dtype("<f2")))
    128
    """
    text = "{" + f"'descr': {np.lib.format.dtype_to_descr(np.dtype(dtype))!r}, " \
        f"'fortran_order': False, 'shape': {tuple(int(s) for s in shape)!r}, " + "}"
    body = size - 10  # magic (6) + version (2) + header length (2)
    if len(text) + 1 > body:
        raise ValueError(f"shape {shape} does not fit a {size}-byte .npy header.")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body) + (text.ljust(body - 1) + "\n").encode()


class ShardWriter:
    """Append paired rows to one shard of a shard folder; :meth:`close` finishes it.

    Parameters
    ----------
    out_dir : str or Path
        The shard folder (created if missing).
    shard_id : int
        Non-negative; shards are concatenated in id order.
    modalities : sequence of str
        Modality names, in order (the same for every shard of the folder).
    dim : int
        Embedding dimension D.
    dtype : {"float32", "float16"}, default "float32"
        Storage of the unit rows (see :func:`~amumo.embeddings.shards.write_shard`).
    provenance : dict, optional
        JSON-friendly facts about this shard.
    overwrite : bool, default False
        Replace a finished shard with this id (its marker is removed first).

    Notes
    -----
    Use it as a context manager: leaving the block normally closes the shard,
    leaving it with an exception abandons it (its partial files are deleted and
    no marker is written).
    """

    def __init__(
        self,
        out_dir: str | Path,
        shard_id: int,
        modalities: Sequence[str],
        dim: int,
        *,
        dtype: str | np.dtype = "float32",
        provenance: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> None:
        from amumo.embeddings.shards import MARKER, _check_consistent, _check_id, _folder_name

        self.shard_id = _check_id(shard_id)
        if isinstance(modalities, str) or len(modalities) < 2 or \
                len(set(modalities)) != len(modalities):
            raise ValueError(
                f"modalities={modalities!r} must name at least two distinct modalities, "
                "e.g. ('image', 'text')."
            )
        if isinstance(dim, bool) or int(dim) != dim or dim < 1:
            raise ValueError(f"dim={dim!r} must be a positive integer.")
        self.modalities = tuple(str(m) for m in modalities)
        self.dim = int(dim)
        self.dtype = storage_dtype(dtype)
        self.provenance = json.loads(json.dumps(dict(provenance or {}), default=str))
        self.out_dir = Path(out_dir)
        self.folder = self.out_dir / _folder_name(self.shard_id)
        marker = self.folder / MARKER
        if marker.exists():
            if not overwrite:
                raise FileExistsError(
                    f"shard {self.shard_id} is already finished in {self.out_dir}; pass "
                    "overwrite=True to replace it."
                )
            marker.unlink()
        _check_consistent(self.out_dir,
                          _Layout(self.modalities, self.dim, self.provenance),  # type: ignore[arg-type]
                          self.shard_id, self.dtype.name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self._closed = False
        self._digests = {m: hashlib.sha1() for m in self.modalities}
        self._rows: dict[str, BinaryIO] = {}
        self._norms: dict[str, BinaryIO] = {}
        for i, name in enumerate(self.modalities):
            self._rows[name] = open(self._part(f"emb{i}.npy"), "wb")  # noqa: SIM115
            self._rows[name].write(npy_header_bytes((0, self.dim), self.dtype))
            self._norms[name] = open(self._part(f"norms{i}.f8"), "wb")  # noqa: SIM115
        self._meta_writer: Any = None
        self._meta_frames: list[pd.DataFrame] | None = None
        self._meta_columns: list[str] | None = None

    def _part(self, name: str) -> Path:
        return self.folder / f".{name}.part"

    # ------------------------------------------------------------------ writing
    def append(
        self, arrays: Mapping[str, Any], meta: pd.DataFrame | Mapping[str, Any] | None = None
    ) -> None:
        """Add one block of pairs: ``arrays[m]`` an ``(n, D)`` array per modality (raw rows
        are fine: they are checked and normalised), ``meta`` one row per pair (the same
        columns in every block; give it in every block or in none)."""
        if self._closed:
            raise ValueError(f"shard {self.shard_id} is closed; open a new ShardWriter.")
        if not isinstance(arrays, Mapping) or set(arrays) != set(self.modalities):
            got = list(arrays) if isinstance(arrays, Mapping) else type(arrays).__name__
            raise ValueError(
                f"append() got {got}; pass one (n, {self.dim}) array for each of "
                f"{list(self.modalities)}."
            )
        blocks = {m: np.asarray(arrays[m]) for m in self.modalities}
        sizes = {m: b.shape for m, b in blocks.items()}
        count = blocks[self.modalities[0]].shape[0] if blocks[self.modalities[0]].ndim else -1
        if any(b.ndim != 2 or b.shape != (count, self.dim) for b in blocks.values()):
            raise ValueError(
                f"append() got shapes {sizes}; every modality needs (n, {self.dim}) with the "
                "same n (row i of each is pair i)."
            )
        if count == 0:
            return
        frame = self._check_meta(meta, count)
        units = {}
        for name, block in blocks.items():
            try:
                unit, norms = normalise_rows(name, block)
            except ValueError as err:
                raise ValueError(
                    f"block of rows {self.n:,}..{self.n + count - 1:,} of shard "
                    f"{self.shard_id}: {err} (row numbers counted within the block)"
                ) from err
            units[name] = (unit.astype(self.dtype, copy=False), norms)
        for name, (unit, norms) in units.items():
            data = memoryview(np.ascontiguousarray(unit)).cast("B")
            self._digests[name].update(data)
            self._rows[name].write(data)
            self._norms[name].write(memoryview(np.ascontiguousarray(norms)).cast("B"))
        if frame is not None:
            self._write_meta_block(frame)
        self.n += count

    def _check_meta(self, meta: Any, count: int) -> pd.DataFrame | None:
        if meta is None:
            if self._meta_columns:
                raise ValueError("append() without meta after blocks with meta; give meta in "
                                 "every block or in none.")
            self._meta_columns = self._meta_columns if self.n else []
            return None
        frame = meta if isinstance(meta, pd.DataFrame) else pd.DataFrame(dict(meta))
        if len(frame) != count:
            raise ValueError(f"meta has {len(frame)} rows for a block of {count} pairs.")
        columns = [str(c) for c in frame.columns]
        if self._meta_columns is None:
            if self.n:
                raise ValueError("append() with meta after blocks without; give meta in "
                                 "every block or in none.")
            self._meta_columns = columns
        elif columns != self._meta_columns:
            raise ValueError(
                f"meta columns {columns} differ from the first block's {self._meta_columns}."
            )
        return frame.reset_index(drop=True)

    def _write_meta_block(self, frame: pd.DataFrame) -> None:
        if self._meta_frames is not None:
            self._meta_frames.append(frame)
            return
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # no pyarrow: meta.json at the end (held in memory)
            self._meta_frames = [frame]
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._meta_writer is None:
            self._meta_writer = pq.ParquetWriter(self._part("meta.parquet"), table.schema)
        self._meta_writer.write_table(table.cast(self._meta_writer.schema))

    # ------------------------------------------------------------------ finishing
    def close(self) -> Path:
        """Finish the shard: headers, norms, meta, then the marker (the commit point)."""
        from amumo.embeddings.shards import FORMAT, FORMAT_VERSION, MARKER

        if self._closed:
            return self.folder
        if self.n == 0:
            self.abandon()
            raise ValueError(f"shard {self.shard_id} has no rows; append some before close().")
        self._closed = True
        files, sha1 = {}, {}
        for i, name in enumerate(self.modalities):
            handle = self._rows[name]
            handle.seek(0)
            handle.write(npy_header_bytes((self.n, self.dim), self.dtype))
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            files[name] = f"emb{i}.npy"
            sha1[name] = self._digests[name].hexdigest()
            os.replace(self._part(files[name]), self.folder / files[name])
        with atomic_write(self.folder / "norms.npy") as out:
            out.write(npy_header_bytes((len(self.modalities), self.n), np.dtype("<f8")))
            for i, name in enumerate(self.modalities):
                self._norms[name].close()
                with open(self._part(f"norms{i}.f8"), "rb") as part:
                    shutil.copyfileobj(part, out, length=8 << 20)
                self._part(f"norms{i}.f8").unlink()
        meta_file = self._finish_meta()
        record = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "id": self.shard_id,
            "n": self.n,
            "dim": self.dim,
            "dtype": self.dtype.name,
            "modalities": list(self.modalities),
            "files": files,
            "sha1": sha1,
            "norms": "norms.npy",
            "meta": meta_file,
            "provenance": self.provenance,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "amumo_version": __version__,
        }
        atomic_write_bytes(self.folder / MARKER, json.dumps(record, indent=1).encode())
        return self.folder

    def _finish_meta(self) -> str | None:
        if self._meta_writer is not None:
            self._meta_writer.close()
            os.replace(self._part("meta.parquet"), self.folder / "meta.parquet")
            return "meta.parquet"
        if self._meta_frames:
            frame = pd.concat(self._meta_frames, ignore_index=True)
            buffer = io.StringIO(frame.to_json(orient="split", index=False))
            atomic_write_bytes(self.folder / "meta.json", buffer.getvalue().encode())
            return "meta.json"
        return None

    def abandon(self) -> None:
        """Stop without finishing: close and delete the partial files (no marker)."""
        self._closed = True
        for handle in [*self._rows.values(), *self._norms.values()]:
            handle.close()
        if self._meta_writer is not None:
            self._meta_writer.close()
        for part in self.folder.glob(".*.part"):
            part.unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()


class _Layout:
    """What ``shards._check_consistent`` reads of a shard being written."""

    def __init__(self, modalities: tuple[str, ...], dim: int, provenance: dict) -> None:
        self.modalities = modalities
        self.dim = dim
        self.provenance = provenance
