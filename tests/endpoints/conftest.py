"""Fixtures for endpoint tests: an emulator per runner (the job tests' fixtures) and a model that echoes.

`serving` is parametrized over both runners. In the process runner the model is a scikit-learn framework
model whose inference script (scripts/endpoint_inference.py) echoes requests; in the docker runner it is the
custom test image, whose `serve` does the same. Either way an answer is JSON with the model document
(model.json from the model tarball), the body, Content-Type, Accept and SERVE_TAG.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import RunningEmulator
from tests.conftest import ROLE_ARN, make_client
from tests.jobs.conftest import (  # noqa: F401  (fixtures shared with the job tests)
    docker_emulator,
    docker_images,
    process_emulator,
)

SCRIPTS = Path(__file__).with_name("scripts")
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CUSTOM_IMAGE = "local/custom-train:test"
PROGRAM = "endpoint_inference.py"


@dataclass
class Serving:
    """One runner's emulator, its clients, and how to make a model it can serve."""

    runner: str
    emulator: RunningEmulator
    image: str

    def __post_init__(self) -> None:
        self.sm = make_client(self.emulator, "sagemaker")
        self.runtime = make_client(self.emulator, "sagemaker-runtime")
        self.s3 = make_client(self.emulator, "s3")
        self.logs = make_client(self.emulator, "logs")

    def bucket(self, unique: str) -> str:
        name = f"endpoints-{unique}"
        self.s3.create_bucket(Bucket=name)
        return name

    def create_model(self, name: str, model: dict[str, Any], environment: dict[str, str] | None = None) -> str:
        """A model whose tarball holds model.json = `model`; served by this runner's echoing server."""
        bucket = self.bucket(name.lower())
        self.s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=tarball({"model.json": json.dumps(model)}))
        env = dict(environment or {})
        if self.runner == "process":
            source = (SCRIPTS / PROGRAM).read_text()
            self.s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=tarball({PROGRAM: source}))
            env.update(SAGEMAKER_PROGRAM=PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY=f"s3://{bucket}/code/sourcedir.tar.gz")
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE_ARN,
            PrimaryContainer={
                "Image": self.image,
                "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz",
                "Environment": env,
            },
        )
        return name

    def create_config(self, name: str, variants: list[tuple[str, str, int]] | str) -> str:
        """An endpoint configuration: `variants` is a model name (one AllTraffic variant) or
        (variant, model, instance count) triples."""
        if isinstance(variants, str):
            variants = [("AllTraffic", variants, 1)]
        self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InitialInstanceCount": count,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
                for variant, model, count in variants
            ],
        )
        return name

    def wait_for(self, endpoint: str, *statuses: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = self.sm.describe_endpoint(EndpointName=endpoint)
            if described["EndpointStatus"] in statuses:
                return described
            assert time.monotonic() < deadline, f"{endpoint} is still {described['EndpointStatus']}: {described}"
            time.sleep(0.2)

    def wait_gone(self, endpoint: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while any(item["EndpointName"] == endpoint for item in self.sm.list_endpoints()["Endpoints"]):
            assert time.monotonic() < deadline, f"{endpoint} was not deleted"
            time.sleep(0.2)

    def log_streams(self, group: str, count: int, timeout: float = 10) -> list[str]:
        """The group's stream names once there are `count` of them (lines reach the log store in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                streams = [
                    item["logStreamName"] for item in self.logs.describe_log_streams(logGroupName=group)["logStreams"]
                ]
            except self.logs.exceptions.ResourceNotFoundException:
                streams = []
            if len(streams) >= count or time.monotonic() > deadline:
                return streams
            time.sleep(0.2)

    def invoke(self, endpoint: str, body: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """InvokeEndpoint with a CSV body; returns (the decoded JSON answer, the raw response)."""
        response = self.runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv", **extra)
        return json.loads(response["Body"].read()), response


def tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def serving(request: pytest.FixtureRequest) -> Serving:
    if request.param == "process":
        return Serving("process", request.getfixturevalue("process_emulator"), SKLEARN_IMAGE)
    return Serving("docker", request.getfixturevalue("docker_emulator"), CUSTOM_IMAGE)


@pytest.fixture
def cleanup(serving: Serving) -> Any:
    """Endpoints registered here are deleted after the test, so hosts never outlive it."""
    names: list[str] = []
    yield names.append
    for name in names:
        try:
            serving.sm.delete_endpoint(EndpointName=name)
        except Exception:
            continue
    for name in names:
        try:
            serving.wait_gone(name)
        except AssertionError:
            continue


Cleanup = Callable[[str], None]
