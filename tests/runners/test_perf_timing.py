"""The fidelity / stability script's arithmetic and verdicts (its measurements need an idle machine)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from rich.console import Console

from perf import perf_timing
from perf.perf_timing import Config


def config(delegate: str, bare: list[float], edgebench: list[float], kind: str = "float") -> Config:
    return Config(kind, Path(f"{kind}.tflite"), delegate, 1, bare_ms=bare, edgebench_ms=edgebench)


def all_configs(cpu_eb: list[float]) -> list[Config]:
    configs = []
    for kind in perf_timing.MODELS:
        for threads in perf_timing.THREADS:
            for delegate in perf_timing.DELEGATES:
                eb = cpu_eb if delegate == "cpu" else [1.0, 1.0, 1.0]
                item = config(delegate, [eb[0]] * 3, eb, kind)
                item.threads = threads
                configs.append(item)
    return configs


def test_ratio_is_of_the_medians_and_the_paired_ratio_beside_it():
    item = config("cpu", [1.0, 2.0, 4.0], [1.01, 2.2, 4.04])
    assert item.ratio == pytest.approx(2.2 / 2.0)
    assert item.paired_ratio == pytest.approx(1.01)
    # One round where only the bare loop hit a slow window moves the paired ratio, not the fidelity figure.
    burst = config("cpu", [1.0, 1.0, 1.0, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0])
    assert burst.ratio == pytest.approx(1.0)


def test_the_bare_loop_cv_is_reported_as_the_machine():
    console = Console(record=True, width=250)
    configs = all_configs([10.0, 12.0, 8.0])
    for item in configs:
        item.bare_ms = list(item.edgebench_ms)
    perf_timing.report(configs, console)
    assert "varies as much in the bare loop" in console.export_text()


def test_cv_is_relative_to_the_mean():
    assert config("cpu", [1, 1, 1], [9.0, 10.0, 11.0]).cv == pytest.approx(0.1)


def test_report_passes_when_both_checks_hold():
    console = Console(record=True, width=200)
    assert perf_timing.report(all_configs([10.0, 10.1, 9.9]), console)
    text = console.export_text()
    assert "PASS fidelity" in text and "PASS stability" in text and "10.0x faster" in text


def test_report_fails_a_noisy_configuration():
    console = Console(record=True, width=200)
    assert not perf_timing.report(all_configs([10.0, 12.0, 8.0]), console)
    assert "FAIL stability" in console.export_text()


def test_fewer_than_two_rounds_is_refused():
    with pytest.raises(SystemExit):
        perf_timing.parse_args(["--rounds", "1"])
    assert isinstance(perf_timing.parse_args([]), argparse.Namespace)
