"""The adb runner end to end against a fake device speaking the ADB wire protocol on 127.0.0.1."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from dr_fake_adb import DeviceConfig, FakeAdbDevice
from dr_helpers import encode_result, fake_benchmark_binary, make_job, recorded

from common.errors import InputError
from device_runners.adb import AdbRunner
from device_runners.targets import TargetConfig
from results.schema import Delegate, Status, TimingSettings
from results.store import Store

COOL = (recorded("dumpsys_thermalservice.txt"), recorded("dumpsys_battery.txt"))
HOT = (recorded("dumpsys_thermalservice_hot.txt"), recorded("dumpsys_battery_hot.txt"))
OUTPUTS = {
    "cpu": recorded("bm_cpu_scientific.txt"),
    "xnnpack": recorded("bm_xnnpack.txt"),
    "gpu": recorded("bm_gpu_partial.txt"),
    "nnapi": recorded("bm_nnapi_full.txt"),
}


@pytest.fixture
def device(tmp_path: Path):
    root = tmp_path / "device"
    (root / "data/local/tmp").mkdir(parents=True)
    config = DeviceConfig(
        root=root,
        getprop=recorded("getprop_pixel7.txt"),
        thermal=[COOL, HOT],
        benchmark_outputs=dict(OUTPUTS),
    )
    fake = FakeAdbDevice(config)
    yield fake
    fake.stop()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "ssdlite_320.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(range(256)) * 4)
    return path


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    return fake_benchmark_binary(tmp_path / "android_aarch64_benchmark_model")


def runner_for(device: FakeAdbDevice, binary: Path, sleeps: list | None = None, **fields) -> AdbRunner:
    fields = {"connect_timeout_secs": 5, **fields}
    target = TargetConfig(
        runner="adb",
        host="127.0.0.1",
        port=device.port,
        use_adb_server=False,
        benchmark_model=binary,
        **fields,
    )
    return AdbRunner(target, sleep=(sleeps.append if sleeps is not None else lambda _s: None))


def leftovers(device: FakeAdbDevice) -> list[str]:
    return sorted(p.name for p in (device.config.root / "data/local/tmp").iterdir())


def benchmark_commands(device: FakeAdbDevice) -> list[list[str]]:
    return [shlex.split(c) for c in device.config.commands if "/benchmark_model" in c]


def test_xnnpack_end_to_end_with_result_proto(device, binary, model):
    device.config.proto = encode_result({"avg_ms": 12.5, "median_ms": 12.25, "stddev_ms": 0.25}, 30.5)
    record = runner_for(device, binary).time(make_job(model, Delegate.XNNPACK, threads=4))
    assert record.status is Status.OK, record.error
    target = record.target
    assert (target.runner, target.device_id, target.delegate, target.threads) == (
        "adb",
        f"127.0.0.1:{device.port}",
        Delegate.XNNPACK,
        4,
    )
    assert (target.device_model, target.os, target.soc, target.abi) == (
        "Google Pixel 7",
        "Android 14 (API 34)",
        "Google Tensor G2",
        "arm64-v8a",
    )
    timing = record.timing
    assert timing.median_ms == 12.25 and timing.mean_ms == 12.5 and timing.std_ms == 0.25  # from the proto
    assert timing.min_ms == pytest.approx(12.198) and timing.max_ms == pytest.approx(13.970)  # from stdout
    assert timing.init_ms == pytest.approx(41.237) and timing.first_inference_ms == pytest.approx(21.875)
    assert timing.peak_memory_mb == 30.5 and timing.samples_ms == []
    assert (timing.ops_total, timing.ops_outside_delegate) == (64, 1)
    assert timing.thermal_before == "NONE battery=31.2C soc=38.6C"
    assert timing.thermal_after == "MODERATE battery=37.9C soc=71.3C"
    assert record.fallback is not None and record.fallback.full is False
    assert record.tools.benchmark_binary.startswith("android_aarch64_benchmark_model sha256:")
    (argv,) = benchmark_commands(device)
    assert "--use_xnnpack=true" in argv and "--num_threads=4" in argv and "--num_runs=3" in argv
    assert any(word.startswith("--result_file_path=") for word in argv)
    modes = {Path(path).name: mode & 0o777 for path, mode, _ in device.config.pushes}
    assert modes == {"benchmark_model": 0o755, model.name: 0o644}
    assert leftovers(device) == []  # the pushed directory was removed


@pytest.mark.parametrize(
    ("delegate", "flag", "full", "outside"),
    [
        (Delegate.CPU, "--use_xnnpack=false", None, None),
        (Delegate.GPU, "--use_gpu=true", False, 3),
        (Delegate.NNAPI, "--use_nnapi=true", None, 0),
    ],
)
def test_delegates_flags_and_fallback(device, binary, model, delegate, flag, full, outside):
    record = runner_for(device, binary).time(make_job(model, delegate))
    assert record.status is Status.OK, record.error
    assert flag in benchmark_commands(device)[0]
    assert (record.fallback.full if record.fallback else None) is full
    assert record.timing.ops_outside_delegate == outside
    if delegate is Delegate.GPU:
        assert "TFLite_Detection_PostProcess" in record.fallback.detail
        assert record.timing.median_ms == pytest.approx(7.82)  # no proto written: stdout
    if delegate is Delegate.CPU:
        assert record.timing.mean_ms == pytest.approx(1240.27)  # "avg=1.24027e+06" us


def test_gpu_that_declines_everything_is_a_cpu_timing(device, binary, model):
    device.config.benchmark_outputs["gpu"] = recorded("bm_gpu_declined.txt")
    record = runner_for(device, binary).time(make_job(model, Delegate.GPU))
    assert record.status is Status.OK
    assert record.fallback.full is True and "CPU timings" in record.fallback.detail
    assert record.target.delegate is Delegate.GPU  # what was asked; fallback.full says what ran


@pytest.mark.parametrize("mode", ["warn", "fail"])
def test_old_binary_without_result_file_flag(device, binary, model, mode):
    device.config.old_binary = mode
    device.config.benchmark_outputs["xnnpack"] = recorded("bm_tf23.txt")
    runner = runner_for(device, binary)
    first = runner.time(make_job(model, Delegate.XNNPACK))
    assert first.status is Status.OK, first.error
    assert first.timing.mean_ms == pytest.approx(38.8704) and first.timing.median_ms is None
    second = runner.time(make_job(model, Delegate.XNNPACK))
    assert second.status is Status.OK
    runs = benchmark_commands(device)
    assert len(runs) == (3 if mode == "fail" else 2)  # "fail" repeats the first run without the flags
    assert not any(word.startswith("--result_file_path") for word in runs[-1])  # remembered per device


def test_segfault_is_a_crashed_record(device, binary, model):
    device.config.benchmark_exit = 139
    record = runner_for(device, binary).time(make_job(model, Delegate.GPU))
    assert record.status is Status.CRASHED
    assert (record.error.type, record.error.signal, record.error.returncode) == ("SIGSEGV", 11, 139)
    assert record.timing is None and leftovers(device) == []


def test_failed_benchmark_carries_its_command_and_output(device, binary, model):
    device.config.benchmark_outputs["gpu"] = recorded("bm_disallowed_fallback.txt")
    device.config.benchmark_exit = 1
    record = runner_for(device, binary, benchmark_flags=("--require_full_delegation=true",)).time(
        make_job(model, Delegate.GPU)
    )
    assert record.status is Status.FAILED and record.error.type == "CommandError"
    assert "could not take the whole graph" in record.error.message
    assert record.error.command[-1] == "--require_full_delegation=true"
    assert "Disallowed CPU fallback detected." in record.error.stderr_tail


def test_disconnect_mid_run_retries_then_fails_and_keeps_earlier_records(device, binary, model, tmp_path):
    store = Store(str(tmp_path / "records.sqlite"))
    sleeps: list[float] = []
    runner = runner_for(device, binary, sleeps, retries=2, retry_backoff_secs=0.5)
    good = runner.time(make_job(model, Delegate.XNNPACK, run_id="night"))
    assert good.status is Status.OK and store.add(good)
    device.config.drop_when = lambda command: "/benchmark_model" in command
    before = device.config.connections
    bad = runner.time(make_job(model, Delegate.CPU, run_id="night"))
    assert bad.status is Status.FAILED and bad.error.type == "TransportError"
    assert "gave up after 3 attempts" in bad.error.message
    assert sleeps == [0.5, 1.0]  # exponential backoff between the three attempts
    assert len(benchmark_commands(device)) == 1 + 3
    assert device.config.connections - before >= 3  # every attempt on a fresh connection
    assert leftovers(device) == []  # each attempt's directory was removed after the drop
    assert store.add(bad)
    stored = store.records("night")
    assert [r.status for r in stored] == [Status.OK, Status.FAILED]
    assert stored[0] == good  # the earlier record is intact, samples and all


def test_hostile_model_name_is_pushed_and_timed_without_injection(device, binary, tmp_path):
    hostile = tmp_path / "a b;touch PWNED'\".tflite"
    hostile.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    record = runner_for(device, binary).time(make_job(hostile, Delegate.XNNPACK))
    assert record.status is Status.OK, record.error
    (argv,) = benchmark_commands(device)
    graph = next(word for word in argv if word.startswith("--graph="))
    assert graph.endswith("/a b;touch PWNED'\".tflite")
    assert any(Path(path).name == hostile.name for path, _, _ in device.config.pushes)
    assert not list(device.config.root.rglob("PWNED*"))


def test_unquoted_command_would_have_been_caught(device):
    # The fake shell really runs what follows an unquoted ';' (so the test above can fail).
    device.shell.run("echo a b;touch PWNED")
    assert (device.config.root / "PWNED").exists()


def test_missing_binary(device, model, monkeypatch, tmp_path):
    monkeypatch.delenv("EDGEBENCH_BENCHMARK_MODEL", raising=False)
    target = TargetConfig(runner="adb", host="127.0.0.1", port=device.port, use_adb_server=False)
    record = AdbRunner(target).time(make_job(model, Delegate.CPU))
    assert record.status is Status.UNSUPPORTED and "EDGEBENCH_BENCHMARK_MODEL" in record.error.message
    monkeypatch.setenv("EDGEBENCH_BENCHMARK_MODEL", str(tmp_path / "nope"))
    with pytest.raises(InputError, match="does not exist"):
        AdbRunner(target).time(make_job(model, Delegate.CPU))


def test_binary_for_another_abi_is_unsupported(device, model, tmp_path):
    x86 = fake_benchmark_binary(tmp_path / "x86_64_benchmark_model", machine=0x3E)
    record = runner_for(device, x86).time(make_job(model, Delegate.CPU))
    assert record.status is Status.UNSUPPORTED
    assert "built for x86_64" in record.error.message and "arm64-v8a" in record.error.message


def test_emulator_takes_its_own_abi(device, model, tmp_path):
    device.config.getprop = recorded("getprop_emulator.txt")
    x86 = fake_benchmark_binary(tmp_path / "x86_64_benchmark_model", machine=0x3E)
    record = runner_for(device, x86).time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.OK
    assert record.target.device_model == "Google sdk_gphone64_x86_64 (emulator)"
    assert record.target.abi == "x86_64"
    assert record.target.simulated is True  # ro.kernel.qemu=1: not a phone's hardware (issue 20)
    assert runner_for(device, x86).devices()[0].simulated is True


def test_devices_reads_getprop(device, binary, model):
    (info,) = runner_for(device, binary).devices()
    assert (info.runner, info.model, info.os) == ("adb", "Google Pixel 7", "Android 14 (API 34)")
    assert Delegate.GPU in info.delegates
    assert info.simulated is False
    assert runner_for(device, binary).time(make_job(model, Delegate.XNNPACK)).target.simulated is False


def test_unreachable_address_is_a_reason_not_an_exception(binary):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = TargetConfig(
        runner="adb", host="127.0.0.1", port=port, use_adb_server=False, connect_timeout_secs=2
    )
    (probe_result,) = AdbRunner(target).probe()
    assert not probe_result.ok and "cannot connect" in probe_result.reason


def test_sustained_mode_in_chunks(device, binary, model):
    device.config.thermal = [COOL, COOL, COOL, HOT]  # before, start, after chunk 1, after chunk 2
    settings = TimingSettings(
        warmup_runs=1, warmup_min_secs=0, min_runs=3, min_secs=0, sustained_fps=30, sustained_secs=2
    )
    runner = runner_for(device, binary, sustained={"fps": 30, "secs": 2, "chunk_secs": 1})
    record = runner.time(make_job(model, Delegate.XNNPACK, settings=settings))
    assert record.status is Status.OK, record.error
    trace = record.timing.sustained
    assert trace.target_fps == 30 and len(trace.sample_times_s) == 2
    assert record.timing.samples_ms == pytest.approx([12.4228, 12.4228])
    assert [t for _, t in trace.temperatures] == [38.6, 38.6, 71.3]  # start, after chunk 1, after chunk 2
    assert trace.dropped_frames == 0
    runs = benchmark_commands(device)
    assert len(runs) == 3  # calibration + two chunks
    delays = [float(w.split("=")[1]) for w in runs[1] if w.startswith("--run_delay=")]
    assert delays == [pytest.approx(1 / 30 - 0.0124228, abs=1e-6)]  # frame period minus the latency
    assert "--num_runs=30" in runs[1] and "--warmup_runs=0" in runs[1]


def test_large_binary_arrives_intact(device, tmp_path, model, monkeypatch):
    # A tiny socket send buffer makes non-blocking sends partial, as a slow Wi-Fi link does; adb-shell's
    # own transport then corrupts the stream (this test hangs, then fails, with it).
    import hashlib
    import random
    import socket

    from device_runners import adb_transport

    connect = adb_transport._SafeTcpTransport.connect

    def small_buffer_connect(self, timeout):
        connect(self, timeout)
        self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    monkeypatch.setattr(adb_transport._SafeTcpTransport, "connect", small_buffer_connect)
    big = fake_benchmark_binary(tmp_path / "big_benchmark_model")
    big.write_bytes(big.read_bytes() + random.Random(0).randbytes(3_000_000))
    record = runner_for(device, big, retries=0, run_timeout_secs=20).time(make_job(model, Delegate.CPU))
    assert record.status is Status.OK, record.error
    digests = {Path(path).name: digest for path, _, digest in device.config.pushes}
    assert digests["benchmark_model"] == hashlib.sha256(big.read_bytes()).hexdigest()


def test_device_that_requires_adb_key(device, binary, model, tmp_path):
    from adb_shell.auth.keygen import keygen
    from cryptography.hazmat.primitives import serialization

    keygen(str(tmp_path / "adbkey"))
    private = serialization.load_pem_private_key((tmp_path / "adbkey").read_bytes(), None)
    device.config.auth_key = private.public_key()
    record = runner_for(device, binary, adb_key=tmp_path / "adbkey").time(make_job(model, Delegate.CPU))
    assert record.status is Status.OK, record.error
    keygen(str(tmp_path / "otherkey"))  # a key the phone never accepted: it keeps asking
    refused = runner_for(device, binary, adb_key=tmp_path / "otherkey", retries=0, connect_timeout_secs=1)
    failed = refused.time(make_job(model, Delegate.CPU))
    assert failed.status is Status.FAILED and failed.error.type == "TransportError"
