"""The one entry the training loop calls at step 0: start a built detector from its ``InitSpec``.

``scratch`` leaves the zoo's initialisation (the class head's prior included: ModelConfig.class_bias_init).
``imagenet`` fills the backbone from Keras Applications (:mod:`.keras_apps`); the extra layers and heads
keep the zoo's initialisation. ``checkpoint`` hands the model to the TF Object Detection API importer
(:func:`bench.models.pretrained.od_api.import_od_api_checkpoint`), which loads every variable and
re-initialises the class head when the checkpoint's class count differs from the data's.
"""

from __future__ import annotations

from dataclasses import dataclass

import tf_keras as keras

from bench.models.config import ModelConfig
from bench.models.pretrained.spec import InitKind, InitSpec, resolve_checkpoint

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


def initialize(model: keras.Model, model_config: ModelConfig, spec: InitSpec) -> InitReport:
    """Start ``model`` (built from ``model_config``) from the weights ``spec`` names.

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

    report = od_api.import_od_api_checkpoint(model, model_config, resolve_checkpoint(spec.path))
    return InitReport(name, report_lines(report))


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


def report_lines(report: object) -> tuple[str, ...]:
    """The importer's report as lines: its ``lines`` (attribute or method), or its text split."""
    lines = getattr(report, "lines", None)
    if callable(lines):
        lines = lines()
    if lines is None:
        lines = str(report).splitlines()
    return tuple(str(line) for line in lines)


def backbone_variables(model: keras.Model, model_config: ModelConfig) -> list:
    """The trainable variables of the backbone layers (frozen during ``freeze_backbone_steps``)."""
    prefix = BACKBONE_PREFIXES.get(model_config.backbone, f"{model_config.backbone}_")
    return [v for layer in model.layers if layer.name.startswith(prefix) for v in layer.trainable_weights]
