"""Interrupted training resumes from its newest checkpoint and ends at the same step count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.training import TrainConfig, train
from bench.training.checkpoints import RUN_FILE, check_run
from common.errors import InputError

CONFIG = TrainConfig(steps=12, batch_size=4, warmup_steps=2, checkpoint_every=4, log_every=2)


class Interrupt:
    """An on_step hook that presses Ctrl-C after ``stop_at`` steps, and records the steps it sees."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at, self.seen = stop_at, []

    def __call__(self, step, losses):
        self.seen.append(step)
        if step == self.stop_at:
            raise KeyboardInterrupt


def test_ctrl_c_then_rerun_continues_from_the_checkpoint(tiny_config, train_split, tmp_path):
    first = Interrupt(stop_at=6)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config, train_split, CONFIG, tmp_path, progress=False, on_step=first)
    assert first.seen == [1, 2, 3, 4, 5, 6]
    # Step 6 is between two periodic checkpoints: the interrupt itself wrote one.
    assert (tmp_path / "ckpt-6.index").is_file()
    assert not (tmp_path / "final.weights.h5").exists()

    second = Interrupt()
    result = train(tiny_config, train_split, CONFIG, tmp_path, progress=False, on_step=second)
    assert second.seen == [7, 8, 9, 10, 11, 12]
    assert result.steps == 12 and result.weights_path.is_file()
    # Both runs' training time adds up (the state keeps elapsed seconds).
    assert result.seconds > 0

    # A third run has nothing left to do: same step count, the earlier throughput, no step taken.
    third = Interrupt()
    again = train(tiny_config, train_split, CONFIG, tmp_path, progress=False, on_step=third)
    assert third.seen == [] and again.steps == 12
    assert again.images_per_s == result.images_per_s


def test_other_settings_refuse_to_resume(tmp_path):
    manifest = {"model": {"name": "a"}, "peak_lr": 0.005, "steps": 100}
    check_run(tmp_path, manifest)
    check_run(tmp_path, {**manifest, "steps": 200})  # a longer run may resume
    with pytest.raises(InputError, match="peak_lr=0.005, not 0.01"):
        check_run(tmp_path, {**manifest, "peak_lr": 0.01})
    assert json.loads((tmp_path / RUN_FILE).read_text())["steps"] == 200


_CHILD = """
import sys, time
import bench
from bench.data.coco import load_coco
from bench.models.registry import get_config
from bench.training import TrainConfig, train
split = load_coco(sys.argv[1])
config = get_config("tiny_ssdlite_mobilenet_v2", num_classes=split.num_classes)
seen = []
def hook(step, losses):
    seen.append(step)
    if sys.argv[3] == "slow":
        time.sleep(0.2)  # time for the parent to kill between two checkpoints
result = train(config, split, TrainConfig(steps=40, batch_size=4, warmup_steps=2, checkpoint_every=5),
               sys.argv[2], progress=False, on_step=hook)
print("FIRST", seen[0], "STEPS", result.steps)
"""


@pytest.mark.slow
def test_kill_9_then_rerun_ends_at_the_same_step(synth_root, tmp_path):
    work = tmp_path / "work"
    argv = [sys.executable, "-c", _CHILD, str(synth_root / "train"), str(work)]
    child = subprocess.Popen([*argv, "slow"], cwd=Path(__file__).parents[2], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (work / "ckpt-10.index").is_file():
        assert child.poll() is None and time.monotonic() < deadline, "the child never reached step 10"
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (work / "final.weights.h5").exists()
    done = subprocess.run(
        [*argv, "fast"],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    first = int(done.stdout.split("FIRST")[1].split()[0])
    assert first > 10, "the re-run started over instead of resuming"
    assert "STEPS 40" in done.stdout
