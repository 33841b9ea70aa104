"""ShapesEncoder: a seeded, training-free encoder of SyntheticShapes(Audio) items.

It reads the concept out of each item with plain signal processing, then places it
in a shared space, the way a contrastive model would after training:

- **text**: the attribute words of the caption;
- **image**: the background from the border pixels, the shape's colour (nearest
  named colour of its mean pixel), its position (centroid), its shape (the angular
  profile of its outline: flat for a circle, 3 / 4 / 5 lobes for a triangle /
  square / star) and its size (outline radius);
- **audio**: pitch (spectral peak → colour), timbre (harmonic amplitudes →
  shape), loudness (peak → size) and rhythm (number of beeps → position).

The embedding of an item is ``Σ_attr w_attr · E[attr, value]`` (seeded Gaussian
concept vectors shared by all modalities) + a modality offset of norm ``gap``
(the modality gap, as a fixed direction per modality) + modality-private
features (image background, audio noise level, per-item jitter) + a little
seeded per-item noise. Misreadings happen (a few percent of shapes), as do
retrieval failures of real models. No torch, deterministic under ``seed``.

Use it to try amumo's three-modality views offline; for real audio use your
CLAP / ImageBind model through the encoder protocol (see
:class:`amumo.models.Encoder` and ``docs/encoders.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amumo.data.audio import as_audio
from amumo.data.base import stable_hash
from amumo.data.synthetic import (
    ATTRIBUTES,
    BACKGROUND_RGB,
    BACKGROUNDS,
    COLOUR_RGB,
    COLOURS,
    POSITIONS,
    SIZES,
)
from amumo.data.synthetic_audio import (
    COLOUR_PITCH,
    POSITION_BEEPS,
    SHAPE_TIMBRE,
    SIZE_LOUDNESS,
)
from amumo.models.base import check_batch_size

__all__ = ["ShapesEncoder", "read_caption", "read_image", "read_audio"]

_CONCEPTS = ("shape", "colour", "size", "position")
_WEIGHTS = {"shape": 1.0, "colour": 1.0, "size": 0.6, "position": 0.6}
_SIZE_RADIUS = {"small": 0.09, "medium": 0.145, "large": 0.2}
_OUTLINE_FACTOR = {"circle": 1.0, "square": 1.30, "triangle": 1.15, "star": 1.1}
_POSITION_XY = {
    "top left": (0.28, 0.28), "top right": (0.72, 0.28), "bottom left": (0.28, 0.72),
    "bottom right": (0.72, 0.72), "center": (0.5, 0.5),
}
_LOBES = {3: "triangle", 4: "square", 5: "star"}


def read_caption(text: str) -> dict[str, str]:
    """Attribute values named in a caption (missing ones are left out).

    Examples
    --------
    >>> read_caption("a small red circle in the top left")
    {'shape': 'circle', 'colour': 'red', 'size': 'small', 'position': 'top left'}
    """
    lower = f" {str(text).lower()} "
    found: dict[str, str] = {}
    for name in _CONCEPTS:
        for value in sorted(ATTRIBUTES[name], key=len, reverse=True):
            if f" {value} " in lower:
                found[name] = value
                break
    return found


def read_image(image: Any) -> dict[str, Any]:
    """Background, colour, position, shape and size read off a SyntheticShapes image."""
    pixels = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, float)
    side = pixels.shape[0]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(border, axis=0)
    mask = np.linalg.norm(pixels - background, axis=2) > 60
    result: dict[str, Any] = {
        "background": min(
            BACKGROUNDS, key=lambda b: np.linalg.norm(background - BACKGROUND_RGB[b])
        ),
    }
    if mask.sum() < 4:
        return result
    ys, xs = np.nonzero(mask)
    mean_rgb = pixels[mask].mean(axis=0)
    result["colour"] = min(COLOURS, key=lambda c: np.linalg.norm(mean_rgb - COLOUR_RGB[c]))
    cx, cy = (xs.mean() + 0.5) / side, (ys.mean() + 0.5) / side
    result["position"] = min(
        POSITIONS, key=lambda p: np.hypot(cx - _POSITION_XY[p][0], cy - _POSITION_XY[p][1])
    )
    angle = np.arctan2(ys - ys.mean(), xs - xs.mean())
    radius = np.hypot(ys - ys.mean(), xs - xs.mean()) + 0.5
    bins = ((angle + np.pi) / (2 * np.pi) * 32).astype(int) % 32
    outline = np.zeros(32)
    np.maximum.at(outline, bins, radius)
    outline[outline == 0] = outline[outline > 0].min()
    variation = outline.std() / outline.mean()
    spectrum = np.abs(np.fft.rfft(outline))
    shape = "circle" if variation < 0.06 else _LOBES[3 + int(np.argmax(spectrum[3:6]))]
    result["shape"] = shape
    r = outline.max() / _OUTLINE_FACTOR[shape] / side
    result["size"] = min(SIZES, key=lambda s: abs(np.log(r / _SIZE_RADIUS[s])))
    result["jitter"] = (cx - _POSITION_XY[result["position"]][0],
                        cy - _POSITION_XY[result["position"]][1],
                        float(np.log(r / _SIZE_RADIUS[result["size"]])))
    return result


def read_audio(clip: Any) -> dict[str, Any]:
    """Colour (pitch), shape (timbre), size (loudness), position (beeps) of a tone."""
    audio = as_audio(clip)
    if audio is None or isinstance(audio, (bytes, bytearray)):
        raise TypeError(f"{type(clip).__name__} is not a waveform; pass amumo.data.Audio.")
    samples = np.asarray(audio.samples, dtype=np.float64)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    rate = audio.sample_rate
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    band = (freqs > 150) & (freqs < 800)
    f0 = float(freqs[band][np.argmax(spectrum[band])])

    def amplitude(f: float) -> float:
        near = np.abs(freqs - f) < 0.03 * f
        return float(spectrum[near].max()) if near.any() and f < rate / 2 else 0.0

    harmonics = np.array([amplitude(k * f0) for k in range(1, 5)])
    harmonics = harmonics / max(harmonics[0], 1e-12)
    timbres = {
        name: np.array([(list(a) + [0.0] * 4)[k] for k in range(4)]) / a[0]
        for name, a in SHAPE_TIMBRE.items()
    }
    shape = min(timbres, key=lambda s: float(np.abs(harmonics - timbres[s]).sum()))
    frame = max(1, rate // 100)
    n_frames = len(samples) // frame
    energy = np.abs(samples[: n_frames * frame]).reshape(n_frames, frame).max(axis=1)
    peak = max(float(energy.max()), 1e-9)  # a silent clip reads as the quietest size
    on = energy > 0.3 * peak
    beeps = int(np.sum(on[1:] & ~on[:-1]) + int(on[0]))
    noise = float(np.median(energy[~on])) if (~on).any() else 0.0
    return {
        "colour": min(COLOUR_PITCH, key=lambda c: abs(np.log(f0 / COLOUR_PITCH[c]))),
        "shape": shape,
        "size": min(SIZE_LOUDNESS, key=lambda s: abs(np.log(peak / SIZE_LOUDNESS[s]))),
        "position": min(POSITION_BEEPS, key=lambda p: abs(POSITION_BEEPS[p] - beeps)),
        "noise": noise,
        "jitter": (float(np.log(f0 / COLOUR_PITCH[min(
            COLOUR_PITCH, key=lambda c: abs(np.log(f0 / COLOUR_PITCH[c])))])),),
    }


class ShapesEncoder:
    """Seeded encoder of SyntheticShapes / SyntheticShapesAudio items with a real gap.

    Parameters
    ----------
    dim : int, default 64
        Embedding dimension (≥ 16).
    gap : float, default 1.2
        Norm of each modality's offset (0: no gap). The offsets are random
        directions, so every pair of modalities has a gap.
    noise : float, default 0.35
        Norm of the seeded per-item noise.
    seed : int, default 0
        Seeds concept vectors, offsets and noise.
    modalities : sequence of str, default ("image", "text", "audio")

    Examples
    --------
    >>> import amumo as am
    >>> ds = am.data.SyntheticShapesAudio(60, seed=0)
    >>> emb = am.embed(am.models.ShapesEncoder(), ds, progress=False, cache=False)
    >>> emb.modalities, emb.dim
    (('image', 'text', 'audio'), 64)
    >>> bool(am.gap_distance(emb, "image", "audio") > 0.3)
    True
    """

    input_kind = "item"

    def __init__(
        self,
        dim: int = 64,
        gap: float = 1.2,
        noise: float = 0.35,
        seed: int = 0,
        modalities: Sequence[str] = ("image", "text", "audio"),
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 16:
            raise ValueError(f"dim={dim!r} must be an integer of at least 16.")
        for name, value in (("gap", gap), ("noise", noise)):
            if not np.isfinite(float(value)) or float(value) < 0:
                raise ValueError(f"{name}={value!r} must be a finite number ≥ 0.")
        unknown = [m for m in modalities if m not in ("image", "text", "audio")]
        if unknown or not modalities:
            raise ValueError(
                f"modalities={list(modalities)}; ShapesEncoder encodes 'image', 'text', 'audio'."
            )
        self.dim, self.gap, self.noise, self.seed = int(dim), float(gap), float(noise), int(seed)
        self._modalities = tuple(modalities)
        rng = np.random.default_rng([self.seed, 0x5EED])
        unit = 1.0 / np.sqrt(self.dim)
        self._concepts = {
            (name, value): rng.normal(0.0, unit, self.dim)
            for name in _CONCEPTS
            for value in ATTRIBUTES[name]
        }
        self._offsets = {}
        for m in ("image", "text", "audio"):
            direction = rng.normal(size=self.dim)
            self._offsets[m] = self.gap * direction / np.linalg.norm(direction)
        self._private = {
            ("background", b): rng.normal(0.0, 0.5 * unit, self.dim) for b in BACKGROUNDS
        }
        self._jitter = rng.normal(0.0, unit, (3, self.dim))

    @property
    def name(self) -> str:
        return f"ShapesEncoder(dim={self.dim}, gap={self.gap:g}, seed={self.seed})"

    @property
    def modalities(self) -> tuple[str, ...]:
        return self._modalities

    @property
    def fingerprint(self) -> str:
        return stable_hash("ShapesEncoder", 1, self.dim, self.gap, self.noise, self.seed)

    def _vector(self, modality: str, item: Any) -> np.ndarray:
        if modality == "text":
            found: dict[str, Any] = read_caption(str(item))
            key = str(item).encode()
        elif modality == "image":
            found = read_image(item)
            key = np.asarray(item).tobytes()
        else:
            found = read_audio(item)
            key = np.asarray(as_audio(item).samples).tobytes()
        vec = self._offsets[modality].copy()
        for name in _CONCEPTS:
            if name in found:
                vec += _WEIGHTS[name] * self._concepts[(name, found[name])]
        if "background" in found:
            vec += self._private[("background", found["background"])]
        if "noise" in found:
            vec += 10.0 * found["noise"] * self._jitter[2]
        for k, value in enumerate(found.get("jitter", ())):
            vec += 2.0 * value * self._jitter[k]
        seed = int(stable_hash(modality, key)[:12], 16)
        vec += self.noise * np.random.default_rng([self.seed, seed]).normal(
            0.0, 1.0 / np.sqrt(self.dim), self.dim
        )
        return vec

    def encode(self, modality: str, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Embed ``items`` of one modality: float32 ``(len(items), dim)``."""
        if modality not in self._modalities:
            raise ValueError(
                f"{self.name} cannot encode modality={modality!r}; it encodes {self._modalities}."
            )
        check_batch_size(batch_size)
        items = list(items)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(modality, item) for item in items]).astype(np.float32)

    def __repr__(self) -> str:
        return self.name
