"""Hostile inputs that used to get through (issue 15): each must give the right answer or a
clear error naming the argument, never NaN rows, silent 1.0s or raw numpy messages."""

from __future__ import annotations

import argparse
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest
import traitlets

import amumo as am


@pytest.fixture(scope="module")
def coco():
    return am.datasets.clip_coco500()


@pytest.fixture(scope="module")
def small(coco):
    return coco.subset(range(6))


# ---------------------------------------------------------------- huge / tiny values
@pytest.mark.parametrize("scale", [1e154, 1e200, 1e-170])
def test_rows_with_overflowing_squares_keep_their_direction(tmp_path, scale):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        emb = am.Embeddings.from_arrays({"image": x * scale, "text": y})
    reference = am.Embeddings.from_arrays({"image": x, "text": y})
    np.testing.assert_allclose(emb["image"], reference["image"], atol=1e-6)
    np.testing.assert_allclose(
        emb.norms["image"], np.linalg.norm(x, axis=1) * scale, rtol=1e-6
    )
    # metrics are those of the unscaled rows, not recall@1 = 1.0 of all-zero rows
    assert am.metrics(emb) == pytest.approx(am.metrics(reference))
    back = am.Embeddings.load(emb.save(tmp_path / "big.npz"))
    np.testing.assert_array_equal(back["image"], emb["image"])
    np.testing.assert_allclose(back.norms["image"], emb.norms["image"], rtol=1e-12)


# ---------------------------------------------------------------- retrieval / projection
def test_recall_refuses_k_above_n_and_non_integers(small):
    with pytest.raises(ValueError, match=r"k=7 but there are only N=6"):
        am.recall_at_k(small, 7)
    with pytest.raises(ValueError, match=r"ks=\(1, 7\): k=7 but there are only N=6"):
        am.metrics(small, ks=(1, 7))
    with pytest.raises(TypeError, match=r"k=\(1, 'x'\): k='x' must be a positive integer"):
        am.recall_at_k(small, (1, "x"))
    with pytest.raises(TypeError, match=r"ks=\('x',\): k='x'"):
        am.metrics(small, ks=("x",))
    for bad in (0, 1.5, True):
        with pytest.raises((TypeError, ValueError), match="positive integer"):
            am.recall_at_k(small, bad)
    assert am.recall_at_k(small, 6)[6] == 1.0  # k = N is allowed
    # the default ks of metrics() leave out k > N instead of reporting 1.0
    keys = am.metrics(small)
    assert "recall@5:image->text" in keys and "recall@10:image->text" not in keys


@pytest.mark.parametrize(("method", "fit_on", "n"), [("umap", "all", 1), ("umap", "image", 3),
                                                      ("pca", "image", 1)])
def test_projection_of_too_few_items_says_what_is_needed(coco, method, fit_on, n):
    with pytest.raises(ValueError, match=rf"method='{method}' needs at least \d+ items"):
        am.project(coco.subset(range(n)), method=method, fit_on=fit_on)


# ---------------------------------------------------------------- shifting


def test_zero_shot_sweep_with_huge_lambda_is_finite():
    from amumo.experiments import zero_shot_sweep

    rng = np.random.default_rng(0)
    images = rng.normal(size=(12, 16)) + 2.0
    texts = rng.normal(size=(3, 16)) - 2.0
    labels = np.arange(12) % 3
    table = zero_shot_sweep(images, texts, labels, lams=[-1e300, 0.0, 1e300])
    for column in ("gap_distance", "top1", "mean_per_class"):  # top5: NaN by design (3 classes)
        assert np.isfinite(table[column].to_numpy(float)).all(), column
    assert table["gap_distance"].iloc[0] == pytest.approx(2.0)  # the limit: antipodal centroids


# ---------------------------------------------------------------- widgets
def test_explorer_huge_lambda_keeps_metrics_current(coco):
    ex = am.Explorer(coco)
    ex.lam = 1e300
    assert ex.error == ""
    after = {r["key"]: r["after"] for r in ex.metrics["rows"]}
    assert after["gap_distance"] == pytest.approx(2.0, abs=1e-6)  # the limit: antipodal centroids
    assert "1e+300" in ex.metrics["note"]
    with pytest.raises(traitlets.TraitError, match="finite"):
        ex.lam = float("nan")


