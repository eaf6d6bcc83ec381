"""``edgebench evaluate --detections`` reproduces pycocotools exactly: non-contiguous category ids, crowd
regions, images without boxes, a category without ground truth, all three size ranges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.evaluation import METRIC_KEYS, evaluate_detections_file

IMAGE_IDS = (101, 5, 42, 7, 900, 13, 64, 2)
EMPTY = {900, 64}  # images without any box
CATEGORY_IDS = (3, 8, 17, 40)  # 40 has no ground truth at all


def make_fixture(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """A ground truth and noisy detections: jittered true positives, misses, duplicates, wrong classes,
    false positives on empty images, and hits on crowd regions (which COCOeval must ignore)."""
    rng = np.random.default_rng(seed)
    images, annotations, detections = [], [], []
    for image_id in IMAGE_IDS:
        width, height = int(rng.integers(200, 640)), int(rng.integers(200, 480))
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "width": width, "height": height})
        count = 0 if image_id in EMPTY else int(rng.integers(1, 7))
        for _ in range(count):
            side = float(np.exp(rng.uniform(np.log(8), np.log(min(width, height) * 0.9))))
            w, h = side * rng.uniform(0.6, 1.0), side * rng.uniform(0.6, 1.0)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            crowd = int(rng.random() < 0.15)
            box = [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]
            category = int(rng.choice(CATEGORY_IDS[:3]))
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": category, "bbox": box}
                | {"area": round(w * h, 2), "iscrowd": crowd}
            )
            detections += _detections_for(rng, image_id, category, box)
        for _ in range(int(rng.integers(0, 4))):  # plain false positives anywhere, any class
            w, h = rng.uniform(5, width / 2), rng.uniform(5, height / 2)
            box = [rng.uniform(0, width - w), rng.uniform(0, height - h), w, h]
            detections.append(_det(rng, image_id, int(rng.choice(CATEGORY_IDS)), box))
    categories = [{"id": c, "name": f"class{c}", "supercategory": "x"} for c in CATEGORY_IDS]
    gt_path, dt_path = root / "instances.json", root / "detections.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    dt_path.write_text(json.dumps(detections))
    return gt_path, dt_path


def _det(rng, image_id, category, box):
    return {
        "image_id": image_id,
        "category_id": category,
        "bbox": [float(v) for v in box],
        "score": rng.random(),
    }


def _detections_for(rng, image_id, category, box):
    x, y, w, h = box
    found = []
    if rng.random() < 0.8:  # a hit, more or less precise
        jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
        found.append(
            _det(rng, image_id, category, [x + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3]])
        )
    if rng.random() < 0.2:  # a duplicate
        found.append(_det(rng, image_id, category, [x + 2, y + 2, w, h]))
    if rng.random() < 0.15:  # the right box, the wrong class
        found.append(_det(rng, image_id, int(rng.choice(CATEGORY_IDS)), box))
    return found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cli_json_equals_pycocotools_exactly(tmp_path, cli, reference_stats, seed):
    gt_path, dt_path = make_fixture(tmp_path, seed)
    document = json.loads(gt_path.read_text())
    assert any(a["iscrowd"] for a in document["annotations"])

    result = cli("evaluate", "--annotations", gt_path, "--detections", dt_path, "--json")

    assert result.code == 0, result.err
    metrics = json.loads(result.out)
    assert [metrics[k] for k in METRIC_KEYS] == reference_stats(gt_path, dt_path)
    assert metrics["num_images"] == len(IMAGE_IDS) and metrics["inference_s"] is None
    assert metrics["dataset_id"].startswith(f"{tmp_path.parent.name}/{tmp_path.name}@")
    assert 0.05 < metrics["map"] < 0.95  # the fixture is neither trivial nor hopeless
    assert set(metrics) == {*METRIC_KEYS, "dataset_id", "num_images", "inference_s", "cocoeval_s"}


def test_max_images_equals_pycocotools_on_those_images(tmp_path, cli, reference_stats):
    gt_path, dt_path = make_fixture(tmp_path)
    result = cli("evaluate", "--annotations", gt_path, "--detections", dt_path, "--json", "--max-images", 3)
    metrics = json.loads(result.out)
    assert [metrics[k] for k in METRIC_KEYS] == reference_stats(gt_path, dt_path, IMAGE_IDS[:3])
    assert metrics["num_images"] == 3


def test_table_lists_the_twelve_metrics(tmp_path, cli, reference_stats):
    gt_path, dt_path = make_fixture(tmp_path)
    result = cli("evaluate", "--annotations", gt_path, "--detections", dt_path)
    expected = reference_stats(gt_path, dt_path)
    lines = result.out.splitlines()
    assert lines[0].startswith("dataset ") and lines[0].endswith(f"{len(IMAGE_IDS)} images")
    assert lines[2].split() == ["mAP", f"{expected[0]:.4f}"]
    assert lines[8].split() == ["AR@1", f"{expected[6]:.4f}"]
    assert lines[-1].startswith("COCOeval ")


def test_no_detections_scores_zero(tmp_path):
    gt_path, dt_path = make_fixture(tmp_path)
    dt_path.write_text("[]")
    metrics = evaluate_detections_file(gt_path, dt_path).to_dict()
    # pycocotools cannot load an empty result list; with no detections every metric with ground truth is 0.
    assert all(metrics[k] in (0.0, -1.0) for k in METRIC_KEYS) and metrics["map"] == 0.0


def test_ground_truth_without_area_or_iscrowd_gets_coco_defaults(tmp_path, reference_stats):
    gt_path, dt_path = make_fixture(tmp_path)
    document = json.loads(gt_path.read_text())
    for ann in document["annotations"]:
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
        ann["iscrowd"] = 0
    gt_path.write_text(json.dumps(document))
    expected = reference_stats(gt_path, dt_path)
    for ann in document["annotations"]:
        del ann["area"], ann["iscrowd"]
    gt_path.write_text(json.dumps(document))
    metrics = evaluate_detections_file(gt_path, dt_path).to_dict()
    assert [metrics[k] for k in METRIC_KEYS] == expected


@pytest.mark.parametrize(
    ("detections", "pattern"),
    [
        (
            '[{"image_id": 12345, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5}]',
            "unknown image id 12345",
        ),
        ('[{"image_id": 5, "category_id": 4, "bbox": [0, 0, 1, 1], "score": 0.5}]', "unknown category id 4"),
        ('[{"image_id": 5, "category_id": 3, "score": 0.5}]', "missing key 'bbox'"),
        ('[{"image_id": 5, "category_id": 3, "bbox": [0, 0, 1], "score": 0.5}]', "expected bbox"),
        ('{"image_id": 5}', "expected a JSON list of detections; got dict"),
        ("[{", "malformed JSON at line 1 column 3"),
    ],
)
def test_bad_detections_fail_with_one_line(tmp_path, cli, detections, pattern):
    gt_path, dt_path = make_fixture(tmp_path)
    dt_path.write_text(detections)
    result = cli("evaluate", "--annotations", gt_path, "--detections", dt_path)
    assert result.code == 2 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert str(dt_path) in result.err and pattern in result.err


def test_flag_mistakes_fail_with_one_line(tmp_path, cli):
    gt_path, dt_path = make_fixture(tmp_path)
    both = cli("evaluate", "--annotations", gt_path, "--detections", dt_path, "--model", "m.tflite")
    assert both.code == 2 and "not allowed with argument" in both.err
    stray = cli("evaluate", "--annotations", gt_path, "--detections", dt_path, "--threads", 2)
    assert stray.code == 2 and "--threads: only applies with --model" in stray.err
    missing = cli("evaluate", "--annotations", tmp_path / "nope.json", "--detections", dt_path)
    assert missing.code == 2 and "nope.json: annotations file not found" in missing.err
