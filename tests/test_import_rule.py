"""The import rule of docs/architecture.md: a layer imports only the layers above it (and
the helpers), and nothing inside amumo imports the package face ``amumo``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "amumo"

#: layer -> the amumo subpackages it must not import (the layers below it)
FORBIDDEN = {
    "analysis": ("data", "models", "experiments", "training", "scale", "widgets", "datasets"),
    "embeddings": ("analysis", "experiments", "training", "scale", "widgets", "datasets"),
    "models": ("embeddings", "analysis", "experiments", "training", "scale", "widgets",
               "datasets"),
    "data": ("models", "embeddings", "analysis", "experiments", "training", "scale", "widgets",
             "datasets"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = re.match(r"\s*(?:from|import)\s+(amumo(?:\.[\w.]+)?)", line)
        if match:
            found.append((number, match.group(1)))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_no_layer_below_it(layer):
    broken = [
        f"{path.relative_to(PACKAGE.parent)}:{number} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for number, module in _imports(path)
        if module.split(".")[1:2] and module.split(".")[1] in FORBIDDEN[layer]
    ]
    assert not broken, broken


def test_nothing_inside_imports_the_package_face():
    broken = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py")) if path.name != "__init__.py" or
        path.parent != PACKAGE
        for number, module in _imports(path) if module == "amumo"
    ]
    assert not broken, broken


def test_the_check_sees_a_break(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from amumo.embeddings.cache import resolve_cache_dir\n")
    assert _imports(bad) == [(2, "amumo.embeddings.cache")]
