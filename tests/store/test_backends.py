"""The store on each database it supports: SQLite always, PostgreSQL when SAGEMAKER_EMULATOR_TEST_DATABASE_URL
names a server (scripts/test runs this directory once more that way). What must hold on both: the migrations
build the declared tables, concurrent migrations are safe, each queued item is claimed exactly once however many
workers race, and names sort by code point."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from emulator.store import db
from emulator.store.repository import ListQuery, Store
from emulator.store.tables import metadata
from emulator.store.work_queue import RUNNING
from emulator.testing import TEST_DATABASE_VARIABLE, create_database, drop_database

BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(TEST_DATABASE_VARIABLE) else [])]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    url = create_database(os.environ[TEST_DATABASE_VARIABLE])
    yield url
    drop_database(url)


def test_migrations_match_the_declared_tables(database_url: str) -> None:
    engine = db.create_engine(database_url)
    db.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


def test_concurrent_migrations_apply_once(database_url: str) -> None:
    """An API server and several workers starting together against an empty database all come up."""
    engines = [db.create_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))

    def migrate(engine: sa.Engine) -> None:
        barrier.wait()
        db.upgrade(engine)

    with ThreadPoolExecutor(len(engines)) as pool:
        list(pool.map(migrate, engines))
    with engines[0].connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    for engine in engines:
        engine.dispose()
    assert len(versions) == 1


def test_each_queued_item_is_claimed_exactly_once(database_url: str) -> None:
    store = Store.open(database_url)
    for index in range(40):
        store.insert("TrainingJob", f"job-{index}", {"index": index}, status="InProgress", enqueue=True)
    claims: Counter[str] = Counter()
    lock = threading.Lock()

    def claim_all(worker: int) -> None:
        workers_store = Store(store.engine)
        while (item := workers_store.work.claim_next(f"worker-{worker}")) is not None:
            with lock:
                claims[item.name] += 1

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(claim_all, range(6)))
    store.close()
    assert claims == Counter({f"job-{index}": 1 for index in range(40)})


def test_claims_skip_rows_another_worker_holds(database_url: str) -> None:
    """While one worker's claim transaction is open, another worker takes the next item instead of waiting
    (PostgreSQL: SKIP LOCKED) or — on SQLite, one writer at a time — waits for the claim to commit and then
    never takes the same item."""
    store = Store.open(database_url)
    store.insert("TrainingJob", "first", {}, status="InProgress", enqueue=True)
    store.insert("TrainingJob", "second", {}, status="InProgress", enqueue=True)
    first = store.work.claim_next("worker-a")
    second = store.work.claim_next("worker-b")
    assert first is not None and second is not None
    assert (first.name, second.name) == ("first", "second")
    assert first.state == second.state == RUNNING
    assert store.work.claim_next("worker-c") is None
    store.close()


def _test_a_locked_row_is_skipped_not_waited_for() -> None:
    """PostgreSQL only: SQLite has no row locks."""
    url = create_database(os.environ[TEST_DATABASE_VARIABLE])
    store = Store.open(url)
    try:
        store.insert("TrainingJob", "held", {}, status="InProgress", enqueue=True)
        store.insert("TrainingJob", "free", {}, status="InProgress", enqueue=True)
        with store.engine.connect() as holder:
            transaction = holder.begin()
            holder.execute(sa.text("SELECT id FROM work_items WHERE name = 'held' FOR UPDATE"))
            with ThreadPoolExecutor(1) as pool:
                claiming = pool.submit(store.work.claim_next, "worker-b")
                try:
                    claimed = claiming.result(timeout=10)  # without SKIP LOCKED it waits for the holder
                finally:
                    transaction.rollback()
        assert claimed is not None and claimed.name == "free"
    finally:
        store.close()
        drop_database(url)


# Collected only where it can run (a skip in every SQLite-only run would be noise; the PostgreSQL pass runs it).
if "postgresql" in BACKENDS:
    test_a_locked_row_is_skipped_not_waited_for = _test_a_locked_row_is_skipped_not_waited_for


def test_names_sort_by_code_point(database_url: str) -> None:
    store = Store.open(database_url)
    for name in ["b-job", "B-job", "a-job", "A-job", "_job", "z9"]:
        store.insert("Pipeline", name, {})
    ordered = [row.name for row in store.query(ListQuery(kind="Pipeline", sort_by="name", descending=False))]
    assert ordered == ["A-job", "B-job", "_job", "a-job", "b-job", "z9"]
    matching = [row.name for row in store.query(ListQuery(kind="Pipeline", name_contains="JOB", descending=False))]
    assert sorted(matching) == ["A-job", "B-job", "_job", "a-job", "b-job"]  # NameContains ignores case
    store.close()
