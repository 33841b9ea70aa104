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


def test_scale_benchmark_prints_the_load_beside_each_figure(tmp_path):
    """Issue 21 item 3: figures from the shared machine mean little without its load, so
    benchmarks/scale.py prints the load average before each size and beside each column's
    figures (start–end), with or without the busy processes of --background-load."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"
    out = subprocess.run(
        [sys.executable, str(script), "--sizes", "2000", "--columns", "load,gap_stats",
         "--data-dir", str(tmp_path), "--background-load", "1"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    assert "# N=2,000: background load 1 busy process(es)" in out
    assert re.search(r"# load average before \d+\.\d\d \d+\.\d\d \d+\.\d\d, after ", out)
    row = next(line for line in out.splitlines() if line.startswith("N=2,000 |"))
    for column in ("load", "gap_stats"):
        assert re.search(rf"\b{column}_load=\d+\.\d\d–\d+\.\d\d", row), row


def test_readme_1m_figures_state_load_and_command():
    """The README's 1M-pair figures say how they were measured: the command and the load."""
    line = next(part for part in README.split("- **") if part.startswith("At scale:"))
    line = " ".join(line.split())  # one paragraph, whatever its line breaks
    assert "benchmarks/scale.py --sizes 1000000 --columns load,explorer" in line
    assert re.search(r"load (average )?\d", line)
