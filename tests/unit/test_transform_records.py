"""Splitting input objects into records and packing records into payloads (batch transform, pure)."""

from __future__ import annotations

import struct

import pytest

from emulator.jobs.transform_records import (
    MIB,
    Item,
    RecordError,
    batches,
    max_payload_bytes,
    payload_of,
    recordio_frame,
    split_records,
    tfrecord_frame,
)


def test_line_split_drops_line_terminators_and_skips_blank_lines() -> None:
    data = b"1,2\n\n3,4\r\n   \n5,6"
    assert list(split_records(data, "Line")) == [b"1,2", b"3,4", b"5,6"]
    assert list(split_records(b"a\nb\n", "Line")) == [b"a", b"b"]


def test_none_split_is_the_whole_object_and_nothing_for_an_empty_one() -> None:
    assert list(split_records(b"a\nb\n", "None")) == [b"a\nb\n"]
    assert list(split_records(b"", "None")) == []


def test_recordio_split_yields_framed_records() -> None:
    records = [b"abc", b"", b"12345678", b"x" * 13]
    data = b"".join(recordio_frame(record) for record in records)
    split = list(split_records(data, "RecordIO"))
    assert split == [recordio_frame(record) for record in records]
    assert b"".join(split) == data


def test_recordio_multi_part_record_is_one_record() -> None:
    def part(flag: int, payload: bytes) -> bytes:
        return struct.pack("<II", 0xCED7230A, (flag << 29) | len(payload)) + payload + b"\0" * (-len(payload) % 4)

    data = part(1, b"start") + part(2, b"mid") + part(3, b"end") + part(0, b"whole")
    assert list(split_records(data, "RecordIO")) == [
        part(1, b"start") + part(2, b"mid") + part(3, b"end"),
        part(0, b"whole"),
    ]


def test_recordio_rejects_data_that_is_not_recordio() -> None:
    with pytest.raises(RecordError, match="magic"):
        list(split_records(b"1,2,3\n4,5,6\n", "RecordIO"))
    with pytest.raises(RecordError, match="truncated"):
        list(split_records(recordio_frame(b"abcdef")[:-4], "RecordIO"))


def test_tfrecord_split_yields_framed_records() -> None:
    records = [b"one", b"second record", b""]
    data = b"".join(tfrecord_frame(record) for record in records)
    assert list(split_records(data, "TFRecord")) == [tfrecord_frame(record) for record in records]
    with pytest.raises(RecordError, match="truncated"):
        list(split_records(data[:-1], "TFRecord"))


def _items(*payloads: bytes) -> list[Item[int]]:
    return [Item(payload, index) for index, payload in enumerate(payloads)]


def test_single_record_sends_one_record_per_request() -> None:
    groups = list(batches(_items(b"a", b"b", b"c"), "SingleRecord", MIB, b"\n"))
    assert [payload_of(group, b"\n") for group in groups] == [b"a", b"b", b"c"]


def test_multi_record_packs_records_up_to_the_byte_limit_separators_included() -> None:
    records = [b"x" * 40] * 10  # 40 bytes each, 41 with the separator
    groups = list(batches(_items(*records), "MultiRecord", 100, b"\n"))
    assert [len(group) for group in groups] == [2, 2, 2, 2, 2]
    assert all(len(payload_of(group, b"\n")) <= 100 for group in groups)
    assert payload_of(groups[0], b"\n") == b"x" * 40 + b"\n" + b"x" * 40
    exact = list(batches(_items(*[b"y" * 50] * 4), "MultiRecord", 100))  # no separator: 50 + 50 fits
    assert [len(group) for group in exact] == [2, 2]
    tight = list(batches(_items(*[b"y" * 50] * 4), "MultiRecord", 100, b"\n"))  # 50 + 1 + 50 does not
    assert [len(group) for group in tight] == [1, 1, 1, 1]


def test_multi_record_without_limit_sends_everything_at_once() -> None:
    assert max_payload_bytes(0) is None
    assert max_payload_bytes(6) == 6 * MIB
    groups = list(batches(_items(*[b"r\n"] * 1000), "MultiRecord", None))
    assert len(groups) == 1 and len(groups[0]) == 1000


def test_a_record_larger_than_the_limit_fails() -> None:
    with pytest.raises(RecordError, match="larger than MaxPayloadInMB"):
        list(batches(_items(b"small", b"z" * (MIB + 1)), "MultiRecord", MIB))
    with pytest.raises(RecordError, match="larger than MaxPayloadInMB"):
        list(batches(_items(b"z" * (MIB + 1)), "SingleRecord", MIB))


def test_batches_keep_each_records_origin() -> None:
    groups = list(batches([Item(b"f1\n", b"orig1\n"), Item(b"f2\n", b"orig2\n")], "MultiRecord", MIB))
    assert [item.origin for item in groups[0]] == [b"orig1\n", b"orig2\n"]
