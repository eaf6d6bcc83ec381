"""The training loop and :func:`train` (from scratch, checkpointed, resumable).

:func:`train` and :func:`bench.training.finetune.finetune` (QAT / pruning) run the same custom loop:
a compiled step (:mod:`bench.training.steps`) fed from the tf.data
pipeline, the learning rate computed in Python each step (:mod:`bench.training.schedule`), the loss read
back every step (a diverged run stops at once with :class:`TrainingError`), the progress display.

Reproducible: the run is a fixed number of steps; the seed fixes the initialisation, the shuffle and
every augmentation draw; op determinism is on (:func:`bench.training.steps.make_deterministic`); the
learning rate depends on the step alone; and a resumed run continues the uninterrupted run's input
stream at its step. So the same settings give the same weights, bit for bit, resumed or not.
``max_minutes`` is only a safety cap: a run it stops is marked ``stopped_by="time"`` (its weights then
depend on the machine's speed) and its schedule is not stretched or cut to fit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from bench.data.coco import CocoDataset
from bench.models.config import ModelConfig
from bench.models.registry import build_model
from bench.training import checkpoints as ckpt
from bench.training.config import TrainConfig, TrainResult
from bench.training.progress import TrainProgress
from bench.training.schedule import warmup_cosine
from bench.training.steps import (
    StepFn,
    check_classes,
    input_stream,
    make_deterministic,
    make_optimizer,
    set_bn_momentum,
)
from bench.training.warm_start import start_weights, training_step

# on_step(step, losses): called after every step (after any checkpoint of that step); its own time is not
# counted as training time; raising from it stops training after a checkpoint (tests use it).
StepHook = Callable[[int, dict[str, float]], None]


class TrainingError(RuntimeError):
    """Training cannot go on: the loss became NaN or infinite (the message gives the step)."""


@dataclass
class LoopStats:
    """What one call of :func:`run_loop` measured."""

    steps_done: int = 0
    images_per_s: float = 0.0
    last_loss: float = float("nan")
    stopped_by: str = "steps"
    history: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Loop:
    """Everything the loop needs besides the state."""

    step_fn: StepFn
    iterator: object
    end_step: int
    batch_size: int
    lr_at: Callable[[int], float]  # step (0-based) -> learning rate
    log_every: int
    max_seconds: float | None = None
    on_step: StepHook | None = None
    on_checkpoint: Callable[[int], None] | None = None
    checkpoint_every: int | None = None


class _Clock:
    """Training time (wall time without the pauses in ``on_step``) and the throughput after the first step,
    which includes tracing."""

    def __init__(self, base_elapsed: float, batch_size: int) -> None:
        self.base, self.batch_size = base_elapsed, batch_size
        self.t0 = time.perf_counter()
        self.first: tuple[float, int] | None = None  # (time, step) after the first step

    def elapsed(self) -> float:
        return self.base + time.perf_counter() - self.t0

    def pause(self, seconds: float) -> None:
        self.t0 += seconds
        if self.first is not None:
            self.first = (self.first[0] + seconds, self.first[1])

    def images_per_s(self, step: int) -> float:
        """Throughput since the first step (0 until a second one is done)."""
        if self.first is None:
            self.first = (time.perf_counter(), step)
        done = step - self.first[1]
        return done * self.batch_size / (time.perf_counter() - self.first[0]) if done else 0.0


def run_loop(loop: Loop, state: ckpt.TrainState, display: TrainProgress) -> LoopStats:
    """Step until ``loop.end_step`` or the time cap; keeps ``state`` (step, elapsed) current."""
    stats, step = LoopStats(), int(state.step.numpy())
    start, clock, window = step, _Clock(float(state.elapsed.numpy()), loop.batch_size), []
    while step < loop.end_step:
        if loop.max_seconds is not None and clock.elapsed() >= loop.max_seconds:
            stats.stopped_by = "time"
            break
        images, box_targets, class_targets = next(loop.iterator)
        lr = tf.constant(loop.lr_at(step), tf.float32)
        losses = {k: float(v) for k, v in loop.step_fn(images, box_targets, class_targets, lr).items()}
        if not math.isfinite(losses["loss"]):
            raise TrainingError(f"step {step + 1}: the loss is {losses['loss']}; lower the learning rate")
        step += 1
        state.step.assign(step)
        state.elapsed.assign(clock.elapsed())
        stats.images_per_s = clock.images_per_s(step)
        window.append(losses["loss"])
        if step % loop.log_every == 0 or step == loop.end_step:
            stats.history.append((step, sum(window) / len(window)))
            window = []
        stats.last_loss = stats.history[-1][1] if stats.history else losses["loss"]
        display.update(step, losses["loss"], stats.images_per_s, loop.batch_size, clock.elapsed())
        if loop.on_checkpoint is not None and loop.checkpoint_every and step % loop.checkpoint_every == 0:
            loop.on_checkpoint(step)
        if loop.on_step is not None:
            hook_start = time.perf_counter()
            loop.on_step(step, losses)
            clock.pause(time.perf_counter() - hook_start)  # the hook's time is not training time
    stats.steps_done = step - start
    return stats


def train(
    model_config: ModelConfig,
    train_split: CocoDataset,
    config: TrainConfig,
    workdir: str | Path,
    *,
    progress: bool = True,
    on_step: StepHook | None = None,
) -> TrainResult:
    """Train a detector, resuming from the newest checkpoint in ``workdir``.

    A fresh run (no checkpoint) first starts the model from ``config.init`` (scratch, ImageNet backbone or
    an OD API checkpoint); its report is shown and kept in ``workdir/init.json``.

    Args:
        model_config: The variant (its ``num_classes`` must equal the dataset's).
        train_split: The training split.
        config: Training settings.
        workdir: Folder for ``ckpt-*``, ``run.json``, ``init.json``, ``final.weights.h5``,
            ``train_result.json``.
        progress: Show the progress display on stderr.
        on_step: Called after every step with (step, losses); an exception from it stops training
            after a checkpoint is written (KeyboardInterrupt behaves the same).

    Returns:
        The result; ``weights_path`` loads with :func:`bench.training.load_trained`.

    Raises:
        InputError: Classes differ, ``workdir`` holds a run with other settings, or the init's weights
            do not fit the model.
        TrainingError: The loss diverged.
    """
    workdir = Path(workdir)
    check_classes(model_config, train_split)
    threads = make_deterministic(config.threads)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt.check_run(workdir, _manifest(model_config, train_split, config))
    run = _prepare(model_config, config, workdir, train_split.class_names)
    start = int(run.state.step.numpy())
    max_seconds = None if config.max_minutes is None else config.max_minutes * 60.0
    stats = LoopStats()
    with TrainProgress(model_config.name, config.steps, start, max_seconds, enabled=progress) as display:
        if run.restored:
            display.message(f"resuming {run.restored} at step {start}")
        if threads != config.threads:
            display.message(
                f"training on {threads} threads, not the configured {config.threads}: TensorFlow had started "
                "in this process already, and the weights differ from a fresh process's"
            )
        for line in run.init_lines:
            display.message(f"init {config.init.describe()}: {line}")
        if start < config.steps and (max_seconds is None or float(run.state.elapsed.numpy()) < max_seconds):
            loop = Loop(
                step_fn=training_step(run.model, model_config, run.optimizer, config, run.state.step),
                iterator=iter(
                    input_stream(
                        model_config,
                        train_split,
                        config.batch_size,
                        config.seed,
                        config.augment,
                        config.match_iou,
                        skip_batches=start,  # a resumed run continues the uninterrupted run's stream
                    )
                ),
                end_step=config.steps,
                batch_size=config.batch_size,
                lr_at=_schedule(config),
                log_every=config.log_every,
                max_seconds=max_seconds,
                on_step=on_step,
                on_checkpoint=lambda _step: _save(run.manager, run.state),
                checkpoint_every=config.checkpoint_every,
            )
            stats = _run_checkpointed(loop, run, display)
    return _finish(workdir, run, config, stats, threads)


@dataclass(frozen=True)
class _Run:
    """The objects of one training run."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    state: ckpt.TrainState
    manager: tf.train.CheckpointManager
    restored: str | None  # the checkpoint resumed from
    init_lines: tuple[str, ...]  # what the step-0 initialisation loaded (read back on resume)


def _prepare(
    model_config: ModelConfig, config: TrainConfig, workdir: Path, class_names: tuple[str, ...]
) -> _Run:
    """Build the model and optimizer; restore the newest checkpoint, or initialise at step 0."""
    keras.utils.set_random_seed(config.seed)
    model = build_model(model_config)
    set_bn_momentum(model, config.bn_momentum)
    optimizer = make_optimizer(config.optimizer, config.weight_decay)
    optimizer.build(model.trainable_variables)  # slots exist before restoring: nothing is deferred
    state = ckpt.TrainState()
    manager = ckpt.make_manager(workdir, model, optimizer, state, config.keep_checkpoints)
    restored = ckpt.restore_latest(manager)
    resumed = restored is not None
    init_lines = start_weights(model, model_config, config, workdir, resumed, class_names)
    return _Run(model, optimizer, state, manager, restored, init_lines)


def _run_checkpointed(loop: Loop, run: _Run, display: TrainProgress) -> LoopStats:
    """Run the loop; however it stops (Ctrl-C, an exception from on_step), checkpoint the steps done,
    unless the loss diverged: the weights are NaN then, and a re-run resumes from the last good one."""
    keep_work = True
    try:
        return run_loop(loop, run.state, display)
    except TrainingError:
        keep_work = False
        raise
    finally:
        if keep_work:
            _save(run.manager, run.state)


def _save(manager: tf.train.CheckpointManager, state: ckpt.TrainState) -> None:
    """Checkpoint the current step unless the newest checkpoint already holds it."""
    step = int(state.step.numpy())
    if manager.latest_checkpoint is None or not manager.latest_checkpoint.endswith(f"-{step}"):
        manager.save(checkpoint_number=step)


def _schedule(config: TrainConfig) -> Callable[[int], float]:
    """The rate of each step: a function of the step alone (never of the clock), so runs reproduce."""

    def lr_at(step: int) -> float:
        return warmup_cosine(step, config.steps, config.peak_lr, config.effective_warmup)

    return lr_at


def _finish(workdir: Path, run: _Run, config: TrainConfig, stats: LoopStats, threads: int) -> TrainResult:
    """Final checkpoint, weights file and result JSON (the result of an earlier run when nothing ran)."""
    step, state = int(run.state.step.numpy()), run.state
    _save(run.manager, run.state)
    weights = ckpt.save_weights_atomic(run.model, workdir / ckpt.WEIGHTS_FILE)
    previous = _previous_result(workdir)
    ran = stats.steps_done > 0
    result = TrainResult(
        weights_path=weights,
        steps=step,
        seconds=round(float(state.elapsed.numpy()), 3),
        images_per_s=round(stats.images_per_s, 2) if ran else previous.get("images_per_s", 0.0),
        final_loss=stats.last_loss if ran else previous.get("final_loss", float("nan")),
        stopped_by=("time" if step < config.steps else "steps") if not ran else stats.stopped_by,
        threads=threads if ran else previous.get("threads", threads),
        loss_history=tuple(stats.history)
        if ran
        else tuple(tuple(p) for p in previous.get("loss_history", [])),
    )
    ckpt.write_json_atomic(workdir / ckpt.RESULT_FILE, result.to_dict())
    return result


def _previous_result(workdir: Path) -> dict:
    try:
        return json.loads((workdir / ckpt.RESULT_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _manifest(model_config: ModelConfig, split: CocoDataset, config: TrainConfig) -> dict:
    """What ``run.json`` records, as plain JSON values (so that it compares equal to the file's)."""
    model = dataclasses.asdict(model_config)
    value = {"model": model, "dataset_id": split.dataset_id, **config.to_dict()}
    return json.loads(json.dumps(value, default=_plain))


def _plain(value):
    """JSON for what ``dataclasses.asdict`` leaves: pydantic settings (post- and preprocessing), enums."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else str(value)
