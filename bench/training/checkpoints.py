"""Checkpoints of a training run (model, optimizer, step, elapsed time), the run manifest, atomic writes.

``tf.train.CheckpointManager`` writes ``ckpt-<n>.index`` / ``.data-*`` and then replaces the small
``checkpoint`` state file atomically, so the newest *listed* checkpoint is always complete: a run killed
while saving resumes from the one before. A checkpoint that still fails to restore (a damaged disk,
say) is skipped for the next older one, with a warning.

The work folder also holds ``run.json``: what was trained (variant, input size, width, classes, dataset
and the training settings that shape the result). A re-run with different settings refuses to resume
from it rather than silently mixing two runs.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from common.errors import EdgebenchWarning, InputError

RUN_FILE = "run.json"
RESULT_FILE = "train_result.json"
WEIGHTS_FILE = "final.weights.h5"  # legacy HDF5 despite the name; load_trained reads it
CHECKPOINT_PREFIX = "ckpt"
# Settings that may change between a run and its resumption (they do not change what is learnt per step).
RESUMABLE_CHANGES = ("steps", "max_minutes", "checkpoint_every", "keep_checkpoints", "log_every")


class TrainState(tf.Module):
    """The counters saved with every checkpoint: steps done and training seconds so far."""

    def __init__(self) -> None:
        super().__init__(name="train_state")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")


def make_manager(
    workdir: Path, model: keras.Model, optimizer: keras.optimizers.Optimizer, state: TrainState, keep: int
) -> tf.train.CheckpointManager:
    """A checkpoint manager over ``workdir/ckpt-*`` tracking model, optimizer and state."""
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, state=state)
    return tf.train.CheckpointManager(
        checkpoint, str(workdir), max_to_keep=keep, checkpoint_name=CHECKPOINT_PREFIX
    )


def restore_latest(manager: tf.train.CheckpointManager) -> str | None:
    """Restore the newest checkpoint that loads; return its path (None when starting afresh).

    The optimizer must be built (slots created) before this call, so that every value is restored
    at once rather than deferred.
    """
    candidates = list(manager.checkpoints)
    # A state file without timestamps (written by hand or by older tools) lists no checkpoints to keep,
    # but still names the latest.
    if manager.latest_checkpoint and manager.latest_checkpoint not in candidates:
        candidates.append(manager.latest_checkpoint)
    for path in reversed(candidates):
        try:
            manager.checkpoint.restore(path).assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError) as error:
            warnings.warn(
                f"{path}: cannot restore ({error}); trying an older checkpoint", EdgebenchWarning, 2
            )
            continue
        return path
    return None


def check_run(workdir: Path, manifest: dict) -> None:
    """Write ``run.json`` in a new work folder, or check that an existing one describes the same run.

    Raises:
        InputError: The folder holds a run with other settings (the message names the first difference).
    """
    path = workdir / RUN_FILE
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: unreadable run manifest ({error}); use a new --out folder") from error
        for key in sorted(set(previous) | set(manifest)):
            if key in RESUMABLE_CHANGES or previous.get(key) == manifest.get(key):
                continue
            raise InputError(
                f"{workdir}: holds a training run with {key}={previous.get(key)!r}, "
                f"not {manifest.get(key)!r}; "
                "use a new folder to train with other settings"
            )
    write_json_atomic(path, manifest)


def write_json_atomic(path: Path, value: object) -> None:
    """Write JSON through a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def save_weights_atomic(model: keras.Model, path: Path) -> Path:
    """``model.save_weights`` in HDF5 through a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.h5")
    try:
        model.save_weights(str(tmp), save_format="h5")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
