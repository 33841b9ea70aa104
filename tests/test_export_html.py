"""Python side of the static HTML export (the browser side is tests/browser/test_export.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path

import anywidget
import ipywidgets as W
import pytest
import traitlets
from ipywidgets import widget_serialization

from amumo.widgets import export
from amumo.widgets.export import HTMLExportMixin, save_html

STATE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">\n(.*?)\n</script>', re.S
)
VIEW = re.compile(
    r'<script type="application/vnd.jupyter.widget-view\+json">\n(.*?)\n</script>', re.S
)


class Tiny(HTMLExportMixin, anywidget.AnyWidget):
    _esm = "export default { render({ model, el }) { el.textContent = model.get('v'); } }"
    _css = ".tiny { color: red; }"
    v = traitlets.Unicode("hi").tag(sync=True)
    blob = traitlets.Bytes(b"").tag(sync=True)


class Holder(anywidget.AnyWidget):
    _esm = "export default { render() {} }"
    nested = traitlets.Dict().tag(sync=True, **widget_serialization)


def _state(page: Path) -> dict:
    return json.loads(STATE.search(page.read_text()).group(1))["state"]


def test_state_carries_esm_css_defaults_and_binary_buffers(tmp_path):
    payload = bytes(range(256)) * 3
    w = Tiny(blob=payload)
    page = save_html(w, tmp_path / "tiny.html", title="T")
    state = _state(page)
    mine = state[w.model_id]
    assert mine["model_module"] == "anywidget"
    assert mine["state"]["_esm"] == Tiny._esm
    assert mine["state"]["_css"] == Tiny._css
    assert mine["state"]["v"] == "hi"  # a default value, kept (drop_defaults=False)
    (buf,) = mine["buffers"]
    assert buf["path"] == ["blob"] and base64.b64decode(buf["data"]) == payload
    assert json.loads(VIEW.search(page.read_text()).group(1))["model_id"] == w.model_id
    # Only the widget and what it refers to (its layout), not every widget in the kernel.
    other = Tiny()
    assert other.model_id not in state
    assert set(state) == {w.model_id, w.layout.model_id}


def test_script_breakout_in_state_is_escaped(tmp_path):
    nasty = "</script><script>window.pwned = 1</script><!-- x"
    h = W.HTML(nasty)
    page = save_html(W.VBox([h]), tmp_path / "nasty.html")
    text = page.read_text()
    assert "<script>window.pwned" not in text
    assert _state(page)[h.model_id]["state"]["value"] == nasty


def test_nested_references_are_followed(tmp_path):
    child = Tiny(v="deep")
    holder = Holder(nested={"a": {"b": [child]}})  # deeper than ipywidgets' dependency finder
    state = _state(save_html(holder, tmp_path / "nested.html"))
    assert child.model_id in state
    assert child.layout.model_id in state


def test_closed_or_missing_widgets_are_an_error(tmp_path):
    child = Tiny()
    holder = Holder(nested={"a": {"b": [child]}})
    child.close()
    with pytest.raises(ValueError, match="was closed"):
        save_html(holder, tmp_path / "closed.html")
    ghost = Holder(nested={"a": {"b": ["IPY_MODEL_" + "0" * 32]}})
    with pytest.raises(ValueError, match="no longer exists"):
        save_html(ghost, tmp_path / "ghost.html")
    assert not (tmp_path / "closed.html").exists() and not (tmp_path / "ghost.html").exists()


def test_size_compress_and_determinism(tmp_path):
    w = Tiny()
    packed = save_html(w, tmp_path / "a.html")
    again = save_html(w, tmp_path / "b.html")
    plain = save_html(w, tmp_path / "c.html", compress=False)
    assert packed.read_bytes() == again.read_bytes()
    assert packed.stat().st_size < 1.5e6 < 3.5e6 < plain.stat().st_size
    assert 'id="amumo-embed-gz"' in packed.read_text()
    assert "DecompressionStream" not in plain.read_text()


def test_mixin_and_export_hook(tmp_path):
    class Lazy(Tiny):
        @contextlib.contextmanager
        def _exporting_html(self):
            old = self.v
            self.v = "all thumbnails"
            try:
                yield
            finally:
                self.v = old

    w = Lazy()
    page = w.save_html(tmp_path / "lazy.html", title="Lazy")
    assert _state(page)[w.model_id]["state"]["v"] == "all thumbnails"
    assert w.v == "hi"
    assert "<title>Lazy</title>" in page.read_text()


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="widget must be a displayable widget"):
        save_html("not a widget", tmp_path / "x.html")
    with pytest.raises(TypeError, match="widget must be a displayable widget"):
        save_html(W.Layout(), tmp_path / "x.html")
    with pytest.raises(TypeError, match="path must be"):
        save_html(Tiny(), 42)
    with pytest.raises(TypeError, match="title must be"):
        save_html(Tiny(), tmp_path / "x.html", title=3)
    (tmp_path / "exists.html").write_text("keep")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_html(Tiny(), tmp_path / "exists.html", overwrite=False)
    assert (tmp_path / "exists.html").read_text() == "keep"


def test_dev_server_esm_is_rejected(tmp_path):
    class Dev(anywidget.AnyWidget):
        _esm = "http://localhost:5173/widget.js"

    with pytest.raises(ValueError, match="_esm='http://localhost:5173/widget.js'"):
        save_html(Dev(), tmp_path / "dev.html")
    assert not (tmp_path / "dev.html").exists()


def test_unvendored_front_end_module_warns(tmp_path):
    class Foreign(W.DOMWidget):
        _model_module = traitlets.Unicode("ipyfancy").tag(sync=True)
        _view_module = traitlets.Unicode("ipyfancy").tag(sync=True)

    with pytest.warns(UserWarning, match="'ipyfancy'.*needs network"):
        save_html(W.VBox([Foreign()]), tmp_path / "foreign.html")


def test_missing_vendor_files_explain_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "VENDOR_DIR", tmp_path / "nowhere")
    export._scripts.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="npm run build"):
            save_html(Tiny(), tmp_path / "x.html")
    finally:
        export._scripts.cache_clear()


def test_vendored_anywidget_matches_installed_python_package():
    versions = json.loads((export.VENDOR_DIR / "versions.json").read_text())
    js = versions["anywidget"].split(".")[:2]
    py = anywidget.__version__.split(".")[:2]
    assert js == py, (
        f"vendored anywidget {versions['anywidget']} vs Python anywidget "
        f"{anywidget.__version__}: bump the npm devDependency and run `npm run build`"
    )
    for name in ("require.min.js", "anywidget.amd.js", "embed-amd.js", "LICENSES.txt"):
        assert (export.VENDOR_DIR / name).stat().st_size > 1000, name


def test_save_html_is_offered_at_the_top_level(tmp_path):
    """README: ``am.save_html(widget, path)`` (issue 21 item 10): the top-level function
    writes the same page as the widget's method."""
    import amumo as am

    assert "save_html" in am.__all__
    widget = Tiny(v="top level")
    top = am.save_html(widget, tmp_path / "top.html")
    method = widget.save_html(tmp_path / "method.html")
    assert top == tmp_path / "top.html" and top.exists()
    assert _state(top) == _state(method)
