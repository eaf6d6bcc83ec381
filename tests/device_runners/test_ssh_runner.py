"""The SSH runner against a real OpenSSH server on 127.0.0.1, timing a real model through the worker.

The "board" is this machine: its Python is the repo's .venv Python (the target's ``python``), so the
worker finds numpy and ai_edge_litert as on a Raspberry Pi with LiteRT installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dr_helpers import make_job

from device_runners.ssh import SshRunner
from device_runners.targets import TargetConfig
from results.schema import Delegate, Status, TimingSettings

QUICK = TimingSettings(warmup_runs=1, warmup_min_secs=0, min_runs=5, min_secs=0, max_secs=30)


def board(sshd, remote: Path, **fields) -> TargetConfig:
    remote.mkdir(exist_ok=True)
    values = {
        "runner": "ssh",
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "identity_file": sshd.identity_file,
        "known_hosts_file": sshd.known_hosts,
        "python": sys.executable,
        "remote_dir": str(remote),
        "retries": 0,
        **fields,
    }
    return TargetConfig(**values)


def python_wrapper(path: Path, env: str = "") -> Path:
    """A 'python' for the board that is a shell script (so its own path can hold hostile characters)."""
    path.write_text(f'#!/bin/sh\n{env}exec {sys.executable} "$@"\n')
    path.chmod(0o755)
    return path


def no_pwned(*folders: Path) -> bool:
    return not any(list(folder.glob("PWNED*")) for folder in folders if folder.is_dir())


def test_times_a_real_model_over_ssh(sshd, tiny_tflite, tmp_path):
    remote = tmp_path / "remote"
    record = SshRunner(board(sshd, remote)).time(
        make_job(tiny_tflite, Delegate.XNNPACK, threads=2, settings=QUICK)
    )
    assert record.status is Status.OK, record.error
    assert len(record.timing.samples_ms) >= 5 and record.timing.median_ms > 0
    assert record.timing.init_ms is not None and record.tools.litert.startswith("ai_edge_litert")
    target = record.target
    assert (target.runner, target.device_id, target.threads) == ("ssh", f"127.0.0.1:{sshd.port}", 2)
    assert target.os.startswith("Linux") and target.abi and target.device_model
    assert list(remote.iterdir()) == []  # the remote temp dir was removed


@pytest.mark.slow
def test_cpu_delegate_and_devices(sshd, tiny_tflite, tmp_path):
    runner = SshRunner(board(sshd, tmp_path / "remote"))
    record = runner.time(make_job(tiny_tflite, Delegate.CPU, settings=QUICK))
    assert record.status is Status.OK and record.fallback is None
    (probe,) = runner.probe()
    assert probe.ok and probe.device.runner == "ssh" and probe.device.abi == record.target.abi


def test_hostile_model_name_and_python_path_cannot_inject(sshd, tiny_tflite, tmp_path):
    hostile = tmp_path / "a b;touch PWNED'\".tflite"
    hostile.write_bytes(tiny_tflite.read_bytes())
    python = python_wrapper(tmp_path / "my python;touch PWNED'\"")
    remote = tmp_path / "remote"
    record = SshRunner(board(sshd, remote, python=str(python))).time(
        make_job(hostile, Delegate.XNNPACK, settings=QUICK)
    )
    assert record.status is Status.OK, record.error
    assert record.artifact.path == str(hostile)
    assert no_pwned(Path.home(), tmp_path, remote, Path.cwd(), Path("/"))


@pytest.mark.parametrize("host", ["-oProxyCommand=touch PWNED", "127.0.0.1;touch PWNED"])
def test_hostile_host_name_is_a_host_name(sshd, tiny_tflite, tmp_path, monkeypatch, host):
    monkeypatch.chdir(tmp_path)
    record = SshRunner(board(sshd, tmp_path / "remote", host=host, connect_timeout_secs=3)).time(
        make_job(tiny_tflite, Delegate.CPU, settings=QUICK)
    )
    assert record.status is Status.FAILED and record.error.type == "TransportError"
    assert no_pwned(tmp_path, Path.home())


def test_worker_killed_by_a_signal_is_a_crash(sshd, tiny_tflite, tmp_path):
    python = python_wrapper(tmp_path / "crashing-python", env="EDGEBENCH_TEST_CRASH=segv ")
    record = SshRunner(board(sshd, tmp_path / "remote", python=str(python))).time(
        make_job(tiny_tflite, Delegate.XNNPACK, settings=QUICK)
    )
    assert record.status is Status.CRASHED
    assert (record.error.type, record.error.signal) == ("SIGSEGV", 11)
    assert list((tmp_path / "remote").iterdir()) == []


def test_unreachable_board_retries_then_fails(tiny_tflite, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    target = TargetConfig(
        runner="ssh",
        host="127.0.0.1",
        port=port,
        retries=2,
        retry_backoff_secs=0.25,
        connect_timeout_secs=2,
        known_hosts_file=tmp_path / "known_hosts",
    )
    record = SshRunner(target, sleep=sleeps.append).time(make_job(tiny_tflite, Delegate.CPU, settings=QUICK))
    assert record.status is Status.FAILED and record.error.type == "TransportError"
    assert "gave up after 3 attempts" in record.error.message and sleeps == [0.25, 0.5]


def test_board_python_without_litert_is_a_reason(sshd, tmp_path):
    python = tmp_path / "python-without-litert"
    python.write_text("#!/bin/sh\nexec /usr/bin/env -i /bin/sh -c 'exit 3'\n")
    python.chmod(0o755)
    (probe,) = SshRunner(board(sshd, tmp_path / "remote", python=str(python))).probe()
    assert not probe.ok and "no ai_edge_litert or tflite_runtime" in probe.reason


@pytest.mark.slow
def test_sustained_mode_over_ssh(sshd, tiny_tflite, tmp_path):
    settings = TimingSettings(warmup_runs=1, warmup_min_secs=0, sustained_fps=40, sustained_secs=0.5)
    record = SshRunner(board(sshd, tmp_path / "remote")).time(
        make_job(tiny_tflite, Delegate.XNNPACK, settings=settings)
    )
    assert record.status is Status.OK, record.error
    trace = record.timing.sustained
    assert trace.target_fps == 40
    assert len(record.timing.samples_ms) == len(trace.sample_times_s) >= 15
    assert trace.sample_times_s == sorted(trace.sample_times_s)
    # Paced, not back to back: consecutive starts are about a frame (25 ms) apart.
    gaps = [b - a for a, b in zip(trace.sample_times_s, trace.sample_times_s[1:], strict=False)]
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(0.025, abs=0.01)
