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

from amumo._util import fixed
from amumo.analysis._checks import check_embeddings
from amumo.embeddings._rows import take_rows
from amumo.embeddings.container import Embeddings

__all__ = ["cosine_samples", "cosine_histograms", "calibration_note", "calibration_figure"]

#: Share of unmatched cross-modal cosines the note's "high score" threshold leaves above it.
HIGH_SHARE = 0.01
#: Below this AUC the note says matched pairs are hardly told apart from random ones.
WEAK_AUC = 0.6
#: The note calls cross-modal cosines "well below" within-modality ones when the unmatched
#: mean lies at least this far under the smaller within-modality mean.
SCALE_GAP = 0.1


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
        ``unmatched_above_0.3`` = the share of unmatched cosines ≥ 0.3,
        ``high_score`` = the cosine that only :data:`HIGH_SHARE` (1 %) of unmatched
        pairs reach, and ``note``: the sentences the calibration panel shows,
        written from these numbers by :func:`calibration_note`.

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
    out = {
        "edges": edges.tolist(),
        "series": series,
        "means": {k: float(v.mean()) for k, v in samples.items()},
        "n": {k: len(v) for k, v in samples.items()},
        "auc": auc,
        "percentile_of_matched_mean": float(np.mean(unmatched < mean_matched)),
        "unmatched_above_0.3": float(np.mean(unmatched >= 0.3)),
        "high_score": float(np.quantile(unmatched, 1.0 - HIGH_SHARE)),
    }
    out["note"] = calibration_note(out)
    return out


def calibration_note(h: dict[str, Any]) -> str:
    """The calibration panel's explanation, written from the numbers of
    :func:`cosine_histograms` (so it never contradicts them).

    Four sentences: how often a true pair outscores a random wrong one (flagged below
    :data:`WEAK_AUC`, 0.5 being chance); which cosine is already rare among wrong pairs for
    *these* embeddings (the one only :data:`HIGH_SHARE` of unmatched pairs reach); whether
    the CLIP rule of thumb "0.3 is high" holds here (it does when at most 5 % of unmatched
    pairs reach 0.3, not when at least half do, as after closing the gap); and whether
    cross-modal cosines sit well below within-modality ones (by :data:`SCALE_GAP`: the
    modality gap) or close to them.

    Examples
    --------
    >>> import amumo as am
    >>> h = cosine_histograms(am.datasets.clip_coco500())
    >>> "0.3 is a high similarity here" in h["note"]
    True
    >>> closed = cosine_histograms(am.close_gap(am.datasets.clip_coco500()))
    >>> "0.3 is not a high similarity here" in closed["note"]
    True
    """
    auc = float(h["auc"])
    means = h["means"]
    matched, unmatched = float(means["matched"]), float(means["unmatched"])
    above = float(h["unmatched_above_0.3"])
    high = float(h["high_score"])
    within = {k.split(":", 1)[1]: float(v) for k, v in means.items() if k.startswith("within:")}
    first = f"A true pair outscores a random wrong one {100 * auc:.1f} % of the time"
    if auc < WEAK_AUC:
        first += " (50 % is chance: matched pairs are hardly told apart from random ones)"
    sentences = [
        first + ".",
        f"Only {100 * HIGH_SHARE:g} % of unmatched pairs reach {fixed(high)}: for these "
        f"embeddings a cross-modal cosine of {fixed(high)} is already rare among wrong pairs; "
        f"the mean matched cosine ({fixed(matched)}) beats "
        f"{100 * h['percentile_of_matched_mean']:.1f} % of unmatched pairs.",
    ]
    share = f"{100 * above:.1f} % of unmatched pairs reach 0.3"
    if auc < WEAK_AUC:
        sentences.append(f"{share.capitalize()}, but with matched pairs hardly told apart "
                         "from random ones no cosine signals a match here.")
    elif above <= 0.05:
        sentences.append(f"{share.capitalize()}, so 0.3 is a high similarity here.")
    elif above >= 0.5:
        sentences.append(f"{share.capitalize()}, so 0.3 is not a high similarity here.")
    else:
        sentences.append(f"{share.capitalize()}: 0.3 is above average here, not rare.")
    if within:
        listed = ", ".join(f"{name} {fixed(value)}" for name, value in within.items())
        if unmatched <= min(within.values()) - SCALE_GAP:
            sentences.append(
                f"Cross-modal cosines (unmatched mean {fixed(unmatched)}) sit well below "
                f"within-modality ones ({listed}): judge an image–text score against the "
                "unmatched distribution, not against 1 or against scores within one modality."
            )
        else:
            sentences.append(
                f"Cross-modal cosines (unmatched mean {fixed(unmatched)}) are close to "
                f"within-modality ones ({listed}): one scale for both."
            )
    return " ".join(sentences)


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
