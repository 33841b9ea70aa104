"""Exploring precomputed embeddings needs no torch: amumo works with torch unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"torch", "torchvision", "open_clip"}:
                raise ImportError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, NoTorch())

    import amumo as am
    emb = am.datasets.clip_coco500()
    assert round(am.gap_distance(emb), 4) == 0.8514
    am.metrics(emb, include_separability=False)
    am.Explorer(emb)
    am.Comparer({"a": emb, "b": am.datasets.clip_coco500(random_init=True)})
    from amumo.data import SyntheticShapes
    assert len(SyntheticShapes(3)) == 3
    try:
        am.models.tiny_shapes().encode("text", ["a small red circle in the center"])
    except ImportError as err:
        assert "amumo[models]" in str(err), err
    else:
        raise AssertionError("tiny_shapes encoded without torch?")
    assert not any(m.split(".")[0] in {"torch", "open_clip"} for m in sys.modules)
    print("ok without torch")
    """
)


def test_import_and_explore_without_torch():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok without torch" in result.stdout
