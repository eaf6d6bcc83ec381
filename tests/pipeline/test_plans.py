"""Plans: the built-in ones validate; a malformed one fails with one line naming the key (exit 2)."""

from __future__ import annotations

import copy

import pytest
import yaml
from pl_fakes import TINY_PLAN

from bench.cli import main
from bench.plans import load_plan, parse_plan, plan_names
from common.errors import InputError


@pytest.mark.parametrize("name", ["quick", "paper", "smoke"])
def test_builtin_plans_are_valid(name):
    plan = load_plan(name)
    assert plan.name == name and plan.variants and plan.recipes and plan.targets


def test_quick_covers_the_three_families_six_recipes_and_both_host_delegates():
    plan = load_plan("quick")
    assert {v.name for v in plan.variants} >= {"ssdlite_mobilenet_v3_small", "ssdlite_mobiledet_cpu"}
    assert {v.name for v in plan.variants} & {"ssd_mobilenet_v2", "ssdlite_mobilenet_v2"}
    assert len(plan.recipes) >= 6
    (host,) = [t for t in plan.targets if t.runner == "host"]
    assert {d.value for d in host.delegates} == {"cpu", "xnnpack"}


def test_plan_names_and_unknown_name():
    assert {"quick", "paper", "smoke"} <= set(plan_names())
    with pytest.raises(InputError, match=r"--plan: got 'nope'; allowed: .*quick.*smoke"):
        load_plan("nope")


