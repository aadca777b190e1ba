"""Engine creation and schema migration for the two supported databases.

- SQLite (the default, a file in the data dir) gets WAL, a busy timeout and foreign keys on every
  connection, so the server and worker processes can share one file.
- PostgreSQL (`--database-url postgresql://user:password@host/db`, e.g. the compose setup) uses the
  psycopg 3 driver (the `postgres` extra); `postgres://` and `postgresql://` URLs are read as
  `postgresql+psycopg://`. Its pool is sized for the API's handler threads, and connections are checked
  before use so a restarted database server costs a reconnect, not an error.

Migrations run under a lock (PostgreSQL: an advisory lock held by the migration's transaction; SQLite: a
lock file next to the database), so an API server and several workers starting at once apply each
migration exactly once. Not for: queries
(see `repository`, `work_queue`, `emulator.logs.store`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

_MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
# Any constant works: it names the lock that serializes migrations of one PostgreSQL database.
_MIGRATION_LOCK_KEY = 0x5A6E_E101
# The API runs up to 32 handlers in threads at once (emulator.api.json_protocol), each using one connection.
_POSTGRES_POOL = {"pool_size": 10, "max_overflow": 40, "pool_timeout": 30, "pool_recycle": 1800}


def normalize_url(url: str) -> str:
    """The URL SQLAlchemy should open: PostgreSQL URLs without a driver get psycopg 3."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> sa.Engine:
    if is_sqlite(url):
        database = sa.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    url = normalize_url(url)
    if sa.make_url(url).get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "A PostgreSQL database URL needs the psycopg driver: pip install 'sagemaker-emulator[postgres]'."
            ) from None
        return sa.create_engine(url, pool_pre_ping=True, **_POSTGRES_POOL)
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Released when this transaction ends; DDL is transactional there, so a second process that
            # waited here finds the schema at head and does nothing.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextlib.contextmanager
def _sqlite_file_lock(engine: sa.Engine) -> Iterator[None]:
    """SQLite has no lock a reader takes before deciding to create tables; a lock file serializes migrations."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one process migrates at a time in practice
        database = None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
