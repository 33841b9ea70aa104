"""Training lab: watch the modality gap form in a small CLIP trained on CPU.

Liang et al., "Mind the Gap" (NeurIPS 2022): the gap is already there at
random initialisation (each encoder maps its inputs into a narrow cone),
contrastive learning at low temperature preserves it, and at high temperature
closing it becomes optimal. This package trains a tiny two-tower model
(:class:`amumo.models.tiny.TinyCLIP`) on :class:`amumo.data.SyntheticShapes`
in minutes and measures all of that.

- :func:`train_contrastive` — train, and record loss, gap, cones, recall and
  probe embeddings per epoch (:class:`TrainingHistory`).
- :func:`cone_effect`, :func:`temperature_sweep`, :func:`embedding_shift` —
  the paper's experiments, each returning data and a plotly figure.
- :class:`TrainingMonitor` — a widget that updates live during training.

Needs torch (the ``models`` extra); importing this package does not, the
names are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "train_contrastive",
    "TrainingHistory",
    "clip_loss",
    "cone_effect",
    "temperature_sweep",
    "embedding_shift",
    "ExperimentResult",
    "TrainingMonitor",
    "TinyCLIP",
    "TinyCLIPConfig",
]

_LAZY = {
    "train_contrastive": "amumo.training.trainer",
    "TrainingHistory": "amumo.training.trainer",
    "clip_loss": "amumo.training.loss",
    "cone_effect": "amumo.training.experiments",
    "temperature_sweep": "amumo.training.experiments",
    "embedding_shift": "amumo.training.experiments",
    "ExperimentResult": "amumo.training.experiments",
    "TrainingMonitor": "amumo.training.monitor",
    "TinyCLIP": "amumo.models.tiny",
    "TinyCLIPConfig": "amumo.models.tiny",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'amumo.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
