"""Amumo's model zoo from local files: CyCLIP, CLOOB, CLOOB-LAION400M and ImageBind.

Amumo (Humer et al., 2023) compared CLIP with CyCLIP, CLOOB, CLOOB trained on
LAION-400M and ImageBind. Their weights are not on a model hub that amumo can
reach offline, so each loads from a file you downloaded:

- **CyCLIP** -- :func:`cyclip`: the open_clip architecture is found from the
  tensor shapes (RN50 for the released checkpoints), keys are OpenAI's layout as
  they are, QuickGELU. Files: github.com/goel-shashank/CyCLIP (README).
- **CLOOB** -- :func:`cloob`: the text tower's keys are renamed onto open_clip's,
  ``logit_inv_tau`` becomes ``logit_scale``. Files: ml.jku.at/research/CLOOB/downloads.
- **CLOOB-LAION400M** -- **not** an open_clip architecture (see
  :data:`~amumo.models._checkpoints.CLOOB_LAION_MISMATCH`); :func:`cloob_laion400m`
  runs it through the ``cloob_training`` package, which also downloads it.
- **ImageBind** -- :class:`ImageBind`: image, text and audio through the
  ``imagebind`` package. File: dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth.

Without the package a model needs, the error points to the encoder protocol
(``docs/encoders.md``): any object with ``name``, ``modalities``,
``fingerprint`` and ``encode`` works with :func:`amumo.embed`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amumo.data._files import file_digest
from amumo.data.audio import Audio, mono_waveform
from amumo.data.base import stable_hash
from amumo.models._checkpoints import infer_architecture, to_open_clip_layout
from amumo.models.base import (
    as_float32_rows,
    check_batch_size,
    require_torch,
    rgb_image,
    torch_device,
)
from amumo.models.openclip import CheckpointRefusedError, OpenCLIP, WeightsUnavailableError

__all__ = ["cyclip", "cloob", "cloob_laion400m", "ImageBind", "CLOOBLAION400M",
           "IMAGEBIND_URL", "CYCLIP_URL", "CLOOB_URL"]

#: Where the released checkpoints are (named in the errors).
CYCLIP_URL = "https://github.com/goel-shashank/CyCLIP#pretrained-checkpoints"
CLOOB_URL = "https://ml.jku.at/research/CLOOB/downloads/checkpoints/"
IMAGEBIND_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
_RECIPE = "docs/encoders.md (the encoder protocol: name, modalities, fingerprint, encode)"
_ZOO_VERSION = 1


def _checkpoint_path(checkpoint: Any, who: str, where: str) -> Path:
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"{who} needs the path of a downloaded checkpoint file, got "
                        f"{type(checkpoint).__name__}.")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{who}: no checkpoint file at {str(path)!r}. Download it where you have network "
            f"({where}), copy it here and pass its path."
        )
    return path


def _read_state(path: Path, trust: bool) -> dict[str, Any]:
    """The checkpoint's tensors (memory-mapped where the file allows), for key and shape checks."""
    torch = require_torch("amumo.models.zoo")
    errors = []
    for kwargs in ({"weights_only": True, "mmap": True}, {"weights_only": True}):
        try:
            return torch.load(path, map_location="cpu", **kwargs)
        except Exception as err:  # noqa: BLE001 - tried in order, reported below
            errors.append(err)
    text = str(errors[-1])
    if "weights_only" in text or "Weights only load failed" in text:
        if not trust:
            raise CheckpointRefusedError(
                f"checkpoint {str(path)!r} holds Python objects besides tensors, which "
                "torch.load(weights_only=True) refuses because unpickling them can run "
                "arbitrary code. If you trust its origin, pass trust_checkpoint=True."
            ) from errors[-1]
        return torch.load(path, map_location="cpu", weights_only=False)
    raise ValueError(
        f"checkpoint {str(path)!r} could not be read ({type(errors[-1]).__name__}: "
        f"{errors[-1]}); pass a PyTorch .pt / .pth file."
    ) from errors[-1]


