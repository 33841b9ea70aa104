"""Encoders: OpenCLIP (tiny config, random init, checkpoints, offline errors), wrappers, and
checkpoints under hostile content (pickled code refused, forged TinyCLIP files)."""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from amumo.data import SyntheticShapes
from amumo.models import CallableEncoder, Encoder, Precomputed


# ---------------------------------------------------------------- no torch needed
def test_import_amumo_does_not_import_torch():
    code = (
        "import sys, amumo as am; from amumo.models import OpenCLIP; "
        "am.models.Precomputed({'image': [[1.0, 0.0]], 'text': [[0.0, 1.0]]}); "
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_callable_encoder_batches_and_validates():
    calls = []

    def image_fn(items):
        calls.append(len(items))
        return np.ones((len(items), 4))

    enc = CallableEncoder({"image": image_fn, "text": lambda xs: [[len(x)] * 4 for x in xs]},
                          fingerprint="v1")
    assert isinstance(enc, Encoder) and enc.modalities == ("image", "text")
    out = enc.encode("image", list(range(10)), batch_size=4)
    assert out.shape == (10, 4) and out.dtype == np.float32 and calls == [4, 4, 2]
    assert enc.encode("text", ["ab"]).tolist() == [[2.0] * 4]
    assert enc.fingerprint == CallableEncoder({"image": image_fn}, fingerprint="v1").fingerprint
    assert CallableEncoder({"image": image_fn}).fingerprint is None
    with pytest.raises(ValueError, match="cannot encode modality='audio'"):
        enc.encode("audio", [1])
    bad = CallableEncoder({"image": lambda xs: np.ones((len(xs) + 1, 2))})
    with pytest.raises(ValueError, match=r"one row per item"):
        bad.encode("image", [1, 2])
    with pytest.raises(TypeError, match="not callable"):
        CallableEncoder({"image": 3})
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode("image", [1], batch_size=0)


def test_precomputed_serves_raw_rows():
    x = np.arange(12, dtype=float).reshape(4, 3) + 1
    enc = Precomputed({"image": x, "text": -x})
    assert enc.n == 4 and enc.dim == 3 and enc.input_kind == "index"
    np.testing.assert_allclose(enc.encode("image", [3, 0]), x[[3, 0]])
    import amumo as am

    emb = am.Embeddings.from_arrays({"image": x, "text": -x})
    np.testing.assert_allclose(Precomputed(emb).encode("text", [1]), -x[[1]], rtol=1e-6)
    assert Precomputed({"image": x, "text": -x}).fingerprint == enc.fingerprint
    assert Precomputed({"image": x, "text": x}).fingerprint != enc.fingerprint
    with pytest.raises(IndexError, match="out of range"):
        enc.encode("image", [4])
    with pytest.raises(TypeError, match="pair index"):
        enc.encode("image", ["a"])
    with pytest.raises(ValueError, match="different numbers of rows"):
        Precomputed({"image": x, "text": x[:2]})


# ---------------------------------------------------------------- OpenCLIP
torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
from amumo.models import OpenCLIP, WeightsUnavailableError, _weights  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return OpenCLIP("amumo-tiny", device="cpu", seed=0)


@pytest.mark.models
def test_tiny_shapes_lazy_and_deterministic(tiny):
    ds = SyntheticShapes(6, seed=1)
    fresh = OpenCLIP("amumo-tiny", device="cpu", seed=0)
    assert fresh._model is None  # built on first use only
    images = [ds.item("image", i) for i in range(6)]
    x = tiny.encode("image", images, batch_size=4)
    y = tiny.encode("text", ds.captions)
    assert x.shape == (6, 64) and y.shape == (6, 64) and x.dtype == np.float32
    assert np.isfinite(x).all() and np.isfinite(y).all()
    np.testing.assert_array_equal(fresh.encode("text", ds.captions), y)
    np.testing.assert_allclose(tiny.encode("image", ds.images(), batch_size=6), x, atol=1e-5)
    assert fresh.fingerprint == tiny.fingerprint
    other = OpenCLIP("amumo-tiny", device="cpu", seed=1)
    assert other.fingerprint != tiny.fingerprint
    assert not np.allclose(other.encode("text", ds.captions), y)
    assert OpenCLIP("amumo-small", device="cpu").fingerprint != tiny.fingerprint
    # global torch RNG state is not disturbed by seeded construction
    torch.manual_seed(123)
    a = torch.rand(1)
    torch.manual_seed(123)
    OpenCLIP("amumo-tiny", device="cpu", seed=7).load()
    assert torch.equal(torch.rand(1), a)


@pytest.mark.models
def test_encode_input_errors(tiny):
    with pytest.raises(ValueError, match="modality='audio'"):
        tiny.encode("audio", ["x"])
    with pytest.raises(TypeError, match="pass strings"):
        tiny.encode("text", [3])
    with pytest.raises(TypeError, match="PIL images"):
        tiny.encode("image", ["not an image"])


@pytest.mark.models
def test_offline_pretrained_tag_error_text(monkeypatch):
    monkeypatch.setattr(_weights, "cached_tag_file", lambda cfg, cache_dir: None)
    monkeypatch.setattr(_weights, "can_reach", lambda host, timeout=3.0: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("AMUMO_OFFLINE", raising=False)
    with pytest.raises(WeightsUnavailableError) as info:
        OpenCLIP("ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu")
    text = str(info.value)
    assert "cannot reach huggingface.co" in text
    assert "open_clip_pytorch_model.bin" in text
    assert ("https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/main/"
            "open_clip_pytorch_model.bin") in text
    assert "pretrained='/path/to/open_clip_pytorch_model.bin'" in text
    with pytest.raises(WeightsUnavailableError) as info:
        OpenCLIP("RN50", pretrained="openai", device="cpu")
    assert "quick_gelu=True" in str(info.value) and "RN50.pt" in str(info.value)


@pytest.mark.models
def test_offline_env_fails_fast(monkeypatch):
    import time

    monkeypatch.setattr(_weights, "cached_tag_file", lambda cfg, cache_dir: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match="HF_HUB_OFFLINE"):
        OpenCLIP("ViT-B-16", pretrained="openai", device="cpu")
    assert time.perf_counter() - start < 2.0


@pytest.mark.models
def test_name_and_tag_errors(tmp_path):
    with pytest.raises(ValueError, match="close matches.*ViT-B-32"):
        OpenCLIP("ViT-B-3")
    with pytest.raises(ValueError, match="neither a pretrained tag.*laion2b_s34b_b79k"):
        OpenCLIP("ViT-B-32", pretrained="laion_typo")
    with pytest.raises(FileNotFoundError, match="no such file"):
        OpenCLIP("amumo-tiny", pretrained=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="device="):
        OpenCLIP("amumo-tiny", device="tpu-ish")
    with pytest.raises(ValueError, match="folder with 0 checkpoint"):
        OpenCLIP("amumo-tiny", pretrained=tmp_path)


@pytest.mark.models
def test_local_checkpoints_load(tiny, tmp_path):
    texts = ["a small red circle in the top left", "a large blue star in the center"]
    reference = OpenCLIP("amumo-tiny", device="cpu", seed=3)
    expected = reference.encode("text", texts)
    state = reference.model.state_dict()
    # plain state dict
    torch.save(state, tmp_path / "plain.pt")
    plain = OpenCLIP("amumo-tiny", pretrained=tmp_path / "plain.pt", device="cpu")
    np.testing.assert_allclose(plain.encode("text", texts), expected, atol=1e-6)
    assert plain.fingerprint != tiny.fingerprint
    # DDP-style wrapped checkpoint with CLOOB's logit_inv_tau name
    wrapped = {f"module.{k}": v for k, v in state.items()}
    wrapped["module.logit_inv_tau"] = wrapped.pop("module.logit_scale")
    wrapped["module.attn_mask"] = torch.zeros(2, 2)  # TorchScript-style buffer: ignored
    torch.save({"state_dict": wrapped, "epoch": 3}, tmp_path / "cloob_style.pt")
    cloob = OpenCLIP("amumo-tiny", pretrained=tmp_path / "cloob_style.pt", device="cpu")
    np.testing.assert_allclose(cloob.encode("text", texts), expected, atol=1e-6)
    # the same bytes elsewhere give the same fingerprint (cache survives moving files)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "plain.pt").write_bytes((tmp_path / "plain.pt").read_bytes())
    assert OpenCLIP("amumo-tiny", pretrained=tmp_path / "copy", device="cpu").fingerprint == (
        plain.fingerprint)
    # a checkpoint of another architecture: clear error
    with pytest.raises(ValueError, match="does not fit this architecture"):
        OpenCLIP("amumo-small", pretrained=tmp_path / "plain.pt", device="cpu").load()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="could not be read"):
        OpenCLIP("amumo-tiny", pretrained=tmp_path / "junk.pt", device="cpu").load()


@pytest.mark.models
@pytest.mark.slow
def test_real_architecture_random_init():
    """One real architecture name (ViT-B-32, random init: no download)."""
    enc = OpenCLIP("ViT-B-32", pretrained=None, device="cpu", seed=0)
    ds = SyntheticShapes(2)
    x = enc.encode("image", [ds.item("image", i) for i in range(2)])
    y = enc.encode("text", ds.captions)
    assert x.shape == (2, 512) and y.shape == (2, 512)
    assert np.isfinite(x).all() and np.isfinite(y).all() and not np.allclose(y[0], y[1])


@pytest.mark.models
def test_menu_entries_resolve(monkeypatch, tmp_path):
    import open_clip

    from amumo.models import MENU, weights_cached

    monkeypatch.setattr(_weights, "cached_tag_file", lambda cfg, cache_dir: None)
    for label, (model_name, tag) in MENU.items():
        assert model_name in open_clip.list_models(), label
        if tag is not None:
            assert open_clip.get_pretrained_cfg(model_name, tag), label
            assert not weights_cached(model_name, tag)
        else:
            assert weights_cached(model_name, tag)
    (tmp_path / "w.pt").write_bytes(b"x")
    assert weights_cached("ViT-B-32", str(tmp_path / "w.pt"))
    assert not weights_cached("ViT-B-32", "no-such-tag")


# ---------------------------------------------------------------- checkpoints under hostile content
def _npy_header(descr, shape):
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


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
