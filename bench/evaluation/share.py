"""How much of a reference model's mAP a compressed model keeps, and how sure that figure is.

A share such as "int8 keeps 98.5% of fp32" measured on a few hundred images moves by a point or more with
the images drawn, so a budget of 98% cannot be judged from the figure alone. Both models are scored on
the same images, so the interval is a paired bootstrap over images: each resample draws the images with
replacement and scores both models on that draw, and the share's percentiles over the resamples give the
interval (the same draw for both keeps the images' own difficulty out of the spread).

COCOeval matches detections to ground truth per image and category (``evaluate``), once per model. A
resample then weighs each image by how often it was drawn and re-accumulates the matched detections as
COCOeval's ``accumulate`` does (COCO's mAP settings: IoU 0.50:0.95, every area, 100 detections per image,
101-point interpolated precision), vectorised: a thousand resamples of 200 images, 20,000 detections per
model, took 15 s on this 2-core machine while it ran other jobs. An image drawn twice
counts its detections and boxes twice, as one block in the ranking (COCOeval, given the image twice,
would interleave the copies; the curve's end points are the same).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from bench.evaluation.metrics import detections_of
from common.errors import InputError

RESAMPLES = 1000
LEVEL = 0.90


@dataclass(frozen=True)
class ShareInterval:
    """The mAP share of a model against a reference on the same images, with its bootstrap interval.

    Attributes:
        map: The model's mAP (COCO's: IoU 0.50:0.95, every area, 100 detections).
        reference_map: The reference's mAP on the same images.
        share: ``map / reference_map``.
        low: Lower end of the interval of the share.
        high: Upper end.
        level: The interval's coverage, e.g. 0.9 (the 5th to 95th percentile of the resamples).
        resamples: Paired bootstrap resamples of the images.
        num_images: Images both models were scored on.
    """

    map: float
    reference_map: float
    share: float
    low: float
    high: float
    level: float
    resamples: int
    num_images: int

    def to_dict(self) -> dict[str, float | int]:
        """Plain values, for ``--json``."""
        return asdict(self)

    def describe(self) -> str:
        """``98.5% of the reference's mAP (90% interval over images 96.1-100.8%, 1000 resamples)``."""
        return (
            f"{100 * self.share:.1f}% of the reference's mAP {self.reference_map:.4f} "
            f"({100 * self.level:.0f}% interval over images {100 * self.low:.1f}-{100 * self.high:.1f}%, "
            f"{self.resamples} paired resamples of {self.num_images} images)"
        )


@dataclass(frozen=True)
class _Category:
    """One category's matched detections over the images, ranked by score as ``accumulate`` ranks them."""

    image: np.ndarray  # [N] position of each detection's image
    true_positive: np.ndarray  # [T, N] matched and not ignored, per IoU threshold
    false_positive: np.ndarray  # [T, N] unmatched and not ignored
    boxes: np.ndarray  # [I] ground-truth boxes per image that count (not ignored)


def _matched(gt: COCO, results: list[dict], image_ids: list[int]) -> tuple[list[_Category], np.ndarray]:
    """COCOeval's per-image matches at mAP's settings, per category; and the recall thresholds."""
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, detections_of(gt, results), iouType="bbox")
        evaluator.params.imgIds = list(image_ids)
        evaluator.params.areaRng = [evaluator.params.areaRng[0]]  # "all"
        evaluator.params.areaRngLbl = ["all"]
        evaluator.params.maxDets = [100]
        evaluator.evaluate()
    images, thresholds = len(image_ids), len(evaluator.params.iouThrs)
    # evaluate() sorts the image ids; a draw's weights follow the caller's order.
    position = {image_id: index for index, image_id in enumerate(image_ids)}
    positions = [position[image_id] for image_id in evaluator.params.imgIds]
    categories = []
    for k in range(len(evaluator.params.catIds)):
        # evalImgs is category-major, then area (one here), then image; None where an image has neither.
        block = evaluator.evalImgs[k * images : (k + 1) * images]
        per_image = [(positions[j], e) for j, e in enumerate(block) if e is not None]
        boxes = np.zeros(images)
        for i, e in per_image:
            boxes[i] = np.count_nonzero(np.logical_not(e["gtIgnore"]))
        if per_image:
            scores = np.concatenate([e["dtScores"] for _, e in per_image])
            image = np.concatenate([np.full(len(e["dtScores"]), i) for i, e in per_image]).astype(np.int64)
            matches = np.concatenate([e["dtMatches"] for _, e in per_image], axis=1).astype(bool)
            ignored = np.concatenate([e["dtIgnore"] for _, e in per_image], axis=1).astype(bool)
        else:
            scores, image = np.zeros(0), np.zeros(0, np.int64)
            matches = ignored = np.zeros((thresholds, 0), bool)
        order = np.argsort(-scores, kind="mergesort")  # accumulate's ranking
        counted = np.logical_not(ignored[:, order])
        categories.append(
            _Category(image[order], matches[:, order] & counted, ~matches[:, order] & counted, boxes)
        )
    return categories, np.asarray(evaluator.params.recThrs)


