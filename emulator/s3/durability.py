"""Making moto's S3 survive restarts: restore at start-up, sync after every mutating request.

Layout of `settings.s3_dir`:
- `blobs/xx/<id>`: object bodies, one immutable file per object version (`blobs.py`);
- `index.sqlite3`: buckets and object versions as JSON documents, plus each version's blob (`index.py`);
- `owner.lock`: held (flock) by the one emulator process that may use the directory.

The sync is state-based: `DurableS3App` (WSGI, between a2wsgi and moto) lets moto handle a PUT, POST
or DELETE while `moto_patches.tracking()` records the buckets and keys it touched, then — before the
response status is passed on, so before the client can see it — writes the *current* moto state of
exactly those buckets and keys to the index in one fsync'd transaction. Because each sync writes what
is live at that moment under one lock, a later sync never writes older state than an earlier one: every
acknowledged write is on disk, whatever order concurrent requests finish in. A sync that changes
nothing (UploadPart, a repeated tag write) costs one read of the index.

Blob life cycle: a new body is fsync'd before the index row that references it is committed; a blob
dropped from the index (overwritten, deleted, bucket removed) is unlinked after the commit; blobs no
row references (a crash between writing and committing, upload parts) are deleted at start-up.

Not supported across restarts: in-progress multipart uploads (clients get NoSuchUpload and retry),
`/moto-api/reset`. Concurrent writes to one key are ordered by their syncs; a crash can leave the index
showing an unacknowledged concurrent write to that key instead of the acknowledged one it replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from emulator.s3 import moto_patches, snapshots
from emulator.s3.blobs import BlobStore
from emulator.s3.index import S3Index
from emulator.s3.moto_patches import MUTATING_METHODS, Touched

log = logging.getLogger(__name__)

_INTERNAL_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>The change could not be persisted; it may be lost on restart.</Message></Error>"
)


def _live_bucket(name: str) -> Any:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account_id = owner
    return s3_backends[account_id][partition].buckets.get(name)


def _tagger(bucket: Any) -> Any:
    return snapshots.backend_for(bucket.account_id, bucket.partition).tagger


class S3Durability:
    """Restores moto's S3 from `s3_dir` and keeps `s3_dir` in step with it."""

    def __init__(self, s3_dir: Path) -> None:
        self._owner = _claim(s3_dir)
        self.blobs = BlobStore(s3_dir / "blobs")
        self.index = S3Index(s3_dir / "index.sqlite3")
        self._lock = threading.Lock()
        moto_patches.install(self.blobs)

    # --- start-up ----------------------------------------------------------------------------------

    def restore(self) -> None:
        """Load every bucket and object version into moto; delete blobs nothing references."""
        with self._lock:
            on_disk = self.blobs.names()
            with self.index.transaction():
                self.index.delete_orphans()
            for name, document in self.index.buckets():
                snapshots.build_bucket(name, json.loads(document))
            referenced, damaged = self._restore_versions(on_disk)
        for blob in on_disk - referenced:
            self.blobs.unlink(blob)
        if damaged:
            self.discard(self.sync(damaged))
        log.info("S3 restored: %d objects, %d unreferenced blobs removed", len(referenced), len(on_disk - referenced))

    def _restore_versions(self, on_disk: set[str]) -> tuple[set[str], set[Touched]]:
        referenced: set[str] = set()
        damaged: set[Touched] = set()
        rows = self.index.versions()
        for (bucket_name, key), group in itertools.groupby(rows, key=lambda row: (row[0], row[1])):
            bucket = _live_bucket(bucket_name)
            if bucket is None:
                continue
            versions: list[Any] = []
            for _, _, document, blob in group:
                if blob is not None and blob not in on_disk:
                    log.warning("S3 %s/%s: body file %s is missing; version dropped", bucket_name, key, blob)
                    damaged.add((bucket_name, key))
                    continue
                below = versions[-1] if versions else None
                versions.append(snapshots.build_version(bucket, key, json.loads(document), blob, below))
                if blob is not None:
                    referenced.add(blob)
            if versions:
                bucket.keys.setlist(key, versions)
        return referenced, damaged

    # --- after each mutating request ---------------------------------------------------------------

    def sync(self, touched: Iterable[Touched]) -> list[str]:
        """Write the current state of the touched buckets and keys to the index, durably.

        Returns the blobs the index no longer references; the caller passes them to `discard` (the
        gateway does so once the response is on its way: unlinking is not part of acknowledging).
        """
        touched = set(touched)
        bucket_names = sorted({bucket for bucket, key in touched if key is None})
        keys = sorted((bucket, key) for bucket, key in touched if key is not None)
        self._fsync_new_bodies(keys)
        indexed: list[Any] = []
        with self._lock:
            with self.index.transaction():
                removed = [blob for name in bucket_names for blob in self._sync_bucket(name)]
                for name in sorted({bucket for bucket, _ in keys} - set(bucket_names)):
                    self._ensure_bucket_row(name)
                for bucket, key in keys:
                    removed += self._sync_key(bucket, key, indexed)
            for version in indexed:
                version._indexed = True
        return removed

    def discard(self, blobs: Iterable[str]) -> None:
        for blob in blobs:
            self.blobs.unlink(blob)

    def _fsync_new_bodies(self, keys: list[tuple[str, str]]) -> None:
        """fsync bodies outside the lock, so that concurrent writers do not queue behind each other."""
        for bucket_name, key in keys:
            for version in self._live_versions(bucket_name, key):
                # FileNotFoundError: replaced and collected meanwhile; the sync under the lock sees that
                with contextlib.suppress(FileNotFoundError):
                    self._fsync_body(version)

    def _fsync_body(self, version: Any) -> None:
        if not version.__dict__.get("_blob_synced", True):
            self.blobs.fsync(version._blob)
            version._blob_synced = True

    @staticmethod
    def _live_versions(bucket_name: str, key: str) -> list[Any]:
        bucket = _live_bucket(bucket_name)
        return list(bucket.keys.getlist(key, [])) if bucket is not None else []

    def _sync_key(self, bucket_name: str, key: str, indexed: list[Any]) -> list[str]:
        bucket = _live_bucket(bucket_name)
        versions = list(bucket.keys.getlist(key, [])) if bucket is not None else []
        tagger = _tagger(bucket) if bucket is not None else None
        rows = [(snapshots.dumps(snapshots.version_document(v, tagger)), v.__dict__.get("_blob")) for v in versions]
        old_rows = self.index.key_rows(bucket_name, key)
        if rows == old_rows:
            return []
        for version in versions:
            self._fsync_body(version)
        self.index.replace_key(bucket_name, key, rows)
        indexed.extend(v for v in versions if "_blob" in v.__dict__)
        kept = {blob for _, blob in rows}
        return [blob for _, blob in old_rows if blob is not None and blob not in kept]

    def _sync_bucket(self, name: str) -> list[str]:
        bucket = _live_bucket(name)
        if bucket is None:
            return self.index.delete_bucket(name)
        document = snapshots.dumps(snapshots.bucket_document(bucket, _tagger(bucket)))
        if document != self.index.bucket_document(name):
            self.index.put_bucket(name, document)
        return []

    def _ensure_bucket_row(self, name: str) -> None:
        if self.index.bucket_document(name) is None and _live_bucket(name) is not None:
            self._sync_bucket(name)

    def close(self) -> None:
        with self._lock:
            self.index.close()
            self._owner.close()


