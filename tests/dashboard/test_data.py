"""Where the dashboard finds its store, and the run comparison frame."""

from __future__ import annotations

from pathlib import Path

from dashboard.comparison import comparison_frame, delta_rows
from dashboard.data import store_url
from results.checks import parse_checks
from results.regression import compare_runs
from results.store import DEFAULT_PATH, STORE_ENV
from tests.fixtures.records import synthetic_records


def test_store_url_argument_beats_environment_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.sqlite"))
    assert store_url(["--store", str(tmp_path / "arg.sqlite")]).endswith("arg.sqlite")
    assert store_url(["--server.port", "1"]) == f"sqlite:///{tmp_path / 'env.sqlite'}"
    monkeypatch.delenv(STORE_ENV)
    assert store_url([]) == f"sqlite:///{DEFAULT_PATH}"
    assert store_url(["--store", "postgresql://u@127.0.0.1/eb"]) == "postgresql://u@127.0.0.1/eb"


def test_store_url_ignores_abbreviations(monkeypatch):
    monkeypatch.delenv(STORE_ENV, raising=False)
    # pytest's own arguments share sys.argv with AppTest; a prefix must not be read as --store.
    assert store_url(["--sto", "x.sqlite"]) == f"sqlite:///{Path(DEFAULT_PATH)}"


def test_comparison_frame_marks_the_regressed_variant():
    records = list(synthetic_records(160, seed=3, runs=2))
    runs = sorted({r.run_id for r in records})
    base = [r for r in records if r.run_id == runs[0]]
    cand = [r for r in records if r.run_id == runs[1]]
    comparison = compare_runs(base, cand, parse_checks("median:5%"), allow_missing=True)
    frame = comparison_frame(comparison)
    assert len(frame) == 80
    assert {"target", "verdict", "speed", "median Δ %", "Δ median", "why"} <= set(frame.columns)
    slowed = frame[frame["median Δ %"] > 20]
    assert len(slowed) > 0 and slowed["verdict"].eq("regressed").all()
    rows = delta_rows(frame)
    assert rows.loc[slowed.index, "verdict"].eq("regression").all()
    assert rows["unit"].eq("%").all()
