"""Pipeline executions without jobs, through boto3: parameters, Condition branches, Fail, listing and
describing, idempotent starts, bad parameters."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator
from tests.conftest import ROLE_ARN


def condition_pipeline(threshold_default: float = 6.0) -> dict[str, Any]:
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "Score", "Type": "Float", "DefaultValue": 5.0},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": threshold_default},
            {"Name": "Mode", "Type": "String", "DefaultValue": "fast", "EnumValues": ["fast", "slow"]},
        ],
        "Steps": [
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "LessThanOrEqualTo",
                            "LeftValue": {"Get": "Parameters.Score"},
                            "RightValue": {"Get": "Parameters.Threshold"},
                        }
                    ],
                    "IfSteps": [],
                    "ElseSteps": [
                        {
                            "Name": "TooHigh",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": [
                                            "Score above",
                                            {"Get": "Parameters.Threshold"},
                                            "in",
                                            {"Get": "Execution.PipelineName"},
                                        ],
                                    }
                                }
                            },
                        }
                    ],
                },
            }
        ],
    }


def wait_for(sm: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        assert time.monotonic() < deadline, f"execution still {described['PipelineExecutionStatus']}"
        time.sleep(0.2)


@pytest.fixture
def pipeline(sm: Any, unique: str) -> str:
    name = f"ctl-{unique}"
    sm.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps(condition_pipeline()),
        RoleArn=ROLE_ARN,
        ClientRequestToken=unique * 4,
    )
    return name


def test_true_branch_succeeds_and_lists_the_condition(sm: Any, pipeline: str) -> None:
    arn = sm.start_pipeline_execution(PipelineName=pipeline, ClientRequestToken="a" * 32)["PipelineExecutionArn"]
    assert arn.startswith(f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{pipeline}/execution/")
    execution_id = arn.rsplit("/", 1)[-1]
    assert len(execution_id) == 12 and execution_id.isalnum() and execution_id == execution_id.lower()
    described = wait_for(sm, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Check", "Succeeded")]
    assert steps[0]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert steps[0]["AttemptCount"] == 1
    # The same ClientRequestToken starts nothing new.
    again = sm.start_pipeline_execution(PipelineName=pipeline, ClientRequestToken="a" * 32)
    assert again["PipelineExecutionArn"] == arn


def test_else_branch_fails_with_the_fail_steps_message(sm: Any, pipeline: str) -> None:
    arn = sm.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineParameters=[{"Name": "Score", "Value": "7.5"}, {"Name": "Mode", "Value": "slow"}],
    )["PipelineExecutionArn"]
    described = wait_for(sm, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == f"Score above 6.0 in {pipeline}"
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("TooHigh", "Failed"), ("Check", "Succeeded")]
    assert steps[0]["Metadata"] == {"Fail": {"ErrorMessage": f"Score above 6.0 in {pipeline}"}}
    ascending = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    assert [s["StepName"] for s in ascending["PipelineExecutionSteps"]] == ["Check", "TooHigh"]
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert parameters == [
        {"Name": "Score", "Value": "7.5"},
        {"Name": "Threshold", "Value": "6.0"},
        {"Name": "Mode", "Value": "slow"},
    ]
    first = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn, MaxResults=2)
    rest = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn, NextToken=first["NextToken"])
    assert first["PipelineParameters"] + rest["PipelineParameters"] == parameters and "NextToken" not in rest
    summaries = sm.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]
    assert summaries[0]["PipelineExecutionArn"] == arn
    assert summaries[0]["PipelineExecutionFailureReason"] == described["FailureReason"]


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ([{"Name": "Nope", "Value": "1"}], "Nope"),
        ([{"Name": "Score", "Value": "high"}], "Score"),
        ([{"Name": "Mode", "Value": "medium"}], "medium"),
    ],
)
def test_bad_parameters_are_rejected(sm: Any, pipeline: str, parameters: list[dict[str, str]], fragment: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.start_pipeline_execution(PipelineName=pipeline, PipelineParameters=parameters)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert fragment in raised.value.response["Error"]["Message"]


def test_definition_for_execution_is_the_one_at_start(sm: Any, pipeline: str) -> None:
    arn = sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    wait_for(sm, arn)
    sm.update_pipeline(PipelineName=pipeline, PipelineDefinition=json.dumps(condition_pipeline(9.0)))
    old = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)["PipelineDefinition"]
    assert json.loads(old)["Parameters"][1]["DefaultValue"] == 6.0
    assert (
        json.loads(sm.describe_pipeline(PipelineName=pipeline)["PipelineDefinition"])["Parameters"][1]["DefaultValue"]
        == 9.0
    )


def test_unsupported_step_types_are_refused_at_create(sm: Any, unique: str) -> None:
    definition = {
        "Version": "2020-12-01",
        "Steps": [{"Name": "CallLambda", "Type": "Lambda", "Arguments": {}, "FunctionArn": "arn:aws:lambda:x"}],
    }
    with pytest.raises(ClientError) as raised:
        sm.create_pipeline(
            PipelineName=f"lam-{unique}",
            PipelineDefinition=json.dumps(definition),
            RoleArn=ROLE_ARN,
            ClientRequestToken=unique * 4,
        )
    message = raised.value.response["Error"]["Message"]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "CallLambda" in message and "Lambda" in message


def test_missing_execution_is_not_found(sm: Any) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/none/execution/abcdefabcdef"
    with pytest.raises(ClientError) as raised:
        sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_listing_sorts_and_pages_executions(sm: Any, pipeline: str) -> None:
    arns = [sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"] for _ in range(3)]
    for arn in arns:
        wait_for(sm, arn)
    newest_first = sm.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionArn"] for s in newest_first] == arns[::-1]
    oldest_first = sm.list_pipeline_executions(PipelineName=pipeline, SortOrder="Ascending")
    assert [s["PipelineExecutionArn"] for s in oldest_first["PipelineExecutionSummaries"]] == arns
    first = sm.list_pipeline_executions(PipelineName=pipeline, MaxResults=2)
    second = sm.list_pipeline_executions(PipelineName=pipeline, MaxResults=2, NextToken=first["NextToken"])
    paged = [
        s["PipelineExecutionArn"] for s in first["PipelineExecutionSummaries"] + second["PipelineExecutionSummaries"]
    ]
    assert paged == arns[::-1] and "NextToken" not in second
    assert all(s["PipelineExecutionStatus"] == "Succeeded" and "StartTime" in s for s in newest_first)


def test_update_stop_retry_and_callbacks_refuse_what_the_service_refuses(sm: Any, pipeline: str) -> None:
    arn = sm.start_pipeline_execution(PipelineName=pipeline, PipelineExecutionDisplayName="first")[
        "PipelineExecutionArn"
    ]
    wait_for(sm, arn)
    sm.update_pipeline_execution(
        PipelineExecutionArn=arn, PipelineExecutionDisplayName="renamed", PipelineExecutionDescription="checked"
    )
    described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionDisplayName"] == "renamed"
    assert described["PipelineExecutionDescription"] == "checked"
    assert described["PipelineVersionId"] == 1
    for call in (
        lambda: sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken="t" * 32),
        lambda: sm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken="t" * 32),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert "Succeeded" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        sm.send_pipeline_execution_step_success(CallbackToken="abcdefghij")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_an_execution_can_run_an_older_pipeline_version(sm: Any, pipeline: str) -> None:
    sm.update_pipeline(PipelineName=pipeline, PipelineDefinition=json.dumps(condition_pipeline(1.0)))
    latest = sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    older = sm.start_pipeline_execution(PipelineName=pipeline, PipelineVersionId=1)["PipelineExecutionArn"]
    assert wait_for(sm, latest)["PipelineExecutionStatus"] == "Failed"  # Score 5.0 > Threshold 1.0
    described = wait_for(sm, older)
    assert described["PipelineExecutionStatus"] == "Succeeded" and described["PipelineVersionId"] == 1
    assert sm.describe_pipeline(PipelineName=pipeline)["LastRunTime"] >= described["CreationTime"]


def test_armed_faults_can_be_listed_and_cleared(sagemaker_emulator: RunningEmulator) -> None:
    url = f"{sagemaker_emulator.url}/_emulator/faults"
    arming = {"kind": "TransformJob", "count": 2, "reason": "CapacityError: test"}
    assert httpx.post(url, json=arming).status_code == 200
    armed = httpx.get(url).json()["faults"]
    assert armed == [{"Kind": "TransformJob", "Reason": "CapacityError: test"}] * 2
    assert httpx.delete(url).status_code == 200
    assert httpx.get(url).json()["faults"] == []
