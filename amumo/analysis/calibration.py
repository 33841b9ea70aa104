"""Calibration of cosine similarities: matched, unmatched and within-modality.

"Is a CLIP similarity of 0.3 high?" — yes: because of the modality gap every
image–text cosine is small (the two cones are apart), and what matters is
where a score lies among the unmatched pairs. On the shipped CLIP pairs the
matched cosines average 0.31 while unmatched image–text cosines average
0.16 and only 0.6 % of them exceed 0.3 (a true pair outscores a random wrong
one 98.9 % of the time); within one modality cosines are much larger (0.53
for images, 0.52 for texts), so scores are only comparable inside one block
of the similarity matrix.

Matched cosines cost O(N·D); unmatched and within-modality cosines are
estimated from a seeded sample of ``max_samples`` random pairs ``i ≠ j``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amumo.analysis._checks import check_embeddings
from amumo.embeddings._rows import take_rows
from amumo.embeddings.container import Embeddings

__all__ = ["cosine_samples", "cosine_histograms", "calibration_figure"]


def _pairs(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    i = rng.integers(0, n, size=size)
    j = (i + rng.integers(1, n, size=size)) % n  # uniform over j ≠ i
    return i, j


def _row_dots(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    # float32 products (stored float16 rows are cast): a histogram needs no float64
    # (error ~1e-7). take_rows: scattered rows of a memory map without faulting it all in.
    out = np.empty(len(i))
    for s in range(0, len(i), 8192):
        out[s:s + 8192] = np.einsum(
            "ij,ij->i", take_rows(x, i[s:s + 8192], np.float32),
            take_rows(y, j[s:s + 8192], np.float32),
        )
    return out


def cosine_samples(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    max_samples: int = 20_000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Cosines of matched pairs (all), unmatched pairs and within each modality (sampled).

    Returns
    -------
    dict of str to ndarray
        ``"matched"`` (N values ``cos(a_i, b_i)``; a seeded sample of
        ``max_samples`` when N is larger), ``"unmatched"`` (``cos(a_i, b_j)``,
        i ≠ j), ``"within:<a>"`` and ``"within:<b>"`` (``cos(a_i, a_j)``, i ≠ j).

    Examples
    --------
    >>> import amumo as am
    >>> s = cosine_samples(am.datasets.clip_coco500())
    >>> sorted(s), len(s["matched"])
    (['matched', 'unmatched', 'within:image', 'within:text'], 500)
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    n = len(emb)
    if n < 2:
        raise ValueError("calibration needs at least 2 pairs.")
    if int(max_samples) < 1:
        raise ValueError(f"max_samples={max_samples!r} must be a positive integer.")
    rng = np.random.default_rng(seed)
    x, y = emb[a], emb[b]
    if n <= max_samples:
        idx = np.arange(n)
    else:
        idx = np.sort(rng.choice(n, size=int(max_samples), replace=False))
    out = {"matched": _row_dots(x, y, idx, idx)}
    i, j = _pairs(n, int(max_samples), rng)
    out["unmatched"] = _row_dots(x, y, i, j)
    for name, rows in ((a, x), (b, y)):
        i, j = _pairs(n, int(max_samples), rng)
        out[f"within:{name}"] = _row_dots(rows, rows, i, j)
    return out


def cosine_histograms(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    bins: int = 60,
    max_samples: int = 20_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Histograms (densities) of matched, unmatched and within-modality cosines + a summary.

    Returns
    -------
    dict
        ``edges`` (bins + 1 values spanning all samples), ``series``
        (name → density list), ``means`` (name → mean), ``n`` (name → count),
        ``auc`` = P(matched cosine > unmatched cosine) (the chance that a
        true pair outscores a random wrong one), ``percentile_of_matched_mean``
        = the share of unmatched cosines below the mean matched cosine, and
        ``unmatched_above_0.3`` = the share of unmatched cosines ≥ 0.3.

    Examples
    --------
    >>> import amumo as am
    >>> h = cosine_histograms(am.datasets.clip_coco500())
    >>> round(h["means"]["matched"], 3), round(h["means"]["unmatched"], 3)
    (0.31, 0.162)
    >>> h["percentile_of_matched_mean"] > 0.99
    True
    """
    samples = cosine_samples(emb, a, b, max_samples=max_samples, seed=seed)
    if int(bins) < 2:
        raise ValueError(f"bins={bins!r} must be at least 2.")
    lo = min(float(v.min()) for v in samples.values())
    hi = max(float(v.max()) for v in samples.values())
    lo, hi = np.floor(lo * 20) / 20, np.ceil(hi * 20) / 20
    edges = np.linspace(lo, hi, int(bins) + 1)
    series = {k: np.histogram(v, bins=edges, density=True)[0].tolist() for k, v in samples.items()}
    matched, unmatched = samples["matched"], np.sort(samples["unmatched"])
    # P(matched > unmatched) from ranks (Mann–Whitney U / AUC), ties count half.
    below = np.searchsorted(unmatched, matched, side="left")
    equal = np.searchsorted(unmatched, matched, side="right") - below
    auc = float(np.mean((below + 0.5 * equal) / len(unmatched)))
    mean_matched = float(matched.mean())
    return {
        "edges": edges.tolist(),
        "series": series,
        "means": {k: float(v.mean()) for k, v in samples.items()},
        "n": {k: len(v) for k, v in samples.items()},
        "auc": auc,
        "percentile_of_matched_mean": float(np.mean(unmatched < mean_matched)),
        "unmatched_above_0.3": float(np.mean(unmatched >= 0.3)),
    }


def calibration_figure(emb: Embeddings, a: str | None = None, b: str | None = None, **kwargs: Any):
    """Plotly figure of :func:`cosine_histograms` (one line per kind, means marked).

    Examples
    --------
    >>> import amumo as am
    >>> fig = calibration_figure(am.datasets.clip_coco500())
    >>> [t.name for t in fig.data][:2]
    ['matched', 'unmatched']
    """
    import plotly.graph_objects as go

    h = cosine_histograms(emb, a, b, **kwargs)
    edges = np.asarray(h["edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    colours = ["#d62728", "#7f7f7f", "#1f77b4", "#ff7f0e"]
    for (name, values), colour in zip(h["series"].items(), colours, strict=False):
        fig.add_scatter(x=centres, y=values, name=name, mode="lines", line_shape="hvh",
                        line=dict(color=colour, width=2))
        fig.add_vline(x=h["means"][name], line=dict(color=colour, dash="dot", width=1))
    fig.update_layout(
        template="plotly_white", height=340, xaxis_title="cosine similarity",
        yaxis_title="density",
        title=(f"Cosine calibration: a true pair outscores a random wrong one "
               f"{100 * h['auc']:.1f} % of the time"),
    )
    return fig
