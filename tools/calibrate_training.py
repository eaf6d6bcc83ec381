"""Calibrate training: train a variant on the synthetic set and print mAP / AR@100 against training time.

    python -m tools.calibrate_training --variant ssdlite_mobilenet_v2 --steps 1000 --eval-every 250 \\
        --out /tmp/calib/v2 [--input-size 256] [--width 0.5] [--batch-size 32] [--lr 5e-3] [--minutes M]
        [--train-images 2000] [--eval-images 500] [--eval-with keras|tflite] [--jsonl FILE]
        [--classes-per-box 8]

At every evaluation point the newest checkpoint is loaded into a second model and scored on the val split;
the last point always exports the fp32 TFLite file (the zoo's export signature, custom ops allowed) and
scores it with ``evaluate_artifact``, the number the issue's targets are stated for. Evaluation time is
not counted as training time (the trainer pauses its clock during its ``on_step`` hook).

Every point also records what the machine was doing, because the two cores are shared: the 1-minute load
average, this process's CPU seconds, and an idle-machine estimate of the training time, ``cpu_seconds / 2``
(the step uses both cores when it has them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path

import tensorflow as tf

from bench.data.augment_config import AugmentConfig
from bench.data.coco import load_coco
from bench.data.synthetic import SynthConfig, synthetic_cached
from bench.evaluation import evaluate_artifact, evaluate_detector
from bench.models.export import DetectionExport
from bench.models.registry import build_model, get_config
from bench.training import FLIP_ONLY, TrainConfig, keras_detector, load_trained, train
from bench.training.checkpoints import CHECKPOINT_PREFIX
from bench.training.config import DEFAULT_MATCH_IOU
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
        if tflite:
            path = export_tflite_fp32(self.model, self.model_config, self.out / f"fp32-{step}.tflite")
            metrics = evaluate_artifact(path, self.val, max_images=self.args.eval_images)
            row["evaluated"] = "tflite"
        else:
            detector = keras_detector(self.model, self.model_config)
            metrics = evaluate_detector(detector, self.val, max_images=self.args.eval_images)
            row["evaluated"] = "keras"
        row.update(map=round(metrics.map, 4), ar100=round(metrics.ar100, 4), map50=round(metrics.map50, 4))
        row["eval_s"] = round(time.perf_counter() - wall_before, 1)
        self.eval_cpu += _cpu_seconds() - cpu_before
        self.eval_wall += time.perf_counter() - wall_before
        self.points.append(row)
        print(json.dumps(row), flush=True)
        if self.args.jsonl:
            with open(self.args.jsonl, "a") as handle:
                handle.write(json.dumps({**vars_summary(self.args), **row}) + "\n")
        return row


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

    def timed(model, steps):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        model = tune(model, steps)
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
    parser.add_argument("--eval-images", type=int, default=500)
    parser.add_argument("--eval-with", choices=("keras", "tflite"), default="tflite")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/edgebench-data"))
    parser.add_argument("--jsonl", type=Path, default=None)
    parser.add_argument("--recipes", default=None, help="after training: convert and score these recipes")
    parser.add_argument("--finetune-steps", type=int, default=None, help="override the qat / pruned steps")
    parser.add_argument("--finetune-lr", type=float, default=5e-4)
    parser.add_argument("--finetune-batch", type=int, default=16)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    root = synthetic_cached(args.cache, SynthConfig(train=args.train_images, val=500))
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
