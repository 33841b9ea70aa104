"""Answer checks for the classroom notebook (notebooks/teaching/modality_gap_classroom.ipynb).

The expected values are computed here, not in the notebook, so an exercise cell reads
``check("gap distance", gap)`` and does not give the answer away. Answers of the wrong
kind (a string, a list, an array of the wrong shape) get a sentence saying what was
expected instead of a numpy traceback.

Examples
--------
>>> from amumo.teaching import check
>>> check("gap distance", None)
gap distance: not answered yet
>>> check("gap distance", "0.85")
gap distance: ✘ expected a number, got the text '0.85' — remove the quotes.
>>> check("gap distance", 2.0)
gap distance: ✘ not quite — try again
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["check", "EXERCISES"]


@lru_cache(maxsize=2)
def _coco(random_init: bool = False) -> Any:
    from amumo.datasets import clip_coco500

    return clip_coco500(random_init=random_init)


def _loss(lam: float, temperature: float) -> float:
    from amumo.analysis import shift
    from amumo.analysis.losses import info_nce

    emb = _coco()
    return float(info_nce(emb if lam == 0 else shift(emb, lam), temperature))


def _gap(random_init: bool) -> float:
    from amumo.analysis import gap_distance

    return float(gap_distance(_coco(random_init)))


#: Exercise name -> expected value (computed on first use) and absolute tolerance.
EXERCISES: dict[str, tuple[Callable[[], float], float]] = {
    "own caption": (lambda: float(_coco()["image"][0] @ _coco()["text"][0]), 1e-3),
    "other caption": (lambda: float(_coco()["image"][0] @ _coco()["text"][1]), 1e-3),
    "gap distance": (lambda: _gap(False), 1e-3),
    "random-init gap": (lambda: _gap(True), 1e-3),
    "loss original": (lambda: _loss(0.0, 0.01), 1e-3),
    "loss closed": (lambda: _loss(1.0, 0.01), 1e-3),
}


def _as_number(answer: Any) -> tuple[float | None, str]:
    """(value, '') for a single number, else (None, why it is not one)."""
    if isinstance(answer, (bool, np.bool_)):
        return None, f"expected a number, got {answer!r} (a yes/no value)."
    if isinstance(answer, numbers.Real):
        return float(answer), ""
    if isinstance(answer, str):
        return None, f"expected a number, got the text {answer!r} — remove the quotes."
    try:
        array = np.asarray(answer)
    except Exception:  # noqa: BLE001 - any odd object: say what it is
        return None, f"expected a number, got a {type(answer).__name__}."
    if array.dtype.kind not in "biuf":
        return None, f"expected a number, got a {type(answer).__name__} of {array.dtype} values."
    if array.size != 1:
        return None, (
            f"expected one number, got a {type(answer).__name__} of shape {array.shape} — "
            "reduce it to a single value."
        )
    return float(array.reshape(-1)[0]), ""


def check(name: str, answer: Any) -> None:
    """Print whether ``answer`` to exercise ``name`` is right (``None``: not answered yet).

    Parameters
    ----------
    name : str
        One of :data:`EXERCISES` (e.g. ``"gap distance"``).
    answer : number or None
        The student's value; a one-element array counts as a number.
    """
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}.")
    if answer is None:
        print(f"{name}: not answered yet")
        return
    value, problem = _as_number(answer)
    if value is None:
        print(f"{name}: ✘ {problem}")
        return
    expected, tolerance = EXERCISES[name]
    if np.isfinite(value) and abs(value - expected()) <= tolerance:
        print(f"{name}: ✔ correct")
    else:
        print(f"{name}: ✘ not quite — try again")
