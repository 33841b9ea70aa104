"""TrainingMonitor in a real JupyterLab + headless Chromium: the plots move while the cell runs.

The training cell is started without waiting for it; the test then samples the page and
checks that the monitor's status line and the plotly loss curve advanced epoch by epoch, and
that the running cell's own printed output appeared, all *before* the cell finished.
"""

from __future__ import annotations

import time

import pytest

from browser.conftest import _JS_START_CELL  # the harness's cell-start helper

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.slow]

EPOCHS = 6
SETUP = """
from amumo.data import SyntheticShapes
from amumo.training import TrainingMonitor, train_contrastive
ds = SyntheticShapes(600, seed=0, image_size=32)
monitor = TrainingMonitor()
monitor
"""
TRAIN = f"""
import time
def callback(history):
    monitor(history)
    print("finished epoch", len(history) - 1, flush=True)
    time.sleep(0.3)  # keep the run observable on a fast machine
history = train_contrastive(ds, epochs={EPOCHS}, probe=64, callback=callback)
print("training done")
"""
# Number of points on the loss curve (trace 3: after the scatter's image/text/pair traces).
JS_LOSS_POINTS = """() => {
  const gd = document.querySelector('.jp-OutputArea-output .js-plotly-plot');
  if (!gd || !gd.data || gd.data.length < 4 || !gd.data[3].y) return -1;
  return gd.data[3].y.length;
}"""
JS_STATUS = """() => {
  const el = [...document.querySelectorAll('.jp-OutputArea-output .widget-html-content')]
    .find((e) => e.textContent.includes('epoch'));
  return el ? el.textContent : '';
}"""
JS_RUNNING_CELL_TEXT = """() => {
  const cells = document.querySelectorAll('.jp-Notebook .jp-CodeCell');
  const last = cells[cells.length - 1];
  return last ? last.querySelector('.jp-OutputArea').textContent : '';
}"""


def test_monitor_updates_live_while_training(
    open_notebook, wait_for_output, screenshot  # noqa: F811 - fixtures imported above
):
    pytest.importorskip("torch")
    page = open_notebook([SETUP], timeout=180)
    wait_for_output(page, ".js-plotly-plot", timeout=60)

    page.evaluate(_JS_START_CELL, TRAIN)
    samples = []  # (loss points, status text, printed text) seen while the cell still ran
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        done = page.evaluate("() => window.__amumoCell.done")
        if done:
            break
        samples.append((page.evaluate(JS_LOSS_POINTS), page.evaluate(JS_STATUS),
                        page.evaluate(JS_RUNNING_CELL_TEXT)))
        if samples[-1][0] == 3:
            screenshot(page, "while-training")  # mid-run: three points on the loss curve
        page.wait_for_timeout(200)
    else:
        raise AssertionError("the training cell did not finish within 180 s")
    result = page.evaluate("() => window.__amumoCell")
    assert result["error"] is None, result["error"]

    # The loss curve grew point by point while the cell was running ...
    counts = sorted({points for points, _, _ in samples if points > 0})
    assert len(counts) >= 3, f"loss curve sizes seen during the run: {counts}"
    # ... the status line named several epochs before the end ...
    epochs_seen = {status.split("epoch ")[1].split("/")[0]
                   for _, status, _ in samples if "epoch " in status}
    assert len(epochs_seen) >= 3, epochs_seen
    # ... and the cell's own printed output was not held back either.
    assert any("finished epoch 2" in text for _, _, text in samples)

    page.wait_for_function(f"() => ({JS_LOSS_POINTS})() === {EPOCHS + 1}", timeout=10_000)
    assert f"epoch {EPOCHS}/{EPOCHS}" in page.evaluate(JS_STATUS)
    screenshot(page, "after-training")
