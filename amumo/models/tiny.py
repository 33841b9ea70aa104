"""TinyCLIP: a two-tower contrastive model small enough to train on a laptop CPU.

The image tower is a small convolutional network, the text tower a one-layer
transformer over a word vocabulary (the caption words of
:class:`~amumo.data.SyntheticShapes` by default). Both end in a linear
projection to a shared ``embed_dim``-dimensional space, as in CLIP (Radford et
al., ICML 2021). :mod:`amumo.training` trains it; :func:`tiny_shapes` loads
the checkpoint shipped with amumo.

torch is imported only when a network is built or run, so importing this
module (and ``amumo``) works without the ``models`` extra.

Examples
--------
>>> import amumo as am                                     # doctest: +SKIP
>>> from amumo.data import SyntheticShapes                 # doctest: +SKIP
>>> enc = am.models.tiny_shapes()                          # doctest: +SKIP
>>> ds = SyntheticShapes(4, seed=1)                        # doctest: +SKIP
>>> enc.encode("text", ds.captions).shape                  # doctest: +SKIP
(4, 64)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import re
import warnings
import zipfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from amumo._npz_check import check_npz_members
from amumo.models.base import require_torch

__all__ = [
    "TinyCLIP",
    "TinyCLIPConfig",
    "tiny_shapes",
    "tokenize",
    "TINY_SHAPES_FILE",
    "PAD",
    "UNK",
]

PAD = "<pad>"
UNK = "<unk>"
#: File name of the shipped checkpoint inside ``amumo/models/weights``.
TINY_SHAPES_FILE = "tiny_shapes.npz"
_CONFIG_KEY = "__config__"
_FORMAT = "amumo.tinyclip/1"
_WORD = re.compile(r"[a-z0-9]+")


def _require_torch() -> Any:
    return require_torch("TinyCLIP")


# --------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class TinyCLIPConfig:
    """Architecture of a :class:`TinyCLIP` (everything needed to rebuild the network).

    Parameters
    ----------
    vocabulary : tuple of str
        Words the text tower knows, without the special tokens (``<pad>`` gets
        id 0, ``<unk>`` id 1, word ``k`` id ``k + 2``).
    image_size : int, default 64
        Images are resized to ``image_size × image_size`` before encoding.
    embed_dim : int, default 64
        Dimension of the shared embedding space.
    image_channels : tuple of int, default (16, 32, 64, 64)
        Output channels of the stride-2 3×3 convolutions of the image tower.
    image_hidden : int, default 128
        Width of the hidden layer between the flattened feature map and the projection.
    text_width : int, default 64
        Width of the token embeddings and of the transformer.
    text_layers : int, default 1
    text_heads : int, default 4
    """

    vocabulary: tuple[str, ...]
    image_size: int = 64
    embed_dim: int = 64
    image_channels: tuple[int, ...] = (16, 32, 64, 64)
    image_hidden: int = 128
    text_width: int = 64
    text_layers: int = 1
    text_heads: int = 4

    def __post_init__(self) -> None:
        vocab = tuple(self.vocabulary)
        if not vocab:
            raise ValueError(
                "vocabulary is empty; pass the caption words, e.g. "
                "amumo.data.synthetic.VOCABULARY."
            )
        for word in vocab:
            if not isinstance(word, str) or not _WORD.fullmatch(word):
                raise ValueError(
                    f"vocabulary word {word!r} is not a lower-case alphanumeric word; "
                    "build the vocabulary with TinyCLIPConfig.vocabulary_from(captions)."
                )
        if len(set(vocab)) != len(vocab):
            raise ValueError("vocabulary has repeated words; pass each word once.")
        object.__setattr__(self, "vocabulary", vocab)
        object.__setattr__(self, "image_channels", tuple(int(c) for c in self.image_channels))
        for name in ("image_size", "embed_dim", "image_hidden", "text_width", "text_layers",
                     "text_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer.")
        if not self.image_channels or min(self.image_channels) < 1:
            raise ValueError(
                f"image_channels={self.image_channels!r} must be one or more positive integers."
            )
        if self.text_width % self.text_heads:
            raise ValueError(
                f"text_width={self.text_width} must be divisible by text_heads={self.text_heads}."
            )

    @property
    def feature_side(self) -> int:
        """Side of the image tower's last feature map."""
        side = self.image_size
        for _ in self.image_channels:
            side = (side + 1) // 2
        return side

    @staticmethod
    def vocabulary_from(texts: Sequence[str]) -> tuple[str, ...]:
        """The sorted set of words in ``texts`` (lower-cased, split on non-alphanumerics).

        Examples
        --------
        >>> TinyCLIPConfig.vocabulary_from(["a red circle", "A blue circle"])
        ('a', 'blue', 'circle', 'red')
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of captions, not a single string.")
        return tuple(sorted({w for text in texts for w in _words(text)}))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["vocabulary"] = list(self.vocabulary)
        out["image_channels"] = list(self.image_channels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TinyCLIPConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TinyCLIPConfig fields {unknown}; expected {sorted(known)}.")
        values = dict(data)
        values["vocabulary"] = tuple(values["vocabulary"])
        if "image_channels" in values:
            values["image_channels"] = tuple(values["image_channels"])
        return cls(**values)


def _words(text: str) -> list[str]:
    if not isinstance(text, str):
        raise TypeError(f"captions must be strings, got {type(text).__name__} {text!r}.")
    return _WORD.findall(text.lower())


def tokenize(
    texts: Sequence[str], vocabulary: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Word ids of ``texts``, right-padded with 0, and the words not in the vocabulary.

    Unknown words map to ``<unk>`` (id 1) and are reported in the second return
    value; nothing is dropped or truncated (positions are sinusoidal, so any
    length works). An empty caption becomes a single ``<unk>``.

    Returns
    -------
    ids : ndarray of int64, shape (len(texts), longest caption)
    unknown : list of str
        Distinct unknown words, in order of appearance.

    Examples
    --------
    >>> ids, unknown = tokenize(["a red circle", "a pink circle"], ["a", "circle", "red"])
    >>> ids.tolist(), unknown
    ([[2, 4, 3], [2, 1, 3]], ['pink'])
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of captions, not a single string.")
    index = {w: k + 2 for k, w in enumerate(vocabulary)}
    rows: list[list[int]] = []
    unknown: dict[str, None] = {}
    for text in texts:
        row = []
        for word in _words(text):
            token = index.get(word, 1)
            if token == 1:
                unknown[word] = None
            row.append(token)
        rows.append(row or [1])
    width = max((len(r) for r in rows), default=1)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, list(unknown)


# --------------------------------------------------------------------------- torch modules
def _groups(channels: int) -> int:
    """GroupNorm groups: 8 when they divide ``channels``, else the largest divisor ≤ 8."""
    return max(g for g in range(1, 9) if channels % g == 0)


@functools.cache
def _modules() -> dict[str, type]:
    """Define the torch modules on first use (so torch is imported lazily)."""
    torch = _require_torch()
    from torch import nn

    class ImageTower(nn.Module):
        """Stride-2 3×3 convolutions with GroupNorm and ReLU, flattened, MLP to ``embed_dim``.

        The feature map is flattened rather than averaged so that the tower
        keeps *where* things are (captions name positions).
        """

        def __init__(self, config: TinyCLIPConfig) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            previous = 3
            for channels in config.image_channels:
                layers += [
                    nn.Conv2d(previous, channels, 3, stride=2, padding=1),
                    nn.GroupNorm(_groups(channels), channels),
                    nn.ReLU(),
                ]
                previous = channels
            self.features = nn.Sequential(*layers)
            flat = previous * config.feature_side**2
            self.head = nn.Sequential(
                nn.Flatten(),
                nn.Linear(flat, config.image_hidden),
                nn.ReLU(),
                nn.Linear(config.image_hidden, config.embed_dim),
            )

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(pixels))

    class TextTower(nn.Module):
        """Word embeddings + sinusoidal positions, pre-norm transformer, masked mean, linear."""

        def __init__(self, config: TinyCLIPConfig) -> None:
            super().__init__()
            width = config.text_width
            self.width = width
            self.embedding = nn.Embedding(len(config.vocabulary) + 2, width, padding_idx=0)
            layer = nn.TransformerEncoderLayer(
                width,
                config.text_heads,
                dim_feedforward=2 * width,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
            )
            self.encoder = nn.TransformerEncoder(
                layer, config.text_layers, enable_nested_tensor=False
            )
            self.norm = nn.LayerNorm(width)
            self.projection = nn.Linear(width, config.embed_dim)

        def positions(self, length: int) -> torch.Tensor:
            pos = torch.arange(length, dtype=torch.float32)[:, None]
            freq = torch.exp(
                torch.arange(0, self.width, 2, dtype=torch.float32)
                * (-np.log(10000.0) / self.width)
            )
            table = torch.zeros(length, self.width)
            table[:, 0::2] = torch.sin(pos * freq)
            table[:, 1::2] = torch.cos(pos * freq)
            return table

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            pad = ids == 0
            x = self.embedding(ids) + self.positions(ids.shape[1])
            x = self.norm(self.encoder(x, src_key_padding_mask=pad))
            keep = (~pad).unsqueeze(-1).to(x.dtype)
            pooled = (x * keep).sum(1) / keep.sum(1).clamp_min(1.0)
            return self.projection(pooled)

    class TinyCLIPNet(nn.Module):
        """Both towers; ``forward`` returns the raw (unnormalised) embeddings."""

        def __init__(self, config: TinyCLIPConfig) -> None:
            super().__init__()
            self.image = ImageTower(config)
            self.text = TextTower(config)

        def forward(
            self, pixels: torch.Tensor, ids: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return self.image(pixels), self.text(ids)

    return {"ImageTower": ImageTower, "TextTower": TextTower, "TinyCLIPNet": TinyCLIPNet}


def build_network(config: TinyCLIPConfig, seed: int = 0) -> Any:
    """A freshly initialised ``TinyCLIPNet`` (torch module), seeded.

    The global torch RNG is left untouched: initialisation runs on a forked
    RNG seeded with ``seed``, so the same seed always gives the same weights.
    """
    torch = _require_torch()
    if not isinstance(config, TinyCLIPConfig):
        raise TypeError(f"config must be a TinyCLIPConfig, got {type(config).__name__}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return _modules()["TinyCLIPNet"](config)


def pixels_to_tensor(images: np.ndarray) -> Any:
    """uint8 ``(N, H, W, 3)`` → float32 ``(N, 3, H, W)`` centred to about [-1, 1]."""
    torch = _require_torch()
    array = np.ascontiguousarray(images)
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2).to(torch.float32)
    return tensor / 127.5 - 1.0


# --------------------------------------------------------------------------- encoder
class TinyCLIP:
    """A trained (or freshly initialised) TinyCLIP as an amumo encoder.

    Implements the encoder protocol of :mod:`amumo.models`: :attr:`name`,
    :attr:`modalities`, :attr:`fingerprint` and :meth:`encode`, so it works
    with ``am.embed(encoder, dataset)``.

    Parameters
    ----------
    config : TinyCLIPConfig
    network : torch.nn.Module, optional
        A ``TinyCLIPNet`` built for ``config``; a new one seeded with ``seed``
        when omitted (random initialisation).
    seed : int, default 0
    info : dict, optional
        Free-form description (training recipe, metrics), saved with the weights.
    name : str, optional

    Examples
    --------
    >>> from amumo.data.synthetic import VOCABULARY
    >>> enc = TinyCLIP(TinyCLIPConfig(VOCABULARY, image_size=32), seed=0)
    >>> enc.encode("text", ["a red circle in the center"]).shape
    (1, 64)
    """

    modalities: tuple[str, ...] = ("image", "text")

    def __init__(
        self,
        config: TinyCLIPConfig,
        network: Any = None,
        *,
        seed: int = 0,
        info: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(config, TinyCLIPConfig):
            raise TypeError(f"config must be a TinyCLIPConfig, got {type(config).__name__}.")
        self.config = config
        self.network = build_network(config, seed) if network is None else network
        self.info: dict[str, Any] = dict(info or {})
        self._name = name or self.info.get("name") or f"TinyCLIP(seed={seed}, untrained)"
        self._fingerprint: str | None = None
        self._warned_unknown: set[str] = set()

    # ------------------------------------------------------------------ protocol
    @property
    def name(self) -> str:
        """Human-readable model name (recorded in embeddings' provenance)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise TypeError(f"name must be a non-empty string, got {value!r}.")
        self._name = value

    @property
    def fingerprint(self) -> str:
        """SHA-1 of the architecture and the exact weights (the embedding-cache key).

        Computed once; call :meth:`refresh_fingerprint` after changing the weights.
        """
        if self._fingerprint is None:
            digest = hashlib.sha1(json.dumps(self.config.to_dict(), sort_keys=True).encode())
            for key, value in self.state_arrays().items():
                digest.update(key.encode())
                digest.update(value.tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def refresh_fingerprint(self) -> str:
        """Recompute :attr:`fingerprint` (after training changed the weights)."""
        self._fingerprint = None
        return self.fingerprint

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Embed ``items`` of one modality; float32 ``(len(items), embed_dim)``, not normalised.

        Parameters
        ----------
        modality : {"image", "text"}
        items : sequence
            Images as PIL images, ``uint8 (H, W, 3)`` arrays or one ``uint8
            (N, H, W, 3)`` array (resized to ``config.image_size`` when needed);
            texts as strings. Unknown words become ``<unk>`` with a warning.
        batch_size : int, default 64
        """
        if modality not in self.modalities:
            raise ValueError(f"modality={modality!r}; TinyCLIP encodes 'image' or 'text'.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive integer.")
        if modality == "image":
            return self.encode_images(_as_pixels(items, self.config.image_size), batch_size)
        return self.encode_texts(items, batch_size)

    # ------------------------------------------------------------------ helpers
    def encode_images(self, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Embed ``uint8 (N, image_size, image_size, 3)`` pixels (no resizing)."""
        torch = _require_torch()
        pixels = np.asarray(pixels)
        side = self.config.image_size
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[1:] != (side, side, 3):
            raise ValueError(
                f"pixels must be uint8 of shape (N, {side}, {side}, 3), got {pixels.dtype} "
                f"{pixels.shape}; use encode('image', items) to convert and resize."
            )
        out = np.empty((len(pixels), self.config.embed_dim), dtype=np.float32)
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(pixels), batch_size):
                    chunk = pixels_to_tensor(pixels[start : start + batch_size])
                    out[start : start + len(chunk)] = self.network.image(chunk).numpy()
        finally:
            self.network.train(was_training)
        return out

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embed captions (a list of strings)."""
        torch = _require_torch()
        if isinstance(texts, str):
            raise TypeError("items must be a sequence of captions, not a single string.")
        texts = list(texts)
        ids, unknown = tokenize(texts, self.config.vocabulary)
        new = [w for w in unknown if w not in self._warned_unknown]
        if new:
            self._warned_unknown.update(new)
            shown = ", ".join(repr(w) for w in new[:10])
            more = f" (and {len(new) - 10} more)" if len(new) > 10 else ""
            warnings.warn(
                f"{self.name} does not know the words {shown}{more}; they are encoded as "
                f"{UNK}. Its vocabulary has {len(self.config.vocabulary)} words "
                "(see encoder.config.vocabulary).",
                UserWarning,
                stacklevel=3,
            )
        out = np.empty((len(texts), self.config.embed_dim), dtype=np.float32)
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), batch_size):
                    chunk = ids[start : start + batch_size]
                    width = max(1, int((chunk != 0).sum(1).max()))
                    tensor = torch.from_numpy(np.ascontiguousarray(chunk[:, :width]))
                    out[start : start + len(chunk)] = self.network.text(tensor).numpy()
        finally:
            self.network.train(was_training)
        return out

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The weights as float32 numpy arrays keyed by torch parameter name."""
        return {
            key: value.detach().cpu().numpy().astype(np.float32, copy=True)
            for key, value in self.network.state_dict().items()
        }

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return int(sum(p.numel() for p in self.network.parameters()))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write architecture, weights and :attr:`info` to one ``.npz`` (atomically).

        The file holds plain arrays plus a JSON header, so loading never
        unpickles anything.
        """
        from amumo._util import atomic_write_bytes

        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path={str(path)!r} must end in .npz.")
        header = {"format": _FORMAT, "config": self.config.to_dict(), "info": self.info,
                  "name": self.name}
        arrays = self.state_arrays()
        if _CONFIG_KEY in arrays:  # pragma: no cover - parameter names never start with __
            raise RuntimeError(f"parameter name {_CONFIG_KEY} clashes with the header.")
        arrays[_CONFIG_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> TinyCLIP:
        """Load a checkpoint written by :meth:`save`."""
        torch = _require_torch()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no TinyCLIP checkpoint at {str(path)!r}.")
        fix = "re-create it with TinyCLIP.save (or train the model again)."
        # headers only, before numpy allocates: a 1 KB file may declare a 40 GB array
        try:
            check_npz_members(path, fix=f"the file is truncated, corrupt or forged: {fix}")
        except ValueError as err:
            raise ValueError(f"not a readable TinyCLIP checkpoint: {err}") from None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(
                f"{str(path)!r} is not a readable TinyCLIP checkpoint (.npz): {err}; {fix}"
            ) from err
        if _CONFIG_KEY not in arrays:
            raise ValueError(f"{str(path)!r} has no {_CONFIG_KEY} header; not a TinyCLIP file.")
        try:
            header = json.loads(arrays.pop(_CONFIG_KEY).tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise ValueError(
                f"{str(path)!r} has a malformed {_CONFIG_KEY} header ({type(err).__name__}: "
                f"{str(err)[:120]}); {fix}"
            ) from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            found = header.get("format") if isinstance(header, dict) else type(header).__name__
            raise ValueError(f"{str(path)!r} has format {found!r}; expected {_FORMAT!r}: not a "
                             f"TinyCLIP checkpoint, or a damaged one ({fix})")
        try:
            config = TinyCLIPConfig.from_dict(header["config"])
            network = build_network(config, seed=0)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError,
                RuntimeError, OverflowError, MemoryError) as err:
            raise ValueError(
                f"{str(path)!r} has a malformed model configuration ({type(err).__name__}: "
                f"{str(err)[:200]}); {fix}"
            ) from None
        expected = set(network.state_dict())
        if set(arrays) != expected:
            missing = sorted(expected - set(arrays))
            extra = sorted(set(arrays) - expected)
            raise ValueError(
                f"{str(path)!r} does not match the TinyCLIP architecture "
                f"(missing {missing[:5]}, unexpected {extra[:5]})."
            )
        try:
            network.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
        except (RuntimeError, TypeError) as err:  # a weight of the wrong shape or dtype
            raise ValueError(
                f"{str(path)!r} holds weights that do not fit its configuration "
                f"({str(err)[:300]}); {fix}"
            ) from None
        network.eval()
        return cls(config, network, info=header.get("info"), name=header.get("name"))

    def __repr__(self) -> str:
        return (
            f"TinyCLIP(name={self.name!r}, image_size={self.config.image_size}, "
            f"embed_dim={self.config.embed_dim}, parameters={self.n_parameters})"
        )


def _as_pixels(items: Any, side: int) -> np.ndarray:
    """Images (PIL, arrays, or one stacked array) → uint8 ``(N, side, side, 3)``."""
    from PIL import Image

    if isinstance(items, np.ndarray) and items.ndim == 4:
        frames = list(items)
    elif isinstance(items, (str, bytes)) or not isinstance(items, Sequence | np.ndarray):
        raise TypeError(
            f"items must be a sequence of images (PIL or uint8 arrays), got {type(items).__name__}."
        )
    else:
        frames = list(items)
    out = np.empty((len(frames), side, side, 3), dtype=np.uint8)
    for k, frame in enumerate(frames):
        if isinstance(frame, Image.Image):
            image = frame.convert("RGB")
        else:
            array = np.asarray(frame)
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
                raise TypeError(
                    f"image {k} is {type(frame).__name__} {array.dtype} {array.shape}; pass PIL "
                    "images or uint8 (H, W, 3) arrays."
                )
            if array.shape[:2] == (side, side):
                out[k] = array
                continue
            image = Image.fromarray(array)
        if image.size != (side, side):
            image = image.resize((side, side), Image.Resampling.BOX)
        out[k] = np.asarray(image)
    return out


# --------------------------------------------------------------------------- shipped model
def weights_path() -> Path:
    """Where the shipped ``tiny_shapes`` checkpoint lives."""
    return Path(str(resources.files("amumo.models").joinpath("weights", TINY_SHAPES_FILE)))


def tiny_shapes() -> TinyCLIP:
    """The TinyCLIP trained on :class:`~amumo.data.SyntheticShapes` that ships with amumo.

    Trained on CPU by ``python scripts/train_tiny_shapes.py`` (the recipe and
    its measured gap / recall are in ``amumo/models/weights/README.md`` and in
    ``encoder.info``). Its embeddings show a clear modality gap.

    Returns
    -------
    TinyCLIP

    Examples
    --------
    >>> import amumo as am                                               # doctest: +SKIP
    >>> from amumo.data import SyntheticShapes                           # doctest: +SKIP
    >>> emb = am.embed(am.models.tiny_shapes(), SyntheticShapes(200, seed=1))  # doctest: +SKIP
    >>> am.gap_distance(emb) > 0.3                                       # doctest: +SKIP
    True
    """
    path = weights_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the tiny_shapes checkpoint is missing from {str(path)!r}; recreate it with "
            "`python scripts/train_tiny_shapes.py` from the amumo source tree."
        )
    return TinyCLIP.load(path)
