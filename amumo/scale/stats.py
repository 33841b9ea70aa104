"""Exact gap metrics of a shard folder on a Ray cluster: one task per shard, merged sums.

Every O(N·D) metric (gap distance, paired / cone / centroid cosines, RMG, L2I, alignment)
comes from a few sums (:class:`amumo.GapStats`) that add up across shards. So a folder of
10^8 pairs (410 GB as float32) needs no machine that holds it: each Ray task opens one
shard (memory-mapped, zero-copy), sums it in blocks (memory: one block of ~16 MB) and
returns the sums (``GapStats.to_dict()``: ``M·D + M²`` numbers, a few KB); the driver
merges them **in shard order**, exactly as :meth:`amumo.GapStats.update_shards` does on
one machine, so both give the same numbers to the last bit (tested on a local cluster).

Examples
--------
>>> import ray  # doctest: +SKIP
>>> ray.init(address="auto")  # doctest: +SKIP
>>> stats, report = shard_stats("/mnt/shared/emb/laion-vitb32")  # doctest: +SKIP
>>> stats.metrics()["gap_distance"], report.pairs_per_second  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amumo.analysis.stats import GapStats

__all__ = ["shard_stats", "stats_of_shard", "ShardStatsReport"]


def stats_of_shard(folder: str, shard_id: int,
                   modalities: Sequence[str] | None = None) -> dict[str, Any]:
    """The sums of one shard (``GapStats.to_dict()``) and how long they took: what one Ray
    task returns (also callable locally)."""
    from amumo.embeddings.shards import read_shard

    start = time.perf_counter()
    shard = read_shard(folder, shard_id)
    stats = GapStats().update(shard, modalities)
    return {"id": int(shard_id), "n": len(shard), "seconds": time.perf_counter() - start,
            "state": stats.to_dict()}


@dataclass
class ShardStatsReport:
    """What :func:`shard_stats` measured: per-shard pairs and seconds, and the wall time."""

    shards: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def n_pairs(self) -> int:
        return int(sum(s["n"] for s in self.shards))

    @property
    def task_seconds(self) -> float:
        """Summed time inside the tasks (open + sums), over all shards."""
        return float(sum(s["seconds"] for s in self.shards))

    @property
    def pairs_per_second(self) -> float:
        """Pairs summed per second of one task (the per-shard throughput of one core)."""
        return self.n_pairs / self.task_seconds if self.task_seconds else float("nan")


def shard_stats(
    folder: str | Path,
    *,
    modalities: Sequence[str] | None = None,
    num_cpus: float = 1,
    progress: Callable[[float], object] | None = None,
) -> tuple[GapStats, ShardStatsReport]:
    """Exact :class:`amumo.GapStats` of every shard of ``folder``, one Ray task per shard.

    Parameters
    ----------
    folder : str or Path
        A shard folder (:mod:`amumo.embeddings.shards`) on a file system every node sees
        at the same path.
    modalities : sequence of str, optional
        Sum only these modalities (default all).
    num_cpus : float, default 1
        CPUs reserved per task (each task reads and sums one shard on one core).
    progress : callable, optional
        ``progress(fraction)`` as shards finish.

    Returns
    -------
    (GapStats, ShardStatsReport)
        The merged sums (the same numbers as ``GapStats().update_shards(folder)``) and the
        per-shard timings.

    Uses the running Ray cluster (``ray.init(address="auto")`` before, on a cluster), or
    starts a local one.
    """
    try:
        import ray
    except ImportError as err:  # pragma: no cover - the scale extra
        raise ImportError(
            "shard_stats needs Ray: pip install 'amumo[scale]' (or use "
            "am.GapStats().update_shards(folder) on one machine)."
        ) from err
    from amumo.embeddings.shards import _shard_ids

    folder = Path(folder).resolve()
    ids = _shard_ids(folder)
    if not ids:
        raise ValueError(f"{folder} holds no finished shards; write them with write_shard.")
    if not ray.is_initialized():
        ray.init()
    start = time.perf_counter()
    task = ray.remote(num_cpus=num_cpus, max_retries=3)(stats_of_shard)
    names = None if modalities is None else list(modalities)
    pending = [task.remote(str(folder), shard_id, names) for shard_id in ids]
    results: dict[int, dict[str, Any]] = {}
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for value in ray.get(done):
            results[value["id"]] = value
        if progress is not None:
            progress(len(results) / len(ids))
    stats = GapStats()
    for shard_id in ids:  # shard order: the same sums as update_shards, bit for bit
        stats.merge(GapStats.from_dict(results[shard_id]["state"]))
    report = ShardStatsReport(
        [{k: v for k, v in results[i].items() if k != "state"} for i in ids],
        time.perf_counter() - start,
    )
    return stats, report
