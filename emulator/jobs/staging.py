"""Staging a job's files: S3 inputs into the host directories (through a content-addressed cache),
the JSON config files of the container contract, and outputs back to S3.

Everything goes through S3 over HTTP (the gateway), never moto directly. Paths derived from S3 keys
are checked so nothing lands outside the job directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

Say = Callable[[str], None]


class StagingError(Exception):
    """Input or output staging failed; the message becomes the job's FailureReason."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise StagingError(f"Not an S3 URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    etag: str
    relative: str  # where it lands below the destination directory


def _safe_relative(relative: str, uri: str) -> str:
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts:
        raise StagingError(f"S3 object {uri} would be written outside the job directory; rename it")
    return relative


class S3Stager:
    """Downloads (with a cache keyed by bucket/key/ETag) and uploads for one job."""

    def __init__(self, s3: Any, cache_dir: Path, say: Say) -> None:
        self._s3 = s3
        self._cache = cache_dir
        self._say = say
        self._cache.mkdir(parents=True, exist_ok=True)

    def objects_under(self, uri: str) -> list[S3Object]:
        """The objects an S3Prefix names, each with the path it lands at (relative to the prefix)."""
        bucket, prefix = split_s3_uri(uri)
        # Keys that only start with the prefix ("data/train" → "data/train2/x") land relative to its folder.
        base = prefix if prefix.endswith("/") else prefix.rpartition("/")[0] + "/" if "/" in prefix else ""
        found = []
        for item in self._list(bucket, prefix):
            key = item["Key"]
            if key.endswith("/"):
                continue
            if key == prefix:
                relative = PurePosixPath(key).name
            elif key.startswith(prefix.rstrip("/") + "/"):
                relative = key[len(prefix.rstrip("/")) + 1 :]
            else:
                relative = key[len(base) :] if base != "/" else key
            found.append(
                S3Object(bucket, key, item["ETag"].strip('"'), _safe_relative(relative, f"s3://{bucket}/{key}"))
            )
        if not found:
            raise StagingError(f"No S3 objects found under {uri}")
        return sorted(found, key=lambda item: item.key)

    def objects_of(self, uri: str, data_type: str | None, what: str) -> list[S3Object]:
        """The objects an input names (`S3Prefix` or `ManifestFile`); `what` names the input in errors."""
        try:
            if data_type == "ManifestFile":
                return self.objects_in_manifest(uri)
            return self.objects_under(uri)
        except StagingError as error:
            raise StagingError(f"{error} ({what}). Upload the data there or correct the input's S3Uri.") from None

    def objects_in_manifest(self, uri: str) -> list[S3Object]:
        bucket, key = split_s3_uri(uri)
        try:
            manifest = json.loads(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ValueError as error:
            raise StagingError(f"Manifest {uri} is not JSON: {error}") from None
        except Exception as error:
            raise StagingError(f"Could not read the manifest {uri}: {error}") from None
        if not isinstance(manifest, list) or not manifest or "prefix" not in manifest[0]:
            raise StagingError(f'Manifest {uri} must be a JSON list starting with {{"prefix": ...}}')
        prefix_bucket, prefix = split_s3_uri(manifest[0]["prefix"])
        found = []
        for relative in manifest[1:]:
            member = f"s3://{prefix_bucket}/{prefix}{relative}"
            try:
                head = self._s3.head_object(Bucket=prefix_bucket, Key=prefix + relative)
            except Exception as error:
                raise StagingError(f"Manifest {uri} names {member}, which could not be read: {error}") from None
            found.append(
                S3Object(prefix_bucket, prefix + relative, head["ETag"].strip('"'), _safe_relative(relative, uri))
            )
        if not found:
            raise StagingError(f"Manifest {uri} names no objects")
        return found

    def download(self, objects: list[S3Object], destination: Path) -> None:
        destination.mkdir(parents=True, exist_ok=True)
        for item in objects:
            target = destination / item.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            cached = self._fetch(item)
            try:
                os.link(cached, target)
            except OSError:
                shutil.copyfile(cached, target)

    def _fetch(self, item: S3Object) -> Path:
        digest = hashlib.sha256(f"{item.bucket}\0{item.key}\0{item.etag}".encode()).hexdigest()
        cached = self._cache / digest[:2] / digest
        uri = f"s3://{item.bucket}/{item.key}"
        if _unchanged(cached):
            self._say(f"[emulator] cache hit: {uri} (ETag {item.etag}) is not downloaded again")
            return cached
        if cached.exists():
            self._say(f"[emulator] cache entry for {uri} was modified (by a job writing its input?); downloading again")
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Unique per download: jobs running at once may fetch the same object; the rename is atomic.
        partial = cached.with_suffix(f".{uuid.uuid4().hex}.part")
        try:
            self._s3.download_file(item.bucket, item.key, str(partial))
        except Exception as error:
            partial.unlink(missing_ok=True)
            raise StagingError(f"Could not download {uri}: {error}") from None
        stamp = _stamp_of(partial)
        os.replace(partial, cached)
        _write_stamp(cached, stamp)
        return cached

    def upload_file(self, path: Path, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        try:
            self._s3.upload_file(str(path), bucket, key)
        except Exception as error:
            raise StagingError(f"Could not upload to {uri}: {error}") from None

    def upload_tree(self, directory: Path, uri: str) -> int:
        """Upload every file below `directory` to `uri/<relative path>`; returns the file count."""
        count = 0
        for path in sorted(_files(directory)):
            relative = path.relative_to(directory).as_posix()
            self.upload_file(path, f"{uri.rstrip('/')}/{relative}")
            count += 1
        return count

    def _list(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                yield from page.get("Contents", [])
        except Exception as error:
            raise StagingError(f"Could not list s3://{bucket}/{prefix}: {error}") from None


# Jobs get cache entries as hard links, so a job that writes to an input file in place writes to the cache
# entry too. Each entry has a stamp (size and mtime when downloaded); an entry that no longer matches it is
# downloaded again rather than handed to the next job.


def _stamp_of(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _write_stamp(cached: Path, stamp: str) -> None:
    partial = cached.with_suffix(f".{uuid.uuid4().hex}.stamp-part")
    partial.write_text(stamp)
    os.replace(partial, cached.with_suffix(".stamp"))


def _unchanged(cached: Path) -> bool:
    try:
        return cached.with_suffix(".stamp").read_text() == _stamp_of(cached)
    except OSError:
        return False


def _files(directory: Path) -> Iterator[Path]:
    if directory.is_dir():
        yield from (path for path in directory.rglob("*") if path.is_file())


def make_tarball(directory: Path, target: Path) -> Path:
    """`directory`'s contents as a gzipped tarball (members relative to it, like SageMaker's)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(directory.iterdir()) if directory.is_dir() else []:
            archive.add(path, arcname=path.name)
    return target


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))


def shard(objects: list[S3Object], host_index: int, host_count: int, distribution: str) -> list[S3Object]:
    """ShardedByS3Key gives host i every N-th object; FullyReplicated gives every host everything."""
    if distribution != "ShardedByS3Key" or host_count == 1:
        return objects
    return objects[host_index::host_count]
