"""Where an :class:`~amumo.models.OpenCLIP`'s weights come from, and how a checkpoint is read.

Two concerns the encoder (``openclip.py``) delegates here, so that other
encoders of the CLIP family can share them:

- **Resolution** (:func:`resolve_pretrained`, :func:`resolve_hf_hub`): a
  pretrained *tag* becomes a cached file, a download open_clip may attempt, or a
  :class:`WeightsUnavailableError` (offline and not cached) whose message names
  the file, where to get it and how to pass it as a local path; a local path or
  folder becomes one checkpoint file; each gets an identity for the encoder's
  fingerprint.
- **Checkpoint adaptation** (:func:`load_checkpoint`): reading a state dict
  safely (``torch.load(weights_only=True)``, OpenAI's TorchScript archives, a
  :class:`CheckpointRefusedError` for pickled Python objects unless trusted),
  unwrapping ``{"state_dict": ...}`` and ``module.`` prefixes, reading CLOOB's
  ``logit_inv_tau`` as ``logit_scale``, and a clear error listing the keys that
  do not fit the architecture.

Nothing here imports torch or open_clip at module level: callers pass the
modules in, so ``import amumo`` works without the ``models`` extra.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from amumo.data._files import file_digest

__all__ = [
    "WeightsUnavailableError",
    "CheckpointRefusedError",
    "ResolvedWeights",
    "resolve_pretrained",
    "resolve_hf_hub",
    "load_checkpoint",
    "cached_tag_file",
    "checkpoint_digest",
    "can_reach",
    "offline_by_env",
]

NETWORK_TIMEOUT = 3.0
OFFLINE_VALUES = {"1", "true", "yes", "on"}
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights cannot be obtained (no network and not cached, or download failed)."""


class CheckpointRefusedError(ValueError):
    """A checkpoint holds pickled Python objects that ``weights_only`` loading refuses."""


@dataclass
class ResolvedWeights:
    """What :func:`resolve_pretrained` found: at most one of ``checkpoint`` / ``download_tag``.

    Attributes
    ----------
    weights_id : list
        The weights' identity, part of the encoder's fingerprint (a file's
        content digest, a tag and its source, or ``["random", seed]``).
    tag_cfg : dict or None
        open_clip's pretrained config of a tag (preprocessing, QuickGELU).
    checkpoint : str or None
        A local file to load (a cached tag's file or the user's checkpoint).
    download_tag : str or None
        A tag open_clip must download (not cached, network reachable).
    """

    weights_id: Any
    tag_cfg: dict[str, Any] | None = None
    checkpoint: str | None = None
    download_tag: str | None = None


# ---------------------------------------------------------------------- network
def offline_by_env() -> bool:
    """True when ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` or ``AMUMO_OFFLINE`` is set."""
    return any(
        os.environ.get(var, "").strip().lower() in OFFLINE_VALUES
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "AMUMO_OFFLINE")
    )


def can_reach(host: str, timeout: float = NETWORK_TIMEOUT) -> bool:
    """True when a TCP connection to ``host:443`` succeeds within ``timeout`` seconds.

    Runs in a daemon thread so a hanging DNS lookup cannot block the caller.
    """
    if offline_by_env():
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


# ---------------------------------------------------------------------- tags
def tag_sources(cfg: dict[str, Any]) -> list[tuple[str, str, str]]:
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


def hf_alternatives(filename: str) -> list[str]:
    """File names a Hugging Face repository may hold a tag's weights under, safetensors first."""
    names = [filename]
    if filename == "open_clip_pytorch_model.bin":
        names.insert(0, "open_clip_model.safetensors")
    elif filename.endswith((".bin", ".pth")):
        names.insert(0, filename[:-4] + ".safetensors")
    return names


