"""The paper plan asks for heat and battery at 30 FPS on phones, on one delegate and thread count."""

from __future__ import annotations

from bench.pipeline.jobs import slots
from bench.plans import load_plan
from results.schema import ArtifactFormat, Delegate


def test_paper_plan_runs_sustained_power_on_phones_only_for_xnnpack_x4():
    plan = load_plan("paper")
    phone = [s for s in slots(plan, ArtifactFormat.TFLITE) if s.target.runner == "adb"]
    sustained = [s for s in phone if s.sustained]
    assert [(s.delegate, s.threads) for s in sustained] == [(Delegate.XNNPACK, 4)]
    assert sustained[0].settings.sustained_fps == 30 and sustained[0].settings.sustained_secs == 600
    assert sustained[0].target.sustained.power
