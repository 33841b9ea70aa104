"""Previews of non-image items: audio as WAV for an ``<audio>`` element, molecules as
SMILES text (and a drawing where RDKit is installed).

Like thumbnails, these are produced on demand when the browser asks for an item
(``_request_item``), never sent up front.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from amumo.data.audio import MAX_PREVIEW_SECONDS, Audio, as_audio, is_audio, wav_bytes

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
    if path is not None:  # a file (AudioSet clips, ...): sent as it is, the browser decodes it
        size_on_disk = path.stat().st_size
        if size_on_disk > MAX_AUDIO_FILE:
            raise ValueError(
                f"{path.name} has {size_on_disk / 1e6:.0f} MB, more than a preview sends "
                f"({MAX_AUDIO_FILE / 1e6:.0f} MB)."
            )
        return {"mime": AUDIO_FILES[path.suffix.lower()]}, [path.read_bytes()]
    if kind == "audio":
        data = wav_bytes(item, MAX_PREVIEW_SECONDS)
        byte_rate = max(1, int.from_bytes(data[28:32], "little"))  # WAV header field
        seconds = (len(data) - 44) / byte_rate
        reply: dict[str, Any] = {"mime": "audio/wav", "duration": round(seconds, 3)}
        audio = as_audio(item)
        if isinstance(audio, Audio) and audio.duration > seconds + 1e-6:
            reply["full_duration"] = round(audio.duration, 3)  # the card says it was cut
        return reply, [data]
    if kind == "molecule":
        smiles = str(item)
        png = _molecule_png(smiles, size)
        if png is None:
            return {"text": smiles}, []
        return {"text": smiles, "mime": "image/png"}, [png]
    raise ValueError(f"no preview for kind {kind!r}.")