def cached_tag_file(cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """The local file holding a tag's weights (Hugging Face or CLIP cache), or None."""
    for kind, location, filename in tag_sources(cfg):
        if kind == "hf":
            try:
                from huggingface_hub import try_to_load_from_cache
            except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
                continue
            for name in hf_alternatives(filename):
                found = try_to_load_from_cache(location, name, cache_dir=cache_dir)
                if isinstance(found, str) and os.path.isfile(found):
                    return found
        else:
            folder = cache_dir or os.path.expanduser("~/.cache/clip")
            candidate = os.path.join(folder, filename)
            if os.path.isfile(candidate):
                return candidate
    return None


def download_help(model_name: str, tag: str, cfg: dict[str, Any], reason: str) -> str:
    """The message of a :class:`WeightsUnavailableError`: which file, from where, how to pass it."""
    lines = [
        f"OpenCLIP({model_name!r}, pretrained={tag!r}) needs pretrained weights that are not "
        f"in the local cache, and {reason}.",
        "Download the weights file where you have network:",
    ]
    local_name = None
    for kind, location, filename in tag_sources(cfg):
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


# ---------------------------------------------------------------------- local files
def find_checkpoint(folder: Path) -> Path:
    """The one checkpoint file in ``folder``; a clear error for none or several."""
    found = sorted(p for p in folder.iterdir() if p.suffix in CHECKPOINT_SUFFIXES)
    if len(found) != 1:
        listing = [p.name for p in found] or "none"
        raise ValueError(
            f"pretrained={str(folder)!r} is a folder with {len(found)} checkpoint files "
            f"({listing}); pass the path of one checkpoint file."
        )
    return found[0]


def checkpoint_digest(folder: Path) -> list[str]:
    """``name:digest`` of every checkpoint and JSON file of a folder (a ``local-dir:`` identity)."""
    files = sorted(
        p for p in folder.iterdir() if p.suffix in CHECKPOINT_SUFFIXES or p.name.endswith(".json")
    )
    return [f"{p.name}:{file_digest(p)}" for p in files]


# ---------------------------------------------------------------------- resolution
def resolve_pretrained(
    open_clip: Any, model_name: str, pretrained: Any, *, seed: int, cache_dir: str | None
) -> ResolvedWeights:
    """Where the weights of ``OpenCLIP(model_name, pretrained)`` come from.

    ``None`` is random initialisation under ``seed``; a tag is its cached file,
    else a download when the host is reachable, else
    :class:`WeightsUnavailableError`; a file (or a folder holding one) is read
    from disk.

    Raises
    ------
    TypeError
        ``pretrained`` is neither None, a string nor a path.
    FileNotFoundError
        ``pretrained`` looks like a path that does not exist.
    ValueError
        Neither a tag of ``model_name`` nor an existing file (its tags are listed).
    WeightsUnavailableError
        A tag that is not cached and cannot be downloaded.
    """
    if pretrained is None:
        return ResolvedWeights(["random", seed])
    if not isinstance(pretrained, (str, os.PathLike)):
        raise TypeError(
            f"pretrained must be None, a tag or a file path, got {type(pretrained).__name__}."
        )
    text = os.fspath(pretrained)
    cfg = open_clip.get_pretrained_cfg(model_name, text) if text else {}
    if cfg:
        resolved = ResolvedWeights(
            ["tag", model_name, text, cfg.get("hf_hub"), cfg.get("url")], tag_cfg=dict(cfg)
        )
        cached = cached_tag_file(cfg, cache_dir)
        if cached is not None:
            resolved.checkpoint = cached
            return resolved
        hosts = [
            "huggingface.co" if kind == "hf" else urlparse(location).hostname or ""
            for kind, location, _ in tag_sources(cfg)
        ]
        if offline_by_env():
            reason = "downloads are disabled (HF_HUB_OFFLINE / AMUMO_OFFLINE is set)"
        elif not any(can_reach(h) for h in hosts if h):
            reason = f"this machine cannot reach {' or '.join(h for h in hosts if h)}"
        else:
            resolved.download_tag = text
            return resolved
        raise WeightsUnavailableError(download_help(model_name, text, cfg, reason))
    path = Path(text).expanduser()
    if path.is_dir():
        path = find_checkpoint(path)
    if path.is_file():
        return ResolvedWeights(["file", file_digest(path)], checkpoint=str(path))
    looks_like_path = os.sep in text or text.endswith(CHECKPOINT_SUFFIXES)
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


def resolve_hf_hub(model_name: str, pretrained: Any) -> ResolvedWeights:
    """Weights of an ``"hf-hub:<repo>"`` model (open_clip downloads config and weights)."""
    if pretrained is not None:
        raise ValueError("pretrained must be None with an 'hf-hub:' model_name.")
    repo = model_name[len("hf-hub:"):]
    if not can_reach("huggingface.co"):
        raise WeightsUnavailableError(
            f"OpenCLIP({model_name!r}) loads its config and weights from the Hugging Face "
            "repository "
            f"{repo!r}, but this machine cannot reach huggingface.co (or HF_HUB_OFFLINE is "
            f"set). Download open_clip_config.json and the weights file from "
            f"https://huggingface.co/{repo} into a folder, then use "
            f"am.models.OpenCLIP('local-dir:/path/to/folder')."
        )
    return ResolvedWeights(["hf-hub", repo])


# ---------------------------------------------------------------------- checkpoints
def weights_only_refusal(err: BaseException) -> str | None:
    """What ``torch.load(weights_only=True)`` refused (e.g. ``"argparse.Namespace"``), or
    None when ``err`` is another failure."""
    text = str(err)
    if "weights_only" not in text and "Weights only load failed" not in text:
        return None
    for marker in ("Unsupported global: GLOBAL ", "unsupported GLOBAL "):
        if marker in text:  # "... GLOBAL argparse.Namespace was not an allowed global",
            return text.split(marker, 1)[1].split()[0]  # "... GLOBAL posix.system whose ..."
    return "objects other than tensors"


#: Plain-data classes that training scripts save beside the weights (their arguments, numpy
#: scalars); only for these does a refusal mention trust_checkpoint=True.
_DATA_ONLY_GLOBALS = frozenset({
    "argparse.Namespace", "collections.OrderedDict", "collections.defaultdict",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.ndarray", "_codecs.encode",
})


def refusal_message(path: str, refused: str) -> str:
    """What was refused and why; the opt-in is named only for plain-data classes.

    >>> "trust_checkpoint" in refusal_message("x.pt", "posix.system")
    False
    >>> "trust_checkpoint=True" in refusal_message("x.pt", "argparse.Namespace")
    True
    """
    message = (
        f"checkpoint {path!r} was not loaded: besides tensors it holds the Python object "
        f"{refused}, which torch.load(weights_only=True) refuses because unpickling it "
        "could run code."
    )
    if refused in _DATA_ONLY_GLOBALS:
        message += (
            f" {refused} is plain data (training scripts save their arguments with the "
            "weights): if you know where the file comes from, trust_checkpoint=True loads it "
            "with weights_only=False."
        )
    return message


def adapt_state_dict(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Unwrap / rename keys of CLIP-family checkpoints into open_clip's CLIP layout
    (CyCLIP, CLOOB: :func:`amumo.models._checkpoints.to_open_clip_layout`)."""
    from amumo.models._checkpoints import to_open_clip_layout

    return to_open_clip_layout(state_dict)[0]


def is_harmless_key(key: str) -> bool:
    """Checkpoint entries that are not weights (attention masks, size scalars)."""
    return key.split(".")[-1] in ("attn_mask", "input_resolution", "context_length", "vocab_size")


def read_state_dict(torch: Any, path: str, *, trust: bool = False) -> dict[str, Any]:
    """A checkpoint file's state dict, read with ``weights_only=True`` unless ``trust``.

    OpenAI's released ``.pt`` files are TorchScript archives and are read as such.

    Raises
    ------
    CheckpointRefusedError
        The file pickles Python objects besides tensors and ``trust`` is False.
    ValueError
        The file is not a readable checkpoint.
    """
    from open_clip.factory import load_state_dict

    try:
        try:
            state_dict = load_state_dict(path, device="cpu", weights_only=True)
        except Exception as safe_err:
            refused = weights_only_refusal(safe_err)
            try:
                # OpenAI's released .pt files are TorchScript archives
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    state_dict = torch.jit.load(path, map_location="cpu").state_dict()
            except Exception:
                if refused is None:
                    raise
                if not trust:
                    raise CheckpointRefusedError(refusal_message(path, refused)) from safe_err
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
    return state_dict


def load_checkpoint(torch: Any, model: Any, path: str, *, trust: bool = False) -> None:
    """Load a CLIP-family checkpoint file into an open_clip ``model`` (in place).

    Reads it (:func:`read_state_dict`), adapts its keys (:func:`adapt_state_dict`,
    open_clip's own conversions), drops entries that are not weights, and loads
    it; a checkpoint that does not fit raises ``ValueError`` listing the first
    missing / unexpected keys and a hint on ``model_name``.
    """
    state_dict = adapt_state_dict(read_state_dict(torch, path, trust=trust))
    try:
        from open_clip.convert import convert_state_dict

        state_dict = convert_state_dict(model, state_dict)
    except Exception:  # noqa: S110 - optional third-party conversions only
        pass
    expected = set(model.state_dict())
    for key in [k for k in state_dict if k not in expected]:
        # non-parameter buffers / scalars that TorchScript and OpenAI archives carry
        if is_harmless_key(key):
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
