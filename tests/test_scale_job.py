"""amumo.scale.job without a Ray cluster: shards embedded by calling ``embed_shard`` directly
(as a Ray actor would), then ``embed_dataset`` finds them finished (issue 20)."""

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
