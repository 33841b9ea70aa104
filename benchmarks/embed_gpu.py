"""The GPU embedding table of issue 12 in one run: am.embed vs the bare DataLoader loop.

Run on the GPU machine (an H100 / H200 with 16 CPU cores; see shared/gpu.md)::

    # here, once: wheels amumo needs that the GPU machine lacks (folder ignored by git)
    P="--only-binary=:all: --python-version 3.12 --implementation cp \\
       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \\
       --platform manylinux2014_x86_64 --platform any"
    for p in open_clip_torch ftfy wcwidth platformdirs anywidget ipywidgets comm traitlets \\
      psygnal widgetsnbextension jupyterlab_widgets ipython decorator jedi parso \\
      matplotlib-inline pexpect ptyprocess prompt_toolkit stack_data executing asttokens \\
      pure_eval ipython_pygments_lexers; do
      python3 -m pip download -q --no-deps $P -d .whl $p; done
    echo .whl >> .git/info/exclude

    # there (the device tool: carry=[".whl"], timeout_s=600), about 4 minutes:
    python3 -m pip install -q --no-index --no-deps --no-compile --target .gpu-site .whl/*.whl \\
      && export PYTHONPATH=$PWD/.gpu-site:$PWD \\
      && PYTHONUNBUFFERED=1 python3 benchmarks/embed_gpu.py --out $OUT

    # on this CPU machine, a smoke run of the same code path (seconds):
    .venv/bin/python benchmarks/embed_gpu.py --quick

What it measures, for ViT-B-32 and ViT-L-14 (open_clip, random init:
throughput does not depend on the weights), on 8,192 JPEGs of 320 x 240 with a
``captions.csv``, cache off, one warm-up pass per configuration on 1,024 pairs,
wall time of one whole pass (CUDA synchronised):

- *bare*: ``open_clip`` model + transforms, ``DataLoader(batch 256,
  num_workers=12, pin_memory=True)``, ``encode_image`` / ``encode_text`` per
  batch, under ``torch.autocast("cuda", torch.bfloat16)`` (bf16) or not (fp32);
- *am.embed*: ``am.embed(OpenCLIP(..., precision=p), ImageTextFolder(...),
  cache=False, progress=False)`` with its defaults (batch 256 on CUDA, loader
  workers from the CPU count: 12 on 16 cores), for ``precision`` = "fp32",
  "bf16" (bf16 weights) and "amp_bf16" (fp32 weights + autocast, what the bare
  bf16 loop does).

The goal of the issue: am.embed >= 90 % of the bare loop's pairs/s at bf16.
Results are printed as a table and written after every measurement to
``<out>/embed_gpu.json`` and ``<out>/embed_gpu.md`` (a budget stops it early with
partial results rather than none).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed import bare_loop, make_jpeg_folder, max_difference, time_it  # noqa: E402

import amumo as am  # noqa: E402
from amumo.data import ImageTextFolder  # noqa: E402
from amumo.embeddings.loader import available_cpus, default_num_workers  # noqa: E402


def _subset_folder(root: Path, n: int) -> Path:
    """A captions table over the first ``n`` images (warm-up), same image files."""
    sub = root / f"_first{n}"
    sub.mkdir(exist_ok=True)
    lines = (root / "captions.csv").read_text().splitlines()
    body = [f"../{line}" if i else line for i, line in enumerate(lines[: n + 1])]
    (sub / "captions.csv").write_text("\n".join(body) + "\n")
    return sub


def environment() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__,
        "amumo": am.__version__, "cpus": available_cpus(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write(out: Path, rows: list[dict[str, Any]], env: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "embed_gpu.json").write_text(json.dumps({"environment": env, "rows": rows},
                                                   indent=2))
    lines = [
        f"{env.get('gpu', 'CPU')}, {env['cpus']} CPU cores, torch {env['torch']}, "
        f"amumo {env['amumo']}",
        "",
        "| model | side | precision | batch | workers | pairs | seconds | pairs/s | "
        "vs bare (same precision) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = r.get("vs_bare")
        lines.append(
            f"| {r['model']} | {r['side']} | {r['precision']} | {r['batch_size']} | "
            f"{r['workers']} | {r['n']} | {r['seconds']:.2f} | {r['pairs_per_s']:,.0f} | "
            f"{'' if ratio is None else f'{100 * ratio:.1f} %'} |"
        )
    (out / "embed_gpu.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["ViT-B-32", "ViT-L-14"])
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--warmup", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=256, help="the bare loop's batch")
    parser.add_argument("--workers", type=int, default=12, help="the bare loop's workers")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data", default=None, help="JPEG folder (default: a temp dir)")
    parser.add_argument("--out", default=os.environ.get("OUT", "embed_gpu_results"))
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="stop starting new measurements after this many seconds")
    parser.add_argument("--quick", action="store_true",
                        help="CPU smoke run: amumo-tiny, 64 pairs, 2 workers, batch 16")
    args = parser.parse_args()
    if args.quick:
        args.models, args.n, args.warmup = ["amumo-tiny"], 64, 16
        args.batch_size, args.workers, args.device = 16, 2, "cpu"

    import torch

    started = time.perf_counter()
    device = am.models.resolve_device(args.device)
    env = environment()
    env["device"] = device
    print(json.dumps(env))
    root = Path(args.data or tempfile.mkdtemp(prefix="amumo-embed-gpu-"))
    t0 = time.perf_counter()
    make_jpeg_folder(root, args.n)
    warm_root = _subset_folder(root, min(args.warmup, args.n))
    print(f"{args.n} JPEGs in {root} ({time.perf_counter() - t0:.1f} s)", flush=True)
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    embed_batch = 256 if device.startswith("cuda") else args.batch_size
    embed_workers = default_num_workers(device)  # am.embed's default, reported

    def over_budget() -> bool:
        return time.perf_counter() - started > args.budget_s

    for model_name in args.models:
        if over_budget():
            print(f"budget of {args.budget_s:.0f} s reached: skipping {model_name}")
            break
        t0 = time.perf_counter()
        base = am.models.OpenCLIP(model_name, pretrained=None, device=device, seed=0).load()
        print(f"{model_name}: built in {time.perf_counter() - t0:.1f} s", flush=True)
        bare_out: dict[str, Any] = {}
        bare_speed: dict[str, float] = {}
        for precision in ("bf16", "fp32"):
            if over_budget():
                break

            def run(folder: Path, precision: str = precision, enc: Any = base) -> Any:
                return bare_loop(enc.model, enc.preprocess, enc.tokenizer, folder,
                                 batch_size=args.batch_size, workers=args.workers,
                                 device=device, precision=precision)

            run(warm_root)
            seconds, bare_out[precision] = time_it(lambda run=run: run(root))
            bare_speed[precision] = args.n / seconds
            rows.append({"model": model_name, "side": "bare DataLoader loop",
                         "precision": precision, "batch_size": args.batch_size,
                         "workers": args.workers, "n": args.n, "seconds": seconds,
                         "pairs_per_s": args.n / seconds, "vs_bare": None})
            print(rows[-1], flush=True)
            write(out, rows, env)
        for precision in ("amp_bf16", "bf16", "fp32"):
            if over_budget():
                break
            enc = base if precision == "fp32" else am.models.OpenCLIP(
                model_name, pretrained=None, device=device, seed=0, precision=precision).load()
            am.embed(enc, ImageTextFolder(warm_root), cache=False, progress=False)
            seconds, emb = time_it(lambda enc=enc: am.embed(
                enc, ImageTextFolder(root), cache=False, progress=False))
            key = "fp32" if precision == "fp32" else "bf16"
            row = {"model": model_name, "side": "am.embed (defaults, cache off)",
                   "precision": precision, "batch_size": embed_batch,
                   "workers": embed_workers, "n": args.n, "seconds": seconds,
                   "pairs_per_s": args.n / seconds,
                   "vs_bare": (args.n / seconds) / bare_speed[key] if key in bare_speed
                   else None}
            if key in bare_out:
                row["max_abs_diff_vs_bare"] = max_difference(bare_out[key], emb)
            rows.append(row)
            print(row, flush=True)
            write(out, rows, env)
            if enc is not base:
                del enc
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
        del base
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    write(out, rows, env)
    print()
    print((out / "embed_gpu.md").read_text())
    print(f"total {time.perf_counter() - started:.0f} s; results in {out}")


if __name__ == "__main__":
    main()