def test_explorer_reverts_lambda_it_cannot_show():
    x = np.zeros((3, 4))
    x[:, 0] = 1.0
    emb = am.Embeddings.from_arrays({"image": x, "text": -x})  # identical antipodal pairs
    ex = am.Explorer(emb)
    ex.lam = 1.0  # puts every row on the origin
    assert ex.lam == 0.0
    assert "lam=1.0 cannot be shown" in ex.error
    after = {r["key"]: r["after"] for r in ex.metrics["rows"]}
    assert after["gap_distance"] == pytest.approx(am.gap_distance(emb))


@pytest.mark.parametrize("kwargs", [{"vmin": 2.0}, {"vmax": -1.0}, {"vmin": float("nan")},
                                    {"vmin": 0.5, "vmax": 0.2}])
def test_colour_range_is_validated_at_the_boundary(small, kwargs):
    with pytest.raises(traitlets.TraitError, match="vmin|vmax"):
        am.Heatmap(small, **kwargs)
    ex = am.Explorer(small)
    with pytest.raises(traitlets.TraitError):
        for name, value in kwargs.items():
            setattr(ex, name, value)
    ex.lam = 0.5  # later changes keep working
    ex.closed = True
    assert ex.scale[0] < ex.scale[1]


def test_only_listed_front_end_requests_are_dispatched(small):
    ex = am.Explorer(small)
    replies = []
    ex.send = lambda content, buffers=None: replies.append(content)
    calls = []
    ex.observe(lambda change: calls.append(change), names=["filter_text"])
    before = dict(ex.metrics)
    for kind in ("filter", "gap", "source", "cluster_traits", "scale_traits", "__class__"):
        ex._dispatch(ex, {"type": kind, "id": kind}, [])
    assert [r["id"] for r in replies] == ["filter", "gap", "source", "cluster_traits",
                                          "scale_traits", "__class__"]
    assert all(r["error"].startswith("unknown request") for r in replies)
    assert "'cell'" in replies[0]["error"] and "TypeError" not in replies[0]["error"]
    assert ex.metrics == before and not calls
    replies.clear()
    ex._dispatch(ex, {"type": "cell", "r": 0, "c": 0, "id": 1}, [])
    assert replies == [{"type": "reply", "id": 1, "value": 1.0}]
    comparer = am.Comparer({"a": small, "b": small})
    assert {"window", "cell", "item"} <= comparer._request_types()


# ---------------------------------------------------------------- files
def _npz_with_member(path, name, npy_bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.npy", npy_bytes)


def _npy_header(descr, shape):
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def test_npz_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "forged.npz"
    _npz_with_member(path, "emb:image", _npy_header("<f4", (100_000, 100_000)) + b"\0" * 64)
    with pytest.raises(ValueError, match=r"emb:image.*\(100000, 100000\).*37\.3 GB.*re-create"):
        am.Embeddings.load(path)


@pytest.mark.parametrize(
    "member",
    [
        b"\x93NUMPY\x01\x00\x10\x00{'descr': 5}    \n",  # dict with wrong types
        b"\x93NUMPY\x01\x00\x08\x00\xff\xfe\xfd\xfc\xfb\xfa\xf9\n",  # not text
        b"\x93NUMPY\x01\x00\x10\x00not a dict at all\n",
        b"\x93NUMPY\x01",  # truncated
    ],
)
def test_malformed_npy_headers_give_a_clear_error(tmp_path, member):
    path = tmp_path / "bad.npz"
    _npz_with_member(path, "emb:image", member)
    with pytest.raises(ValueError, match=r"bad\.npz: member 'emb:image' has a malformed \.npy"):
        am.Embeddings.load(path)


@pytest.mark.parametrize(
    "header",
    [b"\xff\xfe not utf-8", b"[1, 2]", json.dumps({"modalities": "image"}).encode(),
     json.dumps({"modalities": ["image", "text"], "meta": 3}).encode(),
     json.dumps({"modalities": ["image", "audio"]}).encode()],
)
def test_malformed_amumo_headers_give_a_clear_error(small, tmp_path, header):
    good = small.save(tmp_path / "good.npz")
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "__amumo__.npy":
                buffer = __import__("io").BytesIO()
                np.save(buffer, np.frombuffer(header, dtype=np.uint8))
                data = buffer.getvalue()
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match=r"bad\.npz.*(corrupt|malformed|lacks)"):
        am.Embeddings.load(path)


