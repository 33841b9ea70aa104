"""Synthetic paired clouds with a modality gap, shared by the widget tests at scale."""

from __future__ import annotations

import numpy as np

import amumo as am


def synthetic(n: int, d: int = 16, seed: int = 0) -> am.Embeddings:
    """``n`` image/text pairs of dimension ``d``: a shared concept + noise, the two
    modalities shifted apart (a gap), with a caption and a topic column."""
    rng = np.random.default_rng(seed)
    concept = rng.standard_normal((n, d), dtype=np.float32)
    arrays = {
        m: concept + 0.8 * rng.standard_normal((n, d), dtype=np.float32) + shift
        for m, shift in (("image", 1.0), ("text", -1.0))
    }
    meta = {"caption": [f"scene {i}" for i in range(n)], "topic": np.arange(n) % 17}
    return am.Embeddings.from_arrays(arrays, meta=meta)


def blobs(n_per: int = 400, d: int = 16, seed: int = 0) -> tuple[am.Embeddings, np.ndarray]:
    """Three well-separated clusters of ``n_per`` pairs each (shuffled), and the true
    cluster of each pair."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, d))
    centres[0, 0], centres[1, 0], centres[1, 1], centres[2, 1] = 1.0, 0.7, 0.7, 1.0
    truth = np.repeat([0, 1, 2], n_per)
    perm = rng.permutation(len(truth))
    truth = truth[perm]
    x = centres[truth] + 0.08 * rng.normal(size=(len(truth), d))
    y = centres[truth] + 0.08 * rng.normal(size=(len(truth), d))
    return am.Embeddings.from_arrays({"image": x, "text": y}), truth
