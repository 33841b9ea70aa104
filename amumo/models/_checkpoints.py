"""CLIP-family checkpoints in other layouts, mapped onto open_clip's CLIP state dict.

Facts about the released checkpoints (read from their training code, not copied):

- **CyCLIP** (Goel et al., NeurIPS 2022; github.com/goel-shashank/CyCLIP): OpenAI's
  CLIP module (``visual.*``, ``transformer.resblocks.*``, ``token_embedding``,
  ``positional_embedding``, ``ln_final``, ``text_projection``, ``logit_scale``)
  with QuickGELU, saved as ``{"epoch", "name", "state_dict", "optimizer"}``, keys
  prefixed ``module.`` when trained distributed. Identical to open_clip's layout.
- **CLOOB** (Fürst et al., NeurIPS 2022; github.com/ml-jku/cloob): ``CLIPGeneral``
  holds the image tower as ``visual`` (OpenAI's ModifiedResNet / ViT, same keys)
  and the whole *text* tower under ``transformer`` (``transformer.transformer.
  resblocks.*``, ``transformer.token_embedding``, ``transformer.ln_final``,
  ``transformer.text_projection``...), the inverse temperature as
  ``logit_inv_tau`` (log scale, like CLIP's ``logit_scale``) and, in some runs, a
  ``logit_scale_hopfield`` used only by the training loss; QuickGELU; saved with
  ``"model_config_file"`` (``"RN50.json"``...), ``"optimizer"``, ``"scheduler"``.
  The text tower computes exactly what open_clip's does, so the keys map one to one.
- **CLOOB-LAION400M** (github.com/crowsonkb/cloob-training): a different
  architecture: the ViT has no ``ln_pre`` / ``ln_post`` and a biased linear
  projection, the text transformer attends *bidirectionally* under a padding mask
  and reads the first token, not the end-of-text token, without a final layer
  norm, and the checkpoint is a pickled JAX parameter tree. It does **not** map
  onto open_clip; :func:`amumo.models.cloob_laion400m` runs it through its own
  package instead.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["to_open_clip_layout", "infer_architecture", "CLOOB_LAION_MISMATCH"]

#: Why a CLOOB-LAION400M checkpoint cannot load as an open_clip model.
CLOOB_LAION_MISMATCH = (
    "this is a CLOOB-LAION400M checkpoint (crowsonkb/cloob-training: image_encoder.* / "
    "text_encoder.* keys). Its architecture differs from open_clip's CLIP, so no key "
    "mapping can load it: the ViT has no ln_pre / ln_post and a biased projection, the text "
    "transformer attends bidirectionally and pools the first token without a final layer "
    "norm. Use am.models.cloob_laion400m(path) (needs the cloob_training package) or wrap "
    "the model through the encoder protocol (docs/encoders.md)."
)

_CLOOB_TEXT = re.compile(
    r"^transformer\.(transformer\.|token_embedding\.|positional_embedding$|ln_final\.|"
    r"text_projection$)"
)


def _unwrap(state_dict: dict[str, Any]) -> dict[str, Any]:
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    return state_dict


def to_open_clip_layout(state_dict: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``(state dict in open_clip's CLIP keys, origin)`` for a CLIP-family checkpoint.

    Unwraps ``{"state_dict": ...}`` and ``module.`` prefixes, then recognises the
    layout: ``"cloob"`` (ml-jku/cloob: text tower under ``transformer.``,
    ``logit_inv_tau``) is renamed; ``"openai"`` (OpenAI CLIP, CyCLIP, open_clip) is
    returned as it is. A CLOOB-LAION400M checkpoint raises ValueError
    (:data:`CLOOB_LAION_MISMATCH`).

    Examples
    --------
    >>> sd = {"module.transformer.transformer.resblocks.0.ln_1.weight": 1,
    ...       "module.transformer.token_embedding.weight": 2, "module.visual.proj": 3,
    ...       "module.logit_inv_tau": 4, "module.logit_scale_hopfield": 5}
    >>> mapped, origin = to_open_clip_layout({"state_dict": sd, "epoch": 28})
    >>> origin, sorted(mapped)
    ('cloob', ['logit_scale', 'token_embedding.weight', 'transformer.resblocks.0.ln_1.weight', \
'visual.proj'])
    """
    state_dict = _unwrap(state_dict)
    keys = [str(k) for k in state_dict]
    laion = any(k.startswith(("image_encoder.", "text_encoder.")) for k in keys) or (
        "params" in state_dict and isinstance(state_dict["params"], (list, tuple)))  # JAX
    if laion and not any(k.startswith("visual.") for k in keys):
        raise ValueError(CLOOB_LAION_MISMATCH)
    cloob = "logit_inv_tau" in state_dict or any(
        k.startswith(("transformer.transformer.", "transformer.token_embedding"))
        for k in keys
    )
    if not cloob:
        return state_dict, "openai"
    mapped: dict[str, Any] = {}
    for key, value in state_dict.items():
        if key == "logit_scale_hopfield":
            continue  # CLOOB's Hopfield retrieval scale: training loss only, not an encoder weight
        if key == "logit_inv_tau":
            key = "logit_scale"  # both are log(1 / temperature)
        elif _CLOOB_TEXT.match(key):
            key = key[len("transformer."):]
        mapped[key] = value
    return mapped, "cloob"