@pytest.mark.models
def test_checkpoint_with_python_objects_is_refused_with_the_way_to_opt_in(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from amumo.models import OpenCLIP
    from amumo.models.openclip import CheckpointRefusedError

    texts = ["a small red circle in the top left"]
    reference = OpenCLIP("amumo-tiny", device="cpu", seed=5)
    path = tmp_path / "run.pt"
    torch.save({"state_dict": reference.model.state_dict(), "epoch": 2,
                "args": argparse.Namespace(lr=1e-3, batch_size=64)}, path)
    with pytest.raises(CheckpointRefusedError,
                       match=r"argparse\.Namespace.*trust_checkpoint=True") as info:
        OpenCLIP("amumo-tiny", pretrained=path, device="cpu").load()
    assert "corrupt" not in str(info.value) and "could not be read" not in str(info.value)
    trusted = OpenCLIP("amumo-tiny", pretrained=path, device="cpu", trust_checkpoint=True)
    np.testing.assert_allclose(trusted.encode("text", texts), reference.encode("text", texts),
                               atol=1e-6)
    with pytest.raises(TypeError, match="trust_checkpoint"):
        OpenCLIP("amumo-tiny", device="cpu", trust_checkpoint="yes")


# ---------------------------------------------------------------- files (issue 20)
def _npy_file(path, descr, shape, payload=b""):
    path.write_bytes(_npy_header(descr, shape) + payload)
    return path


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize(
    ("descr", "shape", "payload", "message"),
    [
        ("<f4", (2, 100_000_000, 50_000), b"\0" * 64,
         r"shorter than its header says .*40,000,000,000,128 bytes.*header is corrupt"),
        ("<f4", (2, -5, 4), b"\0" * 64, r"negative dimension"),
        ("<f4", (2, 3, 0), b"", r"shape \(2, 3, 0\): no dimensions \(D = 0\)"),
        ("<f4", (2, 0, 4), b"", r"shape \(2, 0, 4\): no pairs \(N = 0\).*from_arrays refuses"),
        ("<m8[ns]", (2, 3, 4), b"\0" * 192, r"dtype timedelta64\[ns\]; embeddings must be"),
    ],
    ids=["37TiB", "negative", "D=0", "N=0", "timedelta"],
)
def test_mind_the_gap_headers_are_checked_before_reading(tmp_path, mmap, descr, shape,
                                                         payload, message):
    """Raw MemoryError (37 TiB), ValueError, TypeError from memoryview, or an empty
    Embeddings whose gap_distance is 0.0: now one message naming the file."""
    path = _npy_file(tmp_path / "forged.npy", descr, shape, payload)
    with pytest.raises((ValueError, TypeError), match=r"forged\.npy.*" + message):
        am.Embeddings.load(path, mmap=mmap)


@pytest.mark.parametrize("mmap", [False, True])
def test_npz_with_empty_timedelta_or_deeply_nested_members(small, tmp_path, mmap):
    good = small.save(tmp_path / "good.npz")

    def forged(name, member, array):
        buffer = __import__("io").BytesIO()
        np.save(buffer, array)
        path = tmp_path / name
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                dst.writestr(info.filename, buffer.getvalue() if info.filename == member
                             else src.read(info))
        return path

    empty = forged("empty.npz", "emb:image.npy", np.zeros((0, small.dim), np.float32))
    with pytest.raises(ValueError, match=r"empty\.npz: member 'emb:image' has shape \(0, 512\)"):
        am.Embeddings.load(empty, mmap=mmap)
    ragged = forged("ragged.npz", "emb:image.npy", np.eye(4, small.dim, dtype=np.float32))
    with pytest.raises(ValueError, match=r"ragged\.npz holds different numbers of rows"):
        am.Embeddings.load(ragged, mmap=mmap)
    times = forged("times.npz", "emb:text.npy", np.zeros((6, small.dim), "m8[ns]"))
    with pytest.raises(TypeError, match=r"times\.npz: member 'emb:text' has dtype timedelta"):
        am.Embeddings.load(times, mmap=mmap)
    deep = forged("deep.npz", "__amumo__.npy",
                  np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"deep\.npz could not be read.*RecursionError"):
        am.Embeddings.load(deep, mmap=mmap)
    with pytest.raises(TypeError, match=r"arrays\['image'\] has dtype timedelta64"):
        am.Embeddings.from_arrays({"image": np.ones((2, 3), "m8[s]"), "text": np.ones((2, 3))})


@pytest.mark.parametrize("how", ["in place", "renamed over"])
def test_mmap_copy_is_keyed_on_content_not_size_and_mtime(tmp_path, monkeypatch, how):
    """A file replaced by other rows of the same size, its mtime set back (cp -p, rsync -t),
    must not be answered from the normalised copy of the old rows."""
    import os

    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(3)
    old = rng.normal(size=(2, 50, 8)) * 3  # not unit length: load(mmap=True) makes a copy
    new = rng.normal(size=(2, 50, 8)) * 3
    path = tmp_path / "pairs.npy"
    np.save(path, old.astype(np.float32))
    first = am.Embeddings.load(path, mmap=True)
    assert "normalised" in first.provenance["mmap"]["image"]
    stat = os.stat(path)
    if how == "in place":
        with open(path, "r+b") as handle:
            handle.seek(stat.st_size - new.size * 4)
            handle.write(new.astype(np.float32).tobytes())
    else:
        np.save(tmp_path / "new.npy", new.astype(np.float32))
        os.replace(tmp_path / "new.npy", path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    second = am.Embeddings.load(path, mmap=True)
    expected = new[0] / np.linalg.norm(new[0], axis=1, keepdims=True)
    np.testing.assert_allclose(second["image"], expected, atol=1e-6)
    again = am.Embeddings.load(path, mmap=True)  # unchanged now: the new copy is reused
    assert again.provenance["mmap"] == second.provenance["mmap"]


# ---------------------------------------------------------------- audio previews (issue 20)
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


def test_unsigned_8_bit_silence_is_silence_not_a_dc_offset():
    from amumo.data import Audio

    for dtype, silence in ((np.uint8, 128), (np.uint16, 32768), (np.int16, 0)):
        wav = Audio(np.full(800, silence, dtype=dtype), 8000).to_wav()
        assert np.frombuffer(wav[44:], dtype="<i2").tolist() == [0] * 800, dtype
    loud = Audio(np.array([0, 255], dtype=np.uint8), 8000).to_wav()
    assert np.frombuffer(loud[44:], dtype="<i2").tolist() == [-32767, 32511]


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


def test_a_long_wav_file_is_cut_not_refused(tmp_path):
    from amumo.widgets._media import media_reply

    path = tmp_path / "long.wav"
    path.write_bytes(_wav(b"\x80" * (60 * 8000)))
    reply, data = media_reply("audio", str(path))
    assert reply == {"mime": "audio/wav", "duration": 30.0, "full_duration": 60.0}
    assert len(data[0]) == 44 + 30 * 8000


# ---------------------------------------------------------------- model checkpoints (issue 20)
def _forged_checkpoint(good, path, change):
    """A copy of the TinyCLIP checkpoint ``good`` with ``change(members)`` applied."""
    with zipfile.ZipFile(good) as src:
        members = {info.filename: src.read(info) for info in src.infolist()}
    change(members)
    with zipfile.ZipFile(path, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    return path


def _header_member(value) -> bytes:
    buffer = __import__("io").BytesIO()
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    np.save(buffer, np.frombuffer(raw, dtype=np.uint8))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update({"__config__.npy": _npy_header("<f4", (100_000, 100_000))}),
         r"member '__config__' declares a float32 array of shape \(100000, 100000\) \(37\.3 GB\)"),
        (lambda m: m.update({"__config__.npy": _header_member(b"[" * 100_000 + b"]" * 100_000)}),
         r"malformed __config__ header \(RecursionError"),
        (lambda m: m.update({"__config__.npy": _header_member({"format": "amumo.tinyclip/1"})}),
         r"malformed model configuration \(KeyError: 'config'\)"),
        (lambda m: m.update({"__config__.npy": _header_member(
            {"format": "amumo.tinyclip/1", "config": {"vocabulary": 5}})}),
         r"malformed model configuration \(TypeError"),
        (lambda m: m.update({"__config__.npy": _header_member([1, 2])}),
         r"has format 'list'; expected 'amumo.tinyclip/1'"),
    ],
    ids=["40 GB", "nested 100k deep", "no config", "vocabulary 5", "a list"],
)
def test_tinyclip_checkpoints_that_are_forged_give_a_clear_error(tmp_path, change, message):
    pytest.importorskip("torch")
    from amumo.models import TinyCLIP, TinyCLIPConfig

    good = TinyCLIP(TinyCLIPConfig(("a", "red", "circle"), image_size=16), seed=0).save(
        tmp_path / "good.npz")
    path = _forged_checkpoint(good, tmp_path / "forged.npz", change)
    with pytest.raises(ValueError, match=r"forged\.npz.*" + message + r".*TinyCLIP\.save"):
        TinyCLIP.load(path)
    assert TinyCLIP.load(good).config.image_size == 16


