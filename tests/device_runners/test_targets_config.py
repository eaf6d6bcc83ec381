"""TargetConfig (what plans embed), the environment's targets, and the paced loop of sustained mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from common.errors import InputError
from common.ids import host_id
from device_runners.sustained_worker import paced_run
from device_runners.targets import (
    TargetConfig,
    benchmark_model_path,
    env_targets,
    load_target_file,
    parse_ssh_spec,
    parse_target,
)
from results.schema import Delegate, TimingSettings


def test_a_full_adb_target():
    target = parse_target(
        {
            "name": "pixel7",
            "runner": "adb",
            "serial": "28031FDH2000BY",
            "delegates": ["gpu", "cpu"],
            "threads": [1, 4],
            "benchmark_model": "~/bin/android_aarch64_benchmark_model",
            "sustained": {"fps": 30, "secs": 120},
            "cooldown_secs": 60,
        }
    )
    assert target.delegates == (Delegate.GPU, Delegate.CPU) and target.threads == (1, 4)
    assert target.sustained.fps == 30 and target.sustained.chunk_secs == 5.0
    assert (target.device_id, target.label) == ("28031FDH2000BY", "pixel7")
    assert benchmark_model_path(target, {}) == Path.home() / "bin/android_aarch64_benchmark_model"


@pytest.mark.parametrize(
    ("fields", "device_id"),
    [
        ({"runner": "adb", "host": "192.168.1.20"}, "192.168.1.20:5555"),
        ({"runner": "adb"}, "auto"),
        ({"runner": "ssh", "host": "pi.local"}, "pi.local"),
        ({"runner": "ssh", "host": "pi.local", "port": 2222}, "pi.local:2222"),
        ({"runner": "host"}, host_id()),
        ({"runner": "coreml_mac"}, host_id()),  # a runner of this machine: its stable id
    ],
)
def test_device_ids(fields, device_id):
    assert TargetConfig(**fields).device_id == device_id


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"runner": "adb", "colour": "red"}, "target.colour: Extra inputs are not permitted"),
        ({"runner": "adb", "identity_file": "k"}, "identity_file: not used by runner 'adb'; allowed:"),
        ({"runner": "host", "serial": "x"}, "serial: not used by runner 'host'"),
        ({"runner": "ssh"}, "host: required for runner 'ssh'"),
        ({"runner": "phone"}, "target.runner: got 'phone'; allowed: host, adb, coreml_mac, ssh"),
        ({"runner": "adb", "threads": [0]}, "threads: each must be at least 1"),
        ({"runner": "adb", "delegates": ["tpu"]}, "target.delegates.0: Input should be"),
        (
            {"runner": "adb", "benchmark_flags": ["use_gpu=true"]},
            "benchmark_flags: each must look like --name=value",
        ),
        (
            {"runner": "ssh", "host": "h", "port": 70000},
            "target.port: Input should be less than or equal to 65535",
        ),
        ({"runner": "ssh", "host": "h", "remote_dir": "/tmp/a b"}, "remote_dir: must be an absolute path"),
        ({"runner": "adb", "sustained": {"fps": 0}}, "target.sustained.fps: Input should be greater than 0"),
    ],
)
def test_bad_targets_name_the_key(fields, message):
    with pytest.raises(InputError) as caught:
        parse_target(fields)
    assert message in str(caught.value)


def test_timing_settings_add_cooldown_and_a_sustained_run():
    base = TimingSettings(min_runs=20, cooldown_secs=5)
    target = TargetConfig(runner="adb", cooldown_secs=30, sustained={"fps": 30, "secs": 120})
    steady, sustained = target.timing_settings(base)
    assert steady == TimingSettings(min_runs=20, cooldown_secs=30)
    assert (sustained.sustained_fps, sustained.sustained_secs, sustained.min_runs) == (30, 120, 20)
    assert TargetConfig(runner="host").timing_settings(base) == [base]


def test_targets_are_frozen():
    with pytest.raises(ValidationError):
        TargetConfig(runner="adb").serial = "x"


def test_environment_targets():
    targets = env_targets(
        {
            "EDGEBENCH_ADB_DEVICES": "emulator-5554, 10.0.0.5:5555",
            "EDGEBENCH_SSH_HOSTS": "pi@raspberrypi.local:2222,jetson",
        }
    )
    assert [(t.runner, t.device_id) for t in targets] == [
        ("adb", "emulator-5554"),
        ("adb", "10.0.0.5:5555"),
        ("ssh", "raspberrypi.local:2222"),
        ("ssh", "jetson"),
    ]
    assert targets[2].user == "pi" and targets[3].user is None
    assert env_targets({}) == []
    with pytest.raises(InputError, match="port of 'pi@h:twenty' must be a number"):
        parse_ssh_spec("pi@h:twenty")


def test_benchmark_model_from_the_environment(tmp_path):
    assert benchmark_model_path(None, {"EDGEBENCH_BENCHMARK_MODEL": str(tmp_path / "bm")}) == tmp_path / "bm"
    assert benchmark_model_path(TargetConfig(runner="adb"), {}) is None


def test_target_file(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text("targets:\n  - {runner: ssh, host: pi.local, user: pi}\n  - {runner: adb, serial: abc}\n")
    assert [t.device_id for t in load_target_file(path)] == ["pi.local", "abc"]
    path.write_text("targets:\n  - {runner: ssh, host: pi.local, flavour: x}\n")
    with pytest.raises(InputError, match=r"targets.yaml: targets\[0\].flavour: Extra inputs"):
        load_target_file(path)
    path.write_text("devices: []\n")
    with pytest.raises(InputError, match="has no 'targets:' list"):
        load_target_file(path)
    with pytest.raises(InputError, match="cannot read"):
        load_target_file(tmp_path / "missing.yaml")


class FakeTime:
    """A clock that advances only when the loop sleeps or invokes."""

    def __init__(self, invoke_secs):
        self.now = 0.0
        self.invoke_secs = iter(invoke_secs)

    def clock(self):
        return self.now

    def sleep(self, secs):
        self.now += secs

    def invoke(self):
        self.now += next(self.invoke_secs)


def test_paced_run_keeps_the_rate():
    fake = FakeTime([0.005] * 100)
    result = paced_run(
        fake.invoke,
        fps=10,
        secs=1.0,
        read_temperature=lambda: 40.0,
        thermal_interval=0.5,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert result["sample_times_s"] == pytest.approx([i / 10 for i in range(10)])
    assert result["samples_ms"] == pytest.approx([5.0] * 10)
    assert result["dropped_frames"] == 0
    assert result["temperatures"] == [[0.0, 40.0], [0.5, 40.0]]


def test_paced_run_drops_frames_of_a_slow_model():
    fake = FakeTime([0.23] * 100)  # 230 ms per inference at 10 FPS: more than two frames each
    result = paced_run(
        fake.invoke, fps=10, secs=1.0, read_temperature=lambda: None, clock=fake.clock, sleep=fake.sleep
    )
    # A frame that arrived while the model was busy is taken at once; the older ones are dropped.
    assert result["sample_times_s"] == pytest.approx([0.0, 0.23, 0.46, 0.69, 0.92])
    assert result["dropped_frames"] == 5 and result["temperatures"] == []
