"""Store schema 1: the tables every edgebench before Alembic created with ``create_all``.

A v1 store found on disk (tables, no ``alembic_version``) is stamped with this revision and upgraded
from here; an empty database starts here too, so both end in exactly the same layout.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), nullable=False, unique=True),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
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
    )
    op.create_index("ix_records_run_id", "records", ["run_id"])
    op.create_table(
        "record_bodies",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("record_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("record_bodies")
    op.drop_table("records")
