"""TrainConfig validation: every bad value is refused with the field named; plain-dict round trip."""

from __future__ import annotations

import pytest

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
        ({"augment": {"flip_prob": 0.5}}, "augment"),
    ],
)
def test_bad_values_name_the_field(changes, field):
    with pytest.raises(InputError, match=field):
        TrainConfig(**{"steps": 10, **changes})


def test_warmup_is_clipped_to_a_tenth_of_short_runs():
    assert TrainConfig(steps=5000, warmup_steps=200).effective_warmup == 200
    assert TrainConfig(steps=100, warmup_steps=200).effective_warmup == 10


def test_from_dict_round_trip_and_unknown_keys():
    config = TrainConfig(steps=300, max_minutes=5.0, augment=FLIP_ONLY)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="unknown key 'stepz'"):
        TrainConfig.from_dict({"stepz": 3})
    with pytest.raises(InputError, match="steps is required"):
        TrainConfig.from_dict({"batch_size": 3})
    with pytest.raises(InputError, match="unknown key 'mirror'"):
        TrainConfig.from_dict({"steps": 3, "augment": {"mirror": 1}})
    assert TrainConfig.from_dict({"steps": 3, "augment": {"zoom_out_prob": 0.5}}).augment.zoom_out_prob == 0.5


def test_training_matcher_lowers_both_thresholds_only(tiny_config):
    from bench.training.steps import training_matcher

    assert training_matcher(tiny_config, None) == tiny_config.matcher
    lowered = training_matcher(tiny_config, 0.4)
    assert (lowered.positive_threshold, lowered.negative_threshold) == (0.4, 0.4)
    assert lowered.box_scales == tiny_config.matcher.box_scales  # decoding is untouched
    assert TrainConfig(steps=1).match_iou == 0.4
