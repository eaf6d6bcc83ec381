"""Check that every zoo variant quantizes: ``python -m tools.check_zoo_int8 [--filter PATTERN]``.

For each variant (full-size ones by default): build it, give its BatchNormalizations the statistics of
random images (an untrained model's 0 / 1 statistics make int8 ranges degenerate), convert it with the
converters' ``tflite_int8_qat`` recipe (``--mode qat``, default: tfmot's ``quantize_model`` with the zoo's
quantize scope, ranges from calibration, no fine-tuning steps that matter here) or ``tflite_int8``
(``--mode ptq``), calibrated on random images, and inspect it as the timing worker does (LiteRT with
XNNPack). One line per variant:

    ssdlite_mobilenet_v2  qat  ok  convs int8 107/107  outside XNNPack: QUANTIZE, ...PostProcess

It passes when every convolution is int8 and XNNPack takes every op but TFLite_Detection_PostProcess and
the uint8 input's QUANTIZE. Exit code 1 if a variant fails. Takes minutes per full-size variant on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tf_keras as keras

from bench.models.registry import TINY_PREFIX, build_model, get_config, list_models

POSTPROCESS = "TFLite_Detection_PostProcess"
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
_ALLOWED_OUTSIDE = ["QUANTIZE", POSTPROCESS]


def _converted(name: str, mode: str, out: Path) -> Path:
    """The variant's int8 artifact, through converters.convert and the pipeline's hand-over."""
    from bench.pipeline.inputs import zoo_inputs
    from bench.training.finetune import recalibrate_batchnorm
    from converters import convert, get_recipe

    config = get_config(name)
    model = build_model(config)
    rng = np.random.default_rng(0)
    size = config.input_size
    pixels = rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    recalibrate_batchnorm(model, config.preprocessing.apply(pixels))
    batches = [config.preprocessing.apply(p[None]) for p in pixels[:4]]
    labels = [f"class_{i}" for i in range(config.num_classes)]
    # Structure only: one fine-tuning step that leaves the weights as they are (no training data here).
    inputs = zoo_inputs(config, model, labels, batches, name, finetune=lambda qat, _steps: qat)
    recipe = get_recipe("tflite_int8_qat" if mode == "qat" else "tflite_int8")
    recipe = recipe.with_overrides(
        representative_samples=4, **({"finetune_steps": 1} if mode == "qat" else {})
    )
    return convert(inputs, recipe, out, tflite_metadata=False).path


def check_variant(name: str, mode: str, save_dir: Path | None) -> tuple[bool, str]:
    """Quantize, convert and inspect one variant.

    Returns:
        (passed, the report line).
    """
    from converters.tflite import op_tensor_types, run_detector
    from device_runners.worker import build_interpreter, delegation

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        path = _converted(name, mode, save_dir or Path(tmp))
        ops = op_tensor_types(str(path))
        interpreter, _, nodes = build_interpreter(str(path), "xnnpack", 1)
        graph = delegation(interpreter, nodes)
        size = get_config(name).input_size
        image = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)
        detections = len(run_detector(path, image)["scores"])
        megabytes = path.stat().st_size / 1e6
    convs = [op for op in ops if op["op"] in CONV_OPS]
    int8_convs = sum(op["inputs"][0] == "int8" for op in convs)
    passed = int8_convs == len(convs) and graph["outside"] == _ALLOWED_OUTSIDE and detections > 0
    line = (
        f"{name:28s} {mode}  {'ok  ' if passed else 'FAIL'}  convs int8 {int8_convs}/{len(convs)}"
        f"  XNNPack partitions {graph['delegate_partitions']}  outside XNNPack: "
        f"{', '.join(graph['outside']) or 'none'}  detections {detections}  "
        f"{megabytes:.1f} MB  {time.monotonic() - started:.0f} s"
    )
    return passed, line


def main(argv: list[str] | None = None) -> int:
    """Check the selected variants; exit code 1 if one fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filter", default="*", help="variant wildcard (default: every full-size variant)")
    parser.add_argument("--mode", choices=("qat", "ptq"), default="qat", help="quantize_model first, or not")
    parser.add_argument("--save", type=Path, help="write the .tflite files to this directory")
    args = parser.parse_args(argv)
    names = list_models(
        args.filter, exclude=None if args.filter.startswith(TINY_PREFIX) else f"{TINY_PREFIX}*"
    )
    if not names:
        print(
            f"--filter: no variant matches {args.filter!r}; allowed: {', '.join(list_models())}",
            file=sys.stderr,
        )
        return 2
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name in names:
        passed, line = check_variant(name, args.mode, args.save)
        print(line, flush=True)
        failures += not passed
        keras.backend.clear_session()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
