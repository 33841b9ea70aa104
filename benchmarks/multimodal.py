"""Cost of the multi-modality features (issue 14): gap matrix, M-way close-gap,
cluster names (class-based TF-IDF), WAV previews, the synthetic encoder.

Usage: .venv/bin/python benchmarks/multimodal.py [--sizes 1000 10000 100000]

Prints one table per feature: wall time (best of 3 for the fast ones) and, where it
matters, peak extra memory (tracemalloc).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import amumo as am
from amumo.data import Audio, SyntheticShapesAudio, wav_bytes
from amumo.widgets.heatmap import NAMED_CAPTIONS


def _timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float]:
    """(best wall seconds, peak extra MB of the first run)."""
    tracemalloc.start()
    start = time.perf_counter()
    fn()
    best = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    for _ in range(repeat - 1):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best, peak


def _cones(n: int, d: int, m: int, seed: int = 0) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d)).astype(np.float32)
    arrays = {}
    for k, name in enumerate(("image", "text", "audio", "depth")[:m]):
        offset = np.zeros(d, dtype=np.float32)
        offset[k] = 6.0
        arrays[name] = shared + rng.normal(size=(n, d)).astype(np.float32) + offset
    return am.Embeddings.from_arrays(arrays)


def bench_gap(sizes: list[int], d: int) -> None:
    print(f"\n## gap_matrix / close_gap, M = 3, D = {d}")
    print("| pairs | gap_matrix (gap_distance) | gap_matrix (rmg) | close_gap (all 3) |")
    print("|---|---|---|---|")
    for n in sizes:
        emb = _cones(n, d, 3)
        t1, _ = _timed(lambda emb=emb: am.gap_matrix(emb))
        t2, _ = _timed(lambda emb=emb: am.gap_matrix(emb, "rmg"))
        t3, m3 = _timed(lambda emb=emb: am.close_gap(emb), repeat=1)
        print(f"| {n:,} | {t1 * 1e3:.1f} ms | {t2 * 1e3:.1f} ms | {t3:.2f} s, {m3:,.0f} MB |")


def bench_names(sizes: list[int]) -> None:
    captions = am.datasets.clip_coco500().meta["caption"].astype(str).tolist()
    print("\n## cluster_names (c-TF-IDF), MSCOCO captions repeated, k = 20")
    print("| captions | cluster_names (all captions) | as the widgets call it "
          "(≤ 2,000 per cluster) |")
    print("|---|---|---|")
    rng = np.random.default_rng(0)
    for n in sizes:
        texts = [captions[i % len(captions)] for i in range(n)]
        labels = rng.integers(0, 20, size=n)
        t, mem = _timed(lambda texts=texts, labels=labels: am.cluster_names(texts, labels),
                        repeat=1)
        ts, ms = _timed(
            lambda texts=texts, labels=labels: am.cluster_names(
                texts, labels, max_per_cluster=NAMED_CAPTIONS
            ),
            repeat=1,
        )
        print(f"| {n:,} | {t:.2f} s, {mem:,.0f} MB | {ts:.2f} s, {ms:,.0f} MB |")


def bench_audio() -> None:
    print("\n## audio previews")
    print("| clip | WAV bytes | wav_bytes |")
    print("|---|---|---|")
    rng = np.random.default_rng(0)
    for seconds, rate, channels in ((0.8, 8000, 1), (10, 48000, 1), (30, 48000, 2)):
        shape = (int(seconds * rate),) if channels == 1 else (int(seconds * rate), channels)
        clip = Audio(rng.uniform(-0.5, 0.5, size=shape).astype(np.float32), rate)
        t, _ = _timed(lambda clip=clip: wav_bytes(clip))
        size = len(wav_bytes(clip))
        print(f"| {seconds:g} s, {rate} Hz, {channels} ch | {size / 1e3:,.0f} kB | "
              f"{t * 1e3:.1f} ms |")
    ds = SyntheticShapesAudio(200, seed=0)
    enc = am.models.ShapesEncoder()
    start = time.perf_counter()
    for m in ds.modalities:
        enc.encode(m, [ds.item(m, i) for i in range(len(ds))])
    per = (time.perf_counter() - start) / len(ds) * 1e3
    print(f"\nSyntheticShapesAudio + ShapesEncoder: {per:.2f} ms per pair (3 items: render, "
          "synthesise, read, embed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    bench_gap(args.sizes, args.dim)
    bench_names([500, 5_000, 50_000, 200_000, 1_000_000])
    bench_audio()


if __name__ == "__main__":
    main()
