"""The init runs once, at step 0 (never on resume), through the right importer; the backbone warm-up
updates the heads only. Each test trains (tens of seconds here): slow."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import tf_keras as keras

import bench.models.pretrained as pretrained
from bench.models.pretrained.initialize import backbone_variables, initialize
from bench.models.registry import build_model, get_config
from bench.training import TrainConfig, load_trained, train
from bench.training.warm_start import read_init_report
from common.errors import InputError
from tests.pretrained.test_keras_apps import saved_application

VARIANT = "tiny_ssdlite_mobilenet_v2"


@pytest.fixture
def fake_od_api(monkeypatch):
    """Stands in for the OD API importer (``od_api.py``, another module): records its calls."""
    calls = []

    def import_od_api_checkpoint(model, config, path, *, class_names=None):
        calls.append((model.name, config.num_classes, path, class_names))
        lines = ("backbone: 3 tensors", "class head: re-initialised (90 -> 8)")
        return types.SimpleNamespace(lines=lambda: lines)

    module = types.ModuleType("bench.models.pretrained.od_api")
    module.import_od_api_checkpoint = import_od_api_checkpoint
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(pretrained, "od_api", module, raising=False)
    return calls


def fake_checkpoint(folder):
    folder.mkdir()
    (folder / "model.ckpt.index").write_bytes(b"index")
    (folder / "model.ckpt.data-00000-of-00001").write_bytes(b"data")
    return folder / "model.ckpt"


def config(steps, init, **extra):
    return TrainConfig(steps=steps, batch_size=4, warmup_steps=0, log_every=1, init=init, **extra)


@pytest.mark.slow
def test_checkpoint_init_runs_at_step_zero_only(tmp_path, train_split, fake_od_api):
    prefix = fake_checkpoint(tmp_path / "ckpt")
    model_config = get_config(VARIANT, num_classes=train_split.num_classes)
    init = {"checkpoint": str(prefix)}
    train(model_config, train_split, config(1, init), tmp_path / "work", progress=False)
    assert fake_od_api == [(model_config.name, train_split.num_classes, prefix, train_split.class_names)]
    report = read_init_report(tmp_path / "work")
    assert report["lines"] == ["backbone: 3 tensors", "class head: re-initialised (90 -> 8)"]
    train(model_config, train_split, config(2, init), tmp_path / "work", progress=False)
    assert len(fake_od_api) == 1  # the resumed run kept its checkpointed weights


@pytest.mark.slow
def test_changed_init_needs_a_new_work_folder(tmp_path, train_split, fake_od_api):
    model_config = get_config(VARIANT, num_classes=train_split.num_classes)
    train(model_config, train_split, config(1, "scratch"), tmp_path / "work", progress=False)
    init = {"checkpoint": str(fake_checkpoint(tmp_path / "ckpt"))}
    with pytest.raises(InputError):
        train(model_config, train_split, config(2, init), tmp_path / "work", progress=False)
    assert fake_od_api == []


@pytest.mark.slow
def test_imagenet_init_then_frozen_backbone_warmup(tmp_path, train_split):
    """ImageNet weights land in the backbone; one frozen step leaves them and moves the heads."""
    path, reference = saved_application(tmp_path, "mobilenet_v2", 0.35)
    model_config = get_config(VARIANT, num_classes=train_split.num_classes, width_multiplier=0.35)
    settings = config(1, {"imagenet": str(path)}, freeze_backbone_steps=1)
    result = train(model_config, train_split, settings, tmp_path / "work", progress=False)
    lines = read_init_report(tmp_path / "work")["lines"]
    assert lines[0].startswith("backbone mobilenet_v2 width 0.35: ") and str(path) in lines[0]
    assert any("Keras keeps 1280 channels" in line for line in lines)

    trained = load_trained(model_config, result.weights_path)
    keras.utils.set_random_seed(settings.seed)  # what train() does before building: the same start
    start = build_model(model_config)
    initialize(start, model_config, settings.init)
    frozen = {v.name for v in backbone_variables(trained, model_config)}
    assert len(frozen) > 100
    changed = {
        after.name
        for after, before in zip(trained.trainable_weights, start.trainable_weights, strict=True)
        if not np.array_equal(after.numpy(), before.numpy())
    }
    assert not changed & frozen  # the backbone did not move during the warm-up
    assert any(name.startswith("head0_class") for name in changed)  # the heads did
    np.testing.assert_array_equal(
        trained.get_layer("mnv2_block5_expand_conv").get_weights()[0],
        reference.get_layer("block_4_expand").get_weights()[0],
    )


@pytest.mark.slow
def test_steps_zero_keeps_the_init_as_it_is(tmp_path, train_split, fake_od_api):
    """``steps: 0`` (coco.yaml: evaluate the published weights): init, no step, the weights written."""
    prefix = fake_checkpoint(tmp_path / "ckpt")
    model_config = get_config(VARIANT, num_classes=train_split.num_classes)
    result = train(model_config, train_split, config(0, {"checkpoint": str(prefix)}), tmp_path / "w")
    assert result.steps == 0 and result.weights_path.is_file()
    assert fake_od_api == [(model_config.name, train_split.num_classes, prefix, train_split.class_names)]
    train(model_config, train_split, config(0, {"checkpoint": str(prefix)}), tmp_path / "w")
    assert len(fake_od_api) == 1  # the second call resumed from the checkpoint written at step 0
