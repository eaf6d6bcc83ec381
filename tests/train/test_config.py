"""TrainConfig validation: every bad value is refused with the field named; plain-dict round trip."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bench.training.config import FLIP_ONLY, TrainConfig
from common.errors import InputError


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"steps": -1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"batch_size": -1}, "batch_size"),
        ({"peak_lr": 0.0}, "peak_lr"),
        ({"peak_lr": float("nan")}, "peak_lr"),
        ({"peak_lr": "fast"}, "peak_lr"),
        ({"warmup_steps": -5}, "warmup_steps"),
        ({"optimizer": "lamb"}, "optimizer"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"max_minutes": 0}, "max_minutes"),
        ({"checkpoint_every": 0}, "checkpoint_every"),
        ({"bn_momentum": 1.0}, "bn_momentum"),
        ({"clip_norm": -1.0}, "clip_norm"),
        ({"seed": -1}, "seed"),
        ({"match_iou": 1.0}, "match_iou"),
        ({"match_iou": 0}, "match_iou"),
        ({"steps": True}, "steps"),
        ({"augment": {"flip_prob": 1.5}}, "augment.flip_prob"),
        ({"augment": {"zoom_out_max": 0.5}}, "augment.zoom_out_max"),
        ({"augment": "ssd"}, "augment"),
    ],
)
def test_bad_values_name_the_field_and_the_received_value(changes, field):
    with pytest.raises(InputError, match=rf"^train {field}: .*\(got ") as info:
        TrainConfig.from_dict({"steps": 10, **changes})
    assert "\n" not in str(info.value)


def test_keyword_construction_in_code_validates_too():
    with pytest.raises(ValidationError):
        TrainConfig(steps=-1)


def test_warmup_is_clipped_to_a_tenth_of_short_runs():
    assert TrainConfig(steps=5000, warmup_steps=200).effective_warmup == 200
    assert TrainConfig(steps=100, warmup_steps=200).effective_warmup == 10


def test_from_dict_round_trip_and_unknown_keys():
    config = TrainConfig(steps=300, max_minutes=5.0, augment=FLIP_ONLY)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.replace(steps=5) == TrainConfig(steps=5, max_minutes=5.0)
    with pytest.raises(InputError, match="train stepz: unknown key; allowed: augment, batch_size"):
        TrainConfig.from_dict({"steps": 3, "stepz": 3})
    with pytest.raises(InputError, match="train steps: required key is missing"):
        TrainConfig.from_dict({"batch_size": 3})
    with pytest.raises(InputError, match="train augment.mirror: unknown key; allowed: brightness"):
        TrainConfig.from_dict({"steps": 3, "augment": {"mirror": 1}})
    assert TrainConfig.from_dict({"steps": 3, "augment": {"zoom_out_prob": 0.5}}).augment.zoom_out_prob == 0.5


def test_training_matcher_lowers_both_thresholds_only(tiny_config):
    from bench.training.steps import training_matcher

    assert training_matcher(tiny_config, None) == tiny_config.matcher
    lowered = training_matcher(tiny_config, 0.4)
    assert (lowered.positive_threshold, lowered.negative_threshold) == (0.4, 0.4)
    assert lowered.box_scales == tiny_config.matcher.box_scales  # decoding is untouched
    assert TrainConfig(steps=1).match_iou == 0.4
