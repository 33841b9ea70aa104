"""Contrastive losses evaluated on fixed paired embeddings.

All losses take an :class:`~amumo.Embeddings` (rows of modalities ``a`` and
``b`` are pairs), compare every ``a`` row with every ``b`` row by cosine
similarity, and return a float. None modifies its input. Computation is in
float64 with log-sum-exp for stability.

References
----------
- InfoNCE / CLIP: Radford et al., "Learning Transferable Visual Models From
  Natural Language Supervision", ICML 2021 (symmetric cross-entropy).
- CyCLIP: Goel et al., "CyCLIP: Cyclic Contrastive Language-Image
  Pretraining", NeurIPS 2022.
- InfoLOOB: Fürst et al., "CLOOB: Modern Hopfield Networks with InfoLOOB
  Outperform CLIP", NeurIPS 2022.
- SigLIP: Zhai et al., "Sigmoid Loss for Language Image Pre-Training",
  ICCV 2023.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import log_expit, logsumexp

from amumo.analysis._checks import check_embeddings, check_finite, check_temperature
from amumo.analysis.gap import shift
from amumo.embeddings.container import Embeddings

__all__ = [
    "info_nce",
    "cyclip",
    "info_loob",
    "siglip",
    "loss_landscape",
    "LOSSES",
    "info_nce_from_logits",
]


def _pair(emb: Embeddings, a: str | None, b: str | None) -> tuple[np.ndarray, np.ndarray]:
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    return np.asarray(emb[a], dtype=np.float64), np.asarray(emb[b], dtype=np.float64)


def _logsumexp(logits: np.ndarray, axis: int) -> np.ndarray:
    """Stable log-sum-exp of finite logits along ``axis`` (faster than scipy's generic one)."""
    peak = logits.max(axis=axis, keepdims=True)
    shifted = np.subtract(logits, peak)
    np.exp(shifted, out=shifted)
    return np.log(shifted.sum(axis=axis)) + np.squeeze(peak, axis=axis)


def info_nce_from_logits(logits: np.ndarray) -> float:
    """Symmetric cross-entropy of a square logit matrix whose diagonal holds the pairs."""
    diag = np.diagonal(logits)
    rows = np.mean(_logsumexp(logits, axis=1) - diag)
    cols = np.mean(_logsumexp(logits, axis=0) - diag)
    return float((rows + cols) / 2.0)


def info_nce(
    emb: Embeddings, temperature: float = 0.01, a: str | None = None, b: str | None = None
) -> float:
    """Symmetric InfoNCE (the CLIP loss) at temperature ``τ``.

    ``L = ½ [CE(S/τ, rows) + CE(S/τ, columns)]`` with ``S_ij = cos(a_i, b_j)`` and
    the matching pair as the target class.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.losses.info_nce(am.datasets.clip_coco500(), 0.01), 4)
    1.8009
    """
    t = check_temperature(temperature)
    x, y = _pair(emb, a, b)
    return info_nce_from_logits(x @ y.T / t)


def info_loob(
    emb: Embeddings, temperature: float = 0.01, a: str | None = None, b: str | None = None
) -> float:
    """Symmetric InfoLOOB ("leave one out bound", CLOOB) at temperature ``τ``.

    Like InfoNCE, but the positive pair is left out of the denominator:
    ``−log( exp(S_ii/τ) / Σ_{j≠i} exp(S_ij/τ) )``, averaged over both directions.
    This is the loss itself on the given embeddings, without CLOOB's modern
    Hopfield retrieval step. Can be negative.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> am.losses.info_loob(emb, 0.01) < am.losses.info_nce(emb, 0.01)
    True
    """
    t = check_temperature(temperature)
    x, y = _pair(emb, a, b)
    n = len(x)
    if n < 2:
        raise ValueError("info_loob needs at least 2 pairs (the denominator leaves one out).")
    logits = x @ y.T / t
    diag = np.diagonal(logits).copy()
    masked = logits.copy()
    np.fill_diagonal(masked, -np.inf)
    rows = np.mean(logsumexp(masked, axis=1) - diag)
    cols = np.mean(logsumexp(masked, axis=0) - diag)
    return float((rows + cols) / 2.0)


def cyclip(
    emb: Embeddings,
    temperature: float = 0.01,
    a: str | None = None,
    b: str | None = None,
    *,
    cross_modal_weight: float = 0.25,
    in_modal_weight: float = 0.25,
) -> float:
    """CyCLIP loss: InfoNCE plus cross-modal and in-modal cycle-consistency terms.

    ``L = InfoNCE + λ_c · Σ_jk (S_jk − S_kj)² / N + λ_i · Σ_jk (A_jk − B_jk)² / N``
    with ``S = a·bᵀ``, ``A = a·aᵀ``, ``B = b·bᵀ`` (cosines), following Goel et
    al. 2022 (weights 0.25 as in their experiments). Both regularisers are
    zero when the similarity geometry is symmetric across modalities.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> am.losses.cyclip(emb, 0.01) >= am.losses.info_nce(emb, 0.01)
    True
    """
    t = check_temperature(temperature)
    wc = check_finite(cross_modal_weight, "cross_modal_weight")
    wi = check_finite(in_modal_weight, "in_modal_weight")
    x, y = _pair(emb, a, b)
    n = len(x)
    cross = x @ y.T
    cross_term = np.sum((cross - cross.T) ** 2) / n
    in_term = np.sum((x @ x.T - y @ y.T) ** 2) / n
    return info_nce_from_logits(cross / t) + wc * float(cross_term) + wi * float(in_term)


def siglip(
    emb: Embeddings,
    temperature: float = 0.1,
    a: str | None = None,
    b: str | None = None,
    *,
    bias: float = -10.0,
) -> float:
    """Pairwise sigmoid loss (SigLIP) with logit scale ``1/τ`` and bias ``b``.

    ``L = −(1/N) Σ_ij log σ(z_ij (S_ij/τ + b))`` with ``z_ij = 1`` for matching
    pairs and ``−1`` otherwise (Zhai et al. 2023; their initialisation is
    ``1/τ = 10``, ``b = −10``).

    Examples
    --------
    >>> import amumo as am
    >>> am.losses.siglip(am.datasets.clip_coco500(), 0.1) > 0
    True
    """
    t = check_temperature(temperature)
    bias = check_finite(bias, "bias")
    x, y = _pair(emb, a, b)
    logits = x @ y.T / t + bias
    signs = -np.ones_like(logits)
    np.fill_diagonal(signs, 1.0)
    return float(-np.sum(log_expit(signs * logits)) / len(x))


LOSSES: dict[str, Callable[..., float]] = {
    "info_nce": info_nce,
    "cyclip": cyclip,
    "info_loob": info_loob,
    "siglip": siglip,
}


def loss_landscape(
    emb: Embeddings,
    lams: Sequence[float] | np.ndarray,
    temperatures: Sequence[float] | np.ndarray = (0.01, 0.05, 0.1, 1.0),
    loss: str | Callable[..., float] = "info_nce",
    a: str | None = None,
    b: str | None = None,
) -> np.ndarray:
    """Loss after shifting the gap by each ``λ``, for each temperature.

    Reproduces the embedding-shift experiment of Liang et al. 2022 (Fig. 4):
    at low temperature the loss is lowest near the original gap (``λ = 0``),
    closing the gap raises it.

    Parameters
    ----------
    emb : Embeddings
    lams : sequence of float
        Shift sizes (see :func:`amumo.shift`).
    temperatures : sequence of float
    loss : str or callable, default "info_nce"
        A name from :data:`LOSSES` or a function ``f(emb, temperature, a, b)``.

    Returns
    -------
    ndarray of shape (len(temperatures), len(lams))

    Examples
    --------
    >>> import amumo as am
    >>> grid = am.loss_landscape(am.datasets.clip_coco500(), [0, 1], [0.01])
    >>> bool(grid[0, 1] > grid[0, 0])
    True
    """
    emb = check_embeddings(emb)
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is unknown; choose one of {sorted(LOSSES)}.")
        loss_fn = LOSSES[loss]
    elif callable(loss):
        loss_fn = loss
    else:
        raise TypeError(f"loss={loss!r} must be a loss name or a callable.")
    lam_values = [check_finite(v, "lams") for v in np.atleast_1d(np.asarray(lams, dtype=float))]
    temps = [check_temperature(v, "temperatures") for v in np.atleast_1d(temperatures)]
    if not lam_values:
        raise ValueError(
            "lams is empty; pass at least one shift size, e.g. np.linspace(-1, 1, 21)."
        )
    a, b = emb.pair_modalities(a, b)
    grid = np.empty((len(temps), len(lam_values)))
    for j, lam in enumerate(lam_values):
        shifted = shift(emb, lam, a, b)
        for i, t in enumerate(temps):
            grid[i, j] = loss_fn(shifted, t, a, b)
    return grid
