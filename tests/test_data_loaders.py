"""ImageTextFolder, COCOCaptions, ImageTextParquet and Augmented on small generated files."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from amumo.data import (
    AUGMENTATIONS,
    Augmented,
    COCOCaptions,
    ImageTextFolder,
    ImageTextParquet,
    PairedDataset,
    SyntheticShapes,
    UnreadableItemError,
)


def _png(colour, size=(12, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path):
    colours = ["red", "green", "blue"]
    for c in colours:
        (tmp_path / f"{c}.png").write_bytes(_png(c))
    return tmp_path, colours


# ---------------------------------------------------------------- ImageTextFolder
def test_folder_csv(folder):
    root, colours = folder
    pd.DataFrame({"file": [f"{c}.png" for c in colours],
                  "caption": [f"a {c} box" for c in colours],
                  "split": ["a", "b", "c"]}).to_csv(root / "captions.csv", index=False)
    ds = ImageTextFolder(root)
    assert isinstance(ds, PairedDataset) and len(ds) == 3
    assert ds.captions == ["a red box", "a green box", "a blue box"]
    assert ds.meta["split"].tolist() == ["a", "b", "c"] and ds.meta["id"][0] == "red.png"
    assert ds.item("image", 1).getpixel((0, 0)) == (0, 128, 0)
    assert ds.images().shape == (3, 10, 12, 3)
    assert ds.filter(["green"]).meta["index"].tolist() == [1]
    fp = ds.fingerprint
    assert ImageTextFolder(root).fingerprint == fp
    (root / "blue.png").write_bytes(_png("yellow", (12, 11)))
    assert ImageTextFolder(root).fingerprint != fp  # content change is noticed


def test_folder_jsonl_and_custom_columns(folder):
    root, colours = folder
    lines = [json.dumps({"img": f"{c}.png", "sentence": f"{c}!"}) for c in colours]
    (root / "pairs.jsonl").write_text("\n".join(lines) + "\n\n")
    ds = ImageTextFolder(root, captions="pairs.jsonl", image_column="img")
    assert ds.captions == ["red!", "green!", "blue!"]
    with pytest.raises(ValueError, match="image_column='nope' is not a column"):
        ImageTextFolder(root, captions="pairs.jsonl", image_column="nope")
    with pytest.raises(ValueError, match="no image column"):
        ImageTextFolder(root, captions="pairs.jsonl")
    (root / "bad.jsonl").write_text('{"file": "red.png", "caption": "x"}\n{oops\n')
    with pytest.raises(ValueError, match="line 2"):
        ImageTextFolder(root, captions="bad.jsonl")


def test_folder_sidecar_txt(folder):
    root, colours = folder
    for c in colours:
        (root / f"{c}.txt").write_text(f"  {c} square \n")
    ds = ImageTextFolder(root)
    assert sorted(ds.captions) == ["blue square", "green square", "red square"]
    (root / "red.txt").unlink()
    with pytest.raises(ValueError, match=r"lack a \.txt caption.*red\.png"):
        ImageTextFolder(root)


def test_folder_errors(folder, tmp_path_factory):
    root, colours = folder
    with pytest.raises(FileNotFoundError, match="not a folder"):
        ImageTextFolder(root / "missing")
    pd.DataFrame({"file": ["red.png", "gone.png"], "caption": ["a", "b"]}).to_csv(
        root / "captions.csv", index=False)
    with pytest.raises(FileNotFoundError, match="gone.png"):
        ImageTextFolder(root)
    pd.DataFrame({"file": ["red.png", "blue.png"], "caption": ["a", " "]}).to_csv(
        root / "captions.csv", index=False)
    with pytest.raises(ValueError, match="empty caption"):
        ImageTextFolder(root)
    (root / "captions.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="both captions.csv and captions.jsonl"):
        ImageTextFolder(root)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ValueError, match="no captions.csv"):
        ImageTextFolder(empty)


def test_corrupt_image_raises_unreadable(folder):
    root, colours = folder
    (root / "red.png").write_bytes(b"not an image at all")
    (root / "green.png").write_bytes(_png("green", (64, 64))[:60])  # truncated
    pd.DataFrame({"file": [f"{c}.png" for c in colours],
                  "caption": colours}).to_csv(root / "captions.csv", index=False)
    ds = ImageTextFolder(root)
    with pytest.raises(UnreadableItemError, match="red.png"):
        ds.item("image", 0)
    with pytest.raises(UnreadableItemError, match="green.png"):
        ds.item("image", 1)
    assert ds.item("image", 2).size == (12, 10)
    assert ds.item("text", 0) == "red"  # text of a pair with a bad image is still readable


# ---------------------------------------------------------------- COCOCaptions
@pytest.fixture
def coco(tmp_path):
    images, annotations = [], []
    for k in range(8):
        name = f"{k:012d}.jpg"
        Image.new("RGB", (16, 8), (k * 30, 0, 0)).save(tmp_path / name)
        images.append({"id": 100 + k, "file_name": name, "width": 16, "height": 8})
        for c in range(3):
            annotations.append({"id": 1000 + 10 * k + c, "image_id": 100 + k,
                                "caption": f" image {k} caption {c} "})
    images.append({"id": 999, "file_name": "nocap.jpg"})  # no caption: not a pair
    path = tmp_path / "captions.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations[::-1]}))
    return path, tmp_path


def test_coco_all_first_random(coco):
    ann, image_dir = coco
    with pytest.warns(UserWarning, match="1 image"):
        ds = COCOCaptions(ann, image_dir)
    assert len(ds) == 8
    assert ds.meta["id"].tolist() == [str(100 + k) for k in range(8)]
    # annotations were listed in reverse, so "first" is caption 2
    assert ds.captions[0] == "image 0 caption 2"
    assert ds.item("image", 3).getpixel((0, 0))[0] == pytest.approx(90, abs=3)
    with pytest.warns(UserWarning):
        every = COCOCaptions(ann, image_dir, caption="all")
    assert len(every) == 24 and every.meta["id"].value_counts().max() == 3
    with pytest.warns(UserWarning):
        r1 = COCOCaptions(ann, image_dir, caption="random", seed=1)
        r2 = COCOCaptions(ann, image_dir, caption="random", seed=1)
    assert r1.captions == r2.captions and r1.fingerprint == r2.fingerprint


def test_coco_sampling(coco):
    ann, image_dir = coco
    with pytest.warns(UserWarning):
        a = COCOCaptions(ann, image_dir, n=4, seed=0)
        b = COCOCaptions(ann, image_dir, n=4, seed=0)
        c = COCOCaptions(ann, image_dir, n=4, seed=5)
    assert len(a) == 4 and a.captions == b.captions and a.fingerprint == b.fingerprint
    ids = [int(i) for i in a.meta["id"]]
    assert ids == sorted(ids)  # annotation order kept
    assert a.meta["id"].tolist() != c.meta["id"].tolist() or a.fingerprint != c.fingerprint
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="n=20"):
        COCOCaptions(ann, image_dir, n=20)


def test_coco_errors(coco, tmp_path):
    ann, image_dir = coco
    with pytest.raises(FileNotFoundError):
        COCOCaptions(tmp_path / "nope.json", image_dir)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="not a COCO captions file"):
        COCOCaptions(bad, image_dir)
    with pytest.raises(ValueError, match="caption="):
        COCOCaptions(ann, image_dir, caption="best")
    (image_dir / "000000000003.jpg").unlink()
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="000000000003.jpg"):
        COCOCaptions(ann, image_dir)


# ---------------------------------------------------------------- ImageTextParquet
def test_parquet_bytes_struct_and_paths(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "p.png").write_bytes(_png("purple"))
    frame = pd.DataFrame({
        "image": [_png("red"), _png("blue"), b"garbage"],
        "prompt": ["a red thing", "a blue thing", "broken"],
        "seed": [1, 2, 3],
    })
    path = tmp_path / "db.parquet"
    frame.to_parquet(path)
    ds = ImageTextParquet(path)
    assert ds.captions == ["a red thing", "a blue thing", "broken"]
    assert ds.meta["prompt"].tolist() == ds.captions and "image" not in ds.meta.columns
    assert ds.meta["seed"].tolist() == [1, 2, 3]
    assert ds.item("image", 1).getpixel((0, 0)) == (0, 0, 255)
    with pytest.raises(UnreadableItemError, match="row 2"):
        ds.item("image", 2)
    # Hugging Face struct column and relative file paths
    hf = pd.DataFrame({"jpg": [{"bytes": _png("red"), "path": None}], "text": ["hf"]})
    hf.to_parquet(tmp_path / "hf.parquet")
    assert ImageTextParquet(tmp_path / "hf.parquet").item("image", 0).getpixel((0, 0)) == (
        255, 0, 0)
    paths = pd.DataFrame({"file": ["img/p.png"], "caption": ["purple"]})
    paths.to_parquet(tmp_path / "paths.parquet")
    assert ImageTextParquet(tmp_path / "paths.parquet").item("image", 0).size == (12, 10)
    with pytest.raises(ValueError, match="no text column"):
        pd.DataFrame({"image": [_png("red")], "other": ["x"]}).to_parquet(tmp_path / "t.parquet")
        ImageTextParquet(tmp_path / "t.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(ValueError, match="could not be read as Parquet"):
        ImageTextParquet(tmp_path / "junk.parquet")


# ---------------------------------------------------------------- Augmented
def _square_image_dataset(tmp_path):
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    img[4:12, 6:20] = (250, 10, 10)
    Image.fromarray(img).save(tmp_path / "a.png")
    (tmp_path / "captions.csv").write_text("file,caption\na.png,a red bar\n")
    return ImageTextFolder(tmp_path), img


def test_augment_rotate_shift_match_numpy(tmp_path):
    ds, img = _square_image_dataset(tmp_path)
    rot = Augmented(ds, "rotate", levels=[0, 90, 180])
    assert len(rot) == 3 and rot.meta["level"].tolist() == [0, 90, 180]
    np.testing.assert_array_equal(np.asarray(rot.item("image", 0)), img)
    np.testing.assert_array_equal(np.asarray(rot.item("image", 1)), np.rot90(img))
    np.testing.assert_array_equal(np.asarray(rot.item("image", 2)), np.rot90(img, 2))
    shift = Augmented(ds, "shift", levels=[0.25])
    np.testing.assert_array_equal(np.asarray(shift.item("image", 0)), np.roll(img, 8, axis=1))
    assert rot.item("text", 2) == "a red bar"


def test_augment_vshift_moves_rows_down(tmp_path):
    """Amumo's VShift: a cyclic shift down by a fraction of the height (HShift is "shift")."""
    ds, img = _square_image_dataset(tmp_path)
    vshift = Augmented(ds, "vshift", levels=[0.0, 0.25, 0.75])
    assert vshift.levels.tolist() == [0.0, 0.25, 0.75]
    np.testing.assert_array_equal(np.asarray(vshift.item("image", 0)), img)
    np.testing.assert_array_equal(np.asarray(vshift.item("image", 1)), np.roll(img, 8, axis=0))
    down = np.asarray(vshift.item("image", 2))
    np.testing.assert_array_equal(down, np.roll(img, 24, axis=0))
    assert down[28:32].any() and down[0:4].any()  # the bar (rows 4-11) wrapped round
    assert Augmented(ds, "vshift", levels=4).levels.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert vshift.fingerprint != Augmented(ds, "shift", levels=[0.0, 0.25, 0.75]).fingerprint
    assert vshift.item("text", 1) == "a red bar"


