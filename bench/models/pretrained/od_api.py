"""Import a TF Object Detection API model-zoo checkpoint into a zoo Keras model.

The published TF1 checkpoints of the seed detectors (ssd_mobilenet_v2_coco, ssdlite_mobilenet_v2_coco,
ssd_mobilenet_v3_{small,large}_coco, ssdlite_mobiledet_{cpu,edgetpu,dsp,gpu}) are name-based: every
variable is looked up by the name :mod:`bench.models.pretrained.od_api_table` derives from the OD API
source, its shape checked against that table and against the zoo layer it fills. The TF2 zoo's
ssd_mobilenet_v2_320x320_coco17_tpu-8 is object-based: its variables are named by attribute path
(:mod:`bench.models.pretrained.od_api_tf2_table`) and it needs the layout :func:`config_for_checkpoint`
gives. Nothing is assigned until every check has passed, so a failed import leaves the model as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras
from pydantic import BaseModel, ConfigDict

from bench.models.config import ModelConfig
from bench.models.pretrained.od_api_class_head import (
    ClassHead,
    class_note,
    class_sources,
    is_class_conv,
    same_boxes,
    select_rows,
)
from bench.models.pretrained.od_api_pipeline import (
    anchor_differences,
    read_pipeline_anchors,
    sample_anchors,
)
from bench.models.pretrained.od_api_table import (
    BACKBONE,
    BOX_HEAD,
    CLASS_HEAD,
    EXTRAS,
    Entry,
    checkpoint_table,
)
from bench.models.pretrained.od_api_tf2_table import SUFFIX, TF2_LAYOUT, tf2_checkpoint_table
from bench.training.init_spec import pipeline_config, resolve_checkpoint
from common.errors import InputError

# Checkpoint variables that are not model weights, with the reason they are skipped.
IGNORED = (
    (re.compile(r"^global_step$"), "training step counter"),
    (re.compile(r"/(Momentum|RMSProp|RMSProp_1|Adam|Adam_1)$"), "optimizer slot"),
    (re.compile(r"^beta[12]_power$"), "Adam accumulator"),
    (re.compile(r"^_CHECKPOINTABLE_OBJECT_GRAPH$"), "object graph of a TF2 checkpoint"),
    (re.compile(r"^save_counter/"), "checkpoint save counter"),
    (re.compile(r"/\.OPTIMIZER_SLOT/|^optimizer/"), "optimizer state"),
)
EMA_SUFFIX = "/ExponentialMovingAverage"  # shadows of tf.train.ExponentialMovingAverage
# Model-zoo folder -> the zoo variant of the same layout (the TF2 zoo's ssd_mobilenet_v2_320x320 has none).
ZOO_FOLDERS = {
    "ssd_mobilenet_v2_coco_2018_03_29": "ssd_mobilenet_v2",
    "ssdlite_mobilenet_v2_coco_2018_05_09": "ssdlite_mobilenet_v2",
    "ssd_mobilenet_v3_small_coco_2020_01_14": "ssdlite_mobilenet_v3_small",
    "ssd_mobilenet_v3_large_coco_2020_01_14": "ssdlite_mobilenet_v3_large",
    "ssdlite_mobiledet_cpu_320x320_coco_2020_05_19": "ssdlite_mobiledet_cpu",
    "ssdlite_mobiledet_edgetpu_320x320_coco_2020_05_19": "ssdlite_mobiledet_edgetpu",
    "ssdlite_mobiledet_dsp_320x320_coco_2020_05_19": "ssdlite_mobiledet_dsp",
    "ssdlite_mobiledet_gpu_320x320_coco_2020_05_19": "ssdlite_mobiledet_gpu",
    "ssd_mobilenet_v2_320x320_coco17_tpu-8": "ssd_mobilenet_v2",  # with TF2_LAYOUT (config_for_checkpoint)
}
PARTS = (BACKBONE, EXTRAS, BOX_HEAD, CLASS_HEAD)  # the report's order
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_MAX_NAMED = 5


class ImportReport(BaseModel):
    """What :func:`import_od_api_checkpoint` loaded into the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkpoint: str  # the checkpoint prefix read
    variant: str  # the zoo variant imported into
    loaded: int  # checkpoint variables assigned to the model
    loaded_by_part: dict[str, int]  # the same, per part: backbone, extras, box_head, class_head
    ignored: dict[str, str]  # checkpoint variables not loaded -> why (optimizer slots, step counter...)
    class_head_loaded: bool  # False when the model's class count differs (the head keeps its fresh init)
    class_head_note: str  # why the class head was or was not loaded
    labels: tuple[str, ...]  # name of each class slot 1..N after import ("???" unused ids); () if fresh
    fresh_classes: tuple[str, ...]  # classes of the model left at the fresh prior init (no namesake)
    anchor_differences: tuple[str, ...]  # where the model's anchors/input differ from the checkpoint's

    def summary(self) -> str:
        """One line for the console."""
        head = "class head loaded" if self.class_head_loaded else "class head left at its fresh init"
        anchors = "; ".join(self.anchor_differences) or "anchors match the checkpoint's pipeline"
        return (
            f"{self.variant}: {self.loaded} tensors from {self.checkpoint} "
            f"({len(self.ignored)} ignored), {head}; {anchors}"
        )

    def lines(self) -> tuple[str, ...]:
        """The report for the console and ``init.json``: one line per part of the model."""
        out = [f"checkpoint {self.checkpoint} into {self.variant}: {self.loaded} tensors"]
        count = self.loaded_by_part.get
        out += [f"{part.replace('_', ' ')}: {count(part, 0)} tensors" for part in PARTS[:-1]]
        out.append(f"class head: {count(CLASS_HEAD, 0)} tensors, {self.class_head_note}")
        reasons: dict[str, int] = {}
        for reason in self.ignored.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        if reasons:
            counts = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
            out.append(f"ignored: {len(self.ignored)} checkpoint variables ({counts})")
        out += [f"anchors: {note}" for note in self.anchor_differences] or [
            "anchors: match the checkpoint's pipeline"
        ]
        return tuple(out)


