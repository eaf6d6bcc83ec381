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

from bench.data.coco_labels import class_slot_names
from bench.models.config import ModelConfig
from bench.models.pretrained.od_api_pipeline import (
    anchor_differences,
    read_pipeline_anchors,
    sample_anchors,
)
from bench.models.pretrained.od_api_table import CLASS_HEAD, OD_API_CLASS_SLOTS, Entry, checkpoint_table
from bench.models.pretrained.od_api_tf2_table import SUFFIX, TF2_LAYOUT, tf2_checkpoint_table
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
    anchor_differences: tuple[str, ...]  # where the model's anchors/input differ from the checkpoint's

    def summary(self) -> str:
        """One line for the console."""
        head = "class head loaded" if self.class_head_loaded else "class head left at its fresh init"
        anchors = "; ".join(self.anchor_differences) or "anchors match the checkpoint's pipeline"
        return (
            f"{self.variant}: {self.loaded} tensors from {self.checkpoint} "
            f"({len(self.ignored)} ignored), {head}; {anchors}"
        )


def resolve_checkpoint(path: str | Path) -> tuple[str, Path | None]:
    """The checkpoint prefix of ``path`` and the ``pipeline.config`` beside it, if any.

    Args:
        path: A checkpoint prefix (``.../model.ckpt``), or a model-zoo folder holding ``model.ckpt*``
            (TF1 zoo), ``checkpoint/ckpt-0*`` (TF2 zoo) or ``fp32/model.ckpt-N*`` (the MobileDet
            tarballs, whose ``uint8/`` quantization-aware checkpoint is not a float model).

    Raises:
        InputError: No checkpoint there.
    """
    path = Path(path)
    if path.is_dir():
        prefix = _find_prefix(path)
    elif Path(f"{path}.index").is_file():
        prefix = path
    else:
        raise InputError(f"checkpoint: {path} is neither a checkpoint prefix (no {path}.index) nor a folder")
    configs = (prefix.parent / "pipeline.config", prefix.parent.parent / "pipeline.config")
    pipeline = [p for p in configs if p.is_file()]
    return str(prefix), (pipeline[0] if pipeline else None)


def _find_prefix(folder: Path) -> Path:
    """The checkpoint of a model-zoo folder: the fixed names first, then the latest step of any."""
    for fixed in (folder / "model.ckpt", folder / "checkpoint" / "ckpt-0"):
        if Path(f"{fixed}.index").is_file():
            return fixed
    for sub in (folder, folder / "fp32", folder / "checkpoint"):
        latest = tf.train.latest_checkpoint(str(sub)) if sub.is_dir() else None
        if latest and Path(f"{latest}.index").is_file():
            return Path(latest)
        prefixes = [Path(str(p).removesuffix(".index")) for p in sub.glob("*.index")]
        if prefixes:  # the highest step: model.ckpt-400000 after model.ckpt-0
            return max(
                prefixes, key=lambda p: int(m.group(1)) if (m := re.search(r"-(\d+)$", p.name)) else -1
            )
    raise InputError(f"checkpoint: {folder} holds no model.ckpt*.index, fp32/ or checkpoint/ckpt-0.index")


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
    """``config`` adjusted to the layout of the checkpoint at ``path``; build the model from this.

    A TF1 zoo checkpoint fits the seed variants as registered. The TF2 zoo's ssd_mobilenet_v2_320x320
    has regular 3x3 extra layers, a 1x1 box predictor and a 300x300 input (:data:`TF2_LAYOUT`).

    Raises:
        InputError: No checkpoint at ``path``.
    """
    prefix, _ = resolve_checkpoint(path)
    return config.replace(**TF2_LAYOUT) if _object_based(_read_shapes(prefix)) else config


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


