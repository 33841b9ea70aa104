"""Pure numpy/scipy/scikit-learn analysis of paired embeddings (no torch, no widgets)."""

from amumo.analysis import losses
from amumo.analysis.gap import close_gap, gap_distance, gap_vector, shift, shift_arrays
from amumo.analysis.losses import loss_landscape
from amumo.analysis.metrics import (
    alignment,
    cone_cosine,
    metrics,
    paired_cosine,
    recall_at_k,
    separability,
    uniformity,
)
from amumo.analysis.projection import PROJECTION_METHODS, clear_projection_cache, project
from amumo.analysis.similarity import CLUSTER_METHODS, cluster_order, similarity

__all__ = [
    "losses",
    "gap_vector",
    "gap_distance",
    "shift",
    "shift_arrays",
    "close_gap",
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
    "PROJECTION_METHODS",
    "clear_projection_cache",
]
