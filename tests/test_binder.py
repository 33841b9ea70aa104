"""binder/ builds a working image: checked here without Binder (not reachable from CI).

- every line of binder/requirements.txt names a package and version range that exists on
  the package index, and so does the repository package with its extras (pip dry runs
  against the index pip is configured with; the PyTorch CPU index is not needed);
- postBuild, run with a stand-in ``python``, installs CPU torch from the PyTorch CPU
  index first and then this repository with the ``models`` extra, from the repo root;
- the Binder badge URL opens a notebook that exists.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = {"torch", "torchvision"}  # installed by postBuild from the CPU index

#: GitHub owner of the repository, used in the Binder badge; change it with the README.
BINDER_ORG = "amumo-project"
BINDER_NOTEBOOK = "notebooks/getting_started.ipynb"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
_OFFLINE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
    r"Could not fetch URL|Network is unreachable|ProxyError",
)


def binder_url(org: str = BINDER_ORG, notebook: str = BINDER_NOTEBOOK) -> str:
    """The mybinder.org link that opens ``notebook`` of ``org/amumo`` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{org}/amumo/HEAD?urlpath=lab/tree/{notebook}"


def _requirements() -> list[Requirement]:
    reqs = []
    for number, raw in enumerate((BINDER / "requirements.txt").read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            pytest.fail(f"binder/requirements.txt:{number}: options ({line!r}) belong in postBuild")
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement as exc:
            pytest.fail(f"binder/requirements.txt:{number}: {exc}")
    return reqs


def _pip_dry_run(args: list[str], tmp_path: Path, timeout: float = 120) -> list[dict]:
    """``pip install --dry-run --ignore-installed`` ``args``; the packages pip would install."""
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
           "--quiet", "--disable-pip-version-check", "--report", str(report), *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        if _OFFLINE.search(proc.stderr) and not IN_CI:
            pytest.skip(f"package index not reachable: {proc.stderr.strip().splitlines()[-1]}")
        pytest.fail(f"pip could not resolve {shlex.join(args)}:\n{proc.stderr[-3000:]}")
    return json.loads(report.read_text())["install"]


def _by_name(installs: list[dict]) -> dict[str, dict]:
    return {canonicalize_name(i["metadata"]["name"]): i for i in installs}


def test_binder_files_exist():
    assert (BINDER / "requirements.txt").is_file()
    assert (BINDER / "runtime.txt").read_text().strip().startswith("python-3.")
    postbuild = BINDER / "postBuild"
    assert postbuild.read_text().startswith("#!")
    assert postbuild.stat().st_mode & stat.S_IXUSR, "binder/postBuild must be executable"
    tracked = subprocess.run(
        ["git", "ls-files", "-s", "binder/postBuild"], capture_output=True, text=True, cwd=REPO
    ).stdout
    if tracked:  # committed with the executable bit, or repo2docker cannot run it
        assert tracked.startswith("100755"), tracked
    subprocess.run(["bash", "-n", str(postbuild)], check=True)


def test_requirements_exist_on_the_index(tmp_path):
    reqs = _requirements()
    names = {canonicalize_name(r.name) for r in reqs}
    assert {"jupyterlab", "ipywidgets", "anywidget", "ipykernel"} <= names
    assert not names & TORCH_PACKAGES, "torch comes from the CPU index in postBuild"
    installs = _by_name(_pip_dry_run(["--no-deps", *map(str, reqs)], tmp_path))
    for req in reqs:
        found = installs.get(canonicalize_name(req.name))
        assert found is not None, f"{req} did not resolve"
        assert req.specifier.contains(found["metadata"]["version"], prereleases=True), (
            req,
            found["metadata"]["version"],
        )


def test_repository_package_and_extras_resolve(tmp_path):
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "models" in extras and "widgets" in extras
    installs = _by_name(_pip_dry_run(["--no-deps", "-e", ".[models,widgets]"], tmp_path))
    amumo = installs["amumo"]
    assert amumo["download_info"]["url"] == REPO.as_uri()
    assert set(amumo.get("requested_extras") or []) == {"models", "widgets"}
    # Every package of the models extra exists too (torch from the default index here;
    # Binder takes the CPU build of the same names from the PyTorch index).
    model_reqs = [Requirement(r) for r in extras["models"]]
    assert TORCH_PACKAGES <= {canonicalize_name(r.name) for r in model_reqs}
    found = _by_name(_pip_dry_run(["--no-deps", *map(str, model_reqs)], tmp_path))
    assert {canonicalize_name(r.name) for r in model_reqs} <= set(found)


@pytest.mark.slow
def test_whole_binder_environment_resolves(tmp_path):
    """All of requirements.txt + the repo with its extras, dependencies included (~35 s)."""
    installs = _by_name(
        _pip_dry_run(
            ["-r", "binder/requirements.txt", "-e", ".[models,widgets,hf]"], tmp_path, timeout=300
        )
    )
    for name in ("amumo", "jupyterlab", "anywidget", "open-clip-torch", "torch", "torchvision"):
        assert name in installs, name


def test_postbuild_installs_cpu_torch_then_the_repo(tmp_path):
    """Run postBuild with a stand-in ``python`` that records its calls instead of installing."""
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "calls.log"
    (shim / "python").write_text(
        '#!/usr/bin/env bash\nprintf "%s\\t%s\\n" "$PWD" "$*" >> "$AMUMO_SHIM_LOG"\n'
        'if [ "$*" = "-" ]; then cat > /dev/null; fi\n'
    )
    (shim / "python").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        "AMUMO_SHIM_LOG": str(log),
    }
    subprocess.run(
        ["bash", str(BINDER / "postBuild")], check=True, cwd=tmp_path, env=env, timeout=30
    )
    calls = [line.split("\t", 1) for line in log.read_text().splitlines()]
    installs = [
        (cwd, shlex.split(args)) for cwd, args in calls if args.startswith("-m pip install")
    ]
    assert len(installs) == 2, calls

    (cwd1, torch_args), (cwd2, repo_args) = installs
    assert {"torch", "torchvision"} <= set(torch_args)
    assert torch_args[torch_args.index("--index-url") + 1] == TORCH_CPU_INDEX

    assert Path(cwd2).resolve() == REPO, "the repository install must run from the repo root"
    editable = repo_args[repo_args.index("-e") + 1]
    match = re.fullmatch(r"\.\[([a-z,]+)\]", editable)
    assert match, editable
    assert "models" in match.group(1).split(",")
    if "--extra-index-url" in repo_args:
        assert repo_args[repo_args.index("--extra-index-url") + 1] == TORCH_CPU_INDEX
    # The final check (`python -` with a script on stdin) ran after both installs.
    assert calls[-1][1] == "-"


def test_binder_badge_points_at_an_existing_notebook():
    url = binder_url()
    assert url == (
        f"https://mybinder.org/v2/gh/{BINDER_ORG}/amumo/HEAD"
        "?urlpath=lab/tree/notebooks/getting_started.ipynb"
    )
    assert url in (BINDER / "README.md").read_text()
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s\"']+", readme)
    assert url in links, f"README has no Binder badge opening {url}"
    for link in links:
        m = re.fullmatch(
            r"https://mybinder\.org/v2/gh/[^/]+/amumo/HEAD\?urlpath=lab/tree/(.+)", link
        )
        assert m, f"README Binder link {link} does not open a notebook in JupyterLab"
        assert (REPO / m.group(1)).is_file(), f"README Binder link opens missing {m.group(1)}"
