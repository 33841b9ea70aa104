"""clip-retrieval output folders (the layout of LAION's published embeddings) as Embeddings.

``clip-retrieval inference`` (github.com/rom1504/clip-retrieval) writes, per output
partition ``K``::

    folder/
      img_emb/img_emb_K.npy          (n_K, D) image embeddings, unit rows, float16
      text_emb/text_emb_K.npy        (n_K, D) text embeddings of the same rows
      metadata/metadata_K.parquet    n_K rows: image_path, caption, and with
                                     --enable_metadata the source's columns
                                     (LAION: url, key, width, height, similarity...)

``K`` is zero-padded to the width of the partition count (``0``, ``07``, ``0042``);
row ``i`` of the three files of a partition is one pair. LAION-400M / LAION-5B
ship their embeddings in this layout (their metadata folder sometimes beside the
embeddings: pass ``metadata=``).

:func:`open_clip_retrieval` (also reached by :meth:`Embeddings.open
<amumo.Embeddings.open>` when the folder has ``img_emb/`` and ``text_emb/``)
returns one memory-mapped :class:`Embeddings` with modalities ``("image",
"text")``, in float16 when the files are (half the page cache; every metric still
accumulates in float64):

- **one partition**: its two files are mapped as they are (zero-copy) when their rows
  are unit length (as clip-retrieval writes them), after one block-wise scan for
  NaN / zero rows; otherwise a normalised copy is written once (see
  :mod:`amumo.embeddings._mapped`);
- **several**: each modality is streamed partition by partition (plain reads of
  ~16 MiB, never a whole array in RAM) into one file in amumo's cache folder (or
  ``cache_dir``), normalised where needed, keyed by the partition files' size,
  modification time and content sample; later opens map it without a scan.

:func:`iter_parts` yields each partition as its own zero-copy Embeddings (e.g. to
feed :class:`amumo.GapStats` partition by partition without any copy).

``meta`` holds the metadata columns (``caption``, ``url``... LAION's photo links are
previewed by the kernel like MSCOCO's ``coco_url``), ``id`` (``key`` when present,
else ``<K>/<row>``) and ``part``; ``meta_columns=`` reads only the columns named.

Examples
--------
>>> import tempfile, pathlib, numpy as np, pandas as pd
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> rng = np.random.default_rng(0)
>>> for kind in ("img_emb", "text_emb"):
...     (root / kind).mkdir()
...     x = rng.normal(size=(5, 8)); x /= np.linalg.norm(x, axis=1, keepdims=True)
...     np.save(root / kind / f"{kind}_0.npy", x.astype(np.float16))
>>> (root / "metadata").mkdir()
>>> pd.DataFrame({"caption": list("abcde"), "url": [f"http://x/{i}.jpg" for i in range(5)]}
...              ).to_parquet(root / "metadata" / "metadata_0.parquet")
>>> import amumo as am
>>> emb = am.Embeddings.open(root)
>>> emb.modalities, len(emb), emb["image"].dtype, emb.meta["caption"].tolist()[:2]
(('image', 'text'), 5, dtype('float16'), ['a', 'b'])
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import atomic_write, atomic_write_bytes
from amumo.embeddings._mapped import RowSource, map_rows
from amumo.embeddings._rows import RowScan, file_blocks, npy_header, unit_tolerance
from amumo.embeddings._validate import normalise_rows
from amumo.embeddings.container import Embeddings

__all__ = ["FORMAT", "MODALITIES", "is_clip_retrieval_folder", "open_clip_retrieval",
           "iter_parts", "list_parts"]

FORMAT = "clip-retrieval"
#: Subfolder / file prefix of each modality.
MODALITIES = {"image": "img_emb", "text": "text_emb"}
_CONSOLIDATED_VERSION = 1


def is_clip_retrieval_folder(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` has ``img_emb/`` or ``text_emb/`` (a clip-retrieval output)."""
    folder = Path(folder)
    return any((folder / sub).is_dir() for sub in MODALITIES.values())


