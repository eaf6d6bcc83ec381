"""Recipe configs: the registry, the naming grammar, unknown keys and inconsistent fields rejected."""

from __future__ import annotations

import pytest

from common.errors import InputError
from converters.recipes import (
    Precision,
    PruningSchedule,
    Training,
    get_recipe,
    name_parts,
    parse_recipe,
    parse_recipe_list,
    recipe_names,
    register,
)

EXPECTED = [
    "tflite_fp32",
    "tflite_fp16",
    "tflite_dynamic_int8",
    "tflite_int8",
    "tflite_int8_xnnpack",
    "tflite_int8_qat",
    "tflite_int8_qat_xnnpack",
    "tflite_int8_pruned",
    "coreml_fp16",
    "coreml_w8",
    "coreml_palettized4",
    "coreml_pruned",
    "coreml_pruned_palettized4",
]


def test_every_issue_recipe_is_registered_and_follows_the_grammar():
    assert recipe_names() == EXPECTED
    for name in EXPECTED:
        assert name_parts(name), name
        assert get_recipe(name).name == name


def test_recipe_fields_match_their_names():
    assert get_recipe("tflite_int8_qat").training is Training.QAT
    pruned = get_recipe("tflite_int8_pruned")
    assert (pruned.training, pruned.target_sparsity, pruned.precision) == (
        Training.PRUNED,
        0.5,
        Precision.INT8,
    )
    assert get_recipe("coreml_palettized4").palette_bits == 4
    assert get_recipe("coreml_w8").file_suffix == ".mlpackage"
    assert get_recipe("tflite_dynamic_int8").file_suffix == ".tflite"


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(InputError) as error:
        get_recipe("tflite_int4")
    assert "tflite_int4" in str(error.value) and "tflite_int8_qat" in str(error.value)
    with pytest.raises(InputError, match="coreml_w4"):
        parse_recipe_list("tflite_fp32,coreml_w4")


def test_recipe_list_keeps_order_and_drops_duplicates():
    names = [r.name for r in parse_recipe_list(" tflite_int8, coreml_fp16 ,tflite_int8")]
    assert names == ["tflite_int8", "coreml_fp16"]
    with pytest.raises(InputError, match="--recipe"):
        parse_recipe_list(" , ")


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        register(get_recipe("tflite_fp32"))


def test_unknown_keys_are_rejected():
    config = get_recipe("tflite_int8").model_dump() | {"calibration": 10}
    with pytest.raises(InputError, match="calibration"):
        parse_recipe(config)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "tflite_int9"}, "does not follow"),
        ({"precision": "fp16"}, "name says precision"),
        ({"format": "coreml"}, "name says format"),
        ({"representative_samples": 0}, "representative_samples"),
    ],
)
def test_inconsistent_or_out_of_range_fields_are_rejected(changes, message):
    with pytest.raises(InputError, match=message):
        parse_recipe(get_recipe("tflite_int8").model_dump() | changes)


def test_training_recipes_need_steps_and_sparsity():
    with pytest.raises(InputError, match="finetune_steps"):
        get_recipe("tflite_int8_qat").with_overrides(finetune_steps=0)
    with pytest.raises(InputError, match="target_sparsity"):
        get_recipe("tflite_int8_pruned").with_overrides(target_sparsity=None)
    with pytest.raises(InputError, match="palette_bits"):
        get_recipe("coreml_palettized4").with_overrides(palette_bits=2)
    assert get_recipe("tflite_int8_pruned").with_overrides(target_sparsity=0.75).target_sparsity == 0.75


def test_pruned_recipes_carry_their_own_finetune():
    pruned = get_recipe("tflite_int8_pruned")
    qat = get_recipe("tflite_int8_qat")
    assert pruned.pruning_schedule is PruningSchedule.POLYNOMIAL and pruned.finetune_lr is not None
    assert qat.finetune_lr is None  # the plan's finetune.lr
    for name in ("coreml_pruned", "coreml_pruned_palettized4"):
        recipe = get_recipe(name)
        assert (recipe.training, recipe.target_sparsity) == (Training.PRUNED, 0.5)
        fields = ("finetune_steps", "finetune_lr", "pruning_schedule", "pruning_ramp", "pruning_frequency")
        assert all(getattr(recipe, f) == getattr(pruned, f) for f in fields)  # one fine-tune, two formats
    assert get_recipe("coreml_pruned").precision is Precision.FP16
    joint = get_recipe("coreml_pruned_palettized4")
    assert (joint.precision, joint.palette_bits, joint.minimum_deployment_target) == (
        Precision.PALETTIZED,
        4,
        "iOS18",
    )


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("coreml_pruned_palettized4", {"minimum_deployment_target": "iOS17"}, "iOS18"),
        ("tflite_int8", {"sparse_encoding": True}, "sparse_encoding"),
        ("coreml_pruned", {"sparse_encoding": True}, "sparse_encoding"),
        ("tflite_int8_pruned", {"pruning_ramp": 0.0}, "pruning_ramp"),
        ("tflite_int8_pruned", {"pruning_schedule": "cubic"}, "pruning_schedule"),
        ("tflite_int8_pruned", {"finetune_lr": 0}, "finetune_lr"),
    ],
)
def test_pruning_fields_are_validated(name, changes, message):
    with pytest.raises(InputError, match=message):
        get_recipe(name).with_overrides(**changes)


def test_coreml_pruned_names_follow_their_own_grammar():
    assert name_parts("coreml_pruned") == ("coreml", "fp16", "pruned")
    assert name_parts("coreml_pruned_palettized2") == ("coreml", "palettized2", "pruned")
    assert name_parts("coreml_fp16_pruned") is None  # Core ML's pruned recipes name the pruning first
    assert name_parts("tflite_pruned") is None


def test_recipes_are_immutable():
    recipe = get_recipe("tflite_fp32")
    with pytest.raises(ValueError):
        recipe.name = "other"  # type: ignore[misc]
