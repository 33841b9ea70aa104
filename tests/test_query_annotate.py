"""Queries and labels, kernel side (amumo.analysis.search, row_map, amumo.widgets.query,
annotate): typed queries (exact top-k, moved by the view's gap map, placed in the
projection), labels as a meta column (colour, filter, selection, save / load, save_html,
undo) and cluster portraits (medoids)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.analysis.projection import place_rows, project
from amumo.analysis.row_map import RowMap
from amumo.analysis.search import check_query, search, top_k
from amumo.analysis.similarity import cluster_medoids
from amumo.widgets._offline import static_export

STATE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">\n(.*?)\n</script>', re.S
)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _brute(query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: every float64 product, best first, ties by index."""
    q = np.asarray(query, dtype=np.float64)
    q = q / np.linalg.norm(q)
    scores = np.asarray(rows, dtype=np.float64) @ q
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return order, scores[order]


@pytest.fixture(scope="module")
def shapes():
    from amumo.data import SyntheticShapes

    data = SyntheticShapes(120, seed=0)
    tiny = am.models.tiny_shapes()
    return data, tiny, am.embed(tiny, data, progress=False, cache=False)


@pytest.fixture
def explorer(shapes):
    data, tiny, emb = shapes
    return am.Explorer(emb, dataset=data, encoder=tiny)


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize("n", [7, 5_000, 70_000])
def test_top_k_is_the_brute_force_top_k(n):
    rng = np.random.default_rng(n)
    rows = _unit(rng.normal(size=(n, 64))).astype(np.float32)
    rows[n // 2] = rows[1]  # an exact tie: the lower index first
    query = rows[1] + 0.01 * rng.normal(size=64)
    for k in (1, 5, 40):
        got, scores = top_k(query, rows, k)
        want, want_scores = _brute(query, rows, k)
        assert got.tolist() == want.tolist()
        np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-12)


def test_top_k_near_ties_are_decided_in_float64():
    # Many rows whose float32 products tie with the k-th best: float64 decides, as a
    # brute-force float64 product does.
    rng = np.random.default_rng(3)
    base = _unit(rng.normal(size=(1, 32)))[0]
    noise = 1e-7 * rng.normal(size=(20_000, 32))
    rows = _unit(base + noise).astype(np.float32)
    got, _ = top_k(base, rows, 25)
    want, _ = _brute(base, rows, 25)
    assert got.tolist() == want.tolist()


def test_top_k_on_memory_mapped_and_float16_rows(tmp_path):
    rng = np.random.default_rng(1)
    rows = _unit(rng.normal(size=(50_000, 48))).astype(np.float32)
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    mapped = np.load(path, mmap_mode="r")
    query = rng.normal(size=48)
    assert top_k(query, mapped, 10)[0].tolist() == _brute(query, rows, 10)[0].tolist()
    half = rows.astype(np.float16)
    assert top_k(query, half, 10)[0].tolist() == _brute(query, half, 10)[0].tolist()


def test_search_every_modality_and_bad_queries(shapes):
    _, _, emb = shapes
    hits = search(emb, emb["image"][4], k=3)
    assert sorted(hits) == ["image", "text"]
    assert hits["image"][0][0] == 4 and abs(hits["image"][1][0] - 1.0) < 1e-6
    with pytest.raises(ValueError, match="dimension"):
        search(emb, np.ones(5), k=3)
    with pytest.raises(ValueError, match="all zeros"):
        check_query(np.zeros(emb.dim), emb.dim)
    with pytest.raises(ValueError, match="NaN"):
        check_query(np.full(emb.dim, np.nan), emb.dim)
    with pytest.raises(ValueError, match="k=0"):
        search(emb, emb["image"][0], k=0)


# --------------------------------------------------------------------------- row maps


