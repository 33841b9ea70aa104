"""Typed-query benchmark (issue 23): one query against 100k and 1M memory-mapped pairs.

For each size a synthetic CLIP-like file of 512-d float32 unit rows (the layout of
``benchmarks/scale.py``: gap ≈ 0.82) is written once under ``--data-dir`` (default
``/tmp/query``) and memory-mapped by ONE fresh Python process per size, which reports:

- ``search``   :func:`amumo.analysis.search.search`: the exact top-10 of one query row in
               both modalities (one blocked ``N × D`` float32 product per modality over
               the memory map, argpartition per block, float64 re-check, merge); the
               first query (pages maybe cold) and the median of 9 more (warm page cache);
               checked against a brute-force float64 product (``exact``);
- ``explorer`` ``ex.query(text)`` end to end in an Explorer on the mapped pairs (encode
               with a stand-in encoder, move by the view's map, search, place in the
               projection), with the gap open and after ``ex.closed = True`` (the query
               moved by close_gap's steps), medians of 5; and the refresh a close-the-gap
               click costs on top of the views (the query job, timed alone);
- the peak RSS of the process and the load average before and after.

Run it alone on the shared machine (1M pairs map 4 GB)::

    flock /tmp/amumo-big.lock .venv/bin/python benchmarks/query.py            # 100k, 1M
    .venv/bin/python benchmarks/query.py --sizes 100000 --columns search

The data files are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DIM = 512
#: Up to this many pairs the search is checked against a brute-force float64 product
#: (after the timings; a few seconds at 1M pairs).
CHECK_LIMIT = 2_000_000


def _load() -> str:
    """The 1, 5 and 15-minute load averages (figures under load are upper bounds)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(path: Path, n: int) -> Path:
    sys.path.insert(0, str(HERE))
    from scale import generate  # the same synthetic cones as the scale benchmark

    return generate(path, n)


def _queries(emb: Any, count: int, seed: int = 0) -> list[np.ndarray]:
    """Query rows near stored text rows (a typed caption lands near its kind)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(emb), size=count, replace=False)
    out = []
    for r in rows:
        q = np.asarray(emb["text"][r], dtype=np.float64) + 0.02 * rng.normal(size=emb.dim)
        out.append(q / np.linalg.norm(q))
    return out


def col_search(emb: Any) -> dict[str, Any]:
    from amumo.analysis.search import search

    queries = _queries(emb, 10)
    times = []
    for q in queries:
        start = time.perf_counter()
        hits = search(emb, q, k=10)
        times.append(time.perf_counter() - start)
    out = {"search_first_s": times[0], "search_warm_s": statistics.median(times[1:]),
           # before the brute-force check below, which maps every page of the file
           "search_peak_rss_mb": _rss_mb()}
    if len(emb) <= CHECK_LIMIT:
        q = queries[-1]
        exact = True
        for m in emb.modalities:
            scores = np.empty(len(emb))
            for s in range(0, len(emb), 65536):
                scores[s:s + 65536] = np.asarray(emb[m][s:s + 65536], dtype=np.float64) @ q
            want = np.lexsort((np.arange(len(scores)), -scores))[:10]
            exact &= hits[m][0].tolist() == want.tolist()
        out["exact"] = bool(exact)
    return out


def col_explorer(emb: Any) -> dict[str, Any]:
    import amumo as am
    from amumo.models import CallableEncoder

    rng = np.random.default_rng(7)
    centre = np.asarray(emb["text"][: 4096], dtype=np.float64).mean(axis=0)

    def encode_text(texts: list[str]) -> np.ndarray:
        # A stand-in text tower: a row near the text cone (what a caption encodes to).
        return np.stack([centre + 0.05 * rng.normal(size=emb.dim) for _ in texts])

    encoder = CallableEncoder({"text": encode_text, "image": encode_text}, name="stand-in")
    start = time.perf_counter()
    ex = am.Explorer(emb, encoder=encoder)
    ex.wait(600)
    build = time.perf_counter() - start

    def timed(n: int) -> float:
        times = []
        for k in range(n):
            t0 = time.perf_counter()
            ex.query(f"question {k}", k=10)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    open_s = timed(5)
    start = time.perf_counter()
    ex.closed = True
    ex.wait(600)
    close_s = time.perf_counter() - start
    closed_s = timed(5)
    # The query's own share of a close-the-gap click: its refresh job, timed alone.
    start = time.perf_counter()
    ex._refresh_query()
    ex.wait(600)
    refresh_s = time.perf_counter() - start
    return {"explorer_build_s": build, "query_open_s": open_s, "close_gap_click_s": close_s,
            "query_closed_s": closed_s, "query_refresh_s": refresh_s}


COLUMNS = {"search": col_search, "explorer": col_explorer}


def child(path: Path, n: int, names: list[str]) -> None:
    """Run the columns on the mapped file in this (fresh) process; print one JSON line."""
    import amumo as am
    from amumo.widgets._base import blas_threads

    result: dict[str, Any] = {"pairs": n, "load_before": _load()}
    start = time.perf_counter()
    emb = am.Embeddings.load(path, mmap=True)
    result["load_s"] = time.perf_counter() - start
    with blas_threads(1):  # as in the widgets: one BLAS thread, the search splits the rows
        for name in names:
            result.update(COLUMNS[name](emb))
    result["peak_rss_mb"] = _rss_mb()
    result["load_after"] = _load()
    print("RESULT " + json.dumps(result))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--columns", default="search,explorer")
    parser.add_argument("--data-dir", default="/tmp/query")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [c for c in args.columns.split(",") if c]
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        parser.error(f"unknown columns {unknown}; choose from {list(COLUMNS)}")
    if args.child is not None:
        child(Path(args.path), args.child, names)
        return
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {_load()}  (2 cores, shared: figures are upper bounds)")
    rows = []
    made = []
    for n in (int(s) for s in args.sizes.split(",")):
        path = data / f"pairs_{n}.npy"
        if not path.exists():
            start = time.perf_counter()
            _generate(path, n)
            made.append(path)
            print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in "
                  f"{time.perf_counter() - start:.1f} s")
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        run = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--path", str(path),
             "--columns", ",".join(names)],
            capture_output=True, text=True, env=env, check=False,
        )
        line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(run.stdout[-2000:], run.stderr[-4000:])
            raise SystemExit(f"size {n}: the measuring process failed")
        rows.append(json.loads(line[len("RESULT "):]))
        print(json.dumps(rows[-1]))
    keys = [k for k in rows[0] if k not in ("pairs",)]
    print()
    print("| pairs | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{row[k]:.3f}" if isinstance(row.get(k), float) else str(row.get(k, ""))
                 for k in keys]
        print(f"| {row['pairs']:,} | " + " | ".join(cells) + " |")
    print(f"\nload average at the end: {_load()}")
    if not args.keep:
        for path in made:
            path.unlink(missing_ok=True)
        if data.exists() and not any(data.iterdir()):
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
