"""Shards: embeddings written in pieces (by many workers or machines) and opened as one.

A *shard folder* holds the pairs of one dataset split into shards numbered
0, 1, 2, ... (pair order = shard order, then row order within a shard)::

    out_dir/
      shard-000000/
        emb0.npy          unit rows of modality 0, float32 (or float16: write_shard's
                          dtype=) (n, D), plain .npy (mappable)
        emb1.npy          ... one file per modality, names listed in shard.json
        norms.npy         raw row norms before normalisation, float64 (M, n)
        meta.parquet      one row per pair (pyarrow installed), else meta.json
                          (pandas ``orient="split"``); absent when there is no meta
        shard.json        the marker, written LAST: format, id, n, dim, modalities,
                          file names, SHA-1 of each array's bytes, provenance
      shard-000001/ ...
      manifest.json       written by write_manifest() when the run is complete
      consolidated/       one file per modality for all shards (see open)

Writing
-------
:func:`write_shard` takes raw ``(n, D)`` arrays (any float dtype, any norms),
validates and normalises them like :meth:`Embeddings.from_arrays`, and writes
every file atomically (temporary file + rename). **A shard counts only once its
``shard.json`` exists**, so a worker killed mid-write leaves an unfinished
folder that readers ignore and a retry overwrites. Workers never touch a shared
file, so any number can write concurrently (also on a shared file system).
When all shards are written, the driver calls :func:`write_manifest` once: it
lists the shards with their sizes and checksums, records the run's provenance,
and (by default) consolidates them for fast opening.

Reading
-------
:meth:`Embeddings.open(folder) <amumo.Embeddings.open>` (= :func:`open_shards`)
returns ONE memory-mapped :class:`Embeddings`. With one shard its files are
mapped directly (zero-copy). With several, a memory map cannot span files and a
lazily concatenated array would not be a numpy array that every analysis
function accepts, so the shards are **consolidated once**: each modality is
streamed shard by shard (plain file reads, a few MiB of RAM) into
``consolidated/emb<i>.npy`` and that file is mapped. The copy is keyed by the
shards' checksums, so it is reused until a shard changes; it costs disk (one
more copy of the rows) but no RAM. :func:`iter_shards` yields each shard
as its own zero-copy Embeddings, e.g. to feed :class:`amumo.GapStats` without
any copy at all.

The fingerprint of an opened folder is derived from the shard checksums (no
re-hash of the rows), so it differs from the fingerprint of the same rows built
with ``from_arrays``; it is only used as a cache key.

Examples
--------
>>> import tempfile, numpy as np
>>> from amumo.embeddings.shards import write_shard, finished_shards, write_manifest
>>> out = tempfile.mkdtemp()
>>> rng = np.random.default_rng(0)
>>> for i in range(2):
...     _ = write_shard(out, i, {"image": rng.normal(size=(5, 4)),
...                              "text": rng.normal(size=(5, 4))},
...                     meta={"caption": [f"c{i}{j}" for j in range(5)]})
>>> finished_shards(out)
[0, 1]
>>> _ = write_manifest(out, provenance={"model": "demo"})
>>> import amumo as am
>>> emb = am.Embeddings.open(out)
>>> len(emb), emb.meta["caption"].iloc[5], emb.provenance["model"]
(10, 'c10', 'demo')
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import warnings
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import __version__, atomic_write, atomic_write_bytes
from amumo.embeddings._rows import chunk_rows, file_blocks, row_blocks, storage_dtype
from amumo.embeddings._shard_checks import (
    check_consolidated,
    check_manifest,
    check_marker,
    scan_rows,
    verify_consolidated,
)
from amumo.embeddings.container import Embeddings

__all__ = [
    "FORMAT",
    "write_shard",
    "finished_shards",
    "read_shard",
    "iter_shards",
    "write_manifest",
    "read_manifest",
    "open_shards",
]

FORMAT = "amumo.shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MARKER = "shard.json"
CONSOLIDATED = "consolidated"
_SHARD_DIR = re.compile(r"^shard-(\d{6,})$")


def _folder_name(shard_id: int) -> str:
    return f"shard-{shard_id:06d}"


def _check_id(shard_id: Any) -> int:
    if isinstance(shard_id, bool) or not isinstance(shard_id, (int, np.integer)) or shard_id < 0:
        raise ValueError(
            f"shard_id={shard_id!r} must be a non-negative integer (0, 1, 2, ...); shards are "
            "ordered by it."
        )
    return int(shard_id)


def _write_npy(path: Path, array: np.ndarray, dtype: np.dtype) -> str:
    """Stream ``array`` to ``path`` as ``dtype``, block by block, atomically; return the
    SHA-1 of the data bytes written (float32 rows: the same file and digest as np.save)."""
    digest = hashlib.sha1()
    n, d = array.shape
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (n, d)}
    with atomic_write(path) as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for rows in row_blocks(n, chunk_rows(d, 4)):
            block = np.ascontiguousarray(array[rows], dtype=dtype)
            digest.update(memoryview(block).cast("B"))
            handle.write(memoryview(block).cast("B"))
    return digest.hexdigest()


def _write_meta(folder: Path, frame: pd.DataFrame) -> str | None:
    """Meta as parquet (pyarrow) or JSON ``orient="split"``; None when there are no columns."""
    if frame.shape[1] == 0:
        return None
    try:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
    except Exception:  # noqa: BLE001 - no pyarrow, or a column pyarrow cannot store
        atomic_write_bytes(folder / "meta.json", frame.to_json(orient="split",
                                                               index=False).encode())
        return "meta.json"
    atomic_write_bytes(folder / "meta.parquet", buffer.getvalue())
    return "meta.parquet"


#: From this many rows, text columns of a shard's meta.parquet are read as Arrow-backed
#: strings (``pd.StringDtype("pyarrow")``): ten million captions take ~0.4 GB and a second
#: or two that way, against ~1.2 GB and several seconds as Python str objects.
ARROW_STRINGS_ROWS = 1_000_000


def read_parquet_meta(path: Path, n: int | None = None) -> pd.DataFrame:
    """A meta table from parquet; text columns Arrow-backed from :data:`ARROW_STRINGS_ROWS`."""
    if n is None or n < ARROW_STRINGS_ROWS:
        return pd.read_parquet(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    strings = pd.StringDtype("pyarrow")
    mapping = {pa.string(): strings, pa.large_string(): strings}
    return pq.read_table(path).to_pandas(types_mapper=mapping.get)


def _read_meta(folder: Path, name: str | None, n: int) -> pd.DataFrame:
    if name is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    path = folder / name
    if name.endswith(".parquet"):
        frame = read_parquet_meta(path, n)
    else:
        frame = pd.read_json(io.StringIO(path.read_text()), orient="split")
    if len(frame) != n:
        raise ValueError(f"{path} has {len(frame)} rows for a shard of {n} pairs; rewrite it.")
    return frame.reset_index(drop=True)


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return marker if isinstance(marker, dict) and marker.get("format") == FORMAT else None


def finished_shards(out_dir: str | Path) -> list[int]:
    """Ids of the shards in ``out_dir`` whose marker exists (finished), sorted.

    A worker can skip the shards listed here when a job is resumed.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    ids = []
    for child in out_dir.iterdir():
        match = _SHARD_DIR.match(child.name)
        if match and child.is_dir() and _read_marker(child) is not None:
            ids.append(int(match.group(1)))
    return sorted(ids)


