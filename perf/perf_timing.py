"""Fidelity and stability of ``edgebench time`` (behind ``make perf``).

Fidelity: on the same model and settings, the median ``edgebench time`` reports is within 2% of a bare
in-process ``interpreter.invoke()`` loop, for a float and an int8 model, 1 and 2 threads, both delegates.
Stability: repeated ``edgebench time`` runs give medians whose coefficient of variation is at most 3%.

Both are measured in one pass: every round times each configuration once with the bare loop and once
through the real ``edgebench`` console script, alternating which goes first, so drift on a shared machine
hits both sides alike. The fidelity figure is the ratio of the two sides' medians over the rounds (the
median of per-round ratios is printed beside it); stability is the CV of the edgebench medians across
rounds, with the bare loop's CV beside it. This process never imports TensorFlow: models are built (once,
cached under ``work/perf/``) in a child process.

    python -m perf.perf_timing [--rounds 5] [--min-secs 3] [--models-dir work/perf]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.console import stdout_console
from common import process

MODELS = {"float": "mobilenet_float", "int8": "mobilenet_int8"}
DELEGATES = ("cpu", "xnnpack")
THREADS = (1, 2)
FIDELITY_TOLERANCE = 0.02
STABILITY_MAX_CV = 0.03
_BUILD_TIMEOUT_SECS = 900
_CLI_TIMEOUT_SECS = 600


@dataclass
class Config:
    """One model x delegate x threads, with what each round measured."""

    kind: str
    path: Path
    delegate: str
    threads: int
    bare_ms: list[float] = field(default_factory=list)
    edgebench_ms: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Median edgebench / median bare loop, each over the rounds: the fidelity figure.

        Robust to a round where one side alone hit a slow window; on this 2-vCPU machine 2-thread windows
        of a few seconds sometimes run at 1-thread speed in both loops (the second vCPU is elsewhere).
        """
        return statistics.median(self.edgebench_ms) / statistics.median(self.bare_ms)

    @property
    def paired_ratio(self) -> float:
        """Median of the per-round edgebench / bare ratios (cancels slow drift, not short bursts)."""
        return statistics.median(e / b for e, b in zip(self.edgebench_ms, self.bare_ms, strict=True))

    @property
    def cv(self) -> float:
        """Coefficient of variation of the edgebench medians across rounds."""
        return _cv(self.edgebench_ms)

    @property
    def bare_cv(self) -> float:
        """The same for the bare loop: what the machine itself allows."""
        return _cv(self.bare_ms)


def _cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values)


def ensure_models(directory: Path) -> dict[str, Path]:
    """The float and int8 models, built in a child process (TensorFlow stays out of this one)."""
    wanted = {kind: directory / f"{name}.tflite" for kind, name in MODELS.items()}
    if not all(path.exists() for path in wanted.values()):
        print(f"building {', '.join(MODELS.values())} into {directory} (once) ...", file=sys.stderr)
        argv = [sys.executable, "-m", "tests.fixtures.timing_models", str(directory), *MODELS.values()]
        process.run(argv, timeout=_BUILD_TIMEOUT_SECS)
    return wanted


