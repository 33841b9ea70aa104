"""Time and peak memory of the analysis core for several numbers of pairs.

Usage::

    .venv/bin/python benchmarks/analysis.py            # N = 500, 1000, 2000, 5000
    .venv/bin/python benchmarks/analysis.py 500 1000   # chosen sizes
    .venv/bin/python benchmarks/analysis.py --no-umap  # skip UMAP

Embeddings are synthetic CLIP-like cones (D = 512): each modality is a
normalised sum of a shared pair component, a modality offset and noise, so
the gap (~0.8) and the clustering workload resemble real data. Peak memory
is measured with ``tracemalloc`` (numpy allocations are traced), i.e. the
extra memory a call needs on top of its inputs.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import amumo as am


def clip_like(n: int, d: int = 512, seed: int = 0) -> am.Embeddings:
    """Paired unit vectors in two cones with a gap of roughly 0.8."""
    rng = np.random.default_rng(seed)
    concepts = rng.normal(size=(max(8, n // 25), d))
    shared = concepts[rng.integers(0, len(concepts), size=n)] + 0.7 * rng.normal(size=(n, d))
    offset = rng.normal(size=(2, d)) * 1.3
    image = shared + offset[0] + 1.5 * rng.normal(size=(n, d))
    text = shared + offset[1] + 1.5 * rng.normal(size=(n, d))
    return am.Embeddings.from_arrays({"image": image, "text": text})


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn`` once; return its result, wall seconds and peak traced MB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[500, 1000, 2000, 5000])
    parser.add_argument("--no-umap", action="store_true", help="skip the UMAP column")
    args = parser.parse_args()

    if not args.no_umap:  # pay numba's one-off compilation outside the table
        _, warm, _ = measure(lambda: am.project(clip_like(200), "umap", cache=False))
        print(f"UMAP warm-up (numba compilation, once per process): {warm:.1f} s\n")

    header = (
        f"{'pairs':>6} {'items':>6} | {'similarity':>16} | {'cluster_order':>16} | "
        f"{'PCA':>16} | {'UMAP':>16} | {'gap':>5}"
    )
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        emb = clip_like(n)
        sim, t_sim, m_sim = measure(lambda emb=emb: am.similarity(emb))
        _, t_clu, m_clu = measure(lambda sim=sim: am.cluster_order(sim, k=10))
        del sim
        _, t_pca, m_pca = measure(lambda emb=emb: am.project(emb, "pca", cache=False))
        if args.no_umap:
            umap_cell = "skipped"
        else:
            _, t_umap, m_umap = measure(lambda emb=emb: am.project(emb, "umap", cache=False))
            umap_cell = f"{t_umap:6.2f} s {m_umap:5.0f} MB"
        print(
            f"{n:>6} {2 * n:>6} | {t_sim:6.2f} s {m_sim:5.0f} MB | {t_clu:6.2f} s {m_clu:5.0f} MB"
            f" | {t_pca:6.2f} s {m_pca:5.0f} MB | {umap_cell:>16} | {am.gap_distance(emb):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
