"""Seconds per training step of each variant of a plan: what a plan's per-variant ``train: {steps: N}`` is
calibrated from, and what op determinism costs.

    python -m tools.calibrate_steps [--plan quick] [--steps 60] [--skip 15] [--minutes 4]
        [--modes deterministic,fast] [--only ssdlite_mobilenet_v2] [--jsonl FILE]

Each (variant, mode) trains in a fresh process with the plan's own training settings (batch, lr, ...) on
the plan's synthetic data (fewer training images: the speed of a step does not depend on how many there
are), and times every step after the first ``--skip`` (tracing and warm-up). ``deterministic`` is how
``bench.training`` trains (op determinism on, tf.data in order); ``fast`` turns both off, to price
them; ``grappler`` keeps them and lets Grappler optimise the step's graph (bench turns it off for every
step), to price that.

The two cores of this machine may be shared, so every line gives the wall seconds per step, the process's
CPU seconds per step and the 1-minute load average; ``idle s/step`` estimates an idle machine as
``cpu / 2`` (the step keeps both cores busy when it has them) unless the wall time is smaller. The
suggested steps are ``--minutes`` of that estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, os, resource, sys, time
import bench
from pathlib import Path
from bench.data.coco import load_coco
from bench.data.synthetic import SynthConfig, synthetic_cached
from bench.pipeline.stages import model_config
from bench.pipeline.context import Data
from bench.pipeline.jobs import select
from bench.plans import load_plan, variant_label

plan_name, label, mode, steps, cache, out = sys.argv[1:7]
plan = load_plan(plan_name)
if mode == "fast":
    import bench.data.input_pipeline as pipeline
    import bench.training.trainer as trainer
    trainer.make_deterministic = lambda: None
    original = pipeline._map_args
    pipeline._map_args = lambda config: {**original(config), "deterministic": False}
if mode == "grappler":
    import contextlib
    import bench.training.steps as steps_module
    steps_module._grappler_off = contextlib.nullcontext
synthetic = plan.dataset.synthetic.model_dump()
synthetic.update(train=min(synthetic["train"], 256), val=8)
root = synthetic_cached(cache, SynthConfig(**synthetic))
split = load_coco(root / "train")
work = next(w for w in select(plan, None) if w.label == label)
class _Ctx:
    pass
ctx = _Ctx(); ctx.plan = plan
cfg = model_config(ctx, work, Data("x", split, split))
config = plan.train_config(work.spec).replace(steps=int(steps), max_minutes=None, checkpoint_every=10**6)
marks = []
def hook(step, losses):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    marks.append((step, time.perf_counter(), usage.ru_utime + usage.ru_stime, os.getloadavg()[0]))
from bench.training import train
train(cfg, split, config, out, progress=False, on_step=hook)
print("MARKS " + json.dumps(marks))
"""


def measure(plan: str, label: str, mode: str, steps: int, skip: int, cache: Path) -> dict:
    """Train ``steps`` steps of one variant in a fresh process; the per-step figures after ``skip``."""
    with tempfile.TemporaryDirectory(prefix="calibrate-steps-") as out:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, plan, label, mode, str(steps), str(cache), out],
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("MARKS ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{label} {mode}: the child failed:\n{done.stderr[-3000:]}")
    marks = json.loads(lines[-1].removeprefix("MARKS "))[skip:]
    walls = [b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False)]
    cpus = [b[2] - a[2] for a, b in zip(marks, marks[1:], strict=False)]
    wall = statistics.median(walls)
    cpu = statistics.median(cpus)
    return {
        "variant": label,
        "mode": mode,
        "steps_timed": len(walls),
        "wall_s_per_step": round(wall, 4),
        "cpu_s_per_step": round(cpu, 4),
        "idle_s_per_step": round(min(wall, cpu / 2), 4),
        "load_1min": round(statistics.mean(m[3] for m in marks), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="quick")
    parser.add_argument("--steps", type=int, default=60, help="steps per measurement (tracing included)")
    parser.add_argument("--skip", type=int, default=15, help="first steps left out (tracing, warm-up)")
    parser.add_argument("--minutes", type=float, default=4.0, help="training minutes to suggest steps for")
    parser.add_argument("--modes", default="deterministic", help="deterministic,fast,grappler")
    parser.add_argument("--only", default=None, help="comma-separated variant labels")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/edgebench-data"))
    parser.add_argument("--jsonl", type=Path, default=None)
    args = parser.parse_args(argv)

    import bench  # noqa: F401
    from bench.pipeline.jobs import select
    from bench.plans import load_plan

    labels = [w.label for w in select(load_plan(args.plan), None)]
    if args.only:
        labels = [label for label in labels if label in args.only.split(",")]
    for label in labels:
        for mode in args.modes.split(","):
            row = measure(args.plan, label, mode, args.steps, args.skip, args.cache)
            row["suggested_steps"] = int(round(args.minutes * 60 / row["idle_s_per_step"], -1))
            row["at"] = time.strftime("%H:%M:%S")
            print(json.dumps(row), flush=True)
            if args.jsonl:
                with args.jsonl.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
