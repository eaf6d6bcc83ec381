"""A zoo detector written with K classes per box still reads in MediaPipe Tasks' ObjectDetector as one
detection per box, with its best class: K > 1 (the quick and paper plans) costs a MediaPipe app nothing.

MediaPipe 0.10.14 runs in its own environment (``make mediapipe-env``); skipped when it was never built.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tiny_zoo import realistic_tiny

from bench.pipeline.inputs import zoo_inputs
from common.detection import PostprocessSettings
from converters import convert, get_recipe
from converters.mediapipe_env import run_script
from converters.tflite import run_signature

DETECT_SCRIPT = Path(__file__).parents[1] / "converters" / "conv_mp_detect.py"
PER_BOX = 3


def test_mediapipe_reads_each_box_once_with_its_best_class(mediapipe_python, tmp_path, rng):
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v2", rng)
    config = config.with_postprocess(PostprocessSettings(max_classes_per_detection=PER_BOX))
    size = config.input_size
    labels = [f"class{i}" for i in range(config.num_classes)]
    inputs = zoo_inputs(config, model, labels, [], "k3")
    artifact = convert(inputs, get_recipe("tflite_fp32"), tmp_path, create_mediapipe_env=False)
    assert artifact.sidecar.metadata is not None, artifact.sidecar.metadata_error

    images = rng.integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    done = run_script(DETECT_SCRIPT, [artifact.path, tmp_path / "images.npy", 1], create=False)
    found = json.loads(done.stdout.strip().splitlines()[-1])

    for image, theirs in zip(images, found, strict=True):
        out = run_signature(artifact.path, image)
        boxes = int(out["num_detections"][0])
        best_of_each_box = out["scores"][0, : boxes * PER_BOX : PER_BOX]  # box-major: entry 0 of each box
        assert len(theirs) == boxes  # not boxes * PER_BOX: one detection per kept box
        np.testing.assert_allclose(sorted(d["score"] for d in theirs), np.sort(best_of_each_box), atol=1e-4)
        assert len({tuple(np.round(d["box"], 3)) for d in theirs}) == boxes
