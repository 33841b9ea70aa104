"""Pure numpy/scipy/scikit-learn analysis of paired embeddings (no torch, no widgets)."""

from amumo.analysis import losses
from amumo.analysis.calibration import calibration_figure, cosine_histograms
from amumo.analysis.cluster_names import class_tfidf, cluster_names, cluster_terms
from amumo.analysis.gap import close_gap, gap_distance, gap_vector, shift, shift_arrays
from amumo.analysis.gap_matrix import GAP_MATRIX_METRICS, gap_matrix
from amumo.analysis.gap_measures import (
    ablate_gap_dimensions,
    centroid_cosine,
    frechet_distance,
    gap_ablation_curve,
    gap_dimensions,
    gap_summary,
    l2i,
    rmg,
)
from amumo.analysis.losses import loss_landscape
from amumo.analysis.metrics import (
    alignment,
    cone_cosine,
    metrics,
    paired_cosine,
    separability,
    uniformity,
)
from amumo.analysis.mitigate import MITIGATIONS, gap_report, mitigate
from amumo.analysis.neighbours import failed_retrievals, neighbours
from amumo.analysis.projection import (
    PROJECTION_METHODS,
    clear_projection_cache,
    place_rows,
    project,
)
from amumo.analysis.retrieval import recall_at_k
from amumo.analysis.row_map import RowMap
from amumo.analysis.search import search, top_k
from amumo.analysis.similarity import CLUSTER_METHODS, cluster_medoids, cluster_order, similarity
from amumo.analysis.stats import GapStats

__all__ = [
    "losses",
    "GapStats",
    "gap_vector",
    "gap_distance",
    "shift",
    "shift_arrays",
    "close_gap",
    "gap_matrix",
    "GAP_MATRIX_METRICS",
    "cluster_names",
    "cluster_terms",
    "class_tfidf",
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
    "neighbours",
    "failed_retrievals",
    "cosine_histograms",
    "calibration_figure",
    "loss_landscape",
    "metrics",
    "paired_cosine",
    "cone_cosine",
    "recall_at_k",
    "alignment",
    "uniformity",
    "separability",
    "similarity",
    "cluster_order",
    "CLUSTER_METHODS",
    "project",
    "place_rows",
    "search",
    "top_k",
    "RowMap",
    "cluster_medoids",
    "PROJECTION_METHODS",
    "clear_projection_cache",
]
