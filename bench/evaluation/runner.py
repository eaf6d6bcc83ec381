"""Evaluate a detector, an exported artifact or a detections file on a COCO-format split.

Inference time (inside the detector only, image decoding excluded) and COCOeval time are measured
separately. Detections are converted to COCO results format (category ids mapped back from class
indices, boxes in absolute x, y, width, height pixels) and can be written out for later re-scoring.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools.coco import COCO

from bench.data.coco import CocoDataset, ImageRecord, load_coco
from bench.evaluation.detectors import CoreMLDetector, Detector, coreml_support
from bench.evaluation.labelmap import LabelMapping, MappedDetector
from bench.evaluation.metrics import CocoMetrics, ground_truth, load_results, metrics_from_stats, run_cocoeval
from bench.evaluation.tflite import TFLiteDetector
from common.errors import InputError, choice_error

ARTIFACT_SUFFIXES = (".tflite", ".mlpackage", ".mlmodel")
# COCO's results rule: at most 100 detections per image. COCOeval's maxDets caps each (image, class)
# pair instead, so without this a detector writing several classes per box would be scored on more.
MAX_DETECTIONS_PER_IMAGE = 100


@dataclass(frozen=True)
class Unsupported:
    """An evaluation that cannot run here, with the reason (e.g. Core ML off macOS).

    Attributes:
        reason: One line saying why.
    """

    reason: str

    def to_dict(self) -> dict[str, str]:
        """``{"status": "unsupported", "reason": ...}``."""
        return {"status": "unsupported", "reason": self.reason}


def to_coco_results(
    record: ImageRecord,
    detections: Sequence[np.ndarray],
    category_ids: Sequence[int],
    limit: int | None = None,
) -> list[dict]:
    """One image's detections in COCO results format.

    Args:
        record: The image (its size turns normalised boxes into pixels).
        detections: (boxes [N, 4] normalised ymin, xmin, ymax, xmax; classes [N] 0-based; scores [N]).
        category_ids: COCO category id of each class index (``CocoDataset.category_ids``).
        limit: Keep only this many, the best-scoring (ties in the detector's order).

    Returns:
        ``[{"image_id", "category_id", "bbox": [x, y, w, h] pixels, "score"}, ...]``.

    Raises:
        InputError: The detector's outputs do not fit the dataset (shapes, class indices).
    """
    boxes, classes, scores = (np.asarray(a) for a in detections)
    boxes = boxes.reshape(-1, 4).astype(np.float64)
    classes, scores = classes.reshape(-1).astype(np.int64), scores.reshape(-1).astype(np.float64)
    if not len(boxes) == len(classes) == len(scores):
        raise InputError(
            f"detector output for image {record.image_id}: boxes, classes and scores must have the same "
            f"length; got {len(boxes)}, {len(classes)}, {len(scores)}"
        )
    bad = (classes < 0) | (classes >= len(category_ids))
    if bad.any():
        raise InputError(
            f"detector output for image {record.image_id}: class index {int(classes[bad][0])} outside "
            f"0..{len(category_ids) - 1} (the dataset has {len(category_ids)} classes): model and data differ"
        )
    if limit is not None and len(scores) > limit:
        keep = np.argsort(-scores, kind="stable")[:limit]
        boxes, classes, scores = boxes[keep], classes[keep], scores[keep]
    boxes = np.clip(boxes, 0.0, 1.0) * [record.height, record.width, record.height, record.width]
    sizes = np.maximum(boxes[:, 2:] - boxes[:, :2], 0.0)
    return [
        {
            "image_id": record.image_id,
            "category_id": int(category_ids[c]),
            "bbox": [float(b[1]), float(b[0]), float(s[1]), float(s[0])],
            "score": float(score),
        }
        for b, s, c, score in zip(boxes, sizes, classes, scores, strict=True)
    ]


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 [H, W, 3] RGB."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read image: {exc}") from exc


@dataclass(frozen=True)
class Detections:
    """A detector's output on a split, in COCO results form.

    Attributes:
        results: COCO results entries (category ids, absolute x, y, w, h boxes, scores).
        image_ids: The images run, in the split's order.
        inference_s: Seconds spent inside the detector.
    """

    results: list[dict]
    image_ids: list[int]
    inference_s: float


def detect(detector: Detector, dataset: CocoDataset, *, max_images: int | None = None) -> Detections:
    """Run ``detector`` on every image of the split (or the first ``max_images``)."""
    records = _first(dataset.records, max_images)
    results, inference_s = [], 0.0
    for record in records:
        image = read_image(record.path)
        start = time.perf_counter()
        detections = detector(image)
        inference_s += time.perf_counter() - start
        results += to_coco_results(record, detections, dataset.category_ids, MAX_DETECTIONS_PER_IMAGE)
    return Detections(results, [r.image_id for r in records], inference_s)


def evaluate_detector(
    detector: Detector,
    dataset: CocoDataset,
    *,
    max_images: int | None = None,
    detections_out: str | Path | None = None,
) -> CocoMetrics:
    """Run ``detector`` on every image (or the first ``max_images``) and score it with COCOeval.

    Args:
        detector: Any callable image -> (boxes, classes, scores) (see :mod:`bench.evaluation.detectors`).
        dataset: The split to evaluate on (loaded with its image files).
        max_images: Evaluate only the first N images of the split.
        detections_out: Also write the detections as a COCO results JSON here (atomically).

    Returns:
        The twelve COCO metrics with inference and COCOeval times.
    """
    found = detect(detector, dataset, max_images=max_images)
    if detections_out is not None:
        write_results(found.results, detections_out)
    return evaluate_results(dataset, found.results, image_ids=found.image_ids, inference_s=found.inference_s)


def evaluate_results(
    dataset: CocoDataset,
    results: list[dict],
    *,
    image_ids: Iterable[int] | None = None,
    inference_s: float | None = None,
    gt: COCO | None = None,
) -> CocoMetrics:
    """Score COCO results entries (e.g. from :func:`to_coco_results`) against the split's ground truth.

    Args:
        dataset: The split (its instances JSON is the ground truth).
        results: COCO results entries.
        image_ids: Score only these images (default: all).
        inference_s: Detector time to report alongside.
        gt: The ground truth already loaded with :func:`~bench.evaluation.metrics.ground_truth`.
    """
    gt = gt if gt is not None else ground_truth(dataset.annotations_path)
    ids = list(image_ids) if image_ids is not None else [r.image_id for r in dataset.records]
    stats, cocoeval_s = run_cocoeval(gt, results, ids)
    return metrics_from_stats(
        stats,
        dataset_id=dataset.dataset_id,
        num_images=len(ids),
        inference_s=inference_s,
        cocoeval_s=cocoeval_s,
    )


def evaluate_detections_file(
    annotations: str | Path, detections: str | Path, *, max_images: int | None = None
) -> CocoMetrics:
    """Score a COCO results JSON made elsewhere against an instances JSON (image files not needed)."""
    dataset = load_coco(annotations, check_files=False)
    gt = ground_truth(dataset.annotations_path)
    results = load_results(detections, gt)
    ids = [r.image_id for r in _first(dataset.records, max_images)]
    if max_images is not None:
        wanted = set(ids)
        results = [r for r in results if r["image_id"] in wanted]
    return evaluate_results(dataset, results, image_ids=ids, gt=gt)


def artifact_detector(
    path: str | Path, *, num_threads: int | None = None, labelmap: LabelMapping | None = None
) -> Detector | Unsupported:
    """The detector of an exported model file: ``.tflite`` through LiteRT, ``.mlpackage`` / ``.mlmodel``
    through Core ML (macOS only; elsewhere an :class:`Unsupported` with the reason).

    Args:
        path: The artifact.
        num_threads: LiteRT interpreter threads (default: every core).
        labelmap: Maps the model's class indices to the dataset's (default: the same order).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ARTIFACT_SUFFIXES:
        raise choice_error(f"model file {path} suffix", suffix or "(none)", ARTIFACT_SUFFIXES)
    if suffix == ".tflite":
        detector: Detector = TFLiteDetector(path, num_threads=num_threads or os.cpu_count())
    else:
        support = coreml_support()
        if not support.ok:
            return Unsupported(support.reason)
        detector = CoreMLDetector(path)
    return detector if labelmap is None else MappedDetector(detector, labelmap)


def evaluate_artifact(
    path: str | Path,
    dataset: CocoDataset,
    *,
    max_images: int | None = None,
    num_threads: int | None = None,
    detections_out: str | Path | None = None,
    labelmap: LabelMapping | None = None,
) -> CocoMetrics | Unsupported:
    """Evaluate an exported model file (see :func:`artifact_detector`).

    Args:
        path: The artifact.
        dataset: The split to evaluate on.
        max_images: Evaluate only the first N images.
        num_threads: LiteRT interpreter threads (default: every core).
        detections_out: Also write the detections as a COCO results JSON here.
        labelmap: Maps the model's class indices to the dataset's (default: the same order).
    """
    detector = artifact_detector(path, num_threads=num_threads, labelmap=labelmap)
    if isinstance(detector, Unsupported):
        return detector
    return evaluate_detector(detector, dataset, max_images=max_images, detections_out=detections_out)


def write_results(results: list[dict], path: str | Path) -> Path:
    """Write COCO results JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(results))
    os.replace(tmp, path)
    return path


def _first(records: Sequence[ImageRecord], max_images: int | None) -> Sequence[ImageRecord]:
    if max_images is None:
        return records
    if max_images < 1:
        raise InputError(f"--max-images: expected a positive integer; got {max_images}")
    return records[:max_images]
