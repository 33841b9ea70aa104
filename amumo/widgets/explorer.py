"""Explorer: heatmap + scatter + preview + metrics with gap, model, augmentation and
caption-filter controls, linked in the browser.

The close-the-gap toggle and the λ slider shift both modalities along the gap
vector (Liang et al., NeurIPS 2022) with :func:`amumo.shift` /
:func:`amumo.close_gap`; every view and the metrics panel update together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import traitlets

from amumo.analysis.row_map import RowMap
from amumo.analysis.summary import gap_metrics  # the panel's numbers; re-exported here
from amumo.embeddings.container import Embeddings
from amumo.widgets._base import (
    STATIC,
    SYNC_LIMIT,
    AmumoWidget,
    JobCancelled,
    blas_threads,
    one_blas_thread,
)
from amumo.widgets._gap_pair import GapPairMixin, pair_matrix
from amumo.widgets._items import ItemsMixin, check_dataset, check_embeddings_arg
from amumo.widgets._streamed import StreamedViewsMixin
from amumo.widgets.annotate import AnnotationMixin
from amumo.widgets.heatmap import HeatmapMixin
from amumo.widgets.query import QueryMixin
from amumo.widgets.scatter import ScatterMixin
from amumo.widgets.science import ScienceMixin

__all__ = ["Explorer", "gap_metrics"]

NO_AUGMENTATION = "none"
#: Above this many pairs a gap shift / mitigation redraws in a background job ("views"),
#: superseding an older request, while the views say "updating…".
VIEWS_SYNC_LIMIT = 10_000
#: Base pairs augmented when an augmentation is picked (each at every level).
AUGMENT_ITEMS = 20


def _metric_rows(
    before: dict[str, float], after: dict[str, float], temperature: float,
    grouped: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of the metrics panel; ``grouped`` (e.g. "level") marks retrieval and InfoNCE
    as computed within each group and averaged."""

    def describe(key: str) -> tuple[str, str | None, str]:
        label, better, help_text = _describe(key)
        if grouped and (key == "info_nce" or key.startswith("recall@")):
            label += f" (per {grouped})"
            help_text += (
                f"; computed within each {grouped} and averaged: across {grouped}s the same "
                "caption repeats, and its copies counted as negatives would inflate InfoNCE"
            )
        return label, better, help_text

    def _describe(key: str) -> tuple[str, str | None, str]:
        if key == "gap_distance":
            return ("gap distance", None, "‖mean(a) − mean(b)‖ of the paired items (Liang et al. "
                    "2022); a GapSweep's 'class-text gap' (images vs class prompts) differs")
        if key == "info_nce":
            return f"InfoNCE τ={temperature:g}", "lower", "symmetric contrastive loss"
        if key == "paired_cosine":
            return "paired cosine", "higher", "mean cos(a_i, b_i)"
        if key == "rmg":
            return "RMG", None, "relative modality gap (Schrodi et al., ICLR 2025)"
        if key == "l2i":
            return "L2I", None, "mean ‖a_i − b_i‖ over pairs"
        if key == "centroid_cosine":
            return "centroid cosine", None, "cos(mean(a), mean(b))"
        direction = key.split(":", 1)[1].replace("->", "→")
        return (f"R@1 {direction}", "higher", "fraction of queries whose own pair ranks first; "
                "a tie (e.g. a caption repeated word for word) counts for the pair, as in the "
                "failed-retrievals table")

    def interval(values: dict[str, float], key: str) -> list[float] | None:
        if key + ":ci_low" not in values:
            return None
        return [values[key + ":ci_low"], values[key + ":ci_high"]]

    rows = []
    for key in before:
        if ":ci_" in key or key.startswith("retrieval_"):
            continue
        label, better, help_text = describe(key)
        row = {
            "key": key, "label": label, "better": better, "help": help_text,
            "before": before[key], "after": after.get(key, before[key]),
        }
        ci_before, ci_after = interval(before, key), interval(after, key)
        if ci_before or ci_after:
            queries = int(after.get("retrieval_queries", before.get("retrieval_queries", 0)))
            row["estimate"] = True
            row["ci_before"], row["ci_after"] = ci_before, ci_after
            row["help"] = (
                f"{help_text}; estimate: {queries:,} seeded queries per direction, each "
                "ranked against all candidates (95 % interval)"
            )
        rows.append(row)
    return rows


