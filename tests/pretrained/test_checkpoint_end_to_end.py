"""A published-checkpoint run end to end, with a generated OD API checkpoint (nothing downloaded):
``edgebench train --init checkpoint:DIR --steps 0`` on a COCO-format dataset whose categories are COCO
names, then export to fp32 TFLite and COCO evaluation; the ``coco`` plan's dry run; bad checkpoints end
in one line, exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.data.synthetic import generate_synthetic
from bench.models.pretrained.od_api_table import checkpoint_table
from bench.models.registry import get_config
from bench.plans import PLANS_DIR
from tests.odapi.conftest import random_tensors, write_tf1_checkpoint
from tests.pretrained.conftest import TINY_DATA
from tests.pretrained.test_init_plans import checkpoint_folders

VARIANT = "ssdlite_mobilenet_v3_small"
ZOO_FOLDER = "ssd_mobilenet_v3_small_coco_2020_01_14"
# The synthetic set's 8 categories renamed to COCO names, in an order that is not COCO's id order.
COCO_NAMED = ("dog", "person", "toothbrush", "car", "book", "cat", "bus", "kite")


@pytest.fixture(scope="module")
def coco_named(tmp_path_factory) -> Path:
    """A tiny COCO-format dataset (train/ and val/) whose categories carry COCO names."""
    root = generate_synthetic(tmp_path_factory.mktemp("named") / "data", TINY_DATA, workers=1)
    for split in ("train", "val"):
        path = root / split / "instances.json"
        document = json.loads(path.read_text())
        for category, name in zip(document["categories"], COCO_NAMED, strict=True):
            category["name"] = name
        path.write_text(json.dumps(document))
    return root


@pytest.fixture(scope="module")
def zoo_checkpoint(tmp_path_factory) -> Path:
    """An unpacked model-zoo folder holding a checkpoint with the OD API's names and shapes."""
    folder = tmp_path_factory.mktemp("zoo") / ZOO_FOLDER
    folder.mkdir()
    write_tf1_checkpoint(folder / "model.ckpt", random_tensors(checkpoint_table(get_config(VARIANT))))
    return folder


def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_train_export_evaluate_from_a_checkpoint(capsys, tmp_path, coco_named, zoo_checkpoint):
    work, exported = tmp_path / "work", tmp_path / "export"
    argv = ["train", "--variant", VARIANT, "--data", str(coco_named), "--out", str(work), "--no-progress"]
    argv += ["--init", f"checkpoint:{zoo_checkpoint}", "--steps", "0", "--input-size", "128"]
    code, out, err = _cli(capsys, [*argv, "--width", "1.0", "--evaluate"])
    assert code == 0, err
    init = [line.removeprefix("init: ") for line in out.splitlines() if line.startswith("init: ")]
    assert init[0] == f"checkpoint {zoo_checkpoint / 'model.ckpt'} into {VARIANT}: 350 tensors"
    head = "class head: 42 tensors, by name: 8 of 8 classes (and the background) from the checkpoint's"
    assert f"{head} COCO slots" in init
    assert "anchors: input size: checkpoint trained at 320x320, model built at 128x128" in init
    assert any(line.startswith("val: ") and "map" in line for line in out.splitlines())

    weights = work / "final.weights.h5"
    argv = ["export", "--variant", VARIANT, "--checkpoint", str(weights), "--recipe", "tflite_fp32"]
    code, out, err = _cli(capsys, [*argv, "--out", str(exported), "--no-metadata"])
    assert code == 0, err
    (model,) = exported.rglob("*.tflite")
    val = coco_named / "val" / "instances.json"
    code, out, err = _cli(capsys, ["evaluate", "--annotations", str(val), "--model", str(model), "--json"])
    assert code == 0, err
    metrics = json.loads(out)
    assert 0.0 <= metrics["map"] <= 1.0 and metrics["num_images"] == TINY_DATA.val


def test_checkpoint_of_another_variant_exit_2(capsys, tmp_path, coco_named, zoo_checkpoint):
    argv = ["train", "--variant", "ssdlite_mobilenet_v2", "--data", str(coco_named)]
    argv += ["--out", str(tmp_path / "o"), "--width", "1.0", "--init", f"checkpoint:{zoo_checkpoint}"]
    code, out, err = _cli(capsys, argv)
    assert code == 2 and err.count("\n") == 1 and out == ""
    assert f"checkpoint {zoo_checkpoint / 'model.ckpt'}: " in err and "ssdlite_mobilenet_v2 layout" in err
    assert not (tmp_path / "o").exists()


def test_missing_checkpoint_exit_2(capsys, tmp_path, coco_named):
    argv = ["train", "--variant", VARIANT, "--data", str(coco_named), "--out", str(tmp_path / "o")]
    code, out, err = _cli(capsys, [*argv, "--init", f"checkpoint:{tmp_path / 'nowhere'}"])
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err and out == ""


