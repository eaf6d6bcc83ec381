"""``edgebench dataset``: make the synthetic detection set, or check a COCO-format dataset.

    edgebench dataset synth --out DIR [--seed S] [--train N] [--val N] [--size PX] [--format jpeg|png]
    edgebench dataset check PATH [--deep] [--json]

``check`` takes an instances JSON, a split folder holding ``instances.json``, or a dataset root whose
subfolders are splits (as ``synth`` writes them); a broken dataset ends in one line naming the file and
the problem (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.data.coco import INSTANCES_FILE, CocoDataset, load_coco
from bench.data.synthetic import SPLITS, SynthConfig, generate_synthetic
from common.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``dataset`` subcommand and its ``synth`` and ``check`` actions."""
    parser = subparsers.add_parser(
        "dataset",
        help="generate the synthetic detection set, or validate a COCO-format dataset",
        description="Generate the synthetic shapes dataset (COCO format), or validate a dataset.",
    )
    actions = parser.add_subparsers(
        dest="dataset_command", metavar="{synth,check}", required=True, parser_class=type(parser)
    )
    synth = actions.add_parser("synth", help="write the synthetic shapes dataset (train and val splits)")
    defaults = SynthConfig()
    synth.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (new, empty, or same config)"
    )
    synth.add_argument("--seed", type=int, default=defaults.seed, help=f"seed (default {defaults.seed})")
    synth.add_argument("--train", type=int, default=defaults.train, help=f"train images ({defaults.train})")
    synth.add_argument("--val", type=int, default=defaults.val, help=f"val images ({defaults.val})")
    synth.add_argument("--size", type=int, default=defaults.size, help=f"image side in px ({defaults.size})")
    synth.add_argument(
        "--format", default=defaults.image_format, choices=("jpeg", "png"), help="image format"
    )
    synth.add_argument("--workers", type=int, metavar="N", help="processes (default: every core)")
    check = actions.add_parser("check", help="validate a COCO-format dataset and print its counts")
    check.add_argument("path", metavar="PATH", help="instances JSON, split folder, or dataset root")
    check.add_argument("--deep", action="store_true", help="also open every image and compare its size")
    check.add_argument("--json", action="store_true", help="print the counts as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``dataset synth`` or ``dataset check``."""
    if args.dataset_command == "synth":
        return _synth(args)
    return _check(args)


def _synth(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers: expected a positive integer; got {args.workers}")
    config = SynthConfig(
        seed=args.seed, train=args.train, val=args.val, size=args.size, image_format=args.format
    )
    start = time.perf_counter()
    out = generate_synthetic(args.out, config, workers=args.workers)
    seconds = time.perf_counter() - start
    for split in SPLITS:
        dataset = load_coco(out / split)
        print(f"{split}: {summary_line(dataset)}")
    print(f"wrote {out} (cache key {config.cache_key()}) in {seconds:.1f} s")
    return 0


def find_splits(path: str | Path) -> list[Path]:
    """The instances JSON files PATH names: itself, the one in a split folder, or one per split folder."""
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / INSTANCES_FILE).is_file():
        return [path / INSTANCES_FILE]
    found = (
        sorted(p / INSTANCES_FILE for p in path.iterdir() if (p / INSTANCES_FILE).is_file())
        if path.is_dir()
        else []
    )
    if not found:
        raise InputError(
            f"{path}: no COCO dataset here (expected an instances JSON, a folder holding {INSTANCES_FILE}, "
            f"or a folder of split folders each holding {INSTANCES_FILE})"
        )
    return found


def counts(dataset: CocoDataset) -> dict:
    """What ``check`` reports for one split."""
    crowd = sum(int(r.iscrowd.sum()) for r in dataset.records)
    per_class = dataset.class_counts(include_crowd=True)
    return {
        "annotations": str(dataset.annotations_path),
        "dataset_id": dataset.dataset_id,
        "images": len(dataset.records),
        "images_without_boxes": sum(1 for r in dataset.records if len(r.classes) == 0),
        "boxes": int(per_class.sum()),
        "crowd_boxes": crowd,
        "categories": {
            f"{c.id}:{c.name}": int(n) for c, n in zip(dataset.categories, per_class, strict=True)
        },
    }


def summary_line(dataset: CocoDataset) -> str:
    """One line: images, boxes, crowd boxes, empty images, categories."""
    c = counts(dataset)
    return (
        f"{c['images']} images, {c['boxes']} boxes ({c['crowd_boxes']} crowd), "
        f"{c['images_without_boxes']} images without boxes, {len(c['categories'])} categories"
    )


def _check(args: argparse.Namespace) -> int:
    reports = []
    for instances in find_splits(args.path):
        dataset = load_coco(instances, check_image_sizes=args.deep)
        reports.append((dataset, counts(dataset)))
    if args.json:
        sys.stdout.write(json.dumps([c for _, c in reports], indent=2) + "\n")
        return 0
    for dataset, c in reports:
        print(f"{dataset.annotations_path}: ok, {dataset.dataset_id}")
        print(f"  {summary_line(dataset)}")
        print("  " + ", ".join(f"{name} {n}" for name, n in c["categories"].items()))
    return 0