def _numbered(folder: Path, prefix: str, suffix: str) -> dict[int, Path]:
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+){re.escape(suffix)}$")
    out: dict[int, Path] = {}
    if not folder.is_dir():
        return out
    for child in folder.iterdir():
        match = pattern.match(child.name)
        if match:
            k = int(match.group(1))
            if k in out:
                raise ValueError(
                    f"{folder} has two files for partition {k} ({out[k].name}, {child.name}); "
                    "keep one."
                )
            out[k] = child
    return out


def _source(path: Path, label: str) -> RowSource:
    with open(path, "rb") as handle:
        try:
            shape, dtype, fortran = npy_header(handle)
        except (ValueError, SyntaxError, EOFError) as err:
            raise ValueError(f"{path} is not a readable .npy file ({err}); copy it again.") \
                from err
        offset = handle.tell()
    if len(shape) != 2 or fortran or dtype.kind != "f" or 0 in shape:
        raise ValueError(
            f"{path} holds a {'Fortran-order ' if fortran else ''}{dtype} array of shape "
            f"{shape}; clip-retrieval writes (n, D) float16 or float32 rows."
        )
    need = offset + shape[0] * shape[1] * dtype.itemsize
    if os.path.getsize(path) < need:
        raise ValueError(f"{path} is shorter than its header says ({os.path.getsize(path):,} "
                         f"< {need:,} bytes); the file is truncated: copy it again.")
    return RowSource(path, offset, (shape[0], shape[1]), dtype, False, label)