def _unfinished_shards(out_dir: Path) -> list[str]:
    return sorted(
        c.name for c in out_dir.iterdir()
        if _SHARD_DIR.match(c.name) and c.is_dir() and _read_marker(c) is None
    )


def write_shard(
    out_dir: str | Path,
    shard_id: int,
    arrays: Mapping[str, Any] | Embeddings,
    meta: pd.DataFrame | Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
    dtype: str | np.dtype = "float32",
) -> Path:
    """Write one shard of paired embeddings; return its folder.

    Parameters
    ----------
    out_dir : str or Path
        The shard folder (created if missing).
    shard_id : int
        Non-negative; shards are concatenated in id order. Ids need not be
        contiguous.
    arrays : mapping of str to (n, D) array, or Embeddings
        One array per modality, raw encoder output is fine (any float dtype; rows
        are checked for NaN/Inf/zero and normalised exactly as
        :meth:`Embeddings.from_arrays` does). Every shard of a folder must have
        the same modalities (same order) and D.
    meta : DataFrame or dict of columns, optional
        One row per pair (captions, ids...). Ignored when ``arrays`` is an
        Embeddings (its meta is used).
    provenance : dict, optional
        JSON-friendly facts about this shard (worker, model, input range...).
    overwrite : bool, default False
        A finished shard with this id raises FileExistsError unless True (then
        its marker is removed first, so readers never see a mix). An unfinished
        one (no marker: an interrupted worker) is always replaced.
    dtype : {"float32", "float16"}, default "float32"
        How the unit rows are stored. ``"float16"`` halves the disk and the page
        cache a memory map needs; each value keeps ~3 significant digits (rows unit
        length within ~5e-4). Opened shards stay float16 and every metric still
        accumulates in float64 (cosines to ~1e-4). Every shard of a folder must
        use the same dtype.

    Returns
    -------
    Path
        ``out_dir/shard-<id:06d>``.
    """
    shard_id = _check_id(shard_id)
    dtype = storage_dtype(dtype)
    out_dir = Path(out_dir)
    if isinstance(arrays, Embeddings):
        emb = arrays
        if provenance is None:
            provenance = emb.provenance
    else:
        emb = Embeddings.from_arrays(arrays, meta=meta, provenance=provenance)
    folder = out_dir / _folder_name(shard_id)
    marker = folder / MARKER
    if marker.exists():
        if not overwrite:
            raise FileExistsError(
                f"shard {shard_id} is already finished in {out_dir}; skip it (see "
                "finished_shards) or pass overwrite=True to replace it."
            )
        marker.unlink()
    _check_consistent(out_dir, emb, shard_id, dtype.name)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    sha1: dict[str, str] = {}
    for i, name in enumerate(emb.modalities):
        files[name] = f"emb{i}.npy"
        sha1[name] = _write_npy(folder / files[name], emb[name], dtype)
    norms = np.stack([np.asarray(emb.norms[m], dtype=np.float64) for m in emb.modalities])
    with atomic_write(folder / "norms.npy") as handle:
        np.save(handle, norms)
    meta_file = _write_meta(folder, emb.meta)
    record = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "id": shard_id,
        "n": len(emb),
        "dim": emb.dim,
        "dtype": dtype.name,
        "modalities": list(emb.modalities),
        "files": files,
        "sha1": sha1,
        "norms": "norms.npy",
        "meta": meta_file,
        "provenance": json.loads(json.dumps(dict(provenance or {}), default=str)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "amumo_version": __version__,
    }
    atomic_write_bytes(marker, json.dumps(record, indent=1).encode())  # the commit point
    return folder


