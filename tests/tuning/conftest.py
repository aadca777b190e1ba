"""Fixtures for tuning tests: an emulator per runner with enough worker slots for several tuning jobs'
training jobs at once (the worker runs `--max-concurrent-jobs` training jobs; tuning coordinators take no
slot), the SDK pointed at it, and helpers to build tuners on `scripts/objective.py`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.testing import RunningEmulator, running_emulator
from tests.jobs.conftest import docker_images, point_sdk_at  # noqa: F401  (docker_images is a fixture)

SCRIPTS = Path(__file__).with_name("scripts")
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SLOTS = "12"
LOSS = [{"Name": "loss", "Regex": r"loss=([-+0-9.eE]+);"}]


@pytest.fixture(scope="session")
def tuning_process_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    arguments = ["--runner", "process", "--max-concurrent-jobs", SLOTS]
    with running_emulator(tmp_path_factory.mktemp("tuning-process"), arguments) as instance:
        yield instance


@pytest.fixture(scope="session")
def tuning_docker_emulator(
    docker_images: None,  # noqa: F811  (the fixture imported above)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningEmulator]:
    arguments = ["--runner", "docker", "--max-concurrent-jobs", SLOTS]
    with running_emulator(tmp_path_factory.mktemp("tuning-docker"), arguments) as instance:
        yield instance


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def tuning_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    """The SDK pointed at the process-runner emulator, then at the docker-runner one: one test body, twins."""
    return point_sdk_at(request.getfixturevalue(f"tuning_{request.param}_emulator"), monkeypatch)


@pytest.fixture
def process_tuning_env(tuning_process_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    return point_sdk_at(tuning_process_emulator, monkeypatch)


def upload_train_input(unique: str) -> str:
    """A one-file training channel in the emulator the environment points at."""
    s3 = boto3.client("s3")
    bucket = f"tuning-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="train/rows.csv", Body=b"1,2\n")
    return f"s3://{bucket}/train"


def estimator(**hyperparameters: Any) -> Any:
    from sagemaker.sklearn import SKLearn

    return SKLearn(
        entry_point="objective.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        hyperparameters=hyperparameters,
    )


def loss_of(hyperparameters: dict[str, Any]) -> float:
    """The loss `objective.py` reports for these (tuned and static) hyperparameters, as the tuner sees them."""
    penalty = {"good": 0.0, "fair": 1.0, "bad": 5.0}

    def number(name: str, default: float) -> float:
        value = hyperparameters.get(name, default)
        return float(str(value).strip('"'))

    kind = str(hyperparameters.get("kind", "good")).strip('"')
    return (number("x", 0.0) - 3) ** 2 + (number("y", -1.0) + 1) ** 2 + penalty[kind]
