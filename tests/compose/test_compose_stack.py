"""The team setup for real: docker-compose.yml (+ the CI override that swaps in offline-built images) on a
Docker engine — a training job and a two-step pipeline through the stack, three workers sharing six jobs
(each run once, at the same time), a worker killed mid-job, and `down` + `up` keeping every kind of state.

The tests of this module share one stack under Compose v2 (started once: it takes ~20 s) and run in file
order; the last test brings the stack up under Debian's docker-compose 1.29 as well. Fails under CI when the
engine, the images or either Compose is missing.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose.conftest import (
    CI_OVERRIDE,
    COMPOSE_FILE,
    ROOT,
    Stack,
    docker,
    job_container_creations,
)

# The first test also waits for the stand-in images (minutes on a cold machine) and the stack's start.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"
TRAIN_IMAGE = "local/custom-train:test"  # built by scripts/build-test-images.sh
PYTHON_IMAGE = "local/sagemaker-sklearn-base:test"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
STALE_REASON = "worker stopped while this job was running"
ENDED = ("Completed", "Failed", "Stopped")


def training_request(name: str, bucket: str, *, sleep_seconds: float = 0, channel: bool = False) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": TRAIN_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE_ARN,
        "HyperParameters": {"sleep_seconds": str(sleep_seconds)},
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if channel:
        source = {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}
        request["InputDataConfig"] = [{"ChannelName": "train", "DataSource": {"S3DataSource": source}}]
    return request


def wait_until(check: Callable[[], Any], timeout: float, what: str, stack: Stack) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s; stack logs:\n{stack.logs()}")
        time.sleep(0.5)


def wait_for_jobs(stack: Stack, names: list[str], timeout: float = 300) -> dict[str, dict[str, Any]]:
    sm = stack.client("sagemaker")

    def all_ended() -> dict[str, dict[str, Any]] | None:
        described = {name: sm.describe_training_job(TrainingJobName=name) for name in names}
        return described if all(d["TrainingJobStatus"] in ENDED for d in described.values()) else None

    result: dict[str, dict[str, Any]] = wait_until(all_ended, timeout, f"jobs {names} ending", stack)
    return result


def log_lines(stack: Stack, job: str) -> dict[str, list[str]]:
    logs = stack.client("logs")
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job}/")["logStreams"]
    return {
        stream["logStreamName"]: [
            event["message"]
            for event in logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"])["events"]
        ]
        for stream in streams
    }


def workers_of(stack: Stack, names: list[str]) -> dict[str, str]:
    """job name -> id of the worker that claimed it (`<container hostname>-<pid>-<random>`)."""
    quoted = ",".join(f"'{name}'" for name in names)
    rows = stack.sql(f"SELECT name, worker_id FROM work_items WHERE kind = 'TrainingJob' AND name IN ({quoted})")
    return {name: worker for name, worker in rows if worker}


def test_compose_files_name_the_official_images_and_the_override_swaps_only_images() -> None:
    default = yaml.safe_load(COMPOSE_FILE.read_text())
    override = yaml.safe_load(CI_OVERRIDE.read_text())
    assert "version" not in default  # the Compose Specification format
    assert default["services"]["db"]["image"] == "postgres:16"
    assert default["services"]["emulator"]["build"]["args"]["BASE_IMAGE"] == "python:3.11-slim"
    assert set(override) == {"services"}
    assert {name: set(service) for name, service in override["services"].items()} == {
        "db": {"image"},
        "emulator": {"image"},
        "worker": {"image"},
    }


def test_both_compose_implementations_accept_the_files(compose_v1: list[str], compose_v2: list[str]) -> None:
    for compose in (compose_v1, compose_v2):
        default = _config(compose, COMPOSE_FILE)
        assert default["services"]["db"]["image"] == "postgres:16"
        assert default["services"]["db"]["healthcheck"]["test"][-1] == "pg_isready -U emulator -d emulator"
        assert default["services"]["worker"]["depends_on"]["emulator"]["condition"] == "service_healthy"
        overridden = _config(compose, COMPOSE_FILE, CI_OVERRIDE)
        assert overridden["services"]["db"]["image"] == "local/postgres-standin:ci"
        assert {overridden["services"][name]["image"] for name in ("emulator", "worker")} == {
            "local/sagemaker-emulator:ci"
        }


def _config(compose: list[str], *files: Path) -> dict[str, Any]:
    """The configuration a Compose implementation resolves from `files`."""
    arguments = [argument for path in files for argument in ("-f", str(path))]
    done = subprocess.run(
        [*compose, *arguments, "config"], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = yaml.safe_load(done.stdout)
    return parsed


def test_a_training_job_runs_through_the_stack(stack: Stack) -> None:
    sm, s3 = stack.client("sagemaker"), stack.client("s3")  # on the API's published port
    s3.create_bucket(Bucket="compose-train")
    s3.put_object(Bucket="compose-train", Key="train/part-0.csv", Body=b"1,2\n3,4\n")
    sm.create_training_job(**training_request("compose-train-1", "compose-train", channel=True))

    described = wait_for_jobs(stack, ["compose-train-1"])["compose-train-1"]

    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    artifact = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == "s3://compose-train/output/compose-train-1/output/model.tar.gz"
    assert s3.head_object(Bucket="compose-train", Key="output/compose-train-1/output/model.tar.gz")["ContentLength"]
    [lines] = log_lines(stack, "compose-train-1").values()
    assert 'train: channels {"train": 1}' in lines  # staged from the stack's S3 by a worker in a container
    # The job's container ran on the compose network, not on the host's.
    [created] = job_container_creations("compose-train-1", time.time() - 600)
    assert created["Actor"]["Attributes"]["sagemaker-emulator.job-kind"] == "TrainingJob"


def test_a_two_step_pipeline_runs_through_the_stack(stack: Stack) -> None:
    sm, s3 = stack.client("sagemaker"), stack.client("s3")
    s3.create_bucket(Bucket="compose-pipeline")
    train = training_request("unused", "compose-pipeline")
    del train["TrainingJobName"]
    evaluate_code = (
        "import os, tarfile\n"
        "[archive] = os.listdir('/opt/ml/processing/model')\n"
        "tarfile.open('/opt/ml/processing/model/' + archive).extractall('/tmp/model')\n"
        "print('evaluated', sorted(os.listdir('/tmp/model')))\n"
    )
    evaluate = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        "AppSpecification": {"ImageUri": PYTHON_IMAGE, "ContainerEntrypoint": ["python3", "-c", evaluate_code]},
        "RoleArn": ROLE_ARN,
        "ProcessingInputs": [
            {
                "InputName": "model",
                "S3Input": {
                    "S3Uri": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                    "LocalPath": "/opt/ml/processing/model",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
    }
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {"Name": "Train", "Type": "Training", "Arguments": train},
            {"Name": "Evaluate", "Type": "Processing", "Arguments": evaluate, "DependsOn": ["Train"]},
        ],
    }
    sm.create_pipeline(PipelineName="compose-two-steps", PipelineDefinition=json.dumps(definition), RoleArn=ROLE_ARN)
    arn = sm.start_pipeline_execution(PipelineName="compose-two-steps")["PipelineExecutionArn"]

    def ended() -> dict[str, Any] | None:
        described: dict[str, Any] = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return described if described["PipelineExecutionStatus"] not in ("Executing", "Stopping") else None

    described = wait_until(ended, 300, "the pipeline execution ending", stack)
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")["PipelineExecutionSteps"]
    assert described["PipelineExecutionStatus"] == "Succeeded", steps
    assert [(step["StepName"], step["StepStatus"]) for step in steps] == [
        ("Train", "Succeeded"),
        ("Evaluate", "Succeeded"),
    ]
    assert steps[0]["EndTime"] <= steps[1]["StartTime"]
    processing_arn = steps[1]["Metadata"]["ProcessingJob"]["Arn"]
    [job_name] = [  # ARNs carry the name lowercased, as in the cloud
        job["ProcessingJobName"]
        for job in sm.list_processing_jobs(MaxResults=100)["ProcessingJobSummaries"]
        if job["ProcessingJobArn"] == processing_arn
    ]
    logs = stack.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=job_name)
    messages = [
        event["message"]
        for stream in streams["logStreams"]
        for event in logs.get_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert "evaluated ['model.json']" in messages


def test_three_workers_share_six_jobs_each_run_once_at_the_same_time(stack: Stack) -> None:
    stack.up("--scale", "worker=3")
    workers = stack.container_ids("worker")
    assert len(workers) == 3
    sm = stack.client("sagemaker")
    stack.client("s3").create_bucket(Bucket="compose-scale")
    names = [f"compose-scale-{index}" for index in range(6)]
    since = time.time() - 1
    for name in names:
        sm.create_training_job(**training_request(name, "compose-scale", sleep_seconds=15))

    described = wait_for_jobs(stack, names)

    assert {name: d["TrainingJobStatus"] for name, d in described.items()} == dict.fromkeys(names, "Completed")
    # Concurrently: every job started before any of them ended (each sleeps 15 s; 3 workers x 2 slots).
    assert max(d["TrainingStartTime"] for d in described.values()) < min(
        d["TrainingEndTime"] for d in described.values()
    )
    # On all three workers (a worker's id starts with its container's hostname, the short container id).
    claimed_by = workers_of(stack, names)
    assert sorted(claimed_by) == sorted(names)
    hosts = {worker.split("-")[0] for worker in claimed_by.values()}
    assert hosts == {container[:12] for container in workers}
    # Each exactly once: one container created per job, one run's output in its logs.
    for name in names:
        assert len(job_container_creations(name, since)) == 1, name
        [lines] = log_lines(stack, name).values()
        assert sum(line.startswith("train: hyperparameters") for line in lines) == 1, lines


def test_a_killed_workers_job_fails_with_a_clear_reason_and_the_others_finish(stack: Stack) -> None:
    stack.up("--scale", "worker=3")
    sm = stack.client("sagemaker")
    stack.client("s3").create_bucket(Bucket="compose-kill")
    names = [f"compose-kill-{index}" for index in range(3)]
    for name in names:
        sm.create_training_job(**training_request(name, "compose-kill", sleep_seconds=40))

    def all_running() -> dict[str, str] | None:
        claimed = workers_of(stack, names)
        statuses = [sm.describe_training_job(TrainingJobName=n)["SecondaryStatus"] for n in names]
        return claimed if len(claimed) == 3 and all(s == "Training" for s in statuses) else None

    claimed_by = wait_until(all_running, 120, "all three jobs training", stack)
    victim = claimed_by[names[0]].split("-")[0]
    [container] = [cid for cid in stack.container_ids("worker") if cid.startswith(victim)]
    killed_at = time.time()
    docker("kill", container)
    lost = {name for name, worker in claimed_by.items() if worker.startswith(victim)}

    described = wait_for_jobs(stack, names, timeout=180)

    for name in lost:
        assert described[name]["TrainingJobStatus"] == "Failed"
        assert STALE_REASON in described[name]["FailureReason"], described[name]["FailureReason"]
        # Failed within a bounded time of the kill (heartbeats go stale after seconds), well before the job's
        # own 40 s were up.
        assert described[name]["TrainingEndTime"].timestamp() - killed_at < 30
        assert docker("ps", "-q", "--filter", f"label=sagemaker-emulator.job-name={name}").strip() == ""
    finished = set(names) - lost
    assert finished, "every job was on the killed worker"
    for name in finished:
        assert described[name]["TrainingJobStatus"] == "Completed", described[name].get("FailureReason")


def test_down_then_up_keeps_pipelines_executions_jobs_logs_and_objects(stack: Stack) -> None:
    sm, s3 = stack.client("sagemaker"), stack.client("s3")
    s3.create_bucket(Bucket="compose-durable")
    s3.put_object(Bucket="compose-durable", Key="kept.txt", Body=b"still here")
    sm.create_training_job(**training_request("compose-durable-1", "compose-durable"))
    wait_for_jobs(stack, ["compose-durable-1"])
    before = {
        "pipelines": sm.list_pipelines()["PipelineSummaries"],
        "executions": sm.list_pipeline_executions(PipelineName="compose-two-steps")["PipelineExecutionSummaries"],
        "jobs": sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"],
        "logs": log_lines(stack, "compose-durable-1"),
        "objects": sorted(o["Key"] for o in s3.list_objects_v2(Bucket="compose-durable")["Contents"]),
    }
    assert before["pipelines"] and before["executions"] and before["logs"]

    stack.down()
    stack.up()

    sm, s3 = stack.client("sagemaker"), stack.client("s3")
    after = {
        "pipelines": sm.list_pipelines()["PipelineSummaries"],
        "executions": sm.list_pipeline_executions(PipelineName="compose-two-steps")["PipelineExecutionSummaries"],
        "jobs": sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"],
        "logs": log_lines(stack, "compose-durable-1"),
        "objects": sorted(o["Key"] for o in s3.list_objects_v2(Bucket="compose-durable")["Contents"]),
    }
    assert after == before
    assert s3.get_object(Bucket="compose-durable", Key="kept.txt")["Body"].read() == b"still here"
    model = "output/compose-durable-1/output/model.tar.gz"
    assert s3.head_object(Bucket="compose-durable", Key=model)["ContentLength"] > 0
    # And the restarted stack still runs work.
    sm.create_training_job(**training_request("compose-durable-2", "compose-durable"))
    assert wait_for_jobs(stack, ["compose-durable-2"])["compose-durable-2"]["TrainingJobStatus"] == "Completed"


def test_debians_docker_compose_1_29_runs_the_stack(compose_images: None, compose_v1: list[str]) -> None:
    stack = Stack(compose_v1)
    try:
        stack.up()
        sm = stack.client("sagemaker")
        stack.client("s3").create_bucket(Bucket="compose-v1")
        sm.create_training_job(**training_request("compose-v1-1", "compose-v1"))
        described = wait_for_jobs(stack, ["compose-v1-1"])["compose-v1-1"]
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    finally:
        stack.destroy()
