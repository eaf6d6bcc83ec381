"""``edgebench train``: train or fine-tune a zoo variant on the synthetic set or a COCO-format dataset.

    edgebench train --variant V --data synthetic|PATH --out DIR [--steps N] [--minutes M] [--batch-size B]
                    [--input-size N] [--width W] [--lr LR] [--seed S] [--threads T] [--evaluate]
                    [--no-progress] [--json]
                    [--init scratch|imagenet|imagenet:FILE.h5|checkpoint:PATH] [--freeze-backbone-steps N]

``--init`` starts the weights at step 0 (a resumed run keeps its own): ``imagenet`` takes Keras
Applications' ImageNet backbone (downloaded by Keras; ``imagenet:FILE.h5`` reads a local copy),
``checkpoint:PATH`` a TF Object Detection API model-zoo checkpoint (its class head keeps the rows of the
dataset's categories found by name in the COCO label map; the others start at the prior init).
``--freeze-backbone-steps N`` trains only the extras and heads first.
``--steps 0`` with an ``--init`` writes the initial weights as they are (with ``--evaluate``: the score of
a published checkpoint on your val split).

``--data synthetic`` generates (once, cached under ``$EDGEBENCH_CACHE`` or ``~/.cache/edgebench``) the
built-in synthetic shapes set; a PATH is a dataset root holding ``train/`` (and ``val/``) split folders,
a split folder, or an instances JSON. Re-running the same command resumes from the newest checkpoint in
``--out``. Without ``--steps`` the variant's quick-plan steps apply. ``--minutes`` is a safety cap only: the
schedule follows the steps, and a run the cap stops says ``stopped_by: time`` (its weights then depend on
the machine's speed; the same steps and seed otherwise give the same weights).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from bench.data.coco import INSTANCES_FILE, CocoDataset, load_coco
from bench.data.synthetic import SynthConfig, synthetic_cached
from bench.training.init_spec import check_applies, parse_init
from common.errors import InputError, choice_error

SYNTHETIC = "synthetic"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a detector variant (from scratch, ImageNet or an OD API checkpoint; resumable)",
        description="Train a zoo variant with Adam, warmup + cosine learning rate and checkpoints; "
        "re-running the same command resumes from the newest checkpoint in --out.",
    )
    parser.add_argument("--variant", required=True, metavar="V", help="zoo variant (edgebench models)")
    parser.add_argument(
        "--data", required=True, metavar="synthetic|PATH", help="'synthetic' or a COCO dataset"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="work folder: checkpoints, final weights")
    parser.add_argument("--steps", type=int, metavar="N", help="optimizer steps (default: the quick plan's)")
    parser.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help="safety cap on training minutes (the schedule follows the steps)",
    )
    parser.add_argument("--batch-size", type=int, metavar="B", help="images per step (default 32)")
    parser.add_argument("--input-size", type=int, metavar="N", help="square input side (default: calibrated)")
    parser.add_argument("--width", type=float, metavar="W", help="width multiplier (default: calibrated)")
    parser.add_argument("--lr", type=float, metavar="LR", help="peak learning rate (default 5e-3)")
    parser.add_argument("--seed", type=int, metavar="S", help="seed (default 0)")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="T",
        help="TensorFlow intra-op threads (default 1): the weights' last bits follow them, so the same "
        "count gives the same weights on any machine",
    )
    parser.add_argument(
        "--init",
        metavar="scratch|imagenet|imagenet:FILE|checkpoint:PATH",
        help="starting weights (default scratch): Keras Applications ImageNet backbone (download or a local "
        ".h5), or a TF OD API model-zoo checkpoint (prefix, .index file or folder)",
    )
    parser.add_argument(
        "--freeze-backbone-steps", type=int, metavar="N", help="first N steps train only extras and heads"
    )
    parser.add_argument("--evaluate", action="store_true", help="score the trained model on the val split")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Validate, train (or resume), print the result; bad input raises InputError (exit code 2)."""
    # TensorFlow-backed imports stay inside run(): every other command starts without TensorFlow.
    from bench.models.registry import get_config
    from bench.training.recommend import recommended

    _check_args(args)
    preset = recommended(args.variant, "quick")
    train_split, val_split = load_splits(args.data)
    model_config = get_config(
        args.variant,
        input_size=args.input_size or preset.input_size,
        width_multiplier=args.width or preset.width_multiplier,
        num_classes=train_split.num_classes,
    )
    config = _train_config(args, preset.train)
    check_applies(config.init, model_config.backbone, model_config.width_multiplier, "--init")
    from bench.models.pretrained.initialize import config_for_init
    from bench.training import train

    # A checkpoint may fix the layout (the TF2 zoo's SSD-MobileNetV2); run.json keeps it for export.
    model_config = config_for_init(model_config, config.init)

    result = train(model_config, train_split, config, Path(args.out), progress=not args.no_progress)
    summary = {
        "variant": model_config.name,
        "input_size": model_config.input_size,
        "width_multiplier": model_config.width_multiplier,
        **result.to_dict(),
    }
    summary.pop("loss_history")
    from bench.training.warm_start import read_init_report

    summary["init"] = read_init_report(args.out).get("lines", [])
    if args.evaluate:
        summary["val"] = _evaluate(model_config, result.weights_path, val_split)
    _print(summary, args.json)
    return 0


