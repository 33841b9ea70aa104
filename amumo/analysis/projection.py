"""2-D (or k-D) projections of paired embeddings: PCA, UMAP, t-SNE.

Projections are fitted on all items or on one modality and applied to the
others out of sample (PCA and UMAP), so that e.g. the text cloud is seen in the
coordinates of the image cloud. Results are cached in memory by embeddings
fingerprint and parameters: asking twice costs nothing.

References
----------
- McInnes, Healy & Melville, "UMAP", arXiv:1802.03426 (2018).
- van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from amumo.analysis._checks import check_embeddings
from amumo.analysis._progress import Hook
from amumo.analysis._projection_scale import (
    RowStack,
    blocked_transform,
    knn_place,
    pca_transform,
    randomized_pca,
)
from amumo.embeddings.container import Embeddings

__all__ = ["project", "place_rows", "PROJECTION_METHODS", "clear_projection_cache"]

PROJECTION_METHODS = ("pca", "gap", "umap", "tsne")
#: UMAP is fitted on at most this many points; the rest are transformed out of sample.
UMAP_MAX_FIT = 4000
#: t-SNE is fitted on at most this many points; the rest are placed by their nearest
#: fitted neighbours (see amumo.analysis._projection_scale).
TSNE_MAX_FIT = 5000
#: UMAP places at most this many rows with its own ``transform`` (which optimises every
#: new point: ~6 ms per row here, 20 min for 100k pairs); with ``placement="auto"`` more
#: rows are placed like t-SNE's, by their nearest fitted neighbours (~0.07 ms per row).
UMAP_TRANSFORM_LIMIT = 10_000
PLACEMENTS = ("auto", "transform", "neighbours")
#: Up to this many rows PCA is scikit-learn's exact SVD; above, a blocked randomized one.
PCA_EXACT_LIMIT = 10_000
#: Above this many rows to fit (two million pairs), ``solver="auto"`` fits PCA on a spread
#: sample of :data:`amumo.analysis.streaming.SAMPLE_PAIRS` pairs (the D × D covariance)
#: and places every row in one pass: the randomized PCA's five passes over ten million
#: pairs would read 100 GB.
PCA_SAMPLE_ABOVE = 4_000_000
#: PCA solvers of :func:`project`: ``"auto"`` picks by size (see :func:`_pca_frame`).
PCA_SOLVERS = ("auto", "exact", "randomized")
_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
#: PCA frames fitted on a ``reference`` (see project): shifted views only place rows.
_FRAMES: OrderedDict[tuple, Callable] = OrderedDict()
_CACHE_SIZE = 32


def clear_projection_cache() -> None:
    """Forget every cached projection."""
    _CACHE.clear()
    _FRAMES.clear()


def _fit_pca(train: np.ndarray, n_components: int, seed: int, **kwargs: Any):
    from sklearn.decomposition import PCA

    options = {"svd_solver": "full", **kwargs}  # e.g. svd_solver="covariance_eigh" for large N
    model = PCA(n_components=n_components, random_state=seed, **options)
    model.fit(train)
    return model.transform


def _pca_frame(
    stack: RowStack, lo: int, hi: int, k: int, seed: int, hook: Hook, solver: str = "auto",
    **kwargs: Any,
) -> Callable[[RowStack, Hook], np.ndarray]:
    """Fit PCA on rows ``lo … hi`` of ``stack``; return ``place(rows, hook) -> coords``.

    The solver (``solver="auto"``): scikit-learn's exact PCA up to
    :data:`PCA_EXACT_LIMIT` rows of the stack, through the eigendecomposition of the
    D × D covariance (``svd_solver="covariance_eigh"``) when there are more rows than
    dimensions (D < 2·N, the common case: much faster, the same coordinates) and a
    full SVD otherwise; above the limit a blocked randomized subspace iteration
    (keyword ``n_iter``). ``"exact"`` / ``"randomized"`` force one of the two
    (an exact fit copies the fitted rows to float64). Placing works in blocks, float32.
    """
    if solver == "auto" and hi - lo > PCA_SAMPLE_ABOVE and stack.source is not None:
        # ten million pairs: fit on a spread sample of pairs (one read of ~0.1 GB instead
        # of five passes over 20 GB), place every row in one blocked pass
        from amumo.analysis.streaming import SAMPLE_PAIRS, sample_pca_frame

        emb, names, fit_on = stack.source
        mean, comps = sample_pca_frame(emb, names, k, seed=seed, sample=SAMPLE_PAIRS,
                                       fit_on=fit_on)
        hook.step(1.0)
        return lambda target, step: pca_transform(target, mean, comps, step)
    exact = solver == "exact" or (solver == "auto" and len(stack) <= PCA_EXACT_LIMIT)
    if exact:
        if solver == "auto" and "svd_solver" not in kwargs and stack.dim < 2 * stack.n:
            kwargs = {"svd_solver": "covariance_eigh", **kwargs}
        rows = stack.take(np.arange(lo, hi), np.float64)
        transform = _fit_pca(rows, k, seed, **kwargs)
        return lambda target, step: blocked_transform(
            transform, target, np.arange(len(target)), k, step
        )
    unknown = set(kwargs) - {"n_iter"}
    if unknown:
        where = "solver='randomized'" if solver == "randomized" else (
            f"the randomized PCA used above {PCA_EXACT_LIMIT:,} rows")
        raise TypeError(
            f"unexpected keyword(s) {sorted(unknown)} for {where}; it accepts n_iter "
            "(default 4). Pass solver='exact' for scikit-learn's PCA options."
        )
    mean, comps, _ = randomized_pca(stack, lo, hi, k, seed, hook=hook,
                                    n_iter=int(kwargs.get("n_iter", 4)))
    return lambda target, step: pca_transform(target, mean, comps, step)


def _check_reference(
    reference: Any, emb: Embeddings, names: Sequence[str], method: str
) -> Embeddings:
    if method != "pca":
        raise ValueError(
            f"reference= fits the frame of method 'pca' or 'gap', not method={method!r}."
        )
    if not isinstance(reference, Embeddings):
        raise TypeError(f"reference is a {type(reference).__name__}; pass an Embeddings.")
    missing = [m for m in names if m not in reference.modalities]
    if missing or reference.dim != emb.dim:
        raise ValueError(
            f"reference has modalities {reference.modalities} and dim {reference.dim}; it "
            f"must have {tuple(names)} and dim {emb.dim} like the projected embeddings."
        )
    return reference


#: The epoch reporter of the UMAP fit running in this thread (see :func:`_umap_epochs`).
_UMAP_EPOCHS = threading.local()
_TQDM: Callable[..., Any] | None = None


def _umap_epochs(iterable: Iterable[Any], *args: Any, **kwargs: Any) -> Iterable[Any]:
    """Stands in for umap-learn's progress bar over its optimisation epochs.

    umap-learn (``umap.layouts``) loops ``for n in tqdm(range(n_epochs))`` in Python,
    calling one compiled epoch per step. In a thread that :func:`_fit_umap` runs, this
    reports each epoch to the job's hook (the widget's busy sign says "epoch 40 of 200",
    and a cancelled job stops before the next epoch); elsewhere it is umap's own tqdm.
    """
    report = getattr(_UMAP_EPOCHS, "report", None)
    if report is None:
        assert _TQDM is not None
        return _TQDM(iterable, *args, **kwargs)
    return _reported(iterable, report)


def _reported(iterable: Iterable[Any], report: Callable[[int, int], None]) -> Iterator[Any]:
    items = list(iterable)
    for done, item in enumerate(items):
        report(done, len(items))
        yield item
    report(len(items), len(items))


def _install_epoch_reporter() -> None:
    """Route ``umap.layouts.tqdm`` through :func:`_umap_epochs` (once per process)."""
    global _TQDM
    import umap.layouts as layouts

    if getattr(layouts, "tqdm", None) is not _umap_epochs:
        _TQDM = layouts.tqdm
        layouts.tqdm = _umap_epochs


def _fit_sample(index: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The rows UMAP / t-SNE are fitted on: ``index``, or a seeded sample of ``limit``."""
    limit = int(limit)
    if len(index) <= limit:
        return index
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(index, size=limit, replace=False))


