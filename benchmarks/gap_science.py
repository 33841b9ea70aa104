"""Wall time and peak extra memory of the issue-13 science at several sizes.

Synthetic CLIP-like cones (D = 512, unit float32 rows, gap ≈ 0.8) for N pairs.
Columns: the O(N·D) gap measures (rmg, l2i, centroid_cosine, gap_dimensions),
frechet_distance (O(N·D² + D³)), the gap-axis projection, the PCA-hides-the-gap
criterion, one retrieval query (what the Explorer asks per hover), the failed
retrievals table (exact up to 2,000 pairs, 2,000 sampled queries above),
calibration histograms (10,000 samples per kind) and mitigate("center").
One BLAS thread, as in the widgets.

Usage::

    .venv/bin/python benchmarks/gap_science.py                 # N = 10k, 100k, 1M
    .venv/bin/python benchmarks/gap_science.py --sizes 2000 20000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import amumo as am
from amumo.analysis.calibration import cosine_histograms
from amumo.analysis.gap_axis import gap_projection, pca_hides_gap
from amumo.analysis.neighbours import failed_retrievals, neighbours
from amumo.widgets._base import blas_threads


def cones(n: int, d: int = 512, seed: int = 0) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, axis in (("image", 0), ("text", 1)):
        rows = np.empty((n, d), dtype=np.float32)
        for start in range(0, n, 100_000):
            block = rng.standard_normal((min(100_000, n - start), d), dtype=np.float32) * 0.05
            block[:, axis] += 0.6
            block[:, 2] += 0.5
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            rows[start:start + len(block)] = block
        arrays[name] = rows
    return am.Embeddings.from_arrays(arrays, normalized=True)


def measure(fn) -> tuple[float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    with blas_threads(1):  # as the widgets run them (spinning BLAS threads thrash a busy CPU)
        fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20


CASES = {
    "rmg": lambda e: am.rmg(e),
    "l2i": lambda e: am.l2i(e),
    "centroid_cosine": lambda e: am.centroid_cosine(e),
    "gap_dimensions": lambda e: am.gap_dimensions(e),
    "frechet": lambda e: am.frechet_distance(e),
    "gap axis": lambda e: gap_projection(e),
    "pca_hides_gap": lambda e: pca_hides_gap(e),
    "1 query (hover)": lambda e: neighbours(e, 7, k=5),
    "1 query float32": lambda e: neighbours(e, 7, k=5, exact=False),
    "failures": lambda e: failed_retrievals(e, max_rows=40),
    "calibration": lambda e: cosine_histograms(e, max_samples=10_000),
    "mitigate center": lambda e: am.mitigate(e, "center", report=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--only", nargs="+", choices=list(CASES), help="measure only these")
    args = parser.parse_args()
    cases = {k: v for k, v in CASES.items() if not args.only or k in args.only}
    print("| pairs | " + " | ".join(cases) + " |", flush=True)
    print("|---|" + "---|" * len(cases), flush=True)
    for n in args.sizes:
        emb = cones(n)
        cells = []
        for fn in cases.values():
            seconds, mb = measure(lambda fn=fn, emb=emb: fn(emb))
            cells.append(f"{seconds:.3g} s, {mb:,.0f} MB")
        print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)
        del emb


if __name__ == "__main__":
    main()
