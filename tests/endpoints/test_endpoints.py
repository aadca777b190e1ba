"""Endpoints served for real in both runners, through boto3 `sagemaker` and `sagemaker-runtime`:
deploy → invoke → update → delete, several endpoints and instances at once, invoke errors, failures with
the model's own log lines, and endpoints that come back after the emulator restarts."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator
from tests.conftest import ROLE_ARN
from tests.endpoints.conftest import PROGRAM, SCRIPTS, SKLEARN_IMAGE, Cleanup, Serving, tarball

ACCOUNT = "123456789012"


def test_deploy_invoke_update_delete(serving: Serving, unique: str, cleanup: Cleanup) -> None:
    sm = serving.sm
    endpoint = f"ep-{unique}"
    serving.create_config(f"cfg-a-{unique}", serving.create_model(f"model-a-{unique}", {"name": "a"}))
    arn = sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"cfg-a-{unique}")["EndpointArn"]
    cleanup(endpoint)
    assert arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{endpoint}"
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"

    described = serving.wait_for(endpoint, "InService", "Failed")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["EndpointConfigName"] == f"cfg-a-{unique}"
    (variant,) = described["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (1, 1)
    assert (variant["CurrentWeight"], variant["DesiredWeight"]) == (1.0, 1.0)
    assert variant["DeployedImages"][0]["SpecifiedImage"] == serving.image

    answer, response = serving.invoke(endpoint, "1,2\n3,4", Accept="application/json", CustomAttributes="trace=1")
    assert answer["model"] == {"name": "a"}
    assert (answer["body"], answer["content_type"], answer["accept"]) == ("1,2\n3,4", "text/csv", "application/json")
    assert answer["custom_attributes"] == "trace=1"
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"

    serving.create_config(f"cfg-b-{unique}", serving.create_model(f"model-b-{unique}", {"name": "b"}))
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"cfg-b-{unique}")
    updating = sm.describe_endpoint(EndpointName=endpoint)
    assert updating["EndpointStatus"] == "Updating"
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == f"cfg-b-{unique}"
    assert serving.invoke(endpoint, "during")[0]["model"] == {"name": "a"}  # the old deployment still serves
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"cfg-a-{unique}")

    described = serving.wait_for(endpoint, "InService")
    assert described["EndpointConfigName"] == f"cfg-b-{unique}"
    assert "PendingDeploymentSummary" not in described
    assert serving.invoke(endpoint, "after")[0]["model"] == {"name": "b"}

    streams = serving.log_streams(f"/aws/sagemaker/Endpoints/{endpoint}", count=2)  # one per deployment
    assert all(stream.startswith("AllTraffic/i-") for stream in streams)

    sm.delete_endpoint(EndpointName=endpoint)
    serving.wait_gone(endpoint)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName=endpoint)
    with pytest.raises(ClientError) as missing:
        serving.invoke(endpoint, "1")
    assert missing.value.response["Error"]["Code"] == "ValidationError"
    assert missing.value.response["Error"]["Message"] == f"Endpoint {endpoint} of account {ACCOUNT} not found."

    # The name is free again.
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"cfg-b-{unique}")
    assert serving.wait_for(endpoint, "InService", "Failed")["EndpointStatus"] == "InService"
    assert serving.invoke(endpoint, "again")[0]["model"] == {"name": "b"}


def test_two_endpoints_and_two_instances_at_once(serving: Serving, unique: str, cleanup: Cleanup) -> None:
    serving.create_config(f"one-{unique}", serving.create_model(f"one-{unique}", {"name": "one"}))
    model_two = serving.create_model(f"two-{unique}", {"name": "two"})
    serving.create_config(f"two-{unique}", [("Blue", model_two, 2)])
    for name in (f"one-{unique}", f"two-{unique}"):
        serving.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        cleanup(name)
    for name in (f"one-{unique}", f"two-{unique}"):
        described = serving.wait_for(name, "InService", "Failed")
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    assert serving.invoke(f"one-{unique}", "x")[0]["model"] == {"name": "one"}
    answers = [serving.invoke(f"two-{unique}", "x") for _ in range(4)]
    assert {answer["model"]["name"] for answer, _ in answers} == {"two"}
    assert {response["InvokedProductionVariant"] for _, response in answers} == {"Blue"}
    instances = {answer.get("host") or answer.get("pid") for answer, _ in answers}
    assert len(instances) == 2, "requests should be spread over both instances"
    assert (
        serving.sm.describe_endpoint(EndpointName=f"two-{unique}")["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    )


def test_invoke_errors(serving: Serving, unique: str, cleanup: Cleanup) -> None:
    endpoint = f"errors-{unique}"
    serving.create_config(endpoint, serving.create_model(endpoint, {"name": "e"}))
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    cleanup(endpoint)
    with pytest.raises(ClientError) as creating:
        serving.invoke(endpoint, "too early")
    assert creating.value.response["Error"]["Code"] == "ValidationError"
    assert serving.wait_for(endpoint, "InService", "Failed")["EndpointStatus"] == "InService"

    with pytest.raises(serving.runtime.exceptions.ModelError) as failed:
        serving.invoke(endpoint, "fail please")
    error = failed.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "the model was asked to fail: fail please" in error["OriginalMessage"]
    assert error["LogStreamArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{endpoint}"
    assert error["Error"]["Message"].startswith("Received server error (500) from primary with message")

    _, response = serving.invoke(endpoint, "ok", TargetVariant="AllTraffic")
    assert response["InvokedProductionVariant"] == "AllTraffic"
    with pytest.raises(ClientError, match="Variant Nope not found"):
        serving.invoke(endpoint, "ok", TargetVariant="Nope")
    with pytest.raises(ClientError) as missing:
        serving.invoke(f"missing-{unique}", "ok")
    assert missing.value.response["Error"]["Message"] == f"Endpoint missing-{unique} of account {ACCOUNT} not found."


def test_a_model_that_cannot_start_fails_the_endpoint_with_its_log_lines(
    serving: Serving, unique: str, cleanup: Cleanup
) -> None:
    breaking = {"SERVE_FAIL_ON_LOAD": "no weights"} if serving.runner == "process" else {"SERVE_EXIT_CODE": "3"}
    endpoint = f"broken-{unique}"
    serving.create_config(endpoint, serving.create_model(endpoint, {"name": "x"}, breaking))
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    cleanup(endpoint)
    described = serving.wait_for(endpoint, "InService", "Failed")
    assert described["EndpointStatus"] == "Failed"
    expected = "cannot load the model: no weights" if serving.runner == "process" else "exiting as SERVE_EXIT_CODE"
    assert expected in described["FailureReason"]
    assert "Production variant AllTraffic" in described["FailureReason"]
    serving.sm.delete_endpoint(EndpointName=endpoint)  # a Failed endpoint is deleted at once
    with pytest.raises(ClientError, match="Could not find endpoint"):
        serving.sm.describe_endpoint(EndpointName=endpoint)


def test_a_failed_update_rolls_back(serving: Serving, unique: str, cleanup: Cleanup) -> None:
    endpoint = f"rollback-{unique}"
    serving.create_config(endpoint, serving.create_model(endpoint, {"name": "good"}))
    breaking = {"SERVE_FAIL_ON_LOAD": "bad"} if serving.runner == "process" else {"SERVE_EXIT_CODE": "4"}
    serving.create_config(f"{endpoint}-bad", serving.create_model(f"{endpoint}-bad", {"name": "bad"}, breaking))
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    cleanup(endpoint)
    assert serving.wait_for(endpoint, "InService", "Failed")["EndpointStatus"] == "InService"
    serving.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-bad")
    described = serving.wait_for(endpoint, "InService", "Failed")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == endpoint
    assert "Production variant AllTraffic" in described["FailureReason"]
    assert serving.invoke(endpoint, "x")[0]["model"] == {"name": "good"}


def test_process_runner_names_an_image_it_cannot_serve(process_emulator: RunningEmulator, unique: str) -> None:
    serving = Serving("process", process_emulator, "local/custom-train:test")
    endpoint = f"custom-{unique}"
    serving.sm.create_model(
        ModelName=endpoint,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer={"Image": "local/custom-train:test"},
    )
    serving.create_config(endpoint, endpoint)
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    described = serving.wait_for(endpoint, "InService", "Failed")
    assert described["EndpointStatus"] == "Failed"
    assert "cannot serve image local/custom-train:test" in described["FailureReason"]
    assert "--runner docker" in described["FailureReason"]
    serving.sm.delete_endpoint(EndpointName=endpoint)


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_endpoints_come_back_after_a_restart(serving: Serving, unique: str, cleanup: Cleanup, hard: bool) -> None:
    endpoint = f"durable-{unique}"
    serving.create_config(endpoint, serving.create_model(endpoint, {"name": "durable"}))
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    cleanup(endpoint)
    assert serving.wait_for(endpoint, "InService", "Failed")["EndpointStatus"] == "InService"

    serving.emulator.restart(hard=hard)
    assert serving.sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    deadline = time.monotonic() + 90
    while True:
        try:
            answer, _ = serving.invoke(endpoint, "back")
            break
        except ClientError as error:
            assert time.monotonic() < deadline, f"the endpoint did not answer after the restart: {error}"
            time.sleep(0.3)
    assert answer["model"] == {"name": "durable"}


def test_uncompressed_model_data_source(serving: Serving, unique: str, cleanup: Cleanup) -> None:
    """ModelDataSource S3Prefix without compression: the objects land in /opt/ml/model by relative key."""
    endpoint = f"uncompressed-{unique}"
    bucket = serving.bucket(endpoint)
    serving.s3.put_object(Bucket=bucket, Key="prefix/model.json", Body=json.dumps({"name": "plain"}).encode())
    serving.s3.put_object(Bucket=bucket, Key="prefix/nested/extra.txt", Body=b"x")
    container: dict[str, Any] = {
        "Image": serving.image,
        "ModelDataSource": {
            "S3DataSource": {"S3Uri": f"s3://{bucket}/prefix/", "S3DataType": "S3Prefix", "CompressionType": "None"}
        },
    }
    if serving.runner == "process":
        serving.s3.put_object(
            Bucket=bucket, Key="code/sourcedir.tar.gz", Body=tarball({PROGRAM: (SCRIPTS / PROGRAM).read_text()})
        )
        container["Environment"] = {
            "SAGEMAKER_PROGRAM": PROGRAM,
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/sourcedir.tar.gz",
        }
    serving.sm.create_model(ModelName=endpoint, ExecutionRoleArn=ROLE_ARN, PrimaryContainer=container)
    serving.create_config(endpoint, endpoint)
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    cleanup(endpoint)
    described = serving.wait_for(endpoint, "InService", "Failed")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert serving.invoke(endpoint, "x")[0]["model"] == {"name": "plain"}


def test_a_serving_host_that_dies_is_replaced(process_emulator: RunningEmulator, unique: str) -> None:
    serving = Serving("process", process_emulator, SKLEARN_IMAGE)
    endpoint = f"phoenix-{unique}"
    serving.create_config(endpoint, serving.create_model(endpoint, {"name": "phoenix"}))
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    try:
        assert serving.wait_for(endpoint, "InService", "Failed")["EndpointStatus"] == "InService"
        first = serving.invoke(endpoint, "x")[0]["pid"]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = serving.invoke(endpoint, "x")[0]
                if answer["pid"] != first:
                    break
            except ClientError:
                pass
            assert time.monotonic() < deadline, "the dead serving host was not replaced"
            time.sleep(0.2)
        assert serving.sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
        streams = serving.log_streams(f"/aws/sagemaker/Endpoints/{endpoint}", count=2)
        assert len(streams) == 2  # the replacement is a new instance
    finally:
        serving.sm.delete_endpoint(EndpointName=endpoint)


def test_update_weights_and_capacities(process_emulator: RunningEmulator, unique: str) -> None:
    serving = Serving("process", process_emulator, SKLEARN_IMAGE)
    endpoint = f"weights-{unique}"
    blue = serving.create_model(f"blue-{unique}", {"name": "blue"})
    green = serving.create_model(f"green-{unique}", {"name": "green"})
    serving.create_config(endpoint, [("Blue", blue, 1), ("Green", green, 1)])
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    try:
        assert serving.wait_for(endpoint, "InService", "Failed")["EndpointStatus"] == "InService"
        with pytest.raises(ClientError, match=r"\[Nope\] is/are not present"):
            serving.sm.update_endpoint_weights_and_capacities(
                EndpointName=endpoint, DesiredWeightsAndCapacities=[{"VariantName": "Nope", "DesiredWeight": 1}]
            )
        serving.sm.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": "Blue", "DesiredWeight": 0.0},
                {"VariantName": "Green", "DesiredInstanceCount": 2},
            ],
        )
        described = serving.wait_for(endpoint, "InService")
        summaries = {item["VariantName"]: item for item in described["ProductionVariants"]}
        assert summaries["Blue"]["CurrentWeight"] == 0.0 and summaries["Green"]["CurrentInstanceCount"] == 2
        answers = [serving.invoke(endpoint, "x") for _ in range(6)]
        assert {response["InvokedProductionVariant"] for _, response in answers} == {"Green"}
        assert serving.invoke(endpoint, "x", TargetVariant="Blue")[0]["model"] == {"name": "blue"}
    finally:
        serving.sm.delete_endpoint(EndpointName=endpoint)


@pytest.mark.docker
def test_docker_runner_says_when_an_image_cannot_serve(docker_emulator: RunningEmulator, unique: str) -> None:
    """An image without a `serve` command: its container exits at once, and the reason says so."""
    serving = Serving("docker", docker_emulator, "local/sagemaker-sklearn-base:test")
    endpoint = f"noserve-{unique}"
    serving.sm.create_model(
        ModelName=endpoint,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer={"Image": "local/sagemaker-sklearn-base:test"},
    )
    serving.create_config(endpoint, endpoint)
    serving.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    described = serving.wait_for(endpoint, "InService", "Failed")
    assert described["EndpointStatus"] == "Failed"
    assert "of image local/sagemaker-sklearn-base:test exited" in described["FailureReason"]
    assert "`serve` command" in described["FailureReason"]
    serving.sm.delete_endpoint(EndpointName=endpoint)
