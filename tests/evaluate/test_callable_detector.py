"""Any Python callable as a detector (the trainer's Keras path): conversion to COCO results, scoring,
and clear errors when the detector and the dataset disagree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.data.coco import load_coco
from bench.data.synthetic import SynthConfig, generate_synthetic
from bench.evaluation import METRIC_KEYS, evaluate_detector, to_coco_results
from common.errors import InputError


@pytest.fixture(scope="module")
def synth_val(tmp_path_factory):
    root = generate_synthetic(
        tmp_path_factory.mktemp("synth"), SynthConfig(seed=11, train=0, val=12, size=96)
    )
    return load_coco(root / "val")


class Oracle:
    """Returns each image's ground truth in dataset order; optionally degraded, seeded."""

    def __init__(self, dataset, noise: float = 0.0, drop: float = 0.0, seed: int = 0):
        self.records = iter(dataset.records)
        self.noise, self.drop = noise, drop
        self.rng = np.random.default_rng(seed)

    def __call__(self, image):
        record = next(self.records)
        assert image.shape == (record.height, record.width, 3) and image.dtype == np.uint8
        keep = self.rng.random(len(record.classes)) >= self.drop
        boxes = record.boxes[keep] + self.rng.normal(0, self.noise, (int(keep.sum()), 4))
        return boxes, record.classes[keep], self.rng.uniform(0.1, 1.0, int(keep.sum()))


def test_ground_truth_as_detections_scores_one(synth_val):
    metrics = evaluate_detector(Oracle(synth_val), synth_val)
    values = metrics.to_dict()
    assert values["map"] == pytest.approx(1.0) and values["map50"] == 1.0
    assert all(values[k] in (-1.0,) or values[k] > 0.99 for k in ("map_small", "map_medium", "map_large"))
    assert metrics.num_images == 12 and metrics.dataset_id == synth_val.dataset_id
    assert metrics.inference_s >= 0 and metrics.cocoeval_s > 0


def test_degraded_detector_equals_pycocotools_on_its_written_detections(synth_val, tmp_path, reference_stats):
    saved = tmp_path / "out" / "dt.json"
    metrics = evaluate_detector(Oracle(synth_val, noise=0.01, drop=0.2), synth_val, detections_out=saved)
    values = metrics.to_dict()
    assert [values[k] for k in METRIC_KEYS] == reference_stats(synth_val.annotations_path, saved)
    assert 0.2 < values["map"] < 0.95
    assert not list(saved.parent.glob(".*tmp*"))  # written atomically
    written = json.loads(saved.read_text())
    assert {d["category_id"] for d in written} <= set(synth_val.category_ids)


def test_max_images_limits_inference(synth_val):
    calls = []
    metrics = evaluate_detector(lambda image: calls.append(1) or ([], [], []), synth_val, max_images=5)
    assert len(calls) == 5 and metrics.num_images == 5 and metrics.map == 0.0
    with pytest.raises(InputError, match="--max-images: expected a positive integer; got 0"):
        evaluate_detector(lambda image: ([], [], []), synth_val, max_images=0)


def test_only_the_100_best_detections_of_an_image_are_scored(synth_val, tmp_path):
    """COCO's results rule; the ground truth is hidden among 150 low-scoring decoys."""

    class Crowded(Oracle):
        def __call__(self, image):
            boxes, classes, scores = super().__call__(image)
            decoys = np.tile([[0.0, 0.0, 0.05, 0.05]], (150, 1))
            rank = np.linspace(0.5, 0.0, 150)  # 60 decoys outscore the ground truth's 0.3
            return (
                np.concatenate([boxes, decoys]),
                np.concatenate([classes, np.zeros(150, np.int64)]),
                np.concatenate([np.full(len(scores), 0.3), rank]),
            )

    saved = tmp_path / "dt.json"
    metrics = evaluate_detector(Crowded(synth_val), synth_val, detections_out=saved)
    written = json.loads(saved.read_text())
    per_image = {r.image_id: sum(d["image_id"] == r.image_id for d in written) for r in synth_val.records}
    assert set(per_image.values()) == {100}
    for record in synth_val.records:  # the decoys kept are the best ones: 100 minus the ground truths
        lowest = min(d["score"] for d in written if d["image_id"] == record.image_id)
        assert lowest == pytest.approx(np.linspace(0.5, 0.0, 150)[99 - len(record.classes)])
    assert metrics.ar100 > 0.99  # every ground truth survived among the best 100


def test_to_coco_results_maps_ids_and_pixels(synth_val):
    record = synth_val.records[0]  # 96x96
    results = to_coco_results(record, ([[0.25, 0.5, 0.75, 1.2]], [3], [0.9]), synth_val.category_ids)
    assert results == [
        {
            "image_id": record.image_id,
            "category_id": synth_val.category_ids[3],
            "bbox": [48.0, 24.0, 48.0, 48.0],
        }
        | {"score": pytest.approx(0.9)}
    ]


def test_detector_and_dataset_disagreeing_fails_clearly(synth_val):
    with pytest.raises(InputError, match=r"class index 8 outside 0\.\.7 \(the dataset has 8 classes\)"):
        evaluate_detector(lambda image: ([[0, 0, 1, 1]], [8], [0.5]), synth_val)
    with pytest.raises(InputError, match="must have the same length; got 1, 2, 1"):
        evaluate_detector(lambda image: ([[0, 0, 1, 1]], [0, 1], [0.5]), synth_val)


def test_metrics_fit_the_run_record(synth_val):
    metrics = evaluate_detector(Oracle(synth_val), synth_val, max_images=4)
    accuracy = metrics.to_accuracy_info()
    assert accuracy.dataset_id == synth_val.dataset_id and accuracy.num_images == 4
    assert accuracy.map == metrics.map and accuracy.ar_large == metrics.ar_large
    assert synth_val.dataset_id.startswith(f"{synth_val.annotations_path.parent.parent.name}/val@")
