"""Scale benchmark (issue 11): amumo at 10k, 100k and 1M pairs of 512-d float32 or float16 rows.

For each size the synthetic dataset is written once to disk (in blocks, never
whole in RAM), then ONE fresh Python process per size runs the columns in
order on the memory-mapped file and reports seconds per column plus the peak
RSS of that whole process (``resource.getrusage(...).ru_maxrss``), so the
peak covers everything the columns did.

Kernel columns (this file's owner, scale-core):

- ``load``       ``Embeddings.load(path, mmap=True)`` (header, block-wise scan, map)
- ``gap_stats``  exact O(N·D) metrics: ``GapStats().update(emb).metrics()``
- ``retrieval``  recall@1/5/10 both ways + InfoNCE, ``sample="auto"`` (exact up to
                 10k pairs, then a seeded query sample against all candidates)
- ``metrics``    the whole ``am.metrics(emb)`` (sums + retrieval + uniformity +
                 separability)
- ``panel``      the Explorer's metrics panel numbers (``analysis.summary.gap_metrics``:
                 sums + recall@1 / InfoNCE, sampled above 10k): "metrics panel complete"
- ``close_gap``  ``am.close_gap(emb)`` (blocked float32)
- ``pca``        ``am.project(emb, "pca")`` (randomized above 10,000 rows)
- ``cluster``    ``cluster_pairs(emb, k=6)`` (k-means above 3,000 pairs)
- ``umap`` / ``tsne`` (only when named) ``am.project(emb, "umap" | "tsne")``: fit on a
                 seeded sample, the rest placed out of sample; seconds to the end of the
                 fit and in all
- ``copy_key`` (only when named) milliseconds to key load(mmap=True)'s normalised copy
- ``open_shards`` (only when named) ``Embeddings.open`` of the pairs as 10 consolidated
                 shards (written once beside the data file), plain and ``verify=True``

Browser / widget columns ("Explorer drawn", "state sent", hover, lasso) belong
to the scale-widgets helper: add a function ``f(ctx) -> dict`` decorated with
``@column("name")`` below (the context holds ``ctx.emb``, ``ctx.n``,
``ctx.path``, ``ctx.results``); ``--columns`` picks which run.

``--dtype float16`` stores the rows as float16 (issue 19): the file is half the size, it is
memory-mapped as it is (zero-copy), every column reads it in blocks cast to float32 / float64.
Each run prints the load average at its start and end and before / after every size:
figures taken under load are upper bounds.

Run::

    .venv/bin/python benchmarks/scale.py                        # 10k and 100k
    .venv/bin/python benchmarks/scale.py --sizes 1000000 --dtype float16   # 2 GB on disk
    .venv/bin/python benchmarks/scale.py --sizes 1000000        # 4 GB on disk, once
    .venv/bin/python benchmarks/scale.py --sizes 10000 --columns load,gap_stats
    .venv/bin/python benchmarks/scale.py --sizes 100000 --columns load,umap,tsne

The data go to ``--data-dir`` (default ``$TMPDIR/amumo-scale-bench``), reused
between runs; ``--keep`` leaves them there (default: files of the sizes run are
deleted at the end).

Load: the machine these figures come from is shared, so the script prints the load
average before and after each size, and every column reports the 1-minute load average
when it started and when it ended (``<column>_load``). ``--background-load K`` starts K
busy processes (each spins one core) for the whole measurement, which gives a
reproducible "load K" on an otherwise quiet machine::

    .venv/bin/python benchmarks/scale.py --sizes 1000000 --columns load,explorer --keep \
        --background-load 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

DIM = 512
GEN_BLOCK = 16_384
#: Registered columns, in the order they run.
COLUMNS: dict[str, Callable[[SimpleNamespace], dict[str, Any]]] = {}


def column(name: str) -> Callable:
    """Register ``f(ctx) -> dict of figures`` as a benchmark column."""

    def register(func: Callable[[SimpleNamespace], dict[str, Any]]):
        COLUMNS[name] = func
        return func

    return register


# ---------------------------------------------------------------------------- data
def _directions(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(DIM, 3)))
    return {"cone": q[:, 0], "image": q[:, 1], "text": q[:, 2]}


def generate(path: Path, n: int, seed: int = 0, dtype: str = "float32") -> Path:
    """Write a Mind-the-Gap layout ``(2, n, 512)`` file of unit rows (float32, or float16:
    the float32 unit rows rounded), in blocks.

    Pair ``i`` shares a latent ``z_i``; each modality adds a common cone offset,
    its own offset (the gap) and noise, then rows are normalised. Squared
    shares of the unit row: cone 0.164, gap direction 0.336, shared 0.09, noise
    0.41, so gap distance ≈ 0.82 and cone cosine ≈ 0.5 (CLIP on MSCOCO: 0.82,
    0.53), paired cosine ≈ 0.25 and recall@1 well between 0 and 1 at 10k
    pairs. Memory: one block.
    """
    dirs = _directions(seed)
    item = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(item), "fortran_order": False,
              "shape": (2, n, DIM)}
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        start_data = out.tell()
        for m, name in enumerate(("image", "text")):
            rng_m = np.random.default_rng([seed, 1 + m])
            out.seek(start_data + m * n * DIM * item.itemsize)
            for start in range(0, n, GEN_BLOCK):
                rows = min(GEN_BLOCK, n - start)
                z = np.random.default_rng([seed, 0, start]).normal(size=(rows, DIM))
                x = (z * 0.01326 + 0.405 * dirs["cone"] + 0.58 * dirs[name]
                     + rng_m.normal(size=(rows, DIM)) * 0.0283)
                x /= np.linalg.norm(x, axis=1, keepdims=True)
                out.write(x.astype(np.float32).astype(item).tobytes())
    os.replace(tmp, path)
    return path


_TOPICS = (
    ("dog", "puppy", "terrier", "retriever"), ("cat", "kitten", "tabby", "siamese"),
    ("bus", "truck", "train", "tram"), ("pizza", "sandwich", "salad", "cake"),
    ("surfer", "skier", "skateboarder", "cyclist"), ("bird", "gull", "pigeon", "heron"),
    ("kitchen", "bathroom", "bedroom", "office"), ("boat", "ferry", "canoe", "yacht"),
)
_ADJECTIVES = ("small", "large", "red", "white", "black", "old", "young", "busy")
_PLACES = ("on a street", "in a park", "near the water", "in a room", "on a table",
           "at night", "under a tree", "in the snow")


def captions(z: np.ndarray) -> list[str]:
    """Short synthetic captions of the pairs with latents ``z`` (one per row): the topic
    word follows the largest of the first 8 latent coordinates, so clusters of pairs get
    distinct words (cluster names, caption filter and previews have something to show)."""
    topic = np.argmax(z[:, :8], axis=1)
    word = (np.abs(z[:, 8]) * 2).astype(int) % 4
    adjective = (np.abs(z[:, 9]) * 5).astype(int) % len(_ADJECTIVES)
    place = np.argmax(z[:, 10:18], axis=1)
    return [f"a {_ADJECTIVES[a]} {_TOPICS[t][w]} {_PLACES[p]}"
            for t, w, a, p in zip(topic, word, adjective, place, strict=True)]


def generate_shards(folder: Path, n: int, seed: int = 0, dtype: str = "float16",
                    shards: int = 1) -> Path:
    """The pairs of :func:`generate` (same rows) as a shard folder with a ``caption`` meta
    column, written block by block with :class:`amumo.embeddings.shard_writer.ShardWriter`
    (memory: one block), ``shards`` shards of nearly equal size, then the manifest (no
    consolidated copy: time that separately, see the ``consolidate`` column)."""
    from amumo.embeddings.shard_writer import ShardWriter
    from amumo.embeddings.shards import write_manifest

    dirs = _directions(seed)
    rngs = {m: np.random.default_rng([seed, 1 + i]) for i, m in enumerate(("image", "text"))}
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    edges = [n * i // shards for i in range(shards + 1)]
    start = 0
    for shard in range(shards):
        with ShardWriter(tmp, shard, ("image", "text"), DIM, dtype=dtype,
                         provenance={"generator": "benchmarks/scale.py", "seed": seed}) as out:
            while start < edges[shard + 1]:
                # GEN_BLOCK blocks as in generate(): the same latents and noise streams
                rows = min(GEN_BLOCK, n - start, edges[shard + 1] - start)
                z = np.random.default_rng([seed, 0, start]).normal(size=(rows, DIM))
                block = {}
                for name in ("image", "text"):
                    x = (z * 0.01326 + 0.405 * dirs["cone"] + 0.58 * dirs[name]
                         + rngs[name].normal(size=(rows, DIM)) * 0.0283)
                    x /= np.linalg.norm(x, axis=1, keepdims=True)
                    block[name] = x.astype(np.float32)
                out.append(block, meta={"caption": captions(z)})
                start += rows
    write_manifest(tmp, provenance={"generator": "benchmarks/scale.py", "seed": seed},
                   consolidate=False)
    os.replace(tmp, folder)
    return folder


# ---------------------------------------------------------------------------- columns
def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


@column("load")
def col_load(ctx: SimpleNamespace) -> dict[str, Any]:
    """``Embeddings.load(path, mmap=True)``, or ``Embeddings.open(folder)`` for a shard
    folder (``--layout shards``)."""
    import amumo as am

    if Path(ctx.path).is_dir():
        seconds, ctx.emb = _timed(lambda: am.Embeddings.open(ctx.path))
    else:
        seconds, ctx.emb = _timed(lambda: am.Embeddings.load(ctx.path, mmap=True))
    return {"load_s": seconds, "mapped": ctx.emb.provenance.get("mmap", "shards"),
            "checked": ctx.emb.provenance.get("rows_checked", "at open"),
            "dtype": str(ctx.emb["image"].dtype), "load_avg": _load()}


@column("gap_stats")
def col_gap_stats(ctx: SimpleNamespace) -> dict[str, Any]:
    import amumo as am

    seconds, m = _timed(lambda: am.GapStats().update(ctx.emb).metrics())
    return {"gap_stats_s": seconds, "gap_distance": m["gap_distance"], "rmg": m["rmg"],
            "cone_cosine": m["cone_cosine:image"]}


@column("retrieval")
def col_retrieval(ctx: SimpleNamespace) -> dict[str, Any]:
    from amumo.analysis.retrieval import retrieval_metrics

    seconds, r = _timed(lambda: retrieval_metrics(ctx.emb))
    out = {"retrieval_s": seconds, "queries": r["retrieval_queries"],
           "recall@1": r["recall@1:image->text"], "info_nce": r["info_nce"]}
    if "recall@1:image->text:ci_low" in r:
        out["recall@1_ci"] = [r["recall@1:image->text:ci_low"],
                              r["recall@1:image->text:ci_high"]]
    return out


@column("metrics")
def col_metrics(ctx: SimpleNamespace) -> dict[str, Any]:
    import amumo as am

    seconds, _ = _timed(lambda: am.metrics(ctx.emb))
    return {"metrics_s": seconds}


@column("panel")
def col_panel(ctx: SimpleNamespace) -> dict[str, Any]:
    from amumo.analysis.summary import gap_metrics

    seconds, _ = _timed(lambda: gap_metrics(ctx.emb))
    return {"panel_s": seconds}


@column("close_gap")
def col_close_gap(ctx: SimpleNamespace) -> dict[str, Any]:
    import amumo as am

    seconds, closed = _timed(lambda: am.close_gap(ctx.emb))
    info = closed.provenance["close_gap"]
    del closed
    return {"close_gap_s": seconds, "iterations": info["iterations"],
            "gap_after": info["gap_after"]}


@column("pca")
def col_pca(ctx: SimpleNamespace) -> dict[str, Any]:
    import amumo as am

    seconds, xy = _timed(lambda: am.project(ctx.emb, "pca", cache=False))
    return {"pca_s": seconds, "coords_mb": xy.nbytes / 1e6}


@column("cluster")
def col_cluster(ctx: SimpleNamespace) -> dict[str, Any]:
    from amumo.analysis.similarity import cluster_pairs

    seconds, _ = _timed(lambda: cluster_pairs(ctx.emb, k=6))
    return {"cluster_s": seconds}


def _sampled_projection(ctx: SimpleNamespace, method: str) -> dict[str, Any]:
    """Seeded fit on a sample, the rest placed out of sample; seconds to the fit's end
    (progress 0.5 / 0.7) and in all."""
    import amumo as am

    start = time.perf_counter()
    marks: list[tuple[float, float]] = []
    seconds, xy = _timed(lambda: am.project(
        ctx.emb, method, cache=False,
        progress=lambda f: marks.append((time.perf_counter() - start, f)),
    ))
    fitted = next((t for t, f in marks if f >= (0.5 if method == "umap" else 0.7)), seconds)
    return {f"{method}_fit_s": fitted, f"{method}_s": seconds,
            f"{method}_finite": bool(np.isfinite(xy).all())}


@column("umap")
def col_umap(ctx: SimpleNamespace) -> dict[str, Any]:
    return _sampled_projection(ctx, "umap")


@column("tsne")
def col_tsne(ctx: SimpleNamespace) -> dict[str, Any]:
    return _sampled_projection(ctx, "tsne")


@column("copy_key")
def col_copy_key(ctx: SimpleNamespace) -> dict[str, Any]:
    """Key of load(mmap=True)'s normalised copy (looked up on every mapped load): stat only
    before issue 20; inode, ctime and a 1 MiB sample of the rows after."""
    from amumo.embeddings import _mapped

    source = _mapped.npy_source(Path(ctx.path), ("image", "text"))["image"]
    seconds, _ = _timed(lambda: [_mapped._copy_key(source) for _ in range(10)])
    return {"copy_key_ms": seconds / 10 * 1e3}


@column("open_shards")
def col_open_shards(ctx: SimpleNamespace) -> dict[str, Any]:
    """``Embeddings.open`` of the same pairs as 10 shards, consolidated (written once next to
    the data file and kept): plain open (rows scanned for NaN / non-unit since issue 20) and
    ``verify=True`` (checksums of the shards and, since issue 20, of the consolidated copy)."""
    import amumo as am
    from amumo.embeddings.shards import write_manifest, write_shard

    folder = Path(str(ctx.path) + ".shards")
    if not (folder / "manifest.json").exists():
        emb = ctx.emb if ctx.emb is not None else am.Embeddings.load(ctx.path, mmap=True)
        step = -(-ctx.n // 10)
        for k, start in enumerate(range(0, ctx.n, step)):
            write_shard(folder, k, emb.subset(np.arange(start, min(ctx.n, start + step))),
                        overwrite=True)
        write_manifest(folder)
    seconds, emb = _timed(lambda: am.Embeddings.open(folder))
    verify_s, _ = _timed(lambda: am.Embeddings.open(folder, verify=True))
    return {"open_shards_s": seconds, "open_verify_s": verify_s, "shards_n": len(emb)}


#: Columns that run only when named in --columns (minutes at 1M pairs).
OPT_IN = ("umap", "tsne", "copy_key", "open_shards")


# ---------------------------------------------------------------------------- widget columns
# (scale-widgets) The kernel side of the Explorer; the browser figures (drawn, hover,
# lasso in headless Chromium) are benchmarks/scale_browser.py.
def _until(condition: Callable[[], bool], timeout: float = 1800.0) -> float:
    """Seconds until ``condition()`` holds (polled every 20 ms)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"still waiting after {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - start


