"""Browser columns of the scale benchmark (issue 11): the Explorer at 10k, 100k and 1M
pairs in JupyterLab + headless Chromium (software WebGL, SwiftShader, on the 2-core
machine: upper bounds for a real GPU).

For every size it runs ``tests/browser/test_scatter_scale.py`` (a JupyterLab started by
the test, the Explorer displayed in a notebook) and reports:

- **state sent**: every trait of the widget as displayed (binary + JSON, including the
  ES module), and the coordinates alone (float32, 8 bytes per item);
- **drawn**: from the kernel's ``display`` (wall clock) to the scatter's points drawn by
  WebGL (``data-drawn-at``), and the JavaScript time of that draw (upload, index);
- **hover**: 60 pointer moves across the plot; pointer event -> every linked view updated
  (tooltip, heatmap crosshair, preview), p50 / p95, and to the next painted frame;
- **lasso**: a shift-drag pentagon over the middle of the cloud, evaluated against every
  point (2 × N): pointer up -> selection committed and sent (``data-select-ms``);
- **load**: the 1-minute load average of the machine when the size's test started and
  when it ended (the machine is shared: a figure means little without it).

``--background-load K`` runs K busy processes beside the measurement (a reproducible
"loaded machine"; see ``benchmarks/scale.py``).

The kernel columns (load, metrics panel, close gap, peak RSS on 512-d data) are
``benchmarks/scale.py``; its ``explorer`` column measures the Explorer's kernel side.
The browser harness embeds its data in the notebook at D = 32 (the browser receives 2-D
coordinates, so D only changes kernel time).

Usage::

    .venv/bin/python benchmarks/scale_browser.py                       # 10k, 100k, 1M
    .venv/bin/python benchmarks/scale_browser.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def browser_figures(sizes: list[int]) -> list[dict[str, Any]]:
    """Run the browser harness for ``sizes`` and return one dict of figures per size."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scale.jsonl"
        env = dict(os.environ, AMUMO_SCALE_NS=",".join(map(str, sizes)),
                   AMUMO_BENCH_OUT=str(out))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/browser/test_scatter_scale.py"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if not out.exists():
            raise RuntimeError(f"browser benchmark produced nothing:\n{proc.stdout[-3000:]}")
        if proc.returncode:
            print(f"note: browser run exited {proc.returncode} (an assertion failed):\n"
                  f"{proc.stdout[-1500:]}")
        return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _load_text(load: list[float] | None) -> str:
    return "?" if not load else f"{load[0]:.2f}–{load[1]:.2f}"


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as a markdown table."""
    lines = [
        "| N pairs | points | state sent | of which xy | drawn (s) | draw JS (s) "
        "| hover p50 / p95 (ms) | hover to frame p50 / p95 (ms) | lasso (ms) | pairs lassoed "
        "| load avg (start–end) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        h, f = r["hover_ms"], r["hover_frame_ms"]
        lines.append(
            f"| {r['n_pairs']:,} | {r['points']:,} | {r['state_bytes'] / 1e6:.1f} MB "
            f"| {r['xy_bytes'] / 1e6:.1f} MB | {r['drawn_ms'] / 1000:.1f} "
            f"| {r['draw_js_ms'] / 1000:.2f} | {h['p50']:.1f} / {h['p95']:.1f} "
            f"| {f['p50']:.1f} / {f['p95']:.1f} | {r['lasso_ms']:.0f} | {r['lasso_pairs']:,} "
            f"| {_load_text(r.get('load_avg'))} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--background-load", type=int, default=0,
                        help="busy processes to run beside the measurement (default 0)")
    args = parser.parse_args()
    from scale import background_load

    print(f"# load average before: {os.getloadavg()[0]:.2f}; background load: "
          f"{args.background_load} busy process(es)", flush=True)
    with background_load(args.background_load):
        rows = browser_figures([int(s) for s in args.sizes.split(",")])
    print(table(rows))


if __name__ == "__main__":
    main()
