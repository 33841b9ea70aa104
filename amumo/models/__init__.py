"""Encoders: open_clip and Hugging Face models, any callable, precomputed arrays.

torch and open_clip are imported only when an :class:`OpenCLIP` is created
(extra ``models``: ``pip install 'amumo[models]'``), torch and transformers only
when a :class:`HuggingFace` is created (extra ``hf``); :class:`CallableEncoder`
and :class:`Precomputed` need none of them.

Examples
--------
>>> import numpy as np
>>> import amumo as am
>>> enc = am.models.Precomputed({"image": np.eye(2), "text": np.eye(2)})
>>> enc.modalities
('image', 'text')
"""

from amumo.models._hf_tiny import tiny_hf_clip
from amumo.models.base import Encoder
from amumo.models.huggingface import HuggingFace
from amumo.models.openclip import (
    AMUMO_CONFIGS,
    MENU,
    CheckpointRefusedError,
    OpenCLIP,
    WeightsUnavailableError,
    register_configs,
    resolve_device,
    weights_cached,
)
from amumo.models.synthetic import ShapesEncoder
from amumo.models.tiny import TinyCLIP, TinyCLIPConfig, tiny_shapes
from amumo.models.wrappers import CallableEncoder, Precomputed
from amumo.models.zoo import CLOOBLAION400M, ImageBind, cloob, cloob_laion400m, cyclip

__all__ = [
    "Encoder",
    "OpenCLIP",
    "HuggingFace",
    "tiny_hf_clip",
    "cyclip",
    "cloob",
    "cloob_laion400m",
    "CLOOBLAION400M",
    "ImageBind",
    "CallableEncoder",
    "Precomputed",
    "ShapesEncoder",
    "WeightsUnavailableError",
    "CheckpointRefusedError",
    "MENU",
    "weights_cached",
    "AMUMO_CONFIGS",
    "register_configs",
    "resolve_device",
    "TinyCLIP",
    "TinyCLIPConfig",
    "tiny_shapes",
]