def _pca_placer(
    fit_emb: Embeddings, names: Sequence[str], fit_on: str, k: int, seed: int,
    options: tuple, solver: str, kwargs: dict[str, Any], hook: Hook, *, keep: bool,
    stack: RowStack | None = None,
) -> Callable[[RowStack, Hook], np.ndarray]:
    """The PCA frame fitted on ``fit_emb`` (its modalities ``names``, ``fit_on``): from the
    cache of fitted frames, or fitted now (and kept when ``keep``). ``stack``: the rows of
    ``fit_emb`` when the caller has them stacked already."""
    frame_key = (fit_emb.fingerprint, fit_on, k, int(seed), tuple(names), options) if keep \
        else None
    frame = None if frame_key is None else _FRAMES.get(frame_key)
    if frame is not None:
        _FRAMES.move_to_end(frame_key)
        return frame
    fit_stack = stack if stack is not None else RowStack([fit_emb[m] for m in names])
    fit_stack.source = (fit_emb, tuple(names), fit_on)  # a spread sample above 2M pairs
    n = len(fit_emb)
    lo, hi = (0, len(fit_stack)) if fit_on == "all" else (
        list(names).index(fit_on) * n, (list(names).index(fit_on) + 1) * n)
    frame = _pca_frame(fit_stack, lo, hi, k, seed, hook, solver, **kwargs)
    if frame_key is not None:
        _FRAMES[frame_key] = frame
        while len(_FRAMES) > _CACHE_SIZE:
            _FRAMES.popitem(last=False)
    return frame


