"""The Core ML runner: ``unsupported`` off macOS, and its child-process path exercised on Linux.

On Linux coremltools can read and build models but not predict, so the end-to-end test runs the real
runner and worker with the worker's test hook replacing only the prediction call by a sleep: the
model description, input construction, timing loop, result file and record are all the real ones.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dr_helpers import make_job

from device_runners import coreml_worker
from device_runners.coreml_mac import NEEDS_MACOS, CoreMLRunner
from results.schema import ArtifactFormat, Delegate, Status, TimingSettings

_BUILD = textwrap.dedent(
    """
    import sys
    for name in ("tensorflow", "torch"):
        sys.modules[name] = None  # keep coremltools from importing them: building needs neither
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, 8, 8)), mb.TensorSpec(shape=(1, 4))])
    def program(image, extra):
        pooled = mb.reduce_mean(x=image, axes=[2, 3])
        return mb.add(x=mb.relu(x=pooled), y=mb.reduce_sum(x=extra, axes=[1], keep_dims=True), name="scores")

    inputs = [ct.ImageType(name="image", shape=(1, 3, 8, 8)), ct.TensorType(name="extra", shape=(1, 4))]
    target = ct.target.macOS13
    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=target, inputs=inputs)
    model.save(sys.argv[1])
    """
)


@pytest.fixture(scope="module")
def mlpackage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ML Program with an image input and a multi-array input, built by coremltools in a child."""
    path = tmp_path_factory.mktemp("coreml") / "tiny.mlpackage"
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(path)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"could not build the Core ML fixture: {done.stderr[-2000:]}")
    return path


@pytest.fixture
def fake_coreml_job(tmp_path: Path):
    package = tmp_path / "model.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{}")
    return make_job(package, Delegate.COREML_ANE)


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the behaviour off macOS")
def test_unsupported_off_macos_with_the_reason(fake_coreml_job):
    runner = CoreMLRunner()
    assert fake_coreml_job.artifact.format is ArtifactFormat.COREML
    support = runner.supports(fake_coreml_job)
    assert not support.ok and support.reason.startswith(NEEDS_MACOS)
    record = runner.time(fake_coreml_job)
    assert record.status is Status.UNSUPPORTED and record.error.message.startswith(NEEDS_MACOS)
    assert record.target.runner == "coreml_mac" and record.target.delegate is Delegate.COREML_ANE
    assert runner.devices() == []
    (probe,) = runner.probe()
    assert not probe.ok and NEEDS_MACOS in probe.reason


def test_wrong_format_and_delegate(tmp_path, fake_coreml_job):
    tflite = tmp_path / "m.tflite"
    tflite.write_bytes(b"\x00" * 16)
    runner = CoreMLRunner(system="darwin")
    assert "Core ML models" in runner.supports(make_job(tflite, Delegate.COREML_ALL)).reason
    job = fake_coreml_job.__class__(**{**fake_coreml_job.__dict__, "delegate": Delegate.GPU})
    assert "not a Core ML compute unit" in runner.supports(job).reason


@pytest.mark.parametrize(
    ("delegate", "units"),
    [
        (Delegate.COREML_CPU, "cpu_only"),
        (Delegate.COREML_GPU, "cpu_and_gpu"),
        (Delegate.COREML_ANE, "cpu_and_ne"),
        (Delegate.COREML_ALL, "all"),
    ],
)
def test_compute_units_reach_the_worker(fake_coreml_job, delegate, units):
    from device_runners.coreml_mac import worker_args

    job = fake_coreml_job.__class__(**{**fake_coreml_job.__dict__, "delegate": delegate})
    args = worker_args(job, "/tmp/out.json")
    assert args[args.index("--compute-units") + 1] == units
    assert coreml_worker.parse_args(args).compute_units == units  # the worker accepts what the runner sends


def test_child_process_path_end_to_end(mlpackage, monkeypatch):
    monkeypatch.setenv(coreml_worker.TEST_PREDICT_ENV, "2")
    settings = TimingSettings(warmup_runs=1, warmup_min_secs=0, min_runs=5, min_secs=0)
    record = CoreMLRunner(system="darwin").time(make_job(mlpackage, Delegate.COREML_ANE, settings=settings))
    assert record.status is Status.OK, record.error
    assert len(record.timing.samples_ms) == 5 and all(s >= 2.0 for s in record.timing.samples_ms)
    assert record.timing.init_ms is not None and record.tools.coremltools
    assert record.target.runner == "coreml_mac" and record.target.delegate is Delegate.COREML_ANE
    assert record.fallback is None


@pytest.mark.slow
def test_sustained_through_the_child(mlpackage, monkeypatch):
    monkeypatch.setenv(coreml_worker.TEST_PREDICT_ENV, "1")
    settings = TimingSettings(warmup_runs=1, warmup_min_secs=0, sustained_fps=50, sustained_secs=0.4)
    record = CoreMLRunner(system="darwin").time(make_job(mlpackage, Delegate.COREML_GPU, settings=settings))
    assert record.status is Status.OK, record.error
    trace = record.timing.sustained
    assert trace.target_fps == 50 and 15 <= len(trace.sample_times_s) <= 21
    assert len(record.timing.samples_ms) == len(trace.sample_times_s)


def test_worker_builds_inputs_from_the_model_description(mlpackage, tmp_path, monkeypatch):
    monkeypatch.setenv(coreml_worker.TEST_PREDICT_ENV, "0")
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            str(Path(coreml_worker.__file__)),
            "--model",
            str(mlpackage),
            "--out",
            str(out),
            "--min-runs",
            "2",
            "--min-secs",
            "0",
            "--warmup-min-secs",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(out.read_text())
    assert result["ok"] is True and result["runtime"]["tensorflow_imported"] is False
    assert {i["name"]: i["shape"] for i in result["inputs"]} == {"image": [8, 8, 3], "extra": [1, 4]}
    assert [o["name"] for o in result["outputs"]] == ["scores"]
