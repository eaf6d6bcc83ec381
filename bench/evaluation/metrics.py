"""COCO box metrics through pycocotools: ground truth, results files, and the twelve numbers.

pycocotools is the reference: the numbers here are COCOeval's ``stats``, untouched (including its -1 for
"no ground truth in this size range"). What this module adds is strict input checking with one-line
errors, silencing COCOeval's prints (so ``--json`` output stays parseable), and timing.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from bench.data.coco import read_json, resolve_annotations
from bench.data.coco_checks import check_document, raise_problems
from common.errors import InputError

# COCOeval.stats order (pycocotools' summarize()); the names are the keys of CocoMetrics.to_dict().
METRIC_KEYS = (
    "map",
    "map50",
    "map75",
    "map_small",
    "map_medium",
    "map_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
)
METRIC_LABELS = dict(
    zip(
        METRIC_KEYS,
        ("mAP", "mAP50", "mAP75", "mAP small", "mAP medium", "mAP large")
        + ("AR@1", "AR@10", "AR@100", "AR small", "AR medium", "AR large"),
        strict=True,
    )
)


@dataclass(frozen=True)
class CocoMetrics:
    """The twelve COCO box metrics of one evaluation, in [0, 1] (-1: no ground truth of that size).

    Attributes:
        map ... ar_large: COCOeval.stats, in :data:`METRIC_KEYS` order.
        dataset_id: Names the exact ground truth (``CocoDataset.dataset_id``).
        num_images: Images evaluated.
        inference_s: Seconds spent inside the detector (None for detections made elsewhere).
        cocoeval_s: Seconds spent in COCOeval (loading results, evaluate, accumulate, summarize).
    """

    map: float
    map50: float
    map75: float
    map_small: float
    map_medium: float
    map_large: float
    ar1: float
    ar10: float
    ar100: float
    ar_small: float
    ar_medium: float
    ar_large: float
    dataset_id: str
    num_images: int
    inference_s: float | None
    cocoeval_s: float

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Plain dict with the metric keys plus dataset_id, num_images, inference_s, cocoeval_s."""
        return asdict(self)

    def to_accuracy_info(self):
        """The record's accuracy block (``results.schema.AccuracyInfo``), timings left out."""
        from results.schema import AccuracyInfo  # lazy: pydantic is not needed to print metrics

        fields = self.to_dict()
        del fields["inference_s"], fields["cocoeval_s"]
        return AccuracyInfo(**fields)


def ground_truth(annotations: str | Path) -> COCO:
    """Load an instances JSON as a pycocotools COCO object, after the strict structural checks.

    COCOeval needs ``area`` and ``iscrowd`` on every ground-truth box; COCO-format files made by other
    tools sometimes omit them, so they default to the box area and 0 (what COCO means by them).
    """
    path = resolve_annotations(annotations)
    document = read_json(path)
    raise_problems(path, check_document(document))
    for ann in document["annotations"]:
        ann.setdefault("area", float(ann["bbox"][2] * ann["bbox"][3]))
        ann.setdefault("iscrowd", 0)
    coco = COCO()
    coco.dataset = document
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def load_results(path: str | Path, gt: COCO) -> list[dict]:
    """Read and check a COCO results file (a JSON list of image_id, category_id, bbox, score)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: detections file not found (expected a COCO results JSON list)")
    results = read_json(path)
    if not isinstance(results, list):
        raise InputError(f"{path}: expected a JSON list of detections; got {type(results).__name__}")
    raise_problems(path, check_results(results, gt))
    return results


def check_results(results: list, gt: COCO) -> list[str]:
    """Problems in COCO results entries: keys, types, unknown image or category ids."""
    problems = []
    for i, det in enumerate(results):
        where = f"detections[{i}]"
        if not isinstance(det, dict):
            problems.append(f"{where}: expected an object; got {type(det).__name__}")
            continue
        missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in det]
        if missing:
            problems.append(f"{where}: missing key {', '.join(map(repr, missing))}")
        elif not _known(det["image_id"], gt.imgs):
            problems.append(f"{where}: unknown image id {det['image_id']!r} (not in the ground truth)")
        elif not _known(det["category_id"], gt.cats):
            known = ", ".join(map(str, sorted(gt.cats)))
            problems.append(f"{where}: unknown category id {det['category_id']!r}; known ids: {known}")
        elif not _is_box(det["bbox"]) or not _is_number(det["score"]):
            problems.append(f"{where}: expected bbox [x, y, w, h] and a numeric score; got {det!r}")
    return problems


def _known(value: object, table: dict) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in table


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_box(value: object) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)


def run_cocoeval(
    gt: COCO, results: list[dict], image_ids: list[int] | None = None
) -> tuple[np.ndarray, float]:
    """Run COCOeval (bbox) quietly.

    Args:
        gt: The ground truth.
        results: COCO results entries (not modified).
        image_ids: Evaluate only these images (default: all images of the ground truth).

    Returns:
        COCOeval.stats (12 floats) and the seconds it took.
    """
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, detections_of(gt, results), iouType="bbox")
        if image_ids is not None:
            evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats, np.float64), time.perf_counter() - start


def detections_of(gt: COCO, results: list[dict]) -> COCO:
    """COCO results entries as pycocotools' results object (entries not modified), quietly."""
    with contextlib.redirect_stdout(io.StringIO()):
        # loadRes writes ids, areas and polygons into the entries it gets: hand it copies.
        return gt.loadRes([dict(r) for r in results]) if results else _empty_results(gt)


def _empty_results(gt: COCO) -> COCO:
    """A results object with no detections (pycocotools' loadRes cannot take an empty list)."""
    dt = COCO()
    dt.dataset = {
        "images": list(gt.dataset["images"]),
        "categories": copy.deepcopy(gt.dataset["categories"]),
        "annotations": [],
    }
    dt.createIndex()
    return dt


def metrics_from_stats(
    stats: np.ndarray, *, dataset_id: str, num_images: int, inference_s: float | None, cocoeval_s: float
) -> CocoMetrics:
    """Wrap COCOeval.stats into :class:`CocoMetrics`."""
    values = {key: float(v) for key, v in zip(METRIC_KEYS, stats, strict=True)}
    return CocoMetrics(
        **values, dataset_id=dataset_id, num_images=num_images, inference_s=inference_s, cocoeval_s=cocoeval_s
    )
