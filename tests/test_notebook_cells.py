"""Single notebook cells run on their own (the whole notebooks run in tests/test_notebooks.py):
what the cells that once tripped a new user display and print."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cell(notebook: str, contains: str) -> str:
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and contains in c.source)


def _run(source: str, namespace: dict):
    """Execute a cell like IPython: returns the value of a final expression (or None)."""
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = ast.Module(body=tree.body[:-1] if last else tree.body, type_ignores=[])
    exec(compile(body, "<cell>", "exec"), namespace)  # noqa: S102 - the repository's own cell
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307
    return None


class _Offline(Exception):
    pass


def test_compare_models_displays_the_pretrained_comparer(monkeypatch):
    """The last cell's Comparer sits inside `if pretrained:`; it must be display()ed."""
    import IPython.display

    import amumo.models

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    monkeypatch.setattr(amumo.models, "WeightsUnavailableError", _Offline)
    fake_am = types.SimpleNamespace(
        embed=lambda enc, data: f"emb of {enc}", Comparer=lambda embs: ("Comparer", embs)
    )
    namespace = {"am": fake_am, "shapes": "shapes", "OpenCLIP": lambda a, pretrained: pretrained}
    result = _run(_cell("compare_models.ipynb", "WeightsUnavailableError"), namespace)
    assert result is None and len(shown) == 1 and shown[0][0] == "Comparer"
    assert sorted(shown[0][1]) == ["ViT-B-32 laion2b_s34b_b79k", "ViT-B-32 openai"]


def test_compare_models_offline_prints_the_whole_message(monkeypatch, capsys):
    import amumo.models

    monkeypatch.setattr(amumo.models, "WeightsUnavailableError", _Offline)

    def offline(arch, pretrained):
        raise _Offline("no weights\nDownload the weights file ...\npass its path")

    namespace = {"am": None, "shapes": None, "OpenCLIP": offline}
    _run(_cell("compare_models.ipynb", "WeightsUnavailableError"), namespace)
    out = capsys.readouterr().out
    assert out.count("pass its path") == 2 and "skipped ViT-B-32 openai" in out


def test_getting_started_prints_all_of_the_offline_weights_message(monkeypatch, capsys):
    import amumo.models

    monkeypatch.setattr(amumo.models, "WeightsUnavailableError", _Offline)
    message = "needs pretrained weights\nDownload the weights file\ncopy it and pass its path"

    def open_clip(arch, pretrained=None, seed=0):
        if pretrained is not None:
            raise _Offline(message)
        return "random init"

    monkeypatch.setattr(amumo.models, "OpenCLIP", open_clip)
    fake_am = types.SimpleNamespace(
        embed=lambda enc, data, batch_size: (enc, data), Explorer=lambda emb, dataset: emb
    )
    namespace = {"am": fake_am, "SyntheticShapes": lambda n, seed: f"{n} shapes"}
    result = _run(_cell("getting_started.ipynb", "WeightsUnavailableError"), namespace)
    assert capsys.readouterr().out.strip() == message
    assert result == ("random init", "24 shapes")


@pytest.mark.slow
def test_augmentations_strip_is_readable_and_axes_are_named():
    namespace: dict = {}
    _run(_cell("augmentations.ipynb", "tiny_shapes()"), namespace)
    strip = _run(_cell("augmentations.ipynb", "rotated = Augmented("), namespace)
    titles = [a.text for a in strip.layout.annotations]
    assert titles == [f"{angle}°" for angle in range(0, 360, 40)]
    assert strip.layout.height >= 200
    assert not strip.layout.xaxis.showticklabels  # no overlapping pixel ticks
    line = _run(_cell("augmentations.ipynb", "rot_emb = am.embed("), namespace)
    assert line.layout.yaxis.title.text == "cosine similarity"
    assert line.layout.xaxis.title.text == "rotation angle (°)"
    assert line.layout.legend.title.text not in ("variable", None)