def _check_consistent(out_dir: Path, emb: Embeddings, shard_id: int, dtype: str) -> None:
    for other in finished_shards(out_dir):
        if other == shard_id:
            continue
        record = _read_marker(out_dir / _folder_name(other))
        if record and (record["modalities"] != list(emb.modalities) or record["dim"] != emb.dim):
            raise ValueError(
                f"shard {shard_id} has modalities {list(emb.modalities)} and D={emb.dim}, but "
                f"shard {other} in {out_dir} has {record['modalities']} and D={record['dim']}; "
                "every shard of a folder must match."
            )
        if record and _dtype(record) != dtype:
            raise ValueError(
                f"shard {shard_id} would be stored as {dtype}, but shard {other} in {out_dir} "
                f"is {_dtype(record)}; every shard of a folder must use one dtype (pass "
                f"dtype={_dtype(record)!r})."
            )
        # the same D from another model would mix two embedding spaces without a sound
        mine = (emb.provenance or {}).get("encoder_fingerprint")
        theirs = (record or {}).get("provenance", {}).get("encoder_fingerprint")
        if mine is not None and theirs is not None and mine != theirs:
            raise ValueError(
                f"shard {shard_id} comes from the encoder {mine!r}, but shard {other} in "
                f"{out_dir} from {theirs!r}; every shard of a folder must come from one "
                "model: write to another folder."
            )
        return


def _dtype(record: dict[str, Any]) -> str:
    """The storage dtype a marker / manifest records (float32 before dtype= existed)."""
    return str(record.get("dtype", "float32"))


