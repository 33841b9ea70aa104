"""Checks of a shard folder's records before they are trusted (see :mod:`amumo.embeddings.shards`).

A shard folder is often shared (NFS, a bucket) and outlives the run that wrote it,
so its JSON records are input like any other: a marker whose file names point
outside the folder (``"/etc/passwd"``, ``"../../x"``), a manifest without
``shards``, listing one twice, dropping one or carrying ids such as
``"../../etc"``, a ``norms.npy`` of the wrong shape, or rows that are NaN or not
unit length must each give an error that names the file and says what is
wrong, never a raw ``KeyError`` / ``IndexError`` or a silently wrong result
(a cosine of -1.64 from non-unit rows).

Examples
--------
>>> plain_name("emb0.npy", "x/shard.json", "files")
'emb0.npy'
>>> plain_name("../../etc/passwd", "x/shard.json", "files")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: x/shard.json names the file '../../etc/passwd' in 'files'; shard files must be ...
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from amumo.embeddings._rows import UNIT_TOL, RowScan, file_blocks, list_rows

__all__ = ["plain_name", "check_marker", "check_manifest", "check_consolidated",
           "scan_rows", "verify_consolidated"]

_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def plain_name(value: Any, where: str, key: str) -> str:
    """``value`` if it is a file name inside the record's folder, else a ValueError."""
    if not isinstance(value, str) or not _PLAIN.match(value) or value in (".", ".."):
        raise ValueError(
            f"{where} names the file {value!r} in {key!r}; shard files must be plain names "
            "inside the shard's own folder (no '/', '..' or absolute paths): the record is "
            "corrupt or forged, rewrite the shard."
        )
    return value


def _count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def check_marker(path: Path, record: dict[str, Any], shard_id: int) -> dict[str, Any]:
    """The marker ``record`` read from ``path`` if it is well formed for shard ``shard_id``."""
    fix = "the record is corrupt or forged: rewrite the shard."
    names = record.get("modalities")
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)
            and len(set(names)) == len(names)):
        raise ValueError(f"{path} has 'modalities' {str(names)[:80]!r}, not a list of distinct "
                         f"names; {fix}")
    if record.get("id") != shard_id:
        raise ValueError(f"{path} says it is shard {record.get('id')!r} but lies in the folder "
                         f"of shard {shard_id}; {fix}")
    for key in ("n", "dim"):
        if not _count(record.get(key)):
            raise ValueError(f"{path} has {key}={record.get(key)!r}; a shard holds at least one "
                             f"pair of at least one dimension. {fix}")
    files, sha1 = record.get("files"), record.get("sha1")
    if not isinstance(files, dict) or not isinstance(sha1, dict) or \
            any(n not in files or n not in sha1 for n in names):
        raise ValueError(f"{path} lacks the file name or checksum of a modality of {names}; "
                         f"{fix}")
    for name in names:
        plain_name(files[name], str(path), "files")
    plain_name(record.get("norms"), str(path), "norms")
    if record.get("meta") is not None:
        plain_name(record["meta"], str(path), "meta")
    if not isinstance(record.get("provenance", {}), dict):
        raise ValueError(f"{path} has a 'provenance' that is not a JSON object; {fix}")
    return record


