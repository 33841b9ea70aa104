"""Amumo's model zoo from local files: CyCLIP / CLOOB checkpoints written by the test in the
layouts their training code saves (facts from goel-shashank/CyCLIP and ml-jku/cloob), the
CLOOB-LAION400M mismatch, and ImageBind / cloob_training through stand-in packages."""

from __future__ import annotations

import sys
import types
import wave

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

import amumo as am  # noqa: E402
from amumo.data import SyntheticShapes  # noqa: E402
from amumo.models import (  # noqa: E402
    CheckpointRefusedError,
    ImageBind,
    OpenCLIP,
    WeightsUnavailableError,
    cloob,
    cloob_laion400m,
    cyclip,
)
from amumo.models._checkpoints import infer_architecture, to_open_clip_layout  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    """A random amumo-tiny with QuickGELU (CyCLIP and CLOOB trained with it) and its inputs."""
    enc = OpenCLIP("amumo-tiny", device="cpu", seed=3, quick_gelu=True)
    ds = SyntheticShapes(6, seed=1)
    images = [ds.item("image", i) for i in range(6)]
    return enc, images, ds.captions


def _expect_same(enc, reference):
    ref, images, captions = reference
    np.testing.assert_allclose(enc.encode("image", images), ref.encode("image", images),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(enc.encode("text", captions), ref.encode("text", captions),
                               rtol=1e-5, atol=1e-6)


def _cyclip_layout(state):
    """CyCLIP's src/main.py: {"epoch", "name", "state_dict", "optimizer"}, DDP's module. keys."""
    return {"epoch": 64, "name": "cyclip-run",
            "state_dict": {f"module.{k}": v for k, v in state.items()},
            "optimizer": {"state": {}, "param_groups": [{"lr": 5e-4, "params": [0, 1]}]}}


def _cloob_layout(state):
    """ml-jku/cloob's CLIPGeneral: the text tower under ``transformer.``, logit_inv_tau."""
    renamed = {}
    for key, value in state.items():
        if key.startswith(("transformer.", "token_embedding.", "ln_final.")) or key in (
            "positional_embedding", "text_projection"):
            key = "transformer." + key
        elif key == "logit_scale":
            key = "logit_inv_tau"
        renamed[f"module.{key}"] = value
    renamed["module.logit_scale_hopfield"] = torch.tensor(np.log(8.0))
    return {"epoch": 28, "name": "cloob-run", "state_dict": renamed,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]},
            "scheduler": {"last_epoch": 28, "base_lrs": [1e-3]},
            "model_config_file": "RN50.json"}


def test_cyclip_checkpoint_loads_with_its_architecture_found(reference, tmp_path):
    ref = reference[0]
    state = {k: v for k, v in ref.model.state_dict().items() if not k.endswith("attn_mask")}
    path = tmp_path / "cyclip.pt"
    torch.save(_cyclip_layout(state), path)
    enc = cyclip(path, device="cpu")
    assert enc.model_name == "amumo-tiny" and enc.quick_gelu and enc.layout == "openai"
    _expect_same(enc, reference)
    assert enc.fingerprint != ref.fingerprint  # weights identity: the file


def test_cloob_checkpoint_keys_are_mapped(reference, tmp_path):
    ref = reference[0]
    state = {k: v for k, v in ref.model.state_dict().items() if not k.endswith("attn_mask")}
    path = tmp_path / "cloob_rn50_yfcc_epoch_28.pt"
    torch.save(_cloob_layout(state), path)
    raw = torch.load(path, weights_only=True)["state_dict"]
    assert any(k.startswith("module.transformer.transformer.resblocks") for k in raw)
    enc = cloob(path, device="cpu")
    assert enc.layout == "cloob"
    _expect_same(enc, reference)
    assert float(enc.model.logit_scale.detach()) == pytest.approx(
        float(ref.model.logit_scale.detach()))
    # the plain OpenCLIP path with a CLOOB file maps the keys too (it failed before: the
    # text tower's keys were left under transformer.transformer.* and did not fit)
    plain = OpenCLIP("amumo-tiny", pretrained=str(path), device="cpu", quick_gelu=True)
    _expect_same(plain, reference)
    emb = am.embed(enc, SyntheticShapes(8), cache=False, progress=False)
    assert len(emb) == 8


