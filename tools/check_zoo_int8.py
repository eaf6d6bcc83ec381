"""Check that every zoo variant quantizes: ``python -m tools.check_zoo_int8 [--filter PATTERN]``.

For each variant (full-size ones by default): build it, give its BatchNormalizations the statistics of
random images (an untrained model's 0 / 1 statistics make int8 ranges degenerate), run tfmot's
``quantize_model`` (``--mode qat``, default) or not (``--mode ptq``), convert the export signature to a
full-int8 TFLite calibrated on random images, and run it on LiteRT with XNNPack. One line per variant:

    ssdlite_mobilenet_v2  qat  ok  convs int8 107/107  outside XNNPack: QUANTIZE(input), ...PostProcess

It passes when every convolution is int8 and XNNPack takes every op but TFLite_Detection_PostProcess
(and, with ``--input-type uint8``, the input's uint8 -> int8 QUANTIZE, which XNNPack does not take).
Exit code 1 if a variant fails. Takes minutes per full-size variant on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from bench.models.registry import TINY_PREFIX, build_model, get_config, list_models
from bench.models.saving import quantize_scope
from bench.scripts import zoo_tflite

POSTPROCESS = "TFLite_Detection_PostProcess"


def check_variant(name: str, mode: str, input_type: str, save_dir: Path | None) -> tuple[bool, str]:
    """Quantize, convert and run one variant.

    Returns:
        (passed, the report line).
    """
    started = time.monotonic()
    config = get_config(name)
    model = build_model(config)
    zoo_tflite.recalibrate_batchnorm(model, config)
    if mode == "qat":
        with quantize_scope():
            model = tfmot.quantization.keras.quantize_model(model)
        # tfmot starts the input quantizer at [0, 0]; the first training step sets it.
        images = np.concatenate([batch[0] for batch in zoo_tflite.random_images(config, 4)()])
        model(images, training=True)
    flatbuffer = zoo_tflite.convert(model, config, int8=True, input_type=tf.as_dtype(input_type))
    if save_dir is not None:
        (save_dir / f"{name}_{mode}_int8.tflite").write_bytes(flatbuffer)
    report = zoo_tflite.inspect(flatbuffer)
    image = next(zoo_tflite.random_images(config, 1, seed=1)())[0]
    detections = int(zoo_tflite.run(flatbuffer, image)["num_detections"][0])
    allowed = [POSTPROCESS] if input_type == "int8" else ["QUANTIZE", POSTPROCESS]
    convs = [op for op in report.ops if op[0] in zoo_tflite.CONV_OPS]
    int8_convs = len(convs) - len(report.non_int8_convs())
    passed = int8_convs == len(convs) and report.undelegated == allowed and detections > 0
    line = (
        f"{name:28s} {mode}  {'ok  ' if passed else 'FAIL'}  convs int8 {int8_convs}/{len(convs)}"
        f"  XNNPack partitions {report.delegate_partitions}  outside XNNPack: "
        f"{', '.join(report.undelegated) or 'none'}  detections {detections}  "
        f"{len(flatbuffer) / 1e6:.1f} MB  {time.monotonic() - started:.0f} s"
    )
    return passed, line


def main(argv: list[str] | None = None) -> int:
    """Check the selected variants; exit code 1 if one fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filter", default="*", help="variant wildcard (default: every full-size variant)")
    parser.add_argument("--mode", choices=("qat", "ptq"), default="qat", help="quantize_model first, or not")
    parser.add_argument(
        "--input-type", choices=("uint8", "int8"), default="uint8", help="int8 model input type"
    )
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
        passed, line = check_variant(name, args.mode, args.input_type, args.save)
        print(line, flush=True)
        failures += not passed
        keras.backend.clear_session()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
