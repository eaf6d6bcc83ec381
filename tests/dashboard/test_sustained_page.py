"""The Sustained page (Streamlit AppTest): chosen records' traces overlaid, energy against mAP with fronts."""

from __future__ import annotations

from test_pages import open_app, plotly_charts

from dashboard import sustained_charts as sc
from tests.fixtures.records import synthetic_records

PAGE = "views/sustained.py"


def test_sustained_page_draws_traces_and_the_energy_front(monkeypatch, fixture_store_url):
    app = open_app(monkeypatch, fixture_store_url, PAGE)
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value.startswith("Sustained")
    charts = plotly_charts(app)
    assert len(charts) == 2  # the overlaid traces and energy against mAP
    overlay = app.multiselect(key="sustained-records")
    assert len(overlay.value) == 3
    overlay.set_value(overlay.value[:1]).run()
    assert not app.exception and len(plotly_charts(app)) == 2
    app.radio(key="sustained-metric").set_value("ar100").run()
    assert not app.exception
    app.multiselect(key="sustained-records").set_value([]).run()
    assert len(plotly_charts(app)) == 1  # nothing to overlay: only the energy chart
    assert any("Choose records" in c.value for c in app.caption)


def test_sustained_page_on_empty_store(monkeypatch, empty_store_url):
    app = open_app(monkeypatch, empty_store_url, PAGE)
    assert not app.exception and any("no records yet" in info.value for info in app.info)


def test_traces_figure_overlays_latency_temperature_and_power():
    records = [r for r in synthetic_records(1200, seed=0, runs=3) if r.energy is not None][:2]
    figure = sc.traces_figure(records)
    by_axis = {}
    for trace in figure.data:
        by_axis.setdefault(trace.yaxis, []).append(trace)
    assert sorted(by_axis) == ["y", "y2", "y3"]  # latency, temperature, power rows
    assert len(by_axis["y"]) == 2 and len(by_axis["y3"]) == 4  # each record's power and its idle line
    assert list(by_axis["y3"][0].y) == records[0].energy.trace.power_mw


def test_energy_front_keeps_only_undominated_points():
    records = [r for r in synthetic_records(1200, seed=0, runs=3) if r.energy is not None]
    accuracy = {r.artifact.sha256: (r.accuracy.map, r.accuracy.ar100) for r in records if r.accuracy}
    points = sc.energy_points(sc.sustained_table(records, accuracy), "map")
    assert not points.empty and points["pareto"].any()
    for _, row in points[points["pareto"]].iterrows():
        same = points[points["device"] == row["device"]]
        better = same[(same["energy_mj"] < row["energy_mj"]) & (same["map"] > row["map"])]
        assert better.empty
    assert points["energy_mj"].min() > 0


def test_record_detail_shows_the_energy_figures(monkeypatch, fixture_store_url):
    # The newest one: the picker offers the newest records.
    record = max((r for r in synthetic_records(1200, seed=0, runs=3) if r.energy), key=lambda r: r.created_at)
    app = open_app(monkeypatch, fixture_store_url, "views/records.py")
    app.selectbox(key="records-pick").set_value(record.record_id).run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["energy / inference"] == f"{record.energy.figures.energy_per_inference_mj:.2f} mJ"
    onset = record.energy.figures.throttle_onset_s
    assert metrics["throttling onset"] == (f"{onset:.0f} s" if onset is not None else "none")
    assert metrics["dropped frames"] == str(record.energy.figures.dropped_frames)
