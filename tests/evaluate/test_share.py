"""The share of a reference's mAP with its paired bootstrap interval (``bench.evaluation.share``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cocoeval_exact import IMAGE_IDS, make_fixture

from bench.evaluation.metrics import ground_truth, run_cocoeval
from bench.evaluation.share import _map_of, _matched, map_share

IDS = list(IMAGE_IDS)


@pytest.fixture
def scored(tmp_path):
    """(ground truth, the fixture's noisy detections)."""
    gt_path, dt_path = make_fixture(tmp_path)
    return ground_truth(gt_path), json.loads(dt_path.read_text())


def _cocoeval_map(gt, results, ids) -> float:
    return float(run_cocoeval(gt, results, ids)[0][0])


def test_a_resample_is_scored_as_cocoeval_scores_those_images(scored):
    gt, results = scored
    matched = _matched(gt, results, IDS)
    assert _map_of(matched, np.ones(len(IDS))) == pytest.approx(_cocoeval_map(gt, results, IDS))
    # A draw weighs the images it holds; those it misses weigh 0.
    first_three = np.array([1.0, 1.0, 1.0] + [0.0] * (len(IDS) - 3))
    assert _map_of(matched, first_three) == pytest.approx(_cocoeval_map(gt, results, IDS[:3]))
    last_five = np.array([0.0] * (len(IDS) - 5) + [1.0] * 5)
    assert _map_of(matched, last_five) == pytest.approx(_cocoeval_map(gt, results, IDS[-5:]))


def test_identical_models_keep_all_of_it(scored):
    gt, results = scored
    share = map_share(gt, results, results, IDS, resamples=100)
    assert (share.share, share.low, share.high) == (1.0, 1.0, 1.0)
    assert share.map == share.reference_map == pytest.approx(_cocoeval_map(gt, results, IDS))


def test_a_worse_model_gets_a_share_below_one_inside_its_interval(scored):
    gt, results = scored
    worse = [r for i, r in enumerate(results) if i % 3]  # a third of the detections lost
    share = map_share(gt, results, worse, IDS, resamples=300, seed=1)
    assert share.map == pytest.approx(_cocoeval_map(gt, worse, IDS))
    assert share.share == pytest.approx(share.map / share.reference_map) and share.share < 1.0
    assert share.low < share.share < share.high and share.level == 0.9 and share.num_images == len(IDS)
    assert map_share(gt, results, worse, IDS, resamples=300, seed=1) == share  # seeded
    wider = map_share(gt, results, worse, IDS, resamples=300, seed=1, level=0.99)
    assert wider.low <= share.low and wider.high >= share.high
    assert "% of the reference's mAP" in share.describe() and "90% interval over images" in share.describe()
