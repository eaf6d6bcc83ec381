"""``edgebench evaluate``: the twelve COCO box metrics of a detections file or an exported model.

    edgebench evaluate --annotations GT.json --detections DT.json [--json] [--max-images N]
    edgebench evaluate --annotations GT.json [--images DIR] --model FILE.tflite [--labelmap FILE] [--json]

``--labelmap`` maps the model's class indices to the dataset's categories by name: a ``labelmap.txt``, an
OD API ``.pbtxt``, or a ``.tflite`` whose metadata holds a label file (``--labelmap model.tflite``: the
model's own MediaPipe metadata). It prints which model classes have no category in the data (ignored)
and which categories the model cannot predict (see :mod:`bench.evaluation.labelmap`).

A table by default, ``--json`` for scripts (the keys of ``CocoMetrics.to_dict()``). A Core ML model off
macOS prints the reason it cannot run (status ``unsupported``) and exits 0, as a timing run would record it.
TensorFlow is never imported: a ``.tflite`` file is run with LiteRT alone.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.data.coco import load_coco
from bench.evaluation.labelmap import load_mapping
from bench.evaluation.metrics import METRIC_KEYS, METRIC_LABELS, CocoMetrics
from bench.evaluation.runner import Unsupported, evaluate_artifact, evaluate_detections_file
from common.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="COCO box metrics (mAP, AR) of a detections file or a .tflite / Core ML model",
        description="Score detections against a COCO instances JSON with pycocotools: either a COCO results "
        "file made elsewhere (--detections) or an exported model run on the images (--model).",
    )
    parser.add_argument("--annotations", required=True, metavar="GT.json", help="COCO instances JSON")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--detections", metavar="DT.json", help="COCO results JSON to score")
    source.add_argument("--model", metavar="FILE", help="exported model (.tflite; .mlpackage needs macOS)")
    parser.add_argument("--images", metavar="DIR", help="image folder (default: images/ beside GT.json)")
    parser.add_argument("--max-images", type=int, metavar="N", help="only the first N images of the split")
    parser.add_argument(
        "--labelmap",
        metavar="FILE",
        help="model class names: labelmap.txt, OD API .pbtxt, or a .tflite with metadata (the model itself)",
    )
    parser.add_argument("--threads", type=int, metavar="N", help="LiteRT threads (default: every core)")
    parser.add_argument("--save-detections", metavar="FILE", help="also write the model's detections here")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Evaluate and print; bad input raises InputError (exit code 2 through the CLI)."""
    if args.max_images is not None and args.max_images < 1:
        raise InputError(f"--max-images: expected a positive integer; got {args.max_images}")
    if args.detections is not None:
        for flag in ("images", "threads", "save_detections", "labelmap"):
            if getattr(args, flag) is not None:
                raise InputError(f"--{flag.replace('_', '-')}: only applies with --model, not --detections")
        result: CocoMetrics | Unsupported = evaluate_detections_file(
            args.annotations, args.detections, max_images=args.max_images
        )
    else:
        if args.threads is not None and args.threads < 1:
            raise InputError(f"--threads: expected a positive integer; got {args.threads}")
        dataset = load_coco(args.annotations, args.images)
        mapping = None
        if args.labelmap is not None:
            mapping = load_mapping(args.labelmap, list(dataset.class_names))
            sys.stderr.write(mapping.describe() + "\n")
        result = evaluate_artifact(
            args.model,
            dataset,
            max_images=args.max_images,
            num_threads=args.threads,
            detections_out=args.save_detections,
            labelmap=mapping,
        )
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(format_result(result))
    return 0


def format_result(result: CocoMetrics | Unsupported) -> str:
    """The human-readable report: one metric per line, then the timings."""
    if isinstance(result, Unsupported):
        return f"unsupported: {result.reason}\n"
    values = result.to_dict()
    lines = [f"dataset {result.dataset_id}, {result.num_images} images", f"{'metric':<12}{'value':>8}"]
    lines += [f"{METRIC_LABELS[key]:<12}{values[key]:>8.4f}" for key in METRIC_KEYS]
    timing = f"COCOeval {result.cocoeval_s:.2f} s"
    if result.inference_s is not None:
        per_image = 1000 * result.inference_s / max(result.num_images, 1)
        timing = f"inference {result.inference_s:.2f} s ({per_image:.2f} ms/image), " + timing
    return "\n".join([*lines, timing]) + "\n"
