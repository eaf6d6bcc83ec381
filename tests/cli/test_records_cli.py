"""`edgebench records`: what the store holds, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bench.cli import main
from results.schema import ArtifactInfo, Delegate, ErrorInfo, RunRecord, Status, TargetInfo, Timing
from results.store import FLAT_COLUMNS, Store


def make_record(run_id: str, delegate: Delegate, samples: list[float] | None) -> RunRecord:
    ok = samples is not None
    return RunRecord(
        run_id=run_id,
        artifact=ArtifactInfo(
            path="/models/ssd_int8.tflite", recipe="tflite_int8", sha256="a" * 64, size_bytes=10
        ),
        target=TargetInfo(runner="host", delegate=delegate, threads=2),
        timing=Timing(samples_ms=samples) if ok else None,
        status=Status.OK if ok else Status.CRASHED,
        error=None if ok else ErrorInfo(type="SIGSEGV", message="the timing process was killed by SIGSEGV"),
    )


@pytest.fixture
def filled(default_store) -> list[RunRecord]:
    records = [
        make_record("time-a", Delegate.CPU, [3.0, 1.0, 2.0]),
        make_record("time-a", Delegate.XNNPACK, None),
        make_record("time-b", Delegate.XNNPACK, [0.5]),
    ]
    store = Store()
    store.add_all(records)
    store.close()
    return records


def test_the_table_lists_every_record(filled, capsys):
    assert main(["records"]) == 0
    out = capsys.readouterr().out
    assert "3 records" in out and "time-a" in out and "time-b" in out
    assert "ssd_int8.tflite" in out and "tflite_int8" in out and "2.000" in out
    assert "crashed: the timing process was killed by SIGSEGV" in out


def test_json_is_the_full_records(filled, capsys):
    assert main(["records", "--json"]) == 0
    printed = [RunRecord.model_validate(item) for item in json.loads(capsys.readouterr().out)]
    assert printed == filled


def test_run_selects_one_run(filled, capsys):
    assert main(["records", "--run", "time-a", "--json"]) == 0
    assert [item["record_id"] for item in json.loads(capsys.readouterr().out)] == [
        r.record_id for r in filled[:2]
    ]


def test_csv_has_the_flat_columns(filled, capsys):
    assert main(["records", "--csv", "--run", "time-b"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == FLAT_COLUMNS and len(rows) == 1
    assert rows[0]["record_id"] == filled[2].record_id and float(rows[0]["median_ms"]) == 0.5


def test_an_empty_store_prints_an_empty_list(default_store, capsys):
    assert main(["records", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--run", "time-zzz"], "--run: no records with run id 'time-zzz'; most recent runs: time-b, time-a"),
        (["--json", "--csv"], "not allowed with argument"),
        (["--store", "sqlite:////no/such/dir/x.sqlite"], "--store: cannot open"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(filled, capsys, argv, expected):
    assert main(["records", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
