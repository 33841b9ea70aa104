"""The symmetric contrastive (InfoNCE / CLIP) loss in torch, for training.

Same definition as :func:`amumo.losses.info_nce`: with L2-normalised image
rows ``x_i`` and text rows ``y_j``, ``S_ij = x_i · y_j``, and

``L = ½ [CE(S/τ, rows) + CE(S/τ, columns)]``

where the matching pair ``(i, i)`` is the target class (Radford et al., ICML
2021; van den Oord et al. 2018). ``tests/test_training.py`` checks that both
give the same number on the same embeddings.
"""

from __future__ import annotations

from typing import Any

from amumo.training._torch import require_torch

__all__ = ["clip_loss", "normalize"]


def normalize(x: Any) -> Any:
    """Rows scaled to unit L2 norm (torch)."""
    torch = require_torch()
    return torch.nn.functional.normalize(x, dim=-1)


def clip_loss(image: Any, text: Any, temperature: Any) -> Any:
    """Symmetric InfoNCE of a batch of paired embeddings (torch, differentiable).

    Parameters
    ----------
    image, text : torch.Tensor of shape (B, D)
        Raw tower outputs; they are L2-normalised here. Row ``i`` of each is pair ``i``.
    temperature : float or 0-d torch.Tensor
        ``τ > 0`` (a tensor when it is learned).

    Returns
    -------
    torch.Tensor
        The scalar loss.

    Examples
    --------
    >>> import torch
    >>> x = torch.eye(3)
    >>> round(float(clip_loss(x, x, 1.0)), 4)
    0.5514
    """
    torch = require_torch()
    if image.shape != text.shape or image.ndim != 2:
        raise ValueError(
            f"image and text must both be (B, D) with the same shape, got {tuple(image.shape)} "
            f"and {tuple(text.shape)}."
        )
    logits = normalize(image) @ normalize(text).T / temperature
    target = torch.arange(len(logits))
    f = torch.nn.functional
    return (f.cross_entropy(logits, target) + f.cross_entropy(logits.T, target)) / 2
