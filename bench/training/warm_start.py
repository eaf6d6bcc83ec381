"""Starting a training run from published weights: the init at step 0 and the frozen-backbone warm-up.

The init runs once, when no checkpoint of the work folder was restored (step 0); a resumed run keeps its
checkpointed weights and reads the report written then (``init.json``). During the first
``freeze_backbone_steps`` steps only the extra layers and heads are updated, so that freshly
initialised heads do not push large gradients through a pretrained backbone (the OD API's
``freeze_variables`` / Keras' transfer-learning guide do the same). The backbone's BatchNormalization
statistics still follow the new data: the model runs in training mode, only the gradients are masked.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from bench.models.config import ModelConfig
from bench.models.pretrained.initialize import backbone_variables, initialize
from bench.training import checkpoints as ckpt
from bench.training.config import TrainConfig
from bench.training.steps import StepFn, make_train_step

INIT_FILE = "init.json"


def start_weights(
    model: keras.Model,
    model_config: ModelConfig,
    config: TrainConfig,
    workdir: Path,
    resumed: bool,
    class_names: tuple[str, ...] | None = None,
) -> tuple[str, ...]:
    """Initialise ``model`` at step 0 (not when ``resumed``) and return the report's lines.

    ``class_names`` (the training split's categories) match a checkpoint's class head by name.

    Raises:
        InputError: The weights do not fit the model (nothing is assigned then).
    """
    if resumed:
        return tuple(read_init_report(workdir).get("lines", ()))
    report = initialize(model, model_config, config.init, class_names)
    ckpt.write_json_atomic(workdir / INIT_FILE, report.to_dict())
    return report.lines


def read_init_report(workdir: str | Path) -> dict:
    """The ``init.json`` of a work folder (``{"init": ..., "lines": [...]}``), or {} when absent."""
    try:
        return json.loads((Path(workdir) / INIT_FILE).read_text())
    except (OSError, ValueError):
        return {}


def training_step(
    model: keras.Model,
    model_config: ModelConfig,
    optimizer: keras.optimizers.Optimizer,
    config: TrainConfig,
    step_counter: tf.Variable,
) -> StepFn:
    """The step function of :func:`bench.training.train`: heads only while ``step_counter`` is below
    ``config.freeze_backbone_steps``, every trainable variable after."""
    full = make_train_step(model, model_config, optimizer, config.clip_norm)
    freeze = config.freeze_backbone_steps
    if freeze == 0 or int(step_counter.numpy()) >= freeze:
        return full
    frozen = {v.ref() for v in backbone_variables(model, model_config)}
    heads = [v for v in model.trainable_variables if v.ref() not in frozen]
    warm = make_train_step(model, model_config, optimizer, config.clip_norm, heads)

    def step(images, box_targets, class_targets, lr):
        chosen = warm if int(step_counter.numpy()) < freeze else full
        return chosen(images, box_targets, class_targets, lr)

    return step
