"""OpenCLIP encoders: OpenAI CLIP, OpenCLIP LAION, random init, local checkpoints.

torch and open_clip are imported only when an :class:`OpenCLIP` is created, so
``import amumo`` works without them. The network is never touched unless a
pretrained *tag* is requested whose weights are not cached yet; without network
that raises :class:`WeightsUnavailableError` at once, saying which file to
download from where and how to pass it as a local path.

Released checkpoints of relatives of CLIP load as local paths, because their
code keeps OpenAI's CLIP layout:

- **CyCLIP** (Goel et al., NeurIPS 2022, "CyCLIP: Cyclic Contrastive
  Language-Image Pretraining"): the released RN50 checkpoints trained on CC3M
  (links in the CyCLIP GitHub repository). Use
  ``OpenCLIP("RN50-quickgelu", pretrained="/path/to/cyclip.pt")``.
- **CLOOB** (Fürst et al., NeurIPS 2022, "CLOOB: Modern Hopfield Networks with
  InfoLOOB Outperform CLIP"): the released RN50 / RN101 checkpoints (links in
  the ml-jku/cloob repository). Use
  ``OpenCLIP("RN50-quickgelu", pretrained="/path/to/cloob_rn50.pt")``; its
  ``logit_inv_tau`` parameter is read as CLIP's ``logit_scale`` (both are the
  log of the inverse temperature).

Checkpoints wrapped as ``{"state_dict": ...}`` and keys prefixed ``module.``
(distributed training) are unwrapped automatically; a checkpoint that still does
not fit the architecture raises an error listing the missing / unexpected keys.
Files are read with ``torch.load(weights_only=True)``: a checkpoint that also pickles
Python objects (a training script's ``argparse.Namespace``) raises
:class:`CheckpointRefusedError` naming the object; ``trust_checkpoint=True`` loads it
with ``weights_only=False``, for files whose origin you trust.
"""

from __future__ import annotations

import difflib
import logging
import os
import socket
import threading
import warnings
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from amumo.data._files import file_digest
from amumo.data.base import stable_hash
from amumo.models.base import as_float32_rows, check_batch_size

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
_NETWORK_TIMEOUT = 3.0
_OFFLINE_VALUES = {"1", "true", "yes", "on"}
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")


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


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights cannot be obtained (no network and not cached, or download failed)."""


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
    """``"auto"`` → ``"cuda"`` if available, else ``"mps"``, else ``"cpu"``; others validated."""
    _, torch = _require_open_clip()
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


def _offline_by_env() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in _OFFLINE_VALUES
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "AMUMO_OFFLINE")
    )


def _can_reach(host: str, timeout: float = _NETWORK_TIMEOUT) -> bool:
    """True when a TCP connection to ``host:443`` succeeds within ``timeout`` seconds.

    Runs in a daemon thread so a hanging DNS lookup cannot block the caller.
    """
    if _offline_by_env():
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _tag_sources(cfg: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, location, filename) candidates for a pretrained tag, preferred first."""
    sources = []
    hub = cfg.get("hf_hub") or ""
    if hub:
        if hub.endswith("/"):  # open_clip's convention: repo id only, default file name
            repo, filename = hub.rstrip("/"), "open_clip_pytorch_model.bin"
        else:
            repo, filename = os.path.split(hub)
        sources.append(("hf", repo, filename))
    url = cfg.get("url") or ""
    if url:
        sources.append(("url", url, os.path.basename(urlparse(url).path)))
    return sources


def _hf_alternatives(filename: str) -> list[str]:
    names = [filename]
    if filename == "open_clip_pytorch_model.bin":
        names.insert(0, "open_clip_model.safetensors")
    elif filename.endswith((".bin", ".pth")):
        names.insert(0, filename[:-4] + ".safetensors")
    return names