def test_coco_plan_dry_run_lists_every_stage(capsys, tmp_path, monkeypatch, coco_named):
    coco = tmp_path / "coco"
    (coco / "annotations").mkdir(parents=True)
    for split, official in (("train", "train2017"), ("val", "val2017")):
        shutil.copy(
            coco_named / split / "instances.json", coco / "annotations" / f"instances_{official}.json"
        )
        shutil.copytree(coco_named / split / "images", coco / official)
    names = checkpoint_folders(tmp_path / "zoo", PLANS_DIR / "coco.yaml")
    monkeypatch.setenv("EDGEBENCH_OD_API_CHECKPOINTS", str(tmp_path / "zoo"))
    monkeypatch.setenv("EDGEBENCH_COCO", str(coco))
    argv = ["benchmark", "--plan", "coco", "--dry-run", "--workdir", str(tmp_path / "w")]
    code, out, err = _cli(capsys, [*argv, "--store", str(tmp_path / "s.db")])
    assert code == 0, err
    text = out + err
    rows = [line.split("│")[1:3] for line in text.splitlines() if line.startswith("│ ")]
    stages = {stage.strip() for stage, _ in rows}
    assert {"dataset", "train", "export", "evaluate", "time"} <= stages
    trained = [item.strip() for stage, item in rows if stage.strip() == "train"]
    assert len(names) == 8 and len(trained) == 8 and "ssd_mobilenet_v2@300xdefault" in trained


@pytest.mark.slow
def test_pipeline_builds_the_tf2_checkpoint_layout_everywhere(tmp_path, coco_named):
    """The TF2 zoo checkpoint (regular extras, 1x1 heads) through the real pipeline: the layout reaches
    training, export, evaluation and the record's ModelInfo."""
    import tf_keras as keras

    from bench.models.complexity import count_complexity
    from bench.models.pretrained.od_api import config_for_checkpoint
    from bench.models.pretrained.od_api_tf2_table import tf2_checkpoint_table
    from bench.models.registry import build_model
    from bench.pipeline import Options, run_benchmark
    from bench.plans import parse_plan
    from results.schema import Status
    from tests.odapi.conftest import write_object_checkpoint

    folder = tmp_path / "ssd_mobilenet_v2_320x320_coco17_tpu-8"
    base = get_config("ssd_mobilenet_v2", input_size=128, num_classes=len(COCO_NAMED))
    layout = base.replace(depthwise_extras=False, head_kernel=1)
    write_object_checkpoint(folder / "checkpoint" / "ckpt-0", random_tensors(tf2_checkpoint_table(layout)))
    assert config_for_checkpoint(base, folder) == layout
    expected_params = count_complexity(build_model(layout)).params_bn_folded
    keras.backend.clear_session()
    plan = parse_plan(
        {
            "name": "tf2",
            "dataset": {"coco": {"train": str(coco_named / "train"), "val": str(coco_named / "val")}},
            "variants": [{"name": "ssd_mobilenet_v2", "input_size": 128}],
            "training": {"steps": 0, "init": {"checkpoint": str(folder)}},
            "recipes": ["tflite_fp32"],
            "targets": [{"name": "host", "runner": "host", "delegates": ["cpu"], "threads": [1]}],
            "timing": {"min_runs": 2, "min_secs": 0.0},
        },
        "tf2",
    )
    outcome = run_benchmark(plan, Options(workdir=tmp_path / "w", store=str(tmp_path / "s.db"), quiet=True))
    (record,) = outcome.records
    assert record.status is Status.OK, record.error
    assert record.model.params == expected_params and record.model.input_size == 128
    assert record.accuracy is not None and 0.0 <= record.accuracy.map <= 1.0
    (init,) = (tmp_path / "w").rglob("init.json")
    lines = json.loads(init.read_text())["lines"]
    assert any(line.startswith("class head: ") and "by name: 8 of 8 classes" in line for line in lines)


def test_export_rebuilds_the_checkpoint_layout_from_run_json(tmp_path):
    import dataclasses

    from bench.commands.export import _trained_shape

    trained = get_config("ssd_mobilenet_v2", input_size=128, num_classes=8)
    trained = trained.replace(depthwise_extras=False, head_kernel=1)
    run = {"model": dataclasses.asdict(trained)}
    (tmp_path / "run.json").write_text(json.dumps(run, default=str))
    (tmp_path / "final.weights.h5").write_bytes(b"")  # only its run.json is read here
    shape = _trained_shape(str(tmp_path / "final.weights.h5"), "ssd_mobilenet_v2")
    assert get_config("ssd_mobilenet_v2").replace(**shape) == trained