def _open_clip_checkpoint(
    who: str, where: str, checkpoint: Any, model_name: str | None, device: str,
    precision: str, trust_checkpoint: bool,
) -> OpenCLIP:
    path = _checkpoint_path(checkpoint, who, where)
    state, origin = to_open_clip_layout(_read_state(path, trust_checkpoint))
    if model_name is None:
        model_name = infer_architecture(state)
    del state
    encoder = OpenCLIP(model_name, pretrained=str(path), device=device, precision=precision,
                       quick_gelu=True, trust_checkpoint=trust_checkpoint)
    encoder.layout = origin  # type: ignore[attr-defined]
    return encoder


def cyclip(
    checkpoint: str | os.PathLike[str], model_name: str | None = None, device: str = "auto",
    *, precision: str = "fp32", trust_checkpoint: bool = False,
) -> OpenCLIP:
    """A released CyCLIP checkpoint (Goel et al., NeurIPS 2022) as an :class:`OpenCLIP`.

    Parameters
    ----------
    checkpoint : path
        The downloaded ``.pt`` file (``{"epoch", "name", "state_dict", "optimizer"}``).
    model_name : str, optional
        The open_clip architecture; default: found from the tensor shapes (the
        released checkpoints are RN50). QuickGELU is always on (CyCLIP trained with it).
    device, precision, trust_checkpoint
        As for :class:`OpenCLIP`.

    Raises
    ------
    FileNotFoundError
        No file there (the message says where to download it).
    ValueError
        Not a CLIP-style checkpoint, or no open_clip architecture has its shapes.
    """
    return _open_clip_checkpoint("CyCLIP", CYCLIP_URL, checkpoint, model_name, device,
                                 precision, trust_checkpoint)


def cloob(
    checkpoint: str | os.PathLike[str], model_name: str | None = None, device: str = "auto",
    *, precision: str = "fp32", trust_checkpoint: bool = False,
) -> OpenCLIP:
    """A released CLOOB checkpoint (Fürst et al., NeurIPS 2022) as an :class:`OpenCLIP`.

    The text tower's keys (``transformer.transformer.*``, ``transformer.ln_final``...)
    are renamed onto open_clip's and ``logit_inv_tau`` becomes ``logit_scale``; the
    architecture is found from the tensor shapes (RN50 / RN50x4 for the released
    ``cloob_rn50_yfcc_epoch_28.pt`` / ``cloob_rn50x4_yfcc_epoch_28.pt``) unless given.
    A CLOOB-LAION400M file raises ValueError saying why it cannot load here (use
    :func:`cloob_laion400m`).
    """
    return _open_clip_checkpoint("CLOOB", CLOOB_URL, checkpoint, model_name, device,
                                 precision, trust_checkpoint)


