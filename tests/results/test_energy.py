"""Energy figures derived from raw traces, checked against figures computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from results.energy import (
    EnergyInfo,
    EnergyStatus,
    PowerSource,
    PowerTrace,
    derive_figures,
    not_available,
    throttle_onset,
)
from results.schema import RunRecord

IDLE = PowerTrace(times_s=[0, 1, 2], power_mw=[400, 600, 500], current_ma=[100, 150, 125])
RUN = PowerTrace(times_s=[0, 2, 4, 6], power_mw=[1000, 1400, 1400, 1000], current_ma=[300, 400, 400, 300])


def test_figures_match_the_hand_computation():
    figures = derive_figures(
        RUN,
        IDLE,
        inferences=180,
        duration_secs=6.0,
        sample_times_s=[0, 2, 4],
        samples_ms=[10, 10, 10],
        dropped_frames=3,
        capacity_mah=4000,
    )
    # Trapezoids: idle (500 + 550) / 2 = 525 mW; run (2400 + 2800 + 2400) / 6 = 1266.67 mW.
    assert figures.idle_mw == pytest.approx(525.0)
    assert figures.active_mw == pytest.approx(7600 / 6)
    assert figures.above_idle_mw == pytest.approx(7600 / 6 - 525)
    assert figures.achieved_fps == pytest.approx(30.0)
    # 741.67 mW at 30 inferences per second: 24.72 mJ per inference.
    assert figures.energy_per_inference_mj == pytest.approx((7600 / 6 - 525) / 30)
    # Mean current 2200 / 6 = 366.67 mA of 4000 mAh: 9.17 % per hour; idle 131.25 mA.
    assert figures.drain_pct_per_hour == pytest.approx(2200 / 6 / 4000 * 100)
    assert figures.drain_above_idle_pct_per_hour == pytest.approx((2200 / 6 - 131.25) / 4000 * 100)
    assert figures.throttle_onset_s is None and figures.dropped_frames == 3


def test_without_idle_or_capacity_those_figures_are_absent():
    figures = derive_figures(RUN, None, inferences=60, duration_secs=6.0, sample_times_s=[], samples_ms=[])
    assert figures.above_idle_mw is None and figures.energy_per_inference_mj is None
    assert figures.drain_pct_per_hour is None and figures.achieved_fps == pytest.approx(10.0)


def test_throttle_onset_is_the_first_window_10_percent_above_the_first_minute():
    times = [5.0 * i for i in range(36)]
    latencies = [10.0 if t < 90 else 10.5 if t < 120 else 11.5 for t in times]
    assert throttle_onset(times, latencies) == 120.0  # 10.5 is within 10 % of 10; 11.5 is not


def test_one_spike_is_not_throttling():
    times = [i / 30 for i in range(30 * 90)]  # 90 s at 30 FPS, per-invocation samples
    latencies = [10.0] * len(times)
    latencies[2000] = 50.0  # one scheduler spike at 66.7 s
    assert throttle_onset(times, latencies) is None
    latencies[2100:2400] = [12.0] * 300  # ten seconds of slow frames from 70 s
    assert throttle_onset(times, latencies) == 70.0


def test_measured_energy_refuses_figures_that_contradict_the_trace():
    figures = derive_figures(RUN, IDLE, inferences=180, duration_secs=6.0, sample_times_s=[], samples_ms=[])
    info = EnergyInfo(
        status=EnergyStatus.MEASURED, source=PowerSource.RAPL, idle=IDLE, trace=RUN, figures=figures
    )
    assert info.figures.active_mw == pytest.approx(1266.67, abs=0.01)
    with pytest.raises(ValidationError, match="active_mw"):
        EnergyInfo(
            status=EnergyStatus.MEASURED,
            trace=RUN,
            figures=figures.model_copy(update={"active_mw": 999.0}),
        )
    with pytest.raises(ValidationError, match="needs a reason"):
        EnergyInfo(status=EnergyStatus.NOT_AVAILABLE)
    with pytest.raises(ValidationError, match="readings for"):
        PowerTrace(times_s=[0, 1], power_mw=[1.0])


def test_record_round_trips_with_energy():
    golden_record_dict = json.loads((Path(__file__).parent / "golden" / "record_v1.json").read_text())
    info = not_available("no /sys/class/powercap/intel-rapl* and no hwmon power sensor")
    record = RunRecord.model_validate({**golden_record_dict, "energy": info.model_dump(mode="json")})
    assert record.energy.reason.startswith("not available: no /sys/class/powercap")
    again = RunRecord.model_validate_json(record.model_dump_json())
    assert again == record


def test_energy_survives_the_store(tmp_path):
    from results.store import Store
    from tests.fixtures.records import synthetic_records

    record = next(r for r in synthetic_records(1200, seed=0, runs=3) if r.energy is not None)
    store = Store(str(tmp_path / "s.sqlite"))
    assert store.add(record)
    assert store.record(record.record_id).energy == record.energy
    store.close()
