"""The synthetic dataset: deterministic by seed, valid by our own loader, varied, atomic and cached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from bench.data import synthetic
from bench.data.coco import load_coco
from bench.data.synth_draw import SHAPES
from bench.data.synthetic import CATEGORY_IDS, SynthConfig, generate_synthetic, synthetic_cached
from common.errors import InputError

SMALL = SynthConfig(seed=3, train=10, val=6, size=96)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = tree_digest(generate_synthetic(tmp_path / "a", SMALL, workers=1))
    again = tree_digest(generate_synthetic(tmp_path / "b", SMALL, workers=1))
    other = tree_digest(generate_synthetic(tmp_path / "c", SynthConfig(seed=4, train=10, val=6, size=96)))

    assert first == again
    assert len(first) == 10 + 6 + 3  # images, two instances.json, the manifest
    shared = [k for k in first if k != "synth.json"]
    assert all(first[k] != other[k] for k in shared)


def test_process_pool_writes_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_POOL_MIN_IMAGES", 4)
    config = SynthConfig(seed=1, train=64, val=0, size=64, image_format="png")
    serial = tree_digest(generate_synthetic(tmp_path / "serial", config, workers=1))
    pooled = tree_digest(generate_synthetic(tmp_path / "pooled", config, workers=2))
    assert serial == pooled


def test_validates_and_is_varied(tmp_path):
    config = SynthConfig(seed=0, train=0, val=160, size=256)
    root = generate_synthetic(tmp_path / "synth", config, workers=1)
    dataset = load_coco(root / "val", check_image_sizes=True)
    document = json.loads((root / "val" / "instances.json").read_text())

    assert dataset.category_ids == CATEGORY_IDS and dataset.class_names == SHAPES
    assert dataset.category_ids != tuple(range(1, len(SHAPES) + 1))  # non-contiguous on purpose
    counts = dataset.class_counts(include_crowd=True)
    assert counts.sum() > 400
    # Classes are drawn uniformly: every class within 40% of the mean.
    assert counts.min() > 0.6 * counts.mean() and counts.max() < 1.4 * counts.mean()
    areas = np.array([a["area"] for a in document["annotations"]])
    small, large = np.mean(areas < 32**2), np.mean(areas >= 96**2)
    assert 0.15 < small < 0.5 and 0.1 < large < 0.4 and 0.25 < 1 - small - large < 0.7
    crowd = np.mean([a["iscrowd"] for a in document["annotations"]])
    assert 0.0 < crowd < 0.15  # heavily occluded shapes become ignore regions
    empty = sum(len(r.classes) == 0 for r in dataset.records)
    assert 0 < empty < 0.15 * len(dataset.records)
    per_image = [len(r.classes) for r in dataset.records]
    assert max(per_image) >= 7


def test_cached_atomic_and_refuses_foreign_folders(tmp_path, monkeypatch):
    root = synthetic_cached(tmp_path / "cache", SMALL)
    assert root.name == f"synth-{SMALL.cache_key()}"
    stamp = (root / "synth.json").stat().st_mtime_ns

    def boom(job):
        raise AssertionError("a cached dataset must not be re-rendered")

    monkeypatch.setattr(synthetic, "_render_one", boom)
    assert synthetic_cached(tmp_path / "cache", SMALL) == root
    assert (root / "synth.json").stat().st_mtime_ns == stamp

    with pytest.raises(InputError, match="exists and does not hold synthetic dataset"):
        generate_synthetic(root, SynthConfig(seed=9, train=2, val=2, size=64))
    with pytest.raises(AssertionError):
        generate_synthetic(tmp_path / "fails", SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # nothing half-written left behind
    assert list((tmp_path / "cache").iterdir()) == [root]


def test_config_rejects_bad_values():
    with pytest.raises(InputError, match="size: expected an integer >= 32; got 8"):
        SynthConfig(size=8)
    with pytest.raises(InputError, match="image_format: got 'gif'; allowed: jpeg, png"):
        SynthConfig(image_format="gif")
    assert SynthConfig(seed=1).cache_key() != SynthConfig(seed=2).cache_key()


def test_cli_synth_then_check(tmp_path, cli):
    out = tmp_path / "ds"
    result = cli("dataset", "synth", "--out", out, "--seed", 5, "--train", 8, "--val", 4, "--size", 64)
    assert result.code == 0, result.err
    assert "train: 8 images" in result.out and "val: 4 images" in result.out

    check = cli("dataset", "check", out)
    assert check.code == 0, check.err
    assert check.out.count(": ok, ") == 2

    bad = cli("dataset", "synth", "--out", out, "--seed", 6, "--train", 8, "--val", 4, "--size", 64)
    assert bad.code == 2 and "exists and does not hold synthetic dataset" in bad.err
