"""Browser-test harness: a real JupyterLab and a headless Debian Chromium.

Fixtures (all tests in this directory are marked ``browser`` automatically)
---------------------------------------------------------------------------
``chromium_browser`` (session)
    A playwright (sync API) ``Browser`` driving ``/usr/bin/chromium``.
``lab_server`` (session)
    A :class:`LabServer` (``url``, ``token``, ``root_dir``, ``api(path)``) started
    in a temporary directory with its own settings, workspaces, kernelspec and
    runtime directories; stopped in teardown.
``browser_page`` (function)
    A fresh page in a fresh browser context; closed after the test.
``open_notebook(cells, name=None, *, timeout=120, check_errors=True) -> Page``
    Writes a notebook of code cells into the server directory, opens it in
    JupyterLab, waits for an idle kernel, runs all cells (fails the test with the
    traceback if a cell raised) and returns the page.
``wait_for_output(page, selector, timeout=30) -> Locator``
    Waits for ``selector`` inside a cell output (``.jp-OutputArea-output``).
``run_cell(page, code, timeout=60) -> str``
    Appends a code cell to the open notebook, runs it, returns its text output
    (stdout + ``text/plain`` results); raises ``AssertionError`` on an error.
``screenshot(page, label) -> Path``
    Saves ``tests/artifacts/<test name>-<label>.png``.

Chromium missing: the tests are skipped, except in CI (env ``CI=true``) where
they fail, because ``make test`` installs it first.

Example
-------
>>> def test_counter(open_notebook, wait_for_output, run_cell):  # doctest: +SKIP
...     page = open_notebook(["import ipywidgets as W", "s = W.IntSlider(3)", "s"])
...     wait_for_output(page, ".widget-slider")
...     assert run_cell(page, "print(s.value)") == "3"
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("AMUMO_CHROMIUM", "/usr/bin/chromium")  # override for odd setups
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
SERVER_START_TIMEOUT = 90.0  # seconds; typically 5-9 s on the 2-core machine
LAB_SETTINGS = {
    # Lab 4.6 otherwise shows a "Select Kernel" dialog and nothing runs.
    "@jupyterlab/notebook-extension": {"tracker": {"autoStartDefaultKernel": True}},
    # No network: do not ask for news.
    "@jupyterlab/apputils-extension": {"notification": {"fetchNews": "false"}},
}
_THIS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser/ as ``browser`` (they may also say so themselves)."""
    for item in items:
        if _THIS_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    """Skip locally, fail loudly in CI, where the browser tests must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run; `make chromium` installs it)")
    pytest.skip(reason)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by playwright's sync API (never `playwright install`)."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} not found; install it with `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed; `pip install -e '.[dev]'`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"amumo_report_{report.when}", report)


@pytest.fixture
def browser_page(
    chromium_browser: Any, request: pytest.FixtureRequest, artifacts_dir: Path
) -> Iterator[Any]:
    """A page in a fresh context (1280x900), closed after the test.

    Console messages and page errors are collected in ``page.amumo_console``; when the
    test fails, ``tests/artifacts/<test name>-FAILED.png`` shows the page at that moment.
    """
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.amumo_console = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: page.amumo_console.append(f"{msg.type}: {msg.text}"),  # type: ignore[attr-defined]
    )
    page.on("pageerror", lambda err: page.amumo_console.append(f"pageerror: {err}"))  # type: ignore[attr-defined]
    try:
        yield page
        report = getattr(request.node, "amumo_report_call", None)
        if report is not None and report.failed:
            stem = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name).strip("_")
            page.screenshot(path=str(artifacts_dir / f"{stem}-FAILED.png"))
            (artifacts_dir / f"{stem}-FAILED-console.txt").write_text(
                "\n".join(page.amumo_console)  # type: ignore[attr-defined]
            )
    finally:
        context.close()


# --------------------------------------------------------------------------- JupyterLab


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running JupyterLab started by the ``lab_server`` fixture."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    token: str
    root_dir: Path  # notebooks are written here
    base_dir: Path  # settings, workspaces, kernelspec, runtime and the server log
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    def api(self, path: str, method: str = "GET", timeout: float = 10.0) -> Any:
        """Call the REST API (``path`` like ``/api/sessions``) and return the decoded JSON."""
        req = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method in {"POST", "PUT", "PATCH"} else None,
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no log>"
        return "\n".join(lines[-n:])

    def kernel_state(self, notebook: str) -> str | None:
        """``execution_state`` of the kernel of the session on ``notebook`` (None if no session)."""
        for sess in self.api("/api/sessions"):
            if sess.get("path") == notebook and sess.get("kernel"):
                return sess["kernel"].get("execution_state")
        return None

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                self.api("/api/status", timeout=2)
                urllib.request.urlopen(f"{self.url}/lab?token={self.token}", timeout=5).read()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.25)
        raise RuntimeError(f"JupyterLab not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Shut kernels down through the API, then end the server's process group."""
        if self.process.poll() is None:
            try:
                self.api("/api/shutdown", method="POST", timeout=5)
                self.process.wait(timeout=15)
            except Exception:  # noqa: BLE001 - fall through to signals
                pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        # Kernels run in their own sessions; end any left behind (they are found by
        # the connection files in this run's private runtime directory).
        runtime = str(self.base_dir / "runtime")
        for pid in _pids_with_arg_prefix(runtime):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _pids_with_arg_prefix(prefix: str) -> list[int]:
    """Processes (of this user) whose command line mentions a path under ``prefix``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.decode(errors="replace").startswith(prefix) for a in args):
            found.append(int(proc.name))
    return found


def _write_lab_dirs(base: Path) -> dict[str, str]:
    """Create per-run Jupyter directories and return the environment pointing at them."""
    settings = base / "settings"
    for plugin_pkg, plugins in LAB_SETTINGS.items():
        for plugin, values in plugins.items():
            target = settings / plugin_pkg / f"{plugin}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
    # A python3 kernelspec pinned to this interpreter; JUPYTER_PATH wins over user and
    # system kernelspecs, so notebooks with kernelspec "python3" run on sys.executable.
    kdir = base / "data" / "kernels" / "python3"
    kdir.mkdir(parents=True)
    (kdir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "metadata": {"debugger": True},
            }
        )
    )
    for sub in ("workspaces", "config", "runtime", "ipython"):
        (base / sub).mkdir()
    env = dict(os.environ)
    jupyter_path = [str(base / "data")]
    if env.get("JUPYTER_PATH"):
        jupyter_path.append(env["JUPYTER_PATH"])
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_PATH=os.pathsep.join(jupyter_path),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_lab(base: Path) -> LabServer:
    root = base / "root"
    root.mkdir()
    env = _write_lab_dirs(base)
    log_path = base / "jupyterlab.log"
    last_error: Exception | None = None
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port, token = _free_port(), secrets.token_hex(24)
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.shutdown_no_activity_timeout=0",
        ]
        log = log_path.open("ab")
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        server = LabServer(f"http://127.0.0.1:{port}", token, root, base, proc, log_path)
        try:
            server.wait_ready(SERVER_START_TIMEOUT)
            return server
        except RuntimeError as exc:
            last_error = exc
            server.stop()
    raise RuntimeError(f"could not start JupyterLab: {last_error}")


@pytest.fixture(scope="session")
def lab_server(chromium_browser: Any) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 with a random port and token, in a private temp directory."""
    base = Path(tempfile.mkdtemp(prefix="amumo-lab-"))
    server = _start_lab(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- notebooks

_JS_NOTEBOOK_READY = """(name) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name || !w.sessionContext) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""

_JS_RUN_ALL = """() => {
  window.__amumoRun = {done: false, ok: null, error: null};
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    (ok) => { window.__amumoRun.ok = ok; window.__amumoRun.done = true; },
    (e) => { window.__amumoRun.error = String(e); window.__amumoRun.done = true; });
}"""

_JS_OUTPUTS = """(start) => {
  const model = window.jupyterapp.shell.currentWidget.content.model;
  const out = [];
  for (let i = start; i < model.cells.length; i++) {
    const c = model.cells.get(i);
    out.push(c.type === 'code' ? c.outputs.toJSON() : []);
  }
  return out;
}"""

_JS_APPEND_AND_RUN = """async (code) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const model = nb.model;
  const index = model.cells.length;
  model.sharedModel.insertCell(index, {cell_type: 'code', source: code});
  nb.activeCellIndex = index;
  await app.commands.execute('notebook:run-cell');
  return model.cells.get(index).outputs.toJSON();
}"""

_JS_START_CELL = (
    """(code) => {
  window.__amumoCell = {done: false, outputs: null, error: null};
  ("""
    + _JS_APPEND_AND_RUN
    + """)(code).then(
    (o) => { window.__amumoCell.outputs = o; window.__amumoCell.done = true; },
    (e) => { window.__amumoCell.error = String(e); window.__amumoCell.done = true; });
}"""
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_error(cell_outputs: list[list[dict]]) -> str | None:
    for i, outputs in enumerate(cell_outputs):
        for o in outputs:
            if o.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(o.get("traceback", [])))
                return f"cell {i}: {o.get('ename')}: {o.get('evalue')}\n{tb}"
    return None


def _text_of(outputs: list[dict]) -> str:
    parts = []
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream" and o.get("name") == "stdout":
            text = o.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
        elif kind in {"execute_result", "display_data"} and "text/plain" in o.get("data", {}):
            text = o["data"]["text/plain"]
            parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts).strip()


def _notebook_json(cells: list[str]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def open_notebook(
    lab_server: LabServer, browser_page: Any, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Factory: ``open_notebook(cells, name=None, *, timeout=120, check_errors=True) -> Page``.

    ``cells`` are code-cell sources. The notebook is written to the server's root as
    ``name`` (default: derived from the test name), opened with ``?reset``, run once the
    kernel is idle, and the page is returned after every cell finished. With
    ``check_errors`` a cell that raised fails the test with its traceback.
    """
    used: set[str] = set()
    factory = _open_notebook_factory(lab_server, browser_page, request, used)
    yield factory
    # Free the kernels this test started (each notebook has its own).
    for sess in lab_server.api("/api/sessions"):
        if sess.get("path") in used:
            try:
                lab_server.api(f"/api/sessions/{sess['id']}", method="DELETE")
            except urllib.error.URLError:
                pass


