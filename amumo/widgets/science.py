"""Research views of the Explorer: mitigation picker, retrieval, calibration, selection metrics.

The science is in :mod:`amumo.analysis` (:func:`~amumo.analysis.mitigate.mitigate`,
:mod:`~amumo.analysis.neighbours`, :mod:`~amumo.analysis.calibration`,
:func:`~amumo.analysis.summary.selection_metrics`); this mixin holds the traits
and sends small JSON summaries to the browser:

- ``mitigation`` + ``strength``: the method applied to the shown pairs
  (``"shift"`` uses ``lam``, as before; ``closed`` still overrides everything);
- hover → a ``neighbours`` request: one query row against all candidates of the
  other modality (O(N·D)), answered with the top ``retrieval_k`` items and the
  rank of the true partner;
- ``failures``: the worst failed retrievals (seeded sample of queries at large N);
- ``calibration``: histograms of matched / unmatched / within-modality cosines;
- ``metrics["selection"]``: gap, RMG and recall@1 of the selected pairs.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import traitlets

from amumo.analysis.calibration import cosine_histograms
from amumo.analysis.gap import close_gap, shift
from amumo.analysis.mitigate import MITIGATIONS, mitigate
from amumo.analysis.neighbours import failed_retrievals, neighbours
from amumo.analysis.row_map import RowMap
from amumo.analysis.summary import selection_metrics  # re-exported: the old import path
from amumo.embeddings.container import Embeddings
from amumo.widgets._base import request

__all__ = ["ScienceMixin", "selection_metrics"]

#: The tie rule of recall@1, the failures table and the hover's rank, in words for the panels
#: (amumo.analysis.retrieval.TIE).
TIE_RULE = ("a query fails only when another item is strictly more similar than its own pair; "
            "ties (e.g. a caption repeated word for word) count as retrieved, as in R@1")
#: Longest text sent per row of the retrieval tables.
TEXT_LIMIT = 140
#: Up to this many pairs a hover's retrieval uses float64 products, float32 above.
EXACT_HOVER_LIMIT = 200_000
#: Sampled cosines per histogram of the calibration panel.
CALIBRATION_SAMPLES = 10_000
#: Fewest queries of the failed-retrievals table: ~2e8 query-candidate products at most
#: (200 queries at a million pairs, 20 at ten million: each ranks against all candidates).
FAILURE_QUERIES_MIN = 20


class ScienceMixin(traitlets.HasTraits):
    """Traits and handlers of the mitigation picker, retrieval and calibration panels."""

    mitigation = traitlets.Unicode(
        "shift", help=f"Gap mitigation shown, one of {MITIGATIONS} (am.mitigate)."
    ).tag(sync=True)
    mitigations = traitlets.List(
        traitlets.Unicode(), default_value=list(MITIGATIONS), help="Offered mitigations."
    ).tag(sync=True)
    strength = traitlets.Float(
        1.0, help="Strength of 'center' / 'standardize' in [0, 1] ('shift' uses lam)."
    ).tag(sync=True)
    retrieval_k = traitlets.Int(5, help="Neighbours listed for the hovered item.").tag(sync=True)
    failures = traitlets.Dict(
        help="Worst failed retrievals: {'rows': [...], 'summary': {...}} (read-only)."
    ).tag(sync=True)
    calibration = traitlets.Dict(
        help="Cosine histograms: {'edges', 'series', 'means', 'auc', ...} (read-only)."
    ).tag(sync=True)

    _outputs = ("mitigations", "failures", "calibration")

    @traitlets.validate("mitigation")
    def _valid_mitigation(self, proposal: dict) -> str:
        if proposal["value"] not in MITIGATIONS:
            raise traitlets.TraitError(
                f"mitigation={proposal['value']!r} is unknown; choose one of {MITIGATIONS}."
            )
        return proposal["value"]

    @traitlets.validate("strength")
    def _valid_strength(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not 0.0 <= value <= 1.0:
            raise traitlets.TraitError(
                f"strength={value} must lie in [0, 1] (0 = unchanged, 1 = full)."
            )
        return value

    @traitlets.validate("retrieval_k")
    def _valid_retrieval_k(self, proposal: dict) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= 50:
            raise traitlets.TraitError(f"retrieval_k={value} must be between 1 and 50.")
        return value

    # ------------------------------------------------------------------ mitigation
    def _pair_now(self, emb: Embeddings) -> tuple[str, str]:
        """The modality pair the panels measure (the Explorer's gap pair, else the first two)."""
        pair = getattr(self, "_gap_pair_now", None)
        return pair() if pair is not None else emb.pair_modalities()

    def _mitigated(self, base: Embeddings, row_map: RowMap | None = None) -> Embeddings:
        """The shown embeddings: closed, shifted by ``lam`` or mitigated by ``strength``;
        ``row_map`` receives the map each modality's rows took (a query is moved by it)."""
        a, b = self._pair_now(base)
        streamed = getattr(self, "_stream_mitigated", None)
        if streamed is not None:  # more pairs than memory (widgets/_streamed.py)
            emb = streamed(base, row_map)
            if emb is not None:
                return emb
        if getattr(self, "closed", False):
            return close_gap(base, a, b, row_map=row_map)
        if self.mitigation == "shift":
            return shift(base, getattr(self, "lam", 0.0), a, b, row_map=row_map)
        if self.strength == 0:
            return base
        # center / standardize map every modality; a, b only choose what is measured
        return mitigate(base, self.mitigation, self.strength, a, b, report=False,
                        row_map=row_map)

    def _mitigation_note(self) -> str:
        if getattr(self, "closed", False):
            return "after closing the gap"
        if self.mitigation == "shift":
            return f"after shifting by λ = {getattr(self, 'lam', 0.0):g}"
        return f"after {self.mitigation} (strength {self.strength:g})"

    @traitlets.observe("mitigation", "strength")
    def _on_mitigation(self, change: dict) -> None:
        if not getattr(self, "_ready", False) or getattr(self, "closed", False):
            return
        if change["name"] == "strength" and self.mitigation == "shift":
            return
        self._update_or_revert(change)

    def _update_or_revert(self, change: dict) -> bool:
        """Re-derive the shown embeddings for a changed control, or undo the change.

        Views, metrics and the trait must agree: when the new value cannot be shown
        (e.g. a shift that sends rows to the origin) the trait goes back to the last
        value shown and the reason lands in ``error``. Returns True when it was shown.
        """
        try:
            self._shift_and_update()
        except (ValueError, RuntimeError, ArithmeticError) as err:
            message = f"{change['name']}={change['new']!r} cannot be shown: {err}"
            if change["old"] != change["new"]:
                setattr(self, change["name"], change["old"])
            self.error = message
            return False
        return True

    # ------------------------------------------------------------------ helpers
    def _text_of(self, original: int) -> str:
        column = getattr(self, "_text_column", None)
        if column is None:
            return f"pair {original}"
        text = str(self._table[column].iloc[original])
        return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"

    def _position(self, original: int) -> int:
        ids = self._ids
        pos = int(np.searchsorted(ids, original))
        if pos >= len(ids) or ids[pos] != original:
            raise ValueError(f"pair {original} is not among the shown pairs.")
        return pos

    # ------------------------------------------------------------------ retrieval
    @request("neighbours")
    def _request_neighbours(self, content: dict) -> tuple[dict, list]:
        """Browser request ``{"pair": original id, "modality": index, "k": k}``."""
        emb = self._emb
        pos = self._position(int(content["pair"]))
        names = emb.modalities
        m = int(content.get("modality", 0))
        if not 0 <= m < len(names):
            raise ValueError(f"modality index {m} is out of range.")
        source = names[m]
        a, b = self._pair_now(emb)
        target = b if source == a else a
        k = int(content.get("k", self.retrieval_k))
        exact = len(emb) <= EXACT_HOVER_LIMIT  # float32 products above: ~3x faster per hover
        streaming = getattr(self, "_streaming", None)
        if streaming is not None and streaming():
            # ten million candidates are seconds of reading: searched in a background job
            # that a newer hover supersedes, answered when done (the kernel stays free)
            request_id = content.get("id")

            def search(cancelled: Any) -> dict:
                hit = neighbours(emb, pos, source, target, k=max(1, min(k, 50)), exact=exact,
                                 should_stop=cancelled)
                return self._neighbours_reply(emb, pos, source, target, hit, exact)

            self._run_job(
                "neighbours", search, lambda reply: self._reply(request_id, reply),
                cancellable=True,
                error=lambda err: self._reply(request_id, {"error": f"retrieval failed: {err}"}),
            )
            return None  # type: ignore[return-value]
        hit = neighbours(emb, pos, source, target, k=max(1, min(k, 50)), exact=exact)
        return self._neighbours_reply(emb, pos, source, target, hit, exact), []

    def _neighbours_reply(self, emb: Embeddings, pos: int, source: str, target: str,
                          hit: dict, exact: bool) -> dict:
        """The retrieval panel's answer for the shown pair at position ``pos``."""
        ids = self._ids
        rows = [
            {"pair": int(ids[p]), "score": float(s), "text": self._text_of(int(ids[p])),
             "true": int(p) == pos}
            for p, s in zip(hit["pairs"], hit["scores"], strict=True)
        ]
        return {
            "pair": int(ids[pos]),
            "source": source,
            "target": target,
            "rows": rows,
            "rank": hit["rank"],
            "true_score": hit["true_score"],
            "n_candidates": hit["n_candidates"],
            "exact": exact,
            "text": self._text_of(int(ids[pos])),
        }

    # ------------------------------------------------------------------ tables
    def _update_science(self) -> None:
        """Failed retrievals and calibration of the shown embeddings (background at large N)."""
        from amumo.widgets._base import SYNC_LIMIT, JobCancelled

        emb, ids, seed = self._emb, self._ids, getattr(self, "seed", 0)
        a, b = self._pair_now(emb)
        metrics_job = self._jobs.get("metrics")  # started just before by _update_views

        def compute(cancelled: Any = None) -> tuple[dict, dict]:
            # The metrics panel first: on a few shared cores its two retrieval threads
            # finish sooner without this job beside them (1M pairs: the panel's figure).
            if metrics_job is not None and metrics_job is not threading.current_thread():
                metrics_job.join()
            # ~2e8 query-candidate products at most: every query up to 2,000 pairs, a
            # seeded sample of 2,000 → 200 queries (95 % interval shown) beyond.
            queries = int(np.clip(200_000_000 // len(emb), FAILURE_QUERIES_MIN, 2000))
            table, summary = failed_retrievals(
                emb, a, b, max_rows=40, max_queries=queries, seed=seed, should_stop=cancelled
            )
            rows = [
                {
                    "pair": int(ids[r.pair]), "rank": int(r.rank),
                    "true_score": float(r.true_score), "top_pair": int(ids[r.top_pair]),
                    "top_score": float(r.top_score), "text": self._text_of(int(ids[r.pair])),
                    "top_text": self._text_of(int(ids[r.top_pair])),
                }
                for r in table.itertuples()
            ]
            summary = {**summary, "interval": list(summary["interval"]), "tie_rule": TIE_RULE}
            if cancelled is not None and cancelled():
                raise JobCancelled
            return {"rows": rows, "summary": summary}, cosine_histograms(
                emb, a, b, seed=seed, max_samples=CALIBRATION_SAMPLES
            )

        def done(result: tuple[dict, dict]) -> None:
            if self._emb is emb:
                with self.hold_sync():
                    self.failures, self.calibration = result

        def fail(err: BaseException) -> None:
            self.error = f"retrieval / calibration failed: {err}"

        self._run_job(
            "science", compute, done, background=len(emb) > SYNC_LIMIT, error=fail,
            cancellable=True,  # a newer λ step stops a running failures search
        )

    def retrieval_failures(self) -> pd.DataFrame:
        """The failed retrievals shown in the panel as a DataFrame (worst first).

        Columns ``pair``, ``rank`` (0-based rank of the true partner), ``true_score``,
        ``top_pair``, ``top_score``, ``text``, ``top_text``; ``df.attrs["summary"]``
        holds the counts (and the interval when queries were sampled).
        """
        frame = pd.DataFrame(self.failures.get("rows", []))
        frame.attrs["summary"] = dict(self.failures.get("summary", {}))
        return frame

    # ------------------------------------------------------------------ selection
    @traitlets.observe("selected")
    def _on_selected_science(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._update_selection_metrics()

    def _update_selection_metrics(self) -> None:
        from amumo.widgets._base import SYNC_LIMIT

        emb, ids, selected = self._emb, self._ids, list(self.selected)
        wanted = np.asarray(selected, dtype=np.int64)
        positions = np.intersect1d(wanted, ids, return_indices=True)[2]
        a, b = self._pair_now(emb)

        def done(values: dict) -> None:
            if self._emb is emb and list(self.selected) == selected and self.metrics:
                self.metrics = {**self.metrics, "selection": values}

        self._run_job(
            "selection",
            lambda: selection_metrics(emb, positions, a, b),
            done,
            background=len(positions) > SYNC_LIMIT,
            error=lambda err: setattr(self, "error", f"selection metrics failed: {err}"),
        )