# ---------------------------------------------------------------- front-end messages (issue 20)
@pytest.mark.parametrize(
    ("content", "reply"),
    [
        ({"type": ["item"], "id": 3}, r"^unknown request \('type' must be a short string "
                                      r"naming the request, got a list\); Explorer serves "),
        ({"type": {"a": 1}, "id": 3}, r"got a dict\)"),
        ({"id": 3, "pair": 1}, r"^unknown request \(the message has no 'type'\)"),
        ({"type": "x" * 50_000_000, "id": 3}, r"got a str of 50,000,000 characters\)"),
        ({"type": "item", "id": 3, "pair": 0, "modality": "m" * 10_000_000},
         r"^no media for modality 'mmm.*… \(cut\)$"),
        ({"type": "item", "id": 3, "pair": "9" * 1_000_000}, r"^ValueError: .*"),
    ],
    ids=["unhashable list", "unhashable dict", "no type", "50 MB type", "10 MB modality",
         "1 MB pair"],
)
def test_malformed_front_end_messages_get_a_brief_reply_and_change_nothing(small, content,
                                                                           reply):
    import re

    ex = am.Explorer(small)
    replies = []
    ex.send = lambda msg, buffers=None: replies.append(msg)
    before = (dict(ex.metrics), ex.hovered, list(ex.selected))
    ex._dispatch(ex, content, [])
    assert len(replies) == 1 and replies[0]["id"] == 3 and replies[0]["type"] == "reply"
    assert re.search(reply, replies[0]["error"]), replies[0]["error"]
    assert len(json.dumps(replies[0])) < 600  # brief: nothing echoed back whole
    assert (dict(ex.metrics), ex.hovered, list(ex.selected)) == before
    replies.clear()
    ex._dispatch(ex, {"type": "item", "id": "x" * 10_000, "pair": 0}, [])  # an id too long
    ex._dispatch(ex, {"type": ["item"]}, [])  # no id: nothing to answer
    assert replies == []


class _RunsACommand:
    """Pickles as a call of os.system: what a malicious checkpoint carries."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.models
def test_a_checkpoint_that_would_run_code_is_refused_without_advice_to_trust_it(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from amumo.models import OpenCLIP
    from amumo.models.openclip import CheckpointRefusedError

    marker = tmp_path / "it-ran"
    reference = OpenCLIP("amumo-tiny", device="cpu", seed=5)
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": reference.model.state_dict(), "hook": _RunsACommand(marker)},
               path)
    with pytest.raises(CheckpointRefusedError) as info:
        OpenCLIP("amumo-tiny", pretrained=path, device="cpu").load()
    message = str(info.value)
    assert not marker.exists()  # nothing ran
    assert "evil.pt' was not loaded" in message and "system" in message
    assert "could run code" in message
    assert "probably fine" not in message and "trust_checkpoint" not in message
