"""Helpers of the pipeline tests: a tiny plan, and fakes for the expensive stages.

The fakes replace training, conversion, evaluation and the host runner at the seams the pipeline calls
(``bench.training.train``, ``converters.convert``, ``bench.evaluation.evaluate_artifact``, the runner
registry), so the orchestration itself (caching, run ids, resume, failed records) runs for real in a
second. The e2e tests in ``tests/e2e`` run everything for real.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.plans import parse_plan
from device_runners.base import Outcome, make_record
from results.schema import Status, TargetInfo, Timing

TINY_PLAN = {
    "name": "tiny",
    "dataset": {"synthetic": {"seed": 1, "train": 4, "val": 2, "size": 32, "max_objects": 2}},
    "variants": [{"name": "tiny_ssdlite_mobilenet_v2"}, {"name": "tiny_ssdlite_mobilenet_v3_small"}],
    "training": {"steps": 2, "batch_size": 2},
    "recipes": ["tflite_fp32", "tflite_int8", "coreml_fp16"],
    "targets": [
        {"name": "host", "runner": "host", "delegates": ["cpu", "xnnpack"], "threads": [1]},
        {"name": "mac", "runner": "coreml_mac", "delegates": ["coreml_all"]},
    ],
    "timing": {"min_runs": 2, "min_secs": 0.0},
}
# 2 variants x (2 tflite recipes x 2 delegates + 1 Core ML recipe x 1 compute unit)
TINY_EXPECTED = 2 * (2 * 2 + 1)


def tiny_plan(**changes):
    """The tiny plan with top-level sections replaced."""
    return parse_plan({**TINY_PLAN, **changes}, "tiny")


class Fakes:
    """Counts calls; ``fail_recipe`` makes a recipe's conversion raise; ``interrupt_after`` stops timing."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.fail_recipe: str | None = None
        self.interrupt_after: int | None = None
        self.interleave = True  # the host runner batches (False: the per-artifact path of other runners)
        self.batches: list[list[str]] = []  # the recipes of each time_many batch
        self.blind_recipe: str | None = None  # its evaluation detects nothing (mAP 0)

    def train(self, cfg, split, config, workdir, progress=True):
        from bench.training import TrainResult

        self.calls["train"] += 1
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        weights = workdir / "final.weights.h5"
        weights.write_bytes(f"{cfg.name} {config.steps}".encode())
        return TrainResult(weights, config.steps, 0.1, 10.0, 1.5)

    def convert(self, inputs, recipe, out_dir, **_kwargs):
        from converters import artifact
        from converters.tflite import ConversionError

        self.calls["convert"] += 1
        if recipe.name == self.fail_recipe:
            raise ConversionError(f"{recipe.name}: the converter refused the model (fake)")
        name = f"{Path(out_dir).name}.{recipe.name}"
        path, sidecar = artifact.start(out_dir, name, recipe.file_suffix)
        if recipe.file_suffix == ".mlpackage":
            path.mkdir()
            (path / "model.mil").write_text(name)
        else:
            path.write_bytes(b"\0\0\0\0TFL3" + name.encode())
        from common.detection import PostprocessSettings, Preprocessing
        from common.sidecar import ConversionSettings, ModelFacts

        settings = ConversionSettings(
            recipe=recipe.model_dump(mode="json"),
            input_size=32,
            labels=("a",),
            preprocessing=Preprocessing(),
            postprocess=PostprocessSettings(),
        )
        return artifact.finish(path, sidecar, name, ModelFacts(name=name, params=0), settings, signature={})

    def evaluate(self, path, dataset, max_images=None, detections_out=None, **_kwargs):
        from bench.evaluation import CocoMetrics, Unsupported
        from bench.evaluation.runner import write_results

        self.calls["evaluate"] += 1
        if str(path).endswith(".mlpackage"):
            return Unsupported("Core ML prediction needs macOS")
        if detections_out is not None:  # the ground truth itself; int8 misses the first box
            boxes = json.loads(Path(dataset.annotations_path).read_text())["annotations"]
            boxes = boxes[1:] if "int8" in str(path) else boxes
            boxes = [] if self.blind_recipe and str(path).endswith(f".{self.blind_recipe}.tflite") else boxes
            fields = ("image_id", "category_id", "bbox")
            write_results([{**{k: b[k] for k in fields}, "score": 0.9} for b in boxes], detections_out)
        values = dict.fromkeys(("map", "map50", "map75", "map_small", "map_medium", "map_large"), 0.25)
        values.update(dict.fromkeys(("ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large"), 0.5))
        return CocoMetrics(**values, dataset_id="fake", num_images=2, inference_s=0.01, cocoeval_s=0.01)

    def runner_class(self, real):
        fakes = self

        class FakeHost(real("host")):  # the real class's formats, delegates and probe; a fake timing
            @property
            def interleaves(self):
                return fakes.interleave

            def time_many(self, jobs):  # one batch, timed here one job after the other
                fakes.batches.append([job.artifact.recipe for job in jobs])
                return [self.time(job) for job in jobs]

            def time(self, job):
                fakes.calls["time"] += 1
                if fakes.interrupt_after is not None and fakes.calls["time"] > fakes.interrupt_after:
                    raise KeyboardInterrupt
                target = TargetInfo(runner="host", delegate=job.delegate, threads=job.threads)
                timing = Timing(settings=job.settings, samples_ms=[1.0, 2.0, 3.0])
                return make_record(job, Outcome(target=target, status=Status.OK, timing=timing))

        return lambda name: FakeHost if name == "host" else real(name)


def manifest(workdir: Path) -> dict:
    """The one run manifest in the work folder."""
    (path,) = (Path(workdir) / "runs").glob("*.json")
    return json.loads(path.read_text())
