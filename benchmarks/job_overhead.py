"""Job overhead: a trivial training job from CreateTrainingJob to Completed, against the same command
run directly, measured in the same run (p50 over N runs).

    .venv/bin/python benchmarks/job_overhead.py [--runs 10] [--runner process]

Process runner peer: `python -c <script>` as a plain subprocess. (The docker runner's peer, plain
`docker run`, is measured when `--runner docker` is given and an image is named with `--image`.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid

import boto3

from emulator.testing import running_emulator

SCRIPT = "print('hello from a trivial job')"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def run_job(sm: object, name: str, image: str) -> float:
    started = time.perf_counter()
    sm.create_training_job(  # type: ignore[attr-defined]
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python3", "-c"],
            "ContainerArguments": [SCRIPT],
        },
        RoleArn="arn:aws:iam::123456789012:role/Bench",
        OutputDataConfig={"S3OutputPath": "s3://sagemaker-us-east-1-123456789012/bench"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    while True:
        status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]  # type: ignore[attr-defined]
        if status != "InProgress":
            break
        time.sleep(0.01)
    if status != "Completed":
        raise SystemExit(f"{name} ended {status}")
    return time.perf_counter() - started


def run_plain(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--runner", default="process", choices=["process", "docker"])
    parser.add_argument("--image", default=IMAGE)
    args = parser.parse_args()
    plain = [sys.executable, "-c", SCRIPT]
    if args.runner == "docker":
        plain = ["docker", "run", "--rm", "--network", "host", "--entrypoint", "python3", args.image, "-c", SCRIPT]
    with running_emulator(extra_args=["--runner", args.runner]) as emulator:
        sm = boto3.client(
            "sagemaker", endpoint_url=emulator.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        run_job(sm, f"warmup-{uuid.uuid4().hex[:8]}", args.image)
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(run_job(sm, f"bench-{uuid.uuid4().hex[:8]}", args.image))
            theirs.append(run_plain(plain))
    job, bare = statistics.median(ours), statistics.median(theirs)
    print(
        f"runner {args.runner}: job p50 {job:.3f}s, plain p50 {bare:.3f}s, "
        f"overhead {job - bare:.3f}s ({args.runs} runs)"
    )


if __name__ == "__main__":
    main()
