"""Photos linked in the meta (coco_url) are fetched by the kernel, cached, sent as thumbnails,
with their licence line; offline, the card says so quickly; a switch turns it off."""

from __future__ import annotations

import http.server
import io
import json
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
    # the test servers listen on 127.0.0.1: opt in to a local image server (the refusal
    # of non-public addresses, the default, is tested with the variable unset)
    monkeypatch.setenv("AMUMO_REMOTE_PRIVATE_HOSTS", "1")
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
    # what failed, not a guess ("is the kernel offline?" only when a name does not resolve)
    assert "connection was refused" in msg["error"] and "offline" not in msg["error"]
    assert msg["credit"]["text"] == "Attribution License"
    # The next pair on the same host fails at once (no queue of doomed downloads).
    start = time.perf_counter()
    msg, _, _ = ask(p, {"type": "item", "pair": 1, "modality": "image"})
    assert "connection was refused" in msg["error"] and time.perf_counter() - start < 0.5


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


# ---------------------------------------------------------------- hostile links (issue 20)
class _Redirects(http.server.BaseHTTPRequestHandler):
    """Answers /to?<url> with a 302 to <url>; /drip with a byte every 0.1 s; else a photo."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        if self.path.startswith("/to?"):
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.end_headers()
            return
        if self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(600):  # a minute, unless the client gives up first
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        body = _jpeg(3)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tricky_server():
    _Redirects.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("where", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}",
                                   "169.254.169.254", "10.1.2.3:{port}", "192.168.0.1",
                                   "0.0.0.0:{port}", "[::ffff:127.0.0.1]:{port}"])
def test_non_public_addresses_are_refused_by_default(tricky_server, monkeypatch, where):
    monkeypatch.delenv("AMUMO_REMOTE_PRIVATE_HOSTS")
    port = tricky_server.rsplit(":", 1)[1]
    url = f"http://{where.format(port=port)}/latest/meta-data/x.jpg"
    with pytest.raises(remote.RemoteImageRefused, match=r"refused to fetch from .*(loopback|"
                       r"link-local|private|not a public).*AMUMO_REMOTE_PRIVATE_HOSTS=1"):
        remote.fetch_image(url, timeout=2)
    assert _Redirects.hits == []  # nothing was sent
    # the widget's card says so, without waiting for a timeout
    p = Preview(_emb([url, url]))
    msg, _, _ = ask(p, {"type": "item", "pair": 0, "modality": "image"}, timeout=3)
    assert msg["error"].startswith("photo not loaded: refused to fetch from")
    assert _Redirects.hits == []
    # the named opt-in for a local image server
    if where.startswith("127.0.0.1"):
        assert remote.fetch_image(url, timeout=2, allow_private=True)[:2] == b"\xff\xd8"
        p.remote_private_hosts = True
        msg, buffers, _ = ask(p, {"type": "item", "pair": 1, "modality": "image"})
        assert msg.get("mime") == "image/jpeg", msg


def test_redirects_to_other_schemes_or_non_public_addresses_are_refused(tricky_server,
                                                                        monkeypatch):
    monkeypatch.delenv("AMUMO_REMOTE_PRIVATE_HOSTS")
    # let 127.0.0.1 (the test server) count as public, as a real photo host would
    original = remote._address_problem
    monkeypatch.setattr(remote, "_address_problem",
                        lambda a: None if a == "127.0.0.1" else original(a))
    assert remote.fetch_image(f"{tricky_server}/a.jpg", timeout=2)[:2] == b"\xff\xd8"
    for target, message in [("ftp://example.org/x.jpg", "not http"),
                            ("file:///etc/passwd", "not http"),
                            ("http://169.254.169.254/latest/meta-data/", "link-local"),
                            ("http://127.0.0.2/x.jpg", "loopback"),
                            ("http://u:s3cret@example.org/x.jpg", "user name or password")]:
        _Redirects.hits = []
        with pytest.raises(remote.RemoteImageRefused, match=message) as info:
            remote.fetch_image(f"{tricky_server}/to?{target}", timeout=2)
        assert "s3cret" not in str(info.value)
        assert _Redirects.hits == [f"/to?{target}"]  # the first hop only
    # a name that resolved to a public address but connects elsewhere (DNS rebinding):
    # the address actually connected to is checked before anything is sent
    monkeypatch.setattr(remote, "_address_problem", original)
    monkeypatch.setattr(remote, "_check_host", lambda host, port: None)
    _Redirects.hits = []
    with pytest.raises(remote.RemoteImageRefused, match=r"refused to fetch from 127\.0\.0\.1.*"
                                                        r"loopback"):
        remote.fetch_image(f"{tricky_server}/b.jpg", timeout=2)
    assert _Redirects.hits == []


def test_credentials_in_links_are_never_sent_or_shown(tricky_server):
    url = f"http://photographer:s3cret@{tricky_server[len('http://'):]}/c.jpg"
    with pytest.raises(ValueError, match=r"'http://\*\*\*@127\.0\.0\.1:\d+/c\.jpg' carries a "
                                         r"user name or password"):
        remote.fetch_image(url)
    p = Preview(_emb([url, url]))
    msg, _, _ = ask(p, {"type": "item", "pair": 0, "modality": "image"})
    assert "s3cret" not in json.dumps(msg) and "photographer" not in json.dumps(msg)
    assert "user name or password" in msg["error"] and "offline" not in msg["error"]
    assert msg["credit"]["source"].startswith("http://***@127.0.0.1")
    fields, _, _ = ask(p, {"type": "item", "pair": 1})  # the meta row the card lists
    assert fields["fields"]["coco_url"].startswith("http://***@127.0.0.1")
    assert "s3cret" not in json.dumps(fields)
    assert _Redirects.hits == []


def test_a_slow_drip_server_is_cut_off_and_threads_stay_bounded(tricky_server):
    """A server that sends a byte every 0.1 s never trips a per-read timeout: 200 hovers
    left 437 threads alive. Now each download ends within its time, and the threads are
    a fixed pool whatever is hovered."""
    def photo_threads() -> int:  # (the test server's own threads are not counted)
        return sum(t.name.startswith("amumo-photo") for t in threading.enumerate())

    start = time.perf_counter()
    with pytest.raises(remote.RemoteImageError, match=r"sent the photo too slowly .* in 1 s"):
        remote.fetch_image(f"{tricky_server}/drip/0.jpg", timeout=1.0)
    assert time.perf_counter() - start < 2.5
    urls = [f"{tricky_server}/drip/{i}.jpg" for i in range(60)]
    p = Preview(_emb(urls))
    p.remote_timeout = 1.0
    replies: list = []
    p.send = lambda msg, buffers=None: replies.append(msg)
    start = time.perf_counter()
    for pair in range(60):
        p._dispatch(p, {"type": "item", "pair": pair, "modality": "image", "id": pair}, [])
    assert time.perf_counter() - start < 1.0  # the kernel is never held up
    peak = 0
    while len(replies) < 60 and time.perf_counter() - start < 10:
        peak = max(peak, photo_threads())
        time.sleep(0.05)
    assert len(replies) == 60 and time.perf_counter() - start < 3.5  # each within 1 s + 1 s
    assert peak <= remote.MAX_DOWNLOADS + 1 and photo_threads() <= remote.MAX_DOWNLOADS + 1
    assert all("photo not loaded" in r["error"] for r in replies)
    # queued requests whose card already said "did not arrive" are dropped, not fetched:
    # each thread fetches what it can take before the 2 s deadline (1 s each, 3 at most)
    time.sleep(2.5)
    fetched = sum(h.startswith("/drip/") for h in _Redirects.hits) - 1
    assert fetched <= 3 * remote.MAX_DOWNLOADS < 60


def test_huge_images_are_refused_before_decoding(tmp_path):
    """A 12000 x 12000 PNG of a few hundred KB took a kernel from 148 MB to 1.25 GB."""
    import subprocess
    import sys

    from PIL import Image

    from amumo.widgets._encode import MAX_THUMBNAIL_PIXELS, thumbnail

    big = tmp_path / "big.png"
    Image.new("L", (9000, 9000), 128).save(big)  # 81 Mpx, ~80 KB on disk
    assert big.stat().st_size < 1_000_000 and 9000 * 9000 > MAX_THUMBNAIL_PIXELS
    with pytest.raises(ValueError, match=r"9,000 x 9,000 pixels \(81 Mpx\), more than the 40 "
                                         r"Mpx a preview decodes"):
        thumbnail(big)
    photo = tmp_path / "big.jpg"
    Image.new("RGB", (8000, 6000), (90, 120, 200)).save(photo, quality=50)  # 48 Mpx JPEG
    code = (
        "import resource, sys\n"
        "from amumo.widgets._encode import thumbnail\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"try:\n    thumbnail({str(big)!r})\nexcept ValueError:\n    pass\n"
        f"data, mime = thumbnail({str(photo)!r})\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base\n"
        "print(mime, grown // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    # refused without decoding; the JPEG decoded at 1/8 scale (1000 x 750), not 144 MB
    assert out[0] == "image/jpeg" and int(out[1]) < 60, out


def test_the_front_end_cannot_switch_remote_photos_back_on_or_write_outputs(photo_server,
                                                                            monkeypatch):
    urls = [f"{photo_server}/val2017/1.jpg", f"{photo_server}/val2017/2.jpg"]
    for make in (lambda: Preview(_emb(urls), remote_images=False),
                 lambda: (monkeypatch.setenv("AMUMO_REMOTE_IMAGES", "0"), Explorer(_emb(urls)))[1]):
        w = make()
        sent: list = []
        w.send_state = lambda key=None, _sent=sent: _sent.append(key)
        before = (w.remote_images, w.n_pairs, w.error, w.texts, dict(w.media))
        update = {"remote_images": True, "n_pairs": 99, "error": "pwned", "texts": b"x",
                  "hovered": 1}
        w._handle_msg({"content": {"data": {"method": "update", "state": update}},
                       "buffers": []})
        assert (w.remote_images, w.n_pairs, w.error, w.texts, dict(w.media)) == before
        assert w.hovered == 1  # an input the browser owns still goes through
        assert sent == [["error", "n_pairs", "remote_images", "texts"]]  # the truth, re-sent
        msg, _, _ = ask(w, {"type": "item", "pair": 0, "modality": "image"})
        assert "no media" in msg["error"] and _Handler.hits == []
        monkeypatch.delenv("AMUMO_REMOTE_IMAGES", raising=False)
