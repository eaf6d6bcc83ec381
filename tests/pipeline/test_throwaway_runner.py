"""Adding a runner is one class and one registry line: nothing else in edgebench names runners.

The throwaway runner below is defined here and registered for each test only (the ``toy`` fixture
removes it afterwards). With no other edit it is listed by ``edgebench devices``, accepted as ``runner:``
in a plan (with its own target keys checked), and timed on by the pipeline, which asks its class which
formats it takes and which delegates it times by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pl_fakes import tiny_plan

import device_runners.registry as registry
from bench import cli
from bench.pipeline import RunStatus, run_benchmark
from common.errors import InputError
from common.ids import host_id
from device_runners.base import DeviceInfo, Outcome, Probe, Runner, Support, TimingJob, make_record
from results.schema import ArtifactFormat, Delegate, RunRecord, Status, TargetInfo, Timing

TOY_DEVICE = DeviceInfo(runner="toy", device_id="toy0", model="Toy NPU", delegates=(Delegate.CPU,))


class ToyRunner(Runner):
    """A pretend accelerator: takes .tflite files on its cpu, always reachable, its latency the file size."""

    formats = (ArtifactFormat.TFLITE,)
    defaults = (Delegate.CPU,)

    def probe(self) -> list[Probe]:
        return [Probe(self.name, self.target.label if self.target else "toy0", TOY_DEVICE)]

    def supports(self, job: TimingJob) -> Support:
        if job.delegate is not Delegate.CPU:
            return Support.no(f"the toy has only a cpu; got {job.delegate.value}")
        return Support.yes()

    def time(self, job: TimingJob) -> RunRecord:
        # A latency derived from the artifact's bytes, so the test sees that this file reached the runner.
        latency = Path(job.artifact.path).stat().st_size / 1000
        target = TargetInfo(
            runner=self.name, device_id="toy0", device_model="Toy NPU", delegate=job.delegate, threads=1
        )
        timing = Timing(settings=job.settings, samples_ms=[latency, latency, latency])
        return make_record(job, Outcome(target=target, status=Status.OK, timing=timing))


@pytest.fixture
def toy():
    """ToyRunner registered as "toy" for one test."""
    registry.runner_names()  # the built-in runners first: removing the toy must leave them registered
    registry.register("toy")(ToyRunner)  # the one registry line
    yield ToyRunner
    registry._RUNNERS.pop("toy")


TOY_TARGETS = [{"name": "npu", "runner": "toy", "threads": [1]}]


def test_an_unregistered_runner_is_refused_by_the_plan():
    with pytest.raises(InputError, match="runner: got 'toy'; allowed: host, adb, coreml_mac, ssh"):
        tiny_plan(targets=TOY_TARGETS)


def test_a_plan_naming_the_runner_validates_and_checks_its_keys(toy):
    (target,) = tiny_plan(targets=TOY_TARGETS).targets
    assert (target.runner, target.device_id, target.label) == ("toy", host_id(), "npu")
    with pytest.raises(InputError, match="serial: not used by runner 'toy'"):
        tiny_plan(targets=[{**TOY_TARGETS[0], "serial": "x"}])


def test_edgebench_devices_lists_it(toy, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no adb server to wait for
    monkeypatch.delenv("EDGEBENCH_ADB_DEVICES", raising=False)
    monkeypatch.delenv("EDGEBENCH_SSH_HOSTS", raising=False)
    assert cli.main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (row,) = [row for row in rows if row["runner"] == "toy"]
    assert row["reachable"] is True and row["model"] == "Toy NPU" and row["delegates"] == ["cpu"]
    assert [row["runner"] for row in rows][0] == "host"  # the built-in runners still come first
    assert cli.main(["devices"]) == 0
    assert "Toy NPU" in capsys.readouterr().out


def test_the_pipeline_times_artifacts_on_it(toy, fakes, options):
    outcome = run_benchmark(tiny_plan(targets=TOY_TARGETS), options)
    assert outcome.status == RunStatus.DONE
    # 2 variants x 2 tflite recipes x the toy's one default delegate; the Core ML recipe has no target.
    assert len(outcome.records) == outcome.expected == 4
    for record in outcome.records:
        assert record.status is Status.OK and record.target.runner == "toy"
        assert record.target.device_model == "Toy NPU" and record.target.delegate is Delegate.CPU
        assert record.timing.samples_ms[0] == Path(record.artifact.path).stat().st_size / 1000
    assert fakes.calls["time"] == 0  # the fake host was never asked
