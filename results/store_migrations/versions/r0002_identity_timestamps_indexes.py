"""Store schema 2: timestamps as timestamps, the identity as columns, indexes for the dashboard and compare.

- ``created_at``: ISO text -> ``timestamptz`` on PostgreSQL; on SQLite (no time type) the text is rewritten
  to the sortable UTC form SQLAlchemy reads as a datetime.
- ``identity_key`` / ``settings_hash`` / ``sustained``: ``results.identity`` of each record, filled from the
  JSON bodies, so grouping by "the same measurement" is one indexed column.
- ``run_id`` widened to 128 characters (run ids now carry 64 random bits and the plan name).
- Indexes: time (the dashboard's incremental and newest-first reads), plan + time and git commit
  (``compare`` picking runs), run + target (a run's target set), identity + time (latest per identity).
- ``edgebench_meta``: the store schema major and the release that writes it, for older readers' message.

The backfill reads records through today's ``results.migrations.load_record`` and ``results.identity``:
a revision that ran once never runs again, and the identity it stores is the one the code now computes.

Revision ID: 0002
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from results.identity import identity_of
from results.migrations import load_record
from results.tables import sqlite_timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CHUNK = 1000  # rows per backfill round trip: bounded memory on a 100,000-record store
MIN_RELEASE = "0.1.0"  # the first edgebench release that writes store schema 2


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.add_column("records", sa.Column("identity_key", sa.String(32)))
    op.add_column("records", sa.Column("settings_hash", sa.String(64)))
    op.add_column("records", sa.Column("sustained", sa.String(32)))
    if postgres:
        op.alter_column(
            "records",
            "created_at",
            type_=sa.DateTime(timezone=True),
            existing_nullable=False,
            postgresql_using="created_at::timestamptz",
        )
        op.alter_column("records", "run_id", type_=sa.String(128), existing_nullable=False)
    _backfill(bind, rewrite_times=not postgres)
    op.drop_index("ix_records_run_id", table_name="records")
    op.create_index("ix_records_run_targets", "records", ["run_id", "runner", "device_id"])
    op.create_index("ix_records_created_at", "records", ["created_at"])
    op.create_index("ix_records_plan_created_at", "records", ["plan", "created_at"])
    op.create_index("ix_records_git_commit", "records", ["git_commit"])
    op.create_index("ix_records_identity_created_at", "records", ["identity_key", "created_at"])
    meta = op.create_table(
        "edgebench_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.bulk_insert(
        meta,
        [
            {"key": "store_major", "value": "2"},
            {"key": "store_minor", "value": "0"},
            {"key": "min_release", "value": MIN_RELEASE},
        ],
    )


def _backfill(bind, rewrite_times: bool) -> None:
    records = sa.table(
        "records",
        sa.column("id", sa.Integer),
        sa.column("record_id", sa.String),
        sa.column("created_at", sa.String),
        sa.column("identity_key", sa.String),
        sa.column("settings_hash", sa.String),
        sa.column("sustained", sa.String),
    )
    bodies = sa.table("record_bodies", sa.column("record_id", sa.String), sa.column("record_json", sa.Text))
    query = (
        sa.select(records.c.id, records.c.created_at, bodies.c.record_json)
        .select_from(records.outerjoin(bodies, bodies.c.record_id == records.c.record_id))
        .order_by(records.c.id)
        .limit(_CHUNK)
    )
    update = (
        records.update()
        .where(records.c.id == sa.bindparam("row_id"))
        .values(
            identity_key=sa.bindparam("key"),
            settings_hash=sa.bindparam("settings"),
            sustained=sa.bindparam("steady_or_not"),
        )
    )
    last = 0
    while rows := bind.execute(query.where(records.c.id > last)).all():
        changes = [_row_change(row, rewrite_times) for row in rows]
        bind.execute(update, [{k: v for k, v in c.items() if k != "created_at"} for c in changes])
        if rewrite_times:
            times = records.update().where(records.c.id == sa.bindparam("row_id"))
            bind.execute(
                times.values(created_at=sa.bindparam("created_at")),
                [{"row_id": c["row_id"], "created_at": c["created_at"]} for c in changes],
            )
        last = rows[-1].id


def _row_change(row, rewrite_times: bool) -> dict:
    change = {"row_id": row.id, "key": None, "settings": None, "steady_or_not": None}
    if row.record_json is not None:  # a body is always written with its row; guard anyway
        identity = identity_of(load_record(json.loads(row.record_json)))
        change.update(key=identity.key, settings=identity.settings_hash, steady_or_not=identity.sustained)
    if rewrite_times:
        change["created_at"] = sqlite_timestamp(datetime.fromisoformat(str(row.created_at)))
    return change


def downgrade() -> None:
    raise NotImplementedError("store schema 2 cannot be downgraded; restore a backup of the v1 store")
