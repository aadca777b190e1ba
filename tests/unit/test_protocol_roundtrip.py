"""awsJson1.1 round trips with botocore as the oracle: its serializer writes requests our validator
reads back unchanged, and its parser reads our responses back to the documents we serialized."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from emulator.api.errors import SerializationError, ValidationError
from emulator.api.serialization import serialize
from emulator.api.spec import service_model
from emulator.api.validation import validate_request

MODEL = service_model("sagemaker")
WHEN = dt.datetime(2026, 11, 21, 6, 30, 15, 250000, tzinfo=dt.UTC)

REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreatePipeline",
        {
            "PipelineName": "my-pipeline",
            "PipelineDefinition": '{"Version": "2020-12-01", "Steps": []}',
            "PipelineDescription": "unicode ✓ and \n newlines",
            "ClientRequestToken": "a" * 36,
            "RoleArn": "arn:aws:iam::123456789012:role/Role",
            "Tags": [{"Key": "k", "Value": "v"}],
            "ParallelismConfiguration": {"MaxParallelExecutionSteps": 4},
        },
    ),
    (
        "ListPipelines",
        {"CreatedAfter": WHEN, "SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 100},
    ),
    ("DescribePipeline", {"PipelineName": "my-pipeline", "PipelineVersionId": 7}),
    ("DeleteTags", {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p", "TagKeys": ["a", "b"]}),
]


def _botocore_body(operation: str, params: dict[str, Any]) -> Any:
    request = create_serializer("json").serialize_to_request(params, MODEL.operation_model(operation))
    return json.loads(request["body"])


def _expected_wire(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: _expected_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expected_wire(item) for item in value]
    return value


@pytest.mark.parametrize(("operation", "params"), REQUESTS, ids=[name for name, _ in REQUESTS])
def test_requests_serialized_by_botocore_validate_unchanged(operation: str, params: dict[str, Any]) -> None:
    shape = MODEL.operation_model(operation).input_shape
    parsed = validate_request(_botocore_body(operation, params), shape)
    assert parsed == _expected_wire(params)


def test_unknown_members_are_dropped_like_the_service_does() -> None:
    shape = MODEL.operation_model("DescribePipeline").input_shape
    assert validate_request({"PipelineName": "p", "Bogus": 1}, shape) == {"PipelineName": "p"}


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"PipelineName": 5}, SerializationError),
        ({"PipelineName": "p", "PipelineVersionId": True}, SerializationError),
        ({"PipelineName": "p", "PipelineVersionId": 1.5}, SerializationError),
        ({"PipelineName": ""}, ValidationError),
        ({}, ValidationError),
    ],
)
def test_type_errors_and_constraint_errors_differ(request_body: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        validate_request(request_body, MODEL.operation_model("DescribePipeline").input_shape)


RESPONSES: list[tuple[str, dict[str, Any]]] = [
    (
        "DescribePipeline",
        {
            "PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
            "PipelineName": "p",
            "PipelineDefinition": "{}",
            "PipelineStatus": "Active",
            "CreationTime": WHEN.timestamp(),
            "LastModifiedTime": WHEN,
            "ParallelismConfiguration": {"MaxParallelExecutionSteps": 2},
        },
    ),
    (
        "ListPipelines",
        {
            "PipelineSummaries": [{"PipelineName": "p", "CreationTime": WHEN.timestamp()}],
            "NextToken": "abc",
        },
    ),
    ("ListTags", {"Tags": [{"Key": "a", "Value": ""}]}),
]


@pytest.mark.parametrize(("operation", "document"), RESPONSES, ids=[name for name, _ in RESPONSES])
def test_responses_parse_back_with_botocore(operation: str, document: dict[str, Any]) -> None:
    shape = MODEL.operation_model(operation).output_shape
    body = json.dumps(serialize(document, shape)).encode()
    parsed = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata", None)
    expected = json.loads(json.dumps(document, default=lambda value: value.timestamp()))
    assert _expected_wire(parsed) == expected


def test_serializer_refuses_members_the_shape_does_not_have() -> None:
    shape = MODEL.operation_model("ListTags").output_shape
    with pytest.raises(Exception, match="unknown member 'Bogus'"):
        serialize({"Tags": [], "Bogus": 1}, shape)
    with pytest.raises(Exception, match="not a valid string"):
        serialize({"NextToken": 5}, shape)
