"""The training loop: :func:`train` (from scratch, checkpointed, resumable) and :func:`finetune` (QAT / pruning).

Both run the same custom loop: a compiled step (:mod:`bench.training.steps`) fed from the tf.data
pipeline, the learning rate computed in Python each step (:mod:`bench.training.schedule`), the loss read
back every step (a diverged run stops at once with :class:`TrainingError`), the progress display.
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

from bench.data.augment import AugmentConfig
from bench.data.coco import CocoDataset
from bench.models.config import ModelConfig
from bench.models.registry import build_model
from bench.training import checkpoints as ckpt
from bench.training.config import FLIP_ONLY, TrainConfig, TrainResult
from bench.training.progress import TrainProgress
from bench.training.schedule import warmup_cosine
from bench.training.steps import StepFn, check_classes, input_stream, make_optimizer, make_train_step, set_bn_momentum
from bench.training.tfmot_steps import finish_pruning, start_pruning

# on_step(step, losses): called after every step (after any checkpoint of that step); its own time is not
# counted as training time; raising from it stops training after a checkpoint (tests use it).
StepHook = Callable[[int, dict[str, float]], None]


class TrainingError(RuntimeError):
    """Training cannot go on: the loss became NaN or infinite (the message gives the step)."""


@dataclass
class _LoopStats:
    """What one call of :func:`_run_loop` measured."""

    steps_done: int = 0
    images_per_s: float = 0.0
    last_loss: float = float("nan")
    stopped_by: str = "steps"
    history: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Loop:
    """Everything the loop needs besides the state."""

    step_fn: StepFn
    iterator: object
    end_step: int
    batch_size: int
    lr_at: Callable[[int, float], float]  # (step, elapsed seconds) -> learning rate
    log_every: int
    max_seconds: float | None = None
    on_step: StepHook | None = None
    on_checkpoint: Callable[[int], None] | None = None
    checkpoint_every: int | None = None


def _run_loop(loop: _Loop, state: ckpt.TrainState, display: TrainProgress) -> _LoopStats:
    """Step until ``loop.end_step`` or the time cap; keeps ``state`` (step, elapsed) current."""
    stats, step = _LoopStats(), int(state.step.numpy())
    start = step
    base_elapsed, t0 = float(state.elapsed.numpy()), time.perf_counter()
    first_done, first_step, window = None, step, []
    while step < loop.end_step:
        elapsed = base_elapsed + time.perf_counter() - t0
        if loop.max_seconds is not None and elapsed >= loop.max_seconds:
            stats.stopped_by = "time"
            break
        images, box_targets, class_targets = next(loop.iterator)
        lr = tf.constant(loop.lr_at(step, elapsed), tf.float32)
        losses = {k: float(v) for k, v in loop.step_fn(images, box_targets, class_targets, lr).items()}
        step += 1
        state.step.assign(step)
        state.elapsed.assign(base_elapsed + time.perf_counter() - t0)
        if not math.isfinite(losses["loss"]):
            raise TrainingError(f"step {step}: the loss is {losses['loss']}; lower the learning rate")
        window.append(losses["loss"])
        if first_done is None:
            first_done, first_step = time.perf_counter(), step  # the first step includes tracing
        elif step > first_step:
            stats.images_per_s = (step - first_step) * loop.batch_size / (time.perf_counter() - first_done)
        if step % loop.log_every == 0 or step == loop.end_step:
            stats.history.append((step, sum(window) / len(window)))
            window = []
        display.update(step, losses["loss"], stats.images_per_s, loop.batch_size, float(state.elapsed.numpy()))
        stats.last_loss = stats.history[-1][1] if stats.history else losses["loss"]
        if loop.on_checkpoint is not None and loop.checkpoint_every and step % loop.checkpoint_every == 0:
            loop.on_checkpoint(step)
        if loop.on_step is not None:
            # The hook's time is not training time (the calibration script evaluates in it).
            hook_start = time.perf_counter()
            loop.on_step(step, losses)
            paused = time.perf_counter() - hook_start
            t0 += paused
            first_done += paused
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
    """Train a detector from scratch, resuming from the newest checkpoint in ``workdir``.

    Args:
        model_config: The variant (its ``num_classes`` must equal the dataset's).
        train_split: The training split.
        config: Training settings.
        workdir: Folder for ``ckpt-*``, ``run.json``, ``final.weights.h5``, ``train_result.json``.
        progress: Show the progress display on stderr.
        on_step: Called after every step with (step, losses); an exception from it stops training
            after a checkpoint is written (KeyboardInterrupt behaves the same).

    Returns:
        The result; ``weights_path`` loads with :func:`bench.training.load_trained`.

    Raises:
        InputError: Classes differ, or ``workdir`` holds a run with other settings.
        TrainingError: The loss diverged.
    """
    workdir = Path(workdir)
    check_classes(model_config, train_split)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt.check_run(workdir, _manifest(model_config, train_split, config))
    keras.utils.set_random_seed(config.seed)
    model = build_model(model_config)
    set_bn_momentum(model, config.bn_momentum)
    optimizer = make_optimizer(config.optimizer, config.weight_decay)
    optimizer.build(model.trainable_variables)  # slots exist before restoring: nothing is deferred
    state = ckpt.TrainState()
    manager = ckpt.make_manager(workdir, model, optimizer, state, config.keep_checkpoints)
    restored = ckpt.restore_latest(manager)
    start = int(state.step.numpy())
    max_seconds = None if config.max_minutes is None else config.max_minutes * 60.0
    with TrainProgress(model_config.name, config.steps, start, max_seconds, enabled=progress) as display:
        if restored:
            display.message(f"resuming {restored} at step {start}")
        stats = _LoopStats()
        if start < config.steps and (max_seconds is None or float(state.elapsed.numpy()) < max_seconds):
            loop = _Loop(
                step_fn=make_train_step(model, model_config, optimizer, config.clip_norm),
                iterator=iter(input_stream(model_config, train_split, config.batch_size, config.seed + start, config.augment)),
                end_step=config.steps,
                batch_size=config.batch_size,
                lr_at=_schedule(config),
                log_every=config.log_every,
                max_seconds=max_seconds,
                on_step=on_step,
                on_checkpoint=lambda _step: _save(manager, state),
                checkpoint_every=config.checkpoint_every,
            )
            keep_work = True
            try:
                stats = _run_loop(loop, state, display)
            except TrainingError:
                keep_work = False  # the weights are NaN now: a re-run resumes from the last good checkpoint
                raise
            finally:
                if keep_work:  # also after Ctrl-C or an exception from on_step: keep the steps done
                    _save(manager, state)
    return _finish(workdir, model, manager, state, config, stats)


def _save(manager: tf.train.CheckpointManager, state: ckpt.TrainState) -> None:
    """Checkpoint the current step unless the newest checkpoint already holds it."""
    step = int(state.step.numpy())
    if manager.latest_checkpoint is None or not manager.latest_checkpoint.endswith(f"-{step}"):
        manager.save(checkpoint_number=step)


def _schedule(config: TrainConfig) -> Callable[[int, float], float]:
    max_seconds = None if config.max_minutes is None else config.max_minutes * 60.0

    def lr_at(step: int, elapsed: float) -> float:
        fraction = 0.0 if max_seconds is None else elapsed / max_seconds
        return warmup_cosine(step, config.steps, config.peak_lr, config.effective_warmup, time_fraction=fraction)

    return lr_at


def _finish(workdir, model, manager, state, config: TrainConfig, stats: _LoopStats) -> TrainResult:
    """Final checkpoint, weights file and result JSON (the result of an earlier run when nothing ran)."""
    step = int(state.step.numpy())
    _save(manager, state)
    weights = ckpt.save_weights_atomic(model, workdir / ckpt.WEIGHTS_FILE)
    previous = _previous_result(workdir)
    ran = stats.steps_done > 0
    result = TrainResult(
        weights_path=weights,
        steps=step,
        seconds=round(float(state.elapsed.numpy()), 3),
        images_per_s=round(stats.images_per_s, 2) if ran else previous.get("images_per_s", 0.0),
        final_loss=stats.last_loss if ran else previous.get("final_loss", float("nan")),
        stopped_by=("time" if step < config.steps else "steps") if not ran else stats.stopped_by,
        loss_history=tuple(stats.history) if ran else tuple(tuple(p) for p in previous.get("loss_history", [])),
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
    return json.loads(json.dumps(value, default=str))


def finetune(
    model: keras.Model,
    model_config: ModelConfig,
    train_split: CocoDataset,
    steps: int,
    lr: float,
    *,
    batch_size: int = 32,
    seed: int = 0,
    augment: AugmentConfig = FLIP_ONLY,
    warmup_steps: int | None = None,
    progress: bool = False,
    on_step: StepHook | None = None,
) -> keras.Model:
    """Fine-tune an already built model in place with the training loop (QAT and pruning recipes).

    ``model`` may be wrapped by tfmot: ``quantize_model`` needs nothing more; ``prune_low_magnitude``
    gets what tfmot's ``UpdatePruningStep`` callback does (step counters started before the first step,
    weights multiplied by their masks after the last).

    Args:
        model: Float, QAT or pruning-wrapped Keras model of ``model_config``.
        model_config: The variant (anchors, matcher, loss).
        train_split: Training split.
        steps: Optimizer steps.
        lr: Peak learning rate (Adam, warmup then cosine to zero).
        batch_size: Images per step.
        seed: Shuffle and augmentation seed.
        augment: Augmentation (flip only by default).
        warmup_steps: Default ``min(steps // 10, 100)``: fake-quant ranges and masks start rough.
        progress: Show the progress display.
        on_step: See :func:`train`.

    Returns:
        ``model`` itself, fine-tuned.
    """
    check_classes(model_config, train_split)
    TrainConfig(steps=steps, batch_size=batch_size, peak_lr=lr, seed=seed, augment=augment)  # validates
    warm = min(steps // 10, 100) if warmup_steps is None else warmup_steps
    start_pruning(model)
    optimizer = make_optimizer("adam")
    optimizer.build(model.trainable_variables)
    loop = _Loop(
        step_fn=make_train_step(model, model_config, optimizer, clip_norm=10.0),
        iterator=iter(input_stream(model_config, train_split, batch_size, seed, augment)),
        end_step=steps,
        batch_size=batch_size,
        lr_at=lambda step, _elapsed: warmup_cosine(step, steps, lr, warm),
        log_every=max(steps // 20, 1),
        on_step=on_step,
    )
    with TrainProgress(f"finetune {model.name}", steps, enabled=progress) as display:
        _run_loop(loop, ckpt.TrainState(), display)
    finish_pruning(model)
    return model


def finetune_callable(
    model_config: ModelConfig, train_split: CocoDataset, *, lr: float, batch_size: int = 32, seed: int = 0
) -> Callable[[keras.Model, int], keras.Model]:
    """``finetune(model, steps) -> model`` for ``converters.ConversionInputs.finetune`` (which cannot import bench).

    Args:
        model_config: The variant of the models the converters will hand in.
        train_split: Training split.
        lr: Peak learning rate of every fine-tune (QAT: about a tenth of the training peak).
        batch_size: Images per step.
        seed: Shuffle and augmentation seed.
    """

    def run(model: keras.Model, steps: int) -> keras.Model:
        return finetune(model, model_config, train_split, steps, lr, batch_size=batch_size, seed=seed)

    return run
