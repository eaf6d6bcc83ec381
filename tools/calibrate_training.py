"""Calibrate training: train a variant on the synthetic set and print mAP / AR@100 against training time.

    python -m tools.calibrate_training --variant ssdlite_mobilenet_v2 --steps 1000 --eval-every 250 \\
        --out /tmp/calib/v2 [--input-size 256] [--width 0.5] [--batch-size 32] [--lr 5e-3] [--minutes M]
        [--train-images 2000] [--val-images 500] [--image-size 256] [--eval-images 500]
        [--eval-with keras|tflite] [--jsonl FILE]
        [--classes-per-box 8] [--csv FILE] [--grad-norms] [--threads 2]
        [--bn-epsilon E] [--depthwise-init fan_in_all|per_channel]   (ablations of the backbone's ConvStyle)

At every evaluation point the newest checkpoint is loaded into a second model and scored on the val split;
the last point always exports the fp32 TFLite file (the zoo's export signature, custom ops allowed) and
scores it with ``evaluate_artifact``, the number the issue's targets are stated for. Evaluation time is
not counted as training time (the trainer pauses its clock during its ``on_step`` hook).

Every point also records what the machine was doing, because the two cores are shared: the 1-minute load
average, this process's CPU seconds, and an idle-machine estimate of the training time, ``cpu_seconds / 2``
(the step uses both cores when it has them). ``s_per_step`` is the training wall time per step since the
previous point.

``--grad-norms`` adds, at every point, the L2 norm of the loss gradient (detection loss + L2 terms, one
fixed training batch, BN in training mode) over each block group of the model: ``stem``, each backbone
stage by output stride (``s4`` ... ``s32``), ``extras``, ``head_box``, ``head_class``; and each group's
weight norm. ``--bn-epsilon`` / ``--depthwise-init`` rebuild the variant's backbone with another
BatchNormalization epsilon or depthwise initialisation (the learning-curve ablations of docs/mobiledet.md).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from bench.data.augment_config import AugmentConfig
from bench.data.coco import load_coco
from bench.data.synthetic import SynthConfig, synthetic_cached
from bench.evaluation import evaluate_artifact, evaluate_detector
from bench.models.export import DetectionExport
from bench.models.losses import detection_loss
from bench.models.registry import build_model, get_config
from bench.training import FLIP_ONLY, TrainConfig, keras_detector, load_trained, train
from bench.training.checkpoints import CHECKPOINT_PREFIX
from bench.training.config import DEFAULT_MATCH_IOU
from bench.training.steps import input_stream
from common.detection import PostprocessSettings


def export_tflite_fp32(model, model_config, path: Path) -> Path:
    """Convert the export signature (ending in TFLite_Detection_PostProcess) to an fp32 .tflite file."""
    export = DetectionExport(model, model_config)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([export.concrete_function()], export)
    converter.allow_custom_ops = True
    data = converter.convert()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Evaluator:
    """The ``on_step`` hook: at every ``every`` steps, score the checkpoint just written."""

    def __init__(self, args, model_config, val, out: Path) -> None:
        self.args, self.model_config, self.val, self.out = args, model_config, val, out
        self.model = build_model(model_config)
        self.checkpoint = tf.train.Checkpoint(model=self.model)
        # Clocks start after the first step (model building and tracing excluded); evaluation is paused.
        self.cpu_start = self.wall_start = 0.0
        self.eval_cpu = self.eval_wall = 0.0
        self.points: list[dict] = []
        self.last_step, self.last_train_s = 0, 0.0
        self.grad_batch = None
        if args.grad_norms:
            augment = FLIP_ONLY if args.augment == "flip" else AugmentConfig()
            match_iou = args.match_iou or None
            stream = input_stream(model_config, args.train_split, args.batch_size, 12345, augment, match_iou)
            self.grad_batch = next(iter(stream))
            self.groups = block_groups(self.model, model_config.input_size)

    def __call__(self, step: int, losses: dict[str, float]) -> None:
        if step == 1:
            self.cpu_start, self.wall_start = _cpu_seconds(), time.perf_counter()
        last = step == self.args.steps
        if step % self.args.eval_every and not last:
            return
        self.restore(step)
        self.point(step, losses["loss"], tflite=last or self.args.eval_with == "tflite")

    def restore(self, step: int) -> None:
        """Load checkpoint ``step`` into the evaluation model; fail loudly if any model weight is missing."""
        status = self.checkpoint.restore(str(self.out / f"{CHECKPOINT_PREFIX}-{step}"))
        status.expect_partial().assert_existing_objects_matched()

    def point(self, step: int, loss: float, tflite: bool) -> dict:
        cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
        cpu = cpu_before - self.cpu_start - self.eval_cpu
        row = {
            "step": step,
            "loss": round(loss, 4),
            "train_s": round(wall_before - self.wall_start - self.eval_wall, 1),
            "cpu_s": round(cpu, 1),
            "idle_est_s": round(cpu / 2, 1),
            "load1": round(os.getloadavg()[0], 2),
        }
        done = step - self.last_step
        row["s_per_step"] = round((row["train_s"] - self.last_train_s) / done, 4) if done else None
        self.last_step, self.last_train_s = step, row["train_s"]
        if tflite:
            path = export_tflite_fp32(self.model, self.model_config, self.out / f"fp32-{step}.tflite")
            metrics = evaluate_artifact(path, self.val, max_images=self.args.eval_images)
            row["evaluated"] = "tflite"
        else:
            detector = keras_detector(self.model, self.model_config)
            metrics = evaluate_detector(detector, self.val, max_images=self.args.eval_images)
            row["evaluated"] = "keras"
        row.update(map=round(metrics.map, 4), ar100=round(metrics.ar100, 4), map50=round(metrics.map50, 4))
        if self.grad_batch is not None:  # after the evaluation: training-mode BN moves the moving stats
            row.update(gradient_norms(self.model, self.model_config, self.grad_batch, self.groups))
        row["eval_s"] = round(time.perf_counter() - wall_before, 1)
        self.eval_cpu += _cpu_seconds() - cpu_before
        self.eval_wall += time.perf_counter() - wall_before
        self.points.append(row)
        print(json.dumps(row), flush=True)
        if self.args.jsonl:
            with open(self.args.jsonl, "a") as handle:
                handle.write(json.dumps({**vars_summary(self.args), **row}) + "\n")
        if self.args.csv:
            write_csv(self.args.csv, [{**vars_summary(self.args), **p} for p in self.points])
        return row


_BLOCK = re.compile(r"_block(\d+)_")


def block_groups(model: keras.Model, input_size: int) -> dict[str, str]:
    """Variable name -> block group: ``stem`` (backbone block 0), ``s<stride>`` (the other backbone blocks,
    by the stride of their output), ``extras``, ``head_box``, ``head_class``.

    A block's stride is read from the smallest spatial output (> 1) among its layers (its squeeze-excite
    pools are 1 x 1). Layers outside these (none in the zoo) are grouped as ``other``.
    """
    sizes: dict[str, int] = {}
    for layer in model.layers:
        match = _BLOCK.search(layer.name)
        shape = getattr(layer, "output_shape", None)
        if match is None or not isinstance(shape, tuple) or len(shape) != 4 or shape[1] in (None, 1):
            continue
        key = layer.name[: match.end()]
        sizes[key] = min(sizes.get(key, shape[1]), shape[1])
    groups = {}
    for layer in model.layers:
        match = _BLOCK.search(layer.name)
        if layer.name.startswith("extra"):
            group = "extras"
        elif layer.name.startswith("head") and "_box" in layer.name:
            group = "head_box"
        elif layer.name.startswith("head") and "_class" in layer.name:
            group = "head_class"
        elif match is not None and match.group(1) == "0":
            group = "stem"
        elif match is not None and layer.name[: match.end()] in sizes:
            group = f"s{input_size // sizes[layer.name[: match.end()]]}"
        else:
            group = "other"
        for variable in layer.trainable_weights:
            groups[variable.name] = group
    return groups


def gradient_norms(model: keras.Model, model_config, batch, groups: dict[str, str]) -> dict[str, float]:
    """``gn_<group>`` (gradient L2 norm) and ``wn_<group>`` (weight L2 norm) per block group, one batch."""
    images, box_targets, class_targets = batch
    with tf.GradientTape() as tape:
        boxes, logits = model(images, training=True)
        total = detection_loss(box_targets, class_targets, boxes, logits, model_config.loss)["loss"]
        if model.losses:
            total = total + tf.add_n(model.losses)
    variables = model.trainable_variables
    gradients = tape.gradient(total, variables)
    grad_sq: dict[str, float] = {}
    weight_sq: dict[str, float] = {}
    for variable, gradient in zip(variables, gradients, strict=True):
        group = groups.get(variable.name, "other")
        grad_sq[group] = grad_sq.get(group, 0.0) + (
            0.0 if gradient is None else float(tf.reduce_sum(tf.square(gradient)))
        )
        weight_sq[group] = weight_sq.get(group, 0.0) + float(tf.reduce_sum(tf.square(variable)))
    out = {f"gn_{g}": round(v**0.5, 5) for g, v in sorted(grad_sq.items())}
    out |= {f"wn_{g}": round(v**0.5, 3) for g, v in sorted(weight_sq.items())}
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    """All points of this run as one CSV (columns: the union of the rows' keys, in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def override_backbone_style(model_config, bn_epsilon: float | None, depthwise_init: str | None) -> None:
    """Rebuild the variant's backbone with another BN epsilon / depthwise init (ablations; this process only).

    The backbone modules read their module-level ``STYLE`` when a model is built, so replacing it here
    changes every model this process builds afterwards.
    """
    if bn_epsilon is None and depthwise_init is None:
        return
    import importlib

    module = importlib.import_module(f"bench.models.backbones.{_backbone_module(model_config.backbone)}")
    changes = {"bn_epsilon": bn_epsilon, "depthwise_init": depthwise_init}
    module.STYLE = dataclasses.replace(module.STYLE, **{k: v for k, v in changes.items() if v is not None})


def _backbone_module(backbone: str) -> str:
    for prefix in ("mobiledet", "mobilenet_v2", "mobilenet_v3"):
        if backbone.startswith(prefix):
            return prefix
    raise ValueError(f"no backbone module for {backbone!r}")


def evaluate_recipes(args, model_config, train_split, val, weights_path: Path) -> list[dict]:
    """Convert the trained model with each of ``--recipes`` (QAT / pruning fine-tuned by bench's loop) and
    score every artifact on the val split; the fine-tuning time (wall and CPU) is reported per recipe."""
    from bench.pipeline.inputs import conversion_inputs
    from bench.plans import ExportSection, FinetuneSection
    from converters import convert
    from converters.recipes import parse_recipe_list

    finetune = FinetuneSection(lr=args.finetune_lr, batch_size=args.finetune_batch)
    export = ExportSection(calibration_samples=32, max_classes_per_detection=args.classes_per_box)
    inputs = conversion_inputs(
        model_config,
        load_trained(model_config, weights_path),
        train_split,
        export,
        finetune,
        model_config.name,
    )
    tune = inputs.finetune
    spent: dict[str, float] = {}

    def timed(model, steps, **options):  # options: the recipe's own lr (the pruned recipes)
        wall, cpu = time.perf_counter(), _cpu_seconds()
        model = tune(model, steps, **options)
        spent.update(finetune_wall_s=time.perf_counter() - wall, finetune_cpu_s=_cpu_seconds() - cpu)
        return model

    inputs = dataclasses.replace(inputs, finetune=timed)  # the pipeline's loop, timed
    rows = []
    for recipe in parse_recipe_list(args.recipes):
        if recipe.finetune_steps and args.finetune_steps:
            recipe = recipe.with_overrides(finetune_steps=args.finetune_steps)
        spent.clear()
        start = time.perf_counter()
        artifact = convert(inputs, recipe, args.out / "artifacts", tflite_metadata=False)
        seconds = time.perf_counter() - start
        metrics = evaluate_artifact(artifact.path, val, max_images=args.eval_images)
        row = {"recipe": recipe.name, "finetune_steps": recipe.finetune_steps, "convert_s": round(seconds, 1)}
        row |= {k: round(v, 1) for k, v in spent.items()}
        row |= {
            "map": round(metrics.map, 4),
            "ar100": round(metrics.ar100, 4),
            "load1": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def vars_summary(args) -> dict:
    """The settings of this calibration run, for the JSONL rows."""
    keys = (
        "variant",
        "input_size",
        "width",
        "batch_size",
        "lr",
        "steps",
        "train_images",
        "warmup",
        "match_iou",
        "augment",
        "bn_epsilon",
        "depthwise_init",
    )
    return {k: getattr(args, k) for k in keys}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--minutes", type=float, default=None, help="safety cap; the cosine follows --steps, not the clock"
    )
    parser.add_argument("--match-iou", type=float, default=DEFAULT_MATCH_IOU, help="0: the variant's own")
    parser.add_argument(
        "--augment", choices=("flip", "ssd"), default="flip", help="flip only or SSD's full set"
    )
    parser.add_argument(
        "--classes-per-box",
        type=int,
        default=8,
        help="max_classes_per_detection of the export (quick plan: 8)",
    )
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--val-images", type=int, default=500, help="synthetic val split size")
    parser.add_argument("--image-size", type=int, default=256, help="synthetic image side")
    parser.add_argument("--eval-images", type=int, default=500)
    parser.add_argument("--eval-with", choices=("keras", "tflite"), default="tflite")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/edgebench-data"))
    parser.add_argument("--jsonl", type=Path, default=None)
    parser.add_argument("--csv", type=Path, default=None, help="write every point of this run as CSV")
    parser.add_argument("--grad-norms", action="store_true", help="gradient norm per block group per point")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads")
    parser.add_argument("--bn-epsilon", type=float, default=None, help="ablation: the backbone's BN epsilon")
    parser.add_argument(
        "--depthwise-init",
        choices=("fan_in_all", "per_channel"),
        default=None,
        help="ablation: the backbone's depthwise He fan-in (k*k*C or k*k)",
    )
    parser.add_argument("--recipes", default=None, help="after training: convert and score these recipes")
    parser.add_argument("--finetune-steps", type=int, default=None, help="override the qat / pruned steps")
    parser.add_argument("--finetune-lr", type=float, default=5e-4)
    parser.add_argument("--finetune-batch", type=int, default=16)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError as error:  # TensorFlow already ran something in this process (tests)
            print(f"--threads ignored: {error}", file=sys.stderr)
    synth = SynthConfig(train=args.train_images, val=args.val_images, size=args.image_size)
    root = synthetic_cached(args.cache, synth)
    train_split, val = load_coco(root / "train"), load_coco(root / "val")
    model_config = get_config(
        args.variant,
        input_size=args.input_size,
        width_multiplier=args.width,
        num_classes=train_split.num_classes,
    )
    model_config = model_config.with_postprocess(
        PostprocessSettings(max_classes_per_detection=args.classes_per_box)
    )
    override_backbone_style(model_config, args.bn_epsilon, args.depthwise_init)
    args.train_split = train_split
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        peak_lr=args.lr,
        warmup_steps=args.warmup,
        max_minutes=args.minutes,
        checkpoint_every=args.eval_every,
        match_iou=args.match_iou or None,
        augment=FLIP_ONLY if args.augment == "flip" else AugmentConfig(),
    )
    print(f"load average at start: {os.getloadavg()}", flush=True)
    evaluator = Evaluator(args, model_config, val, args.out)
    result = train(
        model_config, train_split, config, args.out, progress=sys.stderr.isatty(), on_step=evaluator
    )
    if not evaluator.points or evaluator.points[-1]["step"] != result.steps or result.stopped_by == "time":
        evaluator.restore(result.steps)
        evaluator.point(result.steps, result.final_loss, tflite=True)
    print(json.dumps({"result": result.to_dict() | {"loss_history": None}}, default=str), flush=True)
    if args.recipes:
        evaluate_recipes(args, model_config, train_split, val, result.weights_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
