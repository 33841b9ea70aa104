"""amumo.scale.embed_dataset on a local Ray cluster.

One local cluster for the module (``ray.init(num_cpus=2)``, small object store).
Checks: same embeddings, meta, skipped pairs and exact metrics as ``am.embed``
for a folder, a Parquet dataset and webdataset tars; an actor killed mid-run
(``os._exit`` in an encoder that fails once) and Ray's retries still finish
the job; a driver killed mid-run (a subprocess, SIGKILL) and the rerun redoes
only the unfinished shards.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.data import ImageTextFolder, SyntheticShapes
from amumo.embeddings.pipeline import SkippedPairsWarning

pytest.importorskip("torch")
pytest.importorskip("open_clip")
ray = pytest.importorskip(
    "ray", reason="amumo.scale needs Ray Data: pip install 'amumo[scale]' (make install does)"
)
pytest.importorskip("ray.data", reason="amumo.scale needs Ray Data: pip install 'ray[data]'")
pytest.importorskip("pyarrow")

from amumo.scale import JOBS_FOLDER, embed_dataset  # noqa: E402

pytestmark = [pytest.mark.models, pytest.mark.slow]
N = 40


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    ray.init(address="local", num_cpus=2, object_store_memory=200 * 1024**2,
             include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny():
    return am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0)


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """The same N pairs as a folder, a 2-file Parquet dataset and 3 webdataset tars.

    Pair 7 is a corrupt image everywhere.
    """
    root = tmp_path_factory.mktemp("pairs")
    ds = SyntheticShapes(N, seed=4, image_size=32)
    blobs = [_png(ds.item("image", i)) for i in range(N)]
    blobs[7] = b"not an image"
    captions = ds.captions
    folder = root / "folder"
    folder.mkdir()
    for i, blob in enumerate(blobs):
        (folder / f"{i:03d}.png").write_bytes(blob)
    pd.DataFrame({"file": [f"{i:03d}.png" for i in range(N)], "caption": captions}).to_csv(
        folder / "captions.csv", index=False)
    parquet = root / "parquet"
    parquet.mkdir()
    for part, (a, b) in enumerate([(0, 25), (25, N)]):
        pd.DataFrame({"image": blobs[a:b], "caption": captions[a:b]}).to_parquet(
            parquet / f"part-{part}.parquet", row_group_size=10)
    tars = root / "tars"
    tars.mkdir()
    for t, (a, b) in enumerate([(0, 15), (15, 30), (30, N)]):
        with tarfile.open(tars / f"shard-{t}.tar", "w") as tar:
            for i in range(a, b):
                for ext, data in (("png", blobs[i]), ("txt", captions[i].encode())):
                    info = tarfile.TarInfo(f"{i:06d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return {"folder": folder, "parquet": parquet, "tars": tars}


@pytest.fixture(scope="module")
def reference(tiny, pairs):
    with pytest.warns(SkippedPairsWarning):
        return am.embed(tiny, ImageTextFolder(pairs["folder"]), cache=False, progress=False)


def _same(result, reference, *, items=True):
    emb = result.open()
    assert len(emb) == len(reference) == N - 1
    for m in ("image", "text"):
        assert float(np.abs(emb[m] - reference[m]).max()) <= 1e-5
    assert emb.meta["caption"].tolist() == reference.meta["caption"].tolist()
    if items:
        assert emb.meta["item"].tolist() == reference.meta["item"].tolist()
    exact = am.GapStats().update(reference).metrics()
    for key, value in exact.items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_same_results_as_embed_for_folder_parquet_and_tars(cluster, tiny, pairs, reference,
                                                           tmp_path):
    folder = embed_dataset(tiny, pairs["folder"], tmp_path / "f", shard_size=16, concurrency=2,
                           batch_size=8)
    _same(folder, reference)
    assert folder.n_shards == 3 and folder.computed == [0, 1, 2]
    assert [s["item"] for s in folder.skipped] == [7] and folder.n_input == N
    assert reference.meta["id"].tolist() == folder.open().meta["id"].tolist()

    parquet = embed_dataset(tiny, pairs["parquet"], tmp_path / "p", shard_size=16)
    _same(parquet, reference)
    assert parquet.n_shards == 3  # 25 rows -> 16 + 9, 15 rows -> 15: shards never cross files
    assert [s["item"] for s in parquet.skipped] == [7]

    tars = embed_dataset(tiny, sorted(pairs["tars"].glob("*.tar")), tmp_path / "t")
    _same(tars, reference, items=False)  # item = index within its tar for webdataset
    assert tars.n_shards == 3 and tars.skipped[0]["shard"] == 0
    assert tars.open().meta["id"].iloc[0] == "shard-0.tar/000000"

    # a rerun does nothing and gives the same answer
    again = embed_dataset(tiny, pairs["folder"], tmp_path / "f", shard_size=16, concurrency=2,
                          batch_size=8)
    assert again.computed == [] and again.metrics == folder.metrics
    # another model into the same folder is refused
    other = am.models.OpenCLIP("amumo-tiny", device="cpu", seed=1)
    with pytest.raises(ValueError, match="holds shards of another run"):
        embed_dataset(other, pairs["folder"], tmp_path / "f", shard_size=16)


class DiesOnce:
    """Wraps an encoder; the first encode call in any process kills that process (once)."""

    def __init__(self, inner, marker: str):
        self.inner, self.marker = inner, marker
        self.name, self.modalities = inner.name, inner.modalities
        self.fingerprint, self.device = inner.fingerprint, "cpu"

    def encode(self, modality, items, batch_size=64):
        if not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)  # a crashed worker: no exception, no cleanup
        return self.inner.encode(modality, items, batch_size=batch_size)


def test_a_worker_killed_mid_run_is_retried(cluster, tiny, pairs, reference, tmp_path):
    marker = tmp_path / "died"
    result = embed_dataset(DiesOnce(tiny, str(marker)), pairs["folder"], tmp_path / "out",
                           shard_size=16)
    assert marker.exists()  # it did die once
    assert int(marker.read_text()) != os.getpid()  # in a Ray worker, not here
    assert result.computed == [0, 1, 2]
    _same(result, reference)


class DiesOnCaption:
    """Wraps an encoder; encoding the caption ``poison`` kills the process, every time."""

    def __init__(self, inner, poison: str):
        self.inner, self.poison = inner, poison
        self.name, self.modalities = inner.name, inner.modalities
        self.fingerprint, self.device = inner.fingerprint, "cpu"

    def encode(self, modality, items, batch_size=64):
        if modality == "text" and self.poison in items:
            os._exit(1)  # e.g. a tokenizer segfault: no exception, the actor is gone
        return self.inner.encode(modality, items, batch_size=batch_size)


@pytest.mark.timeout(900)
def test_a_pair_that_always_kills_the_worker_is_skipped_not_retried_forever(
        cluster, tiny, pairs, reference, tmp_path):
    """Ray restarts the actor and retries the shard forever ("infinite retries remaining")
    when one caption kills the process every time; the pair is isolated and reported."""
    captions = ImageTextFolder(pairs["folder"]).captions
    result = embed_dataset(DiesOnCaption(tiny, captions[20]), pairs["folder"],
                           tmp_path / "out", shard_size=16)
    assert result.computed == [0, 1, 2] and result.n_input == N
    assert [s["item"] for s in result.skipped] == [7, 20]
    dead = result.skipped[1]
    assert dead["shard"] == 1 and "worker process died" in dead["error"], dead
    emb = result.open()
    assert len(emb) == result.n_pairs == N - 2
    expected = reference.subset(np.flatnonzero(reference.meta["item"].to_numpy() != 20))
    for m in ("image", "text"):
        assert float(np.abs(emb[m] - expected[m]).max()) <= 1e-5
    assert emb.meta["item"].tolist() == expected.meta["item"].tolist()


DRIVER = textwrap.dedent("""
    import sys, time
    import ray, amumo as am
    from amumo.scale import embed_dataset

    class Slow:
        def __init__(self, inner):
            self.inner, self.name, self.modalities = inner, inner.name, inner.modalities
            self.fingerprint, self.device = inner.fingerprint, "cpu"

        def encode(self, modality, items, batch_size=64):
            time.sleep(0.4)
            return self.inner.encode(modality, items, batch_size=batch_size)

    ray.init(address=sys.argv[1], log_to_driver=False)
    enc = Slow(am.models.OpenCLIP("amumo-tiny", device="cpu", seed=0))
    embed_dataset(enc, sys.argv[2], sys.argv[3], shard_size=4, batch_size=4)
    print("finished")
""")


def test_a_driver_killed_mid_run_resumes_only_unfinished_shards(cluster, tiny, pairs,
                                                                 reference, tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(am.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), cluster, str(pairs["folder"]),
                             str(out)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    jobs = out / JOBS_FOLDER
    deadline = time.monotonic() + 240
    try:
        while len(list(jobs.glob("shard-*.json"))) < 2:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the driver wrote no shard in time"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and nothing else (own session)
        proc.wait()
    time.sleep(3)  # Ray notices the dead driver and stops its actors
    finished = sorted(int(p.stem.split("-")[1]) for p in jobs.glob("shard-*.json"))
    assert 2 <= len(finished) < 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = embed_dataset(tiny, pairs["folder"], out, shard_size=4, batch_size=4)
    # nothing finished before is redone; everything else is (an actor of the dead
    # driver may still have finished a shard after the snapshot: not redone either)
    assert not set(result.computed) & set(finished)
    assert set(result.computed) <= set(range(10)) - set(finished)
    assert len(result.computed) >= 10 - len(finished) - 2
    assert sorted(int(p.stem.split("-")[1]) for p in jobs.glob("shard-*.json")) == list(range(10))
    _same(result, reference)
