"""Throughput of ``am.embed`` against the bare open_clip + DataLoader loop, same model and files.

Usage::

    .venv/bin/python benchmarks/embed.py                          # ViT-B-32, 128 JPEGs, CPU
    .venv/bin/python benchmarks/embed.py --model amumo-tiny --n 1024 --workers 0 1
    .venv/bin/python benchmarks/embed.py --precision bf16 --n 64  # half precision on CPU

The data are JPEG files (320 x 240, written once into a temporary folder with a
``captions.csv``), read through :class:`amumo.data.ImageTextFolder` by
``am.embed`` and through a ``torch.utils.data.DataLoader`` over the same files
by the "bare" loop -- the loop a user writes by hand (as in issue 12):
``open_clip`` model + transforms, DataLoader(batch, num_workers, pin_memory on
CUDA), ``encode_image`` / ``encode_text`` on each batch (under autocast for
half precision), results back to the CPU. Both sides use one model object
(random init: throughput does not depend on the weights) and the same batch
size and number of loader workers; ``am.embed`` runs with the cache off. One
warm-up pass each, then the runs alternate between the sides and the best of
``--repeats`` is reported (the machine is shared; the minimum is the least
disturbed run). The helpers are reused by ``benchmarks/embed_gpu.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import amumo as am
from amumo.data import ImageTextFolder, SyntheticShapes

# ----------------------------------------------------------------------------- data


def _write_jpeg(job: tuple[str, int, int, int]) -> None:
    path, seed, width, height = job
    from PIL import Image

    rng = np.random.default_rng(seed)
    # smooth random colours + noise: compresses like a photo, not like a flat image
    base = rng.integers(0, 256, size=(height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.BILINEAR)
    noise = rng.integers(-12, 13, size=(height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make_jpeg_folder(root: str | Path, n: int, size: tuple[int, int] = (320, 240),
                     workers: int | None = None) -> Path:
    """``n`` JPEGs + ``captions.csv`` (file, caption) under ``root``; reused when already there."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    captions = root / "captions.csv"
    if captions.is_file() and sum(1 for _ in captions.open()) == n + 1:
        return root
    shapes = SyntheticShapes(n, seed=0).captions
    jobs = [(str(root / f"{i:07d}.jpg"), i, size[0], size[1]) for i in range(n)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        list(pool.map(_write_jpeg, jobs, chunksize=64))
    lines = ["file,caption"] + [f"{i:07d}.jpg,{c}" for i, c in enumerate(shapes)]
    captions.write_text("\n".join(lines) + "\n")
    return root


# ----------------------------------------------------------------------------- bare loop


class _Files:
    """A torch-style dataset over the folder: (preprocessed image, tokens) per pair."""

    def __init__(self, root: Path, preprocess: Any, tokenizer: Any) -> None:
        lines = (root / "captions.csv").read_text().splitlines()[1:]
        self.rows = [line.split(",", 1) for line in lines]
        self.root, self.preprocess, self.tokenizer = root, preprocess, tokenizer

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Any:
        from PIL import Image

        name, caption = self.rows[i]
        with Image.open(self.root / name) as image:
            pixels = self.preprocess(image.convert("RGB"))
        return pixels, self.tokenizer([caption])[0]


def bare_loop(model: Any, preprocess: Any, tokenizer: Any, root: Path, *, batch_size: int,
              workers: int, device: str, precision: str = "fp32") -> dict[str, np.ndarray]:
    """The loop a user writes by hand: DataLoader + encode_image / encode_text per batch."""
    import contextlib

    import torch
    from torch.utils.data import DataLoader

    cuda = device.startswith("cuda")
    loader = DataLoader(_Files(root, preprocess, tokenizer), batch_size=batch_size,
                        num_workers=workers, pin_memory=cuda)
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (torch.autocast(device.split(":")[0], dtype=half) if half is not None
                else contextlib.nullcontext())
    images, texts = [], []
    with torch.inference_mode(), autocast:
        for pixels, tokens in loader:
            pixels = pixels.to(device, non_blocking=True)
            tokens = tokens.to(device, non_blocking=True)
            images.append(model.encode_image(pixels).float().cpu().numpy())
            texts.append(model.encode_text(tokens).float().cpu().numpy())
    return {"image": np.concatenate(images), "text": np.concatenate(texts)}


def time_it(fn: Any) -> tuple[float, Any]:
    """Wall seconds of ``fn()`` (CUDA synchronised) and its result."""
    try:
        import torch

        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    except ImportError:  # pragma: no cover
        def sync() -> None:
            return None
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def max_difference(a: dict[str, np.ndarray], b: Any) -> float:
    """Largest |difference| between the unit rows of two results."""
    worst = 0.0
    for m in ("image", "text"):
        x = a[m] / np.linalg.norm(a[m], axis=1, keepdims=True)
        worst = max(worst, float(np.abs(x - b[m]).max()))
    return worst


def compare(model_name: str, root: Path, *, batch_size: int, workers: int, device: str,
            precision: str, repeats: int) -> list[dict[str, Any]]:
    """Time the bare loop and am.embed on one configuration; one row per side."""
    enc = am.models.OpenCLIP(model_name, pretrained=None, device=device, seed=0,
                             precision=precision).load()
    ds = ImageTextFolder(root)
    n = len(ds)

    def bare() -> Any:
        return bare_loop(enc.model, enc.preprocess, enc.tokenizer, root, batch_size=batch_size,
                         workers=workers, device=device, precision=precision)

    def ours() -> Any:
        return am.embed(enc, ds, batch_size=batch_size, num_workers=workers, cache=False,
                        progress=False)

    bare()  # warm-up (allocator, kernels, first worker start)
    ours()
    times: dict[str, list[float]] = {"bare": [], "embed": []}
    outputs: dict[str, Any] = {}
    for _ in range(repeats):
        seconds, outputs["bare"] = time_it(bare)
        times["bare"].append(seconds)
        seconds, outputs["embed"] = time_it(ours)
        times["embed"].append(seconds)
    diff = max_difference(outputs["bare"], outputs["embed"])
    base = min(times["bare"])
    rows = []
    for side, label in (("bare", "bare DataLoader loop"), ("embed", "am.embed (cache off)")):
        best = min(times[side])
        rows.append({
            "model": model_name, "side": label, "precision": precision, "n": n,
            "batch_size": batch_size, "workers": workers, "device": device,
            "seconds": best, "pairs_per_s": n / best, "relative": base / best,
            "all_runs": times[side], "max_abs_diff": diff,
        })
    return rows


class _FreeEncoder:
    """A staged encoder with a real preparer (decode, preprocess, tokenise) and no model."""

    def __init__(self, enc: Any) -> None:
        self.enc, self.name, self.modalities = enc, "free", ("image", "text")
        self.fingerprint, self.device = None, "cpu"

    def batch_preparer(self) -> Any:
        return self.enc.batch_preparer()

    def encode_prepared(self, modality: str, batch: Any) -> Any:
        import torch

        return torch.ones(len(batch), 8)

    def encode(self, modality: str, items: Any, batch_size: int = 64) -> Any:
        raise AssertionError("staged: encode_prepared is used")


def pipeline_cost(model_name: str, root: Path, *, batch_size: int, workers: int,
                  repeats: int) -> dict[str, Any]:
    """Loading alone: the bare DataLoader pass vs am.embed with a model that costs nothing."""
    from torch.utils.data import DataLoader

    enc = am.models.OpenCLIP(model_name, pretrained=None, device="cpu", seed=0).load()
    ds = ImageTextFolder(root)
    free = _FreeEncoder(enc)

    def bare() -> None:
        loader = DataLoader(_Files(root, enc.preprocess, enc.tokenizer), batch_size=batch_size,
                            num_workers=workers)
        for _ in loader:
            pass

    def ours() -> None:
        am.embed(free, ds, batch_size=batch_size, num_workers=workers, cache=False,
                 progress=False)

    bare()
    ours()
    times: dict[str, list[float]] = {"bare": [], "embed": []}
    for _ in range(repeats):
        times["bare"].append(time_it(bare)[0])
        times["embed"].append(time_it(ours)[0])
    n = len(ds)
    result = {"n": n, "workers": workers, "bare_s": min(times["bare"]),
              "embed_s": min(times["embed"]), "all_runs": times}
    result["ms_per_pair"] = 1000 * (result["embed_s"] - result["bare_s"]) / n
    print(f"loading only (no model), {n} pairs, {workers} workers: bare DataLoader pass "
          f"{result['bare_s']:.2f} s, am.embed {result['embed_s']:.2f} s -> "
          f"{result['ms_per_pair']:+.3f} ms per pair", flush=True)
    return result


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'model':<12}{'precision':<10}{'workers':>8}{'batch':>6}  {'side':<22}"
          f"{'seconds':>9}{'pairs/s':>10}{'vs bare':>9}{'max|diff|':>11}")
    for r in rows:
        print(f"{r['model']:<12}{r['precision']:<10}{r['workers']:>8}{r['batch_size']:>6}  "
              f"{r['side']:<22}{r['seconds']:>9.2f}{r['pairs_per_s']:>10.1f}"
              f"{100 * r['relative']:>8.1f}%{r['max_abs_diff']:>11.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["ViT-B-32"], help="open_clip architectures")
    parser.add_argument("--n", type=int, default=128, help="number of JPEG pairs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0],
                        help="loader workers (both sides); several values: one run each")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--data", default=None, help="folder for the JPEGs (default: a temp dir)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--pipeline-only", action="store_true",
                        help="only the loading cost: no model on either side")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.data or tempfile.mkdtemp(prefix="amumo-embed-bench-"))
    start = time.perf_counter()
    make_jpeg_folder(root, args.n)
    print(f"{args.n} JPEGs (320x240) in {root} ({time.perf_counter() - start:.1f} s); "
          f"CPU threads {torch.get_num_threads()}, cores {os.cpu_count()}, "
          f"best of {args.repeats}")
    if args.pipeline_only:
        costs = [pipeline_cost(args.model[0], root, batch_size=args.batch_size, workers=w,
                               repeats=args.repeats) for w in args.workers]
        if args.json:
            Path(args.json).write_text(json.dumps(costs, indent=2))
        return
    rows: list[dict[str, Any]] = []
    for model_name in args.model:
        for workers in args.workers:
            rows += compare(model_name, root, batch_size=args.batch_size, workers=workers,
                            device="cpu", precision=args.precision, repeats=args.repeats)
            print_rows(rows[-2:])
    print()
    print_rows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
