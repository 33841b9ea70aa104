"""Per-shard throughput of the exact gap metrics (issue 24): GapStats of a shard folder on
one machine and on a local Ray cluster, the figures behind docs/scale.md's plan for 10^8
pairs.

Writes ``--pairs`` synthetic 512-d pairs (``benchmarks/scale.py``'s rows, float16 by
default) into ``--shards`` shards with :class:`amumo.embeddings.shard_writer.ShardWriter`
(once; reused), then measures, each after dropping the page cache when run as root
(``--cold``):

- ``GapStats().update_shards(folder)`` in this process (one core);
- ``amumo.scale.stats.shard_stats(folder)`` on ``ray.init(num_cpus=--cpus)``: wall time,
  and pairs per second of one task (open + sums, the per-shard throughput of one core);
- that both give the same numbers (bit for bit).

Usage::

    flock /tmp/amumo-big.lock .venv/bin/python benchmarks/scale_stats.py \\
        --pairs 1000000 --shards 8 --data-dir /tmp/amumo-stats --cold
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--data-dir", default="/tmp/amumo-stats")
    parser.add_argument("--cold", action="store_true", help="drop the page cache first (root)")
    args = parser.parse_args()

    from scale import _drop_page_cache, generate_shards

    import amumo as am

    folder = Path(args.data_dir) / f"stats_{args.pairs}_{args.shards}_{args.dtype}"
    if not folder.exists():
        start = time.perf_counter()
        folder.parent.mkdir(parents=True, exist_ok=True)
        generate_shards(folder, args.pairs, dtype=args.dtype, shards=args.shards)
        print(f"# generated {folder} in {time.perf_counter() - start:.1f} s", flush=True)
    size = sum(p.stat().st_size for p in folder.rglob("emb*.npy")) / 1e9
    print(f"# {args.pairs:,} pairs, {args.shards} shards, {size:.2f} GB of rows; "
          f"load {_load()}", flush=True)

    # Embeddings.open of a multi-shard folder joins the shards once into one file per
    # modality (a sequential copy of every row): its cost, then a second open
    import shutil

    for copy in (folder / "consolidated",):
        shutil.rmtree(copy, ignore_errors=True)
    if args.cold:
        _drop_page_cache()
    start = time.perf_counter()
    am.Embeddings.open(folder)
    consolidate_s = time.perf_counter() - start
    start = time.perf_counter()
    am.Embeddings.open(folder)
    reopen_s = time.perf_counter() - start
    print(f"Embeddings.open, first (consolidation, {size:.2f} GB copied): {consolidate_s:.1f} s "
          f"= {size / consolidate_s:.2f} GB/s; again: {reopen_s:.2f} s (load {_load()})",
          flush=True)
    shutil.rmtree(folder / "consolidated", ignore_errors=True)

    if args.cold:
        _drop_page_cache()
    start = time.perf_counter()
    local = am.GapStats().update_shards(folder)
    local_s = time.perf_counter() - start
    print(f"local update_shards: {local_s:.1f} s = {args.pairs / local_s:,.0f} pairs/s "
          f"(load {_load()})", flush=True)

    import ray

    from amumo.scale.stats import shard_stats

    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    init_s = time.perf_counter() - start
    if args.cold:
        _drop_page_cache()
    try:
        remote, report = shard_stats(folder)
    finally:
        ray.shutdown()
    same = remote.to_dict() == local.to_dict()
    result = {
        "pairs": args.pairs, "shards": args.shards, "dtype": args.dtype, "gb": round(size, 2),
        "cpus": args.cpus, "consolidate_s": round(consolidate_s, 1),
        "reopen_s": round(reopen_s, 2), "local_s": round(local_s, 1),
        "ray_init_s": round(init_s, 1),
        "ray_wall_s": round(report.wall_seconds, 1),
        "task_pairs_per_s": round(report.pairs_per_second),
        "per_shard_s": [round(s["seconds"], 2) for s in report.shards],
        "same_numbers": same, "gap_distance": remote.metrics()["gap_distance"],
        "load": _load(),
    }
    print(json.dumps(result), flush=True)
    if not same:
        raise SystemExit("the Ray path and the local path differ")
    print(f"per task: {report.pairs_per_second:,.0f} pairs/s; "
          f"{np.mean([s['seconds'] for s in report.shards]):.1f} s per "
          f"{args.pairs // args.shards:,}-pair shard", flush=True)


if __name__ == "__main__":
    main()
