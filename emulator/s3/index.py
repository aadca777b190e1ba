"""The S3 index: one SQLite file in the S3 directory listing every bucket and object version.

Tables:
- `buckets(name, document)`: one row per bucket (`snapshots.bucket_document`).
- `versions(bucket, key, position, document, blob)`: one row per object version or delete marker, in
  moto's version order (`position` 0 is the oldest); `blob` names the body file (None: empty body).

WAL journal with `synchronous=FULL`: a commit is on disk (fsync'd) when `transaction()` returns, and
writing one object costs one small WAL append, never a rewrite of the whole index.
The index is used from one thread at a time; `durability` holds its lock around every call.

Not here: the bodies (`blobs.py`) and what the documents contain (`snapshots.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    document TEXT NOT NULL,
    blob TEXT,
    PRIMARY KEY (bucket, key, position)
);
"""

Row = tuple[str, str | None]  # (document, blob)


class S3Index:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise RuntimeError(f"{path}: S3 index schema {version} is newer than this emulator")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def buckets(self) -> list[tuple[str, str]]:
        return self._db.execute("SELECT name, document FROM buckets ORDER BY name").fetchall()

    def versions(self) -> Iterator[tuple[str, str, str, str | None]]:
        """Every (bucket, key, document, blob), oldest version of each key first."""
        yield from self._db.execute("SELECT bucket, key, document, blob FROM versions ORDER BY bucket, key, position")

    def bucket_document(self, name: str) -> str | None:
        row = self._db.execute("SELECT document FROM buckets WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def put_bucket(self, name: str, document: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO buckets (name, document) VALUES (?, ?)", (name, document))

    def delete_bucket(self, name: str) -> list[str]:
        """Remove a bucket and any versions left in it; returns the blobs those referenced."""
        blobs = self._blobs_where("bucket = ?", (name,))
        self._db.execute("DELETE FROM versions WHERE bucket = ?", (name,))
        self._db.execute("DELETE FROM buckets WHERE name = ?", (name,))
        return blobs

    def key_rows(self, bucket: str, key: str) -> list[Row]:
        return self._db.execute(
            "SELECT document, blob FROM versions WHERE bucket = ? AND key = ? ORDER BY position",
            (bucket, key),
        ).fetchall()

    def replace_key(self, bucket: str, key: str, rows: list[Row]) -> None:
        self._db.execute("DELETE FROM versions WHERE bucket = ? AND key = ?", (bucket, key))
        self._db.executemany(
            "INSERT INTO versions (bucket, key, position, document, blob) VALUES (?, ?, ?, ?, ?)",
            [(bucket, key, position, document, blob) for position, (document, blob) in enumerate(rows)],
        )

    def delete_orphans(self) -> list[str]:
        """Remove versions whose bucket has no row; returns the blobs those referenced."""
        where = "bucket NOT IN (SELECT name FROM buckets)"
        blobs = self._blobs_where(where, ())
        self._db.execute(f"DELETE FROM versions WHERE {where}")
        return blobs

    def _blobs_where(self, where: str, parameters: tuple[str, ...]) -> list[str]:
        query = f"SELECT blob FROM versions WHERE blob IS NOT NULL AND {where}"
        return [row[0] for row in self._db.execute(query, parameters)]

    def close(self) -> None:
        self._db.close()
