"""Class names → class text embeddings through an encoder (prompt ensembling).

Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision" (CLIP), ICML 2021, Sec. 3.1.4: embed each class name in several
templates ("a photo of a {}."), normalise, average and re-normalise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amumo.experiments._inputs import list_items

__all__ = ["prompts", "format_prompts", "DEFAULT_TEMPLATES"]

#: The single template used when none is given.
DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.",)


def format_prompts(classes: Sequence[str], templates: Sequence[str] | str) -> list[list[str]]:
    """The prompt strings, ``[[template.format(class) for template] for class]``.

    Each template must contain ``{}`` exactly once, where the class name goes.

    Examples
    --------
    >>> from amumo.experiments import format_prompts
    >>> format_prompts(["red", "blue"], ["a {} shape", "something {}"])
    [['a red shape', 'something red'], ['a blue shape', 'something blue']]
    """
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise TypeError("classes must be a list of class names, e.g. ['red', 'green'].")
    if not classes:
        raise ValueError("classes is empty; pass at least one class name.")
    bad = [c for c in classes if not isinstance(c, str) or not c.strip()]
    if bad:
        raise TypeError(f"classes must be non-empty strings; got {list_items(bad)}.")
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise ValueError(f"classes has duplicates {list_items(dupes)}; list each class once.")
    if isinstance(templates, str):
        templates = [templates]
    templates = list(templates)
    if not templates:
        raise ValueError("templates is empty; pass at least one, e.g. ['a photo of a {}.'].")
    for t in templates:
        if not isinstance(t, str) or t.count("{}") != 1:
            raise ValueError(
                f"template {t!r} must be a string containing '{{}}' exactly once, where the "
                "class name goes (e.g. 'a photo of a {}.')."
            )
    return [[t.replace("{}", c) for t in templates] for c in classes]


def prompts(
    classes: Sequence[str],
    templates: Sequence[str] | str = DEFAULT_TEMPLATES,
    encoder: Any = None,
    *,
    batch_size: int = 64,
    ensemble: bool = True,
) -> np.ndarray:
    """Text embeddings of class names through an encoder, one per class.

    Every class name is put into every template, all ``C × T`` prompts are
    encoded in one batched call (``encoder.encode("text", prompts, batch_size=...)``,
    the :mod:`amumo.models` encoder protocol, which ``CallableEncoder`` and
    ``OpenCLIP`` follow), each prompt embedding is L2-normalised, and the ``T``
    prompts of a class are averaged and re-normalised.

    Parameters
    ----------
    classes : list of str
        Class names.
    templates : list of str or str, default ``("a photo of a {}.",)``
        Each with one ``{}`` for the class name.
    encoder : Encoder
        Anything with ``encode("text", list_of_str, batch_size=...)`` returning a
        ``(len(list), D)`` array.
    batch_size : int, default 64
    ensemble : bool, default True
        False returns the per-prompt embeddings ``(C, T, D)`` (each normalised)
        instead of their re-normalised means; ``zero_shot_sweep`` accepts both.

    Returns
    -------
    ndarray, float32, (C, D) or (C, T, D)

    Examples
    --------
    >>> import numpy as np
    >>> from amumo.experiments import prompts
    >>> class Hash:                      # any object with an encode method works
    ...     def encode(self, modality, items, batch_size=64):
    ...         return np.stack([np.random.default_rng(len(s)).normal(size=8) for s in items])
    >>> prompts(["cat", "horse"], ["a {}", "a photo of a {}"], Hash()).shape
    (2, 8)
    """
    if encoder is None:
        raise TypeError(
            "encoder is None; pass an amumo encoder, e.g. am.models.OpenCLIP('ViT-B-32', "
            "pretrained=None) or am.models.CallableEncoder({'text': f})."
        )
    if not callable(getattr(encoder, "encode", None)):
        raise TypeError(
            f"encoder is a {type(encoder).__name__} without an encode(modality, items, "
            "batch_size) method; wrap a function with am.models.CallableEncoder({'text': f})."
        )
    modalities = getattr(encoder, "modalities", None)
    if modalities is not None and "text" not in tuple(modalities):
        raise ValueError(
            f"encoder has modalities {tuple(modalities)} and cannot encode 'text'; use a "
            "model with a text tower."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or (
        batch_size < 1
    ):
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer.")
    texts = format_prompts(classes, templates)
    n_classes, n_templates = len(texts), len(texts[0])
    flat = [p for per_class in texts for p in per_class]
    out = np.asarray(encoder.encode("text", flat, batch_size=int(batch_size)))
    if out.ndim != 2 or out.shape[0] != len(flat):
        raise ValueError(
            f"encoder.encode('text', ...) returned shape {out.shape} for {len(flat)} prompts; "
            "an encoder must return one row per input string."
        )
    out = out.astype(np.float64)
    if not np.isfinite(out).all():
        raise ValueError("encoder returned NaN or Inf text embeddings.")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("encoder returned an all-zero text embedding; it cannot be normalised.")
    out = (out / norms).reshape(n_classes, n_templates, -1)
    if not ensemble:
        return out.astype(np.float32)
    mean = out.mean(axis=1)
    mean_norms = np.linalg.norm(mean, axis=1, keepdims=True)
    if (mean_norms < 1e-12).any():
        raise ValueError(
            "the prompts of a class cancel out (their mean is zero); use fewer or different "
            "templates."
        )
    return (mean / mean_norms).astype(np.float32)
