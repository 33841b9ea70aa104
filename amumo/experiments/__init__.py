"""Downstream experiments: what shifting the modality gap does to zero-shot accuracy and fairness.

Liang et al., "Mind the Gap: Understanding the Modality Gap in Multi-modal
Contrastive Representation Learning", NeurIPS 2022, Sec. 5 (Tables 1 and 2):
shift image and class-text embeddings along the gap vector
``Δ = mean(image) − mean(text)`` (images ``−λΔ/2``, texts ``+λΔ/2``,
re-normalised) and classify zero-shot by the highest cosine similarity.

- :func:`zero_shot_sweep` — top-1 / top-5 / per-class accuracy per λ.
- :func:`fairness_sweep` — per group, the rate of images assigned a harmful class.
- :func:`prompts` — class names → (ensembled) text embeddings with an encoder.
- :func:`plot_zero_shot`, :func:`plot_fairness` — plotly figures vs gap distance.

Pure numpy/pandas (plotly imported inside the plot helpers); no torch.

Examples
--------
>>> import numpy as np
>>> import amumo as am
>>> rng = np.random.default_rng(0)
>>> texts = rng.normal(size=(5, 32))
>>> labels = rng.integers(0, 5, size=50)
>>> images = texts[labels] + rng.normal(size=(50, 32)) + 1.5   # a "gap": images offset
>>> df = am.experiments.zero_shot_sweep(images, texts, labels, lams=np.linspace(-0.5, 1, 7))
>>> best = am.experiments.best_shift(df)
>>> bool(best["top1"] >= df.loc[df.lam == 0, "top1"].item())
True
"""

from amumo.experiments.fairness import fairness_sweep
from amumo.experiments.plots import plot_fairness, plot_zero_shot
from amumo.experiments.prompts import DEFAULT_TEMPLATES, format_prompts, prompts
from amumo.experiments.zero_shot import (
    DEFAULT_LAMS,
    best_shift,
    per_class_table,
    topk_correct,
    zero_shot_sweep,
)

__all__ = [
    "zero_shot_sweep",
    "fairness_sweep",
    "prompts",
    "format_prompts",
    "per_class_table",
    "best_shift",
    "topk_correct",
    "plot_zero_shot",
    "plot_fairness",
    "DEFAULT_LAMS",
    "DEFAULT_TEMPLATES",
]