def _records(out_dir: Path, ids: list[int]) -> list[dict[str, Any]]:
    records = []
    for shard_id in ids:
        record = _read_marker(out_dir / _folder_name(shard_id))
        if record is None:
            raise FileNotFoundError(
                f"shard {shard_id} of {out_dir} has no {MARKER} (unfinished or deleted); "
                "re-run the worker that writes it."
            )
        records.append(check_marker(out_dir / _folder_name(shard_id) / MARKER, record, shard_id))
    first = records[0]
    for record in records[1:]:
        if record["modalities"] != first["modalities"] or record["dim"] != first["dim"] or \
                _dtype(record) != _dtype(first):
            raise ValueError(
                f"shards {first['id']} and {record['id']} of {out_dir} differ in modalities, "
                f"D or dtype ({first['modalities']}, {first['dim']}, {_dtype(first)} vs "
                f"{record['modalities']}, {record['dim']}, {_dtype(record)}); they cannot be "
                "opened as one."
            )
    return records


def _fingerprint(records: list[dict[str, Any]]) -> str:
    text = json.dumps(
        [records[0]["modalities"], [[r["id"], r["n"], r["sha1"]] for r in records]],
        sort_keys=True,
    )
    return hashlib.sha1(text.encode()).hexdigest()


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of ``out_dir`` (a dict), or None if :func:`write_manifest` has not run."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); re-run write_manifest.") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path} is not an amumo shard manifest; re-run write_manifest.")
    return check_manifest(path, manifest)


def write_manifest(
    out_dir: str | Path,
    provenance: Mapping[str, Any] | None = None,
    *,
    consolidate: bool = True,
) -> Path:
    """List the finished shards of ``out_dir`` in ``manifest.json`` (atomically).

    Call once, from the driver, after every worker is done. Unfinished shard
    folders (no marker) raise: finish or delete them first, so that a manifest
    always describes a complete run.

    Parameters
    ----------
    out_dir : str or Path
    provenance : dict, optional
        Facts about the whole run (model, dataset, cluster...); merged into the
        opened Embeddings' provenance.
    consolidate : bool, default True
        Also write the consolidated per-modality files now (several shards only),
        so that :meth:`Embeddings.open` is a memory map and nothing else.
    """
    out_dir = Path(out_dir)
    ids = finished_shards(out_dir)
    if not ids:
        raise ValueError(f"{out_dir} has no finished shards; write some with write_shard.")
    unfinished = _unfinished_shards(out_dir)
    if unfinished:
        raise ValueError(
            f"{out_dir} has unfinished shards {unfinished} (no {MARKER}); re-run their "
            "workers or delete those folders before writing the manifest."
        )
    records = _records(out_dir, ids)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "modalities": records[0]["modalities"],
        "dim": records[0]["dim"],
        "dtype": _dtype(records[0]),
        "n_pairs": int(sum(r["n"] for r in records)),
        "n_shards": len(records),
        "shards": [
            {"id": r["id"], "folder": _folder_name(r["id"]), "n": r["n"], "sha1": r["sha1"]}
            for r in records
        ],
        "fingerprint": _fingerprint(records),
        "provenance": json.loads(json.dumps(dict(provenance or {}), default=str)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "amumo_version": __version__,
    }
    path = atomic_write_bytes(out_dir / MANIFEST, json.dumps(manifest, indent=1).encode())
    if consolidate and len(records) > 1:
        _consolidated(out_dir, records, manifest["fingerprint"], None, allow_write=True)
    return path


def _shard_embeddings(
    folder: Path, record: dict[str, Any], provenance: dict, *, cache_dir: Any = None,
    check: str = "auto",
) -> Embeddings:
    from amumo.embeddings._checked import defer_mapped_rows

    arrays = {}
    checked = {}
    for name in record["modalities"]:
        path = folder / record["files"][name]
        array = np.load(path, mmap_mode="r")
        if array.shape != (record["n"], record["dim"]) or array.dtype != _dtype(record):
            raise ValueError(
                f"{folder / record['files'][name]} holds {array.dtype} {array.shape}, but "
                f"{folder / MARKER} says {_dtype(record)} ({record['n']}, {record['dim']}); "
                "the shard is corrupt: rewrite it."
            )
        # NaN / non-unit rows (a corrupt or foreign file) would give cosines such as -1.64:
        # scanned now, or for files of 1 GiB+ checked as their rows are first read
        deferred = None if check == "full" else defer_mapped_rows(path, array, name,
                                                                  cache_dir=cache_dir)
        if deferred is None:
            scan_rows(path, array, name)
        if deferred is not None or check == "full":
            checked[name] = deferred or "now"
        arrays[name] = array
    meta = _read_meta(folder, record.get("meta"), record["n"])
    if checked:
        provenance = {**provenance, "rows_checked": checked}
    emb = Embeddings.from_arrays(arrays, meta=meta, provenance=provenance, normalized=True)
    # mapped: ten million pairs have 160 MB of norms, read only where a view needs them
    norms = np.load(folder / record["norms"], mmap_mode="r", allow_pickle=False)
    expected = (len(record["modalities"]), record["n"])
    if norms.shape != expected or norms.dtype.kind != "f":
        raise ValueError(
            f"{folder / record['norms']} holds {norms.dtype} {norms.shape}, but "
            f"{folder / MARKER} needs float {expected} (one raw norm per modality and pair); "
            "the shard is corrupt: rewrite it."
        )
    for i, name in enumerate(record["modalities"]):
        emb._norms[name] = norms[i]
    return emb


