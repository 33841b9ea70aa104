"""Photos linked in the meta (coco_url) are fetched by the kernel, cached, sent as thumbnails,
with their licence line; offline, the card says so quickly; a switch turns it off."""

from __future__ import annotations

import http.server
import io
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.widgets import Explorer, Preview, remote


def _jpeg(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "no such photo")
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg" if body[:2] == b"\xff\xd8" else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def photo_server():
    _Handler.files = {
        "/val2017/1.jpg": _jpeg(1), "/val2017/2.jpg": _jpeg(2), "/page.jpg": b"<html>"
    }
    _Handler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AMUMO_REMOTE_IMAGES", raising=False)
    remote._FAILED.clear()
    yield tmp_path / "cache"
    remote._FAILED.clear()


def _emb(urls: list[str]) -> am.Embeddings:
    n = len(urls)
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({
        "caption": [f"photo {i}" for i in range(n)],
        "coco_url": urls,
        "image_license": ["Attribution License"] * n,
        "image_license_url": ["http://creativecommons.org/licenses/by/2.0/"] * n,
    })
    return am.Embeddings.from_arrays(
        {"image": rng.normal(size=(n, 8)), "text": rng.normal(size=(n, 8))}, meta=meta
    )


def ask(widget, content: dict, timeout: float = 10.0) -> tuple[dict, list, float]:
    """Send an ``item`` request as the browser does; wait for the (threaded) reply."""
    replies: list = []
    arrived = threading.Event()

    def send(msg, buffers=None):
        replies.append((msg, buffers or []))
        arrived.set()

    widget.send = send
    start = time.perf_counter()
    widget._dispatch(widget, {**content, "id": 7}, [])
    returned = time.perf_counter() - start
    assert arrived.wait(timeout), "no reply"
    assert len(replies) == 1 and replies[0][0]["id"] == 7
    return replies[0][0], replies[0][1], returned


