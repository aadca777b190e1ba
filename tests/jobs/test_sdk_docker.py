"""The SDK flows of the process-runner tests, twinned in the docker runner against a real engine: SKLearn
script mode (the image the SDK names, built offline and tagged with its ECR URI), a custom-image
Estimator with a failure through /opt/ml/output/failure, a two-host job with ShardedByS3Key,
SKLearnProcessor, and a worker killed during a job. Each asserts artifacts byte for byte."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest

from emulator.jobs.runners.docker import NAME_LABEL
from emulator.testing import RunningEmulator, free_port
from tests.conftest import make_client
from tests.jobs.conftest import SCRIPTS
from tests.jobs.test_training_process import (
    ROLE,
    estimator,
    low_level_job,
    model_json,
    upload_training_data,
    wait_for,
    worker_pid,
)

pytestmark = pytest.mark.docker


def test_sklearn_script_mode_in_a_container(
    docker_env: RunningEmulator, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    job = estimator()
    job.fit({"train": upload_training_data(unique)}, wait=True, logs=True)
    assert "training on 3 rows from ['a.csv', 'nested/b.csv'] with max_leaf_nodes=30" in capsys.readouterr().out
    assert model_json(job.model_data) == {"files": ["a.csv", "nested/b.csv"], "max_leaf_nodes": 30, "rows": 3}
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.latest_training_job.name)
    assert described["FinalMetricDataList"][0]["Value"] == pytest.approx(0.3)


def custom_estimator(instance_count: int = 1, **hyperparameters: Any) -> Any:
    from sagemaker.estimator import Estimator

    return Estimator(
        image_uri="local/custom-train:test",
        role=ROLE,
        instance_count=instance_count,
        instance_type="ml.m5.large",
        hyperparameters=hyperparameters,
    )


def test_custom_image_estimator_and_its_failure_reason(
    docker_env: RunningEmulator, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sagemaker.exceptions import UnexpectedStatusException

    train = upload_training_data(unique)
    job = custom_estimator(depth="3")
    job.fit({"train": train}, wait=True, logs=True)
    assert 'train: hyperparameters {"depth": "3"}' in capsys.readouterr().out
    model = model_json(job.model_data)
    assert model["hyperparameters"] == {"depth": "3"}
    assert model["channels"] == {"train": 2}

    failing = custom_estimator(exit_code="3")
    with pytest.raises(UnexpectedStatusException):
        failing.fit({"train": train}, wait=True, logs=False)
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=failing.latest_training_job.name)
    assert described["FailureReason"] == "AlgorithmError: exit_code hyperparameter asked for 3"


def test_two_hosts_shard_the_input_by_key(docker_env: RunningEmulator, unique: str) -> None:
    from sagemaker.inputs import TrainingInput

    s3 = boto3.client("s3")
    bucket = f"shard-{unique}"
    s3.create_bucket(Bucket=bucket)
    for index in range(4):
        s3.put_object(Bucket=bucket, Key=f"data/part-{index}.csv", Body=f"{index}\n".encode())
    job = custom_estimator(instance_count=2)
    job.fit({"train": TrainingInput(f"s3://{bucket}/data", distribution="ShardedByS3Key")}, wait=True, logs=False)
    model = model_json(job.model_data)
    assert model["host"] == "algo-1"
    assert model["channels"] == {"train": 2}
    streams = boto3.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job.latest_training_job.name}/"
    )["logStreams"]
    assert [stream["logStreamName"].split("/")[1].rsplit("-", 1)[0] for stream in streams] == ["algo-1", "algo-2"]
    logs = boto3.client("logs")
    for index, stream in enumerate(streams, start=1):  # each host read its own resourceconfig and shard
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        lines = [event["message"] for event in events]
        assert f"train: host algo-{index}" in lines
        assert 'train: channels {"train": 2}' in lines


def test_sklearn_processor_in_a_container(docker_env: RunningEmulator, unique: str) -> None:
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor

    s3 = boto3.client("s3")
    bucket = f"dproc-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="raw/one.csv", Body=b"a,b\n")
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", instance_count=1)
    processor.run(
        code=str(SCRIPTS / "preprocess.py"),
        inputs=[ProcessingInput(source=f"s3://{bucket}/raw", destination="/opt/ml/processing/data")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=f"s3://{bucket}/out")],
        wait=True,
        logs=False,
    )
    assert s3.get_object(Bucket=bucket, Key="out/upper-one.csv")["Body"].read() == b"A,B\n"
    assert json.loads(json.dumps(s3.get_object(Bucket=bucket, Key="out/count.txt")["Body"].read().decode())) == "1\n"


def test_a_killed_worker_stops_its_container_and_fails_the_job_clearly(
    docker_images: None, tmp_path: Path, unique: str
) -> None:
    """Twin of the process runner's restart test: the replacement worker finds the running container by
    its handle, stops and removes it, and fails the job with a reason a person understands."""
    emulator = RunningEmulator(tmp_path / "data", free_port(), ["--runner", "docker"]).start()
    try:
        sm, s3 = make_client(emulator, "sagemaker"), make_client(emulator, "s3")
        s3.create_bucket(Bucket="restart")
        s3.put_object(Bucket="restart", Key="data/train/a.csv", Body=b"1\n")
        name = f"restart-{unique}"
        sm.create_training_job(**low_level_job(name, "s3://restart/data/train"))
        deadline = time.monotonic() + 60
        while not (containers := _job_containers(name)) or containers[0].status != "running":
            assert time.monotonic() < deadline, "the job's container did not start"
            time.sleep(0.2)
        old_worker = worker_pid(emulator)
        os.kill(old_worker, signal.SIGKILL)
        described = wait_for(sm, name, ("Failed",), timeout=60)
        assert described["FailureReason"] == (
            "The emulator's worker stopped while this job was running (restart or crash); run it again."
        )
        assert _job_containers(name) == []  # stopped and removed, not left running
        assert worker_pid(emulator) != old_worker
        after = f"after-{unique}"
        sm.create_training_job(
            **low_level_job(after, "s3://restart/data/train", StoppingCondition={"MaxRuntimeInSeconds": 1})
        )
        assert wait_for(sm, after, ("Stopped",), timeout=60)["SecondaryStatus"] == "MaxRuntimeExceeded"
    finally:
        emulator.stop()


def _job_containers(name: str) -> list[Any]:
    return list(docker.from_env().containers.list(all=True, filters={"label": f"{NAME_LABEL}={name}"}))
