#!/usr/bin/env python3
"""Time one Core ML model (.mlpackage / .mlmodel) with coremltools on macOS and write one JSON result file.

    python coreml_worker.py --model m.mlpackage --compute-units cpu_and_ne --out result.json [timing flags]
    python coreml_worker.py ... --fps 30 --secs 60      # sustained mode

The methodology and the result layout are the LiteRT worker's (``worker.py``, run beside this file):
the same ``run_phase`` loop for warmup and timed runs, the same ``paced_run`` for sustained mode, the
same protocol fields, so ``isolation.outcome_from_result`` reads both. ``init_ms`` here is loading and
compiling the model for the chosen compute units. Inputs are seeded random data of each input's shape
and type (multi-arrays, or images for image inputs).

TensorFlow and PyTorch are hidden from coremltools: prediction needs neither, and coremltools would
otherwise import them at start-up (seconds, and TensorFlow must never be imported by device runners).
Test-only hook: ``EDGEBENCH_COREML_TEST_PREDICT_MS=<ms>`` replaces the Core ML prediction by a sleep, after
reading the real model description, so the whole chain can be exercised on Linux.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

try:  # run as a script from device_runners/ (the runner's way), or imported from the package (tests)
    import sustained_worker
    import worker
except ImportError:
    from device_runners import sustained_worker, worker

COMPUTE_UNITS = {
    "cpu_only": "CPU_ONLY",
    "cpu_and_gpu": "CPU_AND_GPU",
    "cpu_and_ne": "CPU_AND_NE",
    "all": "ALL",
}
TEST_PREDICT_ENV = "EDGEBENCH_COREML_TEST_PREDICT_MS"
_NUMPY_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "DOUBLE": np.float64, "INT32": np.int32}


def make_inputs(spec, seed: int) -> dict:
    """Seeded random inputs for every input of a Core ML model description (``model.get_spec()``)."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for feature in spec.description.input:
        kind = feature.type.WhichOneof("Type")
        if kind == "multiArrayType":
            array = feature.type.multiArrayType
            dtype = _NUMPY_TYPES.get(array.ArrayDataType.Name(array.dataType), np.float32)
            shape = _default_shape(array)
            if np.dtype(dtype).kind == "f":
                inputs[feature.name] = rng.uniform(-1.0, 1.0, shape).astype(dtype)
            else:
                inputs[feature.name] = rng.integers(0, 256, shape).astype(dtype)
        elif kind == "imageType":
            from PIL import Image

            image = feature.type.imageType
            gray = image.ColorSpace.Name(image.colorSpace) == "GRAYSCALE"
            pixels = rng.integers(
                0, 256, (image.height, image.width) if gray else (image.height, image.width, 3)
            )
            inputs[feature.name] = Image.fromarray(pixels.astype(np.uint8), mode="L" if gray else "RGB")
        else:
            raise ValueError(
                f"input {feature.name!r} has type {kind}: only multi-arrays and images are supported"
            )
    return inputs


def _default_shape(array) -> list[int]:
    if array.shape:
        return [int(n) for n in array.shape]
    if array.WhichOneof("ShapeFlexibility") == "enumeratedShapes":
        return [int(n) for n in array.enumeratedShapes.shapes[0].shape]
    return [max(1, int(r.lowerBound)) for r in array.shapeRange.sizeRanges]


def load(path: str, units: str):
    """Load (and, on macOS, compile for the compute units) a model; returns (predict, spec, init_ms)."""
    import coremltools as ct

    start = time.perf_counter()
    fake_ms = os.environ.get(TEST_PREDICT_ENV)
    if fake_ms is not None:
        spec = ct.utils.load_spec(path)
        names = {feature.name for feature in spec.description.input}

        def predict(inputs: dict) -> None:
            if set(inputs) != names:
                raise ValueError(f"inputs {sorted(inputs)} do not match the model's {sorted(names)}")
            time.sleep(float(fake_ms) / 1000.0)

        return predict, spec, (time.perf_counter() - start) * 1000.0
    model = ct.models.MLModel(path, compute_units=getattr(ct.ComputeUnit, COMPUTE_UNITS[units]))
    return model.predict, model.get_spec(), (time.perf_counter() - start) * 1000.0


def measure(args: argparse.Namespace) -> dict:
    """Load, make inputs, warm up, then time (or run paced for sustained mode)."""
    predict, spec, init_ms = load(args.model, args.compute_units)
    inputs = make_inputs(spec, args.seed)
    described = [{"name": name, "shape": list(np.shape(value))} for name, value in inputs.items()]
    outputs = [{"name": feature.name} for feature in spec.description.output]
    if args.cooldown_secs > 0:
        time.sleep(args.cooldown_secs)

    def invoke() -> None:
        predict(inputs)

    warmup = worker.run_phase(invoke, args.warmup_runs, args.warmup_min_secs, args.max_secs)
    result = {
        "inputs": described,
        "outputs": outputs,
        "init_ms": init_ms,
        "warmup_samples_ms": warmup,
        "ops_total": None,
        "ops_outside_delegate": None,
        "outside_ops": None,
    }
    if args.fps:
        paced = sustained_worker.paced_run(invoke, args.fps, args.secs)
        sustained = {
            k: paced[k] for k in ("sample_times_s", "temperatures", "dropped_frames", "duration_secs")
        }
        samples = paced["samples_ms"]
        result["sustained"] = {"target_fps": args.fps, **sustained}
    else:
        samples = worker.run_phase(invoke, args.min_runs, args.min_secs, args.max_secs, args.max_runs)
    return {**result, "samples_ms": samples, "first_inference_ms": (warmup or samples or [None])[0]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time one Core ML model; write one JSON file.")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--compute-units", choices=sorted(COMPUTE_UNITS), default="all")
    for flag, kind, default in (
        ("--warmup-runs", int, 1),
        ("--warmup-min-secs", float, 0.5),
        ("--min-runs", int, 50),
        ("--min-secs", float, 1.0),
        ("--max-runs", int, None),
        ("--max-secs", float, 150.0),
        ("--cooldown-secs", float, 0.0),
        ("--seed", int, 0),
        ("--fps", float, None),
        ("--secs", float, 60.0),
    ):
        parser.add_argument(flag, type=kind, default=default)
    return parser.parse_args(argv)


def hide_frameworks() -> None:
    """Make ``import tensorflow`` / ``torch`` fail inside coremltools (only in the worker process)."""
    for name in ("tensorflow", "torch", "tf_keras"):
        sys.modules.setdefault(name, None)


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    hide_frameworks()
    args = parse_args(argv)
    header = {"protocol": worker.PROTOCOL, "model": args.model, "delegate": args.compute_units, "threads": 1}
    try:
        body = {"ok": True, **measure(args)}
    except (ValueError, RuntimeError, OSError) as error:  # what coremltools raises for a model it cannot use
        body = {"ok": False, "error": {"type": type(error).__name__, "message": " ".join(str(error).split())}}
    runtime = {
        "coremltools": _version("coremltools"),
        "python": platform.python_version(),
        "tensorflow_imported": bool(sys.modules.get("tensorflow")),
    }
    worker.write_atomically(
        args.out, {**header, **body, "runtime": runtime, "peak_rss_mb": worker.peak_rss_mb()}
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
