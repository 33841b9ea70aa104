"""Smoke test of the browser harness: an inline anywidget round-trips through JupyterLab."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

WIDGET_CELL = '''
import anywidget
import traitlets

class Clicker(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const box = document.createElement("div");
      box.className = "harness-clicker";
      box.style.cssText = "width:200px;height:60px;background:#8cf;padding:8px";
      const draw = () => {
        box.textContent = `${model.get("label")}: ${model.get("count")}`;
        box.dataset.count = String(model.get("count"));
      };
      box.addEventListener("click", () => {
        model.set("count", model.get("count") + 1);
        model.save_changes();
      });
      model.on("change:count", draw);
      model.on("change:label", draw);
      draw();
      box.dataset.rendered = "1";
      el.appendChild(box);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)
    label = traitlets.Unicode("clicks").tag(sync=True)

w = Clicker()
w
'''


def test_inline_anywidget_round_trip(open_notebook, wait_for_output, run_cell, screenshot):
    page = open_notebook(["import sys\nprint(sys.executable)", WIDGET_CELL])

    # The kernel runs on the interpreter running the tests (the pinned kernelspec).
    kernel_python = run_cell(page, "import sys; print(sys.executable)")
    assert Path(kernel_python).resolve() == Path(sys.executable).resolve()

    box = wait_for_output(page, ".harness-clicker[data-rendered]")
    assert box.text_content() == "clicks: 0"
    screenshot(page, "rendered")

    # Browser -> kernel: two clicks in the page reach the Python trait.
    box.click()
    box.click()
    page.wait_for_function(
        "() => document.querySelector('.harness-clicker').dataset.count === '2'", timeout=10_000
    )
    # ipywidgets holds a state update back while an earlier one awaits the kernel's reply,
    # so the second click may reach the kernel just after a cell run at once: poll.
    deadline = time.monotonic() + 10
    count = run_cell(page, "print(w.count)")
    while count != "2" and time.monotonic() < deadline:
        time.sleep(0.2)
        count = run_cell(page, "print(w.count)")
    assert count == "2"

    # Kernel -> browser: a trait set in Python redraws the view.
    run_cell(page, "w.label = 'from python'")
    page.wait_for_function(
        "() => document.querySelector('.harness-clicker').textContent === 'from python: 2'",
        timeout=10_000,
    )
    screenshot(page, "after-round-trip")


def test_cell_error_is_reported(open_notebook):
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        open_notebook(["x = 1", "1 / 0", "print('never')"])