def _open_notebook_factory(
    lab_server: LabServer, browser_page: Any, request: pytest.FixtureRequest, used: set[str]
) -> Callable[..., Any]:

    def _open(
        cells: list[str],
        name: str | None = None,
        *,
        timeout: float = 120.0,
        check_errors: bool = True,
    ) -> Any:
        if isinstance(cells, str) or not all(isinstance(c, str) for c in cells):
            raise TypeError("cells must be a list of code strings, e.g. ['import amumo', 'w']")
        if name is None:
            stem = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name).strip("_")[:80]
            name = f"{stem}_{len(used)}.ipynb" if used else f"{stem}.ipynb"
        if not name.endswith(".ipynb") or "/" in name:
            raise ValueError(f"name must be a plain file name ending in .ipynb, got {name!r}")
        used.add(name)
        (lab_server.root_dir / name).write_text(json.dumps(_notebook_json(list(cells))))
        page = browser_page
        page.goto(f"{lab_server.url}/lab/tree/{name}?reset&token={lab_server.token}")
        deadline = time.monotonic() + timeout
        while lab_server.kernel_state(name) != "idle":
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"kernel for {name} not idle after {timeout:.0f} s "
                    f"(state {lab_server.kernel_state(name)!r}):\n{lab_server.log_tail()}"
                )
            time.sleep(0.25)
        remaining_ms = max(1.0, deadline - time.monotonic()) * 1000
        page.wait_for_function(_JS_NOTEBOOK_READY, arg=name, timeout=remaining_ms)
        page.evaluate(_JS_RUN_ALL)
        remaining_ms = max(1.0, deadline - time.monotonic()) * 1000
        page.wait_for_function("() => window.__amumoRun.done", timeout=remaining_ms)
        run = page.evaluate("() => window.__amumoRun")
        if check_errors:
            error = _first_error(page.evaluate(_JS_OUTPUTS, 0))
            if error or run.get("error"):
                raise AssertionError(f"notebook {name} failed: {error or run['error']}")
        return page

    return _open


