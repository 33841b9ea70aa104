"""Fixtures shared by every test directory (keep this file small).

Directory-specific fixtures live next to the tests that use them, e.g. the
JupyterLab + Chromium harness in ``tests/browser/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "tests" / "artifacts"  # git-ignored: screenshots, exported pages


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Absolute path of the repository checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``tests/artifacts/`` (git-ignored), created on first use, for files worth looking at."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.hookimpl(trylast=True)  # after tests/browser/conftest.py has marked its tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests first.

    Playwright's sync API refuses to start once an asyncio loop has been left
    behind in the main thread, which executing notebooks with nbclient does.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is None)
