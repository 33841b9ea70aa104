"""Heatmap rows (amumo.widgets._matrix): display rows gathered lazily, the overview as
block means computed in chunks, its memory bounded by the chunk, not the rows."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from _pairs import synthetic

import amumo as am
from amumo.widgets._matrix import block_edges, display_rows, pooled, window


def test_display_rows_gather_lazily_and_match_the_dense_rows():
    emb = am.datasets.clip_coco500()
    order = np.random.default_rng(1).permutation(500)
    rows = display_rows(emb, order)
    dense = np.concatenate([emb[m][order] for m in emb.modalities])
    assert rows.shape == dense.shape and len(rows) == 1000
    assert np.array_equal(rows[7], dense[7]) and np.array_equal(rows[-1], dense[-1])
    assert np.array_equal(rows[490:510], dense[490:510])  # across the modality boundary
    assert np.array_equal(rows[np.array([999, 0, 500])], dense[[999, 0, 500]])
    assert np.array_equal(np.asarray(rows), dense)
    with pytest.raises(IndexError):
        rows[np.array([1000])]
    block = window(rows, 10, 300, 450, 700)
    expected = np.clip(dense[10:300] @ dense[450:700].T, -1, 1)
    assert np.allclose(block, expected, atol=1e-6)


@pytest.mark.parametrize("size", [7, 64, 999, 1000, 4096])
def test_pooled_in_chunks_equals_block_means(size):
    emb = am.datasets.clip_coco500()
    rows = display_rows(emb)
    dense = np.asarray(rows).astype(np.float64)
    n = len(dense)
    if n <= size:
        expected = np.clip(dense @ dense.T, -1, 1)
        np.fill_diagonal(expected, 1.0)
    else:
        edges = block_edges(n, size)
        means = np.add.reduceat(dense, edges[:-1]) / np.diff(edges)[:, None]
        expected = means @ means.T
    got = pooled(rows, size, chunk=97)  # chunks that cut blocks anywhere
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-6


def test_overview_memory_is_bounded_by_the_chunk_not_the_rows():
    emb = synthetic(200_000, d=64)  # 2 x 51 MB of float32 rows
    rows = display_rows(emb)
    tracemalloc.start()
    pooled(rows, 1024)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # A float64 copy of the rows would be 205 MB, a float32 concatenation 102 MB.
    assert peak < 30_000_000
