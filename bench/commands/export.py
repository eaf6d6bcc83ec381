"""``edgebench export``: a zoo detector through one or more compression recipes into artifacts.

``--checkpoint`` takes the training stage's weights file (``final.weights.h5``; the ``run.json`` beside
it gives the input size, width and classes it was trained with) or ``none`` (freshly initialised,
seeded). The qat and pruned recipes fine-tune by self-distillation from the float model on the
calibration images (``converters.tfmot_wrap.self_distillation_finetune``); the pipeline uses bench's
training loop instead. Calibration images are synthetic renders like the training split, or the
images of ``--calibration-images DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common.errors import InputError

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
    parser.add_argument("--labels", help="comma-separated class names, or a text file with one per line")
    parser.add_argument("--calibration-images", help="folder of training images (default: synthetic)")
    parser.add_argument("--calibration-count", type=int, default=32, help="calibration images (default 32)")
    parser.add_argument("--finetune-steps", type=int, help="override the qat / pruned fine-tuning steps")
    parser.add_argument("--no-metadata", action="store_true", help="skip MediaPipe metadata in TFLite files")


def run(args: argparse.Namespace) -> int:
    """Convert with every requested recipe; exit 1 if any conversion failed."""
    from bench.models.registry import get_config
    from converters import convert
    from converters.recipes import parse_recipe_list
    from converters.tflite import ConversionError

    config = get_config(args.variant).replace(**_trained_shape(args.checkpoint, args.variant))
    recipes = parse_recipe_list(args.recipe)
    if args.calibration_count < 1:
        raise InputError(f"--calibration-count: expected an integer >= 1; got {args.calibration_count}")
    if args.finetune_steps is not None:
        if args.finetune_steps < 1:
            raise InputError(f"--finetune-steps: expected an integer >= 1; got {args.finetune_steps}")
        recipes = [
            r.with_overrides(finetune_steps=args.finetune_steps) if r.finetune_steps else r for r in recipes
        ]
    labels = _labels(args.labels, config.num_classes)
    batches = calibration_batches(args.calibration_images, config.input_size, args.calibration_count)
    from bench.pipeline.inputs import zoo_inputs
    from converters.tfmot_wrap import self_distillation_finetune

    model = load_zoo_model(config, args.checkpoint)
    finetune = self_distillation_finetune(model, batches[:8])
    inputs = zoo_inputs(config, model, labels, batches, finetune, name=config.name)
    failed = 0
    for recipe in recipes:
        try:
            artifact = convert(inputs, recipe, args.out, tflite_metadata=not args.no_metadata)
        except ConversionError as error:
            print(f"{recipe.name}: FAILED: {error}", file=sys.stderr)
            failed += 1
            continue
        error = artifact.sidecar["metadata_error"]
        note = f"  (no metadata: {error})" if error else ""
        sizes = f"{artifact.info.size_bytes} B, gzip {artifact.info.gzip_bytes} B"
        print(f"{recipe.name}: {artifact.path}  {sizes}{note}")
    return 1 if failed else 0


def load_zoo_model(config, checkpoint: str):
    """The variant's float Keras model with ``checkpoint``'s weights, or seeded fresh ones for ``none``."""
    import tf_keras as keras

    from bench.models.registry import build_model
    from bench.training import load_trained

    if checkpoint == "none":
        keras.utils.set_random_seed(_SEED)
        return build_model(config)
    path = Path(checkpoint)
    if not path.name.endswith(".weights.h5"):
        raise InputError(f"--checkpoint: expected a .weights.h5 file or 'none'; got {checkpoint!r}")
    if not path.is_file():
        raise InputError(f"--checkpoint: no such file {checkpoint!r}")
    return load_trained(config, path)


def _trained_shape(checkpoint: str, variant: str) -> dict:
    """Input size, width, classes and layout (a checkpoint init's: extras, head kernel) the checkpoint was
    trained with, from the training run's run.json."""
    run_file = Path(checkpoint).with_name("run.json")
    if checkpoint == "none" or not run_file.is_file():
        return {}
    try:
        model = json.loads(run_file.read_text())["model"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise InputError(f"--checkpoint: cannot read the training run's {run_file}: {error}") from None
    if model.get("name") != variant:
        raise InputError(f"--variant: the checkpoint was trained as {model.get('name')!r}; got {variant!r}")
    return {key: model[key] for key in _TRAINED_FIELDS if key in model}


def _labels(text: str | None, num_classes: int) -> list[str]:
    if text is None:
        return [f"class_{i}" for i in range(num_classes)]
    path = Path(text)
    names = path.read_text().split("\n") if path.is_file() else text.split(",")
    names = [n.strip() for n in names if n.strip()]
    if len(names) != num_classes:
        raise InputError(f"--labels: the variant has {num_classes} classes; got {len(names)} names")
    return names


def calibration_batches(folder: str | None, size: int, count: int) -> list[np.ndarray]:
    """Preprocessed [1, S, S, 3] batches: synthetic training-split renders, or images from a folder."""
    from PIL import Image

    if folder is None:
        from bench.data.synth_draw import render

        images = [render(np.random.default_rng([_SEED, 0, i]), size, 10)[0] for i in range(count)]
    else:
        files = sorted(p for p in Path(folder).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not files:
            raise InputError(f"--calibration-images: no .jpg / .png images in {folder!r}")
        images = [
            np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR))
            for f in files[:count]
        ]
    return [(image[None].astype(np.float32) - 127.5) / 127.5 for image in images]
