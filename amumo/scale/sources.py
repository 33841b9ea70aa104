"""Where the pairs come from, split into shards: Parquet datasets, image folders, webdataset tars.

The driver plans the shards from cheap metadata only (Parquet footers, the
captions table, the list of tar files); each Ray worker then opens *its*
shard as an ordinary amumo paired dataset, so a shard is embedded by exactly
the code that :func:`amumo.embed` runs.

Examples
--------
>>> import tempfile, pathlib
>>> from PIL import Image
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for i in range(5):
...     Image.new("RGB", (8, 8), "red").save(root / f"{i}.png")
>>> _ = (root / "captions.csv").write_text("file,caption\\n" + "".join(
...     f"{i}.png,red {i}\\n" for i in range(5)))
>>> source = as_source(root)
>>> [(s.shard_id, s.start, s.stop) for s in source.plan(shard_size=2)]
[(0, 0, 2), (1, 2, 4), (2, 4, 5)]
>>> source.open(source.plan(shard_size=2)[1]).captions
['red 2', 'red 3']
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from amumo.data._files import stat_signature
from amumo.data.base import stable_hash
from amumo.data.folder import ImageTextFolder
from amumo.data.parquet import ImageTextParquet
from amumo.data.webdataset import WebDatasetTar

__all__ = ["ShardSpec", "ParquetSource", "FolderSource", "WebDatasetSource", "as_source"]


@dataclass(frozen=True)
class ShardSpec:
    """One unit of work: which pairs shard ``shard_id`` holds.

    ``path`` is a Parquet or tar file (``None`` for a folder source); pairs
    ``start .. stop - 1`` of it (``stop`` is ``None`` for a whole tar, whose
    size is known only once it is read). ``offset`` is the global index of the
    shard's first pair (``None`` for tars).
    """

    shard_id: int
    path: str | None
    start: int
    stop: int | None
    offset: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ShardSpec:
        def optional(value: Any) -> Any:
            return None if value is None or value != value else value  # NaN from Arrow

        return cls(int(row["shard_id"]), optional(row["path"]), int(row["start"]),
                   None if optional(row["stop"]) is None else int(row["stop"]),
                   None if optional(row["offset"]) is None else int(row["offset"]))


def _files(paths: Any, suffix: str, what: str) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        path = Path(paths).expanduser()
        if path.is_dir():
            found = sorted(path.rglob(f"*{suffix}"))
        elif any(ch in str(paths) for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        else:
            found = [path]
    else:
        found = [Path(p).expanduser() for p in paths]
    if not found:
        raise ValueError(f"{paths!r} holds no {suffix} file; pass {what}.")
    missing = [str(p) for p in found if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} file(s) do not exist: {missing[:10]}.")
    return found


class ParquetSource:
    """A Parquet dataset: one file, a folder of ``*.parquet`` (recursive) or a list of files.

    Each row holds an image (bytes, ``{"bytes", "path"}`` struct or a path
    relative to its file) and a caption, as for
    :class:`~amumo.data.ImageTextParquet`. Shards never cross files; only the
    footers are read when planning.
    """

    kind = "parquet"

    def __init__(self, paths: Any, *, image_column: str | None = None,
                 text_column: str | None = None) -> None:
        self.paths = _files(paths, ".parquet", "a .parquet file, a folder of them or a list")
        self.image_column, self.text_column = image_column, text_column

    def plan(self, shard_size: int) -> list[ShardSpec]:
        import pyarrow.parquet as pq

        specs: list[ShardSpec] = []
        offset = 0
        for path in self.paths:
            rows = pq.ParquetFile(path).metadata.num_rows
            for start in range(0, rows, shard_size):
                stop = min(rows, start + shard_size)
                specs.append(ShardSpec(len(specs), str(path), start, stop, offset + start))
            offset += rows
        return specs

    def open(self, spec: ShardSpec) -> ImageTextParquet:
        return ImageTextParquet(spec.path, image_column=self.image_column,
                                text_column=self.text_column, rows=(spec.start, spec.stop))

    def fingerprint(self) -> str:
        return stable_hash("parquet", [[str(p), stat_signature(p)] for p in self.paths],
                           self.image_column, self.text_column)

    def describe(self) -> str:
        return f"Parquet dataset ({len(self.paths)} file(s), first {self.paths[0]})"


class FolderSource:
    """A folder of images with ``captions.csv`` / ``.jsonl`` or ``.txt`` sidecars.

    See :class:`~amumo.data.ImageTextFolder`; a shard is a range of its pairs.
    Each worker reads the captions table once and keeps it.
    """

    kind = "folder"

    def __init__(self, root: Any, *, captions: Any = None, image_column: str | None = None,
                 text_column: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.kwargs = {"captions": captions, "image_column": image_column,
                       "text_column": text_column}
        self._dataset: ImageTextFolder | None = None

    def dataset(self) -> ImageTextFolder:
        if self._dataset is None:
            self._dataset = ImageTextFolder(self.root, **self.kwargs)
        return self._dataset

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None}  # each worker reads the table itself

    def plan(self, shard_size: int) -> list[ShardSpec]:
        n = len(self.dataset())
        return [ShardSpec(k, None, start, min(n, start + shard_size), start)
                for k, start in enumerate(range(0, n, shard_size))]

    def open(self, spec: ShardSpec) -> Any:
        return self.dataset().subset(range(spec.start, spec.stop))

    def fingerprint(self) -> str:
        return self.dataset().fingerprint

    def describe(self) -> str:
        return f"image folder {self.root}"


class WebDatasetSource:
    """Webdataset tar shards: one ``.tar``, a folder of them (recursive) or a list / glob.

    One amumo shard per tar file (the natural unit: a worker reads one file).
    """

    kind = "webdataset"

    def __init__(self, paths: Any) -> None:
        self.paths = _files(paths, ".tar", "a .tar file, a folder of them, a glob or a list")

    def plan(self, shard_size: int) -> list[ShardSpec]:
        return [ShardSpec(k, str(p), 0, None, None) for k, p in enumerate(self.paths)]

    def open(self, spec: ShardSpec) -> WebDatasetTar:
        return WebDatasetTar([spec.path])

    def fingerprint(self) -> str:
        return stable_hash("webdataset", [[str(p), stat_signature(p)] for p in self.paths])

    def describe(self) -> str:
        return f"webdataset ({len(self.paths)} tar file(s), first {self.paths[0]})"


Source = ParquetSource | FolderSource | WebDatasetSource


def as_source(source: Any) -> Source:
    """A source object from a path, a list of paths or a glob (see the classes above).

    A folder is a folder of images when it holds ``captions.csv`` /
    ``captions.jsonl``, else a Parquet dataset when it holds ``*.parquet``
    files, else webdataset shards when it holds ``*.tar`` files, else a folder
    of images with ``.txt`` sidecars. Pass a source object to be explicit.
    """
    if isinstance(source, (ParquetSource, FolderSource, WebDatasetSource)):
        return source
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        names = [str(p) for p in source]
        if names and all(n.endswith(".parquet") for n in names):
            return ParquetSource(names)
        if names and all(n.endswith(".tar") for n in names):
            return WebDatasetSource(names)
        raise ValueError(f"source lists {names[:3]}...; pass only .parquet or only .tar files.")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source is a {type(source).__name__}; pass a path (Parquet file or folder, image "
            "folder, .tar shards), a list of paths, or amumo.scale.ParquetSource / "
            "FolderSource / WebDatasetSource."
        )
    text = os.fspath(source)
    if text.endswith(".parquet"):
        return ParquetSource(source)
    if text.endswith(".tar"):
        return WebDatasetSource(source)
    path = Path(text).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"source={text!r} is neither a folder nor a .parquet / .tar file.")
    if any((path / name).is_file() for name in ("captions.csv", "captions.jsonl")):
        return FolderSource(path)
    if next(path.rglob("*.parquet"), None) is not None:
        return ParquetSource(path)
    if next(path.rglob("*.tar"), None) is not None:
        return WebDatasetSource(path)
    return FolderSource(path)
