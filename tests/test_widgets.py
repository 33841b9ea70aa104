"""Python side of the widgets: state, binary traits, linking, errors, bytes sent."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import traitlets

import amumo as am
from amumo.widgets import Comparer, Explorer, Heatmap, Landscape, Preview, Scatter, state_size
from amumo.widgets._matrix import block_edges, pooled, quantise, window


# ---------------------------------------------------------------------- helpers
def make_emb(n: int = 40, d: int = 16, seed: int = 0, gap: float = 2.0, meta=None):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, d))
    offset = rng.normal(size=d) * gap
    return am.Embeddings.from_arrays(
        {"image": base + offset, "text": base + rng.normal(size=(n, d))},
        meta=meta if meta is not None else {
            "caption": [f"a {c} thing number {i}" for i, c in
                        enumerate(np.resize(["red", "blue", "green"], n))],
            "score": np.linspace(0, 1, n),
            "group": np.resize(["a", "b"], n),
        },
    )


def decode(buffer: bytes, dtype) -> np.ndarray:
    return np.frombuffer(buffer, dtype=dtype)


class Sent:
    """Record what a widget sends to the browser (state updates and custom messages)."""

    def __init__(self, widget):
        self.messages: list[tuple[dict, list]] = []
        widget._send = lambda msg, buffers=None: self.messages.append((msg, buffers or []))

    def keys(self) -> set[str]:
        names: set[str] = set()
        for msg, _ in self.messages:
            if msg.get("method") == "update":
                names |= set(msg["state"]) | {p[0] for p in msg.get("buffer_paths", [])}
        return names

    def clear(self) -> None:
        self.messages.clear()


def request(widget, content: dict) -> tuple[dict, list]:
    """Send a custom message as the browser would and return the reply."""
    replies: list[tuple[dict, list]] = []
    widget.send = lambda msg, buffers=None: replies.append((msg, buffers or []))
    widget._dispatch(widget, {**content, "id": 1}, [])
    assert len(replies) == 1
    return replies[0]


@pytest.fixture(scope="module")
def coco():
    return am.datasets.clip_coco500()


# ---------------------------------------------------------------------- matrix views
def test_pooled_overview_is_block_mean_of_similarity():
    emb = make_emb(n=150)
    rows = np.concatenate([emb["image"], emb["text"]])
    sim = am.similarity(emb).astype(np.float64)
    over = pooled(rows, 64)
    edges = block_edges(300, 64)
    expected = np.array([
        [sim[edges[i]:edges[i + 1], edges[j]:edges[j + 1]].mean() for j in range(64)]
        for i in range(64)
    ])
    assert over.shape == (64, 64) and over.dtype == np.float32
    np.testing.assert_allclose(over, expected, atol=2e-6)


def test_pooled_overview_across_chunks_and_in_cluster_order():
    """Chunks that end inside a block, several blocks in one chunk, and rows gathered in a
    display (cluster) order: every cell is still the block mean of the ordered matrix."""
    from amumo.widgets._matrix import display_rows

    emb = make_emb(n=150, seed=3)
    order = np.random.default_rng(0).permutation(150)
    ordered = np.concatenate([emb["image"][order], emb["text"][order]]).astype(np.float64)
    sim = ordered @ ordered.T
    edges = block_edges(300, 41)
    expected = np.array([
        [sim[edges[i]:edges[i + 1], edges[j]:edges[j + 1]].mean() for j in range(41)]
        for i in range(41)
    ])
    for chunk in (5, 7, 37, 300):
        over = pooled(display_rows(emb, order), 41, chunk=chunk)
        np.testing.assert_allclose(over, np.clip(expected, -1, 1), atol=2e-6)


def test_window_and_quantise_match_similarity():
    emb = make_emb()
    rows = np.concatenate([emb["image"], emb["text"]])
    sim = am.similarity(emb)
    np.testing.assert_allclose(window(rows, 3, 20, 35, 61), sim[3:20, 35:61], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        window(rows, 0, 81, 0, 5)
    codes = quantise(np.array([-2.0, -0.5, 0.25, 1.0, 3.0]), -0.5, 1.0)
    assert codes.tolist() == [0, 0, 128, 255, 255]


# ---------------------------------------------------------------------- heatmap
def test_heatmap_state_is_binary_and_matches_similarity(coco):
    w = Heatmap(coco)
    assert w.overview_size == 1000 and len(w.overview) == 1000 * 1000
    assert w.modalities == ["image", "text"] and w.n_pairs == 500
    lo, hi = w.scale
    assert hi == 1.0 and -0.1 <= lo <= 0.0
    codes = decode(w.overview, np.uint8).reshape(1000, 1000)
    sim = am.similarity(coco)
    approx = lo + codes / 255 * (hi - lo)
    assert np.abs(approx - np.clip(sim, lo, hi)).max() <= (hi - lo) / 255
    # Texts travel as one UTF-8 blob (the shipped MSCOCO captions).
    texts = w.texts.decode().split("\u001e")
    assert w.text_field == "caption" and texts[1] == "A desk and chair in an office cubicle."
    size = state_size(w)
    assert size["binary"] >= 1_000_000 and size["json"] < 150_000
    assert size["total"] < 1_300_000


def test_heatmap_pools_large_matrices_and_answers_windows():
    emb = make_emb(n=1500, d=24)
    w = Heatmap(emb, max_overview=256)
    assert w.overview_size == 256 and len(w.overview) == 256 * 256
    assert state_size(w)["binary"] < 256 * 256 + 100_000  # never the 3000² matrix
    sim = am.similarity(emb)
    reply, buffers = request(w, {"type": "window", "r0": 100, "r1": 140, "c0": 1600, "c1": 1650})
    values = decode(buffers[0], np.float32).reshape(40, 50)
    np.testing.assert_allclose(values, sim[100:140, 1600:1650], atol=1e-6)
    reply, _ = request(w, {"type": "cell", "r": 7, "c": 2000})
    assert reply["value"] == pytest.approx(float(sim[7, 2000]), abs=1e-6)
    reply, _ = request(w, {"type": "window", "r0": 0, "r1": 2000, "c0": 0, "c1": 10})
    assert "larger than" in reply["error"]
    reply, _ = request(w, {"type": "nonsense"})
    assert "unknown request" in reply["error"]


def test_heatmap_cluster_order_and_bounds():
    emb = make_emb(n=60)
    w = Heatmap(emb, cluster=True, cluster_k=4)
    order = decode(w.order, np.int32)
    assert sorted(order.tolist()) == list(range(60))
    bounds = decode(w.cluster_bounds, np.int32)
    assert len(bounds) == 3 and np.all(np.diff(bounds) > 0)
    labels = w.cluster_labels
    assert np.all(np.diff(labels[order]) >= 0)  # clusters are contiguous along the order
    # Exact cells follow the display order: position p of the image block is pair order[p].
    reply, buffers = request(w, {"type": "window", "r0": 0, "r1": 5, "c0": 60, "c1": 65})
    sim = am.similarity(emb)
    expected = sim[np.ix_(order[:5], 60 + order[:5])]
    np.testing.assert_allclose(decode(buffers[0], np.float32).reshape(5, 5), expected, atol=1e-6)
    w.cluster = False
    assert w.order == b"" and w.cluster_bounds == b""


def test_heatmap_rejects_bad_input(coco):
    with pytest.raises(TypeError, match="did you mean 'cluster'|Did you mean 'cluster'"):
        Heatmap(coco, clustr=True)
    with pytest.raises(TypeError, match="read-only"):
        Heatmap(coco, overview=b"")
    with pytest.raises(TypeError, match="Embeddings"):
        Heatmap(np.zeros((3, 4)))
    w = Heatmap(make_emb())
    with pytest.raises(traitlets.TraitError, match="colormap"):
        w.colormap = "jet"
    with pytest.raises(traitlets.TraitError, match="cluster_method"):
        w.cluster_method = "kmeans"
    with pytest.raises(traitlets.TraitError, match="max_overview"):
        w.max_overview = 4096
    with pytest.raises(traitlets.TraitError, match="hovered"):
        w.hovered = 40
    with pytest.raises(traitlets.TraitError, match="selected"):
        w.selected = [1, 99]


def test_heatmap_cell_api_and_vmin():
    emb = make_emb()
    w = Heatmap(emb, vmin=0.0, vmax=0.5)
    assert w.scale == [0.0, 0.5]
    assert w.cell(("image", 3), ("text", 5)) == pytest.approx(
        float(emb["image"][3] @ emb["text"][5]), abs=1e-6
    )


# ---------------------------------------------------------------------- scatter
def test_scatter_sends_float32_xy_and_colours():
    emb = make_emb()
    w = Scatter(emb)
    xy = decode(w.xy, np.float32).reshape(-1, 2)
    expected = am.project(emb, "pca", n_components=6)
    assert xy.shape == (80, 2)
    for j in range(2):  # up to sign
        assert min(np.abs(xy[:, j] - expected[:, j]).max(),
                   np.abs(xy[:, j] + expected[:, j]).max()) < 1e-4
    assert w.color_options == ["modality", "cluster", "score", "group"]
    assert decode(w.colors, np.uint8).tolist() == [0] * 40 + [1] * 40
    w.color_by = "group"
    assert w.legend["items"][0]["label"] == "a" and len(w.palette) == 2
    w.color_by = "score"
    assert w.legend["kind"] == "continuous" and w.legend["vmax"] == 1.0
    w.color_by = "cluster"
    assert len(w.legend["items"]) == w.cluster_k
    with pytest.raises(traitlets.TraitError, match="color_by"):
        w.color_by = "caption"  # one value per pair: not offered
    old = w.xy
    w.x_component, w.y_component = 2, 3
    assert w.xy != old and w.axis_labels == ["PC 3", "PC 4"]


def test_scatter_selection_dataframe():
    w = Scatter(make_emb())
    w.selected = [7, 2, 7]
    frame = w.selection()
    assert isinstance(frame, pd.DataFrame)
    assert frame["pair"].tolist() == [2, 7]
    assert frame["caption"].tolist() == ["a green thing number 2", "a blue thing number 7"]


@pytest.mark.slow
def test_scatter_tsne_runs_in_background():
    w = Scatter(make_emb(n=50), projection="tsne")
    # The kernel is not blocked: the constructor returns while t-SNE computes.
    assert w.projection_status.startswith("computing") or w.axis_prefix == "t-SNE"
    w.wait(120)
    assert w.projection_status == "" and w.axis_prefix == "t-SNE"
    assert w.n_components == 2 and len(w.xy) == 100 * 2 * 4


# ---------------------------------------------------------------------- preview
def test_preview_fetches_fields_and_thumbnails_lazily():
    from amumo.data import SyntheticShapes

    ds = SyntheticShapes(12, seed=1)
    emb = make_emb(n=12, meta=ds.meta)
    p = Preview(emb, dataset=ds)
    assert p.kinds == {"image": "image", "text": "text"}
    assert p.media == {"image": True, "text": False}
    # Nothing heavy up front: no image bytes in the state.
    assert state_size(p)["binary"] < 2_000
    reply, buffers = request(p, {"type": "item", "pair": 4, "modality": "image"})
    assert reply["mime"] == "image/png" and buffers[0][:4] == b"\x89PNG"
    reply, _ = request(p, {"type": "item", "pair": 4, "modality": None})
    assert reply["fields"]["caption"] == ds.meta["caption"][4]
    reply, _ = request(p, {"type": "item", "pair": 4, "modality": "text"})
    assert "no media" in reply["error"]
    reply, _ = request(p, {"type": "item", "pair": 99, "modality": None})
    assert "out of range" in reply["error"]


def test_preview_without_captions_uses_labels(coco):
    labelled = am.Embeddings.from_arrays(
        {m: coco[m] for m in coco.modalities},
        meta={"pair": range(500), "label": [f"pair {i}" for i in range(500)]},
    )
    p = Preview(labelled)
    assert p.text_field == "label" and p.media == {"image": False, "text": False}
    reply, _ = request(p, {"type": "item", "pair": 2, "modality": None})
    assert reply["fields"] == {"pair": 2, "label": "pair 2"}
    with pytest.raises(ValueError, match="text_column"):
        Preview(labelled, text_column="caption")


# ---------------------------------------------------------------------- explorer
def test_explorer_close_gap_updates_views_and_metrics_together(coco):
    ex = Explorer(coco)
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    assert rows["gap_distance"]["before"] == pytest.approx(0.8514, abs=1e-4)
    assert rows["info_nce"]["before"] == pytest.approx(1.8009, abs=1e-4)
    assert rows["recall@1:image->text"]["before"] == pytest.approx(0.552)
    sent = Sent(ex)
    old_xy, old_overview = ex.xy, ex.overview
    ex.closed = True
    rows = {r["key"]: r for r in ex.metrics["rows"]}
    assert rows["gap_distance"]["after"] < 1e-3
    assert rows["gap_distance"]["before"] == pytest.approx(0.8514, abs=1e-4)
    assert ex.xy != old_xy and ex.overview != old_overview
    # One kernel message carried the views and the metrics together.
    updates = [m for m, _ in sent.messages
               if m.get("method") == "update" and "closed" not in m["state"]]
    assert len(updates) == 1
    assert {"xy", "overview", "metrics"} <= sent.keys()
    # Unchanged arrays are not resent.
    assert not {"texts", "pair_ids", "colors"} & sent.keys()
    # λ is ignored while closed; it applies when the toggle is off.
    sent.clear()
    ex.lam = 0.5
    assert sent.keys() <= {"lam"}
    ex.closed = False
    gap = {r["key"]: r for r in ex.metrics["rows"]}["gap_distance"]["after"]
    assert gap == pytest.approx(am.gap_distance(am.shift(coco, 0.5)), abs=1e-6)
    assert ex.embeddings is not coco
    # The colour range follows the shown data (issue 15); locked, it stays put.
    assert ex.scale == [pytest.approx(0.0), 1.0]
    ex.scale_locked = True
    ex.lam = -1.0
    assert ex.scale == [pytest.approx(0.0), 1.0]


def test_explorer_filter_subsets_pairs_and_maps_indices():
    ex = Explorer(make_emb())
    ex.filter_text = "red"
    ids = decode(ex.pair_ids, np.int32)
    assert ex.n_pairs == 14 and ids.tolist() == list(range(0, 40, 3))
    assert ex.n_total == 40
    texts = ex.texts.decode().split("\u001e")
    assert all("red" in t for t in texts)
    ex.filter_text = "red blue"
    assert ex.n_pairs == 27  # any word
    ex.filter_mode = "all"
    assert ex.error and ex.n_pairs == 27  # no caption has both: previous pairs kept
    ex.filter_text = "thing 3"
    ex.filter_mode = "all"
    assert ex.n_pairs == 13 and ex.error == ""  # 3, 13, 23, 30..39
    ex.selected = [3, 30]
    assert ex.selection()["pair"].tolist() == [3, 30]
    ex.filter_text = ""
    assert ex.n_pairs == 40 and ex.pair_ids == b""


def test_explorer_models_picker_and_errors(coco):
    random = am.datasets.clip_coco500(random_init=True)
    ex = Explorer({"CLIP": coco, "random init": random})
    assert ex.model_names == ["CLIP", "random init"] and ex.model_name == "CLIP"
    ex.model_name = "random init"
    gap = {r["key"]: r for r in ex.metrics["rows"]}["gap_distance"]["before"]
    assert gap == pytest.approx(1.1361, abs=1e-4)
    with pytest.raises(traitlets.TraitError, match="model_name"):
        ex.model_name = "nope"
    with pytest.raises(ValueError, match="must embed the same pairs"):
        Explorer({"a": coco, "b": coco.subset(range(10))})
    with pytest.raises(TypeError, match="dataset and an encoder"):
        Explorer()
    with pytest.raises(TypeError, match="lamda"):
        Explorer(coco, lamda=0.5)
    with pytest.raises(traitlets.TraitError, match="filter_mode"):
        ex.filter_mode = "some"
    with pytest.raises(traitlets.TraitError, match="augmentation"):
        ex.augmentation = "rotate"  # needs dataset= and encoder=


def test_explorer_dataset_picker_switches_data(coco):
    from amumo.data import SyntheticShapes

    ds = SyntheticShapes(30, seed=2)
    shapes = make_emb(n=30, meta=ds.meta)
    ex = Explorer({"COCO (CLIP)": coco, "shapes": shapes}, dataset={"shapes": ds})
    # COCO's photos come from coco_url (fetched by the kernel), the shapes from the dataset.
    assert ex.n_pairs == 500 and ex.media == {"image": True, "text": False}
    ex.selected = [400, 450]
    ex.model_name = "shapes"
    assert ex.n_pairs == 30 and ex.n_total == 30 and ex.media["image"]
    assert ex.selected == [] and ex.text_field == "caption"
    reply, buffers = request(ex, {"type": "item", "pair": 3, "modality": "image"})
    assert buffers[0][:4] == b"\x89PNG"
    ex.model_name = "COCO (CLIP)"
    assert ex.n_pairs == 500 and ex.text_field == "caption"
    with pytest.raises(ValueError, match="name no model"):
        Explorer({"a": coco}, dataset={"b": ds})
    with pytest.raises(ValueError, match="30 pairs but the embeddings have 500"):
        Explorer({"a": coco}, dataset={"a": ds})


def test_explorer_lam_links_with_other_widgets(coco):
    ex = Explorer(coco)
    land = Landscape(coco, temperatures=[0.01], lams=[-1, 0, 1])
    traitlets.link((ex, "lam"), (land, "lam"))
    land.lam = 0.25
    assert ex.lam == 0.25
    assert ex.metrics["rows"][0]["after"] == pytest.approx(
        am.gap_distance(am.shift(coco, 0.25)), abs=1e-6
    )
    assert list(land.figure.data[-1].x) == [0.25]


def test_explorer_with_dataset_and_encoder_offers_augmentations(tmp_path, monkeypatch):
    from amumo.data import SyntheticShapes
    from amumo.models import CallableEncoder

    def image_features(images):
        arrays = [np.asarray(im.convert("RGB"), dtype=np.float64) / 255 for im in images]
        return [np.concatenate([a.mean((0, 1)), a.std((0, 1)), [1.0, 0.5]]) for a in arrays]

    def text_features(texts):
        words = ["red", "blue", "green", "circle", "square", "small", "large"]
        return [[float(w in t) for w in words] + [1.0] for t in texts]

    ds = SyntheticShapes(8, seed=0)
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path))
    enc = CallableEncoder(
        {"image": image_features, "text": text_features}, name="toy", fingerprint="toy-v1"
    )
    ex = Explorer(dataset=ds, encoder=enc, augmentation_levels=3)
    ex.wait()
    assert ex.model_names == ["toy"] and ex.n_pairs == 8
    assert "rotate" in ex.augmentations and ex.media["image"]
    ex.augmentation = "rotate"
    ex.wait()
    assert ex.n_pairs == 8 * 3 and ex.error == ""
    reply, buffers = request(ex, {"type": "item", "pair": 5, "modality": "image"})
    assert buffers and reply["mime"].startswith("image/")


def test_explorer_state_size_budget(coco):
    ex = Explorer(coco)
    size = state_size(ex)
    # 1000² overview codes + coordinates + texts + the ES module: well under 2.5 MB.
    assert size["total"] < 2_500_000
    assert size["per_trait"]["overview"] == 1_000_000
    json.dumps(ex.metrics)  # plain JSON


# ---------------------------------------------------------------------- comparer
def test_comparer_grid_and_errors(coco):
    random = am.datasets.clip_coco500(random_init=True)
    c = Comparer({"CLIP": coco, "random": random})
    assert c.names == ["CLIP", "random"] and len(c.overviews) == 2
    assert c.overview_size == 512 and all(len(o) == 512 * 512 for o in c.overviews)
    assert c.scales[0] == c.scales[1]  # shared colour range
    reply, buffers = request(c, {"type": "cell", "r": 3, "c": 503, "view": 1})
    assert reply["value"] == pytest.approx(float(random["image"][3] @ random["text"][3]), abs=1e-6)
    with pytest.raises(ValueError, match="has 20 pairs but"):
        Comparer({"CLIP": coco, "small": coco.subset(range(20))})
    other = am.Embeddings.from_arrays({"image": coco["image"], "audio": coco["text"]})
    with pytest.raises(ValueError, match="modalities"):
        Comparer({"CLIP": coco, "audio": other})
    with pytest.raises(TypeError, match="dict"):
        Comparer([coco, random])
    c.cluster = True
    assert len(decode(c.order, np.int32)) == 500


# ---------------------------------------------------------------------- landscape
def test_landscape_curves_match_analysis(coco):
    land = Landscape(coco, temperatures=[0.01, 0.1], lams=np.linspace(-1, 1, 5))
    expected = am.loss_landscape(coco, np.linspace(-1, 1, 5), [0.01, 0.1])
    np.testing.assert_allclose(land.values, expected)
    assert len(land.figure.data) == 3 and "amumo-landscape" in land._dom_classes
    with pytest.raises(ValueError, match="loss"):
        Landscape(coco, loss="hinge")
    with pytest.raises(TypeError, match="unexpected"):
        Landscape(coco, temperature=[0.1])


def test_failing_computation_is_reported_in_error_trait(monkeypatch):
    import amumo.widgets.heatmap as heatmap_module

    def broken(*_args, **_kwargs):
        raise MemoryError("too many pairs")

    monkeypatch.setattr(heatmap_module, "pair_clusters", broken)
    w = Heatmap(make_emb())
    w.cluster = True
    assert "clustering failed" in w.error and "too many pairs" in w.error
    assert w.cluster_status == "" and w.order == b""


# ---------------------------------------------------------------------- the linking seam
def test_request_handlers_are_marked_and_named_apart_from_observers(coco):
    from amumo.widgets import Comparer, Explorer, Heatmap, Preview
    from amumo.widgets._base import AmumoWidget
    from amumo.widgets._base import request as handles

    served = {Explorer: {"item", "texts", "window", "cell", "neighbours", "cancel_projection",
                         "query", "clear_query", "annotate", "undo_annotation", "viewport"},
              Heatmap: {"item", "texts", "window", "cell"},
              Comparer: {"item", "texts", "window", "cell"},
              Scatter: {"item", "texts", "cancel_projection"}, Preview: {"item", "texts"}}
    for cls, kinds in served.items():
        handlers = cls._request_handlers()
        assert set(handlers) == kinds, cls
        assert all(name == f"_request_{kind}" for kind, name in handlers.items()), handlers
        assert not any(hasattr(cls, f"_on_{kind}") for kind in kinds)  # old names are gone

    class Echo(AmumoWidget):
        @handles("echo")
        def _request_echo(self, content):
            return {"got": content["x"]}, []

        def _request_secret(self, content):  # right name, not marked: unreachable
            raise AssertionError("dispatched an unmarked method")

    widget = Echo()
    assert request_reply(widget, {"type": "echo", "x": 3}) == {"type": "reply", "id": 1, "got": 3}
    for kind in ("secret", "request_types", "_request_echo", ["echo"], None):
        reply = request_reply(widget, {"type": kind})
        assert reply["error"].startswith("unknown request") and "'echo'" in reply["error"]
    with pytest.raises(ValueError, match="identifier"):
        handles("not a name")


def request_reply(widget, content: dict) -> dict:
    return request(widget, content)[0]


def test_array_traits_convert_check_and_send_the_same_bytes():
    from amumo.widgets._encode import f32_bytes, i32_bytes, u8_bytes

    emb = make_emb()
    w = Scatter(emb)
    coords = np.random.default_rng(0).normal(size=(80, 2))  # float64 in ...
    w.xy = coords
    assert w.xy == f32_bytes(coords)  # ... the bytes the front end always read
    state = w.get_state()
    assert state["xy"] == f32_bytes(coords) and isinstance(state["xy"], bytes)
    with pytest.raises(traitlets.TraitError, match=r"float32 array of 2 columns.*\(80, 3\)"):
        w.xy = np.zeros((80, 3))
    with pytest.raises(traitlets.TraitError, match="whole number of 8-byte rows"):
        w.xy = b"\0" * 12
    with pytest.raises(traitlets.TraitError, match="dtype <U1"):
        w.xy = np.array([["a", "b"]])
    w.colors = np.array([0, 1, 1])
    assert w.colors == u8_bytes([0, 1, 1])
    with pytest.raises(traitlets.TraitError, match=r"uint8.*\[0, 256\]"):
        w.colors = np.array([0, 256])  # would wrap to 0 silently
    w.scatter_pairs = np.array([3, 1])
    assert w.scatter_pairs == i32_bytes([3, 1])
    with pytest.raises(traitlets.TraitError, match="int32"):
        w.scatter_pairs = np.array([2**31])
    w.scatter_pairs = b""
    assert w.scatter_pairs == b""


def test_colour_by_offers_no_identifiers_or_duplicate_columns():
    """Issue 21 item 12: the picker offered annotation_id (one value per pair) and
    image_license_url (the same groups as image_license). Identifiers (integer or text
    columns with >= 90 % distinct values) and columns grouping the pairs exactly like an
    earlier one are not offered; Python may still colour by them explicitly."""
    emb = am.datasets.clip_coco500()
    ex = am.Explorer(emb)
    assert ex.color_options == ["modality", "cluster", "width", "height", "image_license"]
    ex.color_by = "annotation_id"  # chosen in Python: allowed, and listed for the picker
    assert ex.color_options[-1] == "annotation_id" and len(ex.colors) == 1000
    with pytest.raises(Exception, match="not available"):
        ex.color_by = "caption"  # 500 categories cannot colour
    assert am.Scatter(emb, color_by="pair").color_options[-1] == "pair"
