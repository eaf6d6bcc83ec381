"""Store schema 2.1: each record's latency noise band as two columns (issue 19).

``median_lo_ms`` / ``median_hi_ms``: ``results.significance.timing_band`` of the record (the exact-bootstrap
interval of its median; with interleaved rounds, of its rounds' medians), so the dashboard's Pareto fronts
count latencies within noise as equal without reading 100,000 JSON bodies. Filled from the bodies here;
nullable, so an older edgebench of store major 2 reads the table as before.

Revision ID: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

from results.migrations import load_record
from results.significance import timing_band

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CHUNK = 1000  # rows per backfill round trip


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("records", sa.Column("median_lo_ms", sa.Float))
    op.add_column("records", sa.Column("median_hi_ms", sa.Float))
    records = sa.table(
        "records",
        sa.column("id", sa.Integer),
        sa.column("record_id", sa.String),
        sa.column("median_lo_ms", sa.Float),
        sa.column("median_hi_ms", sa.Float),
    )
    bodies = sa.table("record_bodies", sa.column("record_id", sa.String), sa.column("record_json", sa.Text))
    query = (
        sa.select(records.c.id, bodies.c.record_json)
        .select_from(records.outerjoin(bodies, bodies.c.record_id == records.c.record_id))
        .order_by(records.c.id)
        .limit(_CHUNK)
    )
    update = (
        records.update()
        .where(records.c.id == sa.bindparam("row_id"))
        .values(median_lo_ms=sa.bindparam("low"), median_hi_ms=sa.bindparam("high"))
    )
    last = 0
    while rows := bind.execute(query.where(records.c.id > last)).all():
        changes = [_row_change(row) for row in rows]
        bind.execute(update, changes)
        last = rows[-1].id
    meta = sa.table("edgebench_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    bind.execute(meta.update().where(meta.c.key == "store_minor").values(value="1"))


def _row_change(row) -> dict:
    band = None
    if row.record_json is not None:
        band = timing_band(load_record(json.loads(row.record_json)).timing)
    return {"row_id": row.id, "low": band[0] if band else None, "high": band[1] if band else None}


def downgrade() -> None:
    op.drop_column("records", "median_hi_ms")
    op.drop_column("records", "median_lo_ms")