def test_released_architectures_are_recognised():
    """The released checkpoints' architectures from shapes alone (meta tensors, no memory)."""
    for name in ("RN50", "RN50x4", "ViT-B-32", "ViT-B-16"):
        state = open_clip.create_model(name, device="meta").state_dict()
        assert infer_architecture(state) == name
        mapped, origin = to_open_clip_layout(
            {"state_dict": _cloob_layout(state)["state_dict"]})
        assert origin == "cloob" and infer_architecture(mapped) == name
    with pytest.raises(ValueError, match="lacks"):
        infer_architecture({"visual.proj": torch.zeros(2, 2)})


def test_cloob_laion400m_is_refused_with_the_reason(tmp_path):
    state = {"image_encoder.embed.weight": torch.zeros(4, 3, 2, 2),
             "image_encoder.proj.bias": torch.zeros(4),
             "text_encoder.layers.0.attn.query.weight": torch.zeros(4, 4)}
    path = tmp_path / "cloob_laion.pt"
    torch.save(state, path)
    for loader in (cloob, cyclip):
        with pytest.raises(ValueError, match="bidirectionally.*cloob_laion400m"):
            loader(path, device="cpu")
    with pytest.raises(ValueError, match="CLOOB-LAION400M"):
        to_open_clip_layout({"params": [{}, {}], "opt_state": None})


