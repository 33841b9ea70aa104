"""Argument checks shared by the analysis functions."""

from __future__ import annotations

import math
from typing import Any

from amumo.embeddings.container import Embeddings


def check_embeddings(emb: Any, argument: str = "emb") -> Embeddings:
    """Raise a TypeError naming ``argument`` unless ``emb`` is an Embeddings."""
    if not isinstance(emb, Embeddings):
        raise TypeError(
            f"{argument} is a {type(emb).__name__}; pass an amumo.Embeddings "
            "(e.g. am.Embeddings.from_arrays({'image': X, 'text': Y}))."
        )
    return emb


def check_pairs(emb: Any, argument: str = "emb") -> Embeddings:
    """``emb`` when it is an Embeddings holding at least one pair, else a clear error.

    Every metric is an average over pairs; on empty embeddings (N = 0, e.g. an
    empty file mapped with ``mmap=True``) they all raise this ValueError instead
    of returning 0, NaN or dividing by zero.
    """
    emb = check_embeddings(emb, argument)
    if len(emb) == 0:
        raise ValueError(
            f"{argument} has no pairs (N = 0): the gap metrics are averages over pairs and "
            "are undefined for empty embeddings. Check the file, subset or filter that "
            "produced it."
        )
    return emb


def check_temperature(temperature: Any, argument: str = "temperature") -> float:
    """Return ``temperature`` as a positive finite float, else raise ValueError."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise TypeError(f"{argument}={temperature!r} must be a number such as 0.01.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{argument}={temperature!r} must be a positive finite number (e.g. 0.01)."
        )
    return value


def check_finite(value: Any, argument: str) -> float:
    """Return ``value`` as a finite float, else raise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{argument}={value!r} must be a number.") from None
    if not math.isfinite(number):
        raise ValueError(f"{argument}={value!r} must be finite.")
    return number
