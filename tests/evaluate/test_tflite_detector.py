"""Evaluating exported TFLite detectors that end in TFLite_Detection_PostProcess, through LiteRT only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.coco import load_coco
from bench.evaluation import METRIC_KEYS, TFLiteDetector, evaluate_artifact
from common.errors import InputError

CELL = 16  # a 64x64 image is a 4x4 grid of 16 px cells, matching the fixture model's anchors
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))  # class 0, 1, 2
CATEGORY_IDS = (5, 9, 11)
# image id -> [(row, col, class, iscrowd)]; image 4 has no boxes.
LAYOUT = {
    1: [(1, 2, 0, 0), (3, 0, 1, 0)],
    2: [(0, 0, 2, 0), (2, 2, 2, 0), (3, 3, 0, 0)],
    3: [(1, 1, 1, 0), (2, 3, 0, 1)],  # a crowd region: its detection must be ignored, not counted
    4: [],
    6: [(0, 3, 1, 0), (1, 0, 2, 0), (2, 1, 0, 0), (3, 2, 1, 0)],
}


@pytest.fixture
def cells(tmp_path: Path) -> Path:
    """A COCO split of painted cells on black (non-contiguous category ids, crowd, an empty image)."""
    (tmp_path / "images").mkdir()
    images, annotations = [], []
    for image_id, objects in LAYOUT.items():
        pixels = np.zeros((64, 64, 3), np.uint8)
        for row, col, cls, crowd in objects:
            pixels[row * CELL : (row + 1) * CELL, col * CELL : (col + 1) * CELL] = COLOURS[cls]
            box = [col * CELL, row * CELL, CELL, CELL]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": CATEGORY_IDS[cls]}
                | {"bbox": box, "area": CELL * CELL, "iscrowd": crowd}
            )
        Image.fromarray(pixels).save(tmp_path / "images" / f"{image_id}.png")
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": 64, "height": 64})
    categories = [{"id": c, "name": n} for c, n in zip(CATEGORY_IDS, ("red", "green", "blue"), strict=True)]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


@pytest.mark.parametrize(
    ("name", "source", "dtype"), [("named", "names", np.float32), ("uint8", "names", np.uint8)]
)
def test_detects_the_painted_cells(tflite_models, name, source, dtype):
    detector = TFLiteDetector(tflite_models[name])
    assert detector.output_source == source and detector.input_dtype == dtype
    assert detector.input_shape == (1, 32, 32, 3)
    image = np.zeros((64, 64, 3), np.uint8)
    image[16:32, 32:48] = COLOURS[0]
    image[48:64, 0:16] = COLOURS[1]

    boxes, classes, scores = detector(image)

    order = np.argsort(classes)
    np.testing.assert_allclose(boxes[order], [[0.25, 0.5, 0.5, 0.75], [0.75, 0.0, 1.0, 0.25]], atol=1e-6)
    assert classes[order].tolist() == [0, 1] and np.all(scores > 0.5)


def test_tuple_signature_is_read_in_the_ops_order(tflite_models):
    named, tupled = TFLiteDetector(tflite_models["named"]), TFLiteDetector(tflite_models["tuple"])
    assert tupled.output_source == "tuple signature"
    image = np.zeros((48, 80, 3), np.uint8)  # any size: the detector resizes
    image[:12, :20] = COLOURS[2]
    for got, want in zip(tupled(image), named(image), strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_wrong_output_guess_fails_clearly(tflite_models, monkeypatch):
    # Without a signature the model's output list is read in the op's order; this TF2 export lists its
    # outputs in another order, which the shape check must catch rather than produce wrong numbers.
    from ai_edge_litert.interpreter import Interpreter

    monkeypatch.setattr(Interpreter, "get_signature_list", lambda self: {})
    detector = TFLiteDetector(tflite_models["tuple"])
    assert detector.output_source == "output order"
    with pytest.raises(InputError, match=r"tuple\.tflite: outputs \(found by output order\) do not have"):
        detector(np.zeros((32, 32, 3), np.uint8))


@pytest.mark.parametrize("name", ["named", "uint8"])
def test_cli_evaluates_a_model_exactly_as_pycocotools(
    tflite_models, cells, cli, tmp_path, reference_stats, name
):
    saved = tmp_path / "dt.json"
    result = cli(
        "evaluate",
        "--annotations",
        cells,
        "--model",
        tflite_models[name],
        "--json",
        "--save-detections",
        saved,
    )

    assert result.code == 0, result.err
    metrics = json.loads(result.out)
    assert [metrics[k] for k in METRIC_KEYS] == reference_stats(cells, saved)
    assert metrics["map"] == 1.0 and metrics["map_small"] == 1.0 and metrics["map_large"] == -1.0
    assert metrics["num_images"] == len(LAYOUT) and metrics["inference_s"] > 0
    detections = json.loads(saved.read_text())
    assert {d["category_id"] for d in detections} == set(CATEGORY_IDS)  # mapped back to the dataset's ids
    first = min((d for d in detections if d["image_id"] == 1), key=lambda d: d["category_id"])
    np.testing.assert_allclose(first["bbox"], [32, 16, 16, 16], atol=1e-3)  # absolute x, y, w, h


def test_max_images_and_table(tflite_models, cells, cli):
    result = cli("evaluate", "--annotations", cells, "--images", cells.parent / "images")
    assert result.code == 2 and "one of the arguments --detections --model is required" in result.err
    result = cli("evaluate", "--annotations", cells, "--model", tflite_models["named"], "--max-images", 2)
    assert result.code == 0, result.err
    assert ", 2 images" in result.out.splitlines()[0] and "ms/image" in result.out


def test_share_of_a_reference_model_on_the_same_images(tflite_models, cells, cli):
    argv = ["evaluate", "--annotations", cells, "--model", tflite_models["uint8"]]
    result = cli(*argv, "--reference", tflite_models["named"], "--resamples", 50, "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    reference = payload["reference"]
    assert reference["model"] == str(tflite_models["named"]) and reference["resamples"] == 50
    assert reference["map"] == payload["map"] == reference["reference_map"] == 1.0  # both find every cell
    assert (reference["share"], reference["low"], reference["high"]) == (1.0, 1.0, 1.0)
    table = cli(*argv, "--reference", tflite_models["named"], "--resamples", 50).out
    assert "share: 100.0% of the reference's mAP 1.0000 (90% interval over images 100.0-100.0%" in table
    result = cli("evaluate", "--annotations", cells, "--detections", cells, "--reference", cells)
    assert result.code == 2 and "--reference: only applies with --model" in result.err
    result = cli(*argv, "--reference", tflite_models["named"], "--resamples", 0)
    assert result.code == 2 and "--resamples: expected a positive integer; got 0" in result.err


def test_bad_model_files_fail_with_one_line(tmp_path, cells, cli):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 8)
    result = cli("evaluate", "--annotations", cells, "--model", junk)
    assert result.code == 2 and f"{junk}: not a loadable TFLite model" in result.err
    assert len(result.err.strip().splitlines()) == 1
    result = cli("evaluate", "--annotations", cells, "--model", tmp_path / "model.onnx")
    assert result.code == 2 and "suffix: got '.onnx'; allowed: .tflite, .mlpackage, .mlmodel" in result.err
    result = cli("evaluate", "--annotations", cells, "--model", tmp_path / "missing.tflite")
    assert result.code == 2 and "missing.tflite: model file not found" in result.err


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_coreml_is_unsupported_off_macos(cells, cli, tmp_path):
    model = tmp_path / "detector.mlpackage"
    result = evaluate_artifact(model, load_coco(cells))
    assert result.to_dict() == {"status": "unsupported", "reason": "Core ML prediction needs macOS"}
    printed = cli("evaluate", "--annotations", cells, "--model", model)
    assert printed.code == 0 and printed.out == "unsupported: Core ML prediction needs macOS\n"


def test_tflite_evaluation_never_imports_tensorflow(tflite_models, cells):
    script = (
        "import sys\n"
        "from bench.commands import evaluate\n"
        "from bench.data.coco import load_coco\n"
        f"m = evaluate.evaluate_artifact({str(tflite_models['named'])!r}, load_coco({str(cells)!r}))\n"
        "assert m.map == 1.0, m\n"
        "print('tensorflow' in sys.modules, 'tf_keras' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(("level", "shown"), [("2", False), ("0", True)])
def test_loading_a_model_prints_litert_s_xnnpack_line_only_when_verbose(tflite_models, level, shown):
    # A process of its own: LiteRT prints the line once per process, so an earlier test could hide it.
    code = "import sys; from bench.evaluation import TFLiteDetector; TFLiteDetector(sys.argv[1])"
    run = subprocess.run(
        [sys.executable, "-c", code, str(tflite_models["named"])],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": level},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert ("Created TensorFlow Lite XNNPACK delegate" in run.stderr) is shown, run.stderr