def test_missing_file_and_pickled_objects(tmp_path, reference):
    with pytest.raises(FileNotFoundError, match="ml.jku.at/research/CLOOB"):
        cloob(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="goel-shashank/CyCLIP"):
        cyclip(tmp_path / "nope.pt")
    import argparse

    state = {k: v for k, v in reference[0].model.state_dict().items()
             if not k.endswith("attn_mask")}
    path = tmp_path / "with_args.pt"
    torch.save({**_cyclip_layout(state), "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(CheckpointRefusedError, match="trust_checkpoint=True"):
        cyclip(path, device="cpu")
    enc = cyclip(path, device="cpu", trust_checkpoint=True)
    _expect_same(enc, reference)


# ---------------------------------------------------------------------------- packages
def test_imagebind_without_its_package_points_to_the_recipe(monkeypatch):
    monkeypatch.setitem(sys.modules, "imagebind", None)
    with pytest.raises(ImportError, match=r"facebookresearch/ImageBind.*docs/encoders\.md"):
        ImageBind("x.pth")
    monkeypatch.setitem(sys.modules, "cloob_training", None)
    with pytest.raises(ImportError, match=r"not an open_clip architecture.*docs/encoders\.md"):
        cloob_laion400m("x.pkl")


class _FakeImageBindModel(torch.nn.Module):
    """Stands in for imagebind_model.ImageBindModel: forward(dict) -> dict of embeddings."""

    def __init__(self):
        super().__init__()
        self.vision = torch.nn.Linear(3, 5)
        self.text = torch.nn.Embedding(50, 5)
        self.audio = torch.nn.Linear(2, 5)

    def forward(self, inputs):
        out = {}
        for key, value in inputs.items():
            if key == "vision":
                out[key] = self.vision(value.mean(dim=(2, 3)))
            elif key == "text":
                out[key] = self.text(value).mean(dim=1)
            else:
                out[key] = self.audio(value)
        return out


@pytest.fixture
def fake_imagebind(monkeypatch, tmp_path):
    """A stand-in ``imagebind`` package with the API amumo uses (from ImageBind's README and
    imagebind/data.py): imagebind_huge(pretrained=False), ModalityType, load_and_transform_*."""
    seen = {}
    package = types.ModuleType("imagebind")
    models = types.ModuleType("imagebind.models")
    model_module = types.ModuleType("imagebind.models.imagebind_model")
    data = types.ModuleType("imagebind.data")
    model_module.ModalityType = types.SimpleNamespace(VISION="vision", TEXT="text",
                                                      AUDIO="audio")
    model_module.imagebind_huge = lambda pretrained=False: _FakeImageBindModel()

    def load_text(texts, device):
        seen["texts"] = list(texts)
        return torch.tensor([[len(t) % 50, t.count(" ")] for t in texts])

    def load_audio(paths, device):
        rows = []
        for path in paths:
            with wave.open(path, "rb") as wav:
                frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32768.0
                rows.append([wav.getframerate() / 16000.0, float(np.abs(frames).mean())])
        seen["audio"] = rows
        return torch.tensor(rows, dtype=torch.float32)

    data.load_and_transform_text = load_text
    data.load_and_transform_audio_data = load_audio
    package.data, package.models, models.imagebind_model = data, models, model_module
    for name, module in (("imagebind", package), ("imagebind.models", models),
                         ("imagebind.models.imagebind_model", model_module),
                         ("imagebind.data", data)):
        monkeypatch.setitem(sys.modules, name, module)
    torch.manual_seed(0)
    weights = _FakeImageBindModel()
    path = tmp_path / "imagebind_huge.pth"
    torch.save(weights.state_dict(), path)
    return path, weights, seen


def test_imagebind_through_its_package(fake_imagebind, tmp_path):
    path, weights, seen = fake_imagebind
    with pytest.raises(WeightsUnavailableError, match="dl.fbaipublicfiles.com"):
        ImageBind(tmp_path / "missing.pth", device="cpu")
    enc = ImageBind(path, device="cpu")
    assert enc.modalities == ("image", "text", "audio") and enc._model is None
    ds = am.data.SyntheticShapesAudio(4, seed=0)
    texts = ds.captions
    got = enc.encode("text", texts)
    assert seen["texts"] == texts
    want = weights({"text": torch.tensor([[len(t) % 50, t.count(" ")] for t in texts])})["text"]
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-6)
    clips = [ds.item("audio", i) for i in range(4)]
    audio = enc.encode("audio", clips, batch_size=3)
    assert audio.shape == (4, 5) and len(seen["audio"]) == 1  # the last batch of one
    level = np.abs(am.data.audio.mono_waveform(clips[3])[0]).mean()
    assert seen["audio"][0][1] == pytest.approx(level, abs=1e-3)  # the WAV holds the clip
    images = enc.encode("image", [ds.item("image", i) for i in range(4)])
    assert images.shape == (4, 5) and np.isfinite(images).all()
    emb = am.embed(enc, ds, cache=False, progress=False)
    assert emb.modalities == ("image", "text", "audio")
    other = tmp_path / "other.pth"
    torch.save(_FakeImageBindModel().state_dict(), other)
    assert ImageBind(other, device="cpu").fingerprint != enc.fingerprint


def test_cloob_laion400m_through_its_package(monkeypatch, tmp_path):
    calls = {}

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.image_encoder = torch.nn.Sequential(torch.nn.Flatten(),
                                                     torch.nn.Linear(192, 4))
            self.text_encoder = torch.nn.Sequential(torch.nn.Embedding(40, 4),
                                                    torch.nn.Flatten(), torch.nn.Linear(12, 4))

        def tokenize(self, texts, truncate=False):
            calls["truncate"] = truncate
            return torch.tensor([[len(t) % 40, 1, 2] for t in texts])

    model_pt = types.ModuleType("cloob_training.model_pt")
    pretrained = types.ModuleType("cloob_training.pretrained")
    config = {"image_encoder": {"image_size": 8, "normalize": {"mean": [0.5] * 3,
                                                               "std": [0.25] * 3}}}
    pretrained.get_config = lambda name: dict(config, name=name)
    model_pt.get_pt_model = lambda cfg: Model()
    model_pt.get_pt_params = lambda cfg, path: calls.setdefault("params", path) and {}
    package = types.ModuleType("cloob_training")
    package.model_pt, package.pretrained = model_pt, pretrained
    for name, module in (("cloob_training", package), ("cloob_training.model_pt", model_pt),
                         ("cloob_training.pretrained", pretrained)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(torch.nn.Module, "load_state_dict",
                        lambda self, state, strict=True: calls.setdefault("loaded", state))
    path = tmp_path / "cloob_laion_400m_vit_b_16_16_epochs.pkl"
    path.write_bytes(b"not read by the test")
    with pytest.raises(CheckpointRefusedError, match="pickle"):
        cloob_laion400m(path, device="cpu")
    enc = cloob_laion400m(path, device="cpu", trust_checkpoint=True)
    ds = SyntheticShapes(3)
    assert enc.encode("text", ds.captions).shape == (3, 4) and calls["truncate"] is True
    assert enc.encode("image", [ds.item("image", i) for i in range(3)]).shape == (3, 4)
    assert calls["params"] == str(path)
