"""Job logs (log_events) and the worker's queue (work_items).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("log_group", sa.String(512), nullable=False),
        sa.Column("log_stream", sa.String(512), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("ingestion_time", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_log_events_stream_time", "log_events", ["log_group", "log_stream", "timestamp", "id"])
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("handles", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_work_items_kind_name"),
    )
    op.create_index("ix_work_items_state", "work_items", ["state", "id"])


def downgrade() -> None:
    op.drop_table("work_items")
    op.drop_table("log_events")
