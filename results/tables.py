"""The store's tables (current layout) and how a record becomes one flat row.

``records`` holds one row of flat columns per record, the fields people filter and plot by, so queries and
the dashboard never touch JSON for 100,000 rows; ``record_bodies`` holds the full record as JSON (the
source of truth, raw samples included); ``edgebench_meta`` says which store schema major wrote the tables
and which release an older reader must install. The layout is created and changed only by the Alembic
revisions in ``results/store_migrations``; this module mirrors their end state for queries.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from results.identity import identity_of
from results.schema import RunRecord, Status
from results.significance import timing_band

# Store (table) schema: a newer major on disk stops an older reader; a newer minor only added nullable
# columns, indexes or tables, which an older reader's explicit column lists never see.
STORE_MAJOR = 2
STORE_MINOR = 1  # 2.1: median_lo_ms / median_hi_ms (revision 0003)


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every backend: ``timestamptz`` on PostgreSQL; on SQLite (no time
    type) SQLAlchemy's sortable ``YYYY-MM-DD HH:MM:SS.ffffff`` text, always in UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()
records_table = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(64), nullable=False, unique=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("plan", sa.String(128)),
    sa.Column("variant", sa.String(128)),
    sa.Column("input_size", sa.Integer),
    sa.Column("params", sa.BigInteger),
    sa.Column("madds", sa.BigInteger),
    sa.Column("recipe", sa.String(64)),
    sa.Column("format", sa.String(16)),
    sa.Column("artifact_path", sa.Text),
    sa.Column("sha256", sa.String(64)),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("gzip_bytes", sa.BigInteger),
    sa.Column("runner", sa.String(32)),
    sa.Column("device_id", sa.String(256)),
    sa.Column("device_model", sa.String(256)),
    sa.Column("delegate", sa.String(16)),
    sa.Column("threads", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fallback", sa.Boolean),
    sa.Column("median_ms", sa.Float),
    sa.Column("p90_ms", sa.Float),
    sa.Column("std_ms", sa.Float),
    sa.Column("init_ms", sa.Float),
    sa.Column("peak_memory_mb", sa.Float),
    sa.Column("dataset_id", sa.String(128)),
    sa.Column("map", sa.Float),
    sa.Column("ar100", sa.Float),
    # Store schema 2: the identity (results.identity) and the parts of it the older columns lack.
    sa.Column("identity_key", sa.String(32)),
    sa.Column("settings_hash", sa.String(64)),
    sa.Column("sustained", sa.String(32)),
    # Store schema 2.1: the latency noise band (results.significance.timing_band).
    sa.Column("median_lo_ms", sa.Float),
    sa.Column("median_hi_ms", sa.Float),
)
bodies_table = sa.Table(
    "record_bodies",
    metadata,
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("record_json", sa.Text, nullable=False),
)
meta_table = sa.Table(
    "edgebench_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# The flat columns a DataFrame gets by default (everything but the surrogate key).
FLAT_COLUMNS = [c.name for c in records_table.columns if c.name != "id"]


def flatten(record: RunRecord) -> dict:
    """The ``records`` row of one record."""
    timing, accuracy = record.timing, record.accuracy
    identity = identity_of(record)
    band = timing_band(timing) if record.status is Status.OK else None
    return {
        "record_id": record.record_id,
        "schema_version": record.schema_version,
        "run_id": record.run_id,
        "created_at": record.created_at,
        "git_commit": record.git_commit,
        "plan": record.plan,
        "variant": record.model.variant,
        "input_size": record.model.input_size,
        "params": record.model.params,
        "madds": record.model.madds,
        "recipe": record.artifact.recipe,
        "format": record.artifact.format.value,
        "artifact_path": record.artifact.path,
        "sha256": record.artifact.sha256,
        "size_bytes": record.artifact.size_bytes,
        "gzip_bytes": record.artifact.gzip_bytes,
        "runner": record.target.runner,
        "device_id": record.target.device_id,
        "device_model": record.target.device_model,
        "delegate": record.target.delegate.value,
        "threads": record.target.threads,
        "status": record.status.value,
        "fallback": record.fallback is not None,
        "median_ms": timing.median_ms if timing else None,
        "p90_ms": timing.p90_ms if timing else None,
        "std_ms": timing.std_ms if timing else None,
        "init_ms": timing.init_ms if timing else None,
        "peak_memory_mb": timing.peak_memory_mb if timing else None,
        "dataset_id": accuracy.dataset_id if accuracy else None,
        "map": accuracy.map if accuracy else None,
        "ar100": accuracy.ar100 if accuracy else None,
        "identity_key": identity.key,
        "settings_hash": identity.settings_hash,
        "sustained": identity.sustained,
        "median_lo_ms": band[0] if band else None,
        "median_hi_ms": band[1] if band else None,
    }


def sqlite_timestamp(value: datetime) -> str:
    """How ``UTCDateTime`` stores a datetime on SQLite (for migrations rewriting old ISO strings)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