def _check(
    table: list[Entry], shapes: dict, weights: dict, prefix: str, variant: str
) -> tuple[list[Entry], bool]:
    """Every check, before anything is assigned.

    Returns:
        The entries to load and whether the class head is among them.
    """
    missing = [e.name for e in table if e.name not in shapes]
    if missing:
        raise InputError(
            f"checkpoint {prefix}: missing {len(missing)} variable(s) of the OD API {variant} layout: "
            f"{_names(missing)}"
        )
    wrong = [f"{e.name} {shapes[e.name]} (OD API {e.shape})" for e in table if shapes[e.name] != e.shape]
    if wrong:
        raise InputError(f"checkpoint {prefix}: wrong shape for {variant}: {_names(wrong)}")
    absent = [f"{e.layer}.{e.weight}" for e in table if (e.layer, e.weight) not in weights]
    if absent:
        raise InputError(f"model {variant}: no layer weight for {_names(absent)}; build it with bench.models")
    filled = {(e.layer, e.weight) for e in table}
    unfilled = sorted(f"{layer}.{weight}" for layer, weight in weights if (layer, weight) not in filled)
    if unfilled:
        raise InputError(f"model {variant}: weights the OD API layout does not fill: {_names(unfilled)}")
    mismatched = [e for e in table if tuple(weights[(e.layer, e.weight)].shape) != e.shape]
    class_only = all(e.part == CLASS_HEAD and e.weight in ("kernel", "bias") for e in mismatched)
    if mismatched and not class_only:
        names = [
            f"{e.name} {e.shape} -> {e.layer}.{e.weight} {tuple(weights[(e.layer, e.weight)].shape)}"
            for e in mismatched
        ]
        raise InputError(f"model {variant} cannot hold the checkpoint: {_names(names)}")
    skipped = {e.name for e in mismatched}
    return [e for e in table if e.name not in skipped], not mismatched


def import_od_api_checkpoint(model: keras.Model, config: ModelConfig, path: str | Path) -> ImportReport:
    """Load an OD API model-zoo checkpoint into ``model`` (a zoo model built from ``config``).

    Every checkpoint variable is either loaded or listed as ignored (optimizer slots, step counter,
    moving-average shadows of loaded variables); any other variable, a missing one or a shape that
    differs stops the import with an :class:`InputError` naming it, before anything is assigned. When
    the model's class slots differ from the checkpoint's 91, the final class convolutions keep their
    fresh initialisation (the depthwise part of an SSDLite class head is still loaded).

    Args:
        model: A Keras model built by :func:`bench.models.build_model` for ``config``.
        config: Its config (width multiplier 1.0, a seed backbone; for the TF2 zoo checkpoint the
            layout :func:`config_for_checkpoint` returns).
        path: A checkpoint prefix or a model-zoo folder.

    Returns:
        What was loaded, what was ignored, the class labels and the anchor comparison.

    Raises:
        InputError: Unreadable or mismatching checkpoint, or a variant no OD API checkpoint fits.
    """
    prefix, pipeline = resolve_checkpoint(path)
    shapes = _read_shapes(prefix)
    table = tf2_checkpoint_table(config) if _object_based(shapes) else checkpoint_table(config)
    ignored = _ignored(shapes, {e.name for e in table})
    stray = sorted(n for n in shapes if n not in ignored and n not in {e.name for e in table})
    if stray:
        raise InputError(
            f"checkpoint {prefix}: {len(stray)} variable(s) not in the OD API {config.name} layout: "
            f"{_names(stray)}"
        )
    weights = _zoo_weights(model)
    to_load, class_head = _check(table, shapes, weights, prefix, config.name)
    reader = tf.train.load_checkpoint(prefix)
    values = {e.name: np.asarray(reader.get_tensor(e.name)) for e in to_load}
    for entry in to_load:  # every check passed: assign
        weights[(entry.layer, entry.weight)].assign(values[entry.name])
    od_api = read_pipeline_anchors(pipeline) if pipeline else sample_anchors(config)
    return _report(prefix, config, to_load, ignored, class_head, anchor_differences(config, od_api))


def _report(prefix, config, loaded: list[Entry], ignored, class_head: bool, anchors) -> ImportReport:
    by_part: dict[str, int] = {}
    for entry in loaded:
        by_part[entry.part] = by_part.get(entry.part, 0) + 1
    note = (
        f"loaded: {OD_API_CLASS_SLOTS} slots, background + COCO ids 1..90"
        if class_head
        else f"fresh init: the checkpoint has {OD_API_CLASS_SLOTS} class slots, "
        f"the model {config.num_class_slots}"
    )
    return ImportReport(
        checkpoint=prefix,
        variant=config.name,
        loaded=len(loaded),
        loaded_by_part=by_part,
        ignored=ignored,
        class_head_loaded=class_head,
        class_head_note=note,
        labels=class_slot_names() if class_head else (),
        anchor_differences=tuple(anchors),
    )
