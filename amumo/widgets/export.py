"""Standalone HTML export of widgets: one file that renders offline from ``file://``.

``ipywidgets.embed.embed_minimal_html`` loads require.js and the widget manager from
CDNs (a blank page offline) and by default drops anywidget's ``_esm``/``_css`` from the
saved state. :func:`save_html` instead inlines three vendored scripts (copied from
npm by ``npm run build`` into ``amumo/static/vendor/``, see ``scripts/vendor.mjs``):

- ``require.min.js``: requirejs, which the widget manager uses to find modules;
- ``anywidget.amd.js``: anywidget's front end as the AMD module ``anywidget``;
- ``embed-amd.js``: ``@jupyter-widgets/html-manager`` with ``@jupyter-widgets/base``
  and ``controls`` (so ipywidgets containers and controls work too);

followed by the full state of the widget and of every widget it refers to
(``drop_defaults=False``: ``_esm``, ``_css`` and binary buffers, base64-encoded) and a
view of the widget. Everything the page does afterwards happens in the browser:
hover and any interaction written in the widget's JavaScript keep working, while
anything that needs the Python kernel (observers, custom messages, lazy data
requests) cannot. Widgets that normally fetch data lazily can override
:meth:`HTMLExportMixin._exporting_html` to put that data into their state while
the export runs.

The vendored scripts weigh about 3.7 MB uncompressed; with ``compress=True`` (the
default) the widget manager travels gzip-compressed and is unpacked by the browser
(``DecompressionStream``: Chrome 80+, Firefox 113+, Safari 16.4+), giving pages of
about 1.3 MB plus the widget's own state.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import html
import json
import os
import re
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from ipywidgets import DOMWidget
from ipywidgets.embed import dependency_state, embed_data
from ipywidgets.widgets import widget as widget_module
from ipywidgets.widgets.widget import _remove_buffers

from amumo.embeddings.io import atomic_write_bytes

__all__ = ["HTMLExportMixin", "save_html", "VENDOR_DIR", "VENDORED_MODULES"]

VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"
_VENDOR_FILES = ("require.min.js", "anywidget.amd.js", "embed-amd.js")

#: Front-end modules the exported page carries itself; others load from a CDN (online only).
VENDORED_MODULES = frozenset(
    {"anywidget", "@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
)

_REF = re.compile(r"IPY_MODEL_([0-9a-f]{32})")
_HREF = re.compile(r"^(https?:)?//", re.IGNORECASE)
_END_SCRIPT = re.compile(r"</(script)", re.IGNORECASE)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{generator}">
<title>{title}</title>
<style>body {{ margin: 16px; font-family: system-ui, sans-serif; }}</style>
{scripts}
</head>
<body>
<div class="amumo-export">
<script type="application/vnd.jupyter.widget-state+json">
{state}
</script>
<script type="application/vnd.jupyter.widget-view+json">
{view}
</script>
</div>
</body>
</html>
"""

# Unpacks the gzip+base64 widget manager and runs it as an inline script. The manager
# renders the widgets itself once the document has loaded (or at once if it has).
_UNPACK = """(async () => {
  const packed = document.getElementById("amumo-embed-gz");
  const bytes = Uint8Array.from(atob(packed.textContent.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const script = document.createElement("script");
  script.textContent = await new Response(stream).text();
  document.head.appendChild(script);
})().catch((err) => {
  document.body.insertAdjacentText("afterbegin", "amumo export: could not unpack the " +
    "widget manager (" + err + "); this page needs Chrome 80+, Firefox 113+ or Safari 16.4+.");
});"""


class HTMLExportMixin:
    """Adds :meth:`save_html` to a widget class (an ``anywidget.AnyWidget`` or any DOMWidget).

    Examples
    --------
    >>> import anywidget, traitlets
    >>> from amumo.widgets.export import HTMLExportMixin
    >>> class Hello(HTMLExportMixin, anywidget.AnyWidget):
    ...     _esm = "export default { render({ model, el }) { el.textContent = model.get('v'); } }"
    ...     v = traitlets.Unicode("hello").tag(sync=True)
    >>> Hello().save_html("hello.html")  # doctest: +SKIP
    PosixPath('hello.html')
    """

    def save_html(self, path: str | os.PathLike[str], title: str | None = None) -> Path:
        """Write this widget as a standalone HTML page that works offline.

        See :func:`amumo.widgets.export.save_html` for details.
        """
        return save_html(self, path, title=title)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def _exporting_html(self) -> Iterator[None]:
        """Context in which the state is captured for export (override to add data).

        The page has no kernel, so a widget that fetches data lazily (thumbnails,
        captions) can put it into synced traits here and restore them afterwards.
        """
        yield