def _map_of(matched: tuple[list[_Category], np.ndarray], weights: np.ndarray) -> float:
    """mAP with each image weighed by ``weights`` (a resample's draw counts; all ones: COCOeval's mAP).

    COCOeval's ``accumulate``, each category's IoU thresholds at once: the weighted running sums of true
    and false positives, precision's envelope from the right, and the precision at the first detection
    reaching each recall point. The thresholds' recall rows (each ascending, in [0, 1]) are searched as one
    ascending sequence by adding 2 x the row's number to each.
    """
    categories, recall_thresholds = matched
    total, rows = 0.0, 0
    for category in categories:
        boxes = float(weights @ category.boxes)
        if boxes == 0:
            continue  # no ground truth drawn: COCOeval's -1, left out of the mean
        thresholds, count = category.true_positive.shape
        rows += thresholds
        if count == 0:
            continue  # no detections: precision 0 at every recall point
        weight = weights[category.image]
        true_positives = np.cumsum(category.true_positive * weight, axis=1)
        false_positives = np.cumsum(category.false_positive * weight, axis=1)
        precision = true_positives / np.maximum(true_positives + false_positives, np.spacing(1))
        envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1].ravel()  # as accumulate
        offsets = 2.0 * np.arange(thresholds)[:, None]
        at = np.searchsorted(
            (true_positives / boxes + offsets).ravel(), recall_thresholds + offsets, side="left"
        )
        found = at < count * np.arange(1, thresholds + 1)[:, None]  # inside its own row
        total += float(envelope[np.minimum(at, envelope.size - 1)][found].sum())
    return total / (rows * len(recall_thresholds)) if rows else 0.0


class PairedBootstrap:
    """A reference model scored on the resamples of its images, once, for comparing several models with it
    (a variant's fp32 file against each of its compressed files): each comparison then scores only the
    compared model on the same draws."""

    def __init__(
        self,
        gt: COCO,
        reference_results: list[dict],
        image_ids: list[int],
        *,
        resamples: int = RESAMPLES,
        level: float = LEVEL,
        seed: int = 0,
    ) -> None:
        """Draw the resamples and score the reference on each.

        Args:
            gt: The ground truth.
            reference_results: COCO results entries of the reference model (e.g. the fp32 file).
            image_ids: The images the models were run on.
            resamples: Bootstrap resamples (1000: the interval's ends move by about 0.1 point between
                seeds).
            level: Coverage of the interval.
            seed: The resampling's seed (the same seed, the same draws and interval).

        Raises:
            InputError: no images, an image twice, or a reference without a single correct detection
                (no share to take).
        """
        if not image_ids:
            raise InputError("no images to compare the models on")
        if len(set(image_ids)) != len(image_ids):
            raise InputError("the images to compare the models on must be distinct; got an image id twice")
        if not isinstance(resamples, int) or resamples < 1:
            raise InputError(f"resamples: got {resamples!r}; allowed: an integer >= 1")
        self.gt, self.image_ids, self.level = gt, list(image_ids), level
        reference = _matched(gt, reference_results, self.image_ids)
        self.reference_map = _map_of(reference, np.ones(len(self.image_ids)))
        if self.reference_map <= 0:
            raise InputError("the reference model's mAP is 0 on these images: there is no share to take")
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(self.image_ids), (resamples, len(self.image_ids)))
        # A draw's weights: how often each image was drawn (float32 halves the arrays; counts stay exact).
        self.weights = [np.bincount(d, minlength=len(self.image_ids)).astype(np.float32) for d in draws]
        self.reference_maps = np.array([_map_of(reference, w) for w in self.weights])

    def share(self, results: list[dict]) -> ShareInterval:
        """The share of the reference's mAP that ``results`` (on the same images) keep, with its interval."""
        compared = _matched(self.gt, results, self.image_ids)
        model_map = _map_of(compared, np.ones(len(self.image_ids)))
        maps = np.array([_map_of(compared, w) for w in self.weights])
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(self.reference_maps > 0, maps / self.reference_maps, np.nan)
        tail = 100 * (1 - self.level) / 2
        low, high = np.nanpercentile(shares, [tail, 100 - tail])
        return ShareInterval(
            map=model_map,
            reference_map=self.reference_map,
            share=model_map / self.reference_map,
            low=float(low),
            high=float(high),
            level=self.level,
            resamples=len(self.weights),
            num_images=len(self.image_ids),
        )


def map_share(
    gt: COCO,
    reference_results: list[dict],
    results: list[dict],
    image_ids: list[int],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> ShareInterval:
    """The share of the reference's mAP that ``results`` keep, with a paired bootstrap interval (one
    comparison; :class:`PairedBootstrap` for several against one reference).

    Raises:
        InputError: see :class:`PairedBootstrap`.
    """
    bootstrap = PairedBootstrap(gt, reference_results, image_ids, resamples=resamples, level=level, seed=seed)
    return bootstrap.share(results)