def _bad(change):
    data = copy.deepcopy(TINY_PLAN)
    change(data)
    with pytest.raises(InputError) as info:
        parse_plan(data, "bad.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("plan bad.yaml: ")
    return message


def test_unknown_top_level_key_lists_the_sections():
    message = _bad(lambda d: d.update(tragets=[]))
    assert "tragets: unknown key; allowed: cluster, dataset, description, evaluation, export" in message


def test_unknown_nested_key_names_its_path_and_allowed_keys():
    message = _bad(lambda d: d["variants"][1].update(widht=0.5))
    assert "variants[1].widht: unknown key; allowed: input_size, name, recipes, train, width" in message
    message = _bad(lambda d: d["dataset"]["synthetic"].update(colour="red"))
    assert "dataset.synthetic.colour: unknown key; allowed: image_format, max_objects" in message


def test_unknown_training_key_lists_train_config_fields():
    message = _bad(lambda d: d["training"].update(stepz=3))
    assert "training.stepz: unknown key; allowed: augment, batch_size" in message
    message = _bad(lambda d: d["training"].update(optimizer="lamb"))
    assert "training.optimizer: allowed: 'adam', 'adamw' or 'sgd' (got 'lamb')" in message
    message = _bad(lambda d: d["variants"][0].update(train={"stepz": 3}))
    assert "variants[0].train: unknown key 'stepz'; allowed: augment, batch_size" in message
    message = _bad(lambda d: d["variants"][0].update(train={"batch_size": 0}))
    assert "variants[0].train.batch_size: Input should be greater than or equal to 1 (got 0)" in message


def test_variant_train_overrides_merge_over_the_plan_training():
    data = copy.deepcopy(TINY_PLAN)
    data["training"]["augment"] = {"zoom_out_prob": 0.5}
    data["variants"][0]["train"] = {"steps": 7}
    plan = parse_plan(data)
    first, second = (plan.train_config(v) for v in plan.variants[:2])
    assert (first.steps, first.batch_size, first.augment.zoom_out_prob) == (7, 2, 0.5)
    assert second == plan.training and second.steps == 2
    assert first.augment.crop_prob == 0.0  # a partial augment overrides flip-only, not SSD's full set


def test_quick_trains_mobiledet_at_its_own_learning_rate_and_the_mobilenets_at_the_plans():
    # docs/mobiledet.md, section 4: 5e-3 starved MobileDet-CPU (0.108 mAP after 1,250 steps, 0.170 at 1e-2)
    plan = load_plan("quick")
    rates = {v.name: plan.train_config(v).peak_lr for v in plan.variants}
    assert rates["ssdlite_mobiledet_cpu"] == 1e-2
    assert rates["ssdlite_mobilenet_v2"] == rates["ssdlite_mobilenet_v3_small"] == plan.training.peak_lr


def test_a_variant_overrides_a_recipe_for_itself_only():
    from bench.pipeline.jobs import select

    plan = load_plan("quick")
    recipes = {w.spec.name: {r.name: r for r in w.recipes} for w in select(plan, None)}
    steps = {name: {recipe: r.finetune_steps for recipe, r in by.items()} for name, by in recipes.items()}
    assert steps["ssdlite_mobilenet_v3_small"]["tflite_int8_pruned"] == 600  # its longer recovery
    assert steps["ssdlite_mobilenet_v2"]["tflite_int8_pruned"] == 200  # the recipe line's
    assert steps["ssdlite_mobiledet_cpu"]["tflite_int8_pruned"] == 200
    # MobileDet-CPU's QAT trains longer and faster; the others keep the plan's `finetune:` (lr None: its lr)
    qat = {name: by["tflite_int8_qat"] for name, by in recipes.items()}
    qat = {name: (recipe.finetune_steps, recipe.finetune_lr) for name, recipe in qat.items()}
    assert qat == {
        "ssdlite_mobilenet_v2": (plan.finetune.steps, None),
        "ssdlite_mobilenet_v3_small": (plan.finetune.steps, None),
        "ssdlite_mobiledet_cpu": (100, 1e-3),
    }

    message = _bad(lambda d: d["variants"][1].update(recipes={"tflite_int8_qat": {"finetune_steps": 5}}))
    allowed = "allowed: tflite_fp32, tflite_int8, coreml_fp16"
    assert f"variants[1].recipes: got 'tflite_int8_qat'; {allowed}" in message
    message = _bad(lambda d: d["variants"][0].update(recipes={"tflite_int8": {"finetune_steps": -1}}))
    assert "variants[0].recipes.tflite_int8: recipe 'tflite_int8': finetune_steps" in message


def test_wrong_type_names_the_key_and_what_was_received():
    message = _bad(lambda d: d["timing"].update(min_runs="many"))
    assert "timing.min_runs: Input should be a valid integer" in message and "'many'" in message
    message = _bad(lambda d: d["dataset"]["synthetic"].update(image_format="gif"))
    assert "dataset.synthetic.image_format: allowed: 'jpeg' or 'png'" in message


def test_unknown_variant_and_recipe_list_the_allowed_names():
    message = _bad(lambda d: d["variants"].append({"name": "yolo"}))
    assert "variants[2].name: got 'yolo'; allowed: ssd_mobilenet_v2, ssdlite_mobilenet_v2" in message
    message = _bad(lambda d: d["recipes"].append("tflite_int4"))
    assert "recipes[3].name: got 'tflite_int4'; allowed: tflite_fp32, tflite_fp16" in message


def test_bad_values_targets_and_duplicates():
    assert "targets[0]" in _bad(lambda d: d["targets"][0].update(runner="fpga"))
    assert "targets[0]: identity_file: not used by runner 'host'" in _bad(
        lambda d: d["targets"][0].update(identity_file="/k")
    )
    assert "give exactly one of synthetic, coco" in _bad(
        lambda d: d["dataset"].update(coco={"train": "a", "val": "b"})
    )
    assert "recipes[1]: 'tflite_fp32' appears twice" in _bad(lambda d: d.update(recipes=["tflite_fp32"] * 2))
    assert "variants[0].input_size: Input should be greater than or equal to 32 (got 16)" in _bad(
        lambda d: d["variants"][0].update(input_size=16)
    )
    assert "finetune_steps" in _bad(
        lambda d: d["recipes"].append({"name": "tflite_int8_qat", "finetune_steps": 0})
    )
    assert "export.max_classes_per_detection: Input should be greater than or equal to 1 (got 0)" in _bad(
        lambda d: d.setdefault("export", {}).update(max_classes_per_detection=0)
    )


def test_cli_rejects_a_malformed_plan_with_exit_2_and_writes_nothing(tmp_path, capsys):
    plan = tmp_path / "bad.yaml"
    plan.write_text(yaml.safe_dump({**TINY_PLAN, "recipes": ["tflite_fp32", "tflite_int3"]}))
    work, store = tmp_path / "work", tmp_path / "store.sqlite"
    code = main(["benchmark", "--plan", str(plan), "--workdir", str(work), "--store", str(store)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f"edgebench: error: plan bad.yaml: recipes[1].name: got 'tflite_int3'; allowed: {_recipes()}"
    ]
    assert not work.exists() and not store.exists()


def test_cli_rejects_yaml_that_does_not_parse(tmp_path, capsys):
    plan = tmp_path / "broken.yaml"
    plan.write_text("name: [unclosed\n")
    assert main(["benchmark", "--plan", str(plan), "--workdir", str(tmp_path / "w")]) == 2
    assert "plan broken.yaml: not valid YAML" in capsys.readouterr().err


def test_cli_rejects_a_broken_coco_dataset_before_writing_anything(tmp_path, capsys):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "instances.json").write_text("{not json")
    plan = tmp_path / "coco.yaml"
    coco = {"coco": {"train": str(tmp_path / "train"), "val": str(tmp_path / "train")}}
    plan.write_text(yaml.safe_dump({**TINY_PLAN, "dataset": coco}))
    work, store = tmp_path / "work", tmp_path / "store.sqlite"
    code = main(["benchmark", "--plan", str(plan), "--workdir", str(work), "--store", str(store)])
    assert code == 2
    assert "malformed JSON" in capsys.readouterr().err
    assert not (work / "runs").exists() and not store.exists()


def _recipes() -> str:
    from converters.recipes import recipe_names

    return ", ".join(recipe_names())
