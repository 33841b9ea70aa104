"""`make demo` starts JupyterLab with a clean first screen.

The project's package.json says ``"type": "module"`` and ``make`` puts the venv inside the
checkout, so Node took the module type of every ``.js`` file in the venv from that
package.json. JupyterLab runs its bundled yarn (``jupyter_builder/yarn.js``, CommonJS) at
every start to read the registry setting; loaded as an ES module it failed, and Lab printed
a 14 KB minified stack trace ("Fail to get yarn configuration ... Dynamic require of
"util" is not supported") before anything else. The Makefile now gives the venv its own
``package.json`` (``"type": "commonjs"``) when it installs.

The test rebuilds that layout in a temporary checkout (a venv inside a folder holding the
project's package.json, with its own copy of ``jupyter_builder``, the rest of the
packages borrowed from this environment through a ``.pth`` file), starts Lab as
``make demo`` does, and reads its output up to "is running at": first without the
Makefile's file (the trace must appear, or the test proves nothing), then after the
Makefile's recipe (no trace).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TRACE_MARKS = ("Fail to get yarn configuration", "Dynamic require of")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _first_screen(checkout: Path, timeout: float = 120.0) -> str:
    """Lab's output from start until it says where it is running (then it is stopped)."""
    python = checkout / ".venv" / "bin" / "python"
    args = [str(python), "-m", "jupyterlab", "--no-browser", f"--port={_free_port()}",
            "--IdentityProvider.token=demo-test",
            f"--LabApp.app_dir={Path(sys.prefix) / 'share' / 'jupyter' / 'lab'}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--allow-root")  # as in the Makefile's ROOT_FLAG
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env["JUPYTER_CONFIG_DIR"] = str(checkout / "jupyter-config")
    env["JUPYTER_RUNTIME_DIR"] = str(checkout / "jupyter-runtime")
    proc = subprocess.Popen(args, cwd=checkout, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "is running at" in line or time.monotonic() > deadline:
                break
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
    text = "".join(lines)
    assert "is running at" in text, f"Lab did not start:\n{text[-3000:]}"
    return text


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if shutil.which("node") is None or shutil.which("make") is None:
        pytest.skip("needs node (JupyterLab runs yarn with it) and make")
    jupyter_builder = pytest.importorskip("jupyter_builder")
    pytest.importorskip("jupyterlab")
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(REPO / "package.json", root / "package.json")
    venv = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    shutil.copytree(Path(jupyter_builder.__file__).parent, site / "jupyter_builder")
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def test_make_demo_first_screen_has_no_yarn_stack_trace(checkout: Path):
    before = _first_screen(checkout)
    assert all(mark in before for mark in TRACE_MARKS), (
        "the layout no longer reproduces the trace; this test would prove nothing:\n"
        + before[:2000]
    )
    subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "VENV=.venv",
                    ".venv/package.json"], cwd=checkout, check=True)
    after = _first_screen(checkout)
    assert not any(mark in after for mark in TRACE_MARKS), after[:2000]
    assert len(after.splitlines()[0]) < 300  # the first line is a log line, not a bundle
