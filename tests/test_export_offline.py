"""What a save_html page carries so that it does not pretend (amumo.widgets._offline)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

import amumo as am
from amumo.widgets._offline import EXPORT_LIMIT, EXPORT_THUMBNAIL

STATE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">\n(.*?)\n</script>', re.S
)


def _page_state(path) -> dict:
    return json.loads(STATE.search(path.read_text()).group(1))["state"]


def _static(state: dict, name: str) -> tuple[dict, dict]:
    """(static_export of the widget whose model is ``name``, its buffers by path)."""
    for entry in state.values():
        if entry["state"].get("_anywidget_id", "").endswith(name) or "static_export" in entry[
            "state"
        ]:
            buffers = {
                tuple(b["path"]): base64.b64decode(b["data"]) for b in entry.get("buffers", [])
            }
            return entry["state"]["static_export"], buffers
    raise AssertionError("no static_export in the page")


def test_explorer_export_carries_closed_and_cluster_states(tmp_path):
    ex = am.Explorer(am.datasets.clip_coco500())
    overview = ex.overview
    info, buffers = _static(_page_state(ex.save_html(tmp_path / "ex.html")), "Explorer")
    assert info["controls"] == ["closed", "cluster"]
    assert sorted(info["states"]) == ["01", "10", "11"]  # "00" is the page's own state
    closed = info["states"]["10"]["metrics"]["rows"][0]
    assert closed["key"] == "gap_distance" and closed["after"] < 1e-3
    assert abs(closed["before"] - 0.8514) < 1e-3
    clustered = buffers[("static_export", "states", "01", "cluster_bounds")]
    assert len(clustered) > 0  # cluster boundaries drawn in the clustered state
    closed_overview = buffers[("static_export", "states", "10", "overview")]
    assert len(closed_overview) == len(overview) and closed_overview != overview
    # The live widget is back where it was, and unchanged.
    assert not ex.closed and not ex.cluster and ex.overview == overview
    # Meta rows (real captions) for the preview; the COCO photos were never downloaded.
    assert info["fields"]["1"]["caption"] == "A desk and chair in an office cubicle."
    assert "not in this export" in info["thumbs"]["image"]["missing"]["0"]
    assert info["credits"]["0"]["text"] == "Attribution-NonCommercial-NoDerivs License"
    assert "close the gap" in info["note"] and "greyed-out controls need" in info["note"]


def test_export_embeds_small_thumbnails_of_local_images(tmp_path):
    import io

    from PIL import Image

    ds = am.data.SyntheticShapes(12, seed=0)
    rng = np.random.default_rng(0)
    emb = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(12, 8)), "text": rng.normal(size=(12, 8))}, meta=ds.meta
    )
    p = am.Preview(emb, dataset=ds)
    info, buffers = _static(_page_state(p.save_html(tmp_path / "p.html")), "Preview")
    thumbs = info["thumbs"]["image"]
    data = buffers[("static_export", "thumbs", "image", "data")]
    assert len(thumbs["offsets"]) == 13 and thumbs["missing"] == {}
    first = Image.open(io.BytesIO(data[thumbs["offsets"][3] : thumbs["offsets"][4]]))
    assert max(first.size) <= EXPORT_THUMBNAIL
    assert info["controls"] == []  # a Preview has no precomputed controls


def test_large_export_says_what_it_leaves_out(tmp_path, monkeypatch):
    import amumo.widgets._offline as offline

    monkeypatch.setattr(offline, "EXPORT_LIMIT", 100)
    h = am.Heatmap(am.datasets.clip_coco500().subset(range(150)))
    info, _ = _static(_page_state(h.save_html(tmp_path / "h.html")), "Heatmap")
    assert info["controls"] == [] and info["states"] == {}
    assert "export limit of 100" in info["note"] and "thumbnails" in info["note"]
    assert EXPORT_LIMIT == 1000


@pytest.mark.parametrize("cluster", [False, True])
def test_heatmap_export_precomputes_the_other_cluster_state(tmp_path, cluster):
    h = am.Heatmap(am.datasets.clip_coco500().subset(range(60)), cluster=cluster)
    info, buffers = _static(_page_state(h.save_html(tmp_path / "h.html")), "Heatmap")
    assert info["controls"] == ["cluster"]
    other = "0" if cluster else "1"
    assert list(info["states"]) == [other]
    bounds = buffers.get(("static_export", "states", other, "cluster_bounds"), b"")
    assert (len(bounds) > 0) is (not cluster)
    assert h.cluster is cluster


def test_comparer_export_precomputes_its_clustered_order(tmp_path):
    coco = am.datasets.clip_coco500().subset(range(50))
    rand = am.datasets.clip_coco500(random_init=True).subset(range(50))
    c = am.Comparer({"clip": coco, "random": rand})
    info, buffers = _static(_page_state(c.save_html(tmp_path / "c.html")), "Comparer")
    assert info["controls"] == ["cluster"]
    state = info["states"]["1"]
    assert len(state["overviews"]) == 2
    assert len(buffers[("static_export", "states", "1", "order")]) == 50 * 4
