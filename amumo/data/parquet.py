"""ImageTextParquet: image bytes + captions in a Parquet file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo.data._files import decode_image, file_digest, open_image, stat_signature
from amumo.data.base import BaseDataset, UnreadableItemError
from amumo.data.folder import IMAGE_COLUMNS, TEXT_COLUMNS, pick_column

__all__ = ["ImageTextParquet"]


def _image_kind(value: Any) -> str | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        return "struct"
    if isinstance(value, str):
        return "path"
    return None


def _read_rows(path: Path, rows: tuple[int, int] | None) -> pd.DataFrame:
    """The whole table, or rows ``start .. stop - 1`` read from the row groups that hold them."""
    if rows is None:
        return pd.read_parquet(path)
    import pyarrow.parquet as pq

    start, stop = rows
    handle = pq.ParquetFile(path)
    total = handle.metadata.num_rows
    if not 0 <= start < stop <= total:
        raise ValueError(f"rows={rows} is outside the {total} rows of {path}; pass "
                         "(start, stop) with 0 <= start < stop <= the number of rows.")
    groups, offset, first = [], 0, None
    for g in range(handle.num_row_groups):
        size = handle.metadata.row_group(g).num_rows
        if offset < stop and offset + size > start:
            groups.append(g)
            first = offset if first is None else first
        offset += size
    table = handle.read_row_groups(groups).slice(start - (first or 0), stop - start)
    return table.to_pandas()


class ImageTextParquet(BaseDataset):
    """Image–caption pairs from a Parquet table (the DiffusionDB / webdataset-export shape).

    Each row holds one image, as encoded bytes (PNG/JPEG...), as a Hugging Face
    ``{"bytes": ..., "path": ...}`` struct, or as a file path relative to the
    Parquet file, plus its text. All other columns become ``meta``.

    Parameters
    ----------
    path : path
        The ``.parquet`` file (needs ``pyarrow``: ``pip install pyarrow``).
    image_column, text_column : str, optional
        Column names; by default the first of
        :data:`~amumo.data.folder.IMAGE_COLUMNS` / :data:`~amumo.data.folder.TEXT_COLUMNS`
        found (DiffusionDB's ``prompt`` is recognised).
    rows : (int, int), optional
        Read only rows ``start .. stop - 1`` (only the row groups holding them
        are read), e.g. one shard of a large file; ids stay ``row-<index in
        the file>``.

    Notes
    -----
    The fingerprint (the embedding cache key) covers the Parquet file's
    content and, for images stored as paths, each referenced file's size and
    modification time, so editing an image invalidates its cached embedding.

    Examples
    --------
    >>> import io, tempfile, pathlib, pandas as pd
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (4, 4), "blue").save(buf, format="PNG")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.parquet"
    >>> pd.DataFrame({"image": [buf.getvalue()], "prompt": ["a blue square"]}).to_parquet(path)
    >>> ds = ImageTextParquet(path)
    >>> ds.item("text", 0), ds.item("image", 0).size
    ('a blue square', (4, 4))
    """

    modalities = ("image", "text")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        image_column: str | None = None,
        text_column: str | None = None,
        rows: tuple[int, int] | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(f"path={str(path)!r} does not exist.")
        self.rows = None if rows is None else (int(rows[0]), int(rows[1]))
        try:
            table = _read_rows(self.path, self.rows)
        except ImportError as err:
            raise ImportError(
                "reading Parquet needs pyarrow: `pip install pyarrow` (or 'amumo[parquet]')."
            ) from err
        except Exception as err:  # pyarrow raises its own error types
            raise ValueError(
                f"{self.path} could not be read as Parquet ({type(err).__name__}: {err})."
            ) from err
        if len(table) == 0:
            raise ValueError(f"{self.path} has no rows.")
        source = str(self.path)
        if image_column is None:
            by_content = [
                c for c in table.columns
                if _image_kind(table[c].iloc[0]) in ("bytes", "struct")
            ]
            candidates = list(IMAGE_COLUMNS) + [str(c).lower() for c in by_content]
        else:
            candidates = list(IMAGE_COLUMNS)
        self.image_column = pick_column(table.columns, image_column, candidates,
                                        "image_column", source)
        self.text_column = pick_column(table.columns, text_column, TEXT_COLUMNS,
                                       "text_column", source)
        self._images = table[self.image_column].tolist()
        if all(_image_kind(v) is None for v in self._images):
            raise ValueError(
                f"column {self.image_column!r} of {source} holds "
                f"{type(self._images[0]).__name__} values; expected encoded image bytes, "
                "{'bytes': ...} structs or relative file paths."
            )
        # single bad cells are reported per item (am.embed skips those pairs)
        meta = table.drop(columns=[self.image_column]).reset_index(drop=True)
        texts = meta[self.text_column]
        if texts.isna().any():
            bad = np.flatnonzero(texts.isna().to_numpy())
            raise ValueError(
                f"column {self.text_column!r} of {source} is empty at rows {bad[:10].tolist()}; "
                "fill or drop those rows."
            )
        if self.text_column == "caption":
            meta["caption"] = texts.astype(str)
        else:
            if "caption" in meta.columns:
                meta = meta.rename(columns={"caption": "caption_original"})
            meta.insert(0, "caption", texts.astype(str))
        if "id" not in meta.columns:
            first = self.rows[0] if self.rows else 0
            meta.insert(0, "id", [f"row-{first + i}" for i in range(len(meta))])
        self._frame = meta

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def name(self) -> str:
        return f"ImageTextParquet({self.path.name!r}, n={len(self)})"

    def _build_meta(self) -> pd.DataFrame:
        return self._frame.copy()

    def _referenced_file(self, value: Any) -> Path | None:
        kind = _image_kind(value)
        if kind == "path":
            return self.path.parent / value
        if kind == "struct" and value.get("bytes") is None and value.get("path"):
            return self.path.parent / value["path"]
        return None

    def _fingerprint_parts(self) -> list[Any]:
        # images stored as paths are other files: cover each one's size + mtime
        # (as ImageTextFolder does), so an edited image is not served from the cache
        referenced = []
        for value in self._images:
            target = self._referenced_file(value)
            if target is None:
                continue
            try:
                referenced.append(stat_signature(target))
            except OSError:
                referenced.append(None)  # missing: skipped at embedding time
        return [file_digest(self.path), self.image_column, self.text_column, referenced,
                *([list(self.rows)] if self.rows else [])]

    def _item(self, modality: str, i: int) -> Any:
        if modality == "text":
            return self._frame["caption"].iat[i]
        value = self._images[i]
        what = f"row {i} of {self.path.name} (column {self.image_column!r})"
        kind = _image_kind(value)
        if kind == "bytes":
            return decode_image(value, what)
        if kind == "struct" and value.get("bytes") is not None:
            return decode_image(value["bytes"], what)
        target = self._referenced_file(value)
        if target is not None:
            return open_image(target)
        raise UnreadableItemError(f"{what} holds no image ({type(value).__name__})")
