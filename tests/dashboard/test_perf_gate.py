"""The dashboard's perf gate (``make perf``) points at the real app, wherever the gate script lives."""

from __future__ import annotations

from pathlib import Path

from perf import perf_dashboard


def test_the_gate_renders_the_repository_dashboard():
    assert Path(__file__).resolve().parents[2] / "dashboard" / "app.py" == perf_dashboard.APP
    assert perf_dashboard.APP.is_file()
