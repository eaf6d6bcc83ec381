"""The host runner: LiteRT on this machine, cpu and xnnpack, any thread count; a reason for the rest."""

from __future__ import annotations

import pytest

from common.errors import InputError
from common.ids import host_id
from device_runners.base import Runner, TimingJob
from device_runners.host import HostRunner, check_model, cpu_model_name, host_info
from device_runners.registry import runner_class
from results.schema import ArtifactFormat, ArtifactInfo, Delegate, Status
from results.sidecar import file_artifact_info


def job_for(path, delegate: Delegate, threads: int, settings) -> TimingJob:
    return TimingJob(
        artifact=file_artifact_info(path), delegate=delegate, threads=threads, settings=settings, run_id="t"
    )


def test_the_host_runner_is_registered_and_follows_the_protocol():
    runner = runner_class("host")()
    assert isinstance(runner, Runner) and runner.name == "host"


def test_devices_is_this_machine():
    (device,) = HostRunner().devices()
    assert device.device_id == host_id() and device.delegates == (Delegate.CPU, Delegate.XNNPACK)
    assert device.model == cpu_model_name() and device.abi == host_info()["abi"]


@pytest.mark.parametrize("delegate", [Delegate.CPU, Delegate.XNNPACK])
def test_cpu_and_xnnpack_are_supported(delegate, quick):
    artifact = ArtifactInfo(path="m.tflite", sha256="0" * 64, size_bytes=1)
    assert (
        HostRunner().supports(TimingJob(artifact=artifact, delegate=delegate, threads=3, settings=quick)).ok
    )


@pytest.mark.parametrize(
    ("delegate", "words"),
    [
        (Delegate.GPU, "GPU"),
        (Delegate.NNAPI, "Android"),
        (Delegate.COREML_ANE, "macOS"),
    ],
)
def test_other_delegates_are_unsupported_with_a_reason(delegate, words):
    artifact = ArtifactInfo(path="m.tflite", sha256="0" * 64, size_bytes=1)
    support = HostRunner().supports(TimingJob(artifact=artifact, delegate=delegate, threads=1))
    assert not support.ok and words in support.reason


def test_core_ml_artifacts_and_remote_devices_are_unsupported():
    coreml = ArtifactInfo(path="m.mlpackage", format=ArtifactFormat.COREML, sha256="0" * 64, size_bytes=1)
    tflite = ArtifactInfo(path="m.tflite", sha256="0" * 64, size_bytes=1)
    runner = HostRunner()
    assert "coreml" in runner.supports(TimingJob(artifact=coreml, delegate=Delegate.GPU, threads=1)).reason
    assert not runner.supports(
        TimingJob(artifact=tflite, delegate=Delegate.CPU, threads=1, device_id="pixel")
    ).ok


def test_gpu_on_the_host_is_an_unsupported_record(tflite_models, quick):
    record = HostRunner().time(job_for(tflite_models["tiny_float"], Delegate.GPU, 1, quick))
    assert record.status is Status.UNSUPPORTED and record.timing is None
    assert record.error.type == "Unsupported" and "GPU" in record.error.message


@pytest.mark.parametrize("name", ["tiny_float", "tiny_int8"])
@pytest.mark.parametrize("delegate", [Delegate.CPU, Delegate.XNNPACK])
@pytest.mark.parametrize("threads", [1, 2])
def test_float_and_int8_time_on_both_delegates_and_thread_counts(
    tflite_models, quick, name, delegate, threads
):
    record = HostRunner().time(job_for(tflite_models[name], delegate, threads, quick))
    assert record.status is Status.OK, record.error
    timing = record.timing
    assert len(timing.samples_ms) >= 3 and len(timing.warmup_samples_ms) >= 1
    assert 0 < timing.min_ms <= timing.median_ms <= timing.p90_ms <= timing.max_ms
    assert timing.init_ms > 0 and timing.first_inference_ms > 0 and timing.peak_memory_mb > 10
    assert timing.settings == quick
    target = record.target
    assert (target.runner, target.device_id, target.delegate, target.threads) == (
        "host",
        host_id(),
        delegate,
        threads,
    )
    assert target.device_model == cpu_model_name() and target.os and target.abi
    assert record.tools.litert.startswith(("ai_edge_litert", "tflite_runtime"))
    if delegate is Delegate.CPU:
        assert timing.ops_outside_delegate is None  # no delegate: "outside" does not apply
    else:
        assert timing.ops_outside_delegate is not None and timing.ops_outside_delegate < timing.ops_total


def test_the_postprocess_custom_op_runs_outside_xnnpack(tflite_models, quick):
    record = HostRunner().time(job_for(tflite_models["detect_float"], Delegate.XNNPACK, 1, quick))
    assert record.status is Status.OK
    assert record.timing.ops_outside_delegate == 1
    assert record.fallback.full is False and "TFLite_Detection_PostProcess" in record.fallback.detail


def test_the_int8_postprocess_model_times_on_the_plain_kernels(tflite_models, quick):
    record = HostRunner().time(job_for(tflite_models["detect_int8"], Delegate.CPU, 2, quick))
    assert record.status is Status.OK and record.fallback is None


def test_a_graph_xnnpack_cannot_take_is_a_full_fallback(tflite_models, quick):
    record = HostRunner().time(job_for(tflite_models["cumsum"], Delegate.XNNPACK, 1, quick))
    assert record.status is Status.OK
    assert record.fallback.full is True and "CUMSUM" in record.fallback.detail


def test_an_unloadable_model_given_straight_to_the_runner_is_failed(bad_models, quick):
    record = HostRunner().time(job_for(bad_models["truncated"], Delegate.CPU, 1, quick))
    assert record.status is Status.FAILED and "Flatbuffer" in record.error.message


def test_check_model_describes_a_good_model(tflite_models):
    described = check_model(tflite_models["detect_int8"])
    assert described["inputs"][0]["dtype"] == "uint8"
    assert {o["name"] for o in described["outputs"]} and described["ops_total"] > 1


@pytest.mark.parametrize(
    ("which", "words"),
    [
        ("text", "not a TFLite model"),
        ("truncated", "cannot load it"),
        ("garbage", "cannot load it"),
    ],
)
def test_check_model_rejects_what_is_not_a_model(bad_models, which, words):
    with pytest.raises(InputError, match=words):
        check_model(bad_models[which])


def test_check_model_rejects_missing_files_and_directories(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        check_model(tmp_path / "absent.tflite")
    with pytest.raises(InputError, match="is a directory"):
        check_model(tmp_path)


def test_the_host_id_is_stable_and_can_be_configured(monkeypatch):
    host_id.cache_clear()
    first = host_id()
    host_id.cache_clear()
    assert host_id() == first and first != "local"
    monkeypatch.setenv("EDGEBENCH_HOST_ID", "ci-runner-3")
    host_id.cache_clear()
    try:
        assert host_id() == "ci-runner-3"
    finally:
        monkeypatch.delenv("EDGEBENCH_HOST_ID")
        host_id.cache_clear()
