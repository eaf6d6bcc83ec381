"""How much of a QAT file's share is quantization-aware training, and how much is training? The float control.

A QAT fine-tune that moves the weights (the quick plan gives MobileDet-CPU's 100 steps at 1e-3) also goes on
training an under-trained model, so its share of the fp32 file's mAP mixes two effects. This script
fine-tunes the variant's trained float weights exactly as its QAT recipe does (the plan's steps, learning
rate, batch and seed, through the same loop), without fake quantization, exports that model with
``tflite_fp32``, and prints on the plan's validation images:

* the control's share of the fp32 file's mAP (what the fine-tune alone buys), and
* the QAT file's share of the control's mAP (what int8 costs once the weights trained with it).

It reads a finished ``make benchmark`` work folder (the newest training weights, fp32 and QAT files of the
variant there) and writes the control to ``WORK/qat_control/``:

    python -m perf.qat_control [--workdir work] [--plan quick] [--variant ssdlite_mobiledet_cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def newest(pattern: str, root: Path) -> Path:
    """The newest file under ``root`` matching ``pattern`` (earlier runs may have left others)."""
    found = sorted(root.glob(pattern), key=lambda path: path.stat().st_mtime)
    if not found:
        sys.exit(f"no {pattern} under {root}: run `make benchmark` (or pass --workdir) first")
    return found[-1]


def main(argv: list[str] | None = None) -> int:
    """Build the control, evaluate the three files on the same images, print the two shares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("work"))
    parser.add_argument("--plan", default="quick")
    parser.add_argument("--variant", default="ssdlite_mobiledet_cpu")
    parser.add_argument("--resamples", type=int, default=300)
    args = parser.parse_args(argv)

    from bench.data.coco import load_coco
    from bench.evaluation.runner import artifact_detector, detect, ground_truth
    from bench.evaluation.share import map_share
    from bench.pipeline.inputs import conversion_inputs
    from bench.pipeline.jobs import select
    from bench.pipeline.stages import variant_config
    from bench.plans import load_plan
    from bench.training.detector import load_trained
    from converters import convert

    plan = load_plan(args.plan)
    works = [work for work in select(plan, args.variant) if work.spec.name == args.variant]
    if not works:
        sys.exit(f"plan {args.plan} has no variant {args.variant}")
    work = works[0]
    qat = next(recipe for recipe in work.recipes if recipe.name == "tflite_int8_qat")
    steps, lr = qat.finetune_steps, qat.finetune_lr or plan.finetune.lr
    label = work.label.replace("@", "-")

    train = load_coco(newest("data/*/train/instances.json", args.workdir))
    val_annotations = newest("data/*/val/instances.json", args.workdir)
    val = load_coco(val_annotations, val_annotations.parent / "images")
    weights = newest(f"train/{label}-*/final.weights.h5", args.workdir)
    fp32 = newest(f"export/{label}.tflite_fp32-*/*.tflite", args.workdir)
    quantized = newest(f"export/{label}.tflite_int8_qat-*/*.tflite", args.workdir)
    print(f"weights {weights}\nfp32 {fp32}\nqat {quantized}\nfine-tune: {steps} steps at {lr}", flush=True)

    config = variant_config(plan, work.spec, train.num_classes)  # as the pipeline's train stage built it
    threads = plan.train_config(work.spec).threads
    model = load_trained(config, weights)
    inputs = conversion_inputs(
        config, model, train, plan.export, plan.finetune, f"{label}.control", threads=threads
    )
    inputs.finetune(model, steps, lr)  # in place: `inputs` converts the fine-tuned weights
    control = convert(inputs, "tflite_fp32", args.workdir / "qat_control", tflite_metadata=False).path

    runs = {
        name: detect(artifact_detector(path), val, max_images=plan.evaluation.max_images)
        for name, path in (("fp32", fp32), ("control", control), ("qat", quantized))
    }
    gt = ground_truth(val.annotations_path)
    ids = runs["fp32"].image_ids
    for model_name, reference in (("control", "fp32"), ("qat", "fp32"), ("qat", "control")):
        share = map_share(
            gt, runs[reference].results, runs[model_name].results, ids, resamples=args.resamples
        )
        print(f"{model_name} of {reference}: {share.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
