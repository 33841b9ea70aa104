"""What an exported page (``save_html``) carries so that it does not pretend.

A static page has no kernel, so everything computed in Python must travel with it or
be switched off visibly. For a view of at most :data:`EXPORT_LIMIT` shown pairs the
export carries (as ``static_export`` in the widget state):

- the view traits for every combination of the on/off controls whose result is
  computed in Python (``closed``: "close the gap"; ``cluster``: the cluster order),
  so toggling them in the page swaps in the precomputed heatmap, scatter and metrics
  (2 controls -> 3 extra states; at 1,000 pairs each holds a 1,024² overview, about
  1 MB, so about 3.1 MB + 33 % base64);
- the meta row of every pair for the preview cards (about 0.4 KB a pair);
- a thumbnail of every image, at most :data:`EXPORT_THUMBNAIL` pixels (JPEG/PNG,
  2-6 KB each, so at most about 6 MB at 1,000 pairs); linked photos (``coco_url``)
  only when the kernel has already downloaded them (the cache), never fetched for
  the export.

Above the limit none of this is added and the page says so. Controls whose values
are continuous or open-ended (λ slider, projection, components, colour-by, caption
filter, model and augmentation pickers, cluster method and k) need the kernel in
every case: the page greys them out with a tooltip and a note at the top
(``js/lib/offline.js``).
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import numpy as np

from amumo.widgets import remote
from amumo.widgets._encode import thumbnail

__all__ = ["EXPORT_LIMIT", "EXPORT_THUMBNAIL", "static_export"]

#: Largest number of shown pairs for which states, meta rows and thumbnails are exported.
EXPORT_LIMIT = 1000
#: Longer side of exported thumbnails, in pixels.
EXPORT_THUMBNAIL = 96
#: On/off controls whose states are precomputed (those the widget has).
PRECOMPUTED = ("closed", "cluster")
#: Traits that change with those controls (those the widget has are stored per state).
STATE_TRAITS = (
    "overview", "overview_size", "scale", "overviews", "scales", "order", "cluster_bounds",
    "xy", "colors", "palette", "legend", "axis_labels", "metrics", "error", "cluster_legend",
    "failures", "calibration", "cluster_portraits", "query_result",
)


def _states(widget: Any, controls: list[str]) -> dict[str, dict[str, Any]]:
    """The state traits for every on/off combination of ``controls`` but the current one."""
    traits = [t for t in STATE_TRAITS if widget.has_trait(t)]
    saved = {c: bool(getattr(widget, c)) for c in controls}
    current = "".join("1" if saved[c] else "0" for c in controls)
    states: dict[str, dict[str, Any]] = {}
    with widget.hold_sync():  # the live view gets the restored values once, at the end
        try:
            # The last control varies slowest: "cluster" (slow: a new tree) flips only once.
            for reverse in itertools.product((False, True), repeat=len(controls)):
                combo = reverse[::-1]
                key = "".join("1" if v else "0" for v in combo)
                if key == current:
                    continue
                for control, value in zip(controls, combo, strict=True):
                    setattr(widget, control, value)
                widget.wait()
                states[key] = {t: getattr(widget, t) for t in traits}
        finally:
            for control, value in saved.items():
                setattr(widget, control, value)
            widget.wait()
    return states


def _small_jpeg(image: Any) -> tuple[bytes, str]:
    """``image`` (PIL, array, path or file) at most :data:`EXPORT_THUMBNAIL` pixels per
    side, as JPEG (photos) or PNG when that is smaller (flat drawings) or has transparency."""
    from PIL import Image

    data, mime = thumbnail(image, EXPORT_THUMBNAIL)
    if mime == "image/jpeg":
        return data, mime
    small = Image.open(io.BytesIO(data))
    if small.mode in ("RGBA", "LA") or "transparency" in small.info:
        return data, mime
    buffer = io.BytesIO()
    small.convert("RGB").save(buffer, format="JPEG", quality=82)
    jpeg = buffer.getvalue()
    return (jpeg, "image/jpeg") if len(jpeg) < len(data) else (data, mime)


def _thumbs(widget: Any, ids: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per image modality: concatenated thumbnails + offsets; and photo credits."""
    out: dict[str, Any] = {}
    credits: dict[str, Any] = {}
    for modality, has_media in widget._media.items():
        linked = widget._remote_photo(modality)
        if not (has_media or linked):
            continue
        blobs: list[bytes] = []
        mimes: list[str] = []
        missing: dict[str, str] = {}
        for pair in ids.tolist():
            data = b""
            mime = ""
            try:
                if linked:
                    credits[str(pair)] = widget._photo_credit(pair)
                    raw = remote.cached_image(credits[str(pair)]["source"])
                    if raw is None:
                        missing[str(pair)] = (
                            "photo not in this export (the kernel had not downloaded it)"
                        )
                    else:
                        data, mime = _small_jpeg(io.BytesIO(raw))
                else:
                    data, mime = _small_jpeg(widget._dataset.item(modality, pair))
            except Exception as err:  # noqa: BLE001 - an unreadable image: say so in the card
                missing[str(pair)] = f"cannot read {modality} #{pair}: {err}"
                data, mime = b"", ""
            blobs.append(data)
            mimes.append(mime)
        offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(int).tolist()
        out[modality] = {
            "data": b"".join(blobs),
            "offsets": offsets,
            "mimes": mimes,
            "ids": ids.tolist(),
            "missing": missing,
        }
    return out, credits


def static_export(widget: Any) -> dict[str, Any]:
    """The ``static_export`` value for ``widget`` (an ItemsMixin view) in a save_html page."""
    ids = np.asarray(widget._ids)
    n = len(ids)
    # "cluster" only where it reorders a heatmap (a Scatter alone has no cluster toggle).
    controls = [
        c for c in PRECOMPUTED
        if widget.has_trait(c) and (c != "cluster" or widget.has_trait("order"))
    ]
    if n > EXPORT_LIMIT:
        return {
            "version": 1,
            "n_pairs": n,
            "controls": [],
            "states": {},
            "note": (
                f"{n:,} pairs exceed the export limit of {EXPORT_LIMIT:,}: hover, zoom and the "
                "colour map work here; close the gap, clustering, the other (greyed-out) "
                "controls, item details and thumbnails need the notebook's kernel."
            ),
            "no_thumbs": f"no thumbnails in exports of more than {EXPORT_LIMIT:,} pairs",
        }
    states = _states(widget, controls) if controls else {}
    table = widget._table
    fields = {
        str(int(pair)): widget._shown_fields(table.iloc[int(pair)])
        for pair in ids
    }
    thumbs, credits = _thumbs(widget, ids)
    views = [t for t in ("overview", "overviews", "xy") if widget.has_trait(t)]
    works = ["hover", "zoom"] if views else ["the cards of every pair"]
    if widget.has_trait("colormap"):
        works.append("colour map")
    if "closed" in controls:
        works.append("close the gap")
    if "cluster" in controls:
        works.append("cluster (precomputed)")
    note = (
        f"{', '.join(works)} work here; the greyed-out controls need the notebook's kernel "
        "(hover them to see why)."
    )
    missing = sum(len(t["missing"]) for t in thumbs.values())
    if missing:
        note += (
            f" Images: {n * len(thumbs) - missing:,} of {n * len(thumbs):,} in this export"
            + (" (linked photos only when the kernel had downloaded them)." if credits else ".")
        )
    return {
        "version": 1,
        "n_pairs": n,
        "controls": controls,
        "states": states,
        "fields": fields,
        "thumbs": thumbs,
        "credits": credits,
        "note": note,
    }