def _cached_tag_file(cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    for kind, location, filename in _tag_sources(cfg):
        if kind == "hf":
            try:
                from huggingface_hub import try_to_load_from_cache
            except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
                continue
            for name in _hf_alternatives(filename):
                found = try_to_load_from_cache(location, name, cache_dir=cache_dir)
                if isinstance(found, str) and os.path.isfile(found):
                    return found
        else:
            folder = cache_dir or os.path.expanduser("~/.cache/clip")
            candidate = os.path.join(folder, filename)
            if os.path.isfile(candidate):
                return candidate
    return None


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
    return bool(cfg) and _cached_tag_file(cfg, cache_dir) is not None


def _download_help(model_name: str, tag: str, cfg: dict[str, Any], reason: str) -> str:
    lines = [
        f"OpenCLIP({model_name!r}, pretrained={tag!r}) needs pretrained weights that are not "
        f"in the local cache, and {reason}.",
        "Download the weights file where you have network:",
    ]
    local_name = None
    for kind, location, filename in _tag_sources(cfg):
        if kind == "hf":
            lines.append(
                f"  - {filename!r} from the Hugging Face repository {location!r}: "
                f"https://huggingface.co/{location}/resolve/main/{filename}"
            )
        else:
            lines.append(f"  - {filename!r} from {location}")
        local_name = local_name or filename
    quick = cfg.get("quick_gelu", False)
    extra = ", quick_gelu=True" if quick else ""
    lines += [
        "copy it to this machine and pass its path:",
        f"  am.models.OpenCLIP({model_name!r}, pretrained='/path/to/{local_name}'{extra})",
        "(or put it in the Hugging Face cache / set HF_HOME to a cache that holds it and keep "
        f"pretrained={tag!r}).",
    ]
    if quick:
        lines.append(
            "These weights were trained with QuickGELU activations: keep quick_gelu=True with "
            "a local path, or the embeddings will be wrong."
        )
    return "\n".join(lines)


def _find_checkpoint(folder: Path) -> Path:
    found = sorted(p for p in folder.iterdir() if p.suffix in _CHECKPOINT_SUFFIXES)
    if len(found) != 1:
        listing = [p.name for p in found] or "none"
        raise ValueError(
            f"pretrained={str(folder)!r} is a folder with {len(found)} checkpoint files "
            f"({listing}); pass the path of one checkpoint file."
        )
    return found[0]


def _adapt_state_dict(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Unwrap / rename keys of CLIP-family checkpoints into open_clip's CLIP layout."""
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    if "logit_inv_tau" in state_dict and "logit_scale" not in state_dict:  # CLOOB
        state_dict = dict(state_dict)
        state_dict["logit_scale"] = state_dict.pop("logit_inv_tau")
    return state_dict


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


class CheckpointRefusedError(ValueError):
    """A checkpoint holds pickled Python objects that ``weights_only`` loading refuses."""


def _weights_only_refusal(err: BaseException) -> str | None:
    """What ``torch.load(weights_only=True)`` refused (e.g. ``"argparse.Namespace"``), or
    None when ``err`` is another failure."""
    text = str(err)
    if "weights_only" not in text and "Weights only load failed" not in text:
        return None
    marker = "Unsupported global: GLOBAL "
    if marker in text:
        return text.split(marker, 1)[1].split()[0]
    return "objects other than tensors"


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
        self._tag_cfg: dict[str, Any] | None = None
        self._checkpoint: str | None = None  # local file to load
        self._download_tag: str | None = None  # tag open_clip must download
        self._weights_id: Any

        if model_name.startswith("hf-hub:"):
            self._resolve_hf_hub(model_name, pretrained)
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
            self._weights_id = ["local-dir", _find_checkpoint_digest(folder)]
        else:
            if model_name not in open_clip.list_models():
                close = difflib.get_close_matches(model_name, open_clip.list_models(), n=5)
                raise ValueError(
                    f"model_name={model_name!r} is not an open_clip architecture; close matches: "
                    f"{close or 'none'}. See open_clip.list_models() (or amumo's small configs "
                    f"{AMUMO_CONFIGS})."
                )
            arch = open_clip.get_model_config(model_name)
            self._resolve_pretrained(open_clip, model_name, pretrained)
        if quick_gelu is None:
            quick_gelu = bool((self._tag_cfg or {}).get("quick_gelu", False))
        self.quick_gelu = bool(quick_gelu)
        self.pretrained = None if pretrained is None else str(pretrained)
        self._fingerprint = stable_hash(
            "OpenCLIP", _ENCODER_VERSION, arch, self._weights_id, self.quick_gelu, precision,
            _preprocess_signature(self._tag_cfg),
        )

    # ------------------------------------------------------------------ resolution
    def _resolve_pretrained(self, open_clip: Any, model_name: str, pretrained: Any) -> None:
        if pretrained is None:
            self._weights_id = ["random", self.seed]
            return
        if not isinstance(pretrained, (str, os.PathLike)):
            raise TypeError(
                f"pretrained must be None, a tag or a file path, got {type(pretrained).__name__}."
            )
        text = os.fspath(pretrained)
        cfg = open_clip.get_pretrained_cfg(model_name, text) if text else {}
        if cfg:
            self._tag_cfg = dict(cfg)
            self._weights_id = ["tag", model_name, text, cfg.get("hf_hub"), cfg.get("url")]
            cached = _cached_tag_file(cfg, self.cache_dir)
            if cached is not None:
                self._checkpoint = cached
                return
            hosts = [
                "huggingface.co" if kind == "hf" else urlparse(location).hostname or ""
                for kind, location, _ in _tag_sources(cfg)
            ]
            if _offline_by_env():
                reason = "downloads are disabled (HF_HUB_OFFLINE / AMUMO_OFFLINE is set)"
            elif not any(_can_reach(h) for h in hosts if h):
                reason = f"this machine cannot reach {' or '.join(h for h in hosts if h)}"
            else:
                self._download_tag = text
                return
            raise WeightsUnavailableError(_download_help(model_name, text, cfg, reason))
        path = Path(text).expanduser()
        if path.is_dir():
            path = _find_checkpoint(path)
        if path.is_file():
            self._checkpoint = str(path)
            self._weights_id = ["file", file_digest(path)]
            return
        looks_like_path = os.sep in text or text.endswith(_CHECKPOINT_SUFFIXES)
        if looks_like_path:
            raise FileNotFoundError(
                f"pretrained={text!r} looks like a checkpoint path but no such file exists; "
                "check the path."
            )
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"pretrained={text!r} is neither a pretrained tag of {model_name!r} nor an existing "
            f"file. Tags for {model_name!r}: {tags or 'none (random init or a local file only)'}; "
            "pass None for random initialisation or the path of a checkpoint file."
        )

    def _resolve_hf_hub(self, model_name: str, pretrained: Any) -> None:
        if pretrained is not None:
            raise ValueError("pretrained must be None with an 'hf-hub:' model_name.")
        repo = model_name[len("hf-hub:"):]
        self._weights_id = ["hf-hub", repo]
        if not _can_reach("huggingface.co"):
            raise WeightsUnavailableError(
                f"OpenCLIP({model_name!r}) loads its config and weights from the Hugging Face "
                "repository "
                f"{repo!r}, but this machine cannot reach huggingface.co (or HF_HUB_OFFLINE is "
                f"set). Download open_clip_config.json and the weights file from "
                f"https://huggingface.co/{repo} into a folder, then use "
                f"am.models.OpenCLIP('local-dir:/path/to/folder')."
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
                self._load_checkpoint(
                    open_clip, torch, model, self._checkpoint, trust=self.trust_checkpoint
                )
            else:
                with torch.random.fork_rng(devices=[]), _quiet_random_init():
                    torch.manual_seed(self.seed)
                    model, _, preprocess = open_clip.create_model_and_transforms(name, **kwargs)
        except (WeightsUnavailableError, ValueError):
            raise
        except Exception as err:
            if self._download_tag is not None and self._tag_cfg is not None:
                raise WeightsUnavailableError(
                    _download_help(name, self._download_tag, self._tag_cfg,
                                   f"the download failed ({type(err).__name__}: {err})")
                ) from err
            raise
        model.eval().to(self.device)
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(name)
        return self

    @staticmethod
    def _load_checkpoint(
        open_clip: Any, torch: Any, model: Any, path: str, *, trust: bool = False
    ) -> None:
        from open_clip.factory import load_state_dict

        try:
            try:
                state_dict = load_state_dict(path, device="cpu", weights_only=True)
            except Exception as safe_err:
                refused = _weights_only_refusal(safe_err)
                try:
                    # OpenAI's released .pt files are TorchScript archives
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", FutureWarning)
                        state_dict = torch.jit.load(path, map_location="cpu").state_dict()
                except Exception:
                    if refused is None:
                        raise
                    if not trust:
                        raise CheckpointRefusedError(
                            f"checkpoint {path!r} holds Python objects besides tensors "
                            f"({refused}), which torch.load(weights_only=True) refuses because "
                            "unpickling them can run arbitrary code. The file is probably fine "
                            "(training scripts often save their argparse arguments with the "
                            "weights). If you trust its origin, pass trust_checkpoint=True to "
                            "load it with weights_only=False; or re-save only the weights: "
                            "torch.save(torch.load(path, weights_only=False)['state_dict'], "
                            "'weights.pt')."
                        ) from safe_err
                    state_dict = load_state_dict(path, device="cpu", weights_only=False)
                for key in ("input_resolution", "context_length", "vocab_size"):
                    state_dict.pop(key, None)
        except CheckpointRefusedError:
            raise
        except Exception as err:
            raise ValueError(
                f"checkpoint {path!r} could not be read ({type(err).__name__}: {err}); pass a "
                "PyTorch (.pt/.pth/.bin) or .safetensors state dict of a CLIP model."
            ) from err
        state_dict = _adapt_state_dict(state_dict)
        try:
            from open_clip.convert import convert_state_dict

            state_dict = convert_state_dict(model, state_dict)
        except Exception:  # noqa: S110 - optional third-party conversions only
            pass
        expected = set(model.state_dict())
        for key in [k for k in state_dict if k not in expected]:
            # non-parameter buffers / scalars that TorchScript and OpenAI archives carry
            if _is_harmless_key(key):
                state_dict.pop(key)
        if "logit_scale" in state_dict and model.logit_scale.ndim != state_dict["logit_scale"].ndim:
            state_dict["logit_scale"] = state_dict["logit_scale"].reshape(model.logit_scale.shape)
        hint = " Check model_name (e.g. 'RN50-quickgelu' for CyCLIP/CLOOB RN50 checkpoints)."
        try:
            result = model.load_state_dict(state_dict, strict=False)
        except RuntimeError as err:  # shape mismatches
            first = str(err).split("\n\t")[1:4]
            raise ValueError(
                f"checkpoint {path!r} does not fit this architecture: {'; '.join(first)}.{hint}"
            ) from err
        missing = [k for k in result.missing_keys if k != "logit_bias"]
        if missing or result.unexpected_keys:
            raise ValueError(
                f"checkpoint {path!r} does not fit this architecture: missing keys "
                f"{missing[:8]}{' ...' if len(missing) > 8 else ''}, unexpected keys "
                f"{result.unexpected_keys[:8]}{' ...' if len(result.unexpected_keys) > 8 else ''}."
                + hint
            )

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
        from PIL import Image

        _, torch = _require_open_clip()
        tensors = []
        for k, image in enumerate(images):
            if isinstance(image, np.ndarray):
                if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
                    raise TypeError(
                        f"image {k} is an array of {image.dtype} {image.shape}; pass PIL images "
                        "or uint8 (H, W, 3) arrays."
                    )
                image = Image.fromarray(image)
            elif not isinstance(image, Image.Image):
                raise TypeError(
                    f"image {k} is a {type(image).__name__}; pass PIL images or uint8 (H, W, 3) "
                    "arrays."
                )
            if image.mode != "RGB":
                image = image.convert("RGB")
            tensors.append(self.preprocess(image))
        return torch.stack(tensors)

    def texts(self, texts: Sequence[Any]) -> Any:
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {k} is a {type(text).__name__}; pass strings.")
        return self.tokenizer(list(texts))


def _is_harmless_key(key: str) -> bool:
    """Checkpoint entries that are not weights (attention masks, size scalars)."""
    return key.split(".")[-1] in ("attn_mask", "input_resolution", "context_length", "vocab_size")


def _find_checkpoint_digest(folder: Path) -> list[str]:
    files = sorted(
        p for p in folder.iterdir() if p.suffix in _CHECKPOINT_SUFFIXES or p.name.endswith(".json")
    )
    return [f"{p.name}:{file_digest(p)}" for p in files]


def _preprocess_signature(cfg: dict[str, Any] | None) -> Any:
    if not cfg:
        return None
    return {k: cfg.get(k) for k in ("mean", "std", "interpolation", "resize_mode")}
