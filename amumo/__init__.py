"""amumo: explore the modality gap of multimodal contrastive models in Jupyter.

Examples
--------
>>> import amumo as am
>>> emb = am.datasets.clip_coco500()
>>> round(am.gap_distance(emb), 4)
0.8514
"""

from amumo import data, datasets, experiments, models
from amumo._util import __version__
from amumo.analysis import (
    CLUSTER_METHODS,
    MITIGATIONS,
    PROJECTION_METHODS,
    GapStats,
    ablate_gap_dimensions,
    alignment,
    centroid_cosine,
    close_gap,
    cluster_names,
    cluster_order,
    cone_cosine,
    frechet_distance,
    gap_ablation_curve,
    gap_dimensions,
    gap_distance,
    gap_matrix,
    gap_report,
    gap_summary,
    gap_vector,
    l2i,
    loss_landscape,
    losses,
    metrics,
    mitigate,
    paired_cosine,
    project,
    recall_at_k,
    rmg,
    separability,
    shift,
    similarity,
    uniformity,
)
from amumo.embeddings import Embeddings, embed
from amumo.widgets import Comparer, Explorer, GapMatrix, Heatmap, Landscape, Preview, Scatter
from amumo.widgets.gap_sweep import GapSweep

__all__ = [
    "Embeddings",
    "GapStats",
    "GapSweep",
    "GapMatrix",
    "Heatmap",
    "Scatter",
    "Preview",
    "Explorer",
    "Comparer",
    "Landscape",
    "data",
    "models",
    "embed",
    "datasets",
    "experiments",
    "losses",
    "gap_vector",
    "gap_distance",
    "shift",
    "close_gap",
    "gap_matrix",
    "cluster_names",
    "rmg",
    "l2i",
    "centroid_cosine",
    "gap_dimensions",
    "ablate_gap_dimensions",
    "gap_ablation_curve",
    "frechet_distance",
    "gap_summary",
    "mitigate",
    "MITIGATIONS",
    "gap_report",
    "metrics",
    "paired_cosine",
    "cone_cosine",
    "recall_at_k",
    "alignment",
    "uniformity",
    "separability",
    "loss_landscape",
    "similarity",
    "cluster_order",
    "CLUSTER_METHODS",
    "project",
    "PROJECTION_METHODS",
    "__version__",
]
