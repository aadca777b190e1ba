"""The download cache in both runners (`runner_env`): jobs get cached input objects as hard links, so a
job that writes to its input file in place must not hand the next job altered data."""

from __future__ import annotations

from typing import Any

import boto3

from emulator.testing import RunningEmulator
from tests.jobs.test_training_process import low_level_job, upload_training_data, wait_for

GROUP = "/aws/sagemaker/TrainingJobs"


def job_lines(name: str) -> list[str]:
    logs = boto3.client("logs")
    [stream] = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"], startFromHead=True)
    return [event["message"] for event in events["events"]]


def run(sm: Any, request: dict[str, Any], script: str) -> list[str]:
    """Run `low_level_job`'s `request` with `python3 -c script` to Completed; return its log lines."""
    request["AlgorithmSpecification"]["ContainerArguments"] = [script]
    sm.create_training_job(**request)
    described = wait_for(sm, request["TrainingJobName"], ("Completed", "Failed", "Stopped"))
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    return job_lines(request["TrainingJobName"])


def test_a_job_writing_its_input_in_place_does_not_alter_the_next_jobs(
    runner_env: RunningEmulator, unique: str
) -> None:
    sm = boto3.client("sagemaker")
    train = upload_training_data(unique)
    path = "/opt/ml/input/data/train/a.csv"
    tamper = f"open({path!r}, 'a').write('tampered\\n'); print('wrote', flush=True)"
    run(sm, low_level_job(f"tamper-{unique}", train), tamper)

    lines = run(sm, low_level_job(f"after-{unique}", train), f"print(repr(open({path!r}).read()), flush=True)")
    assert repr("1,2\n3,4\n") in lines
    assert any("abalone/train/a.csv was modified" in line and "downloading again" in line for line in lines)
    assert any("cache hit" in line and "abalone/train/nested/b.csv" in line for line in lines)
