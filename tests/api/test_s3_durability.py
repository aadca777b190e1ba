"""S3 through the gateway survives `kill -9`, and large objects stream.

Each test runs its own emulator subprocess (tests/s3_helpers.py) on its own data dir, because it kills
it. Expectations come only from what the client sent and what the server acknowledged before the kill.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.s3_helpers import EmulatorProcess, sha256_file, write_pseudo_random_file

MiB = 1024 * 1024


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(tmp_path / "data", tmp_path / "emulator.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Expected:
    """One object as the client wrote it and the server acknowledged it."""

    sha256: str
    size: int
    etag: str
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tags(tags: dict[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def _error_code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def _write_small_objects(s3: Any, bucket: str) -> dict[str, Expected]:
    expected = {}
    for index, (key, content_type) in enumerate(
        [("docs/readme.txt", "text/plain"), ("data/table.csv", "text/csv"), ("empty/", "")]
    ):
        body = f"object {index} ".encode() * ((index + 1) * 100) if content_type else b""
        metadata = {"origin": f"test-{index}", "Mixed-Case-Key": "Value With Spaces"}
        tags = {"team": "ml", "index": str(index)}
        extra = {"ContentType": content_type} if content_type else {}
        response = s3.put_object(
            Bucket=bucket, Key=key, Body=body, Metadata=metadata, Tagging=f"team=ml&index={index}", **extra
        )
        expected[key] = Expected(
            _sha(body), len(body), response["ETag"], content_type or "binary/octet-stream", metadata, tags
        )
    return expected


def _write_large_object(s3: Any, bucket: str, tmp_path: Path) -> dict[str, Expected]:
    path = tmp_path / "large.bin"
    digest = write_pseudo_random_file(path, 60 * MiB, seed=3)
    with open(path, "rb") as body:
        response = s3.put_object(Bucket=bucket, Key="large/60mib.bin", Body=body, ContentType="application/x-bin")
    path.unlink()
    return {"large/60mib.bin": Expected(digest, 60 * MiB, response["ETag"], "application/x-bin")}


def _write_multipart_object(s3: Any, bucket: str) -> dict[str, Expected]:
    key = "multipart/model.tar.gz"
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="application/gzip", Metadata={"stage": "train"}, Tagging="kind=model"
    )
    parts, bodies = [], []
    for number, size in enumerate([5 * MiB, 5 * MiB, 123_457], start=1):
        body = hashlib.sha512(str(number).encode()).digest() * (size // 64) + b"!" * (size % 64)
        bodies.append(body)
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=body)
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    response = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert response["ETag"].endswith('-3"')
    whole = b"".join(bodies)
    return {
        key: Expected(
            _sha(whole), len(whole), response["ETag"], "application/gzip", {"stage": "train"}, {"kind": "model"}
        )
    }


def _copy_objects(s3: Any, bucket: str, target: str, expected: dict[str, Expected]) -> dict[str, Expected]:
    source = expected["docs/readme.txt"]
    kept = s3.copy_object(
        Bucket=target, Key="copies/readme.txt", CopySource={"Bucket": bucket, "Key": "docs/readme.txt"}
    )
    replaced = s3.copy_object(
        Bucket=target,
        Key="copies/model.tar.gz",
        CopySource={"Bucket": bucket, "Key": "multipart/model.tar.gz"},
        MetadataDirective="REPLACE",
        ContentType="application/octet-stream",
        Metadata={"copied": "yes"},
    )
    model = expected["multipart/model.tar.gz"]
    # a managed copy above the multipart threshold goes through UploadPartCopy
    small_parts = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.copy({"Bucket": bucket, "Key": "multipart/model.tar.gz"}, target, "copies/by-parts", Config=small_parts)
    by_parts = s3.head_object(Bucket=target, Key="copies/by-parts")
    assert by_parts["ETag"].endswith('-3"')
    return {
        "copies/by-parts": Expected(  # a multipart copy carries metadata over, not tags
            model.sha256, model.size, by_parts["ETag"], model.content_type, model.metadata
        ),
        "copies/readme.txt": Expected(
            source.sha256,
            source.size,
            kept["CopyObjectResult"]["ETag"],
            source.content_type,
            source.metadata,
            source.tags,
        ),
        "copies/model.tar.gz": Expected(
            model.sha256,
            model.size,
            replaced["CopyObjectResult"]["ETag"],
            "application/octet-stream",
            {"copied": "yes"},
            model.tags,
        ),
    }


def _assert_object(s3: Any, bucket: str, key: str, want: Expected) -> None:
    head = s3.head_object(Bucket=bucket, Key=key)
    got = s3.get_object(Bucket=bucket, Key=key)
    body = got["Body"].read()
    assert (len(body), _sha(body)) == (want.size, want.sha256), key
    for response in (head, got):
        assert response["ETag"] == want.etag, key
        assert response["ContentLength"] == want.size, key
        assert response["ContentType"] == want.content_type, key
        assert response["Metadata"] == {k.lower(): v for k, v in want.metadata.items()}, key
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == want.tags, key


def _blob_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "s3" / "blobs").rglob("*") if path.is_file()]


def test_acknowledged_writes_survive_sigkill(emulator: EmulatorProcess, tmp_path: Path) -> None:
    s3 = emulator.s3()
    for bucket in ("durable-main", "durable-copies", "durable-doomed"):
        s3.create_bucket(Bucket=bucket)
    objects = {"durable-main": _write_small_objects(s3, "durable-main")}
    objects["durable-main"].update(_write_large_object(s3, "durable-main", tmp_path))
    objects["durable-main"].update(_write_multipart_object(s3, "durable-main"))
    objects["durable-copies"] = _copy_objects(s3, "durable-main", "durable-copies", objects["durable-main"])

    s3.put_object_tagging(Bucket="durable-main", Key="data/table.csv", Tagging=_tags({"retagged": "1"}))
    objects["durable-main"]["data/table.csv"].tags = {"retagged": "1"}
    s3.delete_object_tagging(Bucket="durable-main", Key="docs/readme.txt")
    objects["durable-main"]["docs/readme.txt"].tags = {}
    s3.put_bucket_tagging(Bucket="durable-main", Tagging=_tags({"project": "durability"}))
    s3.put_bucket_tagging(Bucket="durable-copies", Tagging=_tags({"gone": "soon"}))
    s3.delete_bucket_tagging(Bucket="durable-copies")
    s3.put_object(Bucket="durable-doomed", Key="short-lived", Body=b"bye")
    s3.delete_object(Bucket="durable-doomed", Key="short-lived")
    s3.delete_bucket(Bucket="durable-doomed")
    s3.put_object(Bucket="durable-main", Key="overwritten", Body=b"first version")
    overwritten = s3.put_object(Bucket="durable-main", Key="overwritten", Body=b"second")
    objects["durable-main"]["overwritten"] = Expected(_sha(b"second"), 6, overwritten["ETag"])
    s3.delete_object(Bucket="durable-main", Key="copies-to-delete")  # deleting a missing key is fine
    for key in ("tmp/a", "tmp/b", "tmp/c"):
        s3.put_object(Bucket="durable-main", Key=key, Body=key.encode())
    deleted = s3.delete_objects(
        Bucket="durable-main", Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "tmp/b"}, {"Key": "tmp/c"}]}
    )
    assert len(deleted["Deleted"]) == 3

    emulator.restart_after_kill()  # right after the last acknowledged response

    s3 = emulator.s3()
    names = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    assert {"durable-main", "durable-copies"} <= names and "durable-doomed" not in names
    assert _error_code(lambda: s3.head_bucket(Bucket="durable-doomed")) in ("404", "NoSuchBucket")
    for bucket, expected in objects.items():
        listing = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert {o["Key"]: (o["ETag"], o["Size"]) for o in listing} == {
            key: (want.etag, want.size) for key, want in expected.items()
        }
        for key, want in expected.items():
            _assert_object(s3, bucket, key, want)
    assert _error_code(lambda: s3.get_object(Bucket="durable-main", Key="tmp/a")) == "NoSuchKey"
    assert s3.get_bucket_tagging(Bucket="durable-main")["TagSet"] == [{"Key": "project", "Value": "durability"}]
    assert _error_code(lambda: s3.get_bucket_tagging(Bucket="durable-copies")) == "NoSuchTagSet"
    non_empty = sum(1 for expected in objects.values() for want in expected.values() if want.size)
    assert len(_blob_files(emulator.data_dir)) == non_empty  # deleted and overwritten bodies are gone


def test_versioned_bucket_survives_sigkill(emulator: EmulatorProcess) -> None:
    s3 = emulator.s3()
    s3.create_bucket(Bucket="durable-versions")
    s3.put_bucket_versioning(Bucket="durable-versions", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="durable-versions", Key="model", Body=b"v1")["VersionId"]
    second = s3.put_object(Bucket="durable-versions", Key="model", Body=b"v2")["VersionId"]
    marker = s3.delete_object(Bucket="durable-versions", Key="model")["VersionId"]

    emulator.restart_after_kill()

    s3 = emulator.s3()
    assert s3.get_bucket_versioning(Bucket="durable-versions")["Status"] == "Enabled"
    versions = s3.list_object_versions(Bucket="durable-versions")
    assert [v["VersionId"] for v in versions["Versions"]] == [second, first]
    assert [m["VersionId"] for m in versions["DeleteMarkers"]] == [marker]
    assert _error_code(lambda: s3.get_object(Bucket="durable-versions", Key="model")) == "NoSuchKey"
    assert s3.get_object(Bucket="durable-versions", Key="model", VersionId=first)["Body"].read() == b"v1"
    s3.delete_object(Bucket="durable-versions", Key="model", VersionId=marker)
    assert s3.get_object(Bucket="durable-versions", Key="model")["Body"].read() == b"v2"


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


@pytest.mark.parametrize("checksum_type", ["COMPOSITE", "FULL_OBJECT"])
def test_multipart_checksums_match_s3_definition(emulator: EmulatorProcess, checksum_type: str) -> None:
    s3 = emulator.s3()
    s3.create_bucket(Bucket="durable-checksums")
    key = f"checksummed-{checksum_type}"
    upload = s3.create_multipart_upload(
        Bucket="durable-checksums", Key=key, ChecksumAlgorithm="CRC32", ChecksumType=checksum_type
    )
    bodies = [bytes([n]) * (5 * MiB) for n in (1, 2)] + [b"tail"]
    parts = []
    for number, body in enumerate(bodies, start=1):
        part = s3.upload_part(
            Bucket="durable-checksums",
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]})
    s3.complete_multipart_upload(
        Bucket="durable-checksums", Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    if checksum_type == "COMPOSITE":
        combined = _crc32(b"".join(_crc32(body) for body in bodies))
        want = f"{base64.b64encode(combined).decode()}-{len(bodies)}"
    else:
        want = base64.b64encode(_crc32(b"".join(bodies))).decode()

    emulator.restart_after_kill()

    got = emulator.s3().get_object(Bucket="durable-checksums", Key=key, ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == want
    assert got["Body"].read() == b"".join(bodies)


def test_overwrite_and_delete_leave_no_body_files(emulator: EmulatorProcess) -> None:
    s3 = emulator.s3()
    s3.create_bucket(Bucket="durable-churn")
    for round_ in range(5):
        for index in range(10):
            s3.put_object(Bucket="durable-churn", Key=f"key-{index}", Body=f"{round_}-{index}".encode())
        s3.copy_object(Bucket="durable-churn", Key="copy", CopySource={"Bucket": "durable-churn", "Key": "key-0"})
    upload = s3.create_multipart_upload(Bucket="durable-churn", Key="aborted")
    s3.upload_part(Bucket="durable-churn", Key="aborted", UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="durable-churn", Key="aborted", UploadId=upload["UploadId"])
    s3.delete_objects(Bucket="durable-churn", Delete={"Objects": [{"Key": f"key-{i}"} for i in range(5)]})
    deadline = time.monotonic() + 10  # blobs are unlinked just after the response is sent
    while len(_blob_files(emulator.data_dir)) != 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_blob_files(emulator.data_dir)) == 6  # key-5 … key-9 and copy

    emulator.restart_after_kill()

    assert len(_blob_files(emulator.data_dir)) == 6
    keys = [o["Key"] for o in emulator.s3().list_objects_v2(Bucket="durable-churn")["Contents"]]
    assert keys == ["copy"] + [f"key-{i}" for i in range(5, 10)]


class _RssSampler:
    """The server's peak RSS while a block runs: VmHWM when it can be reset, else sampled VmRSS."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self._emulator = emulator

    def __enter__(self) -> _RssSampler:
        self._hwm = self._emulator.reset_peak_rss()
        self.baseline_kib = self._emulator.rss_kib()
        self.peak_kib = self.baseline_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, self._emulator.rss_kib())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._hwm:
            self.peak_kib = max(self.peak_kib, self._emulator.peak_rss_kib())

    @property
    def growth_mib(self) -> float:
        return (self.peak_kib - self.baseline_kib) / 1024


