"""Batch transform's data plane, pure: splitting an input object into records and packing records into
request payloads, as the service documents it.

- SplitType `None`: the whole object is one record. `Line`: each line without its line terminator is a
  record (blank lines are skipped); the records of one payload are joined by `\n` with none after the
  last, since the framework decoders (e.g. the XGBoost container's `csv_to_dmatrix`) expect input
  "stripped of leading or trailing newline chars". `RecordIO` and `TFRecord`: each framed record, framing
  included, so a payload of several records is still a valid RecordIO / TFRecord stream.
- BatchStrategy `SingleRecord`: one record per request. `MultiRecord`: as many consecutive records as
  fit in `MaxPayloadInMB` (MiB, counted in bytes, separators included). `MaxPayloadInMB` 0 means no limit.
- A record larger than the limit fails the job (`RecordError`), as the service does.

Not for: HTTP, S3 or filters (`transform_filters.py`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Generic, NamedTuple, TypeVar

MIB = 1024 * 1024
RECORDIO_MAGIC = 0xCED7230A
_RECORDIO_LENGTH_MASK = (1 << 29) - 1
_TFRECORD_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_TFRECORD_FOOTER = 4  # uint32 masked CRC of the data

T = TypeVar("T")


class RecordError(Exception):
    """The input cannot be split or batched as requested; the message becomes the FailureReason."""


def split_records(data: bytes, split_type: str) -> Iterator[bytes]:
    if split_type in ("", "None"):
        if data:
            yield data
    elif split_type == "Line":
        yield from _lines(data)
    elif split_type == "RecordIO":
        yield from _recordio(data)
    elif split_type == "TFRecord":
        yield from _tfrecord(data)
    else:
        raise RecordError(f"Unsupported SplitType {split_type!r}")


def _lines(data: bytes) -> Iterator[bytes]:
    for line in data.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line and not line.isspace():
            yield line


def separator_for(split_type: str) -> bytes:
    """What goes between the records of one payload."""
    return b"\n" if split_type == "Line" else b""


def _recordio(data: bytes) -> Iterator[bytes]:
    """MXNet RecordIO: magic, a length word whose top 3 bits say whether the record continues, the data
    padded to 4 bytes. A record split in parts (flags 1 start, 2 middle, 3 end) is yielded whole."""
    position, record_start = 0, None
    while position < len(data):
        if len(data) - position < 8:
            raise RecordError(f"RecordIO data is truncated at byte {position}")
        magic, word = struct.unpack_from("<II", data, position)
        if magic != RECORDIO_MAGIC:
            raise RecordError(f"Invalid RecordIO magic number at byte {position}: the input is not RecordIO")
        flag, length = word >> 29, word & _RECORDIO_LENGTH_MASK
        end = position + 8 + length + (-length % 4)
        if end > len(data):
            raise RecordError(f"RecordIO record at byte {position} is truncated")
        if record_start is None:
            record_start = position
        position = end
        if flag in (0, 3):
            yield data[record_start:end]
            record_start = None
    if record_start is not None:
        raise RecordError("RecordIO data ends inside a multi-part record")


def _tfrecord(data: bytes) -> Iterator[bytes]:
    position = 0
    while position < len(data):
        if len(data) - position < _TFRECORD_HEADER:
            raise RecordError(f"TFRecord data is truncated at byte {position}")
        (length,) = struct.unpack_from("<Q", data, position)
        end = position + _TFRECORD_HEADER + length + _TFRECORD_FOOTER
        if end > len(data):
            raise RecordError(f"TFRecord record at byte {position} is truncated")
        yield data[position:end]
        position = end


def recordio_frame(payload: bytes) -> bytes:
    """One RecordIO record holding `payload` (for tests and tools)."""
    return struct.pack("<II", RECORDIO_MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def tfrecord_frame(payload: bytes) -> bytes:
    """One TFRecord record holding `payload` (CRCs zero: readers that check them need real ones)."""
    return struct.pack("<QI", len(payload), 0) + payload + struct.pack("<I", 0)


class Item(NamedTuple, Generic[T]):
    """A record as sent (`payload`) with whatever the caller keeps beside it (`origin`, e.g. the record
    before the input filter, for joining). A named tuple: there is one per record, so it must be cheap."""

    payload: bytes
    origin: T


def max_payload_bytes(max_payload_in_mb: int) -> int | None:
    return None if max_payload_in_mb == 0 else max_payload_in_mb * MIB


def batches(
    items: Iterable[Item[T]], strategy: str, limit: int | None, separator: bytes = b""
) -> Iterator[list[Item[T]]]:
    """Group items into request payloads: one each (SingleRecord) or as many as fit (MultiRecord)."""
    batch: list[Item[T]] = []
    size = 0
    for item in items:
        if limit is not None and len(item.payload) > limit:
            raise RecordError(
                f"A record of {len(item.payload)} bytes is larger than MaxPayloadInMB ({limit // MIB} MB); "
                "raise MaxPayloadInMB or split the input into smaller records."
            )
        if strategy == "SingleRecord":
            yield [item]
            continue
        added = len(item.payload) + (len(separator) if batch else 0)
        if batch and limit is not None and size + added > limit:
            yield batch
            batch, size, added = [], 0, len(item.payload)
        batch.append(item)
        size += added
    if batch:
        yield batch


def payload_of(batch: list[Item[T]], separator: bytes = b"") -> bytes:
    return separator.join(item.payload for item in batch)
