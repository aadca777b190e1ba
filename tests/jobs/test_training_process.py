"""Training jobs in the process runner, driven by the real SageMaker SDK and boto3: script mode with
live logs and real artifacts, metrics, failures, Stop, MaxRuntime, duplicates and worker restarts. Tests
taking `runner_env` run in the docker runner too."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator, free_port
from tests.conftest import make_client
from tests.jobs.conftest import SCRIPTS

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def upload_training_data(unique: str) -> str:
    s3 = boto3.client("s3")
    bucket = f"train-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="abalone/train/a.csv", Body=b"1,2\n3,4\n")
    s3.put_object(Bucket=bucket, Key="abalone/train/nested/b.csv", Body=b"5,6\n")
    return f"s3://{bucket}/abalone/train"


def estimator(**hyperparameters: Any) -> Any:
    from sagemaker.sklearn import SKLearn

    return SKLearn(
        entry_point="train.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        hyperparameters={"max_leaf_nodes": 30, **hyperparameters},
        metric_definitions=[{"Name": "validation:rmse", "Regex": "validation:rmse=([0-9.]+)"}],
    )


def model_json(uri: str, name: str = "model.json") -> dict[str, Any]:
    """The JSON file `name` inside the model.tar.gz at `uri`."""
    bucket, _, key = uri[5:].partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        member = archive.extractfile(name)
        assert member is not None
        return dict(json.load(member))


def test_sklearn_script_mode_fit_streams_logs_and_uploads_the_model(
    process_env: RunningEmulator, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    train = upload_training_data(unique)
    job = estimator()
    job.fit({"train": train}, wait=True, logs=True)

    printed = capsys.readouterr().out
    assert "training on 3 rows from ['a.csv', 'nested/b.csv'] with max_leaf_nodes=30" in printed
    assert "Training seconds:" in printed
    assert job.model_data.endswith(f"/{job.latest_training_job.name}/output/model.tar.gz")
    assert model_json(job.model_data) == {"files": ["a.csv", "nested/b.csv"], "max_leaf_nodes": 30, "rows": 3}

    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.latest_training_job.name)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["SecondaryStatus"] == "Completed"
    assert [item["Status"] for item in described["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed",
    ]  # fmt: skip
    assert all("EndTime" in item for item in described["SecondaryStatusTransitions"])
    assert described["FinalMetricDataList"][0]["MetricName"] == "validation:rmse"
    assert described["FinalMetricDataList"][0]["Value"] == pytest.approx(0.3)
    assert described["TrainingTimeInSeconds"] >= 1
    assert described["BillableTimeInSeconds"] == described["TrainingTimeInSeconds"]
    assert described["HyperParameters"]["max_leaf_nodes"] == "30"


def test_a_failing_script_fails_the_job_with_the_toolkit_reason(runner_env: RunningEmulator, unique: str) -> None:
    from sagemaker.exceptions import UnexpectedStatusException

    job = estimator(fail="bad-input-shape")
    with pytest.raises(UnexpectedStatusException):
        job.fit({"train": upload_training_data(unique)}, wait=True, logs=False)
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.latest_training_job.name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: ")
    assert "bad-input-shape" in described["FailureReason"]


def low_level_job(name: str, train: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": SKLEARN_IMAGE,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python3", "-c"],
            "ContainerArguments": [
                "import time\nfor i in range(600):\n    print('tick', i, flush=True)\n    time.sleep(0.1)"
            ],
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": train}}}
        ],
        "OutputDataConfig": {"S3OutputPath": train.rsplit("/", 2)[0] + "/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    request.update(overrides)
    return request


def wait_for(sm: Any, name: str, statuses: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in statuses:
            return dict(described)
        time.sleep(0.2)
    raise AssertionError(f"{name} did not reach {statuses}: {described['TrainingJobStatus']}")


def test_stop_mid_run_ends_stopped_within_seconds(runner_env: RunningEmulator, unique: str) -> None:
    sm = boto3.client("sagemaker")
    name = f"stop-{unique}"
    sm.create_training_job(**low_level_job(name, upload_training_data(unique)))
    deadline = time.monotonic() + 30
    while sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stopped_at = time.monotonic()
    sm.stop_training_job(TrainingJobName=name)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    described = wait_for(sm, name, ("Stopped",), timeout=20)
    assert time.monotonic() - stopped_at < 15
    assert described["SecondaryStatus"] == "Stopped"
    with pytest.raises(ClientError) as excinfo:
        sm.stop_training_job(TrainingJobName=name)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_max_runtime_stops_the_job_as_the_service_does(runner_env: RunningEmulator, unique: str) -> None:
    sm = boto3.client("sagemaker")
    name = f"maxrt-{unique}"
    request = low_level_job(name, upload_training_data(unique), StoppingCondition={"MaxRuntimeInSeconds": 2})
    sm.create_training_job(**request)
    described = wait_for(sm, name, ("Stopped", "Failed", "Completed"), timeout=40)
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{name}/output/model.tar.gz")


def test_duplicate_names_and_missing_input(process_env: RunningEmulator, unique: str) -> None:
    sm = boto3.client("sagemaker")
    train = upload_training_data(unique)
    name = f"dup-{unique}"
    sm.create_training_job(**low_level_job(name, train, StoppingCondition={"MaxRuntimeInSeconds": 1}))
    with pytest.raises(ClientError) as excinfo:
        sm.create_training_job(**low_level_job(name, train))
    assert excinfo.value.response["Error"]["Code"] == "ResourceInUse"

    missing = f"missing-{unique}"
    sm.create_training_job(**low_level_job(missing, train.replace("abalone/train", f"nothing-{uuid.uuid4().hex}")))
    described = wait_for(sm, missing, ("Failed",))
    assert "No S3 objects found under" in described["FailureReason"]
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == ""


def test_custom_image_needs_docker_in_the_process_runner(process_env: RunningEmulator, unique: str) -> None:
    from sagemaker.estimator import Estimator

    sm = boto3.client("sagemaker")
    job = Estimator(image_uri="local/custom-train:test", role=ROLE, instance_count=1, instance_type="ml.m5.large")
    job.fit(wait=False)
    described = wait_for(sm, job.latest_training_job.name, ("Failed",))
    assert "local/custom-train:test" in described["FailureReason"]
    assert "--runner docker" in described["FailureReason"]


def test_list_training_jobs_filters_and_sorts(process_env: RunningEmulator, unique: str) -> None:
    sm = boto3.client("sagemaker")
    train = upload_training_data(unique)
    for index in range(3):
        sm.create_training_job(
            **low_level_job(f"list-{unique}-{index}", train, StoppingCondition={"MaxRuntimeInSeconds": 1})
        )
    found = sm.list_training_jobs(NameContains=f"list-{unique}", SortBy="Name", SortOrder="Ascending")
    assert [item["TrainingJobName"] for item in found["TrainingJobSummaries"]] == [
        f"list-{unique}-{i}" for i in range(3)
    ]
    for index in range(3):
        wait_for(sm, f"list-{unique}-{index}", ("Stopped",))
    stopped = sm.list_training_jobs(NameContains=f"list-{unique}", StatusEquals="Stopped", MaxResults=2)
    assert len(stopped["TrainingJobSummaries"]) == 2 and "NextToken" in stopped


def worker_pid(emulator: RunningEmulator) -> int:
    assert emulator.process is not None
    children = psutil.Process(emulator.process.pid).children()
    workers = [child.pid for child in children if "worker" in child.cmdline()]
    assert len(workers) == 1, children
    return workers[0]


def test_a_killed_worker_is_replaced_and_its_job_fails_with_a_clear_reason(tmp_path: Path, unique: str) -> None:
    emulator = RunningEmulator(tmp_path / "data", free_port(), ["--runner", "process"]).start()
    try:
        sm, s3 = make_client(emulator, "sagemaker"), make_client(emulator, "s3")
        s3.create_bucket(Bucket="restart")
        s3.put_object(Bucket="restart", Key="data/train/a.csv", Body=b"1\n")
        name = f"restart-{unique}"
        sm.create_training_job(**low_level_job(name, "s3://restart/data/train"))
        deadline = time.monotonic() + 30
        while sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        old_worker = worker_pid(emulator)
        os.kill(old_worker, signal.SIGKILL)
        described = wait_for(sm, name, ("Failed",), timeout=30)
        assert "worker stopped while this job was running" in described["FailureReason"]
        assert worker_pid(emulator) != old_worker
        sm.create_training_job(
            **low_level_job(f"after-{unique}", "s3://restart/data/train", StoppingCondition={"MaxRuntimeInSeconds": 1})
        )
        assert wait_for(sm, f"after-{unique}", ("Stopped",))["SecondaryStatus"] == "MaxRuntimeExceeded"
    finally:
        emulator.stop()


def test_a_quiet_job_shows_its_lines_while_running_and_accepts_updates(
    runner_env: RunningEmulator, unique: str
) -> None:
    sm, logs = boto3.client("sagemaker"), boto3.client("logs")
    name = f"quiet-{unique}"
    request = low_level_job(name, upload_training_data(unique))
    request["AlgorithmSpecification"]["ContainerArguments"] = [
        "import time\nprint('hello once', flush=True)\ntime.sleep(60)"
    ]
    sm.create_training_job(**request)
    deadline = time.monotonic() + 20
    messages: list[str] = []
    while "hello once" not in messages:
        assert time.monotonic() < deadline, "the line did not appear while the job ran"
        streams = (
            logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/")[
                "logStreams"
            ]
            if _group_exists(logs)
            else []
        )
        for stream in streams:
            events = logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
            messages = [event["message"] for event in events]
        time.sleep(0.2)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"

    arn = sm.update_training_job(TrainingJobName=name, ResourceConfig={"KeepAlivePeriodInSeconds": 60})[
        "TrainingJobArn"
    ]
    assert arn == sm.describe_training_job(TrainingJobName=name)["TrainingJobArn"]
    assert sm.describe_training_job(TrainingJobName=name)["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 60
    sm.stop_training_job(TrainingJobName=name)
    wait_for(sm, name, ("Stopped",))
    with pytest.raises(ClientError) as excinfo:
        sm.update_training_job(TrainingJobName=name, ProfilerConfig={"DisableProfiler": True})
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def _group_exists(logs: Any) -> bool:
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/TrainingJobs")["logGroups"]
    return bool(groups)


def test_concurrent_jobs_share_the_download_cache(process_env: RunningEmulator, unique: str) -> None:
    sm = boto3.client("sagemaker")
    train = upload_training_data(unique)
    names = [f"cache-{unique}-{index}" for index in range(4)]
    for name in names:
        sm.create_training_job(**low_level_job(name, train, StoppingCondition={"MaxRuntimeInSeconds": 1}))
    for name in names:
        described = wait_for(sm, name, ("Stopped", "Failed"))
        assert described["TrainingJobStatus"] == "Stopped", described.get("FailureReason")
    again = f"cache-{unique}-again"
    sm.create_training_job(**low_level_job(again, train, StoppingCondition={"MaxRuntimeInSeconds": 1}))
    wait_for(sm, again, ("Stopped",))
    stream = boto3.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{again}/"
    )["logStreams"][0]["logStreamName"]
    events = boto3.client("logs").get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
    )["events"]
    assert any("cache hit" in event["message"] and "abalone/train/a.csv" in event["message"] for event in events)
