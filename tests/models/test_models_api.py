"""Models through boto3 against a live emulator: CreateModel / DescribeModel / ListModels / DeleteModel."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE_ARN

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_create_describe_list_delete(sm: Any, unique: str) -> None:
    name = f"Model-{unique}"
    container = {
        "Image": IMAGE,
        "ModelDataUrl": "s3://bucket/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://bucket/src.tar.gz"},
    }
    arn = sm.create_model(
        ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE_ARN, Tags=[{"Key": "k", "Value": "v"}]
    )["ModelArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:model/model-{unique}"

    described = sm.describe_model(ModelName=name)
    assert described["ModelName"] == name
    assert described["ModelArn"] == arn
    assert described["PrimaryContainer"] == {**container, "Mode": "SingleModel"}
    assert described["ExecutionRoleArn"] == ROLE_ARN
    assert described["EnableNetworkIsolation"] is False
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]

    listed = sm.list_models(NameContains=unique)["Models"]
    assert [(item["ModelName"], item["ModelArn"]) for item in listed] == [(name, arn)]

    sm.delete_model(ModelName=name)
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model(ModelName=name)
    assert error_of(excinfo) == ("ValidationException", f'Could not find model "{arn}".')


def test_containers_and_model_data_source(sm: Any, unique: str) -> None:
    source = {"S3DataSource": {"S3Uri": "s3://bucket/model/", "S3DataType": "S3Prefix", "CompressionType": "None"}}
    sm.create_model(
        ModelName=f"multi-{unique}",
        Containers=[{"Image": IMAGE, "ModelDataSource": source}],
        ExecutionRoleArn=ROLE_ARN,
    )
    described = sm.describe_model(ModelName=f"multi-{unique}")
    assert described["Containers"][0]["ModelDataSource"] == source
    assert "PrimaryContainer" not in described


def test_duplicate_missing_and_bad_containers(sm: Any, unique: str) -> None:
    name = f"dup-{unique}"
    sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE_ARN)
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE_ARN)
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("Cannot create already existing model")
    assert f"model/dup-{unique}" in message

    with pytest.raises(ClientError) as excinfo:
        sm.delete_model(ModelName=f"missing-{unique}")
    assert error_of(excinfo)[0] == "ValidationException"
    assert "Could not find model" in error_of(excinfo)[1]

    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName=f"none-{unique}", ExecutionRoleArn=ROLE_ARN)
    assert error_of(excinfo) == ("ValidationException", "Either PrimaryContainer or Containers must be specified.")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName=f"noimage-{unique}", PrimaryContainer={"ModelDataUrl": "s3://b/m.tar.gz"})
    assert "Image is required" in error_of(excinfo)[1]


def test_list_sorts_and_pages(sm: Any, unique: str) -> None:
    names = [f"page-{unique}-{index}" for index in range(5)]
    for name in names:
        sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE_ARN)
    seen, token = [], None
    while True:
        page = sm.list_models(
            NameContains=f"page-{unique}",
            SortBy="Name",
            SortOrder="Ascending",
            MaxResults=2,
            **({"NextToken": token} if token else {}),
        )
        seen += [item["ModelName"] for item in page["Models"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    newest_first = sm.list_models(NameContains=f"page-{unique}")["Models"]
    assert [item["ModelName"] for item in newest_first] == list(reversed(names))
