"""Shared fixtures: boto3 clients on the session's emulator with the response shape check installed.

The emulator itself comes from the project's own pytest plugin (`emulator.pytest_plugin`).
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from emulator.testing import RunningEmulator
from tests import shape_check

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"


def make_client(emulator: RunningEmulator, service: str, *, client_validation: bool = True) -> Any:
    client = boto3.session.Session().client(
        service,
        endpoint_url=emulator.url,
        region_name=emulator.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
            parameter_validation=client_validation,
        ),
    )
    return shape_check.install(client) if service == "sagemaker" else client


@pytest.fixture(scope="session")
def sm(sagemaker_emulator: RunningEmulator) -> Any:
    return make_client(sagemaker_emulator, "sagemaker")


@pytest.fixture(scope="session")
def sm_unchecked(sagemaker_emulator: RunningEmulator) -> Any:
    """A SageMaker client that skips botocore's own checks, so the server's validation is exercised."""
    return make_client(sagemaker_emulator, "sagemaker", client_validation=False)


@pytest.fixture(scope="session")
def s3(sagemaker_emulator: RunningEmulator) -> Any:
    return make_client(sagemaker_emulator, "s3")


@pytest.fixture
def unique() -> str:
    """A fresh name fragment, so tests sharing one emulator never collide."""
    return uuid.uuid4().hex[:10]
