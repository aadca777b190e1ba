"""Table definitions (SQLAlchemy Core). Changing them needs a new migration in `migrations/versions/`."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=True, unique=True),
    sa.Column("status", sa.String(64), nullable=True),
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
