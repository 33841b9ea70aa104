"""The Scatter's kernel side (amumo.widgets.scatter): float32 coordinates, captions capped,
a seeded sample of pairs above ``max_points``, UMAP's busy sign and its cancel."""

from __future__ import annotations

import time

import numpy as np
import pytest
from _pairs import synthetic

import amumo as am
from amumo.widgets import Scatter
from amumo.widgets._items import TEXTS_LIMIT


# ---------------------------------------------------------------- at scale
def test_scatter_coordinates_are_float32_and_texts_capped():
    small = Scatter(synthetic(300))
    assert small._coords.dtype == np.float32
    assert small.texts.count(b"\x1e") == 299  # every caption below the limit
    big = Scatter(synthetic(TEXTS_LIMIT + 1, d=8))
    assert big.texts == b"" and big.text_field == "caption"
    assert len(big.xy) == 2 * (TEXTS_LIMIT + 1) * 2 * 4


def test_scatter_sends_a_seeded_sample_of_pairs_above_max_points():
    emb = am.datasets.clip_coco500()
    w = Scatter(emb, max_points=400, color_by="pair")
    pairs = np.frombuffer(w.scatter_pairs, dtype="<i4")
    assert len(pairs) == 200 and np.all(np.diff(pairs) > 0)  # sorted, distinct
    assert len(w.xy) == 400 * 8 and len(w.colors) == 400  # both modalities of each pair
    xy = np.frombuffer(w.xy, dtype="<f4").reshape(-1, 2)
    full = w._coords[:, [0, 1]]
    assert np.array_equal(xy[:200], full[pairs]) and np.array_equal(xy[200:], full[500 + pairs])
    again = Scatter(emb, max_points=400, color_by="pair")
    assert again.scatter_pairs == w.scatter_pairs  # seeded: the same picture
    w.max_points = 4_000_000
    assert w.scatter_pairs == b"" and len(w.xy) == 1000 * 8
    with pytest.raises(Exception, match="max_points"):
        w.max_points = 10


def test_umap_busy_sign_shows_epochs_and_can_be_cancelled(monkeypatch):
    """Issue 21 item 9: while UMAP runs the scatter's busy sign says which epoch it is in,
    and cancelling (the Python method, or the browser's ``cancel_projection`` request)
    stops the fit between epochs and goes back to the PCA picture shown meanwhile."""
    import amumo.analysis.projection as projection

    real = projection._fit_umap
    seen: list[str] = []
    monkeypatch.setattr(projection, "_fit_umap",  # many epochs: still running when cancelled
                        lambda *a, **k: real(*a, **{**k, "n_epochs": 5000}))
    w = Scatter(synthetic(300))
    pca = w.xy
    w.observe(lambda change: seen.append(change["new"]), "projection_status")
    w.projection = "umap"
    deadline = time.monotonic() + 120
    while "epoch" not in w.projection_status and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "computing UMAP…" in w.projection_status and "of 5000" in w.projection_status
    started = time.monotonic()
    w._dispatch(w, {"type": "cancel_projection", "id": 1}, [])
    w.wait(timeout=30)
    assert time.monotonic() - started < 10  # stopped between epochs, not after 5,000
    assert w.projection == "pca" and w.projection_status == "" and w.xy == pca
    epochs = [int(text.split("epoch ")[1].split(" ")[0]) for text in seen if "epoch" in text]
    assert epochs and epochs == sorted(epochs) and epochs[-1] < 5000
    assert w.cancel_projection() is False  # nothing left to cancel
