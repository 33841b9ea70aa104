"""ImageTextFolder: a folder of images with their captions."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo.data._files import IMAGE_SUFFIXES, open_image, stat_signature
from amumo.data.base import BaseDataset, stable_hash

__all__ = ["ImageTextFolder", "IMAGE_COLUMNS", "TEXT_COLUMNS", "pick_column"]

#: Column names recognised as the image (file) column, in order of preference.
IMAGE_COLUMNS = ("image", "file", "file_name", "filename", "path", "image_path", "jpg", "png")
#: Column names recognised as the caption column, in order of preference.
TEXT_COLUMNS = ("caption", "text", "prompt", "txt", "sentence")
_MAX_LISTED = 10


def pick_column(
    columns: Sequence[str], given: str | None, candidates: Sequence[str], what: str, source: str
) -> str:
    """The column to use: ``given`` if set (must exist), else the first known candidate."""
    columns = list(columns)
    if given is not None:
        if given not in columns:
            raise ValueError(f"{what}={given!r} is not a column of {source}; columns: {columns}.")
        return given
    lowered = {str(c).lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise ValueError(
        f"{source} has no {what.replace('_column', '')} column (looked for {list(candidates)}); "
        f"columns: {columns}. Pass {what}='...'."
    )


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    lines = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {number}: not valid JSON ({err.msg}).") from err
            if not isinstance(row, dict):
                raise ValueError(f"{path}, line {number}: expected a JSON object per line.")
            rows.append(row)
            lines.append(number)
    frame = pd.DataFrame(rows)
    frame.attrs["line_numbers"] = lines
    return frame


def _check_cells(table: pd.DataFrame, columns: dict[str, str], source: str) -> None:
    """Null / missing / non-text cells in the image and caption columns: a clear error.

    Without this, ``astype(str)`` would turn a JSON ``null`` into the caption "None"
    (or "nan") and embed it.
    """
    lines = table.attrs.get("line_numbers")
    for what, column in columns.items():
        values = table[column]
        bad = [
            k for k, v in enumerate(values)
            if v is None or (isinstance(v, float) and np.isnan(v))
            or not isinstance(v, (str, int, float, np.integer, np.floating))
            or isinstance(v, bool)
        ]
        if not bad:
            continue
        numbers = [lines[k] for k in bad] if lines is not None else bad
        listed = ", ".join(str(x) for x in numbers[:_MAX_LISTED])
        where = f"{'line' if lines is not None else 'row'}{'s' if len(bad) > 1 else ''} {listed}"
        more = f" (and {len(bad) - _MAX_LISTED} more)" if len(bad) > _MAX_LISTED else ""
        first = values.iloc[bad[0]]
        missing = first is None or (isinstance(first, float) and np.isnan(first))
        shown = "null or absent" if missing else f"a {type(first).__name__}"
        raise ValueError(
            f"{source}, {where}{more}: the {what} ({column!r}) is {shown}; every pair needs a "
            f"{what} text: fill it in or remove the line."
        )


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    if path.suffix in (".csv", ".tsv"):
        try:
            return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str,
                               keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} could not be parsed as a table: {err}") from err
    raise ValueError(f"captions file {str(path)!r} must end in .csv, .tsv or .jsonl.")


class ImageTextFolder(BaseDataset):
    """Images in a folder paired with captions from ``captions.csv`` / ``captions.jsonl``.

    Parameters
    ----------
    root : path
        The folder.
    captions : path, optional
        The captions table (relative to ``root`` or absolute; .csv, .tsv or
        .jsonl). Default: ``root/captions.csv`` or ``root/captions.jsonl``; if
        neither exists, every image ``name.jpg`` is paired with the text in
        ``name.txt`` next to it (the webdataset layout).
    image_column, text_column : str, optional
        Column names; by default the first of :data:`IMAGE_COLUMNS` /
        :data:`TEXT_COLUMNS` found. Image paths are relative to ``root``.

    Raises
    ------
    FileNotFoundError
        ``root`` or listed images do not exist (all missing files are listed).
    ValueError
        No captions source, both a .csv and a .jsonl, missing columns, empty captions.

    Notes
    -----
    Images are read when needed; a corrupt one raises
    :class:`~amumo.data.UnreadableItemError`, which :func:`amumo.embed` turns
    into a skipped pair. The fingerprint covers the captions and each image's
    size and modification time.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (8, 8), "red").save(root / "a.png")
    >>> _ = (root / "captions.csv").write_text("file,caption\\na.png,a red square\\n")
    >>> ds = ImageTextFolder(root)
    >>> len(ds), ds.item("text", 0), ds.item("image", 0).size
    (1, 'a red square', (8, 8))
    """

    modalities = ("image", "text")

    def __init__(
        self,
        root: str | os.PathLike[str],
        captions: str | os.PathLike[str] | None = None,
        *,
        image_column: str | None = None,
        text_column: str | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"root={str(self.root)!r} is not a folder.")
        if captions is None:
            found = [self.root / n for n in ("captions.csv", "captions.jsonl")]
            found = [p for p in found if p.is_file()]
            if len(found) > 1:
                raise ValueError(
                    f"{self.root} has both captions.csv and captions.jsonl; pass "
                    "captions='captions.csv' (or .jsonl) to choose."
                )
            self.captions_file = found[0] if found else None
        else:
            path = Path(captions).expanduser()
            self.captions_file = path if path.is_absolute() else self.root / path
            if not self.captions_file.is_file():
                raise FileNotFoundError(f"captions={str(captions)!r} does not exist.")
        if self.captions_file is not None:
            table = _read_table(self.captions_file)
            source = str(self.captions_file)
            image_col = pick_column(table.columns, image_column, IMAGE_COLUMNS,
                                    "image_column", source)
            text_col = pick_column(table.columns, text_column, TEXT_COLUMNS,
                                   "text_column", source)
            _check_cells(table, {"image file": image_col, "caption": text_col}, source)
            frame = table.rename(columns={image_col: "file", text_col: "caption"})
        else:
            frame = self._scan_sidecars()
            source = f"{self.root} (sidecar .txt files)"
        if len(frame) == 0:
            raise ValueError(f"{source} lists no image–caption pairs.")
        frame["file"] = frame["file"].astype(str)
        frame["caption"] = frame["caption"].astype(str)
        empty = np.flatnonzero(frame["caption"].str.strip() == "")
        if len(empty):
            raise ValueError(
                f"{source} has {len(empty)} empty caption(s) at rows {empty[:_MAX_LISTED].tolist()}"
                "; fill or remove them."
            )
        paths = [self.root / f for f in frame["file"]]
        missing = [f for f, p in zip(frame["file"], paths, strict=True) if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image file(s) listed in {source} do not exist under {self.root}: "
                f"{missing[:_MAX_LISTED]}{' ...' if len(missing) > _MAX_LISTED else ''}."
            )
        self._paths = paths
        if "id" not in frame.columns:
            frame.insert(0, "id", frame["file"])
        self._frame = frame.reset_index(drop=True)

    def _scan_sidecars(self) -> pd.DataFrame:
        images = sorted(
            p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not images:
            raise ValueError(
                f"{self.root} has no captions.csv / captions.jsonl and no images with .txt "
                "captions; add a captions table (columns file, caption) or pass captions=..."
            )
        lacking = [p for p in images if not p.with_suffix(".txt").is_file()]
        if lacking:
            names = [str(p.relative_to(self.root)) for p in lacking[:_MAX_LISTED]]
            raise ValueError(
                f"{self.root} has no captions.csv / captions.jsonl, and {len(lacking)} image(s) "
                f"lack a .txt caption next to them: {names}. Add captions.csv (columns file, "
                "caption) or the .txt files."
            )
        return pd.DataFrame({
            "file": [str(p.relative_to(self.root)) for p in images],
            "caption": [p.with_suffix(".txt").read_text(encoding="utf-8").strip() for p in images],
        })

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def name(self) -> str:
        return f"ImageTextFolder({self.root.name!r}, n={len(self)})"

    def _build_meta(self) -> pd.DataFrame:
        return self._frame.copy()

    def _fingerprint_parts(self) -> list[Any]:
        return [
            stable_hash(self._frame.to_json(orient="split")),
            [stat_signature(p) for p in self._paths],
        ]

    def _item(self, modality: str, i: int) -> Any:
        if modality == "image":
            return open_image(self._paths[i])
        return self._frame["caption"].iat[i]
