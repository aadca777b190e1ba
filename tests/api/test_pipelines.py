"""Pipelines CRUD through boto3 against a live emulator: round trips, versions, pagination, errors."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE_ARN

DEFINITION = json.dumps(
    {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [
            {
                "Name": "Stop",
                "Type": "Fail",
                "Arguments": {"ErrorMessage": {"Get": "Parameters.Threshold"}},
            }
        ],
    }
)


def create(sm: Any, name: str, definition: str = DEFINITION, **extra: Any) -> str:
    response = sm.create_pipeline(
        PipelineName=name,
        PipelineDefinition=definition,
        RoleArn=ROLE_ARN,
        ClientRequestToken=extra.pop("ClientRequestToken", str(uuid.uuid4())),
        **extra,
    )
    return str(response["PipelineArn"])


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_create_describe_update_delete_round_trip(sm: Any, unique: str) -> None:
    name = f"Round-Trip-{unique}"
    arn = create(
        sm,
        name,
        PipelineDisplayName="Round-trip",
        PipelineDescription="first",
        ParallelismConfiguration={"MaxParallelExecutionSteps": 3},
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/round-trip-{unique}"

    described = sm.describe_pipeline(PipelineName=name)
    assert described["PipelineName"] == name
    assert described["PipelineDisplayName"] == "Round-trip"
    assert described["PipelineDescription"] == "first"
    assert described["PipelineDefinition"] == DEFINITION
    assert described["PipelineStatus"] == "Active"
    assert described["RoleArn"] == ROLE_ARN
    assert described["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 3}
    assert described["CreationTime"] == described["LastModifiedTime"]
    assert sm.describe_pipeline(PipelineName=arn)["PipelineArn"] == arn

    new_definition = DEFINITION.replace("0.5", "0.75")
    updated = sm.update_pipeline(PipelineName=name, PipelineDefinition=new_definition, PipelineDescription="2nd")
    assert updated == {
        "PipelineArn": arn,
        "PipelineVersionId": 2,
        "ResponseMetadata": updated["ResponseMetadata"],
    }
    again = sm.describe_pipeline(PipelineName=name)
    assert again["PipelineDefinition"] == new_definition
    assert again["PipelineDescription"] == "2nd"
    assert again["LastModifiedTime"] > again["CreationTime"]
    assert sm.describe_pipeline(PipelineName=name, PipelineVersionId=1)["PipelineDefinition"] == DEFINITION

    versions = sm.list_pipeline_versions(PipelineName=name)["PipelineVersionSummaries"]
    assert [version["PipelineVersionId"] for version in versions] == [2, 1]
    assert all(version["PipelineArn"] == arn for version in versions)

    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert sm.delete_pipeline(PipelineName=name, ClientRequestToken=str(uuid.uuid4()))["PipelineArn"] == arn
    with pytest.raises(ClientError) as excinfo:
        sm.describe_pipeline(PipelineName=name)
    assert error_of(excinfo) == ("ResourceNotFound", f"Pipeline '{arn}' does not exist.")
    with pytest.raises(ClientError) as excinfo:
        sm.list_tags(ResourceArn=arn)
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_duplicate_name_says_already_exists_and_token_is_idempotent(sm: Any, unique: str) -> None:
    token = str(uuid.uuid4())
    arn = create(sm, f"dup-{unique}", ClientRequestToken=token)
    assert create(sm, f"dup-{unique}", ClientRequestToken=token) == arn
    with pytest.raises(ClientError) as excinfo:
        create(sm, f"dup-{unique}")
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert "already exists" in message
    with pytest.raises(ClientError) as excinfo:
        create(sm, f"DUP-{unique}")  # names differing only in case share one ARN
    assert "already exists" in error_of(excinfo)[1]


def test_definition_from_s3_location(sm: Any, s3: Any, unique: str) -> None:
    bucket = f"defs-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="pipelines/def.json", Body=DEFINITION.encode())
    name = f"from-s3-{unique}"
    sm.create_pipeline(
        PipelineName=name,
        PipelineDefinitionS3Location={"Bucket": bucket, "ObjectKey": "pipelines/def.json"},
        RoleArn=ROLE_ARN,
        ClientRequestToken=str(uuid.uuid4()),
    )
    assert sm.describe_pipeline(PipelineName=name)["PipelineDefinition"] == DEFINITION
    with pytest.raises(ClientError) as excinfo:
        sm.update_pipeline(
            PipelineName=name, PipelineDefinitionS3Location={"Bucket": bucket, "ObjectKey": "missing.json"}
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert f"s3://{bucket}/missing.json" in message


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda sm: sm.describe_pipeline(),
            "1 validation error detected: Value null at 'pipelineName' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            lambda sm: sm.describe_pipeline(PipelineName="bad_name!"),
            "1 validation error detected: Value 'bad_name!' at 'pipelineName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "(arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:([0-9]{12}|aws):pipeline/.*)?([a-zA-Z0-9](-*[a-zA-Z0-9]){0,255})",
        ),
        (
            lambda sm: sm.list_pipelines(MaxResults=1000, SortOrder="Sideways"),
            "2 validation errors detected: Value 'Sideways' at 'sortOrder' failed to satisfy constraint: Member "
            "must satisfy enum value set: [Ascending, Descending]; Value '1000' at 'maxResults' failed to satisfy "
            "constraint: Member must have value less than or equal to 100",
        ),
        (
            lambda sm: sm.create_pipeline(
                PipelineName="x", PipelineDefinition="{}", RoleArn="short", ClientRequestToken="t" * 32
            ),
            "1 validation error detected: Value 'short' at 'roleArn' failed to satisfy constraint: Member must "
            "have length greater than or equal to 20",
        ),
    ],
)
def test_validation_errors_are_worded_like_aws(sm_unchecked: Any, call: Any, expected: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(sm_unchecked)
    assert error_of(excinfo) == ("ValidationException", expected)


@pytest.mark.parametrize(
    ("definition", "fragment"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_invalid_definitions_are_rejected(sm: Any, unique: str, definition: str, fragment: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(sm, f"invalid-{unique}", definition)
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert fragment in message
    with pytest.raises(ClientError):
        sm.describe_pipeline(PipelineName=f"invalid-{unique}")


def test_create_needs_a_definition(sm: Any, unique: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sm.create_pipeline(PipelineName=f"nodef-{unique}", RoleArn=ROLE_ARN, ClientRequestToken=str(uuid.uuid4()))
    assert error_of(excinfo)[0] == "ValidationException"


def test_list_pipelines_filters_sorts_and_paginates(sm: Any, unique: str) -> None:
    prefix = f"list-{unique}-p"
    names = [f"{prefix}{index:02d}" for index in range(23)]
    before = time.time()
    for name in names:
        create(sm, name)

    def collect(**arguments: Any) -> list[str]:
        found, pages, token = [], 0, None
        while True:
            page = sm.list_pipelines(PipelineNamePrefix=prefix, **arguments, **({"NextToken": token} if token else {}))
            found += [summary["PipelineName"] for summary in page["PipelineSummaries"]]
            pages += 1
            token = page.get("NextToken")
            if not token:
                return found
            assert pages < 10

    assert collect(MaxResults=10) == list(reversed(names))  # newest first by default
    assert collect(SortBy="Name", SortOrder="Ascending", MaxResults=7) == names
    first = sm.list_pipelines(PipelineNamePrefix=prefix, MaxResults=5)
    assert len(first["PipelineSummaries"]) == 5
    assert set(first["PipelineSummaries"][0]) >= {"PipelineArn", "PipelineName", "CreationTime", "RoleArn"}
    default_page = sm.list_pipelines(PipelineNamePrefix=prefix)
    assert len(default_page["PipelineSummaries"]) == 10
    assert sm.list_pipelines(PipelineNamePrefix=prefix, CreatedBefore=before)["PipelineSummaries"] == []
    assert len(collect(CreatedAfter=before)) == 23

    with pytest.raises(ClientError) as excinfo:
        sm.list_pipelines(PipelineNamePrefix="other", NextToken=first["NextToken"])
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sm.list_pipelines(NextToken="garbage!")
    assert error_of(excinfo)[0] == "ValidationException"


def test_aws_cli_style_paginator_walks_everything(sm: Any, unique: str) -> None:
    prefix = f"pager-{unique}-p"
    for index in range(12):
        create(sm, f"{prefix}{index}")
    pages = sm.get_paginator("list_pipelines").paginate(PipelineNamePrefix=prefix, PaginationConfig={"PageSize": 5})
    assert sum(len(page["PipelineSummaries"]) for page in pages) == 12


def test_tags_add_list_delete(sm: Any, unique: str) -> None:
    arn = create(sm, f"tags-{unique}")
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "3"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    assert "NextToken" not in sm.list_tags(ResourceArn=arn, MaxResults=50)
    sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn.replace(f"tags-{unique}", f"missing-{unique}")
    with pytest.raises(ClientError) as excinfo:
        sm.add_tags(ResourceArn=missing, Tags=[{"Key": "a", "Value": "1"}])
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_pipeline_version_display_name(sm: Any, unique: str) -> None:
    arn = create(sm, f"versions-{unique}")
    sm.update_pipeline_version(PipelineArn=arn, PipelineVersionId=1, PipelineVersionDisplayName="first-cut")
    summaries = sm.list_pipeline_versions(PipelineName=arn)["PipelineVersionSummaries"]
    assert summaries[0]["PipelineVersionDisplayName"] == "first-cut"
    with pytest.raises(ClientError) as excinfo:
        sm.update_pipeline_version(PipelineArn=arn, PipelineVersionId=9, PipelineVersionDisplayName="x")
    assert error_of(excinfo)[0] == "ResourceNotFound"
