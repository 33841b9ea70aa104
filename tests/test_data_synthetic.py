"""SyntheticShapes, the PairedDataset protocol and the caption filter."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from amumo.data import DatasetView, PairedDataset, SyntheticShapes, synthetic


def test_shapes_and_types():
    ds = SyntheticShapes(12, seed=0, image_size=48)
    assert isinstance(ds, PairedDataset)
    assert len(ds) == 12 and ds.modalities == ("image", "text")
    image = ds.item("image", 3)
    assert isinstance(image, Image.Image) and image.size == (48, 48) and image.mode == "RGB"
    assert isinstance(ds.item("text", 3), str)
    arr = ds.images()
    assert arr.shape == (12, 48, 48, 3) and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr[3], np.asarray(image))
    assert ds.images([5, 1], size=32).shape == (2, 32, 32, 3)
    for column in ("id", "shape", "colour", "size", "position", "background", "caption"):
        assert column in ds.meta.columns
    assert ds.meta["caption"].tolist() == [ds.item("text", i) for i in range(12)]


def test_captions_follow_the_template_and_vocabulary():
    ds = SyntheticShapes(200, seed=3)
    pattern = re.compile(
        r"^a (small|medium|large) (\w+) (\w+) in the (top left|top right|bottom left|"
        r"bottom right|center)$"
    )
    vocab = set(synthetic.VOCABULARY)
    for row in ds.meta.itertuples():
        assert pattern.match(row.caption), row.caption
        assert set(row.caption.split()) <= vocab
        assert row.caption == synthetic.caption_for(row.shape, row.colour, row.size, row.position)
    # every attribute value occurs in a few hundred pairs
    for name, values in synthetic.ATTRIBUTES.items():
        assert set(ds.meta[name]) == set(values)


def test_pixels_match_attributes():
    ds = SyntheticShapes(60, seed=5)
    arr = ds.images().astype(int)
    for i, row in ds.meta.iterrows():
        corner = arr[i, 1, 1] if row.position != "top left" else arr[i, -2, -2]
        np.testing.assert_allclose(corner, synthetic.BACKGROUND_RGB[row.background], atol=1)
        colour = np.asarray(synthetic.COLOUR_RGB[row.colour])
        near = (np.abs(arr[i] - colour).max(axis=-1) <= synthetic._JITTER_RGB + 1).sum()
        assert near > 10, (i, row.caption)
    # small shapes cover fewer pixels than large ones
    bg = np.array([synthetic.BACKGROUND_RGB[b] for b in ds.meta.background])
    covered = (np.abs(arr - bg[:, None, None, :]).max(axis=-1) > 40).sum(axis=(1, 2))
    sizes = ds.meta["size"].to_numpy()
    assert covered[sizes == "small"].mean() < covered[sizes == "large"].mean() / 2


def test_deterministic_under_seed():
    a, b, c = SyntheticShapes(20, seed=1), SyntheticShapes(20, seed=1), SyntheticShapes(20, seed=2)
    np.testing.assert_array_equal(a.images(), b.images())
    assert a.captions == b.captions and a.fingerprint == b.fingerprint
    assert a.captions != c.captions and a.fingerprint != c.fingerprint
    assert a.fingerprint != SyntheticShapes(21, seed=1).fingerprint
    assert a.fingerprint != SyntheticShapes(20, seed=1, image_size=32).fingerprint
    # a prefix of a larger dataset with the same seed is not guaranteed, but items are stable
    assert a.item("text", 7) == a.item("text", 7)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n": 0}, ValueError),
        ({"n": 2.5}, TypeError),
        ({"n": 3, "image_size": 8}, ValueError),
        ({"n": 3, "seed": "a"}, TypeError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        SyntheticShapes(**kwargs)


def test_item_errors_are_clear():
    ds = SyntheticShapes(4)
    with pytest.raises(ValueError, match="audio.*choose one of"):
        ds.item("audio", 0)
    with pytest.raises(IndexError, match="out of range for 4"):
        ds.item("text", 4)
    assert ds.item("text", -1) == ds.item("text", 3)


def test_filter_any_all_regex():
    ds = SyntheticShapes(300, seed=0)
    caps = ds.captions
    any_view = ds.filter(text_contains=["red", "circle"], mode="any")
    all_view = ds.filter(text_contains=["red", "circle"], mode="all")
    assert isinstance(any_view, DatasetView)
    expect_any = [i for i, c in enumerate(caps) if "red" in c or "circle" in c]
    expect_all = [i for i, c in enumerate(caps) if "red" in c and "circle" in c]
    assert any_view.meta["index"].tolist() == expect_any
    assert all_view.meta["index"].tolist() == expect_all
    assert 0 < len(all_view) < len(any_view) < len(ds)
    # items stay aligned with meta and with the original dataset
    for k, i in enumerate(expect_all):
        assert all_view.item("text", k) == caps[i] == all_view.meta["caption"][k]
    np.testing.assert_array_equal(all_view.images([0]), ds.images([expect_all[0]]))
    # regex is ANDed with text_contains; a string counts as one term; case-insensitive
    rx = ds.filter(text_contains="RED", regex=r"top (left|right)$")
    assert rx.meta["index"].tolist() == [
        i for i, c in enumerate(caps) if "red" in c and re.search(r"top (left|right)$", c)
    ]
    assert len(ds.filter(text_contains="RED", case=True)) == 0
    # nested views keep indices of the root dataset
    nested = any_view.filter(text_contains=["top left"])
    assert nested.meta["index"].tolist() == [i for i in expect_any if "top left" in caps[i]]
    assert nested.parent is ds
    # no condition keeps everything; no match is an empty view
    assert len(ds.filter()) == len(ds)
    assert len(ds.filter(["zebra"])) == 0
    assert any_view.fingerprint != all_view.fingerprint != ds.fingerprint


def test_filter_bad_arguments():
    ds = SyntheticShapes(5)
    with pytest.raises(ValueError, match="mode"):
        ds.filter(["red"], mode="some")
    with pytest.raises(ValueError, match="regular expression"):
        ds.filter(regex="(")
    with pytest.raises(TypeError, match="text_contains"):
        ds.filter([1, 2])


def test_subset_and_getitem():
    ds = SyntheticShapes(10, seed=4)
    view = ds.subset([9, 0, 3])
    assert view.meta["index"].tolist() == [9, 0, 3]
    assert view.captions == [ds.captions[i] for i in (9, 0, 3)]
    assert view[0]["text"] == ds.captions[9]
    with pytest.raises(IndexError):
        ds.subset([10])
    with pytest.raises(TypeError):
        ds.subset(np.ones(10, dtype=bool))
