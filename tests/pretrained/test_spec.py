"""InitSpec: the plan and CLI forms, missing paths, the cache token, plan validation, the dispatch."""

from __future__ import annotations

import re
import sys
import types

import pytest
import yaml

import bench.models.pretrained as pretrained
from bench.models.pretrained.initialize import initialize
from bench.models.registry import build_model, get_config
from bench.plans import PLANS_DIR, parse_plan
from bench.training import TrainConfig
from bench.training.init_spec import InitKind, InitSpec, parse_init, resolve_checkpoint
from common.errors import InputError


def checkpoint(tmp_path, data=b"data"):
    (tmp_path / "model.ckpt.index").write_bytes(b"index")
    (tmp_path / "model.ckpt.data-00000-of-00001").write_bytes(data)
    return tmp_path / "model.ckpt"


def test_forms(tmp_path, monkeypatch):
    prefix = checkpoint(tmp_path)
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"h5")
    monkeypatch.setenv("CKPTS", str(tmp_path))
    assert parse_init("scratch") == InitSpec()
    assert parse_init("imagenet") == InitSpec(kind=InitKind.IMAGENET)
    assert parse_init({"imagenet": str(weights)}).path == weights
    assert parse_init(f"imagenet:{weights}").path == weights
    assert parse_init({"checkpoint": "$CKPTS/model.ckpt"}).path == prefix
    assert parse_init(f"checkpoint:{prefix}.index").kind is InitKind.CHECKPOINT
    assert parse_init({"checkpoint": str(tmp_path)}).path == tmp_path  # the folder holding it
    assert resolve_checkpoint(tmp_path) == prefix == resolve_checkpoint(prefix.with_suffix(".ckpt.index"))
    spec = parse_init({"checkpoint": str(prefix)})
    assert parse_init(spec.to_plain()) == spec


def test_folder_with_several_checkpoints(tmp_path):
    for sub in ("fp32", "uint8"):
        (tmp_path / sub).mkdir()
        checkpoint(tmp_path / sub)
    assert resolve_checkpoint(tmp_path) == tmp_path / "fp32" / "model.ckpt"
    (tmp_path / "uint8" / "model.ckpt-5.index").write_bytes(b"i")
    with pytest.raises(InputError, match="uint8 holds several checkpoints"):
        parse_init({"checkpoint": str(tmp_path / "uint8")})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("imagenet1k", "init: got 'imagenet1k'; allowed: scratch, imagenet"),
        ({"checkpoint": "/nowhere/model.ckpt"}, "init: checkpoint /nowhere/model.ckpt does not exist"),
        ({"imagenet": "/nowhere/w.h5"}, "init: imagenet weights file /nowhere/w.h5 does not exist"),
        ({"scratch": "x"}, "allowed: scratch, imagenet, {imagenet: PATH}, {checkpoint: PATH}"),
        (
            "checkpoint:",
            "{imagenet: PATH} (imagenet:PATH on the command line), {checkpoint: PATH} (checkpoint:PATH)",
        ),
    ],
)
def test_bad_forms_name_the_key_and_the_path(value, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_init(value)


def test_cache_token_follows_the_bytes(tmp_path):
    spec = parse_init({"checkpoint": str(checkpoint(tmp_path))})
    before = spec.cache_token()
    checkpoint(tmp_path, b"other data")
    assert spec.cache_token() != before and spec.cache_token()["init"] == before["init"]
    assert InitSpec().cache_token() == {"init": "scratch", "sha256": None}


def test_train_config_round_trip(tmp_path):
    prefix = checkpoint(tmp_path)
    config = TrainConfig.from_dict({"steps": 5, "init": {"checkpoint": str(prefix)}})
    assert config.to_dict()["init"] == {"checkpoint": str(prefix)}
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig(steps=5).init == InitSpec()
    with pytest.raises(InputError, match="freeze_backbone_steps"):
        TrainConfig.from_dict({"steps": 5, "freeze_backbone_steps": -1})


def quick_plan() -> dict:
    return yaml.safe_load((PLANS_DIR / "quick.yaml").read_text())


def test_plan_with_a_missing_checkpoint_names_key_and_path():
    data = quick_plan()
    data["training"]["init"] = {"checkpoint": "/data/ckpts/ssd/model.ckpt"}
    with pytest.raises(InputError, match=r"init: checkpoint /data/ckpts/ssd/model.ckpt does not exist"):
        parse_plan(data, "p.yaml")


def test_plan_imagenet_on_mobiledet_stops_at_validation():
    data = quick_plan()
    data["variants"][2]["train"] = {"init": "imagenet"}
    with pytest.raises(InputError, match=r"variants\[2\].train.init: .*no ImageNet weights .*mobiledet_cpu"):
        parse_plan(data, "p.yaml")


def test_dispatch_to_the_od_api_importer(tmp_path, monkeypatch):
    calls = []
    module = types.ModuleType("bench.models.pretrained.od_api")

    def import_od_api_checkpoint(model, config, path, *, class_names=None):
        calls.append((model.name, config.num_classes, path, class_names))
        return types.SimpleNamespace(lines=lambda: ["backbone: 262 tensors", "class head: re-initialised"])

    module.import_od_api_checkpoint = import_od_api_checkpoint
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(pretrained, "od_api", module, raising=False)
    config = get_config("tiny_ssdlite_mobilenet_v2", num_classes=5)
    checkpoint(tmp_path)
    spec = parse_init({"checkpoint": str(tmp_path)})
    model = build_model(config)
    names = ("a", "b", "c", "d", "e")
    report = initialize(model, config, spec, names)
    assert calls == [(config.name, 5, spec.path / "model.ckpt", names)]
    assert report.lines == ("backbone: 262 tensors", "class head: re-initialised")
    scratch = initialize(model, config, InitSpec())
    assert scratch.lines == ("all layers: the zoo's random initialisation",) and len(calls) == 1
