"""Interleaved rounds on the host: order, samples kept per round, and a crashing model costing only itself."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from device_runners.base import TimingJob
from device_runners.host import HostRunner
from device_runners.isolation import WORKER_PATH
from results.schema import Delegate, Status, TimingSettings
from results.sidecar import file_artifact_info
from results.significance import timing_band

ROUNDS = TimingSettings(warmup_runs=1, warmup_min_secs=0, min_runs=6, min_secs=0, max_secs=30, rounds=3)


def _jobs(paths, delegate=Delegate.XNNPACK, settings=ROUNDS):
    return [
        TimingJob(artifact=file_artifact_info(p), delegate=delegate, threads=1, settings=settings, run_id="t")
        for p in paths
    ]


def test_every_model_gets_one_window_per_round_in_turn(tflite_models, tmp_path):
    models = [str(tflite_models[name]) for name in ("tiny_float", "tiny_int8", "detect_float")]
    out = tmp_path / "r.json"
    argv = [sys.executable, str(WORKER_PATH), "--out", str(out), "--rounds", "3", "--min-runs", "6"]
    argv += ["--min-secs", "0", "--warmup-min-secs", "0", "--delegate", "xnnpack"]
    for model in models:
        argv += ["--model", model]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    state = json.loads(out.read_text())
    assert state["windows"] == [[r, i] for r in range(3) for i in range(3)]  # round by round, every model
    assert state["current"] is None and state["done_rounds"] == 3
    assert all(entry["round_sizes"] == [2, 2, 2] for entry in state["models"])


def test_a_batch_keeps_each_record_s_rounds_and_its_noise_band(tflite_models):
    paths = [tflite_models["tiny_float"], tflite_models["tiny_int8"]]
    records = HostRunner().time_many(_jobs(paths))
    assert [r.status for r in records] == [Status.OK, Status.OK]
    for record, path in zip(records, paths, strict=True):
        timing = record.timing
        assert record.artifact.path == str(path) and timing.settings.rounds == 3
        assert timing.round_sizes == [2, 2, 2] and len(timing.samples_ms) == 6
        medians = [float(np.median(r)) for r in timing.round_samples()]
        assert timing_band(timing) == (min(medians), max(medians))  # 3 rounds: lowest to highest median
        assert timing.first_inference_ms is not None and timing.peak_memory_mb > 0


def test_a_model_that_crashes_the_batch_child_costs_only_its_own_record(tflite_models, monkeypatch):
    paths = [tflite_models["tiny_float"], tflite_models["cumsum"], tflite_models["tiny_int8"]]
    monkeypatch.setenv("EDGEBENCH_TEST_CRASH", "segv:xnnpack:cumsum")
    records = HostRunner().time_many(_jobs(paths))
    assert [r.status for r in records] == [Status.OK, Status.CRASHED, Status.OK]
    assert records[1].error.signal is not None and "SIGSEGV" in records[1].error.message
    # The survivors were timed in every round: the crash cost them a restart, not their samples.
    assert records[0].timing.round_sizes == [2, 2, 2] == records[2].timing.round_sizes


def test_one_model_alone_still_runs_in_rounds(tflite_models, quick):
    (record,) = HostRunner().time_many(_jobs([tflite_models["tiny_float"]], Delegate.CPU))
    assert record.status is Status.OK and len(record.timing.round_sizes) == 3