@pytest.mark.slow
def test_one_gib_streams_through_bounded_memory(emulator: EmulatorProcess, tmp_path: Path) -> None:
    source, target = tmp_path / "one-gib.bin", tmp_path / "one-gib.back"
    try:
        digest = write_pseudo_random_file(source, 1024 * MiB)
        s3 = emulator.s3(max_pool_connections=20)
        s3.create_bucket(Bucket="durable-big")
        config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=10)

        with _RssSampler(emulator) as upload:
            s3.upload_file(str(source), "durable-big", "one-gib.bin", Config=config)
        assert upload.growth_mib < 300, f"server RSS grew by {upload.growth_mib:.0f} MiB during upload"

        with _RssSampler(emulator) as download:
            s3.download_file("durable-big", "one-gib.bin", str(target), Config=config)
        assert download.growth_mib < 300, f"server RSS grew by {download.growth_mib:.0f} MiB during download"
        assert sha256_file(target) == digest

        print(f"server RSS growth: upload {upload.growth_mib:.0f} MiB, download {download.growth_mib:.0f} MiB")

        etag = s3.head_object(Bucket="durable-big", Key="one-gib.bin")["ETag"]
        emulator.restart_after_kill()
        head = emulator.s3().head_object(Bucket="durable-big", Key="one-gib.bin")
        assert (head["ETag"], head["ContentLength"]) == (etag, 1024 * MiB)
    finally:
        emulator.stop()
        for path in (source, target):
            path.unlink(missing_ok=True)
        shutil.rmtree(emulator.data_dir / "s3", ignore_errors=True)  # pytest keeps recent tmp dirs
