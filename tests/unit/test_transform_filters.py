"""DataProcessing for batch transform (pure): the service's JSONPath subset, joins and output filters."""

from __future__ import annotations

import json

import pytest

from emulator.jobs.transform_filters import (
    DataProcessing,
    FilterError,
    check_filter_text,
    parse_path,
    split_response,
)

ROW = ["id7", "1.5", "2.5", "3.5", "4.5"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", ROW),
        ("$[0]", "id7"),
        ("$[-1]", "4.5"),
        ("$[1:]", ["1.5", "2.5", "3.5", "4.5"]),
        ("$[1:3]", ["1.5", "2.5", "3.5"]),  # the service's ranges include their end
        ("$[:2]", ["id7", "1.5", "2.5"]),
        ("$[0,-1]", ["id7", "4.5"]),
        ("$[0, 2]", ["id7", "2.5"]),
        ("$[*]", ROW),
        ("$[-2:]", ["3.5", "4.5"]),
    ],
)
def test_index_paths_on_a_csv_row(path: str, expected: object) -> None:
    assert parse_path(path).apply(ROW) == expected


RECORD = {"id": 3, "features": [1, 2, 3], "meta": {"a": 1, "b": {"c": 2}}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.features", [1, 2, 3]),
        ("$.features[1]", 2),
        ("$['id','features']", {"id": 3, "features": [1, 2, 3]}),
        ("$.meta.b.c", 2),
        ("$.meta.*", [1, {"c": 2}]),
        ("$.meta.['a','b']", {"a": 1, "b": {"c": 2}}),
        ("$['meta']['a']", 1),
    ],
)
def test_name_paths_on_a_json_record(path: str, expected: object) -> None:
    assert parse_path(path).apply(RECORD) == expected


def test_a_missing_index_or_attribute_is_an_error() -> None:
    with pytest.raises(FilterError, match="outside the record"):
        parse_path("$[9]").apply(ROW)
    with pytest.raises(FilterError, match="no attribute 'missing'"):
        parse_path("$.missing").apply(RECORD)


def test_only_one_range_per_bracket() -> None:
    with pytest.raises(FilterError, match=r"only single range filters of format \(eg: \[1:5\]\) are supported"):
        parse_path("$[0:2,246:]")


def test_filter_characters_are_checked_as_the_service_does() -> None:
    problems = check_filter_text(
        {"OutputFilter": "$['account_id','SageMakerOutput']"}, "application/jsonlines", "application/jsonlines"
    )
    assert problems == [
        "Invalid OutputFilter: \"$['account_id','SageMakerOutput']\". Unexpected \"_\" in JsonPath. "
        "Supported operators for \"application/jsonlines\" are ['$', '[', ']', '*', '.', ' ', ',', ':', '-', ''']"
    ]
    assert check_filter_text({"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]"}, "text/csv", "text/csv") == []


def test_csv_input_filter_join_and_output_filter() -> None:
    processing = DataProcessing.from_request(
        {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}, "text/csv", "text/csv"
    )
    assert processing.active and processing.per_record_output
    original = b"id7,1.5,2.5"
    assert processing.filter_input(original) == b"1.5,2.5"
    assert processing.finish(original, b"0.75") == b"id7,0.75"


def test_csv_join_without_output_filter_appends_every_output_column() -> None:
    processing = DataProcessing.from_request({"JoinSource": "Input"}, "text/csv", "text/csv")
    assert processing.finish(b'a,"b,c",3', b"0.1,0.9") == b'a,"b,c",3,0.1,0.9'


def test_json_join_adds_sagemaker_output() -> None:
    processing = DataProcessing.from_request(
        {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"},
        "application/jsonlines",
        "application/jsonlines",
    )
    original = json.dumps({"id": 4, "features": [1, 2]}).encode()
    assert processing.filter_input(original) == b"[1,2]"
    assert json.loads(processing.finish(original, b'{"label": 1}')) == {"id": 4, "SageMakerOutput": {"label": 1}}


def test_json_join_of_a_non_object_input_uses_sagemaker_input() -> None:
    processing = DataProcessing.from_request({"JoinSource": "Input"}, "application/json", "application/json")
    assert json.loads(processing.finish(b"[1, 2]", b"0.5")) == {"SageMakerInput": [1, 2], "SageMakerOutput": 0.5}


def test_defaults_change_nothing() -> None:
    processing = DataProcessing.from_request({}, "application/x-npy", None)
    assert not processing.active
    assert processing.filter_input(b"\x93NUMPY") == b"\x93NUMPY"


def test_filters_need_csv_or_json() -> None:
    with pytest.raises(FilterError, match="ContentType"):
        DataProcessing.from_request({"InputFilter": "$[1:]"}, "application/x-npy", "text/csv")
    with pytest.raises(FilterError, match="Accept"):
        DataProcessing.from_request({"JoinSource": "Input"}, "text/csv", "application/x-npy")


def test_split_response_by_lines_or_json_array() -> None:
    assert split_response(b"1\n2\n3\n", 3, "csv") == [b"1", b"2", b"3"]
    assert split_response(b"[0.1, 0.2]", 2, "json") == [b"0.1", b"0.2"]
    assert split_response(b'{\n "a": 1\n}\n', 1, "json") == [b'{\n "a": 1\n}']
    with pytest.raises(FilterError, match="2 output records for 3 input records"):
        split_response(b"1\n2\n", 3, "csv")
