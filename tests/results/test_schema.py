"""The record schema: the golden fixture parses, statistics derive from samples, bad records are refused."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from common.errors import InputError
from results.identity import identity_of
from results.migrations import load_record, upgrade
from results.schema import SCHEMA_MINOR, SCHEMA_VERSION, RunRecord, Status, Timing, percentile, summarize

GOLDEN = Path(__file__).parent / "golden" / "record_v1.json"


def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def test_golden_record_parses_and_derives_statistics():
    record = RunRecord.model_validate(golden())
    assert record.schema_version == SCHEMA_VERSION
    assert record.status is Status.OK
    assert record.timing.median_ms == 12.5
    assert record.timing.min_ms == 12.0 and record.timing.max_ms == 14.0
    assert record.timing.p90_ms == pytest.approx(13.8)
    assert record.fallback.full is False
    identity = identity_of(record)
    assert (identity.model, identity.recipe, identity.target, identity.delegate, identity.threads) == (
        "ssdlite_mobilenet_v2@320x1",
        "tflite_int8",
        "adb/emulator-5554",
        "gpu",
        4,
    )
    assert identity.sustained is None and identity.settings_hash is None


def test_record_round_trips_through_json():
    record = RunRecord.model_validate(golden())
    again = RunRecord.model_validate_json(record.model_dump_json())
    assert again == record


def test_unknown_keys_are_rejected():
    data = golden()
    data["target"]["gpu_name"] = "Mali"
    with pytest.raises(ValidationError, match="gpu_name"):
        RunRecord.model_validate(data)


def test_statistics_that_contradict_the_samples_are_rejected():
    with pytest.raises(ValidationError, match="median_ms"):
        Timing(samples_ms=[1.0, 2.0, 3.0], median_ms=5.0)


def test_summaries_without_samples_are_kept_as_given():
    timing = Timing(median_ms=4.2, mean_ms=4.3)
    assert timing.samples_ms == [] and timing.median_ms == 4.2


def test_status_and_error_must_agree():
    data = golden()
    data["status"] = "failed"
    with pytest.raises(ValidationError, match="needs an error"):
        RunRecord.model_validate(data)
    data["error"] = {"type": "CommandError", "message": "exit 1"}
    assert RunRecord.model_validate(data).status is Status.FAILED


def test_percentile_matches_numpy_linear_interpolation():
    numpy = pytest.importorskip("numpy")
    values = sorted([3.1, 0.5, 9.9, 4.4, 7.0, 2.2, 8.8])
    for q in (0, 10, 50, 90, 100):
        assert percentile(values, q) == pytest.approx(float(numpy.percentile(values, q)))
    assert summarize([2.0])["std_ms"] == 0.0


def test_a_record_from_a_newer_edgebench_is_refused_with_a_clear_message():
    data = golden()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(InputError, match="newer than this edgebench"):
        upgrade(data)


def test_a_newer_minor_record_loses_only_what_this_reader_does_not_know():
    data = golden()
    data["schema_minor"] = SCHEMA_MINOR + 1
    data["new_top_level"] = {"x": 1}
    data["target"] = {**data["target"], "new_nested": "y"}
    record = load_record(data)
    assert record == RunRecord.model_validate(golden())
    with pytest.raises(ValidationError):  # a writer stays strict
        RunRecord.model_validate(data)


def test_a_newer_major_record_names_the_release_to_install():
    data = {**golden(), "schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(InputError, match=rf"record schema {SCHEMA_VERSION + 1}\.x, newer .* install"):
        load_record(data)


def test_cached_records_without_a_minor_version_load_as_before():
    data = golden()
    data.pop("schema_minor", None)
    assert load_record(data).schema_minor == SCHEMA_MINOR
