"""The Heatmap's kernel side (amumo.widgets.heatmap): the default clustering shows blocks
on the shipped data, and the colour range follows the data, can be locked, and its ends
are checked at the boundary (Heatmap and Explorer share it).

(Python side of every widget, linking and bytes sent: tests/test_widgets.py; heatmap
rows and the overview: tests/test_widget_matrix.py.)
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


# ---------------------------------------------------------------- clustering
def test_default_clustering_shows_blocks_on_coco(coco):
    heatmap = am.Heatmap(coco, cluster=True)
    assert heatmap.cluster_method == "ward" and heatmap.cluster_k == 6
    sizes = np.bincount(heatmap.cluster_labels)
    # average linkage put 484 of 500 pairs in one cluster; ward gives balanced blocks
    assert len(sizes) == 6 and sizes.max() < 0.35 * len(coco)
    assert np.frombuffer(heatmap.cluster_bounds, np.int32).size == 5


# ---------------------------------------------------------------- colour range
def _cross_codes(widget) -> np.ndarray:
    size = widget.overview_size
    codes = np.frombuffer(widget.overview, np.uint8).reshape(size, size)
    return codes[: size // 2, size // 2 :]


def test_colour_range_follows_the_data_and_can_be_locked(coco):
    ex = am.Explorer(coco)
    assert ex.scale == [pytest.approx(-0.05), 1.0]
    ex.lam = -1.0  # widen the gap: image-text similarities fall below -0.05
    low = ex.scale[0]
    assert low < -0.2
    rows = am.shift(coco, -1.0)
    true_min = float((rows["image"] @ rows["text"].T).min())
    assert low <= true_min < low + 0.05
    cross = _cross_codes(ex)
    assert (cross == 0).mean() < 0.01  # not saturated to one colour
    assert len(np.unique(cross)) > 50
    # locked: the range in use stays while lambda changes
    ex.scale_locked = True
    ex.lam = 1.0
    assert ex.scale == [pytest.approx(low), 1.0]
    ex.closed = True
    assert ex.scale == [pytest.approx(low), 1.0]
    # unlocked: follows the data again
    ex.scale_locked = False
    assert ex.scale[0] > low
    # explicit ends win over the automatic range, and are checked against each other
    ex.vmax = 0.9
    ex.vmin = 0.1
    assert ex.scale == [pytest.approx(0.1), pytest.approx(0.9)]
    ex.vmin = None
    ex.lam = -1.0
    assert ex.scale[1] == pytest.approx(0.9) and ex.scale[0] < 0.9


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
