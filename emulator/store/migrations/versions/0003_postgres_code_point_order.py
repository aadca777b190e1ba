"""PostgreSQL only: names, statuses and log group/stream names compare and sort by code point (`COLLATE "C"`).

SQLite already compares strings that way; PostgreSQL follows the server's locale unless told otherwise,
which would change List orders and prefix ranges. A no-op on SQLite.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("resources", "name", 512),
    ("resources", "status", 64),
    ("log_events", "log_group", 512),
    ("log_events", "log_stream", 512),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length, collation="C"), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String(length, collation="C"))
