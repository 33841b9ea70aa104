"""The :class:`Encoder` protocol and helpers shared by all encoders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Encoder", "check_batch_size", "as_float32_rows", "require_torch", "torch_device",
    "rgb_image", "check_texts",
]


@runtime_checkable
class Encoder(Protocol):
    """What :func:`amumo.embed` needs from a model.

    Attributes
    ----------
    name : str
        Human-readable description, recorded in the embeddings' provenance.
    modalities : tuple of str
        Modalities it can encode, e.g. ``("image", "text")``.
    fingerprint : str or None
        Stable hash of architecture + weights identity (+ preprocessing). Equal
        fingerprints must mean equal outputs; it keys the embedding cache.
        ``None`` means "cannot be cached".

    Optional attributes read by :func:`amumo.embed`:

    - ``input_kind``: ``"item"`` (default; ``encode`` receives dataset items) or
      ``"index"`` (``encode`` receives pair indices, see
      :class:`~amumo.models.Precomputed`).
    - ``cacheable``: ``False`` skips the on-disk cache (default ``True``).
    - ``device``: where it computes ("cuda", "cpu"...); sets the default batch
      size and number of loader workers.
    - ``batch_preparer()`` and ``encode_prepared(modality, batch)``: a *staged*
      encoder splits ``encode`` into a picklable CPU half, run by
      :func:`amumo.embed`'s loader workers (``preparer(modality, items) ->
      batch``), and a device half that returns the rows, or a zero-argument
      callable that returns them (a deferred read-back, called after the
      next batch is launched). See :class:`~amumo.models.OpenCLIP`.
    """

    @property
    def name(self) -> str: ...

    @property
    def modalities(self) -> tuple[str, ...]: ...

    @property
    def fingerprint(self) -> str | None: ...

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Embed ``items`` of one modality; returns float32 ``(len(items), D)``."""
        ...


def check_batch_size(batch_size: Any) -> int:
    """Validate a batch size argument."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; pass a positive integer such as 64.")
    return int(batch_size)


def as_float32_rows(values: Any, n: int, who: str) -> np.ndarray:
    """Convert an encoder's output (array, tensor, list) to float32 ``(n, D)``."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().float().cpu().numpy()
    array = np.asarray(values)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{who} returned dtype {array.dtype}; it must return numbers (n, D).")
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(
            f"{who} returned an array of shape {array.shape} for {n} item(s); it must return "
            f"one row per item, shape ({n}, D)."
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def require_torch(who: str = "amumo.models") -> Any:
    """Import torch, or raise an ImportError naming ``who`` needs it and how to install it."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{who} needs torch; install the models extra: pip install 'amumo[models]'."
        ) from err
    return torch


def torch_device(device: Any = "auto", who: str = "amumo.models") -> str:
    """``"auto"`` → ``"cuda"`` if available, else ``"mps"``, else ``"cpu"``; others validated.

    Needs only torch (``OpenCLIP``'s ``resolve_device`` also needs open_clip).

    Examples
    --------
    >>> torch_device("cpu")
    'cpu'
    """
    torch = require_torch(who)
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:1' "
            "or 'mps'."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='auto'.")
    return str(dev)


def rgb_image(image: Any, k: int) -> Any:
    """Item ``k`` of an image batch as an RGB PIL image (a PIL image, or a uint8
    ``(H, W, 3 | 4)`` array); anything else raises a TypeError naming item ``k``.

    Examples
    --------
    >>> rgb_image(np.zeros((2, 3, 4), np.uint8), 0).size
    (3, 2)
    >>> rgb_image("cat.png", 7)
    Traceback (most recent call last):
    ...
    TypeError: image 7 is a str; pass PIL images or uint8 (H, W, 3) arrays.
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise TypeError(
                f"image {k} is an array of {image.dtype} {image.shape}; pass PIL images "
                "or uint8 (H, W, 3) arrays."
            )
        image = Image.fromarray(image)
    elif not isinstance(image, Image.Image):
        raise TypeError(
            f"image {k} is a {type(image).__name__}; pass PIL images or uint8 (H, W, 3) arrays."
        )
    return image if image.mode == "RGB" else image.convert("RGB")


def check_texts(texts: Sequence[Any]) -> list[str]:
    """``texts`` as a list, every item a string (a TypeError names the first that is not).

    Examples
    --------
    >>> check_texts(("a cat", "a dog"))
    ['a cat', 'a dog']
    """
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {k} is a {type(text).__name__}; pass strings.")
    return list(texts)
