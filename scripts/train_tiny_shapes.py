"""Reproduce the shipped ``tiny_shapes`` checkpoint (amumo/models/weights/tiny_shapes.npz).

One command, CPU only, deterministic under the seed::

    .venv/bin/python scripts/train_tiny_shapes.py

It trains a TinyCLIP (amumo.models.tiny) with ``amumo.training.train_contrastive``
on ``SyntheticShapes(N_TRAIN, seed=0)``, evaluates it on an unseen
``SyntheticShapes(N_EVAL, seed=EVAL_SEED)`` through the public encoder
interface, stores the recipe, the per-epoch history and the evaluation in the
checkpoint's header (``encoder.info``), and prints a summary. ``--out`` writes
elsewhere (e.g. to compare against the shipped file).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import amumo as am
from amumo.data import SyntheticShapes
from amumo.models.tiny import TinyCLIP, weights_path
from amumo.training import train_contrastive

#: The recipe of the shipped checkpoint.
RECIPE = {
    "n_pairs": 3000,
    "dataset_seed": 0,
    "image_size": 64,
    "temperature": 0.01,
    "epochs": 30,
    "seed": 0,
    "batch_size": 128,
    "learning_rate": 1e-3,
    "probe": 256,
    "num_threads": 1,
}
N_EVAL = 500
EVAL_SEED = 1


def evaluate(encoder: TinyCLIP, n: int = N_EVAL, seed: int = EVAL_SEED) -> dict[str, float]:
    """Metrics of the encoder on unseen SyntheticShapes pairs (via the encoder protocol)."""
    ds = SyntheticShapes(n, seed=seed, image_size=encoder.config.image_size)
    emb = am.Embeddings.from_arrays(
        {"image": encoder.encode("image", ds.images()),
         "text": encoder.encode("text", ds.captions)},
        meta=ds.meta,
    )
    out = am.metrics(emb, temperature=RECIPE["temperature"], ks=(1, 5, 10))
    # Several pairs share a caption (360 distinct captions); text->image recall by pair index
    # cannot tell them apart, so also report retrieval of the right caption for each image.
    sims = emb["image"] @ emb["text"].T
    captions = np.asarray(ds.captions)
    out["caption_recall@1:image->text"] = float(np.mean(captions[sims.argmax(1)] == captions))
    out["caption_recall@1:text->image"] = float(np.mean(captions[sims.argmax(0)] == captions))
    return {k: round(float(v), 4) for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=weights_path(), help="checkpoint path (.npz)")
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    args = parser.parse_args(argv)
    recipe = dict(RECIPE, epochs=args.epochs)

    start = time.perf_counter()
    ds = SyntheticShapes(recipe["n_pairs"], seed=recipe["dataset_seed"],
                         image_size=recipe["image_size"])
    history = train_contrastive(
        ds,
        temperature=recipe["temperature"],
        epochs=recipe["epochs"],
        seed=recipe["seed"],
        batch_size=recipe["batch_size"],
        learning_rate=recipe["learning_rate"],
        probe=recipe["probe"],
        num_threads=recipe["num_threads"],
        progress=True,
    )
    seconds = time.perf_counter() - start
    encoder = history.model
    frame = history.to_frame()
    evaluation = evaluate(encoder)
    encoder.info = {
        "name": "tiny_shapes",
        "description": "TinyCLIP trained contrastively on SyntheticShapes at a fixed τ=0.01 "
        "by scripts/train_tiny_shapes.py",
        "recipe": recipe,
        "training": encoder.info.get("training", {}),
        "history": json.loads(frame.reset_index().round(5).to_json(orient="records")),
        "evaluation": {"dataset": f"SyntheticShapes({N_EVAL}, seed={EVAL_SEED})", **evaluation},
        "train_seconds": round(seconds, 1),
        "torch": __import__("torch").__version__,
        "python": platform.python_version(),
    }
    encoder.name = "tiny_shapes"
    path = encoder.save(args.out)
    size = path.stat().st_size
    print(frame[["loss", "probe_loss", "gap_distance", "cone_cosine:image", "cone_cosine:text",
                 "recall@1:image->text"]].round(4).to_string())
    print(json.dumps(evaluation, indent=1))
    print(f"wrote {path} ({size / 1e6:.2f} MB, {encoder.n_parameters} parameters) "
          f"in {seconds:.0f} s; fingerprint {TinyCLIP.load(path).fingerprint}")


if __name__ == "__main__":
    main()
