"""Previews of non-image items: audio as WAV for an ``<audio>`` element, molecules as
SMILES text (and a drawing where RDKit is installed).

Like thumbnails, these are produced on demand when the browser asks for an item
(``_request_item``), never sent up front.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from amumo.data._files import open_regular_file
from amumo.data.audio import MAX_PREVIEW_SECONDS, Audio, as_audio, cut_wav, is_audio

__all__ = ["MOLECULE_NAMES", "AUDIO_NAMES", "kind_by_name", "media_kind", "media_reply"]

#: Modality names whose items are molecules given as SMILES strings (CLOOME).
MOLECULE_NAMES = ("molecule", "molecules", "smiles", "mol", "compound", "compounds")
#: Modality names whose items are audio.
AUDIO_NAMES = ("audio", "sound", "sounds", "speech", "music")
#: Audio files the browser plays as they are (sent unchanged), by suffix.
AUDIO_FILES = {
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4", ".webm": "audio/webm",
}
#: Largest audio file sent to a preview (bytes).
MAX_AUDIO_FILE = 20_000_000


def _read_audio_file(path: Path) -> tuple[dict[str, Any], bytes]:
    """The preview of an audio file: a WAV cut to :data:`MAX_PREVIEW_SECONDS` (only those
    frames read), any other format as it is up to :data:`MAX_AUDIO_FILE` bytes.

    Only regular files are read (checked on the opened descriptor, so a swapped path
    cannot slip through): a FIFO would block the kernel forever and ``/dev/zero`` would
    read until memory runs out, both with a "size" of 0.
    """
    handle = open_regular_file(path)
    with handle:
        info = os.fstat(handle.fileno())
        if path.suffix.lower() == ".wav":
            try:
                data, seconds, full = cut_wav(handle, MAX_PREVIEW_SECONDS, what=path.name)
            except ValueError as err:
                if info.st_size <= MAX_AUDIO_FILE:  # e.g. float WAV: the browser may play it
                    handle.seek(0)
                    return {"mime": AUDIO_FILES[".wav"]}, handle.read(MAX_AUDIO_FILE)
                raise ValueError(
                    f"{err} It has {info.st_size / 1e6:.0f} MB, too much to send whole "
                    f"(a preview sends at most {MAX_AUDIO_FILE / 1e6:.0f} MB)."
                ) from None
            reply: dict[str, Any] = {"mime": "audio/wav", "duration": round(seconds, 3)}
            if full > seconds + 1e-6:
                reply["full_duration"] = round(full, 3)
            return reply, data
        if info.st_size > MAX_AUDIO_FILE:
            raise ValueError(
                f"{path.name} has {info.st_size / 1e6:.0f} MB, more than a preview sends "
                f"({MAX_AUDIO_FILE / 1e6:.0f} MB)."
            )
        data = handle.read(MAX_AUDIO_FILE + 1)
        if len(data) > MAX_AUDIO_FILE:  # it grew since fstat
            raise ValueError(f"{path.name} has more than {MAX_AUDIO_FILE / 1e6:.0f} MB, more "
                             "than a preview sends.")
        return {"mime": AUDIO_FILES[path.suffix.lower()]}, data


def _audio_file(item: Any) -> Path | None:
    """``item`` as the path of an audio file the browser can play, else None."""
    if isinstance(item, (str, Path)) and Path(item).suffix.lower() in AUDIO_FILES:
        return Path(item)
    return None


def kind_by_name(modality: str) -> str | None:
    """'audio' / 'molecule' from the modality's name alone (None: not one of these)."""
    name = modality.lower()
    if name in AUDIO_NAMES:
        return "audio"
    if name in MOLECULE_NAMES:
        return "molecule"
    return None


def media_kind(modality: str, item: Any) -> str | None:
    """'audio' or 'molecule' for a dataset item of ``modality`` (None: neither)."""
    if is_audio(item) or (kind_by_name(modality) == "audio" and _audio_file(item)):
        return "audio"
    if isinstance(item, str) and kind_by_name(modality) == "molecule":
        return "molecule"
    return None


def _molecule_png(smiles: str, size: int) -> bytes | None:
    try:
        from rdkit import Chem
        from rdkit.Chem import Draw
    except ImportError:  # optional: the SMILES text is shown instead
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    buffer = io.BytesIO()
    Draw.MolToImage(mol, size=(size, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def media_reply(kind: str, item: Any, size: int = 192) -> tuple[dict[str, Any], list[bytes]]:
    """The reply to an item request: ``({"mime": ...}, [bytes])`` and/or ``{"text": ...}``.

    Examples
    --------
    >>> import numpy as np
    >>> reply, buffers = media_reply("audio", (np.zeros(800), 8000))
    >>> reply["mime"], buffers[0][:4], reply["duration"]
    ('audio/wav', b'RIFF', 0.1)
    >>> media_reply("molecule", "CCO")[0]["text"]
    'CCO'
    """
    path = _audio_file(item) if kind == "audio" else None
    if path is not None:  # a file (AudioSet clips, ...): a WAV is cut, others sent as they are
        reply, data = _read_audio_file(path)
        return reply, [data]
    if kind == "audio":
        audio = as_audio(item)
        if isinstance(audio, Audio):
            data = audio.to_wav(MAX_PREVIEW_SECONDS)  # only the preview is converted
            kept = min(len(audio.samples), int(MAX_PREVIEW_SECONDS * audio.sample_rate))
            seconds, full = kept / audio.sample_rate, audio.duration
        elif audio is not None:  # WAV bytes: cut too, never sent whole
            data, seconds, full = cut_wav(audio, MAX_PREVIEW_SECONDS, what="the WAV item")
        else:
            raise TypeError(f"{type(item).__name__} is not audio.")
        reply: dict[str, Any] = {"mime": "audio/wav", "duration": round(seconds, 3)}
        if full > seconds + 1e-6:
            reply["full_duration"] = round(full, 3)  # the card says it was cut
        return reply, [data]
    if kind == "molecule":
        smiles = str(item)
        png = _molecule_png(smiles, size)
        if png is None:
            return {"text": smiles}, []
        return {"text": smiles, "mime": "image/png"}, [png]
    raise ValueError(f"no preview for kind {kind!r}.")

