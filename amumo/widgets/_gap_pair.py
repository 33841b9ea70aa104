"""The pair of modalities the Explorer's metrics panel and gap controls act on.

With two modalities there is one gap. With ``M`` (ImageBind: image, text, audio;
CLOOME: microscopy, molecules) the metrics panel, the λ slider and the
close-the-gap toggle act on one chosen pair ``(a, b)``, and the panel shows the
``M × M`` gap matrix (:func:`amumo.gap_matrix`) before and now, so the other
gaps stay in sight.
"""

from __future__ import annotations

from typing import Any

import traitlets

from amumo.analysis.gap_matrix import gap_matrix
from amumo.embeddings.container import Embeddings

__all__ = ["GapPairMixin", "pair_matrix"]


def pair_matrix(before: Embeddings, now: Embeddings, a: str, b: str) -> dict[str, Any]:
    """``{"pair": [a, b], "gap_matrix": {...}}`` for the metrics panel (matrix only when M > 2)."""
    info: dict[str, Any] = {"pair": [a, b]}
    if len(before.modalities) > 2:
        first = gap_matrix(before)
        second = first if now is before else gap_matrix(now)
        info["gap_matrix"] = {
            "modalities": list(before.modalities),
            "before": first.to_numpy().round(6).tolist(),
            "now": second.to_numpy().round(6).tolist(),
        }
    return info


class GapPairMixin(traitlets.HasTraits):
    """``gap_pair`` trait: ``[a, b]``, or ``[]`` for the first two modalities."""

    gap_pair = traitlets.List(
        traitlets.Unicode(),
        help="The two modalities the metrics panel, λ and close-the-gap act on; [] = the "
        "first two.",
    ).tag(sync=True)

    @traitlets.validate("gap_pair")
    def _valid_gap_pair(self, proposal: dict) -> list[str]:
        value = [str(v) for v in proposal["value"]]
        if not value:
            return value
        base = getattr(self, "_base", None)
        names = tuple(base.modalities) if base is not None else ()
        if len(value) != 2 or value[0] == value[1] or (names and not set(value) <= set(names)):
            raise traitlets.TraitError(
                f"gap_pair={value} must name two different modalities of {list(names)}, "
                "e.g. ['image', 'audio'] (or [] for the first two)."
            )
        return value

    def _gap_pair_now(self) -> tuple[str, str]:
        """The pair in use: ``gap_pair`` when it fits the shown modalities, else the first two."""
        names = tuple(self._base.modalities)
        pair = list(self.gap_pair)
        if len(pair) == 2 and set(pair) <= set(names) and pair[0] != pair[1]:
            return pair[0], pair[1]
        return names[0], names[1]

    @traitlets.observe("gap_pair")
    def _on_gap_pair(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._before = None
            self._shift_and_update()
