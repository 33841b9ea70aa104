"""``embed_dataset``: embed a dataset too large for one machine, on a Ray cluster.

How the work is split and who does what:

- **The driver** (your notebook or script) plans *shards* from cheap metadata
  (Parquet footers, the captions table, the list of tar files; see
  :mod:`amumo.scale.sources`), skips the shards already finished in
  ``out_dir``, and hands the rest to Ray Data as a dataset of shard
  descriptions. It never sees an embedding: it only reads each finished
  shard's small job record (counts, skipped pairs, :class:`~amumo.GapStats`
  sums) and merges the sums into the exact aggregate metrics.
- **Ray Data** runs ``map_batches`` with a callable class over those
  descriptions: a pool of ``concurrency`` actors, each holding one copy of the
  encoder (one GPU per actor where ``num_gpus`` asks for it), with Ray's
  scheduling, back-pressure and fault tolerance (a dead actor is restarted and
  its task retried). There is no scheduler in amumo.
- **Each actor** opens its shard as an ordinary amumo dataset and embeds it
  with the very pipeline of :func:`amumo.embed` (parallel loading, skipping
  unreadable items and unusable rows), writes it with
  :func:`amumo.embeddings.shards.write_shard`, computes the shard's
  :class:`~amumo.GapStats` and finally writes a job record
  ``out_dir/_jobs/shard-<id>.json`` -- the commit point of the shard.

A pair that kills the worker process every time it is encoded (a crash in a
tokenizer or a decoder: no Python error, so Ray restarts the actor and retries
the shard) cannot stall the run: each retry reads the shard's on-disk attempts
journal, halves the range that keeps dying, keeps what succeeded, and finally
leaves the pair out, reported in ``skipped`` with the reason (see
:func:`death_budget`; Ray's task retries are bounded too).

Rerunning the same call after an interruption (a killed driver, a lost node)
redoes only the shards without a job record. ``Embeddings.open(out_dir)``
memory-maps the result.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import __version__, atomic_write_bytes
from amumo.scale.sources import ShardSpec, as_source

__all__ = ["embed_dataset", "ScaleResult", "JOBS_FOLDER"]

#: Sub-folder of ``out_dir`` with one job record per finished shard, and the run record.
JOBS_FOLDER = "_jobs"
_RUN = "run.json"


def _require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "amumo.scale needs Ray Data; install the scale extra: pip install 'amumo[scale]' "
            "(or pip install 'ray[data]')."
        ) from err
    return ray


def _record_path(out_dir: Path, shard_id: int) -> Path:
    return out_dir / JOBS_FOLDER / f"shard-{shard_id:06d}.json"


def _read_record(out_dir: Path, shard_id: int) -> dict[str, Any] | None:
    try:
        record = json.loads(_record_path(out_dir, shard_id).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("shard_id") == shard_id else None


# ----------------------------------------------------------------------------- worker side


def _on_worker_device(encoder: Any) -> Any:
    """Point an encoder that has not built its model yet at this actor's GPU, if it has one."""
    import ray

    if ray.get_gpu_ids() and getattr(encoder, "device", None) == "cpu" \
            and getattr(encoder, "_model", "n/a") is None:
        encoder.device = "cuda"
    return encoder


#: How often the whole shard may kill its worker process before it is split (the first
#: death may be the node's, not the data's); any smaller range is split after one death.
WHOLE_SHARD_DEATHS = 2


def death_budget(n: int) -> int:
    """Worker deaths one shard of ``n`` pairs may cause before the rest of it is given up.

    Enough to isolate two poison pairs by halving (``2 + 2 log2 n``), plus slack.

    >>> death_budget(4096)
    32
    """
    return 8 + 2 * max(1, math.ceil(math.log2(max(2, int(n)))))


#: Sub-folder of ``_jobs`` with each unfinished shard's attempts journal and saved parts
#: (apart from the job records ``_jobs/shard-<id>.json``, which readers glob).
ATTEMPTS_FOLDER = "attempts"


def _journal_path(out_dir: Path, shard_id: int) -> Path:
    return out_dir / JOBS_FOLDER / ATTEMPTS_FOLDER / f"shard-{shard_id:06d}.json"


