"""The UI tests' fixtures: one embedded server filled through the mlflow client (shared by the
package's modules, since the 1,000,000-point metric takes a while to log), and Debian's chromium
driven by Playwright through `executable_path` (never a browser of Playwright's own)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from tests.e2e.server import running_server
from tests.e2e.ui.data import Seeded, seed

CHROMIUM = Path(os.environ.get("LEDGERFLOW_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "ui"
VIEWPORT = {"width": 1400, "height": 1000}

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")


@pytest.fixture(scope="package")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """An embedded server with the tests' data (see data.py)."""
    workdir = tmp_path_factory.mktemp("ui")
    with running_server(workdir / "ledgerflow-data") as url:
        yield seed(url)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        # Never a skip: the browser tests are part of the suite. `make test` provisions it.
        pytest.exit(
            f"The UI tests need Debian's chromium at {CHROMIUM}, which is missing: run "
            "`make browser` (it runs `apt-get install -y chromium` as root).",
            returncode=3,
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    profile = tempfile.mkdtemp(prefix="ledgerflow-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,  # type: ignore[arg-type]
        accept_downloads=True,
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A fresh tab; an uncaught error in the page's scripts fails the test."""
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))

    def console(message: ConsoleMessage) -> None:
        # A refused request is logged by chromium itself ("Failed to load resource"); the
        # tests that provoke one check what the page shows instead.
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(message.text)

    tab.on("console", console)
    tab.set_default_timeout(30_000)
    yield tab
    tab.close()
    assert not errors, f"errors in the page: {errors}"


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page under test-artifacts/ui/ (kept by CI as a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page
    page.screenshot(path=str(path), full_page=True)
    return path
