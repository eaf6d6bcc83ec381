"""``edgebench export``: bad input ends in one line and exit 2; the tiny zoo variants export (slow)."""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from converters.checks import coreml_weight_ops, tflite_conv_types

TINY = "tiny_ssdlite_mobilenet_v2"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["export", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--variant", "no_such", "--checkpoint", "none", "--recipe", "tflite_fp32"], "no_such"),
        (["--variant", TINY, "--checkpoint", "none", "--recipe", "tflite_int4"], "tflite_int4"),
        (["--variant", TINY, "--checkpoint", "model.ckpt", "--recipe", "tflite_fp32"], ".weights.h5"),
        (
            ["--variant", TINY, "--checkpoint", "missing.weights.h5", "--recipe", "tflite_fp32"],
            "no such file",
        ),
        (
            ["--variant", TINY, "--checkpoint", "none", "--recipe", "tflite_fp32", "--data", "no/such/dir"],
            "does not exist",
        ),
        (
            ["--variant", TINY, "--checkpoint", "none", "--recipe", "tflite_fp32", "--finetune-steps", "0"],
            "--finetune-steps: input should be greater than or equal to 1; got 0",
        ),
        (
            ["--variant", TINY, "--checkpoint", "none", "--recipe", "tflite_fp32", "--iou-threshold", "0"],
            "--iou-threshold",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    code, out, err = _run(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_tiny_zoo_variant_exports_every_recipe(capsys, tmp_path):
    """All nine recipes on a tiny zoo variant, through the CLI, with a weights file from the zoo model."""
    import tf_keras as keras
    from tiny_zoo import DATA

    from bench.data.synthetic import generate_synthetic
    from bench.models.registry import build_model, get_config

    data = generate_synthetic(tmp_path / "data", DATA, workers=1)
    keras.utils.set_random_seed(1)
    # As the training stage writes them today: legacy HDF5 weights under a .weights.h5 name.
    legacy = tmp_path / "tiny.h5"
    build_model(get_config(TINY, num_classes=8)).save_weights(str(legacy))
    weights = legacy.rename(tmp_path / "tiny.weights.h5")
    recipes = "tflite_fp32,tflite_fp16,tflite_dynamic_int8,tflite_int8,tflite_int8_qat,tflite_int8_pruned"
    recipes += ",coreml_fp16,coreml_w8,coreml_palettized4"
    code, out, err = _run(
        capsys,
        "--variant",
        TINY,
        "--checkpoint",
        str(weights),
        "--recipe",
        recipes,
        "--out",
        str(tmp_path),
        "--data",
        str(data),
        "--calibration-count",
        "4",
        "--finetune-steps",
        "2",
        "--finetune-batch-size",
        "4",
        "--no-metadata",
    )
    assert code == 0, err
    assert len(out.strip().splitlines()) == 9
    sidecars = {p.name.split(".")[1]: json.loads(p.read_text()) for p in tmp_path.glob("*.artifact.json")}
    assert set(sidecars) == set(recipes.split(","))
    assert sidecars["tflite_int8"]["settings"]["labels"][:3] == ["circle", "square", "triangle"]
    for name in ("tflite_int8", "tflite_int8_qat", "tflite_int8_pruned"):
        convs = tflite_conv_types(tmp_path / f"{TINY}.{name}.tflite")
        assert {(inp, w) for (_, inp, w) in convs} == {("int8", "int8")}, name
    stats = sidecars["tflite_int8_pruned"]["recipe_stats"]
    # tfmot prunes conv kernels, not depthwise ones: exactly 50% of the former, less over all kernels.
    assert stats["pruned_weight_sparsity"] >= 0.499 and 0.3 < stats["kernel_sparsity"] < 0.5
    ops = {op["op"] for op in coreml_weight_ops(tmp_path / f"{TINY}.coreml_palettized4.mlpackage")}
    assert "constexpr_lut_to_dense" in ops


@pytest.mark.slow
def test_tiny_mobilenet_v3_goes_through_qat_with_the_zoo_quantize_scope(capsys, tmp_path):
    """V3's hard-swish layers are annotated for tfmot; the zoo's quantize scope must reach quantize_model."""
    from tiny_zoo import DATA

    from bench.data.synthetic import generate_synthetic

    code, out, err = _run(
        capsys,
        "--variant",
        "tiny_ssdlite_mobilenet_v3_small",
        "--checkpoint",
        "none",
        "--recipe",
        "tflite_int8_qat",
        "--out",
        str(tmp_path),
        "--data",
        str(generate_synthetic(tmp_path / "data", DATA, workers=1)),
        "--calibration-count",
        "2",
        "--finetune-steps",
        "1",
        "--finetune-batch-size",
        "4",
        "--no-metadata",
    )
    assert code == 0, err
    convs = tflite_conv_types(tmp_path / "tiny_ssdlite_mobilenet_v3_small.tflite_int8_qat.tflite")
    assert {inp for (_, inp, _) in convs} == {"int8"}
