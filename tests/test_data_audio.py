"""Audio items (amumo.data.audio): silence of unsigned samples, and the WAV reader of the
encoders refuses FIFOs, devices and files with no channels."""

from __future__ import annotations

import numpy as np
import pytest


def test_unsigned_8_bit_silence_is_silence_not_a_dc_offset():
    from amumo.data import Audio

    for dtype, silence in ((np.uint8, 128), (np.uint16, 32768), (np.int16, 0)):
        wav = Audio(np.full(800, silence, dtype=dtype), 8000).to_wav()
        assert np.frombuffer(wav[44:], dtype="<i2").tolist() == [0] * 800, dtype
    loud = Audio(np.array([0, 255], dtype=np.uint8), 8000).to_wav()
    assert np.frombuffer(loud[44:], dtype="<i2").tolist() == [-32767, 32511]


def test_encoders_read_no_fifo_or_device_as_audio(tmp_path):
    """mono_waveform (what HF / zoo encoders read clips with) opened any path: a FIFO
    blocked forever and a link to /dev/zero read until memory ran out. Subprocess with a
    memory cap and a timeout, so the old behaviour fails this test, not the machine."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "clip.wav"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.wav"
    zero.symlink_to("/dev/zero")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from amumo.data.audio import mono_waveform\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        mono_waveform(path)\n"
        "    except ValueError as err:\n"
        "        print('refused:', 'FIFO' in str(err) or 'device' in str(err))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(fifo), str(zero)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["refused: True", "refused: True"]


def test_encoders_refuse_a_wav_with_no_channels(tmp_path):
    import struct

    from amumo.data.audio import mono_waveform

    header = (b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 0,
              8000, 0, 0, 16) + b"data" + struct.pack("<I", 0))
    path = tmp_path / "none.wav"
    path.write_bytes(header)
    with pytest.raises(ValueError, match="none.wav"):
        mono_waveform(str(path))
