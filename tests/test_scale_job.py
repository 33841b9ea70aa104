"""amumo.scale.job without a Ray cluster: shards embedded by calling ``embed_shard`` directly
(as a Ray actor would), then ``embed_dataset`` finds them finished."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.models import CallableEncoder

pytest.importorskip("ray", reason="amumo.scale needs Ray Data: pip install 'amumo[scale]'")
pytest.importorskip("ray.data")

from amumo.scale import JOBS_FOLDER, embed_dataset  # noqa: E402
from amumo.scale.job import embed_shard  # noqa: E402
from amumo.scale.sources import as_source  # noqa: E402

N = 12


def _encoder(version: str, dim: int = 6, *, poison: str | None = None,
             crash: bool = True) -> CallableEncoder:
    def image(items):
        return np.stack([np.asarray(im, dtype=np.float64).reshape(-1, 3).mean(0).tolist()
                         + [1.0] * (dim - 3) for im in items]) + (version == "b")

    def text(items):
        for item in items:
            if poison is not None and item == poison:
                if crash:
                    os._exit(3)  # the whole process dies: no exception, no cleanup
                raise RuntimeError("poison")
        return np.array([[len(t), t.count("e"), 1.0] + [0.5] * (dim - 3) for t in items])

    return CallableEncoder({"image": image, "text": text}, name=f"toy-{version}",
                           fingerprint=f"toy-{version}-{dim}")


@pytest.fixture
def folder(tmp_path):
    from PIL import Image

    root = tmp_path / "pairs"
    root.mkdir()
    for i in range(N):
        Image.new("RGB", (4, 4), (20 * i, 5, 9)).save(root / f"{i:02d}.png")
    captions = [f"caption number {i} " + "e" * i for i in range(N)]
    pd.DataFrame({"file": [f"{i:02d}.png" for i in range(N)], "caption": captions}).to_csv(
        root / "captions.csv", index=False)
    return root


def _embed_all_without_ray(encoder, source_path, out, shard_size):
    source = as_source(source_path)
    for spec in source.plan(shard_size):
        embed_shard(encoder, source, spec, out)


def test_a_deleted_run_record_does_not_let_another_run_mix_in(folder, tmp_path):
    out = tmp_path / "out"
    _embed_all_without_ray(_encoder("a"), folder, out, shard_size=5)
    first = embed_dataset(_encoder("a"), folder, out, shard_size=5)  # all finished: no Ray
    assert first.computed == [] and first.n_pairs == N
    (out / JOBS_FOLDER / "run.json").unlink()
    with pytest.raises(ValueError, match=r"another run \(different \['encoder_fingerprint'\], "
                                         r"read from its shards.*run\.json is missing"):
        embed_dataset(_encoder("b"), folder, out, shard_size=5)
    with pytest.raises(ValueError, match=r"different \['shard_size'\]"):
        embed_dataset(_encoder("a"), folder, out, shard_size=4)
    assert not (out / JOBS_FOLDER / "run.json").exists()  # nothing was written by the refusals
    # without the manifest too, the shards and job records still tell
    (out / "manifest.json").unlink()
    with pytest.raises(ValueError, match=r"different \['encoder_fingerprint'\]"):
        embed_dataset(_encoder("b"), folder, out, shard_size=5)
    with pytest.raises(ValueError, match=r"different \['shard_size'\]"):
        embed_dataset(_encoder("a"), folder, out, shard_size=6)
    again = embed_dataset(_encoder("a"), folder, out, shard_size=5)  # the same run resumes
    assert again.computed == [] and again.metrics == first.metrics
    assert json.loads((out / JOBS_FOLDER / "run.json").read_text())["shard_size"] == 5
    emb = am.Embeddings.open(out)
    assert len(emb) == N


POISONED = """
import os, sys
import numpy as np
from amumo.models import CallableEncoder
from amumo.scale.job import embed_shard
from amumo.scale.sources import as_source

