"""Fixtures of the browser tier: Debian's headless Chromium driven by playwright, and the query server.

The browser is the distribution's `chromium` (deploy/browser.sh installs it when missing, as on CI); playwright's
own browser downloads are never used. One browser per test module, a fresh context (own sessionStorage) per page.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from starlette.applications import Starlette

from tests.conftest import ROOT
from tests.integration.report_server import serve_app

ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    script = ROOT / "deploy" / "browser.sh"
    done = subprocess.run([str(script)], capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"deploy/browser.sh could not provide chromium:\n{done.stderr.strip()}")
    path = done.stdout.strip().splitlines()[-1]
    assert Path(path).is_file(), path
    return path


# Module scope, not session: while playwright's sync driver is alive it marks its event loop as running in this
# thread, so the async tests that run after this folder would find "a running event loop" and fail.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    driver = sync_playwright().start()
    yield driver
    driver.stop()


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright, chromium_path: str) -> Iterator[Browser]:
    # --no-sandbox: the tests run as root in a container, where Chromium's user-namespace sandbox is unavailable.
    launched = playwright_driver.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
    yield launched
    launched.close()


def serve(app: Starlette) -> Iterator[str]:
    with serve_app(app) as base:
        yield base


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
