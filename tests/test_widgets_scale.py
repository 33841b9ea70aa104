"""Widgets at scale (issue 11): what is sent stays within budget, the heatmap never copies
the rows, jobs supersede instead of queueing, and slow work shows a busy state.

Synthetic embeddings with a small dimension keep these quick; the browser side is
``tests/browser/test_scatter_scale.py``.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest

import amumo as am
from amumo.widgets import Explorer, Scatter
from amumo.widgets import explorer as explorer_module
from amumo.widgets._base import JobCancelled
from amumo.widgets._items import TEXTS_LIMIT, TEXTS_PER_REQUEST
from amumo.widgets._matrix import block_edges, display_rows, pooled, window


def synthetic(n: int, d: int = 16, seed: int = 0) -> am.Embeddings:
    rng = np.random.default_rng(seed)
    concept = rng.standard_normal((n, d), dtype=np.float32)
    arrays = {
        m: concept + 0.8 * rng.standard_normal((n, d), dtype=np.float32) + shift
        for m, shift in (("image", 1.0), ("text", -1.0))
    }
    meta = {"caption": [f"scene {i}" for i in range(n)], "topic": np.arange(n) % 17}
    return am.Embeddings.from_arrays(arrays, meta=meta)


# ---------------------------------------------------------------------------- bytes sent


def test_explorer_state_at_100k_pairs_within_budget():
    n = 100_000
    ex = Explorer(synthetic(n))
    ex.wait()
    size = ex.state_size()
    assert size["total"] <= 8_000_000  # the budget at 100k pairs
    per = size["per_trait"]
    assert per["xy"] == 2 * n * 2 * 4  # float32 x, y of every item, once
    assert per["colors"] == 2 * n  # one uint8 code per item
    assert per["overview"] <= 1024 * 1024  # block means, never the (2N)² matrix
    assert n > TEXTS_LIMIT and ex.texts == b""  # captions fetched on hover instead
    # Colour changes send only codes: the coordinates are not resent.
    sent: list[set] = []
    original = ex.send_state

    def spy(key=None):
        sent.append(set([key] if isinstance(key, str) else key or []))
        return original(key)

    ex.send_state = spy
    ex.color_by = "topic"
    assert any("colors" in keys for keys in sent)
    assert not any("xy" in keys for keys in sent)


def test_scatter_coordinates_are_float32_and_texts_capped():
    small = Scatter(synthetic(300))
    assert small._coords.dtype == np.float32
    assert small.texts.count(b"\x1e") == 299  # every caption below the limit
    big = Scatter(synthetic(TEXTS_LIMIT + 1, d=8))
    assert big.texts == b"" and big.text_field == "caption"
    assert len(big.xy) == 2 * (TEXTS_LIMIT + 1) * 2 * 4


def test_item_request_serves_the_caption_the_browser_did_not_get():
    w = Scatter(synthetic(TEXTS_LIMIT + 1, d=8))
    reply, buffers = w._request_item({"pair": 12345})
    assert reply["fields"]["caption"] == "scene 12345" and buffers == []


def test_texts_request_serves_a_few_captions_and_rejects_bad_requests():
    """Issue 21 item 2: above TEXTS_LIMIT the browser asks for the texts it shows."""
    w = Scatter(synthetic(TEXTS_LIMIT + 1, d=8))
    reply, buffers = w._request_texts({"pairs": [TEXTS_LIMIT, 7, 7]})
    assert reply == {"texts": [f"scene {TEXTS_LIMIT}", "scene 7", "scene 7"]} and buffers == []
    assert w._request_texts({"pairs": []})[0] == {"texts": []}
    with pytest.raises(ValueError, match="at most 256"):
        w._request_texts({"pairs": list(range(TEXTS_PER_REQUEST + 1))})
    with pytest.raises(ValueError, match=r"outside 0\.\.50000"):
        w._request_texts({"pairs": [TEXTS_LIMIT + 1]})
    for bad in ("3", [1.5], [True], None):
        with pytest.raises(ValueError, match="list of pair indices"):
            w._request_texts({"pairs": bad})
    # Through the message dispatcher, as the browser sends it: a reply with the texts, or
    # the error (the comm survives).
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._dispatch(w, {"type": "texts", "pairs": [3], "id": "a"}, [])
    w._dispatch(w, {"type": "texts", "pairs": [-1], "id": "b"}, [])
    assert sent[0] == {"type": "reply", "id": "a", "texts": ["scene 3"]}
    assert "outside" in sent[1]["error"]


def test_texts_request_without_a_text_column_gives_empty_texts():
    rng = np.random.default_rng(0)
    emb = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(5, 4)), "text": rng.normal(size=(5, 4))},
        meta={"score": np.arange(5.0)},
    )
    w = Scatter(emb)
    assert w.text_field == "" and w._request_texts({"pairs": [0, 4]})[0] == {"texts": ["", ""]}


# ---------------------------------------------------------------------------- heatmap rows


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


# ---------------------------------------------------------------------------- jobs


def test_jobs_supersede_instead_of_queueing_and_show_busy():
    w = Scatter(am.datasets.clip_coco500())
    started: list[int] = []
    results: list[int] = []
    release = threading.Event()

    def job(k):
        def compute(cancelled):
            started.append(k)
            for _ in range(200):
                if cancelled():
                    raise JobCancelled
                if k > 0 or release.is_set():
                    return k
                time.sleep(0.005)
            return k

        return compute

    for k in range(6):  # six quick clicks while the first one runs
        w._run_job("work", job(k), results.append, status=("busy", {"scatter": "busy"}),
                   cancellable=True)
        assert w.busy == {"scatter": "busy"}
    release.set()
    w.wait()
    assert started == [0, 5]  # the running one (stopped early) and the newest, not six
    assert results == [5]
    assert w.busy == {}


def test_failed_newest_job_reports_and_clears_busy():
    w = Scatter(am.datasets.clip_coco500())
    errors: list[str] = []

    def boom():
        raise ValueError("no")

    w._run_job("work", boom, lambda r: None, status=("busy", {"scatter": "busy"}),
               error=lambda e: errors.append(str(e)))
    w.wait()
    assert errors == ["no"] and w.busy == {}


def test_explorer_close_gap_runs_in_the_background_and_supersedes(monkeypatch):
    monkeypatch.setattr(explorer_module, "VIEWS_SYNC_LIMIT", 100)
    coco = am.datasets.clip_coco500()
    ex = Explorer(coco)
    calls: list[bool] = []
    slow = threading.Event()
    original = ex._mitigated

    def mitigated(base, row_map=None):
        calls.append(ex.closed)
        if not slow.is_set():
            slow.wait(1.0)
        return original(base, row_map)

    ex._mitigated = mitigated
    ex.closed = True
    assert ex.busy.get("heatmap") and ex.busy.get("scatter")  # shown at once
    assert ex.metrics["pending"]  # the old numbers stay, greyed
    ex.closed = False
    ex.closed = True  # three clicks while the first runs
    slow.set()
    ex.wait()
    assert len(calls) <= 2
    assert ex.busy == {}
    gap = {r["key"]: r for r in ex.metrics["rows"]}["gap_distance"]
    assert gap["after"] < 1e-3 and not ex.metrics["pending"]


def test_metrics_panel_estimates_retrieval_above_the_exact_limit():
    from amumo.analysis.retrieval import EXACT_LIMIT

    ex = Explorer(synthetic(EXACT_LIMIT + 500, d=8))
    ex.wait()
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    recall = rows["recall@1:image->text"]
    assert recall["estimate"] and "seeded queries" in recall["help"]
    lo, hi = recall["ci_before"]
    assert lo <= recall["before"] <= hi
    assert not rows["gap_distance"].get("estimate")  # exact, from sums
    exact = am.gap_distance(ex.embeddings)
    assert rows["gap_distance"]["before"] == pytest.approx(exact, abs=1e-9)


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


def test_close_gap_click_stops_the_failures_search_of_the_old_pictures(monkeypatch):
    """At 1M pairs the failures / calibration job of the pictures being replaced ran on
    beside close_gap (its random gathers from the memory map held ~0.6 GB: peak RSS 4.6 ->
    5.2 GB); a click now stops it, and the closed pictures get their own tables."""
    import amumo.widgets.science as science_module

    monkeypatch.setattr(explorer_module, "VIEWS_SYNC_LIMIT", 100)
    monkeypatch.setattr(science_module, "SYNC_LIMIT", 100, raising=False)
    import amumo.widgets._base as base_module

    monkeypatch.setattr(base_module, "SYNC_LIMIT", 100)
    real = science_module.failed_retrievals
    started, stopped = threading.Event(), threading.Event()

    def slow(emb, *args, should_stop=None, **kwargs):
        if not started.is_set():  # the first search (open gap): wait to be stopped
            started.set()
            for _ in range(500):
                if should_stop is not None and should_stop():
                    stopped.set()
                    raise JobCancelled
                time.sleep(0.01)
        return real(emb, *args, should_stop=should_stop, **kwargs)

    monkeypatch.setattr(science_module, "failed_retrievals", slow)
    ex = Explorer(am.datasets.clip_coco500())
    assert started.wait(10)
    original, seen = ex._mitigated, []

    def mitigated(base, row_map=None):  # the shift waits for the old search to stop (<= 3 s)
        seen.append(stopped.wait(3))
        return original(base, row_map)

    ex._mitigated = mitigated
    ex.closed = True
    ex.wait()
    assert seen == [True]  # stopped by the click, while the shift ran
    assert ex.failures["summary"]["n_queries"] == 500
    assert ex.calibration["means"]["unmatched"] > 0.3  # the closed pictures' histograms
