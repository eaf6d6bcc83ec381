"""Variants built side by side (bench.pipeline.builds): the same weights and files as one at a time, the
thread count pinned and recorded, progress relayed, a dead build reported and resumed."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pl_fakes import TINY_PLAN

from bench.pipeline import builds
from bench.pipeline.progress import Progress
from results.store import Store

REPO = Path(__file__).parents[2]
RUN_TIMEOUT_S = 900

# Two real tiny variants, QAT included (its fine-tune trains too), one host delegate.
PLAN = {
    **TINY_PLAN,
    "training": {"steps": 4, "batch_size": 2, "warmup_steps": 0},
    "finetune": {"lr": 1.0e-4, "batch_size": 2, "steps": 2},
    "recipes": ["tflite_fp32", "tflite_int8_qat"],
    "export": {"calibration_samples": 2, "tflite_metadata": False},
    "targets": [{"name": "host", "runner": "host", "delegates": ["xnnpack"], "threads": [1]}],
    "timing": {"min_runs": 2, "min_secs": 0.0, "rounds": 1},
}


def _run(tmp_path: Path, name: str, plan: dict, *flags: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(plan))
    command = [sys.executable, "-m", "bench.cli", "benchmark", "--plan", str(path), *flags]
    command += ["--workdir", str(tmp_path / name / "work"), "--store", str(tmp_path / name / "store.sqlite")]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _records(tmp_path: Path, name: str) -> dict:
    store = Store(str(tmp_path / name / "store.sqlite"))
    try:
        return {(r.model.variant, r.artifact.recipe): r for r in store.records()}
    finally:
        store.close()


def test_side_by_side_builds_write_what_one_at_a_time_writes(tmp_path):
    apart = _run(tmp_path, "apart", PLAN, "--jobs", "2")
    assert apart.returncode == 0, apart.stderr[-3000:]
    assert "building 2 variants, up to 2 processes at a time" in apart.stderr
    alone = _run(tmp_path, "alone", PLAN, "--jobs", "1")  # in the run's own process
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert "building" not in alone.stderr
    for out in (apart, alone):  # the builds' items count as run, not as cached
        assert "train: 2 run; export: 4 run; evaluate: 4 run" in out.stdout
    side, one = _records(tmp_path, "apart"), _records(tmp_path, "alone")
    assert len(side) == len(one) == 4
    for key, record in side.items():
        other = one[key]
        assert record.model.training.threads == other.model.training.threads == 1
        assert record.model.training.weights_sha256 == other.model.training.weights_sha256
        assert record.artifact.sha256 == other.artifact.sha256, key  # QAT's fine-tune included
        assert record.accuracy.map == other.accuracy.map


def test_a_build_process_that_dies_fails_the_run_which_resumes(tmp_path):
    plan = {**PLAN, "training": {"steps": 3000, "batch_size": 2, "warmup_steps": 0, "checkpoint_every": 50}}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(plan))
    work, store = tmp_path / "work", tmp_path / "store.sqlite"
    command = [sys.executable, "-m", "bench.cli", "benchmark", "--plan", str(path), "--jobs", "2"]
    command += ["--workdir", str(work), "--store", str(store)]
    run = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        children = _wait_for_children(run.pid, 2)
        while not list(work.glob("train/*/ckpt-*.index")):  # training under way
            assert run.poll() is None
            time.sleep(0.5)
        os.kill(children[0], signal.SIGKILL)
        out, err = run.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 1, err[-3000:]
    assert "its process ended without a result (killed by signal 9)" in err
    assert "run the same command again to resume" in err
    for child in children:  # the other build was stopped too: nothing writes on for a run that ended
        assert not Path(f"/proc/{child}").exists() or _is_zombie(child)
    assert not store.exists() or _count(store) == 0


def _wait_for_children(pid: int, count: int) -> list[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            text = (task / "children").read_text() if (task / "children").exists() else ""
            found += [int(p) for p in text.split()]
        spawned = [p for p in found if "multiprocessing.spawn" in _cmdline(p)]  # not the resource tracker
        if len(spawned) >= count:
            return spawned
        time.sleep(0.5)
    pytest.fail(f"no {count} build processes under {pid}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _count(store: Path) -> int:
    opened = Store(str(store))
    try:
        return opened.count()
    finally:
        opened.close()


def test_progress_of_a_build_process_is_printed_by_the_parent(capsys):
    events: queue.Queue = queue.Queue()
    relay = builds.RelayProgress(events, "v@96x0.25", enabled=True)
    with relay.item("train", "v@96x0.25"):
        relay.note("init scratch")
    progress = Progress({"train": [10.0, 10.0], "time": [4.0]})
    progress.builders = 2
    assert progress.eta() == pytest.approx(10.0 + 4.0)  # two builds of 10 s side by side, then timing

    class Ctx:  # what the parent's side reads of a Context
        pass

    ctx = Ctx()
    ctx.progress = progress
    parent = builds._Builds(ctx)
    parent.events = events
    parent.waiting["v@96x0.25"] = ["its QAT job"]
    events.put(("trained", "v@96x0.25 (tflite_fp32)", "v@96x0.25"))
    parent.relay(0.0)
    assert parent.queue == [("its QAT job", False)]  # a variant's fine-tunes start once it is trained
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[  1/3] train    v@96x0.25 ..."
    assert lines[1] == "init scratch"
    assert lines[2].startswith("[  1/3] train    v@96x0.25  done in ")
    events.put(("bad input", "v", "plan x: broken"))
    with pytest.raises(builds.InputError, match="plan x: broken"):
        parent.relay(0.0)


def test_default_jobs_two_per_core_and_one_per_4_gb(monkeypatch):
    from bench.plans import parse_plan

    plan = parse_plan(TINY_PLAN, "tiny")
    monkeypatch.setattr("bench.training.steps.machine_cores", lambda: 2)
    monkeypatch.setattr(builds, "_memory_bytes", lambda: 24 << 30)
    assert builds.default_jobs(plan) == 4
    monkeypatch.setattr(builds, "_memory_bytes", lambda: 6 << 30)
    assert builds.default_jobs(plan) == 1
    threaded = parse_plan({**TINY_PLAN, "training": {"steps": 2, "threads": 2}}, "tiny")
    monkeypatch.setattr(builds, "_memory_bytes", lambda: 24 << 30)
    assert builds.default_jobs(threaded) == 2


def test_jobs_must_be_a_whole_number(tmp_path, capsys):
    from bench.cli import main

    assert main(["benchmark", "--plan", "smoke", "--jobs", "0", "--workdir", str(tmp_path / "w")]) == 2
    assert "--jobs: got '0'; allowed: a whole number >= 1" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_a_variants_fine_tunes_are_jobs_of_their_own():
    from bench.pipeline.jobs import select
    from bench.plans import parse_plan

    recipes = ["tflite_fp32", "tflite_int8_qat", "tflite_int8_pruned", "coreml_pruned", "tflite_int8"]
    (work, _) = select(parse_plan({**TINY_PLAN, "recipes": recipes}, "tiny"), None)
    first, rest = builds.split(work)
    assert [r.name for r in first.recipes] == ["tflite_fp32", "tflite_int8"]
    # the pruned TFLite and Core ML files share one fine-tune (converters.tfmot_wrap), so one job
    names = [[r.name for r in job.recipes] for job in rest]
    assert names == [["tflite_int8_qat"], ["tflite_int8_pruned", "coreml_pruned"]]
    assert {job.label for job in rest} == {work.label}