# ---------------------------------------------------------------------------- package models
class _PackageEncoder:
    """A model run through its own package: lazy build, batches, fingerprint from the file."""

    input_kind = "item"
    _who = "model"

    def __init__(self, path: Path, modalities: Sequence[str], offered: Sequence[str],
                 device: str, identity: Any) -> None:
        if isinstance(modalities, str):
            raise TypeError(f"modalities={modalities!r} is a string; pass a list.")
        unknown = [m for m in modalities if m not in offered]
        if unknown or not modalities:
            raise ValueError(f"{self._who} encodes {tuple(offered)}; modalities={tuple(modalities)}"
                             " asks for others (or none).")
        self._modalities = tuple(modalities)
        self.checkpoint = path
        self.device = torch_device(device, f"amumo.models.{self._who}")
        self._model: Any = None
        self._fingerprint = stable_hash(self._who, _ZOO_VERSION, file_digest(path), identity)

    @property
    def name(self) -> str:
        return f"{self._who}({self.checkpoint.name})"

    @property
    def modalities(self) -> tuple[str, ...]:
        return self._modalities

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def __repr__(self) -> str:
        return f"{self.name} on {self.device}"

    def load(self) -> _PackageEncoder:
        """Build the model now (it is built on first use otherwise)."""
        if self._model is None:
            self._model = self._build()
        return self

    @property
    def model(self) -> Any:
        return self.load()._model

    def _build(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(self, modality: str, items: list[Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Embed ``items`` of one modality; float32 ``(n, D)`` (normalised by Embeddings)."""
        if modality not in self.modalities:
            raise ValueError(f"{self.name} encodes {self.modalities}, not modality={modality!r}.")
        torch = require_torch()
        batch_size = check_batch_size(batch_size)
        items = list(items)
        self.load()
        parts = []
        for start in range(0, len(items), batch_size):
            batch = items[start: start + batch_size]
            with torch.inference_mode():
                out = self._forward(modality, batch)
            parts.append(as_float32_rows(out, len(batch), self.name))
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(parts)


def _import_imagebind() -> Any:
    try:
        from imagebind import data
        from imagebind.models import imagebind_model
        from imagebind.models.imagebind_model import ModalityType
    except ImportError as err:
        raise ImportError(
            "am.models.ImageBind needs Meta's imagebind package (CC BY-NC 4.0): "
            "pip install git+https://github.com/facebookresearch/ImageBind . Without it, wrap "
            f"your ImageBind (or any model) as an encoder: see {_RECIPE}, section 'ImageBind'."
        ) from err
    return data, imagebind_model, ModalityType


class ImageBind(_PackageEncoder):
    """ImageBind (Girdhar et al., CVPR 2023) through its own package: image, text, audio.

    Parameters
    ----------
    checkpoint : path, optional
        ``imagebind_huge.pth`` (4.5 GB, :data:`IMAGEBIND_URL`); default
        ``.checkpoints/imagebind_huge.pth`` where the package itself stores it. Never
        downloaded by amumo: a missing file raises
        :class:`~amumo.models.WeightsUnavailableError` saying where to get it.
    modalities : sequence of str, default ("image", "text", "audio")
    device : str, default "auto"

    Notes
    -----
    Images are resized (bicubic, shorter side 224), centre-cropped and normalised with
    CLIP's mean / std, as ``imagebind.data.load_and_transform_vision_data`` does with
    files; texts go through ``load_and_transform_text``; audio clips are written to
    temporary 16-bit WAV files and read by ``load_and_transform_audio_data`` (three 2 s
    clips per item, mel spectrograms, averaged by the model).

    Raises
    ------
    ImportError
        The ``imagebind`` package is not installed; the message gives the pip line and
        the encoder-protocol recipe in ``docs/encoders.md``.
    """

    _who = "ImageBind"

    def __init__(self, checkpoint: str | os.PathLike[str] | None = None,
                 modalities: Sequence[str] = ("image", "text", "audio"),
                 device: str = "auto") -> None:
        self._ib = _import_imagebind()
        path = Path(checkpoint if checkpoint is not None
                    else Path(".checkpoints") / "imagebind_huge.pth").expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f"ImageBind needs its weights file at {str(path)!r}. Download "
                f"imagebind_huge.pth from {IMAGEBIND_URL} where you have network, copy it "
                "here and pass am.models.ImageBind(checkpoint='/path/to/imagebind_huge.pth')."
            )
        super().__init__(path, modalities, ("image", "text", "audio"), device, "huge")

    def _build(self) -> Any:
        torch = require_torch()
        _, imagebind_model, _ = self._ib
        model = imagebind_model.imagebind_huge(pretrained=False)
        if isinstance(model, tuple):  # some forks return (model, dim)
            model = model[0]
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.eval().to(self.device)

    def _forward(self, modality: str, items: list[Any]) -> Any:
        torch = require_torch()
        data, _, kinds = self._ib
        if modality == "image":
            from torchvision import transforms

            transform = transforms.Compose([
                transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
                transforms.CenterCrop(224),
                transforms.ToTensor(),
                transforms.Normalize(mean=(0.48145466, 0.4578275, 0.40821073),
                                     std=(0.26862954, 0.26130258, 0.27577711)),
            ])
            key = kinds.VISION
            value = torch.stack([transform(rgb_image(x, k)) for k, x in enumerate(items)])
            value = value.to(self.device)
        elif modality == "text":
            for k, text in enumerate(items):
                if not isinstance(text, str):
                    raise TypeError(f"text {k} is a {type(text).__name__}; pass strings.")
            key, value = kinds.TEXT, data.load_and_transform_text(items, self.device)
        else:
            key = kinds.AUDIO
            with tempfile.TemporaryDirectory(prefix="amumo-imagebind-") as folder:
                paths = []
                for k, clip in enumerate(items):
                    samples, rate = mono_waveform(clip)
                    path = os.path.join(folder, f"{k}.wav")
                    with open(path, "wb") as handle:
                        handle.write(Audio(samples, rate).to_wav())
                    paths.append(path)
                value = data.load_and_transform_audio_data(paths, self.device)
        return self._model({key: value})[key]


def _import_cloob_training() -> Any:
    try:
        from cloob_training import model_pt, pretrained
    except ImportError as err:
        raise ImportError(
            "CLOOB-LAION400M is not an open_clip architecture (ViT without ln_pre / ln_post, "
            "a bidirectional text transformer pooled at its first token), so it runs through "
            "its own package: pip install git+https://github.com/crowsonkb/cloob-training . "
            f"Without it, wrap the model as an encoder: see {_RECIPE}."
        ) from err
    return model_pt, pretrained


class CLOOBLAION400M(_PackageEncoder):
    """CLOOB trained on LAION-400M (crowsonkb/cloob-training), through its package. See
    :func:`cloob_laion400m`."""

    _who = "CLOOB-LAION400M"

    def __init__(self, checkpoint: str | os.PathLike[str],
                 config: str = "cloob_laion_400m_vit_b_16_16_epochs", device: str = "auto",
                 *, trust_checkpoint: bool = False) -> None:
        self._package = _import_cloob_training()
        path = _checkpoint_path(checkpoint, self._who,
                                "cloob_training.pretrained.download_checkpoint(config)")
        if not trust_checkpoint:
            raise CheckpointRefusedError(
                f"the CLOOB-LAION400M checkpoint {str(path)!r} is a Python pickle of JAX "
                "parameters; reading it runs code from the file. If you trust its origin, pass "
                "trust_checkpoint=True."
            )
        self.config = self._package[1].get_config(config)
        super().__init__(path, ("image", "text"), ("image", "text"), device, config)

    def _build(self) -> Any:
        model_pt, _ = self._package
        model = model_pt.get_pt_model(self.config)
        model.load_state_dict(model_pt.get_pt_params(self.config, str(self.checkpoint)))
        return model.eval().requires_grad_(False).to(self.device)

    def _forward(self, modality: str, items: list[Any]) -> Any:
        torch = require_torch()
        model = self._model
        if modality == "text":
            tokens = model.tokenize(list(items), truncate=True).to(self.device)
            return model.text_encoder(tokens)
        from torchvision import transforms

        encoder = self.config["image_encoder"]
        transform = transforms.Compose([
            transforms.Resize(encoder["image_size"],
                              interpolation=transforms.InterpolationMode.LANCZOS),
            transforms.CenterCrop(encoder["image_size"]),
            transforms.ToTensor(),
            transforms.Normalize(mean=encoder["normalize"]["mean"],
                                 std=encoder["normalize"]["std"]),
        ])
        pixels = torch.stack([transform(rgb_image(x, k)) for k, x in enumerate(items)])
        return model.image_encoder(pixels.to(self.device))


def cloob_laion400m(
    checkpoint: str | os.PathLike[str], config: str = "cloob_laion_400m_vit_b_16_16_epochs",
    device: str = "auto", *, trust_checkpoint: bool = False,
) -> CLOOBLAION400M:
    """CLOOB-LAION400M (the ViT-B/16 Amumo compared) through the ``cloob_training`` package.

    It does not map onto open_clip (see
    :data:`~amumo.models._checkpoints.CLOOB_LAION_MISMATCH`), so the package's own
    PyTorch port runs it: ``model_pt.get_pt_model(config)`` with the parameters of the
    pickled JAX checkpoint (``trust_checkpoint=True`` required: unpickling runs code),
    images resized with Lanczos, centre-cropped and normalised by the config, texts
    tokenised with CLIP's tokenizer (cut to its context).

    Raises
    ------
    ImportError
        ``cloob_training`` is not installed (the message says how, and where the
        encoder-protocol recipe is).
    """
    return CLOOBLAION400M(checkpoint, config, device, trust_checkpoint=trust_checkpoint)
