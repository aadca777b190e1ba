"""Fixtures for model, transform and registry tests: the job tests' emulators (one per runner kind), pointed
at for a whole module, and helpers to build models and wait for transform jobs."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import RunningEmulator
from tests.conftest import make_client
from tests.jobs.conftest import (  # noqa: F401 - fixtures shared with the job tests
    docker_emulator,
    docker_images,
    point_sdk_at,
    process_emulator,
)

SCRIPTS = Path(__file__).with_name("scripts")
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CUSTOM_IMAGE = "local/custom-train:test"
TERMINAL = ("Completed", "Failed", "Stopped")


@pytest.fixture(scope="module")
def process_sdk(process_emulator: RunningEmulator) -> Iterator[RunningEmulator]:  # noqa: F811
    """The process-runner emulator, with the SDK and boto3 pointed at it for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        yield point_sdk_at(process_emulator, patch)


@pytest.fixture(scope="module")
def docker_sdk(docker_emulator: RunningEmulator) -> Iterator[RunningEmulator]:  # noqa: F811
    with pytest.MonkeyPatch.context() as patch:
        yield point_sdk_at(docker_emulator, patch)


def clients(emulator: RunningEmulator) -> tuple[Any, Any]:
    return make_client(emulator, "sagemaker"), make_client(emulator, "s3")


def source_tarball(*names: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in names:
            archive.add(SCRIPTS / name, arcname=name)
    return buffer.getvalue()


def echo_model(sm: Any, s3: Any, bucket: str, name: str, **environment: str) -> str:
    """A scikit-learn-image model serving `scripts/echo_inference.py` (see its docstring)."""
    s3.put_object(Bucket=bucket, Key=f"code/{name}/sourcedir.tar.gz", Body=source_tarball("echo_inference.py"))
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "Environment": {
                "SAGEMAKER_PROGRAM": "echo_inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/{name}/sourcedir.tar.gz",
                **environment,
            },
        },
    )
    return name


def transform_request(name: str, model: str, source: str, output: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": output, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return request


def wait_for_transform(sm: Any, name: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in TERMINAL:
            return dict(described)
        time.sleep(0.2)
    raise AssertionError(f"transform job {name} did not finish within {timeout} s")


def read_text(s3: Any, uri: str) -> str:
    bucket, _, key = uri[5:].partition("/")
    return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def keys_under(s3: Any, uri: str) -> list[str]:
    bucket, _, prefix = uri[5:].partition("/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"][len(prefix) :].lstrip("/") for item in listed)
