"""Audio items: a waveform with its sample rate, and its WAV encoding for previews.

Datasets return audio in several shapes; :func:`as_audio` accepts the common ones:

- :class:`Audio` (what amumo's own datasets return),
- a ``(samples, sample_rate)`` tuple (``soundfile.read`` / ``librosa.load`` order),
- a Hugging Face ``datasets`` audio dict ``{"array": ..., "sampling_rate": ...}``,
- WAV file bytes (``b"RIFF...WAVE"``).

:func:`wav_bytes` turns any of them into 16-bit PCM WAV bytes, which the
widgets send to the browser on demand (an ``<audio controls>`` element). A preview
is at most :data:`MAX_PREVIEW_SECONDS` long and costs only that much work: the cut
is made before any conversion (a 30 s preview of an hour-long clip converts 30 s),
and WAV bytes are cut too (:func:`cut_wav`), never sent whole.
"""

from __future__ import annotations

import io
import os
import struct
import wave
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from amumo.data._files import open_regular_file

__all__ = ["Audio", "as_audio", "is_audio", "wav_bytes", "cut_wav", "unit_samples", "mono_waveform"]

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
        if samples.dtype.kind == "f":  # in blocks: no bool copy of an hour-long clip
            for start in range(0, samples.shape[0], 1 << 20):
                if not np.isfinite(samples[start : start + (1 << 20)]).all():
                    raise ValueError("samples contain NaN or Inf.")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", int(rate))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / self.sample_rate

    def to_wav(self, max_seconds: float | None = None) -> bytes:
        """16-bit PCM WAV bytes of the first ``max_seconds`` (all by default), peak-normalised
        only when the peak exceeds 1. Only that part is converted."""
        raw = self.samples
        if max_seconds is not None:
            raw = raw[: max(0, int(max_seconds * self.sample_rate))]  # a view: cut first
        samples = unit_samples(raw)
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


def unit_samples(samples: np.ndarray) -> np.ndarray:
    """``samples`` as float64 in [-1, 1] by the PCM convention of their dtype.

    Signed integers are divided by ``2**(bits-1)``; unsigned ones (8-bit WAV) are
    centred first, so their silence (128 for uint8) is 0, not a DC offset of 0.5.
    Floats are returned as float64 unchanged.

    >>> unit_samples(np.array([0, 128, 255], dtype=np.uint8)).tolist()
    [-1.0, 0.0, 0.9921875]
    >>> unit_samples(np.array([-32768, 0, 16384], dtype=np.int16)).tolist()
    [-1.0, 0.0, 0.5]
    """
    array = np.asarray(samples)
    if array.dtype.kind == "u":
        half = float(2 ** (8 * array.dtype.itemsize - 1))
        return (array.astype(np.float64) - half) / half
    if array.dtype.kind == "i":
        return array.astype(np.float64) / float(2 ** (8 * array.dtype.itemsize - 1))
    return array.astype(np.float64)


def _wav_error(what: str, err: BaseException | str) -> ValueError:
    return ValueError(f"{what} is not a playable WAV ({err}); re-encode it as PCM WAV.")


