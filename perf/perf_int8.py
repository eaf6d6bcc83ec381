"""Is full-int8 worth it on this CPU? int8 vs fp32 latency of ``ssdlite_mobilenet_v2`` with XNNPack.

Builds the full-size variant (320x320, 91 class slots; freshly initialised, seeded: latency does not
depend on the weights), converts it with the ``tflite_fp32``, ``tflite_fp16`` and ``tflite_int8`` recipes
(cached under ``work/perf_int8/``), prints the size budgets, then times fp32 and int8 through the host
runner (each timing in its own child process, XNNPack, 2 threads), interleaved: every round times both,
alternating which goes first, so drift on a shared machine hits both alike. The figure is the median of
the per-round int8 / fp32 median ratios; the budget is 0.6.

    python -m perf.perf_int8 [--rounds 5] [--threads 2] [--pruned-steps 0] [--out work/perf_int8]

``--pruned-steps N`` also builds ``tflite_int8_pruned`` (N self-distillation steps) for the gzip budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

VARIANT = "ssdlite_mobilenet_v2"
LATENCY_BUDGET = 0.6


def _artifacts(
    out: Path,
    recipes: list[str],
    pruned_steps: int,
    variant: str = VARIANT,
    input_size: int | None = None,
    width: float | None = None,
) -> dict:
    """recipe -> Artifact of a freshly initialised ``variant`` (its registry size and width unless given),
    reusing finished artifacts from an earlier run."""
    from bench.commands.export import load_zoo_model
    from bench.commands.train import load_splits
    from bench.models.registry import get_config
    from bench.pipeline.inputs import conversion_inputs
    from bench.plans import ExportSection, FinetuneSection
    from common.errors import InputError
    from converters import convert, get_recipe, load_artifact

    found, missing = {}, []
    for name in recipes:
        try:
            found[name] = load_artifact(out / f"{variant}.{name}.artifact.json")
        except InputError:
            missing.append(name)
    if missing:
        # As `edgebench export --data synthetic`: the synthetic training split, bench's fine-tuning loop.
        train, _ = load_splits("synthetic")
        sizes = {"input_size": input_size, "width_multiplier": width}
        config = get_config(variant, num_classes=train.num_classes, **{k: v for k, v in sizes.items() if v})
        model = load_zoo_model(config, "none")
        export = ExportSection(calibration_samples=16)
        inputs = conversion_inputs(config, model, train, export, FinetuneSection(), variant)
        for name in missing:
            recipe = get_recipe(name)
            if recipe.finetune_steps:
                recipe = recipe.with_overrides(finetune_steps=pruned_steps)
            print(f"converting {name} ...", flush=True)
            found[name] = convert(inputs, recipe, out, tflite_metadata=False)
    return found


def _time(artifact, threads: int, min_secs: float) -> float:
    from device_runners.base import TimingJob
    from device_runners.host import HostRunner
    from results.schema import Delegate, Status, TimingSettings

    settings = TimingSettings(warmup_runs=5, min_runs=30, min_secs=min_secs)
    record = HostRunner().time(TimingJob(artifact.info, Delegate.XNNPACK, threads, settings))
    if record.status is not Status.OK:
        sys.exit(f"timing {artifact.path} failed: {record.error.message if record.error else record.status}")
    return record.timing.median_ms


def main(argv: list[str] | None = None) -> int:
    """Print sizes, latencies and PASS / FAIL lines; exit 1 if a budget is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-secs", type=float, default=1.0)
    parser.add_argument("--pruned-steps", type=int, default=0)
    parser.add_argument("--out", default="work/perf_int8")
    args = parser.parse_args(argv)
    from converters.checks import check_sizes

    recipes = ["tflite_fp32", "tflite_fp16", "tflite_int8"]
    recipes += ["tflite_int8_pruned"] if args.pruned_steps > 0 else []
    artifacts = _artifacts(Path(args.out), recipes, args.pruned_steps)
    failed = False
    for name, artifact in artifacts.items():
        print(f"{name:20s} {artifact.info.size_bytes:>10d} B  gzip {artifact.info.gzip_bytes:>10d} B")
    for check in check_sizes(artifacts):
        verdict = "INFO" if check.limit is None else "PASS" if check.passed else "FAIL"
        print(f"{verdict} {check.detail}")
        failed |= not check.passed
    ratios, fp32_ms, int8_ms = [], [], []
    for round_index in range(args.rounds):
        order = ["tflite_fp32", "tflite_int8"][:: 1 if round_index % 2 == 0 else -1]
        medians = {name: _time(artifacts[name], args.threads, args.min_secs) for name in order}
        fp32_ms.append(medians["tflite_fp32"])
        int8_ms.append(medians["tflite_int8"])
        ratios.append(medians["tflite_int8"] / medians["tflite_fp32"])
        times = f"fp32 {fp32_ms[-1]:.2f} ms, int8 {int8_ms[-1]:.2f} ms"
        print(f"round {round_index + 1}: {times}, ratio {ratios[-1]:.3f}")
    ratio = statistics.median(ratios)
    passed = ratio <= LATENCY_BUDGET
    failed |= not passed
    print(
        f"{'PASS' if passed else 'FAIL'} {VARIANT} xnnpack {args.threads} threads: int8 median "
        f"{statistics.median(int8_ms):.2f} ms / fp32 {statistics.median(fp32_ms):.2f} ms = {ratio:.3f} "
        f"(limit {LATENCY_BUDGET})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
