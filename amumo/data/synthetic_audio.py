"""SyntheticShapesAudio: SyntheticShapes with a third modality, a tone for each shape.

Each pair is the image and caption of :class:`~amumo.data.SyntheticShapes` plus a
short synthesised sound that describes the same concept:

- colour → pitch (:data:`COLOUR_PITCH`: red C4 ... orange D5),
- shape → timbre (:data:`SHAPE_TIMBRE`: circle a pure sine, square odd harmonics
  ``1/k``, triangle odd harmonics ``1/k²``, star all harmonics ``1/k``),
- size → loudness (:data:`SIZE_LOUDNESS`),
- position → rhythm (:data:`POSITION_BEEPS`: 1 to 5 beeps),
- background → a little white noise (like the background, not in the caption).

Everything is seeded: the same ``(n, seed)`` gives the same pixels, captions and
samples. It is the offline three-modality stand-in for ImageBind's image, text and
audio (Amumo, Humer et al. 2023).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from amumo.data.audio import Audio
from amumo.data.synthetic import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, SyntheticShapes

__all__ = [
    "SyntheticShapesAudio",
    "COLOUR_PITCH",
    "SHAPE_TIMBRE",
    "SIZE_LOUDNESS",
    "POSITION_BEEPS",
    "BACKGROUND_NOISE",
    "SAMPLE_RATE",
    "DURATION",
    "tone",
]

#: Samples per second of the synthesised audio.
SAMPLE_RATE = 8000
#: Length of every clip in seconds.
DURATION = 0.8
#: Fundamental frequency (Hz) of each colour.
COLOUR_PITCH: dict[str, float] = {
    "red": 261.63, "green": 329.63, "blue": 392.00,
    "yellow": 440.00, "purple": 523.25, "orange": 587.33,
}
#: Harmonic amplitudes ``(a_1, a_2, ...)`` of each shape.
SHAPE_TIMBRE: dict[str, tuple[float, ...]] = {
    "circle": (1.0,),
    "square": tuple(1.0 / k if k % 2 else 0.0 for k in range(1, 8)),
    "triangle": tuple(1.0 / k**2 if k % 2 else 0.0 for k in range(1, 8)),
    "star": tuple(1.0 / k for k in range(1, 8)),
}
#: Peak amplitude of each size.
SIZE_LOUDNESS: dict[str, float] = {"small": 0.25, "medium": 0.5, "large": 0.85}
#: Number of beeps of each position.
POSITION_BEEPS: dict[str, int] = {
    "top left": 1, "top right": 2, "bottom left": 3, "bottom right": 4, "center": 5,
}
#: Standard deviation of the white noise under each background.
BACKGROUND_NOISE: dict[str, float] = {"white": 0.0, "grey": 0.01, "black": 0.03}

_AUDIO_VERSION = 1
_DETUNE = 0.01  # ± fraction of the pitch, from the pair's jitter


def tone(
    shape: str,
    colour: str,
    size: str,
    position: str,
    *,
    detune: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """The waveform (float32, ``SAMPLE_RATE · DURATION`` samples) of one concept.

    Examples
    --------
    >>> w = tone("circle", "yellow", "large", "top left")
    >>> w.shape, round(float(abs(w).max()), 2)
    ((6400,), 0.85)
    """
    n = int(round(SAMPLE_RATE * DURATION))
    t = np.arange(n) / SAMPLE_RATE
    f0 = COLOUR_PITCH[colour] * (1.0 + detune)
    wave = np.zeros(n)
    for k, amp in enumerate(SHAPE_TIMBRE[shape], start=1):
        if amp and k * f0 < SAMPLE_RATE / 2:
            wave += amp * np.sin(2 * np.pi * k * f0 * t)
    wave /= np.max(np.abs(wave))
    beeps = POSITION_BEEPS[position]
    slot = n // beeps
    envelope = np.zeros(n)
    on = int(slot * 0.7)
    ramp = min(80, on // 4)
    shape_env = np.ones(on)
    shape_env[:ramp] = np.linspace(0, 1, ramp)
    shape_env[-ramp:] = np.linspace(1, 0, ramp)
    for b in range(beeps):
        envelope[b * slot : b * slot + on] = shape_env
    out = SIZE_LOUDNESS[size] * wave * envelope
    if noise:
        out = out + np.random.default_rng([seed, 0xA0D1]).normal(0.0, noise, n)
    return out.astype(np.float32)


class SyntheticShapesAudio(SyntheticShapes):
    """Image, caption and tone of the same synthetic concept (three modalities).

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int, default 0
        Same attributes, pixels and captions as ``SyntheticShapes(n, seed)``;
        the tones use the same attributes (and jitter, as a slight detune).
    image_size : int, default 64
    mismatch : float, default 0.0
        Fraction of pairs (seeded) whose tone plays **another** pair's concept — the
        mislabelled clips one finds by listening (the Amumo article's "domestic
        animals | pets" cluster full of human chatter). ``meta["tone_of"]`` names the
        pair whose concept each tone plays.

    Attributes
    ----------
    meta : pandas.DataFrame
        The columns of :class:`SyntheticShapes` plus ``pitch_hz``, ``beeps`` (of the
        tone as played) and ``tone_of``.

    Examples
    --------
    >>> from amumo.data import SyntheticShapesAudio
    >>> ds = SyntheticShapesAudio(6, seed=0)
    >>> ds.modalities
    ('image', 'text', 'audio')
    >>> clip = ds.item("audio", 0)
    >>> clip.sample_rate, clip.duration
    (8000, 0.8)
    >>> ds.item("text", 0) == ds.meta["caption"][0]
    True
    """

    modalities = ("image", "text", "audio")

    def __init__(
        self, n: int, seed: int = 0, image_size: int = 64, mismatch: float = 0.0
    ) -> None:
        super().__init__(n, seed=seed, image_size=image_size)
        if isinstance(mismatch, bool) or not isinstance(mismatch, (int, float, np.floating)):
            raise TypeError(f"mismatch must be a fraction in [0, 1], got {mismatch!r}.")
        if not 0.0 <= float(mismatch) <= 1.0:
            raise ValueError(f"mismatch={mismatch}; pass a fraction in [0, 1].")
        self.mismatch = float(mismatch)
        rng = np.random.default_rng([self.seed, 0x70E5])
        self._tone_of = np.arange(self.n)
        count = int(round(self.mismatch * self.n)) if self.n > 1 else 0
        if count:
            wrong = np.sort(rng.choice(self.n, size=count, replace=False))
            # another pair with a different caption where possible (else any other pair)
            captions = [self._caption(i) for i in range(self.n)]
            for i in wrong:
                others = [j for j in range(self.n) if captions[j] != captions[i]] or [
                    j for j in range(self.n) if j != i
                ]
                self._tone_of[i] = others[int(rng.integers(len(others)))]

    @property
    def name(self) -> str:
        extra = f", mismatch={self.mismatch:g}" if self.mismatch else ""
        return (
            f"SyntheticShapesAudio(n={self.n}, seed={self.seed}, image_size={self.image_size}"
            f"{extra})"
        )

    def _fingerprint_parts(self) -> list[Any]:
        return [*super()._fingerprint_parts(), "audio", _AUDIO_VERSION, self._tone_of.tolist()]

    def _build_meta(self) -> pd.DataFrame:
        frame = super()._build_meta()
        frame["id"] = [f"shape-tone-{i:06d}" for i in range(self.n)]
        src = self._tone_of
        colours = np.asarray(COLOURS)[self._codes["colour"][src]]
        positions = np.asarray(POSITIONS, dtype=object)[self._codes["position"][src]]
        frame.insert(
            len(frame.columns) - 1,
            "pitch_hz",
            [
                round(COLOUR_PITCH[c] * (1 + _DETUNE * self._jitter[j, 2]), 2)
                for c, j in zip(colours, src, strict=True)
            ],
        )
        frame.insert(len(frame.columns) - 1, "beeps", [POSITION_BEEPS[p] for p in positions])
        frame.insert(len(frame.columns) - 1, "tone_of", src.copy())
        return frame

    def _tone(self, i: int) -> Audio:
        src = int(self._tone_of[i])  # the concept this clip plays (itself unless mismatched)
        samples = tone(
            SHAPES[self._codes["shape"][src]],
            COLOURS[self._codes["colour"][src]],
            SIZES[self._codes["size"][src]],
            POSITIONS[self._codes["position"][src]],
            detune=_DETUNE * float(self._jitter[src, 2]),
            noise=BACKGROUND_NOISE[BACKGROUNDS[self._codes["background"][i]]],
            seed=self.seed * 1_000_003 + i,
        )
        return Audio(samples, SAMPLE_RATE)

    def _item(self, modality: str, i: int) -> Any:
        if modality == "audio":
            return self._tone(i)
        return super()._item(modality, i)
