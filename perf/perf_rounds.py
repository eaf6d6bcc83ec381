"""Interleaved rounds vs one window per artifact: how much do host timings move between repetitions?

Builds the quick plan's detectors at its size (SSDLite-MobileNetV3-Small and SSDLite-MobileNetV2, 256 px,
width 0.5; freshly initialised, seeded; ``tflite_fp32`` and ``tflite_int8``; cached under
``work/perf_rounds/``), then repeats, side by side in one run:

- **one window**: each artifact timed alone in its own child process, one window (the old way);
- **interleaved**: all artifacts in one child per delegate and thread count, 5 rounds (the new way);

with the quick plan's settings, XNNPack, 1 thread (the quick plan's default), alternating which method
goes first. For each artifact the figure is the spread of its median across repetitions ((max - min) /
median), and for each detector the spread of the int8 / fp32 ratio, the number the summary's claims rest
on. ``--profile`` also prints the per-op-type shares of SSDLite-MobileNetV3-Small fp32 and int8
(``edgebench time --profile``'s measurement).

    python -m perf.perf_rounds [--repeats 4] [--threads 1] [--profile] [--out work/perf_rounds]

Prints PASS when the interleaved ratio spread is no larger than the one-window one (FAIL otherwise).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

VARIANTS = ("ssdlite_mobilenet_v3_small", "ssdlite_mobilenet_v2")
RECIPES = ("tflite_fp32", "tflite_int8")
SIZE, WIDTH = 256, 0.5  # the quick plan's


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def _jobs(artifacts: dict, threads: int, rounds: int) -> list:
    from device_runners.base import TimingJob
    from results.schema import Delegate, TimingSettings

    # The quick plan's timing section (bench/plans/quick.yaml).
    settings = TimingSettings(
        warmup_runs=1, warmup_min_secs=0.2, min_runs=20, min_secs=0.5, max_secs=30, rounds=rounds
    )
    return [TimingJob(a.info, Delegate.XNNPACK, threads, settings) for a in artifacts.values()]


def _medians(records: list) -> list[float]:
    from results.schema import Status

    bad = [r for r in records if r.status is not Status.OK]
    if bad:
        sys.exit(f"timing failed: {bad[0].error.message if bad[0].error else bad[0].status}")
    return [r.timing.median_ms for r in records]


def measure(artifacts: dict, repeats: int, threads: int) -> dict[str, dict]:
    """method -> {"medians": [per repetition: [per artifact]], "seconds": [...]}."""
    from device_runners.host import HostRunner

    runner = HostRunner()
    found = {"one window": {"medians": [], "seconds": []}, "interleaved": {"medians": [], "seconds": []}}
    for index in range(repeats):
        order = list(found) if index % 2 == 0 else list(found)[::-1]
        for method in order:
            began = time.monotonic()
            if method == "one window":
                records = [runner.time_many([job])[0] for job in _jobs(artifacts, threads, 1)]
            else:
                records = runner.time_many(_jobs(artifacts, threads, 5))
            found[method]["seconds"].append(time.monotonic() - began)
            found[method]["medians"].append(_medians(records))
        print(f"repetition {index + 1}/{repeats} done", flush=True)
    return found


def report(names: list[str], found: dict[str, dict]) -> bool:
    """Print the spreads; True when interleaving's ratio spread is no larger than one window's."""
    print(f"\n{'artifact':52s} {'one window':>22s} {'interleaved':>22s}")
    for i, name in enumerate(names):
        cells = []
        for method in found:
            values = [rep[i] for rep in found[method]["medians"]]
            cells.append(f"{statistics.median(values):.3f} ms +-{100 * _spread(values) / 2:4.1f}%")
        print(f"{name:52s} {cells[0]:>22s} {cells[1]:>22s}")
    worst = {}
    for variant in VARIANTS:
        fp32, int8 = names.index(f"{variant}.tflite_fp32"), names.index(f"{variant}.tflite_int8")
        cells = []
        for method in found:
            ratios = [rep[int8] / rep[fp32] for rep in found[method]["medians"]]
            worst[method] = max(worst.get(method, 0.0), _spread(ratios))
            cells.append(f"{min(ratios):.3f}-{max(ratios):.3f} ({100 * _spread(ratios):4.1f}%)")
        print(f"{variant + ' int8/fp32':52s} {cells[0]:>22s} {cells[1]:>22s}")
    seconds = [statistics.median(found[m]["seconds"]) for m in found]
    print(f"{'wall seconds per repetition':52s} {seconds[0]:>22.1f} {seconds[1]:>22.1f}")
    passed = worst["interleaved"] <= worst["one window"]
    print(
        f"{'PASS' if passed else 'FAIL'} int8/fp32 ratio spread across repetitions: interleaved "
        f"{100 * worst['interleaved']:.1f}% vs one window {100 * worst['one window']:.1f}% (widest detector)"
    )
    return passed


def profile(artifacts: dict, threads: int) -> None:
    """Per-op-type shares of SSDLite-MobileNetV3-Small fp32 and int8 (``edgebench time --profile``)."""
    from device_runners.host import HostRunner

    runner = HostRunner()
    for job in _jobs(artifacts, threads, 1):
        if not Path(job.artifact.path).name.startswith(VARIANTS[0]):
            continue
        found, why = runner.op_profile(job)
        if found is None:
            print(f"{job.artifact.path}: no profile: {why}")
            continue
        print(
            f"\n{Path(job.artifact.path).name}: whole model {found.model_ms:.3f} ms, op types add up to "
            f"{found.sum_ms:.3f} ms ({100 * found.sum_ms / found.model_ms:.0f}%)"
        )
        for op in [*found.ops, *found.groups]:
            share = 100 * op.ms / found.model_ms
            print(
                f"  {op.op_type:32s} x{op.count:<3d} {op.ms:7.3f} ms {share:5.1f}%  delegated {op.delegated}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", default="work/perf_rounds")
    args = parser.parse_args(argv)
    from perf.perf_int8 import _artifacts

    artifacts = {}
    for variant in VARIANTS:
        built = _artifacts(Path(args.out), list(RECIPES), 0, variant=variant, input_size=SIZE, width=WIDTH)
        artifacts.update({f"{variant}.{name}": artifact for name, artifact in built.items()})
    if args.profile:
        profile(artifacts, args.threads)
    found = measure(artifacts, args.repeats, args.threads)
    return 0 if report(list(artifacts), found) else 1


if __name__ == "__main__":
    sys.exit(main())
