"""Jupyter widgets (anywidget) for exploring the modality gap.

- :class:`Heatmap` — the (M·N)² similarity matrix with quadrants, colour bar, zoom, clusters.
- :class:`Scatter` — PCA / UMAP / t-SNE projection with pair lines and box/lasso selection.
- :class:`Preview` — the hovered pair's items (thumbnail, caption, meta).
- :class:`Explorer` — all of them linked in the browser, with gap, model, augmentation
  and caption-filter controls and a metrics panel.
- :class:`Comparer` — heatmaps of several models over the same pairs, hover linked.
- :class:`Landscape` — loss as a function of the gap shift λ, per temperature (plotly).
- :class:`GapMatrix` — the gap between every pair of modalities, shaded (M ≥ 2).
- :class:`GapSweep` — zero-shot accuracy (and harm per group) vs the gap shift λ, λ cursor.
"""

from amumo.widgets._base import state_size
from amumo.widgets.comparer import Comparer
from amumo.widgets.explorer import Explorer
from amumo.widgets.gap_matrix import GapMatrix
from amumo.widgets.gap_sweep import GapSweep
from amumo.widgets.heatmap import Heatmap
from amumo.widgets.landscape import Landscape
from amumo.widgets.preview import Preview
from amumo.widgets.scatter import Scatter

__all__ = [
    "Heatmap", "Scatter", "Preview", "Explorer", "Comparer", "Landscape", "GapMatrix", "GapSweep",
    "state_size",
]