def save_html(
    widget: DOMWidget,
    path: str | os.PathLike[str],
    title: str | None = None,
    *,
    compress: bool = True,
    overwrite: bool = True,
) -> Path:
    """Write ``widget`` as one self-contained HTML file that renders offline.

    The page holds the JavaScript of the widget manager, anywidget and the widget's own
    ES module, and the full state of the widget and of all widgets it refers to
    (children, linked widgets), binary buffers included. It opens from disk
    (``file://``) with no network and no kernel; interactions written in JavaScript
    (hover, zoom, toggles handled in the browser) keep working, Python callbacks do not.

    Parameters
    ----------
    widget : ipywidgets.DOMWidget
        An ``anywidget.AnyWidget``, an ipywidgets control or container (``VBox`` ...).
    path : str or os.PathLike
        Output file, normally ending in ``.html``; written atomically.
    title : str, optional
        Page title; defaults to ``"<ClassName> — amumo"``.
    compress : bool, default True
        Ship the 3.6 MB widget manager gzip-compressed (about 1.2 MB) and unpack it in
        the browser; ``False`` inlines it as plain JavaScript (works in any browser).
    overwrite : bool, default True
        Replace an existing file; ``False`` raises ``FileExistsError`` instead.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    TypeError
        ``widget`` is not a displayable ipywidgets/anywidget widget.
    ValueError
        The widget's ``_esm``/``_css`` is a URL (dev server): it would not load offline.
    FileNotFoundError
        The vendored scripts are missing (run ``npm run build`` in a source checkout).

    Warns
    -----
    UserWarning
        A widget in the state uses a front-end module that is not vendored (e.g. a
        third-party widget library): the page loads it from a CDN, so it needs network.

    Examples
    --------
    >>> import ipywidgets as W
    >>> from amumo.widgets.export import save_html
    >>> page = save_html(W.VBox([W.HTML("<b>Hi</b>"), W.IntSlider(3)]), "hi.html")  # doctest: +SKIP
    """
    if not isinstance(widget, DOMWidget):
        raise TypeError(
            f"widget must be a displayable widget (anywidget.AnyWidget or an ipywidgets "
            f"DOMWidget such as VBox), got {type(widget).__name__}."
        )
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}.")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")

    hook = getattr(widget, "_exporting_html", None)
    context = hook() if callable(hook) else contextlib.nullcontext()
    try:
        with context:
            state = _complete(dependency_state(widget, drop_defaults=False))
            _add_export_state(state)
            data = embed_data(views=[widget], drop_defaults=False, state=state)
    except AttributeError as exc:
        if "comm_id" not in str(exc):
            raise
        raise ValueError(
            f"{type(widget).__name__} (or a widget it refers to) was closed and can no longer "
            "be exported; re-create the widget and export again."
        ) from exc

    manager_state = data["manager_state"]
    _check_state(manager_state["state"])
    page = _PAGE.format(
        generator=html.escape(f"amumo {_amumo_version()} (amumo.widgets.export.save_html)"),
        title=html.escape(title if title is not None else f"{type(widget).__name__} — amumo"),
        scripts=_scripts(compress),
        state=_json_for_script(manager_state),
        view=_json_for_script(data["view_specs"][0]),
    )
    return atomic_write_bytes(path, page.encode("utf-8"), overwrite=overwrite)