def read_shard(out_dir: str | Path, shard_id: int) -> Embeddings:
    """One finished shard as a memory-mapped (zero-copy) Embeddings."""
    shard_id = _check_id(shard_id)
    folder = Path(out_dir) / _folder_name(shard_id)
    record = _records(Path(out_dir), [shard_id])[0]
    emb = _shard_embeddings(folder, record, {**record["provenance"], "shard": shard_id})
    emb._fingerprint = _fingerprint([record])
    return emb


def iter_shards(out_dir: str | Path) -> Iterator[Embeddings]:
    """Each shard of ``out_dir`` (manifest order, else finished shards) as its own Embeddings.

    Zero-copy memory maps: e.g. ``stats = GapStats(); [stats.update(s) for s in
    iter_shards(out)]`` reads every row exactly once.
    """
    for shard_id in _shard_ids(Path(out_dir)):
        yield read_shard(out_dir, shard_id)


def _shard_ids(out_dir: Path) -> list[int]:
    manifest = read_manifest(out_dir)
    if manifest is not None:
        listed = [int(s["id"]) for s in manifest["shards"]]
        on_disk = finished_shards(out_dir)
        if sorted(listed) != on_disk:
            raise ValueError(
                f"{out_dir / MANIFEST} lists the shards {_ids(listed)}, but the folder holds "
                f"the finished shards {_ids(on_disk)}; the manifest is stale or was edited: "
                "re-run write_manifest."
            )
        return listed
    ids = finished_shards(out_dir)
    unfinished = _unfinished_shards(out_dir) if out_dir.is_dir() else []
    if unfinished:
        warnings.warn(
            f"{out_dir} has no manifest and unfinished shards {unfinished}; opening the "
            f"{len(ids)} finished ones only.",
            UserWarning,
            stacklevel=3,
        )
    return ids


def _ids(ids: list[int]) -> str:
    return str(ids) if len(ids) <= 12 else f"{ids[:10]}... ({len(ids)})"


def _verify(out_dir: Path, record: dict[str, Any]) -> None:
    folder = out_dir / _folder_name(record["id"])
    for name in record["modalities"]:
        path = folder / record["files"][name]
        array = np.load(path, mmap_mode="r")
        digest = hashlib.sha1()
        with open(path, "rb") as handle:
            for _, block in file_blocks(handle, array.offset, record["n"], record["dim"],
                                        np.dtype(_dtype(record))):
                digest.update(memoryview(block).cast("B"))
        if digest.hexdigest() != record["sha1"][name]:
            raise ValueError(
                f"{path} does not match its checksum in {folder / MARKER}; the file is "
                "corrupt: rewrite the shard."
            )


