"""Throughput of ``am.embed`` against a bare open_clip loop on the same model and data.

Usage::

    .venv/bin/python benchmarks/embed.py                      # ViT-B-32, N = 256, CPU
    .venv/bin/python benchmarks/embed.py --model amumo-tiny   # seconds, for a smoke run
    .venv/bin/python benchmarks/embed.py --n 512 --repeats 3

Both sides use one model object (random init, so no download), the same
SyntheticShapes pairs and the same batch size, and both fetch the items from
the dataset inside the timed region (rendering the image, preprocessing,
tokenising, forward passes). ``am.embed`` runs with the cache off, so the
difference is the pipeline's own overhead: item validation, chunking, the
result container and its checks. Runs alternate between the two sides and the
best of ``--repeats`` is reported (the machine is shared; the minimum is the
least disturbed run).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

import amumo as am
from amumo.data import SyntheticShapes


def bare_loop(model: Any, preprocess: Any, tokenizer: Any, ds: SyntheticShapes,
              batch_size: int) -> dict[str, np.ndarray]:
    """The loop a user would write by hand with open_clip."""
    import torch

    images, texts = [], []
    with torch.inference_mode():
        for start in range(0, len(ds), batch_size):
            idx = range(start, min(len(ds), start + batch_size))
            batch = torch.stack([preprocess(ds.item("image", i)) for i in idx])
            images.append(model.encode_image(batch).float().numpy())
            tokens = tokenizer([ds.item("text", i) for i in idx])
            texts.append(model.encode_text(tokens).float().numpy())
    return {"image": np.concatenate(images), "text": np.concatenate(texts)}


def pipeline_cost(ds: SyntheticShapes, batch_size: int, repeats: int) -> tuple[float, float]:
    """Seconds to fetch all items by hand vs through ``am.embed`` with a free encoder.

    The encoder returns constant rows at no cost, so the difference is what the
    pipeline itself adds per run (validation, chunking, assembling the result).
    """
    free = am.models.CallableEncoder(
        {"image": lambda xs: np.ones((len(xs), 8)), "text": lambda xs: np.ones((len(xs), 8))}
    )
    by_hand, through = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(len(ds)):
            ds.item("image", i)
            ds.item("text", i)
        by_hand.append(time.perf_counter() - start)
        start = time.perf_counter()
        am.embed(free, ds, batch_size=batch_size, cache=False, progress=False)
        through.append(time.perf_counter() - start)
    return min(by_hand), min(through)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32", help="open_clip architecture")
    parser.add_argument("--n", type=int, default=256, help="number of pairs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    ds = SyntheticShapes(args.n, seed=0)
    t0 = time.perf_counter()
    enc = am.models.OpenCLIP(args.model, pretrained=None, device="cpu", seed=0).load()
    load_s = time.perf_counter() - t0
    model, preprocess, tokenizer = enc.model, enc.preprocess, enc.tokenizer

    # warm-up (allocator, first-call overheads) on a few pairs
    warm = SyntheticShapes(4, seed=1)
    bare_loop(model, preprocess, tokenizer, warm, args.batch_size)
    am.embed(enc, warm, batch_size=args.batch_size, cache=False, progress=False)

    times: dict[str, list[float]] = {"bare open_clip loop": [], "am.embed (cache off)": []}
    outputs: dict[str, Any] = {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        outputs["bare"] = bare_loop(model, preprocess, tokenizer, ds, args.batch_size)
        times["bare open_clip loop"].append(time.perf_counter() - start)
        start = time.perf_counter()
        outputs["embed"] = am.embed(enc, ds, batch_size=args.batch_size, cache=False,
                                    progress=False)
        times["am.embed (cache off)"].append(time.perf_counter() - start)

    # same numbers on both sides (up to normalisation)
    bare = outputs["bare"]["image"]
    bare = bare / np.linalg.norm(bare, axis=1, keepdims=True)
    max_diff = float(np.abs(bare - outputs["embed"]["image"]).max())

    best = {k: min(v) for k, v in times.items()}
    base = best["bare open_clip loop"]
    print(f"model {args.model} (random init, loaded in {load_s:.1f} s), N = {args.n}, "
          f"batch {args.batch_size}, CPU threads {torch.get_num_threads()}, "
          f"best of {args.repeats}; max |difference| {max_diff:.1e}")
    print(f"{'method':<24}{'seconds':>10}{'pairs/s':>10}{'overhead':>10}")
    rows = []
    for name, seconds in best.items():
        overhead = 100.0 * (seconds / base - 1.0)
        print(f"{name:<24}{seconds:>10.2f}{args.n / seconds:>10.1f}{overhead:>+9.1f}%")
        rows.append({"method": name, "seconds": seconds, "pairs_per_s": args.n / seconds,
                     "overhead_pct": overhead, "all_runs": times[name]})
    items_s, pipeline_s = pipeline_cost(ds, args.batch_size, max(3, args.repeats))
    per_pair_ms = 1000.0 * (pipeline_s - items_s) / args.n
    model_ms = 1000.0 * base / args.n
    print(f"pipeline cost without a model: items by hand {items_s:.3f} s, through am.embed "
          f"{pipeline_s:.3f} s -> {per_pair_ms:.3f} ms per pair "
          f"({100.0 * per_pair_ms / model_ms:.2f}% of the bare loop's {model_ms:.1f} ms per pair)")
    rows.append({"method": "pipeline cost per pair (ms)", "ms_per_pair": per_pair_ms})
    if args.json:
        print(json.dumps({"model": args.model, "n": args.n, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
