"""The Explorer's views of more pairs than memory holds (issue 24): one streamed pass.

Above :data:`STREAM_PAIRS` pairs (ten million 512-d pairs are 20 GB of float16 on disk,
more than this machine's RAM) the heatmap overview and the scatter coordinates are made
in **one** background pass over every row (:class:`amumo.analysis.streaming.RowPass`):

- the projection frame (PCA, or the gap axis) is fitted on a seeded sample of
  :data:`amumo.analysis.streaming.SAMPLE_PAIRS` pairs (runs of consecutive pairs, a
  second to read), then every row is placed in it during the pass;
- the overview's block sums are added during the same pass
  (:class:`amumo.widgets._matrix.OverviewSums`), as are the column sums of every modality
  (exact centroids, which the close-the-gap toggle starts from);
- the browser receives a seeded sample of at most ``max_points`` items (the status line
  says so) and, when the user zooms in, asks for the pairs in view
  (``{"type": "viewport"}``: up to :data:`ZOOM_PAIRS` more, seeded);
- the metrics panel (GapStats, one more pass, and a sampled retrieval) and the science
  panels start after the views, so the passes do not compete for the disk; their progress
  shows in ``busy``.

Closing the gap keeps the moved rows as rows computed when read
(:mod:`amumo.embeddings._lazy`, no 41 GB copy), with the steps estimated on a sample from
the exact centroids of the last pass (:func:`amumo.close_gap` ``sample=``); the views'
pass then measures the remaining gap exactly and adds one more step if it is not below
``tol``. Metrics are always exact (sums) or estimates with intervals (retrieval).

Below the threshold nothing here runs: the views are computed as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from amumo.analysis.streaming import (
    SAMPLE_PAIRS,
    ColumnTotals,
    Placement,
    RowPass,
    gather,
    sample_gap_frame,
    sample_pca_frame,
    spread_sample,
)
from amumo.embeddings.container import Embeddings
from amumo.widgets._base import JobCancelled, request
from amumo.widgets._matrix import OverviewSums, auto_scale, display_rows

__all__ = ["StreamedViewsMixin", "STREAM_PAIRS", "ZOOM_PAIRS"]

#: Above this many shown pairs the Explorer's views are made in one streamed pass.
STREAM_PAIRS = 2_000_000
#: Pairs sent at most for one zoomed-in view (seeded among the pairs in view).
ZOOM_PAIRS = 250_000
#: Closing steps appended after the views' pass found the gap not yet closed (at most).
MAX_CORRECTIONS = 3


class StreamedViewsMixin:
    """Kernel side of the streamed views (see the module docstring); mixed into Explorer."""

    # ------------------------------------------------------------------ when
    def _streaming(self) -> bool:
        base = getattr(self, "_base", None)
        return base is not None and len(base) > STREAM_PAIRS

    # ------------------------------------------------------------------ frame
    def _stream_frame(self, base: Embeddings, method: str) -> tuple[str, np.ndarray, np.ndarray]:
        """``(method, mean, components (D, k))`` of the projection frame, fitted on a sample
        of ``base`` once per base, method, fit_on, seed and modality pair."""
        from amumo.widgets.scatter import PCA_COMPONENTS

        a, b = self._gap_pair_now()
        names = base.modalities
        k = min(PCA_COMPONENTS, base.dim)
        key = (id(base), method, self.fit_on, self.seed, a, b, k)
        cached = getattr(self, "_stream_frames", {})
        if key not in cached:
            if method == "gap":
                known = self._known_centroids(base)
                mean, comps = sample_gap_frame(base, a, b, names, k, seed=self.seed,
                                               sample=SAMPLE_PAIRS, centroids=known)
            else:
                mean, comps = sample_pca_frame(base, names, k, seed=self.seed,
                                               sample=SAMPLE_PAIRS, fit_on=self.fit_on)
            cached = {key: (method, mean, comps)}  # one frame kept: the base's
            self._stream_frames = cached
        return cached[key]

    def _known_centroids(self, emb: Embeddings) -> dict[str, np.ndarray] | None:
        """Exact centroids of ``emb`` from its last streamed pass, if any."""
        totals = getattr(self, "_stream_totals", None)
        if totals is None or totals[0] is not emb:
            return None
        return {m: totals[1][i] / len(emb) for i, m in enumerate(emb.modalities)}

    # ------------------------------------------------------------------ the pass
    def _stream_views(self, *, overview: bool = True, coords: bool = True,
                      then: Callable[[], None] | None = None) -> None:
        """Overview and / or coordinates of ``self._emb`` in one background pass; ``then``
        runs after it (the metrics and science panels)."""
        emb, base = self._emb, self._base
        names = emb.modalities
        n, m = len(emb), len(names)
        order = self._cluster_order
        size = int(self.max_overview)
        method = self.projection if self.projection in ("pca", "gap") else "pca"
        if self.projection not in ("pca", "gap") and self._coords is not None:
            coords = False  # UMAP / t-SNE keep their own job
        label = f"reading {n * m:,} rows"
        keys = ([("heatmap", label)] if overview else []) + ([("scatter", label)] if coords
                                                               else [])
        if not keys:
            if then is not None:
                then()
            return

        def progress(fraction: float) -> None:
            step = int(fraction * 50)  # every 2 %
            if step != getattr(self, "_stream_step", None):
                self._stream_step = step
                text = f"{label}… {fraction:.0%}"
                self.busy = {**self.busy, **{key: text for key, _ in keys}}

        first = coords and self._coords is None

        def compute(cancelled: Callable[[], bool]) -> dict[str, Any]:
            self._stream_times = {"start": time.time()}  # when each step ended (benchmarks)
            frame = self._stream_frame(base, method) if coords else None
            self._stream_times["frame"] = time.time()
            if first and frame is not None and not cancelled():
                self._show_preview(emb, frame)  # a sample drawn while the pass runs
                self._stream_times["preview"] = time.time()
            consumers: list[Any] = [ColumnTotals(m, emb.dim)]
            if overview:
                consumers.append(OverviewSums(n, m, size, order))
            if frame is not None:
                consumers.append(Placement(n, m, frame[1], frame[2]))
            try:
                results = RowPass(emb, names).run(consumers, progress=progress,
                                                  should_stop=cancelled)
            except Exception as err:
                if cancelled():
                    raise JobCancelled from err
                raise
            self._stream_times["pass"] = time.time()
            out: dict[str, Any] = {"totals": results[0]}
            rest = results[1:]
            if overview:
                over = rest.pop(0)
                rows = display_rows(emb, order)
                out["overview"] = (over, rows, auto_scale(over, rows))
            if frame is not None:
                out["coords"] = (frame[0], rest.pop(0))
            return out

        def done(result: dict[str, Any]) -> None:
            if self._emb is not emb:
                return
            self._stream_totals = (emb, result["totals"])
            if self._correct_closing(emb, result["totals"]):
                return  # a closing step was added: the views are read again
            with self.hold_sync():
                if "overview" in result:
                    self._show_overview(*result["overview"])
                if "coords" in result:
                    method_used, xy = result["coords"]
                    frame_of = base if emb is not base else None
                    self._preview = None
                    self._set_coords(xy, method_used, frame=frame_of)
                    self._update_colors()
            self._stream_times["sent"] = time.time()
            if then is not None:
                then()

        def fail(err: BaseException) -> None:
            self.error = f"reading the rows failed: {err}"

        self._run_job("stream", compute, done, error=fail, cancellable=True,
                      status=("busy", dict(keys)))

    def _show_preview(self, emb: Embeddings, frame: tuple[str, np.ndarray, np.ndarray]) -> None:
        """Draw the frame's sample of pairs, placed at once (a second), until the pass has
        placed every row: the first picture of ten million pairs in seconds, not a minute."""
        names = emb.modalities
        n = len(emb)
        pairs = spread_sample(n, SAMPLE_PAIRS, self.seed)
        blocks = gather(emb, names, pairs)
        method, mean, comps = frame
        xy = np.vstack([(blocks[m].astype(np.float64) - mean) @ comps for m in names])
        rows = (np.arange(len(names))[:, None] * n + pairs[None, :]).ravel()
        if self._emb is not emb or self._coords is not None:
            return
        self._preview = (pairs.astype(np.int32), rows)
        with self.hold_sync():
            self._set_coords(xy.astype(np.float32), method)
            self._update_colors()

    def _show_overview(self, over: np.ndarray, rows: Any, auto: tuple[float, float]) -> None:
        """Send a streamed overview (the heatmap's colour range and boundaries as usual)."""
        self._rows = rows
        self._stream_overview = (self._emb, self._cluster_order, int(self.max_overview), over)
        self._range_cache = (self._emb, self.max_overview, auto)
        self._send_overview(over, rows)

    def _requantise_overview(self) -> bool:
        """vmin / vmax / lock changed: re-colour the overview already made (no pass)."""
        kept = getattr(self, "_stream_overview", None)
        if kept is None or kept[0] is not self._emb or kept[1] is not self._cluster_order \
                or kept[2] != int(self.max_overview):
            return False
        self._send_overview(kept[3], self._rows)
        return True

    # ------------------------------------------------------------------ closing
    def _stream_mitigated(self, base: Embeddings, row_map: Any = None) -> Embeddings | None:
        """The closed / shifted rows of ``base`` computed when read, from the exact centroids
        of the last pass; None when the usual path applies (not streaming). ``row_map``
        receives the steps (a typed query is moved by them)."""
        from amumo.analysis.gap import close_gap, shift

        if not self._streaming():
            return None
        a, b = self._gap_pair_now()
        known = self._known_centroids(base)
        if getattr(self, "closed", False):
            return close_gap(base, a, b, lazy=True, centroids=known, sample=SAMPLE_PAIRS,
                             seed=self.seed, verify=False, row_map=row_map)
        if self.mitigation == "shift":
            return shift(base, getattr(self, "lam", 0.0), a, b, lazy=True, centroids=known,
                         row_map=row_map)
        return None  # center / standardize: the usual path (lazy above 5 GiB)

    def _correct_closing(self, emb: Embeddings, totals: np.ndarray) -> bool:
        """After a pass over estimated closed rows: when the exact remaining gap is not
        below ``tol``, add one exact step and read the views again (True)."""
        from amumo.analysis.gap import close_gap

        info = emb.provenance.get("close_gap") or {}
        if not info.get("estimated") or not getattr(self, "closed", False):
            return False
        names = info["modalities"]
        index = [emb.modalities.index(m) for m in names]
        centroids = {m: totals[i] / len(emb) for m, i in zip(names, index, strict=True)}
        gaps = [np.linalg.norm(centroids[p] - centroids[q])
                for i, p in enumerate(names) for q in names[i + 1:]]
        remaining = float(max(gaps))
        corrections = int(info.get("corrections", 0))
        if remaining < float(info["tol"]) or corrections >= MAX_CORRECTIONS:
            emb.provenance["close_gap"] = {**info, "gap_after": remaining, "estimated": False}
            return False
        fixed = close_gap(emb, modalities=names, lazy=True, centroids=centroids,
                          sample=SAMPLE_PAIRS, seed=self.seed + corrections + 1, verify=False,
                          tol=float(info["tol"]), row_map=getattr(self, "_row_map", None))
        fixed.provenance["close_gap"] = {
            **fixed.provenance["close_gap"], "corrections": corrections + 1,
            "gap_before": info["gap_before"],
        }
        self._emb = fixed
        self._stream_views(then=self._stream_then)
        return True

    def _stream_then(self) -> None:
        """The panels after the views' pass (one pass at a time on the disk)."""
        self._update_metrics()
        self._update_science()

    # ------------------------------------------------------------------ zoom
    @request("viewport")
    def _request_viewport(self, content: dict[str, Any]) -> tuple[dict, list]:
        """The pairs with an item inside a zoomed-in data window, for a browser drawing a
        sample (``scatter_pairs``): ``{"x0", "x1", "y0", "y1"}`` in the shown components.

        Reply: ``{"pairs": count, "in_view": K, "budget": ZOOM_PAIRS}`` and three buffers:
        int32 shown-pair positions (not already drawn), float32 xy (modality blocks) and
        uint8 colour codes, for at most :data:`ZOOM_PAIRS` seeded pairs in view.
        """
        coords = self._coords
        if coords is None or getattr(self, "_preview", None) is not None:
            raise ValueError("the scatter is still placing every pair; zoom again once drawn.")
        try:
            x0, x1, y0, y1 = (float(content[k]) for k in ("x0", "x1", "y0", "y1"))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError("viewport request needs numbers x0, x1, y0, y1.") from err
        if not (np.isfinite([x0, x1, y0, y1]).all() and x1 > x0 and y1 > y0):
            raise ValueError(f"viewport [{x0}, {x1}] x [{y0}, {y1}] is empty.")
        m = len(self._base.modalities)
        n = coords.shape[0] // m
        xs = coords[:, self.x_component]
        ys = coords[:, self.y_component]
        inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
        pairs = np.flatnonzero(inside.reshape(m, n).any(axis=0))
        in_view = len(pairs)
        drawn = getattr(self, "_drawn_cache", None)
        if drawn is not None and len(self.scatter_pairs):
            pairs = pairs[~np.isin(pairs, drawn[1], assume_unique=True)]
        if len(pairs) > ZOOM_PAIRS:
            rng = np.random.default_rng(self.seed)
            pairs = np.sort(rng.choice(pairs, size=ZOOM_PAIRS, replace=False))
        rows = (np.arange(m)[:, None] * n + pairs[None, :]).ravel()
        xy = np.ascontiguousarray(coords[rows][:, [self.x_component, self.y_component]],
                                  dtype="<f4")
        codes = getattr(self, "_all_codes", None)
        colors = np.zeros(len(rows), dtype=np.uint8) if codes is None or len(codes) != m * n \
            else np.ascontiguousarray(codes[rows], dtype=np.uint8)
        return ({"pairs": int(len(pairs)), "in_view": int(in_view), "budget": ZOOM_PAIRS},
                [pairs.astype("<i4").tobytes(), xy.tobytes(), colors.tobytes()])
