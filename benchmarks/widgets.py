"""Benchmark of the widgets: Python build time, bytes sent, first render and hover latency.

For N = 100, 1,000 and 5,000 CLIP-like pairs (D = 512) it measures, in this process,
the Explorer's build time, the size of its state as sent to the browser and the time of a
close-the-gap update; then it runs ``tests/browser/test_widgets_scale.py`` (a real
JupyterLab + headless Chromium) for the browser figures: first render (kernel's
``display`` to the widget's first drawn frame), hover latency over the heatmap and the
scatter (pointer event to every linked view updated, and to the next frame), and zooming
into the heatmap until exact cells arrive.

Usage::

    .venv/bin/python benchmarks/widgets.py            # all sizes, Python + browser
    .venv/bin/python benchmarks/widgets.py --sizes 100,1000 --no-browser

Goals on the 2-core machine (issue 5), N = 5,000: first render < 2 s, hover < 50 ms,
initial state <= 10 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import amumo as am  # noqa: E402
from amumo.widgets import Explorer, state_size  # noqa: E402


def clip_like(n: int, d: int = 512, seed: int = 0) -> am.Embeddings:
    """The same generator as the browser harness (shared concepts + one cone per modality)."""
    rng = np.random.default_rng(seed)
    concept = rng.normal(size=(n, d)).astype(np.float32)
    image = concept + 0.8 * rng.normal(size=(n, d)) + 1.3 * rng.normal(size=d)
    text = concept + 0.8 * rng.normal(size=(n, d)) + 1.3 * rng.normal(size=d)
    topics = np.arange(n) % 17
    meta = {
        "caption": [f"a synthetic scene about topic {t}, pair {i}" for i, t in enumerate(topics)],
        "topic": topics,
    }
    return am.Embeddings.from_arrays({"image": image, "text": text}, meta=meta)


def python_figures(n: int) -> dict:
    emb = clip_like(n)
    t = time.perf_counter()
    ex = Explorer(emb)
    build = time.perf_counter() - t
    ex.wait()
    size = state_size(ex)
    t = time.perf_counter()
    ex.closed = True
    close = time.perf_counter() - t  # views (heatmap, scatter) recomputed and sent
    ex.wait()
    metrics = time.perf_counter() - t  # metrics panel (a background job above 1,000 pairs)
    t = time.perf_counter()
    w = min(512, n)
    ex._request_window({"r0": 0, "r1": w, "c0": n, "c1": n + w})
    window = time.perf_counter() - t
    return {
        "n_pairs": n,
        "build_s": build,
        "bytes": size["total"],
        "overview_bytes": size["per_trait"]["overview"],
        "close_gap_views_s": close,
        "close_gap_metrics_s": metrics,
        "window_512_s": window,
    }


def browser_figures(sizes: list[int]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.jsonl"
        env = dict(os.environ, AMUMO_BENCH_NS=",".join(map(str, sizes)), AMUMO_BENCH_OUT=str(out))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/browser/test_widgets_scale.py"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if not out.exists():
            raise RuntimeError(f"browser benchmark produced nothing:\n{proc.stdout[-3000:]}")
        if proc.returncode:
            print(f"note: browser run exited {proc.returncode} (a budget assertion failed)")
        return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _load() -> str:
    """The 1, 5 and 15-minute load averages (figures under load are upper bounds)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # Figures on a loaded machine are upper bounds: say the load beside them.
    print(f"load average (1, 5, 15 min) at start: {_load()}")
    Explorer(clip_like(50))  # warm imports and numpy/BLAS

    print("| N pairs | build (s) | state sent | close gap: views / metrics (s) "
          "| exact window ≤512² (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        f = python_figures(n)
        print(f"| {n:,} | {f['build_s']:.2f} | {f['bytes'] / 1e6:.2f} MB "
              f"| {f['close_gap_views_s']:.2f} / {f['close_gap_metrics_s']:.2f} "
              f"| {f['window_512_s'] * 1000:.0f} |")
    if args.no_browser:
        print(f"load average at end: {_load()}")
        return
    print()
    print("| N pairs | first render (ms) | hover heatmap: event→linked, median / p95 (ms) "
          "| handler work (ms) | hover scatter: event→linked (ms) | handler work (ms) "
          "| zoom to exact cells (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in browser_figures(sizes):
        hh, hs = r["hover_heatmap_ms"], r["hover_scatter_ms"]
        hw, sw = r["hover_heatmap_work_ms"], r["hover_scatter_work_ms"]
        print(f"| {r['n_pairs']:,} | {r['first_render_ms']:.0f} "
              f"| {hh['median']:.1f} / {hh['p95']:.1f} | {hw['median']:.1f} / {hw['p95']:.1f} "
              f"| {hs['median']:.1f} / {hs['p95']:.1f} | {sw['median']:.1f} / {sw['p95']:.1f} "
              f"| {r['zoom_to_exact_ms']:.0f} |")
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