@pytest.mark.parametrize("how", ["close", "shift", "center", "standardize", "shift3"])
def test_row_map_moves_a_row_like_the_stored_rows(how):
    emb = am.datasets.clip_coco500()
    if how == "shift3":
        rng = np.random.default_rng(0)
        emb = am.Embeddings.from_arrays({
            "image": rng.normal(size=(80, 16)) + 2, "text": rng.normal(size=(80, 16)) - 1,
            "audio": rng.normal(size=(80, 16)),
        })
    moves = RowMap()
    if how == "close":
        out = am.close_gap(emb, row_map=moves)
    elif how == "shift":
        out = am.shift(emb, 0.6, row_map=moves)
    elif how == "shift3":
        out = am.mitigate(emb, "shift", 0.7, report=False, row_map=moves)
    else:
        out = am.mitigate(emb, how, 0.8, report=False, row_map=moves)
    assert len(moves) >= 1
    for modality in emb.modalities:
        rows = np.asarray(emb[modality][:40], dtype=np.float64)
        np.testing.assert_allclose(moves.apply(rows, modality), out[modality][:40], atol=2e-6)
    assert np.allclose(RowMap().apply([3.0, 4.0], "text"), [0.6, 0.8])  # identity


# --------------------------------------------------------------------------- placement


@pytest.mark.parametrize("method", ["pca", "gap", "tsne"])
def test_place_rows_lands_a_stored_row_on_its_own_point(method):
    emb = am.datasets.clip_coco500()
    n = len(emb)
    if method == "tsne":
        xy = project(emb, "tsne", max_fit=300)
        placed = place_rows(emb["text"][9], emb, "tsne", coords=xy, max_fit=300)
        fitted = np.sort(np.random.default_rng(0).choice(2 * n, size=300, replace=False))
        # a fitted row lands (almost) on its own point: its nearest fitted row is itself
        row = 10 if 10 in fitted else int(fitted[0])
        source = emb["image"][row] if row < n else emb["text"][row - n]
        own = place_rows(source, emb, "tsne", coords=xy, max_fit=300)
        assert np.linalg.norm(own[0] - xy[row]) < 0.25 * np.ptp(xy[:, 0])
        assert placed.shape == (1, 2)
        return
    xy = project(emb, method)
    placed = place_rows(emb["text"][9], emb, method)
    np.testing.assert_allclose(placed[0], xy[n + 9], atol=1e-5)


# --------------------------------------------------------------------------- ex.query


def test_query_lists_the_exact_top_k_of_every_modality(explorer, shapes):
    _, tiny, _ = shapes
    frame = explorer.query("a small red circle in the center", k=7)
    assert list(frame.columns) == ["modality", "rank", "pair", "cosine", "text"]
    query = tiny.encode("text", ["a small red circle in the center"])[0]
    for modality in ("image", "text"):
        part = frame[frame.modality == modality]
        want, scores = _brute(query, explorer.embeddings[modality], 7)
        assert part.pair.tolist() == want.tolist()
        assert part["rank"].tolist() == list(range(1, 8))
        np.testing.assert_allclose(part.cosine, scores, atol=1e-6)
    result = explorer.query_result
    assert result["label"] == "“a small red circle in the center”"
    assert result["modality"] == "text" and result["point"] is not None
    assert set(result["regions"]) == {"image"}  # the other modality: where its hits lie
    assert frame.attrs["query"]["moved"].startswith("not moved")


def test_query_after_close_gap_is_moved_by_the_same_map(explorer, shapes):
    _, tiny, _ = shapes
    text = "a large red circle"
    before = explorer.query(text, k=10)
    explorer.closed = True
    after = pd.DataFrame([
        {"modality": m, "pair": r["pair"], "cosine": r["cosine"]}
        for m, rows in explorer.query_result["results"].items() for r in rows
    ])
    again = explorer.query(text, k=10)  # asked of the closed view: the same lists
    assert again.pair.tolist() == after.pair.tolist()
    # The reference: the encoded text moved by close_gap's steps, against the closed rows.
    moves = RowMap()
    closed = am.close_gap(explorer._base, row_map=moves)
    moved = moves.apply(tiny.encode("text", [text])[0], "text")
    for modality in ("image", "text"):
        want, scores = _brute(moved, closed[modality], 10)
        part = again[again.modality == modality]
        assert part.pair.tolist() == want.tolist()
        np.testing.assert_allclose(part.cosine, scores, atol=1e-6)
    # Closing the gap changed which images it finds (the teaching point).
    assert before[before.modality == "image"].pair.tolist() != \
        again[again.modality == "image"].pair.tolist()
    assert "closing the gap" in explorer.query_result["note"]
    # λ and a remedy move it too, every time the view changes.
    explorer.closed = False
    explorer.mitigation = "center"
    assert "center" in explorer.query_result["note"]


