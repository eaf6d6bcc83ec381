"""The sustained keys of a target: power sampling, the charger policy, which delegates and threads get it."""

from __future__ import annotations

import pytest

from common.errors import InputError
from device_runners.targets import parse_target
from results.schema import Delegate, TimingSettings


def test_power_keys_and_the_sustained_subset():
    target = parse_target(
        {
            "runner": "adb",
            "serial": "X",
            "delegates": ["cpu", "xnnpack"],
            "threads": [1, 4],
            "sustained": {"fps": 30, "secs": 600, "power": True, "delegates": ["xnnpack"], "threads": [4]},
        }
    )
    sustained = target.sustained
    assert sustained.power and not sustained.allow_unplug and not sustained.power_monitor
    assert sustained.idle_secs == 10.0 and sustained.power_interval_secs == 1.0
    base = TimingSettings()
    assert len(target.timing_settings(base, Delegate.XNNPACK, 4)) == 2  # steady + sustained
    assert len(target.timing_settings(base, Delegate.XNNPACK, 1)) == 1
    assert len(target.timing_settings(base, Delegate.CPU, 4)) == 1
    assert target.timing_settings(base)[1].sustained_fps == 30  # without a slot: as before


def test_misspelt_power_key_is_one_clear_line():
    with pytest.raises(InputError, match=r"sustained\.powr"):
        parse_target({"runner": "adb", "sustained": {"powr": True}})
