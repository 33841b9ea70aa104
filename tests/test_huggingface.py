"""am.models.HuggingFace on tiny random transformers models built offline (no Hub access).

Each model family is built from a small config with a word-level tokenizer made with
the ``tokenizers`` library and image processors / feature extractors constructed
directly; the encoder's rows are compared with calling the model by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import amumo as am  # noqa: E402
from amumo.data import SyntheticShapes  # noqa: E402
from amumo.models import HuggingFace, WeightsUnavailableError, tiny_hf_clip  # noqa: E402
from amumo.models.huggingface import _features  # noqa: E402

TEXTS = ["a red circle", "a large blue square in the top left", "star", "an unknown word"]


@pytest.fixture(scope="module")
def clip():
    return tiny_hf_clip(seed=0)


@pytest.fixture(scope="module")
def tokenizer(clip):
    return clip[1].tokenizer


def _images(n=3, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray((rng.random((40 + k, 30, 3)) * 255).astype(np.uint8))
            for k in range(n)]


def _text_cfg(tokenizer, **extra):
    return {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 16,
            "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3, **extra}


VISION = {"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
          "num_hidden_layers": 2, "num_attention_heads": 2}


def _by_hand(model, method, inputs):
    with torch.no_grad():
        return _features(getattr(model, method)(**inputs), method).float().numpy()


# ---------------------------------------------------------------- CLIP
def test_clip_rows_equal_calling_the_model_by_hand(clip):
    model, processor = clip
    enc = HuggingFace(model, processor)
    assert enc.modalities == ("image", "text") and isinstance(enc, am.models.Encoder)
    fingerprint = enc.fingerprint
    images = _images()
    pixels = processor.image_processor(images=images, return_tensors="pt")
    np.testing.assert_allclose(
        enc.encode("image", images, batch_size=2),
        _by_hand(model, "get_image_features", {"pixel_values": pixels["pixel_values"]}),
        rtol=1e-5, atol=1e-6)
    tokens = processor.tokenizer(TEXTS, padding=True, truncation=True, max_length=16,
                                 return_tensors="pt")
    got = enc.encode("text", TEXTS, batch_size=3)
    np.testing.assert_allclose(
        got, _by_hand(model, "get_text_features", {"input_ids": tokens["input_ids"],
                                                   "attention_mask": tokens["attention_mask"]}),
        rtol=1e-5, atol=1e-6)
    # uint8 arrays are images too; 'an unknown word' tokenises to [UNK]s without error
    arr = np.asarray(images[0])
    np.testing.assert_allclose(enc.encode("image", [arr]), enc.encode("image", images[:1]),
                               rtol=1e-6)
    with pytest.raises(TypeError, match="pass strings"):
        enc.encode("text", [3])
    with pytest.raises(TypeError, match="PIL images"):
        enc.encode("image", ["not an image"])
    with pytest.raises(ValueError, match="not modality='audio'"):
        enc.encode("audio", [b""])
    # tokenising leaves truncation / padding state in the fast tokenizer: not in the key
    assert enc.fingerprint == fingerprint == HuggingFace(model, processor).fingerprint


def test_embed_caches_and_loads_in_worker_processes(clip, tmp_path):
    model, processor = clip
    enc = HuggingFace(model, processor)
    ds = SyntheticShapes(24, seed=3)
    emb = am.embed(enc, ds, batch_size=8, cache_dir=tmp_path, progress=False, num_workers=1)
    assert emb.modalities == ("image", "text") and len(emb) == 24 and emb.dim == 16
    direct = enc.encode("text", ds.captions)
    np.testing.assert_allclose(emb["text"], direct / np.linalg.norm(direct, axis=1)[:, None],
                               atol=1e-6)
    calls = []
    original = model.get_image_features
    model.get_image_features = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        again = am.embed(HuggingFace(model, processor), ds, cache_dir=tmp_path, progress=False)
    finally:
        del model.get_image_features
    assert calls == [] and again.provenance["from_cache"] == 24
    np.testing.assert_array_equal(again["image"], emb["image"])
    # the random-init gap of Mind the Gap: present at initialisation
    assert am.gap_distance(emb) > 0.3


def test_fingerprint_tracks_weights_preprocessing_and_precision(clip):
    model, processor = clip
    base = HuggingFace(model, processor)
    assert base.fingerprint == HuggingFace(*tiny_hf_clip(seed=0)).fingerprint
    assert base.fingerprint != HuggingFace(*tiny_hf_clip(seed=1)).fingerprint
    assert base.fingerprint != HuggingFace(model, processor,
                                           text_kwargs={"padding": "max_length"}).fingerprint
    other_size = tf.CLIPImageProcessor(size={"shortest_edge": 32},
                                       crop_size={"height": 32, "width": 32},
                                       image_mean=[0.5, 0.5, 0.5])
    assert base.fingerprint != HuggingFace(
        model, {"image": other_size, "text": processor.tokenizer}).fingerprint
    half_model, half_proc = tiny_hf_clip(seed=0)
    half = HuggingFace(half_model, half_proc, precision="bf16")
    assert half.precision == "bf16" and half.fingerprint != base.fingerprint
    rows = half.encode("text", TEXTS)
    assert rows.dtype == np.float32
    full = base.encode("text", TEXTS)
    cos = np.sum(rows * full, 1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(full, axis=1)
    assert cos.min() > 0.99


def test_saved_folder_is_lazy_and_matches(clip, tmp_path):
    model, processor = clip
    folder = tmp_path / "tiny-clip"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    enc = HuggingFace(folder, device="cpu")
    assert enc._model is None and enc.modalities == ("image", "text")
    fingerprint = enc.fingerprint
    assert enc._model is None  # the fingerprint comes from the files, not the weights
    loaded = HuggingFace(model, processor)
    np.testing.assert_allclose(enc.encode("text", TEXTS), loaded.encode("text", TEXTS),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(enc.encode("image", _images()), loaded.encode("image", _images()),
                               rtol=1e-5, atol=1e-6)
    assert HuggingFace(str(folder)).fingerprint == fingerprint
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    tiny_hf_clip(seed=5)[0].save_pretrained(other)
    assert HuggingFace(other).fingerprint != fingerprint
    with pytest.raises(FileNotFoundError, match="looks like a path"):
        HuggingFace(str(tmp_path / "missing" / "folder"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no model files"):
        HuggingFace(tmp_path / "empty")


def _fake_hub_cache(root, repo, folder, commit="0123456789abcdef0123456789abcdef01234567"):
    """The Hugging Face cache layout: models--org--name/{refs/main, snapshots/<commit>/...}."""
    base = root / ("models--" + repo.replace("/", "--"))
    snapshot = base / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    return commit


def test_cached_hub_id_loads_offline(clip, tmp_path, monkeypatch):
    model, processor = clip
    folder = tmp_path / "saved"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    cache = tmp_path / "hub"
    commit = _fake_hub_cache(cache, "amumo-test/tiny-clip", folder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = HuggingFace("amumo-test/tiny-clip", cache_dir=cache)
    assert enc._weights_id == ["hub", "amumo-test/tiny-clip", commit]
    assert "amumo-test/tiny-clip" in enc.name and enc._model is None
    np.testing.assert_allclose(enc.encode("text", TEXTS),
                               HuggingFace(model, processor).encode("text", TEXTS),
                               rtol=1e-5, atol=1e-6)


def test_uncached_hub_id_offline_names_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as info:
        HuggingFace("openai/clip-vit-base-patch32", cache_dir=tmp_path)
    assert time.perf_counter() - start < 5
    text = str(info.value)
    for needle in ("config.json", "model.safetensors", "tokenizer.json",
                   "preprocessor_config.json",
                   "huggingface-cli download openai/clip-vit-base-patch32",
                   "am.models.HuggingFace('/path/to/clip-vit-base-patch32')", "HF_HUB_OFFLINE"):
        assert needle in text, needle


def test_argument_errors(clip):
    model, processor = clip
    with pytest.raises(ValueError, match="has no get_audio_features"):
        HuggingFace(model, processor, modalities=["audio"])
    with pytest.raises(ValueError, match="nothing to prepare 'image'"):
        HuggingFace(model, processor.tokenizer, modalities=["image", "text"])
    assert HuggingFace(model, processor.tokenizer).modalities == ("text",)
    with pytest.raises(ValueError, match="precision"):
        HuggingFace(model, processor, precision="fp8")
    with pytest.raises(TypeError, match="pass processor="):
        HuggingFace(tiny_hf_clip(seed=0)[0])
    with pytest.raises(TypeError, match="Hub model id"):
        HuggingFace(42)
    with pytest.raises(ValueError, match="key 'video'"):
        HuggingFace(model, {"video": processor.tokenizer})


# ---------------------------------------------------------------- other families
def _check_family(model, components, text_kwargs_expected, image_kwargs=None):
    enc = HuggingFace(model, components)
    assert enc.modalities == ("image", "text")
    for key, value in text_kwargs_expected.items():
        assert enc._text_kwargs[key] == value
    images = _images()
    pixels = dict(components["image"](images=images, return_tensors="pt"))
    want = _by_hand(model, "get_image_features", pixels)
    np.testing.assert_allclose(enc.encode("image", images), want, rtol=1e-5, atol=1e-6)
    tokens = dict(components["text"](TEXTS, return_tensors="pt", **enc._text_kwargs))
    import inspect

    accepted = inspect.signature(model.get_text_features).parameters
    want = _by_hand(model, "get_text_features",
                    {k: v for k, v in tokens.items() if k in accepted})
    np.testing.assert_allclose(enc.encode("text", TEXTS, batch_size=3), want,
                               rtol=1e-5, atol=1e-6)
    return enc


def test_siglip_pads_text_to_max_length(tokenizer):
    torch.manual_seed(0)
    model = tf.SiglipModel(tf.SiglipConfig(text_config=_text_cfg(tokenizer),
                                           vision_config=VISION)).eval()
    image = tf.SiglipImageProcessor(size={"height": 32, "width": 32})
    enc = _check_family(model, {"image": image, "text": tokenizer},
                        {"padding": "max_length", "max_length": 16})
    # the padding matters: batch-longest padding gives other SigLIP text features
    short = HuggingFace(model, {"image": image, "text": tokenizer},
                        text_kwargs={"padding": True})
    assert not np.allclose(short.encode("text", TEXTS[:1]), enc.encode("text", TEXTS[:1]),
                           atol=1e-4)


@pytest.mark.skipif(not hasattr(tf, "Siglip2Model"), reason="SigLIP 2 needs transformers>=4.49")
def test_siglip2_naflex_inputs(tokenizer):
    torch.manual_seed(0)
    model = tf.Siglip2Model(tf.Siglip2Config(text_config=_text_cfg(tokenizer),
                                             vision_config={**VISION, "num_patches": 16})).eval()
    image = tf.Siglip2ImageProcessor(patch_size=8, max_num_patches=16)
    _check_family(model, {"image": image, "text": tokenizer}, {"padding": "max_length"})


def test_blip_as_amumo_had_it(tokenizer):
    torch.manual_seed(0)
    model = tf.BlipModel(tf.BlipConfig(
        text_config=_text_cfg(tokenizer, encoder_hidden_size=32, sep_token_id=3),
        vision_config=VISION, projection_dim=16)).eval()
    _check_family(model, {"image": tf.BlipImageProcessor(size={"height": 32, "width": 32}),
                          "text": tokenizer}, {"padding": True})


def test_align_efficientnet_and_bert(tokenizer):
    torch.manual_seed(0)
    model = tf.AlignModel(tf.AlignConfig(
        text_config=_text_cfg(tokenizer),
        vision_config={"image_size": 32, "width_coefficient": 0.1, "depth_coefficient": 0.1,
                       "hidden_dim": 64},
        projection_dim=32)).eval()
    _check_family(model, {"image": tf.EfficientNetImageProcessor(size={"height": 32, "width": 32}),
                          "text": tokenizer}, {"padding": "max_length", "max_length": 16})


@pytest.fixture(scope="module")
def clap(tokenizer):
    torch.manual_seed(0)
    config = tf.ClapConfig(
        text_config=_text_cfg(tokenizer, max_position_embeddings=24, projection_dim=16),
        audio_config={"spec_size": 64, "window_size": 4, "num_mel_bins": 16, "patch_size": 4,
                      "patch_stride": (4, 4), "hidden_size": 32, "patch_embeds_hidden_size": 16,
                      "depths": [1, 1], "num_attention_heads": [2, 2], "projection_dim": 16,
                      "enable_fusion": False},
        projection_dim=16)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny mel bank: empty filters
        extractor = tf.ClapFeatureExtractor(
            feature_size=16, sampling_rate=16_000, hop_length=160, max_length_s=1,
            fft_window_size=256, truncation="rand_trunc", padding="repeatpad")
    return tf.ClapModel(config).eval(), extractor


def test_clap_audio_and_text(clap, tokenizer):
    model, extractor = clap
    enc = HuggingFace(model, {"audio": extractor, "text": tokenizer})
    assert enc.modalities == ("text", "audio")
    rng = np.random.default_rng(0)
    long_clip = (rng.normal(size=40_000).astype(np.float32) * 0.1, 16_000)  # 2.5 s > 1 s window
    clips = [am.data.Audio(np.sin(np.arange(8000) * 0.2 * k), 8000) for k in (1, 2)] + [long_clip]
    got = enc.encode("audio", clips, batch_size=2)
    # by hand: 8 kHz clips resampled to the extractor's 16 kHz, long clips cropped at
    # the random position numpy's seed 0 gives
    from scipy.signal import resample_poly

    rows = []
    for clip in clips:
        samples, rate = am.data.audio.mono_waveform(clip)
        if rate != 16_000:
            samples = resample_poly(samples, 2, 1).astype(np.float32)
        np.random.seed(0)  # noqa: NPY002 - the extractors crop with the global RNG
        features = dict(extractor(samples, sampling_rate=16_000, return_tensors="pt"))
        rows.append(_by_hand(model, "get_audio_features",
                             {k: features[k] for k in ("input_features", "is_longer")}))
    np.testing.assert_allclose(got, np.concatenate(rows), rtol=1e-5, atol=1e-6)
    # a clip gives the same row in any batch, and the global numpy RNG is left alone
    np.random.seed(7)  # noqa: NPY002 - the extractors crop with the global RNG
    before = np.random.random()  # noqa: NPY002 - the extractors crop with the global RNG
    np.random.seed(7)  # noqa: NPY002 - the extractors crop with the global RNG
    np.testing.assert_allclose(enc.encode("audio", [long_clip]), got[2:], rtol=1e-5, atol=1e-6)
    assert np.random.random() == before  # noqa: NPY002 - the extractors crop with the global RNG
    assert enc.encode("text", TEXTS).shape == (4, 16)


def test_clap_embeds_a_three_modality_dataset(clap, tokenizer, tmp_path):
    model, extractor = clap
    enc = HuggingFace(model, {"audio": extractor, "text": tokenizer})
    ds = am.data.SyntheticShapesAudio(6, seed=0)
    with pytest.raises(ValueError, match="modality mismatch"):
        am.embed(enc, ds, cache=False, progress=False)
    emb = am.embed(enc, ds, modalities=["audio", "text"], cache_dir=tmp_path, progress=False)
    assert emb.modalities == ("audio", "text") and len(emb) == 6


def test_other_models_following_the_protocol():
    """A model whose get_*_features return plain tensors (transformers < 5 style)."""

    class Config:
        model_type = "toy"

        def to_dict(self):
            return {"model_type": "toy"}

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = Config()
            self.proj = torch.nn.Linear(3, 4)

        def get_text_features(self, input_ids, attention_mask=None):
            return self.proj(torch.nn.functional.one_hot(input_ids[:, 0] % 3, 3).float())

    class Tok:
        pad_token_id = 0
        model_max_length = 8

        def __call__(self, texts, return_tensors, **kwargs):
            ids = torch.tensor([[len(t)] for t in texts])
            return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                    "token_type_ids": torch.zeros_like(ids)}  # not an argument: dropped

        def get_vocab(self):
            return {"a": 1}

    torch.manual_seed(0)
    toy = Toy()
    enc = HuggingFace(toy, Tok())
    assert enc.modalities == ("text",)
    got = enc.encode("text", ["ab", "abc"])
    want = toy.proj(torch.eye(3)[[2, 0]]).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(TypeError, match="pooler_output"):
        _features({"logits": None}, "toy.get_text_features")


def test_import_amumo_does_not_import_transformers():
    code = ("import sys, amumo as am; am.models.HuggingFace; "
            "assert 'transformers' not in sys.modules and 'torch' not in sys.modules")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
