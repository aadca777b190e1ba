"""Table definitions (SQLAlchemy Core). Changing them needs a new migration in `migrations/versions/`."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def ordered_text(length: int) -> sa.types.TypeEngine[str]:
    """A string compared and sorted by code point on every database, as AWS orders names: SQLite's
    default, `COLLATE "C"` on PostgreSQL (whose default collation follows the server's locale)."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


resources = sa.Table(
    "resources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", ordered_text(512), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=True, unique=True),
    sa.Column("status", ordered_text(64), nullable=True),
    sa.Column("parent", sa.String(1024), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("modified_at", sa.Float, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.UniqueConstraint("kind", "name", name="uq_resources_kind_name"),
    sa.Index("ix_resources_kind_created", "kind", "created_at"),
    sa.Index("ix_resources_kind_parent", "kind", "parent"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("arn", sa.String(1024), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)

# Lines printed by jobs, served through the CloudWatch Logs API (`emulator.logs`). Timestamps are
# epoch milliseconds as in CloudWatch; `id` orders events that share a timestamp.
log_events = sa.Table(
    "log_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("log_group", ordered_text(512), nullable=False),
    sa.Column("log_stream", ordered_text(512), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_log_events_stream_time", "log_group", "log_stream", "timestamp", "id"),
)

# Work the worker processes claim: one row per job (training, processing, …) that must run.
# `state` is queued → running → done; `stop_requested` is the Stop flag the worker honours;
# `handles` records runner handles (container ids, pids) before anyone waits on them.
work_items = sa.Table(
    "work_items",
    metadata,
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
    sa.Index("ix_work_items_state", "state", "id"),
)
