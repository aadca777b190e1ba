"""The store's schema: migrations build exactly the tables the code declares, and re-opening an
existing data dir (an older database) upgrades in place without losing rows."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from emulator.store import db
from emulator.store.repository import ListQuery, Store
from emulator.store.tables import metadata


def test_migrations_match_the_declared_tables(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    db.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_reopening_keeps_rows_and_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = Store.open(url)
    first.insert("Pipeline", "p", {"PipelineName": "p"}, arn="arn:p", tag_list=[{"Key": "k", "Value": "v"}])
    first.close()
    second = Store.open(url)
    assert [row.name for row in second.query(ListQuery(kind="Pipeline"))] == ["p"]
    assert second.list_tags("arn:p") == [{"Key": "k", "Value": "v"}]
    with second.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_compare_and_set_update_sees_the_latest_revision(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    store.insert("Pipeline", "p", {"count": 0})
    for _ in range(3):
        store.update("Pipeline", "p", lambda current: {"count": current.document["count"] + 1})
    row = store.get("Pipeline", "p")
    assert row is not None and row.document == {"count": 3} and row.revision == 4