def test_augment_noise_blur_levels(tmp_path):
    ds, img = _square_image_dataset(tmp_path)
    noise = Augmented(ds, "noise", levels=3, seed=4)
    assert noise.levels.tolist() == [0.0, 0.25, 0.5]
    diffs = [np.abs(np.asarray(noise.item("image", k), float) - img).mean() for k in range(3)]
    assert diffs[0] == 0 and diffs[0] < diffs[1] < diffs[2]
    again = Augmented(ds, "noise", levels=3, seed=4)
    np.testing.assert_array_equal(noise.images(), again.images())
    assert not np.array_equal(noise.images(), Augmented(ds, "noise", levels=3, seed=5).images())
    blur = Augmented(ds, "blur", levels=4)
    sharp = [(np.diff(np.asarray(blur.item("image", k), float), axis=1) ** 2).sum()
             for k in range(4)]
    assert sharp == sorted(sharp, reverse=True) and sharp[-1] < sharp[0] / 2


def test_augment_meta_items_and_random_rotate():
    base = SyntheticShapes(10, seed=2)
    aug = Augmented(base, "rotate", levels=100, items=[3])
    assert len(aug) == 100
    assert aug.meta["base_item"].unique().tolist() == [3]
    assert aug.meta["level"].iloc[50] == 180.0 and aug.meta["level_index"].iloc[50] == 50
    assert aug.meta["augmentation"].unique().tolist() == ["rotate"]
    assert aug.meta["id"].is_unique and set(aug.meta["base_id"]) == {"shape-000003"}
    assert set(aug.captions) == {base.captions[3]}
    two = Augmented(base, "random_rotate", levels=5, seed=1, items=[0, 1])
    assert len(two) == 10 and two.meta["base_item"].tolist() == [0] * 5 + [1] * 5
    assert np.all((two.levels >= 0) & (two.levels < 360))
    np.testing.assert_array_equal(
        two.levels, Augmented(base, "random_rotate", levels=5, seed=1).levels)
    assert not np.array_equal(
        two.levels, Augmented(base, "random_rotate", levels=5, seed=2).levels)
    assert aug.fingerprint != Augmented(base, "rotate", levels=99, items=[3]).fingerprint
    assert two.fingerprint != Augmented(base, "random_rotate", levels=5, seed=2,
                                        items=[0, 1]).fingerprint
    # the caption filter works on augmented sets too
    assert len(aug.filter([base.captions[3].split()[2]])) == 100
    assert set(AUGMENTATIONS) == {"rotate", "noise", "blur", "shift", "vshift",
                                "random_rotate"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "flip"}, ValueError, "kind="),
        ({"kind": "rotate", "levels": 0}, ValueError, "at least one"),
        ({"kind": "random_rotate", "levels": [1.0, 2.0]}, ValueError, "draws its angles"),
        ({"kind": "noise", "levels": [-1.0]}, ValueError, ">= 0"),
        ({"kind": "rotate", "items": []}, ValueError, "items is empty"),
        ({"kind": "rotate", "items": [99]}, IndexError, "out of range"),
        ({"kind": "rotate", "levels": True}, TypeError, "levels"),
    ],
)
def test_augment_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        Augmented(SyntheticShapes(3), **kwargs)
