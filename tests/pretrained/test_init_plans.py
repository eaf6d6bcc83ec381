"""The pretrained plans validate: coco.yaml (the published detectors on COCO val2017) and the fine-tuning
example; a missing checkpoint or an unset variable stops with one line naming the key and the path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.plans import PLANS_DIR, load_plan
from common.errors import InputError
from converters.recipes import recipe_names

EXAMPLE = Path(__file__).parents[2] / "examples" / "finetune_coco_format.yaml"


def checkpoint_folders(root: Path, plan_path: Path) -> list[str]:
    """Fake unpacked model-zoo archives for every checkpoint the plan names (index + data files)."""
    names = []
    for variant in yaml.safe_load(plan_path.read_text())["variants"]:
        init = variant.get("train", {}).get("init")
        if isinstance(init, dict) and "checkpoint" in init:
            folder = root / init["checkpoint"].removeprefix("$EDGEBENCH_OD_API_CHECKPOINTS/")
            folder.mkdir(parents=True)
            (folder / "model.ckpt.index").write_bytes(b"i")
            (folder / "model.ckpt.data-00000-of-00001").write_bytes(b"d")
            names.append(folder.name)
    return names


def test_coco_plan(tmp_path, monkeypatch):
    names = checkpoint_folders(tmp_path, PLANS_DIR / "coco.yaml")
    monkeypatch.setenv("EDGEBENCH_OD_API_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("EDGEBENCH_COCO", "/data/coco")
    plan = load_plan("coco")
    assert "ssdlite_mobilenet_v2_coco_2018_05_09" in names and len(names) == len(plan.variants) == 8
    assert all(
        v.train["init"]["checkpoint"].startswith("$EDGEBENCH_OD_API_CHECKPOINTS/") for v in plan.variants
    )
    assert plan.training.steps == 0  # evaluated as published
    assert [r.name for r in plan.recipes] == recipe_names()
    assert plan.dataset.coco.val == Path("/data/coco/annotations/instances_val2017.json")
    assert {t.runner for t in plan.targets} == {"host", "adb", "coreml_mac"}


def test_coco_plan_without_the_variable_or_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEBENCH_OD_API_CHECKPOINTS", raising=False)
    with pytest.raises(InputError, match=r"variants\[0\].train.init: .*set the environment variable"):
        load_plan("coco")
    checkpoint_folders(tmp_path, PLANS_DIR / "coco.yaml")
    missing = tmp_path / "ssdlite_mobilenet_v2_coco_2018_05_09"
    for file in missing.iterdir():
        file.unlink()
    monkeypatch.setenv("EDGEBENCH_OD_API_CHECKPOINTS", str(tmp_path))
    with pytest.raises(InputError, match=rf"variants\[2\].train.init: checkpoint {missing} does not exist"):
        load_plan("coco")


def test_finetune_example(tmp_path, monkeypatch):
    checkpoint_folders(tmp_path, EXAMPLE)
    monkeypatch.setenv("EDGEBENCH_OD_API_CHECKPOINTS", str(tmp_path))
    plan = load_plan(EXAMPLE)
    assert plan.variants[0].train["freeze_backbone_steps"] == 200
    assert plan.variants[1].train["init"] == "imagenet"
    assert plan.dataset.coco.train == Path("data/finetune/train")


def test_default_benchmark_plan_stays_synthetic_from_scratch():
    plan = load_plan("quick")
    assert plan.dataset.synthetic is not None and plan.training.init.kind.value == "scratch"
    assert all("init" not in v.train for v in plan.variants)
