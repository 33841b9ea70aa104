"""amumo._util: package version and atomic writes (permissions follow the umask)."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from amumo._util import __version__, atomic_write, atomic_write_bytes, current_umask

ROOT = Path(__file__).resolve().parents[1]


def test_version_matches_pyproject_and_package():
    import amumo

    text = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'(?m)^version = "([^"]+)"', text).group(1)
    assert __version__ == declared == amumo.__version__


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_respect_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert current_umask() == mask
        p = atomic_write_bytes(tmp_path / "f.bin", b"x")
        with atomic_write(tmp_path / "g.bin") as handle:
            handle.write(b"y")
    finally:
        os.umask(old)
    expected = 0o666 & ~mask
    assert stat.S_IMODE(p.stat().st_mode) == expected
    assert stat.S_IMODE((tmp_path / "g.bin").stat().st_mode) == expected


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as handle:
        handle.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_overwrite_false_refuses(tmp_path):
    target = atomic_write_bytes(tmp_path / "a" / "b.txt", b"1")  # creates the folder
    with pytest.raises(FileExistsError, match="overwrite=True"):
        atomic_write_bytes(target, b"2", overwrite=False)
    assert target.read_bytes() == b"1"


def test_old_import_path_still_works():
    from amumo.embeddings.io import atomic_write_bytes as old

    assert old is atomic_write_bytes
