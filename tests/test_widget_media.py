"""Audio previews (amumo.widgets._media.media_reply): only the preview is converted and
sent, malformed WAV bytes and files that are not regular files give a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am


def _wav(frames: bytes, rate: int = 8000, width: int = 1, channels: int = 1) -> bytes:
    buffer = __import__("io").BytesIO()
    import wave

    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def test_a_preview_of_an_hour_long_clip_converts_only_the_preview():
    import tracemalloc

    from amumo.widgets._media import media_reply

    hour = np.zeros(3600 * 8000, dtype=np.int16)  # 58 MB; as float64 it would be 230 MB
    tracemalloc.start()
    try:
        reply, data = media_reply("audio", (hour, 8000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reply == {"mime": "audio/wav", "duration": 30.0, "full_duration": 3600.0}
    assert len(data[0]) == 44 + 30 * 8000 * 2
    assert peak < 20e6, f"{peak / 1e6:.0f} MB allocated for a 30 s preview"


def test_wav_bytes_are_cut_to_the_preview_not_sent_whole():
    from amumo.widgets._media import media_reply

    long = _wav(b"\x80" * (100 * 60 * 8000))  # 100 minutes of 8-bit silence: 48 MB
    reply, data = media_reply("audio", long)
    assert reply == {"mime": "audio/wav", "duration": 30.0, "full_duration": 6000.0}
    assert len(data[0]) == 44 + 30 * 8000
    assert am.data.wav_bytes(long)[:44] == data[0][:44]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (b"RIFF\x0c\x00\x00\x00WAVEfmt ", r"not a playable WAV \("),  # 20 bytes: "-24 s"
        (_wav(b"", channels=1)[:22] + b"\x00\x00" + _wav(b"")[24:],
         r"not a playable WAV \(.*channels"),  # a raw wave.Error before
        (_wav(b"\x00" * 80)[:24] + b"\x00\x00\x00\x00" + _wav(b"\x00" * 80)[28:],
         r"not a playable WAV \(1 channel\(s\) of 1 byte\(s\) at 0 Hz\)"),
    ],
    ids=["truncated header", "0 channels", "0 Hz"],
)
def test_malformed_wav_bytes_give_a_clear_error(item, message):
    from amumo.widgets._media import media_reply

    with pytest.raises(ValueError, match=r"^the WAV item is " + message):
        media_reply("audio", item)


def test_a_fifo_or_a_link_to_dev_zero_is_refused_without_reading(tmp_path):
    """The size check saw 0 bytes for both: a FIFO blocked the kernel forever and a .wav
    link to /dev/zero read until MemoryError. Run in a subprocess with a memory cap and a
    timeout, so the old behaviour fails this test instead of the machine."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "clip.wav"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.wav"
    zero.symlink_to("/dev/zero")
    mp3 = tmp_path / "zero.mp3"
    mp3.symlink_to("/dev/zero")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from amumo.widgets._media import media_reply\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        media_reply('audio', path)\n"
        "    except ValueError as err:\n"
        "        print('refused:', err)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(fifo), str(zero), str(mp3)],
                          capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert lines == [
        "refused: clip.wav is a FIFO (named pipe), not a regular file; nothing is read from it.",
        "refused: zero.wav is a device, not a regular file; nothing is read from it.",
        "refused: zero.mp3 is a device, not a regular file; nothing is read from it.",
    ]


def test_a_long_wav_file_is_cut_not_refused(tmp_path):
    from amumo.widgets._media import media_reply

    path = tmp_path / "long.wav"
    path.write_bytes(_wav(b"\x80" * (60 * 8000)))
    reply, data = media_reply("audio", str(path))
    assert reply == {"mime": "audio/wav", "duration": 30.0, "full_duration": 60.0}
    assert len(data[0]) == 44 + 30 * 8000
