"""The Explorer's kernel side (amumo.widgets.explorer): λ it cannot show, the colour range
checked at the boundary, and at scale what is sent, background close-the-gap and jobs.

(Python side of every widget, linking and bytes sent: tests/test_widgets.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import amumo as am


@pytest.fixture(scope="module")
def coco():
    return am.datasets.clip_coco500()


@pytest.fixture(scope="module")
def small(coco):
    return coco.subset(range(6))


# ---------------------------------------------------------------- λ and colour range


def test_explorer_huge_lambda_keeps_metrics_current(coco):
    ex = am.Explorer(coco)
    ex.lam = 1e300
    assert ex.error == ""
    after = {r["key"]: r["after"] for r in ex.metrics["rows"]}
    assert after["gap_distance"] == pytest.approx(2.0, abs=1e-6)  # the limit: antipodal centroids
    assert "1e+300" in ex.metrics["note"]
    with pytest.raises(traitlets.TraitError, match="finite"):
        ex.lam = float("nan")


def test_explorer_reverts_lambda_it_cannot_show():
    x = np.zeros((3, 4))
    x[:, 0] = 1.0
    emb = am.Embeddings.from_arrays({"image": x, "text": -x})  # identical antipodal pairs
    ex = am.Explorer(emb)
    ex.lam = 1.0  # puts every row on the origin
    assert ex.lam == 0.0
    assert "lam=1.0 cannot be shown" in ex.error
    after = {r["key"]: r["after"] for r in ex.metrics["rows"]}
    assert after["gap_distance"] == pytest.approx(am.gap_distance(emb))


@pytest.mark.parametrize("kwargs", [{"vmin": 2.0}, {"vmax": -1.0}, {"vmin": float("nan")},
                                    {"vmin": 0.5, "vmax": 0.2}])
def test_colour_range_is_validated_at_the_boundary(small, kwargs):
    with pytest.raises(traitlets.TraitError, match="vmin|vmax"):
        am.Heatmap(small, **kwargs)
    ex = am.Explorer(small)
    with pytest.raises(traitlets.TraitError):
        for name, value in kwargs.items():
            setattr(ex, name, value)
    ex.lam = 0.5  # later changes keep working
    ex.closed = True
    assert ex.scale[0] < ex.scale[1]