def _fit_umap(
    train: np.ndarray,
    n_components: int,
    seed: int,
    hook: Hook | None = None,
    **kwargs: Any,
):
    """Fit UMAP on ``train``; with ``hook``, report its epochs (``hook.note`` and the
    fraction of epochs done) and stop between epochs when the hook's job is cancelled."""
    try:
        import umap
    except ImportError as err:  # pragma: no cover - umap-learn is a core dependency
        raise ImportError(
            "method='umap' needs umap-learn: pip install umap-learn (or use method='pca')."
        ) from err
    options = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "n_jobs": 1, **kwargs}
    options["n_neighbors"] = min(options["n_neighbors"], max(2, len(train) - 1))
    model = umap.UMAP(n_components=n_components, random_state=seed, **options)
    if hook is None:
        return model, model.fit_transform(train)
    _install_epoch_reporter()
    hook.note(f"UMAP: neighbour graph of {len(train):,} points")
    def report(done: int, total: int) -> None:
        if done % 5 == 0 or done == total:
            hook.note(f"UMAP epoch {done} of {total} ({len(train):,} points)")
        hook.step(0.1 + 0.9 * done / max(1, total))

    _UMAP_EPOCHS.report = report
    try:
        embedding = model.fit_transform(train)
    finally:
        _UMAP_EPOCHS.report = None
    return model, embedding


