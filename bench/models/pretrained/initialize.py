"""The one entry the training loop calls at step 0: start a built detector from its ``InitSpec``.

``scratch`` leaves the zoo's initialisation (the class head's prior included: ModelConfig.class_bias_init).
``imagenet`` fills the backbone from Keras Applications (:mod:`.keras_apps`); the extra layers and heads
keep the zoo's initialisation. ``checkpoint`` hands the model to the TF Object Detection API importer
(:func:`bench.models.pretrained.od_api.import_od_api_checkpoint`), which loads every variable and takes
the class head's rows by class name (the dataset's categories found in the 90-id COCO label map).

A checkpoint can fix parts of the layout (the TF2 zoo's SSD-MobileNetV2: regular extras, 1x1 heads), so
whoever builds the model for a ``checkpoint`` init builds it from :func:`config_for_init`, and that same
config is what export, evaluation and the records see.
"""

from __future__ import annotations

from dataclasses import dataclass

import tf_keras as keras

from bench.models.config import ModelConfig
from bench.training.init_spec import InitKind, InitSpec, resolve_checkpoint

# The zoo names every backbone layer with its family prefix (bench/models/backbones/*.py).
BACKBONE_PREFIXES = {
    "mobilenet_v2": "mnv2_",
    "mobilenet_v3_large": "mnv3l_",
    "mobilenet_v3_small": "mnv3s_",
}


@dataclass(frozen=True)
class InitReport:
    """What the initialisation loaded, one line per part of the model."""

    init: str  # the InitSpec in plan form, as text
    lines: tuple[str, ...]  # "backbone: 262 tensors ...", "class head: re-initialised ...", ...

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {"init": self.init, "lines": list(self.lines)}


def config_for_init(model_config: ModelConfig, spec: InitSpec) -> ModelConfig:
    """``model_config`` with the layout the init's checkpoint needs (unchanged for scratch / imagenet).

    Raises:
        InputError: The checkpoint cannot be read.
    """
    if spec.kind is not InitKind.CHECKPOINT:
        return model_config
    from bench.models.pretrained.od_api import config_for_checkpoint

    return config_for_checkpoint(model_config, spec.path)


def initialize(
    model: keras.Model, model_config: ModelConfig, spec: InitSpec, class_names: tuple[str, ...] | None = None
) -> InitReport:
    """Start ``model`` (built from ``model_config``, see :func:`config_for_init`) from ``spec``'s weights.

    Args:
        model: The detector.
        model_config: Its config.
        spec: Where the weights come from.
        class_names: The model's classes in order (the training split's categories): a checkpoint's
            class head is matched to them by name.

    Raises:
        InputError: The weights do not fit the model (the message names the first mismatch); the model
            is then unchanged.
    """
    name = str(spec.to_plain())
    if spec.kind is InitKind.SCRATCH:
        return InitReport(name, ("all layers: the zoo's random initialisation",))
    if spec.kind is InitKind.IMAGENET:
        return InitReport(name, _imagenet(model, model_config, spec))
    from bench.models.pretrained import od_api  # the OD API importer (TensorFlow checkpoint reader)

    report = od_api.import_od_api_checkpoint(
        model, model_config, resolve_checkpoint(spec.path), class_names=class_names
    )
    return InitReport(name, tuple(report.lines()))


def _imagenet(model: keras.Model, model_config: ModelConfig, spec: InitSpec) -> tuple[str, ...]:
    from bench.models.pretrained.keras_apps import load_imagenet_backbone

    load = load_imagenet_backbone(model, model_config.backbone, model_config.width_multiplier, spec.path)
    lines = [
        f"backbone {load.backbone} width {load.width}: {load.tensors} tensors in {load.layers} layers "
        f"from {load.source}"
    ]
    lines += [f"backbone, not taken: {note}" for note in load.skipped]
    lines.append(
        "extra layers, box and class heads: the zoo's initialisation "
        f"(class logit prior {model_config.class_bias_init})"
    )
    return tuple(lines)


def backbone_variables(model: keras.Model, model_config: ModelConfig) -> list:
    """The trainable variables of the backbone layers (frozen during ``freeze_backbone_steps``)."""
    prefix = BACKBONE_PREFIXES.get(model_config.backbone, f"{model_config.backbone}_")
    return [v for layer in model.layers if layer.name.startswith(prefix) for v in layer.trainable_weights]
