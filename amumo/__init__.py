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
    PROJECTION_METHODS,
    alignment,
    close_gap,
    cluster_order,
    cone_cosine,
    gap_distance,
    gap_vector,
    loss_landscape,
    losses,
    metrics,
    paired_cosine,
    project,
    recall_at_k,
    separability,
    shift,
    similarity,
    uniformity,
)
from amumo.embeddings import Embeddings, embed
from amumo.widgets import Comparer, Explorer, Heatmap, Landscape, Preview, Scatter
from amumo.widgets.gap_sweep import GapSweep

__all__ = [
    "Embeddings",
    "GapSweep",
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