def _count(keys: list[str], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({m.group(1) for k in keys if (m := pattern.match(k))})


def _signature(state_dict: dict[str, Any]) -> dict[str, Any]:
    """The architecture a state dict in open_clip's CLIP layout implies (from tensor shapes)."""
    keys = list(state_dict)
    shape = {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}
    try:
        text = {
            "width": shape["ln_final.weight"][0],
            "layers": _count(keys, "transformer.resblocks."),
            "context_length": shape["positional_embedding"][0],
            "vocab_size": shape["token_embedding.weight"][0],
        }
        embed_dim = shape["text_projection"][1]
        if "visual.proj" in shape:
            patch = shape["visual.conv1.weight"][-1]
            grid = round((shape["visual.positional_embedding"][0] - 1) ** 0.5)
            vision: dict[str, Any] = {
                "width": shape["visual.conv1.weight"][0],
                "layers": _count(keys, "visual.transformer.resblocks."),
                "patch_size": patch, "image_size": grid * patch,
            }
        else:
            grid = round((shape["visual.attnpool.positional_embedding"][0] - 1) ** 0.5)
            vision = {
                "width": shape["visual.layer1.0.conv1.weight"][0],
                "layers": [_count(keys, f"visual.layer{b}.") for b in (1, 2, 3, 4)],
                "image_size": grid * 32,
            }
    except (KeyError, IndexError) as err:
        raise ValueError(
            f"the checkpoint lacks {err} (or has an unexpected shape there), so it is not a "
            "CLIP-style image + text model in OpenAI / open_clip layout; pass model_name= if "
            "you know its open_clip architecture."
        ) from err
    return {"embed_dim": embed_dim, "vision": vision, "text": text}


def _config_signature(cfg: dict[str, Any]) -> dict[str, Any] | None:
    vision, text = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
    if not vision or not text or "timm_model_name" in vision or "hf_model_name" in text:
        return None
    layers = vision.get("layers")
    out_vision: dict[str, Any] = {"width": vision.get("width"), "image_size": vision.get(
        "image_size")}
    if isinstance(layers, (list, tuple)):
        out_vision["layers"] = list(layers)
    else:
        out_vision.update(layers=layers, patch_size=vision.get("patch_size"))
    return {
        "embed_dim": cfg.get("embed_dim"),
        "vision": out_vision,
        "text": {"width": text.get("width", 512), "layers": text.get("layers", 12),
                 "context_length": text.get("context_length", 77),
                 "vocab_size": text.get("vocab_size", 49408)},
    }


def infer_architecture(state_dict: dict[str, Any]) -> str:
    """The open_clip architecture (``"RN50"``, ``"ViT-B-32"``...) whose shapes a state dict has.

    ``state_dict`` must be in open_clip's layout (see :func:`to_open_clip_layout`).
    Names with a suffix (``-quickgelu``...) are avoided when a plain name matches;
    activation is not visible in the shapes, so callers pass ``quick_gelu`` themselves.

    Raises
    ------
    ValueError
        No open_clip (or amumo) config has these shapes; the message lists them.
    """
    from amumo.models.openclip import _require_open_clip, register_configs

    open_clip, _ = _require_open_clip()
    register_configs()
    want = _signature(state_dict)
    matches = []
    for name in open_clip.list_models():
        cfg = open_clip.get_model_config(name)
        if cfg and _config_signature(cfg) == want:
            matches.append(name)
    if not matches:
        raise ValueError(
            f"no open_clip architecture has the shapes of this checkpoint ({want}); pass "
            "model_name= with the architecture it was trained with."
        )
    return min(matches, key=lambda n: ("-" in n.split("/")[-1], len(n), n))
