"""The timing worker: a self-contained file that times one model and writes one JSON result."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device_runners import worker
from device_runners.isolation import WORKER_PATH

QUICK_ARGS = ["--warmup-runs", "1", "--warmup-min-secs", "0", "--min-runs", "4", "--min-secs", "0"]
ALLOWED_THIRD_PARTY = {"numpy", "ai_edge_litert", "tflite_runtime", "psutil"}


def run_in_process(model: Path, out: Path, *extra: str) -> dict:
    assert worker.main(["--model", str(model), "--out", str(out), *QUICK_ARGS, *extra]) == 0
    return json.loads(out.read_text())


def test_worker_imports_only_the_standard_library_numpy_and_litert():
    tree = ast.parse(WORKER_PATH.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    foreign = imported - set(sys.stdlib_module_names) - ALLOWED_THIRD_PARTY
    assert not foreign, f"worker.py must stay self-contained; it imports {sorted(foreign)}"
    assert "ai_edge_litert" in imported


def test_a_copied_worker_times_a_model_without_tensorflow(tflite_models, tmp_path):
    # As the SSH runner will: a copy of the single file, run by path with plain Python.
    copy = tmp_path / "worker.py"
    shutil.copy(WORKER_PATH, copy)
    out = tmp_path / "result.json"
    argv = [sys.executable, str(copy), "--model", str(tflite_models["tiny_float"]), "--delegate", "xnnpack"]
    argv += ["--threads", "2", "--out", str(out), *QUICK_ARGS]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["ok"] is True
    assert result["runtime"]["tensorflow_imported"] is False
    assert len(result["samples_ms"]) >= 4 and len(result["warmup_samples_ms"]) >= 1
    assert result["first_inference_ms"] == result["warmup_samples_ms"][0]
    assert result["init_ms"] > 0 and 10 < result["peak_rss_mb"] < 1000
    assert (result["ops_total"], result["ops_outside_delegate"], result["delegate_partitions"]) == (5, 0, 1)
    assert not list(tmp_path.glob(".worker-*")), "the temp file of the atomic write was left behind"


@pytest.mark.parametrize(
    ("name", "outside", "partitions"),
    [
        ("tiny_float", [], 1),
        ("detect_float", ["TFLite_Detection_PostProcess"], 1),
        ("cumsum", ["CUMSUM"], 0),
    ],
)
def test_xnnpack_ops_outside_the_delegate_are_counted(tflite_models, tmp_path, name, outside, partitions):
    result = run_in_process(tflite_models[name], tmp_path / "r.json", "--delegate", "xnnpack")
    assert result["outside_ops"] == outside
    assert result["ops_outside_delegate"] == len(outside)
    assert result["delegate_partitions"] == partitions


def test_the_int8_postprocess_model_keeps_only_the_custom_op_and_quantize_ops_outside(
    tflite_models, tmp_path
):
    result = run_in_process(tflite_models["detect_int8"], tmp_path / "r.json", "--delegate", "xnnpack")
    assert "TFLite_Detection_PostProcess" in result["outside_ops"]
    assert set(result["outside_ops"]) <= {"TFLite_Detection_PostProcess", "QUANTIZE", "DEQUANTIZE"}
    assert result["inputs"][0]["dtype"] == "uint8"


def test_cpu_applies_no_delegate_and_reports_no_outside_count(tflite_models, tmp_path):
    result = run_in_process(tflite_models["tiny_float"], tmp_path / "r.json", "--delegate", "cpu")
    assert result["delegate_partitions"] == 0
    assert result["ops_outside_delegate"] is None and result["outside_ops"] is None
    assert result["ops_total"] == 5


def test_check_mode_describes_without_timing(tflite_models, tmp_path):
    result = run_in_process(tflite_models["tiny_int8"], tmp_path / "r.json", "--check")
    assert result["ok"] is True and "samples_ms" not in result
    assert result["inputs"] == [
        {"name": result["inputs"][0]["name"], "shape": [1, 32, 32, 3], "dtype": "uint8"}
    ]


def test_an_unloadable_model_is_a_result_with_an_error(bad_models, tmp_path):
    result = run_in_process(bad_models["truncated"], tmp_path / "r.json")
    assert result["ok"] is False
    assert "Flatbuffer" in result["error"]["message"]


class _Counter:
    def __init__(self, seconds: float = 0.0) -> None:
        self.calls = 0
        self.seconds = seconds

    def __call__(self) -> None:
        self.calls += 1
        if self.seconds:
            time.sleep(self.seconds)


def test_run_phase_meets_the_minimum_runs():
    invoke = _Counter()
    assert len(worker.run_phase(invoke, min_runs=5, min_secs=0, max_secs=10)) == 5 == invoke.calls


def test_run_phase_meets_the_minimum_seconds():
    started = time.perf_counter()
    samples = worker.run_phase(_Counter(0.002), min_runs=1, min_secs=0.05, max_secs=10)
    assert time.perf_counter() - started >= 0.05 and len(samples) > 1


def test_run_phase_stops_at_the_caps():
    assert len(worker.run_phase(_Counter(), min_runs=100, min_secs=0, max_secs=10, max_runs=7)) == 7
    started = time.perf_counter()
    worker.run_phase(_Counter(0.005), min_runs=10**9, min_secs=0, max_secs=0.05)
    assert time.perf_counter() - started < 1.0


def test_run_phase_with_no_minimum_runs_nothing():
    assert worker.run_phase(_Counter(), min_runs=0, min_secs=0, max_secs=10) == []


def test_samples_are_milliseconds():
    samples = worker.run_phase(_Counter(0.01), min_runs=3, min_secs=0, max_secs=10)
    assert all(9.0 <= s < 200.0 for s in samples)
