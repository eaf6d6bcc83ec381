"""The adb runner through an adb server: the `adb` program (a fake one on PATH) run by common.process."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from dr_helpers import fake_benchmark_binary, make_job

from device_runners.adb import AdbRunner
from device_runners.targets import TargetConfig
from results.schema import Delegate, Status

CLI = Path(__file__).resolve().parent / "dr_fake_adb_cli.py"


@pytest.fixture
def adb_on_path(tmp_path, monkeypatch):
    """Puts a fake ``adb`` first on PATH; returns (device root, log of adb invocations)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    adb = folder / "adb"
    adb.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(CLI))} "$@"\n')
    adb.chmod(0o755)
    root, log = tmp_path / "device", tmp_path / "adb.log"
    (root / "data/local/tmp").mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.setenv("EDGEBENCH_FAKE_ADB_ROOT", str(root))
    monkeypatch.setenv("EDGEBENCH_FAKE_ADB_LOG", str(log))
    monkeypatch.delenv("EDGEBENCH_ADB_DEVICES", raising=False)
    return root, log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_timing_through_the_adb_program(adb_on_path, tmp_path):
    root, log = adb_on_path
    model = tmp_path / "my model.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    binary = fake_benchmark_binary(tmp_path / "android_aarch64_benchmark_model")
    target = TargetConfig(runner="adb", serial="28031FDH2000BY", benchmark_model=binary)
    record = AdbRunner(target).time(make_job(model, Delegate.GPU))
    assert record.status is Status.OK, record.error
    assert record.target.device_id == "28031FDH2000BY" and record.target.device_model == "Google Pixel 7"
    assert record.fallback.full is False and record.timing.median_ms == pytest.approx(7.82)
    pushes = [c for c in calls(log) if c[2:3] == ["push"]]
    assert [Path(c[3]) for c in pushes] == [binary.resolve(), model.resolve()]  # absolute local paths
    assert all(c[:2] == ["-s", "28031FDH2000BY"] for c in calls(log))
    bench = next(c for c in calls(log) if c[2] == "shell" and "benchmark_model" in c[3])
    assert len(bench) == 4  # one pre-quoted word for the device shell
    assert list((root / "data/local/tmp").iterdir()) == []  # cleaned up


def test_server_devices_and_their_states(adb_on_path):
    probes = {p.label: p for p in AdbRunner().probe()}
    assert probes["28031FDH2000BY"].ok and probes["28031FDH2000BY"].device.soc == "Google Tensor G2"
    assert "unauthorized" in probes["R58M123ABC"].reason and "USB debugging" in probes["R58M123ABC"].reason
    assert "offline" in probes["192.168.1.20:5555"].reason
    assert len(probes) == 4


def test_unknown_serial_is_a_failed_record(adb_on_path, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\x00" * 32)
    binary = fake_benchmark_binary(tmp_path / "bm")
    target = TargetConfig(
        runner="adb", serial="NOPE", benchmark_model=binary, retries=1, retry_backoff_secs=0
    )
    record = AdbRunner(target, sleep=lambda _s: None).time(make_job(model, Delegate.CPU))
    assert record.status is Status.FAILED and record.error.type == "TransportError"
    assert "not found" in record.error.message and "2 attempts" in record.error.message