def _read_shapes(prefix: str) -> dict[str, tuple[int, ...]]:
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as error:
        raise InputError(f"checkpoint: cannot read {prefix}: {str(error).splitlines()[0]}") from None
    return {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()}


def _object_based(shapes: dict) -> bool:
    """A TF2 (object-based) checkpoint: an object graph, variables named by attribute path."""
    return _OBJECT_GRAPH_KEY in shapes or any(name.endswith(SUFFIX) for name in shapes)


def config_for_checkpoint(config: ModelConfig, path: str | Path) -> ModelConfig:
    """``config`` adjusted to the layout of the checkpoint at ``path``, checked against it; build the
    model from this.

    A TF1 zoo checkpoint fits the seed variants as registered. The TF2 zoo's ssd_mobilenet_v2_320x320
    has regular 3x3 extra layers and a 1x1 box predictor (:data:`TF2_LAYOUT`); its 300x300 training
    input is not imposed: the input side stays ``config``'s (the import reports the difference).
    Every variable name and shape is checked here, without building the model, so a checkpoint of
    another variant stops before any work starts.

    Raises:
        InputError: No checkpoint at ``path``, or one that does not fit the variant (naming a variable).
    """
    prefix = str(resolve_checkpoint(path, "checkpoint"))
    shapes = _read_shapes(prefix)
    if _object_based(shapes):
        # The input side is the caller's: the anchor comparison reports a difference from the 300.
        config = config.replace(**{k: v for k, v in TF2_LAYOUT.items() if k != "input_size"})
    _checked_table(config, prefix, shapes)
    return config


def _checked_table(config: ModelConfig, prefix: str, shapes: dict) -> tuple[list[Entry], dict[str, str]]:
    """The OD API table of ``config`` and the ignored variables, once every checkpoint variable is
    accounted for and has the table's shape.

    Raises:
        InputError: A stray, missing or wrongly shaped variable (named).
    """
    table = tf2_checkpoint_table(config) if _object_based(shapes) else checkpoint_table(config)
    expected = {e.name for e in table}
    ignored = _ignored(shapes, expected)
    stray = sorted(n for n in shapes if n not in ignored and n not in expected)
    if stray:
        raise InputError(
            f"checkpoint {prefix}: {len(stray)} variable(s) not in the OD API {config.name} layout: "
            f"{_names(stray)}"
        )
    missing = [e.name for e in table if e.name not in shapes]
    if missing:
        raise InputError(
            f"checkpoint {prefix}: missing {len(missing)} variable(s) of the OD API {config.name} layout: "
            f"{_names(missing)}"
        )
    wrong = [f"{e.name} {shapes[e.name]} (OD API {e.shape})" for e in table if shapes[e.name] != e.shape]
    if wrong:
        raise InputError(f"checkpoint {prefix}: wrong shape for {config.name}: {_names(wrong)}")
    return table, ignored


def _ignored(shapes: dict[str, tuple[int, ...]], expected: set[str]) -> dict[str, str]:
    """Checkpoint variables outside the table that are known not to be weights."""
    out = {}
    for name in shapes:
        if name in expected:
            continue
        if name.endswith(EMA_SUFFIX) and name.removesuffix(EMA_SUFFIX) in expected:
            out[name] = (
                "moving-average shadow (the plain variable is loaded; the seed configs train without it)"
            )
            continue
        reasons = [reason for pattern, reason in IGNORED if pattern.search(name)]
        if reasons:
            out[name] = reasons[0]
    return out


def _names(names: list[str]) -> str:
    more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
    return ", ".join(names[:_MAX_NAMED]) + more


def _zoo_weights(model: keras.Model) -> dict[tuple[str, str], tf.Variable]:
    """(layer name, weight name) -> variable, e.g. ("mnv2_block0_conv", "kernel")."""
    return {
        (layer.name, w.name.split("/")[-1].split(":")[0]): w for layer in model.layers for w in layer.weights
    }