def _check_args(args: argparse.Namespace) -> None:
    from bench.models.registry import list_models

    if args.variant not in list_models():
        raise choice_error("--variant", args.variant, list_models())
    pretrained = args.init not in (None, "scratch")
    for flag in ("steps", "batch_size", "input_size", "threads"):
        value = getattr(args, flag)
        if value == 0 and flag == "steps" and pretrained:
            continue  # --steps 0 keeps a pretrained init as it is (with --evaluate: score a checkpoint)
        if value is not None and value < 1:
            raise InputError(f"--{flag.replace('_', '-')}: expected a positive integer; got {value}")
    if args.input_size is not None and args.input_size < 32:
        raise InputError(f"--input-size: expected at least 32; got {args.input_size}")
    if args.freeze_backbone_steps is not None and args.freeze_backbone_steps < 0:
        raise InputError(
            f"--freeze-backbone-steps: expected an integer >= 0; got {args.freeze_backbone_steps}"
        )
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed: expected an integer >= 0; got {args.seed}")
    for flag in ("minutes", "width", "lr"):
        value = getattr(args, flag)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"--{flag}: expected a positive number; got {value}")
    if args.width is not None and args.width > 4:
        raise InputError(f"--width: expected a multiplier in (0, 4]; got {args.width}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a folder")


def _train_config(args: argparse.Namespace, preset):
    """The preset with the flags given on the command line."""
    changes = {"batch_size": args.batch_size, "peak_lr": args.lr, "seed": args.seed, "threads": args.threads}
    changes["freeze_backbone_steps"] = args.freeze_backbone_steps
    changes["init"] = None if args.init is None else parse_init(args.init, "--init")
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.minutes is not None:
        changes["max_minutes"] = args.minutes
    return preset.replace(**changes)


def cache_root() -> Path:
    """Where generated datasets are cached: ``$EDGEBENCH_CACHE`` or ``~/.cache/edgebench``."""
    return Path(os.environ.get("EDGEBENCH_CACHE") or Path.home() / ".cache" / "edgebench")


def load_splits(data: str) -> tuple[CocoDataset, CocoDataset | None]:
    """(train split, val split or None) of ``synthetic`` or a dataset PATH.

    Raises:
        InputError: PATH holds no COCO dataset.
    """
    if data == SYNTHETIC:
        root = synthetic_cached(cache_root() / "datasets", SynthConfig())
    else:
        root = Path(data)
        if not root.exists():
            raise InputError(f"--data: {root} does not exist (expected '{SYNTHETIC}' or a COCO dataset)")
    if (root / "train" / INSTANCES_FILE).is_file():
        val = load_coco(root / "val") if (root / "val" / INSTANCES_FILE).is_file() else None
        return load_coco(root / "train"), val
    return load_coco(root), None


def _evaluate(model_config, weights_path: Path, val: CocoDataset | None) -> dict:
    if val is None:
        raise InputError("--evaluate: the dataset has no val/ split folder to evaluate on")
    from bench.evaluation import evaluate_detector
    from bench.training import keras_detector, load_trained

    metrics = evaluate_detector(keras_detector(load_trained(model_config, weights_path), model_config), val)
    return {"map": metrics.map, "map50": metrics.map50, "ar100": metrics.ar100, "dataset_id": val.dataset_id}


def _print(summary: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
        return
    # The progress display went to stderr; the result goes to stdout, one fact per line.
    for key, value in summary.items():
        for line in value if isinstance(value, list) else [value]:  # the init report: one line per part
            sys.stdout.write(f"{key}: {line}\n")
