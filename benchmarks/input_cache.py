"""Input cache: the same training job run twice on a 200 MB input channel. The first run downloads the
channel from S3; the second finds every object in the content-addressed download cache (keyed by
bucket/key/ETag) and does not download again, which its log says ("cache hit" lines).

    .venv/bin/python benchmarks/input_cache.py [--megabytes 200] [--objects 4] [--runner process|docker]

Prints each run's time from CreateTrainingJob to Completed and the cache-hit lines in each run's log.
Exits non-zero if the second run downloaded anything again.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

import boto3

from emulator.testing import running_emulator

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
GROUP = "/aws/sagemaker/TrainingJobs"
# The job reads every byte of its channel, so both runs really see the data.
SCRIPT = (
    "import os\n"
    "root = '/opt/ml/input/data/train'\n"
    "size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)\n"
    "print(f'channel train holds {size} bytes', flush=True)\n"
)


def client(url: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def upload_channel(s3: Any, bucket: str, megabytes: int, objects: int) -> str:
    s3.create_bucket(Bucket=bucket)
    size = megabytes * 1024 * 1024 // objects
    for index in range(objects):
        s3.put_object(Bucket=bucket, Key=f"big/part-{index}.bin", Body=os.urandom(size))
    return f"s3://{bucket}/big"


def run_job(sm: Any, name: str, channel: str) -> float:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python3", "-c"],
            "ContainerArguments": [SCRIPT],
        },
        RoleArn="arn:aws:iam::123456789012:role/Bench",
        InputDataConfig=[
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": channel}}}
        ],
        OutputDataConfig={"S3OutputPath": channel.rsplit("/", 1)[0] + "/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    while (described := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
        time.sleep(0.02)
    if described["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"{name} ended {described['TrainingJobStatus']}: {described.get('FailureReason')}")
    return time.perf_counter() - started


def log_lines(logs: Any, job: str) -> list[str]:
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{job}/")["logStreams"]
    lines: list[str] = []
    for stream in streams:
        request = {"logGroupName": GROUP, "logStreamName": stream["logStreamName"], "startFromHead": True}
        while True:
            page = logs.get_log_events(**request)
            lines += [event["message"] for event in page["events"]]
            if not page["events"]:
                break
            request["nextToken"] = page["nextForwardToken"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--runner", default="process", choices=["process", "docker"])
    args = parser.parse_args()
    with running_emulator(extra_args=["--runner", args.runner]) as emulator:
        sm, logs = client(emulator.url, "sagemaker"), client(emulator.url, "logs")
        channel = upload_channel(
            client(emulator.url, "s3"), f"cache-{uuid.uuid4().hex[:8]}", args.megabytes, args.objects
        )
        results = []
        for attempt in ("first", "second"):
            name = f"cache-{attempt}-{uuid.uuid4().hex[:8]}"
            seconds = run_job(sm, name, channel)
            lines = log_lines(logs, name)
            hits = [line for line in lines if "cache hit" in line]
            held = next((line for line in lines if line.startswith("channel train holds")), "?")
            results.append(len(hits))
            print(f"{attempt} run ({args.runner} runner): {seconds:.3f}s, {len(hits)} cache hits; job said: {held}")
    if results[1] != args.objects:
        raise SystemExit(f"the second run should hit the cache for all {args.objects} objects, got {results[1]}")
    print(f"second run: every object of the {args.megabytes} MB channel came from the cache, none downloaded again")


if __name__ == "__main__":
    main()