def test_more_like_this_lands_on_the_pair_and_needs_no_encoder(shapes):
    data, _, emb = shapes
    ex = am.Explorer(emb, dataset=data)  # no encoder
    frame = ex.query(like=17, k=5)
    image = frame[frame.modality == "image"]
    assert image.pair.iloc[0] == 17 and abs(image.cosine.iloc[0] - 1.0) < 1e-6
    # Placed by the projection's own placement: exactly on the item's point.
    n = ex.n_pairs
    xy = np.frombuffer(ex.xy, "<f4").reshape(-1, 2)
    np.testing.assert_allclose(ex.query_result["point"], xy[17], atol=1e-5)
    ex.closed = True  # still on its point after the shift (the shown row)
    xy = np.frombuffer(ex.xy, "<f4").reshape(-1, 2)
    np.testing.assert_allclose(ex.query_result["point"], xy[17], atol=1e-5)
    ex.query(like=3, modality="text")
    xy = np.frombuffer(ex.xy, "<f4").reshape(-1, 2)
    np.testing.assert_allclose(ex.query_result["point"], xy[n + 3], atol=1e-5)
    ex.projection = "pca"
    xy = np.frombuffer(ex.xy, "<f4").reshape(-1, 2)
    np.testing.assert_allclose(ex.query_result["point"], xy[n + 3], atol=1e-5)
    ex.x_component, ex.y_component = 2, 0
    xy = np.frombuffer(ex.xy, "<f4").reshape(-1, 2)
    np.testing.assert_allclose(ex.query_result["point"], xy[n + 3], atol=1e-5)


def test_query_without_an_encoder_says_what_to_pass(shapes):
    data, _, emb = shapes
    ex = am.Explorer(emb, dataset=data)
    assert ex.query_info["enabled"] is False
    assert "encoder=" in ex.query_info["reason"]
    with pytest.raises(ValueError, match="encoder="):
        ex.query("a red circle")
    with pytest.raises(ValueError, match="encoder="):
        ex.query(image=data.item("image", 0))
    with pytest.raises(ValueError, match="encoder="):  # the page shows it (an error reply)
        ex._request_query({"text": "a red circle"})


def test_query_arguments_are_checked(explorer):
    with pytest.raises(TypeError, match="exactly one"):
        explorer.query("a", like=3)
    with pytest.raises(TypeError, match="exactly one"):
        explorer.query()
    with pytest.raises(ValueError, match="non-empty"):
        explorer.query("   ")
    with pytest.raises(ValueError, match="between 1 and 100"):
        explorer.query("a red circle", k=0)
    with pytest.raises(ValueError, match="not among the shown pairs"):
        explorer.query(like=10_000)
    with pytest.raises(ValueError, match="not a file"):
        explorer.query(image="/no/such/image.png")
    with pytest.raises(ValueError, match="'text' must be a string"):
        explorer._request_query({"text": 3})
    with pytest.raises(ValueError, match="'k' must be an integer"):
        explorer._request_query({"text": "a", "k": "9"})


def test_image_query_from_a_path_and_a_pil_image(explorer, shapes, tmp_path):
    data, tiny, _ = shapes
    image = data.item("image", 5)
    path = tmp_path / "five.png"
    image.save(path)
    by_path = explorer.query(image=path, k=3)
    by_image = explorer.query(image=image, k=3)
    assert by_path.pair.tolist() == by_image.pair.tolist()
    assert by_path[by_path.modality == "image"].pair.iloc[0] == 5
    assert explorer.query_result["modality"] == "image"
    assert explorer.query_result["label"] == "image"


def test_query_follows_the_filter_and_can_be_cleared(explorer):
    explorer.filter_mode = "all"
    explorer.filter_text = "red circle"
    frame = explorer.query("a red circle", k=50)
    shown = set(np.asarray(explorer._ids).tolist())
    assert set(frame.pair) <= shown
    assert len(frame[frame.modality == "text"]) == min(50, len(shown))
    explorer._request_clear_query({})
    assert explorer.query_result == {}
    explorer.filter_text = ""  # no query, nothing to refresh
    assert explorer.query_result == {}


def test_query_request_from_the_browser(explorer):
    reply, _ = explorer._request_query({"text": "a blue star", "k": 4})
    assert reply == {"ok": True, "rows": 8}
    reply, _ = explorer._request_query({"like": 2, "modality": "image"})
    assert explorer.query_result["label"] == "like #2 (image)"


