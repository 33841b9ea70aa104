"""OpenCLIP encoders: OpenAI CLIP, OpenCLIP LAION, random init, local checkpoints.

torch and open_clip are imported only when an :class:`OpenCLIP` is created, so
``import amumo`` works without them. The network is never touched unless a
pretrained *tag* is requested whose weights are not cached yet; without network
that raises :class:`WeightsUnavailableError` at once, saying which file to
download from where and how to pass it as a local path.

Released checkpoints of relatives of CLIP load as local paths (key mapping in
:mod:`amumo.models._checkpoints`; :func:`amumo.models.cyclip` and
:func:`amumo.models.cloob` also find the architecture from the file):

- **CyCLIP** (Goel et al., NeurIPS 2022, "CyCLIP: Cyclic Contrastive
  Language-Image Pretraining"): the released RN50 checkpoints trained on CC3M
  (links in the CyCLIP GitHub repository), OpenAI's layout. Use
  ``OpenCLIP("RN50-quickgelu", pretrained="/path/to/cyclip.pt")``.
- **CLOOB** (Fürst et al., NeurIPS 2022, "CLOOB: Modern Hopfield Networks with
  InfoLOOB Outperform CLIP"): the released RN50 / RN50x4 checkpoints (links in
  the ml-jku/cloob repository). Use
  ``OpenCLIP("RN50-quickgelu", pretrained="/path/to/cloob_rn50.pt")``; its text
  tower's keys (``transformer.transformer.*``, ``transformer.token_embedding``...)
  are renamed to CLIP's and ``logit_inv_tau`` is read as CLIP's ``logit_scale``
  (both are the log of the inverse temperature).
- **CLOOB-LAION400M** is another architecture and does not load here (the error
  says why); see :func:`amumo.models.cloob_laion400m`.

Checkpoints wrapped as ``{"state_dict": ...}`` and keys prefixed ``module.``
(distributed training) are unwrapped automatically; a checkpoint that still does
not fit the architecture raises an error listing the missing / unexpected keys.
Files are read with ``torch.load(weights_only=True)``: a checkpoint that also pickles
Python objects (a training script's ``argparse.Namespace``) raises
:class:`CheckpointRefusedError` naming the object; ``trust_checkpoint=True`` loads it
with ``weights_only=False``, for files whose origin you trust.

Where the weights come from (tags, the caches, local files) and how a checkpoint
is read and adapted live in :mod:`amumo.models._weights`; this module is the
encoder.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from amumo.data.base import stable_hash
from amumo.models import _weights
from amumo.models._weights import (
    CheckpointRefusedError,
    ResolvedWeights,
    WeightsUnavailableError,
    checkpoint_digest,
    download_help,
    load_checkpoint,
    resolve_hf_hub,
    resolve_pretrained,
)
from amumo.models.base import (
    as_float32_rows,
    check_batch_size,
    check_texts,
    rgb_image,
    torch_device,
)

__all__ = [
    "OpenCLIP",
    "MENU",
    "weights_cached",
    "WeightsUnavailableError",
    "CheckpointRefusedError",
    "register_configs",
    "resolve_device",
    "AMUMO_CONFIGS",
]

#: Small architectures shipped with amumo (random init / training on SyntheticShapes).
AMUMO_CONFIGS = ("amumo-tiny", "amumo-small")
_CONFIG_DIR = Path(__file__).with_name("configs")
# Part of every fingerprint: bump when encoding semantics change.
_ENCODER_VERSION = 1


#: The models Amumo offers, as ``label: (model_name, pretrained)`` for :class:`OpenCLIP`.
#: CyCLIP and CLOOB have no tag: pass their released checkpoints as local paths
#: (see the module docstring).
MENU: dict[str, tuple[str, str | None]] = {
    "CLIP ViT-B/32 (OpenAI)": ("ViT-B-32", "openai"),
    "CLIP ViT-B/16 (OpenAI)": ("ViT-B-16", "openai"),
    "CLIP RN50 (OpenAI)": ("RN50", "openai"),
    "OpenCLIP ViT-B/32 (LAION-2B)": ("ViT-B-32", "laion2b_s34b_b79k"),
    "OpenCLIP ViT-B/16 (LAION-2B)": ("ViT-B-16", "laion2b_s34b_b88k"),
    "CLIP ViT-B/32 (random init)": ("ViT-B-32", None),
    "amumo-tiny (random init)": ("amumo-tiny", None),
}


def _require_open_clip():
    try:
        import open_clip
        import torch
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(
            "amumo.models.OpenCLIP needs torch and open_clip_torch; install the extra with "
            "`pip install 'amumo[models]'`."
        ) from err
    return open_clip, torch


_registered = False


def register_configs() -> tuple[str, ...]:
    """Register amumo's small model configs (:data:`AMUMO_CONFIGS`) with open_clip.

    After this, ``open_clip.create_model_and_transforms("amumo-tiny")`` works too.
    Idempotent; returns the registered names.
    """
    global _registered
    open_clip, _ = _require_open_clip()
    if not _registered or not set(AMUMO_CONFIGS) <= set(open_clip.list_models()):
        open_clip.add_model_config(_CONFIG_DIR)
        _registered = True
    return AMUMO_CONFIGS


def resolve_device(device: Any = "auto") -> str:
    """``"auto"`` → ``"cuda"`` if available, else ``"mps"``, else ``"cpu"``; others validated
    (:func:`amumo.models.base.torch_device`, which needs torch only)."""
    _require_open_clip()
    return torch_device(device, "amumo.models.OpenCLIP")


def weights_cached(
    model_name: str, pretrained: str | None, cache_dir: str | None = None
) -> bool:
    """True when :class:`OpenCLIP` can build ``(model_name, pretrained)`` without network.

    Random init (``pretrained=None``) and existing local files are always
    available; a tag is available when its weights are in the local cache.

    Examples
    --------
    >>> weights_cached("amumo-tiny", None)
    True
    """
    if pretrained is None:
        return True
    if os.path.isfile(os.fspath(pretrained)):
        return True
    open_clip, _ = _require_open_clip()
    register_configs()
    cfg = open_clip.get_pretrained_cfg(model_name, str(pretrained))
    return bool(cfg) and _weights.cached_tag_file(cfg, cache_dir) is not None


class _DropRandomInitNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


@contextmanager
def _quiet_random_init():
    root = logging.getLogger()
    notice = _DropRandomInitNotice()
    root.addFilter(notice)
    try:
        yield
    finally:
        root.removeFilter(notice)


class OpenCLIP:
    """An open_clip model as an amumo encoder (image + text).

    Parameters
    ----------
    model_name : str, default "ViT-B-32"
        An open_clip architecture (``open_clip.list_models()``: "ViT-B-32",
        "ViT-B-16", "RN50", "RN50-quickgelu", ...), one of amumo's small
        configs (:data:`AMUMO_CONFIGS`: "amumo-tiny", "amumo-small"), or
        ``"local-dir:/path"`` (a folder with ``open_clip_config.json`` + weights).
    pretrained : None, str or path, default None
        ``None``: random initialisation (the Mind-the-Gap random-init
        experiments), deterministic under ``seed``. A tag such as ``"openai"``
        or ``"laion2b_s34b_b79k"`` (``open_clip.list_pretrained_tags_by_model``),
        loaded from the local cache or downloaded. Or the path of a local
        checkpoint file (CyCLIP, CLOOB, your own training run; see the module
        docstring).
    device : str, default "auto"
        "auto" picks cuda, then mps, then cpu.
    seed : int, default 0
        Seeds random initialisation (only used when ``pretrained=None``).
    precision : str, default "fp32"
        open_clip precision ("fp32", "fp16", "bf16"); outputs are float32 anyway.
    quick_gelu : bool, optional
        Force QuickGELU activations. Default: what the tag was trained with
        (True for OpenAI weights), else the architecture's default.
    cache_dir : str, optional
        Where downloaded weights are cached (open_clip's default otherwise).
    trust_checkpoint : bool, default False
        A local checkpoint is read with ``torch.load(weights_only=True)``, which
        refuses Python objects other than tensors (a training run's
        ``argparse.Namespace``, say) because unpickling them can run arbitrary
        code. ``True`` loads such a file with ``weights_only=False``: only for
        files whose origin you trust.

    Raises
    ------
    ValueError
        Unknown architecture or tag (close matches are listed).
    FileNotFoundError
        ``pretrained`` looks like a path that does not exist.
    WeightsUnavailableError
        A tag's weights are not cached and cannot be downloaded; the message
        names the file, where to get it and how to pass a local path.

    Notes
    -----
    The model itself is built on first use (``encode`` / :attr:`model`), so an
    :func:`amumo.embed` call whose result is cached never loads it.

    Examples
    --------
    >>> from amumo.models import OpenCLIP
    >>> enc = OpenCLIP("amumo-tiny", pretrained=None, device="cpu", seed=0)
    >>> enc.encode("text", ["a small red circle in the top left"]).shape
    (1, 64)
    """

    modalities = ("image", "text")
    input_kind = "item"

    def __init__(
        self,
        model_name: str = "ViT-B-32",
        pretrained: str | os.PathLike[str] | None = None,
        device: str = "auto",
        *,
        seed: int = 0,
        precision: str = "fp32",
        quick_gelu: bool | None = None,
        cache_dir: str | None = None,
        trust_checkpoint: bool = False,
    ) -> None:
        open_clip, _ = _require_open_clip()
        register_configs()
        if not isinstance(model_name, str) or not model_name:
            raise TypeError(f"model_name must be a non-empty string, got {model_name!r}.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}.")
        if precision not in ("fp32", "fp16", "bf16", "amp", "amp_bf16", "pure_fp16", "pure_bf16"):
            raise ValueError(f"precision={precision!r}; use 'fp32' (default), 'fp16' or 'bf16'.")
        self.model_name = model_name
        self.seed = int(seed)
        self.precision = precision
        self.cache_dir = cache_dir
        if not isinstance(trust_checkpoint, bool):
            raise TypeError(f"trust_checkpoint must be True or False, got {trust_checkpoint!r}.")
        self.trust_checkpoint = trust_checkpoint
        self.device = resolve_device(device)
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None
        self._dim: int | None = None

        if model_name.startswith("hf-hub:"):
            weights = resolve_hf_hub(model_name, pretrained)
            arch: Any = model_name
        elif model_name.startswith("local-dir:"):
            folder = Path(model_name[len("local-dir:"):]).expanduser()
            if pretrained is not None:
                raise ValueError(
                    "pretrained must be None with a 'local-dir:' model_name; the folder holds "
                    "the weights."
                )
            if not (folder / "open_clip_config.json").is_file():
                raise FileNotFoundError(
                    f"{str(folder)!r} has no open_clip_config.json; a 'local-dir:' folder needs "
                    "the config and the weights saved by open_clip."
                )
            arch = (folder / "open_clip_config.json").read_text()
            weights = ResolvedWeights(["local-dir", checkpoint_digest(folder)])
        else:
            if model_name not in open_clip.list_models():
                close = difflib.get_close_matches(model_name, open_clip.list_models(), n=5)
                raise ValueError(
                    f"model_name={model_name!r} is not an open_clip architecture; close matches: "
                    f"{close or 'none'}. See open_clip.list_models() (or amumo's small configs "
                    f"{AMUMO_CONFIGS})."
                )
            arch = open_clip.get_model_config(model_name)
            weights = resolve_pretrained(
                open_clip, model_name, pretrained, seed=self.seed, cache_dir=cache_dir
            )
        self._tag_cfg: dict[str, Any] | None = weights.tag_cfg
        self._checkpoint: str | None = weights.checkpoint  # local file to load
        self._download_tag: str | None = weights.download_tag  # tag open_clip must download
        self._weights_id: Any = weights.weights_id
        if quick_gelu is None:
            quick_gelu = bool((self._tag_cfg or {}).get("quick_gelu", False))
        self.quick_gelu = bool(quick_gelu)
        self.pretrained = None if pretrained is None else str(pretrained)
        self._fingerprint = stable_hash(
            "OpenCLIP", _ENCODER_VERSION, arch, self._weights_id, self.quick_gelu, precision,
            _preprocess_signature(self._tag_cfg),
        )

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        weights = "random init" if self.pretrained is None else self.pretrained
        if self.pretrained is None and not self.model_name.startswith(("hf-hub:", "local-dir:")):
            weights = f"random init, seed={self.seed}"
        return f"OpenCLIP({self.model_name}, {weights})"

    @property
    def fingerprint(self) -> str:
        """Stable hash of architecture, weights identity, activation, precision, preprocessing."""
        return self._fingerprint

    def __repr__(self) -> str:
        return f"{self.name} on {self.device}"

    # ------------------------------------------------------------------ loading
    def load(self) -> OpenCLIP:
        """Build the model now (it is built on first use otherwise). Returns self."""
        if self._model is not None:
            return self
        open_clip, torch = _require_open_clip()
        register_configs()  # also in a fresh process that received this object pickled
        kwargs: dict[str, Any] = {
            "precision": self.precision,
            "device": "cpu",
            "cache_dir": self.cache_dir,
        }
        if self.quick_gelu:
            kwargs["force_quick_gelu"] = True
        if self._tag_cfg:
            kwargs["force_preprocess_cfg"] = {
                k: self._tag_cfg[k]
                for k in ("mean", "std", "interpolation", "resize_mode")
                if k in self._tag_cfg
            }
        name = self.model_name
        try:
            if self._download_tag is not None:
                model, _, preprocess = open_clip.create_model_and_transforms(
                    name, pretrained=self._download_tag, **kwargs
                )
            elif self._checkpoint is not None:
                with _quiet_random_init():
                    model, _, preprocess = open_clip.create_model_and_transforms(name, **kwargs)
                load_checkpoint(torch, model, self._checkpoint, trust=self.trust_checkpoint)
            else:
                with torch.random.fork_rng(devices=[]), _quiet_random_init():
                    torch.manual_seed(self.seed)
                    model, _, preprocess = open_clip.create_model_and_transforms(name, **kwargs)
        except (WeightsUnavailableError, ValueError):
            raise
        except Exception as err:
            if self._download_tag is not None and self._tag_cfg is not None:
                raise WeightsUnavailableError(
                    download_help(name, self._download_tag, self._tag_cfg,
                                  f"the download failed ({type(err).__name__}: {err})")
                ) from err
            raise
        model.eval().to(self.device)
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(name)
        return self

    @property
    def model(self) -> Any:
        """The underlying ``open_clip`` model (built on first access)."""
        return self.load()._model

    @property
    def preprocess(self) -> Any:
        """open_clip's image transform (PIL image → tensor)."""
        return self.load()._preprocess

    @property
    def tokenizer(self) -> Any:
        """open_clip's tokenizer (list of str → token tensor)."""
        return self.load()._tokenizer

    @property
    def dim(self) -> int:
        """Embedding dimension D."""
        if self._dim is None:
            self._dim = int(self.encode("text", [""]).shape[1])
        return self._dim

    # ------------------------------------------------------------------ encoding
    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Embed images (PIL or uint8 HxWx3 arrays) or texts; float32 ``(n, D)``, not normalised.

        Examples
        --------
        >>> from amumo.data import SyntheticShapes
        >>> from amumo.models import OpenCLIP
        >>> ds = SyntheticShapes(3)
        >>> enc = OpenCLIP("amumo-tiny", device="cpu")
        >>> enc.encode("image", [ds.item("image", i) for i in range(3)]).shape
        (3, 64)
        """
        if modality not in self.modalities:
            raise ValueError(
                f"{self.name} encodes {self.modalities}, not modality={modality!r}."
            )
        batch_size = check_batch_size(batch_size)
        items = list(items)
        self.load()
        prepare = self.batch_preparer()
        parts = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            out = self.encode_prepared(modality, prepare(modality, batch))
            parts.append(as_float32_rows(out() if callable(out) else out, len(batch),
                                         self.name))
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(parts)

    def batch_preparer(self) -> _Preparer:
        """The CPU half of encoding, for loader workers: ``preparer(modality, items) -> tensor``.

        A small picklable object holding only the image transform and the
        tokenizer (not the model). :func:`amumo.embed` runs it in parallel
        workers and feeds the results to :meth:`encode_prepared`.
        """
        self.load()
        return _Preparer(self._preprocess, self._tokenizer)

    def encode_prepared(self, modality: str, batch: Any) -> Any:
        """The device half: a prepared batch (CPU tensor, pinned or not) → float32 rows.

        The batch is copied to the model's device without blocking, image
        tensors are cast to the weights' dtype, and on CUDA the forward pass
        runs under autocast in the chosen precision (fp16 / bf16). The result is
        float32 whatever the precision. On CUDA it is not waited for: the copy
        back into pinned host memory is queued right after the forward pass and
        a zero-argument callable is returned that waits for that copy only, so
        :func:`amumo.embed` can queue the next batch first and the GPU never
        idles while Python reads a result. On other devices: a tensor.
        """
        _, torch = _require_open_clip()
        model = self.load()._model
        x = batch.to(self.device, non_blocking=True)
        if x.is_floating_point():
            x = x.to(self._weights_dtype(torch))
        with torch.inference_mode(), self._autocast(torch):
            out = model.encode_image(x) if modality == "image" else model.encode_text(x)
            out = out.float()
            if out.device.type != "cuda":
                return out
            host = torch.empty(out.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(out, non_blocking=True)
            done = torch.cuda.Event()
            done.record()

        def result() -> Any:
            done.synchronize()
            return host.numpy()

        return result

    def _weights_dtype(self, torch: Any) -> Any:
        """The dtype open_clip gave the input layers for this precision."""
        if self.precision in ("fp16", "pure_fp16"):
            return torch.float16
        if self.precision in ("bf16", "pure_bf16"):
            return torch.bfloat16
        return torch.float32

    def _autocast(self, torch: Any) -> Any:
        kind = self.device.split(":")[0]
        dtype = {"fp16": torch.float16, "amp": torch.float16, "pure_fp16": torch.float16,
                 "bf16": torch.bfloat16, "amp_bf16": torch.bfloat16,
                 "pure_bf16": torch.bfloat16}.get(self.precision)
        if dtype is None or kind not in ("cuda", "cpu"):
            return nullcontext()
        if kind == "cpu" and self.precision not in ("amp", "amp_bf16"):
            # fp16/bf16 weights on CPU: inputs are cast to the weights' dtype instead
            return nullcontext()
        return torch.autocast(kind, dtype=dtype)

    def prepare_images(self, images: Sequence[Any]) -> Any:
        """Preprocess images into one batch tensor (CPU)."""
        return self.batch_preparer()("image", images)

    def prepare_texts(self, texts: Sequence[Any]) -> Any:
        """Tokenise texts into one batch tensor (captions longer than the context are cut)."""
        return self.batch_preparer()("text", texts)


class _Preparer:
    """Image transform + tokenizer of an :class:`OpenCLIP` (no model), picklable for workers."""

    def __init__(self, preprocess: Any, tokenizer: Any) -> None:
        self.preprocess = preprocess
        self.tokenizer = tokenizer

    def __call__(self, modality: str, items: Sequence[Any]) -> Any:
        if modality == "image":
            return self.images(items)
        return self.texts(items)

    def images(self, images: Sequence[Any]) -> Any:
        _, torch = _require_open_clip()
        return torch.stack([self.preprocess(rgb_image(image, k)) for k, image in enumerate(images)])

    def texts(self, texts: Sequence[Any]) -> Any:
        return self.tokenizer(check_texts(texts))



def _preprocess_signature(cfg: dict[str, Any] | None) -> Any:
    if not cfg:
        return None
    return {k: cfg.get(k) for k in ("mean", "std", "interpolation", "resize_mode")}