def check_manifest(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` (read from ``path``) if its shard list is well formed and adds up."""
    fix = "re-run write_manifest (amumo.embeddings.shards.write_manifest) on the folder."
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not shards:
        raise ValueError(f"{path} has no list of 'shards'; {fix}")
    for entry in shards:
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), int)
                and not isinstance(entry["id"], bool) and entry["id"] >= 0
                and _count(entry.get("n")) and isinstance(entry.get("sha1"), dict)):
            raise ValueError(
                f"{path} lists the shard {str(entry)[:80]!r}; each entry must be "
                f"{{'id': a non-negative integer, 'n': pairs, 'sha1': {{...}}}}. {fix}"
            )
    ids = [entry["id"] for entry in shards]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"{path} lists shard(s) {twice} more than once; their pairs would be "
                         f"counted twice. {fix}")
    total = sum(int(entry["n"]) for entry in shards)
    if manifest.get("n_pairs") != total or manifest.get("n_shards") != len(shards):
        raise ValueError(
            f"{path} says n_pairs={manifest.get('n_pairs')!r} in "
            f"n_shards={manifest.get('n_shards')!r}, but its shard list holds {total} pairs in "
            f"{len(shards)} shards; {fix}"
        )
    if not isinstance(manifest.get("provenance", {}), dict):
        raise ValueError(f"{path} has a 'provenance' that is not a JSON object; {fix}")
    return manifest


def check_consolidated(folder: Path, done: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    """Whether ``consolidated.json`` (``done``) describes exactly these shards' rows."""
    names = records[0]["modalities"]
    files = done.get("files")
    if done.get("modalities") != names or not isinstance(files, dict):
        return False
    if done.get("shards") != [r["id"] for r in records] or \
            done.get("n") != sum(r["n"] for r in records) or done.get("dim") != records[0]["dim"]:
        return False
    where = str(folder / "consolidated.json")
    for name in names:
        plain_name(files.get(name), where, "files")
    plain_name(done.get("norms"), where, "norms")
    if done.get("meta") is not None:
        plain_name(done["meta"], where, "meta")
    return True


def scan_rows(path: Path, array: np.ndarray, name: str) -> None:
    """Read the rows of the mapped ``.npy`` ``array`` (from ``path``) once with plain reads
    (~16 MiB at a time, nothing added to RSS) and raise a ValueError naming the file when a
    row is NaN/Inf, all zero or not unit length: shard files hold unit rows only."""
    n, d = array.shape
    scan = RowScan(name, n)
    with open(path, "rb") as handle:
        for start, block in file_blocks(handle, int(array.offset), n, d, array.dtype):
            scan.add(start, block, exact=array.dtype != np.float32)
    fix = "the shard is corrupt (or was written by something else): rewrite it."
    try:
        scan.raise_if_bad()
    except ValueError as err:
        raise ValueError(f"{path}: {err} {fix}") from None
    # float16 storage rounds each value to ~1e-3 relative: its rows are unit within that.
    tol = UNIT_TOL if array.dtype.itemsize >= 4 else 2e-3
    off = np.flatnonzero(np.abs(scan.norms - 1.0) > tol)
    if len(off):
        raise ValueError(
            f"{path}: {len(off)} row(s) of {name!r} are not unit length ({list_rows(off)}; "
            f"norm {scan.norms[off[0]]:.4g} in row {off[0]}), so cosines from them would be "
            f"wrong; {fix}"
        )


def verify_consolidated(folder: Path, done: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Check each shard's stretch of the consolidated files against that shard's SHA-1."""
    for name in records[0]["modalities"]:
        path = folder / done["files"][name]
        array = np.load(path, mmap_mode="r")
        position = 0
        with open(path, "rb") as handle:
            blocks = file_blocks(handle, int(array.offset), int(done["n"]), int(done["dim"]),
                                 array.dtype)
            digest, record_index, filled = hashlib.sha1(), 0, 0
            for _, block in blocks:
                rows = 0
                while rows < len(block):
                    record = records[record_index]
                    take = min(len(block) - rows, record["n"] - filled)
                    digest.update(memoryview(np.ascontiguousarray(block[rows:rows + take]))
                                  .cast("B"))
                    rows, filled = rows + take, filled + take
                    if filled == record["n"]:
                        if digest.hexdigest() != record["sha1"][name]:
                            raise ValueError(
                                f"{path}: the rows of shard {record['id']} (pairs {position}.."
                                f"{position + record['n'] - 1}) do not match that shard's "
                                "checksum; the consolidated copy is corrupt: delete "
                                f"{folder} and open the folder again (it is rewritten)."
                            )
                        position += record["n"]
                        digest, record_index, filled = hashlib.sha1(), record_index + 1, 0