# --------------------------------------------------------------------------- labels


def test_annotate_writes_a_meta_column_for_colour_filter_and_selection(shapes):
    data, tiny, emb = shapes
    emb = am.Embeddings.from_arrays({m: emb[m] for m in emb.modalities}, meta=emb.meta)
    ex = am.Explorer(emb, dataset=data, encoder=tiny)
    ex.selected = [1, 4, 9]
    assert ex.annotate("odd ones") == 3
    assert ex.annotations.dropna().to_dict() == {1: "odd ones", 4: "odd ones", 9: "odd ones"}
    assert ex.annotations.name == "annotation" and len(ex.annotations) == len(emb)
    assert ex.selection()["annotation"].tolist() == ["odd ones"] * 3
    assert emb.meta["annotation"].notna().sum() == 3  # the shown embeddings' meta
    assert "annotation" in ex.color_options
    ex.annotate("star", pairs=[9, 10])
    assert ex.annotation_labels == [
        {"label": "odd ones", "count": 2}, {"label": "star", "count": 2},
        {"label": "(unlabelled)", "count": len(emb) - 4, "unlabelled": True},
    ]
    ex.color_by = "annotation"
    items = {item["label"]: item["color"] for item in ex.legend["items"]}
    assert set(items) == {"odd ones", "star", "unlabelled"}
    assert items["unlabelled"] == "#c8cad0"
    # the pairs without a label get the grey code
    codes = np.frombuffer(ex.colors, np.uint8)
    grey = ex.palette.index("#c8cad0")
    assert (codes[: len(emb)] == grey).sum() == len(emb) - 4
    ex.label_filter = "star"
    assert ex.n_pairs == 2 and sorted(np.asarray(ex._ids).tolist()) == [9, 10]
    ex.label_filter = "(unlabelled)"
    assert ex.n_pairs == len(emb) - 4
    ex.label_filter = ""
    assert ex.n_pairs == len(emb)
    # undo, last first: pair 9 gets "odd ones" back, 10 nothing
    assert ex.undo_annotation() == "removed 'star' from 2 pairs"
    assert ex.annotations.dropna().to_dict() == {1: "odd ones", 4: "odd ones", 9: "odd ones"}
    assert ex.undo_annotation() == "removed 'odd ones' from 3 pairs"
    assert "annotation" not in emb.meta.columns and "annotation" not in ex.color_options
    assert ex.color_by == "modality"
    assert ex.undo_annotation() is None


def test_labels_survive_save_load_and_save_html(shapes, tmp_path):
    data, tiny, emb = shapes
    emb = am.Embeddings.from_arrays({m: emb[m] for m in emb.modalities}, meta=emb.meta)
    ex = am.Explorer(emb, dataset=data, encoder=tiny)
    ex.annotate("kept", pairs=[0, 2])
    ex.annotate("mine", column="notes", pairs=[2])
    loaded = am.Embeddings.load(emb.save(tmp_path / "labelled.npz"))
    assert loaded.meta["annotation"].fillna("-").tolist()[:3] == ["kept", "-", "kept"]
    assert loaded.meta["notes"].fillna("-").tolist()[:3] == ["-", "-", "mine"]
    # A new Explorer on the loaded file shows them, and more can be added to the column.
    again = am.Explorer(loaded)
    assert again.annotations.dropna().to_dict() == {0: "kept", 2: "kept"}
    again.annotate("more", pairs=[5])
    assert again.annotations.dropna().to_dict() == {0: "kept", 2: "kept", 5: "more"}
    # save_html: every pair's card carries its label.
    info = static_export(ex)
    assert info["fields"]["2"]["annotation"] == "kept" and info["fields"]["2"]["notes"] == "mine"
    assert info["fields"]["1"]["annotation"] is None
    page = ex.save_html(tmp_path / "labelled.html")
    assert page.exists() and STATE.search(page.read_text())