def test_photo_fetched_by_kernel_cached_and_sent_as_thumbnail(photo_server, cache):
    url = f"{photo_server}/val2017/1.jpg"
    p = Preview(_emb([url, f"{photo_server}/val2017/2.jpg", f"{photo_server}/missing.jpg"]))
    assert p.media == {"image": True, "text": False} and p.remote_images
    msg, buffers, returned = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert returned < 0.5  # the dispatcher returned at once; the thread replied
    assert msg["mime"] == "image/jpeg" and buffers[0][:2] == b"\xff\xd8"
    from PIL import Image

    thumb = Image.open(io.BytesIO(buffers[0]))
    assert max(thumb.size) == p.thumbnail_size  # 320 x 240 -> 192 x 144
    assert msg["credit"] == {
        "text": "Attribution License",
        "url": "http://creativecommons.org/licenses/by/2.0/",
        "source": url,
    }
    # Cached on disk (atomically: no temporary files left), the original bytes.
    files = [f for f in (cache / "images").rglob("*") if f.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == _Handler.files["/val2017/1.jpg"]
    assert files[0].suffix == ".jpg"
    # A new widget (another session) reads it from disk: no second download.
    hits = len(_Handler.hits)
    again = Preview(_emb([url, url]))
    msg, buffers, _ = ask(again, {"type": "item", "pair": 1, "modality": "image"})
    assert msg["mime"] == "image/jpeg" and len(_Handler.hits) == hits
    # HTTP errors say so.
    msg, buffers, _ = ask(p, {"type": "item", "pair": 2, "modality": "image"})
    assert "HTTP 404" in msg["error"] and msg["error"].startswith("photo not loaded")
    assert buffers == []


def test_non_image_response_is_refused_and_not_cached(photo_server, cache):
    p = Preview(_emb([f"{photo_server}/page.jpg", f"{photo_server}/val2017/1.jpg"]))
    msg, _, _ = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert "did not return an image" in msg["error"]
    assert not (cache / "images").exists() or not any((cache / "images").rglob("*.jpg"))


def test_offline_kernel_says_so_quickly_and_stops_retrying(cache):
    # Nothing listens on this port: the connection is refused, as offline.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = Preview(_emb([f"http://127.0.0.1:{port}/a.jpg", f"http://127.0.0.1:{port}/b.jpg"]))
    start = time.perf_counter()
    msg, buffers, returned = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert returned < 0.5 and time.perf_counter() - start < remote.DEFAULT_TIMEOUT + 1.5
    assert buffers == [] and msg["error"].startswith("photo not loaded: could not reach")
    assert "offline" in msg["error"] and msg["credit"]["text"] == "Attribution License"
    # The next pair on the same host fails at once (no queue of doomed downloads).
    start = time.perf_counter()
    msg, _, _ = ask(p, {"type": "item", "pair": 1, "modality": "image"})
    assert "offline" in msg["error"] and time.perf_counter() - start < 0.5


def test_hanging_server_times_out_without_blocking_the_kernel(cache):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        p = Preview(_emb([f"http://127.0.0.1:{listener.getsockname()[1]}/slow.jpg"] * 2))
        p.remote_timeout = 0.5
        start = time.perf_counter()
        msg, _, returned = ask(p, {"type": "item", "pair": 0, "modality": "image"})
        assert returned < 0.3
        assert time.perf_counter() - start < 3.0
        assert msg["error"].startswith("photo not loaded")
    finally:
        listener.close()


def test_switches_turn_remote_photos_off(photo_server, monkeypatch):
    urls = [f"{photo_server}/val2017/1.jpg", f"{photo_server}/val2017/2.jpg"]
    p = Preview(_emb(urls), remote_images=False)
    assert p.media == {"image": False, "text": False}
    msg, _, _ = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert "no media" in msg["error"] and _Handler.hits == []
    p.remote_images = True
    assert p.media["image"]
    monkeypatch.setenv("AMUMO_REMOTE_IMAGES", "0")
    assert not Explorer(_emb(urls)).media["image"]
    assert not Preview(_emb(urls)).remote_images


def test_clip_coco500_previews_offer_the_coco_photos():
    emb = am.datasets.clip_coco500()
    p = Preview(emb)
    assert p.text_field == "caption" and p.media == {"image": True, "text": False}
    credit = p._photo_credit(0)
    assert credit["source"] == "http://images.cocodataset.org/val2017/000000179765.jpg"
    assert credit["text"] == "Attribution-NonCommercial-NoDerivs License"


def test_only_web_links_are_fetched():
    with pytest.raises(ValueError, match="not http"):
        remote.check_url("file:///etc/passwd")
    with pytest.raises(ValueError, match="empty"):
        remote.check_url("")
    p = Preview(_emb(["file:///etc/passwd", "ftp://x/y.jpg"]))
    msg, _, _ = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert "not http" in msg["error"]


def test_image_cache_dir_follows_amumo_cache(cache):
    assert remote.image_cache_dir() == Path(cache) / "images"


def test_export_embeds_photos_the_kernel_has_downloaded(photo_server, tmp_path):
    import base64
    import json
    import re

    urls = [f"{photo_server}/val2017/1.jpg", f"{photo_server}/val2017/2.jpg"]
    p = Preview(_emb(urls))
    ask(p, {"type": "item", "pair": 0, "modality": "image"})  # hovered once, online
    hits = len(_Handler.hits)
    page = p.save_html(tmp_path / "p.html").read_text()
    state = json.loads(re.search(
        r'widget-state\+json">\n(.*?)\n</script>', page, re.S).group(1))["state"]
    entry = next(e for e in state.values() if "static_export" in e["state"])
    info = entry["state"]["static_export"]
    buffers = {tuple(b["path"]): base64.b64decode(b["data"]) for b in entry["buffers"]}
    assert len(_Handler.hits) == hits  # the export downloads nothing
    thumbs = info["thumbs"]["image"]
    data = buffers[("static_export", "thumbs", "image", "data")]
    assert data[thumbs["offsets"][0] : thumbs["offsets"][1]][:2] == b"\xff\xd8"
    assert thumbs["offsets"][2] == thumbs["offsets"][1]  # pair 1 was never downloaded
    assert "not in this export" in thumbs["missing"]["1"]
    assert info["credits"]["1"]["text"] == "Attribution License"
    assert "1 of 2 in this export" in info["note"]


def test_tour_data_filters_and_selects_real_captions():
    ex = Explorer(am.datasets.clip_coco500(), remote_images=False)
    assert ex.text_field == "caption"
    ex.filter_text = "giraffe"
    assert ex.n_pairs == 7 and ex.n_total == 500
    texts = ex.texts.decode().split("\u001e")
    assert all("giraffe" in t.lower() for t in texts)
    ex.selected = [int(i) for i in ex._ids[:2]]
    table = ex.selection()
    assert list(table.columns[:3]) == ["pair", "image_id", "annotation_id"]
    assert table["caption"].str.lower().str.contains("giraffe").all()
    assert table["coco_url"].str.startswith("http://images.cocodataset.org/").all()


def test_real_coco_link_offline_says_so(cache):
    """Here (no network) the shipped coco_url cannot load; the card says so within the timeout."""
    import socket

    try:
        socket.getaddrinfo("images.cocodataset.org", 80)
    except OSError:
        pass
    else:
        pytest.skip("this machine can resolve images.cocodataset.org (online)")
    p = Preview(am.datasets.clip_coco500())
    p.remote_timeout = 2.0
    start = time.perf_counter()
    msg, buffers, returned = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert returned < 0.5 and time.perf_counter() - start < 3.5 and buffers == []
    assert msg["error"].startswith("photo not loaded: could not reach images.cocodataset.org")
    assert msg["credit"]["source"].endswith("000000179765.jpg")
