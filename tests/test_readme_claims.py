"""What the README says about data and offline use is what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import amumo as am
from amumo.data.folder import IMAGE_COLUMNS, TEXT_COLUMNS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_captions_csv_columns_are_documented(tmp_path):
    section = README.split("### Your own images")[1].split("###")[0]
    for name in (*IMAGE_COLUMNS[:6], *TEXT_COLUMNS):
        assert f"`{name}`" in section, name
    # The example table in the README loads as shown.
    from PIL import Image

    csv = re.search(r"```csv\n(.*?)```", section, re.S).group(1)
    for line in csv.splitlines()[1:]:
        path = tmp_path / line.split(",")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), "grey").save(path)
    (tmp_path / "captions.csv").write_text(csv)
    ds = am.data.ImageTextFolder(tmp_path)
    assert list(ds.meta["caption"]) == ["a grey cat asleep on a sofa", "a dog catching a frisbee"]
    assert list(ds.meta["id"]) == list(ds.meta["file"]) and "photographer" in ds.meta


def test_offline_claims_are_qualified():
    demo_line = next(line for line in README.splitlines() if line.startswith("make demo"))
    assert "offline" not in demo_line  # the sentence below says what needs network once
    assert "needs network once" in README
    for column in ("caption", "image_id", "coco_url", "image_license", "image_license_url"):
        assert f"`{column}`" in README and column in am.datasets.clip_coco500().meta
    assert "AMUMO_REMOTE_IMAGES=0" in README and "remote_images=False" in README