@pytest.fixture
def wait_for_output() -> Callable[..., Any]:
    """``wait_for_output(page, selector, timeout=30) -> Locator`` inside a cell output."""

    def _wait(page: Any, selector: str, timeout: float = 30.0) -> Any:
        locator = page.locator(f".jp-OutputArea-output {selector}").first
        locator.wait_for(state="attached", timeout=timeout * 1000)
        return locator

    return _wait


@pytest.fixture
def run_cell() -> Callable[..., str]:
    """``run_cell(page, code, timeout=60) -> str``: append a cell, run it, return its text."""

    def _run(page: Any, code: str, timeout: float = 60.0) -> str:
        page.evaluate(_JS_START_CELL, code)
        page.wait_for_function("() => window.__amumoCell.done", timeout=timeout * 1000)
        result = page.evaluate("() => window.__amumoCell")
        if result["error"]:
            raise AssertionError(f"could not run cell {code!r}: {result['error']}")
        error = _first_error([result["outputs"]])
        if error:
            raise AssertionError(f"cell {code!r} raised: {error}")
        return _text_of(result["outputs"])

    return _run


@pytest.fixture
def screenshot(artifacts_dir: Path, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``screenshot(page, label) -> Path``: full-page PNG under tests/artifacts/.

    With ``view=`` a locator: that element is scrolled into view and shot too, as
    ``<stem>.view.png`` beside the page's (then the page shot is the visible window)."""

    def _shot(page: Any, label: str, full_page: bool = True, view: Any = None) -> Path:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{request.node.name}-{label}").strip("_")
        path = artifacts_dir / f"{stem}.png"
        if view is not None:
            view.scroll_into_view_if_needed()
            page.wait_for_timeout(200)
            full_page = False
        page.screenshot(path=str(path), full_page=full_page)
        if view is not None:
            view.screenshot(path=str(path.with_suffix(".view.png")))
        return path

    return _shot
