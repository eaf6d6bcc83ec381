"""A tflite_int8 artifact with its metadata loads in MediaPipe Tasks' ObjectDetector, which finds what
edgebench's own reading of the artifact finds (LiteRT, outputs by signature name).

MediaPipe 0.10.14 runs in its own environment (``make mediapipe-env``); the comparison runs there as a
subprocess and returns JSON. Tests never reach the network, so they do not build the environment.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from converters.mediapipe_env import run_script
from converters.tflite import run_detector

DETECT_SCRIPT = Path(__file__).with_name("conv_mp_detect.py")
UPSCALE = 32  # MediaPipe reports integer pixels: 96 px x 32 keeps rounding below 0.1% of a box side
TOP = 10
SCORE_STEP = 1 / 256  # int8 sigmoid scores are quantized; allow one step between runtimes


def _synthetic_validation_images(count: int, size: int) -> np.ndarray:
    from bench.data.synth_draw import render

    return np.stack([render(np.random.default_rng([7, 1, i]), size, 10)[0] for i in range(count)])


def _iou(a, b) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _inside(box, margin: float = 0.002) -> bool:
    # MediaPipe clamps a box crossing the border by moving its origin and keeping its size, so such
    # boxes are not comparable; the ones inside the image are.
    return min(box) >= margin and max(box) <= 1 - margin


def test_mediapipe_object_detector_agrees_with_edgebench(mediapipe_python, fixture_inputs, tmp_path):
    from tiny_zoo import fast_recipe

    from converters import convert

    artifact = convert(fixture_inputs, fast_recipe("tflite_int8"), tmp_path, create_mediapipe_env=False)
    metadata = artifact.sidecar.metadata
    assert metadata is not None, artifact.sidecar.metadata_error
    assert metadata["labels"] == 8 and metadata["input_norm"] == {"mean": 127.5, "std": 127.5}
    assert "score" in metadata["outputs"] and "location" in metadata["outputs"]

    pictures = _synthetic_validation_images(4, fixture_inputs.input_size)
    np.save(tmp_path / "images.npy", pictures)
    done = run_script(DETECT_SCRIPT, [artifact.path, tmp_path / "images.npy", UPSCALE], create=False)
    found = json.loads(done.stdout.strip().splitlines()[-1])

    compared = 0
    for image, theirs in zip(pictures, found, strict=True):
        ours = run_detector(artifact.path, image)
        top = [k for k in range(min(TOP, len(ours["scores"]))) if _inside(ours["boxes"][k])]
        for k in top:
            label = fixture_inputs.labels[int(ours["classes"][k])]
            best = max(
                (
                    _iou(ours["boxes"][k], d["box"])
                    for d in theirs
                    if d["label"] == label and abs(d["score"] - ours["scores"][k]) <= SCORE_STEP + 1e-6
                ),
                default=0.0,
            )
            # One input pixel of the 96 px model is ~1% of a small box's side; both runtimes resize.
            assert best > 0.98, (k, label, ours["scores"][k], ours["boxes"][k])
            compared += 1
        assert {d["label"] for d in theirs[:3]} <= {
            fixture_inputs.labels[int(c)] for c in ours["classes"][:TOP]
        }
    assert compared >= 12  # the check is not vacuous