def _complete(state: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add widgets referenced as ``IPY_MODEL_<id>`` anywhere in ``state`` but not included.

    ``ipywidgets.embed.dependency_state`` follows direct, list and dict references only;
    a reference nested deeper would otherwise be missing from the page.
    """
    instances = widget_module._instances
    pending = list(state)
    while pending:
        refs = _REF.findall(json.dumps(state[pending.pop()]["state"]))
        for model_id in refs:
            if model_id in state:
                continue
            ref = instances.get(model_id)
            if ref is None:
                raise ValueError(
                    f"the widget state refers to widget {model_id}, which no longer exists "
                    "(closed?); the page could not show it. Re-create the widget and export again."
                )
            state[model_id] = ref._get_embed_state(drop_defaults=False)
            pending.append(model_id)
    return state


def _add_export_state(state: dict[str, dict[str, Any]]) -> None:
    """Merge what each widget adds for a page without kernel (``_html_export_state()``:
    trait name -> value, bytes allowed anywhere inside) into its captured state."""
    for model_id, entry in state.items():
        hook = getattr(widget_module._instances.get(model_id), "_html_export_state", None)
        if not callable(hook):
            continue
        extra = hook()
        if not extra:
            continue
        fields, paths, buffers = _remove_buffers(extra)
        entry["state"].update(fields)
        kept = [b for b in entry.get("buffers", []) if b["path"][0] not in extra]
        kept += [
            {"encoding": "base64", "path": path, "data": base64.standard_b64encode(data).decode()}
            for path, data in zip(paths, buffers, strict=True)
        ]
        if kept:
            entry["buffers"] = kept


def _check_state(models: dict[str, dict[str, Any]]) -> None:
    """Reject states that cannot work offline; warn about modules loaded from a CDN."""
    remote: dict[str, str] = {}
    for model_id, model in models.items():
        fields = model.get("state", {})
        for key in ("_esm", "_css"):
            value = fields.get(key)
            if isinstance(value, str) and _HREF.match(value.strip()):
                raise ValueError(
                    f"widget {fields.get('_anywidget_id', model_id)} has {key}={value!r}, a URL "
                    "(anywidget dev server); an offline page needs the code itself. Unset "
                    "ANYWIDGET_HMR / build the bundle, or pass the file content as the trait."
                )
        for module in (model.get("model_module"), fields.get("_view_module")):
            if module and module not in VENDORED_MODULES:
                remote.setdefault(module, model_id)
    for module, model_id in sorted(remote.items()):
        warnings.warn(
            f"widget {model_id} uses the front-end module {module!r}, which the page does not "
            "carry; it will be loaded from a CDN, so the page needs network.",
            UserWarning,
            stacklevel=3,
        )


def _json_for_script(obj: Any) -> str:
    """JSON safe inside ``<script>``: every ``<`` escaped (``\\u003c`` is valid JSON)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _amumo_version() -> str:
    try:
        from amumo._util import __version__

        return __version__
    except ImportError:  # pragma: no cover - partial installs
        return "unknown"


@lru_cache(maxsize=2)
def _scripts(compress: bool) -> str:
    """The ``<script>`` elements loading requirejs, anywidget and the widget manager."""
    sources = {name: _vendor_text(name) for name in _VENDOR_FILES}
    parts = [
        f"<script>\n{sources['require.min.js']}\n</script>",
        f"<script>\n{sources['anywidget.amd.js']}\n</script>",
    ]
    if compress:
        packed = gzip.compress(sources["embed-amd.js"].encode("utf-8"), compresslevel=9, mtime=0)
        encoded = base64.b64encode(packed).decode("ascii")
        lines = "\n".join(encoded[i : i + 120] for i in range(0, len(encoded), 120))
        parts.append(
            f'<script type="application/gzip;base64" id="amumo-embed-gz">\n{lines}\n</script>'
        )
        parts.append(f"<script>\n{_UNPACK}\n</script>")
    else:
        parts.append(f"<script>\n{sources['embed-amd.js']}\n</script>")
    return "\n".join(parts)


def _vendor_text(name: str) -> str:
    file = VENDOR_DIR / name
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} is missing: the vendored export scripts are built by `npm run build` "
            "(scripts/vendor.mjs) and ship with the package; reinstall amumo or run `make js`."
        )
    text = file.read_text(encoding="utf-8")
    if "<!--" in text:
        raise RuntimeError(f"{file} contains '<!--', which cannot be inlined in <script>.")
    return _END_SCRIPT.sub(r"<\\/\1", text)
