"""HuggingFace: ``transformers`` dual encoders as amumo encoders (CLIP, SigLIP, BLIP, CLAP...).

Any ``transformers`` model with ``get_image_features`` / ``get_text_features`` /
``get_audio_features`` is an amumo encoder through :class:`HuggingFace`: CLIP
(``openai/clip-vit-base-patch32``...), SigLIP and SigLIP 2
(``google/siglip-base-patch16-224``...), ALIGN (``kakaobrain/align-base``), BLIP
(``Salesforce/blip-image-captioning-base``, the model Amumo showed), CLAP
(``laion/clap-htsat-unfused``: audio + text), and others that follow the same
protocol. The features a model returns are used as they are (the projection
heads included); :class:`~amumo.embeddings.Embeddings` normalises them.

Like :class:`~amumo.models.OpenCLIP`: torch and transformers are imported only
when an encoder is created (extra ``hf``: ``pip install 'amumo[hf]'``); the model
is built on first use, so a cached :func:`amumo.embed` never loads it; the
fingerprint (the cache key) covers the weights, the preprocessing and the
precision; the CPU half of encoding (image processor, tokenizer, audio feature
extractor) runs in :func:`amumo.embed`'s loader workers; and without network a
model that is not in the local Hugging Face cache raises
:class:`~amumo.models.WeightsUnavailableError` at once, naming the files to fetch.

What the returned features are, per ``transformers`` version: up to 4.x
``get_*_features`` return the projected embeddings as a tensor; from 5.0 they
return a model output whose ``pooler_output`` holds them. Both are read.

Text is tokenised the way each model was trained: padded to the longest caption
of the batch, except SigLIP / SigLIP 2 and ALIGN, which were trained on texts
padded to a fixed length (``padding="max_length"``; their model cards say so);
captions longer than the model's context are cut (``truncation=True``).
``text_kwargs=`` overrides these.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Mapping, Sequence
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from amumo.data._files import file_digest
from amumo.data.audio import mono_waveform
from amumo.data.base import stable_hash
from amumo.models._weights import WeightsUnavailableError, can_reach, offline_by_env
from amumo.models.base import (
    as_float32_rows,
    check_batch_size,
    check_texts,
    require_torch,
    rgb_image,
    torch_device,
)

__all__ = ["HuggingFace", "MODALITY_METHODS"]

#: The ``transformers`` method that embeds each modality.
MODALITY_METHODS = {
    "image": "get_image_features",
    "text": "get_text_features",
    "audio": "get_audio_features",
}
# Part of every fingerprint: bump when encoding semantics change.
_ENCODER_VERSION = 1
_PRECISIONS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
#: Text padding the models were trained with, by ``config.model_type`` (else: longest).
_TEXT_DEFAULTS: dict[str, dict[str, Any]] = {
    "siglip": {"padding": "max_length"},
    "siglip2": {"padding": "max_length"},
    "align": {"padding": "max_length", "max_length": 64},
}
_FOLDER_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".pth", ".txt", ".model",
                    ".msgpack", ".h5", ".tiktoken")
#: What a model repository needs for :class:`HuggingFace` (named in offline errors).
_REPO_FILES = (
    "config.json",
    "model.safetensors (or pytorch_model.bin; sharded: model-0000x-of-0000y.safetensors + "
    "model.safetensors.index.json)",
    "preprocessor_config.json / processor_config.json (images, audio)",
    "tokenizer.json, tokenizer_config.json, special_tokens_map.json and the vocabulary "
    "(vocab.json + merges.txt, vocab.txt or spiece.model)",
)


def _require_transformers() -> Any:
    try:
        import transformers
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(
            "amumo.models.HuggingFace needs transformers; install the extra: "
            "pip install 'amumo[hf]'."
        ) from err
    return transformers


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~", "\\")) or os.sep in text.replace("/", "") \
        or text.count("/") > 1


def _folder_digest(folder: Path) -> list[str]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _FOLDER_SUFFIXES)
    if not files:
        raise FileNotFoundError(
            f"{str(folder)!r} holds no model files (config.json, *.safetensors...); pass a "
            "folder written by model.save_pretrained() and processor.save_pretrained()."
        )
    return [f"{p.name}:{file_digest(p)}" for p in files]


def _offline_help(repo: str, reason: str) -> str:
    listing = "\n".join(f"  - {name}" for name in _REPO_FILES)
    return (
        f"HuggingFace({repo!r}) needs the model repository {repo!r}, which is not in the "
        f"local Hugging Face cache, and {reason}.\n"
        "Fetch it where you have network, e.g.\n"
        f"  huggingface-cli download {repo} --local-dir {repo.split('/')[-1]}\n"
        f"(or the files from https://huggingface.co/{repo}/tree/main:\n{listing}\n"
        "), copy the folder to this machine and pass its path:\n"
        f"  am.models.HuggingFace('/path/to/{repo.split('/')[-1]}')\n"
        f"(or put the repository in the Hugging Face cache, HF_HOME, and keep {repo!r})."
    )


def _component_kind(obj: Any) -> str | None:
    """Which modality a preprocessing component serves ("text", "image", "audio") or None."""
    if obj is None:
        return None
    names = {cls.__name__ for cls in type(obj).__mro__}
    if "PreTrainedTokenizerBase" in names or hasattr(obj, "pad_token_id"):
        return "text"
    if "BaseImageProcessor" in names or "BaseImageProcessorFast" in names or (
        hasattr(obj, "image_mean") and hasattr(obj, "preprocess")
    ):
        return "image"
    if "SequenceFeatureExtractor" in names or hasattr(obj, "sampling_rate"):
        return "audio"
    return None


def _components(processor: Any) -> dict[str, Any]:
    """``{modality: component}`` from a processor, a single component or a mapping."""
    if processor is None:
        return {}
    if isinstance(processor, Mapping):
        out = {}
        for modality, component in processor.items():
            if modality not in MODALITY_METHODS:
                raise ValueError(
                    f"processor has key {modality!r}; use 'image', 'text' or 'audio', e.g. "
                    "{'image': image_processor, 'text': tokenizer}."
                )
            out[modality] = component
        return out
    kind = _component_kind(processor)
    if kind is not None:
        return {kind: processor}
    out = {}
    for attr, modality in (("image_processor", "image"), ("tokenizer", "text"),
                           ("feature_extractor", "audio")):
        component = getattr(processor, attr, None)
        if component is not None and _component_kind(component) == modality:
            out[modality] = component
    if not out:
        raise TypeError(
            f"processor is a {type(processor).__name__} with no image processor, tokenizer or "
            "feature extractor; pass the model's processor (AutoProcessor.from_pretrained), "
            "one of its parts, or {'image': ..., 'text': ..., 'audio': ...}."
        )
    return out


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=lambda v: type(v).__name__))


def _component_signature(modality: str, component: Any) -> Any:
    """What a preprocessing component does, for the fingerprint (settings + vocabulary)."""
    if modality == "text":
        backend = getattr(component, "backend_tokenizer", None)
        if backend is not None and hasattr(backend, "to_str"):
            # the backend remembers the truncation / padding of its last call: leave them out
            state = json.loads(backend.to_str())
            state.pop("truncation", None)
            state.pop("padding", None)
            vocab = hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()
        else:
            items = sorted(component.get_vocab().items())
            vocab = hashlib.sha1(json.dumps(items).encode()).hexdigest()
        settings = {k: getattr(component, k, None) for k in (
            "model_max_length", "padding_side", "truncation_side", "do_lower_case")}
        return [type(component).__name__, vocab, _json_safe(settings)]
    to_dict = getattr(component, "to_dict", None)
    return [type(component).__name__, _json_safe(to_dict() if callable(to_dict) else
                                                 vars(component))]


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling from ``rate`` to ``target`` Hz (scipy.signal.resample_poly)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    common = gcd(int(rate), int(target))
    return resample_poly(samples, target // common, rate // common).astype(np.float32)


class _Prepared(dict):
    """A prepared batch: ``{argument name: tensor}`` that the loader can page-lock."""

    def pin_memory(self) -> _Prepared:
        return _Prepared({k: v.pin_memory() if hasattr(v, "pin_memory") else v
                          for k, v in self.items()})

    def is_pinned(self) -> bool:
        return all(getattr(v, "is_pinned", lambda: True)() for v in self.values())


class _Preparer:
    """The CPU half of :class:`HuggingFace` (processor parts only, no model); picklable."""

    def __init__(self, components: dict[str, Any], text_kwargs: dict[str, Any]) -> None:
        self.components = components
        self.text_kwargs = text_kwargs

    def __call__(self, modality: str, items: Sequence[Any]) -> _Prepared:
        if modality == "image":
            return self.images(items)
        if modality == "text":
            return self.texts(items)
        return self.audio(items)

    def images(self, images: Sequence[Any]) -> _Prepared:
        pictures = [rgb_image(image, k) for k, image in enumerate(images)]
        out = self.components["image"](images=pictures, return_tensors="pt")
        return _Prepared(dict(out))

    def texts(self, texts: Sequence[Any]) -> _Prepared:
        out = self.components["text"](check_texts(texts), return_tensors="pt", **self.text_kwargs)
        return _Prepared(dict(out))

    def audio(self, clips: Sequence[Any]) -> _Prepared:
        import torch

        extractor = self.components["audio"]
        rate = int(getattr(extractor, "sampling_rate", 0) or 0)
        parts = []
        for clip in clips:
            samples, clip_rate = mono_waveform(clip)
            if rate:
                samples = _resample(samples, clip_rate, rate)
            # feature extractors crop long clips at random (np.random): seed it per clip,
            # so a clip always gives the same features whatever batch it is in
            state = np.random.get_state()  # noqa: NPY002 - the extractors crop with the global RNG
            np.random.seed(0)  # noqa: NPY002 - the extractors crop with the global RNG
            try:
                parts.append(dict(extractor(samples, sampling_rate=rate or clip_rate,
                                            return_tensors="pt")))
            finally:
                np.random.set_state(state)  # noqa: NPY002 - the extractors crop with the global RNG
        out = {}
        for key in parts[0]:
            values = [p[key] for p in parts]
            if all(isinstance(v, torch.Tensor) for v in values):
                shapes = {tuple(v.shape[1:]) for v in values}
                if len(shapes) > 1:
                    raise ValueError(
                        f"the audio feature extractor gave {key!r} of different shapes "
                        f"{sorted(shapes)} for the clips of one batch; configure it to pad "
                        "(padding='max_length') or pass clips of one length."
                    )
                out[key] = torch.cat(values)
        return _Prepared(out)


class HuggingFace:
    """A ``transformers`` dual encoder (image / text / audio features) as an amumo encoder.

    Parameters
    ----------
    model : str, path or transformers model
        A Hub model id (``"openai/clip-vit-base-patch32"``), a local folder written
        by ``save_pretrained`` (a downloaded snapshot), or a loaded model
        (``CLIPModel.from_pretrained(...)``, or built from a config).
    processor : optional
        Its processor (``AutoProcessor.from_pretrained(...)``), one part of it
        (a tokenizer, an image processor, an audio feature extractor) or a dict
        ``{"image": ..., "text": ..., "audio": ...}``. Default: loaded from the same
        id / folder as the model (a loaded model: from ``model.name_or_path``).
    modalities : sequence of str, optional
        What to encode; default every modality the model has a ``get_*_features``
        method for *and* the processor can prepare.
    precision : {"fp32", "fp16", "bf16"}, optional
        Weights dtype. Default ``"fp32"`` for ids and folders; a loaded model is
        used in its own dtype unless ``precision`` is given (then it is cast in
        place). Outputs are float32 anyway.
    device : str, optional
        ``"auto"`` (cuda, then mps, then cpu) for ids and folders; a loaded model
        stays where it is unless a device is given (then it is moved in place).
    revision : str, optional
        A branch, tag or commit of a Hub model.
    cache_dir : str, optional
        The Hugging Face cache to read / download into (default: HF_HOME's).
    text_kwargs : dict, optional
        Tokeniser arguments replacing the defaults (see the module docstring).
    name : str, optional
        Shown in provenance and the Explorer's model picker.

    Raises
    ------
    WeightsUnavailableError
        A Hub id that is not cached, without network: the message names the
        repository's files and how to pass a local copy.
    FileNotFoundError
        ``model`` looks like a path that does not exist.
    ValueError, TypeError
        A model without the requested ``get_*_features``, a processor that
        cannot prepare a requested modality, a bad precision.

    Notes
    -----
    The fingerprint covers the weights (the file digests of a folder or cached
    snapshot, the commit of a Hub id, or the tensors of a loaded model, hashed
    when first needed: change a loaded model's weights afterwards and the cache
    cannot know, so make a new encoder), the preprocessing (processor files, or
    a loaded processor's settings and vocabulary), the text arguments and the
    precision.

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am  # doctest: +SKIP
    >>> enc = am.models.HuggingFace("openai/clip-vit-base-patch32")  # doctest: +SKIP
    >>> emb = am.embed(enc, am.data.SyntheticShapes(64))  # doctest: +SKIP

    A loaded model with its processor (here a tiny random CLIP built offline):

    >>> from amumo.models import HuggingFace, tiny_hf_clip
    >>> model, processor = tiny_hf_clip(seed=0)
    >>> enc = HuggingFace(model, processor)
    >>> enc.encode("image", [np.zeros((40, 40, 3), np.uint8)]).shape
    (1, 16)
    """

    input_kind = "item"

    def __init__(
        self,
        model: Any,
        processor: Any = None,
        *,
        modalities: Sequence[str] | None = None,
        precision: str | None = None,
        device: str | None = None,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        text_kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        torch = require_torch("amumo.models.HuggingFace")
        transformers = _require_transformers()
        if precision is not None and precision not in _PRECISIONS:
            raise ValueError(
                f"precision={precision!r}; use 'fp32', 'fp16' or 'bf16' (or None: fp32 for ids "
                "and folders, a loaded model's own dtype)."
            )
        if text_kwargs is not None and not isinstance(text_kwargs, Mapping):
            raise TypeError(f"text_kwargs must be a dict, got {type(text_kwargs).__name__}.")
        self.revision = revision
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        self._model: Any = None
        self._local_folder = False
        self._source: str | None = None  # what from_pretrained loads (folder, repo id)
        self._local_only = False
        self._weights_id: Any = None
        self._dim: int | None = None

        if isinstance(model, (str, os.PathLike)):
            self._resolve_source(model)
            config = transformers.AutoConfig.from_pretrained(self._source, **self._hub_kwargs())
            model_class = transformers.MODEL_MAPPING.get(type(config), None)
            if model_class is None:
                raise ValueError(
                    f"{self._label}: transformers has no AutoModel for model_type "
                    f"{getattr(config, 'model_type', '?')!r}; load the model yourself and pass "
                    "it (with its processor) to HuggingFace(model, processor)."
                )
            self.precision = precision or "fp32"
            self.device = torch_device(device or "auto", "amumo.models.HuggingFace")
            self._config = config
            self._class_name = model_class.__name__
            methods = {m for m, attr in MODALITY_METHODS.items() if hasattr(model_class, attr)}
            if processor is None:
                processor = self._load_processor(transformers, self._source)
                preprocessing: Any = "files"  # covered by the folder / snapshot digest
            else:
                preprocessing = None
        elif isinstance(model, torch.nn.Module) and hasattr(model, "config"):
            self._model = model
            self._config = model.config
            self._class_name = type(model).__name__
            self._label = getattr(model, "name_or_path", "") or self._class_name
            params = next(model.parameters(), None)
            own = str(params.dtype).replace("torch.", "") if params is not None else "float32"
            if precision is not None and _PRECISIONS[precision] != own:
                model.to(getattr(torch, _PRECISIONS[precision]))
            self.precision = precision or {v: k for k, v in _PRECISIONS.items()}.get(own, own)
            if device is not None:
                self.device = torch_device(device, "amumo.models.HuggingFace")
                model.to(self.device)
            else:
                self.device = str(params.device) if params is not None else "cpu"
            model.eval()
            methods = {m for m, attr in MODALITY_METHODS.items() if hasattr(model, attr)}
            if processor is None:
                source = getattr(model, "name_or_path", "") or ""
                if not source:
                    raise TypeError(
                        f"the {self._class_name} has no name_or_path to load its processor "
                        "from (it was built from a config); pass processor= (e.g. "
                        "CLIPProcessor(image_processor=..., tokenizer=...))."
                    )
                processor = self._load_processor(transformers, source)
            preprocessing = None
        else:
            raise TypeError(
                f"model is a {type(model).__name__}; pass a Hub model id, a folder written by "
                "save_pretrained, or a loaded transformers model."
            )
        self._components = _components(processor)
        self._modalities = self._pick_modalities(methods, modalities)
        self._text_kwargs = self._text_defaults(text_kwargs)
        if preprocessing is None:
            preprocessing = [_component_signature(m, self._components[m])
                             for m in self._modalities]
        self._preprocessing = preprocessing
        self._fingerprint: str | None = None
        label = f"{self._label}, " if self._label != self._class_name else ""
        self._name = name or f"HuggingFace({label}{self._class_name})"

    # ------------------------------------------------------------------ resolution
    def _hub_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.revision is not None and not self._local_folder:
            kwargs["revision"] = self.revision
        if self.cache_dir is not None:
            kwargs["cache_dir"] = self.cache_dir
        if self._local_only:
            kwargs["local_files_only"] = True
        return kwargs

    def _resolve_source(self, model: str | os.PathLike[str]) -> None:
        text = os.fspath(model)
        if not text:
            raise ValueError("model is an empty string; pass a Hub model id or a folder.")
        path = Path(text).expanduser()
        self._local_folder = path.is_dir()
        if self._local_folder:
            self._source = str(path)
            self._label = path.name
            self._local_only = True
            self._weights_id = ["folder", _folder_digest(path)]
            return
        if isinstance(model, os.PathLike) or _looks_like_path(text) or path.is_file():
            raise FileNotFoundError(
                f"model={text!r} looks like a path but is not a folder; pass the folder "
                "written by save_pretrained (config.json + weights + processor files)."
            )
        self._source = self._label = text
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(text, "config.json", cache_dir=self.cache_dir,
                                        revision=self.revision)
        if isinstance(cached, str) and os.path.isfile(cached):
            # .../models--org--name/snapshots/<commit>/config.json
            commit = Path(cached).parent.name
            self._local_only = True
            self._weights_id = ["hub", text, commit]
            return
        if offline_by_env():
            reason = "downloads are disabled (HF_HUB_OFFLINE / AMUMO_OFFLINE is set)"
        elif not can_reach("huggingface.co"):
            reason = "this machine cannot reach huggingface.co"
        else:
            from huggingface_hub import HfApi

            try:
                info = HfApi().model_info(text, revision=self.revision)
            except Exception as err:  # noqa: BLE001 - repository missing, gated, bad revision
                raise ValueError(
                    f"model={text!r} (revision={self.revision!r}) could not be found on the "
                    f"Hugging Face Hub ({type(err).__name__}: {err}); check the id, e.g. "
                    "'openai/clip-vit-base-patch32'."
                ) from err
            self._weights_id = ["hub", text, info.sha]
            self.revision = info.sha  # load exactly what the fingerprint names
            return
        raise WeightsUnavailableError(_offline_help(text, reason))

    def _load_processor(self, transformers: Any, source: str) -> Any:
        kwargs = self._hub_kwargs() if source == self._source else {}
        errors = []
        try:
            return transformers.AutoProcessor.from_pretrained(source, **kwargs)
        except Exception as err:  # noqa: BLE001 - fall back to the parts below
            errors.append(f"AutoProcessor: {type(err).__name__}: {err}")
        parts = {}
        for modality, loader in (("text", "AutoTokenizer"), ("image", "AutoImageProcessor"),
                                 ("audio", "AutoFeatureExtractor")):
            try:
                parts[modality] = getattr(transformers, loader).from_pretrained(source, **kwargs)
            except Exception as err:  # noqa: BLE001 - a model may lack some parts
                errors.append(f"{loader}: {type(err).__name__}: {str(err)[:200]}")
        if not parts:
            raise ValueError(
                f"no processor could be loaded from {source!r} ({'; '.join(errors)}); pass "
                "processor= explicitly."
            )
        return parts

    def _pick_modalities(self, methods: set[str],
                         modalities: Sequence[str] | None) -> tuple[str, ...]:
        order = [m for m in MODALITY_METHODS if m in methods and m in self._components]
        if modalities is None:
            if not order:
                raise ValueError(
                    f"{self._label}: the {self._class_name} has "
                    f"{sorted(MODALITY_METHODS[m] for m in methods) or 'no get_*_features'} and "
                    f"the processor prepares {sorted(self._components) or 'nothing'}; nothing "
                    "to encode. Pass the model's processor."
                )
            return tuple(order)
        if isinstance(modalities, str):
            raise TypeError(f"modalities={modalities!r} is a string; pass a list.")
        chosen = tuple(modalities)
        for m in chosen:
            if m not in MODALITY_METHODS:
                raise ValueError(f"modality {m!r} is not one of {tuple(MODALITY_METHODS)}.")
            if m not in methods:
                raise ValueError(
                    f"the {self._class_name} has no {MODALITY_METHODS[m]}, so it cannot encode "
                    f"{m!r}; it encodes {tuple(order) or 'nothing'}."
                )
            if m not in self._components:
                raise ValueError(
                    f"the processor has nothing to prepare {m!r} (it has "
                    f"{sorted(self._components)}); pass processor={{'{m}': ...}}."
                )
        return chosen

    def _text_defaults(self, text_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
        if "text" not in self._components:
            return {}
        config = self._config
        kind = getattr(config, "model_type", "")
        text_config = getattr(config, "text_config", config)
        limits = [getattr(self._components["text"], "model_max_length", None),
                  getattr(text_config, "max_position_embeddings", None)]
        limits = [int(v) for v in limits if isinstance(v, (int, np.integer)) and 0 < v < 1e6]
        kwargs: dict[str, Any] = {"padding": True, "truncation": True}
        if limits:
            kwargs["max_length"] = min(limits)
        kwargs.update(_TEXT_DEFAULTS.get(kind, {}))
        if "max_length" in kwargs and limits:
            kwargs["max_length"] = min(kwargs["max_length"], *limits)
        kwargs.update(dict(text_kwargs or {}))
        return kwargs

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return self._name

    @property
    def modalities(self) -> tuple[str, ...]:
        return self._modalities

    @property
    def fingerprint(self) -> str:
        """Stable hash of weights, preprocessing, text arguments and precision."""
        if self._fingerprint is None:
            weights = self._weights_id if self._weights_id is not None else self._tensor_digest()
            self._fingerprint = stable_hash(
                "HuggingFace", _ENCODER_VERSION, self._class_name, weights, self.precision,
                self._preprocessing, _json_safe(self._text_kwargs),
            )
        return self._fingerprint

    def _tensor_digest(self) -> list[Any]:
        """SHA-1 of a loaded model's config and every tensor of its state dict."""
        import torch

        digest = hashlib.sha1()
        for key, tensor in self._model.state_dict().items():
            digest.update(key.encode())
            digest.update(str(tuple(tensor.shape)).encode())
            flat = tensor.detach().to("cpu").contiguous().reshape(-1)
            digest.update(memoryview(flat.view(torch.uint8).numpy()))
        config = self._config.to_dict() if hasattr(self._config, "to_dict") else {}
        config.pop("transformers_version", None)
        config.pop("_name_or_path", None)
        return ["tensors", digest.hexdigest(), _json_safe(config)]

    def __repr__(self) -> str:
        return f"{self.name} on {self.device}"

    # ------------------------------------------------------------------ loading
    def load(self) -> HuggingFace:
        """Build the model now (it is built on first use otherwise). Returns self."""
        if self._model is not None:
            return self
        torch = require_torch("amumo.models.HuggingFace")
        transformers = _require_transformers()
        model_class = transformers.MODEL_MAPPING[type(self._config)]
        dtype = getattr(torch, _PRECISIONS[self.precision])
        major = int(transformers.__version__.split(".")[0])
        minor = int(transformers.__version__.split(".")[1])
        key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        try:
            model = model_class.from_pretrained(self._source, **{key: dtype},
                                                **self._hub_kwargs())
        except OSError as err:
            if self._local_folder:
                raise ValueError(
                    f"{self._source!r} could not be loaded as a {self._class_name} ({err}); "
                    "the folder needs config.json and the weights written by save_pretrained."
                ) from err
            raise WeightsUnavailableError(
                _offline_help(self._source or "", f"loading it failed ({err})")
            ) from err
        self._model = model.eval().to(self.device)
        return self

    @property
    def model(self) -> Any:
        """The underlying ``transformers`` model (built on first access)."""
        return self.load()._model

    @property
    def dim(self) -> int:
        """Embedding dimension D."""
        if self._dim is None:
            probe = {"text": [""], "image": [np.zeros((32, 32, 3), np.uint8)],
                     "audio": [(np.zeros(16_000, np.float32), 16_000)]}
            m = self.modalities[0]
            self._dim = int(self.encode(m, probe[m]).shape[1])
        return self._dim

    # ------------------------------------------------------------------ encoding
    def batch_preparer(self) -> _Preparer:
        """The CPU half of encoding, for loader workers: ``preparer(modality, items) -> batch``.

        Holds the processor parts only (no model), so it pickles cheaply to
        worker processes; :func:`amumo.embed` feeds its output to
        :meth:`encode_prepared`.
        """
        return _Preparer({m: self._components[m] for m in self.modalities}, self._text_kwargs)

    def encode_prepared(self, modality: str, batch: Mapping[str, Any]) -> Any:
        """The device half: a prepared batch → float32 features (a tensor)."""
        import torch

        model = self.load()._model
        method = getattr(model, MODALITY_METHODS[modality])
        accepted = [
            p.name for p in inspect.signature(method).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        dtype = getattr(torch, _PRECISIONS[self.precision])
        inputs = {}
        for key, value in batch.items():
            if key not in accepted or not hasattr(value, "to"):
                continue
            value = value.to(self.device, non_blocking=True)
            inputs[key] = value.to(dtype) if value.is_floating_point() else value
        with torch.inference_mode():
            out = method(**inputs)
        return _features(out, f"{self._class_name}.{MODALITY_METHODS[modality]}").float()

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Embed images (PIL or uint8 arrays), texts or audio clips; float32 ``(n, D)``."""
        if modality not in self.modalities:
            raise ValueError(f"{self.name} encodes {self.modalities}, not modality={modality!r}.")
        batch_size = check_batch_size(batch_size)
        items = list(items)
        prepare = self.batch_preparer()
        parts = []
        for start in range(0, len(items), batch_size):
            batch = items[start: start + batch_size]
            out = self.encode_prepared(modality, prepare(modality, batch))
            parts.append(as_float32_rows(out, len(batch), self.name))
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(parts)


def _features(out: Any, who: str) -> Any:
    """The embedding tensor in what ``get_*_features`` returned (tensor or model output)."""
    if hasattr(out, "dim") and hasattr(out, "float"):
        return out
    for key in ("pooler_output", "image_embeds", "text_embeds", "audio_embeds"):
        value = out.get(key) if hasattr(out, "get") else getattr(out, key, None)
        if value is not None:
            return value
    raise TypeError(
        f"{who} returned a {type(out).__name__} without pooler_output; amumo reads the "
        "tensor (transformers < 5) or pooler_output (>= 5). Wrap the model in a "
        "CallableEncoder that returns the embeddings."
    )