@column("explorer")
def col_explorer(ctx: SimpleNamespace) -> dict[str, Any]:
    """``am.Explorer(emb)``: build (PCA + heatmap overview + items; the metrics panel then
    fills in a background job), the state sent when displayed, the metrics panel complete,
    and a close-gap click: views redrawn (a background "views" job above 10k pairs) and
    the panel's numbers complete."""
    from amumo.widgets import Explorer

    def panel_done(ex: Any) -> bool:
        return bool(ex.metrics.get("rows")) and not ex.metrics.get("pending") \
            and "metrics" not in ex.busy

    def views_done(ex: Any) -> bool:  # every row placed, the overview made (streamed sizes)
        return "scatter" not in ex.busy and "heatmap" not in ex.busy and \
            getattr(ex, "_preview", None) is None and len(ex.xy) > 0

    start = time.perf_counter()
    build_s, ex = _timed(lambda: Explorer(ctx.emb))
    first_s = build_s + _until(lambda: len(ex.xy) > 0)  # first picture (a sample, streamed)
    views = build_s + _until(lambda: views_done(ex))
    size = ex.state_size()
    _until(lambda: panel_done(ex))
    panel_s = time.perf_counter() - start
    start = time.perf_counter()
    ex.closed = True
    click_s = time.perf_counter() - start  # the kernel is free again after this
    _until(lambda: views_done(ex) and ex.embeddings is not ex._base
           and not (ex.embeddings.provenance.get("close_gap") or {}).get("estimated"))
    views_s = time.perf_counter() - start
    _until(lambda: panel_done(ex))
    toggle_s = time.perf_counter() - start
    gap = {r["key"]: r["after"] for r in ex.metrics["rows"]}["gap_distance"]
    return {"explorer_build_s": build_s, "first_drawn_s": first_s, "views_drawn_s": views,
            "state_mb": size["total"] / 1e6,
            "xy_mb": size["per_trait"]["xy"] / 1e6, "panel_complete_s": panel_s,
            "close_gap_click_s": click_s, "close_gap_views_s": views_s,
            "close_gap_metrics_s": toggle_s, "gap_after": gap, "error": ex.error,
            "load_avg": _load()}