def list_parts(
    folder: str | os.PathLike[str], metadata: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """The partitions of a clip-retrieval folder, checked: ``[{"part", "n", "sources",
    "meta"}]`` in partition order.

    Raises
    ------
    FileNotFoundError, ValueError
        A modality folder missing, partitions without their other modality, row
        counts or dimensions that disagree (the message names the files).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; pass a clip-retrieval output folder.")
    files = {m: _numbered(folder / sub, sub, ".npy") for m, sub in MODALITIES.items()}
    for m, sub in MODALITIES.items():
        if not files[m]:
            other = next(o for o in MODALITIES if o != m)
            raise FileNotFoundError(
                f"{folder / sub} has no {sub}_K.npy files, so the {other} embeddings have "
                f"nothing to pair with (the modality gap needs both): run clip-retrieval "
                "inference with --enable_image True --enable_text True."
            )
    lone = sorted(set(files["image"]) ^ set(files["text"]))
    if lone:
        raise ValueError(
            f"{folder}: partitions {lone[:10]} have embeddings of one modality only; every "
            "img_emb_K.npy needs its text_emb_K.npy (and the reverse)."
        )
    meta_folder = Path(metadata) if metadata is not None else folder / "metadata"
    if metadata is not None and not meta_folder.is_dir():
        raise FileNotFoundError(f"metadata={str(metadata)!r} is not a folder.")
    metas = _numbered(meta_folder, "metadata", ".parquet")
    parts, dim = [], None
    for k in sorted(files["image"]):
        sources = {m: _source(files[m][k], f"{files[m][k].name}") for m in MODALITIES}
        rows = {m: s.shape[0] for m, s in sources.items()}
        dims = {m: s.shape[1] for m, s in sources.items()}
        if len(set(rows.values())) != 1:
            raise ValueError(
                f"partition {k} of {folder}: {files['image'][k].name} has {rows['image']} rows "
                f"but {files['text'][k].name} has {rows['text']}; row i of both must be pair i."
            )
        if len(set(dims.values())) != 1 or (dim is not None and dims["image"] != dim):
            raise ValueError(
                f"partition {k} of {folder} has D={dims}, other partitions D={dim}; every "
                "embedding must come from one model."
            )
        dim = dims["image"]
        meta = metas.get(k)
        if meta is not None:
            import pyarrow.parquet as pq

            count = pq.ParquetFile(meta).metadata.num_rows
            if count != rows["image"]:
                raise ValueError(
                    f"{meta} has {count} rows but partition {k}'s embeddings have "
                    f"{rows['image']}; they must describe the same pairs."
                )
        parts.append({"part": k, "n": rows["image"], "sources": sources, "meta": meta})
    return parts


def _read_meta(parts: list[dict[str, Any]], columns: Sequence[str] | None) -> pd.DataFrame:
    frames = []
    for part in parts:
        if part["meta"] is None or (columns is not None and not list(columns)):
            frame = pd.DataFrame(index=pd.RangeIndex(part["n"]))
        else:
            try:
                frame = pd.read_parquet(part["meta"], columns=None if columns is None
                                        else list(columns))
            except (KeyError, ValueError) as err:
                raise ValueError(f"{part['meta']}: {err} (meta_columns={columns!r}).") from err
        if "id" not in frame.columns:
            ids = frame["key"].astype(str) if "key" in frame.columns else pd.Series(
                [f"{part['part']}/{i}" for i in range(part["n"])])
            frame.insert(0, "id", ids.to_numpy())
        frame["part"] = part["part"]
        frames.append(frame.reset_index(drop=True))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _part_signature(parts: list[dict[str, Any]]) -> list[Any]:
    out = []
    for part in parts:
        for m in MODALITIES:
            source = part["sources"][m]
            stat = source.path.stat()
            with open(source.path, "rb") as handle:  # first and last 64 KiB of the rows
                head = handle.read(source.offset + 65536)
                handle.seek(max(0, stat.st_size - 65536))
                tail = handle.read()
            out.append([str(source.path.resolve()), stat.st_size, stat.st_mtime_ns,
                        hashlib.sha1(head + tail).hexdigest()])
    return out


def _consolidate(parts: list[dict[str, Any]], cache_dir: Any, allow_write: bool,
                 rebuild: bool = False) -> tuple[Path, dict[str, Any]]:
    """One file per modality for all partitions, written once (streamed), then reused."""
    from amumo.embeddings.cache import resolve_cache_dir

    signature = _part_signature(parts)
    key = hashlib.sha1(json.dumps([_CONSOLIDATED_VERSION, signature]).encode()).hexdigest()
    folder = resolve_cache_dir(cache_dir) / "clip-retrieval" / key[:20]
    done_path = folder / "consolidated.json"
    try:
        done = json.loads(done_path.read_text())
        if done.get("key") == key and not rebuild:
            return folder, done
    except (OSError, json.JSONDecodeError):
        pass
    if not allow_write:
        raise FileNotFoundError(
            f"the {len(parts)} partitions have no consolidated copy in {folder.parent}; open "
            "with consolidate=True (or None) to write it once."
        )
    folder.mkdir(parents=True, exist_ok=True)
    dtypes = {p["sources"][m].dtype for p in parts for m in MODALITIES}
    stored = np.dtype(np.float16) if dtypes == {np.dtype(np.float16)} else np.dtype(np.float32)
    n = sum(p["n"] for p in parts)
    dim = parts[0]["sources"]["image"].shape[1]
    files, norms, copied = {}, {}, {}
    for m in MODALITIES:
        files[m] = f"{m}.npy"
        norms[m] = np.empty(n, dtype=np.float64)
        header = {"descr": np.lib.format.dtype_to_descr(stored), "fortran_order": False,
                  "shape": (n, dim)}
        start = 0
        renormalised = 0
        with atomic_write(folder / files[m]) as out:
            np.lib.format.write_array_header_2_0(out, header)
            for part in parts:
                source = part["sources"][m]
                scan = RowScan(m, source.shape[0])
                tol = unit_tolerance(source.dtype)
                try:
                    with open(source.path, "rb") as handle:
                        for row, block in file_blocks(handle, source.offset, *source.shape,
                                                      source.dtype):
                            scan.add(row, block)
                            scan.raise_if_bad()  # NaN / Inf / zero rows: named, never copied
                            if np.all(np.abs(scan.norms[row: row + len(block)] - 1.0) <= tol):
                                unit = block
                            else:  # written without normalising: unit rows from here on
                                unit = normalise_rows(m, block)[0]
                                renormalised += len(block)
                            out.write(memoryview(np.ascontiguousarray(unit, dtype=stored))
                                      .cast("B"))
                except ValueError as err:
                    raise ValueError(f"{source.path}: {err}") from None
                norms[m][start: start + part["n"]] = scan.norms
                start += part["n"]
        copied[m] = renormalised
    with atomic_write(folder / "norms.npy") as out:
        np.save(out, np.stack([norms[m] for m in MODALITIES]))
    done = {"key": key, "n": n, "dim": dim, "dtype": stored.name, "files": files,
            "parts": [p["part"] for p in parts], "renormalised_rows": copied}
    atomic_write_bytes(done_path, json.dumps(done, indent=1).encode())
    return folder, done


def _fingerprint(parts: list[dict[str, Any]]) -> str:
    from amumo.data._files import file_digest

    digests = [[p["part"], {m: file_digest(p["sources"][m].path) for m in MODALITIES}]
               for p in parts]
    return hashlib.sha1(json.dumps([FORMAT, digests]).encode()).hexdigest()


def open_clip_retrieval(
    folder: str | os.PathLike[str],
    *,
    metadata: str | os.PathLike[str] | None = None,
    meta_columns: Sequence[str] | None = None,
    consolidate: bool | None = None,
    verify: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Embeddings:
    """Open a clip-retrieval output folder as one memory-mapped Embeddings (see the module).

    Parameters
    ----------
    folder : path
        Holds ``img_emb/`` and ``text_emb/`` (and usually ``metadata/``).
    metadata : path, optional
        The folder of ``metadata_K.parquet`` files when it is not ``folder/metadata``.
    meta_columns : sequence of str, optional
        Read only these metadata columns (LAION's have a dozen; a million rows of
        captions and URLs take a few hundred MB as a DataFrame).
    consolidate : bool, optional
        ``False`` refuses to write the joined copy several partitions need.
    verify : bool, default False
        Several partitions: rebuild the joined copy from the partition files (reads
        and checks every row again) instead of reusing it. One partition is scanned
        on every open anyway.
    cache_dir : path, optional
        Where joined / normalised copies go (default ``$AMUMO_CACHE_DIR``).
    """
    parts = list_parts(folder, metadata)
    provenance: dict[str, Any] = {"format": FORMAT, "source_folder": str(Path(folder)),
                                  "n_parts": len(parts)}
    units, norms = {}, {}
    if len(parts) == 1:
        mapped = {}
        for m in MODALITIES:
            units[m], norms[m], info = map_rows(m, parts[0]["sources"][m], cache_dir)
            mapped[m] = info.get("copy", "source")
        provenance["mmap"] = mapped
    else:
        if verify and consolidate is False:
            raise ValueError("verify=True rebuilds the joined copy; it needs consolidate=True "
                             "or None.")
        where, done = _consolidate(parts, cache_dir, allow_write=consolidate is not False,
                                   rebuild=verify)
        stacked = np.load(where / "norms.npy")
        for k, m in enumerate(MODALITIES):
            units[m] = np.load(where / done["files"][m], mmap_mode="r")
            norms[m] = stacked[k]
        provenance["consolidated"] = str(where)
    provenance["dtype"] = str(units["image"].dtype)
    meta = _read_meta(parts, meta_columns)
    emb = Embeddings.from_arrays(units, meta=meta, provenance=provenance, normalized=True)
    for m in MODALITIES:
        norms[m].setflags(write=False)
        emb._norms[m] = norms[m]
    emb._fingerprint = _fingerprint(parts)
    return emb


def iter_parts(
    folder: str | os.PathLike[str],
    *,
    metadata: str | os.PathLike[str] | None = None,
    meta_columns: Sequence[str] | None = (),
    cache_dir: str | os.PathLike[str] | None = None,
) -> Iterator[Embeddings]:
    """Each partition as its own memory-mapped Embeddings (zero-copy when its rows are unit).

    ``meta_columns=()`` (default) reads no metadata, only ``id`` and ``part``: e.g.
    ``stats = GapStats(); [stats.update(p) for p in iter_parts(folder)]``.
    """
    for part in list_parts(folder, metadata):
        units, norms = {}, {}
        for m in MODALITIES:
            units[m], norms[m], _ = map_rows(m, part["sources"][m], cache_dir)
        meta = _read_meta([part], meta_columns)
        emb = Embeddings.from_arrays(units, meta=meta, normalized=True,
                                     provenance={"format": FORMAT, "part": part["part"]})
        for m in MODALITIES:
            emb._norms[m] = norms[m]
        yield emb
