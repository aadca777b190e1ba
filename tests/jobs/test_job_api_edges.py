"""Edges of the jobs API that need no job to run to the end: the runner the health endpoint reports,
Pipe mode refused at create, and S3 keys that would land outside the job directory."""

from __future__ import annotations

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator
from tests.jobs.conftest import runner_of
from tests.jobs.test_training_process import ROLE, low_level_job, upload_training_data, wait_for


def test_health_reports_the_concrete_runner(runner_env: RunningEmulator) -> None:
    health = httpx.get(f"{runner_env.url}/_emulator/health", timeout=10).json()
    assert health["runner"] == runner_of(runner_env)


def test_pipe_mode_is_refused_at_create_with_the_alternatives(process_env: RunningEmulator, unique: str) -> None:
    sm = boto3.client("sagemaker")
    request = low_level_job(f"pipe-{unique}", "s3://bucket/data")
    request["InputDataConfig"][0]["InputMode"] = "Pipe"
    with pytest.raises(ClientError) as raised:
        sm.create_training_job(**request)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Pipe is not supported" in error["Message"] and "FastFile" in error["Message"]
    with pytest.raises(ClientError) as raised:
        sm.describe_training_job(TrainingJobName=f"pipe-{unique}")
    assert raised.value.response["Error"]["Code"] == "ValidationException"  # nothing was created
    assert raised.value.response["Error"]["Message"] == "Requested resource not found."  # as the service says

    with pytest.raises(ClientError) as raised:
        sm.create_processing_job(
            ProcessingJobName=f"pipe-{unique}",
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            AppSpecification={"ImageUri": "img"},
            RoleArn=ROLE,
            ProcessingInputs=[
                {
                    "InputName": "raw",
                    "S3Input": {
                        "S3Uri": "s3://bucket/raw",
                        "LocalPath": "/opt/ml/processing/raw",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "Pipe",
                    },
                }
            ],
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Pipe mode is not supported" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        sm.describe_processing_job(ProcessingJobName=f"pipe-{unique}")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_an_s3_key_that_would_escape_the_job_directory_fails_the_job(process_env: RunningEmulator, unique: str) -> None:
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    train = upload_training_data(unique)
    bucket = train[5:].split("/")[0]
    s3.put_object(Bucket=bucket, Key="abalone/train/../../../escape.csv", Body=b"x")
    name = f"escape-{unique}"
    sm.create_training_job(**low_level_job(name, train))
    described = wait_for(sm, name, ("Failed", "Completed", "Stopped"))
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert (
        f"s3://{bucket}/abalone/train/../../../escape.csv would be written outside the job"
        in (described["FailureReason"])
    )
