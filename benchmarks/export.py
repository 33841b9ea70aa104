"""save_html: time and size of an exported Explorer page, by number of pairs.

Prints, for each size, the seconds to write the page (precomputing the close-the-gap and
cluster states, meta rows and thumbnails for views of <= 1,000 pairs) and its size in MB,
split into the fixed scripts (~1.3 MB) and the rest. Embeddings: the shipped CLIP COCO pairs
(repeated with noise beyond 500); thumbnails: SyntheticShapes images.

Usage: python benchmarks/export.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import amumo as am
from amumo.data import SyntheticShapes
from amumo.widgets.export import _scripts


def coco_like(n: int) -> am.Embeddings:
    coco = am.datasets.clip_coco500()
    rng = np.random.default_rng(0)
    reps = -(-n // len(coco))
    arrays = {
        m: (np.tile(coco[m], (reps, 1))[:n] + 0.02 * rng.normal(size=(n, coco.dim)))
        for m in coco.modalities
    }
    meta = coco.meta.iloc[np.arange(n) % len(coco)].reset_index(drop=True)
    meta["pair"] = range(n)
    return am.Embeddings.from_arrays(arrays, meta=meta)


def measure(widget, folder: Path, name: str) -> tuple[float, float]:
    start = time.perf_counter()
    path = widget.save_html(folder / f"{name}.html")
    return time.perf_counter() - start, path.stat().st_size / 1e6


def main() -> None:
    fixed = len(_scripts(True).encode()) / 1e6
    print(f"fixed scripts (widget manager, anywidget, requirejs): {fixed:.2f} MB")
    print(f"{'view':<34}{'pairs':>7}{'seconds':>9}{'MB':>8}{'MB w/o scripts':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in (100, 500, 1000, 1500):
            ex = am.Explorer(coco_like(n), remote_images=False)
            seconds, mb = measure(ex, folder, f"coco{n}")
            row = f"{n:>7}{seconds:>9.2f}{mb:>8.2f}{mb - fixed:>16.2f}"
            print(f"{'Explorer, COCO captions':<34}{row}")
        for n in (200, 1000):
            ds = SyntheticShapes(n, seed=0)
            rng = np.random.default_rng(0)
            emb = am.Embeddings.from_arrays(
                {"image": rng.normal(size=(n, 64)), "text": rng.normal(size=(n, 64))},
                meta=ds.meta,
            )
            ex = am.Explorer(emb, dataset=ds)
            seconds, mb = measure(ex, folder, f"shapes{n}")
            row = f"{n:>7}{seconds:>9.2f}{mb:>8.2f}{mb - fixed:>16.2f}"
            print(f"{'Explorer, shapes + thumbnails':<34}{row}")


if __name__ == "__main__":
    main()
