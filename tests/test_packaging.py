"""The wheel carries the data the tour needs (captions, licences, front end)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_the_coco_captions_and_their_licence(tmp_path):
    builder = pytest.importorskip("hatchling.builders.wheel", reason="pip install hatchling")
    wheel = Path(next(builder.WheelBuilder(str(ROOT)).build(directory=str(tmp_path))))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "amumo/datasets/modality_gap/coco500_captions.csv",
        "amumo/datasets/modality_gap/NOTICE-captions.md",
        "amumo/datasets/modality_gap/SOURCE.md",
        "amumo/datasets/modality_gap/LICENSE",
        "amumo/datasets/modality_gap/features_clip.npy",
        "amumo/static/explorer.js",
        "amumo/static/vendor/embed-amd.js",
        "amumo/widgets/remote.py",
        "amumo/teaching.py",
    ):
        assert name in names, name
    shipped = zipfile.ZipFile(wheel).read("amumo/datasets/modality_gap/coco500_captions.csv")
    assert shipped == (ROOT / "amumo/datasets/modality_gap/coco500_captions.csv").read_bytes()
