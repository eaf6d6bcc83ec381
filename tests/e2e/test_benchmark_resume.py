"""``edgebench benchmark --plan smoke`` for real: killed with SIGKILL mid-run, resumed, then re-run.

The store must end with every expected record exactly once, under the run id of the killed run, and a
third invocation with nothing changed must train, convert and time nothing. About 90 s on an idle 2-core
machine, so it runs in the default suite (CI) too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.evaluation.tflite import postprocess_options
from results.identity import identity_of
from results.store import Store

SMOKE_RECORDS = 2 * (2 * 2 + 1)  # 2 variants x (2 tflite recipes x 2 host delegates + coreml_fp16 on the Mac)
RUN_TIMEOUT_S = 1500  # the smoke plan takes a minute or two on an idle 2-core machine; CI may be busy


def _command(work: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "bench.cli", "benchmark", "--plan", "smoke", "--store", str(store)] + [
        "--workdir",
        str(work),
    ]


def _count(store: Path) -> int:
    if not store.exists():
        return 0
    opened = Store(str(store))
    try:
        return opened.count()
    finally:
        opened.close()


def _kill_after_the_first_export(command: list[str], work: Path, store: Path, log: Path) -> int:
    # Timings now come after every export (one interleaved batch), and their records land within a
    # fraction of a second: the run is killed mid-way through its exports instead.
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if any((work / "cache" / "export").glob("*.json")):
                count = _count(store)
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return count
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    pytest.fail(f"no export finished before the run ended or timed out; log:\n{log.read_text()[-3000:]}")


def test_killed_smoke_run_resumes_and_stores_every_record_once(tmp_path):
    work, store = tmp_path / "work", tmp_path / "store.sqlite"
    command = _command(work, store)
    stored_at_kill = _kill_after_the_first_export(command, work, store, tmp_path / "killed.log")
    assert stored_at_kill < SMOKE_RECORDS
    (manifest_path,) = (work / "runs").glob("smoke-*.json")
    killed = json.loads(manifest_path.read_text())
    assert killed["complete"] is False

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resuming run {killed['run_id']}" in resumed.stderr
    opened = Store(str(store))
    try:
        records = opened.records()
    finally:
        opened.close()
    assert len(records) == SMOKE_RECORDS == len({r.record_id for r in records})
    assert {r.run_id for r in records} == {killed["run_id"]}
    assert len({identity_of(r) for r in records}) == SMOKE_RECORDS
    assert json.loads(manifest_path.read_text())["complete"] is True
    # The plan's export.max_classes_per_detection reaches the post-processing op of every TFLite file.
    exported = list(work.rglob("*.tflite"))
    per_box = {postprocess_options(p.read_bytes())["max_classes_per_detection"] for p in exported}
    assert exported and per_box == {2}

    began = time.monotonic()
    again = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (
        f"nothing changed: {SMOKE_RECORDS} records already stored in run {killed['run_id']}" in again.stdout
    )
    assert time.monotonic() - began < 60
    assert _count(store) == SMOKE_RECORDS
