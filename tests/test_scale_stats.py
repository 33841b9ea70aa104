"""GapStats of a shard folder: one Ray task per shard (local cluster) gives the same numbers
as one machine (issue 24); progress and cancellation of a streaming pass."""

from __future__ import annotations

import os

import numpy as np
import pytest

import amumo as am
from amumo.analysis._progress import Cancelled
from amumo.embeddings import _rows
from amumo.embeddings.shard_writer import ShardWriter


def _folder(tmp_path, shards=5, per=700, d=16, dtype="float16"):
    rng = np.random.default_rng(3)
    folder = tmp_path / "shards"
    for shard in range(shards):
        with ShardWriter(folder, shard, ("image", "text"), d, dtype=dtype) as out:
            for _ in range(2):  # two blocks per shard
                out.append({"image": rng.normal(size=(per // 2, d)) + 1,
                            "text": rng.normal(size=(per // 2, d)) - 1})
    return folder


def test_progress_and_stop(tmp_path, monkeypatch):
    from amumo.analysis import stats as stats_module

    monkeypatch.setattr(_rows, "ROW_BLOCK", 50)
    monkeypatch.setattr(stats_module, "RELEASE_ROWS", 50)  # progress is reported per release
    emb = am.Embeddings.open(_folder(tmp_path, shards=1))
    seen = []
    stats = am.GapStats(block=50).update(emb, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 5
    assert stats.metrics() == am.GapStats(block=50).update(emb).metrics()
    calls = []
    stopped = am.GapStats(block=50)
    with pytest.raises(Cancelled):
        stopped.update(emb, should_stop=lambda: len(calls) > 3 or calls.append(1))
    assert stopped.n == 0  # a stopped pass adds nothing


def test_update_shards_equals_the_whole_folder(tmp_path):
    folder = _folder(tmp_path)
    whole = am.GapStats().update(am.Embeddings.open(folder)).metrics()
    merged = am.GapStats().update_shards(folder).metrics()
    for key, value in whole.items():
        assert merged[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


@pytest.mark.slow
def test_ray_tasks_give_the_local_numbers(tmp_path):
    ray = pytest.importorskip("ray", reason="amumo.scale needs Ray: pip install 'amumo[scale]'")
    from amumo.scale.stats import shard_stats

    folder = _folder(tmp_path)
    local = am.GapStats().update_shards(folder)
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    ray.init(address="local", num_cpus=2, object_store_memory=100 * 1024**2,
             include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        seen = []
        remote, report = shard_stats(folder, progress=seen.append)
    finally:
        ray.shutdown()
    assert remote.to_dict() == local.to_dict()  # merged in shard order: bit for bit
    assert remote.metrics() == local.metrics()
    assert report.n_pairs == 5 * 700 and len(report.shards) == 5 and seen[-1] == 1.0
    assert report.pairs_per_second > 0
