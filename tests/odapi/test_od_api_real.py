"""The published OD API model-zoo files, when a folder of them is given (nothing is downloaded).

``EDGEBENCH_OD_API_CHECKPOINTS``: a folder holding the unpacked model-zoo folders (e.g.
``ssdlite_mobilenet_v2_coco_2018_05_09/model.ckpt.*``). ``EDGEBENCH_COCO_VAL``: a COCO val split
(``instances.json`` + ``images/``, or the official ``annotations/instances_val2017.json`` + ``val2017/``)
on which each imported model's COCO mAP is reported (``EDGEBENCH_COCO_VAL_MAX`` limits the images).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.models.pretrained.od_api import (
    ZOO_FOLDERS,
    config_for_checkpoint,
    import_od_api_checkpoint,
)
from bench.models.pretrained.od_api_pipeline import read_pipeline_anchors
from bench.training.init_spec import pipeline_config, resolve_checkpoint

ROOT = os.environ.get("EDGEBENCH_OD_API_CHECKPOINTS")


def _coco_val():
    from bench.data.coco import load_coco

    root = Path(os.environ["EDGEBENCH_COCO_VAL"])
    official = root / "annotations" / "instances_val2017.json"
    if official.is_file():
        return load_coco(official, root / "val2017")
    return load_coco(root)


@pytest.mark.skipif(
    ROOT is None, reason="EDGEBENCH_OD_API_CHECKPOINTS is not set (a folder of model-zoo files)"
)
@pytest.mark.parametrize("folder", sorted(ZOO_FOLDERS))
def test_published_checkpoint_imports_and_scores(folder, capsys):
    from bench.models.registry import build_model, get_config

    path = Path(ROOT) / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    pipeline = pipeline_config(resolve_checkpoint(path))
    size = read_pipeline_anchors(pipeline).input_size if pipeline else None
    # With COCO val at hand the head is imported as a plan does: the 80 categories by name.
    dataset = _coco_val() if "EDGEBENCH_COCO_VAL" in os.environ else None
    classes = dataset.num_classes if dataset else None
    config = get_config(ZOO_FOLDERS[folder], input_size=size, num_classes=classes)
    config = config_for_checkpoint(config, path)
    model = build_model(config)
    names = dataset.class_names if dataset else None
    report = import_od_api_checkpoint(model, config, path, class_names=names)
    assert report.class_head_loaded and not report.fresh_classes
    with capsys.disabled():
        print("\n" + "\n".join(report.lines()))
    if dataset is None:
        return
    from bench.evaluation.runner import evaluate_detector
    from bench.training.detector import keras_detector

    limit = os.environ.get("EDGEBENCH_COCO_VAL_MAX")
    metrics = evaluate_detector(
        keras_detector(model, config), dataset, max_images=int(limit) if limit else None
    )
    with capsys.disabled():
        print(
            f"{folder}: COCO mAP {metrics.map:.3f}, mAP50 {metrics.map50:.3f} on {metrics.num_images} images"
        )
    assert metrics.map > 0.05