def image(items):
    return np.stack([np.asarray(im, dtype=np.float64).reshape(-1, 3).mean(0).tolist()
                     + [1.0] * 3 for im in items])

def text(items):
    if POISON & set(items):
        os._exit(3)  # the process dies on these captions, every time
    return np.array([[len(t), t.count("e"), 1.0] + [0.5] * 3 for t in items])

POISON = set(sys.argv[3].split("|"))
enc = CallableEncoder({"image": image, "text": text}, name="toy", fingerprint="toy-1")
source = as_source(sys.argv[1])
spec = source.plan(int(sys.argv[4]) if len(sys.argv) > 4 else 12)[0]
print(embed_shard(enc, source, spec, sys.argv[2], batch_size=4))
"""


def _until_done(tmp_path, folder, out, poison, shard_size=12, limit=60):
    """Run embed_shard in fresh processes (as Ray retries a task on a restarted actor)
    until it returns; the number of processes that died."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "poisoned.py"
    script.write_text(POISONED)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(am.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    for deaths in range(limit):
        proc = subprocess.run([sys.executable, str(script), str(folder), str(out), poison,
                               str(shard_size)], capture_output=True, text=True, env=env,
                              timeout=120)
        if proc.returncode == 0:
            return deaths
        assert proc.returncode == 3, proc.stderr[-3000:]
    raise AssertionError(f"the shard still kills its worker after {limit} retries "
                         "(Ray would retry it forever)")


@pytest.mark.parametrize(("poisoned", "most_deaths"), [([5], 7), ([0, 11], 10)])
def test_a_pair_that_kills_the_worker_is_isolated_and_reported(folder, tmp_path, poisoned,
                                                                most_deaths):
    from amumo.scale.job import death_budget

    captions = pd.read_csv(folder / "captions.csv")["caption"].tolist()
    out = tmp_path / "out"
    deaths = _until_done(tmp_path, folder, out, "|".join(captions[i] for i in poisoned))
    # the whole shard twice, then one death per halved range that holds a poison pair
    assert 3 <= deaths <= most_deaths <= death_budget(N)
    record = json.loads((out / JOBS_FOLDER / "shard-000000.json").read_text())
    dead = [s for s in record["skipped"] if "died" in s["error"]]
    assert [s["item"] for s in dead] == poisoned
    assert all(s["shard"] == 0 and "left out" in s["error"] for s in dead)
    assert record["n_pairs"] == N - len(poisoned) and record["n_input"] == N
    # the other pairs are exactly those of an encoder that never dies, in order
    emb = am.Embeddings.open(out)
    reference = am.embed(_encoder("a"), am.data.ImageTextFolder(folder), cache=False,
                         progress=False, batch_size=4)
    keep = [i for i in range(N) if i not in poisoned]
    assert emb.meta["item"].tolist() == keep
    assert emb.meta["caption"].tolist() == [captions[i] for i in keep]
    for m in ("image", "text"):
        np.testing.assert_allclose(emb[m], reference[m][keep], atol=1e-6)
        np.testing.assert_allclose(emb.norms[m], reference.norms[m][keep], rtol=1e-6)
    # the attempts journal and the saved parts are gone once the shard is committed
    assert not list((out / JOBS_FOLDER / "attempts").glob("*"))


def test_a_shard_that_always_kills_the_worker_is_given_up_within_the_budget(folder,
                                                                              tmp_path):
    """An encoder that dies on every caption: the shard is given up after death_budget
    deaths, reported as skipped with the reason, and the run can finish."""
    from amumo.scale.job import death_budget

    captions = pd.read_csv(folder / "captions.csv")["caption"].tolist()
    out = tmp_path / "out"
    deaths = _until_done(tmp_path, folder, out, "|".join(captions))
    assert deaths == death_budget(N)
    record = json.loads((out / JOBS_FOLDER / "shard-000000.json").read_text())
    assert record["n_pairs"] == 0 and len(record["skipped"]) == N
    assert any("gave up on the rest" in s["error"] for s in record["skipped"])