def _parts_dir(out_dir: Path, shard_id: int) -> Path:
    return out_dir / JOBS_FOLDER / ATTEMPTS_FOLDER / f"shard-{shard_id:06d}"


class _Journal:
    """On-disk progress of one shard across deaths of the worker process (see embed_shard).

    ``todo``: ranges ``[a, b)`` of the shard's pairs still to embed, in order;
    ``running``: the range being embedded (if set when the journal is read, that
    attempt killed its process); ``deaths``: deaths per range; ``parts``: ranges
    embedded and saved; ``bad``: ranges given up, with the reason.
    """

    def __init__(self, out_dir: Path, shard_id: int, n: int) -> None:
        self.path = _journal_path(out_dir, shard_id)
        self.n = n
        try:
            state = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            state = None
        if not isinstance(state, dict) or state.get("n") != n:
            state = {"n": n, "todo": [[0, n]], "running": None, "deaths": {}, "total": 0,
                     "parts": [], "bad": []}
        self.state = state
        if state["running"] is not None:  # the previous attempt died with this range
            key = "{}-{}".format(*state["running"])
            state["deaths"][key] = state["deaths"].get(key, 0) + 1
            state["total"] += 1
            state["running"] = None
            self.save()

    def save(self) -> None:
        atomic_write_bytes(self.path, json.dumps(self.state).encode())

    def deaths(self, a: int, b: int) -> int:
        return int(self.state["deaths"].get(f"{a}-{b}", 0))


