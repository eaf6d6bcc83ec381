"""Fixtures of the evaluation tests: the real CLI, and small TFLite detectors built with TensorFlow."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# The TFLite fixture: a 32x32 input seen as a 4x4 grid of cells, one anchor per cell. A cell's score for
# class c is sigmoid(10 * mean of channel c in the model range), so a cell painted pure red, green or blue
# is detected as class 0, 1 or 2 with exactly the cell as its box (box encodings are zero).
GRID, INPUT, NUM_CLASSES = 4, 32, 3


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one CLI run."""

    code: int
    out: str
    err: str


def _pycocotools_stats(gt_path: Path, dt_path: Path, image_ids=None) -> list[float]:
    """The reference: pycocotools' own COCOeval, run the documented way, on files."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        evaluator = COCOeval(gt, gt.loadRes(str(dt_path)), "bbox")
        if image_ids is not None:
            evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


@pytest.fixture
def reference_stats():
    """``reference_stats(gt_path, dt_path, image_ids=None)`` -> pycocotools' 12 stats as floats."""
    return _pycocotools_stats


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run the real ``edgebench`` entry point with this package's subcommands registered."""
    from bench import cli as cli_module

    monkeypatch.setattr(cli_module, "COMMAND_MODULES", ["dataset", "evaluate"])

    def run(*argv: object) -> CliResult:
        code = cli_module.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def _postprocess_attrs(max_detections: int) -> str:
    """The NameAttrList text naming TFLite_Detection_PostProcess and its attributes."""
    attrs = {
        "max_detections": ("i", max_detections),
        "max_classes_per_detection": ("i", 1),
        "detections_per_class": ("i", max_detections),
        "use_regular_nms": ("b", "false"),
        "nms_score_threshold": ("f", 0.3),
        "nms_iou_threshold": ("f", 0.6),
        "num_classes": ("i", NUM_CLASSES),
        "y_scale": ("f", 10.0),
        "x_scale": ("f", 10.0),
        "h_scale": ("f", 5.0),
        "w_scale": ("f", 5.0),
    }
    fields = " ".join(f'attr {{ key: "{k}" value {{ {kind}: {v} }} }}' for k, (kind, v) in attrs.items())
    return f'name: "TFLite_Detection_PostProcess" {fields}'


def _build_models(out_dir: Path) -> dict[str, Path]:
    import bench  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)

    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("tf_keras")

    anchors_count = GRID * GRID
    image = keras.Input((INPUT, INPUT, 3), batch_size=1)
    cells = keras.layers.AveragePooling2D(INPUT // GRID)(image)
    class_conv, box_conv = (
        keras.layers.Conv2D(NUM_CLASSES, 1),
        keras.layers.Conv2D(4, 1, kernel_initializer="zeros"),
    )
    logits = keras.layers.Reshape((anchors_count, NUM_CLASSES))(class_conv(cells))
    encodings = keras.layers.Reshape((anchors_count, 4))(box_conv(cells))
    class_conv.set_weights([10 * np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3), np.zeros(3, np.float32)])
    model = keras.Model(image, [encodings, logits])
    centres = (np.arange(GRID) + 0.5) / GRID
    yc, xc = np.meshgrid(centres, centres, indexing="ij")
    size = np.full(anchors_count, 1 / GRID)
    anchors = tf.constant(np.stack([yc.ravel(), xc.ravel(), size, size], axis=1).astype(np.float32))

    @tf.function(experimental_implements=_postprocess_attrs(max_detections=10))
    def postprocess(box_encodings, class_predictions, anchors):
        # A placeholder body: the converter replaces the whole function by the custom op.
        return tuple(tf.constant(0.0, name=n) for n in ("boxes", "classes", "scores", "num_detections"))

    class Export(tf.Module):
        def __init__(self, named: bool):
            super().__init__()
            self.model, self.named = model, named

        @tf.function(input_signature=[tf.TensorSpec([1, INPUT, INPUT, 3], tf.float32, name="images")])
        def serve(self, images):
            box_encodings, class_logits = self.model(images)
            scores = tf.concat([tf.zeros_like(class_logits[..., :1]), tf.sigmoid(class_logits)], axis=-1)
            outputs = postprocess(box_encodings, scores, anchors)
            if self.named:
                return dict(zip(("boxes", "classes", "scores", "num_detections"), outputs, strict=True))
            return outputs

    rng = np.random.default_rng(0)

    def representative():
        for _ in range(16):
            yield [rng.uniform(-1, 1, (1, INPUT, INPUT, 3)).astype(np.float32)]

    paths = {}
    for name, named, quantized in (("named", True, False), ("tuple", False, False), ("uint8", True, True)):
        module = Export(named)
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [module.serve.get_concrete_function()], module
        )
        converter.allow_custom_ops = True
        if quantized:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.inference_input_type = tf.uint8
        paths[name] = out_dir / f"{name}.tflite"
        paths[name].write_bytes(converter.convert())
    return paths


@pytest.fixture(scope="session")
def tflite_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"named", "tuple", "uint8"}`` -> .tflite files: outputs named in the signature, returned as a tuple
    (signature names output_0..3), and a uint8-input full-integer model with named outputs."""
    return _build_models(tmp_path_factory.mktemp("tflite"))
