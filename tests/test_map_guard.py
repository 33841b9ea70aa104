"""A memory-mapped file truncated by another process gives a named error, not SIGBUS
(amumo.embeddings._map_guard).

Each case runs in a subprocess: on code without the guard the first read after the
truncation kills that process with signal 7 (SIGBUS), which fails the test instead of
killing pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import amumo as am
from amumo.embeddings import MappedFileChangedError
from amumo.embeddings._rows import release_rows, take_rows

ROOT = Path(am.__file__).resolve().parents[1]

PRELUDE = textwrap.dedent("""
    import os, subprocess, sys
    import numpy as np
    import amumo as am
    from amumo.embeddings import MappedFileChangedError

    class NothingRead(Exception):
        pass

    def truncate(path, size):  # by another process, as in the report
        subprocess.run([sys.executable, "-c", f"import os; os.truncate({str(path)!r}, {size})"],
                       check=True)

    def expect_named_error(label, call):
        try:
            call()
        except NothingRead:
            print("named: (nothing read)", label)
        except MappedFileChangedError as err:
            assert "changed under the memory map" in str(err) and "reopen" in str(err), err
            print("named:", label)
        else:
            raise AssertionError(f"{label}: no error after the truncation")
""")

CHECKS = textwrap.dedent("""
    def fingerprint():
        if emb._fingerprint is not None:  # an opened shard folder: from checksums, no read
            raise NothingRead
        return emb.fingerprint

    checks = {
        "gap_distance": lambda: am.gap_distance(emb),
        "GapStats": lambda: am.GapStats().update(emb).metrics(),
        "metrics": lambda: am.metrics(emb),
        "close_gap": lambda: am.close_gap(emb),
        "subset": lambda: emb.subset([0, 1, len(emb) - 1]),
        "fingerprint": fingerprint,
        "stacked": lambda: emb.stacked(),
        "save": lambda: emb.save(os.path.join(os.path.dirname(victim), "copy.npz")),
    }
    for label, call in checks.items():
        expect_named_error(label, call)
    print("survived")
""")


def _unit(rng, n, d):
    x = rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _run(tmp_path, body: str) -> str:
    script = tmp_path / "case.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + CHECKS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]), "AMUMO_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=240)
    assert proc.returncode == 0, (
        f"the process ended with {proc.returncode} (-7 = SIGBUS: the kernel would have died)"
        f"\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
    assert "survived" in proc.stdout
    return proc.stdout


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    return {"image": _unit(rng, 3000, 32), "text": _unit(rng, 3000, 32)}


def test_truncated_npy_loaded_with_mmap(tmp_path, rows):
    path = tmp_path / "pairs.npy"
    np.save(path, np.stack([rows["image"], rows["text"]]))
    out = _run(tmp_path, f"""
        victim = {str(path)!r}
        emb = am.Embeddings.load(victim, mmap=True)
        assert emb.provenance["mmap"] == {{"image": "source", "text": "source"}}
        truncate(victim, 4096)
    """)
    assert out.count("named:") == 8


def test_truncated_npz_member_and_normalised_copy(tmp_path, rows):
    path = tmp_path / "pairs.npz"
    am.Embeddings.from_arrays(rows).save(path)
    _run(tmp_path, f"""
        victim = {str(path)!r}
        emb = am.Embeddings.load(victim, mmap=True)
        truncate(victim, os.path.getsize(victim) // 2)
    """)
    raw = tmp_path / "raw.npy"  # not unit length: a normalised copy in the cache is mapped
    np.save(raw, np.stack([rows["image"] * 3, rows["text"] * 2]))
    _run(tmp_path, f"""
        emb = am.Embeddings.load({str(raw)!r}, mmap=True)
        victim = emb.provenance["mmap"]["text"]
        assert victim.endswith("text.npy"), victim
        truncate(victim, 200)
    """)


def test_truncated_shard_of_an_opened_folder(tmp_path, rows):
    from amumo.embeddings.shards import write_manifest, write_shard

    one = tmp_path / "one"
    write_shard(one, 0, rows)
    _run(tmp_path, f"""
        emb = am.Embeddings.open({str(one)!r})
        victim = {str(one / "shard-000000" / "emb1.npy")!r}
        truncate(victim, 1000)
    """)
    several = tmp_path / "several"
    for k in range(3):
        write_shard(several, k, {m: a[k * 1000:(k + 1) * 1000] for m, a in rows.items()})
    write_manifest(several)
    _run(tmp_path, f"""
        emb = am.Embeddings.open({str(several)!r})
        victim = emb.provenance["consolidated"] + "/emb0.npy"
        truncate(victim, 50_000)
    """)


def test_between_blocks_of_a_pass(tmp_path, rows):
    """release_rows / take_rows, called by every blocked pass after each block, check the
    file before the next block is read."""
    path = tmp_path / "rows.npy"
    np.save(path, rows["image"])
    mapped = np.load(path, mmap_mode="r")
    release_rows(mapped, slice(0, 100))  # intact: fine
    os.truncate(path, 8192)
    with pytest.raises(MappedFileChangedError, match=r"rows\.npy changed under the memory map"):
        release_rows(mapped, slice(0, 100))
    with pytest.raises(MappedFileChangedError):
        take_rows(mapped, np.array([0, 5]))
    in_memory = np.ones((3, 2))
    release_rows(in_memory)  # no map: nothing to check


def test_a_file_replaced_by_rename_is_still_readable(tmp_path, rows):
    """The safe way to rewrite (new file + rename, as amumo writes) never disturbs a map."""
    path = tmp_path / "pairs.npy"
    np.save(path, np.stack([rows["image"], rows["text"]]))
    emb = am.Embeddings.load(path, mmap=True)
    before = am.gap_distance(emb)
    np.save(tmp_path / "new.npy", np.stack([rows["text"], rows["image"]])[:, :10])
    os.replace(tmp_path / "new.npy", path)
    assert am.gap_distance(emb) == before
