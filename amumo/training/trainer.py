"""Train a TinyCLIP contrastively and record how the modality gap evolves.

Liang et al., "Mind the Gap" (NeurIPS 2022), argue that (1) each randomly
initialised encoder maps its inputs into a narrow cone, so the two modalities
start apart, and (2) contrastive learning at a low temperature preserves the
gap while a high temperature lets it close. :func:`train_contrastive` makes
this observable: it trains a small two-tower model on CPU and, after every
epoch (and once before training), measures the gap, the cones and retrieval
on a held-out probe set with :mod:`amumo.analysis`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from amumo.analysis.metrics import metrics as _metrics
from amumo.embeddings.container import Embeddings
from amumo.models.tiny import TinyCLIP, TinyCLIPConfig, pixels_to_tensor, tokenize
from amumo.training._torch import reproducible, require_torch
from amumo.training.data import PairArrays, pair_arrays, split_probe
from amumo.training.loss import clip_loss

__all__ = ["train_contrastive", "TrainingHistory", "MIN_LEARNED_TEMPERATURE"]

#: Lower bound of a learned temperature (CLIP clamps its logit scale at 100).
MIN_LEARNED_TEMPERATURE = 0.01

#: Columns of every history record, in order (see :class:`TrainingHistory`).
RECORD_COLUMNS = (
    "epoch",
    "step",
    "temperature",
    "loss",
    "probe_loss",
    "gap_distance",
    "cone_cosine:image",
    "cone_cosine:text",
    "paired_cosine",
    "recall@1:image->text",
    "recall@1:text->image",
    "recall@5:image->text",
    "recall@5:text->image",
    "alignment",
    "uniformity:image",
    "uniformity:text",
    "seconds",
)


@dataclass
class TrainingHistory:
    """What :func:`train_contrastive` measured, one record per epoch.

    Record 0 is the random initialisation (before any update); record ``e`` is
    after epoch ``e``. Iterating yields the records (dicts), so
    ``pandas.DataFrame(history)`` works; :meth:`to_frame` does the same.

    Attributes
    ----------
    records : list of dict
        Keys :data:`RECORD_COLUMNS`: ``loss`` is the mean training-batch loss
        of the epoch (at epoch 0 the same batches evaluated without updates),
        ``probe_loss`` the InfoNCE of the probe set at the current
        temperature, the rest are :func:`amumo.metrics` of the probe set;
        ``seconds`` is the wall time since training started.
    probes : list of Embeddings
        Embeddings of the same held-out probe pairs after each epoch (with
        the dataset's meta rows), e.g. to draw how they move.
    model : TinyCLIP
        The trained encoder (usable with ``am.embed``).
    settings : dict
        The arguments of the run (temperature, epochs, seed, batch size, ...).
    probe_indices, train_indices : ndarray
        Pair indices of the held-out probe set and of the training pairs.
    stopped_early : bool
        True when the callback asked to stop.
    """

    records: list[dict[str, float]]
    probes: list[Embeddings]
    model: TinyCLIP
    settings: dict[str, Any]
    probe_indices: np.ndarray
    train_indices: np.ndarray
    stopped_early: bool = False
    batch_losses: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __getitem__(self, epoch: int) -> dict[str, float]:
        return self.records[epoch]

    def to_frame(self) -> pd.DataFrame:
        """The records as a DataFrame indexed by epoch."""
        return pd.DataFrame(self.records, columns=list(RECORD_COLUMNS)).set_index("epoch")

    @property
    def final(self) -> dict[str, float]:
        """The last record."""
        return self.records[-1]

    def __repr__(self) -> str:
        last = self.final
        return (
            f"TrainingHistory(epochs={int(last['epoch'])}, temperature="
            f"{self.settings['temperature']}, seed={self.settings['seed']}, "
            f"loss={last['loss']:.4f}, gap_distance={last['gap_distance']:.4f}, "
            f"recall@1:image->text={last['recall@1:image->text']:.3f})"
        )


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an integer.")
    if value < minimum:
        raise ValueError(f"{name}={value!r} must be at least {minimum}.")
    return int(value)


def _check_positive_float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be a number.") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name}={value!r} must be a positive finite number.")
    return number


def _probe_embeddings(
    model: TinyCLIP,
    pixels: np.ndarray,
    ids: np.ndarray,
    meta: pd.DataFrame,
    provenance: dict[str, Any],
) -> Embeddings:
    torch = require_torch()
    net = model.network
    net.eval()
    with torch.no_grad():
        image = net.image(pixels_to_tensor(pixels)).numpy()
        text = net.text(torch.from_numpy(ids)).numpy()
    net.train()
    return Embeddings.from_arrays({"image": image, "text": text}, meta=meta, provenance=provenance)


def train_contrastive(
    dataset: Any,
    temperature: float = 0.01,
    epochs: int = 10,
    seed: int = 0,
    callback: Callable[[TrainingHistory], Any] | None = None,
    *,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    warmup_steps: int | None = None,
    max_grad_norm: float | None = 1.0,
    learn_temperature: bool = False,
    probe: int | Sequence[int] = 256,
    image_size: int | None = None,
    model: TinyCLIP | None = None,
    architecture: dict[str, Any] | None = None,
    num_threads: int = 1,
    progress: bool = False,
) -> TrainingHistory:
    """Train a TinyCLIP with the symmetric contrastive loss and record the gap per epoch.

    The model is a small CNN image tower and a one-layer transformer text
    tower (:class:`amumo.models.tiny.TinyCLIP`), trained with Adam(W) on the
    symmetric InfoNCE loss (the CLIP loss, same definition as
    :func:`amumo.losses.info_nce`) at temperature ``τ``. Everything runs on
    CPU and is deterministic under ``seed``: the weights, the held-out probe
    set and the batch order are seeded, torch's deterministic algorithms are
    on and the thread count is fixed (the caller's torch settings are
    restored afterwards).

    Parameters
    ----------
    dataset : PairedDataset
        Image–text pairs, e.g. ``amumo.data.SyntheticShapes(2000, seed=0)``.
    temperature : float, default 0.01
        ``τ`` of the loss (CLIP ends training at 0.01). Fixed unless
        ``learn_temperature``.
    epochs : int, default 10
        Passes over the training pairs (0 only measures the initialisation).
    seed : int, default 0
        Seeds the initial weights, the probe split and the batch order.
    callback : callable, optional
        ``callback(history)`` after the initial measurement and after every
        epoch, e.g. a :class:`~amumo.training.TrainingMonitor`. Return
        ``False`` to stop training early.
    batch_size : int, default 128
        Pairs per step. Every training pair is used once per epoch (batches
        differ in size by at most one; none is dropped).
    learning_rate : float, default 1e-3
    weight_decay : float, default 0.0
        AdamW decoupled weight decay.
    warmup_steps : int, optional
        Linear learning-rate warm-up over this many steps (default: one
        epoch). With ``τ = 0.01`` the initial logits reach ±100, and without
        a warm-up the towers can collapse onto a constant in the first steps.
    max_grad_norm : float or None, default 1.0
        Clip the gradient norm (None: no clipping).
    learn_temperature : bool, default False
        Learn ``log(1/τ)`` from ``temperature`` on, with ``τ ≥ 0.01``. The
        paper's experiments fix ``τ``.
    probe : int or sequence of int, default 256
        Held-out pairs measured after each epoch (a count drawn with ``seed``,
        or explicit indices). They are never trained on.
    image_size : int, optional
        Resize images to this side; default the dataset's.
    model : TinyCLIP, optional
        Continue training this model (it is updated in place) instead of a
        fresh one seeded with ``seed``.
    architecture : dict, optional
        Overrides of :class:`~amumo.models.tiny.TinyCLIPConfig` fields for a
        fresh model, e.g. ``{"embed_dim": 32}``.
    num_threads : int, default 1
        torch CPU threads (part of what makes runs reproducible). One thread
        is the fastest on a busy 2-core machine: OpenMP threads competing for
        cores can make a step several times slower.
    progress : bool, default False
        Show a tqdm progress bar over epochs.

    Returns
    -------
    TrainingHistory

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> from amumo.training import train_contrastive
    >>> ds = SyntheticShapes(300, seed=0, image_size=32)
    >>> hist = train_contrastive(ds, temperature=0.05, epochs=2, probe=64)
    >>> hist.to_frame()[["loss", "gap_distance"]].shape
    (3, 2)
    >>> hist.final["loss"] < hist[0]["loss"]
    True
    """
    torch = require_torch()
    temperature = _check_positive_float(temperature, "temperature")
    epochs = _check_positive_int(epochs, "epochs", minimum=0)
    seed = _check_positive_int(seed, "seed", minimum=0)
    batch_size = _check_positive_int(batch_size, "batch_size", minimum=2)
    learning_rate = _check_positive_float(learning_rate, "learning_rate")
    num_threads = _check_positive_int(num_threads, "num_threads")
    if not math.isfinite(float(weight_decay)) or weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay!r} must be a finite number >= 0.")
    if warmup_steps is not None:
        warmup_steps = _check_positive_int(warmup_steps, "warmup_steps")
    if max_grad_norm is not None:
        max_grad_norm = _check_positive_float(max_grad_norm, "max_grad_norm")
    if learn_temperature and temperature < MIN_LEARNED_TEMPERATURE:
        raise ValueError(
            f"temperature={temperature} is below the learned-temperature floor "
            f"{MIN_LEARNED_TEMPERATURE}; start at or above it."
        )
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}.")
    if model is not None and not isinstance(model, TinyCLIP):
        raise TypeError(f"model must be a TinyCLIP, got {type(model).__name__}.")
    if model is not None and architecture:
        raise ValueError("pass either model (to continue training) or architecture, not both.")

    if model is not None and image_size is None:
        image_size = model.config.image_size
    pairs: PairArrays = pair_arrays(dataset, image_size)
    train_idx, probe_idx = split_probe(len(pairs), probe, seed)
    if model is None:
        options = {"image_size": int(pairs.pixels.shape[1]), **(architecture or {})}
        config = TinyCLIPConfig(TinyCLIPConfig.vocabulary_from(pairs.captions), **options)
        model = TinyCLIP(
            config, seed=seed,
            name=f"TinyCLIP(τ={temperature:g}, epochs={epochs}, seed={seed})",
        )
    config = model.config
    if config.image_size != pairs.pixels.shape[1]:
        raise ValueError(
            f"architecture image_size={config.image_size} differs from the dataset's "
            f"{pairs.pixels.shape[1]}; pass image_size={config.image_size}."
        )
    ids, unknown = tokenize(pairs.captions, config.vocabulary)
    if unknown:
        raise ValueError(
            f"the model's vocabulary lacks the caption words {unknown[:10]}; train a fresh "
            "model on this dataset instead."
        )
    dataset_name = getattr(dataset, "name", type(dataset).__name__)
    n_batches = max(1, math.ceil(len(train_idx) / batch_size))
    warmup = n_batches if warmup_steps is None else warmup_steps
    settings = {
        "dataset": dataset_name,
        "n_pairs": len(pairs),
        "n_train": len(train_idx),
        "n_probe": len(probe_idx),
        "temperature": temperature,
        "learn_temperature": bool(learn_temperature),
        "epochs": epochs,
        "seed": seed,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": float(weight_decay),
        "warmup_steps": warmup,
        "max_grad_norm": max_grad_norm,
        "num_threads": num_threads,
        "architecture": config.to_dict() | {"vocabulary": len(config.vocabulary)},
    }
    probe_pixels = pairs.pixels[probe_idx]
    probe_ids = ids[probe_idx]
    probe_meta = pairs.meta.iloc[probe_idx].reset_index(drop=True)
    probe_meta.insert(0, "pair" if "pair" not in probe_meta.columns else "probe_pair", probe_idx)
    train_pixels = torch.from_numpy(np.ascontiguousarray(pairs.pixels[train_idx]))
    train_ids = torch.from_numpy(ids[train_idx])

    net = model.network
    log_inv_tau = torch.nn.Parameter(
        torch.tensor(math.log(1.0 / temperature)), requires_grad=bool(learn_temperature)
    )
    parameters = list(net.parameters()) + ([log_inv_tau] if learn_temperature else [])
    bar = None
    with reproducible(seed, num_threads) as generator:
        optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
        history = TrainingHistory([], [], model, settings, probe_idx, train_idx)
        start = time.perf_counter()
        step = 0

        def tau() -> Any:
            if not learn_temperature:
                return temperature
            return 1.0 / log_inv_tau.exp().clamp(max=1.0 / MIN_LEARNED_TEMPERATURE)

        def batches() -> list[Any]:
            order = torch.randperm(len(train_idx), generator=generator)
            return list(torch.tensor_split(order, n_batches))

        def measure(epoch: int, loss: float) -> bool:
            current = float(tau()) if not learn_temperature else float(tau().detach())
            emb = _probe_embeddings(
                model, probe_pixels, probe_ids, probe_meta,
                {"model": model.name, "dataset": dataset_name, "epoch": epoch,
                 "temperature": current, "seed": seed, "split": "probe"},
            )
            values = _metrics(emb, temperature=current, ks=(1, 5), include_separability=False)
            record = {"epoch": epoch, "step": step, "temperature": current, "loss": loss,
                      "probe_loss": values["info_nce"], "seconds": time.perf_counter() - start}
            for column in RECORD_COLUMNS:
                if column not in record:
                    record[column] = float(values[column])
            history.records.append({c: record[c] for c in RECORD_COLUMNS})
            history.probes.append(emb)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.3f}", gap=f"{record['gap_distance']:.3f}")
            return callback is None or callback(history) is not False

        # Epoch 0: the random initialisation, measured on the same kind of batches.
        net.eval()
        with torch.no_grad():
            initial = [
                float(clip_loss(*net(pixels_to_tensor(train_pixels[b].numpy()), train_ids[b]),
                                tau()))
                for b in batches()
            ]
        net.train()
        keep_going = measure(0, float(np.mean(initial)))
        if progress and epochs:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, desc=f"training τ={temperature:g}", unit="epoch")
        try:
            for epoch in range(1, epochs + 1):
                if not keep_going:
                    history.stopped_early = True
                    break
                losses = []
                for b in batches():
                    pixels = pixels_to_tensor(train_pixels[b].numpy())
                    image, text = net(pixels, train_ids[b])
                    loss = clip_loss(image, text, tau())
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate * min(1.0, (step + 1) / warmup)
                    optimizer.step()
                    step += 1
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"the loss became {value} at epoch {epoch}, step {step}; lower "
                            f"learning_rate (now {learning_rate}) or raise temperature."
                        )
                    losses.append(value)
                history.batch_losses.extend(losses)
                keep_going = measure(epoch, float(np.mean(losses)))
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            net.eval()
    model.info = {
        **model.info,
        "training": settings | {"epochs_run": int(history.final["epoch"])},
    }
    model.refresh_fingerprint()
    return history
