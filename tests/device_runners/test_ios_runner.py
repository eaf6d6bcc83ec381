"""The ios runner against fakes of xcrun (devicectl, simctl) and xcodebuild on PATH (ios_fakes.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dr_helpers import make_job
from ios_fakes import RECORDED, FakeApple

from device_runners import ios_app
from device_runners.ios import IosRunner
from device_runners.targets import TargetConfig
from results.schema import Delegate, Status, TimingSettings

IPHONE11 = "00008030-001A2B3C4D5E6F70"
IPHONE8 = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
SIMULATOR = "7D3F9E2A-1B4C-4D5E-8F6A-7B8C9D0E1F2A"


@pytest.fixture
def apple(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeApple:
    fake = FakeApple(tmp_path)
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(ios_app.BUILD_CACHE_ENV, str(tmp_path / "builds"))
    return fake


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "detector.tflite"
    path.write_bytes(b"TFL3 pretend detector bytes")
    return path


def runner(apple: FakeApple, serial: str | None = IPHONE11, **keys) -> IosRunner:
    fields = {"runner": "ios", "ios_app": apple.checkout, "development_team": "ABCDE12345", **keys}
    if serial:
        fields["serial"] = serial
    return IosRunner(TargetConfig(**fields), system="darwin")


def test_off_macos_every_job_is_unsupported_with_the_reason(model: Path) -> None:
    ios = IosRunner(TargetConfig(runner="ios", serial=IPHONE11), system="linux")
    record = ios.time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.UNSUPPORTED and "from a Mac with Xcode" in record.error.message
    assert "this machine runs linux" in ios.probe()[0].reason


def test_without_xcode_discovery_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no xcrun, no xcodebuild
    monkeypatch.setattr("device_runners.ios.host_platform", lambda: "darwin")
    probes = IosRunner.discover([])
    assert len(probes) == 1 and not probes[0].ok and "install Xcode" in probes[0].reason


def test_discovery_lists_iphones_with_soc_and_booted_simulators(apple: FakeApple, monkeypatch) -> None:
    monkeypatch.setattr("device_runners.ios.host_platform", lambda: "darwin")
    probes = {probe.label: probe for probe in IosRunner.discover([])}
    phone = probes["Lab iPhone 11"].device
    assert (phone.model, phone.os, phone.soc, phone.device_id) == (
        "iPhone 11",
        "iOS 17.4.1",
        "A13 Bionic",
        IPHONE11,
    )
    assert probes["Lab iPhone 8"].device.model == "iPhone 8"  # no marketingName: from the table
    assert "tunnel unavailable" in probes["Old iPhone 13"].reason
    assert (
        probes["iPhone 15"].device.model == "iPhone 15 (Simulator)" and probes["iPhone 15"].device.simulated
    )
    assert "iPhone 15 Pro" not in probes and "Desk Watch" not in probes  # shut down; not an iPhone
    assert apple.calls("xcrun")[0]["argv"][:4] == ["devicectl", "list", "devices", "--json-output"]


def test_full_run_builds_installs_launches_and_parses(apple: FakeApple, model: Path) -> None:
    record = runner(apple).time(make_job(model, Delegate.XNNPACK, threads=2))
    assert record.status is Status.OK, record.error
    target = record.target
    assert (target.device_model, target.soc, target.os, target.simulated) == (
        "iPhone 11",
        "A13 Bionic",
        "iOS 17.4.1",
        False,
    )
    assert record.timing.mean_ms == pytest.approx(7.98531) and record.timing.init_ms == pytest.approx(38.412)
    assert record.timing.thermal_after == "nominal"
    assert not record.fallback.full  # XNNPack took the graph but the detector's post-processing
    build = apple.calls("xcodebuild")[0]
    assert build["params"]["use_xnnpack"] == "true" and build["params"]["num_threads"] == "2"
    assert build["model_sha256"] == record.artifact.sha256  # the artifact's bytes went into the app
    argv = build["argv"]
    assert argv[argv.index("-sdk") + 1] == "iphoneos" and "DEVELOPMENT_TEAM=ABCDE12345" in argv
    launched = [
        c["argv"] for c in apple.calls("xcrun") if c["argv"][:3] == ["devicectl", "device", "process"]
    ]
    assert launched[0][-1] == "com.example.TFLiteBenchmark" and "--console" in launched[0]
    assert "5C1E7A42-9B1D-4F0A-8E2B-1A2B3C4D5E6F" in launched[0]  # devicectl's identifier for the UDID
    # The user's checkout is as it was.
    data = apple.checkout / "TFLiteBenchmark" / "TFLiteBenchmark" / "benchmark_data"
    assert (data / ios_app.BUNDLED_MODEL).read_bytes() == b"stock model"


def test_same_sha256_and_params_build_once(apple: FakeApple, model: Path, tmp_path: Path) -> None:
    twin = tmp_path / "copy" / "same.tflite"
    twin.parent.mkdir()
    shutil.copy(model, twin)
    ios = runner(apple)
    first = ios.time(make_job(model, Delegate.XNNPACK))
    second = ios.time(make_job(twin, Delegate.XNNPACK))
    assert first.status is second.status is Status.OK
    assert len(apple.calls("xcodebuild")) == 1
    ios.time(make_job(model, Delegate.XNNPACK, threads=4))  # other params: another build
    assert len(apple.calls("xcodebuild")) == 2


@pytest.mark.parametrize(
    ("delegate", "expected"),
    [
        (Delegate.CPU, {"use_xnnpack": "false", "use_gpu": "false", "use_coreml": "false"}),
        (Delegate.XNNPACK, {"use_xnnpack": "true", "use_gpu": "false", "use_coreml": "false"}),
        (Delegate.GPU, {"use_gpu": "true", "use_coreml": "false"}),
        (Delegate.COREML_DELEGATE, {"use_coreml": "true", "use_gpu": "false"}),
    ],
)
def test_each_delegate_sets_its_params(apple: FakeApple, model: Path, delegate, expected) -> None:
    settings = TimingSettings(warmup_runs=3, min_runs=40)
    record = runner(apple).time(make_job(model, delegate, settings=settings))
    assert record.status is Status.OK and record.target.delegate is delegate
    params = apple.calls("xcodebuild")[0]["params"]
    assert {key: params.get(key) for key in expected} == expected
    assert (params["warmup_runs"], params["num_runs"], params["graph"]) == ("3", "40", ios_app.BUNDLED_MODEL)


def test_core_ml_delegate_fallback_is_recorded(apple: FakeApple, model: Path) -> None:
    apple.set(console=str(RECORDED / "ios_console_coreml_partial.txt"))
    record = runner(apple).time(make_job(model, Delegate.COREML_DELEGATE))
    assert record.status is Status.OK
    assert record.fallback is not None and not record.fallback.full
    assert "5 of 63 ops outside the COREML delegate" in record.fallback.detail
    assert (record.timing.ops_total, record.timing.ops_outside_delegate) == (63, 5)


def test_core_ml_delegate_on_an_a11_is_unsupported(apple: FakeApple, model: Path) -> None:
    record = runner(apple, IPHONE8).time(make_job(model, Delegate.COREML_DELEGATE))
    assert record.status is Status.UNSUPPORTED and "A12 or newer" in record.error.message
    assert not apple.calls("xcodebuild")


def test_unsupported_delegate_and_sustained(apple: FakeApple, model: Path) -> None:
    nnapi = runner(apple).time(make_job(model, Delegate.NNAPI))
    assert (
        nnapi.status is Status.UNSUPPORTED
        and "allowed: cpu, xnnpack, gpu, coreml_delegate" in nnapi.error.message
    )
    sustained = TimingSettings(sustained_fps=30, sustained_secs=60)
    record = runner(apple).time(make_job(model, Delegate.XNNPACK, settings=sustained))
    assert record.status is Status.UNSUPPORTED and "fixed-rate" in record.error.message


def test_build_failure_is_failed_with_the_log_tail(apple: FakeApple, model: Path) -> None:
    apple.set(build_fails=True)
    record = runner(apple).time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.FAILED and record.error.type == "BuildError"
    assert "BUILD FAILED" in record.error.stderr_tail and "file not found" in record.error.stderr_tail
    assert record.error.command[0] == "xcodebuild" and record.error.returncode == 65
    data = apple.checkout / "TFLiteBenchmark" / "TFLiteBenchmark" / "benchmark_data"
    assert (data / ios_app.BUNDLED_MODEL).read_bytes() == b"stock model"  # put back after the failure
    apple.set(build_fails=False)  # a failed build is not cached
    assert runner(apple).time(make_job(model, Delegate.XNNPACK)).status is Status.OK


@pytest.mark.parametrize("stage", ["install", "launch"])
def test_device_gone_mid_run_is_a_transport_failure(apple: FakeApple, model: Path, stage: str) -> None:
    apple.set(gone_at=stage)
    record = runner(apple).time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.FAILED and record.error.type == "TransportError"
    assert "went away" in record.error.message and record.target.device_model == "iPhone 11"


def test_unreachable_device_fails_with_the_reason(apple: FakeApple, model: Path) -> None:
    record = runner(apple, "00008110-000A11B22C33D44E").time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.FAILED and "tunnel unavailable" in record.error.message
    missing = runner(apple, "nope").time(make_job(model, Delegate.XNNPACK))
    assert "no iPhone 'nope'" in missing.error.message


def test_app_that_waits_for_a_tap_prints_no_timings(apple: FakeApple, model: Path, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.txt"
    quiet.write_text("INFO: STARTING!\n")
    apple.set(console=str(quiet))
    record = runner(apple).time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.FAILED and record.error.type == "NoTimings"
    assert "at launch" in record.error.message


def test_simulator_run_is_flagged_simulated(apple: FakeApple, model: Path) -> None:
    record = runner(apple, SIMULATOR, simulator=True).time(make_job(model, Delegate.XNNPACK))
    assert record.status is Status.OK and record.target.simulated is True
    assert record.target.device_model == "iPhone 15 (Simulator)"
    argv = apple.calls("xcodebuild")[0]["argv"]
    assert argv[argv.index("-sdk") + 1] == "iphonesimulator" and "DEVELOPMENT_TEAM=ABCDE12345" not in argv
    assert any(c["argv"][:2] == ["simctl", "launch"] for c in apple.calls("xcrun"))
    gpu = runner(apple, SIMULATOR, simulator=True).time(make_job(model, Delegate.GPU))
    assert gpu.status is Status.UNSUPPORTED and "iOS Simulator" in gpu.error.message
    assert gpu.target.simulated is True


def test_params_file_is_json_of_strings() -> None:
    params = ios_app.benchmark_params(
        Delegate.GPU, 2, TimingSettings(), ("--gpu_precision_loss_allowed=false",)
    )
    assert all(isinstance(value, str) for value in json.loads(json.dumps(params)).values())
    assert params["gpu_precision_loss_allowed"] == "false"


def test_parser_reads_the_ios_apps_own_summary() -> None:
    from device_runners.benchmark_model_output import parse

    output = parse((RECORDED / "ios_console_app_summary.txt").read_text())
    assert output.run.count == 50 and output.run.get("avg") == pytest.approx(12500.0)
    assert output.run.get("std") == pytest.approx(400.0) and output.warmup.get("avg") == pytest.approx(
        30100.0
    )
    assert output.app_startup_ms == pytest.approx(52.3) and output.thermal_states == ("fair", "serious")


def test_edgebench_devices_lists_iphones_and_why_not(apple: FakeApple, monkeypatch, capsys) -> None:
    from bench import cli

    monkeypatch.setattr("device_runners.ios.host_platform", lambda: "linux")
    assert cli.main(["devices", "--json"]) == 0
    rows = [row for row in json.loads(capsys.readouterr().out) if row["runner"] == "ios"]
    assert len(rows) == 1 and not rows[0]["reachable"] and "from a Mac with Xcode" in rows[0]["reason"]
    monkeypatch.setattr("device_runners.ios.host_platform", lambda: "darwin")
    assert cli.main(["devices", "--json"]) == 0
    rows = {row["target"]: row for row in json.loads(capsys.readouterr().out) if row["runner"] == "ios"}
    assert rows["Lab iPhone 11"]["reachable"] and "coreml_delegate" in rows["Lab iPhone 11"]["delegates"]
    assert not rows["Old iPhone 13"]["reachable"]


def test_app_checkout_from_the_environment(apple: FakeApple, model: Path, monkeypatch) -> None:
    ios = IosRunner(TargetConfig(runner="ios", serial=IPHONE11), system="darwin")
    assert "EDGEBENCH_IOS_APP" in ios.supports(make_job(model, Delegate.CPU)).reason
    monkeypatch.setenv("EDGEBENCH_IOS_APP", str(apple.checkout))
    assert ios.time(make_job(model, Delegate.CPU)).status is Status.OK


def test_a_framework_without_the_delegate_is_unsupported_not_a_cpu_timing(apple, model, tmp_path) -> None:
    console = tmp_path / "no_coreml.txt"
    text = (RECORDED / "ios_console_xnnpack.txt").read_text()
    console.write_text(
        text.replace("INFO: STARTING!", "INFO: STARTING!\nUnconsumed cmdline flags: --use_coreml=true")
    )
    apple.set(console=str(console))
    record = runner(apple).time(make_job(model, Delegate.COREML_DELEGATE))
    assert record.status is Status.UNSUPPORTED and "--use_coreml=true" in record.error.message


def test_cooldown_sleeps_before_the_launch(apple: FakeApple, model: Path) -> None:
    slept: list[float] = []
    target = TargetConfig(runner="ios", serial=IPHONE11, ios_app=apple.checkout, cooldown_secs=30)
    record = IosRunner(target, system="darwin", sleep=slept.append).time(make_job(model, Delegate.CPU))
    assert record.status is Status.OK and slept == [30]


def test_core_ml_delegates_own_count_is_enough_for_fallback() -> None:
    from device_runners.adb_benchmark import fallback_info
    from device_runners.benchmark_model_output import parse

    text = (RECORDED / "ios_console_coreml_partial.txt").read_text()
    only_own_line = "\n".join(line for line in text.splitlines() if "Replacing" not in line)
    seen = parse(only_own_line).delegations["COREML"]
    assert (seen.nodes_replaced, seen.nodes_total, seen.partitions) == (58, 63, 2)
    assert "5 of 63 ops" in fallback_info(parse(only_own_line), Delegate.COREML_DELEGATE).detail


def test_core_ml_delegate_that_declines_everything_is_a_cpu_timing(apple, model, tmp_path) -> None:
    text = (RECORDED / "ios_console_coreml_partial.txt").read_text()
    kept = [line for line in text.splitlines() if "Replacing" not in line and "nodes delegated" not in line]
    declined = "\n".join(kept).replace(
        "Explicitly applied CoreML delegate, and the model graph will be partially executed by the delegate "
        "w/ 2 delegate kernels.",
        "Though CoreML delegate is explicitly applied, the model graph will not be executed by the delegate.",
    )
    console = tmp_path / "declined.txt"
    console.write_text(declined)
    apple.set(console=str(console))
    record = runner(apple).time(make_job(model, Delegate.COREML_DELEGATE))
    assert record.status is Status.OK and record.fallback.full and "CPU timings" in record.fallback.detail


def test_an_app_killed_by_a_signal_is_crashed(apple: FakeApple, model: Path) -> None:
    apple.set(crash=True)
    record = runner(apple).time(make_job(model, Delegate.GPU))
    assert record.status is Status.CRASHED and record.error.type == "SIGSEGV" and record.error.signal == 11


def test_devicectl_says_why_a_listed_phone_cannot_run_apps() -> None:
    from device_runners.devicectl import parse_devicectl_devices

    def phone(connection: dict, mode: str = "enabled") -> dict:
        hardware = {"platform": "iOS", "reality": "physical", "productType": "iPhone16,1", "udid": "u"}
        props = {"developerModeStatus": mode, "osVersionNumber": "18.1"}
        entry = {"identifier": "i", "hardwareProperties": hardware, "deviceProperties": props}
        return {**entry, "connectionProperties": connection}

    data = {
        "result": {
            "devices": [phone({"pairingState": "unpaired"}), phone({"tunnelState": "connected"}, "disabled")]
        }
    }
    unpaired, no_dev_mode = parse_devicectl_devices(data)
    assert "trust this computer" in unpaired.reason and "Developer Mode" in no_dev_mode.reason
    assert (no_dev_mode.model, no_dev_mode.soc, no_dev_mode.os) == ("iPhone 15 Pro", "A17 Pro", "iOS 18.1")
