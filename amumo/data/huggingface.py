"""HuggingFaceDataset: a Hugging Face ``datasets`` table as paired data (images, captions, audio).

Amumo read Conceptual 12M and DiffusionDB through ``datasets``; most image–text and
audio–text corpora live there today. :class:`HuggingFaceDataset` wraps

- a ``datasets.Dataset`` (memory-mapped Arrow: nothing is read until asked),
- one split of a ``DatasetDict`` (``split="validation"``),
- a streaming ``IterableDataset`` (``load_dataset(..., streaming=True)``): its first
  ``n`` rows are copied, undecoded, into amumo's cache folder in parts of
  ``part_size`` rows and served from there; an interrupted copy resumes at the
  last finished part, and the same stream is never fetched twice.

Items are decoded only when asked for (``item("image", i)``): image columns are read
as their stored bytes (or file path) and decoded by amumo, so a corrupt image is an
:class:`~amumo.data.UnreadableItemError` for that pair (``am.embed`` skips it and says
so), never a failed run. Audio columns are decoded the same way (WAV with the
standard library; other formats with ``soundfile`` when it is installed). The other
columns become ``meta`` (scalar ones by default; ``meta=[...]`` picks any).

Recipes for Amumo's datasets (Conceptual 12M, DiffusionDB, MSCOCO) are in
``docs/datasets.md``; they need network. For example::

    from datasets import load_dataset
    cc12m = load_dataset("pixparse/cc12m-wds", split="train", streaming=True)
    ds = am.data.HuggingFaceDataset(cc12m, image="jpg", text="txt", n=5000)
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo.data._files import decode_image, open_image
from amumo.data.audio import Audio, mono_waveform
from amumo.data.base import BaseDataset, UnreadableItemError, stable_hash

__all__ = ["HuggingFaceDataset"]

_SCALAR_TYPES = ("string", "large_string", "bool", "int", "uint", "float", "double", "date",
                 "time", "timestamp", "decimal")
_STREAM_VERSION = 1


def _require_datasets() -> Any:
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(
            "HuggingFaceDataset needs the datasets package: pip install 'amumo[hf]'."
        ) from err
    return datasets


def _is_scalar(feature: Any) -> bool:
    kind = type(feature).__name__
    if kind == "ClassLabel":
        return True
    if kind != "Value":
        return False
    return str(feature.dtype).startswith(_SCALAR_TYPES)


def _undecoded(datasets: Any, table: Any, column: str | None, kind: str) -> Any:
    """``table`` with ``column`` cast to its undecoded form (``{"bytes", "path"}``)."""
    if column is None or table.features is None or column not in table.features:
        return table
    feature = table.features[column]
    if type(feature).__name__ == "Image" and getattr(feature, "decode", False):
        return table.cast_column(column, datasets.Image(decode=False))
    if type(feature).__name__ == "Audio" and getattr(feature, "decode", False):
        return table.cast_column(column, datasets.Audio(decode=False))
    return table


def _decode_audio_bytes(data: bytes, what: str) -> Audio:
    if data[:4] == b"RIFF":
        samples, rate = mono_waveform(data)
        return Audio(samples, rate)
    try:
        import soundfile
    except ImportError as err:
        raise UnreadableItemError(
            f"{what} is not WAV audio; decoding other formats (FLAC, MP3, OGG) needs "
            "soundfile: pip install soundfile."
        ) from err
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    except Exception as err:  # noqa: BLE001 - soundfile raises its own error types
        raise UnreadableItemError(f"{what} could not be decoded as audio: {err}") from err
    return Audio(samples, int(rate))


class HuggingFaceDataset(BaseDataset):
    """Pairs from a Hugging Face ``datasets`` table: an image / audio column and a text column.

    Parameters
    ----------
    ds : datasets.Dataset, DatasetDict, IterableDataset or IterableDatasetDict
        The table. A ``*Dict`` needs ``split=``; a streaming dataset needs ``n=``.
    image : str or None, default "image"
        The image column (a ``datasets.Image`` feature, encoded bytes, ``{"bytes",
        "path"}`` structs or file paths). ``None`` for audio–text data.
    text : str, default "caption"
        The text column. A cell holding a list of captions (MSCOCO has five) gives
        its ``caption_index``-th one.
    audio : str, optional
        An audio column (``datasets.Audio`` feature, WAV bytes,
        ``{"array", "sampling_rate"}`` dicts).
    meta : sequence of str, optional
        Columns to keep as meta; default every scalar column (strings, numbers,
        booleans, dates, class labels as their names) other than the item columns.
    split : str, optional
        The split of a ``DatasetDict`` / ``IterableDatasetDict``.
    n : int, optional
        Use only the first ``n`` rows (required for a streaming dataset).
    caption_index : int, default 0
        Which caption of a list-valued text cell.
    cache_dir : path, optional
        Where a stream's first ``n`` rows are copied (default amumo's cache folder,
        ``$AMUMO_CACHE_DIR``); ``part_size`` rows per part (default 1,000).
    progress : bool, default True
        A progress bar while a stream is copied.

    Attributes
    ----------
    table : datasets.Dataset
        The rows served (for a stream: the local copy), items undecoded.
    skipped_meta : list of str
        Columns left out of ``meta`` because they are not scalar.

    Notes
    -----
    ``meta`` has ``id`` (the table's ``id`` column, else ``row-<i>``), ``caption`` (the
    text; a table column named ``caption`` that is not the text column becomes
    ``caption_original``) and the meta columns. An empty text raises ValueError
    naming the rows (filter them first: ``ds.filter(lambda r: r["caption"])``). The
    fingerprint (embedding cache key) is the ``datasets`` fingerprint of the table
    (for a stream: of the rows copied) plus the column choice.

    Examples
    --------
    >>> import io, datasets, numpy as np
    >>> from PIL import Image
    >>> def png(colour):
    ...     buf = io.BytesIO(); Image.new("RGB", (8, 8), colour).save(buf, "PNG")
    ...     return {"bytes": buf.getvalue(), "path": None}
    >>> table = datasets.Dataset.from_dict(
    ...     {"image": [png("red"), png("blue")], "caption": ["a red square", "a blue square"],
    ...      "score": [0.5, 0.7]}).cast_column("image", datasets.Image())
    >>> ds = HuggingFaceDataset(table)
    >>> len(ds), ds.item("image", 1).getpixel((0, 0)), ds.item("text", 0)
    (2, (0, 0, 255), 'a red square')
    >>> ds.meta.columns.tolist()
    ['id', 'caption', 'score']
    """

    def __init__(
        self,
        ds: Any,
        image: str | None = "image",
        text: str = "caption",
        audio: str | None = None,
        meta: Sequence[str] | None = None,
        *,
        split: str | None = None,
        n: int | None = None,
        caption_index: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        part_size: int = 1000,
        progress: bool = True,
    ) -> None:
        datasets = _require_datasets()
        ds = self._pick_split(datasets, ds, split)
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or n < 1):
            raise ValueError(f"n={n!r} must be a positive number of rows.")
        if isinstance(caption_index, bool) or not isinstance(caption_index, (int, np.integer)):
            raise TypeError(f"caption_index must be an integer, got {caption_index!r}.")
        self.caption_index = int(caption_index)
        if image is None and audio is None:
            raise ValueError("pass image= or audio= (or both): a pair needs a second modality "
                             "besides the text.")
        columns = [c for c in (image, text, audio) if c is not None]
        features = ds.features
        if features is not None:
            missing = [c for c in columns if c not in features]
            if missing:
                raise ValueError(
                    f"the dataset has no column(s) {missing}; its columns are "
                    f"{list(features)}. Pass image=, text= (and audio=) with their names."
                )
        self.image_column, self.text_column, self.audio_column = image, text, audio
        self.modalities = tuple(m for m, c in (("image", image), ("text", text),
                                               ("audio", audio)) if c is not None)
        self.caption_column = "caption"
        if isinstance(ds, datasets.IterableDataset):
            if n is None:
                raise ValueError(
                    "a streaming dataset has no length; pass n= (how many of its first rows "
                    "to use; they are copied once into amumo's cache folder)."
                )
            table, self.stream_key = self._copy_stream(datasets, ds, int(n), cache_dir,
                                                       int(part_size), progress)
        elif isinstance(ds, datasets.Dataset):
            table = ds if n is None or n >= len(ds) else ds.select(range(int(n)))
            self.stream_key = None
            table = _undecoded(datasets, table, image, "image")
            table = _undecoded(datasets, table, audio, "audio")
        else:
            raise TypeError(
                f"ds is a {type(ds).__name__}; pass a datasets.Dataset, a DatasetDict with "
                "split=, or a streaming IterableDataset with n=."
            )
        if len(table) == 0:
            raise ValueError("the dataset has no rows.")
        self.table = table
        self._name_hint = getattr(getattr(ds, "info", None), "dataset_name", None)
        self._frame, self.skipped_meta = self._build_frame(datasets, meta)
        self._image_rows = table.select_columns([image]) if image else None
        self._audio_rows = table.select_columns([audio]) if audio else None

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _pick_split(datasets: Any, ds: Any, split: str | None) -> Any:
        dicts = (datasets.DatasetDict, datasets.IterableDatasetDict)
        if isinstance(ds, dicts):
            if split is None:
                raise ValueError(
                    f"ds is a {type(ds).__name__} with splits {list(ds)}; pass split= (e.g. "
                    f"split={next(iter(ds), 'train')!r}) or ds['<split>']."
                )
            if split not in ds:
                raise ValueError(f"split={split!r} is not one of {list(ds)}.")
            return ds[split]
        if split is not None:
            raise ValueError(f"split={split!r} but ds is a single {type(ds).__name__}; omit it.")
        return ds

    def _copy_stream(self, datasets: Any, ds: Any, n: int, cache_dir: Any, part_size: int,
                     progress: bool) -> tuple[Any, str]:
        """The first ``n`` rows of a stream, copied (undecoded) in parts; resumable."""
        from amumo._cache_dir import resolve_cache_dir
        from amumo._util import atomic_write_bytes

        if part_size < 1:
            raise ValueError(f"part_size={part_size} must be positive.")
        stream = _undecoded(datasets, ds, self.image_column, "image")
        stream = _undecoded(datasets, stream, self.audio_column, "audio")
        rows = iter(stream)
        try:
            first = next(rows)
        except StopIteration:
            raise ValueError("the stream has no rows.") from None
        info = getattr(ds, "info", None)
        identity = [getattr(info, k, None) for k in ("dataset_name", "config_name",
                                                     "builder_name", "version")]
        first_digest = stable_hash(json.dumps(first, sort_keys=True, default=_digest_default))
        key = stable_hash("hf-stream", _STREAM_VERSION, [str(v) for v in identity],
                          str(getattr(ds, "split", None)), first_digest, n, part_size)
        folder = resolve_cache_dir(cache_dir) / "hf-stream" / key[:20]
        folder.mkdir(parents=True, exist_ok=True)
        done = _finished_parts(folder)
        have = sum(count for _, count in done)
        bar = None
        if have < n and not (folder / "complete.json").exists():
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=n, initial=have, unit="row", desc="copy stream rows")
            # resume: skip the rows already copied (still read from the stream, not decoded)
            source = rows if have == 0 else iter(stream.skip(have))
            batch = [first] if have == 0 else []
            part = len(done)
            try:
                for row in source:
                    if have + len(batch) >= n:
                        break
                    batch.append(row)
                    if len(batch) == part_size or have + len(batch) == n:
                        _write_part(datasets, folder, part, batch, stream.features)
                        have += len(batch)
                        part += 1
                        if bar is not None:
                            bar.update(len(batch))
                        batch = []
                        if have >= n:
                            break
                if batch:
                    _write_part(datasets, folder, part, batch, stream.features)
                    have += len(batch)
                    if bar is not None:
                        bar.update(len(batch))
            finally:
                if bar is not None:
                    bar.close()
            atomic_write_bytes(folder / "complete.json",
                               json.dumps({"rows": have, "requested": n}).encode())
        parts = [datasets.load_from_disk(str(folder / name)) for name, _ in
                 _finished_parts(folder)]
        table = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
        if len(table) > n:
            table = table.select(range(n))
        return table, key

    def _build_frame(self, datasets: Any, meta: Sequence[str] | None) -> tuple[pd.DataFrame,
                                                                                list[str]]:
        table = self.table
        items = {self.image_column, self.audio_column} - {None}
        features = table.features
        if meta is None:
            chosen = [c for c in features if c not in items and c != self.text_column
                      and _is_scalar(features[c])]
            skipped = [c for c in features if c not in items and c != self.text_column
                       and c not in chosen]
        else:
            if isinstance(meta, str):
                raise TypeError(f"meta={meta!r} is a string; pass a list of column names.")
            chosen = list(meta)
            unknown = [c for c in chosen if c not in features]
            if unknown:
                raise ValueError(f"meta columns {unknown} are not in the dataset "
                                 f"({list(features)}).")
            skipped = []
        frame = table.select_columns([c for c in chosen if c != self.text_column]).to_pandas() \
            if [c for c in chosen if c != self.text_column] else pd.DataFrame(
                index=pd.RangeIndex(len(table)))
        for column in frame.columns:
            feature = features[column]
            if type(feature).__name__ == "ClassLabel":
                frame[column] = [feature.int2str(int(v)) if v is not None and v >= 0 else None
                                 for v in frame[column]]
        column = table.select_columns([self.text_column]).to_pandas()[self.text_column]
        texts = [self._caption(v) for v in column.tolist()]
        empty = [i for i, t in enumerate(texts) if t is None or not str(t).strip()]
        if empty:
            raise ValueError(
                f"column {self.text_column!r} is empty at rows {empty[:10]}"
                f"{' ...' if len(empty) > 10 else ''}; filter them first, e.g. "
                f"ds.filter(lambda r: r[{self.text_column!r}])."
            )
        if "caption" in frame.columns and self.text_column != "caption":
            frame = frame.rename(columns={"caption": "caption_original"})
        frame.insert(0, "caption", [str(t) for t in texts])
        if "id" not in frame.columns:
            frame.insert(0, "id", [f"row-{i}" for i in range(len(frame))])
        else:
            frame.insert(0, "id", frame.pop("id").astype(str))
        return frame.reset_index(drop=True), skipped

    def _caption(self, value: Any) -> Any:
        if isinstance(value, np.ndarray):  # a list column read through pandas
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            if not value:
                return None
            index = self.caption_index
            value = value[index] if -len(value) <= index < len(value) else value[-1]
            if isinstance(value, dict):  # e.g. {"raw": ..., "tokens": ...}
                value = value.get("raw") or value.get("text") or value.get("caption")
        return value

    # ------------------------------------------------------------------ BaseDataset
    def __len__(self) -> int:
        return len(self._frame)

    @property
    def name(self) -> str:
        label = f"{self._name_hint!r}, " if self._name_hint else ""
        return f"HuggingFaceDataset({label}n={len(self)})"

    def _build_meta(self) -> pd.DataFrame:
        return self._frame.copy()

    def _fingerprint_parts(self) -> list[Any]:
        table_id = getattr(self.table, "_fingerprint", None) or stable_hash(
            self._frame.to_json(), len(self))
        return [table_id, self.stream_key, self.image_column, self.text_column,
                self.audio_column, self.caption_index, len(self)]

    def _item(self, modality: str, i: int) -> Any:
        what = f"row {i} (column {{!r}})"
        if modality == "text":
            return self._frame["caption"].iat[i]
        if modality == "image":
            value = self._image_rows[i][self.image_column]  # type: ignore[index]
            return self._image(value, what.format(self.image_column))
        value = self._audio_rows[i][self.audio_column]  # type: ignore[index]
        return self._audio(value, what.format(self.audio_column))

    @staticmethod
    def _image(value: Any, what: str) -> Any:
        from PIL import Image

        if isinstance(value, Image.Image):
            return value.convert("RGB")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return decode_image(bytes(value), what)
        if isinstance(value, dict):
            if value.get("bytes") is not None:
                return decode_image(value["bytes"], what)
            if value.get("path"):
                path = value["path"]
                if os.path.isfile(path):
                    return open_image(path)
                datasets = _require_datasets()
                try:  # inside an archive or remote: let datasets resolve it
                    return datasets.Image().decode_example(value).convert("RGB")
                except Exception as err:  # noqa: BLE001 - reported per item
                    raise UnreadableItemError(f"{what}: image {path!r} could not be read "
                                              f"({err})") from err
        if isinstance(value, str) and value:
            return open_image(value)
        raise UnreadableItemError(f"{what} holds no image ({type(value).__name__})")

    @staticmethod
    def _audio(value: Any, what: str) -> Any:
        if isinstance(value, dict) and ("bytes" in value or "path" in value) and \
                "array" not in value:
            if value.get("bytes") is not None:
                return _decode_audio_bytes(bytes(value["bytes"]), what)
            path = value.get("path")
            if path and os.path.isfile(path):
                return _decode_audio_bytes(Path(path).read_bytes(), what)
            raise UnreadableItemError(f"{what} holds no audio bytes and no readable file")
        if isinstance(value, (bytes, bytearray)):
            return _decode_audio_bytes(bytes(value), what)
        try:
            samples, rate = mono_waveform(value)
        except (TypeError, ValueError) as err:
            raise UnreadableItemError(f"{what}: {err}") from err
        return Audio(samples, rate)


def _digest_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        import hashlib

        return hashlib.sha1(value).hexdigest()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _finished_parts(folder: Path) -> list[tuple[str, int]]:
    """``(name, rows)`` of the finished parts in order (a part is a renamed, complete folder)."""
    parts = []
    for child in sorted(folder.glob("part-*")):
        marker = child / "amumo_rows.json"
        if child.is_dir() and marker.exists():
            parts.append((child.name, int(json.loads(marker.read_text())["rows"])))
    return parts


def _write_part(datasets: Any, folder: Path, index: int, rows: list[dict[str, Any]],
                features: Any) -> None:
    """Write one part atomically: a temporary folder renamed once complete."""
    final = folder / f"part-{index:06d}"
    tmp = folder / f".tmp-part-{index:06d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    table = datasets.Dataset.from_list(rows, features=features)
    table.save_to_disk(str(tmp))
    (tmp / "amumo_rows.json").write_text(json.dumps({"rows": len(rows)}))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