def project(
    emb: Embeddings,
    method: str = "pca",
    fit_on: str = "all",
    n_components: int = 2,
    seed: int = 0,
    *,
    modalities: Sequence[str] | None = None,
    max_fit: int | None = None,
    placement: str = "auto",
    solver: str = "auto",
    cache: bool = True,
    progress: Callable[[float], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    describe: Callable[[str], object] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Project every item to ``n_components`` dimensions.

    At scale (memory stays O(N·D) + the float32 result; the stacked rows are
    never copied to float64, see :mod:`amumo.analysis._projection_scale`):
    PCA fits scikit-learn's exact PCA up to :data:`PCA_EXACT_LIMIT` rows and a
    blocked randomized subspace iteration above (keyword ``n_iter``, default 4;
    ``solver`` below);
    UMAP fits on a seeded sample of ``max_fit`` rows and places the rest with
    its ``transform``, in blocks, or above :data:`UMAP_TRANSFORM_LIMIT` rows to place
    by their nearest fitted rows (``placement``); t-SNE fits on a seeded sample of at most
    ``max_fit`` (default :data:`TSNE_MAX_FIT`) rows and places each other row
    at the similarity-weighted mean of its 10 nearest fitted rows (cosine).

    Parameters
    ----------
    emb : Embeddings
    method : {"pca", "gap", "umap", "tsne"}, default "pca"
        ``"gap"``: x along the gap ``Δ/‖Δ‖``, y the top principal direction
        orthogonal to it (:func:`amumo.analysis.gap_axis.gap_projection`; keyword
        arguments ``a``, ``b``, ``reference``; instant, not cached).
        PCA is instant; UMAP takes ~13 s for 2,000 × 512 points on two cores
        (plus ~20 s of numba compilation on the first call in a process);
        t-SNE is similar and fits all points (no out-of-sample transform).
    fit_on : "all" or a modality name, default "all"
        Fit on every item, or on one modality and transform the others.
    n_components : int, default 2
    seed : int, default 0
        Same inputs and seed give the same coordinates.
    modalities : sequence of str, optional
        Which modalities to include, in order (default all).
    max_fit : int, optional
        UMAP / t-SNE: fit on at most this many points (a seeded sample, default
        4,000 for UMAP, 5,000 for t-SNE) and place the rest out of sample.
    placement : {"auto", "transform", "neighbours"}, default "auto"
        UMAP: how the rows it was not fitted on are placed. ``"transform"``: UMAP's own
        out-of-sample ``transform`` (optimises every row; ~6 ms per row on one core);
        ``"neighbours"``: at the similarity-weighted mean of the 10 nearest fitted rows'
        coordinates (as for t-SNE; ~0.07 ms per row); ``"auto"``: transform up to
        :data:`UMAP_TRANSFORM_LIMIT` rows to place, neighbours above. t-SNE always places
        by neighbours (it has no transform).
    solver : {"auto", "exact", "randomized"}, default "auto"
        PCA only. ``"auto"``: exact up to :data:`PCA_EXACT_LIMIT` rows (through the
        D × D covariance when there are more rows than dimensions), blocked
        randomized above. ``"exact"`` (any size; copies the fitted rows to float64,
        accepts scikit-learn's ``svd_solver``) or ``"randomized"`` (any size;
        accepts ``n_iter``) force one. Views call ``"auto"`` and never choose.
    cache : bool, default True
        Reuse an earlier result for the same embeddings and parameters.
    progress : callable, optional
        ``progress(fraction)`` between blocks of work (large inputs).
    should_stop : callable, optional
        Returning True stops the job between blocks with
        :class:`amumo.analysis.retrieval.Cancelled` (a superseded request); UMAP checks
        it between its optimisation epochs too.
    describe : callable, optional
        ``describe(text)`` with what is being done now, e.g. ``"UMAP epoch 40 of 200
        (4,000 points)"`` or ``"placing 196,000 points"`` (the widgets' busy sign).
    reference : Embeddings, optional
        ``"pca"`` and ``"gap"``: fit the frame on ``reference`` (same modalities and
        dimension, e.g. the pairs before a shift) and place the rows of ``emb`` in it,
        so a shifted view is drawn in the axes of the unshifted one. The PCA frame of a
        reference is fitted once and kept (keyed by its fingerprint).
    **kwargs
        Passed to the estimator (e.g. ``n_neighbors=30`` for UMAP).

    Returns
    -------
    ndarray of shape (M·N, n_components), float32
        Rows in the order of :func:`amumo.similarity` (modality blocks).

    Examples
    --------
    >>> import amumo as am
    >>> xy = am.project(am.datasets.clip_coco500(), "pca")
    >>> xy.shape
    (1000, 2)
    """
    emb = check_embeddings(emb)
    if method not in PROJECTION_METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {PROJECTION_METHODS}.")
    if solver not in PCA_SOLVERS:
        raise ValueError(f"solver={solver!r} is unknown; choose one of {PCA_SOLVERS}.")
    if solver != "auto" and method != "pca":
        raise ValueError(f"solver={solver!r} chooses the PCA solver; method={method!r} has none.")
    names = emb.modalities if modalities is None else tuple(modalities)
    for name in names:
        emb.check_modality(name, "modalities")
    if fit_on != "all":
        emb.check_modality(fit_on, "fit_on")
        if fit_on not in names:
            raise ValueError(f"fit_on={fit_on!r} is not among modalities={names}.")
    if int(n_components) != n_components or n_components < 1 or n_components > emb.dim:
        raise ValueError(f"n_components={n_components!r} must be an integer in 1..{emb.dim}.")
    if method == "gap":  # gap axis + main direction across it (amumo.analysis.gap_axis)
        from amumo.analysis.gap_axis import gap_projection

        if fit_on != "all":
            raise ValueError(
                "method='gap' takes its x axis from the two centroids and y from all included "
                f"rows, so fit_on must be 'all' (got fit_on={fit_on!r})."
            )

        return gap_projection(emb, n_components=int(n_components), modalities=names, **kwargs)
    if placement not in PLACEMENTS:
        raise ValueError(f"placement={placement!r} is unknown; choose one of {PLACEMENTS}.")

    if method == "tsne" and placement == "transform":
        raise ValueError(
            "method='tsne' has no out-of-sample transform; use placement='auto' or "
            "'neighbours' (or method='umap')."
        )
    if method == "tsne" and fit_on != "all":
        raise ValueError(
            "method='tsne' has no out-of-sample transform, so fit_on must be 'all' "
            "(use 'pca' or 'umap' to fit on one modality)."
        )
    reference = kwargs.pop("reference", None)
    if reference is not None:
        reference = _check_reference(reference, emb, names, method)
    options = tuple(sorted((name, repr(value)) for name, value in kwargs.items()))
    if solver != "auto":
        options += (("solver", solver),)
    # The fingerprint hashes every row (seconds at a million pairs): only when caching.
    key = (
        emb.fingerprint, method, fit_on, int(n_components), int(seed), names, max_fit,
        placement if method == "umap" else "auto", options,
        None if reference is None else reference.fingerprint,
    ) if cache else None
    if cache and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key].copy()

    stack = RowStack([emb[m] for m in names])
    n = len(emb)
    if fit_on == "all":
        lo, hi = 0, len(stack)
    else:
        lo = names.index(fit_on) * n
        hi = lo + n
    train_index = np.arange(lo, hi)
    hook = Hook(progress, should_stop, describe=describe)

    # sklearn / umap-learn fail on tiny inputs with raw numpy messages; say what is needed.
    need = {"pca": int(n_components), "umap": int(n_components) + 2}.get(method, 2)
    if len(train_index) < need:
        raise ValueError(
            f"method={method!r} needs at least {need} items to fit {int(n_components)} "
            f"components, but fit_on={fit_on!r} gives {len(train_index)} ({n} pair(s)); use "
            "more pairs, fit_on='all'" + (" or method='pca'." if method != "pca" else ".")
        )
    k = int(n_components)
    if method == "pca":
        # The fitted frame is kept (keyed by the fitted rows' fingerprint), so that a
        # shifted view drawn in the frame of these rows later (reference=) only places
        # rows: at a million pairs the fit is most of the cost.
        fit_emb = emb if reference is None else reference
        frame = _pca_placer(
            fit_emb, names, fit_on, k, seed, options, solver, kwargs, hook.sub(0.0, 0.8),
            keep=cache or reference is not None,
            stack=stack if reference is None else None,
        )
        coords = frame(stack, hook.sub(0.8, 0.2))
    elif method == "umap":
        train_index = _fit_sample(train_index, UMAP_MAX_FIT if max_fit is None else max_fit,
                                  seed)
        hook.step(0.0)
        rest = np.setdiff1d(np.arange(len(stack)), train_index)
        model, fitted = _fit_umap(stack.take(train_index, np.float64), k, seed,
                                  hook.sub(0.0, 0.5 if len(rest) else 1.0), **kwargs)
        coords = np.empty((len(stack), k), dtype=np.float32)
        coords[train_index] = fitted
        hook.step(0.5 if len(rest) else 1.0)
        if len(rest):
            hook.note(f"UMAP: placing the other {len(rest):,} points")
        by_transform = placement == "transform" or (
            placement == "auto" and len(rest) <= UMAP_TRANSFORM_LIMIT
        )
        if len(rest) and by_transform:
            coords[rest] = blocked_transform(model.transform, stack, rest, k,
                                             hook.sub(0.5, 0.5))
        elif len(rest):
            coords[rest] = knn_place(stack, train_index, fitted, rest, hook=hook.sub(0.5, 0.5))
    else:
        from sklearn.manifold import TSNE

        fit_index = _fit_sample(np.arange(len(stack)),
                                TSNE_MAX_FIT if max_fit is None else max_fit, seed)
        hook.step(0.0)
        hook.note(f"t-SNE: fitting {len(fit_index):,} points")
        options = {"init": "pca", "metric": "cosine", "perplexity": 30.0, **kwargs}
        options["perplexity"] = min(options["perplexity"], max(1.0, (len(fit_index) - 1) / 3))
        fitted = TSNE(n_components=k, random_state=seed, **options).fit_transform(
            stack.take(fit_index, np.float64)
        )
        coords = np.empty((len(stack), k), dtype=np.float32)
        coords[fit_index] = fitted
        rest = np.setdiff1d(np.arange(len(stack)), fit_index)
        hook.step(0.7 if len(rest) else 1.0)
        if len(rest):
            hook.note(f"t-SNE: placing the other {len(rest):,} points")
            coords[rest] = knn_place(stack, fit_index, fitted, rest, hook=hook.sub(0.7, 0.3))
    result = np.ascontiguousarray(coords, dtype=np.float32)
    if cache:
        _CACHE[key] = result.copy()
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


class _StackWithRows:
    """A :class:`RowStack` with new rows after its last one (for :func:`knn_place`)."""

    def __init__(self, stack: RowStack, rows: np.ndarray) -> None:
        self.stack, self.rows = stack, rows

    def take(self, index: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        index = np.asarray(index)
        old = index < len(self.stack)
        out = np.empty((len(index), self.stack.dim), dtype=dtype)
        if old.any():
            out[old] = self.stack.take(index[old], dtype)
        out[~old] = self.rows[index[~old] - len(self.stack)]
        return out


def place_rows(
    rows: Any,
    emb: Embeddings,
    method: str = "pca",
    fit_on: str = "all",
    n_components: int = 2,
    seed: int = 0,
    *,
    coords: np.ndarray | None = None,
    reference: Embeddings | None = None,
    frame: tuple[np.ndarray, np.ndarray] | None = None,
    modalities: Sequence[str] | None = None,
    max_fit: int | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Place new rows (a typed query, new items) in the projection of ``emb``, out of sample.

    Each method places them the way :func:`project` places the rows it was not fitted
    on, so a new row lands where one of ``emb``'s rows would:

    - ``"pca"``: in the same PCA frame (the frame :func:`project` fitted and kept for the
      same ``emb`` / ``reference``, ``fit_on``, ``n_components``, ``seed`` and options; fitted
      now if it is no longer kept);
    - ``"gap"``: on the gap axis and the directions across it (``frame`` from
      :func:`amumo.analysis.gap_axis.gap_axes`, or fitted on ``reference`` / ``emb``);
    - ``"umap"`` and ``"tsne"``: at the similarity-weighted mean of the coordinates of
      the 10 nearest rows the projection was fitted on (the neighbours placement of
      :mod:`amumo.analysis._projection_scale`, which t-SNE uses for every row it did not
      fit and UMAP above ``UMAP_TRANSFORM_LIMIT`` rows); ``coords`` is the result of
      that :func:`project` call (the fitted rows are found again from ``seed``).

    Parameters
    ----------
    rows : array (D,) or (n, D)
        Unit rows in the space of ``emb`` (move a query by the view's gap shift first,
        :mod:`amumo.analysis.row_map`).
    emb, method, fit_on, n_components, seed, modalities, max_fit
        As given to :func:`project` for the projection the rows join.
    coords : ndarray (M·N, n_components), optional
        UMAP / t-SNE: the coordinates :func:`project` returned.
    reference : Embeddings, optional
        PCA / gap: the embeddings the frame was fitted on (``project(..., reference=)``).
    frame : (origin, axes), optional
        Gap axis: the fitted frame.
    **kwargs
        PCA: the options given to :func:`project` (they key its kept frame).

    Returns
    -------
    ndarray (n, n_components) float32 (one row in, one row out: shape (1, k))

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> xy = project(emb, "pca")
    >>> bool(np.allclose(place_rows(emb["text"][3], emb, "pca"), xy[500 + 3], atol=1e-5))
    True
    """
    emb = check_embeddings(emb)
    block = np.atleast_2d(np.asarray(rows, dtype=np.float32))
    if block.ndim != 2 or block.shape[1] != emb.dim:
        raise ValueError(
            f"rows have shape {np.shape(rows)}; place_rows needs rows of {emb.dim} values."
        )
    names = emb.modalities if modalities is None else tuple(modalities)
    k = int(n_components)
    if method == "gap":
        from amumo.analysis.gap_axis import gap_axes

        if frame is None:
            frame = gap_axes(emb if reference is None else reference,
                             kwargs.get("a"), kwargs.get("b"), k, modalities=names)
        origin, axes = (np.asarray(v, dtype=np.float64) for v in frame)
        return ((block.astype(np.float64) - origin) @ axes[:k].T).astype(np.float32)
    if method == "pca":
        options = tuple(sorted((name, repr(value)) for name, value in kwargs.items()
                               if name != "solver"))
        solver = kwargs.pop("solver", "auto")
        if solver != "auto":
            options += (("solver", solver),)
        fit_emb = emb if reference is None else reference
        placer = _pca_placer(fit_emb, names, fit_on, k, seed, options, solver, kwargs,
                             Hook(), keep=True)
        return np.asarray(placer(RowStack([block]), Hook()), dtype=np.float32)
    if method not in ("umap", "tsne"):
        raise ValueError(f"method={method!r} is unknown; choose one of {PROJECTION_METHODS}.")
    stack = RowStack([emb[m] for m in names])
    if coords is None or len(coords) != len(stack):
        raise ValueError(
            f"method={method!r} places rows by the fitted rows' coordinates: pass coords=, "
            f"the ({len(stack)}, {k}) result of project(emb, {method!r}, ...)."
        )
    n = len(emb)
    if method == "umap":
        if fit_on == "all":
            train = np.arange(len(stack))
        else:
            lo = list(names).index(fit_on) * n
            train = np.arange(lo, lo + n)
        fit_index = _fit_sample(train, UMAP_MAX_FIT if max_fit is None else max_fit, seed)
    else:
        fit_index = _fit_sample(np.arange(len(stack)),
                                TSNE_MAX_FIT if max_fit is None else max_fit, seed)
    fit_coords = np.asarray(coords)[fit_index]
    new = np.arange(len(stack), len(stack) + len(block))
    return knn_place(_StackWithRows(stack, block), fit_index, fit_coords, new)  # type: ignore[arg-type]