def bare_median(config: Config, args: argparse.Namespace) -> float:
    """The reference: a plain invoke() loop in this process, same interpreter options and settings."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = (
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        if config.delegate == "cpu"
        else OpResolverType.BUILTIN
    )
    interpreter = Interpreter(
        model_path=str(config.path), num_threads=config.threads, experimental_op_resolver_type=kind
    )
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            value = rng.uniform(-1, 1, detail["shape"]).astype(dtype)
        else:
            value = rng.integers(
                np.iinfo(dtype).min, np.iinfo(dtype).max, detail["shape"], endpoint=True
            ).astype(dtype)
        interpreter.set_tensor(detail["index"], value)
    _loop(interpreter, args.warmup, args.warmup_secs)
    return statistics.median(_loop(interpreter, args.runs, args.min_secs))


def _loop(interpreter, runs: int, secs: float) -> list[float]:
    samples = []
    start = time.perf_counter()
    while len(samples) < runs or time.perf_counter() - start < secs:
        began = time.perf_counter()
        interpreter.invoke()
        samples.append((time.perf_counter() - began) * 1000.0)
    return samples


def edgebench_median(config: Config, args: argparse.Namespace, store: Path) -> float:
    """The median the real ``edgebench time`` command reports (and stores) for this configuration."""
    script = Path(sys.executable).with_name("edgebench")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bench.cli"]
    command += ["time", str(config.path), "--delegate", config.delegate, "--threads", str(config.threads)]
    command += ["--warmup", str(args.warmup), "--warmup-secs", str(args.warmup_secs)]
    command += ["--runs", str(args.runs), "--min-secs", str(args.min_secs), "--store", str(store), "--json"]
    records = json.loads(process.run(command, timeout=_CLI_TIMEOUT_SECS).stdout)
    if records[0]["status"] != "ok":
        raise SystemExit(f"edgebench time failed on {config.path.name}: {records[0]['error']}")
    return records[0]["timing"]["median_ms"]


def measure(configs: list[Config], args: argparse.Namespace, store: Path, console: Console) -> None:
    """Each round: every configuration once each way, alternating which side goes first."""
    for round_index in range(args.rounds):
        for index, config in enumerate(configs):
            bare_first = (round_index + index) % 2 == 0
            if bare_first:
                config.bare_ms.append(bare_median(config, args))
            config.edgebench_ms.append(edgebench_median(config, args, store))
            if not bare_first:
                config.bare_ms.append(bare_median(config, args))
            console.print(
                f"round {round_index + 1}/{args.rounds} {config.kind} {config.delegate} x{config.threads}: "
                f"bare {config.bare_ms[-1]:.3f} ms, edgebench {config.edgebench_ms[-1]:.3f} ms"
            )


def report(configs: list[Config], console: Console) -> bool:
    """Print the table and the PASS/FAIL lines; True when both checks pass."""
    table = Table(
        "model",
        "delegate",
        "threads",
        "bare ms",
        "edgebench ms",
        "ratio",
        "paired ratio",
        "CV of medians",
        "bare CV",
        "fidelity",
        "stability",
    )
    for config in configs:
        fidelity_ok = abs(config.ratio - 1) <= FIDELITY_TOLERANCE
        stable = config.cv <= STABILITY_MAX_CV
        table.add_row(
            config.kind,
            config.delegate,
            str(config.threads),
            f"{statistics.median(config.bare_ms):.3f}",
            f"{statistics.median(config.edgebench_ms):.3f}",
            f"{config.ratio:.4f}",
            f"{config.paired_ratio:.4f}",
            f"{config.cv:.2%}",
            f"{config.bare_cv:.2%}",
            "ok" if fidelity_ok else "OUT",
            "ok" if stable else "OUT",
        )
    console.print(table)
    for kind in MODELS:
        for threads in THREADS:
            cpu, xnnpack = (
                statistics.median(c.edgebench_ms)
                for delegate in DELEGATES
                for c in configs
                if (c.kind, c.delegate, c.threads) == (kind, delegate, threads)
            )
            console.print(
                f"{kind} x{threads}: xnnpack is {cpu / xnnpack:.1f}x faster than the plain cpu kernels"
            )
    worst_ratio = max(configs, key=lambda c: abs(c.ratio - 1))
    worst_cv = max(configs, key=lambda c: c.cv)
    fidelity = abs(worst_ratio.ratio - 1) <= FIDELITY_TOLERANCE
    stability = worst_cv.cv <= STABILITY_MAX_CV
    console.print(
        f"{'PASS' if fidelity else 'FAIL'} fidelity: every edgebench/bare median ratio within "
        f"{FIDELITY_TOLERANCE:.0%} (worst {worst_ratio.ratio:.4f}: {worst_ratio.kind} {worst_ratio.delegate} "
        f"x{worst_ratio.threads})"
    )
    console.print(
        f"{'PASS' if stability else 'FAIL'} stability: CV of {len(worst_cv.edgebench_ms)} edgebench "
        f"medians at most {STABILITY_MAX_CV:.0%} (worst {worst_cv.cv:.2%}: {worst_cv.kind} "
        f"{worst_cv.delegate} x{worst_cv.threads})"
    )
    noisy = [c for c in configs if c.cv > STABILITY_MAX_CV and c.bare_cv > STABILITY_MAX_CV]
    for config in noisy:
        console.print(
            f"note: {config.kind} {config.delegate} x{config.threads} varies as much in the bare loop "
            f"(CV {config.bare_cv:.2%}): the machine, not the measurement"
        )
    return fidelity and stability


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fidelity and stability of `edgebench time`.")
    parser.add_argument("--rounds", type=int, default=5, help="times each configuration is measured each way")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--warmup-secs", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--min-secs", type=float, default=3.0)  # 1 s windows: CV up to 18% at 1 thread
    parser.add_argument("--models-dir", type=Path, default=Path("work/perf"))
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error(f"--rounds: at least 2 are needed for a coefficient of variation; got {args.rounds}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = stdout_console()
    models = ensure_models(args.models_dir)
    console.print(f"load average before: {_load()} (2% / 3% need an otherwise idle machine)")
    configs = [Config(k, p, d, t) for k, p in models.items() for t in THREADS for d in DELEGATES]
    with tempfile.TemporaryDirectory(prefix="edgebench-perf-") as scratch:
        measure(configs, args, Path(scratch) / "perf.sqlite", console)
    console.print(f"load average after: {_load()}")
    return 0 if report(configs, console) else 1


def _load() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
