"""Dashboard performance: the Trade-offs page's first render on a 100,000-record store (budget 3 s).

    python -m perf.perf_dashboard [--store PATH] [--records 100000] [--browser]

Fills the store with made-up ``tests.fixtures.records`` when it is empty (minutes, once; the file is
kept for the next run), then renders the page with Streamlit's AppTest (the server side of a page view:
loading, aggregating, building and serialising the figures) and, with ``--browser``, in headless
Chromium against a real ``streamlit run`` (until every plotly chart has drawn). Prints the figures
and a PASS/FAIL line per budget; exit code 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from common.process import run

BUDGET_S = 3.0
APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
DEFAULT_STORE = Path("/tmp/edgebench_perf_100k.sqlite")
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


def ensure_store(path: str, records: int, seed: int) -> str:
    """The store URL (a SQLite path or any store URL), filled with ``records`` synthetic records unless it
    already holds that many."""
    from common.errors import InputError
    from results.store import Store
    from tests.fixtures.records import fill_store

    store = Store(path)
    count = store.count()
    if count == 0:
        print(f"filling {store.url} with {records:,} records (once; takes minutes)...", flush=True)
        fill_store(store, records, seed=seed)
    elif count != records:
        raise InputError(f"--store: {path} holds {count:,} records, not {records:,}; pass a new path")
    return store.url


def _timed_run(app, label: str) -> float:
    started = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"{label}: the page raised {app.exception[0].value}")
    return seconds


FIRST = "first render, fresh process (imports pandas, plotly, sqlalchemy; opens the store)"


def time_apptest(url: str) -> dict[str, float]:
    """Seconds per scenario, rendered with AppTest in this (fresh) process; run by ``--child``."""
    os.environ["EDGEBENCH_STORE"] = url
    from streamlit.testing.v1 import AppTest

    figures = {}
    app = AppTest.from_file(str(APP), default_timeout=600)
    figures[FIRST] = _timed_run(app, "first")
    figures["(plotly charts drawn)"] = len(app.get("plotly_chart"))
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(APP), default_timeout=600)
    figures["first render, cold caches"] = _timed_run(app, "cold")
    figures["rerun, warm cache"] = _timed_run(app, "warm")
    app.multiselect(key="tradeoffs-run").set_value([])
    figures["all runs chosen, first time (loads every record's flat columns)"] = _timed_run(app, "all")
    figures["all runs chosen, warm cache"] = _timed_run(app, "all warm")
    return figures


def time_apptest_in_child(url: str) -> dict[str, float]:
    """Run :func:`time_apptest` in a new interpreter, so nothing is imported or cached beforehand."""
    argv = [sys.executable, "-m", "perf.perf_dashboard", "--child", url]
    completed = run(argv, timeout=1800)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def time_browser(url: str) -> dict[str, float]:
    """Seconds from opening the page in Chromium to every plotly chart drawn: first view of a fresh
    server, then a second view (server and caches warm)."""
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = ["--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true"]
    argv = [sys.executable, "-m", "streamlit", "run", str(APP), *serve, "--", "--store", url]
    # A long-lived server cannot go through common.process.run (it waits for the command to end).
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            figures = {}
            for label in ("browser: first view of a fresh server", "browser: second view, server warm"):
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function(_CHARTS_DRAWN, timeout=120_000)
                figures[label] = time.perf_counter() - started
                page.close()
            browser.close()
        return figures
    finally:
        server.terminate()
        server.wait(timeout=20)


_CHARTS_DRAWN = "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6"


def main(argv: list[str] | None = None) -> int:
    """Measure and print; returns 1 when the first render misses the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help=f"SQLite file or a PostgreSQL URL (default {DEFAULT_STORE})",
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--browser", action="store_true", help="also time a real page view in /usr/bin/chromium"
    )
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)  # internal: measure in this process
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_apptest(args.child)))
        return 0
    url = ensure_store(args.store, args.records, args.seed)
    load = os.getloadavg()[0]
    print(f"store {url}: {args.records:,} records; load average {load:.1f} on {os.cpu_count()} CPUs")
    figures = time_apptest_in_child(url)
    if args.browser:
        figures.update(time_browser(url))
    print(
        f"Trade-offs page ({figures.pop('(plotly charts drawn)'):.0f} plotly charts), newest run by default:"
    )
    for label, seconds in figures.items():
        print(f"  {seconds:6.2f} s  {label}")
    first = figures[FIRST]
    verdict = "PASS" if first <= BUDGET_S else "FAIL"
    print(f"{verdict}: Trade-offs first render {first:.2f} s (budget {BUDGET_S:.0f} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