def _consolidated(
    out_dir: Path, records: list[dict[str, Any]], fingerprint: str, cache_dir: Any,
    *, allow_write: bool,
) -> tuple[Path, dict[str, Any]]:
    """The consolidated folder for these shards, written once if needed."""
    from amumo.embeddings.cache import resolve_cache_dir

    candidates = [out_dir / CONSOLIDATED,
                  resolve_cache_dir(cache_dir) / "consolidated" / fingerprint[:20]]
    for folder in candidates:
        done = _read_json(folder / "consolidated.json")
        if done and done.get("fingerprint") == fingerprint and \
                check_consolidated(folder, done, records):
            return folder, done
    if not allow_write:
        raise FileNotFoundError(
            f"{out_dir} has {len(records)} shards and no consolidated copy for them; open "
            "with consolidate=True (or None) to write it once, or call write_manifest."
        )
    last_error: OSError | None = None
    for folder in candidates:
        try:
            return folder, _write_consolidated(out_dir, folder, records, fingerprint)
        except PermissionError as err:  # read-only shard folder: fall back to the cache dir
            last_error = err
    raise PermissionError(
        f"could not write a consolidated copy of {out_dir} in {candidates}: {last_error}"
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _write_consolidated(
    out_dir: Path, folder: Path, records: list[dict[str, Any]], fingerprint: str
) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "consolidated.json").unlink(missing_ok=True)
    names = records[0]["modalities"]
    n_total = int(sum(r["n"] for r in records))
    dim = int(records[0]["dim"])
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(_dtype(records[0]))),
              "fortran_order": False, "shape": (n_total, dim)}
    files = {}
    for i, name in enumerate(names):
        files[name] = f"emb{i}.npy"
        with atomic_write(folder / files[name]) as out:
            np.lib.format.write_array_header_2_0(out, header)
            for record in records:
                path = out_dir / _folder_name(record["id"]) / record["files"][name]
                offset = np.load(path, mmap_mode="r").offset
                with open(path, "rb") as handle:
                    # plain reads, not the memory map: the rows never enter this process's RSS
                    handle.seek(offset)
                    shutil.copyfileobj(handle, out, length=8 << 20)
    norms = np.concatenate(
        [np.load(out_dir / _folder_name(r["id"]) / r["norms"]) for r in records], axis=1
    )
    with atomic_write(folder / "norms.npy") as handle:
        np.save(handle, norms)
    metas = [_read_meta(out_dir / _folder_name(r["id"]), r.get("meta"), r["n"]) for r in records]
    meta = pd.concat(metas, ignore_index=True) if metas else pd.DataFrame()
    meta_file = _write_meta(folder, meta) if meta.shape[1] else None
    done = {"fingerprint": fingerprint, "modalities": names, "n": n_total, "dim": dim,
            "dtype": _dtype(records[0]), "files": files, "norms": "norms.npy",
            "meta": meta_file,
            "shards": [r["id"] for r in records]}
    atomic_write_bytes(folder / "consolidated.json", json.dumps(done, indent=1).encode())
    return done


def open_shards(
    folder: str | Path,
    *,
    consolidate: bool | None = None,
    verify: bool = False,
    cache_dir: str | Path | None = None,
    check: str = "auto",
) -> Embeddings:
    """Open a shard folder as one memory-mapped Embeddings. See :meth:`Embeddings.open`."""
    from amumo.embeddings._mapped import check_option

    check = check_option(check)
    out_dir = Path(folder)
    if not out_dir.is_dir():
        raise FileNotFoundError(
            f"{out_dir} is not a folder; pass the folder the shards were written to."
        )
    ids = _shard_ids(out_dir)
    if not ids:
        raise ValueError(
            f"{out_dir} holds no finished shards ({MARKER} files); write them with "
            "amumo.embeddings.shards.write_shard, or use Embeddings.load for a single file."
        )
    records = _records(out_dir, ids)
    manifest = read_manifest(out_dir) or {}
    if manifest:
        for listed, record in zip(manifest["shards"], records, strict=True):
            if listed["sha1"] != record["sha1"] or listed["n"] != record["n"]:
                raise ValueError(
                    f"shard {record['id']} of {out_dir} changed after the manifest was "
                    "written; re-run write_manifest."
                )
    if verify:
        for record in records:
            _verify(out_dir, record)
    fingerprint = _fingerprint(records)
    provenance = {
        **manifest.get("provenance", {}),
        "format": FORMAT,
        "source_folder": str(out_dir),
        "n_shards": len(records),
    }
    if len(records) == 1:
        emb = _shard_embeddings(out_dir / _folder_name(records[0]["id"]), records[0],
                                {**records[0]["provenance"], **provenance},
                                cache_dir=cache_dir, check=check)
        emb._fingerprint = fingerprint
        return emb
    where, done = _consolidated(out_dir, records, fingerprint, cache_dir,
                                allow_write=consolidate is not False)
    if verify:  # what is mapped is the consolidated copy: check it against every shard's SHA-1
        verify_consolidated(where, done, records)
    provenance["consolidated"] = str(where)
    record = {"modalities": done["modalities"], "files": done["files"], "n": done["n"],
              "dim": done["dim"], "meta": done.get("meta"), "norms": done["norms"],
              "dtype": _dtype(done)}
    emb = _shard_embeddings(where, record, provenance, cache_dir=cache_dir, check=check)
    emb._fingerprint = fingerprint
    return emb
