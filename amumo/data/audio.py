"""Audio items: a waveform with its sample rate, and its WAV encoding for previews.

Datasets return audio in several shapes; :func:`as_audio` accepts the common ones:

- :class:`Audio` (what amumo's own datasets return),
- a ``(samples, sample_rate)`` tuple (``soundfile.read`` / ``librosa.load`` order),
- a Hugging Face ``datasets`` audio dict ``{"array": ..., "sampling_rate": ...}``,
- WAV file bytes (``b"RIFF...WAVE"``).

:func:`wav_bytes` turns any of them into 16-bit PCM WAV bytes, which the
widgets send to the browser on demand (an ``<audio controls>`` element).
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Audio", "as_audio", "is_audio", "wav_bytes"]

#: Longest clip sent to a preview (seconds); longer clips are cut and say so.
MAX_PREVIEW_SECONDS = 30.0


@dataclass(frozen=True, eq=False)
class Audio:
    """A mono (``(n,)``) or multi-channel (``(n, channels)``) waveform in [-1, 1].

    Parameters
    ----------
    samples : ndarray
        Float samples (values outside [-1, 1] are scaled down when encoded).
    sample_rate : int
        Samples per second (8 to 384,000).

    Examples
    --------
    >>> import numpy as np
    >>> from amumo.data import Audio
    >>> tone = Audio(np.sin(2 * np.pi * 440 * np.arange(800) / 8000), 8000)
    >>> tone.duration
    0.1
    >>> tone.to_wav()[:4]
    b'RIFF'
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.dtype == object or not np.issubdtype(samples.dtype, np.number):
            raise TypeError(f"samples has dtype {samples.dtype}; pass a numeric waveform.")
        if samples.ndim not in (1, 2) or samples.shape[0] == 0:
            raise ValueError(
                f"samples has shape {samples.shape}; pass (n,) mono or (n, channels) samples."
            )
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
            raise TypeError(f"sample_rate must be an integer (Hz), got {rate!r}.")
        if not 8 <= int(rate) <= 384_000:
            raise ValueError(f"sample_rate={rate} Hz is outside 8..384000.")
        if not np.isfinite(samples).all():
            raise ValueError("samples contain NaN or Inf.")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", int(rate))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / self.sample_rate

    def to_wav(self, max_seconds: float | None = None) -> bytes:
        """16-bit PCM WAV bytes (peak-normalised only when the peak exceeds 1)."""
        samples = np.asarray(self.samples, dtype=np.float64)
        if max_seconds is not None:
            samples = samples[: int(max_seconds * self.sample_rate)]
        if np.issubdtype(self.samples.dtype, np.integer):
            info = np.iinfo(self.samples.dtype)
            samples = samples / max(abs(info.min), info.max)
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        if peak > 1.0:
            samples = samples / peak
        pcm = np.round(samples * 32767.0).astype("<i2")
        channels = 1 if pcm.ndim == 1 else pcm.shape[1]
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(self.sample_rate)
            out.writeframes(np.ascontiguousarray(pcm).tobytes())
        return buffer.getvalue()


def _is_wav(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray)) and value[:4] == b"RIFF" and value[8:12] == b"WAVE"


def as_audio(value: Any) -> Audio | bytes | None:
    """``value`` as :class:`Audio` (or WAV bytes unchanged); None when it is not audio."""
    if isinstance(value, Audio) or _is_wav(value):
        return value
    if isinstance(value, dict) and "array" in value and "sampling_rate" in value:
        return Audio(np.asarray(value["array"]), int(value["sampling_rate"]))
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], np.ndarray)
        and isinstance(value[1], (int, np.integer))
        and not isinstance(value[1], bool)
    ):
        return Audio(value[0], int(value[1]))
    return None


def is_audio(value: Any) -> bool:
    """True for the audio forms :func:`as_audio` understands."""
    try:
        return as_audio(value) is not None
    except (TypeError, ValueError):
        return False


def wav_bytes(value: Any, max_seconds: float = MAX_PREVIEW_SECONDS) -> bytes:
    """WAV bytes of an audio item (at most ``max_seconds``), for ``<audio>`` previews.

    Waveforms are encoded as 16-bit PCM and cut after ``max_seconds``; WAV bytes are
    passed through unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> data = wav_bytes((np.zeros(80), 8000))
    >>> data[:4], len(data)
    (b'RIFF', 204)
    """
    audio = as_audio(value)
    if audio is None:
        raise TypeError(
            f"{type(value).__name__} is not audio; pass amumo.data.Audio, (samples, "
            "sample_rate), {'array': ..., 'sampling_rate': ...} or WAV bytes."
        )
    if isinstance(audio, (bytes, bytearray)):
        return bytes(audio)
    return audio.to_wav(max_seconds)