class Explorer(
    StreamedViewsMixin, QueryMixin, AnnotationMixin, ScienceMixin, GapPairMixin, HeatmapMixin,
    ScatterMixin, ItemsMixin, AmumoWidget,
):
    """The composed modality-gap explorer.

    One widget renders the similarity heatmap, the projection scatter, item
    previews and a metrics panel from shared front-end modules, so hovering a
    heatmap cell ``(i, j)`` highlights both points and their pair lines in the
    scatter and previews both items without a round trip to the kernel. Python
    receives ``hovered`` and (debounced) ``selected``.

    Parameters
    ----------
    emb : Embeddings or dict of str to Embeddings, optional
        One model's embeddings, or several (the model / dataset picker). Entries
        of one dataset must share the pairs. May be omitted when ``dataset`` and
        ``encoder`` are given.
    dataset : amumo.data dataset or dict of str to dataset, optional
        Aligned with the embeddings (pair i = row i): images for previews,
        captions for tooltips and the caption filter. A dict (keys of ``emb``)
        gives each entry its own dataset; entries may then differ in size.
    encoder : Encoder or dict of str to Encoder, optional
        With ``dataset``: embeds it when ``emb`` is omitted, and enables the
        augmentation dropdown (:class:`amumo.data.Augmented`, embedded on demand).
    text_column : str, optional
        Meta column used as each pair's text (default caption/text/label...).
    augmentation_levels : int, default 10
        Levels per augmentation; the first ``AUGMENT_ITEMS`` pairs are augmented.
    **traits
        Any trait below.

    Traits
    ------
    gap_pair : list of two str, default [] (the first two modalities)
        With more than two modalities: the pair ``[a, b]`` the metrics panel, ``lam``
        and ``closed`` act on; the panel also shows the M × M gap matrix.
    closed : bool, default False
        Close the gap (:func:`amumo.close_gap`, remaining gap < 1e-3).
    lam : float, default 0.0
        Shift along the gap (:func:`amumo.shift`); ignored while ``closed``. Link a
        :class:`GapSweep` to it with ``traitlets.link((sweep, "lam"), (explorer, "lam"))``.
    model_name : str
        Shown model (one of ``model_names``).
    augmentation : str, default "none"
    filter_text : str, filter_mode : {"any", "all"}
        Keep pairs whose text contains any / all of the words (case-insensitive).
    mitigation : {"shift", "center", "standardize"}, default "shift"
        Gap remedy shown (:func:`amumo.mitigate`); "shift" uses ``lam``.
    strength : float, default 1.0
        Strength of "center" / "standardize" in [0, 1].
    retrieval_k : int, default 5
        Neighbours listed in the retrieval panel for the hovered item.
    failures, calibration : dict (read-only)
        Worst failed retrievals and cosine histograms of the shown pairs.
    temperature : float, default 0.01
        Temperature of the InfoNCE loss in the metrics panel.
    remote_images : bool, default True (False when ``$AMUMO_REMOTE_IMAGES=0``)
        Preview photos linked in the meta (``coco_url``, e.g. ``clip_coco500()``): the
        kernel downloads them when online (:mod:`amumo.widgets.remote`).
    metrics : dict (read-only)
        ``{"rows": [{"key", "label", "before", "after", ...}], "pending": bool}``.
    hovered, selected, cluster, projection, color_by, ...
        As in :class:`Heatmap` and :class:`Scatter`.

    Examples
    --------
    >>> import amumo as am
    >>> ex = am.Explorer(am.datasets.clip_coco500())
    >>> round(ex.metrics["rows"][0]["after"], 3)
    0.851
    >>> ex.closed = True
    >>> ex.metrics["rows"][0]["after"] < 1e-3
    True
    """

    _esm = STATIC / "explorer.js"
    _extra_kwargs = ("dataset", "encoder", "text_column", "augmentation_levels")
    _outputs = ("model_names", "augmentations", "n_total", "metrics", "status",
                "augmentation_note")

    model_names = traitlets.List(traitlets.Unicode(), help="Models to pick from.").tag(sync=True)
    model_name = traitlets.Unicode("", help="The shown model.").tag(sync=True)
    augmentations = traitlets.List(
        traitlets.Unicode(), default_value=[NO_AUGMENTATION], help="Offered augmentations."
    ).tag(sync=True)
    augmentation = traitlets.Unicode(NO_AUGMENTATION, help="The shown augmentation.").tag(
        sync=True
    )
    closed = traitlets.Bool(False, help="Close the modality gap.").tag(sync=True)
    lam = traitlets.Float(0.0, help="Gap shift λ (am.shift); ignored while closed.").tag(
        sync=True
    )
    lam_range = traitlets.List(
        traitlets.Float(), default_value=[-1.0, 1.5], help="Slider range of λ."
    ).tag(sync=True)
    filter_text = traitlets.Unicode("", help="Caption filter words (space separated).").tag(
        sync=True
    )
    filter_mode = traitlets.Unicode("any", help="'any' or 'all' filter words must match.").tag(
        sync=True
    )
    n_total = traitlets.Int(0, help="Pairs before filtering (read-only).").tag(sync=True)
    temperature = traitlets.Float(0.01, help="InfoNCE temperature of the metrics panel.").tag(
        sync=True
    )
    metrics = traitlets.Dict(help="Metrics panel: rows of before/after values.").tag(sync=True)
    status = traitlets.Unicode("", help="What is being computed ('' when idle).").tag(sync=True)
    augmentation_note = traitlets.Unicode(
        "", help="Why the pair count changed under an augmentation ('' without one)."
    ).tag(sync=True)

    def __init__(
        self,
        emb: Embeddings | Mapping[str, Embeddings] | None = None,
        *,
        dataset: Any = None,
        encoder: Any = None,
        text_column: str | None = None,
        augmentation_levels: int = 10,
        **traits: Any,
    ) -> None:
        self._ready = False
        self._projection_auto = "projection" not in traits  # gap axis where PCA hides the gap
        self._query: dict[str, Any] | None = None
        self._row_map = RowMap()
        self._encoders = self._check_encoders(encoder)
        self._models = self._check_models(emb, dataset, self._encoders)
        first_name = next(iter(self._models))
        self._datasets = self._check_datasets(dataset, list(self._models))
        self._current_model = first_name
        dataset = self._root_dataset
        first = self._embeddings_for(first_name, NO_AUGMENTATION, dataset)
        self._text_column_arg = text_column
        if int(augmentation_levels) < 1:
            raise ValueError(f"augmentation_levels={augmentation_levels} must be at least 1.")
        self._augmentation_levels = int(augmentation_levels)
        self._init_items(first, dataset, text_column)
        self._init_heatmap()
        super().__init__(**traits)
        self._init_scatter()
        with self.hold_sync():
            self.model_names = list(self._models)
            if not self.model_name:
                self.model_name = first_name
            elif self.model_name not in self._models:
                raise ValueError(
                    f"model_name={self.model_name!r} is not one of {list(self._models)}."
                )
            self.augmentations = self._augmentation_options()
            self._ready = True
            self._load_source()
            self._update_query_info()
            self._update_annotation_traits()

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _check_encoders(encoder: Any) -> dict[str, Any]:
        if encoder is None:
            return {}
        if isinstance(encoder, Mapping):
            return dict(encoder)
        return {str(getattr(encoder, "name", "model")): encoder}

    @staticmethod
    def _check_datasets(dataset: Any, names: list[str]) -> dict[str, Any]:
        if isinstance(dataset, Mapping):
            unknown = [str(k) for k in dataset if str(k) not in names]
            if unknown:
                raise ValueError(
                    f"dataset has keys {unknown} that name no model; use the keys of emb "
                    f"(or encoder): {names}."
                )
            return {str(k): v for k, v in dataset.items()}
        return dict.fromkeys(names, dataset)

    @property
    def _root_dataset(self) -> Any:
        """The dataset of the shown model (None without one)."""
        return self._datasets.get(self._current_model)

    @staticmethod
    def _check_models(
        emb: Any, dataset: Any, encoders: dict[str, Any]
    ) -> dict[str, Embeddings | None]:
        if emb is None:
            if dataset is None or not encoders:
                raise TypeError(
                    "Explorer() needs embeddings (emb=...) or a dataset and an encoder "
                    "(dataset=..., encoder=...) to compute them."
                )
            return dict.fromkeys(encoders)
        if isinstance(emb, Embeddings):
            name = str(emb.provenance.get("model") or "embeddings")
            return {name: check_embeddings_arg(emb)}
        if isinstance(emb, Mapping):
            if not emb:
                raise ValueError("emb is an empty dict; pass at least one name -> Embeddings.")
            models = {str(k): check_embeddings_arg(v, f"emb[{k!r}]") for k, v in emb.items()}
            first = next(iter(models.values()))
            if isinstance(dataset, Mapping):
                return models  # entries embed different datasets: the picker switches data
            for name, value in models.items():
                if len(value) != len(first) or value.modalities != first.modalities:
                    raise ValueError(
                        f"emb[{name!r}] has {len(value)} pairs of {value.modalities} but the "
                        f"first model has {len(first)} of {first.modalities}; models of one "
                        "dataset must embed the same pairs (for different datasets pass "
                        "dataset={name: dataset, ...} with the same keys)."
                    )
            return models
        raise TypeError(
            f"emb is a {type(emb).__name__}; pass an Embeddings or a dict of name -> Embeddings."
        )

    def _augmentation_options(self) -> list[str]:
        if self._root_dataset is None or not self._encoders:
            return [NO_AUGMENTATION]
        try:
            from amumo.data.augment import AUGMENTATIONS
        except ImportError:  # pragma: no cover - amumo.data ships it
            return [NO_AUGMENTATION]
        return [NO_AUGMENTATION, *AUGMENTATIONS]

    def _augmented_dataset(self, kind: str) -> Any:
        from amumo.data.augment import Augmented

        base = self._root_dataset
        items = list(range(min(AUGMENT_ITEMS, len(base))))
        return Augmented(base, kind, levels=self._augmentation_levels, seed=self.seed, items=items)

    def _embeddings_for(self, model: str, augmentation: str, data: Any) -> Embeddings:
        """Embeddings of ``model`` on ``data`` (the dataset, or its augmented version)."""
        if augmentation == NO_AUGMENTATION and self._models.get(model) is not None:
            return self._models[model]
        from amumo.embeddings.pipeline import embed

        encoder = self._encoders.get(model)
        if encoder is None:
            raise ValueError(
                f"augmentation {augmentation!r} needs an encoder for model {model!r}; pass "
                "encoder={name: encoder} matching the embeddings' names."
            )
        emb = embed(encoder, data, progress=False)
        if augmentation == NO_AUGMENTATION:
            self._models[model] = emb
        return emb

    # ------------------------------------------------------------------ pipeline
    def _load_source(self) -> None:
        """Switch to the picked model/augmentation (embedding it first if needed)."""
        model, augmentation = self.model_name, self.augmentation
        self._current_model = model
        options = self._augmentation_options()
        if augmentation not in options:
            self.augmentations = options
            self.augmentation = NO_AUGMENTATION  # observed: loads the source again
            return
        self.augmentations = options
        needs_embedding = augmentation != NO_AUGMENTATION or self._models.get(model) is None
        dataset = self._root_dataset
        if augmentation != NO_AUGMENTATION:
            dataset = self._augmented_dataset(augmentation)

        def done(emb: Embeddings) -> None:
            if (self.model_name, self.augmentation) != (model, augmentation):
                return
            resized = len(emb) != len(self._source) or emb.modalities != self._source.modalities
            with self.hold_sync():
                if resized:  # other pairs: indices of the old ones mean nothing here
                    self.selected = []
                    self.hovered = -1
                    self.hovered_cell = {}
            self._init_items(emb, check_dataset(dataset, emb), self._text_column_arg)
            with self.hold_sync():
                self.color_options = _color_options_for(self)
                if self.color_by not in self.color_options:
                    self.color_by = "modality"
                self.n_total = len(emb)
                self.augmentation_note = self._augmentation_text(emb)
                self._update_query_info()
                self._update_annotation_traits()
                self._apply_filter()

        def fail(err: BaseException) -> None:
            self.error = f"could not embed {model!r} / {augmentation!r}: {err}"

        if not needs_embedding:
            done(self._models[model])
            return
        self._run_job(
            "source",
            lambda: self._embeddings_for(model, augmentation, dataset),
            done,
            status=("status", "embedding…"),
            background=True,
            error=fail,
        )

    def _filter_ids(self) -> np.ndarray:
        n = len(self._source)
        labels = self._label_mask()  # label_filter (widgets/annotate.py), None for all
        words = [w.lower() for w in self.filter_text.split()]
        if not words:
            return np.arange(n) if labels is None else np.flatnonzero(labels)
        if self._text_column is None:
            raise ValueError("these pairs have no caption/text column to filter on.")
        texts = self._table[self._text_column].astype("string").fillna("").str.lower()
        hits = np.column_stack([texts.str.contains(w, regex=False).to_numpy(bool) for w in words])
        mask = hits.all(axis=1) if self.filter_mode == "all" else hits.any(axis=1)
        if labels is not None:
            mask &= labels
        return np.flatnonzero(mask)

    @one_blas_thread
    def _apply_filter(self) -> None:
        try:
            ids = self._filter_ids()
        except ValueError as err:
            self.error = str(err)
            return
        if len(ids) < 2:
            what = [f"{self.filter_text!r} ({self.filter_mode})"] if self.filter_text else []
            if self.label_filter:
                what.append(f"label {self.label_filter!r} in {self.annotation_column!r}")
            self.error = (
                f"{len(ids)} pair(s) match {' and '.join(what)}; "
                "the views need at least 2. Showing the previous pairs."
            )
            return
        self.error = ""
        self._ids = ids
        self._base = self._source if len(ids) == len(self._source) else self._source.subset(ids)
        with self.hold_sync():
            self._set_items()
            self._cluster_order = None
            self._cluster_labels = None
            self._before = None
            self._shift()
            if self._cluster_labels_wanted():
                self._recluster()  # updates the heatmap when the order is known
            self._update_views()

    @one_blas_thread
    def _shift(self) -> None:
        base = self._base
        moves = RowMap()  # the map each modality took: a typed query is moved by it too
        self._emb = self._mitigated(base, moves)  # closed / shift by lam / center / standardize
        self._row_map = moves

    def _shift_and_update(self) -> None:
        """Shift (or mitigate) and redraw. Above ``VIEWS_SYNC_LIMIT`` pairs this is a
        background job: the views show "updating…" over the old picture, the metrics go
        stale (greyed), and a newer request (a second click, a slider step) supersedes a
        running one instead of queueing behind it (:meth:`AmumoWidget._run_job`)."""
        if len(self._base) <= VIEWS_SYNC_LIMIT or not self.threaded:
            self._shift()
            self._update_views()
            return
        base = self._base

        def compute(cancelled: Callable[[], bool]) -> tuple[Embeddings, RowMap]:
            moves = RowMap()
            with blas_threads():
                emb = self._mitigated(base, moves)
            if cancelled():
                raise JobCancelled
            return emb, moves

        def done(result: tuple[Embeddings, RowMap]) -> None:
            if self._base is not base:
                return
            self._emb, self._row_map = result
            self._update_views()

        def fail(err: BaseException) -> None:
            self.error = f"updating the views failed: {err}"
            self._update_science()  # the old pictures stay: their tables again

        if self.metrics:
            self.metrics = {**self.metrics, "pending": True}
        # The failures and calibration of the pictures being replaced are not wanted any
        # more; stopped now, they do not compete with the shift for the cores and memory
        # (their random gathers from a memory-mapped file held ~0.6 GB at 1M pairs).
        self._cancel_job("science")
        self._run_job(
            "views", compute, done, error=fail, cancellable=True,
            status=("busy", {"heatmap": "updating…", "scatter": "updating…"}),
        )

    @one_blas_thread
    def _update_views(self) -> None:
        if self._streaming():  # more pairs than memory: one pass, then the panels
            self._stream_views(then=self._stream_then)
            return
        with self.hold_sync():
            self._update_heatmap()
            self._update_projection()
            self._update_colors()
            self._update_metrics()
            self._update_science()  # failed retrievals + calibration (widgets/science.py)
            self._refresh_query()  # the query, moved by the same map (widgets/query.py)

    def _metric_groups(self) -> np.ndarray | None:
        """Augmentation level of each shown pair (captions repeat across levels), else None."""
        if self.augmentation == NO_AUGMENTATION or "level_index" not in self._table.columns:
            return None
        return self._table["level_index"].to_numpy()[self._ids]

    def _augmentation_text(self, emb: Embeddings) -> str:
        if self.augmentation == NO_AUGMENTATION or self._root_dataset is None:
            return ""
        n_base = len(self._root_dataset)
        items = min(AUGMENT_ITEMS, n_base)
        return (
            f"{self.augmentation}: the first {items} of {n_base:,} pairs × "
            f"{self._augmentation_levels} levels = {len(emb):,} pairs (each caption once per "
            "level; InfoNCE and R@1 within each level)"
        )

    def _update_metrics(self) -> None:
        base, current, temperature = self._base, self._emb, self.temperature
        before = getattr(self, "_before", None)
        ma, mb = self._gap_pair_now()
        groups = self._metric_groups()

        streaming = self._streaming()

        def progress(part: float, share: float) -> Callable[[float], None]:
            def report(fraction: float) -> None:  # "computing… 35 %" (streamed sizes)
                step = int((part + share * fraction) * 50)
                if step != getattr(self, "_metrics_step", None):
                    self._metrics_step = step
                    self.busy = {**self.busy, "metrics": f"computing… {step * 2} %"}
            return report

        def compute(cancelled: Callable[[], bool]) -> tuple[dict, dict]:
            # Blocked / sampled above 10k pairs; a newer request stops this one early.
            both = before is None and current is not base
            b = before if before is not None else gap_metrics(
                base, temperature, ma, mb, should_stop=cancelled, groups=groups,
                progress=progress(0.0, 0.5 if both else 1.0) if streaming else None,
            )
            a = b if current is base else gap_metrics(
                current, temperature, ma, mb, should_stop=cancelled, groups=groups,
                progress=progress(0.5 if both else 0.0, 0.5 if both else 1.0)
                if streaming else None,
            )
            return b, a

        def done(result: tuple[dict, dict]) -> None:
            b, a = result
            pair_info = pair_matrix(base, current, ma, mb)
            if self._base is base:
                self._before = b
            note = self._mitigation_note()
            self.metrics = {
                "rows": _metric_rows(b, a, temperature,
                                     grouped=None if groups is None else "level"),
                "pending": False,
                "temperature": temperature,
                "note": "" if current is base else f"now = {note}",
                **pair_info,
                "selection": {},
            }
            if self.selected:
                self._update_selection_metrics()

        def fail(err: BaseException) -> None:
            self.error = f"metrics failed: {err}"

        background = len(base) > SYNC_LIMIT
        if background and self.metrics:
            self.metrics = {**self.metrics, "pending": True}
        self._run_job(
            "metrics", compute, done, background=background, error=fail, cancellable=True,
            status=("busy", {"metrics": "computing…"}),
        )

    # ------------------------------------------------------------------ observers
    @traitlets.observe("closed", "lam")
    def _on_gap(self, change: dict) -> None:
        if not self._ready or (
            change["name"] == "lam" and (self.closed or self.mitigation != "shift")
        ):
            return
        if not self._update_or_revert(change):
            return
        if self.error.startswith(("lam=", "closed=")):
            self.error = ""

    @traitlets.observe("temperature")
    def _on_temperature(self, _change: dict) -> None:
        if self._ready:
            self._before = None
            self._update_metrics()

    @traitlets.observe("filter_text", "filter_mode")
    def _on_filter(self, _change: dict) -> None:
        if self._ready:
            self._apply_filter()

    @traitlets.observe("model_name", "augmentation")
    def _on_source(self, _change: dict) -> None:
        if self._ready:
            self._load_source()

    @traitlets.validate("filter_mode")
    def _valid_filter_mode(self, proposal: dict) -> str:
        if proposal["value"] not in ("any", "all"):
            raise traitlets.TraitError(
                f"filter_mode={proposal['value']!r} must be 'any' or 'all'."
            )
        return proposal["value"]

    @traitlets.validate("model_name")
    def _valid_model(self, proposal: dict) -> str:
        value = proposal["value"]
        models = getattr(self, "_models", None)
        if models and value and value not in models:
            raise traitlets.TraitError(f"model_name={value!r} is not one of {list(models)}.")
        return value

    @traitlets.validate("augmentation")
    def _valid_augmentation(self, proposal: dict) -> str:
        value = proposal["value"]
        if self._ready and value not in self.augmentations:
            raise traitlets.TraitError(
                f"augmentation={value!r} is not offered; choose one of {self.augmentations} "
                "(augmentations need dataset= and encoder=)."
            )
        return value

    @traitlets.validate("lam")
    def _valid_lam(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not np.isfinite(value):
            raise traitlets.TraitError(f"lam={value} must be finite.")
        return value

    def _refresh_color_options(self) -> None:
        """Offer the meta columns as they are now (a label column was added or removed)."""
        options = _color_options_for(self)
        if options != list(self.color_options):
            with self.hold_sync():
                self.color_options = options
                if self.color_by not in options:
                    self.color_by = "modality"

    def _clusters_changed(self) -> None:
        if self._ready:
            with self.hold_sync():
                self._update_heatmap()
                self._update_colors()

    # ------------------------------------------------------------------ python API
    @property
    def embeddings(self) -> Embeddings:
        """The embeddings as currently shown (filtered and shifted)."""
        return self._emb

    @property
    def dataset(self) -> Any:
        """The dataset aligned with the shown source (None without one)."""
        return self._dataset

    def hovered_items(self) -> dict[str, Any]:
        """The hovered pair's meta row as a dict (empty when nothing is hovered)."""
        if self.hovered < 0:
            return {}
        return self._table.iloc[self.hovered].to_dict()


def _color_options_for(widget: Explorer) -> list[str]:
    from amumo.widgets._encode import color_options

    options = color_options(widget._shown_meta(), keep=[widget.color_by])
    # Label columns are always offered (even one label on one pair colours usefully).
    extra = [c for c in sorted(widget._annotation_columns())
             if c in widget._table.columns and c not in options]
    return options + extra

