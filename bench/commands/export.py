"""``edgebench export``: a zoo detector through one or more compression recipes into artifacts.

    edgebench export --variant V --checkpoint C|none --recipe R[,R...] --out DIR [--data synthetic|PATH]
                     [--calibration-count N] [--finetune-steps N] [--finetune-lr LR] [--finetune-batch-size B]
                     [--score-threshold S] [--iou-threshold T] [--max-detections N]
                     [--max-classes-per-detection K] [--no-metadata]

``--checkpoint`` takes the training stage's weights file (``final.weights.h5``; the ``run.json`` beside
it gives the input size and width it was trained with) or ``none`` (freshly initialised, seeded).
``--data`` is the dataset the model was trained on, as ``edgebench train`` takes it: its training split
gives the labels, the int8 calibration images (with the model's own preprocessing) and the qat / pruned
fine-tuning data. Everything goes through the pipeline's hand-over
(:func:`bench.pipeline.inputs.conversion_inputs`) and bench's training loop, so the same settings give
the same bytes as ``edgebench benchmark``; the flags' defaults are the plan's defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from common.errors import InputError, choice_error

_SEED = 0
# What run.json records that shapes the model (the layout fields are set by a checkpoint init).
_TRAINED_FIELDS = ("input_size", "width_multiplier", "num_classes", "depthwise_extras", "head_kernel")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``export``."""
    from converters.recipes import recipe_names

    parser = subparsers.add_parser("export", help="compress a zoo detector into TFLite / Core ML artifacts")
    parser.add_argument("--variant", required=True, help="zoo variant, e.g. ssdlite_mobilenet_v2")
    parser.add_argument("--checkpoint", required=True, help="Keras weights file (.weights.h5) or 'none'")
    parser.add_argument("--recipe", required=True, help="comma-separated: " + ", ".join(recipe_names()))
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--data", default="synthetic", metavar="synthetic|PATH", help="training data (default: synthetic)"
    )
    parser.add_argument("--calibration-count", type=int, help="int8 calibration images (default 64)")
    parser.add_argument("--finetune-steps", type=int, help="override the qat / pruned fine-tuning steps")
    parser.add_argument(
        "--finetune-lr",
        type=float,
        help="qat / pruned peak learning rate (default: 5e-4 for qat, the recipe's own for pruned)",
    )
    parser.add_argument("--finetune-batch-size", type=int, help="qat / pruned images per step (default 32)")
    parser.add_argument("--score-threshold", type=float, help="keep detections scoring >= this (1e-8)")
    parser.add_argument("--iou-threshold", type=float, help="NMS IoU threshold (default 0.6)")
    parser.add_argument("--max-detections", type=int, help="boxes kept per image (default 100)")
    parser.add_argument("--max-classes-per-detection", type=int, help="TFLite entries per box (default 1)")
    parser.add_argument("--no-metadata", action="store_true", help="skip MediaPipe metadata in TFLite files")


