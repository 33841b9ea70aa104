"""A tiny, randomly initialised ``transformers`` CLIP built offline (tests, notebooks, docs).

No file is downloaded: the tokenizer is a word-level vocabulary (SyntheticShapes'
words by default) built with the ``tokenizers`` library and wrapped in
``PreTrainedTokenizerFast``; the image processor is a ``CLIPImageProcessor``
constructed directly; the model is a ``CLIPModel`` from a small ``CLIPConfig``
seeded with ``seed``. Its embeddings show the cone effect and a modality gap at
random initialisation (Liang et al., NeurIPS 2022), like any random CLIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["tiny_hf_clip"]

_SPECIAL = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")


def tiny_hf_clip(
    seed: int = 0, vocabulary: Sequence[str] | None = None, *, width: int = 32,
    embed_dim: int = 16, image_size: int = 32,
) -> tuple[Any, Any]:
    """``(CLIPModel, CLIPProcessor)``: a random-init CLIP of ~60k parameters, built offline.

    Parameters
    ----------
    seed : int, default 0
        Seeds the weights (``torch.manual_seed`` inside a forked RNG).
    vocabulary : sequence of str, optional
        Words the tokenizer knows (others become ``[UNK]``); default
        :data:`amumo.data.synthetic.VOCABULARY`.
    width, embed_dim, image_size : int
        Hidden width of both towers, projection dimension, image side in pixels.

    Examples
    --------
    >>> from amumo.models import HuggingFace, tiny_hf_clip
    >>> model, processor = tiny_hf_clip(seed=0)
    >>> enc = HuggingFace(model, processor)
    >>> enc.modalities, enc.encode("text", ["a red circle"]).shape
    (('image', 'text'), (1, 16))
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        PreTrainedTokenizerFast,
    )

    if vocabulary is None:
        from amumo.data.synthetic import VOCABULARY

        vocabulary = VOCABULARY
    words = sorted({str(w).lower() for w in vocabulary} - set(_SPECIAL))
    vocab = {token: i for i, token in enumerate((*_SPECIAL, *words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = None
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)]
    )
    context = 16
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
        eos_token="[EOS]", model_max_length=context, do_lower_case=True,
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    heads = max(1, width // 16)
    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": width,
                     "intermediate_size": 2 * width, "num_hidden_layers": 2,
                     "num_attention_heads": heads, "max_position_embeddings": context,
                     "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3},
        vision_config={"image_size": image_size, "patch_size": max(1, image_size // 4),
                       "hidden_size": width, "intermediate_size": 2 * width,
                       "num_hidden_layers": 2, "num_attention_heads": heads},
        projection_dim=embed_dim,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = CLIPModel(config).eval()
    return model, processor
