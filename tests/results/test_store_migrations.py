"""A store written by the release before Alembic (tests/results/legacy) upgraded to today's tables, on
SQLite and PostgreSQL: every record reads back with the same values, flat rows gain timestamps and
identities, and two hosts upgrading one PostgreSQL store at once do not collide."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from pg_server import new_database

from bench.cli import main
from common.errors import InputError
from results import store_schema
from results.identity import identity_of
from results.schema import SCHEMA_MINOR, RunRecord
from results.store import Store

LEGACY = Path(__file__).parent / "legacy"


def v1_bodies() -> dict[str, dict]:
    """record_id -> the JSON body exactly as the old release stored it."""
    with sqlite3.connect(LEGACY / "store_v1.sqlite") as connection:
        rows = connection.execute("SELECT record_id, record_json FROM record_bodies").fetchall()
    return {record_id: json.loads(text) for record_id, text in rows}


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_url(request, tmp_path) -> str:
    """A copy of the v1 store on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "v1.sqlite"
        shutil.copy(LEGACY / "store_v1.sqlite", path)
        return f"sqlite:///{path}"
    url = new_database(request.getfixturevalue("pg_server"))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql((LEGACY / "store_v1.postgresql.sql").read_text())
    engine.dispose()
    return url


def _as_old(new: dict, old: dict) -> dict:
    """``new`` restricted to the keys a v1 body has: fields added since (all optional) must be at their
    defaults, everything else must read back unchanged."""
    out = {}
    for key, value in new.items():
        if key in old:
            same_shape = isinstance(value, dict) and isinstance(old[key], dict)
            out[key] = _as_old(value, old[key]) if same_shape else value
        else:
            default = SCHEMA_MINOR if key == "schema_minor" else None  # a v1 body names no minor
            assert value in (None, False, 1, [], default), (
                f"{key}: added since v1, reads {value!r}, not its default"
            )
    return out


def assert_same_records(url: str) -> None:
    expected = v1_bodies()
    store = Store(url)
    try:
        records = store.records()
        frame = store.frame().set_index("record_id")
    finally:
        store.close()
    assert len(records) == len(expected) == 24
    for record in records:
        old = expected[record.record_id]
        assert record == RunRecord.model_validate(old)
        assert _as_old(record.model_dump(mode="json"), old) == old
        row = frame.loc[record.record_id]
        assert row["created_at"] == record.created_at  # a timestamp now, same instant
        assert row["identity_key"] == identity_of(record).key
        if record.timing is not None and record.timing.median_ms is not None:
            assert row["median_ms"] == record.timing.median_ms


def test_a_v1_store_upgrades_and_reads_back_the_same_records(legacy_url):
    if legacy_url.startswith("postgresql"):
        # A shared store is never migrated behind the team's back: opening it says what to run.
        with pytest.raises(InputError, match="run `edgebench store upgrade --store URL`"):
            Store(legacy_url)
        assert main(["store", "upgrade", "--store", legacy_url]) == 0
    assert_same_records(legacy_url)  # SQLite: upgraded on open
    store = Store(legacy_url, upgrade=False)
    try:
        found = store.status()
        runs = store.runs()
    finally:
        store.close()
    assert found.current and found.store_major == 2
    assert runs["started_at"].is_monotonic_decreasing and len(runs) == 2


def test_two_hosts_upgrading_at_once_both_succeed(legacy_url):
    engines = [sa.create_engine(legacy_url) for _ in range(2)]
    results, errors = [], []

    def upgrade(engine):
        try:
            results.append(store_schema.upgrade(engine))
        except Exception as error:  # any failure at all is what this test looks for
            errors.append(error)

    threads = [threading.Thread(target=upgrade, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    befores = sorted(before.legacy for before, _ in results)
    assert befores == [False, True]  # one upgraded; the other waited and found it done
    assert_same_records(legacy_url)


def test_status_command_names_the_revision(legacy_url, capsys):
    assert main(["store", "status", "--store", legacy_url]) == 0
    assert "v1 (before migrations)" in capsys.readouterr().out


def test_the_fast_head_check_agrees_with_alembics_scripts():
    assert store_schema.head_revision() == store_schema.HEAD
