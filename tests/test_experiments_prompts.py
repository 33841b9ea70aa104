"""amumo.experiments.prompts: class names → ensembled text embeddings through an encoder."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import amumo as am
from amumo.experiments import format_prompts, prompts, zero_shot_sweep


class WordHash:
    """A deterministic toy text encoder: a sum of per-word random vectors."""

    modalities = ("image", "text")

    def __init__(self, dim=16):
        self.dim = dim
        self.calls = []

    def _word(self, w):
        return np.random.default_rng(zlib.crc32(w.encode())).normal(size=self.dim)

    def encode(self, modality, items, batch_size=64):
        self.calls.append((modality, list(items), batch_size))
        return np.stack([sum(self._word(w) for w in s.split()) for s in items]).astype(np.float32)


def test_format_prompts_and_errors():
    assert format_prompts(["red"], "a {} shape") == [["a red shape"]]
    with pytest.raises(ValueError, match="exactly once"):
        format_prompts(["red"], ["a shape"])
    with pytest.raises(ValueError, match="exactly once"):
        format_prompts(["red"], ["{} {}"])
    with pytest.raises(ValueError, match="duplicates 'red'"):
        format_prompts(["red", "red"], ["{}"])
    with pytest.raises(TypeError, match="list of class names"):
        format_prompts("red", ["{}"])
    with pytest.raises(ValueError, match="classes is empty"):
        format_prompts([], ["{}"])
    with pytest.raises(ValueError, match="templates is empty"):
        format_prompts(["red"], [])


def test_prompts_ensemble_is_mean_of_normalised_prompts_renormalised():
    enc = WordHash()
    classes = ["red", "green", "blue"]
    templates = ["a {} circle", "a small {} square", "{}"]
    out = prompts(classes, templates, enc, batch_size=7)
    assert out.shape == (3, 16) and out.dtype == np.float32
    # one batched call with all C × T prompts, class-major
    assert enc.calls[0][0] == "text" and enc.calls[0][2] == 7
    assert enc.calls[0][1][:3] == ["a red circle", "a small red square", "red"]
    raw = enc.encode("text", [t.replace("{}", c) for c in classes for t in templates])
    raw = raw.astype(np.float64).reshape(3, 3, -1)
    unit = raw / np.linalg.norm(raw, axis=-1, keepdims=True)
    expected = unit.mean(1) / np.linalg.norm(unit.mean(1), axis=-1, keepdims=True)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    per_prompt = prompts(classes, templates, enc, ensemble=False)
    assert per_prompt.shape == (3, 3, 16)
    np.testing.assert_allclose(per_prompt, unit, atol=1e-6)


def test_prompt_embeddings_feed_the_sweep():
    enc = WordHash(dim=32)
    classes = ["red", "green", "blue", "yellow"]
    texts = prompts(classes, ["a {} shape", "a {} thing"], enc)
    labels = np.repeat(np.arange(4), 10)
    rng = np.random.default_rng(0)
    images = texts[labels] + 0.2 * rng.normal(size=(40, 32)) + 0.5
    df = zero_shot_sweep(images, texts, labels, [0.0, 0.5], class_names=classes)
    assert set(df.per_class.iloc[0]) == set(classes)
    ensemble = prompts(classes, ["a {} shape", "a {} thing"], enc, ensemble=False)
    same = zero_shot_sweep(images, ensemble, labels, [0.0, 0.5], class_names=classes)
    assert df.top1.tolist() == same.top1.tolist()


def test_prompts_errors():
    with pytest.raises(TypeError, match="encoder is None"):
        prompts(["red"], ["{}"])
    with pytest.raises(TypeError, match="without an encode"):
        prompts(["red"], ["{}"], object())

    class ImageOnly(WordHash):
        modalities = ("image",)

    with pytest.raises(ValueError, match="cannot encode 'text'"):
        prompts(["red"], ["{}"], ImageOnly())

    class Short(WordHash):
        def encode(self, modality, items, batch_size=64):
            return super().encode(modality, items, batch_size)[:-1]

    with pytest.raises(ValueError, match="returned shape \\(1, 16\\) for 2 prompts"):
        prompts(["red", "blue"], ["{}"], Short())

    class Zero(WordHash):
        def encode(self, modality, items, batch_size=64):
            return np.zeros((len(items), 4), np.float32)

    with pytest.raises(ValueError, match="all-zero"):
        prompts(["red"], ["{}"], Zero())
    with pytest.raises(ValueError, match="batch_size=0"):
        prompts(["red"], ["{}"], WordHash(), batch_size=0)


def test_prompts_with_callable_encoder():
    enc = WordHash(dim=8)
    wrapped = am.models.CallableEncoder({"text": lambda xs: enc.encode("text", xs)})
    np.testing.assert_allclose(prompts(["cat", "dog"], ["a {}"], wrapped),
                               prompts(["cat", "dog"], ["a {}"], enc), atol=1e-6)


@pytest.mark.models
def test_prompts_with_random_init_openclip():
    pytest.importorskip("open_clip")
    enc = am.models.OpenCLIP("amumo-tiny", pretrained=None)
    out = prompts(["red", "green", "blue"], ["a {} circle", "a small {} square"], enc)
    assert out.shape[0] == 3 and np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    again = prompts(["red", "green", "blue"], ["a {} circle", "a small {} square"],
                    am.models.OpenCLIP("amumo-tiny", pretrained=None))
    np.testing.assert_allclose(out, again, atol=1e-5)  # seeded random init: reproducible
