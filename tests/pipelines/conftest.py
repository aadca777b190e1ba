"""Fixtures for pipeline-execution tests: an emulator per runner with enough job slots for fan-outs,
boto3 clients on it, and builders for small pipeline definitions whose steps are real processing jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.testing import RunningEmulator, running_emulator
from tests.conftest import ROLE_ARN, make_client
from tests.jobs.conftest import docker_images, point_sdk_at  # noqa: F401  (a fixture, and a helper for tests here)

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SLOTS = ["--max-concurrent-jobs", "8"]


@pytest.fixture(scope="session")
def pipelines_process_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("pipelines-process"), ["--runner", "process", *SLOTS]) as instance:
        yield warmed_up(instance)


@pytest.fixture(scope="session")
def pipelines_docker_emulator(
    docker_images: None,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("pipelines-docker"), ["--runner", "docker", *SLOTS]) as instance:
        yield warmed_up(instance)


def warmed_up(emulator: RunningEmulator) -> RunningEmulator:
    """Run one trivial pipeline, so timing tests do not measure the worker's start-up."""
    sm = make_client(emulator, "sagemaker")
    create_pipeline(sm, "warm-up", [python_step("Warm", "print('warm')")])
    arn = sm.start_pipeline_execution(PipelineName="warm-up")["PipelineExecutionArn"]
    assert wait_for(sm, arn, timeout=300)["PipelineExecutionStatus"] == "Succeeded"
    return emulator


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def pipelines_emulator(request: pytest.FixtureRequest) -> RunningEmulator:
    """The process-runner emulator, then the docker-runner one: one test body, twins."""
    emulator: RunningEmulator = request.getfixturevalue(f"pipelines_{request.param}_emulator")
    return emulator


@pytest.fixture
def psm(pipelines_emulator: RunningEmulator) -> Any:
    return make_client(pipelines_emulator, "sagemaker")


def python_step(name: str, code: str, *, depends_on: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """A Processing step running `python3 -c code` in the scikit-learn image (on the host in the process runner)."""
    step: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            "AppSpecification": {"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": ["python3", "-c", code]},
            "RoleArn": ROLE_ARN,
        },
    }
    if depends_on:
        step["DependsOn"] = depends_on
    step.update(fields)
    return step


def create_pipeline(sm: Any, name: str, steps: list[dict[str, Any]], parameters: list[Any] | None = None) -> str:
    definition = {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": steps}
    return str(
        sm.create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps(definition),
            RoleArn=ROLE_ARN,
            ClientRequestToken=(name * 32)[:64],
        )["PipelineArn"]
    )


def wait_for(sm: Any, arn: str, timeout: float = 180, until: tuple[str, ...] = ()) -> dict[str, Any]:
    """Poll until the execution leaves Executing/Stopping (or reaches one of `until`)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        status = described["PipelineExecutionStatus"]
        if status in until or (not until and status not in ("Executing", "Stopping")):
            return described
        assert time.monotonic() < deadline, f"execution still {status} after {timeout}s"
        time.sleep(0.1)


def steps_of(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    return {step["StepName"]: step for step in listed["PipelineExecutionSteps"]}


def processing_job_named(sm: Any, arn: str) -> str:
    """The job's name (ARNs carry it lowercased, as in the cloud)."""
    for page in sm.get_paginator("list_processing_jobs").paginate():
        for summary in page["ProcessingJobSummaries"]:
            if summary["ProcessingJobArn"] == arn:
                return str(summary["ProcessingJobName"])
    raise AssertionError(f"no processing job has ARN {arn}")
