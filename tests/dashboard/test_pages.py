"""Every page renders without exception on a fixture store and on an empty store (Streamlit AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from results.store import STORE_ENV

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ["views/tradeoffs.py", "views/devices.py", "views/runs.py", "views/records.py"]
TIMEOUT = 60  # the first run imports plotly and loads the store; CI machines are slow


def open_app(monkeypatch: pytest.MonkeyPatch, url: str, page: str | None = None) -> AppTest:
    monkeypatch.setenv(STORE_ENV, url)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    if page is not None:
        app.switch_page(page).run()
    return app


def plotly_charts(app: AppTest) -> list:
    return app.get("plotly_chart")


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_fixture_store(monkeypatch, fixture_store_url, page):
    app = open_app(monkeypatch, fixture_store_url, page)
    assert not app.exception, [e.value for e in app.exception]
    assert not [e.value for e in app.error if "CI would fail" not in e.value]
    assert app.title[0].value.split(":")[0] in {"Trade-offs", "Devices", "Runs", "Records"}
    assert plotly_charts(app), f"{page} drew no plotly chart"


@pytest.mark.parametrize("page", PAGES)
def test_page_on_empty_store_says_how_to_fill_it(monkeypatch, empty_store_url, page):
    app = open_app(monkeypatch, empty_store_url, page)
    assert not app.exception, [e.value for e in app.exception]
    assert any("no records yet" in info.value for info in app.info)
    assert any("make benchmark" in md.value for md in app.markdown)
    # Made-up records are test data: the page never offers to write them into the user's store.
    assert not any("fixture" in md.value or "synthetic" in md.value for md in app.markdown)
    assert not plotly_charts(app)


def test_unopenable_store_shows_an_error(monkeypatch, tmp_path):
    app = open_app(monkeypatch, f"sqlite:///{tmp_path}/missing-dir/x.sqlite")
    assert not app.exception
    assert "Cannot open the results store" in app.error[0].value


def test_tradeoffs_one_latency_chart_per_device_plus_size(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url)
    # Five fixture devices, one latency chart each, and the size chart.
    assert len(plotly_charts(app)) == 6
    app.radio(key="tradeoffs-metric").set_value("ar100").run()
    assert not app.exception
    app.multiselect(key="tradeoffs-device").select("Pixel 7").run()
    assert not app.exception
    assert len(plotly_charts(app)) == 2


def test_tradeoffs_filters_that_leave_nothing_say_so(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url)
    # Core ML delegates exist only on the Mac; a host-only device filter with them leaves nothing.
    app.multiselect(key="tradeoffs-device").select("AMD EPYC 7B13").run()
    app.multiselect(key="tradeoffs-delegate").select("coreml_ane").run()
    assert not app.exception
    assert any("No timed record" in info.value for info in app.info)


def test_devices_fixed_thread_count_and_linear_axis(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url, "views/devices.py")
    app.radio(key="devices-threads").set_value(4).run()
    app.toggle(key="devices-log").set_value(False).run()
    assert not app.exception
    # Only the two phones and the Raspberry Pi ran with 4 threads.
    assert len(plotly_charts(app)) == 3


def test_runs_page_reports_the_fixture_regression(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url, "views/runs.py")
    assert not app.exception
    # The fixture's last run is 25 % slower on one variant: CI would fail it.
    assert any("CI would fail" in error.value for error in app.error)


def test_runs_page_rejects_bad_checks_in_one_line(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url, "views/runs.py")
    app.text_input(key="runs-checks").input("median:fast").run()
    assert not app.exception
    assert any("--checks" in error.value and "median:fast" in error.value for error in app.error)


def test_records_detail_of_a_failed_record_shows_its_error(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url, "views/records.py")
    app.multiselect(key="records-status").select("crashed").run()
    assert not app.exception
    assert any("SIGSEGV" in error.value for error in app.error)
    assert any(button.label == "Download CSV" for button in app.get("download_button"))