def run(args: argparse.Namespace) -> int:
    """Convert with every requested recipe; exit 1 if any conversion failed."""
    from bench.commands.train import load_splits
    from bench.models.registry import get_config, list_models
    from bench.pipeline.inputs import conversion_inputs
    from converters import convert
    from converters.recipes import parse_recipe_list
    from converters.tflite import ConversionError

    if args.variant not in list_models():
        raise choice_error("--variant", args.variant, list_models())
    recipes = parse_recipe_list(args.recipe)
    export, finetune = plan_sections(args)
    if args.finetune_steps is not None:
        recipes = [
            r.with_overrides(finetune_steps=args.finetune_steps) if r.finetune_steps else r for r in recipes
        ]
    if args.finetune_lr is not None:  # also the pruned recipes' own learning rate
        recipes = [r.with_overrides(finetune_lr=args.finetune_lr) if r.finetune_lr else r for r in recipes]
    shape = _trained_shape(args.checkpoint, args.variant)
    train, _ = load_splits(args.data)
    if shape.get("num_classes", train.num_classes) != train.num_classes:
        raise InputError(
            f"--data: the checkpoint was trained on {shape['num_classes']} classes; "
            f"the data has {train.num_classes}"
        )
    sized = {key: shape.pop(key) for key in ("input_size", "width_multiplier") if key in shape}
    layout = {key: value for key, value in shape.items() if key != "num_classes"}  # a checkpoint init's
    config = get_config(args.variant, **sized, num_classes=train.num_classes).replace(**layout)
    model = load_zoo_model(config, args.checkpoint)
    inputs = conversion_inputs(config, model, train, export, finetune, name=config.name)
    failed = 0
    for recipe in recipes:
        try:
            artifact = convert(inputs, recipe, args.out, tflite_metadata=not args.no_metadata)
        except ConversionError as error:
            print(f"{recipe.name}: FAILED: {error}", file=sys.stderr)
            failed += 1
            continue
        error = artifact.sidecar.metadata_error
        note = f"  (no metadata: {error})" if error else ""
        sizes = f"{artifact.info.size_bytes} B, gzip {artifact.info.gzip_bytes} B"
        print(f"{recipe.name}: {artifact.path}  {sizes}{note}")
    return 1 if failed else 0


_EXPORT_FLAGS = {
    "calibration_count": "calibration_samples",
    "score_threshold": "score_threshold",
    "iou_threshold": "iou_threshold",
    "max_detections": "max_detections",
    "max_classes_per_detection": "max_classes_per_detection",
}
_FINETUNE_FLAGS = {"finetune_lr": "lr", "finetune_batch_size": "batch_size", "finetune_steps": "steps"}


def plan_sections(args: argparse.Namespace):
    """The plan's export and finetune sections with the flags given (validated as a plan's are).

    Raises:
        InputError: a flag's value is out of range (naming the flag).
    """
    from bench.plans import ExportSection, FinetuneSection

    sections = []
    for model, flags in ((ExportSection, _EXPORT_FLAGS), (FinetuneSection, _FINETUNE_FLAGS)):
        values = {key: getattr(args, flag) for flag, key in flags.items() if getattr(args, flag) is not None}
        try:
            sections.append(model(**values))
        except ValidationError as error:
            first = error.errors()[0]
            flag = next(f for f, k in flags.items() if k == first["loc"][0])
            got = getattr(args, flag)
            raise InputError(f"--{flag.replace('_', '-')}: {first['msg'].lower()}; got {got}") from None
    return sections[0], sections[1]


def load_zoo_model(config, checkpoint: str):
    """The variant's float Keras model with ``checkpoint``'s weights, or seeded fresh ones for ``none``."""
    import tf_keras as keras

    from bench.models.registry import build_model
    from bench.training import load_trained

    if checkpoint == "none":
        keras.utils.set_random_seed(_SEED)
        return build_model(config)
    _check_checkpoint(checkpoint)
    return load_trained(config, Path(checkpoint))


def _check_checkpoint(checkpoint: str) -> None:
    path = Path(checkpoint)
    if not path.name.endswith(".weights.h5"):
        raise InputError(f"--checkpoint: expected a .weights.h5 file or 'none'; got {checkpoint!r}")
    if not path.is_file():
        raise InputError(f"--checkpoint: no such file {checkpoint!r}")


def _trained_shape(checkpoint: str, variant: str) -> dict:
    """Input size, width, classes and layout (a checkpoint init's: extras, head kernel) the checkpoint was
    trained with, from the training run's run.json."""
    if checkpoint == "none":
        return {}
    _check_checkpoint(checkpoint)
    run_file = Path(checkpoint).with_name("run.json")
    if not run_file.is_file():
        return {}
    try:
        model = json.loads(run_file.read_text())["model"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise InputError(f"--checkpoint: cannot read the training run's {run_file}: {error}") from None
    if model.get("name") != variant:
        raise InputError(f"--variant: the checkpoint was trained as {model.get('name')!r}; got {variant!r}")
    return {key: model[key] for key in _TRAINED_FIELDS if key in model}
