"""Completing a multipart upload without holding the object in memory.

moto's `FakeMultipart.complete` joins every part into one bytearray (and, for the default full-object
checksum, into a second one). `complete_streaming` replaces it (installed by `moto_patches`): it checks
the parts exactly as moto does, concatenates the part blobs into a new blob file chunk by chunk, and
computes the same ETag (MD5 of the part MD5s, `-<count>`) and the same checksum moto would, with
incremental versions of moto's `compute_checksum` (including its fallbacks: CRC64NVME without `awscrt`
and CRC32C without `crc32c` are computed as CRC32, as moto does).

Not here: creating the key (moto's `complete_multipart_upload` still does that, with the returned
`PreparedBlob` as the value) or persisting it (`durability`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from emulator.s3.blobs import COPY_CHUNK_SIZE, BlobStore, PreparedBlob


def _crc_updater(algorithm: str) -> tuple[Callable[[bytes, int], int], int]:
    """(update(chunk, state) -> state, width in bytes) for a CRC, with moto's fallbacks to CRC32."""
    from moto.core.compat import HAS_CRT

    if algorithm == "CRC32C":
        try:
            import crc32c  # type: ignore[import-not-found]

            return (lambda chunk, state: crc32c.crc32c(chunk, value=state)), 4
        except ImportError:
            pass
    if algorithm == "CRC64NVME" and HAS_CRT:
        from awscrt import checksums  # type: ignore[import-not-found]

        return (lambda chunk, state: checksums.crc64nvme(chunk, previous_crc64nvme=state)), 8
    return binascii.crc32, 4


class StreamingChecksum:
    """Incremental `moto.s3.utils.compute_checksum(body, algorithm, encode_base64=False)`."""

    def __init__(self, algorithm: str) -> None:
        self._hash: Any = None
        self._crc: Callable[[bytes, int], int] | None = None
        self._state = 0
        self._width = 4
        if algorithm in ("CRC32", "CRC32C", "CRC64NVME"):
            self._crc, self._width = _crc_updater(algorithm)
        elif algorithm == "SHA1":
            self._hash = hashlib.sha1(usedforsecurity=False)
        else:
            self._hash = hashlib.sha256(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        if self._crc is not None:
            self._state = self._crc(chunk, self._state)
        else:
            self._hash.update(chunk)

    def digest(self) -> bytes:
        if self._crc is not None:
            return self._state.to_bytes(self._width, "big")
        return bytes(self._hash.digest())


class MultipartChecksum:
    """What moto's `MultipartChecksumBuilder` computes, fed chunk by chunk and part by part."""

    def __init__(self, algorithm: str | None, checksum_type: str | None) -> None:
        self.algorithm = algorithm or "CRC64NVME"
        default_type = "FULL_OBJECT" if self.algorithm == "CRC64NVME" else "COMPOSITE"
        self.type = checksum_type or default_type
        self._whole = StreamingChecksum(self.algorithm)
        self._part = StreamingChecksum(self.algorithm)
        self._part_digests = bytearray()
        self._parts = 0

    def update(self, chunk: bytes) -> None:
        (self._part if self.type == "COMPOSITE" else self._whole).update(chunk)

    def end_part(self) -> None:
        if self.type == "COMPOSITE":
            self._part_digests.extend(self._part.digest())
            self._part = StreamingChecksum(self.algorithm)
        self._parts += 1

    def build(self) -> tuple[str, str, int]:
        if self.type == "COMPOSITE":
            combined = StreamingChecksum(self.algorithm)
            combined.update(bytes(self._part_digests))
            return self.type, base64.b64encode(combined.digest()).decode(), self._parts
        return self.type, base64.b64encode(self._whole.digest()).decode(), 1


def validated_parts(multipart: Any, body: Iterable[tuple[int, str]]) -> list[Any]:
    """The parts named in the CompleteMultipartUpload body, checked as moto's `complete` checks them."""
    from moto.s3 import models
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML

    parts: list[Any] = []
    for number, etag in body:
        part = multipart.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if parts and parts[-1].contentsize < models.S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        parts.append(part)
    if not parts:
        raise MalformedXML
    return parts


def complete_streaming(
    store: BlobStore, multipart: Any, body: Iterable[tuple[int, str]]
) -> tuple[PreparedBlob, str, tuple[str, str, int]]:
    """moto's `FakeMultipart.complete`, returning a `PreparedBlob` instead of the joined bytes."""
    parts = validated_parts(multipart, body)
    md5s = b"".join(bytes.fromhex(part.etag.replace('"', "")) for part in parts)
    etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(parts)}"
    checksum = MultipartChecksum(
        multipart.metadata.get("x-amz-checksum-algorithm"), multipart.metadata.get("x-amz-checksum-type")
    )
    name, size = _concatenate(store, [part._blob for part in parts], checksum)
    return PreparedBlob(name, size), etag, checksum.build()


def _concatenate(store: BlobStore, sources: list[str | None], checksum: MultipartChecksum) -> tuple[str | None, int]:
    name, out = store.create()
    size = 0
    with out:
        for source in sources:
            if source is not None:
                with open(store.path(source), "rb") as part:
                    while chunk := part.read(COPY_CHUNK_SIZE):
                        checksum.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            checksum.end_part()
    if size == 0:
        store.unlink(name)
        return None, 0
    return name, size