def _claim(s3_dir: Path) -> IO[bytes]:
    """Lock `s3_dir` for this process: a second emulator on the same data would delete its bodies."""
    s3_dir.mkdir(parents=True, exist_ok=True)
    owner = open(s3_dir / "owner.lock", "ab")  # noqa: SIM115  (held open until close())
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        raise RuntimeError(f"{s3_dir} is in use by another emulator process") from None
    return owner


class DurableS3App:
    """WSGI middleware around moto: a mutating request's changes are persisted before its response starts."""

    def __init__(self, app: Any, durability: S3Durability) -> None:
        self._app = app
        self._durability = durability

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            if environ.get("REQUEST_METHOD") in MUTATING_METHODS:
                return self._persisting(environ, start_response)
            return self._app(environ, start_response)
        finally:
            # werkzeug puts its Request in the environ, and the Request references the environ: a cycle
            # that keeps the request body (a whole part or object) alive until the cyclic GC next runs.
            environ.pop("werkzeug.request", None)

    def _persisting(self, environ: dict[str, Any], start_response: Any) -> Any:
        held: list[tuple[Any, ...]] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held.append((status, headers, exc_info))
            return _write_unsupported

        with moto_patches.tracking() as touched:
            try:
                body = self._app(environ, hold)
            except Exception:
                # moto failed half-way: still make the index match what it now holds in memory
                self._durability.discard(self._durability.sync(touched))
                raise
        try:
            unreferenced = self._durability.sync(touched) if touched else []
        except Exception:
            log.exception("S3: could not persist %s %s", environ["REQUEST_METHOD"], environ.get("PATH_INFO"))
            getattr(body, "close", lambda: None)()
            start_response("500 Internal Server Error", [("Content-Type", "application/xml")])
            return [_INTERNAL_ERROR]
        start_response(*held[-1])
        return _ThenDiscard(body, self._durability, unreferenced) if unreferenced else body


class _ThenDiscard:
    """A response body that, once sent and closed, deletes the blobs its request made unreferenced."""

    def __init__(self, body: Any, durability: S3Durability, blobs: list[str]) -> None:
        self._body = body
        self._durability = durability
        self._blobs = blobs

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            getattr(self._body, "close", lambda: None)()
        finally:
            self._durability.discard(self._blobs)


def _write_unsupported(data: bytes) -> None:
    raise NotImplementedError("moto's Flask app never uses the WSGI write() callable")
