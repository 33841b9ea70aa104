"""The training experiments of *Mind the Gap*, each returning data and a plotly figure.

Liang, Zhang, Kwon, Yeung & Zou, "Mind the Gap: Understanding the Modality
Gap in Multi-modal Contrastive Representation Learning", NeurIPS 2022:

- :func:`cone_effect` — Sec. 3: at random initialisation every encoder maps
  its inputs into a narrow cone (mean in-modality cosine far above 0), and
  different random initialisations give different cones (Fig. 2).
- :func:`temperature_sweep` — Sec. 4.2: contrastive training at a low
  temperature preserves the gap, at a high temperature it closes.
- :func:`embedding_shift` — Sec. 4.1: shifting the embeddings along the gap
  (``λ``) and re-evaluating the contrastive loss shows the gap sits at a
  minimum of the loss at low temperature (Fig. 4), before vs after training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from amumo.analysis.gap import gap_distance
from amumo.analysis.losses import loss_landscape
from amumo.analysis.metrics import cone_cosine, paired_cosine
from amumo.analysis.projection import project
from amumo.embeddings.container import Embeddings

__all__ = [
    "ExperimentResult",
    "cone_effect",
    "temperature_sweep",
    "embedding_shift",
    "TEMPERATURES",
]

#: Temperatures of the paper's sweep.
TEMPERATURES = (0.01, 0.05, 0.1, 1.0)
_MODALITY_COLOURS = {"image": "#1f77b4", "text": "#ff7f0e"}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


@dataclass
class ExperimentResult:
    """Data and figure of one experiment; unpacks as ``data, figure = result``.

    Attributes
    ----------
    data : pandas.DataFrame
        The measured numbers in long (tidy) form.
    figure : plotly.graph_objects.Figure
    details : dict
        Everything else (embeddings, training histories, ...).
    """

    data: pd.DataFrame
    figure: Any
    details: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.data, self.figure))

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        return self.data._repr_html_()


def _seeds(seeds: int | Sequence[int], name: str = "seeds") -> list[int]:
    values = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not values:
        raise ValueError(f"{name} is empty; pass at least one seed, e.g. {name}=(0, 1, 2).")
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or value < 0:
            raise ValueError(f"{name} holds {value!r}; seeds are integers >= 0.")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={values} repeats a seed.")
    return [int(v) for v in values]


def _temperatures(temperatures: Sequence[float]) -> list[float]:
    values = [float(t) for t in np.atleast_1d(np.asarray(temperatures, dtype=float))]
    if not values:
        raise ValueError("temperatures is empty; pass e.g. (0.01, 0.05, 0.1, 1.0).")
    for t in values:
        if not np.isfinite(t) or t <= 0:
            raise ValueError(f"temperatures holds {t}; temperatures are positive numbers.")
    return values


def _subplots(**kwargs: Any) -> Any:
    from plotly.subplots import make_subplots

    return make_subplots(**kwargs)


# --------------------------------------------------------------------------- cone effect
def cone_effect(
    dataset: Any,
    seeds: int | Sequence[int] = (0, 1, 2, 3, 4),
    *,
    architecture: dict[str, Any] | None = None,
    max_pairs: int | None = 500,
    batch_size: int = 256,
    num_threads: int = 1,
) -> ExperimentResult:
    """Embeddings of randomly initialised TinyCLIPs: narrow cones, one per initialisation.

    For every seed a fresh (untrained) TinyCLIP embeds the same pairs. The
    result shows (1) the mean cosine between distinct items of a modality is
    far above 0 (the *cone effect*), (2) the modalities are already apart
    (the gap exists before any training) and (3) the cones of different
    seeds point in different directions: the cosine between the centres of
    two seeds' cones is much smaller than each cone's own cosine.

    Parameters
    ----------
    dataset : PairedDataset
        Image–text pairs (e.g. ``SyntheticShapes(500)``).
    seeds : int or sequence of int, default (0, 1, 2, 3, 4)
    architecture : dict, optional
        :class:`~amumo.models.tiny.TinyCLIPConfig` overrides.
    max_pairs : int or None, default 500
        Use the first ``max_pairs`` pairs (None: all).
    batch_size : int, default 256
    num_threads : int, default 1
        torch CPU threads while encoding (restored afterwards).

    Returns
    -------
    ExperimentResult
        ``data``: one row per (seed, modality) with ``cone_cosine``,
        ``gap_distance`` and ``paired_cosine`` of that seed's model;
        ``details["centre_cosine"]``: DataFrame of cosines between the cone
        centres of every (seed, modality) pair; ``details["embeddings"]``:
        ``{seed: Embeddings}``. Figure: PCA of the image embeddings of all
        seeds together, and the cone cosines.

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> from amumo.training import cone_effect
    >>> data, fig = cone_effect(SyntheticShapes(64, image_size=32), seeds=(0, 1))
    >>> bool((data["cone_cosine"] > 0.3).all())
    True
    """
    from amumo.models.tiny import TinyCLIP, TinyCLIPConfig
    from amumo.training._torch import reproducible
    from amumo.training.data import pair_arrays

    seed_list = _seeds(seeds)
    pairs = pair_arrays(dataset)
    n = len(pairs) if max_pairs is None else min(len(pairs), int(max_pairs))
    if n < 2:
        raise ValueError(f"max_pairs={max_pairs}; the cone effect needs at least 2 pairs.")
    options = {"image_size": int(pairs.pixels.shape[1]), **(architecture or {})}
    config = TinyCLIPConfig(TinyCLIPConfig.vocabulary_from(pairs.captions), **options)
    pixels, captions = pairs.pixels[:n], pairs.captions[:n]
    meta = pairs.meta.iloc[:n].reset_index(drop=True)

    rows, embeddings = [], {}
    for seed in seed_list:
        model = TinyCLIP(config, seed=seed, name=f"TinyCLIP(seed={seed}, random init)")
        with reproducible(seed, num_threads):
            arrays = {"image": model.encode_images(pixels, batch_size),
                      "text": model.encode_texts(captions, batch_size)}
        emb = Embeddings.from_arrays(
            arrays, meta=meta,
            provenance={"model": model.name, "seed": seed, "experiment": "cone_effect"},
        )
        embeddings[seed] = emb
        gap, paired = gap_distance(emb), paired_cosine(emb)
        for modality in emb.modalities:
            rows.append({"seed": seed, "modality": modality,
                         "cone_cosine": cone_cosine(emb, modality),
                         "gap_distance": gap, "paired_cosine": paired})
    data = pd.DataFrame(rows)

    labels, centres = [], []
    for seed, emb in embeddings.items():
        for modality in emb.modalities:
            centre = emb[modality].astype(np.float64).mean(axis=0)
            centres.append(centre / np.linalg.norm(centre))
            labels.append(f"{modality} · seed {seed}")
    centre_matrix = np.asarray(centres)
    centre_cosine = pd.DataFrame(centre_matrix @ centre_matrix.T, index=labels, columns=labels)

    figure = _cone_figure(data, embeddings, seed_list)
    return ExperimentResult(
        data, figure, {"embeddings": embeddings, "centre_cosine": centre_cosine, "n_pairs": n}
    )


def _cone_figure(data: pd.DataFrame, embeddings: dict[int, Embeddings], seeds: list[int]) -> Any:
    import plotly.graph_objects as go

    fig = _subplots(
        rows=1, cols=2, column_widths=[0.6, 0.4],
        subplot_titles=("image embeddings of each random init (PCA)",
                        "mean in-modality cosine (cone effect)"),
    )
    if len(seeds) >= 2:
        stacked = Embeddings.from_arrays(
            {f"seed {s}": embeddings[s]["image"] for s in seeds}, normalized=False
        )
        coords = project(stacked, "pca", cache=False)
    else:
        coords = project(embeddings[seeds[0]], "pca", modalities=["image"], cache=False)
    n = len(next(iter(embeddings.values())))
    for k, seed in enumerate(seeds):
        block = coords[k * n : (k + 1) * n]
        fig.add_trace(go.Scattergl(
            x=block[:, 0], y=block[:, 1], mode="markers", name=f"seed {seed}",
            marker={"size": 4, "color": _PALETTE[k % len(_PALETTE)], "opacity": 0.7},
            legendgroup=f"seed {seed}",
        ), row=1, col=1)
    for modality in ("image", "text"):
        part = data[data["modality"] == modality]
        fig.add_trace(go.Bar(
            x=[f"seed {s}" for s in part["seed"]], y=part["cone_cosine"], name=modality,
            marker_color=_MODALITY_COLOURS[modality], legendgroup=modality,
        ), row=1, col=2)
    fig.update_yaxes(range=[0, 1], title_text="cosine", row=1, col=2)
    fig.update_xaxes(title_text="PC 1", row=1, col=1)
    fig.update_yaxes(title_text="PC 2", row=1, col=1)
    fig.update_layout(
        template="plotly_white", barmode="group", height=420,
        title="Cone effect at random initialisation (Liang et al. 2022, Fig. 2)",
    )
    return fig


# --------------------------------------------------------------------------- temperature sweep
def temperature_sweep(
    dataset: Any,
    temperatures: Sequence[float] = TEMPERATURES,
    epochs: int = 10,
    seeds: int | Sequence[int] = 0,
    callback: Callable[[Any], Any] | None = None,
    **train_options: Any,
) -> ExperimentResult:
    """Train at each temperature (same seed, data and epochs) and compare the gaps.

    The paper's claim (Sec. 4.2): a low temperature (CLIP's 0.01) preserves
    the modality gap of the initialisation, a high one (1.0) lets it close.

    Parameters
    ----------
    dataset : PairedDataset
    temperatures : sequence of float, default (0.01, 0.05, 0.1, 1.0)
    epochs : int, default 10
    seeds : int or sequence of int, default 0
        One run per (temperature, seed).
    callback : callable, optional
        Passed to every :func:`~amumo.training.train_contrastive` run (e.g. a
        :class:`~amumo.training.TrainingMonitor`, which draws one line per run).
    **train_options
        Further :func:`~amumo.training.train_contrastive` arguments
        (``batch_size``, ``probe``, ``learning_rate``, ...).

    Returns
    -------
    ExperimentResult
        ``data``: the training histories stacked, with ``temperature`` and
        ``seed`` columns; ``details["histories"]``: ``{(τ, seed): TrainingHistory}``;
        ``details["summary"]``: final gap, loss and recall per run. Figure:
        gap, loss, cone cosine and recall@1 over the epochs, one colour per τ.

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> from amumo.training import temperature_sweep
    >>> ds = SyntheticShapes(300, image_size=32)
    >>> result = temperature_sweep(ds, (0.01, 1.0), epochs=2, probe=64)
    >>> s = result.details["summary"].set_index("temperature")["gap_distance"]
    >>> bool(s[1.0] < s[0.01])
    True
    """
    from amumo.training.trainer import train_contrastive

    temps = _temperatures(temperatures)
    seed_list = _seeds(seeds)
    for reserved in ("temperature", "seed", "epochs", "callback"):
        if reserved in train_options:
            raise TypeError(f"{reserved} is set by temperature_sweep; do not pass it.")
    histories, frames = {}, []
    for seed in seed_list:
        for t in temps:
            history = train_contrastive(
                dataset, temperature=t, epochs=epochs, seed=seed, callback=callback,
                **train_options,
            )
            histories[(t, seed)] = history
            frame = history.to_frame().reset_index()
            frame.insert(0, "seed", seed)
            frame.insert(0, "run_temperature", t)
            frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    summary = (
        data.sort_values("epoch").groupby(["run_temperature", "seed"]).tail(1)
        .rename(columns={"run_temperature": "temperature", "temperature": "final_temperature"})
        [["temperature", "seed", "epoch", "loss", "probe_loss", "gap_distance",
          "cone_cosine:image", "cone_cosine:text", "paired_cosine", "recall@1:image->text",
          "recall@1:text->image", "seconds"]]
        .sort_values(["temperature", "seed"])
        .reset_index(drop=True)
    )
    data = data.rename(columns={"temperature": "current_temperature",
                                "run_temperature": "temperature"})
    figure = _sweep_figure(data, temps, seed_list)
    return ExperimentResult(data, figure, {"histories": histories, "summary": summary})


def _sweep_figure(data: pd.DataFrame, temps: list[float], seeds: list[int]) -> Any:
    import plotly.graph_objects as go

    panels = [("gap_distance", "modality gap ‖Δ‖ (probe set)"),
              ("loss", "training loss (at its own τ)"),
              ("cone_cosine:image", "cone cosine (image solid, text dotted)"),
              ("recall@1:image->text", "recall@1 image→text (probe set)")]
    fig = _subplots(rows=2, cols=2, subplot_titles=[title for _, title in panels],
                    horizontal_spacing=0.1, vertical_spacing=0.14)
    for k, t in enumerate(temps):
        colour = _PALETTE[k % len(_PALETTE)]
        part = data[data["temperature"] == t]
        mean = part.groupby("epoch").mean(numeric_only=True)
        for p, (column, _) in enumerate(panels):
            row, col = divmod(p, 2)
            if len(seeds) > 1:
                for seed in seeds:
                    run = part[part["seed"] == seed]
                    fig.add_trace(go.Scatter(
                        x=run["epoch"], y=run[column], mode="lines", showlegend=False,
                        line={"color": colour, "width": 1}, opacity=0.3, hoverinfo="skip",
                    ), row=row + 1, col=col + 1)
            fig.add_trace(go.Scatter(
                x=mean.index, y=mean[column], mode="lines+markers", name=f"τ = {t:g}",
                legendgroup=f"τ{t}", showlegend=p == 0, line={"color": colour},
                marker={"size": 4},
            ), row=row + 1, col=col + 1)
            if column == "cone_cosine:image":
                fig.add_trace(go.Scatter(
                    x=mean.index, y=mean["cone_cosine:text"], mode="lines",
                    name=f"τ = {t:g} (text)", legendgroup=f"τ{t}", showlegend=False,
                    line={"color": colour, "dash": "dot"},
                ), row=row + 1, col=col + 1)
    for p in range(4):
        fig.update_xaxes(title_text="epoch", row=p // 2 + 1, col=p % 2 + 1)
    fig.update_yaxes(rangemode="tozero")
    seeds_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean of seeds {seeds}"
    fig.update_layout(
        template="plotly_white", height=620,
        title=f"Gap over training at each temperature ({seeds_text}; Liang et al. 2022, Sec. 4.2)",
    )
    return fig


# --------------------------------------------------------------------------- embedding shift
def embedding_shift(
    dataset: Any = None,
    temperature: float = 0.01,
    epochs: int = 10,
    seed: int = 0,
    *,
    history: Any = None,
    lams: Sequence[float] | np.ndarray | None = None,
    temperatures: Sequence[float] | None = None,
    **train_options: Any,
) -> ExperimentResult:
    """Loss as a function of a shift along the gap, before and after training.

    Liang et al. (Sec. 4.1, Fig. 4) shift every embedding by ``λ`` along the
    gap vector (``λ = 1`` closes it, ``λ < 0`` widens it; see
    :func:`amumo.shift`) and re-evaluate the contrastive loss. After
    training at a low temperature the loss is lowest near ``λ = 0``: the gap
    is a stable feature of the optimum, not a defect that training forgot to
    remove. Before training the landscape is flat-ish and its minimum is
    elsewhere.

    Parameters
    ----------
    dataset : PairedDataset, optional
        Train on it with :func:`~amumo.training.train_contrastive` (not needed
        when ``history`` is given).
    temperature, epochs, seed :
        The training run (ignored when ``history`` is given).
    history : TrainingHistory, optional
        Reuse a finished run: its first (random init) and last probe
        embeddings are shifted.
    lams : sequence of float, optional
        Shift sizes; default ``np.linspace(-1, 1, 41)``.
    temperatures : sequence of float, optional
        Temperatures at which the loss is evaluated; default the training τ.
    **train_options
        Further :func:`~amumo.training.train_contrastive` arguments.

    Returns
    -------
    ExperimentResult
        ``data``: columns ``stage`` ("random init"/"trained"), ``temperature``,
        ``lam``, ``loss``; ``details["minimum"]``: the ``λ`` of lowest loss per
        stage and temperature; ``details["history"]``. Figure: loss vs ``λ``
        per stage, one colour per temperature, minima marked.

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> from amumo.training import embedding_shift
    >>> result = embedding_shift(SyntheticShapes(300, image_size=32), epochs=2, probe=64,
    ...                          lams=[-0.5, 0, 0.5])
    >>> sorted(result.data["stage"].unique())
    ['random init', 'trained']
    """
    from amumo.training.trainer import TrainingHistory, train_contrastive

    if history is None:
        if dataset is None:
            raise ValueError("pass a dataset to train on, or history= from train_contrastive.")
        history = train_contrastive(dataset, temperature=temperature, epochs=epochs, seed=seed,
                                    **train_options)
    elif not isinstance(history, TrainingHistory):
        raise TypeError(f"history must be a TrainingHistory, got {type(history).__name__}.")
    elif train_options:
        raise TypeError(
            f"training options {sorted(train_options)} have no effect with history=; drop them."
        )
    lam_values = np.linspace(-1.0, 1.0, 41) if lams is None else np.asarray(lams, dtype=float)
    if lam_values.ndim != 1 or lam_values.size == 0:
        raise ValueError("lams must be a non-empty 1-D sequence of shift sizes.")
    train_tau = float(history.settings["temperature"])
    temps = _temperatures([train_tau] if temperatures is None else temperatures)

    rows, minima = [], []
    for stage, emb in (("random init", history.probes[0]), ("trained", history.probes[-1])):
        grid = loss_landscape(emb, lam_values, temps)
        for i, t in enumerate(temps):
            for j, lam in enumerate(lam_values):
                rows.append({"stage": stage, "temperature": t, "lam": float(lam),
                             "loss": float(grid[i, j])})
            best = int(np.argmin(grid[i]))
            minima.append({"stage": stage, "temperature": t, "lam_min": float(lam_values[best]),
                           "loss_min": float(grid[i, best]),
                           "gap_distance": gap_distance(emb)})
    data = pd.DataFrame(rows)
    minimum = pd.DataFrame(minima)
    figure = _shift_figure(data, minimum, temps, train_tau, int(history.final["epoch"]))
    return ExperimentResult(data, figure, {"minimum": minimum, "history": history})


def _shift_figure(data: pd.DataFrame, minimum: pd.DataFrame, temps: list[float],
                  train_tau: float, epochs: int) -> Any:
    import plotly.graph_objects as go

    stages = ("random init", "trained")
    fig = _subplots(rows=1, cols=2, subplot_titles=(
        "random initialisation", f"after {epochs} epochs at τ = {train_tau:g}"))
    for c, stage in enumerate(stages):
        for k, t in enumerate(temps):
            colour = _PALETTE[k % len(_PALETTE)]
            part = data[(data["stage"] == stage) & (data["temperature"] == t)]
            fig.add_trace(go.Scatter(
                x=part["lam"], y=part["loss"], mode="lines", name=f"loss at τ = {t:g}",
                legendgroup=f"τ{t}", showlegend=c == 0, line={"color": colour},
            ), row=1, col=c + 1)
            best = minimum[(minimum["stage"] == stage) & (minimum["temperature"] == t)]
            fig.add_trace(go.Scatter(
                x=best["lam_min"], y=best["loss_min"], mode="markers", showlegend=False,
                marker={"color": colour, "size": 10, "symbol": "star"},
                hovertemplate="minimum at λ=%{x:.2f}<br>loss %{y:.3f}<extra></extra>",
            ), row=1, col=c + 1)
        fig.add_vline(x=0, line={"color": "grey", "dash": "dot"}, row=1, col=c + 1)
        fig.update_xaxes(title_text="λ (shift along the gap; 1 closes it)", row=1, col=c + 1)
    fig.update_yaxes(title_text="contrastive loss (probe set)", row=1, col=1)
    fig.update_layout(
        template="plotly_white", height=420,
        title="Embedding-shift experiment (Liang et al. 2022, Fig. 4)",
    )
    return fig
