"""``edgebench evaluate``: the twelve COCO box metrics of a detections file or an exported model.

    edgebench evaluate --annotations GT.json --detections DT.json [--json] [--max-images N]
    edgebench evaluate --annotations GT.json [--images DIR] --model FILE.tflite [--labelmap FILE] [--json]
    edgebench evaluate --annotations GT.json --model INT8.tflite --reference FP32.tflite [--resamples N]

``--labelmap`` maps the model's class indices to the dataset's categories by name: a ``labelmap.txt``, an
OD API ``.pbtxt``, or a ``.tflite`` whose metadata holds a label file (``--labelmap model.tflite``: the
model's own MediaPipe metadata). It prints which model classes have no category in the data (ignored)
and which categories the model cannot predict (see :mod:`bench.evaluation.labelmap`).

``--reference`` also runs a second model (e.g. the fp32 file the compressed one was made from) on the same
images and reports the share of its mAP the model keeps, with a 90% paired bootstrap interval over the
images (:mod:`bench.evaluation.share`): whether "98.5% of fp32" clears a 98% budget, or is within what
another draw of images would give. The label map applies to both models.

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
from bench.evaluation.metrics import METRIC_KEYS, METRIC_LABELS, CocoMetrics, ground_truth
from bench.evaluation.runner import (
    Unsupported,
    artifact_detector,
    detect,
    evaluate_artifact,
    evaluate_detections_file,
    evaluate_results,
    write_results,
)
from bench.evaluation.share import RESAMPLES, ShareInterval, map_share
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
    parser.add_argument(
        "--reference",
        metavar="FILE",
        help="a second model run on the same images (e.g. the fp32 file): the share of its mAP the model "
        "keeps, with a paired bootstrap interval over the images",
    )
    parser.add_argument(
        "--resamples", type=int, default=RESAMPLES, metavar="N", help=f"bootstrap resamples ({RESAMPLES})"
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Evaluate and print; bad input raises InputError (exit code 2 through the CLI)."""
    if args.max_images is not None and args.max_images < 1:
        raise InputError(f"--max-images: expected a positive integer; got {args.max_images}")
    if args.resamples < 1:
        raise InputError(f"--resamples: expected a positive integer; got {args.resamples}")
    share: ShareInterval | None = None
    if args.detections is not None:
        for flag in ("images", "threads", "save_detections", "labelmap", "reference"):
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
        if args.reference is None:
            result = evaluate_artifact(
                args.model,
                dataset,
                max_images=args.max_images,
                num_threads=args.threads,
                detections_out=args.save_detections,
                labelmap=mapping,
            )
        else:
            result, share = _against_reference(args, dataset, mapping)
    if args.json:
        payload = result.to_dict()
        if share is not None:
            payload["reference"] = {"model": args.reference, **share.to_dict()}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(format_result(result))
        if share is not None:
            sys.stdout.write(f"share: {share.describe()}\n")
    return 0


def _against_reference(args, dataset, mapping) -> tuple[CocoMetrics | Unsupported, ShareInterval | None]:
    """The model's metrics and its share of the reference's mAP, both run on the same images."""
    models = [
        artifact_detector(path, num_threads=args.threads, labelmap=mapping)
        for path in (args.model, args.reference)
    ]
    for detector in models:
        if isinstance(detector, Unsupported):
            return detector, None
    found, base = (detect(detector, dataset, max_images=args.max_images) for detector in models)
    if args.save_detections:
        write_results(found.results, args.save_detections)
    gt = ground_truth(dataset.annotations_path)  # read once, for the metrics and for the share
    metrics = evaluate_results(
        dataset, found.results, image_ids=found.image_ids, inference_s=found.inference_s, gt=gt
    )
    return metrics, map_share(gt, base.results, found.results, found.image_ids, resamples=args.resamples)


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