def _embed_range(encoder: Any, dataset: Any, a: int, b: int, n: int, *,
                 batch_size: int | None, num_workers: int | None) -> tuple[Any, list[dict]]:
    """Embed pairs ``a .. b-1`` of ``dataset``: ``(Embeddings or None, skipped)``, items in the
    shard's numbering (the Embeddings' ``meta["item"]`` too)."""
    from amumo.embeddings.pipeline import NoReadablePairsError, SkippedPairsWarning, embed

    part = dataset if (a, b) == (0, n) else dataset.subset(range(a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedPairsWarning)
        try:
            emb = embed(encoder, part, batch_size=batch_size, cache=False, progress=False,
                        num_workers=num_workers)
        except NoReadablePairsError as err:
            return None, [{**e, "item": int(e["item"]) + a} for e in err.skipped]
    return emb, [{**e, "item": int(e["item"]) + a} for e in emb.skipped]


def _save_part(path: Path, emb: Any, a: int, skipped: list[dict]) -> None:
    from amumo._util import atomic_write

    arrays: dict[str, np.ndarray] = {
        "skipped": np.frombuffer(json.dumps(skipped, default=str).encode(), dtype=np.uint8)}
    if emb is not None:
        arrays["kept"] = emb.meta["item"].to_numpy(np.int64) + a
        arrays["modalities"] = np.frombuffer(json.dumps(list(emb.modalities)).encode(),
                                             dtype=np.uint8)
        for i, m in enumerate(emb.modalities):
            arrays[f"emb{i}"] = emb[m]
            arrays[f"norm{i}"] = np.asarray(emb.norms[m], dtype=np.float64)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def _from_parts(encoder: Any, dataset: Any, journal: _Journal, parts_dir: Path
                ) -> tuple[Any, list[dict]]:
    """The shard's Embeddings (None when no pair is left) and skipped pairs, assembled from
    the saved parts and the ranges given up."""
    from amumo.embeddings.container import Embeddings
    from amumo.embeddings.pipeline import pairs_meta

    names: list[str] = []
    kept: list[np.ndarray] = []
    rows: dict[str, list[np.ndarray]] = {}
    norms: dict[str, list[np.ndarray]] = {}
    skipped: list[dict] = []
    for a, b in sorted(journal.state["parts"]):
        with np.load(parts_dir / f"{a}-{b}.npz", allow_pickle=False) as part:
            skipped.extend(json.loads(bytes(part["skipped"]).decode()))
            if "kept" in part.files:
                names = json.loads(bytes(part["modalities"]).decode())
                kept.append(part["kept"])
                for i, m in enumerate(names):
                    rows.setdefault(m, []).append(part[f"emb{i}"])
                    norms.setdefault(m, []).append(part[f"norm{i}"])
    meta = dataset.meta if isinstance(dataset.meta, pd.DataFrame) else None
    for a, b, reason in journal.state["bad"]:
        for item in range(a, b):
            entry = {"item": item, "modality": None, "error": reason}
            if meta is not None and "id" in meta.columns:
                entry["id"] = str(meta["id"].iloc[item])
            skipped.append(entry)
    skipped.sort(key=lambda e: int(e["item"]))
    if not kept:
        return None, skipped
    index = np.concatenate(kept)
    provenance = {
        "model": encoder.name, "encoder_fingerprint": encoder.fingerprint,
        "dataset": getattr(dataset, "name", type(dataset).__name__),
        "dataset_fingerprint": dataset.fingerprint, "n_pairs": len(dataset),
        "skipped": skipped, "amumo_version": __version__,
    }
    emb = Embeddings.from_arrays({m: np.concatenate(rows[m]) for m in names},
                                 meta=pairs_meta(dataset, index), provenance=provenance,
                                 normalized=True)
    for m in names:
        emb._norms[m] = np.concatenate(norms[m])
    return emb, skipped


def _embed_isolating(encoder: Any, dataset: Any, out_dir: Path, shard_id: int, *,
                     batch_size: int | None, num_workers: int | None) -> tuple[Any, list[dict]]:
    """Embed a shard so that a pair which kills the worker process cannot stall the run.

    A pair whose encoding ends the process (a segfault in a tokenizer, ``os._exit``, the
    OOM killer) gives no exception: Ray restarts the actor and retries the shard, which
    would die again on the same pair, forever. So the progress is kept on disk
    (:class:`_Journal`): each retry learns which range was being embedded when the
    process died, embeds the whole shard once more (the death may have been the node's),
    then halves the range that keeps dying, saving every half that succeeds, until the
    pair is alone; that pair is left out and reported in ``skipped`` with the reason.
    After :func:`death_budget` deaths the ranges still left are given up the same way.
    Without any death this is one small file write more than embedding the shard.
    """
    n = len(dataset)
    journal = _Journal(out_dir, shard_id, n)
    state = journal.state
    parts_dir = _parts_dir(out_dir, shard_id)
    budget = death_budget(n)
    while state["todo"]:
        a, b = state["todo"][0]
        if state["total"] >= budget:
            reason = (f"not embedded: the worker process died {state['total']} times on this "
                      f"shard (pairs {a}..{n - 1} left); amumo gave up on the rest of it")
            state["bad"].extend([a2, b2, reason] for a2, b2 in state["todo"])
            state["todo"] = []
            journal.save()
            break
        deaths = journal.deaths(a, b)
        if deaths >= (WHOLE_SHARD_DEATHS if (a, b) == (0, n) else 1):
            state["todo"].pop(0)
            if b - a == 1:
                state["bad"].append([a, b, (
                    f"the worker process died while this pair was embedded ({deaths} time(s), "
                    "no Python error: a crash in the encoder or the loader); left out")])
            else:
                mid = (a + b) // 2
                state["todo"][0:0] = [[a, mid], [mid, b]]
            journal.save()
            continue
        state["running"] = [a, b]
        journal.save()
        emb, skipped = _embed_range(encoder, dataset, a, b, n, batch_size=batch_size,
                                    num_workers=num_workers)
        if (a, b) == (0, n):  # the usual case: no death, nothing saved in parts
            return emb, skipped
        parts_dir.mkdir(parents=True, exist_ok=True)
        _save_part(parts_dir / f"{a}-{b}.npz", emb, a, skipped)
        state["parts"].append([a, b])
        state["todo"].pop(0)
        state["running"] = None
        journal.save()
    return _from_parts(encoder, dataset, journal, parts_dir)


def _forget_attempts(out_dir: Path, shard_id: int) -> None:
    import shutil

    _journal_path(out_dir, shard_id).unlink(missing_ok=True)
    shutil.rmtree(_parts_dir(out_dir, shard_id), ignore_errors=True)


def embed_shard(encoder: Any, source: Any, spec: ShardSpec, out_dir: str | Path, *,
                batch_size: int | None = None, num_workers: int | None = None,
                gpu_ids: list[Any] | None = None) -> dict[str, Any]:
    """Embed one shard, write it and its job record; return a short summary.

    Runs in a Ray actor (also callable directly, e.g. to debug one shard).
    A shard whose job record exists is not recomputed. A pair that kills the
    worker process every time is isolated and reported as skipped (see
    :func:`_embed_isolating`), so a retried shard always finishes.
    """
    from amumo.analysis.stats import GapStats
    from amumo.embeddings.shards import write_shard

    out_dir = Path(out_dir)
    done = _read_record(out_dir, spec.shard_id)
    if done is not None:
        return {"shard_id": spec.shard_id, "n": done["n_pairs"], "computed": False}
    start = time.perf_counter()
    dataset = source.open(spec)
    n_in = len(dataset)
    emb, skipped = _embed_isolating(encoder, dataset, out_dir, spec.shard_id,
                                    batch_size=batch_size, num_workers=num_workers)
    skipped = [dict(entry) for entry in skipped]
    offset = spec.offset
    for entry in skipped:
        entry["shard"] = spec.shard_id
        if offset is not None:
            entry["item"] = int(entry["item"]) + offset
    record: dict[str, Any] = {
        "shard_id": spec.shard_id,
        "spec": spec.to_dict(),
        "n_input": n_in,
        "n_pairs": 0,
        "skipped": skipped,
        "stats": None,
        "worker": {"host": socket.gethostname(), "pid": os.getpid(), "gpus": gpu_ids or []},
    }
    if emb is not None:
        meta = emb.meta.copy()
        if "index" in meta.columns:  # a range of a folder: the view's original indices
            meta["item"] = meta.pop("index")
        elif offset is not None:
            meta["item"] = meta["item"] + offset
        if offset is None:
            meta.insert(1, "shard", spec.shard_id)
        emb = _replace_meta(emb, meta)
        provenance = {**emb.provenance, "shard": spec.shard_id, "skipped": skipped}
        write_shard(out_dir, spec.shard_id, emb, provenance=provenance, overwrite=True)
        record["n_pairs"] = len(emb)
        record["stats"] = GapStats().update(emb).to_dict()
    record["seconds"] = time.perf_counter() - start
    atomic_write_bytes(_record_path(out_dir, spec.shard_id),
                       json.dumps(record, default=str).encode())  # the commit point
    _forget_attempts(out_dir, spec.shard_id)
    return {"shard_id": spec.shard_id, "n": record["n_pairs"], "computed": True}


def _replace_meta(emb: Any, meta: pd.DataFrame) -> Any:
    from amumo.embeddings.container import Embeddings

    arrays = {m: emb[m] for m in emb.modalities}
    new = Embeddings.from_arrays(arrays, meta=meta, provenance=emb.provenance, normalized=True)
    for m in emb.modalities:
        new._norms[m] = emb.norms[m]
    return new


class ShardEmbedder:
    """The callable class Ray Data runs in each actor: one encoder, many shards."""

    def __init__(self, encoder: Any, source: Any, out_dir: str, batch_size: int | None,
                 num_workers: int | None) -> None:
        import ray

        self.gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        self.encoder = _on_worker_device(encoder)
        self.source = source
        self.out_dir = out_dir
        self.batch_size = batch_size
        self.num_workers = num_workers

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for row in batch.to_dict(orient="records"):
            rows.append(embed_shard(self.encoder, self.source, ShardSpec.from_dict(row),
                                    self.out_dir, batch_size=self.batch_size,
                                    num_workers=self.num_workers, gpu_ids=self.gpu_ids))
        return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- driver side


@dataclass
class ScaleResult:
    """What :func:`embed_dataset` returns (small: no embeddings in it).

    Attributes
    ----------
    out_dir : Path
        The shard folder; :meth:`open` memory-maps it.
    n_pairs : int
        Pairs embedded (readable ones).
    n_input : int
        Pairs in the source.
    n_shards : int
    computed : list of int
        Shards embedded by this call (the others were finished before).
    skipped : list of dict
        Pairs left out, with ``item`` (global index; index within its tar for
        webdataset sources), ``shard``, ``modality`` and ``error``.
    stats : GapStats
        The merged sums of every shard.
    metrics : dict
        ``stats.metrics()``: exact gap distance, paired / cone / centroid
        cosines, RMG, L2I... over all pairs.
    seconds : float
    """

    out_dir: Path
    n_pairs: int
    n_input: int
    n_shards: int
    computed: list[int]
    skipped: list[dict[str, Any]]
    stats: Any
    metrics: dict[str, float]
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def open(self, **kwargs: Any) -> Any:
        """``Embeddings.open(out_dir)``: the result, memory-mapped."""
        from amumo.embeddings.container import Embeddings

        return Embeddings.open(self.out_dir, **kwargs)

    def __repr__(self) -> str:
        return (f"ScaleResult({self.n_pairs} pairs in {self.n_shards} shards at "
                f"{str(self.out_dir)!r}; {len(self.computed)} computed now, "
                f"{len(self.skipped)} skipped; gap_distance="
                f"{self.metrics.get('gap_distance', float('nan')):.4f})")


def _map_shards(items: Any, retries: int, **kwargs: Any) -> Any:
    """``items.map_batches(ShardEmbedder, ...)`` with at most ``retries`` retries per shard.

    Ray Data 2.60 takes actor options such as ``max_task_retries`` only as extra keywords
    (deprecated, no named parameter yet); a Ray without them runs with its default
    (retry forever), where embed_shard's on-disk progress still ends every shard.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        try:
            return items.map_batches(ShardEmbedder, max_task_retries=retries, **kwargs)
        except TypeError as err:  # pragma: no cover - a Ray without the keyword
            if "max_task_retries" not in str(err):
                raise
            return items.map_batches(ShardEmbedder, **kwargs)


def _check_out_dir(out_dir: Any) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)) or not os.fspath(out_dir).strip():
        raise ValueError(f"out_dir={out_dir!r}; pass the folder the shards go to, e.g. "
                         "out_dir='/shared/embeddings/run1' (on a file system every node sees).")
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"out_dir={str(path)!r} is a file; pass a folder.")
    try:
        (path / JOBS_FOLDER).mkdir(parents=True, exist_ok=True)
        probe = path / JOBS_FOLDER / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"out_dir={str(path)!r} is not writable ({err}); pass another "
                         "folder.") from err
    return path


def _check_positive(name: str, value: Any, allow_none: bool = True) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}; pass a positive integer.")
    return int(value)


def _earlier_run(out_dir: Path, run: dict[str, Any], specs: list[ShardSpec]) -> list[str]:
    """What the shards already in ``out_dir`` say about the run that wrote them, compared
    with ``run``: the names of the settings that differ (empty when nothing contradicts).

    Used when ``_jobs/run.json`` is missing (deleted, or a folder copied without it):
    the manifest's provenance, the shards' markers (encoder fingerprint) and the job
    records (which pairs each shard holds, i.e. the shard size) still tell.
    """
    from amumo.embeddings.shards import MARKER, finished_shards

    differ: set[str] = set()
    keys = ("encoder_fingerprint", "source_fingerprint", "shard_size", "modalities")
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        try:
            provenance = json.loads(manifest_path.read_text()).get("provenance") or {}
        except (OSError, json.JSONDecodeError, AttributeError):
            provenance = {}
        differ |= {k for k in keys if k in provenance and provenance[k] != run.get(k)}
    planned = {spec.shard_id: spec.to_dict() for spec in specs}
    for record_path in sorted((out_dir / JOBS_FOLDER).glob("shard-*.json")):
        try:
            record = json.loads(record_path.read_text())
            shard_id, spec = int(record["shard_id"]), record["spec"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        if planned.get(shard_id) != spec:
            differ.add("shard_size")  # the same shard id holds other pairs
    for shard_id in finished_shards(out_dir):
        try:
            marker = json.loads((out_dir / f"shard-{shard_id:06d}" / MARKER).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        fingerprint = (marker.get("provenance") or {}).get("encoder_fingerprint")
        if fingerprint is not None and fingerprint != run["encoder_fingerprint"]:
            differ.add("encoder_fingerprint")
    return sorted(differ)


def _run_record(out_dir: Path, run: dict[str, Any], specs: list[ShardSpec]) -> None:
    path = out_dir / JOBS_FOLDER / _RUN
    keys = ("encoder_fingerprint", "source_fingerprint", "shard_size", "modalities")
    if path.exists():
        try:
            before = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            before = None
        if before is not None and any(before.get(k) != run.get(k) for k in keys):
            changed = [k for k in keys if before.get(k) != run.get(k)]
            raise ValueError(
                f"out_dir={str(out_dir)!r} holds shards of another run (different {changed}); "
                "pass a new out_dir, or delete this one to start over."
            )
        if before is not None:
            return
    # No (readable) run record: the shards already there must not come from another run,
    # or the result would mix two models or two shard plans.
    changed = _earlier_run(out_dir, run, specs)
    if changed:
        raise ValueError(
            f"out_dir={str(out_dir)!r} holds shards of another run (different {changed}, "
            f"read from its shards and job records: its run record {JOBS_FOLDER}/{_RUN} is "
            "missing); pass a new out_dir, or delete this one to start over."
        )
    atomic_write_bytes(path, json.dumps(run, indent=1, default=str).encode())


def embed_dataset(
    encoder: Any,
    source: Any,
    out_dir: str | os.PathLike[str],
    *,
    batch_size: int | None = None,
    concurrency: int = 1,
    num_gpus: float | None = None,
    num_cpus: float | None = None,
    shard_size: int = 4096,
    num_workers: int | None = None,
) -> ScaleResult:
    """Embed every pair of ``source`` on a Ray cluster into a shard folder; resumable.

    Parameters
    ----------
    encoder : Encoder
        E.g. ``am.models.OpenCLIP("ViT-B-32", pretrained=..., device="auto")``;
        shipped to every actor (build it without loading the model: the model
        is then built in each actor, on its GPU). Needs a fingerprint.
    source : path, list of paths or a source object
        A Parquet dataset (a ``.parquet`` file or a folder of them: image bytes
        or paths + caption), a folder of images with ``captions.csv`` /
        ``.jsonl`` / ``.txt`` sidecars, or webdataset ``.tar`` shards (a file,
        a folder, a list or a glob). See :func:`amumo.scale.as_source`.
    out_dir : path
        Where the shards go; on a file system every node can write (NFS, a
        mounted bucket) when the cluster has several machines.
    batch_size : int, optional
        Pairs per forward pass (default by device, as :func:`amumo.embed`).
    concurrency : int, default 1
        Actors in the pool (e.g. the number of GPUs of the cluster).
    num_gpus : float, optional
        GPUs per actor; default 1 when the cluster has GPUs, else 0.
    num_cpus : float, optional
        CPUs reserved per actor (Ray's default: 1); on a GPU node give each
        actor its share of the cores, they decode the images.
    shard_size : int, default 4096
        Pairs per shard (Parquet and folder sources; one shard per tar file for
        webdataset) -- the unit of work, of retry and of resuming.
    num_workers : int, optional
        Loader processes inside each actor; default ``num_cpus - 1`` (0 with
        Ray's default of one CPU per actor), so loading uses the reserved cores.

    Returns
    -------
    ScaleResult
        Counts, skipped pairs, the merged :class:`~amumo.GapStats` and its exact
        ``metrics``; ``result.open()`` memory-maps the embeddings.

    Examples
    --------
    >>> import ray, amumo as am
    >>> from amumo.scale import embed_dataset
    >>> ray.init(address="auto")  # doctest: +SKIP
    >>> enc = am.models.OpenCLIP("ViT-B-32", pretrained="laion2b_s34b_b79k")  # doctest: +SKIP
    >>> result = embed_dataset(enc, "/mnt/shared/laion/", "/mnt/shared/emb/laion",
    ...                        concurrency=8, num_gpus=1, num_cpus=15)  # doctest: +SKIP
    >>> result.metrics["gap_distance"]; emb = result.open()  # doctest: +SKIP
    """
    ray = _require_ray()
    from amumo.analysis.stats import GapStats
    from amumo.embeddings.shards import write_manifest

    started = time.perf_counter()
    for attr in ("name", "modalities", "fingerprint", "encode"):
        if not hasattr(encoder, attr):
            raise TypeError(f"encoder is a {type(encoder).__name__} without {attr!r}; pass an "
                            "amumo.models encoder (OpenCLIP, CallableEncoder, ...).")
    if encoder.fingerprint is None:
        raise ValueError(
            f"{encoder.name} has no fingerprint; embed_dataset needs one to know that resumed "
            "shards come from the same model (e.g. CallableEncoder(..., fingerprint='m-v1'))."
        )
    if tuple(encoder.modalities)[:2] != ("image", "text") and not {"image", "text"} <= set(
            encoder.modalities):
        raise ValueError(f"{encoder.name} encodes {encoder.modalities}; embed_dataset embeds "
                         "image-text pairs.")
    shard_size = _check_positive("shard_size", shard_size, allow_none=False)
    concurrency = _check_positive("concurrency", concurrency, allow_none=False)
    batch_size = _check_positive("batch_size", batch_size)
    if num_workers is None:
        num_workers = max(0, int(num_cpus or 1) - 1)
    src = as_source(source)
    out = _check_out_dir(out_dir)
    specs = src.plan(shard_size)
    if not specs:
        raise ValueError(f"{src.describe()} holds no pairs.")
    run = {
        "format": "amumo.scale.embed_dataset", "amumo_version": __version__,
        "encoder": encoder.name, "encoder_fingerprint": encoder.fingerprint,
        "source": src.describe(), "source_kind": src.kind,
        "source_fingerprint": src.fingerprint(), "shard_size": shard_size,
        "n_shards": len(specs), "modalities": ["image", "text"],
    }
    _run_record(out, run, specs)
    todo = [s for s in specs if _read_record(out, s.shard_id) is None]
    if todo:
        if not ray.is_initialized():
            ray.init()
        if num_gpus is None:
            num_gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        items = ray.data.from_items([s.to_dict() for s in todo],
                                    override_num_blocks=len(todo))
        # Ray Data restarts a dead actor (max_restarts=-1) and retries its task. A shard
        # is idempotent, and each retry of a shard whose pair kills the process narrows
        # the pair down on disk (embed_shard), so a shard needs at most death_budget
        # retries; Ray's default of infinite task retries would hide anything else that
        # kills the process every time (a hang), so they are bounded here.
        retries = death_budget(max(shard_size, 1 << 20)) + 4
        try:
            done = _map_shards(items, retries, fn_constructor_kwargs={
                "encoder": encoder, "source": src, "out_dir": str(out),
                "batch_size": batch_size, "num_workers": num_workers},
                batch_size=1, batch_format="pandas", concurrency=concurrency,
                num_gpus=num_gpus or None, num_cpus=num_cpus).take_all()
        except Exception as err:
            left = [s.shard_id for s in todo if _read_record(out, s.shard_id) is None]
            if not left:
                raise
            raise RuntimeError(
                f"Ray gave up on shard(s) {left[:20]} of {str(out)!r} after up to {retries} "
                f"retries each ({type(err).__name__}: {str(err)[:500]}); the finished shards "
                "are kept: fix the cause and rerun embed_dataset with the same arguments to "
                "finish the rest."
            ) from err
        computed = sorted(int(r["shard_id"]) for r in done if r["computed"])
    else:
        computed = []
    # the aggregate: merged sums from the job records, no embedding read here
    stats = GapStats()
    skipped: list[dict[str, Any]] = []
    n_pairs = n_input = 0
    for spec in specs:
        record = _read_record(out, spec.shard_id)
        if record is None:
            raise RuntimeError(
                f"shard {spec.shard_id} has no job record after the run; rerun "
                "embed_dataset with the same arguments to finish it."
            )
        n_pairs += int(record["n_pairs"])
        n_input += int(record["n_input"])
        skipped.extend(record["skipped"])
        if record["stats"] is not None:
            stats.merge(GapStats.from_dict(record["stats"]))
    provenance = {**run, "n_pairs": n_pairs, "n_input": n_input, "skipped": skipped}
    write_manifest(out, provenance=provenance, consolidate=False)
    return ScaleResult(out_dir=out, n_pairs=n_pairs, n_input=n_input, n_shards=len(specs),
                       computed=computed, skipped=skipped, stats=stats,
                       metrics=stats.metrics() if n_pairs else {},
                       seconds=time.perf_counter() - started, provenance=provenance)
