"""torch helpers of the training lab: lazy import and a reproducible-run context."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from amumo.models.base import require_torch as _require_torch

__all__ = ["require_torch", "reproducible"]


def require_torch() -> Any:
    """Import torch, or raise an ImportError that says how to install it."""
    return _require_torch("amumo.training")


@contextlib.contextmanager
def reproducible(seed: int, num_threads: int) -> Iterator[Any]:
    """Run a block deterministically: seeded RNG, deterministic kernels, fixed threads.

    The global torch RNG state, the deterministic-algorithms flag and the
    thread count are restored afterwards, so training does not change the
    caller's torch settings. Yields a ``torch.Generator`` seeded with ``seed``
    for shuffling.
    """
    torch = require_torch()
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(num_threads)
        torch.use_deterministic_algorithms(True)
        try:
            generator = torch.Generator().manual_seed(seed)
            yield generator
        finally:
            torch.use_deterministic_algorithms(
                previous_deterministic, warn_only=previous_warn_only
            )
            torch.set_num_threads(previous_threads)