def _check(table: list[Entry], weights: dict, variant: str) -> bool:
    """Every check of the model against the table, before anything is assigned.

    Returns:
        Whether the class head's final convolutions have the checkpoint's 91 slots per box (else only
        their class count differs and the rows are chosen by :func:`class_sources`).
    """
    absent = [f"{e.layer}.{e.weight}" for e in table if (e.layer, e.weight) not in weights]
    if absent:
        raise InputError(f"model {variant}: no layer weight for {_names(absent)}; build it with bench.models")
    filled = {(e.layer, e.weight) for e in table}
    unfilled = sorted(f"{layer}.{weight}" for layer, weight in weights if (layer, weight) not in filled)
    if unfilled:
        raise InputError(f"model {variant}: weights the OD API layout does not fill: {_names(unfilled)}")
    mismatched = [e for e in table if tuple(weights[(e.layer, e.weight)].shape) != e.shape]
    class_only = all(is_class_conv(e) and same_boxes(e, weights) for e in mismatched)
    if mismatched and not class_only:
        names = [
            f"{e.name} {e.shape} -> {e.layer}.{e.weight} {tuple(weights[(e.layer, e.weight)].shape)}"
            for e in mismatched
        ]
        raise InputError(f"model {variant} cannot hold the checkpoint: {_names(names)}")
    return not mismatched


def import_od_api_checkpoint(
    model: keras.Model, config: ModelConfig, path: str | Path, *, class_names: tuple[str, ...] | None = None
) -> ImportReport:
    """Load an OD API model-zoo checkpoint into ``model`` (a zoo model built from ``config``).

    Every checkpoint variable is either loaded or listed as ignored (optimizer slots, step counter,
    moving-average shadows of loaded variables); any other variable, a missing one or a shape that
    differs stops the import with an :class:`InputError` naming it, before anything is assigned.

    The class head: with ``class_names`` (the model's classes in order, e.g. a dataset's categories)
    each class takes the checkpoint's channels of the COCO id of the same name (90-id label map), the
    background slot the checkpoint's background; classes without a namesake keep their fresh prior
    init, and when no name is found the whole final class convolution stays fresh. Without names the
    head is loaded when the model has the checkpoint's 91 slots. The depthwise part of an SSDLite class
    head is always loaded (it is not class-specific).

    Args:
        model: A Keras model built by :func:`bench.models.build_model` for ``config``.
        config: Its config (width multiplier 1.0, a seed backbone; for the TF2 zoo checkpoint the
            layout :func:`config_for_checkpoint` returns).
        path: A checkpoint prefix, ``.index`` file or model-zoo folder.
        class_names: The model's class names (``num_classes`` of them), or None.

    Returns:
        What was loaded, what was ignored, the class labels and the anchor comparison.

    Raises:
        InputError: Unreadable or mismatching checkpoint, or a variant no OD API checkpoint fits.
    """
    if class_names is not None and len(class_names) != config.num_classes:
        raise InputError(
            f"model {config.name}: {len(class_names)} class names for {config.num_classes} classes"
        )
    prefix_path = resolve_checkpoint(path, "checkpoint")
    prefix = str(prefix_path)
    table, ignored = _checked_table(config, prefix, _read_shapes(prefix))
    weights = _zoo_weights(model)
    same_count = _check(table, weights, config.name)
    sources = class_sources(class_names, config.num_class_slots, same_count)
    to_load = [e for e in table if sources is not None or not is_class_conv(e)]
    reader = tf.train.load_checkpoint(prefix)
    values = {e.name: np.asarray(reader.get_tensor(e.name)) for e in to_load}
    for entry in to_load:
        if is_class_conv(entry):
            fresh = weights[(entry.layer, entry.weight)].numpy()
            values[entry.name] = select_rows(values[entry.name], fresh, sources)
    for entry in to_load:  # every check passed: assign
        weights[(entry.layer, entry.weight)].assign(values[entry.name])
    pipeline = pipeline_config(prefix_path)
    od_api = read_pipeline_anchors(pipeline) if pipeline else sample_anchors(config)
    anchors = anchor_differences(config, od_api)
    return _report(prefix, config, to_load, ignored, ClassHead(sources, class_names), anchors)


def _report(prefix, config, loaded: list[Entry], ignored, head: ClassHead, anchors) -> ImportReport:
    by_part: dict[str, int] = {}
    for entry in loaded:
        by_part[entry.part] = by_part.get(entry.part, 0) + 1
    note, labels, fresh = class_note(head, config.num_class_slots)
    return ImportReport(
        checkpoint=prefix,
        variant=config.name,
        loaded=len(loaded),
        loaded_by_part=by_part,
        ignored=ignored,
        class_head_loaded=head.sources is not None,
        class_head_note=note,
        labels=labels,
        fresh_classes=fresh,
        anchor_differences=tuple(anchors),
    )
