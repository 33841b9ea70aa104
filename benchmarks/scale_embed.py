"""``amumo.scale.embed_dataset`` on a local Ray cluster against ``am.embed`` on the same files.

Usage::

    .venv/bin/python benchmarks/scale_embed.py                        # amumo-tiny, 2,048 JPEGs
    .venv/bin/python benchmarks/scale_embed.py --model ViT-B-32 --n 256 --shard-size 64

Prints the wall time of each side, pairs/s, the difference of the results, and
Ray's fixed cost (cluster start, actors importing torch and building the
model) separately from the per-shard cost, so the figures scale to other
sizes: ``time ≈ fixed + shards × per_shard + pairs / (actors × encoder pairs/s)``.
On a 2-core machine two actors compete with each other for the cores; the
point here is the overhead, not the speed-up.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import amumo as am
from amumo.data import ImageTextFolder

try:
    from embed import make_jpeg_folder
except ImportError:  # run from another folder
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from embed import make_jpeg_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="amumo-tiny")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import ray

    root = Path(args.data or tempfile.mkdtemp(prefix="amumo-scale-bench-"))
    make_jpeg_folder(root, args.n)
    enc = am.models.OpenCLIP(args.model, device="cpu", seed=0)
    t0 = time.perf_counter()
    ref = am.embed(enc, ImageTextFolder(root), batch_size=args.batch_size, cache=False,
                   progress=False)
    embed_s = time.perf_counter() - t0

    from amumo.scale import embed_dataset

    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=args.concurrency, include_dashboard=False,
             log_to_driver=False, object_store_memory=200 * 1024**2)
    init_s = time.perf_counter() - t0
    out = Path(tempfile.mkdtemp(prefix="amumo-scale-out-"))
    t0 = time.perf_counter()
    result = embed_dataset(enc, root, out, shard_size=args.shard_size,
                           concurrency=args.concurrency, batch_size=args.batch_size)
    job_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    embed_dataset(enc, root, out, shard_size=args.shard_size, concurrency=args.concurrency)
    rerun_s = time.perf_counter() - t0
    records = [json.loads(p.read_text()) for p in sorted((out / "_jobs").glob("shard-*.json"))]
    shard_s = [r["seconds"] for r in records]
    t0 = time.perf_counter()
    emb = result.open()
    open_s = time.perf_counter() - t0
    diff = max(float(np.abs(emb[m] - ref[m]).max()) for m in ("image", "text"))
    ray.shutdown()

    n_shards = result.n_shards
    busy = sum(shard_s) / args.concurrency
    print(f"{args.model}, {args.n} JPEG pairs, {n_shards} shards of {args.shard_size}, "
          f"{args.concurrency} actors (1 CPU each), batch {args.batch_size}")
    print(f"am.embed (one process)          {embed_s:8.2f} s  {args.n / embed_s:8.1f} pairs/s")
    print(f"ray.init (local cluster)        {init_s:8.2f} s")
    print(f"embed_dataset                   {job_s:8.2f} s  {args.n / job_s:8.1f} pairs/s")
    print(f"  shard work (sum / actors)     {busy:8.2f} s  (mean {np.mean(shard_s):.2f} s per "
          f"shard: load, encode, write, GapStats)")
    print(f"  fixed cost (job - shard work) {job_s - busy:8.2f} s  (actors start, import torch, "
          "build the model; Ray Data planning)")
    print(f"rerun (all shards finished)     {rerun_s:8.2f} s")
    print(f"Embeddings.open (consolidate)   {open_s:8.2f} s")
    print(f"max |embed_dataset - am.embed|  {diff:.1e}; gap distance "
          f"{result.metrics['gap_distance']:.6f} vs {am.gap_distance(ref):.6f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": args.model, "n": args.n, "shards": n_shards, "embed_s": embed_s,
            "init_s": init_s, "job_s": job_s, "shard_s": shard_s, "rerun_s": rerun_s,
            "open_s": open_s, "max_abs_diff": diff}, indent=2))


if __name__ == "__main__":
    main()
