"""amumo._util: package version, atomic writes (permissions follow the umask) and the
background jobs' thread priority."""

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


def test_job_priority_setting_is_checked_and_bounded():
    from amumo._util import _job_nice

    assert _job_nice("5") == 5 and _job_nice("0") == 0
    assert _job_nice("40") == 19 and _job_nice("-3") == 0  # nice levels are 0 … 19
    with pytest.raises(ValueError, match="AMUMO_JOB_NICE='fast' is not a whole number"):
        _job_nice("fast")


def test_lower_thread_priority_lowers_only_the_calling_thread():
    import threading

    from amumo._util import lower_thread_priority

    if not sys.platform.startswith("linux"):
        assert lower_thread_priority(3) is False
        return
    me = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, me)
    seen: dict[str, int] = {}

    def job() -> None:
        tid = threading.get_native_id()
        seen["lowered"] = lower_thread_priority(3)
        seen["job"] = os.getpriority(os.PRIO_PROCESS, tid)
        child = threading.Thread(
            target=lambda: seen.update(child=os.getpriority(os.PRIO_PROCESS,
                                                            threading.get_native_id())))
        child.start()
        child.join()

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert seen == {"lowered": True, "job": min(19, before + 3), "child": min(19, before + 3)}
    assert os.getpriority(os.PRIO_PROCESS, me) == before  # the caller's thread is untouched
    assert lower_thread_priority(0) is False
