"""The same settings give the same weights, bit for bit: in two fresh processes, resumed or not (issue 19)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from bench.training import TrainConfig, train

CONFIG = TrainConfig(steps=20, batch_size=8, warmup_steps=2, log_every=5, checkpoint_every=10)

_CHILD = """
import hashlib, sys
import bench
from bench.data.coco import load_coco
from bench.models.registry import build_model, get_config
from bench.training import TrainConfig, train
from bench.training.steps import make_deterministic
split = load_coco(sys.argv[1])
config = get_config("tiny_ssdlite_mobilenet_v2", num_classes=split.num_classes)
if sys.argv[3] == "busy":  # models built and trained before, as in a pipeline's build of several variants
    make_deterministic(1)  # what a build process does first (bench.pipeline.builds)
    other = get_config("tiny_ssdlite_mobilenet_v3_small", num_classes=split.num_classes)
    build_model(other)
    train(other, split, TrainConfig(steps=2, batch_size=8), sys.argv[2] + "-other", progress=False)
result = train(config, split, TrainConfig(steps=20, batch_size=8, warmup_steps=2, log_every=5,
               checkpoint_every=10), sys.argv[2], progress=False)
print("WEIGHTS", hashlib.sha256(result.weights_path.read_bytes()).hexdigest(), result.threads)
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_two_fresh_processes_write_the_same_weight_bytes(synth_root, tmp_path):
    # Run side by side: on a shared 2-core machine the two also race for the cores, which is the point.
    # The second one builds and trains another variant first, as the pipeline does before its second variant.
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(synth_root / "train"), str(tmp_path / name), name],
            cwd=Path(__file__).parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alone", "busy")
    ]
    hashes = []
    for child in children:
        out, err = child.communicate(timeout=900)
        assert child.returncode == 0, err[-2000:]
        hashes.append(out.split("WEIGHTS")[1].split()[:2])
    assert hashes[0] == hashes[1]
    assert hashes[0][1] == "1"  # TrainConfig.threads' default, honoured in both


@pytest.mark.slow
def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights(tiny_config, train_split, tmp_path):
    straight = train(tiny_config, train_split, CONFIG, tmp_path / "straight", progress=False)

    def interrupt(step, losses):
        if step == 7:  # between two periodic checkpoints: the interrupt writes ckpt-7
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config, train_split, CONFIG, tmp_path / "resumed", progress=False, on_step=interrupt)
    resumed = train(tiny_config, train_split, CONFIG, tmp_path / "resumed", progress=False)
    assert resumed.steps == straight.steps == 20
    # The resumed run restored model, optimizer and step, and continued the input stream at batch 7.
    assert _sha(resumed.weights_path) == _sha(straight.weights_path)
    assert resumed.loss_history[-1] == straight.loss_history[-1]
