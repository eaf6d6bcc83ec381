"""tools/calibrate_training.py, the learning-curve tool of docs/mobiledet.md: a tiny run end to end."""

from __future__ import annotations

# isort: off
import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: on
import csv
import json

import pytest
import tf_keras as keras

from bench.models.registry import build_model, get_config


@pytest.fixture(autouse=True)
def _fresh_keras():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def test_block_groups_cover_every_variable_by_stride():
    from tools.calibrate_training import block_groups

    config = get_config("tiny_ssdlite_mobiledet_cpu")
    model = build_model(config)
    groups = block_groups(model, config.input_size)
    assert set(groups) == {v.name for v in model.trainable_variables}
    stages = {"stem", "s2", "s4", "s8", "s16", "s32"}
    assert set(groups.values()) == stages | {"extras", "head_box", "head_class"}
    # Squeeze-excite convs (1 x 1 outputs) go with their block: block 19 is C5's, at stride 32.
    se = [name for name in groups if "block19_se" in name]
    assert se and {groups[name] for name in se} == {"s32"}


@pytest.mark.slow
def test_a_tiny_run_writes_the_curve_with_gradient_norms(tmp_path, capsys):
    """Four steps of the tiny MobileDet, a point every two: keras mAP mid-run, the exported fp32 TFLite at
    the end, gradient norms per block group, seconds per step, the ablation flags in every row; then the
    pruned recipe with its own fine-tune (its learning rate passed through the timed loop), scored."""
    from tools.calibrate_training import main

    out_csv, out_jsonl = tmp_path / "curve.csv", tmp_path / "curve.jsonl"
    flags = {
        "variant": "tiny_ssdlite_mobiledet_cpu",
        "input-size": 96,
        "width": 0.25,
        "steps": 4,
        "eval-every": 2,
        "batch-size": 4,
        "warmup": 1,
        "train-images": 8,
        "val-images": 4,
        "image-size": 96,
        "eval-images": 4,
        "eval-with": "keras",
        "threads": 2,
        "bn-epsilon": 0.001,
        "depthwise-init": "fan_in_all",
    }
    argv = [part for key, value in flags.items() for part in (f"--{key}", str(value))] + ["--grad-norms"]
    argv += ["--out", str(tmp_path / "run"), "--cache", str(tmp_path / "data")]
    argv += ["--csv", str(out_csv), "--jsonl", str(out_jsonl)]
    argv += ["--recipes", "tflite_int8_pruned", "--finetune-steps", "2"]
    assert main(argv) == 0
    recipe_rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"recipe"' in line]
    assert [(r["recipe"], r["finetune_steps"]) for r in recipe_rows] == [("tflite_int8_pruned", 2)]
    assert recipe_rows[0]["finetune_wall_s"] >= 0 and 0 <= recipe_rows[0]["map"] <= 1
    rows = list(csv.DictReader(out_csv.open()))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert [r["evaluated"] for r in rows] == ["keras", "tflite"]
    for row in rows:
        assert float(row["s_per_step"]) > 0 and 0 <= float(row["map"]) <= 1
        assert row["bn_epsilon"] == "0.001" and row["depthwise_init"] == "fan_in_all"
        for group in ("stem", "s16", "s32", "extras", "head_box", "head_class"):
            assert float(row[f"gn_{group}"]) > 0 and float(row[f"wn_{group}"]) > 0
    assert len(out_jsonl.read_text().splitlines()) == 2
    assert json.loads(out_jsonl.read_text().splitlines()[-1])["step"] == 4
