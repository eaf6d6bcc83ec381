"""End to end: ``streamlit run`` on 127.0.0.1 and headless Chromium open every page and see the charts.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``), driven by Playwright's
Python client; Playwright's own browser download is not used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# url path -> (title prefix, plotly charts expected at least) on the fixture store.
PAGES = {
    "": ("Trade-offs", 6),
    "devices": ("Devices", 5),
    "runs": ("Runs", 1),
    "records": ("Records", 1),
    "sustained": ("Sustained", 2),
}
LOAD_TIMEOUT_MS = 90_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout} s")


@pytest.fixture(scope="module")
def server_url(fixture_store_url, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "EDGEBENCH_STORE"}  # the CLI argument must do it
    argv = [
        sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1",
        "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",  # as `make dashboard` starts it (DEV=1 for the developer toolbar)
        "--", "--store", fixture_store_url,
    ]  # fmt: skip
    with log.open("w") as stream:
        server = subprocess.Popen(argv, stdout=stream, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(url)
    return page


@pytest.mark.parametrize("path", list(PAGES))
def test_page_draws_its_plotly_charts(browser, server_url, path, tmp_path):
    title, charts = PAGES[path]
    page = open_page(browser, f"{server_url}/{path}")
    page.get_by_role("heading", level=1).filter(has_text=title).wait_for()
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
        arg=charts,
        timeout=LOAD_TIMEOUT_MS,
    )
    page.wait_for_timeout(500)  # let the last chart finish its transition before the screenshot
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator(".js-plotly-plot").count() >= charts
    assert page.locator(".js-plotly-plot .scatterlayer .point, .js-plotly-plot .barlayer .point").count() > 0
    shot = tmp_path / f"dashboard_{path or 'tradeoffs'}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.close()


def test_hover_shows_the_record_and_navigation_works(browser, server_url):
    page = open_page(browser, server_url)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .point")
    page.locator(".js-plotly-plot .scatterlayer .point").first.hover(force=True)
    page.wait_for_selector(".hoverlayer .hovertext")
    assert "record(s)" in (page.locator(".hoverlayer .hovertext").first.text_content() or "")
    # The viewer's toolbar: no Deploy button.
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    page.get_by_role("link", name="Devices").click()
    page.get_by_role("heading", level=1).filter(has_text="Devices").wait_for()
    page.close()
