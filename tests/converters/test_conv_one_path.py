"""One fine-tune and calibration path: ``edgebench export`` and the pipeline's export stage give the same
bytes for the same settings (both hand over through ``bench.pipeline.inputs.conversion_inputs``,
calibrate on the training split and fine-tune in bench's training loop)."""

from __future__ import annotations

import pytest
from tiny_zoo import DATA, TINY

from bench.cli import main
from bench.data.synthetic import generate_synthetic
from bench.plans import ExportSection, FinetuneSection

EXPORT = ExportSection(calibration_samples=4)
FINETUNE = FinetuneSection(batch_size=2)
CLI_FLAGS = [
    "--calibration-count",
    "4",
    "--finetune-batch-size",
    "2",
    "--finetune-steps",
    "2",
    "--no-metadata",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A synthetic dataset root and a weights file of the tiny variant with its 8 classes."""
    import tf_keras as keras

    from bench.models.registry import build_model, get_config

    root = tmp_path_factory.mktemp("one-path")
    data = generate_synthetic(root / "data", DATA, workers=1)
    keras.utils.set_random_seed(2)
    legacy = root / "tiny.h5"  # as the training stage writes them: HDF5 under a .weights.h5 name
    build_model(get_config(TINY, num_classes=8)).save_weights(str(legacy))
    return data, legacy.rename(root / "tiny.weights.h5")


def _pipeline_artifact(data, weights, recipe_name: str, out):
    """What the export stage does (bench.pipeline.stages._convert) for the same settings."""
    from bench.data.coco import load_coco
    from bench.models.registry import get_config
    from bench.pipeline.inputs import conversion_inputs
    from bench.training import load_trained
    from converters import convert, get_recipe

    train = load_coco(data / "train")
    config = get_config(TINY, num_classes=train.num_classes)
    inputs = conversion_inputs(config, load_trained(config, weights), train, EXPORT, FINETUNE, TINY)
    recipe = get_recipe(recipe_name)
    if recipe.finetune_steps:
        recipe = recipe.with_overrides(finetune_steps=2)
    return convert(inputs, recipe, out, tflite_metadata=False)


def _cli_artifact(data, weights, recipe_name: str, out, capsys):
    from converters import load_artifact

    argv = ["export", "--variant", TINY, "--checkpoint", str(weights), "--data", str(data)]
    code = main([*argv, "--recipe", recipe_name, "--out", str(out), *CLI_FLAGS])
    assert code == 0, capsys.readouterr().err
    return load_artifact(out / f"{TINY}.{recipe_name}.artifact.json")


@pytest.mark.parametrize("recipe", ["tflite_int8", pytest.param("tflite_int8_qat", marks=pytest.mark.slow)])
def test_export_cli_and_pipeline_give_the_same_bytes(trained, recipe, tmp_path, capsys):
    data, weights = trained
    cli = _cli_artifact(data, weights, recipe, tmp_path / "cli", capsys)
    pipeline = _pipeline_artifact(data, weights, recipe, tmp_path / "pipeline")
    assert cli.path.read_bytes() == pipeline.path.read_bytes()
    assert cli.info.settings_hash == pipeline.info.settings_hash
    settings = cli.sidecar.settings
    assert settings.calibration.samples == 4 and "/train@" in settings.calibration.source
    if recipe.endswith("_qat"):
        assert settings.finetune.batch_size == 2 and settings.recipe["finetune_steps"] == 2
    else:
        assert settings.finetune is None
