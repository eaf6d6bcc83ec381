"""Accuracy evaluation: the twelve COCO box metrics of a detector, an exported artifact or a results file.

The public API, for the trainer and the pipeline::

    evaluate_detector(detector, dataset, *, max_images=None, detections_out=None) -> CocoMetrics
    evaluate_artifact(path, dataset, *, max_images=None, num_threads=None, detections_out=None)
        -> CocoMetrics | Unsupported
    evaluate_detections_file(annotations, detections, *, max_images=None) -> CocoMetrics
    evaluate_results(dataset, results, *, image_ids=None, inference_s=None, gt=None) -> CocoMetrics
    to_coco_results(record, (boxes, classes, scores), category_ids) -> list[dict]

A detector is any callable ``uint8 [H, W, 3] RGB -> (boxes [N, 4] normalised ymin, xmin, ymax, xmax,
0-based classes [N], scores [N])``; :class:`TFLiteDetector` and :class:`CoreMLDetector` are two.
TensorFlow is never imported here: a ``.tflite`` file is evaluated with LiteRT alone.
"""

from bench.evaluation.detectors import (
    CoreMLDetector,
    Detections,
    Detector,
    Support,
    coreml_support,
)
from bench.evaluation.metrics import METRIC_KEYS, METRIC_LABELS, CocoMetrics
from bench.evaluation.runner import (
    Unsupported,
    evaluate_artifact,
    evaluate_detections_file,
    evaluate_detector,
    evaluate_results,
    to_coco_results,
    write_results,
)
from bench.evaluation.tflite import TFLiteDetector

__all__ = [
    "METRIC_KEYS",
    "METRIC_LABELS",
    "CocoMetrics",
    "CoreMLDetector",
    "Detections",
    "Detector",
    "Support",
    "TFLiteDetector",
    "Unsupported",
    "coreml_support",
    "evaluate_artifact",
    "evaluate_detections_file",
    "evaluate_detector",
    "evaluate_results",
    "to_coco_results",
    "write_results",
]
