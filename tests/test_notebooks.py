"""Every notebook runs top to bottom offline, and is committed with outputs cleared."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


# Notebooks executed (and checked in more detail) by a dedicated test: not run twice.
DEDICATED = {
    "downstream.ipynb": "tests/test_experiments_notebook.py",
    "training_lab.ipynb": "tests/test_training_notebook.py",
    "teaching/modality_gap_classroom.ipynb": "tests/test_teaching.py",
}


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT / "notebooks"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ must hold the getting-started tour and friends"
    assert (ROOT / "notebooks/getting_started.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_outputs_are_cleared(path: Path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"{_id(path)} cell {index} has outputs; clear them"
        assert cell.get("execution_count") is None, f"{_id(path)} cell {index} has a count"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_runs_offline(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from nbclient import NotebookClient

    if _id(path) in DEDICATED:
        dedicated = ROOT / DEDICATED[_id(path)]
        assert dedicated.exists(), f"{dedicated} should execute {_id(path)}"
        assert path.name in dedicated.read_text()
        pytest.skip(f"executed by {DEDICATED[_id(path)]}")

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("AMUMO_CACHE_DIR", str(tmp_path / "cache"))  # a cold cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    # jupyter_client starts the native "python3" kernel with sys.executable (the .venv).
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    print(f"{_id(path)} ran in {elapsed:.1f} s with {sys.executable}")