def cut_wav(source: bytes | BinaryIO, max_seconds: float = 30.0, *,
            what: str = "the WAV bytes") -> tuple[bytes, float, float]:
    """The first ``max_seconds`` of a PCM WAV (bytes or an open binary file) as WAV bytes,
    with the seconds kept and the whole clip's seconds: ``(wav, seconds, full_seconds)``.

    Only the frames kept are read. A malformed header (0 channels, a sample rate of 0,
    a data size larger than the file) gives a ValueError naming ``what``.

    Examples
    --------
    >>> tone = Audio(np.zeros(8000 * 40), 8000).to_wav()
    >>> wav, seconds, full = cut_wav(tone, 30)
    >>> len(wav), seconds, full
    (480044, 30.0, 40.0)
    """
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with wave.open(handle, "rb") as clip:
            channels, width = clip.getnchannels(), clip.getsampwidth()
            rate, declared = clip.getframerate(), clip.getnframes()
            if channels < 1 or width < 1 or not 8 <= rate <= 384_000:
                raise _wav_error(what, f"{channels} channel(s) of {width} byte(s) at {rate} Hz")
            frames = clip.readframes(int(max_seconds * rate))
    except (wave.Error, EOFError, struct.error) as err:
        raise _wav_error(what, err) from None
    kept = len(frames) // (channels * width)
    try:  # a header may claim more frames than the file holds
        size = handle.seek(0, io.SEEK_END)
        declared = min(declared, size // (channels * width))
    except (OSError, ValueError):  # pragma: no cover - an unseekable stream
        pass
    if kept < int(max_seconds * rate):  # the data ended before the preview did
        declared = kept
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames[: kept * channels * width])
    return buffer.getvalue(), kept / rate, max(kept, declared) / rate


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
    cut after ``max_seconds`` too (:func:`cut_wav`; a malformed header raises ValueError).

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
        return cut_wav(audio, max_seconds)[0]
    return audio.to_wav(max_seconds)


def _read_wav(data: bytes | str | os.PathLike[str], what: str) -> Audio:
    """Decode 8/16/32-bit PCM WAV (bytes or a file) into :class:`Audio` with values in [-1, 1]."""
    try:
        handle = (io.BytesIO(data) if isinstance(data, (bytes, bytearray))
                  else open_regular_file(data, what))
        with handle, wave.open(handle, "rb") as wav:
            width, channels = wav.getsampwidth(), wav.getnchannels()
            rate = wav.getframerate()
            if channels < 1 or width < 1 or not 8 <= rate <= 384_000:
                raise _wav_error(what, f"{channels} channel(s) of {width} byte(s) at {rate} Hz")
            frames = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error, struct.error) as err:
        raise ValueError(f"{what} could not be read as a PCM WAV file ({err}).") from err
    kinds = {1: ("u1", 128.0, 128.0), 2: ("<i2", 0.0, 32768.0), 4: ("<i4", 0.0, 2147483648.0)}
    if width not in kinds:
        raise ValueError(f"{what} has {8 * width}-bit samples; use 8-, 16- or 32-bit PCM WAV.")
    code, offset, scale = kinds[width]
    samples = (np.frombuffer(frames, dtype=code).astype(np.float64) - offset) / scale
    return Audio(samples.reshape(-1, channels) if channels > 1 else samples, rate)


def mono_waveform(value: Any) -> tuple[np.ndarray, int]:
    """Any audio item as a mono float32 waveform in [-1, 1] and its sample rate.

    Accepts what :func:`as_audio` accepts plus the path of a ``.wav`` file; channels
    are averaged, integer samples scaled by their type's range. Encoders that take raw
    audio (e.g. CLAP through :class:`amumo.models.HuggingFace`) read items with it.

    Examples
    --------
    >>> samples, rate = mono_waveform((np.array([[0.5, -0.5], [1.0, 0.0]]), 8000))
    >>> samples.tolist(), rate
    ([0.0, 0.5], 8000)
    >>> mono_waveform(wav_bytes((np.full(4, 0.5), 8000)))[0].round(3).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not path.lower().endswith(".wav"):
            raise TypeError(
                f"audio file {path!r} is not a .wav file; decode it first (e.g. soundfile.read "
                "or librosa.load) and pass (samples, sample_rate)."
            )
        audio: Any = _read_wav(path, f"audio file {path!r}")
    else:
        audio = as_audio(value)
        if audio is None:
            raise TypeError(
                f"{type(value).__name__} is not audio; pass amumo.data.Audio, (samples, "
                "sample_rate), {'array': ..., 'sampling_rate': ...}, WAV bytes or a .wav path."
            )
        if isinstance(audio, (bytes, bytearray)):
            audio = _read_wav(bytes(audio), "WAV bytes")
    samples = np.asarray(audio.samples)
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(samples.dtype)
        samples = samples / float(max(abs(info.min), info.max))
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return samples.astype(np.float32), int(audio.sample_rate)