def test_annotate_refuses_what_would_lose_data(explorer):
    with pytest.raises(ValueError, match="select pairs first"):
        explorer.annotate("x")
    with pytest.raises(ValueError, match="non-empty"):
        explorer.annotate("  ", pairs=[1])
    with pytest.raises(ValueError, match="captions"):
        explorer.annotate("x", column="caption", pairs=[1])
    with pytest.raises(ValueError, match="int64 meta column|meta column of the data"):
        explorer.annotate("x", column="item", pairs=[1])
    with pytest.raises(ValueError, match="outside"):
        explorer.annotate("x", pairs=[-1])
    with pytest.raises(ValueError, match="reserved"):
        explorer.annotate("(unlabelled)", pairs=[1])
    with pytest.raises(ValueError, match="'pairs' must be a list"):
        explorer._request_annotate({"label": "x", "pairs": "1,2"})
    reply, _ = explorer._request_annotate({"label": "from the page", "pairs": [3, 4]})
    assert reply == {"ok": True, "count": 2}
    assert explorer.annotation_undo == "undo 'from the page' (2 pairs)"
    reply, _ = explorer._request_undo_annotation({})
    assert reply["undone"] == "removed 'from the page' from 2 pairs"


def test_labels_reach_the_preview_rows_at_once(explorer):
    row = explorer._request_item({"pair": 3})[0]["fields"]
    assert "annotation" not in row
    version = explorer.meta_version
    explorer.annotate("seen", pairs=[3])
    assert explorer.meta_version == version + 1
    assert explorer._request_item({"pair": 3})[0]["fields"]["annotation"] == "seen"


# --------------------------------------------------------------------------- portraits


def test_cluster_medoids_are_the_highest_mean_cosine_members():
    emb = am.datasets.clip_coco500()
    labels = np.arange(len(emb)) % 7
    for by in ("image", "all"):
        medoids = cluster_medoids(emb, labels, by)
        if by == "all":
            rows = np.hstack([emb["image"], emb["text"]]).astype(np.float64) / np.sqrt(2)
        else:
            rows = np.asarray(emb[by], dtype=np.float64)
        for c in range(7):
            members = np.flatnonzero(labels == c)
            x = rows[members]
            mean_cos = (x @ x.T).mean(axis=1)
            assert medoids[c] == members[int(np.argmax(mean_cos))]
    with pytest.raises(ValueError, match="one integer cluster per pair"):
        cluster_medoids(emb, labels[:10])


def test_image_clusters_get_portraits_in_the_key_and_the_legend(shapes):
    data, _, emb = shapes
    ex = am.Explorer(emb, dataset=data, cluster=True, cluster_by="image", cluster_k=5,
                     color_by="cluster")
    portraits = ex.cluster_portraits
    assert len(portraits) == 5 and all(p["modality"] == "image" for p in portraits)
    labels = ex.cluster_labels
    medoids = cluster_medoids(ex._base, labels, "image")
    assert [p["pair"] for p in portraits] == medoids.tolist()
    assert [item["portrait"]["pair"] for item in ex.legend["items"]] == medoids.tolist()
    for c, p in enumerate(portraits):
        assert labels[p["pair"]] == c
    # Thumbnails are not in the state: the browser asks for them (item requests).
    assert ex._request_item({"pair": portraits[0]["pair"], "modality": "image"})[1]
    ex.cluster_by = "text"  # text clusters have nothing to picture
    assert ex.cluster_portraits == []
    plain = am.Explorer(am.datasets.clip_coco500(), cluster=True, remote_images=False)
    assert plain.cluster_portraits == []


def test_audio_clusters_get_a_sound_portrait():
    ds = am.data.SyntheticShapesAudio(30, seed=1)
    emb = am.embed(am.models.ShapesEncoder(), ds, progress=False, cache=False)
    ex = am.Explorer(emb, dataset=ds, cluster=True, cluster_by="audio", cluster_k=3)
    assert [p["kind"] for p in ex.cluster_portraits] == ["audio"] * 3
    assert json.dumps(ex.cluster_portraits)  # small JSON, no audio in the state


def test_save_html_carries_the_query_of_every_precomputed_state(explorer):
    explorer.query("a large red circle", k=5)
    info = static_export(explorer)
    closed = info["states"]["10"]["query_result"]  # "close the gap" ticked in the page
    assert "closing the gap" in closed["note"] and len(closed["results"]["image"]) == 5
    assert info["states"]["01"]["query_result"]["note"] == ""  # clustered, gap open
    assert explorer.query_result["note"] == "" and not explorer.closed  # the live widget
