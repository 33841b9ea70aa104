"""COCOCaptions: MSCOCO-style caption annotations + an image folder."""

from __future__ import annotations

import json
import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from amumo.data._files import file_digest, open_image, stat_signature
from amumo.data.base import BaseDataset

__all__ = ["COCOCaptions"]

_MAX_LISTED = 10


class COCOCaptions(BaseDataset):
    """Image–caption pairs from an MSCOCO captions file (e.g. ``captions_val2017.json``).

    Parameters
    ----------
    annotation_json : path
        A COCO captions file: ``{"images": [{"id", "file_name", ...}],
        "annotations": [{"image_id", "caption", "id"}]}``.
    image_dir : path
        Folder holding the ``file_name`` images (e.g. ``val2017/``).
    n : int, optional
        Number of images to sample (without replacement, seeded); all by default.
        Sampled images keep their order in the annotation file.
    seed : int, default 0
        Seeds the sample and ``caption="random"``.
    caption : {"first", "random", "all"}, default "first"
        Which of an image's captions makes the pair: the first listed, one at
        random, or one pair per caption.

    Raises
    ------
    FileNotFoundError
        Missing annotation file, image folder, or sampled image files (listed).
    ValueError
        Malformed annotations, ``n`` larger than the number of captioned images.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from PIL import Image
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (8, 8)).save(d / "1.jpg")
    >>> _ = (d / "ann.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "1.jpg"}],
    ...     "annotations": [{"id": 5, "image_id": 1, "caption": "A black square."}]}))
    >>> ds = COCOCaptions(d / "ann.json", d)
    >>> ds.captions
    ['A black square.']
    """

    modalities = ("image", "text")

    def __init__(
        self,
        annotation_json: str | os.PathLike[str],
        image_dir: str | os.PathLike[str],
        n: int | None = None,
        seed: int = 0,
        caption: Literal["first", "random", "all"] = "first",
    ) -> None:
        self.annotation_json = Path(annotation_json).expanduser()
        self.image_dir = Path(image_dir).expanduser()
        if not self.annotation_json.is_file():
            raise FileNotFoundError(f"annotation_json={str(annotation_json)!r} does not exist.")
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"image_dir={str(image_dir)!r} is not a folder.")
        if caption not in ("first", "random", "all"):
            raise ValueError(f"caption={caption!r}; choose 'first', 'random' or 'all'.")
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))):
            raise TypeError(f"n must be an integer or None, got {n!r}.")
        if n is not None and n < 1:
            raise ValueError(f"n={n}; pass a positive number of images or None for all.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}.")
        self.n, self.seed, self.caption_mode = n, int(seed), caption

        try:
            data = json.loads(self.annotation_json.read_text(encoding="utf-8"))
            images = data["images"]
            annotations = data["annotations"]
            by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
            for ann in annotations:
                by_image[ann["image_id"]].append(ann)
            records = [(img["id"], img["file_name"], img) for img in images]
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{self.annotation_json} is not valid JSON: {err}") from err
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"{self.annotation_json} is not a COCO captions file (missing {err}); it needs "
                "'images' with id/file_name and 'annotations' with image_id/caption."
            ) from err
        captioned = [r for r in records if by_image.get(r[0])]
        self.uncaptioned = len(records) - len(captioned)
        if self.uncaptioned:
            warnings.warn(
                f"{self.uncaptioned} image(s) in {self.annotation_json.name} have no caption "
                "and form no pair; they are left out.",
                UserWarning,
                stacklevel=2,
            )
        if not captioned:
            raise ValueError(f"{self.annotation_json} has no captioned images.")
        rng = np.random.default_rng(self.seed)
        if n is not None:
            if n > len(captioned):
                raise ValueError(
                    f"n={n} but {self.annotation_json.name} has {len(captioned)} captioned "
                    "images; pass a smaller n or None for all."
                )
            chosen = np.sort(rng.choice(len(captioned), size=n, replace=False))
            captioned = [captioned[k] for k in chosen]
        rows = []
        for image_id, file_name, img in captioned:
            anns = by_image[image_id]
            if caption == "first":
                picks = [anns[0]]
            elif caption == "random":
                picks = [anns[int(rng.integers(len(anns)))]]
            else:
                picks = anns
            for ann in picks:
                row = {
                    "id": str(image_id),
                    "file_name": str(file_name),
                    "caption": str(ann["caption"]).strip(),
                    "caption_id": ann.get("id"),
                }
                for key in ("width", "height"):
                    if key in img:
                        row[key] = img[key]
                rows.append(row)
        frame = pd.DataFrame(rows)
        paths = [self.image_dir / f for f in frame["file_name"]]
        unique_paths = list(dict.fromkeys(paths))
        missing = [str(p.name) for p in unique_paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image file(s) named in {self.annotation_json.name} are not in "
                f"{self.image_dir}: {missing[:_MAX_LISTED]}"
                f"{' ...' if len(missing) > _MAX_LISTED else ''}."
            )
        self._frame = frame
        self._paths = paths
        self._unique_paths = unique_paths

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def name(self) -> str:
        extra = f", n={self.n}, seed={self.seed}" if self.n is not None else ""
        return f"COCOCaptions({self.annotation_json.name!r}{extra}, caption={self.caption_mode!r})"

    def _build_meta(self) -> pd.DataFrame:
        return self._frame.copy()

    def _fingerprint_parts(self) -> list[Any]:
        return [
            file_digest(self.annotation_json),
            self.n,
            self.seed,
            self.caption_mode,
            [[p.name, *stat_signature(p)] for p in self._unique_paths],
        ]

    def _item(self, modality: str, i: int) -> Any:
        if modality == "image":
            return open_image(self._paths[i])
        return self._frame["caption"].iat[i]