# ---------------------------------------------------------------------------- driver
# ---------------------------------------------------------------------------- load
def load_average() -> float:
    """The machine's 1-minute load average (0.0 where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on Linux / macOS
        return 0.0


def _spin() -> None:  # pragma: no cover - runs in a child process until terminated
    while True:
        pass


@contextlib.contextmanager
def background_load(processes: int) -> Iterator[None]:
    """Run ``processes`` busy processes (one core each) while the block runs."""
    workers = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join()


# ---------------------------------------------------------------------------- driver
def run_child(path: Path, n: int, names: list[str], dtype: str = "float32") -> dict[str, Any]:
    """Run ``names`` columns in this process on ``path``; figures + peak RSS + the load
    average at each column's start and end (``<name>_load``)."""
    ctx = SimpleNamespace(path=path, n=n, emb=None, results={})
    for name in names:
        before = load_average()
        start = time.perf_counter()
        try:
            ctx.results[name] = COLUMNS[name](ctx)
        except Exception as err:  # noqa: BLE001 - one failing column keeps the others' figures
            ctx.results[name] = {f"{name}_error": f"{type(err).__name__}: {err}"}
        ctx.results[name][f"{name}_load"] = f"{before:.2f}–{load_average():.2f}"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
        print(f"# {name}: {time.perf_counter() - start:.1f} s, peak RSS so far {peak:.2f} GB, "
              f"load {_load()}: {json.dumps(ctx.results[name], default=str)}",
              file=sys.stderr, flush=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ctx.results["peak_rss_gb"] = peak_kb * 1024 / 1e9
    ctx.results["embedding_gb"] = 2 * n * DIM * np.dtype(dtype).itemsize / 1e9
    return ctx.results

def ensure_data(n: int, data_dir: Path, dtype: str = "float32", layout: str = "npy") -> Path:
    """The size's data (a file, or a shard folder with ``layout="shards"``), generated in a
    child process when missing."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if layout == "shards":
        path = data_dir / f"shards_{n}_{dtype}"
    else:
        path = data_dir / (f"pairs_{n}.npy" if dtype == "float32" else f"pairs_{n}_{dtype}.npy")
    if not path.exists():
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(n), "--path", str(path),
                        "--dtype", dtype, "--layout", layout], check=True)
        print(f"# generated {path} in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def _drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only) so the next run reads from disk."""
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        return True
    except OSError:
        return False


def run_size(
    n: int, data_dir: Path, names: list[str], keep: bool, blas_threads: int | None,
    dtype: str = "float32", layout: str = "npy", cold: bool = False,
) -> dict[str, Any]:
    path = ensure_data(n, data_dir, dtype, layout)
    if cold:
        print(f"# page cache dropped: {_drop_page_cache()}", flush=True)
    env = {**os.environ, "AMUMO_CACHE_DIR": str(data_dir / "cache")}
    if blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(blas_threads)
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), "--path", str(path),
         "--columns", ",".join(names), "--dtype", dtype],
        check=True, stdout=subprocess.PIPE, text=True, env=env,  # stderr: progress, live
    )
    if not keep:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        shutil.rmtree(str(path) + ".shards", ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _load() -> str:
    """The 1, 5 and 15-minute load averages (figures under load are upper bounds)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--columns",
                        default=",".join(c for c in COLUMNS if c not in OPT_IN),
                        help=f"comma-separated, in order; {', '.join(OPT_IN)} only when named")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir())
                                                  / "amumo-scale-bench"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--blas-threads", type=int, default=1,
        help="BLAS threads in the measuring process (default 1: on the shared 2-core machine "
        "OpenBLAS threads spin-wait under oversubscription; 0 = library default)",
    )
    parser.add_argument("--dtype", default="float32", choices=("float32", "float16"),
                        help="storage dtype of the rows (float16: half the file, mapped as is)")
    parser.add_argument("--background-load", type=int, default=0,
                        help="busy processes to run beside the measurement (default 0)")
    parser.add_argument("--layout", default="npy", choices=("npy", "shards"),
                        help="npy: one (2, N, 512) file, Embeddings.load(mmap=True); shards: a "
                        "one-shard folder with a caption column, Embeddings.open (issue 24)")
    parser.add_argument("--cold", action="store_true",
                        help="drop the page cache before each size (root): cold-disk figures")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [c for c in args.columns.split(",") if c]
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        parser.error(f"unknown columns {unknown}; choose from {list(COLUMNS)}")
    if args.generate:
        if args.layout == "shards":
            generate_shards(Path(args.path), args.generate, dtype=args.dtype)
        else:
            generate(Path(args.path), args.generate, dtype=args.dtype)
        return
    if args.child:
        print(json.dumps(run_child(Path(args.path), args.child, names, args.dtype), default=str))
        return
    # Figures on a loaded machine are upper bounds: say the load beside them.
    print(f"# load average (1, 5, 15 min) at start: {_load()}", flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        ensure_data(n, Path(args.data_dir), args.dtype, args.layout)  # before background load
        print(f"# N={n:,}: background load {args.background_load} busy process(es)",
              flush=True)
        before = _load()
        with background_load(args.background_load):
            result = run_size(n, Path(args.data_dir), names, args.keep, args.blas_threads,
                              args.dtype, args.layout, args.cold)
        print(f"# load average before {before}, after {_load()} (1/5/15 min)",
              flush=True)
        flat = {"N": f"{n:,}", "dtype": args.dtype}
        for name in names:
            for key, value in result[name].items():
                flat[key] = value
        flat["peak_rss_gb"] = result["peak_rss_gb"]
        flat["rss_x_emb"] = result["peak_rss_gb"] / result["embedding_gb"]
        print(" | ".join(f"{k}={_fmt(v)}" for k, v in flat.items()), flush=True)
    print(f"# load average at end: {_load()}", flush=True)


if __name__ == "__main__":
    main()
