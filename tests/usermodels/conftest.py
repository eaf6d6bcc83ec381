"""Fixtures of the user-model tests: a small COCO split of painted boxes, and user models made from a tiny
zoo detector (a .tflite and a SavedModel ending in TFLite_Detection_PostProcess)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from um_helpers import CATEGORIES, MODEL_CLASSES


@pytest.fixture
def split(tmp_path: Path) -> Path:
    """A COCO instances JSON with 6 images (96x96), 1-3 boxes each, and its images/ folder."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    images, annotations = [], []
    for image_id in range(1, 7):
        pixels = rng.integers(0, 60, (96, 96, 3), dtype=np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            x, y, size = int(rng.integers(0, 60)), int(rng.integers(0, 60)), int(rng.integers(16, 36))
            pixels[y : y + size, x : x + size] = rng.integers(120, 255, 3)
            category = CATEGORIES[int(rng.integers(0, 3))][0]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": category}
                | {"bbox": [x, y, size, size], "area": size * size, "iscrowd": 0}
            )
        Image.fromarray(pixels).save(tmp_path / "images" / f"{image_id}.png")
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": 96, "height": 96})
    categories = [{"id": i, "name": n} for i, n in CATEGORIES]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


@pytest.fixture(scope="session")
def tiny_user_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"tflite", "saved_model", "keras", "labelmap"}``: a tiny zoo detector with the classes of
    MODEL_CLASSES (spread-out random head weights), as a float .tflite, a SavedModel of its export
    signature and a .keras file, plus the matching OD API style labelmap.txt (background ``???`` first)."""
    import bench  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)

    tf = pytest.importorskip("tensorflow")
    from tiny_zoo import realistic_tiny

    from bench.models.export import DetectionExport
    from bench.pipeline.inputs import zoo_inputs
    from converters import convert, get_recipe

    out = tmp_path_factory.mktemp("user_models")
    # The same rng, the same model in every session: accuracy figures are compared.
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v2", np.random.default_rng(0), len(MODEL_CLASSES))
    inputs = zoo_inputs(config, model, list(MODEL_CLASSES), [], "tiny_user")
    artifact = convert(inputs, get_recipe("tflite_fp32"), out, tflite_metadata=False)
    export = DetectionExport(model, config)
    saved = out / "saved_model"
    tf.saved_model.save(export, str(saved), signatures={"serving_default": export.concrete_function()})
    model.save(out / "model.keras")
    labelmap = out / "labelmap.txt"
    labelmap.write_text("\n".join(["???", *MODEL_CLASSES]) + "\n")
    return {"tflite": artifact.path, "saved_model": saved, "keras": out / "model.keras", "labelmap": labelmap}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run the real ``edgebench`` entry point: ``cli(*argv) -> (exit code, stdout, stderr)``."""
    from bench import cli as cli_module

    def run(*argv: object) -> tuple[int, str, str]:
        code = cli_module.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
