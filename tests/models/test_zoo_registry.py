"""The variant registry: names, wildcards, duplicates, unknown names, overrides."""

from __future__ import annotations

import dataclasses

import pytest

from bench.models.config import ModelConfig
from bench.models.registry import TINY_PREFIX, get_config, list_models, register
from common.errors import InputError

FULL = [
    "ssd_mobilenet_v2",
    "ssdlite_mobilenet_v2",
    "ssdlite_mobilenet_v3_small",
    "ssdlite_mobilenet_v3_large",
    "ssdlite_mobiledet_cpu",
    "ssdlite_mobiledet_edgetpu",
    "ssdlite_mobiledet_dsp",
    "ssdlite_mobiledet_gpu",
]


def test_every_issue_variant_is_registered_with_a_tiny_twin():
    assert list_models(exclude="tiny_*") == FULL
    assert list_models("tiny_*") == [TINY_PREFIX + name for name in FULL]


def test_wildcards_select_like_timm():
    assert list_models("ssdlite_mobiledet_*") == FULL[4:]
    assert list_models("ssdlite_mobilenet_v3_?????") == [
        "ssdlite_mobilenet_v3_small",
        "ssdlite_mobilenet_v3_large",
    ]
    assert list_models("nothing*") == []


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register(get_config("ssdlite_mobilenet_v2"))


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(InputError) as error:
        get_config("ssdlite_resnet")
    message = str(error.value)
    assert "'ssdlite_resnet'" in message
    assert all(name in message for name in FULL)


def test_overrides_and_validation():
    config = get_config("ssdlite_mobilenet_v2", input_size=300, num_classes=20, width_multiplier=0.5)
    assert (config.input_size, config.num_classes, config.width_multiplier) == (300, 20, 0.5)
    assert config.num_class_slots == 21
    assert get_config("ssd_mobilenet_v2").input_size == 300  # the sample config's size
    with pytest.raises(InputError, match="input_size"):
        get_config("ssdlite_mobilenet_v2", input_size=8)
    with pytest.raises(InputError, match="num_classes"):
        get_config("ssdlite_mobilenet_v2", num_classes=0)
    with pytest.raises(InputError, match="unknown model config field"):
        get_config("ssdlite_mobilenet_v2").replace(depth=3)


def test_configs_are_frozen_and_cite_their_source():
    config = get_config("ssdlite_mobiledet_cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.input_size = 640  # type: ignore[misc]
    assert all(get_config(name).source for name in FULL)
    assert isinstance(config, ModelConfig)


def test_losses_and_priors_follow_the_configs():
    assert get_config("ssdlite_mobilenet_v2").loss.kind == "hard_negative_mining"
    for name in FULL[2:]:
        assert get_config(name).loss.kind == "focal"
    for name in FULL:
        assert (get_config(name).class_bias_init, get_config(name).background_bias_init) == (-4.6, 4.6)
