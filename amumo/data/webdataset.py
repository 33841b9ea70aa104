"""WebDatasetTar: image–caption pairs stored as webdataset tar shards.

A webdataset shard is a plain tar file whose members are grouped into samples
by their *key* (the name up to the first dot of the base name)::

    000000.jpg  000000.txt  000001.jpg  000001.txt  ...
    (or 000000.json with a "caption" / "text" field)

Members are indexed once (tar headers only, no data read); images are read
lazily by seeking to their offset, so a dataset over many shards costs one
small record per pair.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from amumo.data._files import decode_image, stat_signature
from amumo.data.base import BaseDataset, UnreadableItemError

__all__ = ["WebDatasetTar", "WDS_IMAGE_EXTENSIONS", "WDS_TEXT_EXTENSIONS"]

#: Member extensions read as the image of a sample, in order of preference.
WDS_IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")
#: Member extensions read as the caption of a sample, in order of preference.
WDS_TEXT_EXTENSIONS = ("txt", "caption", "text", "json")
_JSON_FIELDS = ("caption", "text", "prompt")


def _split(name: str) -> tuple[str, str]:
    folder, base = os.path.split(name)
    if "." not in base:
        return name, ""
    stem, ext = base.split(".", 1)
    return os.path.join(folder, stem), ext.lower()


class WebDatasetTar(BaseDataset):
    """Pairs from one or more webdataset ``.tar`` shards (samples in shard, then tar, order).

    Parameters
    ----------
    paths : path or sequence of paths
        Tar files; a folder means every ``*.tar`` in it (sorted).

    Notes
    -----
    A sample without an image or without a caption is not a pair: it is left
    out and listed in :attr:`incomplete` (key and what is missing). A caption
    that cannot be read, or an image that cannot be decoded, raises
    :class:`~amumo.data.UnreadableItemError` for that item, which
    :func:`amumo.embed` turns into a skipped pair. ``meta`` has ``id``
    (``<tar name>/<key>``), ``tar``, ``key`` and ``caption``; the fingerprint
    covers each tar's size and modification time.

    Examples
    --------
    >>> import io, tarfile, tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "shard-0.tar"
    >>> with tarfile.open(path, "w") as tar:
    ...     for key, colour in (("a", "red"), ("b", "blue")):
    ...         for ext, data in (("png", None), ("txt", f"a {colour} square".encode())):
    ...             if data is None:
    ...                 buf = io.BytesIO(); Image.new("RGB", (4, 4), colour).save(buf, "PNG")
    ...                 data = buf.getvalue()
    ...             info = tarfile.TarInfo(f"{key}.{ext}"); info.size = len(data)
    ...             tar.addfile(info, io.BytesIO(data))
    >>> ds = WebDatasetTar(path)
    >>> len(ds), ds.item("text", 1), ds.meta["id"].tolist()
    (2, 'a blue square', ['shard-0.tar/a', 'shard-0.tar/b'])
    """

    modalities = ("image", "text")

    def __init__(self, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        if isinstance(paths, (str, os.PathLike)):
            path = Path(paths).expanduser()
            paths = sorted(path.glob("*.tar")) if path.is_dir() else [path]
        self.paths = [Path(p).expanduser() for p in paths]
        if not self.paths:
            raise ValueError("paths lists no .tar file; pass webdataset shards (*.tar).")
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} tar file(s) do not exist: {missing[:10]}.")
        self._records: list[tuple[int, str, tuple[int, int], tuple[int, int, str]]] = []
        self.incomplete: list[dict[str, str]] = []
        for t, path in enumerate(self.paths):
            self._index(t, path)
        if not self._records:
            raise ValueError(
                f"{[p.name for p in self.paths][:5]} hold no sample with both an image "
                f"({'/'.join(WDS_IMAGE_EXTENSIONS)}) and a caption "
                f"({'/'.join(WDS_TEXT_EXTENSIONS)})."
            )

    def _index(self, t: int, path: Path) -> None:
        try:
            with tarfile.open(path, "r:") as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
        except (tarfile.TarError, OSError) as err:
            raise ValueError(f"{path} is not a readable (uncompressed) tar file: {err}") from err
        samples: dict[str, dict[str, tarfile.TarInfo]] = {}
        for member in members:
            key, ext = _split(member.name)
            samples.setdefault(key, {})[ext] = member
        for key, parts in samples.items():
            image = next((parts[e] for e in WDS_IMAGE_EXTENSIONS if e in parts), None)
            text_ext = next((e for e in WDS_TEXT_EXTENSIONS if e in parts), None)
            if image is None or text_ext is None:
                lacking = "an image" if image is None else "a caption"
                self.incomplete.append({"tar": path.name, "key": key, "missing": lacking})
                continue
            text = parts[text_ext]
            self._records.append((t, key, (image.offset_data, image.size),
                                  (text.offset_data, text.size, text_ext)))

    def __len__(self) -> int:
        return len(self._records)

    @property
    def name(self) -> str:
        first = self.paths[0].name
        more = f" + {len(self.paths) - 1} more" if len(self.paths) > 1 else ""
        return f"WebDatasetTar({first!r}{more}, n={len(self)})"

    def _read(self, t: int, offset: int, size: int) -> bytes:
        with open(self.paths[t], "rb") as handle:
            handle.seek(offset)
            return handle.read(size)

    def _caption(self, i: int) -> str:
        t, key, _, (offset, size, ext) = self._records[i]
        what = f"the caption of {self.paths[t].name}/{key}"
        try:
            text = self._read(t, offset, size).decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UnreadableItemError(f"{what} cannot be read as UTF-8 text: {err}") from err
        if ext == "json":
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                raise UnreadableItemError(f"{what} is not valid JSON: {err}") from err
            value = next((record.get(f) for f in _JSON_FIELDS
                          if isinstance(record, dict) and isinstance(record.get(f), str)), None)
            if value is None:
                raise UnreadableItemError(f"{what} has no text field {list(_JSON_FIELDS)}")
            text = value
        text = text.strip()
        if not text:
            raise UnreadableItemError(f"{what} is empty")
        return text

    def _build_meta(self) -> pd.DataFrame:
        captions = []
        for i in range(len(self)):
            try:
                captions.append(self._caption(i))
            except UnreadableItemError:
                captions.append("")
        return pd.DataFrame({
            "id": [f"{self.paths[t].name}/{key}" for t, key, _, _ in self._records],
            "tar": [self.paths[t].name for t, _, _, _ in self._records],
            "key": [key for _, key, _, _ in self._records],
            "caption": captions,
        })

    def _fingerprint_parts(self) -> list[Any]:
        return [[p.name, stat_signature(p)] for p in self.paths]

    def _item(self, modality: str, i: int) -> Any:
        if modality == "text":
            return self._caption(i)
        t, key, (offset, size), _ = self._records[i]
        try:
            data = self._read(t, offset, size)
        except OSError as err:
            raise UnreadableItemError(f"{self.paths[t].name}/{key}: {err}") from err
        return decode_image(data, f"the image of {self.paths[t].name}/{key}")
