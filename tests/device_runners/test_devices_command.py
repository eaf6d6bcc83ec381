"""``edgebench devices``: reachable targets, and the reason for the others, through the real CLI."""

from __future__ import annotations

import json
import socket
import sys

import pytest
from dr_fake_adb import DeviceConfig, FakeAdbDevice
from dr_helpers import recorded

from bench import cli


@pytest.fixture
def phone(tmp_path):
    config = DeviceConfig(
        root=tmp_path / "device",
        getprop=recorded("getprop_pixel7.txt"),
        thermal=[("", "")],
        benchmark_outputs={},
    )
    config.root.mkdir()
    fake = FakeAdbDevice(config)
    yield fake
    fake.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def devices_json(capsys, *args: str) -> list[dict]:
    assert cli.main(["devices", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_lists_host_and_says_why_the_rest_are_missing(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no adb server
    monkeypatch.delenv("EDGEBENCH_ADB_DEVICES", raising=False)
    monkeypatch.delenv("EDGEBENCH_SSH_HOSTS", raising=False)
    rows = {row["runner"]: row for row in devices_json(capsys)}
    assert rows["host"]["reachable"] is True and "xnnpack" in rows["host"]["delegates"]
    assert rows["adb"]["reachable"] is False and "no adb server" in rows["adb"]["reason"]
    assert rows["ssh"]["reachable"] is False and "EDGEBENCH_SSH_HOSTS" in rows["ssh"]["reason"]
    if sys.platform != "darwin":
        assert "Core ML prediction needs macOS" in rows["coreml_mac"]["reason"]


def test_targets_file_and_environment(capsys, monkeypatch, tmp_path, phone):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("EDGEBENCH_SSH_HOSTS", f"nobody@127.0.0.1:{closed_port()}")
    monkeypatch.delenv("EDGEBENCH_ADB_DEVICES", raising=False)
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "targets:\n"
        f"  - {{name: lab-pixel, runner: adb, host: 127.0.0.1, port: {phone.port}, use_adb_server: false}}\n"
        f"  - {{name: dead-phone, runner: adb, host: 127.0.0.1, port: {closed_port()}, use_adb_server: false,"
        " connect_timeout_secs: 2}\n"
    )
    rows = {row["target"]: row for row in devices_json(capsys, "--targets", str(targets))}
    pixel = rows["lab-pixel"]
    assert (
        pixel["reachable"] is True
        and pixel["model"] == "Google Pixel 7"
        and pixel["os"] == "Android 14 (API 34)"
    )
    assert pixel["delegates"] == ["cpu", "xnnpack", "gpu", "nnapi"]
    assert rows["dead-phone"]["reachable"] is False and "cannot connect" in rows["dead-phone"]["reason"]
    board = next(row for row in rows.values() if row["runner"] == "ssh")
    assert board["reachable"] is False and board["reason"]


def test_table_output(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("EDGEBENCH_SSH_HOSTS", raising=False)
    assert cli.main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "host" in out and "reachable" in out and "no adb server" in out


def test_bad_targets_file_is_exit_2(capsys, tmp_path):
    bad = tmp_path / "targets.yaml"
    bad.write_text("targets:\n  - {runner: adb, identity_file: k}\n")
    assert cli.main(["devices", "--targets", str(bad)]) == 2
    assert "identity_file: not used by runner 'adb'" in capsys.readouterr().err
