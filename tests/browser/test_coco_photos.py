"""The tour's data in a real JupyterLab: real captions, COCO photos fetched by the kernel
(here from a local HTTP server standing in for images.cocodataset.org), the licence line,
and a plain message when a photo cannot load (the real host is unreachable here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

SERVER_CELL = """
import os, io, tempfile, threading, http.server
os.environ["AMUMO_CACHE_DIR"] = tempfile.mkdtemp()
os.environ["AMUMO_REMOTE_PRIVATE_HOSTS"] = "1"  # the photo server below is local (127.0.0.1)
import numpy as np
from PIL import Image

def jpeg(seed):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, 320)[None, :, None] * np.ones((240, 1, 3))
    ramp[..., seed % 3] = rng.integers(60, 200)
    buffer = io.BytesIO()
    Image.fromarray(ramp.astype(np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()

PHOTOS = {f"/val2017/{i}.jpg": jpeg(i) for i in range(10)}

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = PHOTOS.get(self.path)
        if body is None:
            self.send_error(404); return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
PORT = server.server_address[1]
import socket
with socket.socket() as s:  # a port nobody listens on: a host the kernel cannot reach
    s.bind(("127.0.0.1", 0))
    CLOSED = s.getsockname()[1]
"""

EXPLORER_CELL = """
import amumo as am
coco = am.datasets.clip_coco500()
meta = coco.meta.copy()
meta.loc[:9, "coco_url"] = [f"http://127.0.0.1:{PORT}/val2017/{i}.jpg" for i in range(10)]
# Pair 200 stands for an offline kernel (its real coco_url would load where CI has network).
meta.loc[200, "coco_url"] = f"http://127.0.0.1:{CLOSED}/val2017/000000045229.jpg"
emb = am.Embeddings.from_arrays({m: coco[m] for m in coco.modalities}, meta=meta)
ex = am.Explorer(emb)
ex
"""


def test_preview_shows_coco_photo_fetched_by_kernel_and_offline_message(
    open_notebook, wait_for_output, run_cell, screenshot
):
    page = open_notebook([SERVER_CELL, EXPLORER_CELL])
    page.set_viewport_size({"width": 1760, "height": 2300})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    assert root.locator(".amumo-static-note").count() == 0  # live: no static-page note
    run_cell(page, "ex.hovered = 3")
    card = root.locator('.amumo-card[data-modality="image"][data-pair="3"]')
    card.locator("img").wait_for(timeout=15000)
    assert card.locator("img").evaluate("img => img.naturalWidth") == 192
    credit = card.locator(".amumo-credit")
    caption = run_cell(page, "print(emb.meta.loc[3, 'image_license'])").strip()
    assert credit.inner_text().startswith("photo: ") and caption in credit.inner_text()
    href = credit.locator("a").first.get_attribute("href")
    assert href.startswith("http://creativecommons.org/licenses/")
    text = root.locator('.amumo-card[data-modality="text"][data-pair="3"] .amumo-caption')
    assert text.inner_text().strip() == run_cell(page, "print(emb.meta.loc[3, 'caption'])").strip()
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(screenshot(page, "photo").with_name("coco-photo-preview.png")))
    # The photo went to amumo's cache folder (atomic write: no temporary file left).
    out = run_cell(page, "from pathlib import Path; print(sorted(p.suffix for p in "
                         "Path(os.environ['AMUMO_CACHE_DIR']).rglob('*') if p.is_file()))")
    assert out.strip() == "['.jpg']"

    # Pair 200's host cannot be reached: what failed is said plainly, at once.
    run_cell(page, "ex.hovered = 200")
    error = root.locator('.amumo-card[data-modality="image"][data-pair="200"] .amumo-thumb-error')
    error.wait_for(timeout=15000)
    assert error.inner_text().startswith("photo not loaded: could not reach 127.0.0.1:")
    assert "the connection was refused" in error.inner_text()
    root.screenshot(path=str(screenshot(page, "offline").with_name("coco-photo-offline.png")))
    # The kernel was never blocked: it answers at once.
    assert run_cell(page, "print(ex.hovered)").strip() == "200"


def test_readme_screenshot_coco_explorer_with_captions(
    open_notebook, wait_for_output, screenshot
):
    """The README picture (docs/explorer-coco.png is a copy of explorer-coco-captions.png):
    the tour's Explorer, clustered, a cross-modal cell hovered, the two real captions in the
    preview. Photos off (remote_images=False): this machine is offline."""
    import amumo as am

    captions = am.datasets.clip_coco500().meta["caption"]
    page = open_notebook([
        "import amumo as am",
        "ex = am.Explorer(am.datasets.clip_coco500(), cluster=True, remote_images=False)\nex",
    ])
    page.set_viewport_size({"width": 1760, "height": 2300})
    root = wait_for_output(page, ".amumo-explorer[data-rendered]")
    page.wait_for_timeout(500)
    root.scroll_into_view_if_needed()
    heat = root.locator(".amumo-heatmap-view")
    geo = json.loads(heat.get_attribute("data-geometry"))
    box = heat.locator("canvas.amumo-overlay").bounding_box()
    # A cell in the image-text quadrant, near its diagonal: an image and a caption.
    x = box["x"] + geo["left"] + geo["side"] * 0.80
    y = box["y"] + geo["top"] + geo["side"] * 0.30
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y)
    card = root.locator('.amumo-card[data-modality="text"] .amumo-caption')
    card.first.wait_for(timeout=5000)
    pair = int(root.locator('.amumo-card[data-modality="text"]').first.get_attribute("data-pair"))
    assert card.first.inner_text().strip() == captions[pair].strip()
    image_card = root.locator('.amumo-card[data-modality="image"] .amumo-caption')
    image_pair = int(
        root.locator('.amumo-card[data-modality="image"]').first.get_attribute("data-pair")
    )
    assert captions[image_pair].strip() in image_card.first.inner_text()
    page.wait_for_timeout(300)
    root.screenshot(path=str(screenshot(page, "page").with_name("explorer-coco-captions.png")))
